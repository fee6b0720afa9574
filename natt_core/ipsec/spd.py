"""The server's security policy database (RFC 4301 §4.4.1): which SA protects L2TP to which peer.

An L2TP/IPsec server protects UDP 1701 in transport mode. With its clients behind a NAT it keys
the policies for them one of two ways (RFC 3948 §5.2):

* "per-sa" -- one entry per SA, told apart by the peer's translated port and the SA's SPIs, as a
  Windows Server 2003 RRAS/ISA server does (several clients behind one N:1 NAT connect, seed 004;
  RFC 3948 Appendix A "Tr4"-style demultiplexing). Two clients behind one NAT are two entries.
* "selector" -- the Linux kernel's XFRM policies, keyed by their selector (local address, UDP 1701,
  remote address, UDP 1701). The IKE daemon rewrites a NATed transport peer's selector to the
  address it is seen from (strongSwan: "changing received traffic selectors ... due to NAT";
  libreswan does the same for transport mode), so every client behind one NAT gets the *same*
  selector `server:1701 <-> NATpublic:1701`. The newest SA's policy replaces the older one: what the
  server sends to that selector is encrypted for the newest client, and a packet the older SA
  decrypts fails the inbound policy check (XfrmInTmplMismatch). What Linux really did:
  - Openswan's statement on transport mode and L2TP (users list, May 2006, msg 009487): "NETKEY
    uses the external IP as an SA identifier ... multiple clients connecting from behind the same
    home firewall will not work. One will, but not multiple."
  - libreswan #322 ("Two Win10 computer behind same NAT: only one works"; a maintainer: "if you are
    doing l2tp-over-ipsec - then this is expected behaviour") and #427 (the same with tunnel mode).
  - hwdsl2/setup-ipsec-vpn #110: "Once another user connects, they can use the VPN fine but the
    other user who was already connected is not able to do anything" -- the newest wins, as here;
    #987/#274: a known limitation, use IKEv2 or IPsec/XAuth.
  Only KLIPS' SAref with a patched kernel and xl2tpd's `ipsec saref` told such clients apart; a
  RouterOS server does it with per-port policies (generate-policy=port-strict), i.e. "per-sa".

The table is what the lessons and report.json show as the server's SPD.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import methodcaller

from ..reasons import Reason

KEYINGS = ("per-sa", "selector")
L2TP_PORT = 1701
#: server profiles whose kernel keys policies by selector: the Linux IKE daemons (XFRM)
SELECTOR_KEYED_PROFILES = ("linux-xl2tpd", "strongswan")


def keying_for(profile: str | None) -> str:
    """How a server with this profile (ike/profiles.py) keys its SPD."""
    return "selector" if profile in SELECTOR_KEYED_PROFILES else "per-sa"


@dataclass(frozen=True)
class Selector:
    """Transport-mode L2TP traffic between two addresses (RFC 4301 §4.4.1.1 selectors)."""
    local: str
    remote: str
    proto: str = "udp"
    local_port: int = L2TP_PORT
    remote_port: int = L2TP_PORT

    def __str__(self) -> str:
        return f"{self.local}:{self.local_port}/{self.proto} <-> {self.remote}:{self.remote_port}/{self.proto}"


@dataclass(frozen=True)
class SpdRow:
    """One line of the SPD table: a selector, the SA it names and whether it still decides."""
    selector: str
    key: str            #: what tells entries apart: the selector alone, or selector + port + SPI
    peer: str           #: the peer's address and port as the server sees them (after the NAT)
    cookies: str        #: the ISAKMP SA the IPsec SA came from (initiator:responder cookie)
    spi_in: str
    spi_out: str
    installed: float
    state: str          #: "active", or "replaced" once a newer SA took its selector
    note: str = ""


@dataclass(frozen=True)
class SpdDecision:
    """What the SPD said about one packet: allowed, or why not (with a reason code)."""
    ok: bool
    text: str = ""
    code: Reason | None = None


def _who(child) -> str:
    """'192.168.1.30:62297 (SPI out 0x...)': a client's SA as the server sees it."""
    return f"{child.ike.remote} (SPI out 0x{child.spi_out:08x})"


class _Entry:
    __slots__ = ("selector", "child", "installed", "replaced_by", "_row")

    def __init__(self, selector: Selector, child, now: float):
        self.selector, self.child, self.installed = selector, child, now
        self.replaced_by = None
        self._row = None        #: (what the row shows that can change, the SpdRow built from it)

    def row(self, keying: str) -> SpdRow:
        """This entry's table row, built again only when something it shows changed (the peer's
        address moves with NAT-T floating; a newer SA replaces the entry)."""
        c, n = self.child, self.replaced_by
        ike = c.ike
        key = (keying, id(ike), ike.remote, ike.icookie, ike.rcookie, n, n and id(n.child.ike), n and n.child.ike.remote)
        if self._row is not None and self._row[0] == key:
            return self._row[1]
        key_text = str(self.selector) if keying == "selector" else f"{self.selector} + port {ike.remote.port} + SPI"
        note = ""
        if n is not None:
            note = ("re-keyed" if n.child.ike is ike else
                    f"selector taken by SPI 0x{n.child.spi_in:08x} from {n.child.ike.remote}")
        row = SpdRow(str(self.selector), key_text, str(ike.remote), f"{ike.icookie.hex()}:{ike.rcookie.hex()}",
                     f"{c.spi_in:08x}", f"{c.spi_out:08x}", round(self.installed, 6),
                     "active" if n is None else "replaced", note)
        self._row = (key, row)
        return row


#: what `Spd.inbound` says about nearly every packet (frozen: one object serves them all)
_ALLOWED = SpdDecision(True)


class Spd:
    """The policies of one server, keyed "per-sa" or by "selector" (see the module text)."""

    def __init__(self, keying: str = "per-sa"):
        if keying not in KEYINGS:
            raise ValueError(f"SPD keying must be one of {', '.join(KEYINGS)}")
        self.keying = keying
        self.entries: list[_Entry] = []
        self._by_spi: dict[int, _Entry] = {}
        self._active: dict[object, _Entry] = {}
        self._by_ike: dict[int, _Entry] = {}       #: the newest entry of each ISAKMP SA (its re-keys move it on)

    @staticmethod
    def selector_of(child) -> Selector:
        """The selector the server installs for a transport SA: the peer as it is seen (after NAT)."""
        return Selector(child.ike.local.ip, child.ike.remote.ip)

    def _key(self, entry: _Entry):
        if self.keying == "selector":
            return entry.selector
        return entry.selector, entry.child.ike.remote.port, entry.child.spi_in

    def install(self, child, now: float) -> _Entry | None:
        """Add the policy for a new IPsec SA; return the entry whose selector it took, if any.
        A re-key of the same ISAKMP SA (same peer, same cookies) simply moves the entry on."""
        entry = _Entry(self.selector_of(child), child, now)
        key = self._key(entry)
        old = self._active.get(key)
        if self.keying == "per-sa":     # a re-key keeps its peer's port but has new SPIs: match by ISAKMP SA
            old = self._by_ike.get(id(child.ike))
            if old is not None:
                self._active.pop(self._key(old), None)
        self._by_ike[id(child.ike)] = entry
        self.entries.append(entry)
        self._by_spi[child.spi_in] = entry
        self._active[key] = entry
        if old is None:
            return None
        old.replaced_by = entry
        return None if old.child.ike is child.ike else old

    def inbound(self, child) -> SpdDecision:
        """The policy check after decryption (RFC 4301 §5.2 step 4): does the policy for this
        packet's selector name the SA that decrypted it?"""
        entry = self._by_spi.get(child.spi_in)
        if entry is None:       # a tunnel-mode SA: its policy is the tunnel's, not modelled here
            return _ALLOWED
        if entry.replaced_by is None or entry.replaced_by.child.ike is child.ike:
            return _ALLOWED
        newer = entry.replaced_by
        return SpdDecision(False, f"decrypted by the SA of {_who(entry.child)}, but the policy for {entry.selector} "
                                  f"now names the SA of {_who(newer.child)}: a second client behind the same NAT "
                                  "has the same selector", Reason.SPD_POLICY_MISMATCH)

    def outbound(self, child):
        """The SA that really protects what the server sends to `child`'s peer: with selector
        keying, whichever SA the policy for that selector names now."""
        if self.keying == "per-sa":
            return child
        entry = self._by_spi.get(child.spi_in)
        if entry is None:
            return child
        active = self._active.get(entry.selector)
        return active.child if active is not None else child

    def rows(self) -> tuple[SpdRow, ...]:
        # read after every batch of a server's events (the trace's snapshots): a map, not a list
        # comprehension, which is a function call of its own in Python 3.11
        return tuple(map(methodcaller("row", self.keying), self.entries))
