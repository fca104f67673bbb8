"""``protospec decode -T fields -e NAME ...``: one line per packet, tshark's semantics.

Per requested field a plan is made once: which protocols own it, whether it is a
prefix field (one tuple index in the layer's unpacked header, the fast path) and how
tshark prints it (:mod:`decoder.fieldfmt`).  When every requested field is a prefix
field or a plain ``frame.*`` field, packets are walked with the protocols' generated
``head`` functions directly and each owner protocol runs one generated function that
formats its columns straight from the unpacked tuple; any packet that is not clean
(a layer truncated, malformed or too short) is handed to :class:`decoder.packet.Decoder`
and extracted the general way, so both paths print the same.
"""
from __future__ import annotations

import difflib

import construct as C

from decoder import fastpath
from decoder.fastpath import Malformed, Truncated
from decoder.fieldfmt import code_for, fast_source, format_value
from specs._fields import Named, _Address

_TEXT_CODES = ("4", "6", "e", "s", "?")

_NS = 1_000_000_000


def _is_int(f) -> bool:
    """Whether a prefix field's getter yields an int (bits, integers, enumerations)."""
    return f.bit is not None or isinstance(fastpath.unwrap(f.node), (C.FormatField, Named))


class FieldError(Exception):
    """An unknown ``-e`` field (one-line message with a suggestion)."""


def ns_text(d: int, digits: int = 9) -> str:
    """Signed nanoseconds as seconds with ``digits`` decimals (truncated, like tshark)."""
    sign = "-" if d < 0 else ""
    d = -d if d < 0 else d
    frac = (d % _NS) // 10 ** (9 - digits)
    return f"{sign}{d // _NS}.{frac:0{digits}d}"


class Clock:
    """Timestamps of the first and the previous frame (relative and delta times)."""

    __slots__ = ("first", "prev", "cur")

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Start again, for the next capture."""
        self.first = self.prev = self.cur = None

    def tick(self, ts: int) -> None:
        if self.first is None:
            self.first = self.prev = ts
        else:
            self.prev = self.cur
        self.cur = ts


def protocols_text(protos, has_data: bool, ethertype_protos) -> str:
    """``frame.protocols`` the way tshark spells it (approximately): ``eth:ethertype:ip:tcp``.

    tshark names the EtherType dispatch as a pseudo-protocol; undissected payload is ``data``.
    ``ethertype_protos``: names of the protocols bound in the ``ethertype`` table."""
    names = []
    for i, p in enumerate(protos):
        names.append(p.name)
        if i + 1 < len(protos) and protos[i + 1].name in ethertype_protos and any(
                d.table == "ethertype" for d in p.dispatch):
            names.append("ethertype")
    if has_data:
        names.append("data")
    return ":".join(names)


FRAME_FIELDS = {
    "frame.number": lambda f, n, c, p: str(n),
    "frame.time_epoch": lambda f, n, c, p: ns_text(f.ts_ns),
    "frame.time_relative": lambda f, n, c, p: ns_text(f.ts_ns - c.first),
    "frame.time_delta": lambda f, n, c, p: ns_text(f.ts_ns - c.prev),
    "frame.time_delta_displayed": lambda f, n, c, p: ns_text(f.ts_ns - c.prev),
    "frame.len": lambda f, n, c, p: str(f.orig_len),
    "frame.cap_len": lambda f, n, c, p: str(len(f.data)),
    "frame.interface_id": lambda f, n, c, p: str(f.interface),
    "frame.comment": lambda f, n, c, p: f.comment or "",
    "frame.protocols": None,          # needs the layer list: filled in per path
}
COLUMN_FIELDS = ("_ws.col.No.", "_ws.col.Time", "_ws.col.Source", "_ws.col.Destination",
                 "_ws.col.Protocol", "_ws.col.Length", "_ws.col.Info")


def known_names(reg) -> list[str]:
    return sorted(set(reg.fields) | set(reg.protocols) | set(FRAME_FIELDS) | set(COLUMN_FIELDS))


def unknown_field_message(reg, name: str) -> str:
    close = difflib.get_close_matches(name, known_names(reg), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown field {name!r}{hint}"


class FieldsWriter:
    """Formats ``-T fields`` rows; :meth:`run` streams a whole capture."""

    def __init__(self, reg, names, separator="\t", occurrence="a", aggregator=",",
                 quote="", header=False, annotations=()):
        if occurrence not in ("a", "f", "l"):
            raise FieldError(f"bad occurrence {occurrence!r}: use f, l or a")
        self.reg, self.names = reg, list(names)
        self.sep, self.occurrence, self.agg, self.quote = separator, occurrence, aggregator, quote
        self.header = header
        self.ethertype_protos = reg.ethertype_protos
        self.cols = []                 # (kind, name, data) per column
        fast = True
        per_proto: dict = {}
        for i, name in enumerate(self.names):
            if name in FRAME_FIELDS:
                self.cols.append(("frame", name, FRAME_FIELDS[name]))
                continue
            if name in COLUMN_FIELDS:
                self.cols.append(("col", name, None))
                fast = False
                continue
            if name in annotations and name not in reg.fields:
                self.cols.append(("field", name, "A"))     # set by analysis stages
                fast = False
                continue
            if name in reg.protocols and name not in reg.fields:
                self.cols.append(("proto", name, None))
                fast = False
                continue
            owners = [o for o in reg.resolve_all(name) if o[1]]
            if not owners:
                raise FieldError(unknown_field_message(reg, name))
            proto, rel = owners[0]
            code = code_for(proto, rel, name)
            self.cols.append(("field", name, code))
            for p, r in owners:
                f = p.prefix.by_name.get(r)
                if f is None:
                    fast = False
                    continue
                per_proto.setdefault(p.name, (p, []))[1].append((i, f, code_for(p, r, name)))
        self.fast = fast
        self.exts = {name: self._compile(p, items) for name, (p, items) in per_proto.items()}
        self.frame_cols = [(i, data) for i, (kind, name, data) in enumerate(self.cols)
                           if kind == "frame" and data is not None]
        self.protocols_cols = [i for i, (kind, name, _) in enumerate(self.cols)
                               if name == "frame.protocols"]

    # -- the generated per-protocol extractors --------------------------------------------

    def _compile(self, proto, items):
        env = fastpath.address_env()
        env["_fmt"] = format_value
        lines = ["def ext(v, out):"]
        for i, f, code in items:
            src = fast_source(code, f.source) if _is_int(f) else None
            if src is None and code in _TEXT_CODES and isinstance(fastpath.unwrap(f.node), _Address):
                src = f.source                 # the getter already gives the address text
            if src is None:
                src = f"_fmt({code!r}, {f.source})"
            lines.append(f"    s = {src}")
            if self.occurrence == "a":
                lines.append(f"    o = out[{i}]")
                lines.append(f"    out[{i}] = s if not o else o + {self.agg!r} + s")
            elif self.occurrence == "f":
                lines.append(f"    if not out[{i}]:\n        out[{i}] = s")
            else:
                lines.append(f"    out[{i}] = s")
        code = "\n".join(lines)
        exec(compile(code, f"<fields {proto.name}>", "exec"), env)
        return env["ext"]

    # -- rows ---------------------------------------------------------------------------

    def header_line(self) -> str:
        return self.sep.join(self._quoted(n) for n in self.names)

    def _quoted(self, s: str) -> str:
        return f"{self.quote}{s}{self.quote}" if self.quote else s

    def _pick(self, texts: list[str]) -> str:
        if not texts:
            return ""
        if self.occurrence == "f":
            return texts[0]
        if self.occurrence == "l":
            return texts[-1]
        return self.agg.join(texts)

    def row(self, pkt, clock) -> list[str]:
        """The general path: every column from a decoded :class:`~decoder.packet.Packet`."""
        frame, n = pkt.frame, pkt.number
        out = []
        for kind, name, data in self.cols:
            if kind == "field":
                vals = pkt.values(name)
                out.append(self._pick([format_value(data, x) for x in vals]))
            elif kind == "frame":
                if data is None:
                    out.append(protocols_text([l.proto for l in pkt.layers], bool(pkt.data),
                                              self.ethertype_protos))
                else:
                    out.append(data(frame, n, clock, None))
            elif kind == "proto":
                from decoder.tree import layer_title
                out.append(self._pick([layer_title(l) for l in pkt.layers if l.proto.name == name]))
            else:
                from decoder.summary import columns
                out.append(columns(pkt, clock)[name[len("_ws.col."):]])
        return out

    def line(self, row) -> str:
        quote = self.quote
        return self.sep.join(f"{quote}{x}{quote}" for x in row) if quote else self.sep.join(row)

    @staticmethod
    def _spill(lines, write, tick) -> None:
        write("\n".join(lines) + "\n")
        lines.clear()
        if tick is not None:
            tick()

    def run(self, frames, write, decoder, tick=None, batch=2048, flt=None, count=None) -> int:
        """Write one line per frame; returns the number of frames.  Lines are written in
        batches, and always before an exception from ``frames`` propagates.  With a display
        filter ``flt`` every frame is decoded (numbers and times count all of them, as in
        tshark), only the matching ones are written, and ``count`` stops after that many."""
        lines = []
        n = shown = 0
        clock = Clock()
        try:
            if self.header:
                lines.append(self.header_line())
            if self.fast and flt is None:
                n = self._run_fast(frames, lines, write, decoder, clock, tick, batch)
            else:
                for frame in frames:
                    n += 1
                    clock.tick(frame.ts_ns)
                    pkt = decoder.decode(frame, n)
                    if flt is not None and not flt(pkt):
                        continue
                    lines.append(self.line(self.row(pkt, clock)))
                    shown += 1
                    if len(lines) >= batch:
                        self._spill(lines, write, tick)
                    if count is not None and shown >= count:
                        break
        finally:
            if lines:
                write("\n".join(lines) + "\n")
        return n

    def _run_fast(self, frames, lines, write, decoder, clock, tick, flush_every) -> int:
        linktypes = decoder.linktypes
        exts = self.exts
        # per protocol name: (fixed header size, head function, extractor or None)
        steps = {p.name: (p.prefix.size, p.head, exts.get(p.name)) for p in self.reg.protocols.values()}
        ncols = len(self.cols)
        blank = [""] * ncols
        frame_cols = self.frame_cols
        protocols_cols = self.protocols_cols
        want_protos = bool(protocols_cols)
        ethertype_protos = self.ethertype_protos
        # descend only while a requested field can still lie ahead: ip.src and tcp.srcport
        # need no HTTP or DNS decode (frame.protocols needs every layer)
        useful = self.reg.leads_to(exts) if not want_protos else \
            dict.fromkeys(self.reg.protocols, True)
        sep, quote = self.sep, self.quote
        row = self.row
        append = lines.append
        # a decoder that reassembles decides about fragments itself
        is_fragment = getattr(decoder, "is_fragment", None)
        n = 0
        for frame in frames:
            n += 1
            buf = frame.data
            end = len(buf)
            off = 0
            proto = linktypes.get(frame.linktype)
            out = blank[:]
            protos = [] if want_protos else None
            if frame_cols:
                clock.tick(frame.ts_ns)
            first = True
            # the clean path of Decoder._decode: a layer per protocol while octets remain
            # (the first always); anything unusual goes to the decoder itself below
            while proto is not None and (off < end or first) and useful[proto.name]:
                first = False
                size, head, ext = steps[proto.name]
                if end - off < size:
                    break
                try:
                    v, hlen, pend, child, _value = head(buf, off, end)
                except (Truncated, Malformed):
                    break
                if hlen < size or off + hlen > end or (pend < off + hlen and pend < end):
                    break
                if is_fragment is not None and is_fragment(proto, v):
                    break
                if ext is not None:
                    ext(v, out)
                if want_protos:
                    protos.append(proto)
                if pend > end:
                    pend = end
                off += hlen
                end = pend
                proto = child
            else:
                if frame_cols:
                    for i, fn in frame_cols:
                        out[i] = fn(frame, n, clock, None)
                if want_protos:
                    text = protocols_text(protos, off < end, ethertype_protos)
                    for i in protocols_cols:
                        out[i] = text
                append(sep.join(f"{quote}{x}{quote}" for x in out) if quote else sep.join(out))
                if len(lines) >= flush_every:
                    self._spill(lines, write, tick)
                continue
            # not a clean packet: the decoder's verdict, extracted the general way
            if not frame_cols:
                clock.tick(frame.ts_ns)
            append(self.line(row(decoder.decode(frame, n), clock)))
            if len(lines) >= flush_every:
                self._spill(lines, write, tick)
        return n
