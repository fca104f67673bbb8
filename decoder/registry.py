"""The registry: finds spec modules, joins them by their bindings, compiles fast paths.

A spec is any module in ``specs/`` (or a user's ``--specs DIR``) whose name does
not start with ``_`` and which defines ``PROTOCOL`` (or ``PROTOCOLS``).  Nothing
else needs editing to add a protocol.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

import construct as C

from decoder import fastpath
from decoder.protocol import Protocol
from specs._fields import BitFields
from specs._tlv import TLV


class SpecError(Exception):
    """A spec module is unusable (one-line message naming the file)."""


def _modules_in_package():
    import specs
    for info in sorted(pkgutil.iter_modules(specs.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"specs.{info.name}")


def _modules_in_dir(directory):
    directory = Path(directory)
    if not directory.is_dir():
        raise SpecError(f"{directory}: not a directory of spec files")
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"protospec_user_specs.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # a user's spec file: report, don't trace
            raise SpecError(f"{path}: cannot load spec: {type(e).__name__}: {e}") from None
        yield module


def protocols_of(module):
    found = getattr(module, "PROTOCOLS", None) or ([module.PROTOCOL] if hasattr(module, "PROTOCOL") else [])
    for p in found:
        p.module = module.__name__
        p.file = getattr(module, "__file__", "")
    return found


def layout_fields(layout):
    """Every field name a layout can produce, with its node: ``[(name, node, bit)]``.

    Containers (structs, bit-field words, option lists) contribute their members, not
    themselves; ``bit`` is the :class:`~specs._fields.Bit` for bit fields.
    """
    out = []

    def walk(sc, name=None):
        if isinstance(sc, C.Renamed):
            return walk(sc.subcon, sc.name)
        inner = fastpath.unwrap(sc)
        if isinstance(inner, C.Struct):
            for sub in inner.subcons:
                walk(sub)
        elif isinstance(inner, BitFields):
            out.extend((b.name, inner, b) for b in inner.bits)
        elif isinstance(inner, TLV):
            out.append((inner.type_name, inner.type_con, None))
            out.append((inner.length_name, inner.length_con, None))
            for value in inner.values.values():
                walk(value)
            out.append((inner.raw, None, None))
            if inner.end:
                out.append((inner.padding, None, None))
        elif isinstance(inner, (C.Switch, C.IfThenElse)):
            # a named Switch of plain fields is that field ("protocol": 1 or 2 octets)
            for case in fastpath.branches(inner):
                walk(case, name)
        elif isinstance(inner, (C.FixedSized, C.GreedyRange, C.Array, C.Peek)):
            walk(inner.subcon, name)
        elif name and not name.startswith("_"):   # "_x": internal (a Peek read ahead)
            out.append((name, sc, None))

    walk(layout)
    seen, unique = set(), []
    for entry in out:
        if entry[0] not in seen:
            seen.add(entry[0])
            unique.append(entry)
    return unique


class Registry:
    def __init__(self):
        self.protocols: dict[str, Protocol] = {}
        self.tables: dict[str, dict[int, Protocol]] = {}
        self.fields: dict[str, tuple[Protocol, str]] = {}
        self.field_owners: dict[str, list[tuple[Protocol, str]]] = {}
        #: names of the protocols bound in the ``ethertype`` table (``frame.protocols``
        #: puts tshark's ``ethertype`` step before them)
        self.ethertype_protos: frozenset[str] = frozenset()

    @classmethod
    def default(cls, extra_dirs=()):
        reg = cls()
        for module in _modules_in_package():
            reg.add_module(module)
        for d in extra_dirs:
            for module in _modules_in_dir(d):
                reg.add_module(module)
        reg.finish()
        return reg

    def add_module(self, module):
        for p in protocols_of(module):
            self.add(p)

    def add(self, proto: Protocol):
        if proto.name in self.protocols:
            raise SpecError(f"{getattr(proto, 'file', proto.name)}: protocol {proto.name!r} is already defined")
        self.protocols[proto.name] = proto

    def finish(self):
        """Fill dispatch tables from the bindings, then compile every protocol."""
        for p in self.protocols.values():
            for b in p.binds:
                table = self.tables.setdefault(b.table, {})
                for value in b.values:
                    table[value] = p
        self.ethertype_protos = frozenset(p.name for p in self.tables.get("ethertype", {}).values())
        for p in self.protocols.values():
            compile_protocol(p, self)
            for rel in p.field_names:
                # a name may belong to several protocols of one namespace (ipv6.opt.type in
                # hop-by-hop and destination options): resolve() gives the first
                self.field_owners.setdefault(f"{p.namespace}.{rel}", []).append((p, rel))
                self.fields.setdefault(f"{p.namespace}.{rel}", (p, rel))
            for rel, full in p.aliases.items():     # Wireshark's name outside the namespace
                self.field_owners.setdefault(full, []).append((p, rel))
                self.fields.setdefault(full, (p, rel))
        return self

    def resolve(self, name: str):
        """``(protocol, relative name)`` for a full field name, or None."""
        hit = self.fields.get(name)
        if hit:
            return hit
        if name in self.protocols:
            return self.protocols[name], ""
        return None

    def leads_to(self, wanted) -> dict[str, bool]:
        """Per protocol: whether it, or any protocol its dispatch tables can lead to
        (transitively), is one of ``wanted`` (protocol names)."""
        wanted = set(wanted)
        children = {name: {c.name for d in p.dispatch for c in self.tables.get(d.table, {}).values()}
                    for name, p in self.protocols.items()}
        out = {}
        for start in self.protocols:
            seen, todo = {start}, [start]
            while todo:
                for child in children[todo.pop()]:
                    if child not in seen:
                        seen.add(child)
                        todo.append(child)
            out[start] = not seen.isdisjoint(wanted)
        return out

    def protocols_of(self, fields) -> set[str] | None:
        """The protocols whose layers give these full field names (``tcp.stream`` and
        other annotations count for their protocol), or None when some field needs every
        layer decoded (``frame.protocols``, undecoded ``data``, an unknown name)."""
        out = set()
        for name in fields:
            owners = self.resolve_all(name)
            if owners:
                out.update(p.name for p, _ in owners)
                continue
            if name.startswith("frame.") and name != "frame.protocols":
                continue
            parts = name.split(".")
            for i in range(len(parts) - 1, 0, -1):
                if ".".join(parts[:i]) in self.protocols:
                    out.add(".".join(parts[:i]))
                    break
            else:
                return None
        return out

    def resolve_all(self, name: str) -> list:
        """Every ``(protocol, relative name)`` a full field name can come from."""
        if name in self.field_owners:
            return list(self.field_owners[name])
        hit = self.resolve(name)
        return [hit] if hit else []


def compile_protocol(p: Protocol, reg: Registry):
    """Attach the generated fast decoders to a protocol."""
    prefix = fastpath.Prefix(p.layout)
    p.prefix = prefix
    p.full = fastpath.compile_layout(p.layout)
    fields = layout_fields(p.layout)
    p.field_nodes = {name: (node, bit) for name, node, bit in fields}
    extra = []
    for rule in p.checksums:
        extra += [f"{rule.field}.status", f"{rule.field}_calculated"]
    extra += [v.name for v in p.virtual]
    p.field_names = [name for name, _, _ in fields] + extra
    env = fastpath.address_env()
    env["unpack"] = prefix.struct.unpack_from
    env["full"] = p.full
    env["_flat_get"] = _flat_get
    needs_full = []
    direct = _direct_fields(p.layout)

    def resolve(name):
        if name in prefix.by_name:
            return prefix.source(name)
        needs_full.append(name)
        if name in direct:          # a plain top-level field: no search through the value
            return f"value[{name!r}]"
        return f"_flat_get(value, {name!r})"

    getters = {}
    for f in prefix.fields:
        getters[f.name] = eval(f"lambda v: {f.source}", env)
    p.getters = getters
    p.raw_getters = {f.name: eval(f"lambda v: v[{f.index}]", env) for f in prefix.fields if f.bit is None}

    hlen = _header_length_source(prefix, resolve)
    body = []
    if p.payload_length is not None:
        plen = fastpath.expr_source(p.payload_length, resolve)
    else:
        plen = None
    dispatch_lines = []
    for i, d in enumerate(p.dispatch):
        env[f"T{i}"] = reg.tables.get(d.table, {})
        keys = [fastpath.expr_source(k, resolve) for k in d.keys]
        cond = fastpath.expr_source(d.when, resolve) if d.when is not None else "True"
        lookup = (f"T{i}.get({keys[0]})" if len(keys) == 1
                  else f"_first(T{i}, {', '.join(keys)})")
        if i > 0:
            dispatch_lines.append(f"    if child is None and {cond}:\n        child = {lookup}")
        elif cond == "True":
            dispatch_lines.append(f"    child = {lookup}")
        else:
            dispatch_lines.append(f"    child = {lookup} if {cond} else None")
    env["_first"] = _first_match
    if needs_full or hlen is None or p.strict:
        body.append("    value, hend = full(buf, off, end)")
        if hlen is None:
            hlen = "hend - off"
    src = ["def head(buf, off, end):", "    v = unpack(buf, off)"] + body
    src.append(f"    hlen = {hlen}")
    if plen is not None:
        src.append(f"    pend = off + hlen + ({plen})")
    else:
        src.append("    pend = end")
    src += dispatch_lines or ["    child = None"]
    src.append(f"    return v, hlen, pend, child, {'value' if body else 'None'}")
    code = "\n".join(src)
    exec(compile(code, f"<fastpath {p.name}>", "exec"), env)
    p.head = env["head"]
    p.head_source = code


def _first_match(table, *keys):
    if len(keys) == 2:                 # source and destination port: the hot case, no sort
        a, b = keys
        if b < a:
            a, b = b, a
        hit = table.get(a)
        return hit if hit is not None else table.get(b)
    for k in sorted(keys):
        hit = table.get(k)
        if hit is not None:
            return hit
    return None


def _direct_fields(layout) -> set[str]:
    """Top-level fields of a layout that a parse always holds as one plain value, with no
    field of the same name before them: ``value[name]`` is then ``flatten(value)[name][0]``."""
    direct, before = set(), set()
    for sc in getattr(layout, "subcons", ()):
        names = [n for n, _, _ in layout_fields(C.Struct(sc))] if sc.name else []
        if sc.name and names == [sc.name] and sc.name not in before and _plain(sc):
            direct.add(sc.name)
        before.update(names)
    return direct


def _plain(sc) -> bool:
    """The node parses to one plain value (not a container or list), whatever branch."""
    inner = fastpath.unwrap(sc)
    alts = fastpath.branches(inner)
    if alts is not None:
        return all(_plain(c) for c in alts)
    if isinstance(inner, C.FixedSized):
        return _plain(inner.subcon)
    return not isinstance(inner, (C.Struct, C.GreedyRange, C.Array, C.Sequence, TLV, BitFields))


_MISSING = object()


def _flat_get(value, name):
    """The first value of field ``name`` in a parsed header: ``flatten(value)[name][0]``,
    found depth-first without flattening everything (a dispatch key read on every frame)."""
    found = _find(value, name)
    return None if found is _MISSING else found


def _find(value, name):
    for k, v in value.items():
        if k.startswith("_"):
            continue
        if isinstance(v, dict):
            found = _find(v, name)
            if found is not _MISSING:
                return found
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, dict):
                    found = _find(item, name)
                    if found is not _MISSING:
                        return found
                elif k == name:
                    return item
        elif k == name:
            return v
    return _MISSING


def _header_length_source(prefix, resolve):
    """Source for the header length from the prefix, or None when only a full parse knows."""
    parts = [str(prefix.size)]
    for sc in prefix.rest:
        size = fastpath.static_size(sc)
        if size is not None:
            parts.append(str(size))
            continue
        inner = fastpath.unwrap(sc)
        if isinstance(inner, C.FixedSized):
            try:
                parts.append(fastpath.expr_source(inner.length, lambda n: prefix.source(n)))
            except KeyError:
                return None
            continue
        return None
    return " + ".join(parts)
