"""The analysis stages the expert engine can run, the packet fields they annotate, and
which stages a set of rules needs (:func:`needed`): a rule set that reads no
``tcp.analysis.*`` field does not pay for the TCP analysis.

Stages (all streaming, with bounded state):

* ``conversations`` — :class:`expert.conversations.ConversationTracker`: ``tcp.stream``,
  ``udp.stream``, relative sequence numbers, conversation records for
  conversation-scope rules;
* ``tcp_analysis`` — :class:`expert.tcp_analysis.TcpAnalyzer`: ``tcp.analysis.*`` and
  the retransmission series (``conv.rtx.*``, ``conv.analysis.*``);
* ``conv_stats`` — :class:`expert.convstats.ConvStats` per TCP conversation and the
  server port table (``conv.syn_*``, ``conv.art*``, ``conv.zero_window_*``, ``server.*``);
* ``checksums`` — :class:`CheckedChecksums`, the offload-aware checksum monitor of
  :mod:`expert.checksum_offload`, annotating ``tcp.checksum.error`` /
  ``udp.checksum.error`` (a bad checksum that is a real error: not from a host that
  offloads checksums, and not holding the partial pseudo-header sum a network card
  completes — Linux's CHECKSUM_PARTIAL — nor zero) and ``tcp.checksum.offload`` /
  ``udp.checksum.offload`` (on the packet at which a host was judged to offload);
* ``ip_checksums`` — :class:`IpChecksums`: the IPv4 header checksum of every (outer)
  IPv4 header, verified straight from the octets, judged per source host the same way:
  ``ip.checksum.error`` (bad, from a host that also sends good ones, and not zero) and
  ``ip.checksum.offload``;
* ``pairing`` — :class:`expert.pairing.Pairing`: request/response pairing with response
  times (``dns.time``, ``radius.time``, ``icmp.resptime``, ``http.time`` ... and
  ``icmp.quoted_frame``), when a rule reads one of its fields;
* ``icmp_link`` — :class:`expert.pairing.QuoteLinker`, the pairing stage's own ICMP
  error linker run alone, when ``icmp.quoted_frame`` is the only pairing field the rules
  read;
* ``access`` — :class:`expert.radius_check.AccessCheck`: RADIUS request/response
  matching (``radius.rspframe``, ``radius.dup`` ...), authenticators when secrets are
  given, PPP CHAP checks.
"""
from __future__ import annotations

import struct

from expert import convstats, filters
from expert.checksum_offload import ChecksumMonitor
from expert.conversations import PROTOCOLS

#: fields the engine's own stages annotate
ENGINE_FIELDS = {
    "ip.checksum.error": bool, "tcp.checksum.error": bool, "udp.checksum.error": bool,
    "ip.checksum.offload": bool, "tcp.checksum.offload": bool, "udp.checksum.offload": bool,
    "icmp.quoted_frame": int,
}

_CONV_ANNOTATIONS = {"tcp.stream", "udp.stream", "tcp.seq", "tcp.ack", "tcp.len", "tcp.nxtseq",
                     "tcp.window_size", "tcp.window_size_scalefactor"}


def register() -> None:
    """Declare every annotated field to the filter language (idempotent)."""
    from decoder.reassembly import REASSEMBLY_FIELDS
    from expert.pairing import PAIRING_FIELDS
    from expert.radius_check import ACCESS_FIELDS
    from expert.tcp_analysis import ANALYSIS_FIELDS
    for fields, source in ((ANALYSIS_FIELDS, "conversations and TCP analysis"),
                           (ACCESS_FIELDS, "RADIUS and CHAP checks"),
                           (ENGINE_FIELDS, "protospec expert's checksum and ICMP stages"),
                           (PAIRING_FIELDS, "request/response pairing"),
                           (REASSEMBLY_FIELDS, "IP reassembly")):
        filters.register_extra_fields(fields, source)


register()


def annotated_fields() -> list[tuple[str, str, str]]:
    """``(name, what computes it, type)`` of every annotated field, sorted: for
    ``protospec fields`` and the field index.  A link to a later frame says it needs ``-2``."""
    from expert.pairing import FORWARD_FIELDS
    rows = []
    for name, ftype in filters.extra_fields().items():
        source = filters.extra_field_source(name) or "analysis"
        if name in FORWARD_FIELDS:
            source += ", with -2: names a later frame"
        rows.append((name, source, "label" if ftype == "none" else ftype))
    return sorted(rows)


def _access_fields():
    from expert.radius_check import ACCESS_FIELDS
    return set(ACCESS_FIELDS)


def needed(rules, force_access=False) -> set[str]:
    """The stages a list of compiled rules needs."""
    fields = set()
    conv_scope = False
    for r in rules:
        fields |= r.fields
        if r.scope == "conversation":
            conv_scope = True
    out = set()
    if conv_scope or fields & _CONV_ANNOTATIONS:
        out.add("conversations")
    if any(f.startswith("tcp.analysis") for f in fields) or fields & convstats.ANALYSIS_FIELDS:
        out |= {"conversations", "tcp_analysis"}
    if fields & convstats.STATS_FIELDS:
        out |= {"conversations", "conv_stats"}
    if fields & {"tcp.checksum.error", "udp.checksum.error", "tcp.checksum.offload", "udp.checksum.offload",
                 "conv.bad_checksums"}:
        out |= {"conversations", "checksums"}
    if fields & {"ip.checksum.error", "ip.checksum.offload"}:
        out.add("ip_checksums")
    from expert.pairing import PAIRING_FIELDS
    pairing = set(PAIRING_FIELDS) - {"icmp.quoted_frame"}
    if fields & pairing:
        out.add("pairing")
    elif "icmp.quoted_frame" in fields:
        out.add("icmp_link")
    if force_access or fields & _access_fields():
        out.add("access")
    return out


def protocols(rules, stages, registry) -> set[str] | None:
    """The layers the rules and their ``stages`` read, for a depth-limited
    :class:`decoder.packet.Decoder`; None when every layer is needed (the pairing and
    access checks read the application layers themselves)."""
    if stages & {"pairing", "access"}:
        return None
    from expert.rule_compiler import SEQ_FIELDS
    # a conversation's or a sequence's own values come from the stages, not from layers
    out = registry.protocols_of({f for r in rules for f in r.fields
                                 if f not in convstats.FIELDS and f not in SEQ_FIELDS})
    if out is None:
        return None
    if stages & {"conversations", "tcp_analysis", "checksums", "conv_stats"}:
        out |= PROTOCOLS
    if "ip_checksums" in stages:
        out.add("ip")
    if "icmp_link" in stages:
        out |= {"icmp", "ip"}
    return out


class CheckedChecksums(ChecksumMonitor):
    """The offload-aware checksum monitor, annotating the packet under way."""

    def __init__(self, settings=None):
        super().__init__(settings, on_offload=self._offload)
        self.packet = None

    def check(self, layer, src, proto, frame):
        bad = super().check(layer, src, proto, frame)
        if bad and partial_checksum(layer):
            return False         # the card completes it: offload, not corruption
        if bad and self.packet is not None:
            self.packet.annotate(f"{proto}.checksum.error", True)
        return bad

    def _offload(self, host):
        if self.packet is not None:
            self.packet.annotate(f"{host.proto}.checksum.offload", True)


def partial_checksum(layer) -> bool:
    """Whether a TCP/UDP checksum holds what a sender that offloads checksums leaves in
    it: zero, or the one's-complement sum of the pseudo-header alone (the partial sum the
    network card completes; Linux's CHECKSUM_PARTIAL)."""
    from decoder.checksum import network_layer, pseudo_header
    sent = layer.get("checksum")
    if sent == 0:
        return True
    net = network_layer(layer)
    if net is None or sent is None:
        return False
    proto = 6 if layer.proto.name == "tcp" else 17
    try:
        ph = pseudo_header(net, proto, layer.end - layer.off)
    except (KeyError, TypeError, ValueError):
        return False
    total = 0
    for i in range(0, len(ph), 2):
        total += ph[i] << 8 | ph[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return sent == total or sent == (~total & 0xFFFF)


class _Status:
    """A layer stand-in for :class:`ChecksumMonitor`: only the checksum status."""

    __slots__ = ("status",)

    def checksum_status(self):
        return self.status


class IpChecksums:
    """IPv4 header checksums, verified from the header octets and judged per source
    host by a :class:`ChecksumMonitor` (every header verified: it is cheap)."""

    def __init__(self, probe_packets=16):
        from expert.checksum_offload import ChecksumSettings
        self.monitor = ChecksumMonitor(ChecksumSettings(mode="all", probe_packets=probe_packets),
                                       on_offload=self._offload)
        self._stand_in = _Status()
        self.packet = None
        self._ex = None

    def _offload(self, host):
        if self.packet is not None:
            self.packet.annotate("ip.checksum.offload", True)

    def process(self, packet):
        for layer in packet.layers:
            if layer.proto.name != "ip":
                continue
            if layer.quoted:
                break
            v = layer.v
            buf, off, hlen = layer.buf, layer.off, layer.hlen
            if v is None or hlen < 20 or hlen > 60 or hlen % 2 or off + hlen > len(buf) or layer.status != "ok":
                return
            total = _sum16(buf, off, hlen)
            sent = buf[off + 10] << 8 | buf[off + 11]
            src = bytes(buf[off + 12:off + 16])
            good = total == 0xFFFF
            if good:
                h = self.monitor.hosts.get((src, "ip"))
                if h is not None and h.state == "clean":
                    h.checked += 1             # all the monitor would do
                    return
            st = self._stand_in
            st.status = "good" if good else "bad"
            self.packet = packet
            if self.monitor.check(st, src, "ip", packet.number) and sent != 0:
                packet.annotate("ip.checksum.error", True)
            self.packet = None
            return


_WORDS = {n: struct.Struct(f"!{n // 2}H") for n in range(20, 62, 2)}


def _sum16(buf, off, n) -> int:
    """One's-complement sum of the ``n`` octets (``n`` even, 20 to 60) at ``off``."""
    s = sum(_WORDS[n].unpack_from(buf, off))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s

