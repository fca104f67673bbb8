"""Display filters (expert/filters.py, expert/filter.lark): every construct of the language
on packets built with scapy and decoded by our specs.  Expected results follow
Wireshark 4.x; tests/test_filters_vs_tshark.py checks the same against tshark itself."""
from pathlib import Path

import pytest
from lark import Lark
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from decoder.capture import Frame
from decoder.packet import Decoder
from decoder.registry import Registry
from expert import filters as F
from expert.filters import FilterError, compile_filter, parse, register_extra_fields

CLIENT, ROUTER, SERVER = "02:00:00:00:00:01", "00:e0:fc:12:34:56", "02:00:00:00:00:0a"
T0 = 1_700_000_000_000_000_000
HTTP = b"GET / HTTP/1.1\r\nHost: Example.com\r\n\r\n"


def _frames():
    c2r, r2c = Ether(src=CLIENT, dst=ROUTER), Ether(src=ROUTER, dst=CLIENT)
    return [
        # 1 ARP request, broadcast
        Ether(src=CLIENT, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CLIENT, psrc="192.0.2.100", pdst="192.0.2.1"),
        # 2 SYN with options, DF
        c2r / IP(src="192.0.2.100", dst="198.51.100.10", ttl=64, flags="DF", id=1) / TCP(
            sport=40000, dport=80, flags="S", seq=1000,
            options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1000, 0)), ("NOP", None), ("WScale", 7)]),
        # 3 SYN-ACK, DF, ttl 57
        r2c / IP(src="198.51.100.10", dst="192.0.2.100", ttl=57, flags="DF", id=0) / TCP(
            sport=80, dport=40000, flags="SA", seq=5000, ack=1001, options=[("MSS", 1400)]),
        # 4 HTTP request, no DF
        c2r / IP(src="192.0.2.100", dst="198.51.100.10", ttl=64, id=0x1234) / TCP(
            sport=40000, dport=80, flags="PA", seq=1001, ack=5001) / Raw(HTTP),
        # 5 UDP to port 53, ttl 1
        c2r / IP(src="192.0.2.100", dst="198.51.100.53", ttl=1, id=7) / UDP(sport=40500, dport=53) / Raw(b"hello dns"),
        # 6 ICMP time exceeded quoting packet 5 (two ip layers)
        r2c / IP(src="192.0.2.1", dst="192.0.2.100", ttl=255, id=9) / ICMP(type=11, code=0) / IPerror(
            src="192.0.2.100", dst="198.51.100.53", ttl=1, id=7) / UDPerror(sport=40500, dport=53),
        # 7 IPv6 echo request
        Ether(src=CLIENT, dst="33:33:00:00:00:01") / IPv6(src="2001:db8::100", dst="2001:db8::1", hlim=64)
        / ICMPv6EchoRequest(id=5, seq=1),
        # 8 VLAN 10, UDP 5000 -> 5001
        Ether(src=SERVER, dst=CLIENT) / Dot1Q(vlan=10) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=128) / UDP(
            sport=5000, dport=5001) / Raw(b"\x00\x01\x02"),
        # 9 echo request with a bad IP checksum
        r2c / IP(src="203.0.113.5", dst="192.0.2.100", chksum=0x1234, ttl=50) / ICMP(type=8, id=0x77, seq=1),
    ]


TIMES = [0.0, 0.1, 0.12, 0.5, 1.0, 1.001, 2.0, 2.5, 3.0]
ALL = set(range(1, 10))
IPV4 = {2, 3, 4, 5, 6, 8, 9}


@pytest.fixture(scope="module")
def reg():
    return Registry.default()


@pytest.fixture(scope="module")
def packets(reg):
    dec = Decoder(reg)
    out = []
    for i, (pkt, t) in enumerate(zip(_frames(), TIMES), 1):
        data = bytes(pkt)
        out.append(dec.decode(Frame(data, 1, T0 + int(round(t * 1e9)), len(data)), i))
    # frame 5's "hello dns" is not a DNS message: only its DNS layer may be malformed
    assert all(layer.status == "ok" for p in out for layer in p.layers if layer.name != "dns")
    return out


@pytest.fixture(scope="module")
def hits(reg, packets):
    def run(expr, **kw):
        flt = compile_filter(expr, reg, **kw)
        return {p.number for p in packets if flt(p)}
    return run


def check(hits, cases):
    bad = [(expr, sorted(hits(expr)), sorted(want)) for expr, want in cases if hits(expr) != set(want)]
    assert not bad, "\n".join(f"{e}: got {g}, want {w}" for e, g, w in bad)


def error(reg, expr, **kw) -> FilterError:
    with pytest.raises(FilterError) as info:
        compile_filter(expr, reg, **kw)
    return info.value


# -- existence -----------------------------------------------------------------------------------

def test_existence(hits):
    check(hits, [
        ("tcp", {2, 3, 4}),
        ("udp", {5, 6, 8}),            # the UDP header quoted in the ICMP error counts
        ("ip", IPV4),
        ("eth", ALL),
        ("frame", ALL),
        ("ipv6", {7}),
        ("vlan", {8}),
        ("tcp.options.mss_val", {2, 3}),
        ("ip.flags.df", IPV4),         # a boolean field exists whatever its value
        ("ip.flags.df == 1", {2, 3}),
        ("ip.flags.df == 0", {4, 5, 6, 8, 9}),
        ("tcp.flags.syn", {2, 3, 4}),
        ("not tcp.flags.syn", ALL - {2, 3, 4}),
    ])


# -- comparisons and their quantifiers -------------------------------------------------------

def test_comparison_operators(hits):
    check(hits, [
        ("ip.ttl == 64", {2, 4}),
        ("ip.ttl eq 64", {2, 4}),
        ("ip.ttl < 57", {5, 6, 9}),          # packet 6 quotes a ttl of 1
        ("ip.ttl lt 57", {5, 6, 9}),
        ("ip.ttl <= 57", {3, 5, 6, 9}),
        ("ip.ttl le 57", {3, 5, 6, 9}),
        ("ip.ttl > 64", {6, 8}),
        ("ip.ttl gt 64", {6, 8}),
        ("ip.ttl >= 64", {2, 4, 6, 8}),
        ("ip.ttl ge 64", {2, 4, 6, 8}),
        ("tcp.srcport ne 80", {2, 4}),
    ])


def test_multiple_occurrences(hits):
    # packet 6 has ip.src 192.0.2.1 (outer) and 192.0.2.100 (quoted)
    check(hits, [
        ("ip.src == 192.0.2.100", {2, 4, 5, 6}),
        # != : every occurrence differs, and there is one (Wireshark >= 3.6)
        ("ip.src != 192.0.2.100", {3, 8, 9}),
        ("!(ip.src == 192.0.2.100)", {1, 3, 7, 8, 9}),
        ("ip.src === 192.0.2.100", {2, 4, 5}),
        ("ip.src all_eq 192.0.2.100", {2, 4, 5}),
        ("ip.src !== 192.0.2.100", {3, 6, 8, 9}),
        ("ip.src ~= 192.0.2.100", {3, 6, 8, 9}),
        ("ip.src any_ne 192.0.2.100", {3, 6, 8, 9}),
        ("all ip.ttl > 10", {2, 3, 4, 8, 9}),
        ("any ip.ttl > 10", {2, 3, 4, 6, 8, 9}),
        ("all udp.port != 53", {8}),
        ("ip.src == ip.dst", {6}),            # outer dst == quoted src
        ("ip.ttl + ip.ttl == 256", {6, 8}),   # every pair: 255 + 1 (packet 6), 128 + 128
    ])


def test_layer_operator(hits):
    check(hits, [
        ("ip.src#1 == 192.0.2.1", {6}),
        ("ip.src#2 == 192.0.2.100", {6}),
        ("ip.ttl#2 == 1", {6}),
        ("ip#2", {6}),
        ("ip.src#[1-2] == 192.0.2.100", {2, 4, 5, 6}),
        ("ip.src#[2:] == 192.0.2.100", {6}),
        ("ip.src#1 == ip.dst#2", set()),
        ("ip.dst#1 == ip.src#2", {6}),
    ])


# -- logic ---------------------------------------------------------------------------------------

def test_logic(hits):
    check(hits, [
        ("tcp and ip.ttl == 64", {2, 4}),
        ("tcp && ip.ttl == 64", {2, 4}),
        ("udp or arp", {1, 5, 6, 8}),
        ("udp || arp", {1, 5, 6, 8}),
        ("not ip", {1, 7}),
        ("!ip", {1, 7}),
        ("!tcp && !udp", {1, 7, 9}),
        ("tcp xor ip.ttl == 64", {3}),
        ("tcp ^^ ip.ttl == 64", {3}),
        # and binds tighter than or
        ("udp or tcp and ip.ttl == 200", {5, 6, 8}),
        ("(udp or tcp) and ip.ttl == 200", set()),
        ("tcp.srcport == 80 && tcp.dstport == 40000 || udp", {3, 5, 6, 8}),
        ("not not tcp", {2, 3, 4}),
        ("not (tcp or udp)", {1, 7, 9}),
    ])


# -- membership ----------------------------------------------------------------------------------

def test_membership(hits):
    check(hits, [
        ("tcp.port in {80, 443}", {2, 3, 4}),
        ("udp.port in {53, 5000..5010}", {5, 6, 8}),
        ("udp.port in {5001 .. 5010}", {8}),
        ("ip.ttl in {1, 57}", {3, 5, 6}),
        ("ip.addr in {10.0.0.0/8, 203.0.113.5}", {8, 9}),
        ("ip.src in {192.0.2.1..192.0.2.50}", {6}),
        ("ip.src in {192.0.2.1 .. 192.0.2.50, 10.0.0.1}", {6, 8}),
        ("ipv6.addr in {2001:db8::1..2001:db8::ff}", {7}),
        ("frame.number in {1..3, 9}", {1, 2, 3, 9}),
        ("frame.time_relative in {0.1 .. 0.5}", {2, 3, 4}),
        ("eth.type in {ARP, 0x86dd}", {1, 7}),
        ("tcp.port not in {80, 443}", ALL - {2, 3, 4}),   # = not (tcp.port in {...})
        ("not tcp.port in {80}", ALL - {2, 3, 4}),
    ])


# -- contains, matches ----------------------------------------------------------------------------

def test_contains(hits):
    check(hits, [
        ("tcp contains \"GET\"", {4}),          # a protocol's octets run through its payload
        ("ip contains 47:45:54", {4}),
        ("frame contains \"hello\"", {5}),
        ("udp contains 68:65:6c:6c:6f", {5}),
        ("eth.src contains e0:fc", {3, 6, 9}),
        ("frame.protocols contains \"vlan\"", {8}),
        ("ip.checksum.status contains \"ba\"", {9}),
        ("frame contains 'G'", {4}),
        ("frame contains 00:e0:fc", {2, 3, 4, 5, 6, 9}),
    ])


def test_matches(hits):
    check(hits, [
        ('frame matches "host: example\\\\.com"', {4}),     # case-insensitive by default
        ('frame matches "(?-i)host: example"', set()),
        ('frame matches "(?-i)Host: Example"', {4}),
        ('frame ~ "^GET"', set()),                           # frame starts with Ethernet
        ('tcp matches "GET /"', {4}),
        ('frame.protocols matches "ipv6:icmpv6$"', {7}),
        ('frame.protocols ~ "ETH:.*:ARP"', {1}),
    ])


# -- slices ------------------------------------------------------------------------------------------

def test_slices(hits):
    router = {3, 6, 9}
    check(hits, [
        ("eth.src[0:3] == 00:e0:fc", router),
        ("eth.src[0:3] == 00e0fc", router),
        ("eth.src[0:3] == 00-e0-fc", router),
        ("eth.src[1-2] == e0:fc", router),
        ("eth.src[2] == fc", router),
        ("eth.src[2] == 0xfc", router),
        ("eth.src[2] == :fc", router),
        ("eth.src[:2] == 00:e0", router),
        ("eth.src[4:] == 34:56", router),
        ("eth.src[-2:] == 34:56", router),
        ("eth.src[-1] == 56", router),
        ("eth.src[0:1,2] == 00:fc", router),
        ("eth.src[0:2,4:2] == 00:e0:34:56", router),
        ("eth.src[4:4] == 34:56", set()),          # runs past the end: no value
        ("frame[12:2] == 08:06", {1}),
        ("frame[12:2] == 81:00", {8}),
        ("tcp[13] == 12", {3}),                    # protocol slices cover the header
        ("tcp[13:1] == 0x12", {3}),
        ("ip[0] == 45", IPV4),
        ("ip.src[3] == 64", {2, 4, 5, 6}),         # 192.0.2.100: last octet 0x64
        ("ipv6.src[0:2] == 20:01", {7}),
        ("tcp.options.mss_val == 1460 and frame[0:1] == 00", {2}),
    ])


# -- arithmetic, bitwise and -----------------------------------------------------------------------

def test_bitwise_and_arithmetic(hits):
    check(hits, [
        ("tcp.flags & 0x02", {2, 3}),
        ("tcp.flags & 0x12 == 0x12", {3}),
        ("{tcp.flags & 0x12} == 0x12", {3}),
        ("ip.flags & 0x2", {2, 3}),
        ("eth.dst[0] & 1", {1, 7}),                # group addresses
        ("tcp.srcport + 1 == 81", {3}),
        ("tcp.srcport - 1 == 79", {3}),
        ("tcp.srcport * 2 == 160", {3}),
        ("tcp.srcport / 3 == 26", {3}),            # integer division
        ("tcp.srcport % 7 == 3", {3}),
        ("{tcp.srcport + 20} * 2 == 200", {3}),
        ("tcp.port + 1 == 81", {2, 3, 4}),         # per occurrence
        ("-ip.ttl == -64", {2, 4}),
        ("ip.ttl == -1 + 65", {2, 4}),
        ("tcp.srcport > -1", {2, 3, 4}),
        ("ip.ttl - ip.ttl == 0", IPV4),
    ])


# -- literals --------------------------------------------------------------------------------------

def test_integer_literals(hits):
    check(hits, [
        ("tcp.srcport == 80", {3}),
        ("tcp.srcport == 0x50", {3}),
        ("tcp.srcport == 0120", {3}),              # leading 0: octal, as in Wireshark
        ("tcp.srcport == 0b1010000", {3}),
        ("tcp.srcport == 'P'", {3}),               # character constant
        ("tcp.srcport == '\\x50'", {3}),
        ("tcp.srcport == '\\120'", {3}),
        ("tcp.flags.syn == True", {2, 3}),
        ("tcp.flags.syn == TRUE", {2, 3}),
        ("tcp.flags.syn == False", {4}),
        ("tcp.flags.syn == 2", {2, 3}),            # any non-zero number is true for a boolean
        ("ip.id == 0x1234", {4}),
    ])


def test_enumeration_names(hits):
    check(hits, [
        ("eth.type == ARP", {1}),
        ("eth.type == arp", {1}),                  # a protocol name where an enum name fits
        ('eth.type == "IPv6"', {7}),
        ("ip.proto == TCP", {2, 3, 4}),
        ('ip.proto == "tcp"', {2, 3, 4}),
        ("ip.proto == tcp", {2, 3, 4}),
        ("ip.proto == 17", {5, 6, 8}),
        ("icmp.type == 11", {6}),
    ])


def test_string_literals(hits):
    check(hits, [
        ('frame contains "Host: Example.com\\r\\n"', {4}),
        ('frame contains "\\x47\\x45\\x54"', {4}),
        ('frame contains "\\107ET"', {4}),
        ('frame contains "\\u0047ET"', {4}),
        ('frame contains r"GET /"', {4}),
        ('ip.checksum.status == "bad"', {9}),
        ("ip.checksum.status == bad", {9}),
        ("ip.checksum.status == 0", {9}),          # Wireshark's numbers: 0 bad, 1 good, 2 unverified
        ("ip.checksum.status == good", IPV4 - {9}),
        ('frame.protocols == "eth:ethertype:arp"', {1}),
        ("frame.protocols == eth:ethertype:arp", {1}),
    ])


def test_address_literals(hits):
    check(hits, [
        ("eth.src == 00:e0:fc:12:34:56", {3, 6, 9}),
        ("eth.src == 00-E0-FC-12-34-56", {3, 6, 9}),
        ("eth.src == 00e0.fc12.3456", {3, 6, 9}),
        ("eth.src == 00e0fc123456", {3, 6, 9}),
        ("eth.dst == ff:ff:ff:ff:ff:ff", {1}),
        ("eth.addr == 02:00:00:00:00:0a", {8}),
        ("eth.src < 01:00:00:00:00:00", {3, 6, 9}),
        ("ip.addr == 198.51.100.10", {2, 3, 4}),
        ("ip.dst == 198.51.100.0/24", {2, 4, 5, 6}),
        ("ip.addr == 192.0.2.100/32", {2, 3, 4, 5, 6, 9}),
        ("ip.addr != 192.0.2.0/24", {8}),
        ("ip.src > 192.0.2.50", {2, 3, 4, 5, 6, 9}),
        ("ip.src <= 10.0.0.1", {8}),
        ('ip.src == "10.0.0.1"', {8}),             # quoted addresses are accepted too
        ("ipv6.src == 2001:db8::100", {7}),
        ("ipv6.src == 2001:DB8:0::100", {7}),
        ("ipv6.addr == 2001:db8::/64", {7}),
        ("ipv6.dst == 2001:db8::1/128", {7}),
        ("ipv6.dst > 2001:db8::", {7}),
        ("arp.src.proto_ipv4 == 192.0.2.100", {1}),
        ("arp.src.hw_mac == 02:00:00:00:00:01", {1}),
        ("icmp.unused == 00:00:00:00", {6}),       # a byte-string field
        ("icmp.unused contains 00", {6}),
    ])


def test_time_literals(hits):
    check(hits, [
        ("frame.time_relative == 0.1", {2}),
        ("frame.time_relative >= 1", {5, 6, 7, 8, 9}),
        ("frame.time_relative > 1.0005", {6, 7, 8, 9}),
        ("frame.time_delta > 0.4", {5, 7, 8, 9}),
        ("frame.time_delta < 0.05", {1, 3, 6}),
        ("frame.time_epoch == 1700000000.5", {4}),
        ("frame.time_epoch > 1700000002", {8, 9}),
    ])


# -- functions --------------------------------------------------------------------------------------

def test_functions(hits):
    check(hits, [
        ("len(tcp) == 20", {4}),
        ("len(tcp) > 20", {2, 3}),
        ("len(eth.src) == 6", ALL),
        ("len(ip.src) == 4", IPV4),
        ("len(ipv6.src) == 16", {7}),
        ("len(tcp.srcport) == 2", {2, 3, 4}),
        ("len(frame) > 90", {4}),
        ("len(frame.protocols) == 17", {1}),            # eth:ethertype:arp
        ("len(eth.src[0:3]) == 3", ALL),
        ("count(ip.src) == 2", {6}),
        ("count(ip.src) == 1", IPV4 - {6}),
        ("count(tcp.options.mss_val) == 0", ALL - {2, 3}),
        ("count(tcp.port) > 1", {2, 3, 4}),
        ('upper(frame.protocols) contains "VLAN"', {8}),
        ('lower(upper(frame.protocols)) == "eth:ethertype:arp"', {1}),
        ('string(tcp.srcport) == "80"', {3}),
        ('string(ip.src) matches "^10\\\\."', {8}),
        ("abs(ip.ttl - 60) == 4", {2, 4}),
        ("max(tcp.srcport, tcp.dstport) == 40000", {2, 3, 4}),
        ("min(ip.ttl) == 1", {5, 6}),
        ("max(ip.ttl) == 255", {6}),
    ])


# -- frame.* and virtual fields ------------------------------------------------------------------

def test_frame_fields(hits, packets):
    check(hits, [
        ("frame.len > 90", {4}),
        ("frame.cap_len == 42", {1, 9}),
        ("frame.number == 5", {5}),
        ("frame.number >= 8", {8, 9}),
        ("frame.interface_id == 0", ALL),
        ("frame.protocols contains \"icmp:ip:udp\"", {6}),
    ])


def test_virtual_fields(hits):
    check(hits, [
        ("ip.addr == 192.0.2.1", {6}),
        ("tcp.port == 40000", {2, 3, 4}),
        ("udp.port == 5001", {8}),
        ("eth.addr == 33:33:00:00:00:01", {7}),
        ("ipv6.addr == 2001:db8::100", {7}),
        ('eth.src.oui_resolved contains "HUAWEI"', {3, 6, 9}),   # a value computed by a function
        ('eth.src.oui_resolved matches "huawei"', {3, 6, 9}),
        ('eth.src.oui_resolved == "HUAWEI TECHNOLOGIES CO.,LTD"', {3, 6, 9}),
    ])


def test_shared_clock(reg, packets):
    from decoder.fields import Clock
    clock = Clock()
    flt = compile_filter("frame.time_relative > 2", reg, clock=clock)
    shown = []
    for p in packets:
        clock.tick(p.frame.ts_ns)
        if flt(p):
            shown.append(p.number)
    assert shown == [8, 9]


# -- annotations from analysis stages ---------------------------------------------------------------

def test_extra_fields(reg, packets):
    register_extra_fields({"test.stream": int, "test.analysis.flag": None, "test.note": "str"})
    p2, p3 = packets[1], packets[2]
    saved = (p2.extra, p3.extra)
    try:
        p2.annotate("test.stream", 0)
        p2.annotate("test.analysis.flag", True)
        p3.annotate("test.stream", 1)
        p3.annotate("test.note", "Zero window")
        run = lambda e: {p.number for p in packets if compile_filter(e, reg)(p)}   # noqa: E731
        assert run("test.stream == 1") == {3}
        assert run("test.stream in {0, 1}") == {2, 3}
        assert run("test.analysis.flag") == {2}
        assert run("not test.analysis.flag and tcp") == {3, 4}
        assert run('test.note matches "zero"') == {3}
        e = error(reg, "test.analysis.flag == 1")
        assert "label" in str(e)
        # an annotation named like a decoded field replaces it, as in Packet.values
        p2.annotate("tcp.srcport", 12345)
        assert run("tcp.srcport == 12345") == {2}
    finally:
        p2.extra, p3.extra = saved
        for name in ("test.stream", "test.analysis.flag", "test.note"):
            F._EXTRA.pop(name, None)
    assert "unknown field 'test.stream'" in str(error(reg, "test.stream == 1"))


# -- parameters and scopes (for the rule language) ------------------------------------------------

def test_parameters(hits, reg):
    assert hits("ip.ttl < $threshold", params={"threshold": 10}) == {5, 6}
    assert hits("ip.ttl < $t and tcp", params={"t": 60}) == {3}
    assert hits("ip.addr == $net", params={"net": "10.0.0.0/8"}) == {8}
    assert hits("tcp.port in {$ports}", params={"ports": [80, 8080]}) == {2, 3, 4}
    assert hits("frame contains $s", params={"s": "hello"}) == {5}
    assert hits('frame matches $rx', params={"rx": "HELLO"}) == {5}
    e = error(reg, "ip.ttl < $treshold", params={"threshold": 10})
    assert "unknown parameter $treshold (did you mean $threshold?)" in str(e)
    assert e.column == 10


def test_scopes(reg, packets):
    """Sequence rules: A./B. prefixes pick which packet of a pair a field is read from."""
    comp_kw = dict(scopes={"A": lambda ctx: ctx[0], "B": lambda ctx: ctx[1]})
    flt = compile_filter("B.icmp.type == 11 and B.ip.id#2 == A.ip.id and A.udp", reg, **comp_kw)
    pairs = [(a, b) for a in packets for b in packets if a is not b]
    assert [(a.number, b.number) for a, b in pairs if flt((a, b))] == [(5, 6)]
    flt = compile_filter("B.ip.src == A.ip.dst and B.tcp.ack_raw == A.tcp.seq_raw + 1", reg, **comp_kw)
    assert [(a.number, b.number) for a, b in pairs if flt((a, b))] == [(2, 3), (3, 4)]
    # arithmetic across the pair: a reply within 50 ms
    flt = compile_filter("B.frame.time_epoch - A.frame.time_epoch < 0.05 and B.frame.time_epoch > A.frame.time_epoch"
                         " and B.tcp.flags.syn == 1 and B.tcp.flags.ack == 1 and B.tcp.ack_raw == A.tcp.seq_raw + 1",
                         reg, **comp_kw)
    assert [(a.number, b.number) for a, b in pairs if flt((a, b))] == [(2, 3)]
    # unprefixed fields come from default_scope
    flt = compile_filter("A.tcp and tcp.flags.syn == 1", reg, default_scope=lambda ctx: ctx[1], **comp_kw)
    assert {(a.number, b.number) for a, b in pairs if flt((a, b))} == {(a, b) for a in (2, 3, 4) for b in (2, 3) if a != b}
    # a scope that has no packet gives no values
    flt = compile_filter("A.ip or B.ip", reg, scopes={"A": lambda ctx: None, "B": lambda ctx: ctx})
    assert flt(packets[1]) and not flt(packets[0])
    assert "unknown field 'A.ip.idd' (did you mean 'A.ip.id'?)" in str(error(reg, "A.ip.idd == 1", **comp_kw))
    assert "unknown field 'B.ip.idd' (did you mean 'B.ip.id'?)" in str(error(reg, "A.ip.id == B.ip.idd", **comp_kw))


def test_grammar_is_reusable(tmp_path, reg, packets):
    """The rule language imports `expr`; the compiler accepts the namespaced subtrees."""
    (tmp_path / "filter.lark").write_text(F.GRAMMAR.read_text())
    (tmp_path / "rules.lark").write_text(
        'start: rule+\nrule: "rule" NAME ":" expr ";"\n%import .filter (expr)\n'
        "%import common.CNAME -> NAME\n%import common.WS\n%ignore WS\n")
    p = Lark.open(str(tmp_path / "rules.lark"), parser="lalr", maybe_placeholders=True)
    tree = p.parse("rule syn: tcp.flags.syn == 1 and not tcp.flags.ack == 1; rule df: ip.flags.df;")
    comp = F.Compiler(reg)
    tests = {str(r.children[0]): comp.compile(r.children[1]) for r in tree.children}
    assert {p.number for p in packets if tests["syn"](p)} == {2}
    assert {p.number for p in packets if tests["df"](p)} == IPV4
    assert comp.fields == {"tcp.flags.syn", "tcp.flags.ack", "ip.flags.df"}


def test_parse_tree_shape():
    tree = parse("A.ip.id == B.ip.id and $x > 3")
    assert tree.data == "and_test"
    field = tree.children[0].children[1]
    assert field.data == "field" and str(field.children[0]) == "A.ip.id"
    assert str(tree.children[1].children[1].children[0]) == "$x"


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, column, words", [
    ("tcp.flag.syn == 1", 1, "unknown field 'tcp.flag.syn' (did you mean 'tcp.flags.syn'?)"),
    ("tcp.flag.syn", 1, "unknown field 'tcp.flag.syn' (did you mean 'tcp.flags.syn'?)"),
    ("tcp and ip.srcc == 1.2.3.4", 9, "unknown field 'ip.srcc' (did you mean 'ip.src'?)"),
    ("ip.ttl == ip.tl", 11, "unknown field 'ip.tl'"),
    ("tcp.port == 80 and", 19, "unexpected end of filter, expected a field or value, 'not' or '('"),
    ("tcp.port == ", 12, "unexpected end of filter, expected a field or value"),
    ("(tcp", 5, "unexpected end of filter, expected"),
    ("tcp.port = 80", 10, "unexpected character '=' (compare with ==)"),
    ("ip.src == @", 11, "unexpected character '@', expected a field or value"),
    ("tcp.port === === 80", 14, "unexpected '==='"),
    ("tcp.port in {80 443}", 17, "unexpected '443', expected"),
    ("ip.src == ${x}", 11, "macros"),
    ("tcp.srcport-1 == 79", 1, "write tcp.srcport - 1 with spaces"),
    ("ip.ttl == 1.5", 11, "'1.5' is not a valid value for ip.ttl (integer)"),
    ("tcp.port == 65536", 13, "65536 is too big for tcp.port, maximum 65535"),
    ("eth.src == 00:e0:fc", 12, "has 3 octets, a MAC address has 6"),
    ("eth.src == 00:e0:fc:12:34:56:78", 12, "has 7 octets"),
    ("ip.src == 300.1.2.3", 11, "not a valid value for ip.src (IPv4 address)"),
    ("ip.src == 2001:db8::1", 11, "not a valid value for ip.src"),
    ("ipv6.src == 10.0.0.1", 13, "not a valid value for ipv6.src"),
    ("ip.src > 10.0.0.0/8", 10, "can only be compared with == or !="),
    ("eth.type == ARPX", 13, "'ARPX' is not a valid value for eth.type (integer): use a number or one of IPv4, ARP"),
    ('tcp.srcport == "80"', 16, "cannot be compared with the string"),
    ("tcp.srcport[0:1] == 00", 1, "tcp.srcport is an integer and cannot be sliced"),
    ("ip.src contains 02", 1, "ip.src (IPv4 address) cannot be used with 'contains'"),
    ("tcp.srcport matches \"80\"", 1, "cannot be used with 'matches'"),
    ("frame matches \"(\"", 15, "bad regular expression"),
    ("frame matches GET", 15, "'matches' needs a regular expression in quotes"),
    ("ip.src == tcp.srcport", 11, "ip.src (IPv4 address) and tcp.srcport (integer) are not of compatible types"),
    ("80 == 443", 1, "neither side of '==' is a field"),
    ("80", 1, "'80' is a value, not a test"),
    ("lenx(tcp)", 1, "unknown function lenx() (did you mean len?)"),
    ("len(tcp, udp) == 1", 1, "len() takes 1 argument, 2 given"),
    ("count(ip.src[0:1]) == 1", 7, "count() needs a field"),
    ("lower(ip.ttl) == 1", 7, "lower() needs a string field"),
    ("ip.src#0 == 1.2.3.4", 8, "layers are numbered from 1"),
    ("frame.len#1 == 3", 1, "the layer operator # applies to protocol fields only"),
    ("ip.src in {1.2.3.4 .. 1.2.3.0/24}", 23, "a range bound must be an address"),
    ("eth.src in {00:00:00:00:00:00 .. ff:ff:ff:ff:ff:ff}", 13, "ranges need numbers or addresses"),
    ('"a" contains "b"', 1, "the left side of 'contains' must be a field"),
    ("", 1, "empty filter"),
    ('frame contains "\\q"', 16, "unknown escape \\q"),
])
def test_errors(reg, expr, column, words):
    e = error(reg, expr)
    assert words in e.message, e.message
    assert e.column == column, (e.column, e.message)
    assert "\n" not in str(e)
    assert str(e).startswith(f"column {column}: ")


def test_compiled_once(reg, packets, monkeypatch):
    """Evaluation never goes back to the parse tree or the parser."""
    flt = compile_filter("tcp.port in {80, 443} and ip.addr == 192.0.2.0/24 and eth.src[0:3] == 00:e0:fc", reg)

    def boom(*a, **k):
        raise AssertionError("parser used at run time")
    monkeypatch.setattr(F, "parse", boom)
    monkeypatch.setattr(F, "coerce", boom)
    monkeypatch.setattr(F.Compiler, "test", boom)
    monkeypatch.setattr(F.Compiler, "value", boom)
    assert [p.number for p in packets if flt(p)] == [3]
    assert flt.fields == {"tcp.port", "ip.addr", "eth.src"}


def test_unknown_names_need_registration(reg):
    name = "test.analysis.only_after_registration"
    assert f"unknown field '{name}'" in str(error(reg, name))
    F.register_extra_fields({name: bool})
    try:
        assert compile_filter(name, reg).fields
    finally:
        F._EXTRA.pop(name, None)


def test_field_types(reg):
    assert F.field_type(reg, "ip.src") == "ipv4"
    assert F.field_type(reg, "ipv6.dst") == "ipv6"
    assert F.field_type(reg, "eth.src") == "mac"
    assert F.field_type(reg, "tcp.flags.syn") == "bool"
    assert F.field_type(reg, "tcp.flags") == "int"
    assert F.field_type(reg, "ip.addr") == "ipv4"
    assert F.field_type(reg, "tcp.port") == "int"
    assert F.field_type(reg, "ip.checksum.status") == "status"
    assert F.field_type(reg, "tcp") == "proto"
    assert F.field_type(reg, "frame.time_relative") == "float"
    assert F.field_type(reg, "nonexistent.field") is None
    assert "tcp.flags.syn" in F.known_fields(reg)


# -- protospec decode -Y --------------------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parent / "captures" / "sample.pcap"


def _cli(capsys, *argv):
    from decoder.cli import main
    rc = main(["decode", str(SAMPLE), "--no-progress", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_display_filter(capsys):
    rc, out, err = _cli(capsys, "-Y", "tcp.flags.syn == 1 and tcp.flags.ack == 0")
    assert rc == 0 and not err
    assert [int(line.split()[0]) for line in out.splitlines()] == [5, 13, 14, 15, 16]
    # -c counts shown packets, as in tshark; numbers and times still count every frame
    rc, out, _ = _cli(capsys, "-Y", "icmp", "-c", "2")
    lines = out.splitlines()
    assert rc == 0 and [int(x.split()[0]) for x in lines] == [19, 21]
    assert lines[0].split()[1] == "5.001000"
    rc, out, _ = _cli(capsys, "-Y", "udp", "-T", "fields", "-e", "frame.number", "-e", "udp.dstport", "-c", "3")
    assert rc == 0 and out == "3\t53\n4\t53001\n18\t33434\n"
    rc, out, _ = _cli(capsys, "-Y", "frame.time_relative > 9", "-T", "fields", "-e", "frame.number",
                      "-E", "header=y")
    assert out.splitlines() == ["frame.number", "28", "29", "30"]
    rc, out, _ = _cli(capsys, "-Y", "arp", "-T", "jsonl")
    assert rc == 0 and len(out.splitlines()) == 2


def test_cli_display_filter_errors(capsys):
    rc, out, err = _cli(capsys, "-Y", "tcp.flag.syn == 1")
    assert rc == 2 and not out
    assert err == ("protospec: display filter 'tcp.flag.syn == 1': column 1: unknown field 'tcp.flag.syn' "
                   "(did you mean 'tcp.flags.syn'?)\n")
    rc, out, err = _cli(capsys, "-Y", "tcp.port == 80 and")
    assert rc == 2 and "column 19: unexpected end of filter" in err and err.count("\n") == 1
