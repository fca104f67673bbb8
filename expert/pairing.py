"""Request/response pairing with response times, as a streaming analysis stage.

:class:`Pairing` reads decoded packets in capture order (``process(packet)``) and
annotates each *reply* with the frame of the request it answers and the time it took
(Wireshark's names where Wireshark has the field):

=========================  ==============================================================
DNS                        query/response by (client, server, ports, ``dns.id``):
                           ``dns.response_to`` (frame), ``dns.time`` (seconds)
ICMP echo                  request/reply by (addresses, ``icmp.ident``, ``icmp.seq``):
                           ``icmp.resp_to``, ``icmp.resptime`` (milliseconds, as Wireshark);
                           ICMPv6 echo the same way: ``icmpv6.resp_to``, ``icmpv6.resptime``
ICMP errors                ``icmp.quoted_frame``: the earlier frame whose IPv4 header the
                           error quotes (same source, destination and IP ID; and the same
                           ports when the quote holds a TCP/UDP header)
RADIUS                     request/response by (addresses, ports, ``radius.id``, code
                           family): ``radius.reqframe``, ``radius.time`` (seconds)
FTP                        per TCP connection, the next reply after a command (preliminary
                           1xx replies keep the command open): ``ftp.response_to``,
                           ``ftp.time``
HTTP                       per TCP connection, responses in request order (pipelining;
                           1xx other than 101 keep the request open): ``http.request_in``,
                           ``http.time``
other UDP                  request/next-reply: a datagram answers the last datagram the
                           other side sent since its own previous one:
                           ``udp.response_to``, ``udp.time`` (our names)
=========================  ==============================================================

In one pass a request has already gone by when its reply arrives, so the links Wireshark
puts on requests are learnt in a first pass and annotated in a second (tshark's ``-2``,
``protospec decode -2``) through :class:`ForwardLinks`: ``dns.response_in``,
``icmp.resp_in``, ``icmpv6.resp_in``, ``http.response_in``, ``ftp.response_in`` and
``udp.response_in`` (our names), and ``icmp.no_resp`` / ``icmpv6.no_resp`` on an echo
request no reply answered.  The pairs are
also in :attr:`Pairing.pairs` (``(kind, request frame, response frame, seconds)``, the
last ``keep_pairs`` of them) and in the JSON of ``protospec stats``.

Memory is bounded: outstanding requests expire after ``timeout`` capture seconds and
each table keeps at most ``limit`` entries (oldest dropped first).
"""
from __future__ import annotations

from collections import OrderedDict, deque

from specs.icmp import ERRORS as ICMP_ERRORS

__all__ = ["Pairing", "QuoteLinker", "ForwardLinks", "PAIRING_FIELDS", "FORWARD_FIELDS"]

#: fields :class:`Pairing` annotates, for the filter language
PAIRING_FIELDS: dict[str, type] = {
    "dns.response_to": int, "dns.time": float,
    "icmp.resp_to": int, "icmp.resptime": float, "icmp.quoted_frame": int,
    "icmpv6.resp_to": int, "icmpv6.resptime": float,
    "radius.reqframe": int, "radius.time": float,
    "ftp.response_to": int, "ftp.time": float,
    "http.request_in": int, "http.time": float,
    "udp.response_to": int, "udp.time": float,
    # two passes only (ForwardLinks)
    "dns.response_in": int, "icmp.resp_in": int, "icmp.no_resp": bool, "icmpv6.resp_in": int,
    "icmpv6.no_resp": bool, "http.response_in": int, "ftp.response_in": int, "udp.response_in": int,
}

#: echo request type, reply type, identifier and sequence fields
_ECHO = {"icmp": (8, 0, "ident", "seq"), "icmpv6": (128, 129, "echo.identifier", "echo.sequence_number")}

#: pair kind -> the field that links its request to the response (two passes)
_RESPONSE_IN = {"dns": "dns.response_in", "icmp": "icmp.resp_in", "icmpv6": "icmpv6.resp_in",
                "radius": "radius.rspframe",
                "ftp": "ftp.response_in", "http": "http.response_in", "udp": "udp.response_in"}

#: fields that name a later frame, which only a second pass can give (``decode -2``): the
#: links to responses, the echo requests none answered, and decoder.reassembly's link
FORWARD_FIELDS = frozenset(_RESPONSE_IN.values()) | {f"{kind}.no_resp" for kind in _ECHO} | {
    "ip.reassembled_in", "ipv6.reassembled_in"}


class ForwardLinks:
    """Links from a frame to a later one (``dns.response_in`` on a query), which one pass
    cannot print: the stages :meth:`add` them during a first pass over the capture; once
    :attr:`complete`, the second pass :meth:`annotate` s each packet with its own, and
    ``add`` does nothing.  Memory: one entry per link."""

    __slots__ = ("links", "complete")

    def __init__(self):
        self.links: dict[int, list] = {}
        self.complete = False

    def add(self, frame: int, name: str, value) -> None:
        if not self.complete:
            self.links.setdefault(frame, []).append((name, value))

    def has(self, frame: int, name: str) -> bool:
        return any(n == name for n, _ in self.links.get(frame, ()))

    def annotate(self, packet) -> None:
        """Add the packet's links (a stage may have annotated one already: not twice)."""
        for name, value in self.links.get(packet.number, ()):
            if packet.extra is None or value not in packet.extra.get(name, ()):
                packet.annotate(name, value)


# request/response protocols over TCP -> (response field, time field, 1xx codes that are
# final replies: HTTP 101 Switching Protocols ends the request, other 1xx keep it open)
_STREAM_PAIRS = {
    "ftp": ("ftp.response_to", "ftp.time", frozenset()),
    "http": ("http.request_in", "http.time", frozenset({101})),
}

# RADIUS request code -> family; response code -> family (RFC 2865, 2866, 5176)
_RADIUS_REQ = {1: 1, 4: 4, 12: 12, 40: 40, 43: 43}
_RADIUS_RSP = {2: 1, 3: 1, 11: 1, 5: 4, 13: 12, 41: 40, 42: 40, 44: 43, 45: 43}
_NS = 1e9


class _Table:
    """An insertion-ordered map whose entries expire ``timeout`` ns after they were set."""

    __slots__ = ("d", "timeout", "limit")

    def __init__(self, timeout, limit):
        self.d = OrderedDict()
        self.timeout, self.limit = timeout, limit

    def put(self, key, value, ts):
        d = self.d
        if key in d:
            del d[key]
        d[key] = (ts, value)
        if len(d) > self.limit:
            d.popitem(last=False)

    def pop(self, key, ts):
        hit = self.d.pop(key, None)
        if hit is None or ts - hit[0] > self.timeout:
            return None
        return hit

    def get(self, key, ts):
        hit = self.d.get(key)
        if hit is None or ts - hit[0] > self.timeout:
            return None
        return hit

    def expire(self, now):
        d = self.d
        limit = now - self.timeout
        while d:
            k = next(iter(d))
            if d[k][0] >= limit:
                break
            del d[k]

    def __len__(self):
        return len(self.d)


def _addr(layer, name):
    try:
        return layer.raw_field(name)
    except Exception:
        return layer.get(name)


class QuoteLinker:
    """ICMP errors to the datagram they quote: remembers recent IPv4 datagrams by (source,
    destination, IP ID) for ``window`` seconds (at most ``limit``, oldest forgotten first)
    and annotates an ICMP error with the frame of the one it quotes (``icmp.quoted_frame``),
    when the quote's ports, if it holds a TCP/UDP header, are that datagram's too.  An entry
    is one integer key and a (time, frame, ports) tuple in an ordered dict.

    Used by :class:`Pairing`, and alone by the expert engine when ``icmp.quoted_frame`` is
    the only pairing field its rules read (:meth:`process`)."""

    __slots__ = ("window_ns", "limit", "seen", "annotate", "_ex")

    def __init__(self, window: float = 10.0, limit: int = 100_000, annotate: bool = True):
        self.window_ns = int(window * _NS)
        self.limit = limit
        self.seen: OrderedDict = OrderedDict()    # (a plain dict slows down when emptied from the front)
        self.annotate = annotate
        self._ex = None

    def _key(self, ip):
        ex = self._ex
        if ex is None or ex[0] is not ip.proto:
            from expert.conversations import _extractor
            ex = self._ex = (ip.proto, _extractor(ip.proto, ("src", "dst", "id"), ("src", "dst")))
        if ex[1] is None or ip.v is None:
            return None
        src, dst, ident = ex[1](ip.v)
        return int.from_bytes(src + dst, "big") << 16 | ident

    @staticmethod
    def _ports(transport):
        if transport is None or transport.proto.name not in ("tcp", "udp"):
            return None
        buf, off = transport.buf, transport.off
        return int.from_bytes(buf[off:off + 4], "big") if len(buf) - off >= 4 else None

    def expire(self, ts):
        seen = self.seen
        limit = ts - self.window_ns
        while seen:
            if next(iter(seen.values()))[0] >= limit and len(seen) <= self.limit:
                break
            seen.popitem(last=False)

    def remember(self, ip, transport, number, ts):
        """An IPv4 datagram (``transport``: the layer it carries, or None) seen in frame ``number``."""
        key = self._key(ip)
        if key is not None:
            seen = self.seen
            seen[key] = (ts, number, self._ports(transport))
            seen.move_to_end(key)  # keep the table in time order

    def link(self, packet, quoted_ip, quoted_transport):
        """The frame an ICMP error's quoted datagram came in (annotated), or None."""
        key = self._key(quoted_ip)
        hit = self.seen.get(key) if key is not None else None
        if hit is None or packet.frame.ts_ns - hit[0] > self.window_ns:
            return None
        ports = self._ports(quoted_transport)
        if ports is not None and hit[2] is not None and ports != hit[2]:
            return None
        if self.annotate:
            packet.annotate("icmp.quoted_frame", hit[1])
        return hit[1]

    def process(self, packet):
        """The stage on its own: link an ICMP error, or remember an outer IPv4 datagram."""
        ts = packet.frame.ts_ns
        if self.seen:
            self.expire(ts)
        layers = packet.layers
        outer = None
        for i, layer in enumerate(layers):
            name = layer.proto.name
            if name == "ip" and not layer.quoted:
                outer = layer
            elif name == "icmp" and outer is not None:
                if layer.get("type") in ICMP_ERRORS:
                    self._link_quote(packet, layers[i + 1:])
                    return             # an ICMP error is not itself remembered
                break
        if outer is not None:
            nxt = next((x for x in layers if x.parent is outer), None)
            self.remember(outer, nxt, packet.number, ts)

    def _link_quote(self, packet, rest):
        q = next((x for x in rest if x.proto.name == "ip"), None)
        if q is None or q.v is None:
            return None
        t = next((x for x in rest if x.parent is q), None)
        return self.link(packet, q, t)

    def __len__(self):
        return len(self.seen)


class Pairing:
    """The pairing stage.  ``timeout``: seconds an unanswered request is remembered;
    ``limit``: entries per table; ``quote_window``: seconds an IPv4 datagram is
    remembered for ICMP errors; ``keep_pairs``: pairs kept in :attr:`pairs`; ``radius=False``
    leaves RADIUS to :class:`expert.radius_check.AccessCheck` when that stage runs too (it
    matches requests and responses itself, duplicates included: one producer per field);
    ``links``: where the links to responses go, for a second pass."""

    def __init__(self, timeout: float = 60.0, limit: int = 100_000, quote_window: float = 10.0,
                 keep_pairs: int = 100_000, annotate: bool = True, radius: bool = True,
                 links: ForwardLinks | None = None):
        t = int(timeout * _NS)
        self.dns = _Table(t, limit)
        self.icmp = _Table(t, limit)
        self.radius = _Table(t, limit)
        self.udp = _Table(t, limit)
        self.quotes = QuoteLinker(quote_window, limit, annotate)
        self.streams = _Table(t if t > 3600 * _NS else int(3600 * _NS), limit)  # TCP: FTP/HTTP queues
        self.pairs: deque = deque(maxlen=keep_pairs)
        self.counts: dict[str, int] = {}
        self.pair_radius = radius
        self.annotate = annotate
        self.links = links
        self._sweep = None

    def _pair(self, packet, kind, frame_field, time_field, req, ts, scale=1.0):
        req_ts, req_frame = req
        dt = (ts - req_ts) / _NS
        if self.annotate:
            packet.annotate(frame_field, req_frame)
            packet.annotate(time_field, dt * scale)
        if self.links is not None:
            self.links.add(req_frame, _RESPONSE_IN[kind], packet.number)
        self.pairs.append((kind, req_frame, packet.number, dt))
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def process(self, packet):
        ts = packet.frame.ts_ns
        if self._sweep is None or ts >= self._sweep:
            self._sweep = ts + 1_000_000_000
            for t in (self.dns, self.icmp, self.radius, self.udp, self.quotes, self.streams):
                t.expire(ts)
        net = None
        layers = packet.layers
        for i, layer in enumerate(layers):
            name = layer.proto.name
            if layer.quoted:
                break
            if name == "ip" or name == "ipv6":
                net = layer
            elif net is None:
                continue
            elif name == "icmp" or name == "icmpv6":
                self._icmp(packet, layer, net, layers[i + 1:], ts)
                return
            elif name == "udp":
                self._udp(packet, layer, net, layers[i + 1:], ts)
                break
            elif name == "tcp":
                self._tcp(packet, layer, net, layers[i + 1:], ts)
                break
        if net is not None and net.proto.name == "ip" and net.v is not None:
            self._remember(packet, net, ts)

    # -- ICMP ------------------------------------------------------------------------
    def _remember(self, packet, net, ts):
        self.quotes.remember(net, next((x for x in packet.layers if x.parent is net), None), packet.number, ts)

    def _icmp(self, packet, layer, net, rest, ts):
        kind = layer.proto.name
        request, reply, ident, seq = _ECHO[kind]
        typ = layer.get("type")
        src, dst = _addr(net, "src"), _addr(net, "dst")
        if typ == request:
            self.icmp.put((kind, src, dst, layer.get(ident), layer.get(seq)), packet.number, ts)
            links = self.links
            if links is not None and links.complete and self.annotate \
                    and not links.has(packet.number, _RESPONSE_IN[kind]):
                packet.annotate(f"{kind}.no_resp", True)
        elif typ == reply:
            hit = self.icmp.pop((kind, dst, src, layer.get(ident), layer.get(seq)), ts)
            if hit is not None:
                self._pair(packet, kind, f"{kind}.resp_to", f"{kind}.resptime", hit, ts, 1000.0)
        elif kind == "icmp" and typ in ICMP_ERRORS:
            if self.quotes._link_quote(packet, rest) is not None:
                self.counts["icmp_error"] = self.counts.get("icmp_error", 0) + 1
            return
        # an ICMP message of its own is remembered too (it may be quoted back)
        if net.proto.name == "ip" and net.v is not None:
            self._remember(packet, net, ts)

    # -- UDP -------------------------------------------------------------------------
    def _udp(self, packet, layer, net, rest, ts):
        if layer.v is None:
            return
        src, dst = _addr(net, "src"), _addr(net, "dst")
        sp, dp = layer.get("srcport"), layer.get("dstport")
        app = rest[0] if rest and rest[0].parent is layer else None
        aname = app.proto.name if app is not None else None
        if aname == "dns" and app.status != "malformed":
            qid = app.get("id")
            if app.get("flags.response"):
                hit = self.dns.pop((dst, dp, src, sp, qid), ts)
                if hit is not None:
                    self._pair(packet, "dns", "dns.response_to", "dns.time", hit, ts)
            else:
                self.dns.put((src, sp, dst, dp, qid), packet.number, ts)
            return
        if aname == "radius" and app.status != "malformed":
            if not self.pair_radius:
                return
            code, rid = int(app.get("code")), app.get("id")
            fam = _RADIUS_REQ.get(code)
            if fam is not None:
                self.radius.put((src, sp, dst, dp, rid, fam), packet.number, ts)
                return
            fam = _RADIUS_RSP.get(code)
            if fam is not None:
                hit = self.radius.pop((dst, dp, src, sp, rid, fam), ts)
                if hit is not None:
                    self._pair(packet, "radius", "radius.reqframe", "radius.time", hit, ts)
            return
        # generic request / next reply
        if (src, sp) < (dst, dp):
            key, d = (src, sp, dst, dp), 0
        else:
            key, d = (dst, dp, src, sp), 1
        hit = self.udp.get(key, ts)
        if hit is not None and hit[1][0] != d:
            self._pair(packet, "udp", "udp.response_to", "udp.time", (hit[0], hit[1][1]), ts)
        self.udp.put(key, (d, packet.number), ts)

    # -- TCP: FTP and HTTP -----------------------------------------------------------------
    def _tcp(self, packet, layer, net, rest, ts):
        app = rest[0] if rest and rest[0].parent is layer else None
        if app is None or layer.v is None:
            return
        aname = app.proto.name
        spec = _STREAM_PAIRS.get(aname)
        if spec is None:
            return
        src, dst = _addr(net, "src"), _addr(net, "dst")
        sp, dp = layer.get("srcport"), layer.get("dstport")
        if app.get("request"):
            q = self._queue((aname, src, sp, dst, dp), ts, True)
            q.append((ts, packet.number))
        elif app.get("response"):
            q = self._queue((aname, dst, dp, src, sp), ts, False)
            if q:
                to_field, time_field, final_1xx = spec
                code = app.get("response.code")
                if code is not None and 100 <= code < 200 and code not in final_1xx:
                    # a preliminary reply: the request stays open for its final one
                    self._pair(packet, aname, to_field, time_field, q[0], ts)
                else:
                    self._pair(packet, aname, to_field, time_field, q.popleft(), ts)

    def _queue(self, key, ts, create):
        hit = self.streams.get(key, ts)
        if hit is None:
            q = deque(maxlen=64)
            if create:
                self.streams.put(key, q, ts)
            return q
        q = hit[1]
        self.streams.put(key, q, ts)        # refresh its expiry
        return q
