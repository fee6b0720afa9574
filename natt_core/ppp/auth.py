"""PPP authentication after LCP opens: the server authenticates the client (RFC 1661 §3.5).

* MS-CHAPv2 (RFC 2759): Challenge with a 16-byte AuthenticatorChallenge; the client answers with
  PeerChallenge + NT-Response; the server checks it against the user's password and sends
  "S=<AuthenticatorResponse> M=..." or "E=691 R=0 C=... V=3 M=..."; the client MUST check S= (§5).
* CHAP-MD5 (RFC 1994 §4.1): Response value = MD5(Identifier | secret | challenge).
* PAP (RFC 1334 §2): the client repeats Authenticate-Request until Ack or Nak.
The side that waits for an answer retransmits on the Restart timer, Max-Configure times.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from cryptography.hazmat.primitives import constant_time

from ..crypto import mschapv2 as ms
from ..crypto.primitives import digest
from ..errors import DecodeError
from ..reasons import Reason
from ..wire.ppp import (AuthCode, ChapPacket, MsChapV2Failure, MsChapV2Response, PapPacket, Proto,
                        decode_mschapv2_failure, decode_mschapv2_response, decode_mschapv2_success,
                        mschapv2_success)
from ..net.records import fast_init_all

ERROR_AUTHENTICATION_FAILURE = 691   # RFC 2759 §6, raserror.h


@dataclass(frozen=True)
class Verdict:
    ok: bool
    user: str
    reason: str = ""
    code: Reason | None = None


def chap_md5(ident: int, secret: str, challenge: bytes) -> bytes:
    """RFC 1994 §4.1: MD5(Identifier | secret | Challenge)."""
    return digest("md5", bytes([ident]) + secret.encode() + challenge)


class _Retrying:
    def __init__(self, restart: float, tries: int):
        self.restart, self.tries = restart, tries
        self.last: tuple[int, bytes] | None = None     # (protocol, packet) to resend
        self.timer_at: float | None = None
        self.left = 0

    def send(self, proto: int, packet: bytes, now: float) -> list[tuple[int, bytes]]:
        self.last, self.timer_at, self.left = (proto, packet), now + self.restart, self.tries - 1
        return [(proto, packet)]

    def stop(self) -> None:
        self.timer_at, self.last = None, None

    def timeout(self, now: float) -> tuple[list[tuple[int, bytes]], bool]:
        """(packets to resend, gave up?)."""
        if self.timer_at is None or now < self.timer_at:
            return [], False
        if self.left <= 0:
            self.stop()
            return [], True
        self.left -= 1
        self.timer_at = now + self.restart
        return [self.last], False


class Authenticator(_Retrying):
    """The server side: challenges (CHAP) or waits (PAP), checks, answers."""

    def __init__(self, method: str, users: dict[str, str], rng: random.Random, name: str = "lns",
                 restart: float = 3.0, tries: int = 10):
        super().__init__(restart, tries)
        self.method, self.users, self.rng, self.name = method, dict(users), rng, name.encode()
        self.ident = 0
        self.challenge = b""
        self.verdict: Verdict | None = None

    def start(self, now: float) -> list[tuple[int, bytes]]:
        if self.method == "pap":
            return []                              # the client speaks first
        self.ident = self.rng.randrange(256)
        self.challenge = self.rng.randbytes(16)
        return self.send(Proto.CHAP, ChapPacket(AuthCode.CHALLENGE, self.ident, self.challenge, self.name).encode(), now)

    def receive(self, proto: int, pkt, now: float) -> list[tuple[int, bytes]]:
        if self.verdict is not None:
            return self._repeat(proto, pkt)
        if self.method == "pap" and proto == Proto.PAP and pkt.code == 1:
            user = pkt.peer_id.decode("utf-8", "replace")
            want = self.users.get(user)
            ok = want is not None and constant_time.bytes_eq(want.encode(), pkt.password)
            self.verdict = self._verdict(ok, user)
            self._answer = (Proto.PAP, PapPacket(2 if ok else 3, pkt.identifier,
                                                 message=b"Login ok" if ok else b"Login incorrect").encode())
            return [self._answer]
        if self.method != "pap" and proto == Proto.CHAP and pkt.code == AuthCode.RESPONSE:
            if pkt.identifier != self.ident:
                return []                          # RFC 1994 §4.1: must match the Challenge
            self.stop()
            user = pkt.name.decode("utf-8", "replace")
            want = self.users.get(user)
            if self.method == "chap-md5":
                ok = want is not None and constant_time.bytes_eq(chap_md5(self.ident, want, self.challenge), pkt.value)
                msg = b"Welcome" if ok else b"Access denied"
            else:
                try:
                    resp = decode_mschapv2_response(pkt.value)
                except DecodeError:
                    resp = None
                ok = False
                if want is not None and resp:    # GenerateNTResponse, keeping its PasswordHash and ChallengeHash
                    password_hash = ms.nt_password_hash(want)
                    chal = ms.challenge_hash(resp.peer_challenge, self.challenge, user)
                    ok = constant_time.bytes_eq(ms.challenge_response(chal, password_hash), resp.nt_response)
                if ok:          # GenerateAuthenticatorResponse from the same intermediate values (§8.7)
                    auth = ms.authenticator_response(ms.hash_nt_password_hash(password_hash), resp.nt_response, chal)
                    msg = mschapv2_success(auth, "Access granted")
                else:
                    msg = MsChapV2Failure(ERROR_AUTHENTICATION_FAILURE, False, self.challenge, 3,
                                          "Authentication failure").encode()
            self.verdict = self._verdict(ok, user)
            self._answer = (Proto.CHAP, ChapPacket(AuthCode.SUCCESS if ok else AuthCode.FAILURE, self.ident,
                                                   message=msg).encode())
            return [self._answer]
        return []

    def _repeat(self, proto: int, pkt) -> list[tuple[int, bytes]]:
        """A retransmitted request after we decided: answer the same again (RFC 1334 §2.2.1, RFC 1994 §4.1)."""
        if (proto, getattr(pkt, "code", 0)) in ((Proto.PAP, 1), (Proto.CHAP, AuthCode.RESPONSE)):
            return [self._answer]
        return []

    def _verdict(self, ok: bool, user: str) -> Verdict:
        if ok:
            return Verdict(True, user)
        known = user in self.users
        return Verdict(False, user, f"{self.method} credentials of user {user!r} refused"
                       + ("" if known else " (unknown user)"), Reason.PPP_AUTH_FAILED)


class AuthPeer(_Retrying):
    """The client side: answers a Challenge, or sends PAP Authenticate-Request; checks the result."""

    def __init__(self, method: str, user: str, password: str, rng: random.Random, restart: float = 3.0,
                 tries: int = 10):
        super().__init__(restart, tries)
        self.method, self.user, self.password, self.rng = method, user, password, rng
        self.verdict: Verdict | None = None
        #: (PasswordHash, ChallengeHash, NT-Response) of our answer, to check the server's S= with
        self.pending: tuple[bytes, bytes, bytes] | None = None

    def start(self, now: float) -> list[tuple[int, bytes]]:
        if self.method != "pap":
            return []                              # wait for the Challenge
        req = PapPacket(1, self.rng.randrange(256), self.user.encode(), self.password.encode())
        return self.send(Proto.PAP, req.encode(), now)

    def receive(self, proto: int, pkt, now: float) -> list[tuple[int, bytes]]:
        if self.verdict is not None:
            return []
        if proto == Proto.PAP and self.method == "pap" and pkt.code in (2, 3):
            self.stop()
            msg = pkt.message.decode("utf-8", "replace")
            self.verdict = Verdict(True, self.user) if pkt.code == 2 else \
                Verdict(False, self.user, f"PAP Authenticate-Nak: {msg!r}", Reason.PPP_AUTH_FAILED)
            return []
        if proto != Proto.CHAP or self.method == "pap":
            return []
        if pkt.code == AuthCode.CHALLENGE:
            if self.method == "chap-md5":
                value = chap_md5(pkt.identifier, self.password, pkt.value)
            else:
                if len(pkt.value) != 16:
                    return []
                peer = self.rng.randbytes(16)
                # GenerateNTResponse (§8.1), keeping PasswordHash and ChallengeHash for the S= check
                password_hash = ms.nt_password_hash(self.password)
                chal = ms.challenge_hash(peer, pkt.value, self.user)
                nt = ms.challenge_response(chal, password_hash)
                self.pending = (password_hash, chal, nt)
                value = MsChapV2Response(peer, nt).encode()
            return [(Proto.CHAP, ChapPacket(AuthCode.RESPONSE, pkt.identifier, value, self.user.encode()).encode())]
        if pkt.code == AuthCode.SUCCESS:
            self.verdict = self._success(pkt.message)
        elif pkt.code == AuthCode.FAILURE:
            self.verdict = Verdict(False, self.user, self._failure_text(pkt.message), Reason.PPP_AUTH_FAILED)
        return []

    def _success(self, message: bytes) -> Verdict:
        if self.method != "mschapv2":
            return Verdict(True, self.user)
        try:
            got = decode_mschapv2_success(message)
        except DecodeError as e:
            return Verdict(False, self.user, f"the server's Success is malformed ({e.reason})",
                           Reason.PPP_AUTHENTICATOR_INVALID)
        if self.pending is None:       # a Success before any Challenge: checked against zeros
            ok = ms.check_authenticator_response(self.password, b"\x00" * 24, b"\x00" * 16, b"\x00" * 16, self.user,
                                                 got.auth_response)
        else:                          # CheckAuthenticatorResponse (§8.8) from our answer's values
            password_hash, chal, nt = self.pending
            ok = ms.same_authenticator_response(
                ms.authenticator_response(ms.hash_nt_password_hash(password_hash), nt, chal), got.auth_response)
        if not ok:
            return Verdict(False, self.user, "the server's AuthenticatorResponse (S=) does not verify: it does "
                           "not know the password (RFC 2759 §5)", Reason.PPP_AUTHENTICATOR_INVALID)
        return Verdict(True, self.user)

    def _failure_text(self, message: bytes) -> str:
        if self.method == "mschapv2":
            try:
                f = decode_mschapv2_failure(message)
                return f"MS-CHAPv2 Failure E={f.error}: {f.message or 'no message'}"
            except DecodeError:
                pass
        return f"{self.method} Failure: {message.decode('utf-8', 'replace')!r}"


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
