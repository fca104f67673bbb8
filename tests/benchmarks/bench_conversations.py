"""Conversation + TCP analysis benchmark: protospec against tshark, on one capture.

Run on demand (pytest does not collect it)::

    python tests/benchmarks/bench_conversations.py [--connections 4000] [--bulk] [--capture FILE]

The capture (built unless ``--capture`` is given) holds ``--connections`` TCP
connections, overlapping in time: handshake, four request/response exchanges (a small
request, three full-size response segments, ACKs), every 10th connection with a
retransmitted server segment, every 7th with a lost segment, two duplicate ACKs
and a fast retransmission, then a FIN exchange (650 octets a packet on average); with
``--bulk``, 3000 bulk transfers of 40 full-size segments (943 octets a packet: tshark's
cost grows with the payload, ours hardly).  Each contender runs in its own child process,
timed by wall clock, peak memory (max RSS) from ``os.wait4``:

* ``protospec conversations``: decode (up to the transport layer:
  ``Decoder(want=conversations.PROTOCOLS)``) + :class:`expert.conversations.ConversationTracker`
  without annotations (what ``-z conv,tcp`` needs);
* ``protospec conv+tcp analysis``: the same decode + :class:`expert.tcp_analysis.Analysis`
  (``tcp.stream``, relative numbers, ``tcp.analysis.*`` annotated on every packet);
* ``protospec conv+tcp analysis (counts)``: the same with ``annotate=False``: every flag
  counted per conversation and in total, no packet annotated (what ``-z expert`` prints);
* ``protospec stats -z conv,tcp``, ``protospec stats -z art`` (the command);
* ``tshark -q -z conv,tcp`` and ``tshark -q -z expert``.

Nothing is asserted: timing belongs in a benchmark, never in a test.
"""
from __future__ import annotations

import argparse
import heapq
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import contender_cmd, count_frames, time_process  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MAC_C, MAC_S = bytes.fromhex("020000000001"), bytes.fromhex("00e0fc123456")
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def _frame(src, dst, sp, dp, seq, ack, flags, payload=b"", win=65535):
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, win, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    eth = (MAC_S + MAC_C if src[0] == 10 else MAC_C + MAC_S) + b"\x08\x00"
    return eth + ip + tcp + payload


def _connection(i, t0):
    """(ts_ns, frame) of one connection."""
    c = bytes((10, 1, (i >> 8) & 255, i & 255))
    s = bytes((192, 0, 2, 1 + i % 50))
    sp, dp = 20000 + i % 40000, 80 if i % 3 else 443
    cs, ss = 1000 + i * 7919, 5000 + i * 104729
    out = []
    t = t0
    rtt = 2_000_000 + (i % 13) * 500_000   # ns

    def c2s(flags, payload=b"", seq=None, ack=None):
        a = 0 if flags == SYN else ss if ack is None else ack
        out.append((t, _frame(c, s, sp, dp, cs if seq is None else seq, a, flags, payload)))

    def s2c(flags, payload=b"", seq=None):
        out.append((t, _frame(s, c, dp, sp, ss if seq is None else seq, cs, flags, payload)))

    c2s(SYN)
    cs += 1
    t += rtt
    s2c(SYN | ACK)
    ss += 1
    t += rtt
    c2s(ACK)
    req, seg = b"G" * 200, b"R" * 1400
    for k in range(4):
        t += 100_000
        lost = k == 1 and i % 7 == 0
        c2s(PSH | ACK, req)
        cs += len(req)
        t += rtt // 2
        s2c(ACK)
        starts = []
        for j in range(3):
            t += 200_000
            starts.append(ss)
            if not (lost and j == 1):
                s2c(ACK, seg)
            ss += len(seg)
        if k == 1 and i % 7 == 0:            # segment 2 lost: ACK, two dup ACKs, fast retransmission
            for _ in range(3):
                t += 100_000
                c2s(ACK, ack=starts[1])
            t += 100_000
            s2c(ACK, seg, seq=starts[1])
        if k == 2 and i % 10 == 0:           # a timeout retransmission
            t += 200_000_000
            s2c(ACK, seg, seq=starts[2])
        t += rtt // 2
        c2s(ACK)
    t += 1_000_000
    c2s(FIN | ACK)
    cs += 1
    t += rtt
    s2c(FIN | ACK)
    ss += 1
    t += rtt
    c2s(ACK)
    return out


def _bulk_connection(i, t0):
    """(ts_ns, frame) of a bulk transfer: handshake, a 100-octet request, 40 full-size
    answer segments with an ACK after every second one, FIN exchange."""
    c = bytes((10, 1, (i >> 8) & 255, i & 255))
    s = bytes((192, 0, 2, 1 + i % 50))
    sp, dp = 20000 + i % 40000, 80
    cs, ss = 1000 + i * 7919, 5000 + i * 104729
    t = t0
    out = [(t, _frame(c, s, sp, dp, cs, 0, SYN))]
    cs += 1
    t += 1_000_000
    out.append((t, _frame(s, c, dp, sp, ss, cs, SYN | ACK)))
    ss += 1
    t += 1_000_000
    out.append((t, _frame(c, s, sp, dp, cs, ss, ACK)))
    out.append((t, _frame(c, s, sp, dp, cs, ss, PSH | ACK, b"G" * 100)))
    cs += 100
    for k in range(40):
        t += 50_000
        out.append((t, _frame(s, c, dp, sp, ss, cs, ACK, b"R" * 1460)))
        ss += 1460
        if k % 2:
            out.append((t + 10_000, _frame(c, s, sp, dp, cs, ss, ACK)))
    t += 1_000_000
    out.append((t, _frame(c, s, sp, dp, cs, ss, FIN | ACK)))
    out.append((t + 1_000_000, _frame(s, c, dp, sp, ss, cs + 1, FIN | ACK)))
    out.append((t + 2_000_000, _frame(c, s, sp, dp, cs + 1, ss + 1, ACK)))
    return out


def make_capture(path: Path, connections: int, bulk: bool = False) -> int:
    from decoder.capture import Frame, PcapWriter
    base = 1_700_000_000_000_000_000
    make, gap = (_bulk_connection, 1_000_000) if bulk else (_connection, 2_000_000)
    streams = [iter(make(i, base + i * gap)) for i in range(connections)]
    n = 0
    with PcapWriter(str(path), 1) as w:
        for ts, data in heapq.merge(*streams, key=lambda x: x[0]):
            w.write(Frame(data, 1, ts, len(data)))
            n += 1
    return n


# --- contenders (each in its own process: `bench_conversations.py --run NAME FILE`) --------

def run_conversations(path):
    from decoder.capture import open_capture
    from decoder.packet import Decoder
    from decoder.registry import Registry
    from expert.conversations import PROTOCOLS, ConversationTracker
    decode = Decoder(Registry.default(), want=PROTOCOLS).decode
    tr = ConversationTracker(annotate=False, on_finish=lambda c: None)
    with open_capture(str(path)) as cap:
        for n, frame in enumerate(cap, 1):
            tr.process(decode(frame, n))
    tr.finish()
    return 0


def run_analysis(path, annotate=True):
    from decoder.capture import open_capture
    from decoder.packet import Decoder
    from decoder.registry import Registry
    from expert.conversations import PROTOCOLS
    from expert.tcp_analysis import Analysis, AnalysisSettings
    decode = Decoder(Registry.default(), want=PROTOCOLS).decode
    an = Analysis(AnalysisSettings(annotate=annotate), on_conversation=lambda c: None)
    with open_capture(str(path)) as cap:
        for n, frame in enumerate(cap, 1):
            an.process(decode(frame, n))
    an.finish()
    return 0


def run_decode_only(path):
    from decoder.capture import open_capture
    from decoder.packet import Decoder
    from decoder.registry import Registry
    decode = Decoder(Registry.default()).decode
    with open_capture(str(path)) as cap:
        for n, frame in enumerate(cap, 1):
            decode(frame, n)
    return 0


def _stats(*z):
    def run(path):
        from decoder import cli
        sys.stdout = open(os.devnull, "w")
        args = ["stats", str(path)]
        for x in z:
            args += ["-z", x]
        return cli.main(args) or 0
    return run


CONTENDERS = {
    "protospec decode only": (run_decode_only, None),
    "protospec conversations": (run_conversations, None),
    "protospec conv+tcp analysis": (run_analysis, None),
    "protospec conv+tcp analysis (counts)": (lambda path: run_analysis(path, annotate=False), None),
    "protospec stats -z conv,tcp": (_stats("conv,tcp"), None),
    "protospec stats -z art": (_stats("art"), None),
    "protospec stats (all tables)": (_stats(), None),
    "tshark -q -z conv,tcp": (None, ["tshark", "-n", "-q", "-r", "{f}", "-z", "conv,tcp"]),
    "tshark -q -z expert": (None, ["tshark", "-n", "-q", "-r", "{f}", "-z", "expert"]),
}


def measure(name, path):
    fn, extra = CONTENDERS[name]
    cmd = contender_cmd(__file__, name, path, extra if fn is None else None)
    return None if cmd is None else time_process(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, help="connections (default 4000; 3000 with --bulk)")
    ap.add_argument("--bulk", action="store_true",
                    help="bulk transfers instead: 40 full-size segments per connection (943 B a packet)")
    ap.add_argument("--capture", help="use this Ethernet capture instead of building one")
    ap.add_argument("--only", action="append", help="run only these contenders")
    ap.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        make_capture(Path(args.make[0]), int(args.make[1]), args.bulk)
        return
    if args.run:
        name, path = args.run
        sys.exit(CONTENDERS[name][0](path))
    tmp = None
    if args.capture:
        path = Path(args.capture)
    else:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "conversations.pcap"
        # built in a child: Linux carries a process's peak RSS across fork+exec, so a big
        # parent would inflate every contender's figure
        connections = args.connections or (3000 if args.bulk else 4000)
        subprocess.run([sys.executable, __file__, "--make", str(path), str(connections)]
                       + (["--bulk"] if args.bulk else []), check=True)
    count = count_frames(path)
    print(f"capture: {path} ({count} packets, {path.stat().st_size / 1e6:.1f} MB)")
    print(f"{'contender':<38} {'seconds':>8} {'packets/s':>11} {'max RSS MB':>11}")
    for name in CONTENDERS:
        if args.only and name not in args.only:
            continue
        res = measure(name, path)
        if res is None:
            print(f"{name:<38} {'n/a':>8}")
            continue
        secs, rss = res
        print(f"{name:<38} {secs:>8.2f} {count / secs:>11,.0f} {rss:>11.1f}", flush=True)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
