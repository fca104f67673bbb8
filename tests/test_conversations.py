"""Conversation tracking (expert.conversations), Zeek states (expert.tcp_state) and
checksum-offload awareness (expert.checksum_offload) on captures built by
``tests/captures/tcp_cases.py``.

Deliberate differences from Zeek (see expert/tcp_state.py for the details):

* a conversation whose first segment is a SYN+ACK is always turned round (the SYN+ACK
  sender is the responder, history starts with ``^``); Zeek only does so when the
  SYN+ACK comes from a "likely server port";
* ``c`` (bad checksum) is recorded only for hosts that have sent good checksums, so a
  capture taken on a host with checksum offload does not fill every history with
  ``C``; Zeek without ``-C`` drops such packets instead;
* ``g`` (content gap) comes from the analysis' ``ack_lost_segment``, not from a
  reassembler.

Deliberate differences from Wireshark's conversation table: conversations end (idle
timeout, some time after the close, table full), so a 5-tuple seen again much later gets
a new ``tcp.stream``; Wireshark keeps one conversation for the whole capture.
"""
import gc
import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "captures"))

import tcp_cases as tc  # noqa: E402

from decoder.capture import open_capture  # noqa: E402
from decoder.packet import Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from expert.checksum_offload import ChecksumSettings  # noqa: E402
from expert.conversations import ConversationTracker, Settings  # noqa: E402
from expert.tcp_analysis import Analysis, AnalysisSettings  # noqa: E402

DEC = Decoder(Registry.default())


def decoded(path):
    with open_capture(path) as cap:
        for i, frame in enumerate(cap, 1):
            yield DEC.decode(frame, i)


def analysed(frames, tmp_path, name="c", settings=None):
    path = tc.write(frames, tmp_path / f"{name}.pcap")
    convs = []
    a = Analysis(settings, on_conversation=convs.append)
    packets = list(a.run(decoded(path)))
    return packets, convs, a


@pytest.mark.parametrize("case", tc.state_cases(), ids=lambda c: c.name)
def test_conn_state_and_history(case, tmp_path):
    _, convs, _ = analysed(case.frames, tmp_path, case.name)
    (conv,) = convs
    assert (conv.conn_state, conv.history) == (case.conn_state, case.history)
    assert conv.end_reason == "end"


def test_every_zeek_state_is_covered():
    assert {c.conn_state for c in tc.state_cases()} == {
        "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"}


def test_stream_numbering_per_kind(tmp_path):
    packets, convs, _ = analysed(tc.mixed_frames(), tmp_path)
    assert [p.values("udp.stream") for p in packets] == [[0], [0], [], [1], [], [], [], []]
    assert [p.values("tcp.stream") for p in packets] == [[], [], [0], [], [1], [], [], [0]]
    kinds = sorted((c.kind, c.index) for c in convs)
    assert kinds == [("eth", 0), ("ip", 0), ("tcp", 0), ("tcp", 1), ("udp", 0), ("udp", 1)]
    udp0 = next(c for c in convs if c.kind == "udp" and c.index == 0)
    assert (udp0.orig_host, udp0.orig_port, udp0.resp_host, udp0.resp_port) == (tc.CLIENT, 5353, tc.SERVER, 53)
    assert udp0.pkts == [1, 1] and udp0.conn_state == "SF"
    tcp6 = next(c for c in convs if c.kind == "tcp" and c.index == 1)
    assert tcp6.orig_host == tc.CLIENT6 and tcp6.conn_state == "S0"
    icmp = next(c for c in convs if c.kind == "ip")
    assert icmp.ip_proto == 1 and icmp.pkts == [1, 0]
    arp = next(c for c in convs if c.kind == "eth")
    assert arp.orig_host == tc.CMAC and arp.resp_host == "ff:ff:ff:ff:ff:ff"


def test_roles(tmp_path):
    # SYN sender is the originator, whatever the ports
    b = tc.Builder(cport=80, sport=40000)
    b.handshake()
    _, convs, _ = analysed(b.frames, tmp_path, "syn")
    assert (convs[0].orig_port, convs[0].resp_port, convs[0].history) == (80, 40000, "ShA")
    # mid-stream from a server port to an ephemeral one: turned round (Zeek's heuristic)
    b = tc.Builder()
    b.s(0, "PA", 1, 1, tc.D)
    b.c(0.01, "A", 1, 101)
    _, convs, _ = analysed(b.frames, tmp_path, "mid")
    c = convs[0]
    assert (c.client_host, c.client_port, c.server_port) == (tc.CLIENT, 40000, 80)
    assert c.history == "^dA" and c.flipped
    assert c.pkts == [1, 1] and c.payload == [0, 100]
    # mid-stream between two ephemeral ports: the first sender
    b = tc.Builder(cport=50000, sport=60000)
    b.s(0, "PA", 1, 1, tc.D)
    _, convs, _ = analysed(b.frames, tmp_path, "eph")
    assert convs[0].orig_port == 60000 and not convs[0].flipped


def test_record_fields(tmp_path):
    case = [c for c in tc.state_cases() if c.name == "SF"][0]
    packets, convs, _ = analysed(case.frames, tmp_path)
    (c,) = convs
    assert c.first_frame == 1 and c.last_frame == len(packets) == 9
    assert c.pkts == [6, 3]
    assert c.orig_bytes == 100 and c.resp_bytes == 100           # from sequence numbers
    assert c.payload == [100, 100]
    assert sum(c.bytes) == sum(len(b) for _, b in case.frames)
    assert sum(c.ip_bytes) == sum(len(b) - 14 for _, b in case.frames)
    assert c.duration == pytest.approx(0.08)
    d = c.as_dict()
    assert d["conn_state"] == "SF" and d["history"] == "ShADdFf" and d["stream"] == 0
    assert d["orig_h"] == tc.CLIENT and d["resp_p"] == 80 and d["orig_pkts"] == 6


def test_closed_and_idle_flows_are_evicted(tmp_path):
    settings = Settings(tcp_close_linger=0.01, sweep_interval=0.005)
    frames = tc.many_connections(3000, gap=0.001)
    path = tc.write(frames, tmp_path / "many.pcap")
    done = []
    tracker = ConversationTracker(settings, on_finish=done.append)
    high = 0
    for p in decoded(path):
        tracker.process(p)
        high = max(high, len(tracker))
    assert high < 40                      # ~ close_linger / gap + sweep slack, not 3000
    rest = tracker.finish()
    assert len(done) == 3000 and len(rest) < 40
    assert [c.index for c in done[:5]] == [0, 1, 2, 3, 4]
    assert all(c.conn_state == "SF" for c in done)
    assert {c.end_reason for c in done} == {"closed", "end"}


def test_memory_stays_flat(tmp_path):
    """Constant memory apart from the live flows: 8000 connections use what 1000 do.
    (Python's allocated-block count, sampled while streaming; cheaper than tracemalloc.)"""
    settings = AnalysisSettings(conversations=Settings(tcp_close_linger=0.01, sweep_interval=0.005))

    def growth(n):
        path = tc.write(tc.many_connections(n, gap=0.001), tmp_path / f"m{n}.pcap")
        a = Analysis(settings)
        packets = a.run(decoded(path))
        for p in itertools.islice(packets, 600):       # warm up: caches, first flows
            pass
        gc.collect()
        base = sys.getallocatedblocks()
        high = live = 0
        for i, p in enumerate(packets):
            live = max(live, len(a.tracker))
            if i % 250 == 0:
                high = max(high, sys.getallocatedblocks() - base)
        return high, live

    (small, live_small), (big, live_big) = growth(1000), growth(8000)
    assert live_big <= live_small + 5
    assert big < small + 2000, (small, big)


def test_idle_timeout_starts_a_new_conversation(tmp_path):
    b = tc.Builder()
    b.handshake()
    b.c(0.03, "PA", 1, 1, tc.D)
    b.c(100.0, "PA", 101, 1, tc.D)          # 100 s later, no close in between
    settings = AnalysisSettings(conversations=Settings(tcp_idle_timeout=60))
    packets, convs, _ = analysed(b.frames, tmp_path, "idle", settings)
    assert [p.values("tcp.stream")[0] for p in packets] == [0, 0, 0, 0, 1]
    assert [c.end_reason for c in convs] == ["idle", "end"]
    assert convs[1].history == "D" and convs[1].conn_state == "OTH"
    # with the default (1 h) it is one conversation, as in Wireshark
    packets, convs, _ = analysed(b.frames, tmp_path, "idle2")
    assert [p.values("tcp.stream")[0] for p in packets] == [0] * 5 and len(convs) == 1


def test_syn_attempts_keep_their_series_across_retries(tmp_path):
    """The attempt timeout (120 s) covers SYN retries 64 s apart."""
    b = tc.Builder()
    for t in (0, 1, 3, 7, 15, 31, 63, 127):
        b.c(t, "S")
    packets, convs, _ = analysed(b.frames, tmp_path)
    assert len(convs) == 1 and convs[0].retransmission_series[0].gaps == [1, 2, 4, 8, 16, 32, 64]
    assert convs[0].retransmission_series[0].doubling


def test_max_conversations(tmp_path):
    frames = []
    for i in range(50):
        b = tc.Builder(cport=30000 + i)
        b.c(i * 0.001, "S")
        frames += b.frames
    settings = AnalysisSettings(conversations=Settings(max_conversations=10))
    packets, convs, a = analysed(frames, tmp_path, "max", settings)
    assert len(a.tracker) == 0 and len(convs) == 50
    assert sum(c.end_reason == "evicted" for c in convs) == 40
    assert [p.values("tcp.stream")[0] for p in packets] == list(range(50))


def test_finish_returns_live_conversations_in_order(tmp_path):
    path = tc.write(tc.mixed_frames(), tmp_path / "m.pcap")
    tracker = ConversationTracker()
    for p in decoded(path):
        tracker.process(p)
    rest = tracker.finish()
    assert [(c.kind, c.index) for c in rest] == [("udp", 0), ("tcp", 0), ("udp", 1), ("tcp", 1), ("ip", 0), ("eth", 0)]
    assert all(c.end_reason == "end" for c in rest) and len(tracker) == 0


def test_tracker_without_analysis_still_numbers(tmp_path):
    packets = list(decoded(tc.write(tc.case_reused_ports().frames, tmp_path / "r.pcap")))
    tracker = ConversationTracker()
    for p in packets:
        tracker.process(p)
    assert [p.values("tcp.stream")[0] for p in packets] == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert packets[8].values("tcp.seq") == [1] and "tcp.analysis" not in packets[8].extra


def test_icmp_quotes(tmp_path):
    """A UDP header quoted in an ICMP error gets the stream of its datagram, as in
    tshark, without being counted; a TCP quote of 8 octets only shows tcp.seq."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether
    e = Ether(src=tc.CMAC, dst=tc.SMAC)
    dgram = IP(src=tc.CLIENT, dst=tc.SERVER) / UDP(sport=5000, dport=53) / (b"q" * 20)
    seg = IP(src=tc.CLIENT, dst=tc.SERVER) / TCP(sport=40000, dport=80, flags="S", seq=77)
    frames = [(0.0, bytes(e / dgram)),
              (0.1, bytes(e / IP(src="192.0.2.1", dst=tc.CLIENT) / ICMP(type=3, code=3) / bytes(dgram)[:28])),
              (0.2, bytes(e / IP(src="192.0.2.1", dst=tc.CLIENT) / ICMP(type=3, code=1) / bytes(seg)[:28]))]
    packets, convs, _ = analysed(frames, tmp_path)
    assert packets[1].values("udp.stream") == [0]
    assert packets[2].values("tcp.seq") == [77] and packets[2].values("tcp.stream") == []
    udp = next(c for c in convs if c.kind == "udp")
    assert udp.pkts == [1, 0]
    assert sorted(c.kind for c in convs) == ["ip", "udp"]


def test_checksum_offload_reported_once(tmp_path):
    case = tc.case_checksum_offload()
    found = []
    settings = AnalysisSettings(checksums=ChecksumSettings())
    path = tc.write(case.frames, tmp_path / "off.pcap")
    convs = []
    a = Analysis(settings, on_conversation=convs.append, on_offload=found.append)
    packets = list(a.run(decoded(path)))
    assert len(found) == 1
    host = found[0]
    assert host.host == tc.CLIENT and host.likely_offload and host.bad == host.checked == 16
    assert a.checksums.likely_offload(host.addr)
    assert not a.checksums.bad_is_error(host.addr)
    server = a.checksums.hosts[(packets[1].layer("ip").raw_field("src"), "tcp")]
    assert server.state == "clean" and server.bad == 0
    # no "C" in the history: the bad checksums are the capture host's own
    assert convs[0].history == case.history and convs[0].bad_checksums == [0, 0]
    # the per-packet status stays available for rules
    assert packets[0].layer("tcp").flat()["checksum.status"] == ["bad"]
    assert a.checksums.summary() == [host]


def test_checksum_corruption_counts(tmp_path):
    # a bad segment among good ones, within the probe: an error, recorded as "C"
    auto = AnalysisSettings(checksums=ChecksumSettings())
    case = tc.case_checksum_corruption(bad=(5,))
    _, convs, a = analysed(case.frames, tmp_path, "bad", auto)
    (h,) = [h for h in a.checksums.hosts.values() if h.bad]
    assert h.state == "mixed" and h.bad == 1 and not h.likely_offload
    assert a.checksums.bad_is_error(h.addr)
    assert "C" in convs[0].history and convs[0].bad_checksums == [1, 0]
    # after the probe, "auto" stops verifying a clean host; "all" keeps going
    case = tc.case_checksum_corruption(bad=(30,))
    _, convs, a = analysed(case.frames, tmp_path, "late", auto)
    assert "C" not in convs[0].history
    every = AnalysisSettings(checksums=ChecksumSettings(mode="all"))
    _, convs, a = analysed(case.frames, tmp_path, "late2", every)
    assert convs[0].history.count("C") == 1 and convs[0].bad_checksums == [1, 0]
    off = AnalysisSettings(checksums=ChecksumSettings(mode="off"))
    _, convs, a = analysed(case.frames, tmp_path, "late3", off)
    assert a.checksums.hosts == {}
    _, convs, a = analysed(case.frames, tmp_path, "late4")     # the default: not verified
    assert a.checksums is None and "C" not in convs[0].history
