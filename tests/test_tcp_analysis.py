"""TCP sequence analysis (expert.tcp_analysis) on the project's own captures.

Every case of ``tests/captures/tcp_cases.py`` is written to a temporary pcap, decoded and
analysed; the exact frames carrying each ``tcp.analysis.*`` flag are checked (all other
frames must carry none), plus the values the case names (RTO, duplicate-ACK numbers,
RTTs, bytes in flight, window scaling).  The expectations were taken from tshark 4.0.17;
``tests/test_tcp_analysis_vs_tshark.py`` re-checks them against tshark when installed.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "captures"))

import tcp_cases as tc  # noqa: E402

from decoder.capture import open_capture  # noqa: E402
from decoder.packet import Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from expert.tcp_analysis import (ANALYSIS_FIELDS, FLAG_NAMES, Analysis, AnalysisSettings,  # noqa: E402
                                 TcpSettings, analyze, flag_counts)

DEC = Decoder(Registry.default())
FLAG_FIELDS = {f"tcp.analysis.{n}": n for n in FLAG_NAMES}


def decoded(path):
    with open_capture(path) as cap:
        for i, frame in enumerate(cap, 1):
            yield DEC.decode(frame, i)


def run(case, tmp_path, settings=None):
    path = tc.write(case.frames, tmp_path / f"{case.name}.pcap")
    convs = []
    packets = list(analyze(decoded(path), settings, on_conversation=convs.append))
    return packets, convs


def flags_of(packet) -> set:
    extra = packet.extra or {}
    found = {FLAG_FIELDS[k] for k in extra if k in FLAG_FIELDS}
    # Wireshark also sets tcp.analysis.retransmission on fast and spurious ones
    if found & {"fast_retransmission", "spurious_retransmission"}:
        assert "retransmission" in found
    return found


@pytest.mark.parametrize("make", tc.FLAG_CASES + [tc.case_syn_backoff, tc.case_data_backoff],
                         ids=lambda f: f.__name__[5:])
def test_flag_frames(make, tmp_path):
    case = make()
    packets, _ = run(case, tmp_path)
    for p in packets:
        assert flags_of(p) == case.flags.get(p.number, set()), f"frame {p.number}"
        if flags_of(p):
            assert p.values("tcp.analysis.flags") == [True]
        for name, want in case.values.get(p.number, {}).items():
            got = p.values(name)
            assert got, f"frame {p.number}: no {name}"
            if isinstance(want, float):
                assert got[0] == pytest.approx(want, abs=1e-6), f"frame {p.number} {name}"
            else:
                assert got[0] == want, f"frame {p.number} {name}"


def test_relative_numbers(tmp_path):
    packets, _ = run(tc.case_window_full(), tmp_path)
    syn, synack, ack = packets[:3]
    assert syn.values("tcp.seq") == [0] and syn.values("tcp.nxtseq") == [1]
    assert syn.values("tcp.ack") == [0]                      # no ACK flag: the raw field
    assert synack.values("tcp.ack") == [1] and synack.values("tcp.seq") == [0]
    assert syn.values("tcp.window_size") == [1000]            # SYNs are never scaled ...
    assert "tcp.window_size_scalefactor" not in syn.extra     # ... and show no factor
    assert ack.values("tcp.window_size") == [4000]            # 1000 << 2
    assert ack.values("tcp.window_size_scalefactor") == [4]
    data = packets[3]
    assert data.values("tcp.len") == [100] and data.values("tcp.nxtseq") == [101]


def test_window_scale_unknown_and_none(tmp_path):
    b = tc.Builder()
    b.c(0, "PA", 1, 1, tc.D)                                   # mid-stream: scale unknown
    b2 = tc.Builder(cport=40001)
    b2.handshake()                                             # SYNs without the option
    b2.c(0.03, "PA", 1, 1, tc.D)
    packets, _ = run(tc.Case("ws", b.frames + b2.frames), tmp_path)
    assert packets[0].values("tcp.window_size_scalefactor") == [-1]
    assert packets[-1].values("tcp.window_size_scalefactor") == [-2]
    assert packets[0].values("tcp.seq") == [1] and packets[0].values("tcp.ack") == [1]


def test_initial_rtt_only_with_analysis(tmp_path):
    """Like tshark, tcp.analysis.initial_rtt shows only on frames with some analysis."""
    packets, _ = run(tc.case_rtt_and_flight(), tmp_path)
    assert packets[3].values("tcp.analysis.initial_rtt") == [pytest.approx(0.05)]
    b = tc.Builder()
    b.handshake()
    b.c(0.03, "FA", 1, 1)                                      # acknowledges nothing new
    b.c(0.04, "PA", 1, 1, b"late")
    packets, _ = run(tc.Case("fin", b.frames), tmp_path)
    assert "tcp.analysis" not in packets[3].extra and "tcp.analysis.initial_rtt" not in packets[3].extra
    assert packets[2].values("tcp.analysis.initial_rtt") == [pytest.approx(0.02)]


def test_fast_retransmission_threshold_is_a_setting(tmp_path):
    case = tc.case_fast_retransmission()
    tight = AnalysisSettings(tcp=TcpSettings(fast_retransmission_window=0.005))
    packets, _ = run(case, tmp_path, tight)
    # 8 ms after the last duplicate ACK: no longer "fast", and (more than the 20 ms iRTT
    # after the highest segment? no: 18 ms) out of order
    assert flags_of(packets[9]) == {"out_of_order"}
    more = AnalysisSettings(tcp=TcpSettings(fast_retransmission_dupacks=3))
    packets, _ = run(case, tmp_path, more)
    assert "fast_retransmission" not in flags_of(packets[9])


def test_out_of_order_window_without_irtt(tmp_path):
    case = tc.case_out_of_order()
    no_irtt = AnalysisSettings(tcp=TcpSettings(out_of_order_use_irtt=False, out_of_order_window=0.003))
    packets, _ = run(case, tmp_path, no_irtt)
    assert flags_of(packets[5]) == {"retransmission"}          # 4 ms > 3 ms


def test_retransmission_series(tmp_path):
    _, convs = run(tc.case_syn_backoff(), tmp_path)
    (conv,) = [c for c in convs if c.kind == "tcp"]
    (series,) = conv.retransmission_series
    assert series.frames == [1, 2, 3, 4, 5] and series.original_seen and series.syn
    assert series.gaps == pytest.approx([1, 2, 4, 8])
    assert series.doubling and series.gave_up and series.outcome == "unanswered"
    assert series.kinds == ["retransmission"] * 4
    assert conv.conn_state == "S0"

    _, convs = run(tc.case_data_backoff(), tmp_path)
    (conv,) = convs
    (series,) = conv.retransmission_series
    assert series.frames == [4, 5, 6, 7, 8] and series.seq == 1 and series.length == 100
    assert series.gaps == pytest.approx([0.5, 1, 2, 4]) and series.doubling
    assert series.outcome == "reset" and series.gave_up
    assert series.as_dict()["gaps"] == [0.5, 1.0, 2.0, 4.0]


def test_retransmission_series_acked(tmp_path):
    _, convs = run(tc.case_retransmission(), tmp_path)
    (series,) = convs[0].retransmission_series
    assert series.frames == [4, 6] and series.outcome == "acked" and series.acked_frame == 7
    assert not series.doubling                                  # one gap is no back-off
    assert not series.gave_up


def test_flag_counts(tmp_path):
    _, convs = run(tc.case_zero_window(), tmp_path)
    counts = convs[0].flag_counts
    assert counts["zero_window_probe"] == [2, 0]
    assert counts["zero_window"] == [0, 3]
    assert counts["window_update"] == [0, 1]
    assert set(counts) == set(FLAG_NAMES)


def test_flag_counts_live(tmp_path):
    path = tc.write(tc.case_duplicate_ack().frames, tmp_path / "d.pcap")
    a = Analysis()
    conv = None
    for p in decoded(path):
        conv = a.process(p)
    assert flag_counts(conv)["duplicate_ack"] == [0, 2]


def test_every_annotation_is_registered(tmp_path):
    """ANALYSIS_FIELDS lists every field name and type the analysis produces."""
    seen = {}
    for make in tc.FLAG_CASES:
        packets, _ = run(make(), tmp_path)
        for p in packets:
            for name, values in (p.extra or {}).items():
                seen.setdefault(name, set()).update(type(v) for v in values)
    for name, types in seen.items():
        assert name in ANALYSIS_FIELDS, name
        want = ANALYSIS_FIELDS[name]
        assert types <= ({bool} if want is None else {want}), (name, types)   # None: FT_NONE label
    for name in FLAG_FIELDS:
        assert ANALYSIS_FIELDS[name] is None


def test_fields_reach_the_filter_language(tmp_path):
    from decoder.registry import Registry
    from expert import filters
    import expert.tcp_analysis as ta
    known = filters.extra_fields()
    assert set(ta.ANALYSIS_FIELDS) <= set(known)
    assert known["tcp.analysis.retransmission"] == filters.NONE
    assert known["tcp.analysis.ack_rtt"] == filters.FLOAT and known["tcp.stream"] == filters.INT
    packets, _ = run(tc.case_fast_retransmission(), tmp_path)
    f = filters.compile_filter("tcp.analysis.retransmission && !tcp.analysis.spurious_retransmission", Registry.default())
    assert [p.number for p in packets if f(p)] == [10]


def test_two_directions_do_not_mix(tmp_path):
    """Same ports, one connection after the other in opposite roles: separate streams."""
    b = tc.Builder()
    b.handshake()
    b.c(0.05, "RA", 1, 1)
    b2 = tc.Builder(client=tc.SERVER, server=tc.CLIENT, cport=80, sport=40000)
    b2.handshake(t=1.0)
    packets, convs = run(tc.Case("x", b.frames + b2.frames), tmp_path)
    assert [p.values("tcp.stream")[0] for p in packets] == [0, 0, 0, 0, 1, 1, 1]
    assert packets[4].values("tcp.analysis.reused_ports") == [True]
