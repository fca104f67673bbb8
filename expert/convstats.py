"""What conversation-scope rules read: the ``conv.*`` and ``server.*`` fields.

A conversation rule is evaluated once per finished conversation
(:class:`expert.conversations.Conversation`, handed over by the flow table when the
conversation ends or the capture does).  Its fields come from three places:

* the conversation record itself (``conv.conn_state``, ``conv.history``, packet and
  octet counts, duration, the endpoints);
* the TCP analysis (``conv.analysis.<flag>`` counts of Wireshark's analysis flags, and
  ``conv.rtx.*`` for the worst retransmission series: attempts, gaps, back-off, outcome);
* :class:`ConvStats`, kept here by the engine for every TCP conversation while it lives
  (the SYNs and their frames, the handshake, RSTs, the application response time, the
  longest zero-window stall), and :class:`HostTable`, which remembers which ports of each
  server answered (``server.answered_ports``: a port that stays silent while others on
  the same host answer is filtered, not a host that is down).

:data:`FIELDS` maps each name to its filter type, a getter and a one-line description;
``protospec expert --list-fields`` prints them.  List-valued fields (frame lists) hold
several occurrences, like a repeated packet field: ``conv.syn_frames == 7`` is true when
frame 7 is one of them, and a message template shows them all.  Boolean fields exist only
when true (as ``tcp.analysis.*`` flags do): ``when conv.rtx.doubling and not conv.rtx.syn``.
"""
from __future__ import annotations

from collections import OrderedDict

from expert.tcp_state import ACK, FIN, RST, SYN

MAX_FRAMES = 32          # frames kept per list (SYNs, RSTs ...)
MAX_HOSTS = 65536        # servers remembered by the host table


class ConvStats:
    """Per-TCP-conversation facts the flow table does not keep (index 0: client)."""

    __slots__ = ("syn_frames", "syn_ts", "synack_frames", "rst_frames", "rst_dirs", "fin_count",
                 "final_ack", "client_data", "server_data", "syn_from_server", "odd_syn",
                 "client_rst_after_synack", "req_ts", "req_frame", "art_first", "art_max",
                 "art_req_frame", "art_rsp_frame", "art_first_frames", "art_count", "zw_start", "zw_max", "zw_frames",
                 "zw_dir", "zw_open")

    def __init__(self):
        self.syn_frames = []
        self.syn_ts = []
        self.synack_frames = []
        self.rst_frames = []
        self.rst_dirs = []
        self.fin_count = 0
        self.final_ack = False
        self.client_data = self.server_data = False
        self.syn_from_server = False
        self.odd_syn = False
        self.client_rst_after_synack = False
        self.req_ts = None
        self.req_frame = 0
        self.art_first = self.art_max = None
        self.art_req_frame = self.art_rsp_frame = 0
        self.art_first_frames = ()
        self.art_count = 0
        self.zw_start = [None, None]      # (ts_ns, frame) of a zero window still closed
        self.zw_max = 0.0
        self.zw_frames = []
        self.zw_dir = -1
        self.zw_open = False              # the longest stall never reopened

    def segment(self, d, flags, seglen, window, number, ts):
        """One TCP segment from direction ``d`` (0: client)."""
        if flags & SYN:
            if flags & (FIN | RST):
                self.odd_syn = True
            if flags & ACK:
                if len(self.synack_frames) < MAX_FRAMES:
                    self.synack_frames.append(number)
            elif d == 0:
                if len(self.syn_frames) < MAX_FRAMES:
                    self.syn_frames.append(number)
                    self.syn_ts.append(ts)
            else:
                self.syn_from_server = True
        elif flags & RST:
            if len(self.rst_frames) < MAX_FRAMES:
                self.rst_frames.append(number)
                self.rst_dirs.append(d)
            if d == 0 and self.synack_frames and not self.final_ack and not self.client_data:
                self.client_rst_after_synack = True
        else:
            if d == 0 and flags & ACK and self.synack_frames:
                self.final_ack = True
            if flags & FIN:
                self.fin_count += 1
        if seglen > 0 and not flags & (SYN | RST):
            if d == 0:
                self.client_data = True
                self.req_ts = ts
                self.req_frame = number
            else:
                self.server_data = True
                if self.req_ts is not None:
                    art = (ts - self.req_ts) / 1e9
                    self.art_count += 1
                    if self.art_first is None:
                        self.art_first = art
                        self.art_first_frames = (self.req_frame, number)
                    if self.art_max is None or art > self.art_max:
                        self.art_max = art
                        self.art_req_frame, self.art_rsp_frame = self.req_frame, number
                    self.req_ts = None
        if not flags & (SYN | FIN | RST):
            start = self.zw_start[d]
            if window == 0:
                if start is None:
                    self.zw_start[d] = (ts, number)
            elif start is not None:
                self._stall(d, start, ts, number, False)
                self.zw_start[d] = None

    def _stall(self, d, start, ts, number, still_closed):
        dur = (ts - start[0]) / 1e9
        if dur >= self.zw_max and (dur > self.zw_max or not self.zw_frames):
            self.zw_max = dur
            self.zw_frames = [start[1]] if still_closed else [start[1], number]
            self.zw_dir = d
            self.zw_open = still_closed

    def finish(self, conv):
        """End of the conversation: a window still closed stalls until its last packet."""
        for d in (0, 1):
            start = self.zw_start[d]
            if start is not None:
                self._stall(d, start, conv.last_ns, conv.last_frame, True)
                self.zw_start[d] = None

    def handshake(self) -> str:
        """How the connection opened: ``complete``, ``syn-only`` (no answer), ``refused``
        (SYN answered by RST), ``no-final-ack`` (SYN, SYN-ACK, then silence from the
        client), ``client-reset`` (the client answered the SYN-ACK with a RST: a half-open
        scan or an aborted connect), ``simultaneous`` (SYNs from both ends), ``odd-syn``
        (SYN with FIN or RST), ``synack-only`` (the capture missed the SYN), ``none`` (no
        SYN seen: the capture started mid-connection)."""
        if self.odd_syn:
            return "odd-syn"
        if self.syn_from_server and self.syn_frames:
            return "simultaneous"
        if self.syn_frames:
            if self.synack_frames:
                if self.final_ack or self.client_data:
                    return "complete"
                if self.client_rst_after_synack:
                    return "client-reset"
                return "no-final-ack"
            if any(d == 1 for d in self.rst_dirs):
                return "refused"
            return "syn-only"
        if self.synack_frames:
            return "synack-only"
        return "none"


class HostTable:
    """Ports of each server that answered a connection (SYN-ACK), bounded (LRU)."""

    def __init__(self, limit=MAX_HOSTS):
        self.limit = limit
        self.answered: OrderedDict = OrderedDict()     # raw address -> set of ports
        self.refused: OrderedDict = OrderedDict()

    def _add(self, table, addr, port):
        ports = table.get(addr)
        if ports is None:
            ports = table[addr] = set()
            if len(table) > self.limit:
                table.popitem(last=False)
        else:
            table.move_to_end(addr)
        if len(ports) < 4096:
            ports.add(port)

    def answer(self, addr, port):
        self._add(self.answered, addr, port)

    def refuse(self, addr, port):
        self._add(self.refused, addr, port)

    def others(self, table, addr, port) -> list[int]:
        return sorted(p for p in table.get(addr, ()) if p != port)


class ConvContext:
    """What a conversation rule's expressions and templates read."""

    __slots__ = ("conv", "stats", "hosts", "t0", "now", "_worst")

    def __init__(self, conv, stats, hosts, t0, now=None):
        self.conv, self.stats, self.hosts, self.t0 = conv, stats, hosts, t0
        self.now = now if now is not None else conv.last_ns
        self._worst = False

    @property
    def worst(self):
        """The retransmission series with the most attempts (the latest of equals)."""
        if self._worst is False:
            best = None
            for s in self.conv.retransmission_series:
                if best is None or s.attempts >= best.attempts:
                    best = s
            self._worst = best
        return self._worst


def _endpoint(host, port):
    host = str(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _one(fn):
    """A getter returning one value (or none when ``fn`` gives None)."""
    def get(ctx):
        v = fn(ctx)
        return [] if v is None else [v]
    return get


def _stats(fn, default=None):
    def get(ctx):
        s = ctx.stats
        v = fn(s) if s is not None else default
        return [] if v is None else [v]
    return get


def _stats_list(fn):
    def get(ctx):
        s = ctx.stats
        return list(fn(s)) if s is not None else []
    return get


def _rtx(fn):
    def get(ctx):
        w = ctx.worst
        if w is None:
            return []
        v = fn(w, ctx)
        return [] if v is None else [v]
    return get


def _gaps_text(s):
    gaps = s.gaps
    if not gaps:
        return ""
    return ", ".join(f"{g:.3g}" for g in gaps) + " s"


def _backoff(s) -> bool:
    gaps = s.gaps
    if len(gaps) < 2 or gaps[0] <= 0:
        return False
    ratios = s.ratios
    return len(ratios) == len(gaps) - 1 and all(1.5 <= r <= 3.5 for r in ratios)


def _sender(s, ctx):
    conv = ctx.conv
    return conv.orig_host if s.direction == 0 else conv.resp_host


def _flag_counts(conv):
    from expert.tcp_analysis import flag_counts
    return flag_counts(conv) if conv.tcp is not None else None


def _analysis(flag, d=None):
    def get(ctx):
        counts = _flag_counts(ctx.conv)
        if counts is None:
            return [0]
        c = counts.get(flag, (0, 0))
        return [c[0] + c[1] if d is None else c[d]]
    return get


def _server_ports(table_name, as_text=False):
    def get(ctx):
        conv = ctx.conv
        table = getattr(ctx.hosts, table_name)
        ports = ctx.hosts.others(table, conv.addr[1], conv.port[1])
        if as_text:
            return [", ".join(str(p) for p in ports[:20]) + (" ..." if len(ports) > 20 else "")]
        return [len(ports)]
    return get


def _rst_from(s):
    if not s.rst_dirs:
        return ""
    return "client" if s.rst_dirs[0] == 0 else "server"


def _zw_host(ctx):
    s = ctx.stats
    if s is None or s.zw_dir < 0:
        return None
    return ctx.conv.orig_host if s.zw_dir == 0 else ctx.conv.resp_host


#: name -> (filter type, getter(ctx) -> list, description, list-valued)
FIELDS: dict[str, tuple] = {}


def _f(name, ftype, get, doc, many=False):
    if ftype == "bool":
        get = _true_only(get)
    FIELDS[name] = (ftype, get, doc, many)


def _true_only(get):
    """Boolean conversation fields exist only when true, like Wireshark's analysis flags:
    ``when conv.rtx.doubling`` / ``not conv.rtx.syn``."""
    def true(ctx):
        return [True] if any(get(ctx)) else []
    return true


_f("conv.proto", "str", _one(lambda c: c.conv.kind), "tcp, udp, ip (other IP protocols) or eth (non-IP frames)")
_f("conv.stream", "int", _one(lambda c: c.conv.index), "tcp.stream / udp.stream index of the conversation")
_f("conv.client", "any", _one(lambda c: c.conv.orig_host), "originator address (the SYN sender)")
_f("conv.server", "any", _one(lambda c: c.conv.resp_host), "responder address")
_f("conv.client_endpoint", "str", _one(lambda c: _endpoint(c.conv.orig_host, c.conv.orig_port)),
   "client address and port (192.0.2.1:40000, [2001:db8::1]:40000)")
_f("conv.server_endpoint", "str", _one(lambda c: _endpoint(c.conv.resp_host, c.conv.resp_port)),
   "server address and port")
_f("conv.client_port", "int", _one(lambda c: c.conv.orig_port), "originator port")
_f("conv.server_port", "int", _one(lambda c: c.conv.resp_port), "responder port")
_f("conv.conn_state", "str", _one(lambda c: c.conv.conn_state), "Zeek's conn_state (S0, REJ, SF, RSTO ...)")
_f("conv.history", "str", _one(lambda c: c.conv.history), "Zeek's history letters (ShADadFf ...)")
_f("conv.end_reason", "str", _one(lambda c: c.conv.end_reason),
   "why the record ended: closed, idle, reused, evicted, end (of capture)")
_f("conv.duration", "float", _one(lambda c: c.conv.duration), "seconds from the first to the last packet")
_f("conv.start", "float", _one(lambda c: (c.conv.start_ns - c.t0) / 1e9 if c.t0 is not None else 0.0),
   "time of the first packet, seconds since the capture's first")
_f("conv.idle_after", "float", _one(lambda c: max(0, c.now - c.conv.last_ns) / 1e9),
   "seconds from the last packet to the end of the record (capture end, or the packet after the idle timeout)")
_f("conv.first_frame", "int", _one(lambda c: c.conv.first_frame), "frame number of the first packet")
_f("conv.last_frame", "int", _one(lambda c: c.conv.last_frame), "frame number of the last packet")
_f("conv.pkts", "int", _one(lambda c: c.conv.pkts[0] + c.conv.pkts[1]), "packets, both directions")
_f("conv.client_pkts", "int", _one(lambda c: c.conv.pkts[0]), "packets from the client")
_f("conv.server_pkts", "int", _one(lambda c: c.conv.pkts[1]), "packets from the server")
_f("conv.client_bytes", "int", _one(lambda c: c.conv.orig_bytes), "payload octets from the client")
_f("conv.server_bytes", "int", _one(lambda c: c.conv.resp_bytes), "payload octets from the server")
_f("conv.bytes", "int", _one(lambda c: c.conv.bytes[0] + c.conv.bytes[1]), "frame octets, both directions")
_f("conv.bad_checksums", "int", _one(lambda c: c.conv.bad_checksums[0] + c.conv.bad_checksums[1]),
   "segments with a bad TCP/UDP checksum that count as errors (not checksum offload)")
# TCP opening and closing (ConvStats)
_f("conv.handshake", "str", _stats(lambda s: s.handshake()),
   "complete, syn-only, refused, no-final-ack, client-reset, simultaneous, odd-syn, synack-only, none")
_f("conv.syn_count", "int", _stats(lambda s: len(s.syn_frames), 0), "SYNs (without ACK) from the client")
_f("conv.syn_frames", "int", _stats_list(lambda s: s.syn_frames), "frames of those SYNs", True)
_f("conv.syn_span", "float", _stats(lambda s: (s.syn_ts[-1] - s.syn_ts[0]) / 1e9 if s.syn_ts else 0.0, 0.0),
   "seconds from the first SYN to the last")
_f("conv.synack_count", "int", _stats(lambda s: len(s.synack_frames), 0), "SYN-ACKs from the server")
_f("conv.synack_frames", "int", _stats_list(lambda s: s.synack_frames), "frames of the SYN-ACKs", True)
_f("conv.rst_count", "int", _stats(lambda s: len(s.rst_frames), 0), "RST segments, both directions")
_f("conv.rst_frames", "int", _stats_list(lambda s: s.rst_frames), "frames of the RSTs", True)
_f("conv.rst_from", "str", _stats(_rst_from, ""), "who sent the first RST: client, server or empty")
_f("conv.fin_count", "int", _stats(lambda s: s.fin_count, 0), "FIN segments, both directions")
# application response time (ConvStats)
_f("conv.art", "float", _stats(lambda s: s.art_first),
   "application response time: seconds from the client's first request (its last data segment before the "
   "answer) to the server's first answer")
_f("conv.art_frames", "int", _stats_list(lambda s: s.art_first_frames),
   "the first request's last frame and the first answer's frame", True)
_f("conv.art_max", "float", _stats(lambda s: s.art_max), "the longest request-to-answer time")
_f("conv.art_count", "int", _stats(lambda s: s.art_count, 0), "request/answer turns measured")
_f("conv.art_request_frame", "int", _stats(lambda s: s.art_req_frame or None),
   "last request frame before the longest answer time")
_f("conv.art_response_frame", "int", _stats(lambda s: s.art_rsp_frame or None), "the answer's frame")
# zero window (ConvStats)
_f("conv.zero_window_max", "float", _stats(lambda s: s.zw_max, 0.0),
   "longest time one side kept its receive window at zero (seconds)")
_f("conv.zero_window_frames", "int", _stats_list(lambda s: s.zw_frames),
   "frame that closed the window and frame that reopened it", True)
_f("conv.zero_window_host", "any", _one(_zw_host), "the host whose window stayed closed")
_f("conv.zero_window_state", "str", _stats(lambda s: ("" if s.zw_dir < 0 else "never reopened" if s.zw_open
                                                        else "then reopened")),
   "whether that window reopened: 'then reopened' or 'never reopened' (empty: no zero window)")
_f("conv.zero_window_open", "bool", _stats(lambda s: s.zw_open, False),
   "true when that window was still closed at the end of the conversation")
# retransmission series (TCP analysis)
_f("conv.rtx.series", "int", _one(lambda c: len(c.conv.retransmission_series)),
   "segments sent more than once")
_f("conv.rtx.attempts", "int", _rtx(lambda s, c: s.attempts),
   "transmissions of the most retransmitted segment (the original included when captured)")
_f("conv.rtx.frames", "int", lambda c: list(c.worst.frames) if c.worst is not None else [],
   "frames of those transmissions", True)
_f("conv.rtx.gaps", "str", _rtx(lambda s, c: _gaps_text(s)), "seconds between them, as text: 1, 2, 4 s")
_f("conv.rtx.first_gap", "float", _rtx(lambda s, c: s.gaps[0] if s.gaps else None), "the first gap (s)")
_f("conv.rtx.last_gap", "float", _rtx(lambda s, c: s.gaps[-1] if s.gaps else None), "the last gap (s)")
_f("conv.rtx.duration", "float", _rtx(lambda s, c: s.duration), "first to last transmission (s)")
_f("conv.rtx.doubling", "bool", _rtx(lambda s, c: s.doubling),
   "the gaps double (RTO exponential back-off, RFC 6298 §5.5)")
_f("conv.rtx.backoff", "bool", _rtx(lambda s, c: _backoff(s)),
   "the gaps grow exponentially: at least two gaps, each 1.5 to 3.5 times the one before (a first "
   "retransmission timer off the doubling, as after an RTO recomputation, still counts)")
_f("conv.rtx.outcome", "str", _rtx(lambda s, c: s.outcome), "acked, reset, unanswered or live")
_f("conv.rtx.gave_up", "bool", _rtx(lambda s, c: s.gave_up),
   "never acknowledged: the sender reset or went silent")
_f("conv.rtx.syn", "bool", _rtx(lambda s, c: s.syn), "the retransmitted segment is a SYN")
_f("conv.rtx.seq", "int", _rtx(lambda s, c: s.seq), "its relative sequence number")
_f("conv.rtx.len", "int", _rtx(lambda s, c: s.length), "its payload length")
_f("conv.rtx.sender", "any", _rtx(_sender), "the host that retransmitted it")
_f("conv.rtx.acked_frame", "int", _rtx(lambda s, c: s.acked_frame), "the frame that acknowledged it")
# the server's other ports (HostTable)
_f("server.answered_ports", "int", _server_ports("answered"),
   "other ports of the same server that answered a SYN (SYN-ACK or RST) in this capture")
_f("server.answered_port_list", "str", _server_ports("answered", True), "those ports, as text")
_f("server.refused_ports", "int", _server_ports("refused"), "other ports of the same server that refused (RST)")


def _add_analysis_fields():
    from expert.tcp_analysis import FLAG_NAMES
    for flag in FLAG_NAMES:
        _f(f"conv.analysis.{flag}", "int", _analysis(flag),
           f"segments flagged tcp.analysis.{flag}, both directions")
        _f(f"conv.client.analysis.{flag}", "int", _analysis(flag, 0), "... sent by the client")
        _f(f"conv.server.analysis.{flag}", "int", _analysis(flag, 1), "... sent by the server")


_add_analysis_fields()

#: conv.* fields that need :class:`ConvStats` (kept per TCP conversation by the engine)
STATS_FIELDS = frozenset(n for n, (_, g, _, _) in FIELDS.items() if n.startswith(("conv.handshake", "conv.syn",
                         "conv.synack", "conv.rst", "conv.fin", "conv.art", "conv.zero_window", "server.")))
#: fields that need the TCP analysis (flags and retransmission series)
ANALYSIS_FIELDS = frozenset(n for n in FIELDS if n.startswith(("conv.analysis.", "conv.client.analysis.",
                            "conv.server.analysis.", "conv.rtx.")))
