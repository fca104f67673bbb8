"""Line-based text protocols (FTP control, HTTP/1.x): a segment's octets as text lines.

:class:`Lines` is one construct for all of them: it splits the octets of its space into
lines (ended by CRLF, or a bare LF as lenient peers send; the last line of a segment may
have no end yet) and hands each line to the protocol's :class:`LineGrammar`, which turns
it into named fields.  The layer's value is ``{"lines": [item, ...]}``, one item per line,
each item a Container of that line's fields (flat names, Wireshark's: ``request.command``,
``response.code``, ``host``) plus ``_line``, the line's octets as sent (end included).

Round trip: building writes each item's ``_line`` back unchanged unless the item's fields
no longer match it (the caller edited a field), in which case the grammar writes the line
anew from the fields; an item without ``_line`` (built from scratch) is always written
from its fields.  So ``build(parse(b)) == b`` for any octets, and edits take effect.

Text is decoded as tshark decodes these protocols (``ENC_ASCII``): octets 0x00-0x7F as
themselves, every other octet as U+FFFD; the ``_line`` octets keep the original.

A grammar may refuse the octets (HTTP: a segment that does not begin with a request or
status line is a body continuation): it raises :class:`decoder.fastpath.Decline`, and the
decoder leaves the octets as undecoded data (a protocol decoded on request, not by
dispatch, is malformed instead).
"""
from __future__ import annotations

from construct import Construct, Container, ExplicitError, GreedyRange, ListContainer, SizeofError, Struct
from construct.core import stream_read_entire, stream_seek, stream_tell, stream_write

from decoder.fastpath import Decline, Malformed, Truncated

__all__ = ["Lines", "LineGrammar", "String", "Decimal", "Decline", "ascii_text", "split_lines"]


def ascii_text(raw: bytes) -> str:
    """Octets as tshark shows an ``ENC_ASCII`` string: 7-bit octets as themselves, any
    other octet as U+FFFD."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return "".join(chr(b) if b < 0x80 else "\ufffd" for b in raw)


def split_lines(data: bytes, start: int = 0):
    """``(offset, content, end_of_line)`` per line of ``data`` from ``start``: the content
    without its CRLF or LF, the end as found (``b""`` for a last line not ended yet)."""
    pos, size = start, len(data)
    while pos < size:
        nl = data.find(b"\n", pos)
        if nl < 0:
            yield pos, data[pos:], b""
            return
        if nl > pos and data[nl - 1] == 0x0D:
            yield pos, data[pos:nl - 1], b"\r\n"
        else:
            yield pos, data[pos:nl], b"\n"
        pos = nl + 1


class LineGrammar:
    """How a protocol reads its lines.  Subclasses set :attr:`item` (a documented ``Struct``
    of every field a line can give: it is what the field listings, the reference and the
    detail tree see) and implement :meth:`parse_line` and :meth:`format_line`."""

    #: documented fields of a line (members are :class:`String`/:class:`Decimal` leaves)
    item: Struct = Struct()
    #: label of a line in the detail tree
    item_doc = "Line"

    def initial(self):
        """State before the first line (multi-line replies, start line vs headers)."""
        return None

    def declines(self, buf, off: int, end: int) -> str | None:
        """A cheap look at the first octets before any line is split: why they can never
        begin this protocol (the first line would :class:`Decline` anyway), else None."""
        return None

    def parse_line(self, content: bytes, eol: bytes, state):
        """``(fields, state, stop)``: ``fields`` is a list of ``(name, value, offset, size)``
        (offset within the line; may be empty), ``stop`` ends the list after this line,
        ``None`` instead of the whole tuple ends it before this line (the line is not
        consumed).  May raise :class:`~decoder.fastpath.Decline` or
        :class:`~decoder.fastpath.Malformed`."""
        raise NotImplementedError

    def format_line(self, item, raw: bytes | None, state) -> bytes:
        """The line (end included) for an item whose fields do not match ``raw``."""
        raise NotImplementedError

    def primary(self, fields: dict) -> dict:
        """The fields that decide a line's octets (derived fields left out): an item whose
        primary fields equal those parsed from its ``_line`` is written as ``_line``."""
        return fields


def _public(item) -> dict:
    return {k: v for k, v in item.items() if not k.startswith("_") and v is not None}


class Lines(GreedyRange):
    """Text lines filling the enclosing space, each split into fields by ``grammar``.

    A ``GreedyRange`` of the grammar's documented item so that field listings and the
    reference see the line fields; parsing and building are the grammar's (construct's
    ``_parse``/``_build`` and a ``fastparse`` for the generated decoders, both on
    :meth:`split`, so they agree)."""

    def __init__(self, grammar: LineGrammar):
        super().__init__("line" / grammar.item * grammar.item_doc)
        self.grammar = grammar
        self.flagbuildnone = False
        self.leaves = {sc.name: sc for sc in grammar.item.subcons if sc.name}

    # -- parsing ---------------------------------------------------------------------------

    def split(self, data: bytes, spans=None, base: int = 0, depth: int = 0):
        """``(items, octets used)``; with ``spans``, detail-tree rows are appended
        (offsets from ``base``)."""
        grammar = self.grammar
        state = grammar.initial()
        items = ListContainer()
        used = 0
        for pos, content, eol in split_lines(data):
            got = grammar.parse_line(content, eol, state)
            if got is None:
                break
            fields, state, stop = got
            size = len(content) + len(eol)
            item = Container()
            for name, value, _, _ in fields:
                item[name] = value
            item["_line"] = data[pos:pos + size]
            items.append(item)
            used = pos + size
            if spans is not None:
                spans.append((depth + 1, "line", base + pos, size, item, self.subcon))
                for name, value, off, n in fields:
                    spans.append((depth + 2, name, base + pos + off, n, value, self.leaves.get(name)))
            if stop:
                break
        return items, used

    def fastparse(self, buf, off, end, ctx, spans, depth):
        why = self.grammar.declines(buf, off, end)
        if why is not None:
            raise Decline(why)
        items, used = self.split(bytes(buf[off:end]), spans, off, depth)
        return items, off + used

    def _parse(self, stream, context, path):
        start = stream_tell(stream, path)
        data = stream_read_entire(stream, path)
        try:
            items, used = self.split(data)
        except (Malformed, Truncated) as e:
            raise ExplicitError(str(e) or type(e).__name__, path=path) from None
        stream_seek(stream, start + used, 0, path)
        return items

    # -- building --------------------------------------------------------------------------

    def line_octets(self, item, state) -> bytes:
        """The octets of one item: its ``_line`` when its fields still match it."""
        raw = item.get("_line") if isinstance(item, dict) else None
        if raw is not None:
            raw = bytes(raw)
            content, eol = cut_eol(raw)
            got = self.grammar.parse_line(content, eol, state)
            if got is not None:
                parsed = {name: value for name, value, _, _ in got[0]}
                if self.grammar.primary(parsed) == self.grammar.primary(_public(item)):
                    return raw
        return self.grammar.format_line(_public(item), raw, state)

    def build_lines(self, items) -> bytes:
        grammar = self.grammar
        state = grammar.initial()
        out = []
        for item in items or ():
            line = self.line_octets(item, state)
            out.append(line)
            content, eol = cut_eol(line)
            got = grammar.parse_line(content, eol, state)
            if got is not None:
                state = got[1]
        return b"".join(out)

    def _build(self, obj, stream, context, path):
        try:
            data = self.build_lines(obj)
        except (Malformed, Truncated) as e:
            raise ExplicitError(str(e) or type(e).__name__, path=path) from None
        stream_write(stream, data, len(data), path)
        return obj

    def _sizeof(self, context, path):
        raise SizeofError("text lines vary in size", path=path)


def cut_eol(line: bytes):
    if line.endswith(b"\r\n"):
        return line[:-2], b"\r\n"
    if line.endswith(b"\n"):
        return line[:-1], b"\n"
    return line, b""


class _Leaf(Construct):
    """A field inside a text line: documented here, parsed and built by :class:`Lines`."""

    def __init__(self):
        super().__init__()
        self.flagbuildnone = True

    def _parse(self, stream, context, path):
        raise ExplicitError(f"{type(self).__name__.lower()} fields are parsed by their Lines", path=path)

    def _build(self, obj, stream, context, path):
        raise ExplicitError(f"{type(self).__name__.lower()} fields are built by their Lines", path=path)

    def _sizeof(self, context, path):
        raise SizeofError("part of a text line", path=path)


class String(_Leaf):
    """Text within a line (ASCII; other octets show as U+FFFD)."""


class Decimal(_Leaf):
    """A number written in decimal digits within a line."""
