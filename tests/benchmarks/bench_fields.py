#!/usr/bin/env python3
"""Benchmark ``protospec decode -T fields -e ip.src -e tcp.srcport`` against dpkt.

Builds (once) a capture of N Ethernet/IPv4 frames — 50 distinct TCP (some with options)
and UDP frames made with scapy, repeated; ports no spec binds, so the payload stays data
as for dpkt — then times, best of ``--rounds``, in one process:

* protospec: ``decoder.fields.FieldsWriter.run`` (what the CLI runs), output discarded;
* dpkt: ``dpkt.pcap.Reader`` + ``dpkt.ethernet.Ethernet`` and the same two columns.

    python tests/benchmarks/bench_fields.py [--packets 200000] [--pcap /tmp/protospec-bench.pcap]
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from decoder.capture import Frame, open_capture, write_pcap  # noqa: E402


def build(path: str, count: int) -> None:
    from scapy.all import IP, TCP, UDP, Ether, Raw
    frames = []
    for i in range(50):
        eth = Ether(src="00:11:22:33:44:%02x" % i, dst="66:77:88:99:aa:bb")
        ip = IP(src=f"10.0.{i}.{i + 1}", dst=f"192.168.{i % 7}.{200 - i}", ttl=64 - i, flags="DF")
        if i % 3 == 2:
            p = eth / ip / UDP(sport=41000 + i, dport=51001) / Raw(b"x" * (i * 7 % 200))
        else:
            opts = [("MSS", 1460), ("NOP", None), ("WScale", 7)] if i % 5 == 0 else []
            p = eth / ip / TCP(sport=40000 + i, dport=50001, flags="PA" if i % 2 else "S", seq=i * 1000,
                               options=opts) / Raw(b"y" * (i * 13 % 600))
        frames.append(bytes(p))
    t0 = 1_700_000_000_000_000_000
    write_pcap(path, (Frame(frames[k % 50], 1, t0 + k * 10_000, len(frames[k % 50])) for k in range(count)))


def run_protospec(path: str, fields) -> float:
    from decoder.fields import FieldsWriter
    from decoder.packet import Decoder
    from decoder.registry import Registry
    reg = Registry.default()
    writer, decoder = FieldsWriter(reg, fields), Decoder(reg)
    sink = open(os.devnull, "w")
    t = time.perf_counter()
    with open_capture(path) as reader:
        writer.run(iter(reader), sink.write, decoder)
    return time.perf_counter() - t


def run_dpkt(path: str) -> float:
    import dpkt
    sink = open(os.devnull, "w")
    t = time.perf_counter()
    lines = []
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            l4 = ip.data
            lines.append(f"{socket.inet_ntoa(ip.src)}\t{l4.sport if isinstance(l4, dpkt.tcp.TCP) else ''}")
            if len(lines) >= 2048:
                sink.write("\n".join(lines) + "\n")
                lines.clear()
    sink.write("\n".join(lines) + "\n")
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--pcap", default="/tmp/protospec-bench-v2.pcap")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-e", dest="fields", action="append", default=None)
    args = ap.parse_args()
    fields = args.fields or ["ip.src", "tcp.srcport"]
    if not os.path.exists(args.pcap) or sum(1 for _ in open_capture(args.pcap)) != args.packets:
        build(args.pcap, args.packets)
    ours = min(run_protospec(args.pcap, fields) for _ in range(args.rounds))
    theirs = min(run_dpkt(args.pcap) for _ in range(args.rounds))
    n = args.packets
    print(f"protospec -T fields -e {' -e '.join(fields)}: {n / ours:,.0f} packets/s ({ours:.2f} s)")
    print(f"dpkt Ethernet/IP/TCP header decode:       {n / theirs:,.0f} packets/s ({theirs:.2f} s)")
    print(f"ratio: {theirs / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
