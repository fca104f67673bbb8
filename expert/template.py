"""Message templates of expert rules: ``"{A.ip.src} sent {conv.syn_count} SYNs"``.

A template is text with ``{...}`` pieces, compiled once when the rule is loaded:

* ``{field}`` — a field (any value expression of the filter language: ``{ip.src#2}``,
  ``{R.frame.time_epoch - Q.frame.time_epoch}``), read from the rule's context (packet,
  conversation or sequence step); the first occurrence, or all of them joined with
  ", " for list-valued fields such as ``conv.syn_frames``;
* ``{field:spec}`` — with a Python format spec (``{conv.duration:.1f}``,
  ``{ip.checksum:#06x}``), or ``label`` for a field *name* held in a value
  (``{icmp.pointer.field:label}`` -> "Header checksum");
* ``{a|b}`` — the first of several fields that has a value (``{ip.src|ipv6.src}``), or a
  quoted fallback text (``{icmp.quoted_frame|'not captured'}``);
* ``{$param}`` — a rule parameter; ``{frames}`` / ``{count}`` — the frames of the
  finding and how many, filled in after findings with the same text are merged;
* ``{{`` and ``}}`` — literal braces.

A value that is missing renders as ``?``.
"""
from __future__ import annotations

import enum
import re

FRAMES, COUNT = "\x00frames\x00", "\x00count\x00"
_PIECE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
MAX_SHOWN_FRAMES = 12


class TemplateError(ValueError):
    def __init__(self, message, offset):
        self.message, self.offset = message, offset
        super().__init__(message)


def display(value) -> str:
    """A field value as message text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.IntEnum):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex(":")
    proto = getattr(value, "proto", None)
    if proto is not None and hasattr(value, "hlen"):
        return proto.name
    return str(value)


def frames_text(frames, count=None) -> str:
    """``5, 7, 9`` or ``5, 7, 9, ... 201 (40 frames)``."""
    frames = sorted(set(frames))
    n = count if count is not None else len(frames)
    if len(frames) <= MAX_SHOWN_FRAMES:
        text = ", ".join(str(f) for f in frames)
        return text + (f" ({n} frames)" if n > len(frames) else "")
    head = ", ".join(str(f) for f in frames[:MAX_SHOWN_FRAMES - 1])
    return f"{head}, ... {frames[-1]} ({n} frames)"


def _format(value, spec, label_fn):
    if spec == "label":
        return label_fn(str(value)) if label_fn is not None else display(value)
    if spec == "text":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value).decode("utf-8", "replace").rstrip("\0")
        return display(value)
    if spec:
        if isinstance(value, enum.IntEnum):
            value = int(value)
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            return display(value)
    return display(value)


class Template:
    """A compiled template: ``render(ctx) -> str`` (``{frames}``/``{count}`` left as
    markers for :func:`fill`)."""

    __slots__ = ("parts", "text")

    def __init__(self, parts, text):
        self.parts, self.text = parts, text

    def render(self, ctx) -> str:
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            gets, spec, many, label_fn = p
            vals = ()
            for get in gets:
                try:
                    vals = get(ctx)
                except (TypeError, ValueError, AttributeError, IndexError, KeyError):
                    vals = ()
                if vals:
                    break
            if not vals:
                out.append("?")
            elif many:
                out.append(", ".join(_format(v, spec, label_fn) for v in vals))
            else:
                out.append(_format(vals[0], spec, label_fn))
        return "".join(out)

    def __repr__(self):
        return f"<Template {self.text!r}>"


def fill(text: str, frames, count) -> str:
    """Put the frames and the count of a (merged) finding into a rendered text."""
    if FRAMES in text:
        text = text.replace(FRAMES, frames_text(frames, count))
    if COUNT in text:
        text = text.replace(COUNT, str(count))
    return text


def compile_template(raw: str, value_of, params: dict, label_fn=None) -> Template:
    """Compile the raw text of a template (escapes not yet resolved).

    ``value_of(expr_text, offset) -> (getter, many)`` compiles a field expression (raising
    :class:`TemplateError` or a filter error); ``params``: parameter values."""
    from expert.filters import FilterError, unescape, unknown_param

    parts = []
    pos = 0
    literal = []

    def flush():
        if literal:
            text = "".join(literal)
            try:
                parts.append(unescape(text)[0])
            except FilterError as e:
                raise TemplateError(e.message, 0) from None
            literal.clear()

    for m in _PIECE.finditer(raw):
        literal.append(raw[pos:m.start()])
        pos = m.end()
        tok = m.group(0)
        if tok == "{{":
            literal.append("{")
            continue
        if tok == "}}":
            literal.append("}")
            continue
        if tok in ("{", "}"):
            raise TemplateError(f"unmatched {tok!r} in a text (write {tok}{tok} for a brace)", m.start())
        inner = m.group(1)
        body, spec = inner, ""
        colon = inner.rfind(":")
        if colon >= 0 and not inner[colon + 1:colon + 2] == ":":
            body, spec = inner[:colon], inner[colon + 1:]
        stripped = body.strip()
        lead = m.start() + 1 + (len(body) - len(body.lstrip()))
        if not stripped:
            raise TemplateError("empty {} in a text: name a field, {frames}, {count} or {$param}", m.start())
        flush()
        if stripped == "frames" and not spec:
            parts.append(FRAMES)
        elif stripped == "count" and not spec:
            parts.append(COUNT)
        elif stripped.startswith("$"):
            name = stripped[1:]
            if name not in params:
                raise TemplateError(unknown_param(name, params), lead)
            parts.append(_format(params[name], spec, None))
        else:
            if spec and spec not in ("label", "text"):
                try:
                    format(0, spec) if spec[-1:] in "xXobcdn" else format(0.0, spec) if spec[-1:] in "eEfFgG%" \
                        else format("", spec)
                except ValueError:
                    raise TemplateError(f"bad format spec {spec!r} (a Python format spec such as .1f or #06x, "
                                        f"or label)", m.start() + 1 + colon + 1) from None
            gets, many = [], False
            offset = lead
            for alt in stripped.split("|") if "||" not in stripped else [stripped]:
                a = alt.strip()
                if not a:
                    raise TemplateError("empty alternative in {a|b}", offset)
                if len(a) >= 2 and a[0] == a[-1] == "'":
                    gets.append(lambda ctx, text=a[1:-1]: [text])      # a literal fallback
                    offset += len(alt) + 1
                    continue
                get, alt_many = value_of(a, offset + (len(alt) - len(alt.lstrip())))
                gets.append(get)
                many = many or alt_many
                offset += len(alt) + 1
            parts.append((tuple(gets), spec, many, label_fn))
    literal.append(raw[pos:])
    flush()
    # merge adjacent literal parts
    merged = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    return Template(merged, raw)
