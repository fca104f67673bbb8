"""Type-length-value option lists: TCP/IPv4 options, IPv6 options, PPPoE tags, RADIUS attributes.

One construct, parametrised by how each protocol lays out its items, so no spec
re-implements the loop.  Parsing is strict: an item whose length overruns the list
or is shorter than its own header raises, so a bad list ends its layer as malformed
instead of looping or swallowing the rest.
"""
from __future__ import annotations

from construct import Construct, Container, ListContainer, StreamError, ExplicitError
from construct.expr import FuncPath
from construct.core import stream_write, stream_read_entire

__all__ = ["TLV"]


class TLV(Construct):
    """A list of type/length/value items filling the enclosing (``FixedSized``) space.

    :param type_field: ``(name, construct)`` of the type, e.g. ``("option_kind", Enum(Int8ub, Kind))``
    :param length_field: ``(name, construct)`` of the length
    :param values: type number -> Struct of the value (unknown types keep ``raw`` bytes)
    :param raw: field name for the bytes of an unknown type's value
    :param bare: type numbers that are a single type octet with no length (TCP NOP, EOL)
    :param end: type numbers after which the rest is padding, kept in the ``padding`` field
    :param counts_header: the length counts the type and length octets (TCP, RADIUS) or not (PPPoE, IPv6)
    :param unit: the length counts units of this many octets (ICMPv6 NDP: 8)
    """

    def __init__(self, type_field, length_field, values=None, *, raw="value", bare=(), end=(),
                 counts_header=True, unit=1, padding="padding"):
        super().__init__()
        self.type_name, self.type_con = type_field
        self.length_name, self.length_con = length_field
        self.values = dict(values or {})
        self.raw, self.bare, self.end = raw, frozenset(bare), frozenset(end)
        self.counts_header, self.unit, self.padding = counts_header, unit, padding
        self.header_size = self.type_con.sizeof() + self.length_con.sizeof()

    def value_size(self, length: int) -> int:
        """Octets of value an item with this length field carries."""
        return length * self.unit - (self.header_size if self.counts_header else 0)

    def size(self, items):
        """A ``this`` expression for the built size of ``items`` (header-length defaults)."""
        return FuncPath(self.built_size)(items)

    def built_size(self, items) -> int:
        return sum(len(self.build_item(item)) for item in items or ())

    def _parse(self, stream, context, path):
        items = ListContainer()
        data = stream_read_entire(stream, path)
        pos, size = 0, len(data)
        while pos < size:
            item, pos = self.parse_item(data, pos, size, context, path)
            items.append(item)
        return items

    def parse_item(self, data, pos, size, context, path):
        tsize = self.type_con.sizeof()
        kind = self.type_con.parse(data[pos:pos + tsize])
        item = Container({self.type_name: kind})
        pos += tsize
        if int(kind) in self.bare:
            if int(kind) in self.end:
                item[self.padding] = data[pos:size]
                pos = size
            return item, pos
        lsize = self.length_con.sizeof()
        if pos + lsize > size:
            raise StreamError(f"{self.type_name} {int(kind)}: no room for its length", path=path)
        length = self.length_con.parse(data[pos:pos + lsize])
        pos += lsize
        vsize = self.value_size(length)
        if vsize < 0:
            raise ExplicitError(f"{self.type_name} {int(kind)}: length {length} is shorter than its header", path=path)
        if pos + vsize > size:
            raise StreamError(f"{self.type_name} {int(kind)}: length {length} overruns the list", path=path)
        item[self.length_name] = length
        raw = data[pos:pos + vsize]
        layout = self.values.get(int(kind))
        if layout is None:
            item[self.raw] = raw
        else:
            value = layout.parse(raw, _length=length)
            if layout.build(value, _length=length) != raw:
                raise ExplicitError(f"{self.type_name} {int(kind)}: {vsize} value octets do not fit its layout", path=path)
            item.update((k, v) for k, v in value.items() if not k.startswith("_"))
        return item, pos + vsize

    def _build(self, obj, stream, context, path):
        for item in obj:
            data = self.build_item(item)
            stream_write(stream, data, len(data), path)
        return obj

    def build_item(self, item) -> bytes:
        kind = item[self.type_name]
        out = self.type_con.build(kind)
        if int(self.type_con.parse(out)) in self.bare:
            return out + item.get(self.padding, b"") if int(self.type_con.parse(out)) in self.end else out
        layout = self.values.get(int(self.type_con.parse(out)))
        if layout is None:
            value = item.get(self.raw, b"")
        else:
            value = layout.build(item, _length=item.get(self.length_name))
        length = item.get(self.length_name)
        if length is None:
            total = len(value) + (self.header_size if self.counts_header else 0)
            length = -(-total // self.unit)
        return out + self.length_con.build(length) + value

    def _sizeof(self, context, path):
        from construct import SizeofError
        raise SizeofError("TLV list size depends on its contents", path=path)
