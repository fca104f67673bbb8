"""The decode reference, generated from the registry: one page per protocol and a field index.

Everything here is read from the specs (layouts, field docs, bindings, the fixed prefix the
fast path unpacks), so the pages cannot drift from the decoder.  This module is also the
Sphinx extension that writes them (``extensions = ["decoder.reference"]``): on
``builder-inited`` it writes ``<srcdir>/<protospec_reference_dir>/`` before Sphinx reads
the sources.  :func:`build_docs` runs a whole build (``protospec docs``).
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from enum import Enum
from pathlib import Path

import construct as C

from decoder import checksum, fastpath
from decoder.registry import Registry, SpecError, layout_fields
from specs._fields import BitFields, Named, _Address
from specs._tlv import TLV

ROOT = Path(__file__).resolve().parents[1]


class DocsError(SpecError):
    """The reference cannot be generated (names the spec file and field) or Sphinx failed."""


# --- text ---------------------------------------------------------------------------------

_CITE = re.compile(r"RFC\s?(\d+)(?:\s*§\s*(\d+(?:\.\d+)*))?(?:,?\s+Appendix\s+([A-Z](?:\.\d+)*))?(?!\w)"
                   r"|(draft-[a-z0-9-]+[a-z0-9])")
_LITERAL = re.compile(r"``.+?``")


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_|])", r"\\\1", text)


def _link(text: str, url: str, before: str, after: str) -> str:
    link = f"`{text} <{url}>`__"
    if before and not before.isspace() and before not in "([{'\"-/:":
        link = "\\ " + link
    if after and not after.isspace() and after not in ".,;:)]}!?'\"-/":
        link += "\\ "
    return link


def rst_text(text: str) -> str:
    """Plain text as inline rst: special characters escaped, ````literals```` kept, RFC
    citations ("RFC 791 §3.1") turned into links to the RFC Editor's section anchors."""
    out, pos = [], 0
    tokens = sorted([(m.start(), m.end(), "lit", m) for m in _LITERAL.finditer(text)] +
                    [(m.start(), m.end(), "cite", m) for m in _CITE.finditer(text)])
    for start, end, kind, m in tokens:
        if start < pos:
            continue
        out.append(_escape(text[pos:start]))
        if kind == "lit":
            out.append(m.group(0))
        else:
            rfc, section, appendix, draft = m.groups()
            if draft:
                url = f"https://datatracker.ietf.org/doc/{draft}"
            else:
                url = f"https://www.rfc-editor.org/rfc/rfc{rfc}"
                url += f"#section-{section}" if section else f"#appendix-{appendix}" if appendix else ""
            out.append(_link(m.group(0), url, text[start - 1:start], text[end:end + 1]))
        pos = end
    out.append(_escape(text[pos:]))
    return "".join(out)


def rst_paragraphs(doc: str) -> str:
    """A docstring as rst paragraphs (lines joined; ``- item`` lines kept as a bullet list)."""
    blocks = []
    for para in re.split(r"\n\s*\n", (doc or "").strip()):
        lines = [line.strip() for line in para.splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0][:2] in ("- ", "* "):
            items = []
            for line in lines:
                if line[:2] in ("- ", "* "):
                    items.append(line[2:])
                else:
                    items[-1] += " " + line
            blocks.append("\n".join("* " + rst_text(i) for i in items))
        else:
            blocks.append(rst_text(" ".join(lines)))
    return "\n\n".join(blocks)


def expr_text(expr, name_of) -> str:
    """A ``this`` expression as filter-name text: ``this.vihl.hdr_len - 20`` -> ``ip.hdr_len - 20``
    (``name_of(relative name)`` gives the full name)."""
    if not callable(expr):
        return str(int(expr)) if isinstance(expr, Enum) else repr(expr)

    def sub(m):
        keys = [a or b for a, b in fastpath._KEY.findall(m.group(1))]
        if keys[0] == "_params":
            return keys[-1].replace("_len", " length").replace("_", " ")
        return name_of(keys[-1])
    text = fastpath._PATH.sub(sub, repr(expr))
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _key_field(expr):
    m = fastpath._PATH.search(repr(expr)) if callable(expr) else None
    return [a or b for a, b in fastpath._KEY.findall(m.group(1))][-1] if m else None


def _enum_of(entry):
    """The IntEnum naming a field's values, from a ``(node, bit)`` pair, or None."""
    node, bit = entry or (None, None)
    if bit is not None:
        return bit.enum
    return getattr(fastpath.unwrap(node), "enum", None) if node is not None else None


def value_text(key, enum=None) -> str:
    member = key if isinstance(key, Enum) else None
    if member is None and enum is not None:
        member = {int(m): m for m in enum}.get(int(key))
    return f"{member.name} ({int(member)})" if member is not None else str(int(key))


# --- fields ---------------------------------------------------------------------------------

def field_info(layout, name_of) -> dict:
    """``name -> {"doc", "when": [[(expr, value)]], "repeated"}`` from a layout's documented
    nodes (mirrors :func:`decoder.registry.layout_fields`, which gives names and nodes)."""
    info = {}
    nodes = {n: (node, bit) for n, node, bit in layout_fields(layout)}

    def note(name, doc, when, repeated=False):
        entry = info.setdefault(name, {"doc": "", "when": [], "repeated": False})
        entry["doc"] = entry["doc"] or doc
        if when and list(when) not in entry["when"]:
            entry["when"].append(list(when))
        entry["repeated"] |= repeated

    def walk(sc, name=None, doc="", when=(), repeated=False):
        if isinstance(sc, C.Renamed):
            return walk(sc.subcon, sc.name or name, sc.docs or doc, when, repeated)
        inner = fastpath.unwrap(sc)
        if isinstance(inner, C.Struct):
            for sub in inner.subcons:
                walk(sub, when=when, repeated=repeated)
        elif isinstance(inner, BitFields):
            for b in inner.bits:
                note(b.name, b.doc, when, repeated)
        elif isinstance(inner, TLV):
            cite = re.findall(r"\(([^()]*)\)\s*$", doc)
            cite = f" ({cite[0]})" if cite else ""
            where = name or "the list"
            length = ("Length of the item in octets, its type and length octets included" if inner.counts_header
                      else "Length of the item's value in octets")
            if inner.unit != 1:
                length = length.replace("in octets", f"in units of {inner.unit} octets")
            note(inner.type_name, getattr(inner.type_con, "docs", "") or f"Type of an item in {where}{cite}", when, True)
            note(inner.length_name, getattr(inner.length_con, "docs", "") or length + cite, when, True)
            enum = getattr(fastpath.unwrap(inner.type_con), "enum", None)
            for key, value in inner.values.items():
                walk(value, when=(*when, (name_of(inner.type_name), value_text(key, enum))), repeated=True)
            note(inner.raw, f"Value octets of an item of a type without a layout here{cite}", when, True)
            if inner.end:
                ends = ", ".join(value_text(k, enum) for k in sorted(inner.end))
                note(inner.padding, f"Octets after the end of {where}, item {ends}{cite}", when)
        elif isinstance(inner, C.Switch):
            key = expr_text(inner.keyfunc, name_of)
            enum = _enum_of(nodes.get(_key_field(inner.keyfunc)))
            for k, case in inner.cases.items():
                walk(case, name, doc, (*when, (key, value_text(k, enum))), repeated)
            walk(inner.default, name, doc, (*when, (key, "any other value")), repeated)
        elif isinstance(inner, C.IfThenElse):
            if not callable(inner.condfunc):   # a constant condition: the data decides, so no condition
                walk(inner.thensubcon, name, doc, when, repeated)
                walk(inner.elsesubcon, name, doc, when, repeated)
                return
            cond = expr_text(inner.condfunc, name_of)
            walk(inner.thensubcon, name, doc, (*when, (cond, None)), repeated)
            walk(inner.elsesubcon, name, doc, (*when, (f"not ({cond})", None)), repeated)
        elif isinstance(inner, C.FixedSized):
            walk(inner.subcon, name, doc, when, repeated)
        elif isinstance(inner, C.Peek):
            walk(inner.subcon, name, doc, (*when, ("read ahead, not consumed", None)), repeated)
        elif isinstance(inner, (C.GreedyRange, C.Array)):
            walk(inner.subcon, name, doc, when, True)
        elif name:
            note(name, doc, when, repeated)

    walk(layout)
    return info


def when_text(paths) -> str:
    """Conditions under which a field is present, merged where paths differ in one value:
    ``icmp.type is Echo (8), EchoReply (0)``."""
    paths = [[(e, () if v is None else (v,)) for e, v in path] for path in paths]
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(paths):
            for j in range(i + 1, len(paths)):
                b = paths[j]
                diff = [k for k in range(len(a)) if a[k] != b[k]] if len(a) == len(b) else []
                if len(diff) == 1 and a[diff[0]][0] == b[diff[0]][0] and a[diff[0]][1] and b[diff[0]][1]:
                    k = diff[0]
                    a[k] = (a[k][0], a[k][1] + tuple(v for v in b[k][1] if v not in a[k][1]))
                    del paths[j]
                    merged = True
                    break
            if merged:
                break
    return "; ".join(" and ".join(e if not v else f"{e} is {', '.join(v)}" for e, v in path) for path in paths)


_INTS = {"B": "uint8", "H": "uint16", "I": "uint32", "L": "uint32", "Q": "uint64",
         "b": "int8", "h": "int16", "i": "int32", "l": "int32", "q": "int64"}
_ADDRESSES = {"MacAddress": "MAC address", "IPv4Address": "IPv4 address", "IPv6Address": "IPv6 address"}


def enum_values(enum, size) -> str:
    values = sorted(int(m) for m in enum)
    hexa = size and size >= 2 and values and values[len(values) // 2] >= 0x100
    return ", ".join(f"{m.name} = " + (f"0x{int(m):0{2 * size}X}" if hexa else str(int(m)))
                     for m in sorted(enum, key=int))


def type_text(node) -> str:
    """What a construct node holds, in the reference's words (``uint16``, ``IPv4 address``)."""
    if node is None:
        return "bytes"
    inner = fastpath.unwrap(node)
    if isinstance(inner, C.Peek):
        return type_text(inner.subcon) + " (lookahead, not consumed)"
    if isinstance(inner, Named):
        return f"{type_text(inner.subcon)}, enum {inner.enum.__name__}"
    if isinstance(inner, C.FormatField):
        return _INTS.get(inner.fmtstr[-1], inner.fmtstr)
    if isinstance(inner, C.BytesInteger) and isinstance(inner.length, int):
        return f"{'int' if inner.signed else 'uint'}{inner.length * 8}"
    if isinstance(inner, _Address):
        return _ADDRESSES.get(type(inner).__name__, type(inner).__name__)
    if isinstance(inner, C.Const):
        return f"constant {inner.value!r}"
    if isinstance(inner, C.Bytes) or inner is C.GreedyBytes:
        return "bytes"
    if inner is C.Pass:
        return "nothing (no octets)"
    return type(inner).__name__.lower()


def field_rows(p) -> list[dict]:
    """Every field of a protocol with its filter name, doc, type, offset, size and values."""
    name_of = p.full_name
    info = field_info(p.layout, name_of)
    file = getattr(p, "file", "") or p.module
    rows, missing = [], []
    virtual = {v.name: v for v in p.virtual}
    sums = {}
    for rule in p.checksums:
        sums[f"{rule.field}.status"] = rule
        sums[f"{rule.field}_calculated"] = rule
    for rel in p.field_names:
        row = {"rel": rel, "name": name_of(rel), "offset": "—", "size": "—", "values": "", "when": ""}
        row["aliases"] = [f"{p.namespace}.{rel}"] if rel in p.aliases else []
        if rel in virtual:
            v = virtual[rel]
            row["doc"] = v.doc
            row["type"] = "virtual"
            if v.either:
                row["values"] = "value of " + " or ".join(name_of(n) for n in v.either)
                first = p.field_nodes.get(v.either[0])
                row["type"] = f"virtual {type_text(first[0]) if first else ''}".strip()
            elif v.of:
                row["values"] = f"computed from {name_of(v.of)}"
            else:
                row["values"] = "computed from the layer"
        elif rel in sums:
            rule = sums[rel]
            if rel.endswith(".status"):
                row["doc"] = (f"Verification of {name_of(rule.field)}: {checksum.GOOD}, {checksum.BAD}, "
                              f"{checksum.UNVERIFIED} (covered octets not all captured) or {checksum.NOT_PRESENT}")
                row["type"] = "string"
                row["values"] = ", ".join((checksum.GOOD, checksum.BAD, checksum.UNVERIFIED, checksum.NOT_PRESENT))
            else:
                row["doc"] = f"The value {name_of(rule.field)} should hold, when it can be verified"
                node = p.field_nodes.get(rule.field)
                row["type"] = type_text(node[0]) if node else "uint16"
        else:
            node, bit = p.field_nodes[rel]
            entry = info.get(rel, {})
            row["doc"] = bit.doc if bit is not None else entry.get("doc", "")
            notes = ["repeated"] if entry.get("repeated") else []
            if entry.get("when"):
                text = when_text(entry["when"])
                notes.insert(0, text if text.startswith("read ahead") else "present when " + text)
            row["when"] = "; ".join(notes)
            pre = p.prefix.by_name.get(rel)
            row["offset"] = str(pre.offset) if pre is not None else "variable"
            if bit is not None:
                size = fastpath.static_size(node.subcon) or 0
                kind = "boolean" if bit.width == 1 else type_text(node.subcon)
                row["type"] = f"{kind}, mask 0x{bit.mask:0{2 * size}X}" + (f", × {bit.scale}" if bit.scale != 1 else "")
                row["size"] = f"{bit.width} bit{'s' if bit.width > 1 else ''}"
                parts = [b for b in node.bits if b is not bit and b.mask & bit.mask == b.mask and b.width < bit.width]
                values = ["contains " + ", ".join(f"{name_of(b.name)} (0x{b.mask:0{2 * size}X})" for b in parts)] if parts else []
                if bit.enum is not None:
                    values.insert(0, enum_values(bit.enum, size))
                row["values"] = "; ".join(values)
            else:
                size = fastpath.static_size(node) if node is not None else None
                row["type"] = type_text(node)
                length = getattr(fastpath.unwrap(node), "length", None) if node is not None else None
                row["size"] = (str(size) if size is not None else
                               expr_text(length, name_of) if callable(length) else "variable")
                inner = fastpath.unwrap(node) if node is not None else None
                if isinstance(inner, Named):
                    row["values"] = enum_values(inner.enum, size)
                if isinstance(node, C.Default):
                    row["type"] += ", computed on build"
        if not (row.get("doc") or "").strip():
            missing.append(f"{file}: field {row['name']} has no description "
                           f"(write \"{rel}\" / ... * \"what it is (RFC ... §...)\")")
        rows.append(row)
    if missing:
        raise DocsError("\n".join(missing))
    return rows


# --- the header diagram -------------------------------------------------------------------

def _cells(p) -> list[tuple[int, int, str]]:
    """``(first bit, end bit, label)`` of the fixed prefix, then the rest as variable rows."""
    cells, words = [], {}
    for f in p.prefix.fields:
        if f.bit is None:
            cells.append((f.offset * 8, (f.offset + f.size) * 8, f.name))
        else:
            words.setdefault((f.offset, f.size), []).append(f.bit)
    for (offset, size), bits in words.items():
        used = 0
        for b in sorted(bits, key=lambda b: (-b.width, -b.mask)):
            contiguous = b.mask >> b.shift == (1 << b.width) - 1
            if contiguous and not used & b.mask:
                used |= b.mask
                hi = size * 8 - b.shift
                cells.append((offset * 8 + hi - b.width, offset * 8 + hi, b.name))
    pos, variable = p.prefix.size * 8, False
    for sc in p.prefix.rest:        # after a variable part, each part is a row of its own
        size = fastpath.static_size(sc)
        if size == 0:
            continue
        label = sc.name or ""
        if label and label not in p.field_nodes:
            label = label[:1].upper() + label[1:]
        if size is None or variable:
            variable = True
            end = (pos // 32 + 1) * 32
            cells.append((pos, end, f"{label} (variable)".strip() if size is None else label))
            pos = end
        else:
            cells.append((pos, pos + size * 8, label))
            pos += size * 8
    return sorted(cells)


def header_diagram(p) -> str:
    """The header in RFC style: a 32-bit ruler, ``+-+`` borders, names centred in their bits."""
    cells = _cells(p)
    if not cells:
        return ""
    nrows = -(-max(e for _, e, _ in cells) // 32)
    owner = [[None] * 32 for _ in range(nrows)]
    for i, (s, e, _) in enumerate(cells):
        for b in range(s, e):
            owner[b // 32][b % 32] = i
    # rows wholly inside one long field (more than 4 rows) are drawn as three
    keep, i = [], 0
    while i < nrows:
        j = i
        full = owner[i].count(owner[i][0]) == 32 and owner[i][0] is not None
        while full and j + 1 < nrows and owner[j + 1] == owner[i]:
            j += 1
        keep += [i, i + (j - i) // 2, j] if j - i + 1 > 4 else list(range(i, j + 1))
        i = j + 1
    collapsed = {owner[r][0] for r in range(nrows) if r not in keep}
    rows = [owner[r] for r in keep]
    segments = {}
    for r, row in enumerate(rows):
        b = 0
        while b < 32:
            e = b
            while e < 32 and row[e] == row[b]:
                e += 1
            if row[b] is not None:
                segments.setdefault(row[b], []).append((r, b, e))
            b = e
    lines = [" 0                   1                   2                   3",
             " " + " ".join(str(b % 10) for b in range(32))]
    content = [[" "] * 65 for _ in rows]
    legend = []
    for i, segs in segments.items():
        s, e, name = cells[i]
        if i in collapsed:
            name += f" ({(e - s) // 8} octets)"
        widest = max(b2 - b1 for _, b1, b2 in segs)
        choices = [seg for seg in segs if seg[2] - seg[1] == widest]
        r, b1, b2 = choices[(len(choices) - 1) // 2]
        room = 2 * (b2 - b1) - 1
        label = name if len(name) <= room else name.rsplit(".", 1)[-1]
        if len(label) > room:
            label = label[:room]
            legend.append(f"{label} = {name}")
        for rr, c1, c2 in segs:
            content[rr][2 * c1] = content[rr][2 * c2] = "|"
        text = label.center(room)
        content[r][2 * b1 + 1:2 * b2] = list(text)
    edges = [{c for c in range(33) if row[2 * c] == "|"} for row in content]
    for r in range(len(rows) + 1):
        above = rows[r - 1] if r > 0 else [None] * 32
        below = rows[r] if r < len(rows) else [None] * 32
        dash = [above[b] != below[b] for b in range(32)]
        line = [" "] * 65
        for b in range(32):
            if dash[b]:
                line[2 * b + 1] = "-"
        for c in range(33):
            vertical = (r > 0 and c in edges[r - 1]) or (r < len(rows) and c in edges[r])
            if vertical or (c > 0 and dash[c - 1]) or (c < 32 and dash[c]):
                line[2 * c] = "+"
        lines.append("".join(line).rstrip())
        if r < len(rows):
            lines.append("".join(content[r]).rstrip())
    if legend:
        lines += ["", "where " + "; ".join(legend)]
    return "\n".join(lines)


# --- pages ----------------------------------------------------------------------------------

def _table(header, rows, widths) -> list[str]:
    """A ``protospec-table`` directive: rows of inline-rst cells as JSON lines (a cell may be
    ``[label, text]`` to make it a ``:ref:`` target)."""
    out = [".. protospec-table::", "", "   " + json.dumps({"header": header, "widths": widths}, ensure_ascii=False)]
    out += ["   " + json.dumps(row, ensure_ascii=False) for row in rows]
    return out + [""]


def _heading(text, char="=") -> list[str]:
    return [text, char * len(text), ""]


def _doc_name(p) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", p.name)


def _table_formats(reg) -> dict:
    """Dispatch table -> (enum, octets, protocols that look it up), from the key fields."""
    formats = {}
    for q in reg.protocols.values():
        for d in q.dispatch:
            enum, size = None, None
            key = _key_field(d.keys[0]) if d.keys else None
            if key in q.field_nodes:
                node, bit = q.field_nodes[key]
                inner = fastpath.unwrap(node) if node is not None else None
                enum = bit.enum if bit is not None else getattr(inner, "enum", None)
                size = fastpath.static_size(node) if bit is None and node is not None else None
            prev = formats.get(d.table, (None, None, []))
            formats[d.table] = (prev[0] or enum, prev[1] or size, prev[2] + [(q, d)])
    return formats


def _value(table, value, formats) -> str:
    enum, size, _ = formats.get(table, (None, None, []))
    text = str(value)
    if enum is not None and size and size >= 2:
        values = sorted(int(m) for m in enum)
        if values[len(values) // 2] >= 0x100:
            text = f"0x{value:0{2 * size}X}"
    name = {int(m): m.name for m in enum}.get(value) if enum is not None else None
    return f"{text} ({name})" if name else text


def _spec_path(p) -> str:
    file = Path(getattr(p, "file", "") or "")
    try:
        return str(file.resolve().relative_to(ROOT))
    except ValueError:
        return str(file)


def protocol_page(p, reg, formats) -> str:
    ns = p.namespace

    name_of = p.full_name
    rows = field_rows(p)
    module = sys.modules.get(p.module)
    out = _heading(_escape(f"{p.name} — {p.title}"))
    facts = [f"**Reference:** {rst_text(p.ref)}" if p.ref else "",
             f"**Spec:** ``{_spec_path(p)}``" if getattr(p, "file", "") else "",
             f"**Protocol column:** {rst_text(p.column)}"]
    if ns != p.name:
        facts.append(f"**Field prefix:** ``{ns}.``")
    out += ["| " + line for line in facts if line] + [""]
    text = rst_paragraphs(p.doc or (module.__doc__ if module else ""))
    out += [text, ""] if text else []

    out += _heading("Binds under", "-")
    for b in p.binds:
        users = []
        for q, d in formats.get(b.table, (None, None, []))[2]:
            if q not in users and any(callable(k) or k in b.values for k in d.keys):
                users.append(q)
        by = ", ".join(f":doc:`{_doc_name(q)}`" for q in users)
        values = ", ".join(_value(b.table, v, formats) for v in b.values)
        by = f", looked up by {by}" if by else ""
        if b.table == "linktype":
            by = " (the capture's link type)" + by.replace(", looked up by", "; also looked up by")
        out.append(f"* ``{b.table}`` {rst_text(values)}{by}")
    out += [""] if p.binds else ["Nothing: this protocol is not decoded until a spec binds it.", ""]

    out += _heading("Dispatches to", "-")
    for d in p.dispatch:
        keys = " or ".join(f"``{expr_text(k, name_of)}``" for k in d.keys)
        when = f" when ``{expr_text(d.when, name_of)}``" if d.when is not None else ""
        many = ", lowest value first" if len(d.keys) > 1 else ""
        out += [f"Table ``{d.table}``, key {keys}{many}{when}:", ""]
        table = reg.tables.get(d.table, {})
        if not any(callable(k) for k in d.keys):      # constant keys: just those entries
            table = {v: q for v, q in table.items() if v in d.keys}
        out += [f"* {rst_text(_value(d.table, v, formats))} → :doc:`{_doc_name(q)}`" for v, q in sorted(table.items())]
        out += ["" if table else "(no protocol binds in this table yet)", ""]
    if not p.dispatch:
        out += ["Nothing: the payload is left as data.", ""]

    out += _heading("Header", "-")
    diagram = header_diagram(p)
    if diagram:
        out += [".. code-block:: text", ""] + ["   " + line for line in diagram.splitlines()] + [""]
    else:
        out += ["No octets of its own: this layer only reads ahead.", ""]
    facts = [f"Fixed part: {p.prefix.size} octets"]
    if p.payload_length is not None:
        facts.append(f"payload length: ``{expr_text(p.payload_length, name_of)}`` octets, the rest is a trailer")
    for rule in p.checksums:
        facts.append(f"checksum ``{name_of(rule.field)}`` verified over the {rule.covers}"
                     + (" and a pseudo-header" if rule.pseudo is not None else ""))
    if p.quotes:
        facts.append("the payload quotes a datagram, so layers under it may be cut short")
    out += ["; ".join(facts) + ".", ""]

    out += _heading("Fields", "-")
    table = []
    for row in rows:
        target = [f"field:{p.name}:{row['rel']}", f"``{row['name']}``"
                  + "".join(f" (also ``{a}``)" for a in row["aliases"])]
        doc = rst_text(row["doc"]) + (f" ({rst_text(row['when'])})" if row["when"] else "")
        table.append([target, doc, rst_text(row["type"]), row["offset"], row["size"], rst_text(row["values"])])
    out += _table(["Field", "Description", "Type", "Offset", "Size", "Values"], table, [18, 32, 16, 7, 7, 20])

    out += [f".. _`fastpath:{p.name}`:", ""] + _heading("Generated decoder", "-")
    out += [f"The fixed part unpacks with one ``struct`` format, ``{p.prefix.format}``; "
            "the generated header function reads the fields it needs from the unpacked tuple ``v``:" if p.prefix.size else
            "No fixed part: the generated header function parses the layout in full:", "",
            ".. code-block:: python", ""] + ["   " + line for line in p.head_source.splitlines()] + [""]
    return "\n".join(out)


def fields_page(reg) -> str:
    out = [".. _field-index:", ""] + _heading("Field index")
    out += ["Every display-filter field of every protocol, sorted by name, as in Wireshark's display "
            "filter reference. A protocol's name is itself a filter (true when the layer is present).", ""]
    owners = {}
    for p in reg.protocols.values():
        owners.setdefault(p.name, []).append((p, None, {"doc": p.title, "type": "protocol"}))
        for row in field_rows(p):
            for name in [row["name"]] + row["aliases"]:
                owners.setdefault(name, []).append((p, row["rel"], row))
    table = []
    for name in sorted(owners):
        entries = owners[name]
        p, rel, row = entries[0]
        link = f":doc:`{name} <protocols/{_doc_name(p)}>`" if rel is None else f":ref:`{name} <field:{p.name}:{rel}>`"
        protos = ", ".join(f":doc:`{q.name} <protocols/{_doc_name(q)}>`" for q, _, _ in entries)
        table.append([link, protos, rst_text(row["doc"]), rst_text(row["type"])])
    out += _table(["Field", "Protocol", "Description", "Type"], table, [25, 15, 45, 15])
    from expert.stages import annotated_fields
    out += [""] + _heading("Fields the analysis computes", "-")
    out += ["Not in any header: the analysis stages attach them to packets (conversations, TCP "
            "analysis, pairing, reassembly, the access checks). ``protospec decode`` runs a stage when "
            "``-e`` or ``-Y`` names one of its fields; ``-2`` runs them all.", ""]
    rows = [[f"``{name}``", rst_text(source), rst_text(kind)] for name, source, kind in annotated_fields()
            if name not in owners]
    return "\n".join(out + _table(["Field", "Computed by", "Type"], rows, [30, 55, 15]))


def index_page(reg, formats) -> str:
    out = _heading("Decode reference")
    out += ["Generated from the specs at build time: each protocol's page shows where it binds, what "
            "it dispatches to, its header and every field with its display-filter name. "
            "The :ref:`field-index` lists every field of every protocol.", "",
            ".. toctree::", "   :maxdepth: 1", "   :hidden:", "", "   fields"]
    out += [f"   protocols/{_doc_name(p)}" for p in sorted(reg.protocols.values(), key=lambda p: p.name)] + [""]
    rows = []
    for p in sorted(reg.protocols.values(), key=lambda p: p.name):
        binds = "; ".join(f"``{b.table}`` " + rst_text(", ".join(_value(b.table, v, formats) for v in b.values))
                          for b in p.binds)
        rows.append([f":doc:`{p.name} <protocols/{_doc_name(p)}>`", rst_text(p.title), rst_text(p.ref), binds])
    return "\n".join(out + _table(["Protocol", "Title", "Reference", "Binds under"], rows, [15, 30, 25, 30]))


def generate(reg: Registry) -> dict[str, str]:
    """``relative path -> rst`` for the whole reference."""
    formats = _table_formats(reg)
    pages = {"index.rst": index_page(reg, formats)}
    problems = []
    for p in reg.protocols.values():
        try:
            pages[f"protocols/{_doc_name(p)}.rst"] = protocol_page(p, reg, formats)
        except DocsError as e:
            problems.append(str(e))
        except Exception as e:  # a spec the generator does not understand: name it, don't trace
            problems.append(f"{getattr(p, 'file', '') or p.module}: cannot document protocol {p.name!r}: "
                            f"{type(e).__name__}: {e}")
    if problems:
        raise DocsError("cannot generate the decode reference:\n" + "\n".join(problems))
    pages["fields.rst"] = fields_page(reg)
    return pages


def write_reference(out_dir, reg: Registry | None = None) -> list[Path]:
    """Write the reference pages under ``out_dir`` (only files whose text changed, so Sphinx
    rebuilds only those); stale protocol pages are removed.  Returns the files."""
    out_dir = Path(out_dir)
    pages = generate(reg or Registry.default())
    written = []
    for rel, text in pages.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)     # atomic: a concurrent build never reads half a page
        written.append(path)
    for stale in (out_dir / "protocols").glob("*.rst"):
        if stale not in written:
            stale.unlink(missing_ok=True)
    return written


# --- Sphinx ---------------------------------------------------------------------------------

def _builder_inited(app):
    from sphinx.errors import SphinxError

    dirs = [d for d in app.config.protospec_spec_dirs if d]
    try:
        write_reference(Path(app.srcdir) / app.config.protospec_reference_dir, Registry.default(dirs))
    except SpecError as e:     # Sphinx prints a SphinxError's message alone, without a traceback
        error = SphinxError(str(e))
        error.category = "protospec decode reference"
        raise error from None


def _table_directive():
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class Table(Directive):
        """``.. protospec-table::`` with JSON lines (a header line, then one line per row): the
        cells are inline rst only, so the table is built without docutils parsing each cell
        as a nested document (``list-table`` takes seconds on a page with a thousand cells)."""

        has_content = True

        def run(self):
            head, *rows = (json.loads(line) for line in self.content if line.strip())
            group = nodes.tgroup(cols=len(head["widths"]))
            group += [nodes.colspec(colwidth=w) for w in head["widths"]]
            for kind, part in ((nodes.thead, [head["header"]]), (nodes.tbody, rows)):
                section = kind()
                for cells in part:
                    row = nodes.row()
                    for cell in cells:
                        label, text = cell if isinstance(cell, list) else (None, cell)
                        inline, messages = self.state.inline_text(text or "", self.lineno)
                        para = nodes.paragraph("", "", *inline)
                        if label:
                            para["names"].append(nodes.fully_normalize_name(label))
                            self.state.document.note_explicit_target(para, para)
                        row += nodes.entry("", para, *messages)
                    section += row
                group += section
            return [nodes.table("", group, classes=["colwidths-given", "protospec-table"])]
    return Table


def setup(app):
    app.add_directive("protospec-table", _table_directive())
    app.add_config_value("protospec_spec_dirs", [], "env")
    app.add_config_value("protospec_reference_dir", "reference", "env")
    app.connect("builder-inited", _builder_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


_CONF = """\
project = "protospec decode reference"
extensions = ["decoder.reference"]
protospec_reference_dir = "."
protospec_spec_dirs = {dirs!r}
html_theme = {theme!r}
html_title = "Decode reference"
"""


def build_docs(out_dir, extra_spec_dirs=(), reference_only=False) -> Path:
    """Build the HTML docs into ``out_dir`` (returned) with warnings as errors.

    ``reference_only``: just the decode reference, generated in a temporary source tree (also
    what an installed package without ``docs/`` builds); otherwise the project's ``docs/``,
    whose generated ``docs/reference/`` (git-ignored) is rewritten.  The protocols of
    ``extra_spec_dirs`` (``--specs DIR``) are documented with the built-in ones they bind
    under.  Raises :class:`DocsError` naming the spec file and field, or when Sphinx fails.
    """
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        raise DocsError("Sphinx is not installed: pip install 'protospec[docs]'") from None
    out_dir = Path(out_dir).resolve()
    dirs = [str(Path(d).resolve()) for d in extra_spec_dirs]
    for d in dirs:
        if not Path(d).is_dir():
            raise DocsError(f"{d}: not a directory of spec files")
    generate(Registry.default(dirs))     # spec errors as plain DocsErrors, before Sphinx runs
    with tempfile.TemporaryDirectory(prefix="protospec-docs-") as tmp:
        if reference_only or not (ROOT / "docs" / "conf.py").is_file():
            src = Path(tmp) / "src"
            src.mkdir()
            try:
                import furo  # noqa: F401
                theme = "furo"
            except ImportError:
                theme = "alabaster"
            (src / "conf.py").write_text(_CONF.format(dirs=dirs, theme=theme), encoding="utf-8")
            args = []
        else:
            src = ROOT / "docs"
            args = ["-D", f"protospec_spec_dirs={','.join(dirs)}"] if dirs else []
        status = build_main(["-W", "-q", "-b", "html", "-d", str(Path(tmp) / "doctrees"), *args,
                             str(src), str(out_dir)])
    if status:
        raise DocsError(f"sphinx-build failed (status {status}); see the messages above")
    return out_dir
