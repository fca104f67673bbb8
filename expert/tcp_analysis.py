"""TCP sequence analysis with Wireshark's field names, plus the driver :func:`analyze`.

:class:`TcpAnalyzer` follows ``tcp_analyze_sequence_number()`` of Wireshark's
``epan/dissectors/packet-tcp.c`` check by check and in the same order, as tshark 4.0
behaves (verified frame by frame against tshark 4.0.17, see
``tests/test_tcp_analysis_vs_tshark.py``).  Per direction it keeps the next expected
sequence number (``nextseq``, with the frame and time that set it), the last ACK sent
(number, time, duplicate count), the highest contiguous sequence number
(``maxseqtobeacked``), the last window and the list of unacknowledged segments.  For a
segment from one direction (``fwd``; ``rev`` is the other one):

1. **zero_window_probe**: 1 octet at ``nextseq`` while ``rev``'s window is 0 (the other
   checks are skipped up to the ACK bookkeeping);
2. **zero_window**: window 0, no SYN/FIN/RST;
3. **lost_segment**: ``seq`` beyond ``nextseq`` (not on RST); bytes in flight are not
   counted again until ``rev`` acknowledges something;
4. **keep_alive**: 0 or 1 octet at ``nextseq - 1``, no SYN/FIN/RST;
5. **window_update**: no data, window changed, ``seq``/``ack`` as before;
6. **window_full**: the data reaches ``rev``'s last ACK plus its (scaled) window, when
   ``rev``'s scale is known; the window of a side that sent no pure ACK yet is taken
   unscaled (it came with its SYN);
7. **keep_alive_ack** / **zero_window_probe_ack**: a repeated ACK after a keep-alive /
   probe from ``rev``; else **duplicate_ack** (no data, same window, ``seq`` and
   ``ack``; ``duplicate_ack_num`` counts them, ``duplicate_ack_frame`` is the last
   frame that changed the ACK);
8. **ack_lost_segment**: the ACK is beyond what ``rev`` was seen to send contiguously;
   flagged again for the same hole only once ``rev`` has sent beyond it or changed its
   own ACK (tshark 4.0's rule, found by experiment: it is neither the older "every
   time" nor the newer "once per hole" of later releases);
9. data, a SYN or a FIN, unless a keep-alive, is a **spurious_retransmission** when
   every octet was already acknowledged by ``rev``; otherwise, if it starts below
   ``nextseq`` (more than one octet starting at ``nextseq - 1`` counts as new data),
   in this order a **fast_retransmission** (``rev`` sent >= 2 duplicate ACKs for
   ``seq``, the last less than 20 ms ago), **out_of_order** (less than the iRTT — 3 ms
   while unknown — after the segment that set ``nextseq``, and not ending at
   ``nextseq``) or a plain **retransmission** with ``tcp.analysis.rto`` and
   ``tcp.analysis.rto_frame`` (since the eldest unacknowledged segment, or the one that
   set ``nextseq`` when none is left).  As in Wireshark, ``tcp.analysis.retransmission``
   is also set on fast and spurious retransmissions;
10. the ACK removes acknowledged segments of ``rev`` (``acks_frame`` and ``ack_rtt`` for
    the one it ends exactly); ``bytes_in_flight`` spans the unacknowledged data, less
    the octets in the SACK blocks of ``rev``'s last segment, a SYN or FIN not counted.

This is the order of tshark 4.0 (older Wireshark releases tested out-of-order and fast
retransmission before spurious retransmission).

``tcp.analysis.initial_rtt`` is the time from the last SYN to the first ACK without SYN.
Like Wireshark, ``tcp.analysis`` and its values (``acks_frame``, ``ack_rtt``,
``initial_rtt``, ``bytes_in_flight``) appear only on frames that have some analysis
(a flag, an acknowledged segment or data in flight); the flags also set
``tcp.analysis.flags``.

Thresholds are :class:`TcpSettings` fields.  Deliberate differences from Wireshark:

* reassembly-dependent facts are not produced (no IP reassembly: segments of fragmented
  datagrams are not analysed, and Wireshark analyses them in the frame that completes
  the datagram);
* ``tcp.analysis.reused_ports`` needs the old conversation to be still in the flow
  table (see :mod:`expert.conversations`);
* MPTCP's tolerance of duplicate ACKs is not implemented.

Beyond Wireshark, each conversation gets ``retransmission_series``: for every segment
sent more than once (keyed by its sequence number; the original is the oldest copy still
unacknowledged, ``original_seen``), the frames and times of all attempts, the gaps
between them and whether they double (exponential back-off, RFC 6298 §5.5), and how it
ended (acknowledged, reset, unanswered) — "1, 2, 4, 8, 16 s, then the sender gave up" —
and ``flag_counts`` (analysis flags per direction); :attr:`Analysis.flag_totals` counts
them over the whole capture (tshark's ``-z expert`` per message).

:func:`analyze` chains :class:`expert.conversations.ConversationTracker`, this analyzer
and :class:`expert.checksum_offload.ChecksumMonitor` over decoded packets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from expert.checksum_offload import ChecksumMonitor, ChecksumSettings
from expert.conversations import ConversationTracker, Settings as ConversationSettings
from expert.tcp_state import ACK, FIN, M32, PSH, RST, SYN, scan_options

__all__ = ["TcpSettings", "AnalysisSettings", "TcpAnalyzer", "RetransmissionSeries", "Analysis",
           "analyze", "ANALYSIS_FIELDS", "FLAG_NAMES"]

# flag bits (Wireshark's TCP_A_*), in the order tshark prints them
A_REUSED = 1 << 0
A_RETRANS = 1 << 1
A_FAST = 1 << 2
A_SPUR = 1 << 3
A_OOO = 1 << 4
A_LOST = 1 << 5
A_ACKLOST = 1 << 6
A_WUPD = 1 << 7
A_WFULL = 1 << 8
A_KA = 1 << 9
A_KAA = 1 << 10
A_DUPACK = 1 << 11
A_ZWP = 1 << 12
A_ZW = 1 << 13
A_ZWPA = 1 << 14

FLAG_NAMES = ("reused_ports", "retransmission", "fast_retransmission", "spurious_retransmission",
              "out_of_order", "lost_segment", "ack_lost_segment", "window_update", "window_full",
              "keep_alive", "keep_alive_ack", "duplicate_ack", "zero_window_probe", "zero_window",
              "zero_window_probe_ack")
_FIELD = tuple(f"tcp.analysis.{n}" for n in FLAG_NAMES)
_ANY_RETRANS = A_RETRANS | A_FAST | A_SPUR
_NO_SFR = SYN | FIN | RST

#: Every field this package annotates, with its type, for the filter language
#: (``expert.filters.register_extra_fields``).  ``None`` marks Wireshark's FT_NONE
#: labels, which are only present or absent (annotated with the value True); times are
#: float seconds (FT_RELATIVE_TIME), frame references ints.
ANALYSIS_FIELDS: dict[str, type | None] = {
    "tcp.stream": int, "udp.stream": int,
    "tcp.seq": int, "tcp.ack": int, "tcp.len": int, "tcp.nxtseq": int,
    "tcp.window_size": int, "tcp.window_size_scalefactor": int,
    "tcp.analysis": None, "tcp.analysis.flags": None,
    **{f: None for f in _FIELD},
    "tcp.analysis.duplicate_ack_num": int, "tcp.analysis.duplicate_ack_frame": int,
    "tcp.analysis.acks_frame": int, "tcp.analysis.ack_rtt": float,
    "tcp.analysis.initial_rtt": float, "tcp.analysis.bytes_in_flight": int,
    "tcp.analysis.push_bytes_sent": int, "tcp.analysis.rto": float, "tcp.analysis.rto_frame": int,
}


@dataclass
class TcpSettings:
    """Thresholds of the analysis (Wireshark's values by default); times in seconds."""
    fast_retransmission_dupacks: int = 2        # duplicate ACKs seen before a fast retransmission
    fast_retransmission_window: float = 0.020   # ... the last one at most this long before it
    out_of_order_window: float = 0.003          # while the iRTT is unknown
    out_of_order_use_irtt: bool = True          # else: the iRTT is the out-of-order window
    max_unacked_segments: int = 10000           # per direction, like TCP_MAX_UNACKED_SEGMENTS
    bytes_in_flight: bool = True                # Wireshark's tcp.track_bytes_in_flight
    max_series: int = 64                        # retransmission series kept per conversation
    backoff_ratio: float = 2.0                  # a doubling back-off ...
    backoff_tolerance: float = 0.35             # ... within this relative tolerance


@dataclass
class AnalysisSettings:
    """``annotate=False`` keeps the packets as they are and only fills the conversation
    records and counters: the fast mode for statistics (``-z conv``, ``-z expert``).
    ``checksums``: None (the default, like tshark, which does not verify TCP checksums)
    or :class:`ChecksumSettings` to run the offload-aware checksum monitor."""
    conversations: ConversationSettings = field(default_factory=ConversationSettings)
    tcp: TcpSettings = field(default_factory=TcpSettings)
    checksums: ChecksumSettings | None = None
    annotate: bool = True


def _gt(a, b):
    """GT_SEQ(a, b): a after b in 32-bit sequence space."""
    return ((b - a) & M32) >= 0x80000000


def _lt(a, b):
    return ((a - b) & M32) >= 0x80000000


class SeqInfo:
    """Wireshark's ``tcp_analyze_seq_flow_info_t`` (+ window, flags, bif) for one direction.
    ``segs``: unacknowledged segments ``[seq, nextseq, frame, ts]``, oldest first;
    ``ordered``: they follow each other without overlap (the ACK scan can stop early)."""

    __slots__ = ("nextseq", "nextseqframe", "nextseqtime", "lastack", "lastacktime",
                 "lastnondupack", "dupacknum", "maxseqtobeacked", "segs", "ordered",
                 "valid_bif", "window", "lastflags", "push_sent", "push_last", "sack")

    def __init__(self):
        self.nextseq = self.nextseqframe = self.nextseqtime = 0
        self.lastack = self.lastacktime = self.lastnondupack = self.dupacknum = 0
        self.maxseqtobeacked = 0
        self.segs = []
        self.ordered = True
        self.valid_bif = True
        self.window = M32          # G_MAXUINT32 until the first segment
        self.lastflags = 0
        self.push_sent = 0
        self.push_last = False
        self.sack = 0              # octets in the SACK blocks of this direction's last segment


class RetransmissionSeries:
    """All transmissions of one segment: ``frames``/``times_ns`` (the first is the
    original when it was seen, ``original_seen``), ``kinds`` of each retransmission,
    ``outcome``: ``acked``, ``reset``, ``unanswered`` (conversation ended without an
    ACK for it) or ``live``."""

    __slots__ = ("direction", "seq", "length", "syn", "end", "frames", "times_ns", "kinds",
                 "original_seen", "outcome", "acked_frame", "acked_ns", "_settings")

    def __init__(self, direction, seq, length, syn, end, settings):
        self.direction, self.seq, self.length, self.syn, self.end = direction, seq, length, syn, end
        self.frames, self.times_ns, self.kinds = [], [], []
        self.original_seen = False
        self.outcome = "live"
        self.acked_frame = self.acked_ns = None
        self._settings = settings

    @property
    def attempts(self) -> int:
        return len(self.frames)

    @property
    def retransmissions(self) -> int:
        return len(self.kinds)

    @property
    def gaps(self) -> list[float]:
        """Seconds between successive transmissions."""
        t = self.times_ns
        return [(b - a) / 1e9 for a, b in zip(t, t[1:])]

    @property
    def ratios(self) -> list[float]:
        g = self.gaps
        return [b / a for a, b in zip(g, g[1:]) if a > 0]

    @property
    def doubling(self) -> bool:
        """Exponential back-off: at least two gaps, each about ``backoff_ratio`` times
        the one before (RFC 6298 §5.5)."""
        r = self.ratios
        s = self._settings
        return len(self.gaps) >= 2 and len(r) == len(self.gaps) - 1 and all(
            abs(x - s.backoff_ratio) <= s.backoff_ratio * s.backoff_tolerance for x in r)

    @property
    def duration(self) -> float:
        return (self.times_ns[-1] - self.times_ns[0]) / 1e9 if self.times_ns else 0.0

    @property
    def gave_up(self) -> bool:
        """Sent several times and never acknowledged."""
        return self.outcome in ("reset", "unanswered") and self.retransmissions > 0

    def as_dict(self) -> dict:
        return {"direction": "orig" if self.direction == 0 else "resp", "seq": self.seq,
                "length": self.length, "syn": self.syn, "frames": list(self.frames),
                "original_seen": self.original_seen, "kinds": list(self.kinds),
                "gaps": [round(g, 6) for g in self.gaps], "doubling": self.doubling,
                "outcome": self.outcome, "acked_frame": self.acked_frame}

    def __repr__(self):
        gaps = ", ".join(f"{g:g}" for g in self.gaps)
        return (f"<RetransmissionSeries {'orig' if self.direction == 0 else 'resp'} seq={self.seq} "
                f"frames={self.frames} gaps=[{gaps}] {'doubling ' if self.doubling else ''}{self.outcome}>")


class ConnAnalysis:
    """Analysis state of one TCP conversation."""

    __slots__ = ("si", "counts", "rtx")

    def __init__(self):
        self.si = (SeqInfo(), SeqInfo())
        self.counts = [0] * (2 * len(FLAG_NAMES))
        self.rtx = None              # [dict seq -> RetransmissionSeries] per direction


class TcpAnalyzer:
    """Wireshark's TCP sequence analysis; ``segment()`` is called by the conversation
    tracker for every TCP segment (see :class:`expert.conversations.ConversationTracker`)."""

    def __init__(self, settings: TcpSettings | None = None, annotate: bool = True):
        self.settings = s = settings or TcpSettings()
        self._fast_ns = int(s.fast_retransmission_window * 1e9)
        self._ooo_ns = int(s.out_of_order_window * 1e9)
        self._dupacks = s.fast_retransmission_dupacks
        self._max_unacked = s.max_unacked_segments
        self._bif = s.bytes_in_flight
        self._irtt = s.out_of_order_use_irtt
        self._annotate = annotate
        self.totals = [0] * len(FLAG_NAMES)     # every flag over the whole capture

    def segment(self, packet, tl, hlen, conv, d, seq, ack, flags, seglen, win, ts, reused):
        # GT_SEQ(a, b) is written inline as ((b - a) & M32) >= HALF, LT_SEQ(a, b) as
        # ((a - b) & M32) >= HALF: this runs for every segment
        M = M32
        H = 0x80000000
        tcp = conv.tcp
        an = tcp.analysis
        if an is None:
            an = tcp.analysis = ConnAnalysis()
        si = an.si
        fwd = si[d]
        rev = si[1 - d]
        number = packet.number
        ta = A_REUSED if reused else 0
        has_ta = reused
        nosfr = not flags & _NO_SFR
        if flags & ACK:
            rev.valid_bif = True

        nextseq = fwd.nextseq
        lastack = fwd.lastack
        if seglen == 1 and seq == nextseq and rev.window == 0:
            ta |= A_ZWP
        else:
            if win == 0 and nosfr:
                ta |= A_ZW
            if nextseq and ((nextseq - seq) & M) >= H and not flags & RST:
                ta |= A_LOST
                fwd.valid_bif = False
            if seglen <= 1 and nosfr and seq == ((nextseq - 1) & M):
                ta |= A_KA
            if seglen == 0:
                if seq == nextseq and ack == lastack and nosfr:
                    if win != fwd.window:
                        if win:
                            ta |= A_WUPD
                    elif win and rev.lastflags & A_KA:
                        ta |= A_KAA
                    elif win == 0 and rev.lastflags & A_ZWP:
                        ta |= A_ZWPA
                    elif win:
                        fwd.dupacknum = 1 if fwd.dupacknum == -1 else fwd.dupacknum + 1
                        ta |= A_DUPACK
            elif nosfr:
                rep = tcp.ep[1 - d]
                ws = rep.win_scale
                if ws != -1:
                    shift = 0 if (rep.first_ack or ws == -2) else ws
                    if (seq + seglen) & M == (rev.lastack + ((rev.window << shift) & M)) & M:
                        ta |= A_WFULL
        # finished_fwd
        if ack != lastack:
            fwd.lastnondupack = number
            fwd.dupacknum = 0
        maxseq = rev.maxseqtobeacked
        if maxseq and flags & ACK and ((maxseq - ack) & M) >= H:
            # once per hole: again only when rev has sent beyond it since, or has
            # acknowledged something new (tshark 4.0's behaviour)
            has_ta = True
            if ((maxseq - rev.nextseq) & M) >= H:
                rev.maxseqtobeacked = rev.nextseq
                ta |= A_ACKLOST
            else:
                if rev.dupacknum == 0:
                    ta |= A_ACKLOST
                rev.dupacknum = -1
            if ta & A_ACKLOST and not flags & (FIN | RST):
                tcp.scaled(1 - d, "G", "gap")      # Zeek's content gap, on the data's side
        rto = rto_frame = 0
        segs = fwd.segs
        if (seglen > 0 or flags & (SYN | FIN)) and not ta & A_KA:
            not_advanced = nextseq and ((seq - nextseq) & M) >= H
            if seglen > 1 and ((nextseq - 1) & M) == seq:
                not_advanced = False        # more than one new octet after a 1-octet probe
            rlast = rev.lastack
            if seglen > 0 and rlast and ((rlast - seq - seglen) & M) < H:
                ta |= A_SPUR                 # every octet already acknowledged
            elif not_advanced:
                t = ts - rev.lastacktime
                if rev.dupacknum >= self._dupacks and rlast == seq and 0 <= t < self._fast_ns:
                    ta |= A_FAST
                else:
                    t = ts - fwd.nextseqtime
                    thres = tcp.first_rtt if (self._irtt and tcp.first_rtt) else self._ooo_ns
                    if 0 <= t < thres and nextseq != ((seq + seglen + (1 if flags & (SYN | FIN) else 0)) & M):
                        ta |= A_OOO
                    else:
                        ta |= A_RETRANS
                        if segs:            # Wireshark 4.0: from the eldest unacknowledged segment
                            eldest = segs[0]
                            rto, rto_frame = ts - eldest[3], eldest[2]
                        else:               # else from the segment that set nextseq
                            rto, rto_frame = ts - fwd.nextseqtime, fwd.nextseqframe
            if ta & _ANY_RETRANS:
                self._series(conv, an, d, fwd, seq, seglen, flags, number, ts, ta)
        # finished_checking_retransmission_type
        nxt = (seq + seglen) & M
        if (seglen or flags & (SYN | FIN)) and len(segs) < self._max_unacked:
            if flags & (SYN | FIN):
                nxt = (nxt + 1) & M
            if segs and fwd.ordered and ((seq - segs[-1][1]) & M) >= H:
                fwd.ordered = False
            segs.append([seq, nxt, number, ts])
        if not ta & A_ZWP:
            if not nextseq or ((nextseq - nxt) & M) >= H:
                fwd.nextseq = nextseq = nxt
                fwd.nextseqframe = number
                fwd.nextseqtime = ts
            if seq == fwd.maxseqtobeacked or not fwd.maxseqtobeacked:
                fwd.maxseqtobeacked = nextseq
        fwd.window = win
        fwd.lastack = ack
        fwd.lastacktime = ts
        fwd.lastflags = ta

        # the segments of the other direction this ACK covers
        acked = 0
        rsegs = rev.segs
        if rsegs:
            if rev.ordered:
                i = 0
                n = len(rsegs)
                while i < n:
                    sg = rsegs[i]
                    e = sg[1]
                    if ack == e:
                        if not acked:
                            acked = sg
                        i += 1
                    elif ((sg[0] - ack) & M) >= H and ((e - ack) & M) < H:
                        sg[0] = ack                 # partly acknowledged
                        break
                    elif ((ack - e) & M) >= H:
                        break                       # not acknowledged, nor what follows
                    else:
                        i += 1
                if i:
                    del rsegs[:i]
            else:
                keep = []
                for sg in rsegs:
                    e = sg[1]
                    if ack == e:
                        if not acked:
                            acked = sg
                    elif ((sg[0] - ack) & M) >= H and ((e - ack) & M) < H:
                        sg[0] = ack
                        keep.append(sg)
                    elif ((ack - e) & M) >= H:
                        keep.append(sg)
                rev.segs = rsegs = keep
            if not rsegs:
                rev.ordered = True
            if acked:
                has_ta = True
        if an.rtx is not None and an.rtx[1 - d] and flags & ACK:
            self._acked_series(conv, an, 1 - d, ack, number, ts)

        # bytes in flight after this segment
        bif = 0
        if seglen and segs and fwd.valid_bif and self._bif:
            has_ta = True
            base = tcp.ep[d].base_seq
            if fwd.ordered:
                first = (segs[0][0] - base) & M
                last = (segs[-1][1] - base) & M
            else:
                first = (segs[0][0] - base) & M
                last = (segs[0][1] - base) & M
                for sg in segs:
                    x = (sg[1] - base) & M
                    if x > last:
                        last = x
                    x = (sg[0] - base) & M
                    if x < first:
                        first = x
            in_flight = (last - first - rev.sack) & M     # minus what rev's last SACK holds
            if 0 < in_flight < 2000000000:
                bif = in_flight - 1 if flags & (SYN | FIN) else in_flight
            if flags & PSH:
                fwd.push_sent = seglen if fwd.push_last else fwd.push_sent + seglen
                fwd.push_last = True
            elif fwd.push_last:
                fwd.push_sent = seglen
                fwd.push_last = False
            else:
                fwd.push_sent += seglen

        # the SACK blocks of this segment, for the bytes in flight of the other direction
        if hlen > 20:
            buf = tl.buf
            start = tl.off + 20
            end = min(tl.off + hlen, len(buf))
            # most options are timestamps: look for a SACK kind octet before parsing
            fwd.sack = scan_options(buf, start, end)[0] if buf.find(5, start, end) >= 0 else 0
        elif fwd.sack:
            fwd.sack = 0

        # the handshake round trip (dissect_tcp, after the analysis)
        if flags & SYN:
            if not flags & ACK:
                tcp.mru_syn = ts
        elif not tcp.first_rtt and tcp.mru_syn and flags & ACK:
            tcp.first_rtt = ts - tcp.mru_syn

        if ta:
            counts = an.counts
            totals = self.totals
            off = d * len(FLAG_NAMES)
            bit = 0
            while ta >> bit:
                if ta >> bit & 1:
                    counts[off + bit] += 1
                    totals[bit] += 1
                bit += 1
        elif not has_ta:
            return
        if not self._annotate:
            return
        # annotations, as tshark shows them
        extra = packet.extra
        if extra is None:
            extra = packet.extra = {}
        if "tcp.analysis" in extra:      # a second TCP header in this frame (a tunnel)
            _annotate_again(packet, acked, tcp, bif, fwd, ta, rto, rto_frame, ts)
            return
        extra["tcp.analysis"] = [True]
        if acked:
            extra["tcp.analysis.acks_frame"] = [acked[2]]
            if ts != acked[3]:
                extra["tcp.analysis.ack_rtt"] = [(ts - acked[3]) / 1e9]
        if tcp.first_rtt:
            extra["tcp.analysis.initial_rtt"] = [tcp.first_rtt / 1e9]
        if bif:
            extra["tcp.analysis.bytes_in_flight"] = [bif]
            extra["tcp.analysis.push_bytes_sent"] = [fwd.push_sent]
        if ta:
            extra["tcp.analysis.flags"] = [True]
            if ta & _ANY_RETRANS:
                extra["tcp.analysis.retransmission"] = [True]
                if rto:
                    extra["tcp.analysis.rto"] = [rto / 1e9]
                    extra["tcp.analysis.rto_frame"] = [rto_frame]
            if ta & A_DUPACK:
                extra["tcp.analysis.duplicate_ack_num"] = [fwd.dupacknum]
                extra["tcp.analysis.duplicate_ack_frame"] = [fwd.lastnondupack]
            bit = 0
            while ta >> bit:
                if ta >> bit & 1:
                    extra[_FIELD[bit]] = [True]
                bit += 1

    # -- retransmission series -------------------------------------------------------
    def _series(self, conv, an, d, fwd, seq, seglen, flags, number, ts, ta):
        if an.rtx is None:
            an.rtx = [{}, {}]
        open_ = an.rtx[d]
        s = open_.get(seq)
        kind = "fast_retransmission" if ta & A_FAST else (
            "spurious_retransmission" if ta & A_SPUR else "retransmission")
        if s is None:
            base = conv.tcp.ep[d].base_seq
            end = (seq + seglen + (1 if flags & (SYN | FIN) else 0)) & M32
            s = RetransmissionSeries(d, (seq - base) & M32, seglen, bool(flags & SYN), end, self.settings)
            for u in fwd.segs:                  # the oldest unacknowledged copy
                if u[0] == seq:
                    s.frames.append(u[2])
                    s.times_ns.append(u[3])
                    s.original_seen = True
                    break
            open_[seq] = s
            if len(conv.retransmission_series) < self.settings.max_series:
                conv.retransmission_series.append(s)
        s.frames.append(number)
        s.times_ns.append(ts)
        s.kinds.append(kind)

    def _acked_series(self, conv, an, d, ack, number, ts):
        open_ = an.rtx[d]
        for key in [k for k, s in open_.items() if not _gt(s.end, ack)]:
            s = open_.pop(key)
            s.outcome = "acked"
            s.acked_frame = number
            s.acked_ns = ts

    def finished(self, conv):
        """End of a conversation: settle open retransmission series, count flags, free
        the per-segment state."""
        an = conv.tcp.analysis
        if an is None:
            conv.flag_counts = flag_counts(conv)
            return
        if an.rtx is not None:
            for d in (0, 1):
                reset = conv.tcp.ep[d].rst_cnt > 0
                for s in an.rtx[d].values():
                    s.outcome = "reset" if reset else "unanswered"
            an.rtx = None
        conv.flag_counts = flag_counts(conv)
        for si in an.si:
            si.segs = []


def _annotate_again(packet, acked, tcp, bif, fwd, ta, rto, rto_frame, ts):
    """Annotations of a second TCP header in one frame: appended, like repeated fields."""
    a = packet.annotate
    a("tcp.analysis", True)
    if acked:
        a("tcp.analysis.acks_frame", acked[2])
        if ts != acked[3]:
            a("tcp.analysis.ack_rtt", (ts - acked[3]) / 1e9)
    if tcp.first_rtt:
        a("tcp.analysis.initial_rtt", tcp.first_rtt / 1e9)
    if bif:
        a("tcp.analysis.bytes_in_flight", bif)
        a("tcp.analysis.push_bytes_sent", fwd.push_sent)
    if ta:
        a("tcp.analysis.flags", True)
        if ta & _ANY_RETRANS:
            a("tcp.analysis.retransmission", True)
            if rto:
                a("tcp.analysis.rto", rto / 1e9)
                a("tcp.analysis.rto_frame", rto_frame)
        if ta & A_DUPACK:
            a("tcp.analysis.duplicate_ack_num", fwd.dupacknum)
            a("tcp.analysis.duplicate_ack_frame", fwd.lastnondupack)
        for bit, name in enumerate(_FIELD):
            if ta >> bit & 1 and not (bit == 1 and ta & _ANY_RETRANS):
                a(name, True)


def flag_counts(conv) -> dict[str, list[int]]:
    """Analysis flags of a (live or finished) conversation, per direction."""
    if conv.flag_counts is not None:
        return conv.flag_counts
    an = conv.tcp.analysis if conv.tcp is not None else None
    if an is None:
        return {n: [0, 0] for n in FLAG_NAMES}
    k = len(FLAG_NAMES)
    return {n: [an.counts[i], an.counts[k + i]] for i, n in enumerate(FLAG_NAMES)}


class Analysis:
    """Conversation tracking + TCP analysis + checksum-offload detection over a stream of
    decoded packets.  ``on_conversation(conv)`` receives each finished
    :class:`expert.conversations.Conversation`; ``on_offload(host)`` each host judged to
    offload checksums."""

    def __init__(self, settings: AnalysisSettings | None = None, on_conversation=None, on_offload=None):
        self.settings = s = settings or AnalysisSettings()
        self.checksums = (ChecksumMonitor(s.checksums, on_offload)
                          if s.checksums is not None or on_offload is not None else None)
        self.tcp = TcpAnalyzer(s.tcp, s.annotate)
        self.tracker = ConversationTracker(s.conversations, on_finish=on_conversation,
                                           analyzer=self.tcp, checksums=self.checksums,
                                           annotate=s.annotate)

    def process(self, packet):
        """Annotate one packet; returns its conversation (or None)."""
        return self.tracker.process(packet)

    def run(self, packets: Iterable) -> Iterator:
        """Annotate and yield each packet; at the end of the input (or when the consumer
        stops early) the live conversations are finished."""
        process = self.tracker.process
        try:
            for packet in packets:
                process(packet)
                yield packet
        finally:
            self.finish()

    @property
    def flag_totals(self) -> dict[str, int]:
        """How many segments carried each analysis flag so far (tshark ``-z expert``
        counts these per message)."""
        return dict(zip(FLAG_NAMES, self.tcp.totals))

    def finish(self):
        """End of the capture: finish the live conversations (returned, and passed to
        ``on_conversation``)."""
        return self.tracker.finish()


def analyze(packets: Iterable, settings: AnalysisSettings | None = None,
            on_conversation=None, on_offload=None) -> Iterator:
    """Annotate decoded packets (``tcp.stream``, ``udp.stream``, ``tcp.seq`` ...,
    ``tcp.analysis.*``) as they stream through; yields each packet once it is annotated.
    Finished conversations go to ``on_conversation`` (the rest when the input ends)."""
    return Analysis(settings, on_conversation, on_offload).run(packets)
