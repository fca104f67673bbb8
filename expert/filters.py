"""Display filters: Wireshark's display-filter language, compiled once into Python closures.

::

    from expert.filters import compile_filter
    flt = compile_filter("tcp.port in {80, 443} and ip.addr == 192.0.2.0/24", registry)
    shown = [pkt for pkt in packets if flt(pkt)]

The grammar is ``expert/filter.lark`` (start rule ``expr``, reused by the rule language).
Semantics follow Wireshark 4.x for the common subset (checked against tshark by
``tests/test_filters_vs_tshark.py``):

* ``tcp``, ``ip.flags.df``: a field or protocol *exists* (has an occurrence); a boolean
  field exists whatever its value, ``tcp.flags.syn == 1`` tests the value.
* ``==`` is true when ANY occurrence matches, ``!=`` when ALL differ (and there is one:
  ``!(a == b)`` also matches packets without the field), ``===`` all equal, ``!==``
  (``~=``) any differs; ``< <= > >=`` any; ``eq ne lt le gt ge all_eq any_ne`` spell the
  same.  ``any``/``all`` before a relation choose the quantifier (``all tcp.port > 1024``).
* ``and or xor not`` / ``&& || ^^ !``; ``and`` binds tighter than ``xor``, ``xor`` than ``or``.
* ``x in {80, 443, 8000..8100}``, ``x not in {...}`` (= ``not (x in {...})``); ranges of
  numbers, addresses, times; CIDR items for addresses.
* ``contains`` (substring of bytes or text; for a protocol, its header and payload),
  ``matches`` / ``~`` (Python regular expression, case-insensitive like Wireshark's
  PCRE2 default; a leading ``(?-i)`` makes it case-sensitive).
* slices ``eth.src[0:3]`` (offset 0, length 3), ``[i-j]`` (offsets i to j), ``[i]``,
  ``[:j]``, ``[i:]``, negative offsets from the end, lists ``[0:2,4]``; of a protocol
  (``tcp[13]``) the header octets, of ``frame`` the captured octets.
* ``x & mask`` (true when non-zero), arithmetic ``+ - * / %`` with spaces around ``-`` and
  ``/``, grouped with braces: ``{tcp.flags & 0x12} == 0x12``.
* literals typed by the field they meet: integers (``80``, ``0x50``, ``0120`` octal,
  ``0b1010``, ``'P'``), enumeration names (``eth.type == ARP``, ``ip.proto == "TCP"``,
  case-insensitive), ``True``/``False``, ``"strings"`` with C escapes and ``r"raw"``,
  byte strings ``aa:bb:cc``/``aa-bb-cc``/``aabb.cc``/``aabbcc``/``:ff``, MAC, IPv4, IPv6,
  CIDR ``192.0.2.0/24``, ``2001:db8::/32``, times in seconds (``frame.time_relative > 1.5``).
* functions ``len count lower upper string abs max min`` (see :data:`FUNCTIONS`).
* ``ip.src#2``: only the second ``ip`` layer (the datagram an ICMP error quotes);
  ``#[1-2]`` a range of layers.
* ``$name``: a parameter given at compile time (``params={"name": value}``).
* Sequence rules: ``A.ip.id == B.ip.id`` with ``scopes={"A": fn, "B": fn}``; ``fn(ctx)``
  returns the packet the prefix stands for (see :class:`Compiler`).

Field values come from the decoded layers (fast path: the layer's generated prefix
getters), from ``frame.*`` built-ins and from annotations analysis stages attach
(``packet.annotate``), whose names they declare with :func:`register_extra_fields`.
"""
from __future__ import annotations

import difflib
import enum
import ipaddress
import operator
import re
import socket
import struct
from pathlib import Path
from typing import Any, Callable

import construct as C
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from decoder import fastpath
from decoder.fields import Clock
from specs._fields import BitFields, IPv4Address, IPv6Address, MacAddress, Named

__all__ = ["FilterError", "Filter", "Compiler", "compile_filter", "parse", "register_extra_fields",
           "extra_fields", "known_fields", "field_type", "FUNCTIONS", "GRAMMAR"]

GRAMMAR = Path(__file__).with_name("filter.lark")
NS = 1_000_000_000
_EMPTY: tuple = ()

# value types: how a field's values look at run time and which literals they accept
INT, BOOL, FLOAT, STR, BYTES, IPV4, IPV6, MAC, PROTO, STATUS, NONE, ANY = (
    "int", "bool", "float", "str", "bytes", "ipv4", "ipv6", "mac", "proto", "status", "none", "any")
_TYPE_TEXT = {INT: "integer", BOOL: "boolean", FLOAT: "number", STR: "string", BYTES: "byte string",
              IPV4: "IPv4 address", IPV6: "IPv6 address", MAC: "MAC address", PROTO: "protocol",
              STATUS: "checksum status", NONE: "label", ANY: "value"}
_NUMERIC = (INT, BOOL, FLOAT)
_BYTESLIKE = (BYTES, MAC, IPV4, IPV6, PROTO)


class FilterError(ValueError):
    """A filter that cannot be compiled: one line naming the column and what was expected."""

    def __init__(self, message: str, column: int | None = None, text: str | None = None):
        self.message, self.column, self.text = message, column, text
        super().__init__(f"column {column}: {message}" if column else message)


# -- the parser ---------------------------------------------------------------------------

_PARSER: Lark | None = None


def parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark.open(str(GRAMMAR), parser="lalr", start=["start", "expr"], maybe_placeholders=True)
    return _PARSER


def parse(text: str, start: str = "expr") -> Tree:
    """The parse tree of a filter expression; :class:`FilterError` on a syntax error."""
    if not text.strip():
        raise FilterError("empty filter", 1, text)
    try:
        return parser().parse(text, start=start)
    except UnexpectedInput as e:
        raise _syntax_error(e, text) from None


_VALUE_START = {"FIELD", "LITERAL", "STRING", "RAW_STRING", "CHAR", "PARAM"}
_TEST_START = {"NOT", "BANG", "LPAR", "ANY", "ALL"}
_CMP_WORDS = {"==", "eq", "!=", "ne", "===", "all_eq", "!==", "any_ne", "~=", "<", "lt", "<=", "le", ">", "gt",
              ">=", "ge", "contains", "matches", "~", "in", "not"}
_LOGIC_WORDS = {"and", "&&", "or", "||", "xor", "^^"}
_ARITH_WORDS = {"+", "-", "*", "/", "%", "&"}
_NAMED = {"FIELD": "a field", "LITERAL": "a value", "STRING": "a string", "RAW_STRING": "a string",
          "CHAR": "a character", "PARAM": "a $parameter", "RANGE": "an offset or range (i, i:j, i-j)",
          "LAYER_NUM": "a layer number", "$END": "the end of the filter"}


def terminal_text(lark: Lark, name: str, named: dict) -> str:
    """A terminal of ``lark``'s grammar in words: ``named``'s text for it, else the literal
    it matches, else its name (for "expected ..." messages; the rule language's too)."""
    base = name if name.startswith("__") else name.rsplit("__", 1)[-1]
    if base in named:
        return named[base]
    try:
        pattern = lark.get_terminal(name).pattern
    except (KeyError, AttributeError):
        return base
    return pattern.value if isinstance(pattern, PatternStr) else base


def _terminal_text(name: str) -> str:
    return terminal_text(parser(), name, _NAMED)


def _expected(names) -> str:
    words = {_terminal_text(n) for n in names}
    raw = {n if n.startswith("__") else n.rsplit("__", 1)[-1] for n in names}
    parts = []
    if raw & _VALUE_START:
        parts.append("a field or value" + (", 'not' or '('" if raw & _TEST_START else ""))
        words -= {_terminal_text(n) for n in names if (n.rsplit("__", 1)[-1] in _VALUE_START | _TEST_START)}
        words -= {"-", "{"}
    if words & _CMP_WORDS:
        parts.append("a comparison (==, !=, <, contains, matches, in ...)")
        words -= _CMP_WORDS
    if words & _ARITH_WORDS:
        parts.append("an arithmetic operator")
        words -= _ARITH_WORDS
    if words & _LOGIC_WORDS:
        parts.append("'and'/'or'")
        words -= _LOGIC_WORDS
    end = "the end of the filter" in words
    words.discard("the end of the filter")
    parts += sorted(f"'{w}'" if not w.startswith(("a ", "an ")) else w for w in words)
    if end:
        parts.append("the end of the filter")
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _syntax_error(e: UnexpectedInput, text: str) -> FilterError:
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        what = f"unexpected character {ch!r}"
        if ch == "$" and text[e.pos_in_stream + 1:e.pos_in_stream + 2] == "{":
            what += " (Wireshark macros ${...} are not supported; $name is a parameter)"
        elif ch == "=":
            what += " (compare with ==)"
        allowed = {n.rsplit("__", 1)[-1] for n in (e.allowed or ())}
        # the lexer's view of what may come is wide after a value; name it only where a value is due
        exp = _expected(e.allowed) if allowed & _VALUE_START and not allowed & {"IN", "CONTAINS"} else ""
        return FilterError(what + (f", expected {exp}" if exp else ""), e.column, text)
    if isinstance(e, UnexpectedToken):
        tok = e.token
        expected = e.expected or getattr(e, "accepts", None) or ()
        if tok.type == "$END":
            return FilterError("unexpected end of filter" + (f", expected {_expected(expected)}" if expected else ""),
                               len(text.rstrip()) + 1, text)
        return FilterError(f"unexpected {str(tok)!r}" + (f", expected {_expected(expected)}" if expected else ""),
                           tok.column, text)
    if isinstance(e, UnexpectedEOF):
        return FilterError(f"unexpected end of filter, expected {_expected(e.expected)}", len(text.rstrip()) + 1, text)
    return FilterError(str(e).splitlines()[0], getattr(e, "column", None), text)


# -- values of fields -----------------------------------------------------------------------

_IP4_CACHE: dict = {}
_IP6_CACHE: dict = {}


def ip4int(text: str) -> int:
    n = _IP4_CACHE.get(text)
    if n is None:
        if len(_IP4_CACHE) > 100_000:
            _IP4_CACHE.clear()
        n = _IP4_CACHE[text] = int.from_bytes(socket.inet_aton(text), "big")
    return n


def ip6int(text: str) -> int:
    n = _IP6_CACHE.get(text)
    if n is None:
        if len(_IP6_CACHE) > 100_000:
            _IP6_CACHE.clear()
        n = _IP6_CACHE[text] = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    return n


def _layer_header(layer) -> bytes:
    return bytes(layer.buf[layer.off:layer.off + layer.hlen])


def _layer_all(layer) -> bytes:
    """A protocol's octets for ``contains``/``matches``: header and payload (its tvb)."""
    return bytes(layer.buf[layer.off:max(layer.end, layer.off + layer.hlen)])


def _to_bytes_fn(ftype: str):
    """Run-time value -> octets (slices, ``contains`` on addresses); None: not possible."""
    if ftype == BYTES:
        return None
    if ftype in (STR, STATUS):
        return lambda v: v.encode("utf-8", "surrogateescape")
    if ftype == MAC:
        return lambda v: bytes.fromhex(v.replace(":", "").replace("-", ""))
    if ftype == IPV4:
        return socket.inet_aton
    if ftype == IPV6:
        return lambda v: socket.inet_pton(socket.AF_INET6, v)
    if ftype == PROTO:
        return _layer_header
    if ftype == ANY:
        def conv(v):
            if isinstance(v, (bytes, bytearray, memoryview)):
                return bytes(v)
            if isinstance(v, str):
                return v.encode("utf-8", "surrogateescape")
            raise TypeError("not bytes")
        return conv
    return False


class Field:
    """A resolved field: its type and how to fetch its values from a context."""

    __slots__ = ("name", "type", "enum", "size", "minval", "maxval", "get", "word")

    def __init__(self, name, ftype, get, enum=None, size=None, minval=None, maxval=None):
        self.name, self.type, self.get, self.enum, self.size = name, ftype, get, enum, size
        self.minval, self.maxval = minval, maxval
        self.word = None

    def __repr__(self):
        return f"<Field {self.name} {self.type}>"


# Fields analysis stages attach to packets (``packet.annotate``): name -> type.
_EXTRA: dict[str, str] = {}
_TYPE_ALIASES = {"int": INT, "uint": INT, "integer": INT, "bool": BOOL, "boolean": BOOL, "float": FLOAT,
                 "double": FLOAT, "time": FLOAT, "str": STR, "string": STR, "bytes": BYTES, "ipv4": IPV4,
                 "ipv6": IPV6, "mac": MAC, "ether": MAC, "none": NONE, "label": NONE, "any": ANY,
                 "status": STATUS}


def _norm_type(t) -> str:
    if t is None:
        return NONE
    if isinstance(t, type):
        if issubclass(t, bool):
            return BOOL
        if issubclass(t, int):
            return INT
        if issubclass(t, float):
            return FLOAT
        if issubclass(t, str):
            return STR
        if issubclass(t, (bytes, bytearray)):
            return BYTES
        raise ValueError(f"unsupported field type {t!r}")
    try:
        return _TYPE_ALIASES[str(t).lower()]
    except KeyError:
        raise ValueError(f"unsupported field type {t!r} (use one of {', '.join(sorted(_TYPE_ALIASES))})") from None


def register_extra_fields(fields: dict, source: str = "") -> None:
    """Declare fields that analysis stages attach with ``packet.annotate(name, value)``
    (``{"tcp.stream": int, "tcp.analysis.retransmission": None, "tcp.analysis.ack_rtt": float}``).
    Types: ``int bool float str bytes ipv4 ipv6 mac`` (names or Python types), ``None``
    for labels that only exist (Wireshark's FT_NONE), ``"any"`` for mixed values;
    ``source`` says what computes them (``protospec fields`` shows it)."""
    for name, t in fields.items():
        _EXTRA[name] = _norm_type(t)
        if source:
            _EXTRA_SOURCE[name] = source


_EXTRA_SOURCE: dict[str, str] = {}


def extra_field_source(name: str) -> str:
    """What computes an annotated field ("TCP analysis" ...), or ""."""
    _extra()
    return _EXTRA_SOURCE.get(name, "")


def _extra() -> dict[str, str]:
    """:data:`_EXTRA`, with the built-in stages' fields (TCP analysis, pairing, the
    engine's and the access checks'), which :mod:`expert.stages` declares when imported:
    looked up on first use, so importing an analysis module does not load the language."""
    global _BUILTIN_LOADED
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED = True
        from expert import stages  # noqa: F401  (declares them)
    return _EXTRA


_BUILTIN_LOADED = False


def unknown_param(name: str, params) -> str:
    """The message for a ``$name`` that is not among ``params`` (with the closest name)."""
    close = difflib.get_close_matches(name, list(params), n=1)
    hint = f" (did you mean ${close[0]}?)" if close else ""
    return f"unknown parameter ${name}{hint}"


def extra_fields() -> dict[str, str]:
    return dict(_extra())


_FRAME = {  # name -> (type, size)
    "frame": (BYTES, None), "frame.len": (INT, 4), "frame.cap_len": (INT, 4), "frame.number": (INT, 4),
    "frame.time_epoch": (FLOAT, 8), "frame.time_relative": (FLOAT, 8), "frame.time_delta": (FLOAT, 8),
    "frame.protocols": (STR, None), "frame.interface_id": (INT, 4),
    "frame.comment": (STR, None), "data": (BYTES, None), "data.data": (BYTES, None), "data.len": (INT, 4),
}
_CLOCKED = {"frame.time_relative", "frame.time_delta"}


def known_fields(registry) -> list[str]:
    """Every name a filter accepts (for suggestions and completion)."""
    owners = getattr(registry, "field_owners", None) or registry.fields
    return sorted(set(owners) | set(registry.protocols) | set(_FRAME) | set(_extra()))


def _int_range(inner):
    """``(type, size, min, max)`` of a FormatField."""
    fmt = inner.fmtstr
    code = fmt[-1]
    size = struct.calcsize(fmt)
    if code in "efd":
        return FLOAT, size, None, None
    if code == "?":
        return BOOL, size, 0, 1
    if code in "bhilq":
        return INT, size, -(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1
    return INT, size, 0, (1 << (8 * size)) - 1


def _node_type(node, bit):
    """``(type, enum, size, min, max)`` of a layout node (``bit``: a BitFields member)."""
    if bit is not None:
        inner = fastpath.unwrap(node)
        size = fastpath.static_size(inner.subcon) if isinstance(inner, BitFields) else None
        top = (bit.mask >> bit.shift) * bit.scale
        ftype = BOOL if bit.mask >> bit.shift == 1 and bit.scale == 1 else INT
        return ftype, bit.enum, size, 0, top
    if node is None:
        return BYTES, None, None, None, None
    inner = fastpath.unwrap(node)
    if isinstance(inner, C.Const):
        return _node_type(inner.subcon, None)
    if isinstance(inner, Named):
        ftype, _, size, lo, hi = _node_type(inner.subcon, None)
        return ftype, inner.enum, size, lo, hi
    if isinstance(inner, C.FormatField):
        ftype, size, lo, hi = _int_range(inner)
        return ftype, None, size, lo, hi
    if isinstance(inner, MacAddress):
        return MAC, None, 6, None, None
    if isinstance(inner, IPv4Address):
        return IPV4, None, 4, None, None
    if isinstance(inner, IPv6Address):
        return IPV6, None, 16, None, None
    if isinstance(inner, C.Bytes):
        return BYTES, None, inner.length if isinstance(inner.length, int) else None, None, None
    if inner is C.GreedyBytes or isinstance(inner, type(C.GreedyBytes)):
        return BYTES, None, None, None, None
    if isinstance(inner, (C.BytesInteger, C.BitsInteger)):
        return INT, None, None, None, None
    return ANY, None, None, None, None


def _registry_type(proto, rel, depth=0):
    if rel == "":
        return PROTO, None, None, None, None
    for rule in proto.checksums:
        if rel == f"{rule.field}.status":
            return STATUS, None, None, None, None
        if rel == f"{rule.field}_calculated":
            node, bit = proto.field_nodes.get(rule.field, (None, None))
            return _node_type(node, bit) if node is not None else (INT, None, 2, 0, 0xFFFF)
    for virt in proto.virtual:
        if virt.name == rel:
            if virt.either and depth < 4:
                return _registry_type(proto, virt.either[0], depth + 1)
            return ANY, None, None, None, None
    node, bit = proto.field_nodes.get(rel, (None, None))
    return _node_type(node, bit)


def field_type(registry, name: str) -> str | None:
    """The filter type of a field name (``"int"``, ``"ipv4"``, ...), or None if unknown."""
    f = _resolve(registry, name, None)
    return f.type if f else None


def _owners(registry, name):
    if hasattr(registry, "resolve_all"):
        return [o for o in registry.resolve_all(name) if o]
    hit = registry.resolve(name)
    return [hit] if hit else []


def _collect(value, rel, out):
    """The occurrences of ``rel`` in a parsed header, as :func:`decoder.packet.flatten`
    would list them, without flattening every other field."""
    for k, v in value.items():
        if k[:1] == "_":
            continue
        if isinstance(v, dict):
            _collect(v, rel, out)
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, dict):
                    _collect(item, rel, out)
                elif k == rel:
                    out.append(item)
        elif k == rel:
            out.append(v)
    return out


def _layer_values(proto, rel):
    """``fn(layer) -> list`` for a field that is not a prefix field: computed fields
    (checksum status, virtual fields) come from ``layer.flat()``; the others straight from
    the parsed header, which spares checksum and virtual-field work (``flat()`` does all)."""
    computed = {v.name for v in proto.virtual}
    for rule in proto.checksums:
        computed |= {f"{rule.field}.status", f"{rule.field}_calculated"}
    for virt in proto.virtual:
        if virt.name == rel and virt.either and virt.fn is None:
            getters = [proto.getters.get(n) for n in virt.either]
            if all(getters):                  # ip.addr: [src, dst] from the unpacked prefix
                def either(layer, getters=tuple(getters)):
                    v = layer.v
                    if v is None:
                        return layer.flat().get(rel, _EMPTY)
                    return [g(v) for g in getters]
                return either
    if rel in computed:
        return lambda layer: layer.flat().get(rel, _EMPTY)

    def parsed(layer):
        cached = getattr(layer, "_flat", None)
        if cached is not None:
            return cached.get(rel, _EMPTY)
        return _collect(layer.value, rel, [])
    return parsed


def _layer_getter(owners, full, layers=None):
    """Values of a registry field in a packet, in layer order; ``layers(k)`` keeps only
    the k-th layers (1-based) of the owning protocols."""
    plan = {}
    for p, rel in owners:
        plan.setdefault(p.name, (p.getters.get(rel), rel, _layer_values(p, rel)))
    if len(plan) == 1 and layers is None:
        ((pname, (g, rel, slow)),) = plan.items()
        if g is not None:
            def get(pkt):
                ex = pkt.extra
                if ex is not None and full in ex:
                    return ex[full]
                out = []
                for layer in pkt.layers:
                    if layer.proto.name == pname:
                        v = layer.v
                        if v is not None:
                            out.append(g(v))
                        else:
                            out += layer.flat().get(rel, _EMPTY)
                return out
            return get

        def get(pkt):
            ex = pkt.extra
            if ex is not None and full in ex:
                return ex[full]
            out = []
            for layer in pkt.layers:
                if layer.proto.name == pname:
                    out += slow(layer)
            return out
        return get

    def get(pkt):
        ex = pkt.extra
        if ex is not None and full in ex and layers is None:
            return ex[full]
        out = []
        k = 0
        for layer in pkt.layers:
            hit = plan.get(layer.proto.name)
            if hit is None:
                continue
            k += 1
            if layers is not None and not layers(k):
                continue
            g, rel, slow = hit
            v = layer.v
            if g is not None and v is not None:
                out.append(g(v))
            elif g is not None:
                out += layer.flat().get(rel, _EMPTY)
            else:
                out += slow(layer)
        return out
    return get


def _proto_getter(name, layers=None):
    def get(pkt):
        if layers is None:
            return [layer for layer in pkt.layers if layer.proto.name == name]
        out, k = [], 0
        for layer in pkt.layers:
            if layer.proto.name == name:
                k += 1
                if layers(k):
                    out.append(layer)
        return out
    return get


def _frame_getter(name, clock, registry):
    def extra_first(fn):
        def get(pkt):
            ex = pkt.extra
            if ex is not None and name in ex:
                return ex[name]
            return fn(pkt)
        return get

    if name == "frame":
        return lambda pkt: [bytes(pkt.frame.data)]
    if name == "frame.len":
        return extra_first(lambda pkt: [pkt.frame.orig_len])
    if name == "frame.cap_len":
        return extra_first(lambda pkt: [len(pkt.frame.data)])
    if name == "frame.number":
        return extra_first(lambda pkt: [pkt.number])
    if name == "frame.time_epoch":
        return extra_first(lambda pkt: [pkt.frame.ts_ns / NS])
    if name == "frame.interface_id":
        return extra_first(lambda pkt: [pkt.frame.interface])
    if name == "frame.comment":
        return extra_first(lambda pkt: [pkt.frame.comment] if pkt.frame.comment else [])
    if name == "frame.time_relative":
        def rel(pkt):
            ts = pkt.frame.ts_ns
            first = clock.first
            return [(ts - (ts if first is None else first)) / NS]
        return extra_first(rel)
    if name == "frame.time_delta":
        def delta(pkt):
            ts = pkt.frame.ts_ns
            prev = clock.prev if clock.cur == ts else clock.cur
            return [(ts - (ts if prev is None else prev)) / NS]
        return extra_first(delta)
    if name == "frame.protocols":
        try:
            from decoder.fields import protocols_text
            ethertype = {p.name for p in registry.tables.get("ethertype", {}).values()}
            return extra_first(lambda pkt: [protocols_text([l.proto for l in pkt.layers], bool(pkt.data), ethertype)])
        except ImportError:  # pragma: no cover - decoder.fields is optional here
            return extra_first(lambda pkt: [":".join(l.proto.name for l in pkt.layers)])
    if name == "data":
        return lambda pkt: [pkt.data] if pkt.data_end > pkt.data_off else []
    if name == "data.data":
        return extra_first(lambda pkt: [pkt.data] if pkt.data_end > pkt.data_off else [])
    if name == "data.len":
        return extra_first(lambda pkt: [pkt.data_end - pkt.data_off] if pkt.data_end > pkt.data_off else [])
    raise KeyError(name)


def _resolve(registry, name, clock, layers=None) -> Field | None:
    """The :class:`Field` for a full name (no scope prefix), or None when unknown."""
    if clock is None:
        clock = Clock()
    owners = [o for o in _owners(registry, name) if o[1] != ""] if (
        name in registry.fields or name in getattr(registry, "field_owners", ())) else []
    if owners:
        proto, rel = owners[0]
        ftype, enum, size, lo, hi = _registry_type(proto, rel)
        return Field(name, ftype, _layer_getter(owners, name, layers), enum, size, lo, hi)
    if name in registry.protocols:
        return Field(name, PROTO, _proto_getter(name, layers))
    if layers is not None:
        return None
    if name in _extra():
        def get(pkt, name=name):
            ex = pkt.extra
            return ex.get(name, _EMPTY) if ex is not None else _EMPTY
        return Field(name, _EXTRA[name], get)
    if name in _FRAME:
        ftype, size = _FRAME[name]
        lo, hi = (0, (1 << (8 * size)) - 1) if ftype == INT and size else (None, None)
        return Field(name, ftype, _frame_getter(name, clock, registry), None, size, lo, hi)
    return None


# -- literals -----------------------------------------------------------------------------------

class Const:
    """A literal not yet typed: it takes the type of the field it meets.

    ``kind``: ``word`` (unquoted text, or a name that is no field), ``string``, ``char``
    (``value`` is the code), ``py`` (a parameter's Python value)."""

    __slots__ = ("kind", "text", "value", "column", "shaped")

    def __init__(self, kind, text, value=None, column=None, shaped=False):
        self.kind, self.text, self.value, self.column, self.shaped = kind, text, value, column, shaped

    def __repr__(self):
        return f"<Const {self.kind} {self.text!r}>"


class Dyn:
    """A value computed per packet: ``get(ctx) -> list`` of occurrences of type ``type``."""

    __slots__ = ("get", "type", "field", "column", "truthy", "text", "is_field")

    def __init__(self, get, ftype, field=None, column=None, truthy=False, text="", is_field=False):
        self.get, self.type, self.field, self.column, self.truthy = get, ftype, field, column, truthy
        self.text, self.is_field = text, is_field

    def __repr__(self):
        return f"<Dyn {self.text} {self.type}>"


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39, "?": 63}


def unescape(body: str, column=None) -> tuple[str, bytes]:
    """C-style escapes of a string literal: ``(text, octets)``; ``\\xhh`` and octal escapes
    are single octets, other characters UTF-8."""
    chars, octets = [], bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            chars.append(c)
            octets += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        i += 1
        if i >= n:
            raise FilterError("string ends with a lone backslash", column)
        c = body[i]
        if c in _ESCAPES:
            chars.append(chr(_ESCAPES[c]))
            octets.append(_ESCAPES[c])
            i += 1
        elif c == "x":
            m = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 1:])
            if not m:
                raise FilterError("\\x needs hex digits in a string", column)
            b = int(m.group(), 16)
            chars.append(chr(b))
            octets.append(b)
            i += 1 + len(m.group())
        elif c in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i:])
            b = int(m.group(), 8)
            if b > 255:
                raise FilterError(f"octal escape \\{m.group()} is above \\377", column)
            chars.append(chr(b))
            octets.append(b)
            i += len(m.group())
        elif c in "uU":
            k = 4 if c == "u" else 8
            m = re.match(r"[0-9A-Fa-f]{%d}" % k, body[i + 1:])
            if not m:
                raise FilterError(f"\\{c} needs {k} hex digits in a string", column)
            ch = chr(int(m.group(), 16))
            chars.append(ch)
            octets += ch.encode("utf-8", "surrogatepass")
            i += 1 + k
        else:
            raise FilterError(f"unknown escape \\{c} in a string", column)
    return "".join(chars), bytes(octets)


_INT_RE = re.compile(r"[+-]?(?:0[xX][0-9A-Fa-f]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEXBYTES_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+\Z")


def parse_int(text: str):
    if not _INT_RE.match(text):
        return None
    neg = text.startswith("-")
    s = text.lstrip("+-")
    if s[:2] in ("0x", "0X"):
        v = int(s[2:], 16)
    elif s[:2] in ("0b", "0B"):
        v = int(s[2:], 2)
    elif len(s) > 1 and s[0] == "0":
        v = int(s, 8)
    else:
        v = int(s)
    return -v if neg else v


def parse_bytes(text: str):
    """``aa:bb:cc``, ``aa-bb-cc``, ``aabb.ccdd``, ``aabbcc``, ``:ff``, ``0xff`` -> bytes, or None."""
    t = text
    if t.startswith(("0x", "0X")) and _HEXBYTES_RE.match(t[2:]):
        return bytes.fromhex(t[2:])
    if t.startswith(":"):
        t = t[1:]
    if not t:
        return None
    for sep in ":-.":
        if sep in t:
            parts = t.split(sep)
            if any(not p or not re.fullmatch(r"[0-9A-Fa-f]+", p) for p in parts):
                return None
            if sep != "." and all(len(p) <= 2 for p in parts):
                return bytes(int(p, 16) for p in parts)
            if all(len(p) % 2 == 0 for p in parts):
                return bytes.fromhex("".join(parts))
            return None
    return bytes.fromhex(t) if _HEXBYTES_RE.match(t) else None


_STATUS_NAMES = {"good": "good", "bad": "bad", "unverified": "unverified", "not present": "not present",
                 "not_present": "not present", "notpresent": "not present"}
_STATUS_CODES = {0: "bad", 1: "good", 2: "unverified", 3: "not present"}   # Wireshark's enum


class _Net:
    """An address range from a CIDR literal: ``contains(value_text)``."""

    __slots__ = ("key", "net", "mask", "text")

    def __init__(self, key, net, mask, text):
        self.key, self.net, self.mask, self.text = key, net, mask, text

    def contains(self, v) -> bool:
        return (self.key(v) & self.mask) == self.net


def _desc(field: Field | None, ftype: str) -> str:
    return f"{field.name} ({_TYPE_TEXT[ftype]})" if field is not None else _TYPE_TEXT[ftype]


def coerce(const: Const, ftype: str, field: Field | None = None):
    """The literal as a value of type ``ftype`` (the run-time form, or a :class:`_Net`)."""
    kind, text, col = const.kind, const.text, const.column
    value = const.value

    def bad(why=""):
        extra = f": {why}" if why else ""
        return FilterError(f"{text!r} is not a valid value for {_desc(field, ftype)}{extra}", col)

    if kind == "py" and not isinstance(value, str):
        if ftype in (INT, BOOL) and isinstance(value, int):
            v = int(value)
            return int(bool(v)) if ftype == BOOL else _check_range(v, field, const)
        if ftype == FLOAT and isinstance(value, (int, float)):
            return float(value)
        if ftype in (BYTES,) and isinstance(value, (bytes, bytearray)):
            return bytes(value)
        text = str(value)
        kind = "word"
    elif kind == "py":
        if ftype in (BYTES, PROTO) and parse_bytes(value) is None:
            return value.encode("utf-8", "surrogateescape")
        text, kind = value, "word"

    if ftype in (INT, BOOL):
        if kind == "char":
            v = value
        elif kind == "string":
            v = _enum_value(field, value[0])
            if v is None:
                raise FilterError(f"{_desc(field, ftype)} cannot be compared with the string {text}"
                                  + _enum_hint(field), col)
        else:
            v = parse_int(text)
            if v is None and text in ("True", "TRUE", "true") and ftype == BOOL:
                v = 1
            elif v is None and text in ("False", "FALSE", "false") and ftype == BOOL:
                v = 0
            if v is None:
                v = _enum_value(field, text)
            if v is None:
                raise FilterError(f"{text!r} is not a valid value for {_desc(field, ftype)}" + _enum_hint(field), col)
        if ftype == BOOL:
            return int(bool(v))
        return _check_range(v, field, const)
    if ftype == FLOAT:
        if kind == "char":
            return float(value)
        if kind == "word" and _FLOAT_RE.match(text):
            return float(text)
        if kind == "word":
            v = parse_int(text)
            if v is not None:
                return float(v)
        raise bad("expected a number")
    if ftype == STR:
        if kind == "string":
            return value[0]
        if kind == "char":
            return chr(value)
        return text
    if ftype == STATUS:
        if kind == "char":
            raise bad()
        s = value[0] if kind == "string" else text
        hit = _STATUS_NAMES.get(s.lower())
        if hit is None:
            n = parse_int(s)
            hit = _STATUS_CODES.get(n) if n is not None else None
        if hit is None:
            raise bad("use good, bad, unverified or \"not present\"")
        return hit
    if ftype in (BYTES, PROTO):
        if kind == "string":
            return value[1]
        if kind == "char":
            return bytes([value & 0xFF])
        b = parse_bytes(text)
        if b is None:
            raise bad("expected octets such as 00:1a:2b or a \"string\"")
        return b
    if ftype == MAC:
        s = value[0] if kind == "string" else text
        b = parse_bytes(s) if kind != "char" else None
        if b is None:
            raise bad("expected a MAC address such as 00:1a:2b:3c:4d:5e")
        if len(b) != 6:
            raise FilterError(f"{text!r} has {len(b)} octets, a MAC address has 6", col)
        return b.hex(":")
    if ftype in (IPV4, IPV6):
        s = value[0] if kind == "string" else text
        return _parse_address(s, ftype, const, field, bad)
    if ftype == ANY:
        return const
    raise FilterError(f"{_desc(field, ftype)} has no value to compare", col)


def _parse_address(s, ftype, const, field, bad):
    ver = 4 if ftype == IPV4 else 6
    try:
        if "/" in s:
            net = ipaddress.ip_network(s, strict=False)
            if net.version != ver:
                raise ValueError
            if net.prefixlen < net.max_prefixlen:
                key = ip4int if ver == 4 else ip6int
                return _Net(key, int(net.network_address), int(net.netmask), s)
            return str(net.network_address)
        addr = ipaddress.ip_address(s)
        if addr.version != ver:
            raise ValueError
        return str(addr)
    except ValueError:
        raise bad(f"expected an {_TYPE_TEXT[ftype]}" + (" or a network such as 192.0.2.0/24" if ver == 4
                                                        else " or a network such as 2001:db8::/32")) from None


def _check_range(v, field, const):
    if field is not None and field.maxval is not None and v > field.maxval:
        raise FilterError(f"{const.text} is too big for {field.name}, maximum {field.maxval}", const.column)
    return v


def _enum_value(field, name):
    enum = field.enum if field is not None else None
    if enum is None or not isinstance(name, str):
        return None
    key = name.lower().replace("-", "_").replace(" ", "_")
    for m in enum:
        if m.name.lower() == key:
            return int(m)
    return None


def _enum_hint(field) -> str:
    if field is None or field.enum is None:
        return ""
    names = [m.name for m in field.enum]
    more = ", ..." if len(names) > 12 else ""
    return f": use a number or one of {', '.join(names[:12])}{more}"


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiouAEIOU" else "a ") + noun


def _unknown_field_message(name: str, registry=None) -> str:
    close = []
    if registry is not None:
        close = difflib.get_close_matches(name, known_fields(registry), n=1, cutoff=0.7)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field {name!r}{hint}"


# -- the compiler ---------------------------------------------------------------------------------

_OPS = {"==": ("any", "eq"), "eq": ("any", "eq"), "!=": ("all", "ne"), "ne": ("all", "ne"),
        "===": ("all", "eq"), "all_eq": ("all", "eq"), "!==": ("any", "ne"), "any_ne": ("any", "ne"),
        "~=": ("any", "ne"), "<": ("any", "lt"), "lt": ("any", "lt"), "<=": ("any", "le"), "le": ("any", "le"),
        ">": ("any", "gt"), "gt": ("any", "gt"), ">=": ("any", "ge"), "ge": ("any", "ge")}
_OPFN = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
         "ge": operator.ge}
_SWAP = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _order_key(ftype):
    """Value -> key that orders like Wireshark (None: the value itself)."""
    if ftype == IPV4:
        return ip4int
    if ftype == IPV6:
        return ip6int
    if ftype == PROTO:
        return _layer_header
    return None


def _quantify(quant, get, pred):
    if quant == "any":
        def test(ctx):
            for v in get(ctx):
                if pred(v):
                    return True
            return False
    else:
        def test(ctx):
            vals = get(ctx)
            if not vals:
                return False
            for v in vals:
                if not pred(v):
                    return False
            return True
    return test


def _safe(pred):
    def safe(v):
        try:
            return pred(v)
        except (TypeError, ValueError, OSError, AttributeError):
            return False
    return safe


class _DynamicLiteral:
    """A literal compared with values whose type is only known at run time (virtual
    fields computed by functions): converted once per Python type met."""

    def __init__(self, const: Const):
        self.const = const
        self.cache: dict = {}

    def convert(self, v):
        t = type(v)
        hit = self.cache.get(t, self)
        if hit is self:
            hit = self.cache[t] = self._convert(v)
        return hit

    def _convert(self, v):
        c = self.const
        try:
            if isinstance(v, bool):
                return coerce(c, BOOL, None), None
            if isinstance(v, enum.IntEnum):
                return coerce(c, INT, Field("", INT, None, enum=type(v))), None
            if isinstance(v, int):
                return coerce(c, INT, None), None
            if isinstance(v, float):
                return coerce(c, FLOAT, None), None
            if isinstance(v, (bytes, bytearray)):
                return coerce(c, BYTES, None), None
            if isinstance(v, str):
                return None, None      # decided per value: addresses or text
        except FilterError:
            return None, "bad"
        return None, "bad"

    def compare(self, v, fn):
        lit, state = self.convert(v)
        if state == "bad":
            return False
        if lit is not None:
            return fn(v, lit)
        return self._compare_text(v, fn)

    def _compare_text(self, v, fn):
        c = self.const
        text = c.value[0] if c.kind == "string" else chr(c.value) if c.kind == "char" else (
            c.value if c.kind == "py" and isinstance(c.value, str) else str(c.value) if c.kind == "py" else c.text)
        if c.kind != "string" and ("." in v or ":" in v):
            for ftype in (IPV4, IPV6, MAC):
                try:
                    lit = coerce(Const("word", text, None, c.column), ftype, None)
                    key = _order_key(ftype)
                    if isinstance(lit, _Net):
                        if fn is operator.eq:
                            return lit.contains(v)
                        if fn is operator.ne:
                            return not lit.contains(v)
                        return False
                    if key is not None:
                        return fn(key(v), key(lit))
                    return fn(v.lower(), lit)
                except (FilterError, OSError, ValueError):
                    continue
        return fn(v, text)


class Compiler:
    """Turns parse trees into closures ``test(ctx) -> bool``.

    :param registry: the :class:`decoder.registry.Registry` fields are resolved in
    :param params: values for ``$name`` parameters
    :param scopes: prefix -> ``fn(ctx) -> Packet | None`` for sequence rules (``A.ip.id``);
        the other fields are read from ``default_scope(ctx)`` (default: ``ctx`` is the packet)
    :param clock: an object with ``first``/``prev``/``cur`` timestamps (ns) for
        ``frame.time_relative``/``frame.time_delta`` — e.g. ``decoder.fields.Clock`` that the
        caller ticks; without one, the compiled :class:`Filter` ticks its own on each packet.

    Subclasses may override :meth:`resolve_field` to give field paths other meanings.
    """

    def __init__(self, registry, params=None, scopes=None, default_scope=None, clock=None):
        self.registry = registry
        self.params = dict(params or {})
        self.scopes = dict(scopes or {})
        self.default_scope = default_scope
        self.own_clock = clock is None
        self.clock = clock if clock is not None else Clock()
        self.fields: set[str] = set()
        self.uses_clock = False

    # -- entry points ------------------------------------------------------------------------------

    def compile(self, tree) -> Callable[[Any], bool]:
        return self.test(tree)

    # -- field resolution --------------------------------------------------------------------------

    def resolve_field(self, path: str, column=None, layers=None) -> Field | None:
        """A field path (with an optional scope prefix) -> :class:`Field`, or None if unknown."""
        parts = path.split(".")
        scope = None
        if len(parts) > 1 and parts[0] in self.scopes:
            scope = self.scopes[parts[0]]
            path = ".".join(parts[1:])
        f = _resolve(self.registry, path, self.clock, layers)
        if f is None:
            return None
        self.fields.add(path)
        if path in _CLOCKED:
            self.uses_clock = True
        if scope is None:
            scope = self.default_scope
        if scope is not None:
            inner = f.get

            def get(ctx, inner=inner, scope=scope):
                pkt = scope(ctx)
                return inner(pkt) if pkt is not None else _EMPTY
            f.get = get
        return f

    def _unknown(self, name, column):
        parts = name.split(".")
        if len(parts) > 1 and parts[0] in self.scopes:
            msg = _unknown_field_message(".".join(parts[1:]), self.registry)
            msg = msg.replace(f"'{'.'.join(parts[1:])}'", f"'{name}'", 1).replace("mean '", f"mean '{parts[0]}.")
            return FilterError(msg, column)
        return FilterError(_unknown_field_message(name, self.registry), column)

    def _coerce(self, const, ftype, field):
        """:func:`coerce`, reporting a dotted name that fits no type as an unknown field."""
        try:
            return coerce(const, ftype, field)
        except FilterError:
            if const.shaped and "." in const.text:
                raise self._unknown(const.text, const.column) from None
            raise

    # -- tests ----------------------------------------------------------------------------------

    def test(self, tree):
        if isinstance(tree, Token):
            raise FilterError(f"unexpected {str(tree)!r}", tree.column)
        kind = str(tree.data).rsplit("__", 1)[-1]
        ch = tree.children
        if kind in ("start", "expr"):
            return self.test(ch[0])
        if kind == "or_test":
            a, b = self.test(ch[0]), self.test(ch[1])
            return lambda ctx: a(ctx) or b(ctx)
        if kind == "and_test":
            a, b = self.test(ch[0]), self.test(ch[1])
            return lambda ctx: a(ctx) and b(ctx)
        if kind == "xor_test":
            a, b = self.test(ch[0]), self.test(ch[1])
            return lambda ctx: bool(a(ctx)) != bool(b(ctx))
        if kind == "not_test":
            a = self.test(ch[0])
            return lambda ctx: not a(ctx)
        if kind == "exists":
            return self._exists(self.value(ch[0]))
        if kind == "compare":
            quant, left, op, right = ch
            return self._compare(quant, self.value(left), self._op(op), self.value(right))
        if kind == "contains":
            quant, left, right = ch
            return self._contains(quant, self.value(left), self.value(right))
        if kind == "matches":
            quant, left, right = ch
            return self._matches(quant, self.value(left), self.value(right))
        if kind == "member":
            return self._member(self.value(ch[0]), ch[1])
        if kind == "not_member":
            t = self._member(self.value(ch[0]), ch[1])
            return lambda ctx: not t(ctx)
        # a value where a test is expected (the grammar's `exists` covers fields)
        return self._exists(self.value(tree))

    @staticmethod
    def _op(tree) -> str:
        return str(tree.children[0]) if isinstance(tree, Tree) else str(tree)

    @staticmethod
    def _quant(tree, default):
        if tree is None:
            return default
        return str(tree.children[0]) if isinstance(tree, Tree) else str(tree)

    def _exists(self, v):
        if isinstance(v, Const):
            if v.shaped:
                raise self._unknown(v.text, v.column)
            raise FilterError(f"{v.text!r} is a value, not a test: compare it with a field", v.column)
        get = v.get
        if v.truthy:
            def test(ctx):
                for x in get(ctx):
                    if x:
                        return True
                return False
            return test
        return lambda ctx: len(get(ctx)) > 0

    # -- comparisons ------------------------------------------------------------------------------

    def _literalize(self, a, b):
        """A protocol name met by an enumerated or text field is a literal: ``ip.proto == tcp``."""
        if isinstance(a, Dyn) and isinstance(b, Dyn) and b.is_field and b.type == PROTO and b.field is not None \
                and "." not in b.text and a.type in (INT, BOOL, STR, STATUS) and (
                    a.type == STR or _enum_value(a.field, b.text) is not None):
            return Const("word", b.text, None, b.column, shaped=True)
        return b

    def _compare(self, quant_tree, left, op, right):
        quant, name = _OPS[op]
        quant = self._quant(quant_tree, quant)
        right = self._literalize(left, right)
        left = self._literalize(right, left)
        if isinstance(left, Const) and isinstance(right, Const):
            self._both_constant(left, right, op)
        if isinstance(left, Const):
            left, right, name = right, left, _SWAP[name]
        self._comparable(left, op)
        fn = _OPFN[name]
        get = left.get
        if isinstance(right, Dyn):
            self._comparable(right, op)
            ka, kb = self._pair_keys(left, right, op)
            rget = right.get

            def pairs_any(ctx):
                bs = rget(ctx)
                if not bs:
                    return False
                for a in get(ctx):
                    x = ka(a)
                    for b in bs:
                        if fn(x, kb(b)):
                            return True
                return False

            def pairs_all(ctx):
                aa, bs = get(ctx), rget(ctx)
                if not aa or not bs:
                    return False
                for a in aa:
                    x = ka(a)
                    for b in bs:
                        if not fn(x, kb(b)):
                            return False
                return True
            test = pairs_any if quant == "any" else pairs_all
            if left.type == ANY or right.type == ANY:
                inner = test

                def test(ctx):
                    try:
                        return inner(ctx)
                    except (TypeError, ValueError, OSError):
                        return False
            return test
        ftype = left.type
        lit = self._coerce(right, ftype, left.field)
        if ftype == ANY:
            dl = _DynamicLiteral(lit)
            return _quantify(quant, get, _safe(lambda v: dl.compare(v, fn)))
        if isinstance(lit, _Net):
            if name not in ("eq", "ne"):
                raise FilterError(f"a network ({lit.text}) can only be compared with == or !=", right.column)
            contains = lit.contains
            pred = contains if name == "eq" else (lambda v: not contains(v))
            return _quantify(quant, get, pred)
        if ftype == PROTO:
            key = _layer_header
            return _quantify(quant, get, lambda v: fn(key(v), lit))
        key = _order_key(ftype) if name not in ("eq", "ne") else None
        if key is not None:
            klit = key(lit)
            return _quantify(quant, get, lambda v: fn(key(v), klit))
        # the hot path: equality is list membership, done in C
        if name == "eq" and quant == "any":
            return lambda ctx: lit in get(ctx)
        if name == "ne" and quant == "all":
            def all_ne(ctx):
                vals = get(ctx)
                return len(vals) > 0 and lit not in vals
            return all_ne
        if name == "eq":
            return _quantify(quant, get, lambda v: v == lit)
        if name == "ne":
            return _quantify(quant, get, lambda v: v != lit)
        return _quantify(quant, get, lambda v: fn(v, lit))

    def _both_constant(self, left, right, op):
        for c in (left, right):
            if c.shaped:
                raise self._unknown(c.text, c.column)
        for c in (left, right):
            m = re.match(r"([A-Za-z_][A-Za-z0-9_.]*)([-/])(.+)", c.text) if c.kind == "word" else None
            if m and self._is_known(m.group(1)):
                raise FilterError(f"{c.text!r} is not a field: write {m.group(1)} {m.group(2)} {m.group(3)} "
                                  f"with spaces for arithmetic", c.column)
        raise FilterError(f"neither side of {op!r} is a field", left.column)

    def _comparable(self, v: Dyn, op):
        if v.type == NONE:
            raise FilterError(f"{v.text} is a label without a value: test it alone, not with {op!r}", v.column)

    def _pair_keys(self, a: Dyn, b: Dyn, op):
        ta, tb = a.type, b.type
        ident = (lambda x: x)
        if ta == ANY or tb == ANY:
            return ident, ident
        if ta in _NUMERIC and tb in _NUMERIC:
            return ident, ident
        if ta == tb and ta in (STR, STATUS, BYTES, MAC):
            return ident, ident
        if ta == tb and ta in (IPV4, IPV6):
            k = _order_key(ta)
            return k, k
        if ta in _BYTESLIKE + (BYTES,) and tb in _BYTESLIKE + (BYTES,):
            fa, fb = _to_bytes_fn(ta), _to_bytes_fn(tb)
            return fa or ident, fb or ident
        raise FilterError(f"{a.text} ({_TYPE_TEXT[ta]}) and {b.text} ({_TYPE_TEXT[tb]}) are not of compatible types",
                          b.column)

    def _contains(self, quant_tree, left, right):
        quant = self._quant(quant_tree, "any")
        if isinstance(left, Const):
            if left.shaped:
                raise self._unknown(left.text, left.column)
            raise FilterError("the left side of 'contains' must be a field", left.column)
        right = self._literalize(left, right)
        ftype = left.type
        if ftype in (STR, STATUS):
            conv = None
            want = STR
        elif ftype in (BYTES, MAC, PROTO):
            conv = _layer_all if ftype == PROTO else _to_bytes_fn(ftype)
            want = BYTES
        elif ftype == ANY:
            conv, want = None, ANY
        else:
            raise FilterError(f"{left.text} ({_TYPE_TEXT[ftype]}) cannot be used with 'contains'", left.column)
        get = left.get
        if isinstance(right, Dyn):
            rt = right.type
            if want == STR and rt not in (STR, STATUS, ANY) or want == BYTES and rt not in _BYTESLIKE + (STR,):
                raise FilterError(f"{left.text} and {right.text} are not of compatible types for 'contains'",
                                  right.column)
            rconv = (_to_bytes_fn(rt) or (lambda x: x)) if want == BYTES else (lambda x: x)
            lconv = conv or (lambda x: x)
            rget = right.get

            def test(ctx):
                subs = [rconv(b) for b in rget(ctx)]
                if not subs:
                    return False
                vals = [lconv(a) for a in get(ctx)]
                if quant == "any":
                    return any(s in v for v in vals for s in subs)
                return bool(vals) and all(s in v for v in vals for s in subs)
            return _guard(test) if want == ANY or rt == ANY else test
        if want == ANY:
            c = right
            sub_b = None
            try:
                sub_b = self._coerce(c, BYTES, None)
            except FilterError:
                pass
            sub_s = c.value[0] if c.kind == "string" else chr(c.value) if c.kind == "char" else (
                str(c.value) if c.kind == "py" else c.text)

            def pred(v):
                if isinstance(v, str):
                    return sub_s in v
                if isinstance(v, (bytes, bytearray)) and sub_b is not None:
                    return sub_b in v
                return False
            return _quantify(quant, get, pred)
        sub = self._coerce(right, want, left.field if want == STR else None)
        if conv is None:
            return _quantify(quant, get, lambda v: sub in v)
        return _quantify(quant, get, lambda v: sub in conv(v))

    def _matches(self, quant_tree, left, right):
        quant = self._quant(quant_tree, "any")
        if isinstance(left, Const):
            if left.shaped:
                raise self._unknown(left.text, left.column)
            raise FilterError("the left side of 'matches' must be a field", left.column)
        if not isinstance(right, Const) or right.kind not in ("string", "py") or (
                right.kind == "py" and not isinstance(right.value, str)):
            raise FilterError("'matches' needs a regular expression in quotes", getattr(right, "column", None))
        pattern = right.value[0] if right.kind == "string" else right.value
        flags = re.IGNORECASE
        if pattern.startswith("(?-i)"):
            pattern, flags = pattern[5:], 0
        ftype = left.type
        try:
            rx_s = re.compile(pattern, flags)
            rx_b = re.compile(pattern.encode("utf-8", "surrogateescape"), flags)
        except re.error as e:
            raise FilterError(f"bad regular expression {right.text}: {e}", right.column) from None
        get = left.get
        if ftype in (STR, STATUS):
            search = rx_s.search
            return _quantify(quant, get, lambda v: search(v) is not None)
        if ftype in (BYTES, PROTO, MAC):
            search = rx_b.search
            conv = _layer_all if ftype == PROTO else _to_bytes_fn(ftype)
            if conv is None:
                return _quantify(quant, get, lambda v: search(v) is not None)
            return _quantify(quant, get, lambda v: search(conv(v)) is not None)
        if ftype == ANY:
            def pred(v):
                if isinstance(v, str):
                    return rx_s.search(v) is not None
                if isinstance(v, (bytes, bytearray)):
                    return rx_b.search(v) is not None
                return False
            return _quantify(quant, get, pred)
        raise FilterError(f"{left.text} ({_TYPE_TEXT[ftype]}) cannot be used with 'matches'", left.column)

    def _member(self, left, set_tree):
        if isinstance(left, Const):
            if left.shaped:
                raise self._unknown(left.text, left.column)
            raise FilterError("the left side of 'in' must be a field", left.column)
        self._comparable(left, "in")
        ftype = left.type
        eq_values, preds, dyn_items = set(), [], []
        for item in set_tree.children:
            iname = str(item.data).rsplit("__", 1)[-1] if isinstance(item, Tree) else ""
            if iname == "range_item":
                lo, hi = self.value(item.children[0]), self.value(item.children[1])
                lo, hi = self._literalize(left, lo), self._literalize(left, hi)
                if not isinstance(lo, Const) or not isinstance(hi, Const):
                    raise FilterError("a range in a set needs two values", getattr(lo, "column", None))
                preds.append(self._range_pred(left, lo, hi))
                continue
            v = self._literalize(left, self.value(item))
            if isinstance(v, Dyn):
                self._pair_keys(left, v, "in")
                dyn_items.append(v)
                continue
            consts = [v]
            if v.kind == "py" and isinstance(v.value, (list, tuple, set, frozenset)):
                consts = [Const("py", str(x), x, v.column) for x in v.value]
            for c in consts:
                lit = self._coerce(c, ftype, left.field)
                if ftype == ANY:
                    dl = _DynamicLiteral(lit)
                    preds.append(_safe(lambda x, dl=dl: dl.compare(x, operator.eq)))
                elif isinstance(lit, _Net):
                    preds.append(lit.contains)
                elif ftype == PROTO:
                    preds.append(lambda x, lit=lit: _layer_header(x) == lit)
                else:
                    eq_values.add(lit)
        get = left.get
        eq = frozenset(eq_values)
        if not preds and not dyn_items:
            def test(ctx):
                for x in get(ctx):
                    if x in eq:
                        return True
                return False
            return test
        preds = tuple(preds)
        ka = _order_key(ftype) if ftype in (IPV4, IPV6) else None

        def test(ctx):
            vals = get(ctx)
            if not vals:
                return False
            others = None
            for x in vals:
                if x in eq:
                    return True
                for p in preds:
                    if p(x):
                        return True
                if dyn_items:
                    if others is None:
                        others = [y for d in dyn_items for y in d.get(ctx)]
                    kx = ka(x) if ka else x
                    for y in others:
                        if (ka(y) if ka else y) == kx:
                            return True
            return False
        return test

    def _range_pred(self, left, lo, hi):
        ftype = left.type
        if ftype in (BYTES, MAC, STR, STATUS, PROTO, NONE):
            raise FilterError(f"ranges need numbers or addresses, not {_TYPE_TEXT[ftype]}", lo.column)
        if ftype == ANY:
            dlo, dhi = _DynamicLiteral(lo), _DynamicLiteral(hi)
            return _safe(lambda x: dlo.compare(x, operator.ge) and dhi.compare(x, operator.le))
        a, b = self._coerce(lo, ftype, left.field), self._coerce(hi, ftype, left.field)
        for bound, c in ((a, lo), (b, hi)):
            if isinstance(bound, _Net):
                raise FilterError("a range bound must be an address, not a network", c.column)
        key = _order_key(ftype)
        if key is not None:
            ka, kb = key(a), key(b)
            return lambda x: ka <= key(x) <= kb
        return lambda x: a <= x <= b

    # -- values ---------------------------------------------------------------------------------------

    def value(self, tree):
        """A value expression -> :class:`Dyn` (per packet) or :class:`Const` (a literal)."""
        if isinstance(tree, Token):
            raise FilterError(f"unexpected {str(tree)!r}", tree.column)
        kind = str(tree.data).rsplit("__", 1)[-1]
        ch = tree.children
        if kind == "field":
            return self._field(ch[0], ch[1])
        if kind == "literal":
            tok = ch[0]
            return Const("word", str(tok), None, tok.column)
        if kind == "string":
            tok = ch[0]
            return Const("string", str(tok), unescape(str(tok)[1:-1], tok.column), tok.column)
        if kind == "raw_string":
            tok = ch[0]
            body = str(tok)[2:-1]
            return Const("string", str(tok), (body, body.encode("utf-8", "surrogateescape")), tok.column)
        if kind == "char":
            tok = ch[0]
            text, octets = unescape(str(tok)[1:-1], tok.column)
            if len(text) != 1:
                raise FilterError(f"{str(tok)} is not one character", tok.column)
            return Const("char", str(tok), ord(text), tok.column)
        if kind == "param":
            tok = ch[0]
            name = str(tok)[1:]
            if name not in self.params:
                raise FilterError(unknown_param(name, self.params), tok.column)
            return Const("py", str(tok), self.params[name], tok.column)
        if kind == "slice":
            return self._slice(self.value(ch[0]), ch[1])
        if kind == "call":
            return self._call(ch[0], [c for c in ch[1:] if c is not None])
        if kind == "neg":
            return self._neg(self.value(ch[1]), ch[0])
        if kind == "arith":
            return self._arith(self.value(ch[0]), str(ch[1]), self.value(ch[2]), ch[1])
        if kind == "bitand":
            return self._bitand(self.value(ch[0]), self.value(ch[1]))
        if kind in ("atom", "value", "unary", "sum", "product"):
            return self.value(ch[0])
        raise FilterError(f"a test ({kind}) cannot be used as a value; group arithmetic with {{ }}",
                          _first_column(tree))

    def _field(self, tok, layer_spec):
        path = str(tok)
        layers = None
        if layer_spec is not None:
            layers = self._layers(layer_spec)
        f = self.resolve_field(path, tok.column, layers)
        if f is None:
            if layers is not None:
                raise self._unknown(path, tok.column) if not self._is_known(path) else FilterError(
                    f"{path}: the layer operator # applies to protocol fields only", tok.column)
            return Const("word", path, None, tok.column, shaped=True)
        return Dyn(f.get, f.type, f, tok.column, text=path, is_field=True)

    def _is_known(self, path):
        parts = path.split(".")
        if len(parts) > 1 and parts[0] in self.scopes:
            path = ".".join(parts[1:])
        return _resolve(self.registry, path, self.clock) is not None

    def _layers(self, spec):
        if isinstance(spec, Token):
            n = int(spec)
            if n < 1:
                raise FilterError("layers are numbered from 1", spec.column)
            return lambda k: k == n
        ranges = _ranges(spec)
        for start, stop, _ in ranges:
            if start < 0 or (stop is not None and stop < 0):
                raise FilterError("layers are numbered from 1", _first_column(spec))

        def sel(k):
            for start, stop, length in ranges:
                if length is not None:
                    if start <= k < start + length:
                        return True
                elif stop is None:
                    if k >= start:
                        return True
                elif start <= k <= stop:
                    return True
            return False
        return sel

    def _slice(self, v, ranges_tree):
        if isinstance(v, Const):
            if v.shaped:
                raise self._unknown(v.text, v.column)
            raise FilterError("only fields can be sliced", v.column)
        conv = _to_bytes_fn(v.type)
        if conv is False:
            raise FilterError(f"{v.text} is {_a(_TYPE_TEXT[v.type])} and cannot be sliced into octets", v.column)
        cut = _slicer(_ranges(ranges_tree))
        get = v.get
        if conv is None:
            def sget(ctx):
                out = []
                for x in get(ctx):
                    s = cut(x)
                    if s is not None:
                        out.append(s)
                return out
        else:
            def sget(ctx):
                out = []
                for x in get(ctx):
                    try:
                        s = cut(conv(x))
                    except (TypeError, ValueError, OSError):
                        continue
                    if s is not None:
                        out.append(s)
                return out
        text = f"{v.text}[{','.join(str(t) for t in ranges_tree.children)}]"
        return Dyn(sget, BYTES, Field(text, BYTES, sget), v.column, text=text)

    def _call(self, name_tok, args):
        name = str(name_tok)
        fn = FUNCTIONS.get(name)
        if fn is None:
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise FilterError(f"unknown function {name}(){hint}; functions: {', '.join(sorted(FUNCTIONS))}",
                              name_tok.column)
        return fn(self, [self.value(a) for a in args], name_tok.column)

    def _neg(self, v, tok):
        if isinstance(v, Const):
            if v.kind == "word":
                return Const("word", "-" + v.text, None, tok.column)
            if v.kind == "py" and isinstance(v.value, (int, float)) and not isinstance(v.value, bool):
                return Const("py", "-" + v.text, -v.value, tok.column)
            raise FilterError(f"cannot negate {v.text}", tok.column)
        self._numeric(v, "-")
        get = v.get
        return Dyn(lambda ctx: [-x for x in get(ctx)], v.type if v.type != BOOL else INT, None, tok.column,
                   truthy=True, text=f"-{v.text}")

    def _numeric(self, v: Dyn, op):
        if v.type not in _NUMERIC and v.type != ANY:
            raise FilterError(f"{v.text} ({_TYPE_TEXT[v.type]}) cannot be used with {op!r}", v.column)

    def _arith(self, a, op, b, tok):
        fn = _ARITH[op]
        if isinstance(a, Const) and isinstance(b, Const):
            x, y = _number(a), _number(b)
            try:
                r = fn(x, y)
            except ZeroDivisionError:
                raise FilterError("division by zero", tok.column) from None
            return Const("py", f"{a.text} {op} {b.text}", r, a.column)
        for side in (a, b):
            if isinstance(side, Dyn):
                self._numeric(side, op)
        if isinstance(a, Const) or isinstance(b, Const):
            dyn, const, dyn_left = (b, a, False) if isinstance(a, Const) else (a, b, True)
            rtype = dyn.type if dyn.type != BOOL else INT
            k = _number(const)
            if isinstance(k, float) and rtype == INT:
                rtype = FLOAT
            get = dyn.get

            def aget(ctx):
                out = []
                for x in get(ctx):
                    try:
                        out.append(fn(x, k) if dyn_left else fn(k, x))
                    except (ZeroDivisionError, TypeError):
                        pass
                return out
            return Dyn(aget, rtype, None, dyn.column, truthy=True, text=f"{a.text} {op} {b.text}")
        rtype = FLOAT if FLOAT in (a.type, b.type) else ANY if ANY in (a.type, b.type) else INT
        ga, gb = a.get, b.get

        def aget2(ctx):
            out = []
            bs = gb(ctx)
            for x in ga(ctx):
                for y in bs:
                    try:
                        out.append(fn(x, y))
                    except (ZeroDivisionError, TypeError):
                        pass
            return out
        return Dyn(aget2, rtype, None, a.column, truthy=True, text=f"{a.text} {op} {b.text}")

    def _bitand(self, a, b):
        if isinstance(a, Const) and isinstance(b, Const):
            return Const("py", f"{a.text} & {b.text}", int(_number(a)) & int(_number(b)), a.column)
        if isinstance(a, Const):
            a, b = b, a
        conv = None
        if a.type in (BYTES, MAC, PROTO):
            tob = _to_bytes_fn(a.type)
            conv = (lambda v: int.from_bytes(v, "big")) if tob is None else (
                lambda v: int.from_bytes(tob(v), "big"))
        elif a.type not in (INT, BOOL, ANY):
            raise FilterError(f"{a.text} ({_TYPE_TEXT[a.type]}) cannot be used with '&'", a.column)
        get = a.get
        if isinstance(b, Const):
            mask = self._coerce(b, INT, None) if not (b.kind == "py" and isinstance(b.value, int)) else b.value
            if conv is None:
                def bget(ctx):
                    return [x & mask for x in get(ctx)]
            else:
                def bget(ctx):
                    return [conv(x) & mask for x in get(ctx)]
        else:
            if b.type not in (INT, BOOL, ANY):
                raise FilterError(f"{b.text} ({_TYPE_TEXT[b.type]}) cannot be used with '&'", b.column)
            gb = b.get
            c = conv or (lambda v: v)

            def bget(ctx):
                bs = gb(ctx)
                return [c(x) & y for x in get(ctx) for y in bs]
        return Dyn(bget, INT, None, a.column, truthy=True, text=f"{a.text} & {getattr(b, 'text', '')}")


def _guard(test):
    def guarded(ctx):
        try:
            return test(ctx)
        except (TypeError, ValueError, OSError):
            return False
    return guarded


def _first_column(tree):
    for tok in tree.scan_values(lambda t: isinstance(t, Token)) if isinstance(tree, Tree) else [tree]:
        return tok.column
    return None


def _number(c: Const):
    if c.kind == "py" and isinstance(c.value, (int, float)):
        return c.value
    if c.kind == "char":
        return c.value
    if c.kind == "word":
        v = parse_int(c.text)
        if v is not None:
            return v
        if _FLOAT_RE.match(c.text):
            return float(c.text)
    raise FilterError(f"{c.text!r} is not a number", c.column)


def _int_div(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a / b
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _int_mod(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a % b
    return a - b * _int_div(a, b)


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": _int_div, "%": _int_mod}

_RANGE_RE = re.compile(r"(-?\d+):(-?\d*)\Z|(-?\d+)-(\d+)\Z|:(-?\d+)\Z|(-?\d+)\Z")


def _ranges(tree) -> list[tuple]:
    """``[(start, stop, length)]`` from a ``ranges`` tree (stop inclusive, or length, or
    neither: to the end)."""
    out = []
    for tok in tree.children:
        m = _RANGE_RE.match(str(tok))
        if not m:
            raise FilterError(f"bad range {str(tok)!r}", tok.column)
        if m.group(1) is not None:
            start = int(m.group(1))
            length = int(m.group(2)) if m.group(2) else None
            if length is not None and length < 0:
                raise FilterError(f"bad range {str(tok)!r}: negative length", tok.column)
            out.append((start, None, length))
        elif m.group(3) is not None:
            start, stop = int(m.group(3)), int(m.group(4))
            if start >= 0 and stop < start:
                raise FilterError(f"bad range {str(tok)!r}: end before start", tok.column)
            out.append((start, stop, None))
        elif m.group(5) is not None:
            length = int(m.group(5))
            if length < 0:
                raise FilterError(f"bad range {str(tok)!r}: negative length", tok.column)
            out.append((0, None, length))
        else:
            out.append((int(m.group(6)), None, 1))
    return out


def _slicer(ranges):
    """``cut(octets) -> octets | None`` (None when a range falls outside, as in Wireshark)."""
    def cut(b):
        n = len(b)
        parts = []
        for start, stop, length in ranges:
            s = start if start >= 0 else n + start
            if s < 0 or s > n:
                return None
            if length is not None:
                e = s + length
            elif stop is not None:
                e = (stop if stop >= 0 else n + stop) + 1
            else:
                e = n
            if e > n or e < s:
                return None
            parts.append(b[s:e])
        return parts[0] if len(parts) == 1 else b"".join(parts)
    if len(ranges) == 1 and ranges[0][0] >= 0 and ranges[0][2] is not None:
        s, _, length = ranges[0]
        e = s + length

        def cut_fixed(b):
            return b[s:e] if len(b) >= e else None
        return cut_fixed
    return cut


# -- functions --------------------------------------------------------------------------------------

def _arg_count(name, args, lo, hi, column):
    if not lo <= len(args) <= hi:
        want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi < 99 else f"at least {lo}"
        raise FilterError(f"{name}() takes {want} argument{'s' if hi != 1 else ''}, {len(args)} given", column)


def _dyn_arg(comp, name, v, column):
    if isinstance(v, Const):
        if v.shaped:
            raise comp._unknown(v.text, v.column)
        raise FilterError(f"{name}() needs a field, not the value {v.text!r}", v.column)
    return v


def _fn_len(comp, args, column):
    _arg_count("len", args, 1, 1, column)
    v = _dyn_arg(comp, "len", args[0], column)
    get, t = v.get, v.type
    if t in (BYTES, STR, STATUS):
        fn = len
    elif t == MAC:
        fn = lambda x: 6
    elif t == IPV4:
        fn = lambda x: 4
    elif t == IPV6:
        fn = lambda x: 16
    elif t == PROTO:
        fn = lambda layer: layer.hlen
    elif t in _NUMERIC and v.field is not None and v.field.size:
        size = v.field.size
        fn = lambda x: size
    elif t == ANY:
        fn = lambda x: len(x) if isinstance(x, (str, bytes, bytearray)) else None
    else:
        raise FilterError(f"len() of {v.text} ({_TYPE_TEXT[t]}) is not defined", v.column)
    return Dyn(lambda ctx: [n for n in map(fn, get(ctx)) if n is not None], INT, None, column,
               text=f"len({v.text})")


def _fn_count(comp, args, column):
    _arg_count("count", args, 1, 1, column)
    v = _dyn_arg(comp, "count", args[0], column)
    if not v.is_field:
        raise FilterError("count() needs a field", v.column)
    get = v.get
    return Dyn(lambda ctx: [len(get(ctx))], INT, None, column, text=f"count({v.text})")


def _case_fn(name, method):
    def fn(comp, args, column):
        _arg_count(name, args, 1, 1, column)
        v = _dyn_arg(comp, name, args[0], column)
        if v.type not in (STR, STATUS, ANY):
            raise FilterError(f"{name}() needs a string field, {v.text} is {_a(_TYPE_TEXT[v.type])}", v.column)
        get = v.get
        return Dyn(lambda ctx: [method(x) for x in get(ctx) if isinstance(x, str)], STR, None, column,
                   text=f"{name}({v.text})")
    return fn


def _display(t):
    if t in (INT, BOOL):
        return lambda x: str(int(x))
    if t == BYTES:
        return lambda x: x.hex(":")
    if t == PROTO:
        return lambda layer: layer.proto.name
    if t == FLOAT:
        return repr
    return str


def _fn_string(comp, args, column):
    _arg_count("string", args, 1, 1, column)
    v = _dyn_arg(comp, "string", args[0], column)
    get, conv = v.get, _display(v.type)
    return Dyn(lambda ctx: [conv(x) for x in get(ctx)], STR, None, column, text=f"string({v.text})")


def _fn_abs(comp, args, column):
    _arg_count("abs", args, 1, 1, column)
    v = _dyn_arg(comp, "abs", args[0], column)
    comp._numeric(v, "abs()")
    get = v.get
    return Dyn(lambda ctx: [abs(x) for x in get(ctx)], v.type if v.type != BOOL else INT, v.field, column,
               truthy=True, text=f"abs({v.text})")


def _extreme(name, pick):
    def fn(comp, args, column):
        _arg_count(name, args, 1, 99, column)
        vs = [_dyn_arg(comp, name, a, column) for a in args]
        types = {v.type for v in vs}
        if not (types <= set(_NUMERIC) | {ANY} or len(types) == 1):
            raise FilterError(f"{name}() needs arguments of one type", column)
        t = vs[0].type if len(types) == 1 else FLOAT if FLOAT in types else INT
        key = _order_key(t) or (lambda x: x)
        gets = [v.get for v in vs]

        def get(ctx):
            vals = [x for g in gets for x in g(ctx)]
            return [pick(vals, key=key)] if vals else []
        return Dyn(get, t if t != BOOL else INT, vs[0].field if len(vs) == 1 else None, column, truthy=True,
                   text=f"{name}(...)")
    return fn


#: name -> ``fn(compiler, [Dyn | Const], column) -> Dyn``; the rule language may add more.
FUNCTIONS: dict[str, Callable] = {
    "len": _fn_len, "count": _fn_count, "lower": _case_fn("lower", str.lower),
    "upper": _case_fn("upper", str.upper), "string": _fn_string, "abs": _fn_abs,
    "max": _extreme("max", max), "min": _extreme("min", min),
}


# -- the public API ----------------------------------------------------------------------------------

class Filter:
    """A compiled display filter: ``flt(packet) -> bool``.

    ``text`` is the source, ``fields`` the field names it reads.  When no ``clock`` was
    given to the compiler and the filter reads ``frame.time_relative``/``time_delta``, it
    keeps its own: call it on every packet in capture order (as ``-Y`` does)."""

    __slots__ = ("text", "fields", "test", "clock", "_tick", "_last")

    def __init__(self, text, test, fields, clock=None, tick=False):
        self.text, self.test, self.fields = text, test, frozenset(fields)
        self.clock, self._tick, self._last = clock, tick, None

    def __call__(self, pkt) -> bool:
        if self._tick and pkt is not self._last:
            self._last = pkt
            self.clock.tick(pkt.frame.ts_ns)
        return bool(self.test(pkt))

    def __repr__(self):
        return f"<Filter {self.text!r}>"


def compile_filter(text: str, registry, *, params=None, scopes=None, default_scope=None, clock=None) -> Filter:
    """Compile a display filter against ``registry``; raises :class:`FilterError`.

    ``params``: values of ``$name`` parameters; ``scopes``/``default_scope``: see
    :class:`Compiler`; ``clock``: shared first/previous timestamps (``decoder.fields.Clock``)."""
    tree = parse(text)
    comp = Compiler(registry, params=params, scopes=scopes, default_scope=default_scope, clock=clock)
    try:
        test = comp.compile(tree)
    except FilterError as e:
        if e.text is None:
            e.text = text
        raise
    tick = comp.own_clock and comp.uses_clock and not comp.scopes and default_scope is None
    return Filter(text, test, comp.fields, comp.clock, tick)
