"""Conversation tracking: a bounded flow table with Wireshark's stream indexes and Zeek's
connection records.

:class:`ConversationTracker` reads decoded packets one at a time (``process(packet)``):

* TCP and UDP segments (over IPv4 or IPv6, the network layer nearest the transport
  header) belong to a conversation keyed by the 5-tuple regardless of direction; IP
  packets without TCP/UDP (ICMP, GRE, ESP ...) to one keyed by the address pair and
  protocol; frames without IP to one keyed by the MAC pair.  Transport headers quoted in
  ICMP errors and non-first fragments are not conversations of their own (tshark 4.0
  gives them no ``tcp.stream`` either; fragments are counted with the IP pair).
* ``tcp.stream`` / ``udp.stream`` are numbered from 0 in order of first appearance, as
  Wireshark numbers them; a SYN whose sequence number differs from the one this
  direction started with begins a new TCP conversation with the same ports (Wireshark's
  "port numbers reused"), a SYN+ACK with a new sequence number only restarts that side's
  relative numbering.  Every TCP segment is also annotated with ``tcp.len``,
  ``tcp.seq``, ``tcp.nxtseq``, ``tcp.ack`` (relative), ``tcp.window_size`` and
  ``tcp.window_size_scalefactor`` (see :mod:`expert.tcp_state`).
* roles: the originator (client) is the SYN sender; see :mod:`expert.tcp_state` for the
  whole rule (Zeek's, with one difference for a SYN+ACK seen first).  UDP and others:
  the first sender, flipped by the same likely-server-port heuristic.
* memory stays bounded: a conversation is finished and evicted when it has been idle
  for its timeout (``Settings``: TCP attempts, established TCP, closed TCP — both FINs or
  a RST, after ``tcp_close_linger`` —, UDP, others), or when the table holds
  ``max_conversations`` (oldest closed, then attempts, then the rest).  Finished
  conversations go to ``on_finish`` (a callable) as :class:`Conversation` records; only
  live flows use memory.  :meth:`ConversationTracker.finish` ends the rest.

Deliberate differences from Wireshark: Wireshark never forgets a conversation, so a
5-tuple that comes back after the idle timeout (or after ``tcp_close_linger`` once
closed) keeps its old ``tcp.stream`` there but gets a new one here; and a new SYN
reusing the ports of a conversation already evicted is not flagged
``tcp.analysis.reused_ports``.  The defaults (1 h idle for TCP, 60 s after a close)
make this rare in practice.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from decoder import fastpath
from decoder.checksum import network_layer
from expert import tcp_state
from expert.tcp_state import (ACK, ESTABLISHED, FIN, H_ACK, H_DATA, INACTIVE, M32, PARTIAL, RST, SYN,
                              TOO_LARGE_SEQ_DELTA, TcpConn)
from specs._fields import ipv4_text, ipv6_text, mac_text

#: Ports Zeek's ``likely_server_ports`` would hold for common analyzers, beyond 0-1023.
DEFAULT_SERVER_PORTS = frozenset({
    1080, 1194, 1433, 1434, 1521, 1701, 1723, 1812, 1813, 1883, 2049, 2181, 2375, 2376,
    3128, 3268, 3306, 3389, 3478, 4500, 5060, 5061, 5222, 5223, 5432, 5672, 5900, 5938,
    6379, 6443, 6667, 8000, 8008, 8080, 8081, 8088, 8443, 8883, 9000, 9042, 9092, 9200,
    9418, 11211, 27017,
})

# timeout classes
T_ATTEMPT, T_ACTIVE, T_CLOSED, T_UDP, T_OTHER = range(5)


@dataclass
class Settings:
    """Flow-table settings; times are capture seconds."""
    tcp_attempt_timeout: float = 120.0   # SYNs without answer (covers Linux' 6 SYN retries)
    tcp_idle_timeout: float = 3600.0     # established or mid-stream TCP
    tcp_close_linger: float = 60.0       # after both FINs or a RST (TIME-WAIT is 60 s)
    udp_idle_timeout: float = 300.0
    other_idle_timeout: float = 300.0    # IP without TCP/UDP, non-IP frames
    sweep_interval: float = 1.0          # how often (capture time) idle flows are looked for
    max_conversations: int = 1_000_000   # hard bound on live flows
    server_ports: frozenset = field(default_factory=lambda: DEFAULT_SERVER_PORTS)
    track_ip: bool = True                # conversations of IP packets without TCP/UDP
    track_eth: bool = True               # conversations of non-IP frames, by MAC pair


def _text(addr: bytes) -> str:
    n = len(addr)
    if n == 4:
        return ipv4_text(addr)
    if n == 16:
        return ipv6_text(addr)
    return mac_text(addr)


class Conversation:
    """One conversation; index 0 of the per-direction lists is the originator (client).

    ``kind``: ``tcp``, ``udp``, ``ip`` (other IP protocols) or ``eth`` (non-IP frames);
    ``index``: its ``tcp.stream`` / ``udp.stream`` (numbered per kind); ``pkts``,
    ``bytes`` (frame octets on the wire, as tshark's ``-z conv``), ``ip_bytes`` (IP total
    lengths, as Zeek's ``orig_ip_bytes``) and ``payload`` (TCP/UDP payload octets,
    retransmissions included) per direction; ``first_frame`` / ``last_frame``,
    ``start_ns`` / ``last_ns`` (``duration`` spans first to last packet; Zeek's stops at
    the last one that carried new data); ``end_reason``: ``closed``, ``idle``, ``reused``,
    ``evicted``, ``end`` or None while live.  TCP adds ``tcp`` (:class:`TcpConn`),
    ``conn_state``, ``history``, ``retransmission_series`` and ``flag_counts`` (filled by
    :mod:`expert.tcp_analysis`).
    """

    __slots__ = ("kind", "index", "key", "ip_proto", "addr", "port", "start_ns", "last_ns",
                 "first_frame", "last_frame", "pkts", "bytes", "ip_bytes", "payload", "tcp",
                 "end_reason", "flipped", "tclass", "reused", "udp_active",
                 "retransmission_series", "flag_counts", "bad_checksums", "ck_done")

    def __init__(self, kind, index, key, ip_proto, addr, port, ts, frame, flipped=False):
        self.kind, self.index, self.key, self.ip_proto = kind, index, key, ip_proto
        self.addr, self.port = addr, port            # (orig, resp) raw addresses and ports
        self.start_ns = self.last_ns = ts
        self.first_frame = self.last_frame = frame
        self.pkts = [0, 0]
        self.bytes = [0, 0]
        self.ip_bytes = [0, 0]
        self.payload = [0, 0]
        self.tcp = None
        self.end_reason = None
        self.flipped = flipped
        self.tclass = -1
        self.reused = False
        self.udp_active = 0
        self.retransmission_series = []
        self.flag_counts = None
        self.bad_checksums = [0, 0]
        self.ck_done = 0         # directions whose sender needs no more checksum checks

    # -- endpoints ---------------------------------------------------------------
    @property
    def orig_host(self) -> str:
        return _text(self.addr[0])

    @property
    def resp_host(self) -> str:
        return _text(self.addr[1])

    client_host, server_host = orig_host, resp_host

    @property
    def orig_port(self) -> int:
        return self.port[0]

    @property
    def resp_port(self) -> int:
        return self.port[1]

    client_port, server_port = orig_port, resp_port

    @property
    def orig_pkts(self) -> int:
        return self.pkts[0]

    @property
    def resp_pkts(self) -> int:
        return self.pkts[1]

    @property
    def orig_bytes(self) -> int:
        """Payload octets the originator sent: from sequence numbers for TCP (Zeek's
        ``orig_bytes``), the payload octets seen otherwise."""
        return self.tcp.ep[0].size if self.tcp is not None else self.payload[0]

    @property
    def resp_bytes(self) -> int:
        return self.tcp.ep[1].size if self.tcp is not None else self.payload[1]

    @property
    def orig_ip_bytes(self) -> int:
        return self.ip_bytes[0]

    @property
    def resp_ip_bytes(self) -> int:
        return self.ip_bytes[1]

    @property
    def duration(self) -> float:
        return (self.last_ns - self.start_ns) / 1e9

    @property
    def start_time(self) -> float:
        return self.start_ns / 1e9

    @property
    def conn_state(self) -> str:
        """Zeek's ``conn_state`` (TCP: see :func:`expert.tcp_state.conn_state`)."""
        if self.tcp is not None:
            return tcp_state.conn_state(self.tcp)
        if self.kind == "udp":
            o, r = self.udp_active & 1, self.udp_active & 2
            if o:
                return "SF" if r else "S0"
            return "SHR" if r else "OTH"
        return "OTH"

    @property
    def history(self) -> str:
        h = "".join(self.tcp.history) if self.tcp is not None else ""
        return "^" + h if self.flipped else h

    @property
    def live(self) -> bool:
        return self.end_reason is None

    def as_dict(self) -> dict:
        """A conn.log-like record (plus Wireshark's stream index and frame numbers)."""
        out = {
            "kind": self.kind, "stream": self.index, "ts": self.start_time,
            "orig_h": self.orig_host, "orig_p": self.orig_port,
            "resp_h": self.resp_host, "resp_p": self.resp_port, "proto": self.ip_proto,
            "duration": self.duration, "orig_bytes": self.orig_bytes, "resp_bytes": self.resp_bytes,
            "conn_state": self.conn_state, "history": self.history,
            "orig_pkts": self.pkts[0], "orig_ip_bytes": self.ip_bytes[0],
            "resp_pkts": self.pkts[1], "resp_ip_bytes": self.ip_bytes[1],
            "orig_frame_bytes": self.bytes[0], "resp_frame_bytes": self.bytes[1],
            "first_frame": self.first_frame, "last_frame": self.last_frame,
            "end_reason": self.end_reason,
        }
        if self.flag_counts is not None:
            out["analysis"] = {k: v for k, v in self.flag_counts.items() if v != [0, 0]}
        if self.retransmission_series:
            out["retransmission_series"] = [s.as_dict() for s in self.retransmission_series]
        return out

    def __repr__(self):
        return (f"<Conversation {self.kind}.stream={self.index} {self.orig_host}:{self.orig_port} -> "
                f"{self.resp_host}:{self.resp_port} {self.conn_state} {self.history!r} "
                f"pkts={self.pkts} {'live' if self.live else self.end_reason}>")


def _extractor(proto, names, raw=()):
    """``f(v) -> tuple`` of prefix fields (``raw``: the unconverted value, e.g. address
    bytes), compiled from the protocol's prefix sources; None if a field is missing."""
    pre = getattr(proto, "prefix", None)
    if pre is None:
        return None
    parts = []
    for n in names:
        f = pre.by_name.get(n)
        if f is None:
            return None
        parts.append(f"v[{f.index}]" if n in raw else f.source)
    return eval("lambda v: (" + ", ".join(parts) + ",)", fastpath.address_env())


#: the layers the flow table reads (a :class:`decoder.packet.Decoder` built with
#: ``want=PROTOCOLS`` decodes up to them, ICMP errors' quotes included, and no further)
PROTOCOLS = frozenset({"eth", "ip", "ipv6", "tcp", "udp"})

_TCP_FIELDS = ("srcport", "dstport", "seq_raw", "ack_raw", "hdr_len", "flags", "window_size_value")
_UDP_FIELDS = ("srcport", "dstport", "length")
_IP_FIELDS = ("src", "dst", "len", "flags.mf", "frag_offset", "proto", "version")
_IP6_FIELDS = ("src", "dst", "plen", "nxt", "version")


class ConversationTracker:
    """The flow table.

    ``analyzer`` (optional, :class:`expert.tcp_analysis.TcpAnalyzer`) has
    ``segment(packet, layer, hlen, conv, d, seq, ack, flags, seglen, window, ts, reused)``, called for
    every TCP segment once the conversation and the relative numbers are known, and
    ``finished(conv)``, called when a TCP conversation ends; ``checksums`` is an optional
    :class:`expert.checksum_offload.ChecksumMonitor`; ``on_finish(conv)`` receives every
    finished conversation; ``annotate=False`` leaves the packets alone (statistics only).
    """

    def __init__(self, settings: Settings | None = None, on_finish=None, analyzer=None, checksums=None,
                 annotate: bool = True):
        self.settings = s = settings or Settings()
        self.annotate = annotate
        self.on_finish = on_finish
        self.analyzer = analyzer
        self._segment = analyzer.segment if analyzer is not None else None
        self.checksums = checksums
        self.flows: dict = {}
        self.counters = {"tcp": 0, "udp": 0, "ip": 0, "eth": 0}
        self._timeouts = tuple(int(t * 1e9) for t in (
            s.tcp_attempt_timeout, s.tcp_idle_timeout, s.tcp_close_linger, s.udp_idle_timeout,
            s.other_idle_timeout))
        # per timeout class, the live conversations in order of last activity (LRU)
        self._queues = tuple(OrderedDict() for _ in range(5))
        self._sweep_ns = int(s.sweep_interval * 1e9)
        self._next_sweep = None
        self._ex = {}                  # id(proto) -> (proto, prefix extractor or None)
        self._server = s.server_ports
        self._tcp_proto = self._tcp_ex = self._ip_proto = self._ip_ex = None
        self.now = 0
        #: ``(direction, flags, segment length, raw window)`` of the last TCP segment
        #: counted in the packet under way (direction 0: from the client; None if it had
        #: none), for stages that follow
        self.segment = None

    # -- helpers -------------------------------------------------------------------
    def _extract(self, proto, names, raw):
        hit = self._ex.get(id(proto))
        if hit is None or hit[0] is not proto:     # Protocol objects are not hashable
            hit = self._ex[id(proto)] = (proto, _extractor(proto, names, raw))
        return hit[1]

    def _likely_server(self, port: int) -> bool:
        return port < 1024 or port in self._server

    def _flip(self, sport: int, dport: int) -> bool:
        """Zeek's ``WantConnection`` heuristic for a conversation not starting with a SYN
        or SYN+ACK: turn it round when the sender's port is a likely server port and the
        receiver's is not, or both are and the sender's is the lower."""
        if self._likely_server(sport):
            if self._likely_server(dport):
                return sport < dport
            return True
        return False

    def _new(self, kind, key, ip_proto, src, sp, dst, dp, ts, frame, flip):
        n = self.counters[kind]
        self.counters[kind] = n + 1
        if flip:
            conv = Conversation(kind, n, key, ip_proto, (dst, src), (dp, sp), ts, frame, True)
        else:
            conv = Conversation(kind, n, key, ip_proto, (src, dst), (sp, dp), ts, frame)
        self.flows[key] = conv
        if len(self.flows) > self.settings.max_conversations:
            self._evict_one()
        return conv

    def _enqueue(self, conv, tclass):
        """Move ``conv`` to the (most recent end of the) queue of timeout class ``tclass``."""
        if conv.tclass >= 0:
            old = self._queues[conv.tclass]
            if old.get(conv.key) is conv:
                del old[conv.key]
        conv.tclass = tclass
        self._queues[tclass][conv.key] = conv

    # -- the per-packet entry point ------------------------------------------------
    def process(self, packet):
        """Update the conversation(s) of ``packet`` and annotate it; returns the
        conversation of its (first) transport layer, or of its IP / MAC pair."""
        frame = packet.frame
        ts = frame.ts_ns
        if ts > self.now:
            self.now = ts
        if self._next_sweep is None:
            self._next_sweep = ts + self._sweep_ns
        elif ts >= self._next_sweep:
            self.sweep(ts)
        self.segment = None
        result = None
        net_last = None
        for layer in packet.layers:
            name = layer.proto.name
            if name == "tcp" or name == "udp":
                net = network_layer(layer)
                if net is None:
                    continue
                if layer.quoted:
                    self._quoted(packet, layer, net, name == "tcp")
                    continue
                conv = (self._tcp(packet, layer, net, ts) if name == "tcp"
                        else self._udp(packet, layer, net, ts))
                if conv is not None and result is None:
                    result = conv
            elif (name == "ip" or name == "ipv6") and not layer.quoted:
                net_last = layer
        if result is None:
            if net_last is not None:
                if self.settings.track_ip:
                    result = self._ip(packet, net_last, ts)
            elif self.settings.track_eth and packet.layers and packet.layers[0].proto.name == "eth":
                result = self._eth(packet, packet.layers[0], ts)
        return result

    def _net(self, net):
        """(src, dst, reported end offset of the IP payload, fragmented?, proto) or None."""
        if net.proto.name == "ip":
            ex = self._extract(net.proto, _IP_FIELDS, ("src", "dst"))
            if ex is None or net.v is None:
                return None
            self._ip_proto, self._ip_ex = net.proto, ex
            src, dst, length, mf, off, proto, version = ex(net.v)
            if version != 4:
                return None          # "Bogus IPv4 version": Wireshark stops there
            return src, dst, net.off + length, bool(mf or off), proto
        ex = self._extract(net.proto, _IP6_FIELDS, ("src", "dst"))
        if ex is None or net.v is None:
            return None
        src, dst, plen, nxt, version = ex(net.v)
        if version != 6:
            return None
        return src, dst, (net.off + 40 + plen) if plen else None, False, nxt

    def _quoted(self, packet, layer, net, is_tcp):
        """A TCP or UDP header quoted in an ICMP error.  tshark gives it the stream of
        its 5-tuple (creating the conversation if needed) and shows the raw header
        values — no relative numbers, no analysis; a TCP quote shorter than 16 octets
        only gets ``tcp.seq``.  The quote is not counted as a packet of the conversation."""
        buf, off = layer.buf, layer.off
        have = len(buf) - off
        nt = self._net(net)
        a = packet.annotate if self.annotate else _ignore
        if is_tcp:
            if have >= 8:
                seq = int.from_bytes(buf[off + 4:off + 8], "big")
                if have < 16 or nt is None:
                    a("tcp.seq", seq)
                    return
            else:
                return
        elif have < 8 or nt is None:
            return
        src, dst = nt[0], nt[1]
        sp = buf[off] << 8 | buf[off + 1]
        dp = buf[off + 2] << 8 | buf[off + 3]
        ts = packet.frame.ts_ns
        if src < dst or (src == dst and sp < dp):
            key = (src, sp, dst, dp) if is_tcp else (src, sp, dst, dp, 17)
        else:
            key = (dst, dp, src, sp) if is_tcp else (dst, dp, src, sp, 17)
        conv = self.flows.get(key)
        if conv is not None and ts - conv.last_ns > self._timeouts[conv.tclass]:
            self._finish(conv, "idle")
            conv = None
        if not is_tcp:
            if conv is None:
                conv = self._new("udp", key, 17, src, sp, dst, dp, ts, packet.number, self._flip(sp, dp))
                self._enqueue(conv, T_UDP)
            a("udp.stream", conv.index)
            return
        ack = int.from_bytes(buf[off + 8:off + 12], "big")
        flags = (buf[off + 12] << 8 | buf[off + 13]) & 0x0FFF
        win = buf[off + 14] << 8 | buf[off + 15]
        if conv is None:
            syn = flags & (SYN | ACK)
            flip = False if syn == SYN else True if syn == SYN | ACK else self._flip(sp, dp)
            conv = self._new("tcp", key, 6, src, sp, dst, dp, ts, packet.number, flip)
            conv.tcp = TcpConn()
            self._enqueue(conv, T_ACTIVE)
        d = 0 if (sp == conv.port[0] and src == conv.addr[0]) else 1
        a("tcp.stream", conv.index)
        a("tcp.seq", seq)
        a("tcp.ack", ack)
        a("tcp.window_size", win)
        if not flags & SYN:
            ws = conv.tcp.ep[d].win_scale
            a("tcp.window_size_scalefactor", 1 << ws if ws >= 0 else ws)

    def _tcp(self, packet, tl, net, ts):
        v = tl.v
        if v is None:
            return None
        if tl.proto is self._tcp_proto:
            ex = self._tcp_ex
        else:
            ex = self._extract(tl.proto, _TCP_FIELDS, ())
            if ex is None:
                return None
            self._tcp_proto, self._tcp_ex = tl.proto, ex
        nv = net.v
        frame = packet.frame
        whole = tl.buf is frame.data      # else from a reassembled datagram (decoder.reassembly)
        if net.proto is self._ip_proto and nv is not None:       # IPv4, the common case
            src, dst, length, mf, off, _, version = self._ip_ex(nv)
            if version != 4 or ((mf or off) and whole):
                return None
            ip_end = net.off + length
        else:
            nt = self._net(net)
            if nt is None:
                return None
            src, dst, ip_end, frag, _ = nt
            if (frag or _ipv6_fragment(tl, net)) and whole:
                return None
        try:
            sp, dp, seq, ack, hlen, flags, win = ex(v)
        except (IndexError, TypeError):
            return None
        # the segment length as the IP header reports it (Wireshark's reported length):
        # the IP length, unless an enclosing header (PPPoE ...) ends the datagram first;
        # the decoder already stopped at that end, so without a snaplen cut it is net.end
        if not whole:
            ip_end = net.off + net.hlen + tl.end      # the reassembled datagram's length
        elif ip_end is None or len(frame.data) >= frame.orig_len:
            ip_end = net.end
        elif ip_end > frame.orig_len:
            ip_end = frame.orig_len
        seglen = (tl.end if not whole else ip_end) - tl.off - hlen
        if src < dst or (src == dst and sp < dp):
            key = (src, sp, dst, dp)
        else:
            key = (dst, dp, src, sp)
        flows = self.flows
        conv = flows.get(key)
        number = packet.number
        reused = False
        if conv is not None and ts - conv.last_ns > self._timeouts[conv.tclass]:
            self._finish(conv, "idle")
            conv = None
        if conv is None:
            if flags & (SYN | ACK) == SYN:
                flip = False
            elif flags & (SYN | ACK) == (SYN | ACK):
                flip = True
            else:
                flip = self._flip(sp, dp)
            conv = self._new("tcp", key, 6, src, sp, dst, dp, ts, number, flip)
            conv.tcp = TcpConn()
        d = 0 if (sp == conv.port[0] and src == conv.addr[0]) else 1
        tcp = conv.tcp
        ep = tcp.ep[d]
        if flags & (SYN | ACK) == SYN and ep.base_set and seq != ep.base_seq:
            # a new connection with the same ports (Wireshark: TCP_A_REUSED_PORTS)
            self._finish(conv, "reused")
            conv = self._new("tcp", key, 6, src, sp, dst, dp, ts, number, False)
            conv.tcp = tcp = TcpConn()
            conv.reused = True
            d = 0
            ep = tcp.ep[0]
            reused = True
        elif flags & (SYN | ACK) == (SYN | ACK) and ep.base_set and seq != ep.base_seq:
            ep.base_seq = seq        # Wireshark 4.0 restarts this side's numbering
            reused = True
        peer = tcp.ep[1 - d]
        conv.last_ns = ts
        conv.last_frame = number
        conv.pkts[d] += 1
        conv.bytes[d] += packet.frame.orig_len
        conv.ip_bytes[d] += ip_end - net.off
        if seglen < 0:
            # the IP length leaves no room for the TCP header: Wireshark's "short
            # segment" has no length, no analysis and raw sequence numbers
            a = packet.annotate if self.annotate else _ignore
            a("tcp.stream", conv.index)
            a("tcp.seq", seq)
            a("tcp.ack", ack)
            a("tcp.window_size", win)
            if not flags & SYN:
                a("tcp.window_size_scalefactor", 1 << ep.win_scale if ep.win_scale >= 0 else ep.win_scale)
            if conv.tclass < 0:
                self._enqueue(conv, T_ACTIVE)
            else:
                self._queues[conv.tclass].move_to_end(key)
            self.segment = (d, flags, 0, win)
            return conv
        # Wireshark's base sequence numbers (tcp_analyze_sequence_number)
        if not ep.base_set:
            ep.base_seq = seq if flags & SYN else (seq - 1) & M32
            ep.base_set = True
        if not peer.base_set and flags & ACK:
            peer.base_seq = (ack - 1) & M32
            peer.base_set = True
        if seglen > 0:
            conv.payload[d] += seglen

        # annotations (Wireshark names and meanings)
        extra = packet.extra
        if not self.annotate:
            pass
        elif extra is None:
            rel = (seq - ep.base_seq) & M32
            ws = ep.win_scale
            if flags & (SYN | FIN):
                nxt = (rel + seglen + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) & M32
            else:
                nxt = (rel + seglen) & M32
            packet.extra = {"tcp.stream": [conv.index], "tcp.len": [seglen], "tcp.seq": [rel],
                            "tcp.nxtseq": [nxt],
                            "tcp.ack": [((ack - peer.base_seq) & M32) if flags & ACK else ack],
                            "tcp.window_size": [win if (flags & SYN or ws < 0) else win << ws]}
            if not flags & SYN:
                packet.extra["tcp.window_size_scalefactor"] = [1 << ws if ws >= 0 else ws]
        else:
            rel = (seq - ep.base_seq) & M32
            nxt = (rel + seglen + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) & M32
            if flags & SYN:
                wsize = win
                scale = None
            else:
                ws = ep.win_scale
                if ws >= 0:
                    wsize, scale = win << ws, 1 << ws
                else:
                    wsize, scale = win, ws
            rack = ((ack - peer.base_seq) & M32) if flags & ACK else ack
            a = packet.annotate
            a("tcp.stream", conv.index)
            a("tcp.len", seglen)
            a("tcp.seq", rel)
            a("tcp.nxtseq", nxt)
            a("tcp.ack", rack)
            a("tcp.window_size", wsize)
            if scale is not None:
                a("tcp.window_size_scalefactor", scale)

        if self._segment is not None:
            self._segment(packet, tl, hlen, conv, d, seq, ack, flags, seglen, win, ts, reused)

        # what the SYN's options say, learnt after the analysis as in Wireshark
        if flags & SYN:
            _, shift, mss = tcp_state.scan_options(tl.buf, tl.off + 20, min(tl.off + hlen, len(tl.buf)))
            tcp_state.window_scale_learnt(tcp, d, flags, shift)
            if mss is not None:
                ep.mss = mss
        elif flags & ACK and ep.first_ack:
            ep.first_ack = False

        checks = self.checksums
        if checks is not None and not conv.ck_done >> d & 1:
            if checks.check(tl, src, "tcp", number):
                conv.bad_checksums[d] += 1
                tcp.scaled(d, "C", "bad")
            if checks.settled(src, "tcp"):
                conv.ck_done |= 1 << d

        st = ep.state
        if not flags & 7 and win and (st == ESTABLISHED or st == PARTIAL) and peer.state != INACTIVE:
            # the common case, inlined: tcp_state.zeek_segment's fast path
            mask = (H_DATA if seglen else H_ACK if flags & ACK else 0) << (8 * d)
            if mask and not tcp.seen & mask:
                tcp.seen |= mask
                tcp.history.append(("D" if seglen else "A") if d == 0 else ("d" if seglen else "a"))
            if flags & ACK:
                x = (ack - peer.ack_seq) & M32
                if 0 < x < 0x80000000 and (ack or x <= TOO_LARGE_SEQ_DELTA):
                    peer.ack_seq = ack
                    peer.ack_adv += x
            last = (seq + seglen) & M32
            x = (last - ep.last_seq) & M32
            if 0 < x < 0x80000000:
                ep.adv += x
                ep.last_seq = last
            elif seglen > 0:
                tcp.scaled(d, "T", "rxmit")
        else:
            tcp_state.zeek_segment(tcp, d, seq, ack, flags, seglen, win)
        tclass = conv.tclass
        if flags & (SYN | FIN | RST) or tclass != T_ACTIVE:
            # the timeout class changes only with control flags, or from an attempt
            if tcp_state.closed(tcp):
                tclass = T_CLOSED
            elif tcp_state.attempt_only(tcp):
                tclass = T_ATTEMPT
            else:
                tclass = T_ACTIVE
        if tclass != conv.tclass:
            self._enqueue(conv, tclass)
        else:
            self._queues[tclass].move_to_end(key)
        self.segment = (d, flags, seglen, win)
        return conv

    def _udp(self, packet, ul, net, ts):
        v = ul.v
        if v is None:
            return None
        ex = self._extract(ul.proto, _UDP_FIELDS, ())
        nt = self._net(net)
        if ex is None or nt is None:
            return None
        src, dst, ip_end, frag, _ = nt
        if ul.buf is not packet.frame.data:
            ip_end = None          # a reassembled datagram (decoder.reassembly): whole after all
        elif frag or _ipv6_fragment(ul, net):
            return None
        try:
            sp, dp, length = ex(v)
        except IndexError:
            return None
        if src < dst or (src == dst and sp < dp):
            key = (src, sp, dst, dp, 17)
        else:
            key = (dst, dp, src, sp, 17)
        conv = self.flows.get(key)
        number = packet.number
        if conv is not None and ts - conv.last_ns > self._timeouts[conv.tclass]:
            self._finish(conv, "idle")
            conv = None
        if conv is None:
            conv = self._new("udp", key, 17, src, sp, dst, dp, ts, number, self._flip(sp, dp))
            self._enqueue(conv, T_UDP)
        else:
            self._queues[T_UDP].move_to_end(key)
        d = 0 if (sp == conv.port[0] and src == conv.addr[0]) else 1
        conv.udp_active |= 1 << d
        conv.last_ns = ts
        conv.last_frame = number
        conv.pkts[d] += 1
        conv.bytes[d] += packet.frame.orig_len
        conv.ip_bytes[d] += (ip_end - net.off) if ip_end is not None else (net.end - net.off)
        if length > 8:
            conv.payload[d] += length - 8
        if self.annotate:
            packet.annotate("udp.stream", conv.index)
        checks = self.checksums
        if checks is not None and not conv.ck_done >> d & 1:
            if checks.check(ul, src, "udp", number):
                conv.bad_checksums[d] += 1
            if checks.settled(src, "udp"):
                conv.ck_done |= 1 << d
        return conv

    def _ip(self, packet, net, ts):
        nt = self._net(net)
        if nt is None:
            return None
        src, dst, ip_end, _, proto = nt
        proto = int(proto)
        key = (src, dst, proto) if src <= dst else (dst, src, proto)
        conv, d = self._count_unported(packet, "ip", key, proto, src, dst, ts)
        conv.ip_bytes[d] += (ip_end - net.off) if ip_end is not None else (net.end - net.off)
        return conv

    def _eth(self, packet, eth, ts):
        if eth.v is None:
            return None
        src, dst = eth.raw_field("src"), eth.raw_field("dst")
        key = ("eth", src, dst) if src <= dst else ("eth", dst, src)
        return self._count_unported(packet, "eth", key, None, src, dst, ts)[0]

    def _count_unported(self, packet, kind, key, proto, src, dst, ts):
        """Find (or start) a conversation without ports (IP other than TCP/UDP, non-IP
        Ethernet) and count the packet; returns it and the packet's direction."""
        conv = self.flows.get(key)
        if conv is not None and ts - conv.last_ns > self._timeouts[conv.tclass]:
            self._finish(conv, "idle")
            conv = None
        if conv is None:
            conv = self._new(kind, key, proto, src, 0, dst, 0, ts, packet.number, False)
            self._enqueue(conv, T_OTHER)
        else:
            self._queues[T_OTHER].move_to_end(key)
        d = 0 if src == conv.addr[0] else 1
        conv.last_ns = ts
        conv.last_frame = packet.number
        conv.pkts[d] += 1
        conv.bytes[d] += packet.frame.orig_len
        return conv, d

    # -- ending conversations ---------------------------------------------------------
    def _finish(self, conv, reason):
        if conv.end_reason is not None:
            return
        conv.end_reason = reason
        if self.flows.get(conv.key) is conv:
            del self.flows[conv.key]
        if conv.tclass >= 0:
            q = self._queues[conv.tclass]
            if q.get(conv.key) is conv:
                del q[conv.key]
        if conv.tcp is not None and self.analyzer is not None:
            self.analyzer.finished(conv)
        if self.on_finish is not None:
            self.on_finish(conv)

    def sweep(self, now=None):
        """Finish every conversation idle for longer than its timeout.  Each timeout class
        keeps its conversations in order of last activity, so only expired ones are
        looked at."""
        if now is None:
            now = self.now
        self._next_sweep = now + self._sweep_ns
        for tclass, q in enumerate(self._queues):
            limit = now - self._timeouts[tclass]
            reason = "closed" if tclass == T_CLOSED else "idle"
            while q:
                conv = q[next(iter(q))]
                if conv.last_ns >= limit:
                    break
                self._finish(conv, reason)

    def _evict_one(self):
        """The table is full: finish the least recently active conversation, closed ones
        first, then unanswered attempts, UDP, others, established TCP."""
        for tclass in (T_CLOSED, T_ATTEMPT, T_UDP, T_OTHER, T_ACTIVE):
            q = self._queues[tclass]
            if q:
                self._finish(q[next(iter(q))], "evicted")
                return

    def finish(self):
        """Finish every live conversation (end of the capture); returns them in order of
        creation (they also go to ``on_finish``)."""
        convs = list(self.flows.values())
        for conv in convs:
            self._finish(conv, "end")
        for q in self._queues:
            q.clear()
        return convs

    def __len__(self):
        return len(self.flows)


def _ignore(name, value):
    pass


def _ipv6_fragment(layer, net) -> bool:
    """Whether an IPv6 Fragment header of a fragmented packet sits between ``net`` and
    ``layer`` (the transport header is then only part of a datagram)."""
    if net.proto.name != "ipv6":
        return False
    p = layer.parent
    while p is not None and p is not net:
        if p.proto.name == "ipv6.fraghdr":
            g = p.get
            return bool(g("more") or g("offset"))
        p = p.parent
    return False
