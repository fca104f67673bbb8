"""Documentation generated from the filter/rule grammars and the built-in rule packs.

A Sphinx extension (``extensions = [..., "decoder.rulecat"]`` in ``docs/conf.py``) with
three directives, so the pages cannot drift from the code:

``.. protospec-grammar:: expert/filter.lark``
    a table of the grammar's rules and terminals, read from the ``.lark`` file at build
    time (a grammar change shows up in the next build);
``.. protospec-rule-catalogue::``
    one section per built-in rule (``expert/builtin/*.rules``, parsed with
    :func:`expert.rules.parse_rules`): id, severity, group, scope, title, what it detects,
    its expressions, parameters with defaults, cause and recommended action;
``.. protospec-examples::``
    filter examples with the frames of ``tests/captures/sample.pcap`` they match::

        tcp.port == 80 => 5-12
           Explanation (indented, optional).

    ``tests/test_docs_language.py`` runs every example (:func:`parse_examples`) through the
    real filter compiler and decoder.

The functions are plain Python too (:func:`grammar_entries`, :func:`grammar_literals`,
:func:`rule_catalogue`), for tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILTER_GRAMMAR = ROOT / "expert" / "filter.lark"
RULES_GRAMMAR = ROOT / "expert" / "rules.lark"
BUILTIN_RULES = ROOT / "expert" / "builtin"
SAMPLE = ROOT / "tests" / "captures" / "sample.pcap"


# -- grammar -----------------------------------------------------------------------------------

@dataclass
class GrammarEntry:
    name: str
    kind: str                    # "rule" | "terminal" | "directive"
    definition: str
    comment: str = ""


_DEF = re.compile(r"([?!]?)([A-Za-z_][A-Za-z0-9_]*)(\.\d+)?\s*:(?!:)")


def grammar_entries(path=FILTER_GRAMMAR) -> list[GrammarEntry]:
    """The rules and terminals of a ``.lark`` file, in file order, with the ``//`` comment
    lines just above each (its documentation)."""
    entries: list[GrammarEntry] = []
    comment: list[str] = []
    cur: GrammarEntry | None = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            comment.append(stripped[2:].strip())
            cur = None
            continue
        if not stripped:
            comment, cur = [], None
            continue
        if line[:1].isspace() and cur is not None:          # continuation: | alternative
            cur.definition += "\n" + line.rstrip()
            continue
        if stripped.startswith("%"):
            comment, cur = [], None
            continue
        m = _DEF.match(line)
        if not m:
            comment, cur = [], None
            continue
        name = m.group(2)
        kind = "terminal" if name.isupper() else "rule"
        cur = GrammarEntry(name, kind, line.rstrip(), " ".join(comment))
        entries.append(cur)
        comment = []
    return entries


def grammar_literals(path=FILTER_GRAMMAR) -> list[str]:
    """Every literal token (keyword, operator, punctuation) the grammar's parser knows, in
    lark's order (imported grammars included)."""
    from lark import Lark
    from lark.lexer import PatternStr

    start = ["start", "expr"] if Path(path) == FILTER_GRAMMAR else ["start"]
    parser = Lark.open(str(path), parser="lalr", start=start, maybe_placeholders=True)
    return [t.pattern.value for t in parser.terminals if isinstance(t.pattern, PatternStr)]


def _literal_block(text: str, indent: str) -> list[str]:
    return [indent + "::", ""] + [indent + "   " + ln for ln in text.splitlines()] + [""]


def grammar_rst(path=FILTER_GRAMMAR) -> list[str]:
    """reStructuredText: a list-table of the grammar's rules and terminals."""
    rel = Path(path).resolve().relative_to(ROOT) if Path(path).resolve().is_relative_to(ROOT) else Path(path)
    lines = [f".. list-table:: Rules and terminals of ``{rel.as_posix()}`` (read at build time)",
             "   :header-rows: 1", "   :widths: 18 10 72", "",
             "   * - Name", "     - Kind", "     - Definition", ""]
    for e in grammar_entries(path):
        lines += [f"   * - ``{e.name}``", f"     - {e.kind}", "     - " + (_rst_text(e.comment) or "\\ "), ""]
        lines += _literal_block(e.definition, "       ")
    return lines


def _rst_text(text: str) -> str:
    """Comment text with ``inline code`` kept and stray markup characters escaped."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for p in parts:
        if p.startswith("`") and p.endswith("`") and len(p) > 1:
            out.append("``" + p.strip("`") + "``")
        else:
            out.append(re.sub(r"([*_|\\])", r"\\\1", p))
    return "".join(out)


# -- the rule catalogue ------------------------------------------------------------------------

_STMT = ("severity", "group", "title", "scope", "requires", "param", "when", "first", "then", "message",
         "cause", "action", "doc", "frames", "overrides")


@dataclass
class CatalogueEntry:
    id: str
    file: str
    line: int
    severity: str = ""
    group: str = ""
    title: str = ""
    scope: str = "packet"
    requires: list = field(default_factory=list)
    params: list = field(default_factory=list)       # (name, default text, comment)
    expressions: list = field(default_factory=list)  # (statement, text) : when / first / then / frames
    message: str = ""
    cause: str = ""
    action: str = ""
    doc: str = ""
    overrides: list = field(default_factory=list)


def _blocks(text: str):
    """(id, line, statement lines) of each ``rule ID { ... }`` block of a rule file."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"\s*rule\s+(\S+)\s*\{", lines[i])
        if not m:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not re.match(r"\s*\}\s*(#.*)?$", lines[i]):
            body.append(lines[i])
            i += 1
        yield m.group(1), start, body
        i += 1


def _statements(body):
    """(keyword, text without comments, trailing comment) per statement; a statement runs
    on while the following lines are not comments and do not start with a keyword."""
    out = []
    for ln in body:
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        code, comment = s, ""
        m = re.search(r"\s#\s?(.*)$", s)
        if m and s.count('"', 0, m.start()) % 2 == 0:
            code, comment = s[:m.start()].rstrip(), m.group(1)
        word = code.split(None, 1)[0]
        if word in _STMT or not out:
            out.append([word, code, comment])
        else:
            out[-1][1] += "\n    " + code
            out[-1][2] = out[-1][2] or comment
    return out


def _strings(text: str) -> str:
    """The concatenated "..." strings of a text statement."""
    return "".join(bytes(m, "utf-8").decode("unicode_escape") if "\\" in m else m
                   for m in re.findall(r'"((?:[^"\\]|\\.)*)"', text))


def rule_catalogue(directory=BUILTIN_RULES) -> tuple[list[CatalogueEntry], list[str]]:
    """The catalogue entries of the rule files in ``directory``, and notes about anything
    that could not be read with the rules engine (the entry then comes from the raw text)."""
    notes: list[str] = []
    try:
        from expert.rules import parse_rules
    except Exception as e:                                   # engine not importable: raw text only
        parse_rules = None
        notes.append(f"the rules engine could not be imported ({e}); entries read from the raw files")
    entries = []
    for path in sorted(Path(directory).glob("*.rules")):
        text = path.read_text(encoding="utf-8")
        parsed = {}
        if parse_rules is not None:
            try:
                rules, _ = parse_rules(text, str(path), builtin=True)
                parsed = {r.id: r for r in rules}
            except Exception as e:
                notes.append(f"{path.name}: not parsed by the rules engine ({e}); entries read from the raw file")
        for rid, line, body in _blocks(text):
            e = CatalogueEntry(rid, path.name, line)
            for word, code, comment in _statements(body):
                rest = code[len(word):].strip()
                if word in ("severity", "group", "scope"):
                    setattr(e, word, rest)
                elif word in ("title", "message", "cause", "action", "doc"):
                    setattr(e, word, _strings(rest))
                elif word == "requires":
                    e.requires = [p.strip() for p in rest.split(",")]
                elif word == "overrides":
                    e.overrides = [p.strip() for p in rest.split(",")]
                elif word == "param":
                    name, _, value = rest.partition("=")
                    e.params.append((name.strip(), value.strip(), comment))
                elif word in ("when", "first", "then", "frames"):
                    e.expressions.append((word, rest))
            r = parsed.get(rid)
            if r is not None:                                # the engine's view wins where it has one
                e.severity, e.group, e.title = r.severity, r.group, r.title or e.title
                e.scope = r.scope or "packet"
                e.doc = r.doc or e.doc
                e.line = r.line
                defaults = {n: p.value for n, p in r.params.items()}
                e.params = [(n, v if n not in defaults else _param_text(v, defaults[n]), c)
                            for n, v, c in e.params]
            elif parsed:
                notes.append(f"{path.name}: rule {rid} not found by the rules engine")
            entries.append(e)
    return entries, notes


def _param_text(raw: str, value) -> str:
    return raw if raw else str(value)


_SEVERITY_TEXT = {"chat": "chat (information)", "note": "note (notable, usually fine)",
                  "warning": "warning (probably a problem)", "error": "error (a problem)"}


def _field(name: str, value: str) -> list[str]:
    return [f":{name}: {value}"] if value else []


def catalogue_rst(directory=BUILTIN_RULES) -> list[str]:
    entries, notes = rule_catalogue(directory)
    lines: list[str] = []
    for n in notes:
        lines += [".. note::", "", "   " + _rst_text(n), ""]
    by_file: dict[str, list] = {}
    for e in entries:
        by_file.setdefault(e.file, []).append(e)
    lines += [".. list-table:: All built-in rules", "   :header-rows: 1", "   :widths: 30 12 14 44", "",
              "   * - Rule", "     - Severity", "     - Group", "     - Title", ""]
    for e in entries:
        lines += [f"   * - :ref:`{e.id} <rule-{e.id}>`", f"     - {e.severity}", f"     - {e.group}",
                  f"     - {_rst_text(e.title)}", ""]
    for fname, group in by_file.items():
        title = f"{fname}"
        lines += [title, "-" * len(title), ""]
        for e in group:
            head = f"{e.id}"
            lines += [f".. _rule-{e.id}:", "", head, "^" * len(head), "", f"**{_rst_text(e.title)}**", ""]
            lines += _field("Severity", _SEVERITY_TEXT.get(e.severity, e.severity))
            lines += _field("Group", e.group)
            lines += _field("Scope", e.scope)
            lines += _field("Requires", ", ".join(f"``{p}``" for p in e.requires))
            lines += _field("Overrides", ", ".join(f":ref:`{o} <rule-{o}>`" for o in e.overrides))
            lines += _field("Defined in", f"``expert/builtin/{e.file}``, line {e.line}")
            lines.append("")
            if e.doc:
                lines += ["**Detects:** " + _rst_text(e.doc), ""]
            if e.message:
                lines += ["**Reports:** " + _rst_text(e.message), ""]
            lines += ["**Expression:**", ""] + _literal_block(
                "\n".join(f"{w} {t}" for w, t in e.expressions) or "(none)", "")
            if e.params:
                lines += [".. list-table:: Parameters", "   :header-rows: 1", "   :widths: 20 15 65", "",
                          "   * - Parameter", "     - Default", "     - Meaning", ""]
                for n, v, c in e.params:
                    lines += [f"   * - ``${n}``", f"     - ``{v}``", "     - " + (_rst_text(c) or "\\ "), ""]
            lines += ["**Cause:** " + (_rst_text(e.cause) or "—"), "",
                      "**Recommended action:** " + (_rst_text(e.action) or "—"), ""]
    return lines


# -- filter examples ---------------------------------------------------------------------------

@dataclass
class Example:
    expression: str
    frames: list[int]
    text: str = ""
    line: int = 0


def frames_text(numbers) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3, 7``; ``[]`` -> ``none``."""
    nums = sorted(set(numbers))
    if not nums:
        return "none"
    out, lo, prev = [], nums[0], nums[0]
    for n in nums[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(lo) if lo == prev else f"{lo}-{prev}")
        if n is not None:
            lo = prev = n
    return ", ".join(out)


def parse_frames(text: str) -> list[int]:
    text = text.strip()
    if text in ("none", ""):
        return []
    out = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def parse_example_lines(lines, first_line=0) -> list[Example]:
    """Directive content: ``EXPRESSION => FRAMES`` lines, each followed by optional
    indented explanation lines."""
    out: list[Example] = []
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        if ln[:1].isspace():
            if not out:
                raise ValueError(f"line {first_line + i}: explanation before any example")
            out[-1].text = (out[-1].text + " " + ln.strip()).strip()
            continue
        expr, sep, frames = ln.rpartition(" => ")
        if not sep:
            raise ValueError(f"line {first_line + i}: expected 'EXPRESSION => FRAMES', got {ln!r}")
        out.append(Example(expr.strip(), parse_frames(frames), line=first_line + i))
    return out


def parse_examples(rst_text: str) -> list[Example]:
    """Every ``.. protospec-examples::`` example of an .rst source text."""
    lines = rst_text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"(\s*)\.\. protospec-examples::", lines[i])
        if not m:
            i += 1
            continue
        base = len(m.group(1))
        i += 1
        block, start = [], i + 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > base):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():
            block.pop()
        nonblank = [b for b in block if b.strip()]
        indent = min((len(b) - len(b.lstrip()) for b in nonblank), default=0)
        out += parse_example_lines([b[indent:] for b in block], start)
    return out


def examples_rst(examples) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 45 15 40", "",
             "   * - Filter", "     - Frames of ``sample.pcap``", "     - Meaning", ""]
    for ex in examples:
        lines += [f"   * - ``{ex.expression}``", f"     - {frames_text(ex.frames)}",
                  "     - " + (ex.text or "\\ "), ""]
    return lines


# -- the Sphinx extension ----------------------------------------------------------------------

def _directives():
    from docutils.parsers.rst import Directive
    from docutils.statemachine import StringList
    from sphinx.util.nodes import nested_parse_with_titles
    from docutils import nodes

    class _Generated(Directive):
        def emit(self, lines, deps=()):
            env = self.state.document.settings.env
            for d in deps:
                env.note_dependency(str(d))
            node = nodes.section() if self.titles else nodes.container()
            node.document = self.state.document
            content = StringList(lines, source=f"<{self.name}>")
            if self.titles:
                nested_parse_with_titles(self.state, content, node)
            else:
                self.state.nested_parse(content, self.content_offset, node)
            return node.children

    class Grammar(_Generated):
        required_arguments = 1
        titles = False

        def run(self):
            path = ROOT / self.arguments[0]
            if not path.is_file():
                raise self.error(f"protospec-grammar: no such grammar file {path}")
            return self.emit(grammar_rst(path), [path])

    class Catalogue(_Generated):
        optional_arguments = 1
        titles = True

        def run(self):
            d = ROOT / (self.arguments[0] if self.arguments else "expert/builtin")
            deps = sorted(d.glob("*.rules")) + [RULES_GRAMMAR]
            return self.emit(catalogue_rst(d), deps)

    class Examples(_Generated):
        has_content = True
        titles = False

        def run(self):
            try:
                examples = parse_example_lines(list(self.content))
            except ValueError as e:
                raise self.error(f"protospec-examples: {e}")
            return self.emit(examples_rst(examples))

    return {"protospec-grammar": Grammar, "protospec-rule-catalogue": Catalogue, "protospec-examples": Examples}


def setup(app):
    for name, cls in _directives().items():
        app.add_directive(name, cls)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
