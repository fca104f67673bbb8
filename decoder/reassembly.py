"""IPv4 fragment reassembly (RFC 791 §3.2, RFC 815), as Wireshark's ``ip.defragment``.

:class:`Defragmenter` wraps a :class:`decoder.packet.Decoder`.  A fragment shows its IPv4
header and its octets as data (Info "Fragmented IP protocol"), also the first one, whose
transport header alone would be a misleading half.  The fragment that completes a
datagram carries the layers decoded from the whole datagram after its IPv4 header,
with Wireshark's fields:

=========================  ==============================================================
``ip.fragment``            the frames that carried the datagram, by offset
``ip.fragment.count``      how many
``ip.reassembled.length``  the datagram's payload octets
``ip.reassembled_in``      on the other fragments: the frame that completed the datagram
                           (a link to a later frame: with ``protospec decode -2`` only)
=========================  ==============================================================

A datagram is keyed by source, destination, identification and protocol.  Memory is
bounded: a datagram still incomplete ``timeout`` capture seconds after its first
fragment is dropped, as is the oldest beyond ``limit`` and one of more than
:data:`MAX_PIECES` fragments; a fragment the capture cut short is shown but not kept.
"""
from __future__ import annotations

from collections import OrderedDict

__all__ = ["Defragmenter", "REASSEMBLY_FIELDS"]

#: fields the reassembly annotates, for the filter language
REASSEMBLY_FIELDS = {"ip.fragment": int, "ip.fragment.count": int, "ip.reassembled.length": int,
                     "ip.reassembled_in": int}


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


class Defragmenter:
    """A decoder (``decode(frame, number)``) that reassembles IPv4 datagrams; ``links``:
    :class:`expert.pairing.ForwardLinks` for ``ip.reassembled_in`` (two passes)."""

    def __init__(self, decoder, timeout: float = 60.0, limit: int = 10_000, links=None):
        self.inner = decoder
        self.registry, self.linktypes = decoder.registry, decoder.linktypes
        self.timeout_ns = int(timeout * 1e9)
        self.limit = limit
        self.links = links
        self.pending: OrderedDict = OrderedDict()
        self.children = decoder.registry.tables.get("ip.proto", {})
        ip = decoder.registry.protocols.get("ip")
        self._ip = ip
        self._mf = ip.getters["flags.mf"] if ip is not None else None
        self._off = ip.getters["frag_offset"] if ip is not None else None

    def is_fragment(self, proto, v) -> bool:
        """Whether a decoded header (``proto``, its prefix tuple ``v``) is an IPv4 fragment
        (for decoders that read headers themselves, such as ``-T fields``' fast path)."""
        return proto is self._ip and bool(self._mf(v) or self._off(v))

    def decode(self, frame, number=0):
        pkt = self.inner.decode(frame, number)
        for i, layer in enumerate(pkt.layers):
            if layer.quoted:
                break
            if layer.proto is self._ip and layer.v is not None and self.is_fragment(layer.proto, layer.v):
                self._fragment(pkt, i, layer)
                break
        return pkt

    def _fragment(self, pkt, i, ip):
        del pkt.layers[i + 1:]                  # the payload waits for the whole datagram
        start = ip.off + ip.hlen
        pkt.data_off, pkt.data_end = start, ip.end
        if ip.cut or ip.status != "ok":
            return
        ts = pkt.frame.ts_ns
        self._expire(ts)
        g = ip.get
        key = (ip.raw_field("src"), ip.raw_field("dst"), g("id"), int(g("proto")))
        dg = self.pending.get(key)
        if dg is None:
            dg = self.pending[key] = _Datagram(ts)
            if len(self.pending) > self.limit:
                self.pending.popitem(last=False)
        if len(dg.pieces) >= MAX_PIECES:        # no real datagram has that many: give up on it
            del self.pending[key]
            return
        offset = g("frag_offset") * 8
        dg.pieces.append((offset, bytes(ip.buf[start:ip.end]), pkt.number))
        if not g("flags.mf"):
            dg.total = offset + ip.end - start
        if not dg.complete():
            return
        del self.pending[key]
        frames = dg.frames()
        for n in frames:
            pkt.annotate("ip.fragment", n)
            if self.links is not None and n != pkt.number:
                self.links.add(n, "ip.reassembled_in", pkt.number)
        pkt.annotate("ip.fragment.count", len(frames))
        pkt.annotate("ip.reassembled.length", dg.total)
        child = self.children.get(key[3])
        if child is None:
            return
        data = dg.payload()
        whole = self.inner.decode_from(child, data, pkt.number)
        for layer in whole.layers:
            if layer.parent is None:
                layer.parent = ip
        pkt.layers.extend(whole.layers)
        pkt.data_buf = data
        pkt.data_off, pkt.data_end = whole.data_off, whole.data_end
        pkt.trailer_off = ip.end

    def _expire(self, ts):
        pending = self.pending
        while pending:
            key = next(iter(pending))
            if ts - pending[key].first_ns <= self.timeout_ns:
                break
            del pending[key]
