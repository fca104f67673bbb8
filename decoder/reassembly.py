"""IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 815; RFC 8200 §4.5), as
Wireshark's ``ip.defragment`` and ``ipv6.defragment``.

:class:`Defragmenter` wraps a :class:`decoder.packet.Decoder`.  A fragment shows its
headers (IPv4, or IPv6 and its Fragment header) and its octets as data, also the first
fragment, whose transport header alone would be a misleading half.  The fragment that
completes a datagram carries the layers decoded from the whole datagram after those
headers, with Wireshark's fields (``ip.*``, or the same under ``ipv6.*``):

=========================  ==============================================================
``ip.fragment``            the frames that carried the datagram, by offset
``ip.fragment.count``      how many
``ip.reassembled.length``  the datagram's payload octets
``ip.reassembled_in``      on the other fragments: the frame that completed the datagram
                           (a link to a later frame: with ``protospec decode -2`` only)
=========================  ==============================================================

A datagram is keyed by source, destination, identification (and protocol, for IPv4).
Memory is bounded: a datagram still incomplete ``timeout`` capture seconds after its first
fragment is dropped, as is the oldest beyond ``limit`` and one of more than
:data:`MAX_PIECES` fragments; a fragment the capture cut short is shown but not kept.
"""
from __future__ import annotations

from collections import OrderedDict

from decoder.checksum import network_layer

__all__ = ["Defragmenter", "REASSEMBLY_FIELDS", "MAX_PIECES"]

#: fields the reassembly annotates, for the filter language
REASSEMBLY_FIELDS = {f"{ns}.{name}": int for ns in ("ip", "ipv6")
                     for name in ("fragment", "fragment.count", "reassembled.length", "reassembled_in")}

#: fragments kept per datagram (a 65,535-octet datagram in 8-octet pieces would be 8,192)
MAX_PIECES = 1024


class _Datagram:
    __slots__ = ("pieces", "total", "first_ns")

    def __init__(self, ts):
        self.pieces: list[tuple[int, bytes, int]] = []     # (octet offset, octets, frame)
        self.total = None                                  # payload length, once the last arrived
        self.first_ns = ts

    def complete(self) -> bool:
        if self.total is None:
            return False
        reach = 0
        for off, octets, _ in sorted(self.pieces):
            if off > reach:
                return False
            reach = max(reach, off + len(octets))
        return reach >= self.total

    def payload(self) -> bytes:
        data = bytearray(self.total)
        for off, octets, _ in sorted(self.pieces):
            piece = octets[:max(0, self.total - off)]
            data[off:off + len(piece)] = piece
        return bytes(data)

    def frames(self) -> list[int]:
        """The frames that carried it, by offset (a fragment sent twice: both copies)."""
        return [frame for _, _, frame in sorted(self.pieces, key=lambda p: (p[0], p[2]))]


class _Kind:
    """What fragments one protocol: its header, where the fields say "more" and the
    offset (8-octet units), and the field namespace of the results."""

    __slots__ = ("ns", "more", "offset", "next_field", "fragment")

    def __init__(self, proto, ns, more, offset, next_field):
        self.ns, self.next_field = ns, next_field
        self.more, self.offset = proto.getters[more], proto.getters[offset]
        #: one generated test of both fields over the prefix tuple: this runs for every packet
        self.fragment = eval(f"lambda v: bool(({proto.prefix.source(more)}) or ({proto.prefix.source(offset)}))")

    def key(self, layer):
        if self.ns == "ip":
            return ("ip", layer.raw_field("src"), layer.raw_field("dst"), layer.get("id"), int(layer.get("proto")))
        net = network_layer(layer)
        return ("ipv6", net.raw_field("src"), net.raw_field("dst"), layer.get("ident"))


class Defragmenter:
    """A decoder (``decode(frame, number)``) that reassembles IPv4 and IPv6 datagrams;
    ``links``: :class:`expert.pairing.ForwardLinks` for ``*.reassembled_in`` (two passes)."""

    def __init__(self, decoder, timeout: float = 60.0, limit: int = 10_000, links=None):
        self.inner = decoder
        self.registry, self.linktypes = decoder.registry, decoder.linktypes
        self.timeout_ns = int(timeout * 1e9)
        self.limit = limit
        self.links = links
        self.pending: OrderedDict = OrderedDict()
        self.children = decoder.registry.tables.get("ip.proto", {})
        protos = decoder.registry.protocols
        self.kinds: dict[str, _Kind] = {}     # protocol name -> how it fragments
        for name, ns, more, offset, nxt in (("ip", "ip", "flags.mf", "frag_offset", "proto"),
                                             ("ipv6.fraghdr", "ipv6", "more", "offset", "nxt")):
            if name in protos:
                self.kinds[name] = _Kind(protos[name], ns, more, offset, nxt)

    def is_fragment(self, proto, v) -> bool:
        """Whether a decoded header (``proto``, its prefix tuple ``v``) is a fragment
        (for decoders that read headers themselves, such as ``-T fields``' fast path)."""
        kind = self.kinds.get(proto.name)
        return kind is not None and kind.fragment(v)

    def decode(self, frame, number=0):
        pkt = self.inner.decode(frame, number)
        kinds = self.kinds
        for layer in pkt.layers:                # runs for every packet: kept lean
            kind = kinds.get(layer.proto.name)
            if kind is None:
                continue
            if layer.quoted:
                break
            v = layer.v
            if v is not None and kind.fragment(v):
                self._fragment(pkt, pkt.layers.index(layer), layer, kind)
                break
        return pkt

    def _fragment(self, pkt, i, hdr, kind):
        del pkt.layers[i + 1:]                  # the payload waits for the whole datagram
        start = hdr.off + hdr.hlen
        pkt.data_off, pkt.data_end = start, hdr.end
        if hdr.cut or hdr.status != "ok" or (kind.ns == "ipv6" and network_layer(hdr) is None):
            return
        ts = pkt.frame.ts_ns
        self._expire(ts)
        key = kind.key(hdr)
        dg = self.pending.get(key)
        if dg is None:
            dg = self.pending[key] = _Datagram(ts)
            if len(self.pending) > self.limit:
                self.pending.popitem(last=False)
        if len(dg.pieces) >= MAX_PIECES:        # no real datagram has that many: give up on it
            del self.pending[key]
            return
        offset = kind.offset(hdr.v) * 8
        dg.pieces.append((offset, bytes(hdr.buf[start:hdr.end]), pkt.number))
        if not kind.more(hdr.v):
            dg.total = offset + hdr.end - start
        if not dg.complete():
            return
        del self.pending[key]
        ns = kind.ns
        frames = dg.frames()
        for n in frames:
            pkt.annotate(f"{ns}.fragment", n)
            if self.links is not None and n != pkt.number:
                self.links.add(n, f"{ns}.reassembled_in", pkt.number)
        pkt.annotate(f"{ns}.fragment.count", len(frames))
        pkt.annotate(f"{ns}.reassembled.length", dg.total)
        child = self.children.get(int(hdr.get(kind.next_field)))
        if child is None:
            return
        data = dg.payload()
        whole = self.inner.decode_from(child, data, pkt.number)
        for layer in whole.layers:
            if layer.parent is None:
                layer.parent = hdr
        pkt.layers.extend(whole.layers)
        pkt.data_buf = data
        pkt.data_off, pkt.data_end = whole.data_off, whole.data_end
        pkt.trailer_off = hdr.end

    def _expire(self, ts):
        pending = self.pending
        while pending:
            key = next(iter(pending))
            if ts - pending[key].first_ns <= self.timeout_ns:
                break
            del pending[key]
