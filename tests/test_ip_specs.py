"""Network-layer specs: ipv6 (with the hop-by-hop, routing, fragment and destination
options extension headers), icmp and icmpv6.

* decode tests on frames built with scapy, checking field values, checksum status
  (good, and bad once corrupted), quoted datagrams in ICMP errors, summaries, the
  Parameter Problem pointer naming and the core behaviour these specs rely on
  (dotted protocol names, shared ``ipv6.opt.*`` names, pseudo-header final destination,
  fragments left unverified);
* the fast path agrees with construct (``layer.value == layout.parse(header)``) on every
  decoded layer of the real captures, with no construct fallback;
* a differential check against tshark: for every frame of the captures INDEX.md lists
  for ICMP, ICMPv6 and IPv6 (and for the scapy frames, written to a temporary pcap),
  every field these specs define that Wireshark also has is compared with
  ``tshark -T fields``, and the Info text when the last layer outside a quote is ICMP
  or ICMPv6.  Each known, documented difference is classified by :func:`explain`;
  anything else fails.
"""
from __future__ import annotations

import collections
import functools
import logging
import re
from pathlib import Path

import pytest

from decoder import fastpath
from decoder.capture import Frame, open_capture, write_pcap
from decoder.packet import MALFORMED, OK, TRUNCATED, Decoder
from decoder.registry import Registry
from tshark_compare import compare_fields, compare_info, needs_tshark, tshark_rows, tshark_types

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
pytest.importorskip("scapy.all")
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw  # noqa: E402
from scapy.layers.inet6 import (HAO, ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,  # noqa: E402
                                ICMPv6MLDone, ICMPv6MLQuery, ICMPv6MLQuery2, ICMPv6MLReport, ICMPv6MLReport2,
                                ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_Redirect, ICMPv6ND_RS,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo, ICMPv6NDOptRDNSS,
                                ICMPv6NDOptSrcLLAddr, ICMPv6NDOptUnknown, ICMPv6PacketTooBig, ICMPv6ParamProblem,
                                ICMPv6TimeExceeded, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting, Jumbo, Pad1,
                                PadN, RouterAlert)
from scapy.layers.inet6 import ICMPv6MLDMultAddrRec as MLDv2Addr  # noqa: E402

from specs import icmp as icmp_spec  # noqa: E402
from specs import ip as ip_spec  # noqa: E402

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"
REG = Registry.default()
DEC = Decoder(REG)
MINE = ("ipv6", "ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts", "icmp", "icmpv6")

A, B = "2001:db8::1", "2001:db8::2"
ETH = Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb")


def check_layers(pkt):
    """Every layer of these specs that decoded whole agrees with construct."""
    for layer in pkt.layers:
        if layer.name in MINE and layer.status == OK:
            assert layer.value == layer.proto.layout.parse(layer.header), f"{layer.name}: fast path != construct"
            layer.spans


def decode(data, linktype=1, orig_len=None):
    data = bytes(data)
    pkt = DEC.decode(Frame(data, linktype, 0, len(data) if orig_len is None else orig_len))
    check_layers(pkt)
    return pkt


def names(pkt):
    return [layer.name for layer in pkt.layers]


def corrupt(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


# --- IPv6 and its extension headers ----------------------------------------------------

def test_ipv6_header():
    pkt = decode(ETH / IPv6(src=A, dst=B, tc=0xB9, fl=0x12345, hlim=7) / UDP(sport=40001, dport=40002) / b"abcd")
    assert names(pkt)[:3] == ["eth", "ipv6", "udp"]
    v6 = pkt["ipv6"]
    assert [v6.get(n) for n in ("version", "tclass", "tclass.dscp", "tclass.ecn", "flow")] == [6, 0xB9, 46, 1, 0x12345]
    assert (v6.get("plen"), v6.get("nxt"), v6.get("hlim"), v6.hlen) == (12, 17, 7, 40)
    assert (v6.get("src"), v6.get("dst")) == (A, B)
    assert pkt.values("ipv6.addr") == [A, B]
    assert pkt["udp"].checksum_status() == "good"
    assert v6.summary() == f"{A} → {B} nxt=UDP hlim=7"
    assert v6.proto.column == "IPv6" and (v6.proto.source, v6.proto.destination) == ("src", "dst")


def test_ipv6_payload_length_bounds_the_payload():
    data = bytes(ETH / IPv6(src=A, dst=B, plen=10) / UDP() / b"xy") + b"\xee" * 6   # 6 octets of trailer
    pkt = decode(data)
    assert pkt["ipv6"].end == 14 + 40 + 10 and pkt.trailer == b"\xee" * 6
    assert pkt["udp"].checksum_status() == "good"


def test_ipv6_bindings():
    for table, key in (("ethertype", 0x86DD), ("linktype", 229), ("ip.proto", 41), ("ppp.protocol", 0x0057),
                       ("null.family", 24), ("null.family", 28), ("null.family", 30), ("icmpv6.type", 1),
                       ("icmpv6.type", 4)):
        assert REG.tables[table][key].name == "ipv6", (table, key)
    for key, name in ((0, "ipv6.hopopts"), (43, "ipv6.routing"), (44, "ipv6.fraghdr"), (60, "ipv6.dstopts"),
                      (1, "icmp"), (58, "icmpv6")):
        assert REG.tables["ip.proto"][key].name == name
    pkt = decode(bytes(IPv6(src=A, dst=B) / ICMPv6EchoRequest()), linktype=229)
    assert names(pkt) == ["ipv6", "icmpv6"]
    pkt = decode(ETH / IP(src="192.0.2.1", dst="192.0.2.2") / IPv6(src=A, dst=B) / UDP(sport=40001, dport=40002))
    assert names(pkt) == ["eth", "ip", "ipv6", "udp"] and pkt["udp"].checksum_status() == "good"


def test_hop_by_hop_options():
    pkt = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
                 / ICMPv6MLReport2())
    assert names(pkt) == ["eth", "ipv6", "ipv6.hopopts", "icmpv6"]
    hop = pkt["ipv6.hopopts"]
    assert (hop.get("hopopts.nxt"), hop.get("hopopts.len"), hop.hlen) == (58, 0, 8)
    assert hop.get_all("opt.type") == [5, 1] and hop.get_all("opt.length") == [2, 0]
    assert hop.get("opt.router_alert") == 0 and hop.get_all("opt.padn") == [b""]
    assert pkt.values("ipv6.hopopts.nxt") == [58] and pkt.values("ipv6.opt.router_alert") == [0]
    assert pkt["icmpv6"].checksum_status() == "good"
    assert hop.summary() == "Hop-by-Hop Options nxt=ICMPv6 [RouterAlert, PadN]"


def test_pad1_is_a_bare_option_and_len_counts_8_octet_units():
    pkt = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrHopByHop(
        options=[Pad1(), Pad1(), RouterAlert(value=2), PadN(optdata=b"\0" * 4), Pad1(), Pad1()]) / UDP())
    hop = pkt["ipv6.hopopts"]
    assert (hop.get("hopopts.len"), hop.hlen) == (1, 16)
    assert hop.get_all("opt.type") == [0, 0, 5, 1, 0, 0]
    assert hop.get_all("opt.length") == [2, 4]                 # Pad1 has no length octet
    assert hop.get_all("opt.padn") == [b"\0" * 4]
    assert pkt["udp"].checksum_status() == "good"


def test_destination_options_share_the_option_names():
    pkt = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])
                 / IPv6ExtHdrDestOpt(options=[Jumbo(jumboplen=70000)]) / UDP(sport=1, dport=2) / b"hello")
    assert names(pkt) == ["eth", "ipv6", "ipv6.hopopts", "ipv6.dstopts", "udp"]
    dst = pkt["ipv6.dstopts"]
    assert (dst.get("dstopts.nxt"), dst.get("dstopts.len"), dst.get("opt.jumbo")) == (17, 0, 70000)
    # one filter name, two protocols, occurrences in frame order (as in tshark)
    assert pkt.values("ipv6.opt.type") == [5, 1, 0xC2] and pkt.values("ipv6.opt.length") == [2, 0, 4]
    assert pkt.values("ipv6.dstopts.nxt") == [17] and pkt.values("ipv6.dstopts") == [True]
    assert pkt["udp"].checksum_status() == "good"


def test_dotted_protocol_names_resolve():
    hop, dst = REG.protocols["ipv6.hopopts"], REG.protocols["ipv6.dstopts"]
    assert hop.namespace == dst.namespace == "ipv6"
    assert REG.resolve("ipv6.hopopts.nxt") == (hop, "hopopts.nxt")
    assert REG.resolve("ipv6.dstopts.len") == (dst, "dstopts.len")
    assert REG.resolve("ipv6.hopopts") == (hop, "")
    assert REG.resolve("ipv6.routing.segleft") == (REG.protocols["ipv6.routing"], "segleft")
    assert REG.resolve("ipv6.fraghdr.ident") == (REG.protocols["ipv6.fraghdr"], "ident")
    assert REG.resolve("ipv6.opt.type") == (hop, "opt.type")
    assert REG.resolve_all("ipv6.opt.type") == [(hop, "opt.type"), (dst, "opt.type")]
    assert REG.resolve_all("ipv6.src") == [(REG.protocols["ipv6"], "src")]
    assert REG.resolve("ipv6.nxt") == (REG.protocols["ipv6"], "nxt")
    # extension-header lengths come from the prefix: no full parse on the hot path
    for name in ("ipv6", "ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts", "icmp"):
        assert "full(" not in REG.protocols[name].head_source, name


def test_routing_header_type0_final_destination_in_the_pseudo_header():
    pkt = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrRouting(addresses=["2001:db8::5", "2001:db8::6"], segleft=2)
                 / UDP(sport=5, dport=6) / b"hello")
    rt = pkt["ipv6.routing"]
    assert [rt.get(n) for n in ("nxt", "len", "type", "segleft")] == [17, 4, 0, 2]
    assert rt.get("src.reserved") == b"\0" * 4 and rt.get_all("src.addr") == ["2001:db8::5", "2001:db8::6"]
    assert rt.get("final_dst") == "2001:db8::6" and rt.hlen == 40
    assert pkt["udp"].checksum_status() == "good"             # scapy sums over the final destination too


def test_routing_header_type2_and_segment_routing():
    pkt = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrRouting(type=2, addresses=["2001:db8::8"], segleft=1)
                 / ICMPv6EchoRequest())
    rt = pkt["ipv6.routing"]
    assert (rt.get("type"), rt.get("mipv6.home_address"), rt.get("final_dst")) == (2, "2001:db8::8", "2001:db8::8")
    assert pkt["icmpv6"].checksum_status() == "good"
    pkt = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrSegmentRouting(addresses=["2001:db8::8", "2001:db8::9"],
                                                                      segleft=1) / UDP())
    rt = pkt["ipv6.routing"]
    assert (rt.get("type"), rt.get("srh.last_entry"), rt.get("srh.tag")) == (4, 1, b"\0\0")
    assert rt.get_all("srh.addr") == ["2001:db8::8", "2001:db8::9"] and rt.get("final_dst") == "2001:db8::8"
    assert pkt["udp"].checksum_status() == "good"
    assert rt.summary() == "Routing Header type=SegmentRouting segleft=1 nxt=UDP"
    # no segments left: the IPv6 destination is the final one
    pkt = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrRouting(addresses=["2001:db8::5"], segleft=0) / UDP())
    assert pkt["ipv6.routing"].get("final_dst") is None and pkt["udp"].checksum_status() == "good"


def test_unknown_routing_type_keeps_its_data():
    rh = bytes([59, 1, 253, 0]) + bytes(range(12))               # type 253, no next header
    pkt = decode(bytes(ETH / IPv6(src=A, dst=B, nh=43, plen=16)) + rh)
    rt = pkt["ipv6.routing"]
    assert (rt.get("type"), rt.get("unknown_data"), rt.hlen) == (253, bytes(range(12)), 16)


def test_fragment_header():
    first = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrFragment(offset=0, m=1, id=0xABCDEF)
                   / TCP(sport=1, dport=2) / Raw(b"q" * 40))
    assert names(first) == ["eth", "ipv6", "ipv6.fraghdr", "tcp"]
    frag = first["ipv6.fraghdr"]
    assert [frag.get(n) for n in ("nxt", "reserved_octet", "offset", "reserved_bits", "more", "ident")] == \
        [6, 0, 0, 0, 1, 0xABCDEF]
    assert first["tcp"].checksum_status() == "unverified"     # one fragment of a larger packet
    assert frag.summary() == "IPv6 fragment (off=0 more=y ident=0x00abcdef nxt=6)"
    later = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrFragment(offset=100, m=0, id=0xABCDEF, nh=6) / Raw(b"q" * 40))
    assert names(later) == ["eth", "ipv6", "ipv6.fraghdr"] and later.data == b"q" * 40
    assert later["ipv6.fraghdr"].summary() == "IPv6 fragment (off=800 more=n ident=0x00abcdef nxt=6)"
    atomic = decode(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrFragment(offset=0, m=0, id=7) / UDP(sport=7, dport=9) / b"z")
    assert atomic["udp"].checksum_status() == "good"


def test_transport_checksums_over_extension_headers():
    packet = ETH / IPv6(src=A, dst=B) / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / IPv6ExtHdrDestOpt() \
        / TCP(sport=1000, dport=80, flags="S") / b"payload"
    data = bytes(packet)
    assert decode(data)["tcp"].checksum_status() == "good"
    assert decode(corrupt(data, len(data) - 1))["tcp"].checksum_status() == "bad"
    data = bytes(ETH / IPv6(src=A, dst=B) / IPv6ExtHdrDestOpt() / UDP(sport=1, dport=2) / b"payload")
    assert decode(data)["udp"].checksum_status() == "good"
    assert decode(corrupt(data, len(data) - 1))["udp"].checksum_status() == "bad"


# --- ICMPv6 ----------------------------------------------------------------------------

def test_icmpv6_echo():
    data = bytes(ETH / IPv6(src=A, dst=B, hlim=64) / ICMPv6EchoRequest(id=0x1234, seq=5, data=b"abc"))
    pkt = decode(data)
    assert names(pkt) == ["eth", "ipv6", "icmpv6"]
    icmp6 = pkt["icmpv6"]
    assert (icmp6.get("type"), icmp6.get("code"), icmp6.hlen) == (128, 0, 8)
    assert (icmp6.get("echo.identifier"), icmp6.get("echo.sequence_number")) == (0x1234, 5)
    assert icmp6.checksum_status() == "good" and icmp6.payload == b"abc"
    assert icmp6.summary() == "Echo (ping) request id=0x1234, seq=5, hop limit=64"
    assert icmp6.proto.column == "ICMPv6"
    assert decode(corrupt(data, len(data) - 1))["icmpv6"].checksum_status() == "bad"
    assert decode(corrupt(data, 14 + 40 + 2))["icmpv6"].checksum_status() == "bad"
    reply = decode(ETH / IPv6(src=B, dst=A) / ICMPv6EchoReply(id=0x1234, seq=5, data=b"abc"))["icmpv6"]
    assert reply.get("type") == 129 and reply.checksum_status() == "good"
    assert reply.summary() == "Echo (ping) reply id=0x1234, seq=5, hop limit=64"


def test_neighbor_solicitation_and_advertisement():
    ns = decode(ETH / IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fe80::2")
                / ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55"))["icmpv6"]
    assert (ns.get("type"), ns.get("reserved"), ns.get("nd.ns.target_address")) == (135, b"\0" * 4, "fe80::2")
    assert ns.get_all("opt.type") == [1] and ns.get_all("opt.length") == [1]
    assert ns.get("opt.linkaddr") == "00:11:22:33:44:55" and ns.hlen == 32
    assert ns.checksum_status() == "good"
    assert ns.summary() == "Neighbor Solicitation for fe80::2 from 00:11:22:33:44:55"
    na = decode(ETH / IPv6(src="fe80::2", dst="fe80::1", hlim=255) / ICMPv6ND_NA(tgt="fe80::2", R=1, S=1, O=0)
                / ICMPv6NDOptDstLLAddr(lladdr="66:77:88:99:aa:bb"))["icmpv6"]
    assert [na.get(n) for n in ("nd.na.flag", "nd.na.flag.r", "nd.na.flag.s", "nd.na.flag.o", "nd.na.flag.rsv")] == \
        [0xC0000000, 1, 1, 0, 0]
    assert na.get("nd.na.target_address") == "fe80::2" and na.get("opt.linkaddr") == "66:77:88:99:aa:bb"
    assert na.get_all("opt.type") == [2] and na.checksum_status() == "good"
    assert na.summary() == "Neighbor Advertisement fe80::2 (rtr, sol) is at 66:77:88:99:aa:bb"


def test_link_layer_address_of_another_size_stays_bytes():
    opt = bytes([1, 2]) + bytes(range(14))                        # 16 octets: not an Ethernet address
    data = bytes(ETH / IPv6(src="fe80::1", dst="ff02::2", hlim=255) / ICMPv6ND_RS() / Raw(opt))
    rs = decode(data)["icmpv6"]
    assert rs.get("opt.length") == 2 and rs.get("opt.linkaddr") == bytes(range(14))
    assert rs.summary() == "Router Solicitation"                  # Wireshark names IEEE 802 addresses only


def test_router_solicitation_advertisement_and_options():
    rs = decode(ETH / IPv6(src="fe80::1", dst="ff02::2", hlim=255) / ICMPv6ND_RS()
                / ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55"))["icmpv6"]
    assert rs.get("type") == 133 and rs.checksum_status() == "good"
    assert rs.summary() == "Router Solicitation from 00:11:22:33:44:55"
    ra = decode(ETH / IPv6(src="fe80::1", dst="ff02::1", hlim=255)
                / ICMPv6ND_RA(chlim=64, M=1, O=1, prf=1, routerlifetime=1800, reachabletime=30000, retranstimer=1000)
                / ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::", prefixlen=64, validlifetime=7200,
                                        preferredlifetime=3600)
                / ICMPv6NDOptMTU(mtu=1480) / ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55")
                / ICMPv6NDOptRDNSS(dns=["2001:db8::53", "2001:db8::54"], lifetime=600)
                / ICMPv6NDOptUnknown(type=200, len=1, data=b"\1\2\3\4\5\6"))["icmpv6"]
    assert [ra.get(n) for n in ("nd.ra.cur_hop_limit", "nd.ra.flag", "nd.ra.flag.m", "nd.ra.flag.o",
                                "nd.ra.flag.h", "nd.ra.flag.prf", "nd.ra.router_lifetime", "nd.ra.reachable_time",
                                "nd.ra.retrans_timer")] == [64, 0xC8, 1, 1, 0, 1, 1800, 30000, 1000]
    assert ra.get_all("opt.type") == [3, 5, 1, 25, 200] and ra.get_all("opt.length") == [4, 1, 1, 5, 1]
    assert [ra.get(n) for n in ("opt.prefix.length", "opt.prefix.flag", "opt.prefix.flag.l", "opt.prefix.flag.a",
                                "opt.prefix.valid_lifetime", "opt.prefix.preferred_lifetime", "opt.prefix")] == \
        [64, 0xC0, 1, 1, 7200, 3600, "2001:db8:1::"]
    assert ra.get("opt.mtu") == 1480 and ra.get("opt.linkaddr") == "00:11:22:33:44:55"
    assert ra.get("opt.rdnss.lifetime") == 600 and ra.get_all("opt.rdnss") == ["2001:db8::53", "2001:db8::54"]
    assert ra.get("data") == b"\1\2\3\4\5\6"                      # an option type not decoded here
    assert ra.checksum_status() == "good" and ra.payload == b""
    assert ra.summary() == "Router Advertisement from 00:11:22:33:44:55"


def test_redirect():
    rd = decode(ETH / IPv6(src="fe80::1", dst="fe80::2", hlim=255) / ICMPv6ND_Redirect(tgt="fe80::9", dst="2001:db8::7")
                / ICMPv6NDOptDstLLAddr(lladdr="00:11:22:33:44:99"))["icmpv6"]
    assert (rd.get("nd.rd.target_address"), rd.get("rd.na.destination_address")) == ("fe80::9", "2001:db8::7")
    assert rd.get("opt.linkaddr") == "00:11:22:33:44:99" and rd.checksum_status() == "good"
    assert rd.summary() == "Redirect is at 00:11:22:33:44:99"


def test_bad_ndp_option_length_ends_the_layer_as_malformed():
    data = bytes(ETH / IPv6(src="fe80::1", dst="ff02::2", hlim=255) / ICMPv6ND_RS()) + bytes([1, 3, 0, 0, 0, 0, 0, 0])
    data = data[:18] + (len(data) - 54).to_bytes(2, "big") + data[20:]
    pkt = decode(data)
    assert pkt["icmpv6"].status == MALFORMED and "overruns" in pkt["icmpv6"].error


def test_mld():
    done = decode(ETH / IPv6(src="fe80::1", dst="ff02::2", hlim=1) / ICMPv6MLDone(mladdr="ff02::5"))["icmpv6"]
    assert (done.get("type"), done.get("mld.maximum_response_delay"), done.get("mld.multicast_address")) == \
        (132, 0, "ff02::5")
    assert done.checksum_status() == "good" and done.summary() == "Multicast Listener Done"
    report = decode(ETH / IPv6(src="fe80::1", dst="ff02::5", hlim=1) / ICMPv6MLReport(mladdr="ff02::5"))["icmpv6"]
    assert report.get("type") == 131 and report.get("mld.multicast_address") == "ff02::5"
    query = decode(ETH / IPv6(src="fe80::1", dst="ff02::1", hlim=1)
                   / ICMPv6MLQuery2(mladdr="ff02::1", mrd=10000, S=1, QRV=2, QQIC=125,
                                    sources=["2001:db8::3", "2001:db8::4"]))["icmpv6"]
    assert [query.get(n) for n in ("mld.maximum_response_code", "mld.flag.s", "mld.flag.qrv", "mld.qqi",
                                   "mld.nb_sources")] == [10000, 1, 2, 125, 2]
    assert query.get_all("mld.source_address") == ["2001:db8::3", "2001:db8::4"] and query.hlen == 60
    assert query.checksum_status() == "good" and query.summary() == "Multicast Listener Query"
    v1 = decode(ETH / IPv6(src="fe80::1", dst="ff02::1", hlim=1) / ICMPv6MLQuery(mladdr="ff02::1"))["icmpv6"]
    assert v1.hlen == 24 and v1.get_all("mld.qqi") == [] and v1.checksum_status() == "good"
    v2 = decode(ETH / IPv6(src="fe80::1", dst="ff02::16", hlim=1) / ICMPv6MLReport2(records=[
        MLDv2Addr(rtype=4, dst="ff02::db8:1122:3344"),
        MLDv2Addr(rtype=1, dst="ff02::fb", sources=["2001:db8::7"], auxdata_len=1, auxdata=b"\1\2\3\4")]))["icmpv6"]
    assert v2.get("mldr.nb_mcast_records") == 2
    assert v2.get_all("mldr.mar.record_type") == [4, 1]
    assert v2.get_all("mldr.mar.multicast_address") == ["ff02::db8:1122:3344", "ff02::fb"]
    assert v2.get_all("mldr.mar.source_address") == ["2001:db8::7"]
    assert v2.get_all("mldr.mar.auxiliary_data") == [b"\1\2\3\4"]
    assert v2.checksum_status() == "good" and v2.summary() == "Multicast Listener Report Message v2"


def test_icmpv6_errors_quote_the_invoking_packet():
    pkt = decode(ETH / IPv6(src=B, dst=A) / ICMPv6DestUnreach(code=4)
                 / IPv6(src=A, dst=B) / UDP(sport=1000, dport=53) / (b"x" * 20))
    assert names(pkt)[:5] == ["eth", "ipv6", "icmpv6", "ipv6", "udp"]          # then DNS, if a spec claims it
    assert [layer.quoted for layer in pkt.layers] == [False, False, False] + [True] * (len(pkt.layers) - 3)
    icmp6 = pkt["icmpv6"]
    assert (icmp6.get("type"), icmp6.get("code"), icmp6.get("reserved"), icmp6.hlen) == (1, 4, b"\0" * 4, 8)
    assert icmp6.checksum_status() == "good"
    assert icmp6.summary() == "Destination Unreachable (Port unreachable)"
    assert pkt.values("ipv6.src") == [B, A] and pkt.values("ipv6.dst") == [A, B]
    assert pkt["udp"].checksum_status() == "good"                 # the quoted UDP datagram is complete
    ptb = decode(ETH / IPv6(src=B, dst=A) / ICMPv6PacketTooBig(mtu=1280)
                 / IPv6(src=A, dst=B, plen=1320) / TCP(sport=1000, dport=80) / (b"y" * 200))
    assert ptb["icmpv6"].get("mtu") == 1280 and ptb["icmpv6"].summary() == "Packet Too Big"
    assert ptb.layers[3].cut and ptb["tcp"].checksum_status() == "unverified"       # quote cut short
    assert ptb.status == OK                                        # cut quotes are expected
    te = decode(ETH / IPv6(src=B, dst=A) / ICMPv6TimeExceeded(code=0) / IPv6(src=A, dst=B, hlim=1)
                / ICMPv6EchoRequest())
    assert names(te)[-2:] == ["ipv6", "icmpv6"]
    assert te["icmpv6"].summary() == "Time Exceeded (hop limit exceeded in transit)"
    assert te.layers[4].checksum_status() == "unverified"          # a quoted ICMP message: as Wireshark
    pp = decode(ETH / IPv6(src=B, dst=A) / ICMPv6ParamProblem(code=1, ptr=40)
                / IPv6(src=A, dst=B) / IPv6ExtHdrDestOpt(nh=250) / Raw(b"z" * 8))
    assert pp["icmpv6"].get("pointer") == 40
    assert pp["icmpv6"].summary() == "Parameter Problem (unrecognized Next Header type encountered)"
    assert names(pp)[-2:] == ["ipv6", "ipv6.dstopts"] and pp.layers[-1].quoted


# --- ICMPv4 ----------------------------------------------------------------------------

V4 = IP(src="192.0.2.1", dst="192.0.2.2", ttl=64)


def test_icmp_echo():
    data = bytes(ETH / V4 / ICMP(type=8, id=0xD73B, seq=1) / b"ping data")
    pkt = decode(data)
    assert names(pkt) == ["eth", "ip", "icmp"]
    icmp = pkt["icmp"]
    assert [icmp.get(n) for n in ("type", "code", "ident", "seq")] == [8, 0, 0xD73B, 1]
    assert icmp.hlen == 8 and icmp.payload == b"ping data" and pkt.data == b"ping data"
    assert icmp.checksum_status() == "good"
    assert icmp.summary() == "Echo (ping) request id=0xd73b, seq=1/256, ttl=64"
    assert decode(corrupt(data, len(data) - 1))["icmp"].checksum_status() == "bad"
    reply = decode(ETH / V4 / ICMP(type=0, id=5, seq=0x0102))["icmp"]
    assert reply.summary() == "Echo (ping) reply id=0x0005, seq=258/513, ttl=64"
    assert icmp.flat()["checksum.status"] == ["good"]


def test_icmp_destination_unreachable_quotes_the_datagram():
    pkt = decode(ETH / IP(src="192.0.2.9", dst="192.0.2.1") / ICMP(type=3, code=3)
                 / IP(src="192.0.2.1", dst="192.0.2.9") / UDP(sport=1000, dport=53) / (b"x" * 20))
    assert names(pkt)[:5] == ["eth", "ip", "icmp", "ip", "udp"]                # then DNS, if a spec claims it
    assert [layer.quoted for layer in pkt.layers] == [False, False, False] + [True] * (len(pkt.layers) - 3)
    icmp = pkt["icmp"]
    assert (icmp.get("unused"), icmp.get("mtu")) == (b"\0" * 4, None)
    assert icmp.summary() == "Destination unreachable (Port unreachable)"
    assert pkt.values("ip.src") == ["192.0.2.9", "192.0.2.1"]       # two occurrences, as in tshark
    assert icmp.checksum_status() == "good" and pkt["udp"].checksum_status() == "good"
    need_frag = decode(ETH / V4 / ICMP(type=3, code=4, nexthopmtu=1400) / IP(src="192.0.2.2", dst="192.0.2.1",
                                                                            len=1500) / TCP())
    icmp = need_frag["icmp"]
    assert (icmp.get("unused"), icmp.get("mtu")) == (b"\0\0", 1400)
    assert icmp.summary() == "Destination unreachable (Fragmentation needed)"
    assert need_frag.layers[3].cut and need_frag["tcp"].checksum_status() == "unverified"
    assert need_frag.status == OK


def test_icmp_redirect_time_exceeded_source_quench():
    rd = decode(ETH / V4 / ICMP(type=5, code=1, gw="192.0.2.254") / IP(src="192.0.2.2", dst="198.51.100.1") / ICMP())
    assert rd["icmp"].get("redir_gw") == "192.0.2.254" and rd["icmp"].summary() == "Redirect (Redirect for host)"
    assert rd.layers[4].name == "icmp" and rd.layers[4].quoted
    assert rd.layers[4].checksum_status() == "unverified"         # quoted ICMP: not verified, as Wireshark
    te = decode(ETH / V4 / ICMP(type=11, code=0) / IP(src="192.0.2.2", dst="198.51.100.1", ttl=1) / UDP())
    assert te["icmp"].summary() == "Time-to-live exceeded (Time to live exceeded in transit)"
    assert te.values("ip.ttl") == [64, 1]
    sq = decode(ETH / V4 / ICMP(type=4) / IP(src="192.0.2.2", dst="198.51.100.1") / UDP())
    assert sq["icmp"].get("unused") == b"\0" * 4 and sq["icmp"].summary() == "Source quench (flow control)"


def test_icmp_parameter_problem_pointer_names_the_field():
    pkt = decode(ETH / V4 / ICMP(type=12, code=0, ptr=10) / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(dport=9) / b"q")
    icmp = pkt["icmp"]
    assert (icmp.get("pointer"), icmp.get("unused")) == (10, b"\0" * 3)
    assert icmp.get("pointer.field") == "ip.checksum"
    assert pkt.values("icmp.pointer.field") == ["ip.checksum"]
    assert icmp.summary() == "Parameter problem (Pointer indicates the error)"
    for pointer, name in ((0, "ip.version"), (1, "ip.dsfield"), (3, "ip.len"), (5, "ip.id"), (6, "ip.flags"),
                          (7, "ip.frag_offset"), (8, "ip.ttl"), (9, "ip.proto"), (11, "ip.checksum"),
                          (12, "ip.src"), (19, "ip.dst"), (20, "ip.options"), (59, "ip.options"), (60, None)):
        assert icmp_spec.pointer_field(pointer) == name, pointer
    assert decode(ETH / V4 / ICMP(type=12, ptr=200) / IP() / UDP())["icmp"].get("pointer.field") is None


def test_pointer_names_follow_the_ip_layout():
    """Every octet of the IPv4 fixed header maps to a field of the ip spec that the registry resolves."""
    prefix = fastpath.Prefix(ip_spec.LAYOUT)
    for offset in range(prefix.size):
        name = icmp_spec.pointer_field(offset)
        proto, rel = REG.resolve(name)
        field = prefix.by_name[rel]
        assert proto.name == "ip" and field.offset <= offset < field.offset + field.size


def test_icmp_other_types():
    rs = decode(ETH / V4 / ICMP(type=10))["icmp"]
    assert rs.get("reserved") == b"\0" * 4 and rs.summary() == "Router solicitation"
    ts = decode(ETH / V4 / ICMP(type=13, id=1, seq=2, ts_ori=100, ts_rx=200, ts_tx=300))["icmp"]
    assert (ts.get("ident"), ts.get("seq"), ts.hlen, len(ts.payload)) == (1, 2, 8, 12)
    assert ts.summary() == "Timestamp request id=0x0001, seq=2/512, ttl=64"
    mask = decode(ETH / V4 / ICMP(type=17, id=1, seq=2, addr_mask="255.255.255.0"))["icmp"]
    assert mask.summary() == "Address mask request id=0x0001, seq=2/512, ttl=64"
    unknown = decode(bytes(ETH / V4 / ICMP(type=165, code=0)))["icmp"]
    assert unknown.get("rest_of_header") == b"\0" * 4 and unknown.hlen == 8
    assert unknown.summary() == "Unknown ICMP (obsolete or malformed?)" and unknown.checksum_status() == "good"


def test_cut_short_captures_leave_checksums_unverified():
    data = bytes(ETH / V4 / ICMP(type=8, id=1, seq=1) / (b"x" * 56))
    pkt = decode(data[:14 + 20 + 6], orig_len=len(data))          # capture ends inside the ICMP header
    assert pkt["icmp"].status == TRUNCATED and pkt["icmp"].checksum_status() == "unverified"
    pkt = decode(data[:14 + 20 + 20], orig_len=len(data))         # ... or inside its payload
    assert pkt["icmp"].status == OK and pkt["icmp"].cut and pkt["icmp"].checksum_status() == "unverified"
    data = bytes(ETH / V4 / TCP() / (b"x" * 100))
    pkt = decode(data[:80], orig_len=len(data))
    assert pkt["tcp"].cut and pkt["tcp"].checksum_status() == "unverified"


def test_icmp_header_length_is_static():
    assert "hlen = 4 + 4" in REG.protocols["icmp"].head_source
    assert not fastpath.FALLBACKS, dict(fastpath.FALLBACKS)


# --- real captures -------------------------------------------------------------------------

ICMP_FILES = [
    "chrissanders+packets/icmp_echo.pcapng",
    "chrissanders+packets/icmp_traceroute.pcapng",
    "chrissanders+packets/ip_frag_source.pcapng",
    "zeek+zeek/testing/btest/Traces/icmp/icmp-destunreach-udp.pcap",
    "zeek+zeek/testing/btest/Traces/icmp/icmp-timeexceeded.pcap",
    "zeek+zeek/testing/btest/Traces/icmp/icmp-ping.pcap",
    "zeek+zeek/testing/btest/Traces/icmp_dot1q.pcap",
    "zeek+zeek/testing/btest/Traces/trunc/icmp-header-trunc.pcap",
    "zeek+zeek/testing/btest/Traces/ip-bogus-header-len.pcap",
    "markofu+pcaps/PracticalPacketAnalysis/ppa-capture-files/destunreachable.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/IcmpPackets.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/VlanPackets.pcap",
    "kaitoy+pcap4j/pcap4j-packettest/src/test/resources/IcmpV4ParameterProblemPacketTest.pcap",
    "kaitoy+pcap4j/pcap4j-packettest/src/test/resources/IcmpV4DestinationUnreachablePacketTest.pcap",
    "ntop+nDPI/tests/cfgs/default/pcap/malformed_icmp.pcap",
]
IPV6_FILES = [
    "the-tcpdump-group+tcpdump/tests/icmpv6.pcap",
    "the-tcpdump-group+tcpdump/tests/ipv6_invalid_length.pcap",
    "chrissanders+packets/http_ip4and6.pcapng",
    "chrissanders+packets/icmpv6_neighbor_solicitation.pcapng",
    "chrissanders+packets/ipv6_fragments.pcapng",
    "zeek+zeek/testing/btest/Traces/icmp/icmp6-paramprob.pcap",
    "zeek+zeek/testing/btest/Traces/ftp/ipv6.pcap",
    "zeek+zeek/testing/btest/Traces/pppoe.pcap",
    "zeek+zeek/testing/btest/Traces/linux_dlt_sll2.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/PPPoESession.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/Ftp.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/SllPacket.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/pcapng-example.pcapng",
    "dotpcap+packetnet/Test/CaptureFiles/ipv6_http.pcap",
    "ntop+nDPI/tests/cfgs/default/pcap/fuzz-2006-06-26-2594.pcap",
]
FILES = ICMP_FILES + IPV6_FILES


def capture(rel):
    path = CAPTURES / rel
    if not path.exists():
        pytest.skip(f"capture {rel} not available")
    return path


@pytest.mark.parametrize("rel", FILES, ids=lambda r: r.rsplit("/", 1)[-1])
def test_fast_path_equals_construct_on_captures(rel):
    for i, frame in enumerate(open_capture(capture(rel)), 1):
        pkt = DEC.decode(frame, i)
        for layer in pkt.layers:
            if layer.name in MINE and layer.status == OK:
                assert layer.value == layer.proto.layout.parse(layer.header), f"frame {i} {layer.name}"
                layer.spans
            layer.flat()
            layer.summary()
    assert not fastpath.FALLBACKS, dict(fastpath.FALLBACKS)


# --- differential check against tshark -----------------------------------------------------

TSHARK_PREFS = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]   # like this decoder: no reassembly
STATUS = {"bad": "0", "good": "1", "unverified": "2", "not present": "3"}


@functools.lru_cache(maxsize=1)
def compared_fields() -> tuple:
    """Every field of these specs, by full filter name, that Wireshark has with a value
    (FT_NONE fields such as icmpv6.opt.reserved are labels without one in tshark)."""
    ws = tshark_types()
    ours = {f"{REG.protocols[p].namespace}.{rel}" for p in MINE for rel in REG.protocols[p].field_names}
    return tuple(sorted(n for n in ours if ws.get(n, "FT_NONE") != "FT_NONE"))


def norm_ours(name, value) -> str:
    if name.endswith(".status"):
        return STATUS[value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, int):          # bool, IntEnum
        return str(int(value))
    if tshark_types()[name] == "FT_BYTES":  # icmpv6.opt.linkaddr: a MAC address here, bytes in Wireshark
        return value.replace(":", "")
    return str(value)


def norm_tshark(name, text) -> str:
    kind = tshark_types()[name]
    if kind == "FT_BOOLEAN":
        return "1" if text in ("1", "True") else "0"
    if kind.startswith(("FT_UINT", "FT_INT")):
        return str(int(text, 0))
    if kind == "FT_BYTES":
        return "" if text == "<none>" else text.replace(":", "").lower()
    return text


def explain(name, theirs, ours, pkt) -> str | None:
    """Why a field's values differ from tshark's, for the documented differences; None if unexplained."""
    icmp = pkt["icmp"]
    ip = pkt["ip"]
    if not ours and not any(layer.name in ("ip", "ipv6") for layer in pkt.layers):
        return f"no spec yet for what follows {pkt.layers[-1].name if pkt.layers else 'the link layer'}"
    if not ours and ip is not None and ip.status == MALFORMED and name.startswith(("icmp.", "ipv6")):
        if name.startswith("ipv6") and ip.get("version") == 6:
            return "ip.py: an IPv4 EtherType carrying a version-6 header; Wireshark hands it to IPv6"
        return "ip.py: IPv4 total length 0 is malformed here; Wireshark assumes segmentation offload and goes on"
    if icmp is not None and name == "icmp.unused" and icmp.get("type") in (3, 11) and len(theirs) == 2 \
            and ours and theirs == [ours[0][:2], ours[0][4:]]:
        return ("RFC 4884 not decoded here: tshark reads a non-zero octet 5 of Destination unreachable / "
                "Time exceeded as the original-datagram length and splits icmp.unused around it")
    if icmp is not None and not theirs and (name, icmp.get("type")) in (("icmp.unused", 4), ("icmp.reserved", 10)):
        return "tshark shows no field for the unused octets of Source quench / Router solicitation"
    if icmp is not None and icmp.status == TRUNCATED and not ours and name.startswith("icmp."):
        return "capture ends inside the ICMP body: a cut header keeps its fixed prefix only, tshark the octets captured"
    if name in ("icmpv6.mld.maximum_response_code", "icmpv6.mld.maximum_response_delay") and \
            pkt["icmpv6"] is not None and pkt["icmpv6"].get("type") == 130:
        return ("MLD query: tshark names octets 4-5 by the message length (MLDv1 delay, MLDv2 code), "
                "this spec always icmpv6.mld.maximum_response_code")
    return None


def explain_info(info, layer) -> str | None:
    if layer.name == "icmp" and layer.get("type") == 9 and info.startswith("Mobile IP Advertisement"):
        return "icmp: Wireshark names a router advertisement with RFC 5944 extensions Mobile IP Advertisement"
    if layer.name == "icmp" and layer.get("type") in (3, 11) and (layer.get("unused") or b"\0\0")[1] \
            and norm_info(info) == layer.summary() + "[Malformed Packet]":
        return "RFC 4884 not decoded here: tshark takes octet 5 as a datagram length that overruns the message"
    return None


_INFO_TAILS = re.compile(r"\s*\((?:request|reply) in \d+\)|\s*\(no response found!\)"
                         r"|\s*\[Packet size limited during capture\]")


def norm_info(text) -> str:
    return re.sub(r"\s+", " ", _INFO_TAILS.sub("", text)).strip()


STATS = collections.Counter()
KNOWN = collections.Counter()


def compare(path, frames):
    """Compare ``frames`` (a list of Frame) with tshark's reading of ``path``; return the
    unexplained differences."""
    fields = compared_fields()
    rows = tshark_rows(path, fields, "_ws.col.Protocol", TSHARK_PREFS)
    assert len(rows) == len(frames), "tshark and the capture reader see different packet counts"
    problems = []
    for number, (frame, row) in enumerate(zip(frames, rows), 1):
        pkt = DEC.decode(frame, number)
        column, info, values = row[1], row[2], row[3:]
        STATS["frames"] += 1
        STATS["fields"] += len(fields)
        where = f"{path.name} frame {number}"
        problems += compare_fields(pkt, fields, values, norm_tshark=norm_tshark, norm_ours=norm_ours,
                                   explain=explain, stats=STATS, known=KNOWN, where=where)
        outer = [layer for layer in pkt.layers if not layer.quoted]
        last = outer[-1] if outer else None
        if last is not None and last.name in ("icmp", "icmpv6") and last.status == OK and column == last.proto.column:
            problems += compare_info(norm_info(info), last, explain_info=lambda _, layer: explain_info(info, layer),
                                     stats=STATS, known=KNOWN, where=where)
    return problems


@needs_tshark
@pytest.mark.parametrize("rel", FILES, ids=lambda r: r.rsplit("/", 1)[-1])
def test_tshark_agreement_on_captures(rel):
    path = capture(rel)
    problems = compare(path, list(open_capture(path)))
    assert not problems, "\n".join(problems[:40])


SYNTHETIC = [
    ETH / V4 / ICMP(type=12, code=0, ptr=10) / IP(src="192.0.2.2", dst="192.0.2.1", ttl=1) / UDP(sport=1000, dport=53)
    / (b"x" * 20),
    ETH / V4 / ICMP(type=3, code=4, nexthopmtu=1400) / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(sport=1000, dport=80),
    ETH / V4 / ICMP(type=3, code=13) / IP(src="192.0.2.2", dst="192.0.2.1", len=1000) / UDP(sport=1000, dport=53),
    ETH / V4 / ICMP(type=5, code=1, gw="192.0.2.9") / IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(id=5, seq=7),
    ETH / V4 / ICMP(type=11, code=1) / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=1000, dport=53),
    ETH / V4 / ICMP(type=13, id=1, seq=2, ts_ori=100, ts_rx=200, ts_tx=300),
    ETH / V4 / ICMP(type=18, id=1, seq=2, addr_mask="255.255.255.0"),
    ETH / V4 / ICMP(type=15, id=3, seq=4),
    ETH / V4 / ICMP(type=8, id=0x1234, seq=9, chksum=0x1111) / b"bad checksum",
    ETH / IPv6(src=A, dst=B, tc=0x2D, fl=0xABCDE) / ICMPv6EchoRequest(id=0x1234, seq=5, data=b"abc"),
    ETH / IPv6(src=B, dst=A) / ICMPv6EchoReply(id=0x1234, seq=5, data=b"abc", cksum=0x1111),
    ETH / IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fe80::2")
    / ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55"),
    ETH / IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fe80::2"),
    ETH / IPv6(src="fe80::2", dst="fe80::1", hlim=255) / ICMPv6ND_NA(tgt="fe80::2", R=0, S=0, O=1)
    / ICMPv6NDOptDstLLAddr(lladdr="66:77:88:99:aa:bb"),
    ETH / IPv6(src="fe80::2", dst="fe80::1", hlim=255) / ICMPv6ND_NA(tgt="fe80::2", R=1, S=1, O=1),
    ETH / IPv6(src="fe80::1", dst="ff02::2", hlim=255) / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55"),
    ETH / IPv6(src="fe80::1", dst="ff02::2", hlim=255) / ICMPv6ND_RS() / Raw(bytes([1, 2]) + bytes(range(14))),
    ETH / IPv6(src="fe80::1", dst="ff02::1", hlim=255)
    / ICMPv6ND_RA(chlim=64, M=1, O=1, H=1, prf=3, routerlifetime=1800, reachabletime=30000, retranstimer=1000)
    / ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::", prefixlen=64) / ICMPv6NDOptMTU(mtu=1480)
    / ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55") / ICMPv6NDOptRDNSS(dns=["2001:db8::53"])
    / ICMPv6NDOptUnknown(type=200, len=1, data=b"\1\2\3\4\5\6"),
    ETH / IPv6(src="fe80::1", dst="fe80::2", hlim=255) / ICMPv6ND_Redirect(tgt="fe80::9", dst="2001:db8::7")
    / ICMPv6NDOptDstLLAddr(lladdr="00:11:22:33:44:99"),
    ETH / IPv6(src=B, dst=A) / ICMPv6DestUnreach(code=4) / IPv6(src=A, dst=B) / UDP(sport=1000, dport=53) / (b"x" * 20),
    ETH / IPv6(src=B, dst=A) / ICMPv6PacketTooBig(mtu=1280) / IPv6(src=A, dst=B, plen=1320) / TCP(sport=1, dport=80),
    ETH / IPv6(src=B, dst=A) / ICMPv6TimeExceeded(code=1) / IPv6(src=A, dst=B, hlim=1) / ICMPv6EchoRequest(),
    ETH / IPv6(src=B, dst=A) / ICMPv6ParamProblem(code=1, ptr=40) / IPv6(src=A, dst=B)
    / IPv6ExtHdrDestOpt(nh=250) / Raw(b"z" * 8),
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
    / IPv6ExtHdrRouting(addresses=["2001:db8::5"], segleft=1)
    / IPv6ExtHdrDestOpt(options=[Jumbo(jumboplen=70000)]) / UDP(sport=5, dport=6) / b"hello",
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrHopByHop(options=[Pad1(), Pad1(), RouterAlert(value=2),
                                                           PadN(optdata=b"\0" * 4), Pad1(), Pad1()]) / UDP(),
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrDestOpt(options=[HAO(hoa="2001:db8::99")]) / IPv6ExtHdrDestOpt(),
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrFragment(offset=0, m=1, id=0xABCDEF) / TCP(sport=1, dport=2) / (b"q" * 40),
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrFragment(offset=100, m=0, id=0xABCDEF, nh=6) / (b"q" * 40),
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrRouting(type=2, addresses=["2001:db8::8"], segleft=1) / ICMPv6EchoRequest(),
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrSegmentRouting(addresses=["2001:db8::8", "2001:db8::9"], segleft=1) / UDP(),
    ETH / IPv6(src=A, dst=B, nh=43) / Raw(bytes([59, 1, 253, 0]) + bytes(range(12))),
    ETH / IPv6(src=A, dst=B) / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)]) / ICMPv6MLReport2(records=[
        MLDv2Addr(rtype=4, dst="ff02::db8:1122:3344"),
        MLDv2Addr(rtype=1, dst="ff02::fb", sources=["2001:db8::7"], auxdata_len=1, auxdata=b"\1\2\3\4")]),
    ETH / IPv6(src=A, dst=B) / ICMPv6MLQuery(mladdr="ff02::1"),
    ETH / IPv6(src=A, dst=B) / ICMPv6MLQuery2(mladdr="ff02::1", S=1, QRV=2, sources=["2001:db8::3"]),
    ETH / IPv6(src=A, dst=B) / ICMPv6MLReport(mladdr="ff02::5"),
    ETH / IPv6(src=A, dst=B) / ICMPv6MLDone(mladdr="ff02::5"),
]


@needs_tshark
def test_tshark_agreement_on_scapy_frames(tmp_path):
    frames = [Frame(bytes(p), 1, i * 1000, len(bytes(p))) for i, p in enumerate(SYNTHETIC)]
    path = tmp_path / "ip_specs.pcap"
    write_pcap(str(path), frames)
    problems = compare(path, frames)
    assert not problems, "\n".join(problems[:40])


@needs_tshark
def test_zz_report_tshark_figures(capsys):
    """Not a check: prints the comparison totals (run with -s to see them)."""
    with capsys.disabled():
        print(f"\ntshark comparison (ip specs): {STATS['frames']} frames x {len(compared_fields())} fields "
              f"= {STATS['fields']} compared, {STATS['values']} non-empty field values, {STATS['info']} Info texts; "
              f"known differences:")
        for reason, n in KNOWN.most_common():
            print(f"  {n:5d}  {reason}")
