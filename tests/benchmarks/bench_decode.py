"""Decode benchmark: protospec against dpkt, scapy and tshark on one capture, in one run.

Run on demand (pytest does not collect it)::

    python tests/benchmarks/bench_decode.py [--packets 254000] [--capture FILE]

Each contender runs in its own process, timed by wall clock, with its peak memory
(max RSS) read from ``wait4``.  Two kinds of work:

* **header decode**: what ``-T fields -e ip.src -e tcp.srcport`` needs: read every
  frame, decode Ethernet/IPv4/TCP/UDP headers, take the source address and port
  (dpkt also parses the TCP options, as its idiomatic use does);
* **full decode**: every field of every layer (protospec's ``-V`` tree data,
  scapy's dissection with all fields read, tshark ``-V``).

The report gives packets/s and the ratio to dpkt.  Nothing here is asserted:
timing belongs in a benchmark, never in a test.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import contender_cmd, count_frames, time_process  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def make_capture(path: Path, count: int) -> None:
    """Ethernet/IPv4 TCP (with options, with and without data) and UDP frames, repeated."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    from decoder.capture import Frame, PcapWriter

    templates = []
    for i in range(64):
        eth = Ether(src=f"02:00:00:00:00:{i:02x}", dst="00:e0:fc:12:34:56")
        ip = IP(src=f"10.0.{i}.1", dst=f"192.0.2.{i}", id=i, flags="DF")
        if i % 4 == 0:
            pkt = eth / ip / UDP(sport=5000 + i, dport=53) / (b"q" * (20 + i))
        elif i % 4 == 1:
            pkt = eth / ip / TCP(sport=40000 + i, dport=443, flags="S", options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (i, 0)), ("NOP", None), ("WScale", 7)])
        else:
            pkt = eth / ip / TCP(sport=40000 + i, dport=80, flags="PA", seq=i * 1000, ack=7, options=[("NOP", None), ("NOP", None), ("Timestamp", (i, i))]) / (b"d" * (i * 20))
        templates.append(bytes(pkt))
    with PcapWriter(str(path), 1) as w:
        for n in range(count):
            data = templates[n % len(templates)]
            w.write(Frame(data, 1, 1_700_000_000_000_000_000 + n * 1000, len(data)))


# --- contenders (each runs in its own process: `bench_decode.py --run NAME FILE`) ---------

def run_protospec_fields(path):
    from decoder import cli
    sys.stdout = open(os.devnull, "w")
    return cli.main(["decode", str(path), "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport"]) or 0


def run_protospec_headers_api(path):
    from decoder.capture import open_capture
    from decoder.packet import Decoder
    from decoder.registry import Registry
    reg = Registry.default()
    decode = Decoder(reg).decode
    ip_src = reg.protocols["ip"].getters["src"]
    tcp_sport = reg.protocols["tcp"].getters["srcport"]
    with open_capture(str(path)) as cap:
        for frame in cap:
            pkt = decode(frame)
            for layer in pkt.layers:
                name = layer.proto.name
                if name == "ip":
                    ip_src(layer.v)
                elif name == "tcp":
                    tcp_sport(layer.v)
    return 0


def run_protospec_full(path):
    from decoder.capture import open_capture
    from decoder.packet import Decoder
    from decoder.registry import Registry
    decode = Decoder(Registry.default()).decode
    with open_capture(str(path)) as cap:
        for frame in cap:
            for layer in decode(frame).layers:
                layer.spans
                layer.flat()
                layer.summary()
    return 0


def run_dpkt_headers(path):
    import socket

    import dpkt
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                socket.inet_ntoa(ip.src)
                l4 = ip.data
                if isinstance(l4, dpkt.tcp.TCP):
                    l4.sport
                    dpkt.tcp.parse_opts(l4.opts)
    return 0


def run_dpkt_full(path):
    import socket

    import dpkt
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst), ip.ttl, ip.p, ip.len, ip.id, ip.df, ip.mf, ip.offset, ip.sum
                l4 = ip.data
                if isinstance(l4, dpkt.tcp.TCP):
                    l4.sport, l4.dport, l4.seq, l4.ack, l4.flags, l4.win, l4.sum, l4.urp
                    dpkt.tcp.parse_opts(l4.opts)
                elif isinstance(l4, dpkt.udp.UDP):
                    l4.sport, l4.dport, l4.ulen, l4.sum
    return 0


def run_scapy_headers(path, limit=20000):
    from scapy.layers.inet import IP, TCP
    from scapy.utils import PcapReader
    for n, pkt in enumerate(PcapReader(str(path))):
        if n >= limit:
            break
        if IP in pkt:
            pkt[IP].src
            if TCP in pkt:
                pkt[TCP].sport
    return 0


def run_scapy_full(path, limit=20000):
    from scapy.utils import PcapReader
    for n, pkt in enumerate(PcapReader(str(path))):
        if n >= limit:
            break
        layer = pkt
        while layer:
            for f in layer.fields_desc:
                layer.getfieldval(f.name)
            layer = layer.payload
    return 0


CONTENDERS = {
    "protospec -T fields": ("header", run_protospec_fields, None),
    "protospec API headers": ("header", run_protospec_headers_api, None),
    "dpkt headers+options": ("header", run_dpkt_headers, None),
    "scapy headers (20k)": ("header", run_scapy_headers, 20000),
    "tshark -T fields": ("header", None, ["tshark", "-n", "-r", "{f}", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport"]),
    "protospec full (-V data)": ("full", run_protospec_full, None),
    "dpkt full": ("full", run_dpkt_full, None),
    "scapy full (20k)": ("full", run_scapy_full, 20000),
    "tshark -V": ("full", None, ["tshark", "-n", "-r", "{f}", "-V"]),
}


def measure(name, path):
    _, fn, extra = CONTENDERS[name]
    cmd = contender_cmd(__file__, name, path, extra if fn is None else None)
    return None if cmd is None else time_process(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=254_000)
    ap.add_argument("--capture", help="use this Ethernet capture instead of building one")
    ap.add_argument("--only", action="append", help="run only these contenders")
    ap.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        make_capture(Path(args.make[0]), int(args.make[1]))
        return
    if args.run:
        name, path = args.run
        sys.exit(CONTENDERS[name][1](path))
    if args.capture:
        path = Path(args.capture)
        count = count_frames(path)
    else:
        path = Path(tempfile.gettempdir()) / f"protospec-bench-{args.packets}.pcap"
        if not path.exists():
            # built in a child so this parent stays small: children forked from it
            # would otherwise report its memory as part of their peak
            subprocess.run([sys.executable, __file__, "--make", str(path), str(args.packets)], check=True)
        count = args.packets
    print(f"capture: {path} ({count} packets, {path.stat().st_size / 1e6:.1f} MB)")
    print(f"python {sys.version.split()[0]}")
    results = {}
    for name in args.only or CONTENDERS:
        extra = CONTENDERS[name][2]
        limit = extra if isinstance(extra, int) else count
        r = measure(name, path)
        if r is None:
            print(f"{name:28s}  skipped (not available or failed)")
            continue
        elapsed, rss = r
        rate = min(limit, count) / elapsed
        results[name] = rate
        print(f"{name:28s} {rate:>10,.0f} pkt/s  {elapsed:7.2f} s  peak {rss:7.1f} MiB", flush=True)
    print()
    for kind, base in (("header", "dpkt headers+options"), ("full", "dpkt full")):
        if base not in results:
            continue
        for name, rate in results.items():
            if CONTENDERS[name][0] == kind:
                print(f"{kind:6s} {name:28s} {rate / results[base]:6.2f}x dpkt")


if __name__ == "__main__":
    main()
