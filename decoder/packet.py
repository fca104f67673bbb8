"""Decoded packets: a frame split into layers, fields decoded on access."""
from __future__ import annotations

from construct import Container

from decoder.checksum import UNVERIFIED
from decoder.fastpath import Decline, Malformed, Truncated

OK, TRUNCATED, MALFORMED = "ok", "truncated", "malformed"


def flatten(value, out=None) -> dict[str, list]:
    """Field name -> every occurrence, from a parsed (nested) Container."""
    if out is None:
        out = {}
    for k, v in value.items():
        if k.startswith("_"):
            continue
        if isinstance(v, dict):
            flatten(v, out)
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, dict):
                    flatten(item, out)
                else:
                    out.setdefault(k, []).append(item)
        else:
            out.setdefault(k, []).append(v)
    return out


class Layer:
    """One protocol's header in a frame.

    ``off``/``hlen`` locate the header, ``end`` the end of its payload; ``status`` is
    ``ok``, ``truncated`` (the capture ends inside it) or ``malformed`` (``error``
    says why; the octets after it stay raw).
    """

    __slots__ = ("proto", "buf", "off", "hlen", "end", "v", "status", "error", "parent",
                 "cut", "_value", "_flat", "_spans", "quoted")

    def __init__(self, proto, buf, off, hlen, end, v, parent, value=None):
        # one statement per slot: a tuple assignment would build a tuple for every layer
        self.proto = proto
        self.buf = buf
        self.off = off
        self.hlen = hlen
        self.end = end
        self.v = v
        self.parent = parent
        self.status = OK
        self.error = None
        self.cut = False
        self.quoted = False
        self._value = value
        self._flat = None
        self._spans = None

    @property
    def name(self):
        return self.proto.name

    @property
    def value(self):
        """The header as construct would parse it (a Container)."""
        if self._value is None:
            self._parse_full()
        return self._value

    @property
    def spans(self):
        """``(depth, name, offset, size, value, node)`` per field, for the detail tree."""
        if self._spans is None:
            self._parse_full(spans=True)
        return self._spans

    def _parse_full(self, spans=False):
        rec = [] if spans else None
        # bounded by the layer's end, not the header's: a Peek may look past its header
        # (raw IP reads the version nibble of a header it leaves to ip/ipv6), as in head()
        end = self.end if self.status == OK else len(self.buf)
        try:
            self._value, _ = self.proto.full(self.buf, self.off, end, rec)
        except (Truncated, Malformed) as e:
            if rec is None:         # the fields completed before the failure come from the spans
                rec = []
                try:
                    self.proto.full(self.buf, self.off, end, rec)
                except (Truncated, Malformed):
                    pass
            self._value = self._partial_value(rec)
            if self.status == OK:   # head() decoded the prefix, the rest (options) does not parse
                self.status = MALFORMED
                self.error = f"{self.proto.name}: " + (str(e) or "header runs past its end")
        if spans:
            self._spans = rec

    def _partial_value(self, rec):
        """What a truncated or malformed header still gives: the prefix fields that fit, then
        the top-level fields after the prefix that the full parser completed before it
        stopped (``rec``: its spans; the first unfilled slot is where it stopped)."""
        value = Container()
        done = []
        if rec is not None:
            done = rec[:rec.index(None)] if None in rec else list(rec)
            rec.clear()
        pre = self.proto.prefix
        v = self.v if self.v is not None else pre.partial(self.buf, self.off)
        for f in pre.fields:
            if f.index >= len(v):
                break
            value[f.name] = self.proto.getters[f.name](v)
            if rec is not None:
                rec.append((0 if f.bit is None else 1, f.name, self.off + f.offset, f.size,
                            value[f.name], f.bit or f.node))
        members, keep = 0, False
        for entry in done:
            if entry[0] == 0:
                members += 1
                keep = members > len(pre.items)
                if keep:
                    value[entry[1]] = entry[4]
            if keep and rec is not None:
                rec.append(entry)
        return value

    def flat(self) -> dict[str, list]:
        if self._flat is None:
            flat = flatten(self.value)
            self._flat = flat      # rule.status() calls get(), which must not recurse into flat()
            for rule in self.proto.checksums:
                status, expected = rule.status(self)
                flat[f"{rule.field}.status"] = [status]
                if expected is not None:
                    flat[f"{rule.field}_calculated"] = [expected]
            for virt in self.proto.virtual:
                if virt.fn is not None and virt.of is None:   # fn(layer), may use get() on it
                    vals = virt.fn(self)
                    vals = [] if vals is None else vals if isinstance(vals, list) else [vals]
                elif virt.fn is not None:
                    vals = [virt.fn(x) for x in flat.get(virt.of, ())]
                    vals = [x for x in vals if x is not None]
                else:
                    vals = [x for n in virt.either for x in flat.get(n, ())]
                if vals:
                    flat[virt.name] = vals
            self._flat = flat
        return self._flat

    def get(self, name, default=None):
        """The first value of a field (relative name: ``"src"``)."""
        g = self.proto.getters.get(name)
        if g is not None and self.v is not None:
            return g(self.v)
        vals = self.flat().get(name)
        return vals[0] if vals else default

    def get_all(self, name) -> list:
        g = self.proto.getters.get(name)
        if g is not None and self.v is not None:
            return [g(self.v)]
        return self.flat().get(name, [])

    def raw_field(self, name) -> bytes:
        return self.proto.raw_getters[name](self.v)

    def checksum_status(self) -> str:
        rule = self.proto.checksums[0] if self.proto.checksums else None
        return rule.status(self)[0] if rule else UNVERIFIED

    @property
    def header(self) -> bytes:
        return bytes(self.buf[self.off:self.off + self.hlen])

    @property
    def payload(self) -> bytes:
        return bytes(self.buf[self.off + self.hlen:self.end])

    def summary(self, notes=None) -> str:
        """The Info text; ``notes``: the packet's annotations, for a summary that reads them."""
        fn = self.proto.summary
        if fn is None:
            return self.proto.title
        try:
            return fn(self, notes) if self.proto.summary_notes else fn(self)
        except Exception as e:  # a summary must never stop decoding
            return f"{self.proto.title} [summary failed: {type(e).__name__}]"

    def __repr__(self):
        return f"<Layer {self.name} @{self.off}+{self.hlen} {self.status}>"


class Packet:
    """A decoded frame: its layers in order, plus trailing octets no layer claimed.

    ``data_off``/``data_end`` locate the undecoded octets after the last layer in
    ``data_buf`` (the frame's octets, or a reassembled datagram's); the trailer starts at
    ``trailer_off`` of the frame (``data_end`` unless reassembled)."""

    __slots__ = ("frame", "layers", "number", "data_off", "data_end", "extra", "data_buf", "trailer_off")

    def __init__(self, frame, layers, number=0, data_off=0, data_end=0):
        self.frame = frame
        self.layers = layers
        self.number = number
        self.data_off = data_off
        self.data_end = data_end
        self.extra = None
        self.data_buf = None
        self.trailer_off = None

    def annotate(self, name: str, value) -> None:
        """Attach a field computed with context beyond this frame (``tcp.stream``,
        ``tcp.analysis.retransmission``): filters, ``-T fields`` and rules see it like
        any decoded field."""
        if self.extra is None:
            self.extra = {}
        self.extra.setdefault(name, []).append(value)

    def values(self, name: str) -> list:
        """Every occurrence of a field by its full filter name, across all layers
        (``ip.src`` twice for an ICMP error quoting a datagram), plus annotations."""
        if self.extra is not None and name in self.extra:
            return self.extra[name]
        out = []
        for layer in self.layers:
            pname = layer.proto.namespace
            if name == layer.proto.name:
                out.append(True)
            elif name in layer.proto.alias_of:
                out += layer.get_all(layer.proto.alias_of[name])
            elif name.startswith(pname) and name[len(pname):len(pname) + 1] == ".":
                out += layer.get_all(name[len(pname) + 1:])
        return out

    def layer(self, name):
        for layer in self.layers:
            if layer.proto.name == name:
                return layer
        return None

    def __contains__(self, name):
        return self.layer(name) is not None

    def __getitem__(self, name):
        return self.layer(name)

    @property
    def data(self) -> bytes:
        """Octets after the last decoded layer that no spec claimed (Wireshark's ``data``)."""
        buf = self.frame.data if self.data_buf is None else self.data_buf
        return bytes(buf[self.data_off:self.data_end])

    @property
    def trailer(self) -> bytes:
        """Octets after the end the layers declared (Ethernet padding, FCS)."""
        return bytes(self.frame.data[self.data_end if self.trailer_off is None else self.trailer_off:])

    @property
    def status(self):
        for layer in self.layers:
            if layer.status != OK and not layer.quoted:
                return layer.status
        return OK

    def __repr__(self):
        return f"<Packet {self.number} {' / '.join(l.name for l in self.layers)}>"


class Decoder:
    """Turns frames into :class:`Packet` s using a registry's dispatch tables.

    ``want`` (protocol names) limits the work to what a consumer reads: a layer is
    decoded only while one of them can still follow, so conversation statistics stop at
    TCP and leave its payload as undecoded data; None decodes every layer."""

    def __init__(self, registry, want=None):
        self.registry = registry
        self.linktypes = registry.tables.get("linktype", {})
        self.useful = None if want is None else registry.leads_to(want)

    def decode(self, frame, number=0) -> Packet:
        return self._decode(frame, self.linktypes.get(frame.linktype), number)

    def decode_from(self, proto, data, number=0, orig_len=None) -> Packet:
        """Decode ``data`` as if it began with protocol ``proto`` (a name or Protocol),
        whatever link type carried it; ``orig_len`` above ``len(data)`` marks it cut short."""
        from decoder.capture import Frame
        if isinstance(proto, str):
            proto = self.registry.protocols[proto]
        data = bytes(data)
        return self._decode(Frame(data, -1, 0, len(data) if orig_len is None else orig_len), proto, number)

    def _decode(self, frame, proto, number) -> Packet:
        buf = frame.data
        end = len(buf)
        cut = frame.orig_len > end
        layers = []
        off = 0
        parent = None
        quoted = False
        useful = self.useful
        while proto is not None and (off < end or not layers):
            if useful is not None and not useful[proto.name]:
                break
            size = proto.prefix.size
            if end - off < size:
                layer = Layer(proto, buf, off, end - off, end, None, parent)
                layer.status = TRUNCATED if _short(cut, quoted, parent) else MALFORMED
                layer.error = f"{proto.name}: header needs {size} octets, {end - off} present"
                layer.quoted = quoted
                layers.append(layer)
                off = end
                break
            try:
                v, hlen, pend, child, value = proto.head(buf, off, end)
            except (Truncated, Malformed) as e:
                if isinstance(e, Decline) and layers:
                    break       # not this protocol after all: the octets stay undecoded data
                layer = Layer(proto, buf, off, end - off, end, proto.prefix.struct.unpack_from(buf, off), parent)
                layer.status = TRUNCATED if isinstance(e, Truncated) and _short(cut, quoted, parent) else MALFORMED
                layer.error = f"{proto.name}: " + (str(e) or "header runs past the captured octets")
                layer.quoted = quoted
                layers.append(layer)
                off = end
                break
            layer = Layer(proto, buf, off, hlen, pend, v, parent, value)
            if quoted:
                layer.quoted = True
            layers.append(layer)
            if hlen < size or (pend < off + hlen and pend < end):
                layer.status = MALFORMED
                layer.error = f"{proto.name}: header length {hlen} or payload end {pend - off} is impossible"
                layer.end = end
                off = end
                break
            if off + hlen > end:
                layer.status = TRUNCATED
                layer.error = f"{proto.name}: header is {hlen} octets, {end - off} present"
                layer.hlen = end - off
                off = end
                break
            if pend > end:
                layer.cut = True
                pend = end
                layer.end = end
            elif parent is not None and parent.cut and proto.payload_length is None:
                layer.cut = True           # its payload runs to its parent's, which was cut
            off += hlen
            end = pend
            parent = layer
            if child is not None and proto.quotes:
                quoted = True
            proto = child
        return Packet(frame, layers, number, off, end)


def _short(cut, quoted, parent) -> bool:
    """Whether a layer that ends early was cut short (truncated, not malformed): the
    capture cut the frame, it is a quote, or its message continues in the next segment."""
    return cut or quoted or (parent is not None and parent.cut and parent.proto.segmented)
