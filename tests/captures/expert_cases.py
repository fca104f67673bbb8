"""Small captures, built with scapy, one per expert diagnosis, plus clean ones.

Each ``case_*`` function returns a :class:`Case`: the frames (seconds, bytes), the
findings ``protospec expert`` must report (``expect``: rule id -> frames it names and
text its message contains) and the rules that must stay silent.  Clean cases expect no
finding at all.  Tests write them with :func:`write` into a temporary directory; nothing
binary is committed.  Addresses are documentation ranges (RFC 5737) and locally
administered MACs, apart from two registered OUIs where a vendor name must show.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.layers.ppp import (PPP, PPP_CHAP, PPP_CHAP_ChallengeResponse, PPP_LCP_Echo, PPP_LCP_Protocol_Reject,
                              PPP_LCP_Terminate, PPP_PAP_Response, PPPoE, PPPoED, PPPoED_Tags, PPPoETag)
from scapy.layers.radius import Radius, RadiusAttribute

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from decoder.capture import Frame, write_pcap  # noqa: E402

T0 = 1_700_000_000_000_000_000
CLIENT, SERVER, ROUTER, OTHER = "192.0.2.10", "198.51.100.20", "192.0.2.1", "198.51.100.99"
CMAC, SMAC, RMAC = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:fe"
HUAWEI, VMWARE = "00:e0:fc:11:22:33", "00:50:56:44:55:66"
SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]


@dataclass
class Expect:
    frames: list | None = None            # exactly these frames (sorted), or None: not checked
    text: tuple = ()                      # substrings of the message
    severity: str | None = None


@dataclass
class Case:
    name: str
    frames: list                                        # [(seconds, bytes)]
    expect: dict = field(default_factory=dict)          # rule id -> [Expect]
    silent: tuple = ()                                  # rule ids that must not fire
    clean: bool = False                                 # no finding at all
    args: tuple = ()                                    # extra protospec expert options
    note: str = ""


def write(case_or_frames, path) -> Path:
    """Write a case's frames (or ``[(seconds, bytes)]``) as an Ethernet pcap at ``path``."""
    frames = case_or_frames.frames if isinstance(case_or_frames, Case) else case_or_frames
    path = Path(path)
    write_pcap(path, (Frame(b, 1, T0 + round(t * 1e9), len(b)) for t, b in sorted(frames, key=lambda f: f[0])))
    return path


class Tcp:
    """Frames of one TCP connection; sequence numbers relative (SYN = 0, data from 1)."""

    def __init__(self, out, cport=40000, sport=80, client=CLIENT, server=SERVER, isn_c=1000, isn_s=5000):
        self.out, self.cport, self.sport, self.client, self.server = out, cport, sport, client, server
        self.isn_c, self.isn_s = isn_c, isn_s

    def _seg(self, t, from_client, flags, seq, ack, data=b"", win=None, opts=None):
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        isn, peer = (self.isn_c, self.isn_s) if from_client else (self.isn_s, self.isn_c)
        smac, dmac = (CMAC, SMAC) if from_client else (SMAC, CMAC)
        if win is None:
            win = 64240 if "S" in flags else 502
        pkt = Ether(src=smac, dst=dmac) / IP(src=src, dst=dst) / TCP(
            sport=sp, dport=dp, flags=flags, seq=(isn + seq) % 2**32, ack=(peer + ack) % 2**32 if "A" in flags else 0,
            window=win, options=opts or []) / data
        self.out.append((t, bytes(pkt)))
        return len(self.out)

    def c(self, t, flags, seq=1, ack=1, data=b"", win=None, opts=None):
        return self._seg(t, True, flags, seq, ack, data, win, opts)

    def s(self, t, flags, seq=1, ack=1, data=b"", win=None, opts=None):
        return self._seg(t, False, flags, seq, ack, data, win, opts)

    def handshake(self, t=0.0, rtt=0.010):
        self.c(t, "S", 0, 0, opts=SYN_OPTS)
        self.s(t + rtt, "SA", 0, 1, opts=SYN_OPTS)
        self.c(t + 2 * rtt, "A", 1, 1)
        return t + 2 * rtt


def _ether(src=CMAC, dst=SMAC):
    return Ether(src=src, dst=dst)


def _arp(t, op, hwsrc, psrc, pdst, hwdst="00:00:00:00:00:00", dst=None):
    return (t, bytes(Ether(src=hwsrc, dst=dst or ("ff:ff:ff:ff:ff:ff" if op == 1 else hwdst)) /
                     ARP(op=op, hwsrc=hwsrc, psrc=psrc, pdst=pdst, hwdst=hwdst)))


def _web(out, t, cport=40100, sport=80, rtt=0.010, answer_after=0.020):
    """A complete, healthy HTTP exchange; returns the time it ends."""
    b = Tcp(out, cport=cport, sport=sport)
    t = b.handshake(t, rtt)
    req = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    b.c(t + 0.001, "PA", 1, 1, req)
    b.s(t + 0.001 + answer_after, "PA", 1, 1 + len(req), body)
    t += 0.002 + answer_after
    b.c(t + 0.001, "FA", 1 + len(req), 1 + len(body))
    b.s(t + 0.002, "FA", 1 + len(body), 2 + len(req))
    b.c(t + 0.003, "A", 2 + len(req), 2 + len(body))
    return t + 0.003


# --- TCP connection set-up ---------------------------------------------------------------------

def case_syn_unanswered():
    out = []
    _web(out, 0.0)                                     # port 80 answers: the host is up
    b = Tcp(out, cport=40001, sport=8081)
    for t in (1.0, 2.0, 4.0):                          # frames 9, 10, 11
        b.c(t, "S", 0, 0, opts=SYN_OPTS)
    return Case("syn_unanswered", out, {"tcp.syn_unanswered": [Expect(
        [9, 10, 11], ("SYN sent 3 times, no answer: port 8081 filtered", "192.0.2.10:40001 -> 198.51.100.20:8081",
                      "over 3.0 s", "answers on port 80"), "warning")]},
        silent=("tcp.retransmission", "tcp.host_unanswered", "tcp.rto_backoff"))


def case_host_unanswered():
    out = []
    b = Tcp(out, cport=40001, sport=443, server=OTHER)
    for t in (0.0, 1.0, 3.0):
        b.c(t, "S", 0, 0, opts=SYN_OPTS)
    return Case("host_unanswered", out, {"tcp.host_unanswered": [Expect(
        [1, 2, 3], ("SYN sent 3 times", "198.51.100.99:443", "no other port of 198.51.100.99 answered"))]},
        silent=("tcp.syn_unanswered", "tcp.retransmission"))


def case_connection_refused():
    out = []
    b = Tcp(out, cport=40002, sport=23)
    b.c(0.0, "S", 0, 0, opts=SYN_OPTS)
    b.s(0.010, "RA", 0, 1, win=0)
    return Case("connection_refused", out, {"tcp.connection_refused": [Expect(
        [1, 2], ("198.51.100.20 refused connections from 192.0.2.10 to port 23: SYN answered by RST",))]})


def case_handshake_incomplete():
    out = []
    b = Tcp(out, cport=40003, sport=443)
    b.c(0.0, "S", 0, 0, opts=SYN_OPTS)                # 1
    b.s(0.010, "SA", 0, 1, opts=SYN_OPTS)             # 2
    b.s(1.010, "SA", 0, 1, opts=SYN_OPTS)             # 3: the server retries, the ACK never comes
    out.append(_arp(4.0, 1, CMAC, CLIENT, ROUTER))     # 4: later traffic: the capture went on
    out.append(_arp(4.001, 2, RMAC, ROUTER, CLIENT, CMAC))
    return Case("handshake_incomplete", out, {"tcp.handshake_incomplete": [Expect(
        [1, 2, 3], ("192.0.2.10 sent SYN to 198.51.100.20:443", "SYN-ACK 2 time(s)", "never sent the final ACK"))]},
        silent=("tcp.retransmission",))


def case_half_open_reset():
    out = []
    b = Tcp(out, cport=40004, sport=22)
    b.c(0.0, "S", 0, 0, opts=SYN_OPTS)
    b.s(0.010, "SA", 0, 1, opts=SYN_OPTS)
    b.c(0.011, "R", 1, 0)
    return Case("half_open_reset", out, {"tcp.half_open_reset": [Expect([1, 2, 3], ("answered the SYN-ACK",))]},
                silent=("tcp.handshake_incomplete",))


def case_syn_retransmitted():
    out = []
    b = Tcp(out, cport=40005, sport=80)
    b.c(0.0, "S", 0, 0, opts=SYN_OPTS)                # 1
    b.c(1.0, "S", 0, 0, opts=SYN_OPTS)                # 2
    b.s(1.010, "SA", 0, 1, opts=SYN_OPTS)             # 3
    b.c(1.020, "A", 1, 1)
    b.c(1.021, "FA", 1, 1)
    b.s(1.030, "FA", 1, 2)
    b.c(1.031, "A", 2, 2)
    return Case("syn_retransmitted", out, {"tcp.syn_retransmitted": [Expect(
        [1, 2], ("needed 2 SYNs over 1.0 s",), "note")]}, silent=("tcp.retransmission",))


# --- retransmissions ------------------------------------------------------------------------

D = b"d" * 200


def case_rto_backoff():
    """One segment sent five times, gaps 0.2, 0.4, 0.8, 1.6 s, then acknowledged."""
    out = []
    b = Tcp(out, cport=40010)
    b.handshake()                                      # 1-3
    t = 0.1
    frames = []
    for gap in (0, 0.2, 0.4, 0.8, 1.6):
        t += gap
        frames.append(b.c(t, "PA", 1, 1, D))           # 4-8
    b.s(t + 0.05, "A", 1, 1 + len(D))                  # 9
    return Case("rto_backoff", out, {"tcp.rto_backoff": [Expect(
        frames, ("sent the same segment (seq 1, 200 octets) 5 times", "gaps 0.2, 0.4, 0.8, 1.6 s",
                 "timeout grew each time (RTO back-off)", "outcome: acked"), "warning")]},
        silent=("tcp.retransmission", "tcp.sender_gave_up"))


def case_sender_gave_up():
    """Doubling retransmissions, never acknowledged, then the sender resets."""
    out = []
    b = Tcp(out, cport=40011)
    b.handshake()
    t = 0.1
    frames = []
    for gap in (0, 0.25, 0.5, 1.0, 2.0):
        t += gap
        frames.append(b.c(t, "PA", 1, 1, D))           # 4-8
    b.c(t + 4.0, "RA", 1 + len(D), 1)                  # 9: gives up
    return Case("sender_gave_up", out, {"tcp.sender_gave_up": [Expect(
        frames, ("192.0.2.10 sent the same segment (seq 1, 200 octets) 5 times over 3.8 s",
                 "gaps 0.25, 0.5, 1, 2 s", "never acknowledged", "then the connection was reset"), "error")]},
        silent=("tcp.rto_backoff", "tcp.retransmission"))


def case_fast_retransmission():
    out = []
    b = Tcp(out, cport=40012, sport=80)
    b.handshake()                                      # 1-3
    b.c(0.030, "PA", 1, 1, b"GET /big HTTP/1.1\r\n\r\n")   # 4 (21 octets)
    req = 22
    for i in range(5):                                 # 5-9: segment 2 (frame 6) lost after the capture point
        b.s(0.040 + i * 0.001, "A", 1 + i * 1000, req, b"x" * 1000)
    b.c(0.050, "A", req, 1001)                         # 10
    b.c(0.051, "A", req, 1001)                         # 11 dup 1
    b.c(0.052, "A", req, 1001)                         # 12 dup 2
    b.c(0.053, "A", req, 1001)                         # 13 dup 3
    b.s(0.055, "A", 1001, req, b"x" * 1000)            # 14 fast retransmission
    b.c(0.065, "A", req, 5001)                         # 15
    return Case("fast_retransmission", out, {
        "tcp.duplicate_ack": [Expect([11, 12, 13], ("192.0.2.10:40012 sent 3 duplicate ACK(s) to 198.51.100.20:80",))],
        "tcp.fast_retransmission": [Expect([14], ("198.51.100.20:80 fast-retransmitted 1 segment(s)",))]},
        silent=("tcp.retransmission",))


def case_out_of_order():
    out = []
    b = Tcp(out, cport=40013, sport=80)
    b.handshake(rtt=0.050)                              # iRTT 100 ms
    b.s(0.200, "A", 1, 1, b"a" * 500)                  # 4
    b.s(0.201, "A", 1001, 1, b"c" * 500)               # 5: ahead
    b.s(0.202, "A", 501, 1, b"b" * 500)                # 6: late, out of order
    b.c(0.210, "A", 1, 1501)
    return Case("out_of_order", out, {"tcp.out_of_order": [Expect([6], ("arrived out of order",))],
                                      "tcp.lost_segment": [Expect([5])]})


def case_zero_window_stall():
    out = []
    b = Tcp(out, cport=40014, sport=80)
    b.handshake()
    b.s(0.100, "A", 1, 1, b"x" * 1000)                 # 4
    b.c(0.110, "A", 1, 1001, win=0)                    # 5: the client's buffer is full
    b.s(1.110, "A", 1000, 1, b"")                      # 6: zero-window probe / keep-alive
    b.c(1.120, "A", 1, 1001, win=0)                    # 7
    b.c(3.610, "A", 1, 1001, win=502)                  # 8: reopens after 3.5 s
    b.s(3.620, "A", 1001, 1, b"x" * 1000)              # 9
    b.c(3.630, "A", 1, 2001)
    return Case("zero_window_stall", out, {
        "tcp.window_stalled": [Expect([5, 8], ("192.0.2.10 kept its receive window closed for 3.5 s and then reopened",),
                                      "error")],
        "tcp.zero_window": [Expect([7], ("192.0.2.10:40014 advertised a zero receive window",))]})


def case_slow_response():
    out = []
    _web(out, 0.0, cport=40015, answer_after=3.2)
    return Case("slow_response", out, {"tcp.slow_response": [Expect(
        [4, 5], ("198.51.100.20:80 took 3.20 s to answer 192.0.2.10's first request",), "warning")]})


# --- checksums ---------------------------------------------------------------------------------

def _udp(t, sport, dport, payload=b"ping", src=CLIENT, dst=SERVER, ident=1, **kw):
    return (t, bytes(_ether() / IP(src=src, dst=dst, id=ident, **kw) / UDP(sport=sport, dport=dport) / payload))


def case_bad_checksums():
    out = [_udp(i * 0.1, 5000, 7, ident=10 + i) for i in range(3)]          # 1-3: good ones first
    out.append(_udp(0.5, 5000, 7, ident=20, chksum=0x1234))                  # 4: bad IPv4 header checksum
    b = Tcp(out, cport=40020)
    b.handshake(1.0)                                                         # 5-7
    out.append((1.1, bytes(Ether(src=CMAC, dst=SMAC) / IP(src=CLIENT, dst=SERVER) / TCP(
        sport=40020, dport=80, flags="PA", seq=1001, ack=5001, window=502, chksum=0xBEEF) / b"hello")))  # 8
    out.append((1.2, bytes(_ether() / IP(src=CLIENT, dst=SERVER, id=30) / UDP(sport=5000, dport=7, chksum=0x4321)
                           / b"ping")))                                      # 9: bad UDP checksum
    out.append((1.3, bytes(_ether() / IP(src=CLIENT, dst=SERVER, id=31) / ICMP(type=8, id=1, seq=1, chksum=0x1111)
                           / b"abcd")))                                      # 10: bad ICMP checksum
    return Case("bad_checksums", out, {
        "ip.checksum_bad": [Expect([4], ("IPv4 header checksum 0x1234 from 192.0.2.10 to 198.51.100.20 is wrong",),
                                   "error")],
        "tcp.checksum_bad": [Expect([8], ("TCP segment(s) from 192.0.2.10:40020",))],
        "udp.checksum_bad": [Expect([9], ("UDP datagram(s) from 192.0.2.10:5000",))],
        "icmp.checksum_bad": [Expect([10], ("ICMP checksum 0x1111 from 192.0.2.10 is wrong",))]},
        silent=("checksum.offload", "ip.checksum_offload"))


def case_checksum_offload():
    """The capturing host's own segments all carry the partial pseudo-header sum."""
    out = []
    b = Tcp(out, cport=40021)
    b.handshake()
    for i in range(20):
        b.c(0.05 + i * 0.01, "PA", 1 + i * 10, 1, b"0123456789")
        b.s(0.055 + i * 0.01, "A", 1, 11 + i * 10)
    # break the client's checksums the way offload leaves them: 0 in the field
    fixed = []
    for t, raw in out:
        p = Ether(raw)
        if p[IP].src == CLIENT:
            p[TCP].chksum = 0
            raw = bytes(p)
        fixed.append((t, raw))
    return Case("checksum_offload", fixed, {"checksum.offload": [Expect(None, ("192.0.2.10 sends every segment",),
                                                                         "note")]},
                silent=("tcp.checksum_bad",))


def case_rfc1122_parameter_problem():
    """A datagram with IPv4 header checksum 0xffff, answered with Parameter Problem pointer 10."""
    out = [_udp(0.0, 40600, 9, payload=b"discard me", ident=100 + i) for i in range(2)]   # 1-2: good
    bad = IP(src=CLIENT, dst=SERVER, id=0x4242, chksum=0xFFFF) / UDP(sport=40600, dport=9) / b"discard me"
    out.append((1.0, bytes(_ether() / bad)))                                               # 3
    quote = bytes(bad)[:28]
    out.append((1.010, bytes(Ether(src=SMAC, dst=CMAC) / IP(src=SERVER, dst=CLIENT, id=7) /
                             ICMP(type=12, code=0, ptr=10) / quote)))                      # 4
    return Case("rfc1122_parameter_problem", out, {"ip.bad_checksum_answered": [Expect(
        [3, 4], ("ICMP Parameter Problem pointer 10 = Header checksum (ip.checksum)",
                 "192.0.2.10 sent checksum 0xffff", "198.51.100.20 broke RFC 1122 by answering it"), "error")]},
        silent=("ip.checksum_bad", "icmp.parameter_problem"))


# --- ICMP ----------------------------------------------------------------------------------------

def case_parameter_problem():
    """Parameter Problem pointing at the TTL (octet 8) of a datagram in the capture."""
    out = [_udp(0.0, 40700, 5353, ident=0x1111, ttl=0)]                                   # 1
    quote = bytes(IP(src=CLIENT, dst=SERVER, id=0x1111, ttl=0) / UDP(sport=40700, dport=5353) / b"ping")[:28]
    out.append((0.005, bytes(Ether(src=SMAC, dst=CMAC) / IP(src=SERVER, dst=CLIENT) / ICMP(type=12, ptr=8) / quote)))
    return Case("parameter_problem", out, {"icmp.parameter_problem": [Expect(
        [1, 2], ("198.51.100.20 reports a Parameter Problem", "pointer 8 = Time to live (ip.ttl)",
                 "complained-about frame: 1"))]})


def case_icmp_unreachable():
    out = [_udp(0.0, 40800, 33435, ident=0x2222)]                                           # 1
    quote = bytes(IP(src=CLIENT, dst=SERVER, id=0x2222) / UDP(sport=40800, dport=33435) / b"ping")[:28]
    out.append((0.005, bytes(Ether(src=SMAC, dst=CMAC) / IP(src=SERVER, dst=CLIENT) / ICMP(type=3, code=3) / quote)))
    out.append(_udp(1.0, 40801, 53, dst=OTHER, ident=0x3333))                               # 3
    quote = bytes(IP(src=CLIENT, dst=OTHER, id=0x3333) / UDP(sport=40801, dport=53) / b"ping")[:28]
    out.append((1.005, bytes(Ether(src=RMAC, dst=CMAC) / IP(src=ROUTER, dst=CLIENT) / ICMP(type=3, code=1) / quote)))
    out.append(_udp(2.0, 40802, 33434, ident=0x4444, ttl=1))                                # 5
    quote = bytes(IP(src=CLIENT, dst=SERVER, id=0x4444, ttl=1) / UDP(sport=40802, dport=33434) / b"ping")[:28]
    out.append((2.002, bytes(Ether(src=RMAC, dst=CMAC) / IP(src=ROUTER, dst=CLIENT) / ICMP(type=11, code=0) / quote)))
    return Case("icmp_unreachable", out, {
        "icmp.port_unreachable": [Expect([1, 2], ("198.51.100.20: port 33435 unreachable for "
                                                  "192.0.2.10:40800 -> 198.51.100.20:33435",))],
        "icmp.host_unreachable": [Expect([3, 4], ("192.0.2.1: host 198.51.100.99 unreachable (code 1)",))],
        "icmp.ttl_exceeded": [Expect([5, 6], ("1 datagram(s) from 192.0.2.10 to 198.51.100.20 expired in transit",),
                                     "note")]},
        silent=("icmp.net_unreachable",))


# --- FTP ---------------------------------------------------------------------------------------------

def case_ftp_passive_nat():
    out = []
    ftp_server = "192.0.2.2"
    b = Tcp(out, cport=40900, sport=21, server=ftp_server)
    t = b.handshake()                                              # 1-3
    banner = b"220 FTP ready\r\n"
    b.s(t + 0.01, "PA", 1, 1, banner)                              # 4
    pasv = b"PASV\r\n"
    b.c(t + 0.02, "PA", 1, 1 + len(banner), pasv)                  # 5
    reply = b"227 Entering Passive Mode (192,0,2,65,195,80).\r\n"  # 192.0.2.65:50000
    b.s(t + 0.03, "PA", 1 + len(banner), 1 + len(pasv), reply)     # 6
    d = Tcp(out, cport=40901, sport=50000, server="192.0.2.65")
    for dt in (0.04, 1.04, 3.04):                                  # 7-9: the advertised address never answers
        d.c(t + dt, "S", 0, 0, opts=SYN_OPTS)
    out.append(_arp(t + 10.0, 1, CMAC, CLIENT, ROUTER))            # 10: the capture goes on
    return Case("ftp_passive_nat", out, {
        "ftp.passive_address_mismatch": [Expect([6], (
            "FTP server advertises 192.0.2.65 in its 227 reply but lives at 192.0.2.2",), "warning")],
        "ftp.data_connection_failed": [Expect([6, 7], (
            "192.0.2.10 could not open the FTP data connection to 192.0.2.65:50000",), "error")]},
        silent=("tcp.host_unanswered", "tcp.retransmission"))


def case_ftp_errors():
    out = []
    b = Tcp(out, cport=40902, sport=21)
    t = b.handshake()
    b.s(t + 0.01, "PA", 1, 1, b"220 ready\r\n")
    b.c(t + 0.02, "PA", 1, 12, b"USER bob\r\n")
    b.s(t + 0.03, "PA", 12, 11, b"331 password please\r\n")
    b.c(t + 0.04, "PA", 11, 33, b"PASS nope\r\n")
    b.s(t + 0.05, "PA", 33, 22, b"530 Login incorrect.\r\n")         # 8
    b.s(t + 0.06, "PA", 55, 22, b"421 Too many users, closing control connection.\r\n")   # 9
    return Case("ftp_errors", out, {
        "ftp.login_failed": [Expect([8], ("refused the login of 192.0.2.10: 530 Login incorrect.",))],
        "ftp.service_unavailable": [Expect([9], ("421 Too many users",), "error")]},
        silent=("ftp.error_reply",))


# --- DNS ---------------------------------------------------------------------------------------------

DNS_SERVER = "198.51.100.53"


def _dns(t, qid, name, sport, response=False, rcode=0, answer=None, src=CLIENT, dst=DNS_SERVER):
    if response:
        src, dst = dst, src
        udp = UDP(sport=53, dport=sport)
        dns = DNS(id=qid, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=name),
                  an=[DNSRR(rrname=name, rdata=answer, ttl=60)] if answer else [])
    else:
        udp = UDP(sport=sport, dport=53)
        dns = DNS(id=qid, rd=1, qd=DNSQR(qname=name))
    return (t, bytes(_ether() / IP(src=src, dst=dst) / udp / dns))


def case_dns_problems():
    out = [
        _dns(0.0, 0x1001, "nosuch.example.com", 50001),                               # 1
        _dns(0.02, 0x1001, "nosuch.example.com", 50001, True, rcode=3),                # 2 NXDOMAIN
        _dns(0.1, 0x1002, "broken.example.com", 50002),                               # 3
        _dns(0.15, 0x1002, "broken.example.com", 50002, True, rcode=2),                # 4 SERVFAIL
        _dns(0.2, 0x1003, "lost.example.com", 50003),                                 # 5 never answered
        _dns(0.3, 0x1004, "slow.example.com", 50004),                                 # 6
        _dns(1.8, 0x1004, "slow.example.com", 50004, True, answer="192.0.2.80"),       # 7 after 1.5 s
        _dns(5.0, 0x1005, "www.example.com", 50005),                                  # 8 fine
        _dns(5.01, 0x1005, "www.example.com", 50005, True, answer="192.0.2.81"),       # 9
    ]
    return Case("dns_problems", out, {
        "dns.nxdomain": [Expect([2], ("198.51.100.53 answered NXDOMAIN: nosuch.example.com does not exist",), "note")],
        "dns.servfail": [Expect([4], ("198.51.100.53 answered SERVFAIL for broken.example.com",), "warning")],
        "dns.unanswered": [Expect([5], ("198.51.100.53 did not answer 192.0.2.10's query for lost.example.com",))],
        "dns.slow_answer": [Expect([6, 7], ("198.51.100.53 took 1.50 s to answer slow.example.com",))]})


# --- RADIUS ------------------------------------------------------------------------------------------

NAS, RADIUS_SERVER = "192.0.2.30", "198.51.100.12"
SECRET = b"testing123"


def _radius(t, code, rid, auth, attrs=(), request=True, sport=40950, secret=None, request_auth=None):
    pkt = Radius(code=code, id=rid, authenticator=auth, attributes=[RadiusAttribute(type=k, value=v) for k, v in attrs])
    raw = bytes(pkt)
    if secret is not None:       # a response authenticator (RFC 2865 §3)
        digest = hashlib.md5(raw[:4] + request_auth + raw[20:] + secret).digest()
        raw = raw[:4] + digest + raw[20:]
    src, dst = (NAS, RADIUS_SERVER) if request else (RADIUS_SERVER, NAS)
    udp = UDP(sport=sport, dport=1812) if request else UDP(sport=1812, dport=sport)
    return (t, bytes(_ether() / IP(src=src, dst=dst) / udp / raw))


def case_radius_problems():
    a1, a2, a3 = b"\x11" * 16, b"\x22" * 16, b"\x33" * 16
    out = [
        _radius(0.0, 1, 7, a1, [(1, b"alice")]),                                      # 1 Access-Request
        _radius(0.05, 3, 7, b"\0" * 16, [(18, b"Wrong password")], request=False,
                secret=SECRET, request_auth=a1),                                       # 2 Access-Reject
        _radius(1.0, 1, 8, a2, [(1, b"bob")], sport=40951),                           # 3
        _radius(4.0, 1, 8, a2, [(1, b"bob")], sport=40951),                           # 4 retransmission
        _radius(12.0, 1, 9, a3, [(1, b"carol")], sport=40952),                        # 5
        _radius(12.05, 2, 9, b"\0" * 16, [], request=False, secret=b"other-secret",
                request_auth=a3, sport=40952),                                         # 6 bad authenticator
    ]
    return Case("radius_problems", out, {
        "radius.access_reject_user": [Expect([1, 2], (
            "RADIUS server 198.51.100.12 rejected user alice from NAS 192.0.2.30: Wrong password",), "warning")],
        "radius.unanswered": [Expect([3], ("RADIUS server 198.51.100.12:1812 did not answer 192.0.2.30",))],
        "radius.retransmission": [Expect([4], ("192.0.2.30 retransmitted RADIUS request id 8",))],
        "radius.authenticator_bad": [Expect([6], ("does not verify with the shared secret",), "error")]},
        silent=("radius.access_reject",), args=("--radius-secret", SECRET.decode()))


# --- PPPoE and PPP -------------------------------------------------------------------------------------

AC_MAC = "02:00:00:00:00:ac"


def case_ppp_problems():
    host = CMAC
    out = [
        (0.0, bytes(Ether(src=host, dst="ff:ff:ff:ff:ff:ff") / PPPoED(code=0x09) /
                    PPPoED_Tags(tag_list=[PPPoETag(tag_type=0x0101, tag_value=b"internet")]))),     # 1 PADI
        (8.0, bytes(Ether(src=AC_MAC, dst=host) / PPPoED(code=0xA7, sessionid=0x11) /
                    PPPoED_Tags(tag_list=[PPPoETag(tag_type=0x0203, tag_value=b"RADIUS server timeout")]))),  # 2 PADT
        (9.0, bytes(Ether(src=host, dst=AC_MAC) / PPPoE(sessionid=0x12) / PPP(proto=0xC021) /
                    PPP_LCP_Echo(code=9, id=5, magic_number=0x01020304))),                              # 3 echo
        (20.0, bytes(Ether(src=host, dst=AC_MAC) / PPPoE(sessionid=0x13) / PPP(proto=0xC223) /
                     PPP_CHAP_ChallengeResponse(code=2, id=1, value=b"r" * 16, optional_name=b"bob"))),  # 4
        (20.1, bytes(Ether(src=AC_MAC, dst=host) / PPPoE(sessionid=0x13) / PPP(proto=0xC223) /
                     PPP_CHAP(code=4, id=1, data=b"Authentication failed"))),                            # 5
        (21.0, bytes(Ether(src=AC_MAC, dst=host) / PPPoE(sessionid=0x14) / PPP(proto=0xC023) /
                     PPP_PAP_Response(code=3, id=2, message=b"Bad password"))),                          # 6
    ]
    return Case("ppp_problems", out, {
        "pppoe.padi_unanswered": [Expect([1], ("02:00:00:00:00:01 broadcast a PADI (service internet)",))],
        "pppoe.padt_error": [Expect([2], ("terminated PPPoE session 17", "RADIUS server timeout"))],
        "lcp.echo_unanswered": [Expect([3], ("LCP Echo-Request from 02:00:00:00:00:01 (id 5) not answered",))],
        "chap.failure_user": [Expect([4, 5], ("CHAP authentication of user bob failed: Authentication failed",),
                                     "error")],
        "pap.failure": [Expect([6], ("PAP authentication failed", "Bad password"))]},
        silent=("chap.failure",))


# --- ARP -------------------------------------------------------------------------------------------------

def case_arp_problems():
    out = [
        _arp(0.0, 1, CMAC, CLIENT, "192.0.2.77"),          # 1
        _arp(1.0, 1, CMAC, CLIENT, "192.0.2.77"),          # 2: asks again: no answer came
        _arp(2.0, 1, CMAC, CLIENT, "192.0.2.77"),          # 3
        _arp(5.0, 2, HUAWEI, "192.0.2.50", CLIENT, CMAC),  # 4: 192.0.2.50 is at a Huawei card ...
        _arp(6.0, 2, VMWARE, "192.0.2.50", CLIENT, CMAC),  # 5: ... and at a VMware one
        _arp(9.0, 1, CMAC, CLIENT, ROUTER),                # 6
        _arp(9.001, 2, RMAC, ROUTER, CLIENT, CMAC),        # 7
    ]
    return Case("arp_problems", out, {
        "arp.unanswered": [Expect([1, 2, 3], ("192.0.2.10 (02:00:00:00:00:01) asked who has 192.0.2.77",))],
        "arp.duplicate_address": [Expect([4, 5], (
            "Duplicate IP address 192.0.2.50: claimed by 00:e0:fc:11:22:33 (HUAWEI",
            "and by 00:50:56:44:55:66 (VMware"), "warning")]})


# --- the remaining rules, a few per capture --------------------------------------------------------------

def case_tcp_misc():
    """A simultaneous open, a SYN+FIN, a spurious retransmission, a full window, an ACK for
    unseen data, and a connection that resets mid-way."""
    out = []
    a = Tcp(out, cport=42000, sport=42001, server=OTHER)
    a.c(0.0, "S", 0, 0, opts=SYN_OPTS)                           # 1
    a.s(0.001, "S", 0, 0, opts=SYN_OPTS)                         # 2: the other end opens too
    b = Tcp(out, cport=42002, sport=80)
    b.c(0.1, "SF", 0, 0)                                         # 3: SYN+FIN
    c = Tcp(out, cport=42003, sport=80)
    c.c(0.2, "S", 0, 0, opts=[("MSS", 1460)])                    # 4 (no window scaling)
    c.s(0.21, "SA", 0, 1, opts=[("MSS", 1460)])                  # 5
    c.c(0.22, "A", 1, 1, win=1000)                               # 6
    c.s(0.23, "A", 1, 1, b"w" * 1000)                            # 7: fills the 1000-octet window
    c.c(0.24, "A", 1, 1001, win=1000)                            # 8
    c.s(0.25, "A", 1, 1, b"w" * 1000)                            # 9: already acknowledged: spurious
    c.c(0.26, "A", 1, 3001, win=1000)                            # 10: ACKs data never seen
    return Case("tcp_misc", out, {
        "tcp.simultaneous_open": [Expect([1], ("both sent a SYN",))],
        "tcp.syn_with_fin_or_rst": [Expect([3], ("sent a SYN with FIN or RST set to 198.51.100.20:80",))],
        "tcp.window_full": [Expect([7], ("198.51.100.20:80 filled the receive window of 192.0.2.10:42003",))],
        "tcp.spurious_retransmission": [Expect([9], ("198.51.100.20:80 resent 1 segment(s)",))],
        "tcp.ack_lost_segment": [Expect([10], ("192.0.2.10:42003 acknowledged data from 198.51.100.20:80",))]})


def _icmp_error(t, kind, code, quoted, src=ROUTER, **icmp):
    quote = bytes(quoted)[:28]
    return (t, bytes(Ether(src=RMAC, dst=CMAC) / IP(src=src, dst=CLIENT) / ICMP(type=kind, code=code, **icmp) / quote))


def case_icmp_misc():
    q = IP(src=CLIENT, dst=OTHER, id=0x77) / UDP(sport=41000, dport=53) / b"q"
    big = IP(src=CLIENT, dst=OTHER, id=0x78, flags="DF") / UDP(sport=41001, dport=9) / (b"b" * 1400)
    out = [
        _icmp_error(0.0, 3, 0, q),                                         # 1 net unreachable
        _icmp_error(0.1, 3, 13, q),                                        # 2 administratively filtered
        _icmp_error(0.2, 3, 2, q),                                         # 3 protocol unreachable
        _icmp_error(0.3, 3, 4, big, nexthopmtu=1280),                      # 4 fragmentation needed
        _icmp_error(0.4, 11, 1, q, src=OTHER),                             # 5 reassembly time exceeded
        _icmp_error(0.5, 5, 1, q, gw="192.0.2.254"),                       # 6 redirect
        _icmp_error(0.6, 4, 0, q),                                         # 7 source quench
    ]
    return Case("icmp_misc", out, {
        "icmp.net_unreachable": [Expect([1], ("192.0.2.1: no route to 198.51.100.99 (code 0)",))],
        "icmp.admin_prohibited": [Expect([2], ("192.0.2.1 filters 192.0.2.10 -> 198.51.100.99 port 53 (code 13)",))],
        "icmp.protocol_unreachable": [Expect([3], ("protocol 17 unreachable on 198.51.100.99",))],
        "icmp.frag_needed": [Expect([4], ("needs fragmenting but has DF set; next-hop MTU 1280",), "note")],
        "icmp.reassembly_timeout": [Expect([5], ("198.51.100.99 could not reassemble a datagram from 192.0.2.10",))],
        "icmp.redirect": [Expect([6], ("to gateway 192.0.2.254",))],
        "icmp.source_quench": [Expect([7], ("asks 192.0.2.10 to slow down",))]})


def case_ip_fragments():
    """A DNS answer too big for one frame: the first arrives whole, the second loses its
    middle fragment; a big ping whose fragments come last-first is complete."""
    def answer(qid):
        names = [f"host{i}.example.com" for i in range(40)]
        return (IP(src=DNS_SERVER, dst=CLIENT, id=qid) / UDP(sport=53, dport=50010)
                / DNS(id=qid, qr=1, qd=DNSQR(qname="example.com"),
                      an=[DNSRR(rrname=n, rdata=f"192.0.2.{i + 1}") for i, n in enumerate(names)]))
    whole = fragment(answer(0x0a01), fragsize=600)                  # frames 1-3
    lost = fragment(answer(0x0a02), fragsize=600)                   # frames 4-5: the middle one is lost
    ping = IP(src=CLIENT, dst=SERVER, id=0x0b01) / ICMP(id=1, seq=1) / (b"p" * 2000)
    out = [(0.0 + i * 0.001, bytes(_ether(SMAC, CMAC) / f)) for i, f in enumerate(whole)]
    out += [(1.0 + i * 0.001, bytes(_ether(SMAC, CMAC) / f)) for i, f in enumerate([lost[0], lost[2]])]
    out += [(2.0 + i * 0.001, bytes(_ether() / f)) for i, f in enumerate(reversed(fragment(ping, fragsize=1480)))]
    out.append(_dns(40.0, 0x0a03, "www.example.com", 50011))        # 8: the capture goes on
    out.append(_dns(40.01, 0x0a03, "www.example.com", 50011, True, answer="192.0.2.81"))
    return Case("ip_fragments", out, {
        "ip.fragments_incomplete": [Expect([4], ("Datagram 198.51.100.53 -> 192.0.2.10 (IP ID 0x0a02, protocol 17) "
                                                 "was sent in fragments and never completed within 30 s",))]})


def case_ppp_misc():
    host = CMAC
    out = [
        (0.0, bytes(Ether(src=AC_MAC, dst=host) / PPPoED(code=0x65) /
                    PPPoED_Tags(tag_list=[PPPoETag(tag_type=0x0201, tag_value=b"Unknown service")]))),   # 1 PADS
        (1.0, bytes(Ether(src=AC_MAC, dst=host) / PPPoE(sessionid=0x31) / PPP(proto=0xC021) /
                    PPP_LCP_Protocol_Reject(code=8, id=2, rejected_protocol=0x8057))),                    # 2
        (2.0, bytes(Ether(src=AC_MAC, dst=host) / PPPoE(sessionid=0x31) / PPP(proto=0xC021) /
                    PPP_LCP_Terminate(code=5, id=3, data=b"Idle timeout"))),                              # 3
    ]
    return Case("ppp_misc", out, {
        "pppoe.discovery_error": [Expect([1], ("02:00:00:00:00:ac answered 02:00:00:00:00:01 with an error: "
                                               "Unknown service",))],
        "lcp.protocol_reject": [Expect([2], ("rejected PPP protocol 0x8057",))],
        "lcp.terminated": [Expect([3], ("closed the PPP link (LCP Terminate-Request): Idle timeout",))]})


def case_auth_passwords():
    """CHAP and RADIUS CHAP-Password checked against a known password (--chap-password)."""
    challenge, ident = b"c" * 16, 7
    wrong = hashlib.md5(bytes([ident]) + b"not-the-password" + challenge).digest()
    out = [
        (0.0, bytes(Ether(src=AC_MAC, dst=CMAC) / PPPoE(sessionid=0x41) / PPP(proto=0xC223) /
                    PPP_CHAP_ChallengeResponse(code=1, id=ident, value=challenge, optional_name=b"bras"))),  # 1
        (0.1, bytes(Ether(src=CMAC, dst=AC_MAC) / PPPoE(sessionid=0x41) / PPP(proto=0xC223) /
                    PPP_CHAP_ChallengeResponse(code=2, id=ident, value=wrong, optional_name=b"erin"))),      # 2
        _radius(0.2, 1, 11, challenge, [(1, b"erin"), (3, bytes([ident]) + wrong)], sport=40960),          # 3
        _radius(0.25, 2, 11, b"\0" * 16, [], request=False, sport=40960, secret=SECRET, request_auth=challenge),
    ]
    return Case("auth_passwords", out, {
        "chap.response_bad": [Expect([2], ("The CHAP response of erin does not match the password given",))],
        "radius.chap_password_bad": [Expect([3], ("The CHAP-Password of erin in the request from 192.0.2.30",))]},
        args=("--chap-password", "erin=secret", "--radius-secret", SECRET.decode()))


def case_ftp_misc():
    out = []
    b = Tcp(out, cport=40903, sport=21)
    t = b.handshake()
    b.s(t + 0.01, "PA", 1, 1, b"425 Can't open data connection.\r\n")          # 4 (33 octets)
    b.s(t + 0.02, "PA", 34, 1, b"550 No such file.\r\n")                        # 5
    b.c(t + 0.03, "A", 1, 53)
    return Case("ftp_misc", out, {
        "ftp.data_connection_error": [Expect([4], ("could not use the data connection with 192.0.2.10: 425",))],
        "ftp.error_reply": [Expect([5], ("replied 550 No such file. to 192.0.2.10",), "note")]})


def case_dns_refused():
    out = [_dns(0.0, 0x3001, "corp.example", 50020), _dns(0.01, 0x3001, "corp.example", 50020, True, rcode=5)]
    return Case("dns_refused", out, {"dns.refused": [Expect([2], ("198.51.100.53 refused to answer 192.0.2.10",))]})


def case_fallbacks():
    """The plain forms: a retransmission, an ICMP error answering a bad checksum, a reject
    and a CHAP failure whose requests are not in the capture, zeroed IPv4 checksums."""
    out = []
    b = Tcp(out, cport=43000)
    b.handshake()                                                             # 1-3
    b.c(0.1, "PA", 1, 1, D)                                                   # 4
    b.c(0.4, "PA", 1, 1, D)                                                   # 5: once again
    b.s(0.41, "A", 1, 1 + len(D))                                             # 6
    out.append(_udp(1.0, 43001, 7, ident=0x61))                               # 7: good
    bad = IP(src=CLIENT, dst=SERVER, id=0x62, chksum=0x0bad) / UDP(sport=43001, dport=7) / b"ping"
    out.append((1.1, bytes(_ether() / bad)))                                  # 8
    out.append((1.11, bytes(Ether(src=SMAC, dst=CMAC) / IP(src=SERVER, dst=CLIENT) / ICMP(type=3, code=3) /
                            bytes(bad)[:28])))                                # 9
    out.append(_radius(2.0, 3, 40, b"\0" * 16, [], request=False, sport=43002))   # 10
    out.append((3.0, bytes(Ether(src=AC_MAC, dst=CMAC) / PPPoE(sessionid=0x51) / PPP(proto=0xC223) /
                           PPP_CHAP(code=4, id=9, data=b"E=691 R=0"))))        # 11
    for i in range(20):                                                       # 12-31: checksums zeroed
        raw = bytearray(bytes(Ether(src=SMAC, dst=CMAC) / IP(src="198.51.100.40", dst=CLIENT, id=0x100 + i) /
                              UDP(sport=9999, dport=43003) / b"data"))
        raw[24:26] = b"\0\0"
        out.append((4.0 + i * 0.01, bytes(raw)))
    return Case("fallbacks", out, {
        "tcp.retransmission": [Expect([5], ("192.0.2.10:43000 retransmitted 1 segment(s) to 198.51.100.20:80",))],
        "ip.bad_checksum_answered_icmp": [Expect([8, 9], (
            "198.51.100.20 answered frame 8 (192.0.2.10 -> 198.51.100.20, bad header checksum 0x0bad",
            "with ICMP type 3 code 3 instead of silently discarding it"))],
        "radius.access_reject": [Expect([10], ("rejected a request from 192.0.2.30 (id 40): no Reply-Message",))],
        "chap.failure": [Expect([11], ("CHAP authentication failed on 02:00:00:00:00:01: E=691 R=0",))],
        "ip.checksum_offload": [Expect(None, ("198.51.100.40 sends every IPv4 header with a wrong or zero checksum",))]},
        silent=("icmp.port_unreachable", "ip.checksum_bad"))


# --- clean captures --------------------------------------------------------------------------------------

def case_clean_office():
    """A healthy session: ARP, DNS, two web fetches, a ping, RADIUS accept, PPPoE discovery."""
    out = [_arp(0.0, 1, CMAC, CLIENT, ROUTER), _arp(0.001, 2, RMAC, ROUTER, CLIENT, CMAC),
           _dns(0.01, 0x2001, "www.example.com", 50010),
           _dns(0.03, 0x2001, "www.example.com", 50010, True, answer=SERVER)]
    _web(out, 0.1, cport=41000)
    _web(out, 0.5, cport=41001, sport=443)
    out.append((1.0, bytes(_ether() / IP(src=CLIENT, dst=SERVER, id=50) / ICMP(type=8, id=9, seq=1) / b"ping")))
    out.append((1.01, bytes(Ether(src=SMAC, dst=CMAC) / IP(src=SERVER, dst=CLIENT, id=51) /
                            ICMP(type=0, id=9, seq=1) / b"ping")))
    a = b"\x44" * 16
    out.append(_radius(2.0, 1, 3, a, [(1, b"dave")], sport=41100))
    out.append(_radius(2.02, 2, 3, b"\0" * 16, [], request=False, sport=41100, secret=SECRET, request_auth=a))
    out.append((3.0, bytes(Ether(src=CMAC, dst="ff:ff:ff:ff:ff:ff") / PPPoED(code=0x09) /
                           PPPoED_Tags(tag_list=[PPPoETag(tag_type=0x0101, tag_value=b"")]))))
    out.append((3.01, bytes(Ether(src=AC_MAC, dst=CMAC) / PPPoED(code=0x07) /
                            PPPoED_Tags(tag_list=[PPPoETag(tag_type=0x0101, tag_value=b""),
                                                  PPPoETag(tag_type=0x0102, tag_value=b"bras1")]))))
    out.append((3.02, bytes(Ether(src=CMAC, dst=AC_MAC) / PPPoE(sessionid=0x21) / PPP(proto=0xC021) /
                            PPP_LCP_Echo(code=9, id=1, magic_number=1))))
    out.append((3.03, bytes(Ether(src=AC_MAC, dst=CMAC) / PPPoE(sessionid=0x21) / PPP(proto=0xC021) /
                            PPP_LCP_Echo(code=10, id=1, magic_number=2))))
    out.append(_arp(10.0, 1, CMAC, CLIENT, ROUTER))
    out.append(_arp(10.001, 2, RMAC, ROUTER, CLIENT, CMAC))
    return Case("clean_office", out, clean=True, args=("--radius-secret", SECRET.decode()))


def case_clean_bulk_transfer():
    """A long healthy download with delayed ACKs, window updates and a graceful close."""
    out = []
    b = Tcp(out, cport=41200, sport=80)
    t = b.handshake()
    req = b"GET /file HTTP/1.1\r\n\r\n"
    b.c(t + 0.001, "PA", 1, 1, req)
    seq = 1
    t += 0.012
    for i in range(200):
        b.s(t, "A", seq, 1 + len(req), b"z" * 1400)
        seq += 1400
        if i % 2:
            b.c(t + 0.0005, "A", 1 + len(req), seq)
        t += 0.001
    b.s(t, "FA", seq, 1 + len(req))
    b.c(t + 0.001, "FA", 1 + len(req), seq + 1)
    b.s(t + 0.002, "A", seq + 1, 2 + len(req))
    return Case("clean_bulk_transfer", out, clean=True)


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_") and callable(fn)}


if __name__ == "__main__":        # write them all, for trying protospec expert by hand
    import argparse
    ap = argparse.ArgumentParser(description="write the expert test captures")
    ap.add_argument("directory")
    args = ap.parse_args()
    d = Path(args.directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, fn in CASES.items():
        print(write(fn(), d / f"{name}.pcap"))
