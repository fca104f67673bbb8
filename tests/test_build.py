"""Building frames from the specs (decoder.build) against Scapy as an independent oracle,
and editing decoded packets."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from decoder.build import L, Stack, build_frame, build_layer, edit, edit_frame, make_frame, unflatten
from decoder.capture import CaptureError, Frame, open_capture, write_pcap
from decoder.checksum import BAD, GOOD, NOT_PRESENT
from decoder.packet import OK, Decoder
from decoder.registry import Registry

scapy_all = pytest.importorskip("scapy.all")
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert  # noqa: E402
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr,  # noqa: E402
                                IPv6)
from scapy.layers.l2 import ARP, Dot1Q, Ether  # noqa: E402
from support import corpus_captures  # noqa: E402

REG = Registry.default()
DECODER = Decoder(REG)
SAMPLE = Path(__file__).resolve().parent / "captures" / "sample.pcap"

MAC_A, MAC_B = "00:e0:fc:01:02:03", "02:00:00:00:00:0a"
IP_A, IP_B = "192.0.2.1", "198.51.100.7"
IP6_A, IP6_B = "2001:db8::1", "2001:db8::2"


def needs(*names):
    missing = [n for n in names if n not in REG.protocols]
    if missing:
        pytest.skip(f"no spec for {', '.join(missing)} yet")


def decode(data, linktype=1):
    return DECODER.decode(Frame(data, linktype, 0, len(data)))


def eth():
    return L("eth", dst=MAC_B, src=MAC_A)


def ip(**kw):
    return L("ip", src=IP_A, dst=IP_B, ttl=64, id=1, **kw)


# --- the same packet from both builders ---------------------------------------------------

def _tcp_syn():
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IP(src=IP_A, dst=IP_B, ttl=64, id=1, flags="DF", tos=0x10)
             / TCP(sport=40000, dport=80, seq=1000, ack=0, flags="S", window=64240,
                   options=[("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""), ("Timestamp", (1, 0))]))
    ours = dict(layers=[eth(), ip(**{"flags.df": 1, "dsfield": 0x10}),
                        L("tcp", srcport=40000, dstport=80, seq_raw=1000, window_size_value=64240,
                          **{"flags.syn": 1},
                          options=[{"option_kind": 2, "options.mss_val": 1460}, {"option_kind": 1},
                                   {"option_kind": 3, "options.wscale.shift": 7}, {"option_kind": 4},
                                   {"option_kind": 8, "options.timestamp.tsval": 1, "options.timestamp.tsecr": 0}])])
    return scapy, ours


def _tcp_ws_padded():
    # 3 octets of options: both pad with an end-of-list octet to the 4-octet header unit
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IP(src=IP_A, dst=IP_B, ttl=64, id=1)
             / TCP(sport=1, dport=2, seq=7, ack=9, flags="SA", window=1000, options=[("WScale", 2)]) / b"data")
    ours = dict(layers=[eth(), ip(), L("tcp", srcport=1, dstport=2, seq_raw=7, ack_raw=9, window_size_value=1000,
                                       flags=0x12, options=[{"option_kind": 3, "options.wscale.shift": 2}])],
                payload=b"data")
    return scapy, ours


def _tcp_sack():
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IP(src=IP_A, dst=IP_B, ttl=64, id=1)
             / TCP(sport=80, dport=40000, seq=5, ack=6, flags="A", window=512,
                   options=[("NOP", None), ("NOP", None), ("SAck", (100, 200, 300, 400))]))
    ours = dict(layers=[eth(), ip(), L("tcp", srcport=80, dstport=40000, seq_raw=5, ack_raw=6, window_size_value=512,
                                       **{"flags.ack": 1},
                                       options=[{"option_kind": 1}, {"option_kind": 1},
                                                {"option_kind": 5, "options.sack_le": [100, 300],
                                                 "options.sack_re": [200, 400]}])])
    return scapy, ours


def _udp_ip_options():
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IP(src=IP_A, dst=IP_B, ttl=1, id=0x4242, options=[IPOption_Router_Alert()])
             / UDP(sport=5353, dport=5353) / b"hello, world")
    ours = dict(layers=[eth(), L("ip", src=IP_A, dst=IP_B, ttl=1, id=0x4242,
                                 options=[{"opt.type": 148, "opt.ra": 0}]),
                        L("udp", srcport=5353, dstport=5353)],
                payload=b"hello, world")
    return scapy, ours


def _icmp_echo():
    needs("icmp")
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IP(src=IP_A, dst=IP_B, ttl=64, id=1)
             / ICMP(type=8, code=0, id=0x1234, seq=3) / (b"\xab" * 31))
    ours = dict(layers=[eth(), ip(), L("icmp", type=8, ident=0x1234, seq=3)], payload=b"\xab" * 31)
    return scapy, ours


def _ipv6_udp():
    needs("ipv6")
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IPv6(src=IP6_A, dst=IP6_B, hlim=64, fl=0x12345, tc=0xb8)
             / UDP(sport=546, dport=547) / b"\x01\x02\x03")
    ours = dict(layers=[eth(), L("ipv6", src=IP6_A, dst=IP6_B, hlim=64, flow=0x12345, tclass=0xb8),
                        L("udp", srcport=546, dstport=547)], payload=b"\x01\x02\x03")
    return scapy, ours


def _ipv6_tcp():
    needs("ipv6")
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IPv6(src=IP6_A, dst=IP6_B, hlim=255)
             / TCP(sport=443, dport=50000, seq=1, ack=2, flags="PA", window=100, options=[]) / (b"x" * 5))
    ours = dict(layers=[eth(), L("ipv6", src=IP6_A, dst=IP6_B, hlim=255),
                        L("tcp", srcport=443, dstport=50000, seq_raw=1, ack_raw=2, window_size_value=100,
                          **{"flags.push": 1, "flags.ack": 1})], payload=b"xxxxx")
    return scapy, ours


def _ipv6_extension_headers():
    needs("ipv6", "ipv6.hopopts", "ipv6.fraghdr")
    from scapy.layers.inet6 import IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, PadN, RouterAlert
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IPv6(src=IP6_A, dst=IP6_B, hlim=1)
             / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
             / IPv6ExtHdrFragment(offset=0, m=0, id=0xCAFE) / UDP(sport=9, dport=9) / b"frag")
    ours = dict(layers=[eth(), L("ipv6", src=IP6_A, dst=IP6_B, hlim=1),
                        L("ipv6.hopopts", options=[{"opt.type": 5, "opt.router_alert": 0},
                                                   {"opt.type": 1, "opt.padn": b""}]),
                        L("ipv6.fraghdr", ident=0xCAFE), L("udp", srcport=9, dstport=9)], payload=b"frag")
    return scapy, ours


def _icmpv6_echo():
    needs("ipv6", "icmpv6")
    scapy = (Ether(dst=MAC_B, src=MAC_A) / IPv6(src=IP6_A, dst=IP6_B, hlim=64)
             / ICMPv6EchoRequest(id=7, seq=8, data=b"ping"))
    ours = dict(layers=[eth(), L("ipv6", src=IP6_A, dst=IP6_B, hlim=64),
                        L("icmpv6", type=128, **{"echo.identifier": 7, "echo.sequence_number": 8})],
                payload=b"ping")
    return scapy, ours


def _icmpv6_ns():
    needs("ipv6", "icmpv6")
    scapy = (Ether(dst="33:33:ff:00:00:02", src=MAC_A) / IPv6(src=IP6_A, dst="ff02::1:ff00:2", hlim=255)
             / ICMPv6ND_NS(tgt=IP6_B) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_A))
    ours = dict(layers=[L("eth", dst="33:33:ff:00:00:02", src=MAC_A),
                        L("ipv6", src=IP6_A, dst="ff02::1:ff00:2", hlim=255),
                        L("icmpv6", type=135, **{"nd.ns.target_address": IP6_B},
                          options=[{"opt.type": 1, "opt.length": 1, "opt.linkaddr": MAC_A}])])
    return scapy, ours


def _arp():
    needs("arp")
    scapy = Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC_A) / ARP(op=1, hwsrc=MAC_A, psrc=IP_A, hwdst="00:00:00:00:00:00",
                                                            pdst=IP_B)
    ours = dict(layers=[L("eth", dst="ff:ff:ff:ff:ff:ff", src=MAC_A),
                        L("arp", opcode=1, **{"hw.type": 1, "proto.type": 0x0800, "hw.size": 6, "proto.size": 4,
                                              "src.hw_mac": MAC_A, "src.proto_ipv4": IP_A,
                                              "dst.hw_mac": "00:00:00:00:00:00", "dst.proto_ipv4": IP_B})])
    return scapy, ours


def _vlan():
    needs("vlan")
    scapy = (Ether(dst=MAC_B, src=MAC_A) / Dot1Q(prio=5, dei=1, vlan=100) / IP(src=IP_A, dst=IP_B, ttl=64, id=1)
             / UDP(sport=1234, dport=53) / b"q")
    ours = dict(layers=[eth(), L("vlan", priority=5, dei=1, id=100), ip(), L("udp", srcport=1234, dstport=53)],
                payload=b"q")
    return scapy, ours


CASES = {f.__name__.lstrip("_"): f for f in (
    _tcp_syn, _tcp_ws_padded, _tcp_sack, _udp_ip_options, _icmp_echo, _ipv6_udp, _ipv6_tcp,
    _ipv6_extension_headers, _icmpv6_echo, _icmpv6_ns, _arp, _vlan)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_octets_as_scapy(case):
    scapy, ours = CASES[case]()
    built = build_frame(*ours["layers"], payload=ours.get("payload", b""))
    assert built.hex() == bytes(scapy).hex()


@pytest.mark.parametrize("case", sorted(CASES))
def test_built_frames_decode_with_good_checksums(case):
    _, ours = CASES[case]()
    frame = make_frame(*ours["layers"], payload=ours.get("payload", b""))
    assert frame.linktype == 1 and frame.orig_len == len(frame.data)
    pkt = DECODER.decode(frame)
    built = pkt.layers[:len(ours["layers"])]        # a spec bound to a port may decode the payload
    assert [lay.name for lay in built] == [lay.name for lay in ours["layers"]]
    assert all(lay.status == OK for lay in built)
    assert built[-1].payload == ours.get("payload", b"")
    for layer, spec in zip(built, ours["layers"]):
        for rule in layer.proto.checksums:
            assert layer.flat()[f"{rule.field}.status"] == [GOOD], layer
        for name, value in spec.fields.items():
            if name in layer.proto.field_nodes and not isinstance(value, (list, dict)):
                got = layer.get(name)
                assert got == value or str(got) == str(value), (layer.name, name, got, value)


# --- the building API ---------------------------------------------------------------------

def test_bindings_fill_the_dispatch_fields():
    data = build_frame(L("eth"), L("ip"), L("udp"))
    pkt = decode(data)
    assert [lay.name for lay in pkt.layers] == ["eth", "ip", "udp"]
    assert pkt["eth"].get("type") == 0x0800 and pkt["ip"].get("proto") == 17
    assert pkt["ip"].get("len") == 28 and pkt["udp"].get("length") == 8 and pkt["ip"].get("hdr_len") == 20
    # a value the caller gives wins over the binding
    assert decode(build_frame(L("eth", type=0x88B5), L("ip")))["eth"].get("type") == 0x88B5
    assert decode(build_frame(L("eth"), L("ip", proto=99), L("tcp")))["ip"].get("proto") == 99


def test_stack_operator_and_bytes():
    stack = L("eth", src=MAC_A) / L("ip", dst=IP_B) / L("udp", dstport=53) / b"query"
    assert isinstance(stack, Stack)
    assert bytes(stack) == build_frame(L("eth", src=MAC_A), L("ip", dst=IP_B), L("udp", dstport=53), payload=b"query")
    assert stack.frame().linktype == 1
    assert make_frame(L("ip"), L("udp")).linktype == 228          # ip's Bind("linktype", 228)
    with pytest.raises(ValueError):
        stack / L("tcp")                                          # layers after raw bytes


def test_bit_fields_by_any_name():
    wide = decode(build_frame(eth(), ip(), L("tcp", flags=0x012)))["tcp"]
    narrow = decode(build_frame(eth(), ip(), L("tcp", **{"flags.syn": 1, "flags.ack": 1})))["tcp"]
    assert wide.get("flags") == narrow.get("flags") == 0x12
    assert wide.get("flags.syn") == 1 and wide.get("flags.ack") == 1
    # a narrow field given with the wide one overrides its bits
    both = decode(build_frame(eth(), ip(), L("tcp", flags=0x012, **{"flags.ack": 0})))["tcp"]
    assert both.get("flags") == 0x002
    ipl = decode(build_frame(eth(), L("ip", **{"dsfield.dscp": 46, "dsfield.ecn": 1})))["ip"]
    assert ipl.get("dsfield") == (46 << 2) | 1


def test_option_fields_given_flat_make_their_item():
    tcp = decode(build_frame(eth(), ip(), L("tcp", **{"options.mss_val": 1400})))["tcp"]
    assert tcp.get("options.mss_val") == 1400 and tcp.get("hdr_len") == 24
    assert [int(k) for k in tcp.get_all("option_kind")] == [2]


def test_enum_names_and_unknown_fields():
    assert decode(build_frame(eth(), L("ip", proto="UDP"), L("udp")))["ip"].get("proto") == 17
    with pytest.raises(KeyError, match="no field 'tll'"):
        build_frame(eth(), L("ip", tll=3))
    with pytest.raises(KeyError, match="no protocol"):
        build_frame(L("nosuchproto"))


def test_fields_of_a_branch_the_others_do_not_select():
    needs("icmp")
    icmp = decode(build_frame(eth(), ip(), L("icmp", type=3, code=4, mtu=1400)))["icmp"]
    assert icmp.get("mtu") == 1400 and icmp.checksum_status() == GOOD
    with pytest.raises(KeyError, match="not in the layout the other fields select"):
        build_frame(eth(), ip(), L("icmp", type=8, mtu=1400))


def test_unflatten_shapes():
    tcp = REG.protocols["tcp"]
    obj = unflatten(tcp.layout, {"srcport": 1, "flags.syn": 1, "options": [{"option_kind": 1}]})
    assert obj["hdr"] == {"flags.syn": 1} and obj["options"] == [{"option_kind": 1}]
    assert obj["dstport"] == 0 and "checksum" not in obj          # zero default; Auto left to the build
    assert build_layer(tcp, {"srcport": 1}, payload_len=0)[12] >> 4 == 5


def test_trailer_is_outside_every_length():
    data = build_frame(eth(), ip(), L("udp", srcport=7, dstport=7), payload=b"ab", trailer=bytes(16))
    pkt = decode(data)
    assert pkt["ip"].get("len") == 30 and pkt.trailer == bytes(16) and pkt["udp"].payload == b"ab"
    assert pkt["udp"].checksum_status() == GOOD


def test_checksum_given_by_the_caller_is_kept():
    pkt = decode(build_frame(eth(), ip(checksum=0xBEEF), L("udp", checksum=0)))
    assert pkt["ip"].get("checksum") == 0xBEEF and pkt["ip"].checksum_status() == BAD
    assert pkt["udp"].checksum_status() == NOT_PRESENT


# --- editing decoded packets --------------------------------------------------------------

def _syn_packet():
    return decode(build_frame(*_tcp_syn()[1]["layers"], payload=b"GET / HTTP/1.0\r\n\r\n"))


def test_edit_without_changes_gives_the_frame_back():
    pkt = _syn_packet()
    assert edit(pkt, "ip") == pkt.frame.data
    assert edit(pkt, 0) == pkt.frame.data


def test_edit_ttl_updates_the_ip_checksum():
    pkt = _syn_packet()
    out = decode(edit(pkt, "ip", ttl=3))
    assert out["ip"].get("ttl") == 3
    assert out["ip"].checksum_status() == GOOD and out["tcp"].checksum_status() == GOOD
    assert out["ip"].get("checksum") != pkt["ip"].get("checksum")
    # the same packet built by Scapy with ttl=3
    scapy, _ = _tcp_syn()
    scapy[IP].ttl = 3
    assert edit(pkt, "ip", ttl=3) == bytes(scapy / b"GET / HTTP/1.0\r\n\r\n")


def test_edit_keeps_a_checksum_the_caller_sets():
    pkt = _syn_packet()
    out = decode(edit(pkt, "ip", ttl=3, checksum=0x1234))
    assert out["ip"].get("checksum") == 0x1234 and out["ip"].checksum_status() == BAD
    # a later edit leaves the wrong checksum wrong, unless asked to recompute it
    again = decode(edit(out, "ip", ttl=4))
    assert again["ip"].get("checksum") == 0x1234
    fixed = decode(edit(out, "ip", ttl=4, checksum=None))
    assert fixed["ip"].checksum_status() == GOOD


def test_edit_address_updates_the_transport_checksum():
    pkt = _syn_packet()
    out = decode(edit(pkt, "ip", src="203.0.113.9"))
    assert out["ip"].get("src") == "203.0.113.9"
    assert out["ip"].checksum_status() == GOOD and out["tcp"].checksum_status() == GOOD


def test_edit_options_recomputes_lengths():
    pkt = _syn_packet()
    out = decode(edit(pkt, "tcp", options=[{"option_kind": 2, "options.mss_val": 536}]))
    assert out["tcp"].get("hdr_len") == 24 and out["tcp"].get("options.mss_val") == 536
    assert out["ip"].get("len") == 20 + 24 + len(pkt["tcp"].payload)
    assert out["tcp"].payload == pkt["tcp"].payload == b"GET / HTTP/1.0\r\n\r\n"
    assert out["ip"].checksum_status() == GOOD and out["tcp"].checksum_status() == GOOD
    one = decode(edit(pkt, "tcp", **{"options.mss_val": 1200, "options.timestamp.tsval": 99, "flags.ack": 1}))
    assert one["tcp"].get("options.mss_val") == 1200 and one["tcp"].get("options.timestamp.tsval") == 99
    assert one["tcp"].get("flags") == 0x12 and one["tcp"].checksum_status() == GOOD
    assert len(one.frame.data) == len(pkt.frame.data)


def test_edit_keeps_trailer_and_a_wrong_length_it_did_not_touch():
    data = build_frame(eth(), ip(), L("udp", srcport=9, dstport=9), payload=b"xy", trailer=b"\0" * 18)
    pkt = decode(data)
    out = decode(edit(pkt, "udp", dstport=10))
    assert out.trailer == pkt.trailer and out["udp"].get("dstport") == 10
    assert out["udp"].checksum_status() == GOOD and out["ip"].get("len") == 30
    # an IP length that was already wrong (claims more than the frame has) stays as it was
    wrong = bytearray(data)
    wrong[16:18] = (200).to_bytes(2, "big")
    bad = decode(bytes(wrong))
    assert bad["ip"].get("len") == 200
    assert decode(edit(bad, "ip", ttl=9))["ip"].get("len") == 200


def test_edit_of_a_cut_frame_keeps_its_lengths():
    full = build_frame(*_tcp_syn()[1]["layers"], payload=bytes(100))
    cut = DECODER.decode(Frame(full[:80], 1, 5, len(full)))
    assert cut["tcp"].checksum_status() == "unverified"
    frame = edit_frame(cut, "ip", ttl=1)
    assert frame.orig_len == len(full) and frame.ts_ns == 5 and len(frame.data) == 80
    out = DECODER.decode(frame)
    assert out["ip"].get("len") == cut["ip"].get("len") and out["ip"].checksum_status() == GOOD
    assert out["tcp"].get("checksum") == cut["tcp"].get("checksum")


def test_edit_errors():
    pkt = _syn_packet()
    with pytest.raises(KeyError):
        edit(pkt, "udp", ttl=1)
    with pytest.raises(KeyError):
        edit(pkt, "ip", nosuchfield=1)
    short = decode(pkt.frame.data[:30])
    assert short["ip"].status != OK
    with pytest.raises(ValueError, match="only the fully decoded layers before it"):
        edit(short, "ip", ttl=1)
    assert edit(short, "eth", src=MAC_B)[6:12] == bytes.fromhex(MAC_B.replace(":", ""))


def test_write_pcap_and_read_back(tmp_path):
    frames = []
    for i, case in enumerate(["tcp_syn", "udp_ip_options", "tcp_sack"]):
        ours = CASES[case]()[1]
        frames.append(make_frame(*ours["layers"], payload=ours.get("payload", b""),
                                 ts_ns=1_700_000_000_000_000_000 + i * 1000))
    pkt = DECODER.decode(frames[0])
    frames.append(edit_frame(pkt, "ip", ttl=2))
    path = tmp_path / "built.pcap"
    assert write_pcap(path, frames) == len(frames)
    with open_capture(path) as reader:
        back = list(reader)
    assert [(f.data, f.linktype, f.ts_ns, f.orig_len) for f in back] == \
           [(f.data, f.linktype, f.ts_ns, f.orig_len) for f in frames]
    assert DECODER.decode(back[-1])["ip"].get("ttl") == 2
    buf = io.BytesIO()
    write_pcap(buf, frames[:1])
    assert buf.getvalue().endswith(frames[0].data)


def _capture_files():
    return corpus_captures() + ([SAMPLE] if SAMPLE.exists() else [])


def test_edit_without_changes_reproduces_every_captured_frame():
    """Rebuilding every decoded layer from its value (the computed fields recomputed where
    they were right) gives the captured octets back, for every frame of every capture."""
    files = _capture_files()
    if not files:
        pytest.skip("no captures")
    checked = 0
    for path in files:
        try:
            with open_capture(path) as reader:
                for number, frame in zip(range(3000), reader):
                    pkt = DECODER.decode(frame, number)
                    if not pkt.layers or pkt.layers[0].status != OK:
                        continue
                    assert edit(pkt, 0) == frame.data, f"{path.name} frame {number + 1}: {pkt}"
                    checked += 1
        except CaptureError:
            continue
    assert checked > 100
