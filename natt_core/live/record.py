"""Record the real strongSwan captures that ship in assets/captures (needs root and charon).

    python -m natt_core.live.record [STEM ...] [--out DIR]

Each recording is one live interop run (natt_core.live.interop) through a real Linux NAT between
network namespaces: tcpdump on both sides of the NAT (`STEM.client-side.pcap`,
`STEM.server-side.pcap`) and charon's own IKE/ENC/NET/CHD log lines (`STEM.charon.log`). The
Diagnose page offers them as "A real strongSwan capture", and the capture corpus tests check
diagnose against tshark's dissection of the same files. Re-recording gives new cookies, SPIs and
nonces but the same story.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

#: what charon logs about the exchange itself (its IKE, ENC, NET and CHD subsystems)
LOG_LINE = re.compile(r"\[(IKE|ENC|NET|CHD)\]")
ASSETS = Path(__file__).resolve().parents[2] / "assets" / "captures"


@dataclass(frozen=True)
class Recording:
    preset: str
    direction: str          #: interop.DIRECTIONS ("to-charon": our client dials; "from-charon"), or "charon-to-charon"
    what: str               #: one line for the Diagnose page
    client_psk: str = ""    #: a different key on our side's client: a PSK mismatch
    server_psk: str = ""
    #: charon on both ends with IKE fragmentation and this fragment_size (bytes of IP datagram):
    #: strongSwan splits its own messages (IKEv1's proprietary payload 132, IKEv2's SKF, RFC 7383)
    fragment_size: int = 0


RECORDINGS: dict[str, Recording] = {
    "strongswan-responder": Recording("client-behind-nat", "to-charon",
                                      "our client behind a Linux MASQUERADE NAT dials strongSwan"),
    "strongswan-initiator": Recording("client-behind-nat", "from-charon",
                                      "strongSwan behind the NAT dials our server"),
    "strongswan-wrong-psk": Recording("client-behind-nat", "to-charon",
                                      "our client dials strongSwan with another pre-shared key",
                                      client_psk="not-the-servers-key"),
    "strongswan-ikev2-responder": Recording("ikev2-client-behind-nat", "to-charon",
                                            "IKEv2: our client behind a Linux MASQUERADE NAT dials strongSwan"),
    "strongswan-ikev2-initiator": Recording("ikev2-client-behind-nat", "from-charon",
                                            "IKEv2: strongSwan behind the NAT dials our server"),
    "strongswan-ikev2-wrong-psk": Recording("ikev2-client-behind-nat", "to-charon",
                                            "IKEv2: our client dials strongSwan with another pre-shared key",
                                            client_psk="not-the-servers-key"),
    "strongswan-ikev2-fragments": Recording("ikev2-client-behind-nat", "charon-to-charon",
                                            "IKEv2: strongSwan to strongSwan through the NAT, IKE_AUTH in RFC 7383 "
                                            "fragments", fragment_size=200),
    "strongswan-ikev1-fragments": Recording("client-behind-nat", "charon-to-charon",
                                            "IKEv1: strongSwan to strongSwan through the NAT, with strongSwan's "
                                            "IKE fragments (payload 132)", fragment_size=200),
}


def scenario_of(r: Recording):
    """The live scenario (tunnel mode, kernel-libipsec's inner addresses) with the recording's keys."""
    from ..lab.presets import preset
    from .interop import live_scenario
    s = live_scenario(preset(r.preset))
    fast = {"retransmit_interval": 0.25, "retransmit_max_interval": 0.5, "retransmit_tries": 3}
    if r.client_psk:
        s = replace(s, client=replace(s.client, psk=r.client_psk, **fast))
    if r.server_psk:
        s = replace(s, server=replace(s.server, psk=r.server_psk))
    return s


def _with_fragmentation(conf: str, version: int) -> str:
    """swanctl.conf with IKE fragmentation on (IKEv1 `force`: strongSwan fragments even before it
    has seen the peer's FRAGMENTATION Vendor ID; IKEv2 `yes` after IKEV2_FRAGMENTATION_SUPPORTED)."""
    mode = "force" if version == 1 else "yes"
    return re.sub(r"(\n(\s+)version = \d\n)", rf"\1\2fragmentation = {mode}\n", conf, count=1)


def charon_pair(r: Recording, workdir: Path) -> tuple[dict[str, Path], str]:
    """charon to charon through the lab's MASQUERADE NAT: (captures by side, both logs)."""
    from ..lab.strongswan_config import swanctl_conf
    from .charon import Charon
    from .interop import CLIENT_INNER, SERVER_INNER
    from .netns import Lab
    s = scenario_of(r)
    settings = {"fragment_size": str(r.fragment_size)}
    with Lab("rec", nat="masquerade", workdir=workdir) as lab:
        captures = {"client-side": lab.capture(lab.nat, lab.client_dev, "client-side"),
                    "server-side": lab.capture(lab.nat, lab.server_dev, "server-side")}
        lab.add_address(lab.client, CLIENT_INNER)
        lab.add_address(lab.server, SERVER_INNER, dev="lo")
        client_conf = _with_fragmentation(swanctl_conf(s, "client"), s.client.ike_version)
        # our server config names its own IKE address as the inner selector; charon's peer wants its inner one
        server_conf = _with_fragmentation(swanctl_conf(s, "server"), s.server.ike_version).replace(
            f"local_ts = {lab.server_ip}/32", f"local_ts = {SERVER_INNER}/32")
        with Charon(lab, lab.server, server_conf, name="responder", settings=settings) as responder, \
                Charon(lab, lab.client, client_conf, name="initiator", settings=settings) as initiator:
            echo = lab.echo(lab.server, SERVER_INNER, 1701)
            ok, said = initiator.initiate(s.name, 8)
            if not ok:
                raise RuntimeError(f"charon to charon did not connect: {said[-1500:]}")
            with lab.udp_socket(lab.client, CLIENT_INNER, 1701) as sock:   # one datagram through the tunnel
                sock.settimeout(2.0)
                sock.sendto(b"inner datagram", (SERVER_INNER, 1701))
                try:
                    sock.recvfrom(2048)
                except OSError:
                    raise RuntimeError(f"the echo did not come back through the tunnel ({echo})") from None
            initiator.stop()
            responder.stop()
            logs = initiator.log() + responder.log()
        lab.stop_captures()
        return {side: Path(p) for side, p in captures.items()}, logs


def record(stem: str, out: Path = ASSETS) -> list[Path]:
    """Run recording `stem` live and write its two pcaps and charon's log lines into `out`."""
    from .interop import run_interop
    r = RECORDINGS[stem]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="natt-record-") as tmp:
        if r.direction == "charon-to-charon":
            captures, log_text = charon_pair(r, Path(tmp))
        else:
            result = run_interop(scenario_of(r), r.direction, tmp, nat="masquerade", tag="rec",
                                 timeout=4.0 if (r.client_psk or r.server_psk) else 3.0)
            captures, log_text = result.captures, result.charon_log
        written = []
        for side, path in captures.items():
            target = out / f"{stem}.{side}.pcap"
            target.write_bytes(path.read_bytes())
            written.append(target)
    log = out / f"{stem}.charon.log"
    log.write_text("".join(line + "\n" for line in log_text.splitlines() if LOG_LINE.search(line)))
    return written + [log]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m natt_core.live.record", description=__doc__.splitlines()[0])
    p.add_argument("stems", nargs="*", metavar="STEM",
                   help=f"recordings to make (default all): {', '.join(RECORDINGS)}")
    p.add_argument("--out", type=Path, default=ASSETS, help="directory (default assets/captures)")
    args = p.parse_args(argv)
    unknown = [s for s in args.stems if s not in RECORDINGS]
    if unknown:
        p.error(f"unknown recording(s) {', '.join(unknown)}; choose from {', '.join(RECORDINGS)}")
    from .interop import why_not_live
    if why := why_not_live():
        print(f"cannot record: {why}", file=sys.stderr)
        return 1
    for stem in args.stems or RECORDINGS:
        for path in record(stem, args.out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
