"""Benchmarks, printed as figures and ratios measured in the same run (never asserted in tests).

1. A full handshake (MM + QM) between two engine peers, against the DH, PRF and message
   encryption it cannot avoid (AES-CBC of each encrypted message at both ends, counted from a run
   as the scenario's is), timed directly with `cryptography`; the same for IKEv2 (IKE_SA_INIT +
   IKE_AUTH with its CHILD_SA). The ratio against DH and PRF alone is printed beside it.
2. The whole client-behind-nat lab scenario (IKE, L2TP, PPP, NAT, trace), against its IKE crypto
   (the old figure) and against all the crypto it cannot avoid, counted from a run: every
   encrypted IKE message, every ESP packet sealed and opened, MS-CHAPv2 (`scenario_crypto`).
3. multi-client with 10, 100 and 1000 clients: time per client.
4. 20,000 forged MM1s from random sources against one responder (peer API, virtual time):
   packets answered per forged MM1, SAs held, tracemalloc peak.
5. The live interop runs with strongSwan (needs root and charon), unless `--no-live` or
   NATT_BENCH_NO_LIVE=1: a mistyped argument is refused (exit 2) before anything starts.

Timed figures are medians of thread CPU time (`_clock`): the machine may be shared. Each figure
and its baselines are timed in turns (`_medians`), so their ratio is not skewed by a host whose
speed drifts during the run.

The view benchmark (a lesson step change) lives on the UI side: `python -m natt_ui.bench`.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import dh

from .crypto.primitives import MODP

NO_LIVE_ENV = "NATT_BENCH_NO_LIVE"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, not {value}")
    return value


def _client_counts(text: str) -> tuple[int, ...]:
    return tuple(_positive(x) for x in text.split(","))


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The bench options, shared by `python -m natt_core bench` and the CLI's help."""
    p.add_argument("--no-live", action="store_true",
                   help=f"skip the live strongSwan runs (also when {NO_LIVE_ENV}=1)")
    p.add_argument("--repeat", type=_positive, default=15, metavar="N",
                   help="runs per median for the handshake figures (default 15)")
    p.add_argument("--clients", type=_client_counts, default=(10, 100, 1000), metavar="N,N,...",
                   help="multi-client sizes (default 10,100,1000)")
    p.add_argument("--diagnose-packets", type=_positive, default=100_000, metavar="N",
                   help="packets in the synthetic capture diagnosed (default 100000)")
    p.add_argument("--forged-mm1s", type=_positive, default=20_000, metavar="N",
                   help="forged MM1s in the flood (default 20000)")
    return p


def parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(
        prog="python -m natt_core bench", description="NAT-T Lab benchmarks: figures and ratios from one run"))


def live_wanted(args: argparse.Namespace, environ=os.environ) -> bool:
    return not (args.no_live or environ.get(NO_LIVE_ENV, "") not in ("", "0"))


#: a fresh seed for every timed run: the engine caches a DH key by its exponent (it computes g^x
#: once for KE and again for g^xy), so repeating one seed would time a handshake without its key
#: generation while the crypto side pays for it every time
_SEEDS = itertools.count(1000, 2)


#: the clock of every timed figure: CPU time of this thread. Nothing timed waits for I/O (the lab
#: runs on a virtual clock), so on an idle machine it equals wall time; on a shared one the time
#: spent waiting for a core is left out, for the work and for its crypto baseline alike.
_clock = time.thread_time


def _median(fn, repeat: int) -> float:
    return _medians((fn,), repeat)[0]


def _medians(fns, repeat: int, block: int = 5) -> tuple[float, ...]:
    """The median time of each of `fns` over `repeat` calls, taken in turns of `block` calls: a
    figure and its baselines are timed side by side, so a host that slows down or speeds up during
    the run moves both alike instead of skewing their ratio (timed one after the other, a baseline
    once read 1.73 ms where it reads 1.17 ms). Turns of a few calls, not one: a function called
    right after another meets caches the other filled (one by one, the scenario's crypto read
    4-15 % slower than it does in a row)."""
    times: list[list[float]] = [[] for _ in fns]
    block = max(1, min(block, repeat))
    for start in range(0, repeat, block):
        for fn, kept in zip(fns, times):
            for _ in range(min(block, repeat - start)):
                t = _clock()
                fn()
                kept.append(_clock() - t)
    return tuple(statistics.median(kept) for kept in times)


#: HMAC-SHA1 calls an IKEv2 handshake cannot avoid, both peers together (RFC 7296 §2.13-§2.15,
#: §2.17): per peer SKEYSEED 1, prf+ for the seven SK_* keys 7 (132 bytes), prf+ for the CHILD_SA
#: keys 4 (72 bytes), its own AUTH 2 and the peer's 2, the SK integrity of IKE_AUTH sent 1 and
#: received 1 = 18.
IKEV2_HMACS = 36


def unavoidable_crypto(group: int = 14, hmacs: int = 40) -> callable:
    """Two DH key pairs and two exchanges, plus `hmacs` HMAC-SHA1 calls (~40 for MM + QM + ESP keys)."""
    g = MODP[group]
    params = dh.DHParameterNumbers(g.prime, g.generator).parameters()

    def work():
        a, b = params.generate_private_key(), params.generate_private_key()
        a.exchange(b.public_key())
        b.exchange(a.public_key())
        for _ in range(hmacs):
            h = hmac.HMAC(b"k" * 20, hashes.SHA1())
            h.update(b"x" * 300)
            h.finalize()
    return work


#: MS-CHAPv2 work per side that no implementation can skip (RFC 2759 §8): ChallengeHash (SHA-1),
#: NtPasswordHash (MD4), ChallengeResponse (3 DES blocks), then for the Authenticator Response
#: HashNtPasswordHash (MD4) and two SHA-1 -- the client to send and check, the server to verify
#: and answer; ChallengeHash and NtPasswordHash are reused, so none is counted twice
MSCHAPV2_SIDES = 2


@dataclass(frozen=True)
class ScenarioCrypto:
    """What a run encrypted and authenticated beyond DH and the IKE prf, counted from its trace:
    the ciphertext length of each encrypted IKE message, (ciphertext, authenticated) lengths of
    each ESP packet, whether MS-CHAPv2 ran, and the algorithms (the run's own)."""
    ike_cipher: str
    ike_ciphertexts: tuple[int, ...]
    esp_cipher: str
    esp_integrity: str
    esp_packets: tuple[tuple[int, int], ...]
    mschapv2: bool

    def describe(self) -> str:
        esp = f"{len(self.esp_packets)} ESP packets {self.esp_cipher} + {self.esp_integrity}, sealed and opened"
        ike = f"{len(self.ike_ciphertexts)} IKE messages {self.ike_cipher}, both ends"
        return ", ".join([ike, esp] + ([f"MS-CHAPv2 x{MSCHAPV2_SIDES}"] if self.mschapv2 else []))


def scenario_crypto_counted(trace) -> ScenarioCrypto:
    """Each packet a host sent, once (its first hop): encrypted IKEv1 messages (header flag E;
    RFC 2408 §3.1) and ESP (RFC 4303: SPI, sequence number, IV, ciphertext, ICV)."""
    from .ipsec.esp_sa import INTEGRITY
    from .crypto.primitives import CIPHERS
    child = trace.secrets["child_sas"][0]
    ike = trace.secrets["ike_sas"][0]["cipher"]
    block, icv = CIPHERS[child["cipher"]].block, INTEGRITY[child["integrity"]].icv_len
    seen, ike_cts, esp = set(), [], []
    for hop in trace.hops:
        if hop.packet_id in seen:
            continue
        seen.add(hop.packet_id)
        p = hop.packet
        at = (p[0] & 0x0F) * 4
        if p[9] == 17 and len(p) > at + 8:
            ports = (int.from_bytes(p[at:at + 2], "big"), int.from_bytes(p[at + 2:at + 4], "big"))
            body = p[at + 8:]
            if 4500 in ports and len(body) > 4 and body[:4] != bytes(4):     # ESP in UDP (RFC 3948)
                esp.append((len(body) - 8 - block - icv, len(body) - icv))
                continue
            if 4500 in ports:
                body = body[4:]                                             # the non-ESP marker
            if (500 in ports or 4500 in ports) and len(body) >= 28 and body[19] & 0x01:
                ike_cts.append(len(body) - 28)                              # ISAKMP flags: E
        elif p[9] == 50:
            body = p[at:]
            esp.append((len(body) - 8 - block - icv, len(body) - icv))
    vpn = trace.report["peers"]["client"].get("vpn") or {}
    return ScenarioCrypto(ike, tuple(ike_cts), child["cipher"], child["integrity"], tuple(esp),
                          vpn.get("ppp_auth") == "succeeded")


def _cbc_both_ends(key) -> callable:
    """A message of n bytes under `key` (an AES algorithm object built once) encrypted by its
    sender, in a CBC context of its own, and decrypted by its receiver in the one context that end
    keeps for the key, fed the IV first as `KeyedCbc.decrypt` feeds it: the cheapest use of the
    library at each end. Made per run and per receiving end, as each peer of a run makes its own."""
    from cryptography.hazmat.primitives.ciphers import Cipher
    from cryptography.hazmat.primitives.ciphers.modes import CBC
    dec = Cipher(key, CBC(bytes(16))).decryptor()

    def message(n: int, iv: bytes = bytes(16)) -> None:
        enc = Cipher(key, CBC(iv)).encryptor()
        enc.update(bytes(n)) + enc.finalize()
        dec.update(iv + bytes(n))
    return message


def ike_ciphertexts(messages: list[bytes]) -> tuple[int, ...]:
    """The ciphertext length of each encrypted IKE message of a handshake: IKEv1 header flag E
    (RFC 2408 §3.1: all after the 28-byte header); IKEv2 an SK payload first (RFC 7296 §3.14:
    4-byte payload header, 16-byte AES IV, ciphertext, 12-byte HMAC-SHA1-96 ICV)."""
    sizes = []
    for m in messages:
        if len(m) < 28:
            continue
        if m[17] >> 4 == 1 and m[19] & 0x01:
            sizes.append(len(m) - 28)
        elif m[17] >> 4 == 2 and m[16] == 46:
            sizes.append(int.from_bytes(m[30:32], "big") - 4 - 16 - 12)
    return tuple(sizes)


def engine_crypto(group: int, hmacs: int, ciphertexts: tuple[int, ...]) -> callable:
    """`unavoidable_crypto` plus AES-128-CBC of every encrypted message, at both ends (the
    handshake's own sizes, counted from a run as the scenario's baseline counts them)."""
    from cryptography.hazmat.primitives.ciphers.algorithms import AES
    dh_and_prf, key = unavoidable_crypto(group, hmacs), AES(b"k" * 16)

    def work():
        dh_and_prf()
        ends = _cbc_both_ends(key), _cbc_both_ends(key)    # each peer decrypts what the other sent
        for i, n in enumerate(ciphertexts):
            ends[i % 2](n)
    return work


def scenario_crypto(counted: ScenarioCrypto) -> callable:
    """The counted work done directly with `cryptography` (MD4 from pycryptodome, as the engine:
    OpenSSL 3 keeps MD4 in its legacy provider): a CBC context per message sent and one per
    receiving end (`_cbc_both_ends`), a pre-keyed HMAC copied per packet, the cheapest use of the
    library, so nothing avoidable is counted."""
    from Crypto.Hash import MD4
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher
    from cryptography.hazmat.primitives.ciphers.algorithms import AES
    from cryptography.hazmat.primitives.ciphers.modes import ECB
    from .crypto.primitives import CIPHERS
    from .ipsec.esp_sa import INTEGRITY
    ike_spec, esp_spec = CIPHERS[counted.ike_cipher], CIPHERS[counted.esp_cipher]
    integ = INTEGRITY[counted.esp_integrity]
    if "aes" not in counted.ike_cipher or "aes" not in counted.esp_cipher:
        raise ValueError("the scenario's crypto baseline is written for AES-CBC")
    ike_key, esp_key = AES(b"k" * ike_spec.key_len), AES(b"e" * esp_spec.key_len)
    mac = hmac.HMAC(b"a" * integ.key_len, {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(),
                                           "md5": hashes.MD5()}[integ.hash_name])

    def sha1(data: bytes) -> bytes:
        h = hashes.Hash(hashes.SHA1())
        h.update(data)
        return h.finalize()

    def mschapv2_side() -> None:
        chal = sha1(bytes(32) + b"user")[:8]
        nt = MD4.new("password".encode("utf-16-le")).digest()
        for k in range(3):
            des = Cipher(TripleDES(bytes([k + 1]) * 24), ECB()).encryptor()
            des.update(chal) + des.finalize()
        pwhh = MD4.new(nt).digest()
        sha1(sha1(pwhh + bytes(24) + b"m" * 39) + chal + b"m" * 41)

    esp_sizes = [(n, m) for n, m in counted.esp_packets]

    def work():
        ike_ends = _cbc_both_ends(ike_key), _cbc_both_ends(ike_key)   # the two peers, one IKE SA
        esp_ends = _cbc_both_ends(esp_key), _cbc_both_ends(esp_key)   # one ESP SA each way
        for i, n in enumerate(counted.ike_ciphertexts):
            ike_ends[i % 2](n)
        for i, (n, signed) in enumerate(esp_sizes):
            esp_ends[i % 2](n)
            for _ in range(2):                 # the sender's ICV and the receiver's check
                h = mac.copy()
                h.update(bytes(signed))
                h.finalize()
        if counted.mschapv2:
            for _ in range(MSCHAPV2_SIDES):
                mschapv2_side()
    return work


def engine_handshake(seed: int | None = None, version: int = 1, sent: list | None = None) -> None:
    """Main Mode + Quick Mode (or IKE_SA_INIT + IKE_AUTH) between two peers handing datagrams
    straight to each other; each message's bytes are appended to `sent` when one is given."""
    from .ike.factory import make_peer
    from .ike.policy import PeerPolicy
    seed = next(_SEEDS) if seed is None else seed
    client = make_peer("client", "192.168.11.20", PeerPolicy(ike_version=version), rng=seed)
    server = make_peer("server", "192.168.1.10", PeerPolicy(ike_version=version), rng=seed + 1)
    by_ip = {client.address: client, server.address: server}
    queue, now = list(client.connect(server.address, 0.0).datagrams), 0.0
    while queue:
        d = queue.pop(0)
        if sent is not None:
            sent.append(d.payload)
        now += 0.001
        queue += by_ip[d.dst.ip].receive(d, now).datagrams
    if not client.ipsec_rows():
        raise RuntimeError("benchmark handshake did not complete")


def handshake_once(seed: int | None = None):
    from .lab.scenario import Scenario, run
    seed = next(_SEEDS) if seed is None else seed
    return run(Scenario("client-behind-nat", "bench", "", duration=5.0, seed=seed))


def main(argv: list[str]) -> int:
    """Exit 2 with argparse's message for an unknown or malformed argument, before any work."""
    args = parser().parse_args(argv)
    repeat = args.repeat
    crypto = unavoidable_crypto(14)
    crypto()  # warm the parameter object
    counted = scenario_crypto_counted(handshake_once())
    rest = scenario_crypto(counted)
    rest()
    t_lab, t_crypto, t_rest = _medians((handshake_once, crypto, rest), repeat)
    cts1, cts2 = [], []
    engine_handshake(version=1, sent=cts1)
    engine_handshake(version=2, sent=cts2)
    cts1, cts2 = ike_ciphertexts(cts1), ike_ciphertexts(cts2)
    crypto2 = unavoidable_crypto(14, IKEV2_HMACS)
    t_engine, t_full1, t_crypto1 = _medians((engine_handshake, engine_crypto(14, 40, cts1), crypto), repeat)
    t_engine2, t_full2, t_crypto2 = _medians(
        (lambda: engine_handshake(version=2), engine_crypto(14, IKEV2_HMACS, cts2), crypto2), repeat)
    print("NAT-T Lab benchmarks (medians of thread CPU time; ratios from this run)")
    rows = [("engine handshake, two peers, MM + QM (DH group 14)", t_engine * 1e3, "ms"),
            (f"its unavoidable crypto (2x DH 14, 40 HMACs, CBC of {len(cts1)} msgs)", t_full1 * 1e3, "ms"),
            ("ratio engine handshake / unavoidable crypto", t_engine / t_full1, "x"),
            ("  the same against 2x DH + 40 HMACs only (earlier)", t_engine / t_crypto1, "x"),
            ("engine handshake, IKEv2 IKE_SA_INIT + IKE_AUTH (14)", t_engine2 * 1e3, "ms"),
            (f"its unavoidable crypto (2x DH 14, {IKEV2_HMACS} HMACs, CBC of {len(cts2)} msgs)", t_full2 * 1e3, "ms"),
            ("ratio IKEv2 engine handshake / unavoidable crypto", t_engine2 / t_full2, "x"),
            (f"  the same against 2x DH + {IKEV2_HMACS} HMACs only (earlier)", t_engine2 / t_crypto2, "x"),
            ("client-behind-nat scenario (IKE, L2TP, PPP, NAT, trace)", t_lab * 1e3, "ms"),
            ("ratio scenario / its IKE crypto only (2x DH + 40 HMACs)", t_lab / t_crypto, "x"),
            ("its other unavoidable crypto, counted from a run", t_rest * 1e3, "ms"),
            ("ratio scenario / all its unavoidable crypto", t_lab / (t_crypto + t_rest), "x")]
    for label, value, unit in rows:
        print(f"  {label + ':':58s}{value:8.2f} {unit}")
        if label.startswith("its other"):
            print(f"    ({counted.describe()})")
    from .lab.scenario import Scenario, run
    for n in args.clients:
        s = Scenario("multi-client", "bench", "", clients=n, duration=10.0 + n * 0.01)
        t = _clock()
        trace = run(s, snapshots=False)
        elapsed = _clock() - t
        ok = sum(1 for k, p in trace.report["peers"].items() if k != "server" and p["phase2"] == "established")
        print(f"  multi-client {n:5d} clients: {elapsed:7.2f} s total, {elapsed / n * 1e3:7.2f} ms per client "
              f"({ok}/{n} connected)")
        del trace    # a 1000 clients' trace kept alive would be scanned by every collection diagnose makes
    print("\n".join(diagnose_lines(args.diagnose_packets)))
    print(forged_mm1_line(args.forged_mm1s))
    if not live_wanted(args):
        print(f"  live interop with strongSwan: skipped (--no-live or {NO_LIVE_ENV}=1)")
        return 0
    from .live.interop import bench_lines   # real UDP, a real NAT, strongSwan; skipped without root/charon
    print("\n".join(bench_lines(Scenario("client-behind-nat", "bench", ""))))
    return 0


def diagnose_lines(n: int = 100_000) -> list[str]:
    """`diagnose` on a synthetic capture of n packets (IKE exchanges, ESP both ways, keepalives),
    and our capture reader against scapy's raw readers on the same bytes."""
    import os
    import tempfile

    from .analysis import diagnose
    from .capture_read import read_capture
    from .lab.export import capture_files
    from .lab.presets import preset
    from .lab.scenario import run
    from .pcap import pcap_bytes

    base = [p for _, p in capture_files(run(preset("client-behind-nat")))["internet"]]
    def variant(packet: bytes, r: int) -> bytes:
        """Repetition r of a packet as another connection: its own cookie or ESP SPI."""
        udp = packet[9] == 17 and len(packet) > 36
        at = 28 if udp and packet[22:24] == b"\x01\xf4" else 32 if udp and packet[28:32] == bytes(4) else 28
        return packet[:at] + (r + 1).to_bytes(4, "big") + packet[at + 4:] if len(packet) > at + 8 else packet
    data = pcap_bytes([(i * 0.001, variant(base[i % len(base)], i // len(base))) for i in range(n)])
    gc.collect()     # what earlier figures left (1000 clients' runs) is not charged to the reader
    t = time.perf_counter()
    d = diagnose(data)
    t_diag = time.perf_counter() - t
    exchanges, headline = len(d.exchanges), d.headline.title
    del d
    gc.collect()
    t = time.perf_counter()
    read_capture(data)
    t_ours = time.perf_counter() - t
    lines = [f"  diagnose, {n} packets ({len(data) / 1e6:.1f} MB pcap):       {t_diag:8.2f} s "
             f"({exchanges} exchange(s), headline: {headline})",
             f"  capture reader (ours), same file:                 {t_ours:8.2f} s"]
    try:
        from scapy.utils import RawPcapReader
    except ImportError:
        return lines
    with tempfile.NamedTemporaryFile(suffix=".pcap", delete=False) as f:
        f.write(data)
    try:
        gc.collect()
        t = time.perf_counter()
        with RawPcapReader(f.name) as reader:
            count = sum(1 for _ in reader)
        lines.append(f"  scapy RawPcapReader, same file ({count} records):  {time.perf_counter() - t:8.2f} s")
    finally:
        os.unlink(f.name)
    return lines


def forged_mm1_flood(count: int = 20_000, rate: float = 100.0, seed: int = 1) -> tuple[float, int, int, int]:
    """`count` MM1s (a real offer, NAT-T Vendor IDs), each from a random address, port and cookie,
    `rate` per virtual second at one responder, whose timers then run for 120 s more. Returns
    (packets answered per MM1, most SAs held at once, SAs held at the end, tracemalloc peak bytes)."""
    import ipaddress
    import random
    import tracemalloc

    from .addressing import Datagram, Endpoint
    from .ike.peer import Peer
    from .ike.policy import PeerPolicy
    from .ike.proposals import phase1_offer
    from .wire.isakmp import Header, VendorID, encode_message
    from .wire.numbers import ExchangeType, IPProto, Port
    rng = random.Random(seed)
    policy = PeerPolicy()
    payloads = [phase1_offer(policy)] + [VendorID(v.vid) for v in policy.nat_t_versions]
    server = Peer("server", "192.0.2.1", policy, rng=seed)
    answered = most = 0

    def timers(until: float) -> int:
        sent = 0
        while (t := server.next_timer()) is not None and t <= until:
            sent += len(server.on_timer(t).datagrams)
        return sent

    tracemalloc.start()
    try:
        for i in range(count):
            now = i / rate
            answered += timers(now)
            src = Endpoint(str(ipaddress.IPv4Address(rng.randrange(0x01000000, 0xDF000000))), rng.randrange(1024, 65536))
            message = encode_message(Header(rng.randbytes(8), bytes(8), 0, ExchangeType.MAIN_MODE), payloads)
            out = server.receive(Datagram(src, Endpoint(server.address, Port.IKE), IPProto.UDP, message), now)
            answered += len(out.datagrams)
            most = max(most, len(server.sas))
        answered += timers(count / rate + 120.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return answered / count, most, len(server.sas), peak


def forged_mm1_line(count: int = 20_000) -> str:
    per, most, left, peak = forged_mm1_flood(count)
    return (f"  {count:,} forged MM1s (random sources, 100/s): {per:.2f} packets answered per MM1, "
            f"at most {most:,} SAs held ({left:,} at the end), tracemalloc peak {peak / 2**20:.1f} MiB")
