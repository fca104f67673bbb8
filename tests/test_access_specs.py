"""Access protocols: PPPoE (RFC 2516), PPP (RFC 1661/1662), LCP, PAP (RFC 1334), CHAP
(RFC 1994), IPCP (RFC 1332/1877), IPV6CP (RFC 5072), RADIUS (RFC 2865/2866/5176), and the
secret-based checks of expert/radius_check.py and expert/chap_check.py.

Frames are built with scapy (or by hand where scapy has no class), decoded, and checked
field by field; RADIUS packets with correct authenticators are built here with hashlib.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import struct
from pathlib import Path

import pytest

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.layers.ppp import (PPP, PPP_CHAP, PPP_CHAP_ChallengeResponse, PPP_IPCP, PPP_IPCP_Option_DNS1,  # noqa: E402
                              PPP_IPCP_Option_DNS2, PPP_IPCP_Option_IPAddress, PPP_LCP_Auth_Protocol_Option,
                              PPP_LCP_Code_Reject, PPP_LCP_Configure, PPP_LCP_Echo, PPP_LCP_MRU_Option,
                              PPP_LCP_Magic_Number_Option, PPP_LCP_Protocol_Reject, PPP_LCP_Terminate,
                              PPP_PAP_Request, PPP_PAP_Response, PPPoE, PPPoED, PPPoED_Tags, PPPoETag)
from scapy.layers.radius import Radius, RadiusAttribute  # noqa: E402

from decoder import fastpath  # noqa: E402
from decoder.capture import Frame, open_capture  # noqa: E402
from decoder.packet import MALFORMED, OK, Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from expert.chap_check import ChapCheck, chap_md5, parse_user_password, passwords_from_args  # noqa: E402
from expert.radius_check import (ACCESS_FIELDS, AccessCheck, RadiusCheck, hide_password,  # noqa: E402
                                 parse_secret, request_authenticator, response_authenticator,
                                 reveal_password, secrets_from_args)
from specs import radius as radius_spec  # noqa: E402
from support import plain  # noqa: E402

REG = Registry.default()
DEC = Decoder(REG)
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "captures"
MINE = ("pppoed", "pppoes", "ppp", "lcp", "pap", "chap", "ipcp", "ipv6cp", "radius")
MAC = dict(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb")


def decode(data, linktype=1, number=1, ts_ns=0):
    pkt = DEC.decode(Frame(bytes(data), linktype, ts_ns, len(bytes(data))), number)
    for layer in pkt.layers:
        if layer.proto.name in MINE and layer.status == OK:
            assert_matches_construct(layer)
    return pkt


def assert_matches_construct(layer):
    """layer.value is what construct parses from the header octets."""
    parsed = layer.proto.layout.parse(layer.header, payload_len=layer.end - layer.off - layer.hlen)
    assert plain(layer.value) == plain(parsed), layer


def session(ppp_payload, sid=0x1234):
    return bytes(Ether(**MAC) / PPPoE(sessionid=sid) / ppp_payload)


def cp(proto, code, ident, body):
    return struct.pack(">HBBH", proto, code, ident, 4 + len(body)) + body


def raw_session(ppp: bytes, sid=0x1234, length=None):
    head = struct.pack(">BBHH", 0x11, 0, sid, len(ppp) if length is None else length)
    return bytes(Ether(type=0x8864, **MAC)) + head + ppp


# --- PPPoE Discovery ----------------------------------------------------------------------------

def padi(tags, code=0x09, sid=0):
    return bytes(Ether(**MAC) / PPPoED(code=code, sessionid=sid) / PPPoED_Tags(tag_list=tags))


def test_padi_tags_and_summary():
    pkt = decode(padi([PPPoETag(tag_type=0x0101, tag_value=b""),
                       PPPoETag(tag_type=0x0103, tag_value=b"\x01\x02\x03\x04"),
                       PPPoETag(tag_type=0x0102, tag_value=b"BRAS-1")]))
    assert [l.name for l in pkt.layers] == ["eth", "pppoed"]
    d = pkt.layer("pppoed")
    assert d.status == OK
    assert (d.get("version"), d.get("type"), d.get("code"), d.get("session_id")) == (1, 1, 0x09, 0)
    assert d.get_all("tags.service_name") == [""]
    assert d.get("tags.host_uniq") == b"\x01\x02\x03\x04"
    assert d.get("tags.ac_name") == "BRAS-1"
    assert d.get("payload_length") == 4 + 8 + 10
    assert d.summary() == "Active Discovery Initiation (PADI) AC-Name='BRAS-1'"
    # Wireshark's names: pppoe.* for the header, pppoed.tags.* for the tags
    assert pkt.values("pppoe.code") == [0x09]
    assert pkt.values("pppoe.session_id") == [0]
    assert pkt.values("pppoed.tags.ac_name") == ["BRAS-1"]
    assert pkt.values("pppoed") == [True]
    assert REG.resolve("pppoe.version")[0].name in ("pppoed", "pppoes")
    assert {p.name for p, _ in REG.resolve_all("pppoe.code")} == {"pppoed", "pppoes"}


def test_pads_padt_errors_vendor_and_padding():
    bbf = struct.pack(">I", 3561) + b"\x01\x03abc" + b"\x02\x02id" + b"\x81\x04" + struct.pack(">I", 1024) \
        + b"\x90\x03\x02\x01\x00"
    pkt = decode(padi([PPPoETag(tag_type=0x0101, tag_value=b"internet"),
                       PPPoETag(tag_type=0x0105, tag_value=bbf),
                       PPPoETag(tag_type=0x0105, tag_value=struct.pack(">I", 9) + b"xyz"),
                       PPPoETag(tag_type=0x0201, tag_value=b"no such service"),
                       PPPoETag(tag_type=0x0120, tag_value=b"\x05\xdc"),
                       PPPoETag(tag_type=0x0999, tag_value=b"??"),
                       PPPoETag(tag_type=0x0000, tag_value=b"")], code=0x65, sid=0x55))
    d = pkt.layer("pppoed")
    assert d.status == OK
    assert d.summary() == "Active Discovery Session-confirmation (PADS)"
    assert d.get("session_id") == 0x55
    assert d.get_all("tags.vendor_id") == [3561, 9]
    assert d.get("tags.circuit_id") == "abc" and d.get("tags.remote_id") == "id"
    assert d.get("tags.act_data_rate_up") == 1024
    assert d.get("tags.access_loop_encap.data_link") == 2
    assert d.get("tags.vendor_unspecified") == b"xyz"
    assert d.get("tags.service_name_error") == "no such service"
    assert d.get("tags.max_payload") == b"\x05\xdc"
    assert d.get("tag.unknown_data") == b"??"
    # a PADT carries no tags; the Ethernet padding is a trailer, not tags
    pkt = decode(padi([], code=0xA7, sid=0x1234) + bytes(40))
    assert pkt.layer("pppoed").status == OK
    assert pkt.layer("pppoed").summary() == "Active Discovery Terminate (PADT)"
    assert len(pkt.trailer) == 60 - 20 and pkt.data == b""


def test_pppoed_overrunning_tag_is_malformed_header_kept():
    body = struct.pack(">HH", 0x0101, 40) + b"short"
    frame = bytes(Ether(type=0x8863, **MAC)) + struct.pack(">BBHH", 0x11, 0x09, 0, len(body)) + body
    pkt = decode(frame)
    d = pkt.layer("pppoed")
    assert d.status == MALFORMED and "overruns" in d.error
    assert pkt.layer("eth").status == OK
    assert (d.get("code"), d.get("payload_length")) == (0x09, len(body))
    # a payload length beyond the frame: malformed as well
    frame = bytes(Ether(type=0x8863, **MAC)) + struct.pack(">BBHH", 0x11, 0x09, 0, 200) + b"\x01\x01\x00\x00"
    assert decode(frame).layer("pppoed").status == MALFORMED


def test_pppoe_unknown_version_leaves_payload_undecoded():
    frame = bytes(Ether(type=0x8863, **MAC)) + struct.pack(">BBHH", 0x21, 0x09, 0, 4) + b"\x01\x01\x00\x00"
    pkt = decode(frame)
    d = pkt.layer("pppoed")
    assert d.status == OK and d.get("version") == 2
    assert d.get_all("tag") == [] and pkt.data == b"\x01\x01\x00\x00"
    ppp = cp(0xC021, 9, 1, b"\0\0\0\0")
    frame = bytes(Ether(type=0x8864, **MAC)) + struct.pack(">BBHH", 0x12, 0, 1, len(ppp)) + ppp
    pkt = decode(frame)
    assert [l.name for l in pkt.layers] == ["eth", "pppoes"] and pkt.data == ppp


def test_session_payload_length_bad_is_flagged():
    ppp = cp(0xC021, 9, 1, b"\0\0\0\1")
    pkt = decode(raw_session(ppp, length=200))
    s = pkt.layer("pppoes")
    assert s.get("payload_length.bad") is True
    assert pkt.values("pppoe.payload_length.bad") == [True]
    assert pkt.layer("lcp").status == OK
    assert decode(raw_session(ppp)).layer("pppoes").get("payload_length.bad") is None


# --- PPP and LCP ------------------------------------------------------------------------------

def test_lcp_configure_request_options():
    opts = [PPP_LCP_MRU_Option(max_recv_unit=1492),
            PPP_LCP_Auth_Protocol_Option(auth_protocol=0xC223, algorithm=5),
            PPP_LCP_Magic_Number_Option(magic_number=0x05FCD459)]
    pkt = decode(session(PPP() / PPP_LCP_Configure(code=1, id=7, options=opts)))
    assert [l.name for l in pkt.layers] == ["eth", "pppoes", "ppp", "lcp"]
    assert pkt.layer("ppp").get("protocol") == 0xC021
    lcp = pkt.layer("lcp")
    assert lcp.summary() == "Configuration Request"
    assert lcp.get("opt.mru") == 1492
    assert lcp.get("opt.auth_protocol") == 0xC223 and lcp.get("opt.algorithm") == 5
    assert lcp.get("opt.magic_number") == 0x05FCD459
    assert lcp.get_all("opt.type") == [1, 3, 5] and lcp.get_all("opt.length") == [4, 5, 6]
    # Wireshark files the Control Protocol header under ppp.*
    assert pkt.values("ppp.code") == [1] and pkt.values("ppp.identifier") == [7]
    assert pkt.values("ppp.length") == [4 + 4 + 5 + 6]
    assert pkt.values("lcp.opt.mru") == [1492]
    assert (REG.protocols["lcp"], "code") in REG.resolve_all("ppp.code")
    assert {p.name for p, _ in REG.resolve_all("ppp.code")} == {"lcp", "ipcp", "ipv6cp"}
    assert lcp.proto.full_name("code") == "ppp.code" and lcp.proto.full_name("opt.mru") == "lcp.opt.mru"
    assert pkt.layer("pppoes").get("session_id") == 0x1234 and pkt.values("pppoes") == [True]


def test_lcp_options_by_hand():
    def opt(t, v):
        return bytes([t, 2 + len(v)]) + v
    body = (opt(2, b"\x00\x0a\x00\x00") + opt(4, b"\xc0\x25\x00\x00\x00\x10") + opt(7, b"") + opt(8, b"")
            + opt(13, b"\x00abc") + opt(17, b"\x05\xdc") + opt(19, b"\x01\x0a\x00\x00\x01") + opt(0x99, b"xy")
            + opt(3, b"\xc0\x23"))
    lcp = decode(raw_session(cp(0xC021, 4, 2, body))).layer("lcp")
    assert lcp.status == OK and lcp.summary() == "Configuration Reject"
    assert lcp.get("opt.asyncmap") == 0x000A0000
    assert lcp.get("opt.asyncmap.dc1") == 1 and lcp.get("opt.asyncmap.dc3") == 1 and lcp.get("opt.asyncmap.nul") == 0
    assert lcp.get("opt.quality_protocol") == 0xC025 and lcp.get("opt.reporting_period") == 16
    assert lcp.get("opt.operation") == 0 and lcp.get("opt.message") == b"abc"
    assert lcp.get("opt.mrru") == 1500 and lcp.get("opt.ep_disc_class") == 1
    assert lcp.get_all("opt.data") == [b"\x0a\x00\x00\x01", b"xy"]
    assert lcp.get_all("opt.auth_protocol") == [0xC023] and lcp.get("opt.algorithm") is None
    assert lcp.get_all("opt.type")[2:4] == [7, 8]


def test_lcp_other_codes():
    lcp = decode(session(PPP() / PPP_LCP_Echo(code=9, id=3, magic_number=0x11223344, data=b"ping"))).layer("lcp")
    assert (lcp.summary(), lcp.get("magic_number"), lcp.get("data")) == ("Echo Request", 0x11223344, b"ping")
    lcp = decode(session(PPP() / PPP_LCP_Echo(code=10, id=3, magic_number=5))).layer("lcp")
    assert lcp.summary() == "Echo Reply" and lcp.get("data") is None      # no empty data field
    lcp = decode(session(PPP() / PPP_LCP_Terminate(code=5, id=4, data=b"bye"))).layer("lcp")
    assert lcp.summary() == "Termination Request" and lcp.get("cp.data") == b"bye"
    pkt = decode(session(PPP() / PPP_LCP_Terminate(code=6, id=4)))
    assert pkt.layer("lcp").summary() == "Termination Ack" and pkt.values("ppp.data") == []
    pkt = decode(session(PPP() / PPP_LCP_Code_Reject(id=5, rejected_packet=b"\x0e\x01\x00\x04")))
    assert pkt.layer("lcp").summary() == "Code Reject" and pkt.values("ppp.data") == [b"\x0e\x01\x00\x04"]
    lcp = decode(session(PPP() / PPP_LCP_Protocol_Reject(id=6, rejected_protocol=0x80FD,
                                                          rejected_information=b"\x01\x01\x00\x04"))).layer("lcp")
    assert lcp.summary() == "Protocol Reject" and lcp.get("rej_proto") == 0x80FD
    assert lcp.get("rej_info") == b"\x01\x01\x00\x04"
    lcp = decode(raw_session(cp(0xC021, 11, 7, b"\0\0\0\1junk"))).layer("lcp")
    assert lcp.summary() == "Discard Request" and lcp.get("data") == b"junk"
    lcp = decode(raw_session(cp(0xC021, 12, 8, b"\0\0\0\1hello"))).layer("lcp")
    assert lcp.summary() == "Identification" and lcp.get("message") == "hello"
    lcp = decode(raw_session(cp(0xC021, 13, 9, b"\0\0\0\1" + struct.pack(">I", 3600) + b"left"))).layer("lcp")
    assert lcp.summary() == "Time Remaining" and lcp.get("secs_remaining") == 3600 and lcp.get("message") == "left"


def test_lcp_bad_option_lengths_are_malformed():
    for body in (b"\x01\x00\x05\xdc", b"\x01\x01", b"\x01\x08\x05\xdc", b"\x05\x06\x00"):
        pkt = decode(raw_session(cp(0xC021, 1, 1, body)))
        lcp = pkt.layer("lcp")
        assert lcp.status == MALFORMED, body.hex()
        assert lcp.get("code") == 1 and pkt.layer("ppp").status == OK and pkt.layer("pppoes").status == OK
    # a Length below the 4-octet header
    assert decode(raw_session(b"\xc0\x21\x01\x01\x00\x02")).layer("lcp").status == MALFORMED
    # a Length beyond the PPPoE payload
    assert decode(raw_session(b"\xc0\x21\x09\x01\x00\x40\0\0\0\0")).layer("lcp").status == MALFORMED


def test_lcp_padding_after_length_is_trailer():
    ppp = cp(0xC021, 9, 1, b"\0\0\0\1") + b"\0\0\0\0"
    pkt = decode(raw_session(ppp))
    assert pkt.layer("lcp").hlen == 8 and pkt.data == b""


def test_ppp_link_types_address_control_and_pfc():
    echo = cp(0xC021, 9, 1, b"\0\0\0\1")
    pkt = decode(b"\xff\x03" + echo, linktype=9)
    ppp = pkt.layer("ppp")
    assert (ppp.get("address"), ppp.get("control"), ppp.get("protocol"), ppp.hlen) == (0xFF, 0x03, 0xC021, 4)
    assert pkt.layer("lcp").summary() == "Echo Request"
    pkt = decode(echo, linktype=9)                                   # ACFC: no address/control
    assert pkt.layer("ppp").get("address") is None and pkt.layer("lcp").status == OK
    ip = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2))
    pkt = decode(b"\xff\x03\x21" + ip, linktype=50)                  # PFC: one-octet protocol
    assert pkt.layer("ppp").get("protocol") == 0x21 and pkt.layer("ppp").hlen == 3
    assert pkt.layer("ip").get("src") == "10.0.0.1"
    pkt = decode(raw_session(b"\x21" + ip))
    assert pkt.layer("ppp").get("protocol") == 0x21 and pkt.layer("ip") is not None
    assert decode(raw_session(b"\x00\x21" + ip)).layer("ppp").summary() == "Protocol 0x0021 (IPv4)"


# --- PAP, CHAP, IPCP, IPV6CP -----------------------------------------------------------------

def test_pap():
    pkt = decode(session(PPP(proto=0xC023) / PPP_PAP_Request(id=1, username=b"cisco", password=b"s3cret")))
    pap = pkt.layer("pap")
    assert pap.summary() == "Authenticate-Request (Peer-ID='cisco', Password='s3cret')"
    assert (pap.get("code"), pap.get("identifier"), pap.get("length")) == (1, 1, 4 + 1 + 5 + 1 + 6)
    assert (pap.get("peer_id.length"), pap.get("peer_id"), pap.get("password.length")) == (5, "cisco", 6)
    assert pkt.values("pap.password") == ["s3cret"]
    pap = decode(session(PPP(proto=0xC023) / PPP_PAP_Response(code=2, id=1, message=b"welcome"))).layer("pap")
    assert pap.summary() == "Authenticate-Ack (Message='welcome')" and pap.get("message.length") == 7
    pap = decode(session(PPP(proto=0xC023) / PPP_PAP_Response(code=3, id=1, message=b""))).layer("pap")
    assert pap.summary() == "Authenticate-Nak (Message='')" and pap.get("message") == ""
    # a Peer-ID length running past the packet
    assert decode(raw_session(cp(0xC023, 1, 1, b"\x09abc"))).layer("pap").status == MALFORMED


def test_chap():
    value = bytes(range(16))
    pkt = decode(session(PPP(proto=0xC223) / PPP_CHAP_ChallengeResponse(code=1, id=2, value=value, optional_name=b"BRAS")))
    chap = pkt.layer("chap")
    assert chap.summary() == "Challenge (NAME='BRAS', VALUE=0x000102030405060708090a0b0c0d0e0f)"
    assert (chap.get("code"), chap.get("identifier"), chap.get("length")) == (1, 2, 4 + 1 + 16 + 4)
    assert (chap.get("value_size"), chap.get("value"), chap.get("name")) == (16, value, "BRAS")
    chap = decode(session(PPP(proto=0xC223) / PPP_CHAP(code=3, id=2, data=b"Welcome"))).layer("chap")
    assert chap.summary() == "Success (MESSAGE='Welcome')" and chap.get("message") == "Welcome"
    chap = decode(session(PPP(proto=0xC223) / PPP_CHAP(code=4, id=2, data=b"E=691 R=0"))).layer("chap")
    assert chap.summary() == "Failure (MESSAGE='E=691 R=0')"
    chap = decode(raw_session(cp(0xC223, 3, 2, b""))).layer("chap")
    assert chap.status == OK and chap.get("message") is None
    # a value size beyond the packet
    assert decode(raw_session(cp(0xC223, 1, 2, b"\x20abc"))).layer("chap").status == MALFORMED


def test_ipcp_and_ipv6cp():
    opts = [PPP_IPCP_Option_IPAddress(data="10.0.0.1"), PPP_IPCP_Option_DNS1(data="8.8.8.8"),
            PPP_IPCP_Option_DNS2(data="8.8.4.4")]
    pkt = decode(session(PPP(proto=0x8021) / PPP_IPCP(code=3, id=3, options=opts)))
    ipcp = pkt.layer("ipcp")
    assert ipcp.summary() == "Configuration Nak"
    assert ipcp.get("opt.ip_address") == "10.0.0.1"
    assert ipcp.get("opt.pri_dns_address") == "8.8.8.8" and ipcp.get("opt.sec_dns_address") == "8.8.4.4"
    assert pkt.values("ppp.code") == [3]
    body = bytes([2, 6, 0x00, 0x2D, 15, 1]) + bytes([132, 6, 10, 0, 0, 3])
    ipcp = decode(raw_session(cp(0x8021, 1, 4, body))).layer("ipcp")
    assert (ipcp.get("opt.compress_proto"), ipcp.get("opt.max_slot_id"), ipcp.get("opt.comp_slot_id")) == (0x2D, 15, 1)
    assert ipcp.get("opt.sec_nbns_address") == "10.0.0.3"
    assert decode(raw_session(cp(0x8021, 9, 4, b""))).layer("ipcp").summary() == "Unknown code 9"
    ipv6cp = decode(raw_session(cp(0x8057, 1, 5, bytes([1, 10]) + bytes(range(1, 9))))).layer("ipv6cp")
    assert ipv6cp.summary() == "Configuration Request"
    assert ipv6cp.get("interface_identifier") == bytes(range(1, 9))
    assert ipv6cp.proto.full_name("identifier") == "ppp.identifier"


def test_build_computes_lengths():
    lcp = REG.protocols["lcp"].layout
    built = lcp.build({"code": 1, "identifier": 7, "body": {"options": [
        {"opt.type": 1, "opt.mru": 1492}, {"opt.type": 5, "opt.magic_number": 1}]}})
    assert built == bytes.fromhex("0107000e010405d4050600000001")
    echo = lcp.build({"code": 9, "identifier": 1, "body": {"magic_number": 2, "rest": {"data": b"ab"}}})
    assert echo == bytes.fromhex("0901000a000000026162")
    pap = REG.protocols["pap"].layout.build({"code": 1, "identifier": 1, "data": {"peer_id": "bob", "password": "pw"}})
    assert pap == bytes.fromhex("0101000b03626f62027077")
    chap = REG.protocols["chap"].layout.build({"code": 1, "identifier": 2, "data": {"value": b"\1\2", "rest": {"name": "x"}}})
    assert chap == bytes.fromhex("010200080201027" + "8")
    rad = REG.protocols["radius"].layout.build({"code": 1, "id": 9, "authenticator": bytes(16), "attributes": [
        {"avp.type": 1, "User_Name": "bob"}]})
    assert rad[:4] == b"\x01\x09\x00\x19" and rad[20:] == b"\x01\x05bob"


# --- RADIUS ----------------------------------------------------------------------------------

def radius_frame(payload: bytes, sport=40000, dport=1812, src="10.0.0.1", dst="10.0.0.2"):
    return bytes(Ether(**MAC) / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload)


def avp(t, v):
    return bytes([t, 2 + len(v)]) + v


def vsa(vendor, sub):
    return avp(26, struct.pack(">I", vendor) + sub)


def rad(code, ident, auth, attrs):
    return struct.pack(">BBH", code, ident, 20 + len(attrs)) + auth + attrs


def test_radius_attributes_from_scapy():
    pkt = Radius(code=1, id=5, authenticator=bytes(range(16)), attributes=[
        RadiusAttribute(type=1, value=b"John.McGuirk"), RadiusAttribute(type=4, value=b"\x0a\x00\x00\x01"),
        RadiusAttribute(type=5, value=struct.pack(">I", 50012)), RadiusAttribute(type=61, value=struct.pack(">I", 15)),
        RadiusAttribute(type=6, value=struct.pack(">I", 2)), RadiusAttribute(type=8, value=b"\xff\xff\xff\xfe"),
        RadiusAttribute(type=30, value=b"00-19-06-EA-B8-8C"), RadiusAttribute(type=79, value=b"\x02\x00\x00\x05\x01")])
    p = decode(radius_frame(bytes(pkt)))
    r = p.layer("radius")
    assert [l.name for l in p.layers] == ["eth", "ip", "udp", "radius"]
    assert r.status == OK and r.summary() == "Access-Request id=5"
    assert (r.get("code"), r.get("id"), r.get("length"), r.get("authenticator")) == (1, 5, len(bytes(pkt)), bytes(range(16)))
    assert p.values("radius.User_Name") == ["John.McGuirk"]
    assert p.values("radius.NAS_IP_Address") == ["10.0.0.1"]
    assert p.values("radius.NAS_Port") == [50012]
    nas_port_type = r.get("NAS_Port_Type")
    assert nas_port_type == 15 and nas_port_type.name == "Ethernet"
    assert r.get("Service_Type").name == "Framed-User"
    assert p.values("radius.Framed_IP_Address") == p.values("radius.Framed-IP-Address") == ["255.255.255.254"]
    assert p.values("radius.Called_Station_Id") == ["00-19-06-EA-B8-8C"]
    assert p.values("radius.eap_fragment") == [b"\x02\x00\x00\x05\x01"]
    assert r.get_all("avp.type") == [1, 4, 5, 61, 6, 8, 30, 79]
    assert r.get_all("avp.length")[0] == 14


def test_radius_accounting_tagged_vendor_and_unknown():
    attrs = (avp(40, struct.pack(">I", 2)) + avp(49, struct.pack(">I", 1)) + avp(44, b"sess-1")
             + avp(46, struct.pack(">I", 3600)) + avp(55, struct.pack(">I", 1577058304))
             + avp(64, b"\x01\x00\x00\x03") + avp(81, b"\x01vlan10") + avp(81, b"vlan11")
             + avp(69, b"\x01\x80\x01" + bytes(16)) + avp(3, b"\x07" + bytes(range(16)))
             + vsa(311, avp(11, bytes(8)) + avp(7, struct.pack(">I", 1)) + avp(2, b"\x01E=691"))
             + vsa(9, avp(1, b"shell:priv-lvl=15")) + vsa(12345, avp(1, b"a")) + avp(200, b"zz")
             + avp(56, b"\x31\x00\x00\x7b") + avp(58, b"\x32guests") + avp(97, b"\x00\x40" + bytes(8)))
    p = decode(radius_frame(rad(4, 2, bytes(16), attrs), dport=1813))
    r = p.layer("radius")
    assert r.status == OK and r.summary() == "Accounting-Request id=2"
    assert r.get("Acct_Status_Type").name == "Stop" and r.get("Acct_Terminate_Cause").name == "User-Request"
    assert r.get("Acct_Session_Id") == "sess-1" and r.get("Acct_Session_Time") == 3600
    assert r.get("Event_Timestamp") == 1577058304
    assert (r.get("Tunnel_Type.tag"), r.get("Tunnel_Type")) == (1, 3)
    assert r.get_all("Tunnel_Private_Group_Id") == ["vlan10", "vlan11"]
    assert r.get_all("Tunnel_Private_Group_Id.tag") == [1]
    assert r.get("Tunnel_Password.tag") == 1 and len(r.get("Tunnel_Password_encrypted")) == 18
    assert p.values("radius.CHAP_Ident") == [7] and p.values("radius.CHAP_String") == [bytes(range(16))]
    assert r.get_all("avp.vendor_id") == [311, 9, 12345]
    assert r.get("MS_CHAP_Challenge") == bytes(8) and r.get("MS_MPPE_Encryption_Policy").name == "Encryption-Allowed"
    assert r.get("MS_CHAP_Error") == "\x01E=691"
    assert r.get("Cisco_AVPair") == "shell:priv-lvl=15"
    assert r.get_all("avp.vendor_type") == [11, 7, 2, 1, 1] and r.get_all("avp.vendor_len")[0] == 10
    assert r.get_all("Unknown_Attribute") == [b"a", b"zz"]
    assert (r.get("egress_vlanid_tag"), r.get("egress_vlanid")) == (0x31, 123)
    assert (r.get("egress_vlan_name_tag"), r.get("egress_vlan_name")) == (0x32, "guests")
    assert r.get("Framed_IPv6_Prefix") == b"\x00\x40" + bytes(8)


def test_radius_coa_codes_and_ports():
    for code, name, port in ((40, "Disconnect-Request", 3799), (41, "Disconnect-ACK", 3799),
                             (42, "Disconnect-NAK", 3799), (43, "CoA-Request", 3799),
                             (44, "CoA-ACK", 3799), (45, "CoA-NAK", 3799), (11, "Access-Challenge", 1645),
                             (5, "Accounting-Response", 1646)):
        p = decode(radius_frame(rad(code, 1, bytes(16), avp(101, struct.pack(">I", 503))), sport=port, dport=50000))
        assert p.layer("radius").summary() == f"{name} id=1"
        assert p.layer("radius").get("Error_Cause").name == "Session-Context-Not-Found"


def test_radius_malformed_attributes_keep_header_and_lower_layers():
    for attrs in (avp(1, b"ab") + b"\x04\x00", avp(1, b"ab") + b"\x04\x01", avp(1, b"ab") + b"\x04\x09\x01\x02",
                  avp(4, b"\x01\x02\x03"), vsa(311, b"\x01\x09ab")):
        p = decode(radius_frame(rad(1, 7, bytes(16), attrs)))
        r = p.layer("radius")
        assert r.status == MALFORMED, attrs.hex()
        assert (r.get("code"), r.get("id")) == (1, 7)
        assert all(l.status == OK for l in p.layers[:-1])
    # Length beyond the datagram (tcpdump's radius_rfc5447_invalid_length) and below 20
    p = decode(radius_frame(struct.pack(">BBH", 1, 1, 57) + bytes(16) + avp(1, b"x")))
    assert p.layer("radius").status == MALFORMED
    p = decode(radius_frame(struct.pack(">BBH", 1, 1, 12) + bytes(16)))
    assert p.layer("radius").status == MALFORMED


def test_radius_dictionary_is_data():
    d = radius_spec.load_dictionary()
    assert d.attributes[1].name == "User-Name" and d.attributes[2].encrypt == 1
    assert d.attributes[64].has_tag and d.attributes[6].values[2] == "Framed-User"
    assert d.vendors[311][0] == "Microsoft" and d.vendors[311][1][11].name == "MS-CHAP-Challenge"
    assert d.vendors[9][1][1].name == "Cisco-AVPair"
    assert radius_spec.field_name("Acct-Status-Type") == "Acct_Status_Type"
    fields = set(REG.protocols["radius"].field_names)
    for attr in d.attributes.values():
        if attr.number not in radius_spec.OVERRIDES and attr.number != 26:
            assert any(f.startswith(radius_spec.field_name(attr.name)) for f in fields), attr.name


def test_no_fallbacks_and_all_registered():
    assert not fastpath.FALLBACKS
    for name in MINE:
        assert name in REG.protocols
    assert REG.tables["udp.port"][1812].name == "radius" and REG.tables["udp.port"][3799].name == "radius"
    assert REG.tables["ethertype"][0x8863].name == "pppoed" and REG.tables["ethertype"][0x8864].name == "pppoes"
    assert REG.tables["linktype"][9].name == "ppp" and REG.tables["ppp.protocol"][0xC223].name == "chap"


# --- checks: the secret-based computations --------------------------------------------------

SECRET = b"testing123"


def signed_response(code, ident, req_auth, attrs, secret=SECRET):
    head = rad(code, ident, bytes(16), attrs)
    return head[:4] + response_authenticator(head, req_auth, secret) + head[20:]


def signed_request(code, ident, attrs, secret=SECRET):
    head = rad(code, ident, bytes(16), attrs)
    return head[:4] + request_authenticator(head, secret) + head[20:]


def with_message_authenticator(packet: bytes, secret=SECRET, auth_for_hmac=None) -> bytes:
    """Append a Message-Authenticator (RFC 3579 §3.2) to a packet with correct length."""
    body = packet[20:] + avp(80, bytes(16))
    head = struct.pack(">BBH", packet[0], packet[1], 20 + len(body)) + packet[4:20]
    blank = head[:4] + (auth_for_hmac if auth_for_hmac is not None else head[4:20]) + body
    mac = hmac.new(secret, blank, hashlib.md5).digest()
    return head + body[:-16] + mac


def run(check, payloads):
    pkts = []
    for i, (payload, sport, dport, src, dst) in enumerate(payloads, 1):
        p = decode(radius_frame(payload, sport, dport, src, dst), number=i, ts_ns=i * 1_000_000)
        check.process(p)
        pkts.append(p)
    return pkts


def test_parse_secret_and_passwords():
    assert parse_secret("testing123") == (None, b"testing123")
    assert parse_secret("10.0.0.2=s3cret") == ("10.0.0.2", b"s3cret")
    assert parse_secret("a=b=c") == (None, b"a=b=c")
    assert parse_secret("2001:db8::1=x=y") == ("2001:db8::1", b"x=y")
    assert secrets_from_args(["10.0.0.2=a", "b", "10.0.0.2=c"]) == {"10.0.0.2": [b"a", b"c"], None: [b"b"]}
    assert parse_user_password("alice=pa=ss") == ("alice", b"pa=ss")
    assert passwords_from_args(["u=p"]) == {"u": b"p"}
    with pytest.raises(ValueError):
        parse_user_password("nouser")
    assert "radius.authenticator.status" in ACCESS_FIELDS and "chap.response.status" in ACCESS_FIELDS


def test_filters_see_access_fields():
    from expert import filters
    from expert.radius_check import ACCESS_FIELDS
    assert set(ACCESS_FIELDS) <= set(filters.extra_fields())
    assert filters.field_type(REG, "radius.authenticator.status") == "str"
    flt = filters.compile_filter('ppp.code == 9 && pppoe.session_id == 0x1234 && !pppoed', REG)
    assert flt(decode(session(PPP() / PPP_LCP_Echo(code=9, id=3, magic_number=1))))
    assert not flt(decode(session(PPP() / PPP_LCP_Echo(code=10, id=3, magic_number=1))))
    flt = filters.compile_filter('radius.authenticator.status == "bad"', REG)
    pkt = decode(radius_frame(rad(2, 1, bytes(16), b""), sport=1812, dport=1))
    pkt.annotate("radius.authenticator.status", "bad")
    assert flt(pkt)


def test_password_hiding_roundtrip():
    auth = bytes(range(16))
    for pw in (b"", b"x", b"sixteen-octets!!", b"a" * 40):
        hidden = hide_password(pw, SECRET, auth)
        assert len(hidden) % 16 == 0 and reveal_password(hidden, SECRET, auth) == pw


def test_access_accept_authenticator_password_and_matching():
    req_auth = bytes(range(16, 32))
    hidden = hide_password(b"my password", SECRET, req_auth)
    request = with_message_authenticator(rad(1, 42, req_auth, avp(1, b"alice") + avp(2, hidden)))
    accept = signed_response(2, 42, req_auth, avp(18, b"Welcome"))
    forged = signed_response(2, 43, req_auth, avp(18, b"Welcome"), secret=b"wrong")
    request2 = rad(1, 43, req_auth, avp(1, b"alice"))
    check = RadiusCheck({"10.0.0.2": ["nope", "testing123"]})
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 1812)
    pkts = run(check, [(request, c[1], s[1], c[0], s[0]), (accept, s[1], c[1], s[0], c[0]),
                       (request2, c[1], s[1], c[0], s[0]), (forged, s[1], c[1], s[0], c[0])])
    req, acc, _, bad = pkts
    assert req.values("radius.Message_Authenticator.status") == ["good"]
    assert req.values("radius.User_Password") == ["my password"]
    assert req.values("radius.req") == [True] and req.values("radius.rspframe") == [2]
    assert acc.values("radius.authenticator.status") == ["good"]
    assert acc.values("radius.reqframe") == [1] and acc.values("radius.time") == [0.001]
    assert bad.values("radius.authenticator.status") == ["bad"] and bad.values("radius.reqframe") == [3]
    # no secret for this server: matched, not verified
    pkts = run(RadiusCheck({"192.0.2.9": ["x"]}), [(request, c[1], s[1], c[0], s[0]), (accept, s[1], c[1], s[0], c[0])])
    assert pkts[1].values("radius.reqframe") == [1] and pkts[1].values("radius.authenticator.status") == []
    assert pkts[0].values("radius.User_Password") == []


def test_accounting_and_coa_request_authenticators():
    acct = signed_request(4, 9, avp(40, struct.pack(">I", 1)) + avp(44, b"s1"))
    resp = signed_response(5, 9, acct[4:20], b"")
    coa = with_message_authenticator(rad(43, 3, bytes(16), avp(1, b"bob")), auth_for_hmac=bytes(16))
    coa = coa[:4] + request_authenticator(coa, SECRET) + coa[20:]
    ack = signed_response(44, 3, coa[4:20], b"")
    tampered = bytearray(signed_request(4, 10, avp(40, struct.pack(">I", 2))))
    tampered[-1] ^= 1
    check = RadiusCheck({None: [SECRET]})
    nas, srv = "10.0.0.1", "10.0.0.2"
    pkts = run(check, [(acct, 40001, 1813, nas, srv), (resp, 1813, 40001, srv, nas),
                       (coa, 50000, 3799, srv, nas), (ack, 3799, 50000, nas, srv),
                       (bytes(tampered), 40001, 1813, nas, srv)])
    assert [p.values("radius.authenticator.status") for p in pkts] == [["good"], ["good"], ["good"], ["good"], ["bad"]]
    assert pkts[2].values("radius.Message_Authenticator.status") == ["good"]
    assert pkts[3].values("radius.reqframe") == [3]


def test_duplicates():
    req = rad(1, 1, bytes(range(16)), avp(1, b"x"))
    pkts = run(RadiusCheck(), [(req, 1, 1812, "10.0.0.1", "10.0.0.2")] * 3)
    assert pkts[1].values("radius.req.dup") == [1] and pkts[2].values("radius.dup") == [1]


def test_radius_check_uses_the_headers_around_the_message():
    """The addresses and ports are those of the IP/UDP headers enclosing the RADIUS
    message (the inner ones of a tunnel), and a request quoted in an ICMP error is no request."""
    from scapy.layers.inet import ICMP
    req_auth = bytes(range(16))
    request = rad(1, 7, req_auth, avp(1, b"alice"))
    accept = signed_response(2, 7, req_auth, b"")
    outer = IP(src="198.51.100.1", dst="198.51.100.2", proto=4)
    frames = [Ether(**MAC) / outer / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40000, dport=1812) / request,
              Ether(**MAC) / IP(src="198.51.100.2", dst="198.51.100.1", proto=4)
              / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=1812, dport=40000) / accept,
              Ether(**MAC) / IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=3, code=3)
              / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40001, dport=1812) / request,
              Ether(**MAC) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40001, dport=1812) / request]
    check = RadiusCheck({"10.0.0.2": [SECRET]})     # the secret of the inner server only
    pkts = []
    for i, f in enumerate(frames, 1):
        pkts.append(decode(bytes(f), number=i, ts_ns=i * 1_000_000))
        check.process(pkts[-1])
    tunnelled_req, tunnelled_acc, icmp, req = pkts
    assert tunnelled_acc.values("radius.reqframe") == [1]
    assert tunnelled_acc.values("radius.authenticator.status") == ["good"]
    assert icmp.extra is None                        # neither a request nor a duplicate
    assert req.values("radius.req") == [True] and req.values("radius.dup") == []


def test_radius_chap_password_and_ppp_link():
    challenge = bytes(range(100, 116))
    ident = 0x21
    response = chap_md5(ident, b"letmein", challenge)
    ppp_challenge = session(PPP(proto=0xC223) / PPP_CHAP_ChallengeResponse(code=1, id=ident, value=challenge,
                                                                             optional_name=b"BRAS"))
    ppp_response = session(PPP(proto=0xC223) / PPP_CHAP_ChallengeResponse(code=2, id=ident, value=response,
                                                                            optional_name=b"alice"))
    wrong = session(PPP(proto=0xC223) / PPP_CHAP_ChallengeResponse(code=2, id=ident, value=bytes(16),
                                                                     optional_name=b"alice"))
    # the BRAS passes the challenge as the Request Authenticator (RFC 2865 §2.2)
    access = rad(1, 5, challenge, avp(1, b"alice") + avp(3, bytes([ident]) + response))
    check = AccessCheck({None: [SECRET]}, {"alice": "letmein"})
    frames = [ppp_challenge, ppp_response, radius_frame(access), wrong]
    pkts = []
    for i, f in enumerate(frames, 1):
        pkts.append(decode(f, number=i))
        check.process(pkts[-1])
    chal, resp, radius_pkt, bad = pkts
    assert resp.values("chap.challenge_frame") == [1] and resp.values("chap.response.status") == ["good"]
    assert bad.values("chap.response.status") == ["bad"]
    assert radius_pkt.values("radius.CHAP_Password.status") == ["good"]
    assert radius_pkt.values("radius.chap_challenge_frame") == [1]
    assert radius_pkt.values("radius.chap_response_frame") == [2]
    assert chal.values("chap.radius_frame") == [3]
    # CHAP-Challenge attribute instead of the authenticator, RADIUS seen before PPP
    access = rad(1, 6, bytes(16), avp(1, b"alice") + avp(3, bytes([ident]) + bytes(16)) + avp(60, challenge))
    check = AccessCheck(passwords={"alice": b"letmein"})
    radius_pkt = decode(radius_frame(access), number=1)
    check.process(radius_pkt)
    chal = decode(ppp_challenge, number=2)
    check.process(chal)
    assert radius_pkt.values("radius.CHAP_Password.status") == ["bad"]
    assert radius_pkt.values("radius.chap_challenge_frame") == [2] and chal.values("chap.radius_frame") == [1]
    # MS-CHAP responses (not 16 octets) are not judged as MD5
    ms = session(PPP(proto=0xC223) / PPP_CHAP_ChallengeResponse(code=2, id=ident, value=bytes(49), optional_name=b"alice"))
    check = ChapCheck({"alice": b"letmein"})
    for i, f in enumerate((ppp_challenge, ms), 1):
        p = decode(f, number=i)
        check.process(p)
    assert p.values("chap.challenge_frame") == [1] and p.values("chap.response.status") == []


# --- real captures ---------------------------------------------------------------------------

def _capture(rel):
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"{rel} not present")
    return path


def test_radius_localhost_with_its_secret():
    """zeek's radius_localhost.pcap was made with FreeRADIUS's default secret."""
    path = _capture("zeek+zeek/testing/btest/Traces/radius/radius_localhost.pcap")
    check = AccessCheck({"127.0.0.1": ["wrong", "testing123"]}, {"steve": "testing"})
    pkts = []
    with open_capture(path) as cap:
        for i, frame in enumerate(cap, 1):
            p = DEC.decode_from("ip", frame.data[4:], i)       # past the 4-octet NULL header
            check.process(p)
            pkts.append(p)
    by = {p.number: p for p in pkts}
    assert by[2].values("radius.authenticator.status") == ["good"]
    assert by[1].values("radius.Message_Authenticator.status") == ["good"]
    assert by[5].values("radius.User_Password") == ["testing"]
    assert by[13].values("radius.User_Password") == ["bad_password"]
    assert by[11].values("radius.CHAP_Password.status") == ["good"]
    assert by[16].values("radius.req.dup") == [15]
    statuses = [s for p in pkts for s in p.values("radius.authenticator.status")]
    assert statuses.count("good") == 7


@pytest.mark.parametrize("rel", [
    "zeek+zeek/testing/btest/Traces/pppoe.pcap",
    "the-tcpdump-group+tcpdump/tests/RADIUS.pcap",
    "the-tcpdump-group+tcpdump/tests/RADIUS-RFC4675.pcap",
    "the-tcpdump-group+tcpdump/tests/RADIUS-RFC5176.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/PPPoEDiscovery.pcap",
    "the-tcpdump-group+tcpdump/tests/pppoes.pcap",
    "ntop+nDPI/tests/cfgs/default/pcap/dlt_ppp.pcap",
])
def test_capture_layers_equal_construct(rel):
    path = _capture(rel)
    seen = set()
    with open_capture(path) as cap:
        for i, frame in enumerate(cap, 1):
            pkt = decode_frame(frame, i)
            for layer in pkt.layers:
                if layer.proto.name in MINE:
                    seen.add(layer.proto.name)
                    assert layer.status == OK, (rel, i, layer.error)
                    layer.spans
                    layer.summary()
    assert seen


def decode_frame(frame, number):
    pkt = DEC.decode(frame, number)
    for layer in pkt.layers:
        if layer.proto.name in MINE and layer.status == OK:
            assert_matches_construct(layer)
    return pkt


def test_decode_checks_radius_with_a_secret(tmp_path, capsys):
    """``protospec decode`` takes ``--radius-secret``/``--chap-password`` like ``expert``:
    the verdicts are fields for -e, -Y and the JSON annotations; without a secret the
    request/response matching still answers ``radius.reqframe``."""
    from decoder.capture import Frame, write_pcap
    from decoder.cli import main
    req_auth = bytes(range(16, 32))
    request = rad(1, 42, req_auth, avp(1, b"alice") + avp(2, hide_password(b"pw", SECRET, req_auth)))
    accept = signed_response(2, 42, req_auth, avp(18, b"Welcome"))
    request2 = rad(1, 43, req_auth, avp(1, b"alice") + avp(2, hide_password(b"pw", SECRET, req_auth)))
    forged = signed_response(2, 43, req_auth, b"", secret=b"wrong")
    frames = [radius_frame(request), radius_frame(accept, 1812, 40000, "10.0.0.2", "10.0.0.1"),
              radius_frame(request2), radius_frame(forged, 1812, 40000, "10.0.0.2", "10.0.0.1")]
    path = tmp_path / "radius.pcap"
    write_pcap(str(path), [Frame(f, 1, (i + 1) * 1_000_000, len(f)) for i, f in enumerate(frames)])
    assert main(["decode", str(path), "-T", "fields", "-e", "frame.number", "-e", "radius.reqframe",
                 "-e", "radius.authenticator.status", "-e", "radius.User_Password",
                 "--radius-secret", "10.0.0.2=testing123"]) == 0
    assert capsys.readouterr().out.splitlines() == ["1\t\t\tpw", "2\t1\tgood\t", "3\t\t\tpw", "4\t3\tbad\t"]
    assert main(["decode", str(path), "-Y", 'radius.authenticator.status == "bad"', "--radius-secret",
                 "testing123"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["4"]
    assert main(["decode", str(path), "-T", "fields", "-e", "radius.reqframe"]) == 0
    assert capsys.readouterr().out.split() == ["1", "3"]
    assert main(["decode", str(path), "--chap-password", "nouser"]) == 2
