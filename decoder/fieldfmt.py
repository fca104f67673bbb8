"""Field values as text, the way tshark prints the same field with ``-T fields``.

tshark's text depends on the field's declared type and display base (``tshark -G
fields``): ``eth.type`` is FT_UINT16 BASE_HEX -> ``0x0800``, ``ip.flags.df`` is
FT_BOOLEAN -> ``1``, ``ip.proto`` is FT_UINT8 BASE_DEC with a value string -> ``6``.
Each field gets a short *code* (below) from, in order:

1. :data:`decoder.tshark_bases.BASES`, generated from tshark's own declarations by
   ``tests/tools/gen_tshark_bases.py`` for every registry field tshark knows;
2. otherwise a rule on the spec itself (:func:`derived_code`): checksums, CRCs,
   multi-bit flag words and EtherType-valued fields print in hex as Wireshark always
   declares them; addresses as text; bytes as plain hex; everything else decimal.

Codes: ``d`` decimal, ``xN`` zero-padded hex of N digits, ``b`` boolean 1/0, ``B``
bytes as plain hex (``B:`` with colons), ``s`` text, ``z`` NUL-terminated text, ``e`` MAC
address, ``4`` IPv4, ``6`` IPv6, ``n`` presence only (tshark prints ``1``), ``?`` str().
"""
from __future__ import annotations

import ipaddress
import struct
from enum import IntEnum

import construct as C

from decoder import fastpath
from decoder.checksum import BAD, GOOD, NOT_PRESENT, UNVERIFIED

try:
    from decoder.tshark_bases import BASES
except ImportError:  # not generated yet
    BASES = {}

# Wireshark's proto_checksum_enum_e: what tshark prints for *.checksum.status
CHECKSUM_STATUS = {BAD: 0, GOOD: 1, UNVERIFIED: 2, NOT_PRESENT: 3}

_UINT_DIGITS = {"FT_UINT8": 2, "FT_UINT16": 4, "FT_UINT24": 6, "FT_UINT32": 8,
                "FT_UINT40": 16, "FT_UINT48": 16, "FT_UINT56": 16, "FT_UINT64": 16}
_SIMPLE = {"FT_BOOLEAN": "b", "FT_BYTES": "B", "FT_UINT_BYTES": "B", "FT_ETHER": "e",
           "FT_IPv4": "4", "FT_IPv6": "6", "FT_NONE": "n", "FT_PROTOCOL": "n",
           "FT_FRAMENUM": "d", "FT_INT8": "d", "FT_INT16": "d", "FT_INT24": "d", "FT_INT32": "d",
           "FT_INT40": "d", "FT_INT48": "d", "FT_INT56": "d", "FT_INT64": "d"}

# Last name components Wireshark always declares BASE_HEX (a type pattern, not a field list).
HEX_NAMES = ("checksum", "checksum_calculated", "crc", "flags")
# Enumerations whose numbers Wireshark shows in hex.
HEX_ENUMS = ("EtherType",)


#: Where ``tshark -G fields`` does not tell how tshark prints a field (kept tiny):
TSHARK_OVERRIDES = {
    # Same-name twin: U and S frames use an FT_UINT8 "llc.control.ftype" that -G fields
    # does not list (it prints only the first hf of a same-name chain)
    "llc.control.ftype": "x2",
    # same-name twin: the OPT pseudo-RR's payload size is an FT_UINT16 BASE_DEC "dns.rr.udp_payload_size"
    "dns.rr.udp_payload_size": "d",
    # FT_BYTES shown with SEP_COLON; -G fields prints no display for byte fields
    "ipv6cp.interface_identifier": "B:",
}


def tshark_code(ftype: str, base: str, name: str | None = None) -> str:
    """The code for a tshark field type and display base (``-G fields`` columns 4 and 6)."""
    if name in TSHARK_OVERRIDES:
        return TSHARK_OVERRIDES[name]
    if ftype in _UINT_DIGITS:
        return f"x{_UINT_DIGITS[ftype]}" if base in ("BASE_HEX", "BASE_HEX_DEC") else "d"
    if ftype.startswith(("FT_STRINGZ", "FT_UINT_STRING")):
        return "z"
    if ftype.startswith("FT_STRING"):
        return "s"
    return _SIMPLE.get(ftype, "?")


def _node_bytes(node) -> int | None:
    f = fastpath.fixed_format(node) if node is not None else None
    if f is None:
        return None
    try:
        return struct.calcsize(">" + f[0])
    except struct.error:
        return None


def derived_code(proto, rel: str) -> str:
    """A code from the spec alone, for fields tshark does not declare."""
    last = rel.rsplit(".", 1)[-1]
    if rel.endswith(".status"):
        return "d"
    if rel.endswith("_calculated") and rel[:-len("_calculated")] in proto.field_nodes:
        return derived_code(proto, rel[:-len("_calculated")])
    node, bit = proto.field_nodes.get(rel, (None, None))
    if node is None and bit is None:
        for v in proto.virtual:          # virtual: like the field it is computed from
            if v.name == rel:
                src = v.of or (v.either[0] if v.either else None)
                if src and src in proto.field_nodes and v.fn is None:
                    return derived_code(proto, src)
        return "?"
    if bit is not None:
        if bit.width == 1 and bit.enum is None:
            return "d"
        digits = 2 * ((bit.width + 7) // 8)
        if last in HEX_NAMES or (bit.enum is not None and bit.enum.__name__ in HEX_ENUMS):
            return f"x{digits}"
        return "d"
    inner = fastpath.unwrap(node)
    from specs._fields import IPv4Address, IPv6Address, MacAddress, Named
    if isinstance(inner, MacAddress):
        return "e"
    if isinstance(inner, IPv4Address):
        return "4"
    if isinstance(inner, IPv6Address):
        return "6"
    if isinstance(inner, (C.Bytes, type(C.GreedyBytes))) or inner is C.GreedyBytes:
        return "B"
    size = _node_bytes(inner)
    if size is not None and isinstance(inner, (C.FormatField, Named)):
        enum = getattr(inner, "enum", None)
        if last in HEX_NAMES or (enum is not None and enum.__name__ in HEX_ENUMS):
            return f"x{2 * size}"
        return "d"
    return "?"


def code_for(proto, rel: str, full_name: str | None = None) -> str:
    """tshark's display base of a field (``full_name``: the name it was asked by, default
    the protocol's namespace and ``rel``), else one derived from its type."""
    return BASES.get(full_name or f"{proto.namespace}.{rel}") or derived_code(proto, rel)


def _as_int(value):
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(value, "big")
    if isinstance(value, str):
        if value in CHECKSUM_STATUS:
            return CHECKSUM_STATUS[value]
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def format_value(code: str, value) -> str:
    """One value as tshark prints it under ``code``."""
    if value is None:
        return ""
    c = code[0]
    if c == "A":                      # an analysis annotation (tcp.analysis.*, tcp.stream ...)
        if value is True:
            return "1"                # FT_NONE labels: present
        if isinstance(value, float):
            return "%.9f" % value     # FT_RELATIVE_TIME
        return str(int(value)) if isinstance(value, int) else str(value)
    if c == "d":
        n = _as_int(value)
        return str(value) if n is None else "%d" % n
    if c == "x":
        n = _as_int(value)
        return str(value) if n is None else "0x%0*x" % (int(code[1:]), n)
    if c == "b":
        n = _as_int(value)
        return ("1" if value else "0") if n is None else ("1" if n else "0")
    if c == "B":
        if isinstance(value, (bytes, bytearray)):
            return value.hex(code[1]) if len(code) > 1 and value else value.hex()
        return str(value)
    if c == "e":
        return value.hex(":") if isinstance(value, (bytes, bytearray)) else str(value)
    if c == "4" or c == "6":
        if isinstance(value, (bytes, bytearray)):
            return str(ipaddress.ip_address(bytes(value)))
        return str(value)
    if c == "s" or c == "z":
        if isinstance(value, (bytes, bytearray)):
            value = value.decode("utf-8", "replace")
        # tshark 4.0 holds strings as C strings: a NUL ends any of them, not only FT_STRINGZ
        return tshark_text(str(value).split("\0", 1)[0])
    if c == "n":
        return "1"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, IntEnum):
        return "%d" % value
    return tshark_text(str(value))


_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def tshark_text(text: str) -> str:
    """Text as tshark prints it (epan/strutil.c format_text): printable characters as they
    are, ``\\r`` ``\\n`` ``\\t`` and friends as C escapes, other ASCII controls in octal,
    other unprintable characters as ``\\uXXXX`` — so a value never breaks a line or a column."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
            continue
        o = ord(ch)
        if o < 128:
            out.append(_ESCAPES.get(o) or "\\%03o" % o)
        elif o <= 0xFFFF:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    return "".join(out)


def fast_source(code: str, expr: str) -> str | None:
    """Python source that formats the prefix getter ``expr`` under ``code`` — or None when
    the value's Python type is not known statically (use :func:`format_value`)."""
    c = code[0]
    if c == "d":
        return f"'%d' % ({expr})"
    if c == "x":
        return f"'0x%0{int(code[1:])}x' % ({expr})"
    if c == "b":
        return f"('1' if ({expr}) else '0')"
    return None


def label_of(doc: str | None, fallback: str, limit: int = 40) -> str:
    """A short human label from a field doc: "Time to live (RFC 791 §3.1)" -> "Time to live"."""
    if not doc:
        return fallback
    text = doc.strip()
    if text.endswith(")") and "(" in text:          # drop the trailing citation
        text = text[:text.rindex("(")].rstrip()
    for sep in ("; ", ", "):
        if sep in text:
            text = text.split(sep, 1)[0]
    text = text.strip()
    return text if 0 < len(text) <= limit else fallback


def _layout_docs(layout) -> dict[str, str]:
    """Field name -> doc for every documented ``"name" / X * "doc"`` in a layout."""
    docs, seen = {}, set()

    def walk(sc):
        if sc is None or id(sc) in seen or not isinstance(sc, C.Construct):
            return
        seen.add(id(sc))
        if isinstance(sc, C.Renamed) and sc.name and sc.docs:
            docs.setdefault(sc.name, sc.docs)
        for attr in ("subcon", "thensubcon", "elsesubcon", "default", "type_con", "length_con"):
            walk(getattr(sc, attr, None))
        for sub in getattr(sc, "subcons", ()) or ():
            walk(sub)
        for table in (getattr(sc, "cases", None), getattr(sc, "values", None)):
            if isinstance(table, dict):
                for sub in table.values():
                    walk(sub)
    walk(layout)
    return docs


_DOCS: dict[int, dict[str, str]] = {}


def field_doc(proto, rel: str) -> str | None:
    """The spec's doc of a field (``Renamed.docs``, ``Bit.doc``, ``Virtual.doc``)."""
    node, bit = proto.field_nodes.get(rel, (None, None))
    if bit is not None:
        return bit.doc
    if rel.endswith(".status") and any(f"{r.field}.status" == rel for r in proto.checksums):
        return "Checksum verdict: good, bad, unverified or not present (tshark: 1, 0, 2, 3)"
    if rel.endswith("_calculated") and any(f"{r.field}_calculated" == rel for r in proto.checksums):
        return "Checksum the covered octets call for"
    docs = _DOCS.get(id(proto))
    if docs is None:
        docs = _DOCS[id(proto)] = _layout_docs(proto.layout)
    if rel in docs:
        return docs[rel]
    for v in proto.virtual:
        if v.name == rel:
            return v.doc
    return None
