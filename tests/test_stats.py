"""Request/response pairing, application response time and ``protospec stats``."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from decoder.capture import Frame, open_capture, write_pcap
from decoder.cli import main as cli_main
from decoder.packet import Decoder
from decoder.registry import Registry
from expert import filters, stats
from expert.pairing import PAIRING_FIELDS, Pairing

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"
T0 = 1_700_000_000_000_000_000
C = "10.0.0.1"


def _frames():
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import ICMP, IP, TCP, UDP, UDPerror, IPerror
    from scapy.layers.l2 import Ether
    from scapy.layers.radius import Radius

    out = []

    def add(t, pkt):
        data = bytes(Ether(src="00:e0:fc:00:00:01", dst="02:00:00:00:00:02") / pkt)
        out.append(Frame(data, 1, T0 + round(t * 1e9), len(data)))

    # 1-2 DNS
    add(0.0, IP(src=C, dst="10.0.0.53") / UDP(sport=5353, dport=53) / DNS(id=0x1234, qd=DNSQR(qname="a.example")))
    add(0.025, IP(src="10.0.0.53", dst=C) / UDP(sport=53, dport=5353) /
        DNS(id=0x1234, qr=1, qd=DNSQR(qname="a.example"), an=DNSRR(rrname="a.example", rdata="192.0.2.1")))
    # 3-4 ICMP echo
    add(1.0, IP(src=C, dst="10.0.0.9") / ICMP(type=8, id=7, seq=1) / b"ping")
    add(1.0042, IP(src="10.0.0.9", dst=C) / ICMP(type=0, id=7, seq=1) / b"ping")
    # 5-6 UDP to a closed port, and the ICMP error quoting it
    add(2.0, IP(src=C, dst="10.0.0.9", id=77) / UDP(sport=40000, dport=9999) / b"x")
    add(2.001, IP(src="10.0.0.9", dst=C) / ICMP(type=3, code=3) /
        IPerror(src=C, dst="10.0.0.9", id=77, proto=17) / UDPerror(sport=40000, dport=9999, len=9))
    # 7-8 RADIUS
    add(3.0, IP(src=C, dst="10.0.0.2") / UDP(sport=1645, dport=1812) / Radius(code=1, id=5))
    add(3.15, IP(src="10.0.0.2", dst=C) / UDP(sport=1812, dport=1645) / Radius(code=2, id=5))
    # 9-17 HTTP
    s, w = "10.0.0.80", IP(src=C, dst="10.0.0.80")
    r = IP(src=s, dst=C)
    get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    add(4.0, w / TCP(sport=50000, dport=80, flags="S", seq=100))
    add(4.01, r / TCP(sport=80, dport=50000, flags="SA", seq=900, ack=101))
    add(4.02, w / TCP(sport=50000, dport=80, flags="A", seq=101, ack=901))
    add(4.03, w / TCP(sport=50000, dport=80, flags="PA", seq=101, ack=901) / get)          # 12
    add(4.035, r / TCP(sport=80, dport=50000, flags="A", seq=901, ack=101 + len(get)))    # 13
    add(4.13, r / TCP(sport=80, dport=50000, flags="PA", seq=901, ack=101 + len(get)) / resp)   # 14
    add(4.131, w / TCP(sport=50000, dport=80, flags="A", seq=101 + len(get), ack=901 + len(resp)))
    add(5.0, w / TCP(sport=50000, dport=80, flags="PA", seq=101 + len(get), ack=901 + len(resp)) / get)  # 16
    add(5.2, r / TCP(sport=80, dport=50000, flags="PA", seq=901 + len(resp), ack=101 + 2 * len(get)) / resp)
    # 18-26 FTP
    f, w = IP(src="10.0.0.21", dst=C), IP(src=C, dst="10.0.0.21")
    add(6.0, w / TCP(sport=50001, dport=21, flags="S", seq=0))
    add(6.01, f / TCP(sport=21, dport=50001, flags="SA", seq=0, ack=1))
    add(6.02, w / TCP(sport=50001, dport=21, flags="A", seq=1, ack=1))
    lines = [(6.03, 1, b"220 hello\r\n"), (6.05, 0, b"USER bob\r\n"), (6.08, 1, b"331 password\r\n"),
             (6.1, 0, b"RETR x\r\n"), (6.11, 1, b"150 Opening\r\n"), (6.3, 1, b"226 done\r\n")]
    seqs = [1, 1]
    for t, d, text in lines:
        if d:
            add(t, f / TCP(sport=21, dport=50001, flags="PA", seq=seqs[1], ack=seqs[0]) / text)
        else:
            add(t, w / TCP(sport=50001, dport=21, flags="PA", seq=seqs[0], ack=seqs[1]) / text)
        seqs[d] += len(text)
    # 27-28 generic UDP
    add(7.0, IP(src=C, dst="10.0.0.7") / UDP(sport=7000, dport=7777) / b"hello")
    add(7.05, IP(src="10.0.0.7", dst=C) / UDP(sport=7777, dport=7000) / b"world")
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("stats") / "exchanges.pcap"
    write_pcap(str(path), _frames())
    return path


@pytest.fixture(scope="module")
def packets(capture):
    dec = Decoder(Registry.default())
    pairing = Pairing()
    out = []
    with open_capture(str(capture)) as reader:
        for n, frame in enumerate(reader, 1):
            p = dec.decode(frame, n)
            pairing.process(p)
            out.append(p)
    return out, pairing


def _ann(p):
    return {k: v for k, v in (p.extra or {}).items() if k in PAIRING_FIELDS}


def test_pairing_annotations(packets):
    pkts, pairing = packets
    got = {p.number: _ann(p) for p in pkts if _ann(p)}
    approx = pytest.approx
    assert got == {
        2: {"dns.response_to": [1], "dns.time": [approx(0.025, abs=1e-9)]},
        4: {"icmp.resp_to": [3], "icmp.resptime": [approx(4.2, abs=1e-6)]},
        6: {"icmp.quoted_frame": [5]},
        8: {"radius.reqframe": [7], "radius.time": [approx(0.15, abs=1e-9)]},
        14: {"http.request_in": [12], "http.time": [approx(0.1, abs=1e-9)]},
        17: {"http.request_in": [16], "http.time": [approx(0.2, abs=1e-9)]},
        23: {"ftp.response_to": [22], "ftp.time": [approx(0.03, abs=1e-9)]},
        25: {"ftp.response_to": [24], "ftp.time": [approx(0.01, abs=1e-9)]},
        26: {"ftp.response_to": [24], "ftp.time": [approx(0.2, abs=1e-9)]},
        28: {"udp.response_to": [27], "udp.time": [approx(0.05, abs=1e-9)]},
    }
    assert [(k, a, b) for k, a, b, _ in pairing.pairs] == [
        ("dns", 1, 2), ("icmp", 3, 4), ("radius", 7, 8), ("http", 12, 14), ("http", 16, 17),
        ("ftp", 22, 23), ("ftp", 24, 25), ("ftp", 24, 26), ("udp", 27, 28)]


def test_pairing_fields_registered():
    ex = filters.extra_fields()
    for name in PAIRING_FIELDS:
        assert name in ex


def test_pairing_in_filter(packets):
    pkts, _ = packets
    flt = filters.compile_filter("dns.time > 0.01 or http.time >= 0.2", Registry.default())
    assert [p.number for p in pkts if flt(p)] == [2, 17]


def test_pairing_state_expires():
    dec = Decoder(Registry.default())
    pairing = Pairing(timeout=1.0, limit=3)
    frames = _frames()
    # the DNS reply comes 5 s late: the query has expired
    late = Frame(frames[1].data, 1, frames[0].ts_ns + 5_000_000_000, frames[1].orig_len)
    for n, fr in enumerate([frames[0], late], 1):
        p = dec.decode(fr, n)
        pairing.process(p)
    assert "dns.response_to" not in (p.extra or {})
    for n in range(10):      # table bounded by limit
        pairing.udp.put(n, (0, n), frames[0].ts_ns)
    assert len(pairing.udp) == 3


def test_art_exact(capture):
    col = stats.collect(str(capture), {"art"})
    rows = {(r["server"], r["port"], r["proto"], r["kind"]): r for r in col.art.table()}
    a = pytest.approx
    assert set(rows) == {("10.0.0.53", 53, "udp", "art"), ("10.0.0.2", 1812, "udp", "art"),
                         ("10.0.0.80", 80, "tcp", "art"), ("10.0.0.80", 80, "tcp", "ack"),
                         ("10.0.0.21", 21, "tcp", "art"), ("10.0.0.21", 21, "tcp", "ack"),
                         ("10.0.0.7", 7777, "udp", "art")}
    http = rows[("10.0.0.80", 80, "tcp", "art")]
    assert (http["count"], http["min"], http["mean"], http["median"], http["p95"], http["max"]) == \
        (2, a(0.1), a(0.15), a(0.15), a(0.2), a(0.2))
    ack = rows[("10.0.0.80", 80, "tcp", "ack")]
    assert (ack["count"], ack["min"], ack["max"]) == (2, a(0.005), a(0.2))
    ftp = rows[("10.0.0.21", 21, "tcp", "art")]   # USER -> 331, RETR -> 150
    assert (ftp["count"], ftp["min"], ftp["max"]) == (2, a(0.01), a(0.03))
    assert rows[("10.0.0.53", 53, "udp", "art")]["mean"] == a(0.025)
    assert rows[("10.0.0.2", 1812, "udp", "art")]["max"] == a(0.15)
    assert rows[("10.0.0.7", 7777, "udp", "art")]["count"] == 1


def test_samples_percentiles():
    s = stats.Samples()
    for x in range(1, 101):
        s.add(float(x))
    assert s.summary() == {"count": 100, "min": 1.0, "mean": 50.5, "median": 50.5, "p95": 95.0, "max": 100.0}


def test_cli_json(capture, capsys):
    assert cli_main(["stats", str(capture), "-T", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frames"] == 28
    assert set(data) >= {"hierarchy", "conv", "endpoints", "art", "pairs", "io"}
    tcp = data["conv"]["tcp"]
    assert [(r["a"], r["b_port"], r["frames"], r["conn_state"]) for r in tcp] == [
        (C, 80, 9, "S1"), (C, 21, 9, "S1")]
    hier = {r["path"]: r["frames"] for r in data["hierarchy"]}
    assert hier["eth"] == 28 and hier["eth:ip:tcp:http"] == 4 and hier["eth:ip:tcp:ftp"] == 6
    assert hier["eth:ip:udp:dns"] == 2 and hier["eth:ip:icmp"] == 3 and "eth:ip:icmp:ip" not in hier
    pairs = {r["kind"]: r["count"] for r in data["pairs"]}
    assert pairs == {"dns": 1, "icmp": 1, "radius": 1, "http": 2, "ftp": 3, "udp": 1}
    eth = data["endpoints"]["eth"]
    assert {r["address"]: r["vendor"] for r in eth}["00:e0:fc:00:00:01"].lower().startswith("huawei")
    assert sum(r["frames"] for r in data["io"]["rows"]) == 28 and len(data["io"]["rows"]) == 8


def test_cli_text_and_svg(capture, capsys, tmp_path):
    svg = tmp_path / "io.svg"
    assert cli_main(["stats", str(capture), "-z", "io,0.5", "-z", "conv,udp", "-z", "art",
                     "--plot", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "UDP Conversations" in out and "Application Response Time" in out and "IO Statistics" in out
    assert "TCP Conversations" not in out and "Protocol Hierarchy" not in out
    assert re.search(r"10\.0\.0\.80\s+80 tcp\s+art\s+2 ", out)
    assert svg.read_text().startswith("<svg") and svg.read_text().count("<rect") == 1 + 15


def test_cli_bad_selection(capture, capsys):
    assert cli_main(["stats", str(capture), "-z", "conv,foo"]) == 2
    assert cli_main(["stats", str(capture), "-z", "bogus"]) == 2


# -- against tshark -----------------------------------------------------------------------

PUBLIC = ["ntop+nDPI/tests/cfgs/default/pcap/ftp.pcap",
          "chrissanders+packets/icmp_traceroute.pcapng",
          "chrissanders+packets/tickedoffdeveloper.pcapng",
          "chrissanders+packets/http_ip4and6.pcapng",
          "chrissanders+packets/tcp_retransmissions.pcapng"]


def _public(rel):
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    path = CAPTURES / rel
    if not path.exists():
        pytest.skip(f"{rel} not available")
    return path


def _tshark(path, *z):
    args = ["tshark", "-r", str(path), "-q"]
    for x in z:
        args += ["-z", x]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout


BASE = {"eth", "ip", "ipv6", "tcp", "udp", "icmp", "arp", "dns", "ftp", "http", "radius"}


@pytest.mark.parametrize("rel", PUBLIC)
def test_hierarchy_vs_tshark(rel):
    path = _public(rel)
    theirs, stack = {}, []
    for line in _tshark(path, "io,phs").splitlines():
        m = re.match(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        stack[depth:] = [m.group(2)]
        if all(x in BASE for x in stack):
            theirs[":".join(stack)] = (int(m.group(3)), int(m.group(4)))
    col = stats.collect(str(path), {"hierarchy"})
    ours = {r["path"]: (r["frames"], r["bytes"]) for r in col.hierarchy()}
    assert theirs
    for p, v in theirs.items():
        assert ours.get(p) == v, p
    # nothing of ours that tshark does not show, among the shared names ("data" differs:
    # tshark gives retransmitted and reassembled payload other names)
    assert {p for p in ours if all(x in BASE for x in p.split(":"))} == set(theirs)


@pytest.mark.parametrize("rel", PUBLIC)
def test_conv_and_endpoints_vs_tshark(rel):
    path = _public(rel)
    out = _tshark(path, "conv,tcp", "endpoints,ip")
    col = stats.collect(str(path), {"conv", "endpoints"}, ["tcp"], ["ip"])
    ours = {frozenset((f"{r['a']}:{r['a_port']}", f"{r['b']}:{r['b_port']}")): r for r in col.conversations("tcp")}
    n = 0
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+<->\s+(\S+)\s+(\d+) (\S+ \S+)\s+(\d+) (\S+ \S+)\s+(\d+) (\S+ \S+)", line)
        if not m:
            continue
        n += 1
        r = ours[frozenset((m.group(1), m.group(2)))]
        a_is_ours_a = m.group(1) == f"{r['a']}:{r['a_port']}"
        left, right = int(m.group(3)), int(m.group(5))        # <- (B to A), -> (A to B)
        assert r["frames"] == int(m.group(7))
        assert (r["frames_ba"], r["frames_ab"]) == ((left, right) if a_is_ours_a else (right, left))
        if m.group(8).endswith(" bytes"):
            assert r["bytes"] == int(m.group(8).split()[0])
    assert n == len(ours)
    eps = {r["address"]: r for r in col.endpoints("ip")}
    seen = 0
    for line in out.splitlines():
        m = re.match(r"^(\d+\.\d+\.\d+\.\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        if m:
            seen += 1
            assert (eps[m.group(1)]["frames"], eps[m.group(1)]["bytes"], eps[m.group(1)]["tx_frames"],
                    eps[m.group(1)]["tx_bytes"], eps[m.group(1)]["rx_frames"], eps[m.group(1)]["rx_bytes"]) == \
                tuple(int(m.group(i)) for i in range(2, 8))
    assert seen == len(eps)


PAIRED = {"chrissanders+packets/dns_query_response.pcapng": ("dns.response_to", "dns.time"),
          "chrissanders+packets/dns_query_nonexistent.pcapng": ("dns.response_to", "dns.time"),
          "chrissanders+packets/icmp_echo.pcapng": ("icmp.resp_to", "icmp.resptime"),
          "chrissanders+packets/icmpv6_neighbor_solicitation.pcapng": ("icmpv6.resp_to", "icmpv6.resptime"),
          "zeek+zeek/testing/btest/Traces/pppoe.pcap": ("icmpv6.resp_to", "icmpv6.resptime"),
          "chrissanders+packets/http_google.pcapng": ("http.request_in", "http.time"),
          "chrissanders+packets/http_ip4and6.pcapng": ("http.request_in", "http.time"),
          "the-tcpdump-group+tcpdump/tests/RADIUS-RFC4675.pcap": ("radius.reqframe", "radius.time")}


@pytest.mark.parametrize("rel", sorted(PAIRED))
def test_pairing_vs_tshark(rel):
    path = _public(rel)
    frame_f, time_f = PAIRED[rel]
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", frame_f,
                          "-e", time_f, "-Y", frame_f], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    theirs = {}
    for line in out.splitlines():
        n, f, t = line.split("\t")
        theirs[int(n)] = (int(f), float(t))
    dec = Decoder(Registry.default())
    pairing = Pairing()
    ours = {}
    with open_capture(str(path)) as reader:
        for n, frame in enumerate(reader, 1):
            p = dec.decode(frame, n)
            pairing.process(p)
            if p.extra and frame_f in p.extra:
                ours[n] = (p.extra[frame_f][0], p.extra[time_f][0])
    assert theirs
    if frame_f == "http.request_in":
        # no TCP reassembly here: a response spanning segments is paired at its first
        # segment, Wireshark pairs it at the segment completing it; the requests agree
        assert sorted(f for f, _ in ours.values()) == sorted(f for f, _ in theirs.values())
        theirs = {n: v for n, v in theirs.items() if n in ours}
        ours = {n: v for n, v in ours.items() if n in theirs}
    assert ours.keys() == theirs.keys()
    for n, (f, t) in theirs.items():
        assert ours[n][0] == f and ours[n][1] == pytest.approx(t, abs=2e-6), n


def test_cli_aliases_and_count(capture, capsys):
    assert cli_main(["stats", str(capture), "-z", "io,phs", "-c", "4", "-T", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frames"] == 4 and set(data) == {"frames", "bytes", "hierarchy"}
    assert cli_main(["stats", str(capture), "-z", "io,1", "--plot", str(capture) + ".png"]) in (0, 2)
    capsys.readouterr()
    assert cli_main(["stats", str(capture), "-z", "art", "--plot", "x.svg"]) == 2


def test_io_over_a_capture_spanning_years_lists_only_busy_intervals():
    """A capture whose clock jumps years (PcapPlusPlus' Ftp.pcap) must not allocate an
    interval per second in between."""
    reg = Registry.default()
    dec = Decoder(reg)
    col = stats.Collector({"io"}, interval=1.0)
    frames = _frames()[:3]
    for n, (f, dt) in enumerate(zip(frames, (0, 2.5, 10 * 365 * 86400)), 1):
        col.process(dec.decode(Frame(f.data, 1, T0 + round(dt * 1e9), f.orig_len), n))
    table = col.io_table()
    assert table["sparse"] and [r["start"] for r in table["rows"]] == [0, 2, 315360000]
    assert "only the intervals with frames" in stats.text_io(table)
    col = stats.Collector({"io"}, interval=1.0)
    for n, f in enumerate(frames[:2], 1):
        col.process(dec.decode(Frame(f.data, 1, T0 + n * 2_000_000_000, f.orig_len), n))
    assert [r["frames"] for r in col.io_table()["rows"]] == [1, 0, 1]


def test_art_counts_from_the_requests_last_segment(tmp_path):
    """A request in two segments 0.1 s apart, answered 0.05 s after the second: the
    server's turn-around is 0.05 s, in ``stats -z art`` and in the rules' ``conv.art``;
    data on a RST answers nothing in either."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    from expert.engine import Engine
    from expert.rules import load_rules
    s, c = "10.0.0.80", C
    steps = [(0.0, c, "S", 1000, 0, b""), (0.01, s, "SA", 5000, 1001, b""), (0.02, c, "A", 1001, 5001, b""),
             (0.03, c, "PA", 1001, 5001, b"x" * 10), (0.13, c, "PA", 1011, 5001, b"y" * 10),
             (0.18, s, "PA", 5001, 1021, b"z" * 10),
             # a third request answered by a RST carrying text (RFC 1122 §4.2.2.12): no answer
             (0.30, c, "PA", 1021, 5011, b"w" * 10), (0.35, s, "RA", 5011, 1031, b"reset text")]
    frames = []
    for t, src, flags, seq, ack, data in steps:
        sp, dp = (40000, 8080) if src == c else (8080, 40000)
        pkt = Ether() / IP(src=src, dst=s if src == c else c) / TCP(sport=sp, dport=dp, flags=flags, seq=seq,
                                                                    ack=ack) / data
        raw = bytes(pkt)
        frames.append(Frame(raw, 1, T0 + round(t * 1e9), len(raw)))
    path = tmp_path / "two-segment-request.pcap"
    write_pcap(str(path), frames)
    row = next(r for r in stats.collect(str(path), {"art"}).art.table() if r["kind"] == "art")
    assert row["count"] == 1 and row["max"] == pytest.approx(0.05)
    reg = Registry.default()
    rules = load_rules(reg, builtin=False, texts=[("art.rules", 'rule t.art { scope conversation when '
                                                   'conv.art > 0 message "{conv.art} {conv.art_count} {conv.art_frames}" }')])
    (finding,) = Engine(rules, reg).run_frames(frames)
    art, count, frames_named = finding.message.split(" ", 2)
    assert float(art) == pytest.approx(0.05) and count == "1" and frames_named == "5, 6"
