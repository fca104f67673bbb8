"""``protospec stats FILE``: tshark-like statistics in one streaming pass.

::

    protospec stats FILE                       # every table
    protospec stats FILE -z hierarchy          # protocol hierarchy (tshark -z io,phs)
    protospec stats FILE -z conv,tcp -z conv,ip   # conversations (eth ip ipv6 tcp udp)
    protospec stats FILE -z endpoints,ip       # endpoints (eth: with the MAC vendor)
    protospec stats FILE -z art                # application response time per server/port
    protospec stats FILE -z pairs              # request/response times (DNS ICMP RADIUS FTP HTTP UDP)
    protospec stats FILE -z io,1 [--plot io.svg]   # packets/bytes per interval, bar chart
    protospec stats FILE -z follow,tcp,ascii,0 # one stream's payload (expert.follow; hex, raw too)
    protospec stats FILE -T json               # every selected table as one JSON object

Memory: the per-packet work keeps only live flows (:mod:`expert.conversations`),
outstanding requests (:mod:`expert.pairing`) and the tables themselves (one row per
conversation / endpoint / protocol path / interval, as tshark keeps them).

**Application Response Time** (:class:`ART`, Sniffer's definitions): per TCP
conversation, from the client's last data segment before the server's first data segment
after it to that segment (``art``: the server's turn-around, the same measure as the
rules' ``conv.art``), and from the first client data segment the server has not yet
acknowledged to the first server segment acknowledging it (``ack``); per UDP flow, from
the client's last datagram to the next server datagram.  The client is the
conversation's originator (:mod:`expert.conversations`: SYN sender, or the heuristics).
Figures per (server, port, proto): count, min, mean, median, p95 (nearest rank), max,
in seconds; at most ``max_samples`` samples per row are kept (a uniform reservoir
beyond that, so median/p95 become estimates; count/min/mean/max stay exact).
"""
from __future__ import annotations

import json
import math
import random
import sys

from expert.conversations import PROTOCOLS as CONVERSATION_PROTOCOLS, ConversationTracker, Settings, _text
from expert.pairing import Pairing
from expert.tcp_state import ACK, M32, RST, SYN

ALL = ("hierarchy", "conv", "endpoints", "art", "pairs", "io")
CONV_KINDS = ("eth", "ip", "ipv6", "tcp", "udp")
_OWN_DATA = frozenset(("icmp", "icmpv6"))


# -- numbers -------------------------------------------------------------------------------

class Samples:
    """count/min/mean/max exact; a bounded reservoir for median and p95."""

    __slots__ = ("n", "total", "lo", "hi", "res", "cap", "rng")

    def __init__(self, cap=100_000):
        self.n, self.total, self.lo, self.hi = 0, 0.0, math.inf, -math.inf
        self.res, self.cap, self.rng = [], cap, None

    def add(self, x: float):
        self.n += 1
        self.total += x
        if x < self.lo:
            self.lo = x
        if x > self.hi:
            self.hi = x
        if len(self.res) < self.cap:
            self.res.append(x)
        else:
            if self.rng is None:
                self.rng = random.Random(0)
            j = self.rng.randrange(self.n)
            if j < self.cap:
                self.res[j] = x

    def summary(self) -> dict:
        s = sorted(self.res)
        k = len(s)
        if not k:
            return {"count": 0}
        median = s[k // 2] if k % 2 else (s[k // 2 - 1] + s[k // 2]) / 2
        p95 = s[max(0, math.ceil(0.95 * k) - 1)]
        return {"count": self.n, "min": self.lo, "mean": self.total / self.n, "median": median,
                "p95": p95, "max": self.hi}


# -- application response time ---------------------------------------------------------------

class ART:
    """Application response time per (server, port, proto); feed it ``process(packet,
    conv)`` after the conversation tracker (which must annotate), and ``finished(conv)``.

    ``art``: from the client's last data segment before the server's first response data
    to that data (the server's turn-around: a request sent in several segments counts from
    its last one, as ``conv.art`` of the expert rules does); for UDP from a client datagram
    to the next server datagram.  ``ack``: from the client's first unacknowledged data to
    the server's ACK covering it."""

    def __init__(self, max_samples=100_000):
        self.live: dict = {}
        self.rows: dict = {}
        self.max_samples = max_samples

    def _row(self, conv, kind):
        key = (conv.addr[1], conv.port[1], conv.kind, kind)
        s = self.rows.get(key)
        if s is None:
            s = self.rows[key] = Samples(self.max_samples)
        return s

    def process(self, packet, conv, segment=None):
        """``segment``: the tracker's facts of the packet's TCP segment
        (:attr:`~expert.conversations.ConversationTracker.segment`), as the rules' ``conv.art``
        reads them: data on a SYN or RST is no request and no answer."""
        if conv is None:
            return
        ts = packet.frame.ts_ns
        key = (conv.kind, conv.index)
        if conv.kind == "tcp":
            ex = packet.extra
            if segment is None or ex is None or "tcp.nxtseq" not in ex:
                return
            d, flags, seglen, _ = segment
            st = self.live.get(key)
            if st is None:
                st = self.live[key] = [None, None, 0]     # data start, ack start, ack target
            if flags & (SYN | RST):
                seglen = 0
            if d == 0:
                if seglen > 0:
                    st[0] = ts             # the request's last segment so far: ART counts from it
                    if st[1] is None:
                        st[1] = ts
                        st[2] = ex["tcp.nxtseq"][0]
                return
            if st[1] is not None and flags & ACK:
                if ((ex["tcp.ack"][0] - st[2]) & M32) < 0x80000000:
                    self._row(conv, "ack").add((ts - st[1]) / 1e9)
                    st[1] = None
            if seglen > 0 and st[0] is not None:
                self._row(conv, "art").add((ts - st[0]) / 1e9)
                st[0] = None
        elif conv.kind == "udp":
            net = udp = None
            for layer in packet.layers:
                n = layer.proto.name
                if n == "ip" or n == "ipv6":
                    net = layer
                elif n == "udp":
                    udp = layer
                    break
            if udp is None or net is None or udp.v is None:
                return
            try:
                src = net.raw_field("src")
            except Exception:
                return
            d = 0 if (src == conv.addr[0] and udp.get("srcport") == conv.port[0]) else 1
            st = self.live.get(key)
            if d == 0:
                self.live[key] = ts
            elif st is not None:
                self._row(conv, "art").add((ts - st) / 1e9)
                self.live[key] = None

    def finished(self, conv):
        self.live.pop((conv.kind, conv.index), None)

    def table(self) -> list[dict]:
        out = []
        for (server, port, proto, kind), s in sorted(self.rows.items(),
                                                     key=lambda kv: (kv[0][2], kv[0][0], kv[0][1], kv[0][3])):
            out.append({"server": _text(server), "port": port, "proto": proto, "kind": kind, **s.summary()})
        return out


# -- the collector ---------------------------------------------------------------------------

class _PairConv:
    """eth/ip/ipv6 conversations by address pair (A: the first source seen)."""

    __slots__ = ("a", "b", "fab", "bab", "fba", "bba", "start", "end")

    def __init__(self, a, b, ts):
        self.a, self.b = a, b
        self.fab = self.bab = self.fba = self.bba = 0
        self.start = self.end = ts


class Collector:
    """Everything ``protospec stats`` counts, fed one decoded packet at a time."""

    def __init__(self, select=ALL, conv_kinds=CONV_KINDS, endpoint_kinds=CONV_KINDS, interval=1.0,
                 settings: Settings | None = None, follows=()):
        self.select = set(select)
        self.follows = list(follows)            # expert.follow.Follower s (-z follow,...)
        self.conv_kinds = set(conv_kinds) if "conv" in self.select else set()
        self.endpoint_kinds = set(endpoint_kinds) if "endpoints" in self.select else set()
        self.interval_ns = max(1, int(interval * 1e9))
        self.t0 = None
        self.frames = self.bytes = 0
        self.phs: dict = {}
        self.pairconv = {k: {} for k in ("eth", "ip", "ipv6")}
        self.flows: list = []           # finished tcp/udp conversations (rows)
        self.io: dict = {}              # interval index (from the first frame) -> [frames, bytes]
        self.art = ART()
        self.pair_times: dict = {}
        self.pairing = Pairing(keep_pairs=0)
        self.pairing.pairs = _Sink(self.pair_times)
        need_l4 = ("art" in self.select or bool(self.follows)
                   or bool((self.conv_kinds | self.endpoint_kinds) & {"tcp", "udp"}))
        # ART and follow read the tracker's annotations (tcp.seq, tcp.len ...); -z conv does not
        self.tracker = (ConversationTracker(settings, on_finish=self._finished,
                                            annotate="art" in self.select or bool(self.follows))
                        if need_l4 else None)
        self._need_pairs = bool((self.conv_kinds | self.endpoint_kinds) & {"eth", "ip", "ipv6"})

    @property
    def protocols(self):
        """The layers the selected tables read (None: every layer, for the hierarchy and
        the request/response pairs)."""
        return None if self.select & {"hierarchy", "pairs"} else CONVERSATION_PROTOCOLS

    def _finished(self, conv):
        if conv.kind in ("tcp", "udp"):
            self.flows.append((conv.kind, conv.index, conv.addr, conv.port, tuple(conv.pkts), tuple(conv.bytes),
                               conv.start_ns, conv.last_ns, conv.conn_state if conv.kind == "tcp" else None))
        self.art.finished(conv)

    def process(self, packet):
        frame = packet.frame
        ts, size = frame.ts_ns, frame.orig_len
        if self.t0 is None:
            self.t0 = ts
        self.frames += 1
        self.bytes += size
        sel = self.select
        if "hierarchy" in sel:
            # as tshark's phs: a datagram quoted in an ICMP error, and ICMP's own data,
            # belong to the ICMP layer, not to the path
            path = tuple(layer.proto.name for layer in packet.layers if not layer.quoted)
            if packet.data_end > packet.data_off and path and path[-1] not in _OWN_DATA \
                    and len(path) == len(packet.layers):
                path += ("data",)
            hit = self.phs.get(path)
            if hit is None:
                self.phs[path] = [1, size]
            else:
                hit[0] += 1
                hit[1] += size
        if "io" in sel:
            i = (ts - self.t0) // self.interval_ns
            hit = self.io.get(i)
            if hit is None:
                self.io[i] = [1, size]
            else:
                hit[0] += 1
                hit[1] += size
        if self._need_pairs:
            self._pairs(packet, ts, size)
        conv = self.tracker.process(packet) if self.tracker is not None else None
        if "art" in sel:
            self.art.process(packet, conv, self.tracker.segment)
        if "pairs" in sel:
            self.pairing.process(packet)
        for f in self.follows:
            f.process(packet, conv)

    def _pairs(self, packet, ts, size):
        layers = packet.layers
        if not layers:
            return
        first = layers[0]
        if first.proto.name == "eth" and first.v is not None:
            self._add(self.pairconv["eth"], first.raw_field("src"), first.raw_field("dst"), ts, size)
        for layer in layers:
            n = layer.proto.name
            if (n == "ip" or n == "ipv6") and not layer.quoted and layer.v is not None:
                try:
                    self._add(self.pairconv[n], layer.raw_field("src"), layer.raw_field("dst"), ts, size)
                except Exception:
                    pass
                break

    @staticmethod
    def _add(table, src, dst, ts, size):
        key = (src, dst) if src <= dst else (dst, src)
        c = table.get(key)
        if c is None:
            c = table[key] = _PairConv(src, dst, ts)
        c.end = ts
        if src == c.a:
            c.fab += 1
            c.bab += size
        else:
            c.fba += 1
            c.bba += size

    def finish(self):
        if self.tracker is not None:
            self.tracker.finish()
        for f in self.follows:
            f.finish()

    # -- tables --------------------------------------------------------------------
    def hierarchy(self) -> list[dict]:
        """Rows ``{"path": "eth:ip:tcp", "protocol", "depth", "frames", "bytes"}`` in
        tree order (a frame counts at every prefix of its layer path)."""
        tree: dict = {}
        for path, (f, b) in self.phs.items():
            node = tree
            for name in path:
                ent = node.get(name)
                if ent is None:
                    ent = node[name] = [0, 0, {}]
                ent[0] += f
                ent[1] += b
                node = ent[2]
        out = []

        def walk(node, prefix):
            for name, (f, b, kids) in sorted(node.items(), key=lambda kv: -kv[1][0]):
                path = prefix + (name,)
                out.append({"path": ":".join(path), "protocol": name, "depth": len(prefix),
                            "frames": f, "bytes": b})
                walk(kids, path)
        walk(tree, ())
        return out

    def conversations(self, kind) -> list[dict]:
        t0 = self.t0 or 0
        rows = []
        if kind in ("eth", "ip", "ipv6"):
            for c in self.pairconv[kind].values():
                rows.append({"a": _text(c.a), "b": _text(c.b), "frames_ab": c.fab, "bytes_ab": c.bab,
                             "frames_ba": c.fba, "bytes_ba": c.bba, "frames": c.fab + c.fba,
                             "bytes": c.bab + c.bba, "rel_start": (c.start - t0) / 1e9,
                             "duration": (c.end - c.start) / 1e9})
        else:
            for k, index, addr, port, pkts, byts, start, last, state in self.flows:
                if k != kind:
                    continue
                row = {"stream": index, "a": _text(addr[0]), "a_port": port[0], "b": _text(addr[1]),
                       "b_port": port[1], "frames_ab": pkts[0], "bytes_ab": byts[0], "frames_ba": pkts[1],
                       "bytes_ba": byts[1], "frames": pkts[0] + pkts[1], "bytes": byts[0] + byts[1],
                       "rel_start": (start - t0) / 1e9, "duration": (last - start) / 1e9}
                if state is not None:
                    row["conn_state"] = state
                rows.append(row)
            rows.sort(key=lambda r: r["stream"])
            return rows
        rows.sort(key=lambda r: (-r["bytes"], r["rel_start"]))
        return rows

    def endpoints(self, kind) -> list[dict]:
        eps: dict = {}

        def add(key, tx_f, tx_b, rx_f, rx_b):
            e = eps.get(key)
            if e is None:
                e = eps[key] = [0, 0, 0, 0]
            e[0] += tx_f
            e[1] += tx_b
            e[2] += rx_f
            e[3] += rx_b
        for r in self.conversations(kind):
            a = (r["a"], r.get("a_port"))
            b = (r["b"], r.get("b_port"))
            add(a, r["frames_ab"], r["bytes_ab"], r["frames_ba"], r["bytes_ba"])
            if b != a:
                add(b, r["frames_ba"], r["bytes_ba"], r["frames_ab"], r["bytes_ab"])
            # a conversation with itself: its frames count once (as tshark)
        rows = []
        if kind == "eth":
            from decoder.oui import vendor
        for (addr, port), (tf, tb, rf, rb) in eps.items():
            row = {"address": addr}
            if port is not None:
                row["port"] = port
            row.update({"frames": tf + rf, "bytes": tb + rb, "tx_frames": tf, "tx_bytes": tb,
                        "rx_frames": rf, "rx_bytes": rb})
            if kind == "eth":
                try:
                    row["vendor"] = vendor(addr)
                except Exception:
                    row["vendor"] = None
            rows.append(row)
        rows.sort(key=lambda r: (-r["frames"], r["address"], r.get("port", 0)))
        return rows

    def pair_table(self) -> list[dict]:
        return [{"kind": k, **s.summary()} for k, s in sorted(self.pair_times.items())]

    def io_table(self) -> dict:
        """Every interval from the first frame's (or an earlier frame's) to the last one's;
        when that is more than :data:`IO_MAX_ROWS` intervals (a capture spanning years at
        1 s), only the intervals that saw frames, with ``"sparse": True``."""
        secs = self.interval_ns / 1e9
        io = self.io
        if not io:
            return {"interval": secs, "rows": []}
        lo, hi = min(min(io), 0), max(io)
        sparse = hi - lo + 1 > IO_MAX_ROWS
        keys = sorted(io) if sparse else range(lo, hi + 1)
        empty = (0, 0)
        rows = []
        for i in keys:
            f, b = io.get(i, empty)
            rows.append({"start": i * secs, "frames": f, "bytes": b})
        out = {"interval": secs, "rows": rows}
        if sparse:
            out["sparse"] = True
        return out


#: the most IO intervals listed one by one (empty ones included)
IO_MAX_ROWS = 100_000


class _Sink:
    """Stands in for :attr:`Pairing.pairs`: folds each pair into per-kind samples."""

    __slots__ = ("times",)

    def __init__(self, times):
        self.times = times

    def append(self, item):
        kind, _, _, dt = item
        s = self.times.get(kind)
        if s is None:
            s = self.times[kind] = Samples()
        s.add(dt)

    def __len__(self):
        return 0


# -- text output ------------------------------------------------------------------------------

RULE = "=" * 80


def _fmt_time(x):
    return f"{x * 1000:.3f} ms" if x < 1 else f"{x:.3f} s"


def text_hierarchy(rows) -> str:
    out = [RULE, "Protocol Hierarchy Statistics", "Filter: ", ""]
    for r in rows:
        name = "  " * r["depth"] + r["protocol"]
        out.append(f"{name:<40} frames:{r['frames']} bytes:{r['bytes']}")
    out.append(RULE)
    return "\n".join(out)


def text_conv(kind, rows) -> str:
    title = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP"}[kind]
    port = kind in ("tcp", "udp")
    w = 45 if kind == "ipv6" else 28
    out = [RULE, f"{title} Conversations", "Filter:<No Filter>",
           f"{'':<{2 * w + 5}}|       <-      | |       ->      | |     Total     |  Rel. Start  |   Duration   |"
           + ("  State" if kind == "tcp" else ""),
           f"{'':<{2 * w + 5}}| Frames  Bytes | | Frames  Bytes | | Frames  Bytes |              |              |"]
    for r in rows:
        a = f"{r['a']}:{r['a_port']}" if port else r["a"]
        b = f"{r['b']}:{r['b_port']}" if port else r["b"]
        line = (f"{a:<{w}} <-> {b:<{w}}  {r['frames_ba']:>6} {r['bytes_ba']:>7}   {r['frames_ab']:>6} "
                f"{r['bytes_ab']:>7}   {r['frames']:>6} {r['bytes']:>7}  {r['rel_start']:>13.9f} "
                f"{r['duration']:>13.4f}")
        if kind == "tcp":
            line += f"  {r.get('conn_state', '')}"
        out.append(line)
    out.append(RULE)
    return "\n".join(out)


def text_endpoints(kind, rows) -> str:
    title = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP"}[kind]
    out = [RULE, f"{title} Endpoints", "Filter:<No Filter>"]
    hdr = f"{'':<45}" + ("  Port" if kind in ("tcp", "udp") else "      ") + \
        "  Packets     Bytes  Tx Packets  Tx Bytes  Rx Packets  Rx Bytes"
    if kind == "eth":
        hdr += "  Vendor"
    out.append(hdr)
    for r in rows:
        port = f"{r['port']:>6}" if "port" in r else "      "
        line = (f"{r['address']:<45}{port}  {r['frames']:>7} {r['bytes']:>9}  {r['tx_frames']:>10} "
                f"{r['tx_bytes']:>9}  {r['rx_frames']:>10} {r['rx_bytes']:>9}")
        if kind == "eth":
            line += f"  {r.get('vendor') or ''}"
        out.append(line)
    out.append(RULE)
    return "\n".join(out)


def _stat_cols(r):
    if not r.get("count"):
        return f"{0:>7}"
    return (f"{r['count']:>7} {_fmt_time(r['min']):>12} {_fmt_time(r['mean']):>12} {_fmt_time(r['median']):>12} "
            f"{_fmt_time(r['p95']):>12} {_fmt_time(r['max']):>12}")


def text_art(rows) -> str:
    out = [RULE, "Application Response Time (client request -> server response; ack: -> server ACK)",
           f"{'Server':<40} {'Port':>5} {'Proto':<5} {'Kind':<4} {'Count':>7} {'Min':>12} {'Mean':>12} "
           f"{'Median':>12} {'P95':>12} {'Max':>12}"]
    for r in rows:
        out.append(f"{r['server']:<40} {r['port']:>5} {r['proto']:<5} {r['kind']:<4} {_stat_cols(r)}")
    out.append(RULE)
    return "\n".join(out)


def text_pairs(rows) -> str:
    out = [RULE, "Request/Response Times",
           f"{'Protocol':<10} {'Count':>7} {'Min':>12} {'Mean':>12} {'Median':>12} {'P95':>12} {'Max':>12}"]
    for r in rows:
        out.append(f"{r['kind']:<10} {_stat_cols(r)}")
    out.append(RULE)
    return "\n".join(out)


def _seconds(x) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".")


def text_io(table, width=50) -> str:
    rows = table["rows"]
    secs = table["interval"]
    title = f"IO Statistics (interval {secs:g} s)"
    if table.get("sparse"):
        title += f", only the intervals with frames (more than {IO_MAX_ROWS:,} intervals)"
    out = [RULE, title,
           f"{'Interval':<22} {'Frames':>8} {'Bytes':>11}  Frames"]
    top = max((r["frames"] for r in rows), default=0) or 1
    for r in rows:
        bar = "#" * round(r["frames"] * width / top)
        label = f"{_seconds(r['start'])} <> {_seconds(r['start'] + secs)}"
        out.append(f"{label:<22} {r['frames']:>8} {r['bytes']:>11}  {bar}")
    out.append(RULE)
    return "\n".join(out)


def io_svg(table, title="IO statistics") -> str:
    """Packets per interval as a plain SVG bar chart (no plotting library needed)."""
    rows = table["rows"]
    n = max(1, len(rows))
    w, h, m = 800, 300, 50
    top = max((r["frames"] for r in rows), default=0) or 1
    bw = (w - 2 * m) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{w / 2}" y="20" text-anchor="middle" font-family="sans-serif" font-size="14">'
             f'{title} (interval {table["interval"]:g} s)</text>',
             f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
             f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
             f'<text x="{m - 5}" y="{m + 4}" text-anchor="end" font-family="sans-serif" font-size="10">{top}</text>',
             f'<text x="{m - 5}" y="{h - m}" text-anchor="end" font-family="sans-serif" font-size="10">0</text>']
    for i, r in enumerate(rows):
        bh = r["frames"] * (h - 2 * m) / top
        parts.append(f'<rect x="{m + i * bw:.2f}" y="{h - m - bh:.2f}" width="{max(bw - 1, 0.5):.2f}" '
                     f'height="{bh:.2f}" fill="steelblue"><title>{r["start"]:g} s: {r["frames"]} frames, '
                     f'{r["bytes"]} bytes</title></rect>')
    parts.append(f'<text x="{w / 2}" y="{h - 15}" text-anchor="middle" font-family="sans-serif" '
                 f'font-size="11">seconds (frames per interval)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_plot(table, path: str) -> None:
    if path.lower().endswith(".svg"):
        with open(path, "w") as f:
            f.write(io_svg(table))
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError(f"--plot {path}: matplotlib is not installed; use a .svg file name") from None
    rows = table["rows"]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar([r["start"] for r in rows], [r["frames"] for r in rows], width=table["interval"], align="edge")
    ax.set_xlabel("seconds")
    ax.set_ylabel("frames")
    fig.savefig(path)
    plt.close(fig)


# -- command line --------------------------------------------------------------------------------

class UsageError(ValueError):
    """A bad ``-z`` selection or ``--plot`` (exit status 2)."""


def add_arguments(p):
    p.add_argument("file", metavar="FILE", help="capture file, or - for standard input")
    p.add_argument("-z", dest="stats", action="append", default=[], metavar="STAT",
                   help="hierarchy | conv,eth|ip|ipv6|tcp|udp | endpoints,eth|ip|ipv6|tcp|udp | art | "
                        "pairs | io,INTERVAL | follow,tcp|udp,ascii|hex|raw,STREAM (repeatable; default: all "
                        "but follow)")
    p.add_argument("-T", dest="format", choices=("text", "json"), default="text")
    p.add_argument("--plot", metavar="FILE", help="write the -z io chart (.svg always; .png with matplotlib)")
    p.add_argument("-c", dest="count", type=int, metavar="N", help="stop after N packets")
    p.add_argument("--specs", action="append", default=[], metavar="DIR")


def parse_follows(items):
    """The ``-z follow,tcp|udp,ascii|hex|raw,STREAM`` items (tshark's syntax, by stream
    index) as :class:`expert.follow.Follower` s, and the other items."""
    from expert.follow import MODES, Follower
    follows, rest = [], []
    for item in items:
        if not item.startswith("follow,"):
            rest.append(item)
            continue
        parts = item.split(",")
        if len(parts) != 4 or parts[1] not in ("tcp", "udp") or parts[2] not in MODES or not parts[3].isdigit():
            raise UsageError(f"-z {item}: use follow,tcp|udp,{'|'.join(MODES)},STREAM (a tcp.stream or udp.stream "
                             f"number)")
        follows.append(Follower(parts[1], int(parts[3]), parts[2]))
    return follows, rest


def parse_selections(items):
    """``-z`` values -> (selected tables, conv kinds, endpoint kinds, io interval)."""
    if not items:
        return set(ALL), list(CONV_KINDS), list(CONV_KINDS), 1.0
    sel, conv, eps, interval = set(), [], [], 1.0
    for item in items:
        name, _, arg = item.partition(",")
        name = {"phs": "hierarchy"}.get(name, name)
        if item == "io,phs":
            sel.add("hierarchy")
            continue
        if name in ("conv", "endpoints"):
            kinds = [k for k in arg.split(",") if k] or list(CONV_KINDS)
            bad = [k for k in kinds if k not in CONV_KINDS]
            if bad:
                raise UsageError(f"-z {item}: unknown kind {bad[0]!r} (use eth, ip, ipv6, tcp or udp)")
            (conv if name == "conv" else eps).extend(k for k in kinds if k not in (conv if name == "conv" else eps))
            sel.add(name)
        elif name == "io":
            if arg:
                try:
                    interval = float(arg)
                except ValueError:
                    raise UsageError(f"-z {item}: the interval must be a number of seconds") from None
                if interval <= 0:
                    raise UsageError(f"-z {item}: the interval must be positive")
            sel.add("io")
        elif name in ("hierarchy", "art", "pairs") and not arg:
            sel.add(name)
        else:
            raise UsageError(f"-z {item}: unknown statistic (use hierarchy, conv,KIND, endpoints,KIND, art, "
                             f"pairs, io,INTERVAL)")
    return sel, conv, eps, interval


def collect(path, select=ALL, conv_kinds=CONV_KINDS, endpoint_kinds=CONV_KINDS, interval=1.0, count=None,
            specs=(), follows=()) -> Collector:
    from decoder.capture import open_capture
    from decoder.packet import Decoder
    from decoder.reassembly import Defragmenter
    from decoder.registry import Registry
    reg = Registry.default(extra_dirs=list(specs))
    col = Collector(select, conv_kinds, endpoint_kinds, interval, follows=follows)
    decoder = Defragmenter(Decoder(reg, want=col.protocols))
    process = col.process
    with open_capture(path) as reader:
        for n, frame in enumerate(reader, 1):
            if count is not None and n > count:
                break
            process(decoder.decode(frame, n))
    col.finish()
    return col


def report(col: Collector, conv_kinds, endpoint_kinds) -> dict:
    sel = col.select
    out: dict = {"frames": col.frames, "bytes": col.bytes}
    if "hierarchy" in sel:
        out["hierarchy"] = col.hierarchy()
    if "conv" in sel:
        out["conv"] = {k: col.conversations(k) for k in conv_kinds}
    if "endpoints" in sel:
        out["endpoints"] = {k: col.endpoints(k) for k in endpoint_kinds}
    if "art" in sel:
        out["art"] = col.art.table()
    if "pairs" in sel:
        out["pairs"] = col.pair_table()
    if "io" in sel:
        out["io"] = col.io_table()
    return out


def render_text(data, conv_kinds, endpoint_kinds) -> str:
    parts = []
    if "hierarchy" in data:
        parts.append(text_hierarchy(data["hierarchy"]))
    for k in conv_kinds if "conv" in data else ():
        parts.append(text_conv(k, data["conv"][k]))
    for k in endpoint_kinds if "endpoints" in data else ():
        parts.append(text_endpoints(k, data["endpoints"][k]))
    if "art" in data:
        parts.append(text_art(data["art"]))
    if "pairs" in data:
        parts.append(text_pairs(data["pairs"]))
    if "io" in data:
        parts.append(text_io(data["io"]))
    return "\n".join(parts) + "\n"


def main(args, out=None) -> int:
    """``protospec stats``; returns the exit status (2: bad ``-z`` or ``--plot``)."""
    try:
        return _main(args, out or sys.stdout)
    except UsageError as e:
        print(f"protospec: {e}", file=sys.stderr)
        return 2


def _main(args, out) -> int:
    follows, items = parse_follows(args.stats)
    sel, conv, eps, interval = parse_selections(items) if items or not follows else (set(), [], [], 1.0)
    if args.plot and "io" not in sel:
        raise UsageError("--plot needs -z io,INTERVAL (or no -z at all)")
    col = collect(args.file, sel, conv, eps, interval, args.count, args.specs, follows)
    data = report(col, conv, eps)
    if args.plot:
        try:
            write_plot(data["io"], args.plot)
        except (ValueError, OSError) as e:
            raise UsageError(str(e)) from None
    if args.format == "json":
        if follows:
            data["follow"] = [f.as_dict() for f in follows]
        out.write(json.dumps(data, indent=1) + "\n")
    else:
        if sel:
            out.write(render_text(data, conv, eps))
        for f in follows:
            out.write(f.text())
    return 0
