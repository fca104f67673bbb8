"""TCP per-connection state: Zeek's endpoint state machine, ``conn_state`` and ``history``,
plus Wireshark's relative sequence numbers and window scaling.

Two views of one connection are kept side by side, each following its reference:

* **Zeek** (``conn.log``): every endpoint walks INACTIVE → SYN_SENT / SYN_ACK_SENT /
  PARTIAL → ESTABLISHED → CLOSED / RESET as in Zeek's ``TCPSessionAdapter``
  (``Process``, ``init_endpoint``, ``update_history``, ``update_last_seq`` and the
  ``Update*State`` functions); :func:`conn_state` is a line-by-line port of
  ``conn_state()`` in ``base/protocols/conn/main.zeek`` and gives S0, S1, SF, REJ, S2, S3,
  RSTO, RSTR, RSTOS0, RSTRH, SH, SHR or OTH.  The ``history`` letters are Zeek's:
  ``s`` SYN, ``h`` SYN+ACK, ``a`` pure ACK, ``d`` data, ``f`` FIN, ``r`` RST, ``c`` bad
  checksum, ``g`` content gap, ``t`` retransmitted payload, ``w`` zero window, ``i``
  FIN+RST, ``q`` SYN with FIN or RST, ``^`` roles flipped; upper case when the originator
  sent it.  ``a d i q`` appear once per direction, ``s h f r`` again when the sequence
  number differs, ``c g t w`` at the 1st, 10th, 100th ... occurrence.
* **Wireshark** (``tcp.seq``, ``tcp.ack``, ``tcp.nxtseq``, ``tcp.window_size``,
  ``tcp.window_size_scalefactor``): a direction's base is its SYN's sequence number, or
  ``seq - 1`` when its first segment is not a SYN (so data starts at 1); the peer's base
  comes from ``ack - 1`` of the first segment with ACK set when the peer was not seen
  yet.  A window scale is learnt from each side's SYN option and checked like
  ``verify_tcp_window_scaling()``: a SYN without the option means "no scaling" (-2) for
  both sides, a SYN+ACK without it after a SYN with it too; the scale factor is -1 while
  unknown (for instance when the SYN was not captured; as in Wireshark 4.0, a side whose
  own SYN was seen uses its shift even if the other SYN was missed).  SYN segments show
  their window unscaled and no scale factor (RFC 7323 §2.2).

Deliberate differences from Zeek, documented in the conversation tests:

* roles: the SYN sender is the originator; when the first segment seen is a SYN+ACK its
  receiver is (Zeek flips only when the SYN+ACK comes from a "likely server port");
  otherwise the first sender, flipped (``^``) when its source port is a likely server
  port (``Settings.server_ports`` or below 1024) and the destination port is not, or
  both are and the destination port is higher — Zeek's ``WantConnection`` heuristic;
* ``c`` counts only bad checksums from hosts that have sent a good one before (so
  checksum offload on the capturing host does not fill every history with ``C``), see
  :mod:`expert.checksum_offload`; Zeek drops such packets unless run with ``-C``;
* ``g`` (content gap) is recorded when the peer acknowledges data never seen, as
  Wireshark's ``tcp.analysis.ack_lost_segment`` finds it (not by a reassembler), so it
  needs :mod:`expert.tcp_analysis`;
* byte counts (:attr:`TcpEndpoint.size`) come from sequence numbers as in Zeek, without
  Zeek's special cases for more than 4 GiB in one direction.
"""
from __future__ import annotations

M32 = 0xFFFFFFFF
HALF = 0x80000000

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# Zeek TCP_ENDPOINT_* states
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)

# history bits (Zeek's HIST_* masks, one set per direction)
H_SYN, H_SYNACK, H_ACK, H_DATA, H_FIN, H_RST, H_FINRST, H_MULTI = 1, 2, 4, 8, 16, 32, 64, 128

# Zeek's TOO_LARGE_SEQ_DELTA: SYN/RST sequence numbers that far off are not trusted
TOO_LARGE_SEQ_DELTA = 1048576


def seq_delta(a: int, b: int) -> int:
    """``a - b`` as a signed 32-bit difference (Zeek's ``seq_delta``)."""
    d = (a - b) & M32
    return d - 0x100000000 if d & HALF else d


class TcpEndpoint:
    """One direction of a TCP connection.

    Wireshark numbering: ``base_seq``/``base_set``, ``win_scale`` (-1 unknown, -2 none,
    else the shift), ``first_ack`` (no pure ACK sent yet: the window of its SYN is not
    scaled in the window-full check).  Zeek: ``state``, ``prev_state``, ``start_seq``,
    ``last_seq``, ``ack_seq``, ``adv`` / ``ack_adv`` (how far ``last_seq``/``ack_seq``
    moved since ``start_seq``, 64-bit), counters for the scaled history letters.
    ``seq`` holds :class:`expert.tcp_analysis.SeqInfo` when analysis runs.
    """

    __slots__ = ("base_seq", "base_set", "win_scale", "first_ack", "mss",
                 "state", "prev_state", "did_close", "start_seq", "last_seq", "ack_seq",
                 "adv", "ack_adv", "fin_cnt", "rst_cnt", "last_syn", "last_fin", "last_rst",
                 "rxmit", "rxmit_t", "zw", "zw_t", "gap", "gap_t", "bad", "bad_t", "seq")

    def __init__(self):
        self.base_seq = 0
        self.base_set = False
        self.win_scale = -1
        self.first_ack = True
        self.mss = None
        self.state = self.prev_state = INACTIVE
        self.did_close = False
        self.start_seq = self.last_seq = self.ack_seq = 0
        self.adv = self.ack_adv = 0
        self.fin_cnt = self.rst_cnt = 0
        self.last_syn = self.last_fin = self.last_rst = None
        self.rxmit = self.zw = self.gap = self.bad = 0
        self.rxmit_t = self.zw_t = self.gap_t = self.bad_t = 1
        self.seq = None

    def set_state(self, state: int) -> None:
        self.prev_state = self.state
        self.state = state

    @property
    def size(self) -> int:
        """Payload octets sent, from sequence numbers (Zeek's ``TCP_Endpoint::Size``)."""
        if self.prev_state == SYN_SENT and self.state == RESET and self.ack_adv <= 1:
            return 0          # a half-open connection found and aborted: numbers mislead
        size = max(self.adv, self.ack_adv)
        if size > 0:
            size -= 1         # the SYN (or the virtual one of a partial connection)
        if self.fin_cnt and size > 0:
            size -= 1
        return size


class TcpConn:
    """Both endpoints (index 0: originator, 1: responder) and the shared history."""

    __slots__ = ("ep", "history", "seen", "mru_syn", "first_rtt", "analysis")

    def __init__(self):
        self.ep = (TcpEndpoint(), TcpEndpoint())
        self.history = []
        self.seen = 0            # history bits, the responder's shifted by 8
        self.mru_syn = 0         # time of the most recent SYN (ns), for the iRTT
        self.first_rtt = 0       # Wireshark's iRTT (ns), 0 while unknown
        self.analysis = None     # per-connection analysis state (expert.tcp_analysis)

    # -- history -------------------------------------------------------------
    def check(self, d: int, bit: int, code: str) -> bool:
        """Zeek's ``CheckHistory``: record ``code`` once; True if it was seen before."""
        mask = bit << (8 * d)
        if self.seen & mask:
            return True
        self.seen |= mask
        self.history.append(code if d == 0 else code.lower())
        return False

    def add(self, d: int, code: str) -> None:
        self.history.append(code if d == 0 else code.lower())

    def scaled(self, d: int, code: str, attr: str) -> None:
        """Zeek's ``ScaledHistoryEntry``: the letter at the 1st, 10th, 100th ... event."""
        ep = self.ep[d]
        n = getattr(ep, attr) + 1
        setattr(ep, attr, n)
        if n == getattr(ep, attr + "_t"):
            self.add(d, code)
            setattr(ep, attr + "_t", n * 10)


def conn_state(conn: TcpConn) -> str:
    """Zeek's ``conn_state()`` (base/protocols/conn/main.zeek), for TCP."""
    o, r = conn.ep
    os, rs = o.state, r.state
    o_inactive = os == INACTIVE or os == PARTIAL
    r_inactive = rs == INACTIVE or rs == PARTIAL
    if rs == RESET:
        if os == SYN_SENT or os == SYN_ACK_SENT or (os == RESET and o.size == 0 and r.size == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os == RESET:
        if r_inactive:
            # /^\^?S[^HAFGIQ]*R.*/: a SYN, then nothing from the originator but a RST
            h = "".join(conn.history).lstrip("^")
            if h.startswith("S"):
                i = 1
                while i < len(h) and h[i] not in "HAFGIQR":
                    i += 1
                if i < len(h) and h[i] == "R":
                    return "RSTOS0"
            return "OTH"
        return "RSTO"
    if rs == CLOSED and os == CLOSED:
        return "SF"
    if os == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"


def scan_options(buf, off: int, end: int):
    """``(SACK octets, window-scale shift, MSS)`` from raw TCP options ``buf[off:end]``
    (None when absent): a few byte reads, cheaper than a full parse of the header.  The
    SACK octets are the sum of ``right - left`` over the blocks, as Wireshark subtracts
    them from the bytes in flight."""
    sack = 0
    ws = mss = None
    i = off
    while i < end:
        kind = buf[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end:
            break
        ln = buf[i + 1]
        if ln < 2 or i + ln > end:
            break
        if kind == 5:
            j = i + 2
            while j + 8 <= i + ln:
                sack += (int.from_bytes(buf[j + 4:j + 8], "big") - int.from_bytes(buf[j:j + 4], "big")) & M32
                j += 8
        elif kind == 3 and ln >= 3:
            ws = buf[i + 2]
        elif kind == 2 and ln >= 4:
            mss = buf[i + 2] << 8 | buf[i + 3]
        i += ln
    return sack & M32, ws, mss


def window_scale_learnt(conn: TcpConn, d: int, flags: int, shift) -> None:
    """A SYN from direction ``d`` carried window scale ``shift`` (None: no option).
    Wireshark's ``pdu_store_window_scale_option`` + ``verify_tcp_window_scaling``."""
    fwd, rev = conn.ep[d], conn.ep[1 - d]
    if shift is not None:
        fwd.win_scale = min(shift, 14)
    if fwd.win_scale == -1:
        fwd.win_scale = rev.win_scale = -2
    elif flags & ACK and rev.win_scale == -2:
        fwd.win_scale = -2


def zeek_segment(conn: TcpConn, d: int, seq: int, ack: int, flags: int, plen: int, window: int) -> None:
    """Update Zeek's endpoint states and history for one segment from direction ``d``
    (sets the endpoint's ``did_close`` when it closed the connection: Zeek's ``do_close``)."""
    ep, peer = conn.ep[d], conn.ep[1 - d]
    # the fast path (no SYN/FIN/RST on an open connection) is inlined in conversations.py's _tcp
    st = ep.state
    is_orig = d == 0
    syn, fin, rst, ackf = flags & SYN, flags & FIN, flags & RST, flags & ACK
    seg_len = plen + (1 if syn else 0) + (1 if fin else 0)
    if rst:
        seg_len -= plen
    last = (seq + seg_len) & M32

    # init_endpoint()
    if st == INACTIVE:
        if syn:
            ep.start_seq = ep.ack_seq = seq
            ep.last_seq = last
        else:
            ep.start_seq = ep.ack_seq = (seq - 1) & M32
            ep.last_seq = seq            # so the first segment is not taken as a duplicate
        ep.adv = (ep.last_seq - ep.start_seq) & M32
        ep.ack_adv = 0
    elif syn and (st in (SYN_SENT, SYN_ACK_SENT) and seq != ep.start_seq
                  or st in (ESTABLISHED, PARTIAL)
                  or st == RESET and ep.prev_state == INACTIVE):
        ep.start_seq = ep.ack_seq = seq
        ep.last_seq = last
        ep.adv = (last - seq) & M32
        ep.ack_adv = 0
    rel_seq = (seq - ep.start_seq) & M32

    # update_history()
    bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
    if bits > 1:
        if fin and rst:
            conn.check(d, H_FINRST, "I")
        else:
            conn.check(d, H_MULTI, "Q")
    elif bits == 1:
        if syn:
            code = "H" if ackf else "S"
            if conn.check(d, H_SYNACK if ackf else H_SYN, code) and rel_seq != ep.last_syn:
                conn.add(d, code)
            ep.last_syn = rel_seq
        if fin:
            end = (rel_seq + plen) & M32
            if conn.check(d, H_FIN, "F") and end != ep.last_fin:
                conn.add(d, "F")
            ep.last_fin = end
        if rst:
            if conn.check(d, H_RST, "R") and rel_seq != ep.last_rst:
                conn.add(d, "R")
            ep.last_rst = rel_seq
    elif plen:
        conn.check(d, H_DATA, "D")
    elif ackf:
        conn.check(d, H_ACK, "A")

    # update_window(): the zero-window letter
    if window == 0 and not rst and peer.state != CLOSED and ep.state != RESET:
        conn.scaled(d, "W", "zw")

    if fin:
        ep.fin_cnt += 1
    if rst:
        ep.rst_cnt += 1

    # the acknowledgement
    if ackf:
        if peer.state == INACTIVE:
            # init_peer(): number the peer as though its SYN had been seen
            peer.start_seq = peer.ack_seq = peer.last_seq = (ack - 1) & M32
            peer.adv = peer.ack_adv = 0
        elif not rst:
            delta = seq_delta(ack, peer.ack_seq)
            if not (ack == 0 and delta > TOO_LARGE_SEQ_DELTA) and delta > 0:
                peer.ack_seq = ack
                peer.ack_adv += delta

    # update_last_seq(): a retransmission when the segment does not advance
    delta_last = seq_delta(last, ep.last_seq)
    if (syn or rst) and (delta_last > TOO_LARGE_SEQ_DELTA or delta_last < -TOO_LARGE_SEQ_DELTA):
        pass
    elif fin and ep.last_seq == ((ep.start_seq + 1) & M32):
        ep.adv += delta_last
        ep.last_seq = last
    elif ep.state == RESET:
        pass
    elif delta_last > 0:
        ep.adv += delta_last
        ep.last_seq = last
    elif plen > 0:
        conn.scaled(d, "T", "rxmit")

    # UpdateStateMachine()
    do_close = False
    st = ep.state
    if st == INACTIVE:
        if syn:
            if is_orig:
                ep.set_state(SYN_ACK_SENT if ackf else SYN_SENT)
            else:
                if peer.state == SYN_SENT:
                    peer.set_state(ESTABLISHED)
                ep.set_state(ESTABLISHED)
        do_close = _fin_or_rst(ep, fin, rst)
        if ep.state == INACTIVE:
            if not is_orig and plen == 0 and conn.ep[0].state == SYN_SENT:
                pass          # an ACK of the SYN before the SYN+ACK: not a partial connection
            elif ackf and peer.state == ESTABLISHED:
                ep.set_state(ESTABLISHED)   # SYN+ACK seen but not the SYN: established anyway
            else:
                ep.set_state(PARTIAL)
    elif st == SYN_SENT or st == SYN_ACK_SENT:
        do_close = _fin_or_rst(ep, fin, rst)
    elif st == ESTABLISHED or st == PARTIAL:
        if syn and st == PARTIAL and peer.state == INACTIVE and not ackf:
            ep.set_state(SYN_SENT)
        if fin and not rst:
            ep.set_state(CLOSED)
            if peer.state == RESET and peer.prev_state == CLOSED:
                peer.set_state(CLOSED)   # the peer's FIN then RST was a normal close
            do_close = True
        if rst:
            ep.set_state(RESET)
            do_close = True
    elif st == CLOSED:
        if rst and peer.state != CLOSED:
            ep.set_state(RESET)
            if not ep.did_close:
                do_close = True
    if do_close:
        ep.did_close = True


def _fin_or_rst(ep, fin, rst) -> bool:
    """A FIN closes this side, a RST (after it) resets it; whether either did."""
    if fin:
        ep.set_state(CLOSED)
    if rst:
        ep.set_state(RESET)
    return bool(fin or rst)


def closed(conn: TcpConn) -> bool:
    """Both sides closed, or one reset: the connection is over (it lingers a while)."""
    o, r = conn.ep
    if o.state == RESET or r.state == RESET:
        return True
    return (o.did_close and (r.did_close or r.state == INACTIVE)
            or r.did_close and o.state == INACTIVE)


def attempt_only(conn: TcpConn) -> bool:
    """Only connection attempts so far (SYNs, no answer): Zeek's S0."""
    o, r = conn.ep
    return r.state == INACTIVE and o.state in (SYN_SENT, SYN_ACK_SENT)
