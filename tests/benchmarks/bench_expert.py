"""Expert benchmark: ``protospec expert`` against ``tshark -q -z expert`` on one capture.

Run on demand (pytest does not collect it)::

    python tests/benchmarks/bench_expert.py [--packets 200000] [--capture FILE] [--repeat 1]

The capture built by default is a busy LAN segment: many interleaved TCP connections
(handshake, request, a multi-segment answer with ACKs, close), some with a retransmission
after a 200 ms timeout, some with three duplicate ACKs and a fast retransmission, some
connection attempts to a filtered port, DNS queries and answers (a few unanswered), plus
ARP.  Each contender runs in its own process, timed by wall clock, with its peak memory
(max RSS) read from ``os.wait4``.  Nothing is asserted: timing belongs in a benchmark.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import count_frames, time_process  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from decoder.checksum import internet_checksum  # noqa: E402

T0 = 1_700_000_000_000_000_000


def _ip(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", internet_checksum(hdr)) + hdr[12:]
    return hdr + payload


def _tcp(src, dst, sp, dp, seq, ack, flags, win, data=b"", ident=0) -> bytes:
    opts = b"\x02\x04\x05\xb4\x04\x02\x01\x03\x03\x07" + b"\x00\x00" if flags & 0x02 else b""
    hlen = 20 + len(opts)
    seg = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hlen // 4) << 4, flags, win, 0, 0)
    seg += opts + data
    pseudo = src + dst + struct.pack("!xBH", 6, len(seg))
    c = internet_checksum(seg, sum(struct.unpack("!6H", pseudo)))
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return _ip(src, dst, 6, seg, ident)


def _udp(src, dst, sp, dp, data, ident=0) -> bytes:
    seg = struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
    pseudo = src + dst + struct.pack("!xBH", 17, len(seg))
    c = internet_checksum(seg, sum(struct.unpack("!6H", pseudo))) or 0xFFFF
    seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return _ip(src, dst, 17, seg, ident)


def _eth(dst_mac: bytes, src_mac: bytes, payload: bytes, ethertype=0x0800) -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def _dns_query(qid: int, name: str, response=False, answer=None) -> bytes:
    flags = 0x8180 if response else 0x0100
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    an = b""
    if answer:
        an = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + answer
    return struct.pack("!HHHHHH", qid, flags, 1, 1 if answer else 0, 0, 0) + q + an


def make_capture(path: Path, count: int, seed: int = 7) -> int:
    """Write about ``count`` frames; returns the number written."""
    from decoder.capture import Frame, PcapWriter

    rnd = random.Random(seed)
    cmac, rmac = bytes.fromhex("020000000001"), bytes.fromhex("00e0fc123456")
    events = []          # (time ns, frame bytes)

    def conn(t, k):
        c = bytes([10, 1, (k >> 8) & 0xFF, k & 0xFF])
        s = bytes([192, 0, 2, 1 + k % 50])
        sp, dp = 20000 + k % 40000, (80, 443, 8080)[k % 3]
        isn_c, isn_s = rnd.randrange(1 << 32), rnd.randrange(1 << 32)
        kind = rnd.random()
        rtt = rnd.randint(200, 3000) * 1000         # 0.2 to 3 ms
        ident = k * 64
        out = []

        def c2s(dt, flags, seq, ack, data=b"", win=502):
            nonlocal ident
            ident += 1
            ack = isn_s + ack if flags & 0x10 else 0
            out.append((t + dt, _eth(rmac, cmac, _tcp(c, s, sp, dp, isn_c + seq, ack, flags, win, data, ident))))

        def s2c(dt, flags, seq, ack, data=b"", win=509):
            nonlocal ident
            ident += 1
            out.append((t + dt, _eth(cmac, rmac, _tcp(s, c, dp, sp, isn_s + seq, isn_c + ack, flags, win, data, ident))))

        if kind < 0.01:                               # a filtered port: three SYNs, no answer
            for i, dt in enumerate((0, 1_000_000_000, 3_000_000_000)):
                c2s(dt, 0x02, 0, 0, win=64240)
            return out
        c2s(0, 0x02, 0, 0, win=64240)
        s2c(rtt, 0x12, 0, 1, win=65160)
        now = rtt + 50_000
        c2s(now, 0x10, 1, 1)
        req = b"GET /item/%d HTTP/1.1\r\nHost: example\r\n\r\n" % k
        c2s(now + 10_000, 0x18, 1, 1, req)
        now += 10_000 + rtt + 300_000
        seq = 1
        nseg = rnd.randint(2, 12)
        for i in range(nseg):
            data = b"x" * 1400
            if kind < 0.05 and i == nseg - 1:         # lost after the capture point: resent after 200 ms
                s2c(now, 0x10, seq, 1 + len(req), data)
                s2c(now + 200_000_000, 0x10, seq, 1 + len(req), data)
                now += 200_000_000
            elif 0.05 <= kind < 0.08 and i == 1 and nseg > 4:   # lost: 3 dup ACKs, fast retransmission
                nxt = seq + 1400
                for j in range(3):
                    s2c(now + j * 20_000, 0x10, nxt + j * 1400, 1 + len(req), data)
                    c2s(now + j * 20_000 + rtt // 2, 0x10, 1 + len(req), seq)
                s2c(now + 80_000 + rtt // 2, 0x10, seq, 1 + len(req), data)
                c2s(now + 80_000 + rtt, 0x10, 1 + len(req), nxt + 3 * 1400)
                seq = nxt + 3 * 1400
                now += 100_000 + rtt
                continue
            else:
                s2c(now, 0x10, seq, 1 + len(req), data)
            seq += 1400
            if i % 2:
                c2s(now + rtt // 2, 0x10, 1 + len(req), seq)
            now += 30_000
        s2c(now, 0x19, seq, 1 + len(req))
        c2s(now + rtt, 0x11, 1 + len(req), seq + 1)
        s2c(now + 2 * rtt, 0x10, seq + 1, 2 + len(req))
        return out

    t = T0
    k = 0
    n = 0
    while n < count:
        roll = rnd.random()
        if roll < 0.08:                               # DNS, 1 in 20 unanswered
            qid = rnd.randrange(65536)
            c = bytes([10, 1, 0, 1 + k % 200])
            d = bytes([192, 0, 2, 53])
            sp = 30000 + k % 30000
            events.append((t, _eth(rmac, cmac, _udp(c, d, sp, 53, _dns_query(qid, f"host{k}.example.com"), k))))
            if rnd.random() > 0.05:
                events.append((t + 2_000_000, _eth(cmac, rmac, _udp(d, c, 53, sp, _dns_query(
                    qid, f"host{k}.example.com", True, bytes([192, 0, 2, k % 250 + 1])), k))))
                n += 1
            n += 1
        elif roll < 0.09:                             # ARP request and reply
            events.append((t, _eth(b"\xff" * 6, cmac, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, cmac,
                                                                   bytes([10, 1, 0, 1]), b"\0" * 6, bytes([10, 1, 0, 254])), 0x0806)))
            events.append((t + 100_000, _eth(cmac, rmac, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, rmac,
                                                                      bytes([10, 1, 0, 254]), cmac, bytes([10, 1, 0, 1])), 0x0806)))
            n += 2
        else:
            frames = conn(t, k)
            events += frames
            n += len(frames)
        k += 1
        t += rnd.randint(50_000, 400_000)             # a new exchange every 0.05 to 0.4 ms
    events.sort(key=lambda e: e[0])
    with PcapWriter(str(path), 1) as w:
        for ts, data in events:
            w.write(Frame(data, 1, ts, len(data)))
    return len(events)


def run_protospec(path):
    from decoder import cli
    sys.stdout = open(os.devnull, "w")
    return cli.main(["expert", str(path)]) or 0


def measure(cmd):
    return time_process(cmd, ok=(0, 3))          # 3: findings at or above --fail-on


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--capture", help="use this capture instead of building one")
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender (the best is reported)")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        print(make_capture(Path(args.make[0]), int(args.make[1])))
        return
    if args.run:
        sys.exit(run_protospec(args.run))
    if args.capture:
        path = Path(args.capture)
    else:
        path = Path(tempfile.gettempdir()) / f"protospec-expert-bench-{args.packets}.pcap"
        if not path.exists():
            # built in a child: the parent stays small, so the children's peaks are their own
            subprocess.run([sys.executable, __file__, "--make", str(path), str(args.packets)], check=True,
                           stdout=subprocess.DEVNULL)
    count = count_frames(path)
    print(f"capture: {path} ({count} packets, {path.stat().st_size / 1e6:.1f} MB)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    contenders = {"protospec expert": [sys.executable, __file__, "--run", str(path)]}
    if shutil.which("tshark"):
        contenders["tshark -q -z expert"] = ["tshark", "-n", "-q", "-r", str(path), "-z", "expert"]
    results = {}
    for name, cmd in contenders.items():
        best = None
        for _ in range(args.repeat):
            r = measure(cmd)
            if r is not None and (best is None or r[0] < best[0]):
                best = r
        if best is None:
            print(f"{name:22s} failed")
            continue
        elapsed, rss = best
        results[name] = (count / elapsed, rss)
        print(f"{name:22s} {count / elapsed:>10,.0f} pkt/s  {elapsed:7.2f} s  peak {rss:7.1f} MiB", flush=True)
    if len(results) == 2:
        (a, (ra, ma)), (b, (rb, mb)) = results.items()
        print(f"\n{a} / {b}: speed {ra / rb:.2f}x, memory {ma / mb:.2f}x")


if __name__ == "__main__":
    main()
