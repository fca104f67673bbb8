"""DNS, FTP and HTTP specs: fields, Info texts, malformed input, building and round trips.

Frames are made with scapy (``scapy.layers.dns`` for DNS; FTP and HTTP as raw TCP
payloads).  Every decoded layer of these protocols is checked against construct: its value
equals ``layout.parse`` of its header and building that value gives the header back.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("scapy.all")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw  # noqa: E402
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRROPT, DNSRRSOA, DNSRRSRV  # noqa: E402

from decoder import fastpath  # noqa: E402
from decoder.build import L, build_frame, edit  # noqa: E402
from decoder.capture import Frame  # noqa: E402
from decoder.packet import MALFORMED, OK, TRUNCATED, Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from decoder.summary import columns  # noqa: E402
from decoder.fields import Clock  # noqa: E402
from decoder.tree import packet_tree  # noqa: E402
from specs._dns_name import DomainName, encode_name, read_name  # noqa: E402

REG = Registry.default()
DECODER = Decoder(REG)
MINE = ("dns", "dns.tcp", "ftp", "http")
CLIENT, SERVER = "192.0.2.1", "198.51.100.53"


def check_layer(layer):
    """The fast path agrees with construct, and construct rebuilds the header."""
    proto = layer.proto
    assert layer.value == proto.layout.parse(layer.header)
    assert proto.layout.build(layer.value, payload_len=layer.end - layer.off - layer.hlen) == layer.header
    for depth, name, off, size, value, node in layer.spans:
        assert layer.off <= off and off + size <= layer.end, (name, off, size)


def decode(frame, orig_len=None):
    data = bytes(frame)
    pkt = DECODER.decode(Frame(data, 1, 0, len(data) if orig_len is None else orig_len), 1)
    for layer in pkt.layers:
        if layer.proto.name in MINE and layer.status == OK:
            check_layer(layer)
    return pkt


def info(pkt) -> str:
    clock = Clock()
    clock.tick(0)
    return columns(pkt, clock)["Info"]


def udp_dns(message, sport=40000, dport=53):
    return Ether() / IP(src=CLIENT, dst=SERVER) / UDP(sport=sport, dport=dport) / message


def tcp(payload, sport=40000, dport=80, flags="PA"):
    return Ether() / IP(src=CLIENT, dst=SERVER) / TCP(sport=sport, dport=dport, flags=flags) / Raw(payload)


def dns_header(qd=1, an=0, ns=0, ar=0, flags=0x0100, ident=0x1234):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


@pytest.fixture(autouse=True)
def no_fallbacks():
    yield
    assert not fastpath.FALLBACKS, f"construct fallbacks: {dict(fastpath.FALLBACKS)}"


# --- DNS --------------------------------------------------------------------------------------

def test_dns_query():
    pkt = decode(udp_dns(DNS(id=0x1234, rd=1, qd=DNSQR(qname="www.example.com", qtype="A"))))
    assert [l.name for l in pkt.layers] == ["eth", "ip", "udp", "dns"]
    dns = pkt["dns"]
    assert dns.get("id") == 0x1234 and dns.get("flags") == 0x0100
    assert [dns.get(f"flags.{b}") for b in ("response", "opcode", "recdesired", "rcode")] == [0, 0, 1, 0]
    assert [dns.get(f"count.{c}") for c in ("queries", "answers", "auth_rr", "add_rr")] == [1, 0, 0, 0]
    assert (dns.get("qry.name"), dns.get("qry.type"), dns.get("qry.class")) == ("www.example.com", 1, 1)
    assert (dns.get("qry.name.len"), dns.get("count.labels")) == (15, 3)
    assert info(pkt) == "Standard query 0x1234 A www.example.com"
    assert columns(pkt, _clock())["Protocol"] == "DNS"
    assert pkt.values("dns.qry.name") == ["www.example.com"] and pkt.data == b""


def _clock():
    clock = Clock()
    clock.tick(0)
    return clock


def test_dns_response_with_compressed_names():
    msg = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="www.example.com"),
              an=[DNSRR(rrname="www.example.com", type="CNAME", rdata="web.example.com", ttl=300),
                  DNSRR(rrname="web.example.com", type="A", rdata="198.51.100.10", ttl=60),
                  DNSRR(rrname="web.example.com", type="AAAA", rdata="2001:db8::10", ttl=60)]).compress()
    raw = bytes(msg)
    assert raw.count(b"\xc0") >= 3                      # the names are compressed
    pkt = decode(udp_dns(msg, sport=53, dport=40000))
    dns = pkt["dns"]
    assert dns.get_all("resp.name") == ["www.example.com", "web.example.com", "web.example.com"]
    assert dns.get_all("resp.type") == [5, 1, 28] and dns.get_all("resp.ttl") == [300, 60, 60]
    assert dns.get("cname") == "web.example.com" and dns.get("a") == "198.51.100.10"
    assert dns.get("aaaa") == "2001:db8::10" and dns.get_all("resp.len") == [6, 4, 16]
    assert info(pkt) == ("Standard query response 0x1234 A www.example.com CNAME web.example.com "
                         "A 198.51.100.10 AAAA 2001:db8::10")
    assert dns.header == raw                             # built back with its pointers


@pytest.mark.parametrize("rr, fields, text", [
    (DNSRRMX(rrname="example.com", preference=10, exchange="mail.example.com"),
     {"mx.preference": 10, "mx.mail_exchange": "mail.example.com"}, "MX 10 mail.example.com"),
    (DNSRRSOA(rrname="example.com", mname="ns1.example.com", rname="hostmaster.example.com", serial=2024010101,
              refresh=7200, retry=3600, expire=1209600, minimum=300),
     {"soa.mname": "ns1.example.com", "soa.rname": "hostmaster.example.com", "soa.serial_number": 2024010101,
      "soa.refresh_interval": 7200, "soa.retry_interval": 3600, "soa.expire_limit": 1209600,
      "soa.minimum_ttl": 300}, "SOA ns1.example.com"),
    (DNSRRSRV(rrname="_sip._tcp.example.com", priority=1, weight=5, port=5060, target="sip.example.com"),
     {"srv.priority": 1, "srv.weight": 5, "srv.port": 5060, "srv.target": "sip.example.com"},
     "SRV 1 5 5060 sip.example.com"),
    (DNSRR(rrname="example.com", type="TXT", rdata=["v=spf1 -all", "hello"]),
     {"txt.length": [11, 5], "txt": ["v=spf1 -all", "hello"]}, "TXT"),
    (DNSRR(rrname="10.100.51.198.in-addr.arpa", type="PTR", rdata="www.example.com"),
     {"ptr.domain_name": "www.example.com"}, "PTR www.example.com"),
    (DNSRR(rrname="example.com", type="NS", rdata="ns1.example.com"), {"ns": "ns1.example.com"}, "NS ns1.example.com"),
    (DNSRR(rrname="example.com", type="HINFO", rdata=b"\x03CPU\x02OS"),
     {"hinfo.cpu": "CPU", "hinfo.os": "OS"}, "HINFO CPU OS"),
    (DNSRR(rrname="example.com", type=65280, rdata=b"\xab\xcd"), {"data": b"\xab\xcd"}, "Unknown (65280)"),
])
def test_dns_record_data(rr, fields, text):
    msg = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="www.example.com"), an=rr)
    for compress in (False, True):
        pkt = decode(udp_dns(msg.compress() if compress else msg, sport=53, dport=40000))
        dns = pkt["dns"]
        assert dns.status == OK
        for name, want in fields.items():
            got = dns.get_all(name) if isinstance(want, list) else dns.get(name)
            assert got == want, name
        assert info(pkt) == f"Standard query response 0x1234 A www.example.com {text}"


def test_dns_counted_strings_build_without_lengths():
    """HINFO and TXT strings (RFC 1035 §3.3) share the counted-text helper with PAP:
    the length octets are computed on build."""
    from specs import dns
    hinfo = {"hinfo.cpu": "INTEL", "hinfo.os": "Linux"}
    txt = {"strings": [{"txt": "v=spf1 -all"}, {"txt": "hi"}]}
    for rtype, rdata, tail in ((13, hinfo, b"\x05INTEL\x05Linux"), (16, txt, b"\x0bv=spf1 -all\x02hi")):
        raw = dns.RR.build({"resp.name": "example.com", "resp.type": rtype,
                            "info": {"resp.class": 1, "resp.ttl": 60}, "rdata": rdata})
        assert raw.endswith(struct.pack(">H", len(tail)) + tail)
        assert {k: v for k, v in dns.RR.parse(raw).rdata.items() if not k.startswith("_")} == {
            **({"hinfo.cpu_length": 5, "hinfo.os_length": 5, **hinfo} if rtype == 13 else {}),
            **({"strings": [{"txt.length": 11, "txt": "v=spf1 -all"}, {"txt.length": 2, "txt": "hi"}]}
               if rtype == 16 else {})}


def test_dns_no_such_name_and_opcodes():
    nx = DNS(id=0xF23F, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname="nonexistent.example"),
             ns=DNSRRSOA(rrname="example", mname="a.gtld-servers.net", rname="nstld.example"))
    pkt = decode(udp_dns(nx, sport=53, dport=40000))
    assert pkt["dns"].get("flags.rcode") == 3 and pkt["dns"].get("count.auth_rr") == 1
    assert info(pkt) == "Standard query response 0xf23f No such name A nonexistent.example SOA a.gtld-servers.net"
    update = decode(udp_dns(DNS(id=1, opcode=5, qd=DNSQR(qname="x.", qtype="SOA"))))
    assert info(update) == "Dynamic update 0x0001 SOA x"
    status = decode(udp_dns(DNS(id=2, qr=1, opcode=2, rcode=9, qd=DNSQR(qname="x.", qtype=999, qclass=3))))
    assert info(status) == "Server status request response 0x0002 Not authoritative Unknown (999) x"
    assert status["dns"].get("qry.class") == 3


def test_dns_root_name_and_opt_record():
    opt = DNSRROPT(rclass=4096, z=0x8000, rdata=[])
    msg = DNS(id=0x5934, rd=1, ad=1, qd=DNSQR(qname=".", qtype="NS"), ar=opt)
    raw = bytes(msg)
    cookie = b"\x00\x0a\x00\x08" + bytes(range(8))
    raw = raw[:-2] + struct.pack(">H", len(cookie)) + cookie           # OPT RDATA: a client cookie
    pkt = decode(udp_dns(Raw(raw)))
    dns = pkt["dns"]
    assert dns.get("qry.name") == "<Root>" and dns.get("resp.name") == "<Root>"
    assert (dns.get("qry.name.len"), dns.get("count.labels")) == (6, 1)
    assert dns.get("resp.type") == 41 and dns.get("rr.udp_payload_size") == 4096
    assert [dns.get(f"resp.{n}") for n in ("ext_rcode", "edns0_version", "z", "z.do")] == [0, 0, 0x8000, 1]
    assert dns.get("resp.class") is None and dns.get("resp.ttl") is None
    assert (dns.get("opt.code"), dns.get("opt.len"), dns.get("opt.data")) == (10, 8, bytes(range(8)))
    assert dns.get("opt.cookie.client") == bytes(range(8))
    assert info(pkt) == "Standard query 0x5934 NS <Root> OPT"


def test_dns_name_text_escapes_like_wireshark():
    body = b"\x03a b\x04c.d\\\x03\x01\x7f\xc3\x00" + b"\x00\x01\x00\x01"
    pkt = decode(udp_dns(Raw(dns_header() + body)))
    name = pkt["dns"].get("qry.name")
    assert name == "a b.c.d\\.\\001\\177\ufffd"            # tshark: a b.c.d\.\001\177<U+FFFD>
    # tshark's dns.count.labels counts the dots of the text (4 here); these are the 3 labels
    assert isinstance(name, DomainName) and name.octets() == 12 and name.label_count() == 3


@pytest.mark.parametrize("body, why", [
    (b"\xc0\x0c\x00\x01\x00\x01", "loops"),                              # points at itself
    (b"\x01a\xc0\x0e\x00\x01\x00\x01", "loops"),                         # a, then back to a
    (b"\xc0\xff\x00\x01\x00\x01", "points past the end"),
    (b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", "label type 0b01"),  # RFC 6891 extended label
    (b"\x80" + b"a" * 64 + b"\x00\x00\x01\x00\x01", "label type 0b10"),
    (b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00\x00\x01\x00\x01", "longer than 255"),
    (b"\x05ab\x00", "runs past"),                                         # a label overruns the message
])
def test_dns_malformed_names(body, why):
    pkt = decode(udp_dns(Raw(dns_header() + body)))
    dns = pkt["dns"]
    assert dns.status == MALFORMED and why in dns.error, dns.error
    assert dns.get("id") == 0x1234 and dns.get("count.queries") == 1     # the header is still there
    assert pkt.status == MALFORMED and "Malformed" in info(pkt)
    assert info(pkt).startswith("Standard query 0x1234")


def test_dns_pointer_into_an_earlier_record_and_forward_pointer():
    # question www.example.com; answer name points to "example.com" inside the question
    body = (b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
            + b"\xc0\x10\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x33\x64\x0a")
    pkt = decode(udp_dns(Raw(dns_header(an=1, flags=0x8180) + body)))
    assert pkt["dns"].get("resp.name") == "example.com"
    # a forward pointer (to the answer's name further on) is followed too
    body = b"\xc0\x12\x00\x01\x00\x01" + b"\x03www\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x33\x64\x0a"
    pkt = decode(udp_dns(Raw(dns_header(an=1, flags=0x8180) + body)))
    assert pkt["dns"].status == OK and pkt["dns"].get("qry.name") == "www"


def test_dns_record_data_must_fit_its_length():
    body = b"\x00\x00\x01\x00\x01" + b"\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x05\xc6\x33\x64\x0a\x00"
    pkt = decode(udp_dns(Raw(dns_header(an=1, flags=0x8180) + body)))
    assert pkt["dns"].status == MALFORMED and "record data of 5 octets" in pkt["dns"].error
    # zero octets of data: no data at all (an RFC 2136 deletion), whatever the type
    body = b"\x00\x00\x01\x00\x01" + b"\x00\x00\x01\x00\xff\x00\x00\x00\x00\x00\x00"
    pkt = decode(udp_dns(Raw(dns_header(an=1, flags=0x2800) + body)))
    assert pkt["dns"].status == OK and pkt["dns"].get("resp.len") == 0 and pkt["dns"].get("a") is None


def test_dns_cut_by_the_capture_is_truncated():
    msg = bytes(udp_dns(DNS(id=9, qr=1, qd=DNSQR(qname="www.example.com"),
                            an=DNSRR(rrname="www.example.com", rdata="192.0.2.7"))))
    pkt = decode(msg[:-6], orig_len=len(msg))
    dns = pkt["dns"]
    assert dns.status == TRUNCATED
    assert dns.get("qry.name") == "www.example.com"          # the question section was complete
    assert info(pkt) == "Standard query response 0x0009 A www.example.com [Truncated]"


def test_dns_over_tcp():
    msg = bytes(DNS(id=0x4319, rd=1, qd=DNSQR(qname="www.tcpdump.org")))
    pkt = decode(tcp(struct.pack(">H", len(msg)) + msg, dport=53))
    assert [l.name for l in pkt.layers] == ["eth", "ip", "tcp", "dns.tcp", "dns"]
    assert pkt.values("dns.length") == [len(msg)] and pkt.values("dns.id") == [0x4319]
    assert pkt["dns"].get("qry.name") == "www.tcpdump.org" and pkt["dns"].status == OK
    assert info(pkt) == "Standard query 0x4319 A www.tcpdump.org" and pkt.data == b""


def test_dns_over_tcp_split_message_is_truncated_with_what_is_there():
    answers = [DNSRR(rrname="www.example.com", rdata=f"192.0.2.{i}") for i in range(6)]
    msg = bytes(DNS(id=0x1234, qr=1, qd=DNSQR(qname="www.example.com"), an=answers))
    pkt = decode(tcp(struct.pack(">H", len(msg)) + msg[:70], sport=53, dport=40000))
    tcp_layer, dns = pkt["dns.tcp"], pkt["dns"]
    assert tcp_layer.status == OK and tcp_layer.cut and tcp_layer.get("length") == len(msg)
    assert dns.status == TRUNCATED
    assert dns.get("qry.name") == "www.example.com" and dns.get("count.answers") == 6
    assert info(pkt).startswith("Standard query response 0x1234 A www.example.com")
    assert pkt.status == TRUNCATED


def test_dns_over_tcp_two_messages_in_a_segment():
    one = bytes(DNS(id=1, qd=DNSQR(qname="a.example")))
    two = bytes(DNS(id=2, qd=DNSQR(qname="b.example")))
    segment = struct.pack(">H", len(one)) + one + struct.pack(">H", len(two)) + two
    pkt = decode(tcp(segment, dport=53))
    assert pkt.values("dns.id") == [1]                        # the second is left as trailing octets
    assert pkt.trailer.endswith(two)


def test_dns_build_from_fields_matches_scapy():
    frame = build_frame(L("eth"), L("ip", src=CLIENT, dst=SERVER), L("udp", srcport=40000),
                        L("dns", id=0x1234, **{"flags.recdesired": 1, "qry.name": "www.example.com",
                                               "qry.type": 1, "qry.class": 1}))
    pkt = decode(frame)
    assert pkt["udp"].get("dstport") == 53
    assert pkt["dns"].header == bytes(DNS(id=0x1234, rd=1, qd=DNSQR(qname="www.example.com")))
    answer = build_frame(L("eth"), L("ip"), L("udp", srcport=53, dstport=40000), L(
        "dns", id=7, **{"flags.response": 1, "qry.name": "example.com", "qry.type": 15, "qry.class": 1},
        answers=[{"resp.name": "example.com", "resp.type": 15, "resp.class": 1, "resp.ttl": 60,
                  "rdata": {"mx.preference": 5, "mx.mail_exchange": "mx.example.com"}}]))
    dns = decode(answer)["dns"]
    assert dns.status == OK and dns.get("count.answers") == 1 and dns.get("resp.len") == 18
    assert dns.get("mx.mail_exchange") == "mx.example.com"


def test_dns_edit_keeps_pointers_right():
    msg = DNS(id=0x1234, qr=1, qd=DNSQR(qname="www.example.com"),
              an=DNSRR(rrname="www.example.com", type="CNAME", rdata="web.example.com")).compress()
    pkt = decode(udp_dns(msg, sport=53, dport=40000))
    out = decode(edit(pkt, "dns", **{"qry.name": "mail.example.org"}))
    dns = out["dns"]
    assert dns.status == OK and dns.get("qry.name") == "mail.example.org"
    # the answer's names pointed into the old question: they are written out in full now
    assert dns.get("resp.name") == "www.example.com" and dns.get("cname") == "web.example.com"
    assert out["udp"].checksum_status() == "good"


def test_name_helpers():
    assert encode_name("www.example.com.") == b"\x03www\x07example\x03com\x00"
    assert encode_name("<Root>") == encode_name(".") == b"\x00"
    with pytest.raises(ValueError):
        encode_name("a" * 64 + ".com")
    name, after = read_name(b"\x00\x00" + b"\x01a\x00" + b"\xc0\x02", 5, 0, 7)
    assert (name, name.raw, after) == ("a", b"\xc0\x02", 7)


# --- DNS: generated messages --------------------------------------------------------------------

_LABEL = st.text("abcdefghij-0123456789", min_size=1, max_size=10)
_NAME = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)


@st.composite
def dns_messages(draw):
    names = draw(st.lists(_NAME, min_size=1, max_size=4))
    qd = DNSQR(qname=draw(st.sampled_from(names)), qtype=draw(st.sampled_from([1, 2, 5, 15, 16, 28, 33, 255])))
    records = []
    for _ in range(draw(st.integers(0, 4))):
        owner = draw(st.sampled_from(names))
        kind = draw(st.sampled_from(["A", "AAAA", "CNAME", "NS", "PTR", "MX", "SRV", "TXT", "SOA", "raw"]))
        ttl = draw(st.integers(0, 2 ** 31 - 1))
        target = draw(st.sampled_from(names))
        if kind == "A":
            rr = DNSRR(rrname=owner, type="A", ttl=ttl, rdata=draw(st.ip_addresses(v=4)).compressed)
        elif kind == "AAAA":
            rr = DNSRR(rrname=owner, type="AAAA", ttl=ttl, rdata=draw(st.ip_addresses(v=6)).compressed)
        elif kind in ("CNAME", "NS", "PTR"):
            rr = DNSRR(rrname=owner, type=kind, ttl=ttl, rdata=target)
        elif kind == "MX":
            rr = DNSRRMX(rrname=owner, ttl=ttl, preference=draw(st.integers(0, 65535)), exchange=target)
        elif kind == "SRV":
            rr = DNSRRSRV(rrname=owner, ttl=ttl, priority=1, weight=2, port=draw(st.integers(0, 65535)), target=target)
        elif kind == "TXT":
            rr = DNSRR(rrname=owner, type="TXT", ttl=ttl, rdata=draw(st.lists(_LABEL, min_size=1, max_size=3)))
        elif kind == "SOA":
            rr = DNSRRSOA(rrname=owner, ttl=ttl, mname=target, rname=draw(st.sampled_from(names)), serial=7)
        else:
            rr = DNSRR(rrname=owner, type=65280, ttl=ttl, rdata=draw(st.binary(max_size=8)))
        records.append(rr)
    msg = DNS(id=draw(st.integers(0, 65535)), qr=1, qd=qd, an=records)
    return msg.compress() if draw(st.booleans()) else msg, names


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(dns_messages())
def test_dns_generated_messages_decode_and_rebuild(case):
    msg, names = case
    raw = bytes(msg)
    pkt = decode(udp_dns(Raw(raw), sport=53, dport=40000))
    dns = pkt["dns"]
    assert dns.status == OK, dns.error
    assert dns.header == raw
    assert dns.get("qry.name") == msg.qd[0].qname.decode().rstrip(".")
    assert all(n in names for n in dns.get_all("resp.name"))
    assert len(dns.get_all("resp.type")) == len(msg.an or [])


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(dns_messages(), st.data())
def test_dns_damaged_messages_never_raise(case, data):
    raw = bytearray(bytes(case[0]))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = bytes(raw[:data.draw(st.integers(0, len(raw)))])
    pkt = decode(udp_dns(Raw(raw), sport=53, dport=40000))     # decode() checks every ok layer
    for layer in pkt.layers:
        layer.flat()
        layer.spans
        assert "summary failed" not in layer.summary()
    packet_tree(pkt, _clock(), REG)


# --- FTP ----------------------------------------------------------------------------------------

def ftp(payload, to_server=True):
    return tcp(payload, sport=50003, dport=21) if to_server else tcp(payload, sport=21, dport=50003)


def test_ftp_request():
    pkt = decode(ftp(b"USER anonymous\r\n"))
    f = pkt["ftp"]
    assert (f.get("request.command"), f.get("request.arg")) == ("USER", "anonymous")
    assert (f.get("request"), f.get("response")) == (True, False)
    assert info(pkt) == "Request: USER anonymous" and columns(pkt, _clock())["Protocol"] == "FTP"
    pwd = decode(ftp(b"PWD\r\n"))["ftp"]
    assert pwd.get("request.command") == "PWD" and pwd.get("request.arg") is None


def test_ftp_reply():
    pkt = decode(ftp(b"230 Login successful.\r\n", to_server=False))
    f = pkt["ftp"]
    assert (f.get("response.code"), f.get("response.arg")) == (230, "Login successful.")
    assert (f.get("request"), f.get("response")) == (False, True)
    assert info(pkt) == "Response: 230 Login successful."


def test_ftp_multi_line_reply_in_one_segment():
    text = b"230-Welcome\r\n  to the server\r\n230-More\r\n230 Login successful.\r\n"
    f = decode(ftp(text, to_server=False))["ftp"]
    assert f.get_all("response.code") == [230, 230, 230]      # the 230- lines and the closing 230 line
    assert [("response.code" in line) for line in f.value["lines"]] == [True, False, True, True]
    assert f.get_all("response.arg") == ["Welcome", "  to the server", "More", "Login successful."]
    assert f.summary() == "Response: 230-Welcome"
    assert len(f.value["lines"]) == 4


def test_ftp_multi_line_reply_continued_in_the_next_segment():
    f = decode(ftp(b" MDTM\r\n SIZE\r\n211 End\r\n", to_server=False))["ftp"]
    assert f.get_all("response.arg") == [" MDTM", " SIZE", "End"] and f.get_all("response.code") == [211]
    assert f.summary() == "Response:  MDTM"


def test_ftp_passive_and_active_addresses():
    f = decode(ftp(b"227 Entering Passive Mode (192,0,2,65,19,137)\r\n", to_server=False))["ftp"]
    assert (f.get("passive.ip"), f.get("passive.port")) == ("192.0.2.65", 19 * 256 + 137)
    f = decode(ftp(b"229 Entering Extended Passive Mode (|||6446|)\r\n", to_server=False))["ftp"]
    assert f.get("epsv.port") == 6446
    f = decode(ftp(b"PORT 192,0,2,1,195,80\r\n"))["ftp"]
    assert (f.get("active.cip"), f.get("active.port")) == ("192.0.2.1", 195 * 256 + 80)
    f = decode(ftp(b"EPRT |2|2001:db8::1|49189|\r\n"))["ftp"]
    assert (f.get("eprt.af"), f.get("eprt.ipv6"), f.get("eprt.port")) == (2, "2001:db8::1", 49189)
    f = decode(ftp(b"EPRT |1|132.235.1.2|6275|\r\n"))["ftp"]
    assert (f.get("eprt.af"), f.get("eprt.ip"), f.get("eprt.port")) == (1, "132.235.1.2", 6275)
    f = decode(ftp(b"227 Entering Passive Mode (300,0,2,65,19,137)\r\n", to_server=False))["ftp"]
    assert f.get("passive.ip") is None                        # not an address


def test_ftp_lines_without_crlf_and_several_commands():
    f = decode(ftp(b"TYPE I\r\nSIZE robots.txt\nRETR rob"))["ftp"]
    assert f.get_all("request.command") == ["TYPE", "SIZE", "RETR"]
    assert f.get_all("request.arg") == ["I", "robots.txt", "rob"]


def test_ftp_over_ipv6_and_binary_junk():
    pkt = decode(Ether() / IPv6(src="2001:db8::1", dst="2001:db8::21") / TCP(sport=49185, dport=21, flags="PA")
                 / Raw(b"EPSV\r\n"))
    assert pkt["ftp"].get("request.command") == "EPSV"
    junk = decode(ftp(bytes(range(256)), to_server=False))["ftp"]
    assert junk.status == OK and junk.summary().startswith("Response: ")


def test_ftp_edit_and_build():
    pkt = decode(ftp(b"USER anonymous\r\nPASS x\r\n"))
    out = decode(edit(pkt, "ftp", **{"request.arg": ["ftp", "secret"]}))
    assert out["ftp"].header == b"USER ftp\r\nPASS secret\r\n" and out["tcp"].checksum_status() == "good"
    frame = build_frame(L("eth"), L("ip"), L("tcp", srcport=21, dstport=40000),
                        L("ftp", lines=[{"response.code": 220, "response.arg": "ready"}]))
    assert decode(frame)["ftp"].header == b"220 ready\r\n"


# --- HTTP ---------------------------------------------------------------------------------------

REQUEST = (b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.0\r\n"
           b"Accept: */*\r\nCookie: a=1; b=2\r\nConnection: keep-alive\r\n\r\n")
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 12\r\n"
            b"Location: /elsewhere\r\n\r\nhello world!")


def test_http_request():
    pkt = decode(tcp(REQUEST))
    h = pkt["http"]
    assert [h.get(f"request.{k}") for k in ("method", "uri", "version")] == ["GET", "/a/b?x=1&y=2", "HTTP/1.1"]
    assert h.get("host") == "www.example.com" and h.get("user_agent") == "curl/8.0"
    assert h.get("connection") == "keep-alive" and h.get("accept") == "*/*"
    assert h.get_all("request.line") == ["Host: www.example.com\r\n", "User-Agent: curl/8.0\r\n", "Accept: */*\r\n",
                                         "Cookie: a=1; b=2\r\n", "Connection: keep-alive\r\n"]
    assert h.get("request") is True and h.get("response") is None
    assert h.get("request.full_uri") == "http://www.example.com/a/b?x=1&y=2"
    assert h.get_all("cookie_pair") == ["a=1", "b=2"]
    assert (h.get("request.uri.path"), h.get("request.uri.query")) == ("/a/b", "x=1&y=2")
    assert h.get_all("request.uri.query.parameter") == ["x=1", "y=2"]
    assert info(pkt) == "GET /a/b?x=1&y=2 HTTP/1.1" and columns(pkt, _clock())["Protocol"] == "HTTP"
    assert pkt.data == b""


def test_http_response_body_is_data():
    pkt = decode(tcp(RESPONSE, sport=80, dport=40000))
    h = pkt["http"]
    assert [h.get(f"response.{k}") for k in ("version", "code", "phrase")] == ["HTTP/1.1", 200, "OK"]
    assert h.get("response.code.desc") == "OK" and h.get("response") is True
    assert (h.get("server"), h.get("content_type"), h.get("location")) == ("nginx", "text/html", "/elsewhere")
    assert (h.get("content_length_header"), h.get("content_length")) == ("12", 12)
    assert h.get_all("response.line")[0] == "Server: nginx\r\n"
    assert info(pkt) == "HTTP/1.1 200 OK" and pkt.data == b"hello world!"


def test_http_values_keep_wiresharks_spacing():
    h = decode(tcp(b"GET / HTTP/1.0\nHost:   example.com \nContent-Length:  12 \n\n"))["http"]
    assert h.get("host") == "example.com " and h.get("content_length_header") == "12 "
    assert h.get("content_length") == 12 and h.get_all("request.line")[0] == "Host:   example.com \n"
    assert h.get("request.full_uri") == "http://example.com/"


@pytest.mark.parametrize("payload", [
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03compressed body",      # a body continuation
    b"<html><body>rest of the page</body></html>\r\n",
    b"get / HTTP/1.1\r\n\r\n",                                         # methods are case-sensitive
    b"FOO / HTTP/1.1\r\n\r\n",
    bytes(range(256)),
])
def test_http_declines_what_is_not_a_message_start(payload):
    pkt = decode(tcp(payload, sport=80, dport=40000))
    assert [l.name for l in pkt.layers] == ["eth", "ip", "tcp"]
    assert pkt.data == payload and pkt.status == OK
    assert "HTTP" not in columns(pkt, _clock())["Protocol"]


def test_http_decoded_on_request_is_malformed_instead():
    pkt = DECODER.decode_from("http", b"not http at all\r\n")
    assert pkt.layers[0].status == MALFORMED and "not an HTTP request or status line" in pkt.layers[0].error


def test_http_head_ends_at_a_line_that_is_not_a_header():
    h = decode(tcp(b"PROPFIND /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"))
    assert h["http"].get_all("request.line") == ["Host: a\r\n"] and h.data == b" folded\r\n\r\n"
    cut = decode(tcp(b"GET /long HTTP/1.1\r\nHost: a"))["http"]           # the head goes on next segment
    assert cut.status == OK and cut.get("host") == "a" and cut.get_all("request.line") == ["Host: a"]
    old = decode(tcp(b"GET /\r\n\r\n"))["http"]
    assert old.get("request.uri") == "/" and old.get("request.version") is None and old.summary() == "GET /"
    bare = decode(tcp(b"HTTP/1.0 200\r\n\r\n", sport=80, dport=40000))["http"]
    assert bare.get("response.code") == 200 and bare.get("response.phrase") is None


def test_http_on_other_ports():
    for port in (8000, 8080):
        assert decode(tcp(REQUEST, dport=port))["http"].get("host") == "www.example.com"


def test_http_edit_rewrites_only_the_changed_line():
    pkt = decode(tcp(REQUEST))
    out = decode(edit(pkt, "http", host="example.org"))
    h = out["http"]
    assert h.get("host") == "example.org" and h.get_all("request.line")[0] == "Host: example.org\r\n"
    assert h.header == REQUEST.replace(b"www.example.com", b"example.org")
    frame = build_frame(L("eth"), L("ip"), L("tcp", srcport=40000),
                        L("http", lines=[{"request.method": "GET", "request.uri": "/", "request.version": "HTTP/1.1"},
                                         {"host": "example.com"}, {}]))
    assert decode(frame)["http"].header == b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def test_http_tree_and_fields_output():
    pkt = decode(tcp(REQUEST))
    text = packet_tree(pkt, _clock(), REG)
    assert "Request method: GET  [http.request.method @54+3]" in text
    assert "Host: www.example.com  [http.host @" in text
    from decoder.fields import FieldsWriter
    row = FieldsWriter(REG, ["http.request.line", "http.host"], occurrence="f").row(pkt, _clock())
    assert row == ["Host: www.example.com\\r\\n", "www.example.com"]      # as tshark escapes it
