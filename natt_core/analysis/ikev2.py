"""IKEv2 in a capture, from what is in the clear, read with the project's IKEv2 decoder.

RFC 7296 §3.1: the 28-byte header carries both SPIs, the exchange type (IKE_SA_INIT 34, IKE_AUTH
35, CREATE_CHILD_SA 36, INFORMATIONAL 37, IKE_INTERMEDIATE 43 from RFC 9242) and the Initiator
and Response flags, so every message is named without keys. IKE_SA_INIT is not encrypted: its
Notify payloads say whether the responder wants a COOKIE (§2.6), another DH group
(INVALID_KE_PAYLOAD, §1.2), sends the client elsewhere (REDIRECT, RFC 5685) or found
NO_PROPOSAL_CHOSEN, and carry the NAT_DETECTION hashes (§2.23: SHA-1(SPIi | SPIr | IP | port)),
checked here against this capture point's addresses just as IKEv1's NAT-D. Everything after
IKE_SA_INIT is inside SK, or SKF fragments (RFC 7383 §2.5: fragment number and total in the
clear). The decoder is strict; a message it refuses is still named from its header, and the
refusal becomes a finding about that message, never an exception.
"""
from __future__ import annotations


from ..errors import DecodeError
from ..wire import ikev2 as codec
from ..wire.codec import Reader
from .observe import Exchange, IkeMessage, NatdCheck, Observations, natd_hash
from .packets import Address
from .payloads import walk

EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL",
             38: "IKE_SESSION_RESUME", 43: "IKE_INTERMEDIATE"}
FLAG_INITIATOR, FLAG_RESPONSE = 0x08, 0x20
SK, SKF = 46, 53
NOTIFY = {1: "UNSUPPORTED_CRITICAL_PAYLOAD", 4: "INVALID_IKE_SPI", 5: "INVALID_MAJOR_VERSION",
          7: "INVALID_SYNTAX", 9: "INVALID_MESSAGE_ID", 11: "INVALID_SPI", 14: "NO_PROPOSAL_CHOSEN",
          17: "INVALID_KE_PAYLOAD", 24: "AUTHENTICATION_FAILED", 34: "SINGLE_PAIR_REQUIRED",
          35: "NO_ADDITIONAL_SAS", 36: "INTERNAL_ADDRESS_FAILURE", 37: "FAILED_CP_REQUIRED",
          38: "TS_UNACCEPTABLE", 39: "INVALID_SELECTORS", 43: "TEMPORARY_FAILURE", 44: "CHILD_SA_NOT_FOUND",
          16384: "INITIAL_CONTACT", 16385: "SET_WINDOW_SIZE", 16386: "ADDITIONAL_TS_POSSIBLE",
          16387: "IPCOMP_SUPPORTED", 16388: "NAT_DETECTION_SOURCE_IP", 16389: "NAT_DETECTION_DESTINATION_IP",
          16390: "COOKIE", 16391: "USE_TRANSPORT_MODE", 16392: "HTTP_CERT_LOOKUP_SUPPORTED",
          16393: "REKEY_SA", 16394: "ESP_TFC_PADDING_NOT_SUPPORTED", 16395: "NON_FIRST_FRAGMENTS_ALSO",
          16396: "MOBIKE_SUPPORTED", 16406: "REDIRECT_SUPPORTED", 16407: "REDIRECT", 16408: "REDIRECTED_FROM",
          16430: "IKEV2_FRAGMENTATION_SUPPORTED", 16431: "SIGNATURE_HASH_ALGORITHMS",
          16441: "INTERMEDIATE_EXCHANGE_SUPPORTED"}
NAT_SOURCE, NAT_DESTINATION = 16388, 16389


def notify_name(number: int) -> str:
    return NOTIFY.get(number, str(number))


class _Fields:
    """Duck-typed stand-in for `codec.Header` built from the raw 28 bytes (no checks: it is only named)."""

    def __init__(self, m: bytes):
        self.spi_i, self.spi_r, self.next_payload = m[0:8], m[8:16], m[16]
        self.exchange, self.flags, self.message_id = m[18], m[19], int.from_bytes(m[20:24], "big")


def _decode(message: bytes):
    """(header, payloads, fragment, sk_len, error): as much as the codec accepts; the error in words."""
    try:
        header, rest = codec.decode_header(message)
    except DecodeError as e:
        return _Fields(message), (), None, None, str(e)
    if header.next_payload == SKF:          # RFC 7383 §2.5: the codec speaks SK, not its fragments
        try:
            r = Reader(rest, "IKEv2 SKF", codec.HEADER_LEN)
            r.u8("next payload"), r.u8("flags")
            length = r.u16("payload length")
            number, total = r.u16("fragment number"), r.u16("total fragments")
            if length < 8 or length != len(rest):
                raise DecodeError("IKEv2 SKF", codec.HEADER_LEN, f"payload length {length}, message holds {len(rest)}")
            if not 1 <= number <= total:
                raise DecodeError("IKEv2 SKF", codec.HEADER_LEN + 4, f"fragment {number} of {total}")
            return header, (), (number, total), length - 8, None
        except DecodeError as e:
            return header, (), None, None, str(e)
    try:
        payloads, error = codec.decode_payloads(header.next_payload, rest), None
    except DecodeError as e:
        payloads, error = _lenient(header.next_payload, rest), str(e)
    sk = next((p for p in payloads if isinstance(p, codec.Encrypted)), None)
    return header, payloads, None, (len(sk.data) if sk else None), error


def _lenient(first: int, rest: bytes) -> tuple:
    """The chain the strict decoder refused, one payload at a time: each body the codec accepts is
    kept decoded (so a capture's NAT_DETECTION notifies still count beside an odd SA), the rest raw."""
    out = []
    for p in walk(first, rest)[0]:
        if p.type == SK:
            out.append(codec.Encrypted(0, p.body))
            continue
        cls = codec.BODIES.get(p.type)
        try:
            r = Reader(p.body, f"IKEv2 payload {p.type}")
            body = cls.decode_body(r) if cls else None
            if body is not None:
                r.expect_end()
        except DecodeError:
            body = None
        out.append(body or codec.Unknown(p.type, p.body))
    return tuple(out)


def observe_v2(obs: Observations, n: int, t: float, message: bytes, src: Address, dst: Address,
               on_4500: bool) -> None:
    header, payloads, fragment, sk_len, error = _decode(message)
    spi_i, spi_r, exchange, flags = header.spi_i, header.spi_r, header.exchange, header.flags
    ex = obs.exchanges.get(spi_i)
    if ex is None:
        ex = obs.exchanges[spi_i] = Exchange(spi_i, version=2)
    if spi_r != bytes(8):
        ex.rcookie = spi_r
    from_initiator, response = bool(flags & FLAG_INITIATOR), bool(flags & FLAG_RESPONSE)
    if ex.initiator is None:
        ex.initiator, ex.responder = (src, dst) if from_initiator else (dst, src)
        ex.mid = not (exchange == 34 and not response)
    types = tuple(p.payload_type for p in payloads) or ((SKF,) if fragment else ())
    label = f"{EXCHANGES.get(exchange, f'exchange {exchange}')} {'response' if response else 'request'}"
    if fragment:
        label += f" (fragment {fragment[0]}/{fragment[1]})"
    key = (spi_i, message)
    again = key in obs.seen
    obs.seen.setdefault(key, label)
    notes = tuple((notify_name(p.notify_type), p.data) for p in payloads if isinstance(p, codec.Notify))
    msg = IkeMessage(n, t, src, dst, on_4500, exchange, header.message_id, sk_len is not None, from_initiator,
                     label, types, again, tuple(k for k, _ in notes), notes, sk_len, fragment, len(message))
    obs.labels[n] = label
    if not again:
        if exchange == 34:
            _learn_init(ex, msg, payloads, spi_i, spi_r)
        if error:
            obs.undecodable.append((n, f"IKEv2 {label}: {error}"))
            ex.undecodable.append((n, error))
    ex.messages.append(msg)
    ex.by_label.setdefault(label, []).append(msg)


def _learn_init(ex: Exchange, m: IkeMessage, payloads, spi_i: bytes, spi_r: bytes) -> None:
    from .dialects import vid_name
    vids = tuple(vid_name(p.data) for p in payloads if isinstance(p, codec.Vendor))
    if m.from_initiator:
        ex.vids_initiator = vids or ex.vids_initiator
    else:
        ex.vids_responder = vids or ex.vids_responder
    sources = {data for k, data in m.notify_data if k == "NAT_DETECTION_SOURCE_IP"}
    dest = next((data for k, data in m.notify_data if k == "NAT_DETECTION_DESTINATION_IP"), None)
    if sources and dest is not None:
        def h(where: Address) -> bytes:      # RFC 7296 §2.23: always SHA-1, over the IKE SPIs
            return natd_hash("sha1", spi_i, spi_r, where)
        other = next((p for p in (500, 4500) if p != m.src.port and h(Address(m.src.ip, p)) in sources), None)
        check = NatdCheck(m.label, m.dst, m.src, h(m.dst) == dest, h(m.src) in sources, other, m.from_initiator)
        ex.natd = [c for c in ex.natd if c.from_initiator != m.from_initiator] + [check]

