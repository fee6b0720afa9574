"""RFC 7296 §2.23: the side not behind a NAT moves to the address of the latest authenticated
packet -- ESP included -- and the trace says so (RemoteFollowed), as it does for IKE messages."""
from .test_ikev2_peer import pair
from .helpers import CLIENT_IP, NAT_IP, napt


def test_responder_follows_esp_from_a_new_nat_mapping_and_says_so():
    p = pair(client_nat=True).connect()
    at_connect = len(p.of("RemoteFollowed"))           # IKE_AUTH's forced follow (§2.23)
    p.rewrites[0] = napt(CLIENT_IP, NAT_IP, port_offset=50000)   # the NAT rebinds the client (was +61000)
    p.take(p.client.send_udp(b"from the new port", p.now))
    assert ("server", b"from the new port") in [(e.peer, e.payload) for e in p.of("DataReceived")]
    sa, = p.server.sas.values()
    moved, = p.of("RemoteFollowed")[at_connect:]
    assert (moved.peer, moved.old, moved.new, moved.via) == \
        ("server", f"{NAT_IP}:65500", f"{NAT_IP}:54500", "ESP-in-UDP")
    assert str(sa.remote) == moved.new
