"""RFC 1071 arithmetic: the big-number shortcuts equal the word-by-word definition."""
import struct

from hypothesis import given, strategies as st

from decoder.checksum import ChecksumRule, internet_checksum


def reference(data: bytes, initial: int = 0) -> int:
    """RFC 1071 §4.1, word by word with end-around carry."""
    if len(data) % 2:
        data += b"\0"
    total = initial + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


octets = st.one_of(st.binary(max_size=300), st.lists(st.sampled_from([0, 0xFF]), max_size=40).map(bytes))


@given(octets, st.sampled_from([0, 1, 0xFFFF, 0x1FFFE, 123456]))
def test_internet_checksum(data, initial):
    assert internet_checksum(data, initial) == reference(data, initial)


@given(octets, st.sampled_from([0, 2, 6, 10, 16]), st.booleans())
def test_field_computed_as_if_zero(data, offset, zero_absent):
    rule = ChecksumRule("checksum", offset, zero_means_absent=zero_absent)
    expected = reference(data[:offset] + b"\0\0" + data[offset + 2:])
    if zero_absent and expected == 0:
        expected = 0xFFFF
    assert rule.compute(None, data, None) == expected
