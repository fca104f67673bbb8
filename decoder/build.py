"""Building packets from the specs, and editing decoded ones.

The same construct layouts that decode a header build it, so a packet is written
the way Scapy stacks layers (``/``) or dpkt turns one into ``bytes()``::

    from decoder.build import L, build_frame, edit
    frame = build_frame(L("eth", dst="ff:ff:ff:ff:ff:ff", src="00:e0:fc:01:02:03"),
                        L("ip", src="192.0.2.1", dst="192.0.2.2", ttl=5),
                        L("tcp", srcport=1234, dstport=80, **{"flags.syn": 1}),
                        payload=b"")
    frame = bytes(L("eth") / L("ip", dst="192.0.2.2") / L("udp", dstport=53) / b"query")

Fields are named as in the display filter, relative to the layer and flat
(``flags.syn``, ``options.mss_val``); containers may also be given whole
(``options=[{"option_kind": 2, "options.mss_val": 1460}]``, ``hdr={...}``).
Fields left out are zero (empty, the enum's zero); ``Auto`` fields (lengths,
header lengths) are computed; the field a layer dispatches on is taken from the
child's ``Bind`` (``eth.type`` from ip's ``Bind("ethertype", 0x0800)``, as
Scapy's ``bind_layers``); checksums (``proto.checksums``) are filled in last,
innermost first, unless the caller set them.

:func:`edit` takes a decoded :class:`~decoder.packet.Packet`, changes fields of one
layer and rebuilds the frame (Sniffer's packet editor): every other field keeps its
decoded value, except that lengths and checksums that were right before the edit
are recomputed (ones that were already wrong, or cut short by the capture, are
kept as they were), the undecoded data and trailers stay in place.
"""
from __future__ import annotations

import copy
import dataclasses
import struct

import construct as C
from construct import Container

from decoder import fastpath
from decoder.capture import Frame
from decoder.checksum import GOOD
from decoder.packet import OK, Layer, flatten
from specs._fields import BitFields, Named, _Address

try:
    from specs._fields import Text
except ImportError:
    Text = None
from specs._tlv import TLV

__all__ = ["L", "Stack", "build_frame", "make_frame", "build_layer", "build_header", "unflatten",
           "auto_fields", "edit", "edit_frame", "default_registry"]

_ABSENT = object()
_registry = None


def default_registry():
    """``Registry.default()``, loaded once for the building API."""
    global _registry
    if _registry is None:
        from decoder.registry import Registry
        _registry = Registry.default()
    return _registry


# --- the stacking API -------------------------------------------------------------------

class L:
    """One layer to build: a protocol name and its fields (flat, layer-relative names)."""

    __slots__ = ("name", "fields")

    def __init__(self, name, /, **fields):
        self.name, self.fields = name, fields

    def __truediv__(self, other):
        return Stack([self]) / other

    def __bytes__(self):
        return build_frame(self)

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.fields.items())
        return f"L({self.name!r}{args})"


class Stack:
    """Layers stacked with ``/`` (``L("eth") / L("ip") / b"data"``); ``bytes()`` builds it."""

    __slots__ = ("layers", "payload")

    def __init__(self, layers, payload=b""):
        self.layers, self.payload = list(layers), bytes(payload)

    def __truediv__(self, other):
        if isinstance(other, L):
            if self.payload:
                raise ValueError(f"cannot stack {other!r} after raw payload bytes")
            return Stack(self.layers + [other])
        if isinstance(other, Stack):
            if self.payload:
                raise ValueError("cannot stack layers after raw payload bytes")
            return Stack(self.layers + other.layers, other.payload)
        if isinstance(other, (bytes, bytearray, memoryview)):
            return Stack(self.layers, self.payload + bytes(other))
        return NotImplemented

    def __bytes__(self):
        return build_frame(*self.layers, payload=self.payload)

    def frame(self, **kw) -> Frame:
        return make_frame(*self.layers, payload=self.payload, **kw)

    def __repr__(self):
        parts = [repr(x) for x in self.layers] + ([repr(self.payload)] if self.payload else [])
        return " / ".join(parts)


def _layer_specs(layers):
    out = []
    for x in layers:
        if isinstance(x, Stack):
            if x.payload:
                raise ValueError("pass a Stack's payload with payload=")
            out += x.layers
        elif isinstance(x, L):
            out.append(x)
        elif isinstance(x, tuple) and len(x) == 2:           # ("ip", {"ttl": 5})
            out.append(L(x[0], **x[1]))
        else:
            raise TypeError(f"not a layer: {x!r} (use L(name, **fields))")
    return out


def build_frame(*layers, payload=b"", trailer=b"", registry=None) -> bytes:
    """Bytes of the stacked ``layers`` (outermost first) around ``payload``; ``trailer``
    goes after everything, outside every length (Ethernet padding, FCS)."""
    reg = registry or default_registry()
    specs = _layer_specs(layers)
    protos = []
    for spec in specs:
        proto = reg.protocols.get(spec.name)
        if proto is None:
            raise KeyError(f"no protocol {spec.name!r} (known: {', '.join(sorted(reg.protocols))})")
        protos.append(proto)
    fields = [dict(s.fields) for s in specs]
    for i in range(len(protos) - 1):
        _fill_binding(reg, protos[i], fields[i], protos[i + 1])
    inner = bytes(payload)
    headers = [b""] * len(protos)
    for i in range(len(protos) - 1, -1, -1):
        headers[i] = build_layer(protos[i], fields[i], len(inner))
        inner = headers[i] + inner
    buf = bytearray(inner + bytes(trailer))
    end = len(inner)
    places, off = [], 0
    for h in headers:
        places.append((off, len(h), end))
        off += len(h)
    todo = [{r.field for r in p.checksums if f.get(r.field) is None} for p, f in zip(protos, fields)]
    _fill_checksums(buf, protos, places, todo)
    return bytes(buf)


def make_frame(*layers, payload=b"", trailer=b"", linktype=None, ts_ns=0, registry=None) -> Frame:
    """A :class:`~decoder.capture.Frame` of the built bytes; the link type defaults to the
    outermost protocol's ``Bind("linktype", n)`` (``eth`` -> 1)."""
    reg = registry or default_registry()
    specs = _layer_specs(layers)
    data = build_frame(*specs, payload=payload, trailer=trailer, registry=reg)
    if linktype is None:
        first = reg.protocols[specs[0].name] if specs else None
        found = [v for b in (first.binds if first else ()) if b.table == "linktype" for v in b.values]
        if not found:
            raise ValueError(f"{specs[0].name if specs else 'empty stack'}: no linktype binding, pass linktype=")
        linktype = found[0]
    return Frame(data, linktype, ts_ns, len(data))


def _key_field(expr):
    """The flat field name a dispatch key reads, when the key is just ``this.field``."""
    if not callable(expr) or not fastpath._PATH.fullmatch(repr(expr)):
        return None
    keys = [a or b for a, b in fastpath._KEY.findall(repr(expr))]
    return keys[-1] if keys and not keys[-1].startswith("_") else None


def _fill_binding(reg, parent, fields, child):
    """Set the field ``parent`` dispatches on to a value bound to ``child`` (unless given)."""
    for d in parent.dispatch:
        values = [v for b in child.binds if b.table == d.table for v in b.values]
        names = [n for n in (_key_field(k) for k in d.keys) if n]
        if not values or not names:
            continue
        table = reg.tables.get(d.table, {})
        for n in names:
            given = fields.get(n)
            if given is not None and not isinstance(given, str) and table.get(int(given)) is child:
                return
        for n in names:
            if fields.get(n) is None:
                fields[n] = values[0]
        return


# --- one header -------------------------------------------------------------------------

def build_layer(proto, fields=None, payload_len=0, strict=True) -> bytes:
    """One protocol's header from flat ``fields`` (lengths computed for ``payload_len``
    octets of payload; checksums are left as given, or zero)."""
    obj = unflatten(proto.layout, fields or {}, payload_len, strict=strict, name=proto.name)
    return build_header(proto.layout, obj, payload_len)


def build_header(layout, obj, payload_len=0) -> bytes:
    """``layout.build(obj, payload_len=...)``; when an option list does not fill a whole
    number of header units (TCP/IPv4 options: 4 octets), it is padded with its end-of-list
    item and zeros, as Scapy does."""
    try:
        return layout.build(obj, payload_len=payload_len)
    except C.ConstructError as first:
        lists = [(name, tlv) for name, tlv in _tlv_members(layout)
                 if tlv.end and isinstance(obj.get(name), list)
                 and not (obj[name] and _kind(tlv, obj[name][-1]) in tlv.end)]
        if not lists:
            raise
        for pad in range(1, 8):
            trial = dict(obj)
            for name, tlv in lists:
                end_item = {tlv.type_name: min(tlv.end), tlv.padding: bytes(pad - 1)}
                trial[name] = list(obj[name]) + [end_item]
            try:
                return layout.build(trial, payload_len=payload_len)
            except C.ConstructError:
                continue
        raise first


def _tlv_members(layout):
    for sc in layout.subcons:
        inner = fastpath.unwrap(sc)
        if isinstance(inner, C.FixedSized):
            inner = fastpath.unwrap(inner.subcon)
        if isinstance(inner, TLV) and sc.name:
            yield sc.name, inner


def _kind(tlv, item):
    kind = item.get(tlv.type_name)
    if isinstance(kind, str) and isinstance(tlv.type_con, Named):
        kind = tlv.type_con.enum[kind]
    try:
        return int(kind)
    except (TypeError, ValueError):
        return None


# --- flat names -> construct-shaped objects ---------------------------------------------

def unflatten(layout, flat, payload_len=0, strict=True, name="layout") -> dict:
    """The nested object ``layout.build`` takes, from flat field names.

    Walks the layout: nested Structs and BitFields words collect their members, TLV
    lists take a list of item dicts (flat names inside; an item's members may also be
    given at the top level: ``**{"options.mss_val": 1460}`` makes an MSS option),
    repeated structs take lists (``"options.sack_le": [1, 3]``).  Fields left out are
    zero/empty, ``Auto`` fields and bit defaults are left to the build.  ``strict``
    rejects names the layout does not have.
    """
    u = _Unflattener(flat, Container(payload_len=payload_len))
    obj = u.struct(layout, None)
    if strict:
        unknown = [k for k in flat if k not in u.used]
        if unknown:
            from decoder.registry import layout_fields
            known = {n for n, _, _ in layout_fields(layout)}
            absent = [k for k in unknown if k not in known]
            if absent:
                raise KeyError(f"{name}: no field {', '.join(map(repr, absent))} in this layout")
            raise KeyError(f"{name}: {', '.join(map(repr, unknown))} not in the layout the other fields "
                           f"select (a Switch/If branch): give the fields that choose it")
    return obj


class _Unflattener:
    def __init__(self, flat, params):
        self.flat, self.params, self.used = flat, params, set()

    def _ctx(self, obj, parent):
        ctx = Container(obj)
        ctx["_"] = parent
        ctx["_params"] = self.params
        return ctx

    def _eval(self, expr, obj, parent):
        try:
            return fastpath.evaluate(expr, self._ctx(_as_containers(obj), parent))
        except Exception:
            return _ABSENT

    def struct(self, sc, parent, base=None):
        obj = dict(base) if isinstance(base, dict) else {}
        for sub in sc.subcons:
            name = sub.name
            if name and name in obj:
                continue
            value = self.node(sub, name, obj, parent)
            if value is _ABSENT:
                if sub.flagbuildnone:
                    continue
                value = None            # e.g. an If whose branch is Pass: construct wants the key
            if name or not sub.flagbuildnone:
                obj[name] = value       # construct builds an unnamed field from obj[None]
        return obj

    def node(self, sc, name, obj, parent):
        inner, auto = sc, False
        while isinstance(inner, (C.Renamed, C.Default, C.Rebuild)):
            auto = auto or not isinstance(inner, C.Renamed)
            inner = inner.subcon
        given = bool(name) and name in self.flat
        g = self.flat.get(name) if given else None
        if given:
            self.used.add(name)
        if isinstance(inner, C.Struct):
            return self.struct(inner, self._ctx(obj, parent), base=g)
        if isinstance(inner, BitFields):
            out = dict(g) if isinstance(g, dict) else {}
            for b in inner.bits:
                if b.name in self.flat:
                    self.used.add(b.name)
                    out[b.name] = self.flat[b.name]
            return out
        if isinstance(inner, C.FixedSized):
            return self.node(inner.subcon, name, obj, parent)
        if isinstance(inner, TLV):
            items = [self.tlv_item(inner, it, obj, parent) for it in (g or [])]
            return items + self.implicit_items(inner, obj, parent)
        if isinstance(inner, (C.GreedyRange, C.Array)):
            return self.repeated(inner, g if given else None, obj, parent)
        if isinstance(inner, C.Switch):
            key = self._eval(inner.keyfunc, obj, parent)
            case = inner.default if key is _ABSENT else inner.cases.get(key, inner.default)
            return self.node(case, name, obj, parent)
        if isinstance(inner, C.IfThenElse):
            cond = self._eval(inner.condfunc, obj, parent)
            branch = (inner.thensubcon if (given if cond is _ABSENT else cond) else inner.elsesubcon)
            return self.node(branch, name, obj, parent)
        if given:
            if isinstance(inner, Named) and isinstance(g, str):
                return inner.enum[g]
            return g
        if auto or getattr(inner, "flagbuildnone", False):
            return _ABSENT
        if isinstance(inner, _Address):
            return bytes(inner.size)
        if isinstance(inner, (C.FormatField, C.BytesInteger, C.BitsInteger, Named, C.Enum, C.FlagsEnum)):
            return 0
        if isinstance(inner, C.Bytes) or (Text is not None and isinstance(inner, Text)):
            if getattr(inner, "length", None) is None:
                return b""
            n = self._eval(inner.length, obj, parent)
            return bytes(n) if isinstance(n, int) and n >= 0 else b""
        if inner is C.GreedyBytes or isinstance(inner, (C.GreedyString, C.CString, C.PascalString)):
            return b"" if inner is C.GreedyBytes else ""
        return None

    def repeated(self, rng, given, obj, parent):
        sub = rng.subcon
        inner = fastpath.unwrap(sub)
        if given is not None:
            if isinstance(inner, C.Struct):
                return [self.sub_struct(inner, el, obj, parent) if isinstance(el, dict) else el for el in given]
            return list(given)
        if isinstance(inner, C.Struct):
            from decoder.registry import layout_fields
            members = [n for n, _, _ in layout_fields(inner)]
            lists = {}
            for m in members:
                if m in self.flat:
                    self.used.add(m)
                    v = self.flat[m]
                    lists[m] = list(v) if isinstance(v, (list, tuple)) else [v]
            count = max((len(v) for v in lists.values()), default=0)
            if isinstance(rng, C.Array):
                n = self._eval(rng.count, obj, parent)
                if isinstance(n, int):
                    count = max(count, n)
            return [self.sub_struct(inner, {m: v[i] for m, v in lists.items() if i < len(v)}, obj, parent)
                    for i in range(count)]
        if isinstance(rng, C.Array):
            n = self._eval(rng.count, obj, parent)
            if isinstance(n, int) and n > 0:
                u = _Unflattener({}, self.params)
                return [u.node(sub, None, {}, self._ctx(obj, parent)) for _ in range(n)]
        return []

    def sub_struct(self, sc, flat, obj, parent):
        u = _Unflattener(flat, self.params)
        return u.struct(sc, self._ctx(obj, parent))

    def tlv_item(self, tlv, item, obj, parent):
        item = {k: v for k, v in dict(item).items() if not k.startswith("_")}
        kind = _kind(tlv, item)
        if kind is None:
            raise KeyError(f"{tlv.type_name}: every item needs its type, got {item!r}")
        if isinstance(item[tlv.type_name], str):
            item[tlv.type_name] = kind
        if kind in tlv.bare:
            return item
        layout = tlv.values.get(kind)
        if layout is None:
            item.setdefault(tlv.raw, b"")
            return item
        item.update(self.sub_struct(layout, item, obj, parent))
        return item

    def implicit_items(self, tlv, obj, parent):
        """Items made from value fields given at the layer's top level."""
        from decoder.registry import layout_fields
        out = []
        members = {kind: [n for n, _, _ in layout_fields(layout)] for kind, layout in tlv.values.items()}
        owners = {}
        for kind, names in members.items():
            for n in names:
                owners.setdefault(n, set()).add(kind)
        for kind, layout in tlv.values.items():
            names = members[kind]
            # a field that only this kind of item has ("options.mss_val") makes the item
            if any(n in self.flat and n not in self.used and owners[n] == {kind} for n in names):
                item = {tlv.type_name: kind}
                for n in names:
                    if n in self.flat:
                        self.used.add(n)
                        item[n] = self.flat[n]
                out.append(self.tlv_item(tlv, item, obj, parent))
        return out


def _as_containers(obj):
    if isinstance(obj, dict):
        return Container((k, _as_containers(v)) for k, v in obj.items())
    return obj


def auto_fields(layout) -> set:
    """Flat names of the fields the build computes: ``Auto`` fields with a ``this``
    expression (lengths) and bit fields whose default is one (header lengths).
    Checksums (``Auto(..., 0)`` plus a ChecksumRule) are handled by their rules."""
    out = set()

    def walk(sc, name=None):
        if isinstance(sc, C.Renamed):
            return walk(sc.subcon, sc.name)
        if isinstance(sc, C.Default):
            if callable(sc.value) and name:
                out.add(name)
            return walk(sc.subcon, name)
        if isinstance(sc, C.Rebuild):
            if name:
                out.add(name)
            return walk(sc.subcon, name)
        if isinstance(sc, C.Struct):
            for sub in sc.subcons:
                walk(sub)
        elif isinstance(sc, BitFields):
            out.update(b.name for b in sc.bits if callable(b.default))
        elif isinstance(sc, (C.FixedSized, C.GreedyRange, C.Array)):
            walk(sc.subcon, name)
        elif isinstance(sc, (C.Switch, C.IfThenElse)):
            for case in fastpath.branches(sc):
                walk(case, name)
    walk(layout)
    return out


# --- checksums --------------------------------------------------------------------------

def _fill_checksums(buf, protos, places, todo):
    """Compute the checksums named in ``todo[i]`` over ``buf`` (a bytearray), innermost
    layer first so an outer checksum covers the inner ones' final values."""
    layers, parent = [], None
    for proto, (off, hlen, end) in zip(protos, places):
        v = proto.prefix.struct.unpack_from(buf, off) if off + proto.prefix.size <= len(buf) else None
        layer = Layer(proto, buf, off, hlen, end, v, parent)
        layers.append(layer)
        parent = layer
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        for rule in layer.proto.checksums:
            if rule.field not in todo[i] or layer.v is None:
                continue
            data, _ = rule.covered(layer)
            struct.pack_into(">H", buf, layer.off + rule.offset, rule.compute(layer, data))


# --- editing decoded packets ------------------------------------------------------------

def _layer_index(packet, which):
    if isinstance(which, int):
        if not -len(packet.layers) <= which < len(packet.layers):
            raise IndexError(f"packet has {len(packet.layers)} layers, no layer {which}")
        return which % len(packet.layers)
    if hasattr(which, "proto"):
        for i, layer in enumerate(packet.layers):
            if layer is which:
                return i
    for i, layer in enumerate(packet.layers):
        if layer.proto.name == which:
            return i
    raise KeyError(f"no {which!r} layer in {packet!r}")


def edit(packet, layer=0, **changes) -> bytes:
    """The frame of ``packet`` with fields of one layer (a name, index or Layer) changed.

    Changes use the layer's flat field names (``ttl=1``, ``**{"flags.df": 0}``); a field
    that occurs several times takes a list (one value per occurrence) or a single value
    (the first occurrence); a container name takes the whole value (``options=[...]``).
    ``None`` asks for a computed field (length, checksum) to be recomputed.  Every layer
    is rebuilt from its decoded value: lengths, header lengths and checksums the caller
    did not set are recomputed when they were right in the decoded packet and kept as
    decoded otherwise; undecoded data and trailers are kept in place.  Only fully
    decoded layers (status ``ok``) can be rebuilt; bytes from the first truncated or
    malformed layer on are carried over unchanged.
    """
    layers = packet.layers
    idx = _layer_index(packet, layer)
    for lay in layers:
        lay.value           # a full parse may find a layer malformed that head() passed
    k = next((i for i, lay in enumerate(layers) if lay.status != OK), len(layers))
    if idx >= k:
        raise ValueError(f"layer {k} ({layers[k].name}) is {layers[k].status}: only the fully decoded "
                         f"layers before it can be edited, not layer {idx} ({layers[idx].name})")
    buf = packet.frame.data
    last = layers[k - 1]
    inner = bytes(buf[last.off + last.hlen:last.end])
    headers, plens = [b""] * k, [0] * k
    todo = [set() for _ in range(k)]
    for i in range(k - 1, -1, -1):
        lay = layers[i]
        if i < k - 1:
            inner += bytes(buf[layers[i + 1].end:lay.end])
        mine = changes if i == idx else {}
        headers[i] = _rebuild_header(lay, mine, len(inner))
        plens[i] = len(inner)
        inner = headers[i] + inner
        for rule in lay.proto.checksums:
            if rule.field in mine:
                recompute = mine[rule.field] is None
            else:
                recompute = rule.status(lay)[0] == GOOD
            if recompute:
                todo[i].add(rule.field)
    out = bytearray(bytes(buf[:layers[0].off]) + inner + bytes(buf[layers[0].end:]))
    places, off = [], layers[0].off
    for h, plen in zip(headers, plens):
        places.append((off, len(h), off + len(h) + plen))
        off += len(h)
    _fill_checksums(out, [lay.proto for lay in layers[:k]], places, todo)
    return bytes(out)


def edit_frame(packet, layer=0, **changes) -> Frame:
    """:func:`edit` as a Frame with the packet's link type and timestamp; a frame the
    capture had cut short stays short by as many octets."""
    data = edit(packet, layer, **changes)
    frame = packet.frame
    missing = max(0, frame.orig_len - len(frame.data))
    return dataclasses.replace(frame, data=data, orig_len=len(data) + missing)


# construct's own context keys; a spec's internal fields ("_c", a Peek read ahead) stay
_INTERNAL = frozenset(("_", "_io", "_params", "_root", "_parsing", "_building", "_sizing", "_subcons", "_index"))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in _INTERNAL}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _occurrences(value, name, path=()):
    """``(container, key, ancestors)`` for each occurrence of ``name``, in flatten order."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == name:
                yield value, k, path
            elif isinstance(v, dict):
                yield from _occurrences(v, name, path + (value,))
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, dict):
                        yield from _occurrences(item, name, path + (value, item))


def _rebuild_header(layer, changes, payload_len) -> bytes:
    proto = layer.proto
    layout = proto.layout
    value = _plain(layer.value)
    autos = auto_fields(layout)
    orig_flat = flatten(layer.value)
    orig_plen = layer.end - layer.off - layer.hlen
    # which computed fields were right in the decoded packet: rebuild them and compare
    try:
        trial = copy.deepcopy(value)
        for a in autos:
            _set_all(trial, a, None)
        redone = flatten(layout.parse(build_header(layout, trial, orig_plen)))
        stale = {a for a in autos if redone.get(a) != orig_flat.get(a)}
    except Exception:
        stale = set(autos)
    tlvs = {tlv.type_name: tlv for _, tlv in _tlv_members(layout)}
    bit_changes = {}
    for name, new in changes.items():
        node, bit = proto.field_nodes.get(name, (None, None))
        if name not in proto.field_nodes:
            occ = list(_occurrences(value, name))
            if not occ:
                raise KeyError(f"{proto.name}: no field {name!r} to change")
            container, key, _ = occ[0]
            inner = _container_node(layout, name)
            if isinstance(inner, TLV) and new is not None:
                u = _Unflattener({}, Container(payload_len=payload_len))
                new = [u.tlv_item(inner, it, value, None) for it in new]
            elif isinstance(inner, BitFields) and isinstance(new, dict):
                for bname, bval in new.items():
                    bit_changes.setdefault(id(container[key]), [container[key], inner, {}])[2][bname] = bval
                continue
            elif isinstance(new, dict) and isinstance(container[key], dict):
                container[key].update(new)
                continue
            container[key] = new
            continue
        occ = list(_occurrences(value, name))
        if not occ:
            raise KeyError(f"{proto.name}: this packet has no {name!r} field to change")
        if bit is not None:
            targets = list(zip(occ, new)) if isinstance(new, (list, tuple)) else [(occ[0], new)]
            for (container, key, _), val in targets:
                bit_changes.setdefault(id(container), [container, node, {}])[2][name] = val
            continue
        if isinstance(new, (list, tuple)) and len(occ) > 1 and not isinstance(occ[0][0][occ[0][1]], list):
            targets = list(zip(occ, new))
        else:
            targets = [(occ[0], new)]
        for (container, key, ancestors), val in targets:
            container[key] = val
            for anc in (container,) + tuple(reversed(ancestors)):
                tlv = next((t for tn, t in tlvs.items() if tn in anc and t.length_name in anc), None)
                if tlv is not None:
                    if name != tlv.length_name:
                        anc[tlv.length_name] = None
                    break
    for container, node, bits in bit_changes.values():
        word = node._encode(container, None, None)
        for b in node._build_order:
            if b.name in bits and bits[b.name] is not None:
                word = (word & ~b.mask) | (((int(bits[b.name]) // b.scale) << b.shift) & b.mask)
        container.update(node._decode(word, None, None))
        for bname, bval in bits.items():
            if bval is None:
                container[bname] = None
    for a in autos:
        if a in changes or a in stale:
            continue
        _set_all(value, a, None)
    _fill_unnamed(layout, value, None)
    return build_header(layout, value, payload_len)


def _fill_unnamed(sc, value, parent):
    """Give unnamed fields (which a parse drops) their zero value so the layout builds."""
    inner = fastpath.unwrap(sc)
    if isinstance(inner, C.FixedSized):
        return _fill_unnamed(inner.subcon, value, parent)
    try:
        if isinstance(inner, C.Switch):
            case = inner.cases.get(fastpath.evaluate(inner.keyfunc, parent), inner.default)
            return _fill_unnamed(case, value, parent)
        if isinstance(inner, C.IfThenElse):
            cond = fastpath.evaluate(inner.condfunc, parent)
            return _fill_unnamed(inner.thensubcon if cond else inner.elsesubcon, value, parent)
    except Exception:
        return None
    if not isinstance(inner, C.Struct) or not isinstance(value, dict):
        return None
    ctx = _as_containers(value)
    ctx["_"] = parent
    for sub in inner.subcons:
        if sub.name is None and None not in value and not sub.flagbuildnone:
            value[None] = _Unflattener({}, Container(payload_len=0)).node(sub, None, value, parent)
        elif sub.name in value:
            _fill_unnamed(sub, value[sub.name], ctx)
    return None


def _set_all(value, name, new):
    for container, key, _ in list(_occurrences(value, name)):
        container[key] = new


def _container_node(layout, name):
    """The unwrapped node of a container field (struct, bit-field word, option list)."""
    found = None

    def walk(sc, nm=None):
        nonlocal found
        if found is not None:
            return
        if isinstance(sc, C.Renamed):
            return walk(sc.subcon, sc.name)
        inner = fastpath.unwrap(sc)
        if isinstance(inner, C.FixedSized):
            return walk(inner.subcon, nm)
        if nm == name:
            found = inner
            return
        if isinstance(inner, C.Struct):
            for sub in inner.subcons:
                walk(sub)
        elif isinstance(inner, (C.Switch, C.IfThenElse)):
            for case in fastpath.branches(inner):
                walk(case, nm)
    walk(layout)
    return found
