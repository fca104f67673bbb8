"""Shared field types for specs: bit fields, addresses, computed values.

Every spec builds its layout from construct primitives plus these few types, so
that :mod:`decoder.fastpath` can turn any layout into fast decoders (it knows each
type here by its ``fast`` attributes) and the docs generator can describe it.
"""
from __future__ import annotations

import ipaddress

from construct import Adapter, Bytes, Container, Default, GreedyBytes, Int8ub, evaluate, this
from construct.expr import FuncPath

__all__ = ["BitFields", "Bit", "Named", "MacAddress", "IPv4Address", "IPv6Address", "Auto", "Text", "counted_text"]


class Bit:
    """One named bit field inside :class:`BitFields`: a Wireshark-style mask.

    ``enum`` names the values (an IntEnum class); ``default`` is used on build when the
    caller leaves the field out or sets it to None (a constant or a ``this`` expression);
    ``scale`` multiplies the raw bits (IPv4 IHL counts 32-bit words, ``ip.hdr_len`` is in
    octets as in Wireshark).
    """

    __slots__ = ("name", "mask", "doc", "enum", "default", "shift", "width", "scale")

    def __init__(self, name: str, mask: int, doc: str = "", enum=None, default=0, scale=1):
        if not mask:
            raise ValueError(f"bit field {name!r}: empty mask")
        self.name, self.mask, self.doc, self.enum, self.default = name, mask, doc, enum, default
        self.scale = scale
        self.shift = (mask & -mask).bit_length() - 1
        self.width = (mask >> self.shift).bit_length()

    def __repr__(self):
        return f"Bit({self.name!r}, {self.mask:#x})"


class BitFields(Adapter):
    """An unsigned integer split into named fields by masks (like Wireshark's bitmask hf).

    Masks may overlap (``flags`` 0xe000 and ``flags.df`` 0x4000): on build the wider
    fields are applied first and narrower ones override them, so changing one flag wins
    over a stale aggregate.  Parsing yields a Container of every field.
    """

    def __init__(self, subcon, *bits: Bit):
        super().__init__(subcon)
        self.bits = bits
        self.flagbuildnone = True
        self._build_order = sorted(bits, key=lambda b: -b.width)

    def _decode(self, obj, context, path):
        return Container((b.name, ((obj & b.mask) >> b.shift) * b.scale) for b in self.bits)

    def _encode(self, obj, context, path):
        obj = obj or {}
        word = 0
        # defaults of the fields left out first, then the given values (wide before
        # narrow), so a default never overrides a given value (``flags=0x12`` alone)
        given = [(b, obj.get(b.name)) for b in self._build_order]
        for b, value in [(b, evaluate(b.default, context)) for b, v in given if v is None] + \
                        [(b, v) for b, v in given if v is not None]:
            word = (word & ~b.mask) | (((int(value) // b.scale) << b.shift) & b.mask)
        return word

    def _build(self, obj, stream, context, path):
        word = self._encode(obj, context, path)
        self.subcon._build(word, stream, context, path)
        return self._decode(word, context, path)


class Named(Adapter):
    """An integer whose values have names: parses to the ``IntEnum`` member, or the bare
    int for values the enum does not know.  Members are ints, so ``Switch`` cases keyed
    by numbers work (construct's own ``Enum`` yields strings that miss int keys)."""

    def __init__(self, subcon, enum):
        super().__init__(subcon)
        self.enum = enum
        self.names = {int(m): m for m in enum}

    def _decode(self, obj, context, path):
        return self.names.get(obj, obj)

    def _encode(self, obj, context, path):
        return self.enum[obj] if isinstance(obj, str) else int(obj)


class _Address(Adapter):
    """Fixed-size address shown in its usual text form; ``fast`` is the decode function."""

    size = 0

    def __init__(self):
        super().__init__(Bytes(self.size))

    def _decode(self, obj, context, path):
        return self.fast(obj)

    def _encode(self, obj, context, path):
        return self.pack(obj)


def mac_text(raw: bytes) -> str:
    return raw.hex(":")


class MacAddress(_Address):
    """IEEE 802 MAC-48 address, ``00:e0:fc:12:34:56``."""

    size = 6
    fast = staticmethod(mac_text)

    @staticmethod
    def pack(text):
        if isinstance(text, bytes):
            return text
        raw = bytes.fromhex(text.replace(":", "").replace("-", "").replace(".", ""))
        if len(raw) != 6:
            raise ValueError(f"not a MAC address: {text!r}")
        return raw


def ipv4_text(raw: bytes) -> str:
    return "%d.%d.%d.%d" % (raw[0], raw[1], raw[2], raw[3])


class IPv4Address(_Address):
    """IPv4 address in dotted-quad form (RFC 791)."""

    size = 4
    fast = staticmethod(ipv4_text)

    @staticmethod
    def pack(text):
        return text if isinstance(text, bytes) else ipaddress.IPv4Address(text).packed


def ipv6_text(raw: bytes) -> str:
    return str(ipaddress.IPv6Address(raw))


class IPv6Address(_Address):
    """IPv6 address in RFC 5952 text form."""

    size = 16
    fast = staticmethod(ipv6_text)

    @staticmethod
    def pack(text):
        return text if isinstance(text, bytes) else ipaddress.IPv6Address(text).packed


class RawText(str):
    """Text from octets that are not valid UTF-8: shown with U+FFFD for the bad octets (as
    Wireshark), while ``raw`` keeps the octets so that the field builds back exactly."""

    def __new__(cls, raw: bytes):
        self = super().__new__(cls, raw.decode("utf-8", "replace"))
        self.raw = raw
        return self


def text_of(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return RawText(raw)


class Text(Adapter):
    """Octets that carry text (names, messages, RADIUS ``string`` attributes), as a ``str``.

    ``length`` is a number or ``this`` expression; None takes the rest of the enclosing
    (``FixedSized``/option) space.  Invalid UTF-8 gives a :class:`RawText`.
    """

    def __init__(self, length=None):
        super().__init__(GreedyBytes if length is None else Bytes(length))
        self.length = length

    def _decode(self, obj, context, path):
        return text_of(obj)

    def _encode(self, obj, context, path):
        if isinstance(obj, (bytes, bytearray)):
            return bytes(obj)
        raw = getattr(obj, "raw", None)
        return raw if raw is not None else obj.encode("utf-8")

    def fastparse(self, buf, off, end, ctx, spans, depth):
        n = end - off if self.length is None else evaluate(self.length, ctx)
        if n < 0 or off + n > end:
            from decoder.fastpath import Malformed, Truncated
            raise Malformed(f"negative length {n}") if n < 0 else Truncated
        return text_of(bytes(buf[off:off + n])), off + n


def Auto(subcon, value):
    """A field computed on build (length, header length, checksum) unless the caller sets it.

    ``value`` is a constant or ``this`` expression; ``Default`` already has exactly these
    semantics, the name says why the field is there.
    """
    return Default(subcon, value)


def _text_octets(text) -> int:
    return len(Text()._encode(text or "", None, None))


def counted_text(name: str, length_name: str, length_doc: str, doc: str) -> tuple:
    """A length octet, then that many octets of text (PAP's Peer-ID, DNS's
    <character-string>): two fields, the length computed on build from the text.
    Splice them into a Struct: ``Struct(*counted_text("peer_id", "peer_id.length", ...))``."""
    return (length_name / Auto(Int8ub, FuncPath(_text_octets)(this[name])) * length_doc,
            name / Text(this[length_name]) * doc)
