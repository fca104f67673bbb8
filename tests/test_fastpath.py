"""Unit tests for decoder.fastpath: expression translation, the fixed prefix, the
generated head() functions and the full parser."""
from __future__ import annotations

import struct

import construct as C
import pytest
from construct import this

from decoder import fastpath
from decoder.fastpath import Malformed, Prefix, Truncated, compile_layout, expr_source, static_size
from decoder.packet import MALFORMED, OK, TRUNCATED, Decoder
from decoder.registry import Registry
from specs._fields import Bit, BitFields, IPv4Address, Named
from specs._numbers import IpProto

REG = Registry.default()
IP, TCP, UDP, ETH = (REG.protocols[n] for n in ("ip", "tcp", "udp", "eth"))

IP_HEADER = bytes.fromhex("45000028abcd40004006" "0000" "c0000201" "c6336407")
TCP_HEADER = bytes.fromhex("9c40005000000001000000005002faf000000000")


# --- expr_source ------------------------------------------------------------------------

def test_expr_source_constants_and_fields():
    names = {"len": "v[2]", "hdr_len": "(v[0] & 15) * 4"}
    assert expr_source(7, names.__getitem__) == "7"
    assert expr_source(this.len, names.__getitem__) == "(v[2])"
    # nested paths resolve by their last component (bit fields are flat)
    assert expr_source(this.vihl.hdr_len, names.__getitem__) == "((v[0] & 15) * 4)"
    src = expr_source(this.len - this.vihl.hdr_len, names.__getitem__)
    assert eval(src, {"v": (0x45, 0, 60)}) == 40
    assert expr_source(this["srh.last_entry"] + 1, {"srh.last_entry": "x"}.__getitem__) == "((x) + 1)"


def test_expr_source_unknown_field_raises_keyerror():
    with pytest.raises(KeyError):
        expr_source(this.nosuch * 8, {}.__getitem__)


def test_expr_source_matches_construct_evaluation():
    exprs = [this.a + this.b * 4, (this.a - 20) // 4, this.a == 3, (this.a >= 0x600) & (this.b < 5), -this.a]
    values = {"a": 1500, "b": 3}
    for expr in exprs:
        src = expr_source(expr, lambda n: repr(values[n]))
        assert eval(src) == expr(C.Container(values)), (repr(expr), src)


# --- the prefix -------------------------------------------------------------------------

@pytest.mark.parametrize("proto, fmt, size, rest", [
    (ETH, ">6s6sH", 14, []),
    (IP, ">BBHHHBBH4s4s", 20, ["options"]),
    (TCP, ">HHLLHHHH", 20, ["options"]),
    (UDP, ">HHHH", 8, []),
])
def test_prefix_formats(proto, fmt, size, rest):
    assert proto.prefix.format == fmt
    assert proto.prefix.size == size == struct.calcsize(fmt)
    assert [sc.name for sc in proto.prefix.rest] == rest


def test_prefix_fields_and_getters():
    pre = IP.prefix
    f = pre.by_name["hdr_len"]
    assert (f.offset, f.size, f.index, f.bit.mask) == (0, 1, 0, 0x0F)
    v = pre.struct.unpack_from(IP_HEADER, 0)
    got = {name: IP.getters[name](v) for name in pre.by_name}
    assert got["version"] == 4 and got["hdr_len"] == 20 and got["len"] == 40
    assert got["flags"] == 2 and got["flags.df"] == 1 and got["flags.mf"] == 0 and got["frag_offset"] == 0
    assert got["ttl"] == 64 and got["proto"] == 6
    assert got["src"] == "192.0.2.1" and got["dst"] == "198.51.100.7"
    assert IP.raw_getters["src"](v) == bytes.fromhex("c0000201")
    assert "hdr_len" not in IP.raw_getters          # bit fields have no raw octets of their own
    assert pre.by_name["dst"].offset == 16 and pre.by_name["checksum"].offset == 10


def test_prefix_stops_at_the_first_variable_field():
    layout = C.Struct("a" / C.Int8ub, "n" / C.Int8ub, "b" / C.Bytes(this.n), "c" / C.Int16ub)
    pre = Prefix(layout)
    assert pre.format == ">BB" and [f.name for f in pre.fields] == ["a", "n"]
    assert [sc.name for sc in pre.rest] == ["b", "c"]


def test_prefix_partial():
    assert IP.prefix.partial(IP_HEADER[:9], 0) == [0x45, 0, 40, 0xABCD, 0x4000, 64]
    assert IP.prefix.partial(IP_HEADER, 20) == []


# --- generated head() -------------------------------------------------------------------

def test_ip_head_source_reads_only_the_prefix():
    assert "full(" not in IP.head_source and "unpack(buf, off)" in IP.head_source
    v, hlen, pend, child, value = IP.head(IP_HEADER + TCP_HEADER, 0, 40)
    assert (hlen, pend, child, value) == (20, 40, TCP, None)


def test_head_dispatch_guard_and_ports():
    frag = bytearray(IP_HEADER)
    frag[6:8] = b"\x00\x10"          # fragment offset 16: not the first fragment, no child
    assert IP.head(bytes(frag) + TCP_HEADER, 0, 40)[3] is None
    v, hlen, pend, child, _ = UDP.head(bytes.fromhex("d43100350010abcd") + bytes(8), 0, 16)
    assert (hlen, pend) == (8, 16)


def test_head_on_a_header_cut_inside_its_options():
    opts = bytearray(IP_HEADER)
    opts[0] = 0x46                   # IHL 6: 4 octets of options, none present
    v, hlen, pend, child, value = IP.head(bytes(opts), 0, 20)
    assert hlen == 24                # the prefix alone says how long the header is
    pkt = Decoder(REG).decode_from("ip", bytes(opts))
    assert pkt.layers[0].status == TRUNCATED and "24" in pkt.layers[0].error
    cut = Decoder(REG).decode_from("ip", bytes(opts), orig_len=60)
    assert cut.layers[0].status == TRUNCATED


def test_head_of_a_layout_that_needs_the_full_parse_raises_on_truncation():
    # TCP header length 24 with a 4-octet MSS option cut after 2 octets
    data = bytearray(TCP_HEADER)
    data[12] = 0x60
    data += b"\x02\x04"
    with pytest.raises(Truncated):
        TCP.full(bytes(data), 0, len(data))
    layer = Decoder(REG).decode_from("tcp", bytes(data), orig_len=100).layers[0]
    assert layer.status == TRUNCATED


def test_header_shorter_than_the_prefix():
    pkt = Decoder(REG).decode_from("ip", IP_HEADER[:12])
    layer = pkt.layers[0]
    assert layer.status == MALFORMED and layer.v is None
    assert layer.get("ttl") == 64 and layer.get("src") is None       # what fits of the prefix
    assert Decoder(REG).decode_from("ip", IP_HEADER[:12], orig_len=40).layers[0].status == TRUNCATED


# --- the full parser --------------------------------------------------------------------

def test_full_parser_equals_construct_and_records_spans():
    data = bytes(bytearray([0x47]) + IP_HEADER[1:] + bytes.fromhex("94040000" "01010100"))
    spans = []
    value, end = IP.full(data, 0, len(data), spans)
    assert end == 28
    assert value == IP.layout.parse(data)
    by_name = {s[1]: s for s in spans}
    assert by_name["ttl"][2:4] == (8, 1) and by_name["src"][2:4] == (12, 4)
    assert by_name["options"][2:4] == (20, 8)
    assert by_name["flags.df"][5].mask == 0x4000 and by_name["flags.df"][0] == by_name["frag"][0] + 1
    assert [s[1] for s in spans].index("vihl") < [s[1] for s in spans].index("version")


def test_full_parser_malformed_and_truncated():
    const = compile_layout(C.Struct("magic" / C.Const(b"\xca\xfe"), "x" / C.Int8ub))
    assert const(b"\xca\xfe\x01", 0, 3)[0].x == 1
    with pytest.raises(Malformed):
        const(b"\xca\xff\x01", 0, 3)
    with pytest.raises(Truncated):
        const(b"\xca\xfe", 0, 2)
    neg = compile_layout(C.Struct("n" / C.Int8ub, "b" / C.Bytes(this.n - 5)))
    with pytest.raises(Malformed):
        neg(b"\x01abc", 0, 4)


def test_full_parser_node_kinds():
    layout = C.Struct(
        "kind" / Named(C.Int8ub, IpProto),
        "bits" / BitFields(C.Int8ub, Bit("hi", 0xF0), Bit("lo", 0x0F, scale=2)),
        "n" / C.Int8ub,
        "items" / C.Array(this.n, C.Int16ub),
        "addr" / IPv4Address(),
        "body" / C.Switch(this.kind, {6: C.Struct("port" / C.Int16ub)}, default=C.Struct("raw" / C.Bytes(2))),
        "opt" / C.If(this.bits.hi == 1, C.Int8ub),
        "rest" / C.FixedSized(4, C.GreedyRange(C.Int16ub)),
        "tail" / C.GreedyBytes,
    )
    data = bytes([6, 0x13, 2, 0, 1, 0, 2, 192, 0, 2, 1, 0, 80, 9, 0, 1, 0, 2]) + b"tail"
    fast, end = compile_layout(layout)(data, 0, len(data))
    assert end == len(data)
    assert fast == layout.parse(data)
    assert fast.kind is IpProto.TCP and fast.bits.lo == 6 and fast["items"] == [1, 2] and fast.opt == 9
    assert fast.addr == "192.0.2.1" and fast.body.port == 80 and fast.rest == [1, 2] and fast.tail == b"tail"


def test_greedy_range_stops_at_a_cut_item():
    parse = compile_layout(C.Struct("xs" / C.GreedyRange(C.Int16ub)))
    value, end = parse(b"\x00\x01\x00\x02\x03", 0, 5)
    assert value.xs == [1, 2] and end == 4


def test_static_size():
    assert static_size(C.Int16ub) == 2 and static_size(C.Bytes(this.n)) is None
    same = C.Switch(this.t, {1: C.Int32ub, 2: C.Bytes(4)}, default=C.Struct("a" / C.Int16ub, "b" / C.Int16ub))
    assert static_size(same) == 4
    assert static_size(C.Switch(this.t, {1: C.Int8ub}, default=C.Int16ub)) is None


def test_no_fallbacks_after_loading_the_registry():
    Registry.default()
    assert not fastpath.FALLBACKS, f"nodes the fast path does not know: {dict(fastpath.FALLBACKS)}"


def test_fallback_is_counted_and_still_parses():
    saved = fastpath.FALLBACKS.copy()
    before = sum(saved.values())
    try:
        parse = compile_layout(C.Struct("x" / C.BytesInteger(3)))
        assert sum(fastpath.FALLBACKS.values()) == before + 1
        assert parse(b"\x00\x01\x02", 0, 3)[0].x == 258
        with pytest.raises(Truncated):
            parse(b"\x00\x01", 0, 2)
    finally:
        fastpath.FALLBACKS.clear()
        fastpath.FALLBACKS.update(saved)


def test_every_protocol_head_on_short_input_never_raises_unexpectedly():
    dec = Decoder(REG)
    for name, proto in REG.protocols.items():
        for n in range(0, proto.prefix.size + 3):
            pkt = dec.decode_from(name, bytes(n))
            assert pkt.layers[0].status in (OK, TRUNCATED, MALFORMED), (name, n)
