"""The packet detail tree (``-V``): frame facts, then every field of every layer.

Each field line is ``label: value  [filter.name @offset+size]`` (offsets from the start of
the frame).  Labels come from the spec's field docs ("Time to live (RFC 791 §3.1)" ->
"Time to live"); bit fields show the bit picture of their word like Sniffer/snoop and
Wireshark (``.1.. .... .... .... = Don't fragment: Set``), and narrower bit fields nest
under a wider one whose mask contains theirs (``flags.df`` under ``flags``).  Checksums
carry their verdict, enumerations their name, and computed fields (MAC vendor) follow
the field they are computed from.
"""
from __future__ import annotations

from datetime import datetime, timezone
from enum import IntEnum

import construct as C

from decoder import fastpath
from decoder.fieldfmt import code_for, label_of, tshark_text
from decoder.fields import ns_text, protocols_text
from decoder.packet import MALFORMED, OK
from specs._fields import Bit, BitFields
from specs._tlv import TLV

INDENT = "    "
PREVIEW = 32           # octets of a bytes value shown before "…"


def layer_title(layer) -> str:
    """``Internet Protocol Version 4, Src: 192.0.2.1, Dst: 198.51.100.2``; a protocol
    without Source/Destination fields shows its Info summary instead."""
    p = layer.proto
    title = p.title
    if p.source and p.destination:
        src, dst = layer.get(p.source), layer.get(p.destination)
        if src is not None and dst is not None:
            return f"{title}, Src: {src}, Dst: {dst}"
    if p.summary is not None and layer.v is not None:
        return f"{title}, {layer.summary()}"
    return title


def _bytes_text(b: bytes) -> str:
    text = bytes(b[:PREVIEW]).hex()
    return (text + "…" if len(b) > PREVIEW else text) + f" ({len(b)} byte{'s' if len(b) != 1 else ''})"


def _int_text(value, code: str) -> str:
    n = int(value)
    num = f"0x{n:0{int(code[1:])}x}" if code.startswith("x") else str(n)
    if isinstance(value, IntEnum):
        return f"{value.name} ({num})"
    return num


def value_text(value, code: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return _int_text(value, code)
    if isinstance(value, (bytes, bytearray)):
        return _bytes_text(value)
    if isinstance(value, list):
        return ", ".join(value_text(v, code) for v in value) if value else "(none)"
    return tshark_text(str(value))


def bit_picture(bit: Bit, raw: int, width: int) -> str:
    chars = []
    for i in range(width - 1, -1, -1):
        m = 1 << i
        chars.append(("1" if raw & m else "0") if bit.mask & m else ".")
        if i and i % 4 == 0:
            chars.append(" ")
    return "".join(chars)


def _bit_value_text(bit: Bit, value, code: str) -> str:
    raw = int(value) // bit.scale if bit.scale != 1 else int(value)
    if bit.enum is not None:
        try:
            return f"{bit.enum(raw).name} ({raw})"
        except ValueError:
            return str(raw)
    if bit.width == 1:
        return "Set" if raw else "Not set"
    if bit.scale != 1:
        return f"{value} ({raw})"
    return _int_text(raw, code)


def _doc(node):
    while isinstance(node, C.Renamed):
        if node.docs:
            return node.docs
        node = node.subcon
    return None


def _is_container(value, node) -> bool:
    """Structs, bit-field words and option lists hold fields; they are not fields."""
    inner = fastpath.unwrap(node) if node is not None and not isinstance(node, Bit) else None
    while isinstance(inner, (C.FixedSized, C.GreedyRange, C.Array, C.Peek)):
        inner = fastpath.unwrap(inner.subcon)
    if isinstance(inner, (BitFields, C.Struct, TLV)) or isinstance(value, dict):
        return True
    return isinstance(value, list) and any(isinstance(v, dict) for v in value)


def _item_label(container_label: str | None, type_name: str) -> str:
    """An option list item is named after its list: "Options" -> "Option"."""
    if container_label and container_label.endswith("s") and not container_label.endswith("ss"):
        return container_label[:-1]
    return container_label or type_name


class _Codes:
    """Display codes per relative field name of one protocol, computed once."""

    def __init__(self):
        self.cache = {}

    def get(self, proto, rel):
        key = (id(proto), rel)
        if key not in self.cache:
            self.cache[key] = code_for(proto, rel)
        return self.cache[key]


_CODES = _Codes()


def layer_lines(layer, lines: list[str], base: int = 0) -> None:
    """Append the title and field lines of one layer."""
    proto = layer.proto
    ns = proto.namespace
    title = layer_title(layer)
    if layer.quoted:
        title += " (quoted)"
    lines.append(INDENT * base + title)
    spans = layer.spans
    try:
        flat = layer.flat()
    except Exception:  # a partial layer may not verify; show what it has
        flat = {}
    checksum_fields = {rule.field for rule in proto.checksums}
    derived = {}
    for virt in proto.virtual:
        if virt.of is not None:
            derived.setdefault(virt.of, []).append(virt)
    stack = []            # (depth, shown, internal, label) of enclosing spans
    bits = []             # enclosing bit fields within the current word
    word = None
    for depth, name, off, size, value, node in spans:
        while stack and stack[-1][0] >= depth:
            stack.pop()
        indent = base + 1 + sum(1 for e in stack if e[1])
        if name.startswith("_") or any(e[2] for e in stack):
            stack.append((depth, False, True, None))     # "_x": internal (a Peek read ahead)
            continue
        if isinstance(node, Bit):
            if word != (off, size):
                word, bits = (off, size), []
            while bits and not (bits[-1].mask & node.mask == node.mask and bits[-1].mask != node.mask):
                bits.pop()
            code = _CODES.get(proto, name)
            raw = (int(value) // node.scale) << node.shift
            label = label_of(node.doc, name)
            lines.append(f"{INDENT * (indent + len(bits))}{bit_picture(node, raw, size * 8)} = "
                         f"{label}: {_bit_value_text(node, value, code)}  [{ns}.{name} @{off}+{size}]")
            bits.append(node)
            stack.append((depth, False, False, None))
            continue
        word, bits = None, []
        if _is_container(value, node):
            if isinstance(node, TLV) and isinstance(value, dict):
                kind = value.get(node.type_name)
                kind_text = value_text(kind, "d") if kind is not None else "?"
                parent = next((e[3] for e in reversed(stack) if e[3]), None)
                lines.append(f"{INDENT * indent}{_item_label(parent, node.type_name)}: {kind_text}, "
                             f"{size} byte{'s' if size != 1 else ''}  [@{off}+{size}]")
                stack.append((depth, True, False, None))
                continue
            doc = _doc(node)
            if doc and size:
                label = label_of(doc, name)
                lines.append(f"{INDENT * indent}{label} ({size} byte{'s' if size != 1 else ''})"
                             f"  [@{off}+{size}]")
                stack.append((depth, True, False, label))
            else:
                stack.append((depth, False, False, None))
            continue
        code = _CODES.get(proto, name)
        label = label_of(_doc(node), name)
        text = value_text(value, code)
        if name in checksum_fields:
            text += _checksum_verdict(flat, name, code)
        lines.append(f"{INDENT * indent}{label}: {text}  [{ns}.{name} @{off}+{size}]")
        for virt in derived.get(name, ()):
            for extra in flat.get(virt.name, ()):
                lines.append(f"{INDENT * (indent + 1)}{label_of(virt.doc, virt.name)}: "
                             f"{value_text(extra, 'd')}  [{ns}.{virt.name}]")
        stack.append((depth, False, False, None))     # a leaf: nothing nests under it
    if layer.status != OK:
        kind = "Malformed" if layer.status == MALFORMED else "Truncated"
        lines.append(f"{INDENT * (base + 1)}[{kind}: {layer.error}]")


def _checksum_verdict(flat, name, code) -> str:
    status = (flat.get(f"{name}.status") or [None])[0]
    if status is None:
        return ""
    if status == "bad":
        calc = (flat.get(f"{name}_calculated") or [None])[0]
        if calc is not None:
            return f" [bad, should be {_int_text(calc, code if code.startswith('x') else 'x4')}]"
    return f" [{status}]"


def frame_lines(pkt, clock, reg=None) -> list[str]:
    f = pkt.frame
    cap = len(f.data)
    lines = [f"Frame {pkt.number}: {f.orig_len} bytes on wire ({f.orig_len * 8} bits), "
             f"{cap} bytes captured ({cap * 8} bits) on interface {f.interface}"]
    sec, ns = divmod(f.ts_ns, 1_000_000_000)
    try:
        when = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{INDENT}Arrival Time: {when}.{ns:09d} UTC")
    except (OverflowError, OSError, ValueError):
        pass
    lines.append(f"{INDENT}Epoch Time: {ns_text(f.ts_ns)} seconds  [frame.time_epoch]")
    lines.append(f"{INDENT}Time delta from previous captured frame: {ns_text(f.ts_ns - clock.prev)} seconds"
                 "  [frame.time_delta]")
    lines.append(f"{INDENT}Time since first frame: {ns_text(f.ts_ns - clock.first)} seconds"
                 "  [frame.time_relative]")
    lines.append(f"{INDENT}Frame Number: {pkt.number}  [frame.number]")
    lines.append(f"{INDENT}Frame Length: {f.orig_len} bytes  [frame.len]")
    lines.append(f"{INDENT}Capture Length: {cap} bytes  [frame.cap_len]")
    first = pkt.layers[0].proto.title if pkt.layers and f.linktype >= 0 else "no spec"
    lines.append(f"{INDENT}Encapsulation: link type {f.linktype} ({first})")
    if f.comment:
        lines.append(f"{INDENT}Comment: {f.comment}  [frame.comment]")
    ethertype = reg.ethertype_protos if reg is not None else ()
    lines.append(f"{INDENT}Protocols in frame: "
                 f"{protocols_text([l.proto for l in pkt.layers], bool(pkt.data), ethertype)}"
                 "  [frame.protocols]")
    return lines


def reassembly_lines(pkt) -> list[str]:
    """Wireshark's ``[3 IPv4 Fragments (3008 bytes): #5(8), #6(1480), #7(1520)]`` line."""
    extra = pkt.extra or {}
    for ns, title in (("ip", "IPv4"), ("ipv6", "IPv6")):
        frames = extra.get(f"{ns}.fragment")
        if frames:
            length = extra[f"{ns}.reassembled.length"][0]
            return [f"[{len(frames)} {title} Fragments ({length} bytes): "
                    + ", ".join(f"#{n}" for n in frames) + f"]  [{ns}.fragment]"]
    return []


def packet_tree(pkt, clock, reg=None) -> str:
    lines = frame_lines(pkt, clock, reg)
    buf = pkt.frame.data
    for layer in pkt.layers:
        if layer.buf is not buf:              # the rest was decoded from a reassembled datagram
            buf = layer.buf
            lines += reassembly_lines(pkt)
        layer_lines(layer, lines)
    data = pkt.data
    if data:
        lines.append(f"Data ({len(data)} byte{'s' if len(data) != 1 else ''})  [data @{pkt.data_off}+{len(data)}]")
        lines.append(f"{INDENT}{_bytes_text(data)}")
    trailer = pkt.trailer
    if trailer:
        lines.append(f"Trailer/padding ({len(trailer)} byte{'s' if len(trailer) != 1 else ''})"
                     f"  [@{len(pkt.frame.data) - len(trailer)}+{len(trailer)}]")
        lines.append(f"{INDENT}{_bytes_text(trailer)}")
    return "\n".join(lines) + "\n"
