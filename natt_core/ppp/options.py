"""What LCP and IPCP ask for and accept (RFC 1661 §6, RFC 1332 §3, RFC 1877), and the address pool.

LCP, as the peers of an L2TP/IPsec VPN do it: the server (pppd behind xl2tpd) asks for the
authentication protocol it prefers and a Magic-Number; the client asks for MRU, Magic-Number and
(optionally) PFC/ACFC, accepts an authentication protocol its policy allows and Naks with one it
allows otherwise (RFC 1661 §6.2). A Magic-Number equal to ours is Nak'd with another (loop
detection, §6.4). Unknown options are Configure-Rejected.

IPCP: the client asks for 0.0.0.0 (and DNS 0.0.0.0 if it wants DNS); the server Naks with the
address it assigns from its pool and the DNS servers it hands out, Rejects DNS if it has none.
"""
from __future__ import annotations

import heapq
import random
import socket

from ..errors import ConfigError
from ..wire.ppp import (ChapAlg, IpcpOpt, LcpOpt, Option, Proto, address_option, auth_protocol,
                        magic_number, mru)
from .fsm import CONFIGURE_ACK, CONFIGURE_NAK, CONFIGURE_REJECT, Negotiator
from ..net.records import fast_init_all

#: option types under plain module names: `judge` and the hooks compare each option with several,
#: and a member read off an Enum class costs ~70 ns (EnumType's __getattr__ hook)
MRU, ACCM, AUTH, MAGIC, PFC, ACFC = LcpOpt.MRU, LcpOpt.ACCM, LcpOpt.AUTH, LcpOpt.MAGIC, LcpOpt.PFC, LcpOpt.ACFC
IP_ADDRESS, PRIMARY_DNS, SECONDARY_DNS = IpcpOpt.IP_ADDRESS, IpcpOpt.PRIMARY_DNS, IpcpOpt.SECONDARY_DNS

#: policy name -> the Authentication-Protocol option that asks for it
AUTH_OPTIONS = {
    "mschapv2": auth_protocol(Proto.CHAP, ChapAlg.MSCHAPV2),
    "chap-md5": auth_protocol(Proto.CHAP, ChapAlg.MD5),
    "pap": auth_protocol(Proto.PAP),
}
#: an Authentication-Protocol option's value -> its policy name
_AUTH_NAMES = {v.value: k for k, v in AUTH_OPTIONS.items()}
ZERO = "0.0.0.0"


def auth_name(opt: Option) -> str | None:
    """The policy name of an Authentication-Protocol option, or None if we do not speak it."""
    return _AUTH_NAMES.get(opt.value) if opt.type == AUTH else None


class LcpNegotiator(Negotiator):
    name = "LCP"

    def __init__(self, role: str, auth: tuple[str, ...], rng: random.Random, mru_value: int | None = None,
                 compress: bool = False, **timers):
        super().__init__(**timers)
        for a in auth:
            if a not in AUTH_OPTIONS:
                raise ConfigError(f"unknown PPP authentication {a!r}; choose from {', '.join(AUTH_OPTIONS)}")
        self.role, self.auth, self.rng = role, tuple(auth), rng
        self.magic = self._new_magic()
        self.mru = mru_value
        self.want_compress = compress
        self.auth_choice: str | None = auth[0] if role == "server" and auth else None   # what we ask/accepted
        self.peer_magic = 0
        self.peer_mru = 1500
        self.pfc = self.acfc = False          # we Ack'd the peer's PFC/ACFC: we may send it compressed frames
        self.refused_auth = False
        self.tried: list[str] = []

    def _new_magic(self) -> int:
        return self.rng.randrange(1, 2**32)

    def request_options(self) -> tuple[Option, ...]:
        opts: list[Option] = []
        if self.mru is not None:
            opts.append(mru(self.mru))
        if self.role == "server" and self.auth_choice:
            opts.append(AUTH_OPTIONS[self.auth_choice])
        if self.magic:
            opts.append(magic_number(self.magic))
        if self.want_compress:
            opts += [Option(PFC), Option(ACFC)]
        return tuple(opts)

    def judge(self, options):
        naks, rejects = [], []
        for o in options:
            if o.type == MRU:
                if o.number < 128:
                    naks.append(mru(1500))
            elif o.type == ACCM or o.type in (PFC, ACFC):
                pass
            elif o.type == MAGIC:
                if o.number == self.magic and o.number:
                    naks.append(magic_number(self._new_magic()))   # looped back? suggest another
            elif o.type == AUTH and self.role == "client":
                name = auth_name(o)
                if name not in self.auth:
                    if not self.auth:
                        rejects.append(o)
                    else:
                        naks.append(AUTH_OPTIONS[self.auth[0]])
            else:
                rejects.append(o)       # unknown here, or a client asking the server to authenticate
        if rejects:
            return CONFIGURE_REJECT, tuple(rejects)
        if naks:
            return CONFIGURE_NAK, tuple(naks)
        self._accept(options)
        return CONFIGURE_ACK, tuple(options)

    def _accept(self, options) -> None:
        for o in options:
            if o.type == MAGIC:
                self.peer_magic = o.number
            elif o.type == MRU:
                self.peer_mru = o.number
            elif o.type == PFC:
                self.pfc = True
            elif o.type == ACFC:
                self.acfc = True
            elif o.type == AUTH:
                self.auth_choice = auth_name(o)

    def nakked(self, options) -> None:
        for o in options:
            if o.type == MAGIC:
                self.magic = self._new_magic()
            elif o.type == MRU and self.mru is not None:
                self.mru = o.number
            elif o.type == AUTH and self.role == "server":
                self.tried.append(self.auth_choice or "")
                name = auth_name(o)
                if name in self.auth and name not in self.tried:
                    self.auth_choice = name
                else:           # the next one we allow that has not been refused
                    rest = [a for a in self.auth if a not in self.tried]
                    if rest:
                        self.auth_choice = rest[0]
                    else:
                        self.refused_auth = True

    def rejected(self, options) -> None:
        for o in options:
            if o.type == MAGIC:
                self.magic = 0
            elif o.type == MRU:
                self.mru = None
            elif o.type in (PFC, ACFC):
                self.want_compress = False
            elif o.type == AUTH:
                self.refused_auth = True      # a server that cannot authenticate must not go on


def _number(address: str) -> int:
    return int.from_bytes(address_option(IP_ADDRESS, address).value, "big")


class AddressPool:
    """The server's addresses for clients, handed out lowest first, one per client name.

    Addresses below `_next` are leased or in the `_freed` heap, so a lease takes the heap's lowest
    or the next fresh one: no walk over the pool per client."""

    def __init__(self, first: str, last: str):
        self.first, self.last = first, last
        # as numbers, read from the IP-Address option each would travel in (a strict dotted quad
        # or ConfigError): no ipaddress objects
        self._next, self._end = _number(first), _number(last)
        if self._end < self._next:
            raise ConfigError(f"address pool {first}-{last} is empty")
        self.leases: dict[str, str] = {}
        self._freed: list[int] = []

    def lease(self, client: str) -> str | None:
        if client in self.leases:
            return self.leases[client]
        if self._freed:
            n = heapq.heappop(self._freed)
        elif self._next <= self._end:
            n, self._next = self._next, self._next + 1
        else:
            return None
        addr = self.leases[client] = socket.inet_ntoa(n.to_bytes(4, "big"))
        return addr

    def release(self, client: str) -> None:
        addr = self.leases.pop(client, None)
        if addr is not None:
            heapq.heappush(self._freed, int.from_bytes(socket.inet_aton(addr), "big"))


class IpcpNegotiator(Negotiator):
    name = "IPCP"

    def __init__(self, role: str, local: str = ZERO, dns: tuple[str, ...] = (), want_dns: bool = True,
                 assign: str | None = None, **timers):
        super().__init__(**timers)
        self.role = role
        self.local = local                           # client: 0.0.0.0 until the server Naks
        self.dns = list(dns) + [ZERO] * (2 - len(dns)) if role == "client" else list(dns)
        self.dns_wanted = [PRIMARY_DNS, SECONDARY_DNS] if want_dns and role == "client" else []
        self.assign = assign                          # server: the address for this client
        self.peer_address: str | None = None
        self.no_address = False

    def request_options(self) -> tuple[Option, ...]:
        opts = [address_option(IP_ADDRESS, self.local)]
        for kind in self.dns_wanted:
            opts.append(address_option(kind, self.dns[0 if kind == PRIMARY_DNS else 1]))
        return tuple(opts)

    def judge(self, options):
        naks, rejects = [], []
        for o in options:
            if o.type == IP_ADDRESS:
                if self.role == "server":
                    if self.assign is None:
                        rejects.append(o)
                    elif o.address != self.assign:
                        naks.append(address_option(IP_ADDRESS, self.assign))
                elif o.address == ZERO:
                    rejects.append(o)             # we have nothing to give a server
            elif self.role == "server" and o.type in (PRIMARY_DNS, SECONDARY_DNS):
                i = 0 if o.type == PRIMARY_DNS else 1
                if i >= len(self.dns):
                    rejects.append(o)
                elif o.address != self.dns[i]:
                    naks.append(address_option(o.type, self.dns[i]))
            else:
                rejects.append(o)                 # IP-Compression, NBNS, ...: not offered here
        if rejects:
            return CONFIGURE_REJECT, tuple(rejects)
        if naks:
            return CONFIGURE_NAK, tuple(naks)
        ip = next((o for o in options if o.type == IP_ADDRESS), None)
        if ip is not None:
            self.peer_address = ip.address
        return CONFIGURE_ACK, tuple(options)

    def nakked(self, options) -> None:
        for o in options:
            if o.type == IP_ADDRESS:
                self.local = o.address
            elif o.type == PRIMARY_DNS:
                self.dns[0] = o.address
            elif o.type == SECONDARY_DNS:
                self.dns[1] = o.address

    def rejected(self, options) -> None:
        for o in options:
            if o.type in self.dns_wanted:
                self.dns_wanted.remove(o.type)    # the server has none of that kind
            elif o.type == IP_ADDRESS:
                self.no_address = True


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
