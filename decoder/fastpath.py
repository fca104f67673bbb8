"""Fast decoders generated from the specs' construct layouts (the one source of truth).

Two products per layout:

* the **prefix**: the leading run of fixed-size fields folded into one
  ``struct.Struct``; each field (and each bit of a :class:`~specs._fields.BitFields`)
  gets a getter, generated as Python source over the unpacked tuple ``v``.  This is
  the hot path: one ``unpack_from`` per layer, fields decoded only when asked for.
* the **full parser**: every construct node compiled once into a closure that
  parses straight from the buffer with ``struct`` and records each field's byte span
  for the detail tree.  Its result equals ``layout.parse(data)`` (a test checks
  this for every registered spec); a node type not listed here falls back to
  construct for that node only and is counted in :data:`FALLBACKS`.
"""
from __future__ import annotations

import io
import re
import struct
from collections import Counter

import construct as C
from construct import Container, ListContainer

from specs._fields import BitFields, Named, _Address
from specs._tlv import TLV

FALLBACKS: Counter = Counter()


class Truncated(Exception):
    """A field runs past the end of the available octets."""


class Malformed(Exception):
    """The octets contradict the layout (bad constant, impossible length)."""


class Decline(Malformed):
    """The octets are not this protocol's at all (HTTP on port 80 seeing a body
    continuation).  Raised by a spec's own construct while the header is parsed: when the
    protocol was reached by dispatch the decoder adds no layer and leaves the octets as
    undecoded data; decoded on request (the first layer) it is malformed."""


# --- construct expressions -> Python source ---------------------------------------

_PATH = re.compile(r"this((?:\[(?:'[^']*'|\"[^\"]*\")\])+)")
_KEY = re.compile(r"\[(?:'([^']*)'|\"([^\"]*)\")\]")


def expr_source(expr, resolve) -> str:
    """Python source for a construct ``this`` expression; ``resolve(name)`` gives the
    source of a field (the last path component: bit fields are flattened).  Raises
    KeyError when a field cannot be resolved."""
    if not callable(expr):
        return repr(expr)
    text = repr(expr)

    def sub(m):
        keys = [a or b for a, b in _KEY.findall(m.group(1))]
        return "(" + resolve(keys[-1]) + ")"
    return _PATH.sub(sub, text)


def evaluate(expr, ctx):
    return expr(ctx) if callable(expr) else expr


# --- unwrapping ---------------------------------------------------------------------

def unwrap(sc):
    """Strip wrappers that do not change how a field parses (Default/Rebuild/Renamed)."""
    while isinstance(sc, (C.Renamed, C.Default, C.Rebuild)):
        sc = sc.subcon
    return sc


def fixed_format(sc):
    """``(struct format, kind)`` when the node is one fixed-size field, else None."""
    sc = unwrap(sc)
    if isinstance(sc, C.FormatField):
        if sc.fmtstr[0] == "<" and struct.calcsize(sc.fmtstr) > 1:
            return None          # little-endian: parsed on its own (_little_endian), never folded
        return sc.fmtstr[1:], "int"
    if isinstance(sc, (Named, C.Enum)):
        inner = fixed_format(sc.subcon)
        return (inner[0], "int") if inner and inner[1] == "int" else None
    if isinstance(sc, BitFields):
        inner = fixed_format(sc.subcon)
        return (inner[0], "bits") if inner else None
    if isinstance(sc, _Address):
        return f"{sc.size}s", "addr"
    if isinstance(sc, C.Bytes) and isinstance(sc.length, int):
        return f"{sc.length}s", "bytes"
    if isinstance(sc, C.Const):
        inner = fixed_format(sc.subcon)
        return (inner[0], "const") if inner else None
    return None


def branches(inner):
    """The alternative subcons of a Switch (its cases, then its default) or an
    IfThenElse (then, else); None for any other node."""
    if isinstance(inner, C.Switch):
        return list(inner.cases.values()) + [inner.default]
    if isinstance(inner, C.IfThenElse):
        return [inner.thensubcon, inner.elsesubcon]
    return None


def static_size(sc):
    """The node's size when it never varies: also a Switch/IfThenElse whose branches all have
    one size (ICMP: a 4-octet body chosen by type and code), or a Struct of such nodes."""
    try:
        return sc.sizeof()
    except (C.SizeofError, KeyError, AttributeError, TypeError):
        pass
    inner = unwrap(sc)
    if isinstance(inner, C.Struct):
        sizes = [static_size(sub) for sub in inner.subcons]
        return None if None in sizes else sum(sizes)
    alts = branches(inner)
    if alts is None:
        return None
    sizes = {static_size(b) for b in alts}
    return sizes.pop() if len(sizes) == 1 and None not in sizes else None


# --- the prefix ---------------------------------------------------------------------

class PrefixField:
    """One field of the fixed prefix: where it is and how to get it from ``v``."""

    __slots__ = ("name", "offset", "size", "source", "node", "bit", "index")

    def __init__(self, name, offset, size, source, node, index, bit=None):
        self.name, self.offset, self.size, self.source, self.node, self.bit = name, offset, size, source, node, bit
        self.index = index


class Prefix:
    def __init__(self, layout):
        fmt, fields, offset, index = ">", [], 0, 0
        self.items = []
        subcons = list(layout.subcons)
        while subcons:
            sc = subcons[0]
            f = fixed_format(sc)
            if f is None or not sc.name:
                break
            subcons.pop(0)
            code, kind = f
            size = struct.calcsize(">" + code)
            inner = unwrap(sc)
            fmt += code
            if kind == "bits":
                for b in inner.bits:
                    src = (f"((v[{index}] >> {b.shift}) & {b.mask >> b.shift})" if b.shift
                           else f"(v[{index}] & {b.mask})")
                    if b.scale != 1:
                        src += f" * {b.scale}"
                    fields.append(PrefixField(b.name, offset, size, src, sc, index, b))
            else:
                src = f"v[{index}]"
                if kind == "addr":
                    src = f"_addr_{type(inner).__name__}(v[{index}])"
                fields.append(PrefixField(sc.name, offset, size, src, sc, index))
            self.items.append(struct.Struct(">" + code))
            offset += size
            index += 1
        self.rest = subcons
        self.format = fmt
        self.size = offset
        self.struct = struct.Struct(fmt)
        self.fields = fields
        self.by_name = {f.name: f for f in fields}

    def source(self, name: str) -> str:
        return self.by_name[name].source

    def partial(self, buf, off) -> list:
        """The prefix items that fit in ``buf`` from ``off`` (for a cut header)."""
        values = []
        for item in self.items:
            if off + item.size > len(buf):
                break
            values.append(item.unpack_from(buf, off)[0])
            off += item.size
        return values


def address_env() -> dict:
    from specs import _fields
    return {f"_addr_{cls.__name__}": cls.fast for cls in (_fields.MacAddress, _fields.IPv4Address, _fields.IPv6Address)}


# --- the full parser ------------------------------------------------------------------

def compile_node(sc):
    """Compile one construct node into ``parse(buf, off, end, ctx, spans, depth) -> (value, off)``.

    ``spans`` (a list or None) collects ``(depth, name, offset, size, value, node)``
    for each named field, parents before their children.
    """
    if hasattr(sc, "fastparse"):
        return sc.fastparse
    if isinstance(unwrap(sc), C.FormatField) and fixed_format(sc) is None:
        return _little_endian(unwrap(sc))
    if isinstance(sc, C.Renamed):
        return compile_node(sc.subcon)
    if isinstance(sc, (C.Default, C.Rebuild)):
        return compile_node(sc.subcon)
    if isinstance(sc, C.Struct):
        return _struct(sc)
    f = fixed_format(sc)
    if f is not None:
        return _fixed(sc, *f)
    if isinstance(sc, C.Bytes):
        return _bytes(sc.length)
    if isinstance(sc, C.GreedyBytes.__class__) and sc is C.GreedyBytes:
        return _greedy_bytes
    if isinstance(sc, C.FixedSized):
        return _fixed_sized(sc.length, compile_node(sc.subcon))
    if isinstance(sc, TLV):
        return _tlv(sc)
    if isinstance(sc, C.Switch):
        return _switch(sc)
    if isinstance(sc, C.IfThenElse):
        return _if(sc)
    if isinstance(sc, C.GreedyRange):
        return _greedy_range(compile_node(sc.subcon))
    if isinstance(sc, C.Array):
        return _array(sc.count, compile_node(sc.subcon))
    if isinstance(sc, C.Peek):
        return _peek(compile_node(sc.subcon))
    if sc is C.Pass:
        return lambda buf, off, end, ctx, spans, depth: (None, off)
    return _fallback(sc)


def _fixed(sc, code, kind):
    inner = unwrap(sc)
    st = struct.Struct(">" + code)
    size, unpack = st.size, st.unpack_from
    if kind == "bits":
        bits = inner.bits

        def parse(buf, off, end, ctx, spans, depth):
            if off + size > end:
                raise Truncated
            word = unpack(buf, off)[0]
            value = Container()
            for b in bits:
                value[b.name] = ((word & b.mask) >> b.shift) * b.scale
                if spans is not None:
                    spans.append((depth + 1, b.name, off, size, value[b.name], b))
            return value, off + size
        parse.bits = True
        return parse
    if kind == "addr":
        fast = inner.fast

        def parse(buf, off, end, ctx, spans, depth):
            if off + size > end:
                raise Truncated
            return fast(unpack(buf, off)[0]), off + size
        return parse
    if kind == "const":
        expected = inner.value

        def parse(buf, off, end, ctx, spans, depth):
            if off + size > end:
                raise Truncated
            value = unpack(buf, off)[0]
            if value != expected:
                raise Malformed(f"expected {expected!r}, found {value!r}")
            return value, off + size
        return parse
    names = inner.names if isinstance(inner, Named) else None

    def parse(buf, off, end, ctx, spans, depth):
        if off + size > end:
            raise Truncated
        value = unpack(buf, off)[0]
        if names is not None:
            value = names.get(value, value)
        return value, off + size
    return parse


def _little_endian(sc):
    st = struct.Struct(sc.fmtstr)
    size, unpack = st.size, st.unpack_from

    def parse(buf, off, end, ctx, spans, depth):
        if off + size > end:
            raise Truncated
        return unpack(buf, off)[0], off + size
    return parse


def _struct(sc):
    members = []
    for sub in sc.subcons:
        members.append((sub.name, compile_node(sub), sub))

    def parse(buf, off, end, ctx, spans, depth):
        value = Container()
        value["_"] = ctx
        if ctx is not None:
            value["_params"] = ctx.get("_params")
        for name, p, node in members:
            start = off
            if spans is not None and name:
                slot = len(spans)
                spans.append(None)
                v, off = p(buf, off, end, value, spans, depth + 1)
                spans[slot] = (depth + 1, name, start, off - start, v, node)
            else:
                v, off = p(buf, off, end, value, spans, depth + 1)
            if name:
                value[name] = v
        del value["_"]
        value.pop("_params", None)
        return value, off
    return parse


def _bytes(length):
    def parse(buf, off, end, ctx, spans, depth):
        n = evaluate(length, ctx)
        if n < 0:
            raise Malformed(f"negative length {n}")
        if off + n > end:
            raise Truncated
        return bytes(buf[off:off + n]), off + n
    return parse


def _greedy_bytes(buf, off, end, ctx, spans, depth):
    return bytes(buf[off:end]), end


def _fixed_sized(length, inner):
    def parse(buf, off, end, ctx, spans, depth):
        n = evaluate(length, ctx)
        if n < 0:
            raise Malformed(f"negative length {n}")
        if off + n > end:
            raise Truncated
        value, _ = inner(buf, off, off + n, ctx, spans, depth)
        return value, off + n
    return parse


def _switch(sc):
    cases = {k: compile_node(v) for k, v in sc.cases.items()}
    default = compile_node(sc.default)
    keyfunc = sc.keyfunc

    def parse(buf, off, end, ctx, spans, depth):
        return cases.get(evaluate(keyfunc, ctx), default)(buf, off, end, ctx, spans, depth)
    return parse


def _if(sc):
    then, other, cond = compile_node(sc.thensubcon), compile_node(sc.elsesubcon), sc.condfunc

    def parse(buf, off, end, ctx, spans, depth):
        return (then if evaluate(cond, ctx) else other)(buf, off, end, ctx, spans, depth)
    return parse


def _greedy_range(inner):
    def parse(buf, off, end, ctx, spans, depth):
        items = ListContainer()
        while off < end:
            mark = len(spans) if spans is not None else 0
            try:
                v, new = inner(buf, off, end, ctx, spans, depth)
            except (Truncated, Malformed):
                if spans is not None:
                    del spans[mark:]
                break
            items.append(v)
            off = new
        return items, off
    return parse


def _peek(inner):
    """Lookahead (construct ``Peek``): parse without consuming; None when the octets are
    missing or do not fit, as construct does (LLC reads its control field's frame type
    before choosing the field's layout; a raw-IP link layer reads the IP version nibble)."""
    def parse(buf, off, end, ctx, spans, depth):
        mark = len(spans) if spans is not None else 0
        try:
            value, _ = inner(buf, off, end, ctx, spans, depth)
        except (Truncated, Malformed):
            if spans is not None:
                del spans[mark:]
            return None, off
        return value, off
    return parse


def _array(count, inner):
    def parse(buf, off, end, ctx, spans, depth):
        items = ListContainer()
        for _ in range(evaluate(count, ctx)):
            v, off = inner(buf, off, end, ctx, spans, depth)
            items.append(v)
        return items, off
    return parse


def _tlv(sc):
    type_parse = compile_node(sc.type_con)
    length_parse = compile_node(sc.length_con)
    values = {k: compile_node(v) for k, v in sc.values.items()}
    bare, ends, tname, lname = sc.bare, sc.end, sc.type_name, sc.length_name

    def parse(buf, off, end, ctx, spans, depth):
        items = ListContainer()
        while off < end:
            start = off
            slot = None
            if spans is not None:
                slot = len(spans)
                spans.append(None)
            kind, off = type_parse(buf, off, end, ctx, None, depth)
            item = Container()
            item[tname] = kind
            if spans is not None:
                spans.append((depth + 2, tname, start, off - start, kind, sc.type_con))
            if kind in bare:
                if kind in ends:
                    item[sc.padding] = bytes(buf[off:end])
                    if spans is not None and off < end:
                        spans.append((depth + 2, sc.padding, off, end - off, item[sc.padding], None))
                    off = end
            else:
                lstart = off
                try:
                    length, off = length_parse(buf, off, end, ctx, None, depth)
                except Truncated:
                    raise Malformed(f"{tname} {int(kind)}: no room for its length") from None
                if spans is not None:
                    spans.append((depth + 2, lname, lstart, off - lstart, length, sc.length_con))
                vsize = sc.value_size(length)
                if vsize < 0:
                    raise Malformed(f"{tname} {int(kind)}: length {length} is shorter than its header")
                if off + vsize > end:
                    raise Malformed(f"{tname} {int(kind)}: length {length} overruns the list")
                item[lname] = length
                vparse = values.get(kind)
                if vparse is None:
                    item[sc.raw] = bytes(buf[off:off + vsize])
                    if spans is not None:
                        spans.append((depth + 2, sc.raw, off, vsize, item[sc.raw], None))
                    off += vsize
                else:
                    value, new = vparse(buf, off, off + vsize, Container(_=ctx, _length=length), spans, depth + 1)
                    if new != off + vsize:
                        raise Malformed(f"{tname} {int(kind)}: {vsize} value octets do not fit its layout")
                    off = new
                    for k, v in value.items():
                        if not k.startswith("_"):
                            item[k] = v
            items.append(item)
            if spans is not None:
                spans[slot] = (depth + 1, tname, start, off - start, item, sc)
        return items, off
    return parse


def _fallback(sc):
    FALLBACKS[type(sc).__name__] += 1

    def parse(buf, off, end, ctx, spans, depth):
        stream = io.BytesIO(bytes(buf[off:end]))
        try:
            value = sc._parsereport(stream, ctx if ctx is not None else Container(), "(fallback)")
        except C.StreamError as e:
            raise Truncated(str(e)) from None
        except C.ConstructError as e:
            raise Malformed(str(e)) from None
        return value, off + stream.tell()
    return parse


def compile_layout(layout):
    """Full parser for a top-level layout: ``parse(buf, off, end, spans=None) -> (Container, end_of_header)``.

    A construct class of a spec's own that defines ``fastparse(buf, off, end, ctx, spans,
    depth) -> (value, off)`` is called directly; ``ctx._params._start`` is the layer's
    offset in ``buf`` (DNS name compression points back into the message).
    """
    inner = compile_node(layout)

    def parse(buf, off, end, spans=None):
        return inner(buf, off, end, Container(_params=Container(_start=off)), spans, -1)
    return parse
