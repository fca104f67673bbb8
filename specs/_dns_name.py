"""Domain names on the wire (RFC 1035 §3.1, §4.1.4) and record data bounded by its length.

:class:`DnsName` reads a name: length-prefixed labels ending with the root label, or with
a compression pointer (two octets, top bits ``11``) to the rest of the name elsewhere in
the message.  Pointers are followed within the message; a pointer loop, a pointer past the
end of the octets available, a label type other than a plain label (``01``/``10`` top
bits, RFC 6891 §5) or a name longer than 255 octets (RFC 1035 §3.1) is malformed.

The value is a :class:`DomainName`, the text as Wireshark prints it (``www.example.com``,
``<Root>`` for the root; octets outside printable ASCII escaped as ``\\ooo``, 0x80 and up as
U+FFFD), which also keeps ``raw``, the name's octets as they stand at its place in the
message (labels, and the pointer if any).  Building writes ``raw`` back, so a parsed
message rebuilds octet for octet, compression included; a plain ``str`` (a name given by
the caller, or edited) is written uncompressed.  When a kept pointer no longer leads to the
same name in the message being built (an earlier name was changed), the name is written
uncompressed too.

Pointers are offsets from the start of the message: ``_params._start`` in the generated
decoders (the layer's offset in the frame), the start of the stream for construct.
"""
from __future__ import annotations

import io

from construct import Construct, Container, ExplicitError, FixedSized, SizeofError
from construct.core import stream_read, stream_tell, stream_write

from decoder.fastpath import Malformed, Truncated, compile_node, evaluate

__all__ = ["DomainName", "DnsName", "RData", "read_name", "encode_name", "name_text"]

MAX_NAME = 255          # RFC 1035 §3.1: octets of a name on the wire, labels and lengths
ROOT = "<Root>"

_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


class DomainName(str):
    """A domain name as Wireshark prints it; ``raw`` holds its octets as found (None for a
    name made by hand), ``labels`` its labels' octets."""

    raw: bytes | None = None
    labels: tuple | None = None

    def __new__(cls, text: str, raw: bytes | None = None, labels=None):
        self = super().__new__(cls, text)
        self.raw = raw
        self.labels = None if labels is None else tuple(labels)
        return self

    def __reduce__(self):
        return DomainName, (str(self), self.raw, self.labels)

    def octets(self) -> int:
        """Length of the name as dotted octets, before escaping (Wireshark's name length;
        6, the length of ``<Root>``, for the root)."""
        if self.labels is None:
            return len(self)
        return sum(len(label) + 1 for label in self.labels) - 1 if self.labels else len(ROOT)

    def label_count(self) -> int:
        """Number of labels (Wireshark counts 1 for the root)."""
        if self.labels is None:
            return 1 if self == ROOT else self.count(".") + 1
        return max(len(self.labels), 1)


def label_text(label: bytes) -> str:
    if label.isascii():
        text = label.decode("ascii")
        if text.isprintable():
            return text
    out = []
    for b in label:
        if 0x20 <= b < 0x7F:
            out.append(chr(b))
        elif b >= 0x80:
            out.append("\ufffd")
        else:
            out.append(_ESCAPES.get(b) or "\\%03o" % b)
    return "".join(out)


def name_text(labels) -> str:
    return ".".join(label_text(label) for label in labels) if labels else ROOT


def read_name(data, pos: int, start: int, end: int):
    """``(DomainName, position after it)`` for the name at ``pos`` of ``data``; ``start``
    is the message's offset in ``data`` (pointers count from it), ``end`` the end of the
    octets the name and its pointers may use.  Raises Truncated when the octets end
    inside the name, Malformed for a bad pointer, label type or length."""
    labels = []
    size = 0                 # octets of the uncompressed name: labels, their lengths, the root
    after = None
    seen = set()
    p = pos
    while True:
        if p >= end:
            raise Truncated
        n = data[p]
        if n == 0:
            if after is None:
                after = p + 1
            break
        kind = n & 0xC0
        if kind == 0xC0:
            if p + 2 > end:
                raise Truncated
            offset = ((n & 0x3F) << 8) | data[p + 1]
            if after is None:
                after = p + 2
            target = start + offset
            if target >= end:
                raise Malformed(f"name compression pointer to offset {offset} points past the end of the data")
            if target in seen:
                raise Malformed(f"name compression pointer to offset {offset} loops")
            seen.add(target)
            p = target
            continue
        if kind:
            raise Malformed(f"label type {kind >> 6:#04b} at offset {p - start} is not supported")
        if p + 1 + n > end:
            raise Truncated
        labels.append(bytes(data[p + 1:p + 1 + n]))
        size += n + 1
        if size + 1 > MAX_NAME:
            raise Malformed(f"name longer than {MAX_NAME} octets")
        p += 1 + n
    return DomainName(name_text(labels), bytes(data[pos:after]), labels), after


def encode_name(text: str) -> bytes:
    """The uncompressed wire form of a name given as text (``www.example.com``, trailing
    dot optional; ``<Root>``, ``.`` or the empty string for the root)."""
    text = str(text)
    if text in (ROOT, "", "."):
        return b"\0"
    out = bytearray()
    for label in text.rstrip(".").split("."):
        raw = label.encode("utf-8")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label {label!r} in {text!r}: 1 to 63 octets")
        out += bytes([len(raw)]) + raw
    out += b"\0"
    if len(out) > MAX_NAME:
        raise ValueError(f"name {text!r} is longer than {MAX_NAME} octets")
    return bytes(out)


def _start(ctx) -> int:
    while ctx is not None:
        params = ctx.get("_params")
        if params is not None:
            return params.get("_start", 0)
        ctx = ctx.get("_")
    return 0


def _stream_data(stream) -> bytes:
    getvalue = getattr(stream, "getvalue", None)
    if getvalue is not None:
        return getvalue()
    pos = stream.tell()
    stream.seek(0)
    data = stream.read()
    stream.seek(pos)
    return data


def _built_so_far(stream) -> bytes | None:
    """The octets built into ``stream`` up to its position; None when it cannot tell."""
    try:
        return _stream_data(stream)[:stream.tell()]
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


def _no_data(obj) -> bool:
    """Whether record data being built holds no fields (zero octets, whatever the type)."""
    return not obj or all(k.startswith("_") or v is None for k, v in obj.items())


class DnsName(Construct):
    """A domain name, compressed or not (RFC 1035 §4.1.4)."""

    def fastparse(self, buf, off, end, ctx, spans, depth):
        return read_name(buf, off, _start(ctx), end)

    def _parse(self, stream, context, path):
        pos = stream_tell(stream, path)
        data = _stream_data(stream)
        try:
            name, after = read_name(data, pos, 0, len(data))
        except Truncated:
            raise ExplicitError("domain name runs past the end of the data", path=path) from None
        except Malformed as e:
            raise ExplicitError(str(e), path=path) from None
        stream.seek(after)
        return name

    def _build(self, obj, stream, context, path):
        raw = getattr(obj, "raw", None)
        if raw is not None and not self._still_valid(obj, raw, stream):
            raw = None
        try:
            data = raw if raw is not None else encode_name(obj)
        except ValueError as e:
            raise ExplicitError(str(e), path=path) from None
        stream_write(stream, data, len(data), path)
        return obj

    @staticmethod
    def _still_valid(name, raw, stream) -> bool:
        """Whether the kept octets still give this name where they are being written (a
        pointer backwards into octets already built must lead to the same labels)."""
        if len(raw) < 2 or raw[-2] & 0xC0 != 0xC0:
            return True                          # no pointer: the octets are the name
        built = _built_so_far(stream)
        if built is None:
            return True
        offset = ((raw[-2] & 0x3F) << 8) | raw[-1]
        if offset >= len(built):
            return True                          # a forward pointer: cannot be checked yet
        data = built + raw
        try:
            text, _ = read_name(data, len(built), 0, len(data))
        except (Truncated, Malformed):
            return False
        return text == name

    def _sizeof(self, context, path):
        raise SizeofError("a domain name varies in size", path=path)


class RData(FixedSized):
    """Record data of ``length`` octets laid out by ``subcon`` (a Switch on the type), which
    must fill it exactly: a value that ends early or runs over is malformed.  Zero octets
    are no data at all, whatever the type (RFC 2136 §2.5 deletions, empty answers).  Names
    inside it may point anywhere before the end of the data."""

    def __init__(self, length, subcon):
        super().__init__(length, subcon)
        self._fast = None

    def fastparse(self, buf, off, end, ctx, spans, depth):
        n = evaluate(self.length, ctx)
        if off + n > end:
            raise Truncated
        if n == 0:
            return Container(), off
        if self._fast is None:
            self._fast = compile_node(self.subcon)
        try:
            value, new = self._fast(buf, off, off + n, ctx, spans, depth)
        except Truncated:
            raise Malformed(f"record data of {n} octets ends inside a field") from None
        if new != off + n:
            raise Malformed(f"record data of {n} octets holds {new - off} octets of fields")
        return value, off + n

    def _parse(self, stream, context, path):
        n = evaluate(self.length, context)
        pos = stream_tell(stream, path)
        stream_read(stream, n, path)
        if n == 0:
            return Container()
        # parse in a stream of the message up to the end of the data, so that names can
        # follow pointers backwards and nothing reads past the data
        sub = io.BytesIO(_stream_data(stream)[:pos + n])
        sub.seek(pos)
        value = self.subcon._parsereport(sub, context, path)
        if sub.tell() != pos + n:
            raise ExplicitError(f"record data of {n} octets holds {sub.tell() - pos} octets of fields", path=path)
        return value

    def _build(self, obj, stream, context, path):
        if _no_data(obj):
            return Container()
        # build at the current position of a copy of the message so far (names check
        # their pointers against it), then append
        sub = io.BytesIO()
        built = _built_so_far(stream)
        if built is not None:
            sub.write(built)
        start = sub.tell()
        self.subcon._build(obj, sub, context, path)
        data = sub.getvalue()[start:]
        n = evaluate(self.length, context)
        if n is not None and n != len(data):
            raise ExplicitError(f"record data length {n} does not match the {len(data)} octets built", path=path)
        stream_write(stream, data, len(data), path)
        return obj

    def built_size(self, context) -> int:
        """Octets the data of the record being built takes (its ``resp.len``): built after
        the message so far and the two length octets, as it will be."""
        obj = context.get("rdata")
        if _no_data(obj):
            return 0
        sub = io.BytesIO()
        stream = context.get("_io")
        built = None if stream is None else _built_so_far(stream)
        if built is not None:
            sub.write(built + b"\0\0")
        start = sub.tell()
        self.subcon._build(obj, sub, context, "(record data size)")
        return sub.tell() - start
