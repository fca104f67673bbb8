"""Small captures, built with scapy, for every TCP analysis flag and every Zeek ``conn_state``.

Each ``case_*`` function returns a :class:`Case`: the frames (time, bytes), the analysis
flags expected on each frame (``flags``: frame number -> set of Wireshark flag names,
every other frame must have none), and for connection-level cases the expected
``conn_state`` / ``history``.  The expectations were checked against tshark 4.0.17
(flags) and derived from Zeek's ``TCPSessionAdapter`` and Zeek's own baseline for
``conn_state-RST-behavior`` (states and histories).  Tests write them with
:func:`write` into a temporary directory; nothing binary is committed.

Sequence numbers are given relative (the SYN is 0, the first data octet 1), as tshark
shows them; the builder adds the initial sequence numbers.
"""
from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from decoder.capture import Frame, write_pcap  # noqa: E402

T0 = 1_700_000_000_000_000_000
CLIENT, SERVER = "192.0.2.10", "198.51.100.20"
CLIENT6, SERVER6 = "2001:db8::10", "2001:db8::20"
CMAC, SMAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
ISN_C, ISN_S = 1_000_000, 5_000_000


@dataclass
class Case:
    name: str
    frames: list                      # [(seconds, bytes)]
    flags: dict = field(default_factory=dict)        # frame -> {flag names}
    values: dict = field(default_factory=dict)       # frame -> {field: value}
    conn_state: str | None = None
    history: str | None = None
    note: str = ""


class Builder:
    """Frames of TCP conversations between a client and a server (relative numbers)."""

    def __init__(self, cport=40000, sport=80, client=CLIENT, server=SERVER, isn_c=ISN_C, isn_s=ISN_S,
                 cwin=1000, swin=1000):
        self.cport, self.sport = cport, sport
        self.client, self.server = client, server
        self.isn_c, self.isn_s = isn_c, isn_s
        self.cwin, self.swin = cwin, swin
        self.frames = []

    def _ip(self, src, dst):
        if ":" in src:
            return Ether(src=CMAC, dst=SMAC, type=0x86DD) / IPv6(src=src, dst=dst)
        return Ether(src=CMAC, dst=SMAC) / IP(src=src, dst=dst)

    def c(self, t, flags, seq=None, ack=None, data=b"", win=None, opts=None, chksum=None):
        """A segment from the client; returns its frame number (1-based)."""
        return self._add(t, True, flags, seq, ack, data, win, opts, chksum)

    def s(self, t, flags, seq=None, ack=None, data=b"", win=None, opts=None, chksum=None):
        return self._add(t, False, flags, seq, ack, data, win, opts, chksum)

    def _add(self, t, from_client, flags, seq, ack, data, win, opts, chksum):
        if seq is None:
            seq = 0 if "S" in flags else 1
        if ack is None:
            ack = 0 if flags in ("S",) else 1
        isn, peer_isn = (self.isn_c, self.isn_s) if from_client else (self.isn_s, self.isn_c)
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        kw = {}
        if chksum is not None:
            kw["chksum"] = chksum
        tcp = TCP(sport=sp, dport=dp, flags=flags, seq=(isn + seq) % 2**32,
                  ack=(peer_isn + ack) % 2**32 if "A" in flags else 0,
                  window=win if win is not None else (self.cwin if from_client else self.swin),
                  options=opts or [], **kw)
        self.frames.append((t, bytes(self._ip(src, dst) / tcp / data)))
        return len(self.frames)

    def handshake(self, t=0.0, rtt=0.010, copts=None, sopts=None):
        self.c(t, "S", opts=copts)
        self.s(t + rtt, "SA", ack=1, opts=sopts)
        self.c(t + 2 * rtt, "A")
        return t + 2 * rtt


def write(frames, path) -> Path:
    """Write ``[(seconds, bytes)]`` as a pcap (Ethernet) at ``path``."""
    path = Path(path)
    write_pcap(path, (Frame(b, 1, T0 + round(t * 1e9), len(b)) for t, b in frames))
    return path


D = b"x" * 100


# --- one case per analysis flag -------------------------------------------------------

def case_retransmission(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)                 # 4
    b.c(0.031, "PA", 101, 1, D)               # 5
    b.c(0.300, "PA", 1, 1, D)                 # 6: RTO retransmission of frame 4
    b.s(0.310, "A", 1, 201)                   # 7
    return Case("retransmission", b.frames, {6: {"retransmission"}},
                {6: {"tcp.analysis.rto": 0.270, "tcp.analysis.rto_frame": 4},
                 7: {"tcp.analysis.acks_frame": 5}})


def case_fast_retransmission(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)                 # 4
    b.c(0.031, "PA", 101, 1, D)               # 5 (lost on the way, say)
    b.c(0.032, "PA", 201, 1, D)               # 6
    b.s(0.040, "A", 1, 101)                   # 7
    b.s(0.041, "A", 1, 101)                   # 8 dup 1
    b.s(0.042, "A", 1, 101)                   # 9 dup 2
    b.c(0.050, "PA", 101, 1, D)               # 10 fast retransmission (8 ms after the last dup)
    b.s(0.060, "A", 1, 301)                   # 11
    return Case("fast_retransmission", b.frames,
                {8: {"duplicate_ack"}, 9: {"duplicate_ack"}, 10: {"fast_retransmission", "retransmission"}},
                {8: {"tcp.analysis.duplicate_ack_num": 1, "tcp.analysis.duplicate_ack_frame": 7},
                 9: {"tcp.analysis.duplicate_ack_num": 2, "tcp.analysis.duplicate_ack_frame": 7}})


def case_spurious_retransmission(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)                 # 4
    b.s(0.040, "A", 1, 101)                   # 5
    b.c(0.300, "PA", 1, 1, D)                 # 6: already acknowledged
    return Case("spurious_retransmission", b.frames, {6: {"spurious_retransmission", "retransmission"}})


def case_out_of_order(cport=40000):
    b = Builder(cport=cport)
    b.handshake(rtt=0.010)                    # iRTT 20 ms: the out-of-order window
    b.c(0.030, "PA", 1, 1, D)                 # 4
    b.c(0.031, "PA", 201, 1, D)               # 5 a hole: previous segment not captured
    b.c(0.035, "PA", 101, 1, D)               # 6 the hole filled 4 ms later: out of order
    b.s(0.045, "A", 1, 301)                   # 7
    return Case("out_of_order", b.frames, {5: {"lost_segment"}, 6: {"out_of_order"}})


def case_lost_segment(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)
    b.c(0.031, "PA", 301, 1, D)               # 5: 101..300 never seen
    return Case("lost_segment", b.frames, {5: {"lost_segment"}})


def case_ack_lost_segment(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)                 # 4
    b.s(0.040, "A", 1, 201)                   # 5 acknowledges 101..200, never seen
    b.s(0.041, "A", 1, 301)                   # 6 same hole, nothing new from the client: once
    b.c(0.050, "A", 101, 1)                   # 7 same numbers as frame 4 left: a duplicate ACK
    return Case("ack_lost_segment", b.frames, {5: {"ack_lost_segment"}, 7: {"duplicate_ack"}})


def case_duplicate_ack(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)                 # 4
    b.s(0.040, "A", 1, 101)                   # 5
    b.s(0.041, "A", 1, 101)                   # 6 dup #1 of 5
    b.s(0.042, "A", 1, 101)                   # 7 dup #2 of 5
    return Case("duplicate_ack", b.frames, {6: {"duplicate_ack"}, 7: {"duplicate_ack"}},
                {6: {"tcp.analysis.duplicate_ack_num": 1, "tcp.analysis.duplicate_ack_frame": 5},
                 7: {"tcp.analysis.duplicate_ack_num": 2, "tcp.analysis.duplicate_ack_frame": 5}})


def case_zero_window(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)                 # 4
    b.s(0.040, "A", 1, 101, win=0)            # 5 zero window
    b.c(0.300, "A", 101, 1, b"z")             # 6 zero window probe
    b.s(0.310, "A", 1, 101, win=0)            # 7 probe ACK (still closed)
    b.c(0.700, "A", 101, 1, b"z")             # 8 probe again
    b.s(0.710, "A", 1, 101, win=0)            # 9
    b.s(0.900, "A", 1, 101, win=500)          # 10 window update: open again
    b.c(0.910, "PA", 101, 1, D)               # 11
    return Case("zero_window", b.frames,
                {5: {"zero_window"}, 6: {"zero_window_probe"}, 7: {"zero_window", "zero_window_probe_ack"},
                 8: {"zero_window_probe"}, 9: {"zero_window", "zero_window_probe_ack"}, 10: {"window_update"}})


def case_window_full(cport=40000):
    b = Builder(cport=cport, swin=25)
    ws = [("WScale", 2)]
    b.handshake(copts=ws, sopts=ws)           # both sides scale by 4
    b.c(0.030, "PA", 1, 1, D)                 # 4: 100 octets; the SYN+ACK window (25) is unscaled
    b.s(0.040, "A", 1, 101, win=50)           # 5: 50 << 2 = 200 octets from 101
    b.c(0.041, "PA", 101, 1, D)               # 6
    b.c(0.042, "PA", 201, 1, D)               # 7 reaches 101 + 200: window full
    return Case("window_full", b.frames, {7: {"window_full"}},
                {5: {"tcp.window_size": 200, "tcp.window_size_scalefactor": 4},
                 7: {"tcp.analysis.bytes_in_flight": 200}})


def case_window_update(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)
    b.s(0.040, "A", 1, 101, win=1000)
    b.s(0.050, "A", 1, 101, win=3000)         # 6 same numbers, new window
    return Case("window_update", b.frames, {6: {"window_update"}})


def case_keep_alive(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "PA", 1, 1, D)
    b.s(0.040, "A", 1, 101)
    b.c(60.0, "A", 100, 1)                    # 6 one before nextseq: keep-alive
    b.s(60.010, "A", 1, 101)                  # 7 its ACK
    b.c(120.0, "A", 100, 1, b"\0")            # 8 keep-alive with one garbage octet
    b.s(120.010, "A", 1, 101)                 # 9
    return Case("keep_alive", b.frames,
                {6: {"keep_alive"}, 7: {"keep_alive_ack"}, 8: {"keep_alive"}, 9: {"keep_alive_ack"}})


def case_reused_ports(cport=40000):
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.030, "FA", 1, 1)
    b.s(0.040, "FA", 1, 2)
    b.c(0.050, "A", 2, 2)                     # 6: closed
    b.isn_c, b.isn_s = 7_000_000, 9_000_000
    b.c(1.0, "S")                             # 7 a new connection, same ports: tcp.stream 1
    b.s(1.010, "SA", 0, 1)
    b.c(1.020, "A", 1, 1)
    return Case("reused_ports", b.frames, {7: {"reused_ports"}},
                {6: {"tcp.stream": 0}, 7: {"tcp.stream": 1, "tcp.seq": 0}, 9: {"tcp.stream": 1, "tcp.seq": 1, "tcp.ack": 1}})


def case_rtt_and_flight(cport=40000):
    b = Builder(cport=cport)
    b.handshake(rtt=0.025)                    # iRTT 50 ms
    b.c(0.060, "PA", 1, 1, D)                 # 4
    b.c(0.061, "PA", 101, 1, D)               # 5: 200 in flight
    b.s(0.090, "A", 1, 201)                   # 6 acknowledges frame 5, 29 ms later
    return Case("rtt", b.frames, {},
                {2: {"tcp.analysis.acks_frame": 1, "tcp.analysis.ack_rtt": 0.025},
                 4: {"tcp.analysis.bytes_in_flight": 100, "tcp.analysis.initial_rtt": 0.050},
                 5: {"tcp.analysis.bytes_in_flight": 200},
                 6: {"tcp.analysis.acks_frame": 5, "tcp.analysis.ack_rtt": 0.029,
                     "tcp.analysis.initial_rtt": 0.050}})


FLAG_CASES = [case_retransmission, case_fast_retransmission, case_spurious_retransmission,
              case_out_of_order, case_lost_segment, case_ack_lost_segment, case_duplicate_ack,
              case_zero_window, case_window_full, case_window_update, case_keep_alive,
              case_reused_ports, case_rtt_and_flight]


# --- retransmission series ---------------------------------------------------------

def case_syn_backoff(cport=40000):
    """A connection attempt to a filtered port: the SYN at 0, 1, 3, 7, 15 s (gaps 1, 2, 4,
    8 s), then nothing: Zeek's S0, one series that doubles and was never answered."""
    b = Builder(cport=cport, sport=8081)
    for t in (0.0, 1.0, 3.0, 7.0, 15.0):
        b.c(t, "S")
    return Case("syn_backoff", b.frames, {n: {"retransmission"} for n in (2, 3, 4, 5)},
                conn_state="S0", history="S")


def case_data_backoff(cport=40000):
    """Data sent 5 times with RTO 0.5, 1, 2, 4 s, then the sender resets."""
    b = Builder(cport=cport)
    b.handshake()
    b.c(0.100, "PA", 1, 1, D)                 # 4
    for t in (0.6, 1.6, 3.6, 7.6):            # 5..8
        b.c(t, "PA", 1, 1, D)
    b.c(8.0, "RA", 101, 1)                    # 9 the sender gives up
    return Case("data_backoff", b.frames, {n: {"retransmission"} for n in (5, 6, 7, 8)},
                conn_state="RSTO", history="ShADTR")


# --- one case per Zeek conn_state ---------------------------------------------------

def _state(name, steps, state, history, cport=41000, note=""):
    b = Builder(cport=cport)
    for step in steps:
        step(b)
    return Case(name, b.frames, conn_state=state, history=history, note=note)


def state_cases():
    """(Case, ...) with conn_state and history; histories follow Zeek's update_history."""
    hs = lambda b: b.handshake()                                     # noqa: E731
    data = lambda b: (b.c(0.030, "PA", 1, 1, D), b.s(0.040, "PA", 1, 101, D),   # noqa: E731
                      b.c(0.050, "A", 101, 101))
    return [
        _state("S0", [lambda b: (b.c(0, "S"), b.c(1, "S"), b.c(3, "S"))], "S0", "S"),
        _state("S1", [hs, data], "S1", "ShADd"),
        _state("SF", [hs, data, lambda b: (b.c(0.060, "FA", 101, 101), b.s(0.070, "FA", 101, 102),
                                           b.c(0.080, "A", 102, 102))], "SF", "ShADdFf"),
        _state("REJ", [lambda b: (b.c(0, "S"), b.s(0.010, "RA", 0, 1))], "REJ", "Sr"),
        _state("S2", [hs, data, lambda b: b.c(0.060, "FA", 101, 101)], "S2", "ShADdF"),
        _state("S3", [hs, data, lambda b: b.s(0.060, "FA", 101, 101)], "S3", "ShADdf"),
        _state("RSTO", [hs, data, lambda b: b.c(0.060, "RA", 101, 101)], "RSTO", "ShADdR"),
        _state("RSTR", [hs, data, lambda b: b.s(0.060, "R", 101)], "RSTR", "ShADdr"),
        _state("RSTOS0", [lambda b: (b.c(0, "S"), b.c(0.5, "R", 1))], "RSTOS0", "SR"),
        _state("RSTOS0-acked", [lambda b: (b.c(0, "S"), b.s(0.01, "A", 0, 1), b.c(0.5, "R", 1))],
               "RSTOS0", "SaR", note="Zeek baseline syn-then-ack-then-rst"),
        _state("OTH-rst", [lambda b: b.c(0, "R", 1)], "OTH", "R", note="Zeek baseline single-rst"),
        _state("OTH-fin-rst", [lambda b: (b.c(0, "S"), b.s(0.01, "A", 0, 1), b.c(0.2, "FA", 1, 1),
                                          b.c(0.5, "R", 2))], "OTH", "SaFR",
               note="Zeek baseline syn-then-stuff-then-rst"),
        _state("RSTRH", [lambda b: (b.s(0, "SA", 0, 1), b.s(0.5, "R", 1))], "RSTRH", "^hr"),
        _state("SH", [lambda b: (b.c(0, "S"), b.c(0.5, "F", 1))], "SH", "SF"),
        _state("SHR", [lambda b: (b.s(0, "SA", 0, 1), b.s(0.5, "FA", 1, 1))], "SHR", "^hf"),
        _state("OTH", [lambda b: (b.c(0, "PA", 1, 1, D), b.s(0.01, "A", 1, 101))], "OTH", "Da"),
    ]


# --- checksum offload ---------------------------------------------------------------

def case_checksum_offload(n=40):
    """The capture host (client) offloads checksums: every segment it sends carries a
    wrong checksum (0x0000), the server's are right."""
    b = Builder()
    b.c(0.0, "S", chksum=0)
    b.s(0.010, "SA", 0, 1)
    b.c(0.020, "A", chksum=0)
    seq = 1
    for i in range(n):
        b.c(0.030 + i * 0.01, "PA", seq, 1, D, chksum=0)
        seq += 100
        b.s(0.035 + i * 0.01, "A", 1, seq)
    return Case("checksum_offload", b.frames, conn_state="S1", history="ShADa")


def case_checksum_corruption(n=40, bad=(25,)):
    """A host whose checksums are right except for the segments at positions ``bad``:
    real corruption, each bad one counts (history letter ``C``)."""
    b = Builder()
    b.handshake()
    seq = 1
    for i in range(n):
        b.c(0.030 + i * 0.01, "PA", seq, 1, D, chksum=0x1234 if i in bad else None)
        seq += 100
    return Case("checksum_corruption", b.frames)


# --- other conversation kinds -----------------------------------------------------

def mixed_frames():
    """UDP, IPv6 TCP, ICMP and ARP next to a TCP connection: stream numbering per kind."""
    out = []
    e = Ether(src=CMAC, dst=SMAC)
    out.append((0.0, bytes(e / IP(src=CLIENT, dst=SERVER) / UDP(sport=5353, dport=53) / b"q1")))      # udp 0
    out.append((0.1, bytes(e / IP(src=SERVER, dst=CLIENT) / UDP(sport=53, dport=5353) / b"r1")))      # udp 0
    out.append((0.2, bytes(e / IP(src=CLIENT, dst=SERVER) / TCP(sport=40000, dport=80, flags="S", seq=1))))  # tcp 0
    out.append((0.3, bytes(e / IP(src=CLIENT, dst=SERVER) / UDP(sport=5354, dport=53) / b"q2")))      # udp 1
    out.append((0.4, bytes(Ether(src=CMAC, dst=SMAC, type=0x86DD) / IPv6(src=CLIENT6, dst=SERVER6)
                           / TCP(sport=40000, dport=80, flags="S", seq=1))))                         # tcp 1
    out.append((0.5, bytes(e / IP(src=CLIENT, dst=SERVER) / ICMP(type=8, id=1, seq=1))))              # ip
    out.append((0.6, bytes(Ether(src=CMAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc=CLIENT, pdst=SERVER))))  # eth
    out.append((0.7, bytes(e / IP(src=SERVER, dst=CLIENT) / TCP(sport=80, dport=40000, flags="SA", seq=9, ack=2))))  # tcp 0
    return out


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _raw_segment(src: bytes, dst: bytes, sp, dp, seq, ack, flags, win=1000) -> bytes:
    """Ethernet/IPv4/TCP frame built with struct (much faster than scapy, for bulk)."""
    tcp = struct.pack("!HHIIHHHH", sp, dp, seq % 2**32, ack % 2**32, 0x5000 | flags, win, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", ~_sum16(pseudo + tcp) & 0xFFFF) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", ~_sum16(ip) & 0xFFFF) + ip[12:]
    return bytes.fromhex("020000000002020000000001") + b"\x08\x00" + ip + tcp


def many_connections(n, gap=0.001, port0=20000):
    """``n`` short complete connections one after the other (for the memory bound):
    SYN, SYN+ACK, ACK, FIN, FIN, ACK each, built with struct."""
    c, s_ = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 20])
    frames = []
    t = 0.0
    for i in range(n):
        sp, isn, iss = port0 + i % 40000, 1000 + i, 5000 + i
        step = 0.0001
        for k, (fwd, flags, seq, ack) in enumerate((
                (True, 0x02, isn, 0), (False, 0x12, iss, isn + 1), (True, 0x10, isn + 1, iss + 1),
                (True, 0x11, isn + 1, iss + 1), (False, 0x11, iss + 1, isn + 2), (True, 0x10, isn + 2, iss + 2))):
            raw = (_raw_segment(c, s_, sp, 80, seq, ack, flags) if fwd
                   else _raw_segment(s_, c, 80, sp, seq, ack, flags))
            frames.append((t + k * step, raw))
        t += gap
    return frames
