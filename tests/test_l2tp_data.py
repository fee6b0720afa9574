"""L2TP data message headers (RFC 2661 §3.1) as a host reads them: known bytes, not our encoder's."""
from natt_core.l2tp.data import data_parts, decode_data

FRAME = b"\xff\x03\xc0\x21\x01\x01\x00\x04"     # PPP LCP Configure-Request, no options


def test_the_kernels_form_and_every_optional_field_read_alike():
    kernel = b"\x00\x02\x12\x34\x56\x78" + FRAME                       # flags 0x0002: T=0, version 2
    with_length = b"\x40\x02\x00\x10\x12\x34\x56\x78" + FRAME + b"\xee\xee"   # L: the message ends at 16
    with_sequence_offset = b"\x0a\x02\x12\x34\x56\x78\x00\x01\x00\x02\x00\x01\xaa" + FRAME   # S, O (1 pad byte)
    for message in (kernel, with_length, with_sequence_offset):
        assert data_parts(message) == (0x1234, 0x5678, FRAME) == decode_data(message)


def test_a_control_message_or_a_stub_is_not_data():
    assert data_parts(b"\xc8\x02\x00\x0c\x00\x00\x00\x00\x00\x00\x00\x00") is None   # T bit: control
    assert data_parts(b"\x00") is None
