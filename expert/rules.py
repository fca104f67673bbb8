"""Expert rules: rule files (``*.rules``, grammar ``expert/rules.lark``) loaded into
:class:`Rule` objects, with errors that say ``file:line:col``, what was expected, and
which field was probably meant.

::

    from expert.rules import load_rules
    rules = load_rules(registry, dirs=["my-rules"], sets=["min_syns=5"], disable=["tcp.keep_alive"])

:func:`load_rules` reads the built-in packs (``expert/builtin/*.rules``), then the user's
directories and files, then settings files, then the command-line settings, and compiles
every rule (:mod:`expert.rule_compiler`): every field a rule names is checked against
the registry, the fields analysis stages register and the ``conv.*`` fields
(:mod:`expert.convstats`) when the file is loaded, not when a capture is read.

Rule syntax (the header of ``expert/rules.lark`` has an example of each statement;
``expert/builtin/*.rules`` are complete examples):

* ``severity`` chat | note | warning | error (tshark's levels); ``group`` one of
  :data:`GROUPS` (tshark's expert groups, plus ``performance``); ``title``;
* ``scope packet`` (default): ``when FILTER`` per packet; ``scope conversation``:
  ``when`` over ``conv.*``/``server.*`` fields, once per finished conversation;
  ``scope sequence``: ``first A: FILTER`` then ``then B: FILTER [absent] within T``
  (``B.ip.id#2 == A.ip.id``; unprefixed fields are the current step's), an optional
  ``when`` on the completed match (``seq.delay``);
* ``param name = value`` (numbers, durations ``2s``/``500ms``, strings, true/false),
  used as ``$name`` in filters and ``within``, ``{$name}`` in texts; overridable by
  ``set rule.id.name = v`` / ``set name = v`` (files, ``--settings``) and ``--set``;
* ``message``/``cause``/``action`` texts with ``{field}``, ``{field:format}``
  (Python format spec, plus ``label``: the field's description, for names such as
  ``icmp.pointer.field``), ``{frames}``, ``{count}``, ``{$param}``;
* ``frames FIELD`` (which frames a finding names), ``overrides ID, ...`` (a frame
  claimed by this rule is not reported again by those), ``requires PROTO, ...`` (the rule
  is inactive while the registry has no such protocol), ``doc "..."``.

Settings statements: ``set NAME = VALUE``, ``disable ID, ...``, ``enable ID, ...``,
``severity ID LEVEL``.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

__all__ = ["RuleError", "Rule", "Step", "Param", "RuleSet", "load_rules", "parse_rules", "parse_value",
           "SEVERITIES", "GROUPS", "SCOPES", "BUILTIN_DIR", "severity_rank"]

GRAMMAR = Path(__file__).with_name("rules.lark")
BUILTIN_DIR = Path(__file__).with_name("builtin")

SEVERITIES = ("chat", "note", "warning", "error")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
#: Wireshark's expert groups (PI_* in epan/proto.h, as tshark -z expert names them), plus performance
GROUPS = ("checksum", "sequence", "response-code", "request-code", "undecoded", "reassemble", "protocol",
          "malformed", "debug", "security", "comment", "decryption", "assumption", "deprecated",
          "receive", "interface", "dissector", "performance")
SCOPES = ("packet", "conversation", "sequence")
_CHOICES = {"severity": SEVERITIES, "group": GROUPS, "scope": SCOPES}    # one word from a list


def severity_rank(level: str) -> int:
    return _RANK[level]


class RuleError(ValueError):
    """A rule file (or a setting) that cannot be used: ``path:line:col: message``, then the
    line and a caret under the column."""

    def __init__(self, message: str, path=None, line=None, column=None, source: str | None = None):
        self.message, self.path, self.line, self.column, self.source = message, path, line, column, source
        super().__init__(str(self))

    def __str__(self):
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        text = where + self.message
        if self.source is not None and self.line is not None:
            lines = self.source.splitlines()
            if 0 < self.line <= len(lines):
                src = lines[self.line - 1].expandtabs(1)
                text += f"\n    {src}"
                if self.column:
                    text += "\n    " + " " * (self.column - 1) + "^"
        return text


class Source:
    """A rule file's text, for positions: offsets -> line and column."""

    def __init__(self, path, text):
        self.path, self.text = path, text
        self._starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self._starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self._starts[lo] + 1

    def error(self, message, offset=None, line=None, column=None) -> RuleError:
        if offset is not None:
            line, column = self.position(offset)
        return RuleError(message, self.path, line, column, self.text)

    def at(self, tok, message) -> RuleError:
        """An error at a token of the parse (whose column holds its offset + 1)."""
        return self.error(message, offset=tok.start_pos)


# -- values -------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(us|ms|s|sec|m|min|h)\Z")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


@dataclass
class Param:
    """A rule parameter: its value and kind (``int``, ``float``, ``duration`` — seconds —,
    ``bool``, ``str``)."""
    name: str
    value: Any
    kind: str
    where: str = ""          # where the value was last set (for --list-rules)


def parse_value(text: str, quoted=False) -> tuple[Any, str]:
    """A parameter value from its text: ``(value, kind)``."""
    if quoted:
        return text, "str"
    m = _DURATION.match(text)
    if m:
        return float(m.group(1)) * _UNITS[m.group(2)], "duration"
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True, "bool"
    if low in ("false", "no", "off"):
        return False, "bool"
    try:
        return int(text, 0), "int"
    except ValueError:
        pass
    try:
        return float(text), "float"
    except ValueError:
        pass
    return text, "str"


def coerce_param(param: Param, text: str, quoted=False):
    """The value of ``text`` for ``param`` (typed like its default); ValueError if it does not fit."""
    value, kind = parse_value(text, quoted)
    want = param.kind
    if want == kind:
        return value
    if want in ("float", "duration") and kind in ("int", "float", "duration"):
        return float(value)
    if want == "str":
        return text
    names = {"int": "an integer", "float": "a number", "duration": "a duration such as 2s or 500ms",
             "bool": "true or false"}
    raise ValueError(f"{param.name} takes {names.get(want, want)}, not {text!r}")


# -- the parsed model ---------------------------------------------------------------------

@dataclass
class Step:
    """One step of a sequence rule."""
    label: str
    expr: Tree
    within: Any = None            # seconds, or a Token ``$name``
    absent: bool = False
    token: Token | None = None


@dataclass
class Rule:
    id: str
    source: Source
    token: Token                   # the rule id token (for positions)
    severity: str = "note"
    group: str = "protocol"
    title: str = ""
    scope: str | None = None
    params: dict = field(default_factory=dict)         # name -> Param
    requires: list = field(default_factory=list)
    when: Tree | None = None
    steps: list = field(default_factory=list)
    message: list | None = None    # [STRING tokens]
    cause: list | None = None
    action: list | None = None
    doc: str = ""
    frames: list | None = None      # [expression trees]
    overrides: list = field(default_factory=list)       # [(id, token)]
    builtin: bool = False
    stmt_tokens: dict = field(default_factory=dict)     # statement -> first token (positions)

    @property
    def path(self):
        return self.source.path

    @property
    def line(self):
        return self.source.position(self.token.start_pos)[0]

    def error(self, message, tok=None) -> RuleError:
        return self.source.at(tok if tok is not None else self.token, message)


@dataclass
class Setting:
    kind: str                     # set | disable | enable | severity
    args: tuple
    source: Source | None = None
    token: Token | None = None

    def error(self, message):
        if self.source is not None and self.token is not None:
            return self.source.at(self.token, message)
        return RuleError(message)


# -- parsing ------------------------------------------------------------------------------

_PARSER: Lark | None = None


def parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        # cached (lark checks the grammar files' hashes): building the tables costs ~0.3 s
        _PARSER = Lark.open(str(GRAMMAR), parser="lalr", start=["start", "expr"], maybe_placeholders=True,
                            propagate_positions=True, cache=True)
    return _PARSER


_KEYWORDS = ("rule", "set", "disable", "enable", "severity", "group", "title", "scope", "requires", "param",
             "when", "first", "then", "message", "cause", "action", "doc", "frames", "overrides", "within",
             "absent")
_NAMED = {"RULE_ID": "a rule id such as tcp.syn_unanswered", "NAME": "a name", "WORD": "a value",
          "STRING": 'a "text"', "PARAM": "a $parameter", "$END": "the end of the file",
          "FIELD": "a field", "LITERAL": "a value"}


def _expected_text(names) -> str:
    """What the parser would have accepted, in words (statement keywords, then the
    expression language's groups: comparisons, operators, 'and'/'or')."""
    from expert import filters

    words = {}
    for n in names or ():
        words[n] = filters.terminal_text(parser(), n, _NAMED)
    stmts = sorted(w for w in words.values() if w in _KEYWORDS and w not in ("within", "absent"))
    rest = {w for w in words.values() if w not in _KEYWORDS}
    parts = []
    if stmts:
        parts.append("a statement (" + ", ".join(stmts) + ")" if len(stmts) > 3 else
                     " or ".join(f"'{w}'" for w in stmts))
    for w in ("within", "absent"):
        if w in words.values():
            parts.append(f"'{w}'")
    if rest & {_NAMED["FIELD"], _NAMED["LITERAL"]}:
        parts.append("a field or value")
        rest -= {_NAMED["FIELD"], _NAMED["LITERAL"], _NAMED["STRING"], _NAMED["PARAM"], "CHAR", "RAW_STRING",
                 "MINUS", "-", "{", "!", "(", "not", "any", "all", "BANG"}
    if rest & filters._CMP_WORDS:
        parts.append("a comparison (==, !=, <, contains, matches, in ...)")
        rest -= filters._CMP_WORDS
    arith = {"&", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "+", "-", "*", "/", "%"}
    if rest & arith:
        parts.append("an arithmetic operator")
        rest -= arith
    if rest & filters._LOGIC_WORDS:
        parts.append("'and'/'or'")
        rest -= filters._LOGIC_WORDS | {"^^", "xor", "||", "&&"}
    rest -= {"#", "[", "(", ")", ",", ".."}
    parts += sorted(f"'{w}'" if not w.startswith(("a ", "an ")) else w for w in rest)
    parts = [p for p in parts if p]
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _syntax_error(e: UnexpectedInput, src: Source) -> RuleError:
    if isinstance(e, UnexpectedCharacters):
        ch = src.text[e.pos_in_stream] if e.pos_in_stream < len(src.text) else ""
        what = f"unexpected character {ch!r}"
        if ch == "=":
            what += " (compare with ==)"
        exp = _expected_text(e.allowed)
        return src.error(what + (f", expected {exp}" if exp else ""), line=e.line, column=e.column)
    if isinstance(e, UnexpectedToken):
        tok = e.token
        expected = getattr(e, "accepts", None) or e.expected or ()
        exp = _expected_text(expected)
        if tok.type == "$END":
            line, col = src.position(len(src.text.rstrip()))
            return src.error("unexpected end of file" + (f", expected {exp}" if exp else "") +
                             (" (a rule block is not closed with '}')" if "RBRACE" in expected else ""),
                             line=line, column=col + 1)
        word = str(tok)
        hint = " (compare with ==)" if word == "=" else ""
        close = difflib.get_close_matches(word, _KEYWORDS, n=1, cutoff=0.75)
        if close and close[0] != word:
            hint = f" (did you mean '{close[0]}'?)"
        return src.error(f"unexpected {word!r}" + (f", expected {exp}" if exp else "") + hint,
                         line=tok.line, column=tok.column)
    if isinstance(e, UnexpectedEOF):
        line, col = src.position(len(src.text.rstrip()))
        return src.error(f"unexpected end of file, expected {_expected_text(e.expected)}", line=line, column=col + 1)
    return src.error(str(e).splitlines()[0])


def _string(tok: Token, src: Source) -> str:
    from expert import filters
    try:
        return filters.unescape(str(tok)[1:-1])[0]
    except filters.FilterError as e:
        raise src.at(tok, e.message) from None


def _duration(tree, src: Source):
    tok = tree.children[0]
    if tok.type.endswith("PARAM"):
        return tok
    value, kind = parse_value(str(tok))
    if kind not in ("duration", "int", "float") or value <= 0:
        raise src.at(tok, f"'within' needs a duration such as 2s, 500ms or 1.5 (seconds), or a $parameter; got {str(tok)!r}")
    return float(value)


def parse_rules(text: str, path="<rules>", builtin=False) -> tuple[list[Rule], list[Setting]]:
    """The rules and settings of one rule file (syntax and statement checks only; fields
    are checked when the rules are compiled)."""
    src = Source(path, text)
    try:
        tree = parser().parse(text, start="start")
    except UnexpectedInput as e:
        raise _syntax_error(e, src) from None
    rules, settings = [], []
    for item in tree.children:
        kind = item.data
        ch = item.children
        if kind == "rule":
            rules.append(_rule(item, src, builtin))
        elif kind == "set_param":
            name, val = ch
            settings.append(Setting("set", (str(name), str(val) if val.type != "STRING" else _string(val, src),
                                            val.type == "STRING"), src, name))
        elif kind in ("disable", "enable"):
            settings.append(Setting(kind, tuple((str(t), t) for t in ch), src, ch[0]))
        elif kind == "set_severity":
            rid, level = ch
            if str(level) not in SEVERITIES:
                raise src.at(level, _choice_error("severity", str(level), SEVERITIES))
            settings.append(Setting("severity", (str(rid), str(level)), src, rid))
    return rules, settings


def _choice_error(what, word, choices) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {word!r}{hint}: use {', '.join(choices[:-1])} or {choices[-1]}"


_SINGLE = ("severity", "group", "title", "scope", "when", "message", "cause", "action", "doc", "frames")


class _Pos:
    """A position in a rule file (where a statement's keyword starts)."""

    __slots__ = ("start_pos",)

    def __init__(self, start_pos):
        self.start_pos = start_pos


def _rule(tree, src: Source, builtin) -> Rule:
    id_tok = tree.children[0]
    rule = Rule(str(id_tok), src, id_tok, builtin=builtin)
    if not re.fullmatch(r"[a-z0-9_\-]+(\.[a-z0-9_\-]+)+", rule.id):
        raise src.at(id_tok, f"rule id {rule.id!r}: use lower-case dotted words naming the protocol first, "
                             "e.g. tcp.syn_unanswered")
    seen = {}
    labels = {}
    for stmt in tree.children[1:]:
        kind = stmt.data
        ch = stmt.children
        first_tok = _Pos(stmt.meta.start_pos) if not stmt.meta.empty else id_tok    # the keyword
        if kind in _SINGLE and kind in seen:
            raise src.at(first_tok, f"'{kind}' given twice in rule {rule.id} (first at line "
                                    f"{src.position(seen[kind].start_pos)[0]})")
        seen.setdefault(kind, first_tok)
        rule.stmt_tokens.setdefault(kind, first_tok)
        if kind in _CHOICES:
            word = str(ch[0])
            choices = _CHOICES[kind]
            if word not in choices:
                raise src.at(ch[0], _choice_error(kind, word, choices))
            setattr(rule, kind, word)
        elif kind == "title":
            rule.title = "".join(_string(t, src) for t in ch[0].children)
        elif kind == "requires":
            rule.requires += [(str(t), t) for t in ch]
        elif kind == "param":
            name, val = ch
            if str(name) in rule.params:
                raise src.at(name, f"parameter {name} declared twice in rule {rule.id}")
            quoted = val.type == "STRING"
            text = _string(val, src) if quoted else str(val)
            value, pkind = parse_value(text, quoted)
            rule.params[str(name)] = Param(str(name), value, pkind, f"{src.path}:{src.position(name.start_pos)[0]}")
        elif kind == "when":
            rule.when = ch[0]
        elif kind in ("first", "then"):
            label = ch[0]
            if kind == "first" and rule.steps:
                raise src.at(first_tok, "'first' must come before every 'then'")
            if kind == "then" and not rule.steps:
                raise src.at(first_tok, "'then' needs a 'first' step before it")
            if str(label) in labels:
                raise src.at(label, f"step label {label} is used twice")
            labels[str(label)] = label
            step = Step(str(label), ch[1], token=label)
            if kind == "then":
                step.absent = ch[2] is not None
                step.within = _duration(ch[3], src)
            rule.steps.append(step)
        elif kind in ("message", "cause", "action"):
            setattr(rule, kind, list(ch[0].children))
        elif kind == "doc":
            rule.doc = "".join(_string(t, src) for t in ch[0].children)
        elif kind == "frames":
            rule.frames = list(ch)
        elif kind == "overrides":
            rule.overrides += [(str(t), t) for t in ch]
    # scope and the statements it needs
    if rule.scope is None:
        rule.scope = "sequence" if rule.steps else "packet"
    if rule.scope == "sequence":
        if len(rule.steps) < 2:
            raise rule.error(f"sequence rule {rule.id} needs 'first A: ...' and at least one 'then B: ... within T'"
                             if not rule.steps else f"sequence rule {rule.id} needs a 'then' step after 'first'",
                             rule.steps[0].token if rule.steps else None)
        for step in rule.steps[1:-1]:
            if step.absent:
                raise rule.error("only the last step of a sequence may be 'absent'", step.token)
    else:
        if rule.steps:
            raise rule.error(f"'first'/'then' steps need 'scope sequence' (this rule has scope {rule.scope})",
                             rule.steps[0].token)
        if rule.when is None:
            raise rule.error(f"rule {rule.id} has no 'when' condition")
    if rule.message is None:
        raise rule.error(f"rule {rule.id} has no 'message'")
    if not rule.title:
        rule.title = rule.id
    return rule


# -- the rule set -------------------------------------------------------------------------

class RuleSet:
    """The loaded, compiled, enabled rules, in load order (``rules``), plus what was left
    out: ``disabled`` ids and ``inactive`` (id -> why, e.g. a protocol without a spec)."""

    def __init__(self, registry):
        self.registry = registry
        self.all: dict[str, Rule] = {}
        self.rules: list = []               # CompiledRule, enabled and active
        self.disabled: set[str] = set()
        self.inactive: dict[str, str] = {}
        self.compiled: dict = {}
        self.clock = None                   # shared by frame.time_* in rules; the engine ticks it

    def __iter__(self):
        return iter(self.rules)

    def __len__(self):
        return len(self.rules)

    def by_id(self, rid):
        return self.compiled.get(rid)


def _rule_files(paths) -> list[Path]:
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(p.glob("*.rules"))
        elif p.exists():
            out.append(p)
        else:
            raise RuleError(f"no such rule file or directory: {p}")
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RuleError(f"cannot read rule file {path}: {e}") from None


def _suggest_id(rid, ids) -> str:
    close = difflib.get_close_matches(rid, list(ids), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def load_rules(registry, dirs=(), *, builtin=True, settings_files=(), sets=(), disable=(), severities=(),
               texts=()) -> RuleSet:
    """Load, configure and compile rules.

    :param dirs: user rule directories or files (``--rules``), after the built-in packs;
        a user rule with a built-in rule's id replaces it
    :param settings_files: files of settings statements (``--settings``)
    :param sets: ``NAME=VALUE`` (``--set``): ``rule.id.param=v`` or ``param=v`` (every rule
        declaring it)
    :param disable: rule ids (``--disable``); ``severities``: ``ID=LEVEL`` (``--severity``)
    :param texts: ``(name, text)`` pairs of rule-file text (tests, embedding)
    """
    from expert.rule_compiler import compile_rule

    from decoder.fields import Clock

    rs = RuleSet(registry)
    rs.clock = Clock()
    settings: list[Setting] = []
    sources = []
    if builtin:
        sources += [(p, True) for p in _rule_files([BUILTIN_DIR])]
    sources += [(p, False) for p in _rule_files(dirs)]
    parsed = [(str(p), _read(p), b) for p, b in sources] + [(name, text, False) for name, text in texts]
    for path, text, is_builtin in parsed:
        rules, sets_here = parse_rules(text, path, is_builtin)
        settings += sets_here
        for rule in rules:
            old = rs.all.get(rule.id)
            if old is not None and not old.builtin:
                raise rule.error(f"rule {rule.id} is already defined at {old.path}:{old.line}")
            rs.all[rule.id] = rule
    for p in _rule_files(settings_files):
        text = _read(p)
        rules, sets_here = parse_rules(text, str(p))
        if rules:
            raise rules[0].error("a settings file holds set/disable/enable/severity statements, not rules")
        settings += sets_here
    for text in sets:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise RuleError(f"--set {text!r}: expected NAME=VALUE, e.g. tcp.syn_unanswered.min_syns=5 or min_syns=5")
        settings.append(Setting("set", (name.strip(), value.strip(), False)))
    for rid in disable:
        settings.append(Setting("disable", ((rid, None),)))
    for text in severities:
        rid, sep, level = text.partition("=")
        if not sep:
            raise RuleError(f"--severity {text!r}: expected ID=LEVEL, e.g. tcp.retransmission=note")
        level = level.strip()
        if level not in SEVERITIES:
            raise RuleError(f"--severity {text!r}: " + _choice_error("severity", level, SEVERITIES))
        settings.append(Setting("severity", (rid.strip(), level)))
    for s in settings:
        _apply(rs, s)
    # overrides must name known rules
    for rule in rs.all.values():
        for rid, tok in rule.overrides:
            if rid not in rs.all:
                raise rule.error(f"rule {rule.id} overrides unknown rule {rid!r}{_suggest_id(rid, rs.all)}", tok)
    # compile (checks every field), skipping rules whose protocols have no spec
    for rule in rs.all.values():
        missing = [(p, tok) for p, tok in rule.requires if p not in registry.protocols]
        if missing:
            rs.inactive[rule.id] = "needs the " + ", ".join(p for p, _ in missing) + " spec"
            continue
        compiled = compile_rule(rule, registry, clock=rs.clock)
        rs.compiled[rule.id] = compiled
        if rule.id not in rs.disabled:
            rs.rules.append(compiled)
    return rs


def _apply(rs: RuleSet, s: Setting):
    if s.kind == "set":
        name, value, quoted = s.args
        rid, _, pname = name.rpartition(".")
        if rid:
            rule = rs.all.get(rid)
            if rule is None:
                raise s.error(f"set {name}: no rule {rid!r}{_suggest_id(rid, rs.all)}")
            targets = [rule] if pname in rule.params else []
            if not targets:
                close = difflib.get_close_matches(pname, list(rule.params), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                have = ", ".join(rule.params) or "none"
                raise s.error(f"set {name}: rule {rid} has no parameter {pname!r}{hint}; its parameters: {have}")
        else:
            targets = [r for r in rs.all.values() if pname in r.params]
            if not targets:
                names = sorted({p for r in rs.all.values() for p in r.params})
                close = difflib.get_close_matches(pname, names, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise s.error(f"set {name}: no rule has a parameter {pname!r}{hint}")
        where = f"{s.source.path}:{s.source.position(s.token.start_pos)[0]}" if s.source else "--set"
        for rule in targets:
            p = rule.params[pname]
            try:
                p.value = coerce_param(p, value, quoted)
            except ValueError as e:
                raise s.error(f"set {name}: {e}") from None
            p.where = where
    elif s.kind in ("disable", "enable"):
        for rid, tok in s.args:
            if rid not in rs.all:
                err = f"{s.kind} {rid}: no such rule{_suggest_id(rid, rs.all)}"
                raise (s.source.at(tok, err) if s.source is not None and tok is not None else RuleError(err))
            if s.kind == "disable":
                rs.disabled.add(rid)
            else:
                rs.disabled.discard(rid)
    elif s.kind == "severity":
        rid, level = s.args
        rule = rs.all.get(rid)
        if rule is None:
            raise s.error(f"severity {rid}: no such rule{_suggest_id(rid, rs.all)}")
        rule.severity = level
