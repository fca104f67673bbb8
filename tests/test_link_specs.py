"""Link-layer specs: llc (with SNAP), stp (with the MST extension), vlan / ieee8021ad, arp,
sll / sll2, null and raw.

* decode tests on frames built with scapy, checking field values and summaries;
* the fast path agrees with construct (``layer.value == layout.parse(header)``) on every
  layer of these protocols in the real captures, with no construct fallback;
* a differential check against tshark: for every frame of the captures INDEX.md lists
  for STP, LLC/SNAP, VLAN/QinQ, ARP, SLL, SLL2 and NULL (and for the scapy frames,
  written to a temporary pcap), every field these specs define that Wireshark also
  has is compared with ``tshark -T fields``; the Info text of the last layer too, when
  it is one of ours and tshark's last protocol is the same.  Each known, documented
  difference is classified by :func:`explain`; anything else fails.
"""
from __future__ import annotations

import collections
import logging
import struct
from pathlib import Path

import pytest

from decoder import fastpath
from decoder.capture import Frame, open_capture, write_pcap
from decoder.packet import OK, Decoder
from tshark_compare import compare_fields, compare_info, needs_tshark, tshark_rows, tshark_types
from decoder.registry import Registry

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)   # "MAC address to reach destination not found"
scapy = pytest.importorskip("scapy.all")
from scapy.all import (ARP, IP, UDP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Dot3, Ether,  # noqa: E402
                       IPv6, LLC, SNAP, STP)

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"
REG = Registry.default()
DEC = Decoder(REG)
MINE = ("llc", "stp", "stp.mst", "vlan", "ieee8021ad", "arp", "sll", "sll2", "null", "raw")


def decode(data, linktype=1):
    data = bytes(data)
    return DEC.decode(Frame(data, linktype, 0, len(data)))


def names(pkt):
    return [layer.name for layer in pkt.layers]


# --- scapy-built frames -------------------------------------------------------------

STP_CONFIG = (Dot3(dst="01:80:c2:00:00:00", src="00:11:22:33:44:55") / LLC(dsap=0x42, ssap=0x42, ctrl=3)
              / STP(rootid=8192 + 10, rootmac="00:11:22:33:44:55", pathcost=19, bridgeid=32768 + 10,
                    bridgemac="00:11:22:33:44:66", portid=0x8002, age=1, maxage=20, hellotime=2, fwddelay=15))


def test_llc_and_stp_configuration_bpdu():
    pkt = decode(STP_CONFIG)
    assert names(pkt) == ["eth", "llc", "stp"]
    llc, stp = pkt["llc"], pkt["stp"]
    assert (llc.get("dsap"), llc.get("dsap.sap"), llc.get("dsap.ig")) == (0x42, 0x21, 0)
    assert (llc.get("ssap"), llc.get("ssap.sap"), llc.get("ssap.cr")) == (0x42, 0x21, 0)
    assert (llc.get("control"), llc.get("control.ftype"), llc.get("control.u_modifier_cmd")) == (3, 3, 0)
    assert llc.hlen == 3
    assert llc.summary() == "U, func=UI; DSAP Spanning Tree BPDU Individual, SSAP Spanning Tree BPDU Command"
    assert (stp.get("protocol"), stp.get("version"), stp.get("type")) == (0, 0, 0)
    assert (stp.get("root.prio"), stp.get("root.ext"), stp.get("root.hw")) == (8192, 10, "00:11:22:33:44:55")
    assert (stp.get("bridge.prio"), stp.get("bridge.ext"), stp.get("bridge.hw")) == (32768, 10, "00:11:22:33:44:66")
    assert (stp.get("root.cost"), stp.get("port")) == (19, 0x8002)
    # times stay raw, in 1/256 s
    assert [stp.get(n) for n in ("msg_age", "max_age", "hello", "forward")] == [256, 20 * 256, 2 * 256, 15 * 256]
    assert stp.get("flags.agreement") is None and stp.get("version_1_length") is None   # RST-only fields
    assert stp.hlen == 35
    assert stp.summary() == "Conf. Root = 8192/10/00:11:22:33:44:55  Cost = 19  Port = 0x8002"
    assert pkt.values("stp.root.hw") == ["00:11:22:33:44:55"]


def test_stp_rst_and_tcn():
    rst = decode(Dot3() / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(version=2, bpdutype=2, bpduflags=0x7D) / b"\x00")
    stp = rst["stp"]
    assert [stp.get(f"flags.{n}") for n in ("tcack", "agreement", "forwarding", "learning", "port_role",
                                              "proposal", "tc")] == [0, 1, 1, 1, 3, 0, 1]
    assert (stp.get("version_1_length"), stp.hlen) == (0, 36)
    assert stp.summary().startswith("RST. TC + Root = ")
    assert "stp.mst" not in rst
    tcn = decode(Dot3() / LLC(dsap=0x42, ssap=0x42, ctrl=3) / b"\x00\x00\x00\x80")
    assert (tcn["stp"].get("type"), tcn["stp"].hlen) == (0x80, 4)
    assert tcn["stp"].summary() == "Topology Change Notification"


def test_mst_extension():
    msti = struct.pack(">BH6sIBBB", 0x7C, 0x8005, bytes.fromhex("000c305dd100"), 200000, 0x80, 0x90, 19)
    mst = (struct.pack(">HB32sH16sIH6sB", 64 + 16, 0, b"region", 7, bytes(range(16)), 200000, 0x8000,
                       bytes.fromhex("001aa197d180"), 20) + msti)
    pkt = decode(Dot3() / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(version=3, bpdutype=2, bpduflags=0x7C) / b"\x00" / mst)
    assert names(pkt) == ["eth", "llc", "stp", "stp.mst"]
    assert pkt["stp"].summary().startswith("MST. Root = ")
    assert pkt.values("mstp.version_3_length") == [80]
    assert pkt.values("mstp.config_name") == [b"region".ljust(32, b"\0")]
    assert pkt.values("mstp.config_revision_level") == [7]
    assert pkt.values("mstp.cist_bridge.prio") == [32768] and pkt.values("mstp.cist_bridge.hw") == ["00:1a:a1:97:d1:80"]
    assert pkt.values("mstp.msti.msti_id") == [5] and pkt.values("mstp.msti.priority") == [8]
    assert pkt.values("mstp.msti.root.hw") == ["00:0c:30:5d:d1:00"]
    assert (pkt.values("mstp.msti.bridge_priority"), pkt.values("mstp.msti.port_priority")) == ([8], [9])
    assert pkt.values("mstp.msti.remaining_hops") == [19]


def test_llc_snap():
    pkt = decode(Dot3() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / IP() / UDP())
    assert names(pkt) == ["eth", "llc", "ip", "udp"]
    llc = pkt["llc"]
    assert (llc.get("oui"), llc.get("type"), llc.get("pid"), llc.hlen) == (0, 0x0800, None, 8)
    cdp = decode(Dot3() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0x00000C, code=0x2000) / b"\x02\xb4")
    assert (cdp["llc"].get("oui"), cdp["llc"].get("cisco_pid"), cdp["llc"].get("type")) == (0x0C, 0x2000, None)
    assert cdp["llc"].summary() == "U, func=UI; SNAP, OUI 0x00000C (Cisco Systems, Inc), PID 0x2000"
    other = decode(Dot3() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0x123456, code=0xBB) / b"xx")
    assert (other["llc"].get("oui"), other["llc"].get("pid")) == (0x123456, 0xBB)
    # PVST+: Cisco OUI, PID 0x010b -> snap.pid key 0x00000c010b -> stp
    pvst = decode(Dot3() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0x0C, code=0x010B) / STP())
    assert names(pvst) == ["eth", "llc", "stp"]


def test_llc_control_formats():
    i_frame = decode(Dot3() / LLC(dsap=0xF0, ssap=0xF0, ctrl=0x0A) / b"\x07payload")  # N(S)=5, N(R)=3, P
    llc = i_frame["llc"]
    assert llc.hlen == 4
    assert [llc.get(n) for n in ("control.ftype", "control.n_s", "control.n_r", "control.p")] == [0, 5, 3, 1]
    assert llc.summary() == "I P, N(R)=3, N(S)=5; DSAP NetBIOS Individual, SSAP NetBIOS Command"
    s_frame = decode(Dot3() / LLC(dsap=0xF0, ssap=0xF1, ctrl=0x09) / b"\x0b")          # REJ, N(R)=5, F
    llc = s_frame["llc"]
    assert [llc.get(n) for n in ("control.ftype", "control.s_ftype", "control.n_r", "control.f")] == [1, 2, 5, 1]
    assert llc.get("control.p") is None and llc.hlen == 4
    xid = decode(Dot3() / LLC(dsap=0xF0, ssap=0xF0, ctrl=0xBF) / b"\x81\x01\x00")
    assert (xid["llc"].get("control.u_modifier_cmd"), xid["llc"].get("control.p"), xid["llc"].hlen) == (0x2B, 1, 3)
    ua = decode(Dot3() / LLC(dsap=0xF0, ssap=0xF1, ctrl=0x73))
    assert (ua["llc"].get("control.u_modifier_resp"), ua["llc"].get("control.f")) == (0x18, 1)
    assert ua["llc"].summary() == "U F, func=UA; DSAP NetBIOS Individual, SSAP NetBIOS Response"
    # only DSAP and SSAP: the control field is missing
    cut = decode(bytes(Dot3(len=2)) + b"\x42\x42")
    assert cut["llc"].status != OK


def test_vlan_and_qinq():
    pkt = decode(Ether() / Dot1Q(prio=5, dei=1, vlan=100) / IP() / UDP())
    assert names(pkt) == ["eth", "vlan", "ip", "udp"]
    vlan = pkt["vlan"]
    assert [vlan.get(n) for n in ("priority", "dei", "id", "etype")] == [5, 1, 100, 0x0800]
    assert vlan.summary() == "PRI: 5, DEI: 1, ID: 100" and vlan.get("len") is None
    qinq = decode(Ether() / Dot1AD(vlan=200, prio=3) / Dot1Q(vlan=2001) / ARP())
    assert names(qinq) == ["eth", "ieee8021ad", "vlan", "arp"]
    assert qinq.values("ieee8021ad.id") == [200] and qinq.values("ieee8021ad.priority") == [3]
    assert qinq.values("vlan.id") == [2001] and qinq.values("vlan.etype") == [0x0806]
    old = decode(Ether(type=0x9100) / Dot1Q(vlan=7) / IP())      # pre-standard Q-in-Q TPID
    assert names(old)[:3] == ["eth", "vlan", "ip"] and old.values("vlan.id") == [7]
    llc = decode(Ether() / Dot1Q(vlan=1, type=50) / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP())
    assert names(llc) == ["eth", "vlan", "llc", "stp"]
    assert llc.values("vlan.len") == [50]


def test_arp_fields_and_summaries():
    req = decode(Ether() / ARP(op=1, hwsrc="00:11:22:33:44:55", psrc="192.0.2.2", pdst="192.0.2.1") / (b"\0" * 18))
    arp = req["arp"]
    assert [arp.get(n) for n in ("hw.type", "proto.type", "hw.size", "proto.size", "opcode")] == [1, 0x0800, 6, 4, 1]
    assert [arp.get(n) for n in ("src.hw_mac", "src.proto_ipv4", "dst.hw_mac", "dst.proto_ipv4")] == \
        ["00:11:22:33:44:55", "192.0.2.2", "00:00:00:00:00:00", "192.0.2.1"]
    assert arp.summary() == "Who has 192.0.2.1? Tell 192.0.2.2"
    assert (arp.hlen, arp.end - arp.off, req.trailer) == (28, 28, b"\0" * 18)   # padding is trailer
    reply = decode(Ether() / ARP(op=2, hwsrc="00:11:22:33:44:55", psrc="192.0.2.1", pdst="192.0.2.2"))
    assert reply["arp"].summary() == "192.0.2.1 is at 00:11:22:33:44:55"
    grat = decode(Ether() / ARP(op=1, psrc="192.0.2.1", pdst="192.0.2.1", hwdst="ff:ff:ff:ff:ff:ff"))
    assert grat["arp"].summary() == "Gratuitous ARP for 192.0.2.1 (Request)"
    assert grat.values("arp.isgratuitous") == [True] and grat.values("arp.isannouncement") == []
    announce = decode(Ether() / ARP(op=1, psrc="192.0.2.1", pdst="192.0.2.1", hwdst="00:00:00:00:00:00"))
    assert announce["arp"].summary() == "ARP Announcement for 192.0.2.1"
    probe = decode(Ether() / ARP(op=1, psrc="0.0.0.0", pdst="192.0.2.9", hwdst="00:00:00:00:00:00"))
    assert probe["arp"].summary() == "Who has 192.0.2.9? (ARP Probe)" and probe.values("arp.isprobe") == [True]
    rarp = decode(Ether() / ARP(op=3, hwsrc="00:11:22:33:44:55", hwdst="00:11:22:33:44:55"))
    assert rarp["arp"].summary() == "Who is 00:11:22:33:44:55? Tell 00:11:22:33:44:55"
    # other address sizes: raw octets under Wireshark's arp.src.hw / arp.src.proto
    ib = decode(Ether() / ARP(hwtype=32, hwlen=8, hwsrc=b"\x01" * 8, hwdst=b"\x02" * 8, psrc="192.0.2.1", pdst="192.0.2.2"))
    assert ib.values("arp.src.hw") == [b"\x01" * 8] and ib.values("arp.src.hw_mac") == []
    assert ib.values("arp.dst.proto_ipv4") == ["192.0.2.2"] and ib["arp"].hlen == 8 + 2 * 8 + 2 * 4
    v6 = decode(Ether() / ARP(ptype=0x86DD, plen=16, psrc="2001:db8::1", pdst="2001:db8::2"))
    assert v6.values("arp.src.proto") == [bytes.fromhex("20010db8000000000000000000000001")]
    empty = decode(Ether() / ARP(hwlen=0, plen=0))
    assert empty["arp"].hlen == 8 and empty.values("arp.src.hw") == [] and empty["arp"].status == OK
    assert empty["arp"].summary() == "Who has <No address>? Tell <No address>"


def test_linux_cooked_v1():
    mac = CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x00\x11\x22\x33\x44\x55\x00\x00", proto=0x0800)
    pkt = decode(mac / IP() / UDP(), 113)
    assert names(pkt) == ["sll", "ip", "udp"]
    sll = pkt["sll"]
    assert [sll.get(n) for n in ("pkttype", "hatype", "halen", "src.eth", "unused", "etype")] == \
        [0, 1, 6, "00:11:22:33:44:55", b"\0\0", 0x0800]
    assert sll.get("ltype") is None and sll.summary() == "Unicast to us"
    tunnel = decode(CookedLinux(lladdrtype=778, lladdrlen=4, src=b"\xc0\x00\x02\x01" + b"\0" * 4, proto=0x0800) / IP(), 113)
    assert tunnel.values("sll.src.ipv4") == ["192.0.2.1"] and tunnel.values("sll.unused") == [b"\0" * 4]
    none = decode(CookedLinux(lladdrtype=772, lladdrlen=0, src=b"\0" * 8, proto=0x86DD) / IPv6(), 113)
    assert none.values("sll.unused") == [b"\0" * 8] and none.values("sll.src.other") == []
    long_ = decode(CookedLinux(lladdrtype=32, lladdrlen=20, src=bytes(range(8)), proto=0x0004)
                   / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(), 113)
    assert long_.values("sll.src.other") == [bytes(range(8))] and long_.values("sll.unused") == []
    assert long_.values("sll.ltype") == [4] and names(long_) == ["sll", "llc", "stp"]


def test_linux_cooked_v2():
    pkt = decode(CookedLinuxV2(proto=0x0806, ifindex=7, lladdrtype=1, pkttype=1, lladdrlen=6,
                               src=b"\x00\x11\x22\x33\x44\x55\x00\x00") / ARP(), 276)
    assert names(pkt) == ["sll2", "arp"]
    # the v2 layout is its own protocol in Wireshark's sll namespace
    assert [pkt.values(f"sll.{n}") for n in ("etype", "ifindex", "hatype", "pkttype", "halen", "src.eth")] == \
        [[0x0806], [7], [1], [1], [6], ["00:11:22:33:44:55"]]
    assert pkt["sll2"].hlen == 20 and pkt["sll2"].summary() == "Broadcast"


@pytest.fixture(scope="module")
def probe_registry(tmp_path_factory):
    """The default registry plus a probe protocol bound to null.family 2, so the NULL
    dispatch is tested whichever spec binds the family in the tree."""
    d = tmp_path_factory.mktemp("probe_specs")
    (d / "probe.py").write_text(
        "from construct import Struct, GreedyBytes\n"
        "from decoder.protocol import Bind, Protocol\n"
        "PROTOCOL = Protocol(name='probe', title='probe', ref='test',\n"
        "    layout=Struct('rest' / GreedyBytes), binds=[Bind('null.family', 2)])\n")
    return Registry.default(extra_dirs=[d])


@pytest.mark.parametrize("header,linktype", [(b"\x02\x00\x00\x00", 0), (b"\x00\x00\x00\x02", 0),
                                             (b"\x00\x00\x00\x02", 108)])
def test_null_family_ipv4_either_byte_order(probe_registry, header, linktype):
    data = header + bytes(IP() / UDP())
    pkt = Decoder(probe_registry).decode(Frame(data, linktype, 0, len(data)))
    assert names(pkt) == ["null", "probe"]
    assert pkt["null"].get("family") == 2 and pkt["null"].get("type") is None
    assert pkt["null"].summary() == "Null/Loopback, family INET"


def test_null_family_ipv6_and_ethertype():
    for header in (b"\x18\x00\x00\x00", b"\x1c\x00\x00\x00", b"\x00\x00\x00\x1e"):
        pkt = decode(header + bytes(IPv6()), 0)
        assert pkt["null"].get("family") == header[0] + header[3]
        if "ipv6" in REG.protocols:
            assert names(pkt) == ["null", "ipv6"]
    linux = decode(b"\x00\x00\x08\x00" + bytes(IP()), 0)          # old Linux: an EtherType
    assert (linux["null"].get("family"), linux["null"].get("type")) == (None, 0x0800)
    assert names(linux) == ["null", "ip"]


def test_raw_ip():
    v4 = bytes(IP() / UDP())
    pkt = decode(v4, 101)
    assert names(pkt) == ["raw", "ip", "udp"]
    raw = pkt["raw"]
    assert (raw.hlen, raw.get("version"), pkt["ip"].off) == (0, 4, 0)
    assert raw.value == raw.proto.layout.parse(v4)          # the header is empty: it reads ahead
    for linktype in (12, 14):
        assert names(decode(v4, linktype))[:2] == ["raw", "ip"]
    if "ipv6" in REG.protocols:
        assert names(decode(bytes(IPv6()), 101))[:2] == ["raw", "ipv6"]
    odd = decode(b"\x50\x00", 101)
    assert names(odd) == ["raw"] and odd["raw"].get("version") == 5
    assert names(decode(b"", 101)) == ["raw"]


# --- real captures --------------------------------------------------------------------

STP_FILES = [
    "the-tcpdump-group+tcpdump/tests/802.1D_spanning_tree.pcap",
    "the-tcpdump-group+tcpdump/tests/rpvstp-trunk-native-vid5.pcap",
    "the-tcpdump-group+tcpdump/tests/stp-v4-length-sigsegv.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/EthDot3.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/EthDot3_2.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/Stp.pcap",
]
LLC_FILES = [
    "the-tcpdump-group+tcpdump/tests/3560_CDP.pcap",
    "the-tcpdump-group+tcpdump/tests/LLDP_and_CDP.pcap",
    "zeek+zeek/testing/btest/Traces/snap-tcp.pcap",
    "zeek+zeek/testing/btest/Traces/snap-arp.pcapng",
    "zeek+zeek/testing/btest/Traces/cdp-v1.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/llc_vlan.pcap",
]
VLAN_FILES = [
    "zeek+zeek/testing/btest/Traces/icmp_dot1q.pcap",
    "zeek+zeek/testing/btest/Traces/vlan-pcp-dei.pcapng",
    "dotpcap+packetnet/Test/CaptureFiles/802.1q_vlan_ipv4_tcp.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/VlanPackets.pcap",
    "the-tcpdump-group+tcpdump/tests/802.1ad_QinQ.pcap",
    "zeek+zeek/testing/btest/Traces/q-in-q.pcap",
    "zeek+zeek/testing/btest/Traces/pppoe-over-qinq.pcap",
    "the-tcpdump-group+tcpdump/tests/ipv4_tcp_http_xml.pcap",
]
ARP_FILES = [
    "chrissanders+packets/arp_resolution.pcapng",
    "chrissanders+packets/arp_gratuitous.pcapng",
    "dotpcap+packetnet/Test/CaptureFiles/arp_request_response.pcap",
    "zeek+zeek/testing/btest/Traces/arp-who-has.pcap",
    "the-tcpdump-group+tcpdump/tests/arp-too-long-tha.pcap",
    "ntop+nDPI/tests/cfgs/default/pcap/fuzz-2006-06-26-2594.pcap",
]
SLL_FILES = [
    "zeek+zeek/testing/btest/Traces/linuxsll-arp.pcap",
    "dotpcap+packetnet/Test/CaptureFiles/LinuxCookedCapture.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/SllPacket.pcap",
    "the-tcpdump-group+tcpdump/tests/RADIUS-RFC4675.pcap",
    "the-tcpdump-group+tcpdump/tests/tcp-handshake-nano.pcap",
    "the-tcpdump-group+tcpdump/tests/radius_rfc5447_invalid_length.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/pcapng-example.pcapng",
    "zeek+zeek/testing/btest/Traces/linux_dlt_sll2.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/Sll2Packet.pcap",
]
NULL_FILES = [
    "zeek+zeek/testing/btest/Traces/radius/radius_localhost.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/radius_3.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/many_interfaces-1.pcapng",
    "hadrielk+pcapng-test-generator/output_le/basic/test006.pcapng",
    "hadrielk+pcapng-test-generator/output_le/advanced/test102.pcapng",
    "hadrielk+pcapng-test-generator/output_le/difficult/test202.pcapng",
]
FILES = STP_FILES + LLC_FILES + VLAN_FILES + ARP_FILES + SLL_FILES + NULL_FILES


def capture(rel):
    path = CAPTURES / rel
    if not path.exists():
        pytest.skip(f"capture {rel} not available")
    return path


@pytest.mark.parametrize("rel", FILES, ids=lambda r: r.rsplit("/", 1)[-1])
def test_fast_path_equals_construct_on_captures(rel):
    seen = 0
    for i, frame in enumerate(open_capture(capture(rel)), 1):
        pkt = DEC.decode(frame, i)
        for layer in pkt.layers:
            if layer.name not in MINE or layer.status != OK:
                continue
            expected = layer.proto.layout.parse(layer.header if layer.hlen else bytes(layer.buf[layer.off:layer.end]))
            assert layer.value == expected, f"frame {i} {layer.name}"
            layer.spans                                      # the detail tree parses too
            seen += 1
    assert not fastpath.FALLBACKS, dict(fastpath.FALLBACKS)
    if rel not in NULL_FILES and rel not in ("the-tcpdump-group+tcpdump/tests/RADIUS-RFC4675.pcap",):
        assert seen, "no layer of these specs was decoded"


# --- differential check against tshark -----------------------------------------------

def compared_fields() -> list[str]:
    """Every field of these specs, by full filter name, that Wireshark has too."""
    ws = tshark_types()
    ours = set()
    for proto in (REG.protocols[p] for p in MINE):
        ours.update(f"{proto.namespace}.{rel}" for rel in proto.field_names)
        ours.update(proto.aliases.values())             # Wireshark names outside the namespace
    return sorted(ours & ws.keys())


TIMES = {"stp.msg_age", "stp.max_age", "stp.hello", "stp.forward"}


def norm_ours(name, value) -> str:
    if name in TIMES:                   # raw 1/256 s here, seconds in Wireshark
        return repr(value / 256)
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("latin-1") if name == "mstp.config_name" else value.hex()
    if isinstance(value, int):          # bool, IntEnum
        return str(int(value))
    return str(value)


def norm_tshark(name, text) -> str:
    kind = tshark_types()[name]
    if kind == "FT_DOUBLE":
        return repr(float(text))
    if kind == "FT_BOOLEAN":
        return "1" if text in ("1", "True") else "0"
    if kind.startswith(("FT_UINT", "FT_INT")):
        return str(int(text, 0))
    if kind == "FT_BYTES":
        return text.replace(":", "").lower()
    return text


def _eth_length_overrun(pkt, layer_name) -> bool:
    """The layer lies past the payload an 802.3 length field allows (eth does not bound it)."""
    eth, layer = pkt["eth"], pkt[layer_name]
    if eth is None or layer is None:
        return False
    length = eth.get("type")
    return length < 0x0600 and layer.off + layer.hlen > eth.off + eth.hlen + length


def explain(name, theirs, ours, pkt) -> str | None:
    """Why a field's values differ from tshark's, for the documented differences; None if unexplained."""
    eth = pkt["eth"]
    if eth is not None and eth.get("type") == 0 and not theirs:
        return "eth.py: Wireshark takes type 0 for an unknown EtherType, eth dispatches it as an 802.3 length"
    if name in ("llc.control.p", "llc.control.f") and not theirs and ours == ["0"]:
        return "llc: Wireshark shows the P/F bit only when it is set"
    if name == "llc.control" and pkt["llc"].get("control.ftype") in (0, 1) and \
            ours == [str(int(theirs[0]) & 0xFF)]:
        return "llc: I/S control is the first octet here, both octets little-endian in Wireshark"
    if name == "vlan.etype" and not theirs and all(int(v) < 0x0600 for v in ours):
        return "vlan: a length is vlan.len in Wireshark (also the virtual vlan.len here)"
    if name == "sll.etype" and not theirs and (int(ours[0]) <= 1536 or pkt.values("sll.hatype") == [778]):
        return "sll: Wireshark names a Linux protocol sll.ltype and a GRE device's type sll.gretype"
    if name.startswith("arp.") and not theirs and pkt["arp"].status != OK:
        return "arp: a cut/malformed layer keeps the fields before the error, Wireshark checks ARP's length first"
    if name.startswith("mstp.") and not theirs and _eth_length_overrun(pkt, "stp.mst"):
        return "eth.py: the 802.3 length does not bound the payload, so MST is read from the padding"
    return None


def explain_info(info, layer) -> str | None:
    if layer.name == "arp" and info.startswith(layer.summary() + " (duplicate use of "):
        return "arp: Wireshark's duplicate-address note needs state across frames"
    return None


STATS = collections.Counter()
KNOWN = collections.Counter()


def compare(path, frames):
    """Compare ``frames`` (a list of Frame) with tshark's reading of ``path``; return the
    unexplained differences."""
    fields = compared_fields()
    rows = tshark_rows(path, fields, "frame.protocols")
    assert len(rows) == len(frames), "tshark and the capture reader see different packet counts"
    problems = []
    for number, (frame, row) in enumerate(zip(frames, rows), 1):
        pkt = DEC.decode(frame, number)
        protocols, info, values = row[1], row[2], row[3:]
        STATS["frames"] += 1
        where = f"{path.name} frame {number}"
        problems += compare_fields(pkt, fields, values, norm_tshark=norm_tshark, norm_ours=norm_ours,
                                   explain=explain, stats=STATS, known=KNOWN, where=where, drop_empty=True)
        last = pkt.layers[-1] if pkt.layers else None
        if last is not None and last.name in ("llc", "stp", "arp") and protocols.rsplit(":", 1)[-1] == last.name \
                and last.status == OK:
            problems += compare_info(info, last, explain_info=explain_info, stats=STATS, known=KNOWN, where=where)
    return problems


@needs_tshark
@pytest.mark.parametrize("rel", FILES, ids=lambda r: r.rsplit("/", 1)[-1])
def test_tshark_agreement_on_captures(rel):
    path = capture(rel)
    problems = compare(path, list(open_capture(path)))
    assert not problems, "\n".join(problems[:40])


SYNTHETIC = {
    1: [STP_CONFIG,
        Ether(src="00:11:22:33:44:55") / Dot1Q(prio=5, dei=1, vlan=100) / IP() / UDP(),
        Ether() / Dot1AD(vlan=200, prio=3) / Dot1Q(vlan=2001) / ARP(psrc="192.0.2.2", pdst="192.0.2.1"),
        Ether() / Dot1Q(vlan=1, type=50) / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(),
        Dot3() / LLC(dsap=0x42, ssap=0x42, ctrl=3) / b"\x00\x00\x00\x80",
        Dot3() / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(version=2, bpdutype=2, bpduflags=0x7D) / b"\x00",
        Dot3() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / IP() / UDP(),
        Dot3() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0x123456, code=0xBB) / b"xx",
        Dot3() / LLC(dsap=0x12, ssap=0x12, ctrl=0x0A) / b"\x07",     # I frame, no payload (NetBIOS would parse it)
        Dot3() / LLC(dsap=0xF0, ssap=0xF1, ctrl=0x01) / b"\x0b",
        Dot3() / LLC(dsap=0xF0, ssap=0xF1, ctrl=0x09) / b"\x0a",
        Dot3() / LLC(dsap=0xF0, ssap=0xF1, ctrl=0x73),
        Dot3() / LLC(dsap=0x43, ssap=0x42, ctrl=0xE3) / b"test",
        Ether() / ARP(op=2, hwsrc="00:11:22:33:44:55", psrc="192.0.2.1", hwdst="00:11:22:33:44:66", pdst="192.0.2.2"),
        Ether() / ARP(op=1, psrc="192.0.2.1", pdst="192.0.2.1", hwdst="00:00:00:00:00:00"),
        Ether() / ARP(op=1, psrc="192.0.2.1", pdst="192.0.2.1", hwdst="ff:ff:ff:ff:ff:ff"),
        Ether() / ARP(op=1, psrc="0.0.0.0", pdst="192.0.2.9", hwdst="00:00:00:00:00:00"),
        Ether() / ARP(op=2, psrc="192.0.2.1", pdst="192.0.2.1", hwdst="ff:ff:ff:ff:ff:ff"),
        Ether() / ARP(op=3, hwsrc="00:11:22:33:44:55", hwdst="00:11:22:33:44:55"),
        Ether() / ARP(op=4, hwsrc="00:11:22:33:44:55", hwdst="00:11:22:33:44:66", pdst="192.0.2.7"),
        Ether() / ARP(op=8, hwsrc="00:11:22:33:44:55", hwdst="00:11:22:33:44:66", psrc="192.0.2.7"),
        Ether() / ARP(op=9, hwsrc="00:11:22:33:44:55", hwdst="00:11:22:33:44:66", psrc="192.0.2.7"),
        Ether() / ARP(op=77, hwtype=6),
        Ether() / ARP(hwtype=32, hwlen=8, hwsrc=b"\x01" * 8, hwdst=b"\x02" * 8, psrc="192.0.2.1", pdst="192.0.2.2"),
        Ether() / ARP(ptype=0x86DD, plen=16, psrc="2001:db8::1", pdst="2001:db8::2"),
        Ether() / ARP(hwlen=0, plen=0)],
    113: [CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x00\x11\x22\x33\x44\x55\0\0", proto=0x0800) / IP(),
          CookedLinux(pkttype=4, lladdrtype=778, lladdrlen=4, src=b"\xc0\x00\x02\x01" + b"\0" * 4, proto=0x0800) / IP(),
          CookedLinux(pkttype=1, lladdrtype=772, lladdrlen=0, src=b"\0" * 8, proto=0x86DD) / IPv6(),
          CookedLinux(pkttype=3, lladdrtype=32, lladdrlen=20, src=bytes(range(8)), proto=0x0004)
          / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(),
          CookedLinux(pkttype=2, lladdrtype=24, lladdrlen=3, src=b"\x01\x02\x03" + b"\0" * 5, proto=0x0001) / b"\xff\xff"],
    276: [CookedLinuxV2(proto=0x0806, ifindex=7, lladdrtype=1, pkttype=1, lladdrlen=6,
                        src=b"\x00\x11\x22\x33\x44\x55\0\0") / ARP(),
          CookedLinuxV2(proto=0x0004, ifindex=3, lladdrtype=1, pkttype=0, lladdrlen=6,
                        src=b"\x00\x11\x22\x33\x44\x55\0\0") / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP()],
    0: [b"\x02\x00\x00\x00" + bytes(IP() / UDP()), b"\x00\x00\x00\x02" + bytes(IP()),
        b"\x1e\x00\x00\x00" + bytes(IPv6()), b"\x00\x00\x00\x18" + bytes(IPv6()), b"\x07\x00\x00\x00abc"],
    108: [b"\x00\x00\x00\x02" + bytes(IP()), b"\x00\x00\x00\x18" + bytes(IPv6())],
    101: [bytes(IP() / UDP()), bytes(IPv6() / UDP()), b"\x50\x00"],
}


@needs_tshark
@pytest.mark.parametrize("linktype", sorted(SYNTHETIC))
def test_tshark_agreement_on_scapy_frames(tmp_path, linktype):
    frames = [Frame(bytes(p), linktype, i * 1000, len(bytes(p))) for i, p in enumerate(SYNTHETIC[linktype])]
    path = tmp_path / f"linktype{linktype}.pcap"
    write_pcap(str(path), frames)
    problems = compare(path, frames)
    assert not problems, "\n".join(problems[:40])


@needs_tshark
def test_zz_report_tshark_figures(capsys):
    """Not a check: prints the comparison totals (run with -s to see them)."""
    with capsys.disabled():
        print(f"\ntshark comparison: {STATS['frames']} frames, {STATS['values']} field values, "
              f"{STATS['info']} Info texts; known differences:")
        for reason, n in KNOWN.most_common():
            print(f"  {n:5d}  {reason}")
