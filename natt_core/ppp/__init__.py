"""PPP over an L2TP session, sans-IO: the RFC 1661 automaton (`fsm`), LCP/IPCP option policy and the
address pool (`options`), authentication (`auth`: MS-CHAPv2, CHAP-MD5, PAP), the endpoint that
ties the phases together (`endpoint`) and its events (`events`). Wire formats: `natt_core.wire.ppp`."""
from .endpoint import Output, PppEndpoint, PppPolicy

__all__ = ["Output", "PppEndpoint", "PppPolicy"]
