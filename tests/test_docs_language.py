"""The language reference, rule catalogue and guides (docs/language.rst, rules.rst, api.rst,
writing-rules.rst): their examples run against the real filter compiler, decoder and
rules engine, and the generated parts cover the grammars and every built-in rule."""
from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

from decoder import rulecat

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HAVE_SPHINX = importlib.util.find_spec("sphinx") is not None
needs_sphinx = pytest.mark.skipif(not HAVE_SPHINX, reason="sphinx is not installed (pip install '.[docs]')")

LANGUAGE = (DOCS / "language.rst").read_text(encoding="utf-8")
WRITING = (DOCS / "writing-rules.rst").read_text(encoding="utf-8")
API = (DOCS / "api.rst").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def registry():
    from decoder.registry import Registry
    return Registry.default()


@pytest.fixture(scope="module")
def sample(registry):
    from decoder.capture import open_capture
    from decoder.packet import Decoder
    dec = Decoder(registry)
    return [dec.decode(f, n) for n, f in enumerate(open_capture(rulecat.SAMPLE), 1)]


# -- language reference ----------------------------------------------------------------------

def _literals(text: str) -> set[str]:
    return set(re.findall(r"``(.+?)``", text))


def test_every_filter_token_is_documented():
    documented = _literals(LANGUAGE)
    tokens = rulecat.grammar_literals(rulecat.FILTER_GRAMMAR)
    assert len(tokens) > 40
    missing = [t for t in tokens if t not in documented]
    assert not missing, f"filter tokens not documented in docs/language.rst as ``tok``: {missing}"


def test_every_rule_keyword_is_documented():
    documented = _literals(LANGUAGE) | _literals(WRITING)
    tokens = rulecat.grammar_literals(rulecat.RULES_GRAMMAR)
    missing = [t for t in tokens if t not in documented]
    assert not missing, f"rule-file tokens not documented in language.rst/writing-rules.rst: {missing}"


def test_every_function_is_documented():
    from expert.filters import FUNCTIONS
    missing = [f for f in FUNCTIONS if f"``{f}(" not in LANGUAGE]
    assert not missing, f"filter functions not in the functions table of docs/language.rst: {missing}"


@pytest.mark.parametrize("grammar", [rulecat.FILTER_GRAMMAR, rulecat.RULES_GRAMMAR], ids=["filter", "rules"])
def test_grammar_table_lists_every_rule_and_terminal(grammar):
    from lark import Lark
    from lark.lexer import PatternRE
    start = ["start", "expr"] if grammar == rulecat.FILTER_GRAMMAR else ["start"]
    lark = Lark.open(str(grammar), parser="lalr", start=start, maybe_placeholders=True)
    own = {e.name for e in rulecat.grammar_entries(grammar)}
    text = grammar.read_text(encoding="utf-8")
    defined = {m.group(2) for m in re.finditer(r"^([?!]?)([A-Za-z_]\w*)(\.\d+)?\s*:(?!:)", text, re.M)}
    assert defined and defined <= own
    regex_terminals = {t.name for t in lark.terminals if isinstance(t.pattern, PatternRE)}
    local = {n for n in regex_terminals if re.search(rf"^{n}(\.\d+)?\s*:", text, re.M)}
    assert local <= own
    rst = "\n".join(rulecat.grammar_rst(grammar))
    for name in own:
        assert f"``{name}``" in rst


def test_grammar_change_shows_up(tmp_path):
    g = tmp_path / "g.lark"
    g.write_text('start: thing\n// a brand-new operator\nthing: "frobnicates" NUMBER\nNUMBER: /\\d+/\n')
    rst = "\n".join(rulecat.grammar_rst(g))
    assert "``thing``" in rst and "frobnicates" in rst and "a brand-new operator" in rst
    assert "frobnicates" in rulecat.grammar_literals(g)


EXAMPLES = rulecat.parse_examples(LANGUAGE)


def test_examples_are_many_and_cover_the_operators():
    assert len(EXAMPLES) >= 50
    exprs = " ".join(e.expression for e in EXAMPLES)
    for op in ("==", "!=", "===", "and", "or", "xor", "not", "!", "in", "not in", "contains", "matches", "~",
               "&", "[", "#", "..", "/24", "len(", "count(", "lower(", "upper(", "string(", "abs(", "max(",
               "min(", "any ", "all ", "'P'", 'r"'):
        assert op in exprs, f"no example uses {op!r}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.expression for e in EXAMPLES])
def test_language_example(example, registry, sample):
    from expert.filters import compile_filter
    flt = compile_filter(example.expression, registry)
    got = [p.number for p in sample if flt(p)]
    assert got == example.frames, (f"docs/language.rst line {example.line}: {example.expression!r} matches "
                                   f"{rulecat.frames_text(got)}, the page says {rulecat.frames_text(example.frames)}")


def test_example_parsing():
    exs = rulecat.parse_example_lines(["tcp => 1-3, 7", "   explained", "   further", "udp => none"])
    assert [(e.expression, e.frames, e.text) for e in exs] == [("tcp", [1, 2, 3, 7], "explained further"),
                                                              ("udp", [], "")]
    assert rulecat.frames_text([7, 1, 2, 3]) == "1-3, 7"
    with pytest.raises(ValueError):
        rulecat.parse_example_lines(["tcp"])


# -- rule catalogue --------------------------------------------------------------------------

def test_catalogue_has_every_builtin_rule(registry):
    from expert.rules import load_rules
    rs = load_rules(registry)
    builtin = {rid for rid, r in rs.all.items() if r.builtin}
    entries, notes = rulecat.rule_catalogue()
    assert not notes, notes
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids))
    assert set(ids) == builtin
    rst = "\n".join(rulecat.catalogue_rst())
    for e in entries:
        rule = rs.all[e.id]
        assert f".. _rule-{e.id}:" in rst
        assert (e.severity, e.group, e.title) == (rule.severity, rule.group, rule.title)
        assert e.expressions, f"{e.id}: no expression"
        assert {p for p, _, _ in e.params} == set(rule.params), e.id
        assert e.cause and e.action, e.id


def test_catalogue_entry_content():
    entries, _ = rulecat.rule_catalogue()
    syn = next(e for e in entries if e.id == "tcp.syn_unanswered")
    assert syn.scope == "conversation"
    assert ("min_syns", "3", "SYNs (first + retransmissions) before it counts") in syn.params
    assert any(w == "when" and "conv.syn_count >= $min_syns" in t for w, t in syn.expressions)
    assert "tcp.retransmission" in syn.overrides
    arp = next(e for e in entries if e.id == "arp.unanswered")
    assert [w for w, _ in arp.expressions] == ["first", "then", "then"]


def test_catalogue_survives_an_unparsable_file(tmp_path):
    (tmp_path / "bad.rules").write_text('rule x.y {\n    severity warning\n    title "T"\n    when !!!\n}\n')
    entries, notes = rulecat.rule_catalogue(tmp_path)
    assert [e.id for e in entries] == ["x.y"] and entries[0].severity == "warning"
    assert notes and "bad.rules" in notes[0]
    assert ".. note::" in "\n".join(rulecat.catalogue_rst(tmp_path))


# -- guides ----------------------------------------------------------------------------------

def _code_blocks(text: str, language: str):
    """(options, code) of each ``.. code-block:: language``."""
    out = []
    for m in re.finditer(rf"^\.\. code-block:: {language}\n((?:   :.*\n)*)\n((?:(?:   .*)?\n)+)", text, re.M):
        opts = dict(re.findall(r"   :(\w+): ?(.*)", m.group(1)))
        out.append((opts, textwrap.dedent(m.group(2)).rstrip() + "\n"))
    return out


def test_api_examples_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = _code_blocks(API, "python")
    assert len(blocks) >= 6
    ns: dict = {}
    for i, (_, code) in enumerate(blocks, 1):
        exec(compile(code, f"docs/api.rst (block {i})", "exec"), ns)


RULE_BLOCKS = [b for b in _code_blocks(WRITING, "none") if b[0].get("class") == "protospec-rules"]


def test_writing_rules_has_examples():
    assert len(RULE_BLOCKS) >= 5


@pytest.mark.parametrize("block", RULE_BLOCKS, ids=[f"block{i}" for i in range(1, len(RULE_BLOCKS) + 1)])
def test_writing_rules_example(block, registry):
    from expert.rules import load_rules
    opts, code = block
    caption = opts.get("caption")
    if caption:
        assert code in (ROOT / caption).read_text(encoding="utf-8"), \
            f"the example captioned {caption} is not copied verbatim from that file"
    rs = load_rules(registry, texts=[("writing-rules.rst", code)])
    for m in re.finditer(r"^rule (\S+)", code, re.M):
        assert m.group(1) in rs.compiled


# -- the docs build and the CLI --------------------------------------------------------------

@needs_sphinx
def test_sphinx_build(tmp_path):
    from sphinx.cmd.build import build_main
    out = tmp_path / "html"
    assert build_main(["-W", "-q", "-b", "html", str(DOCS), str(out)]) == 0
    rules = (out / "rules.html").read_text(encoding="utf-8")
    entries, _ = rulecat.rule_catalogue()
    for e in entries:
        assert f'id="rule-{e.id.replace(".", "-").replace("_", "-")}"' in rules, e.id
    lang = (out / "language.html").read_text(encoding="utf-8")
    assert "Rules and terminals of" in lang and "LITERAL" in lang
    for page in ("api.html", "writing-rules.html"):
        assert (out / page).is_file()


SPEC = '''\
"""A made-up protocol for the docs CLI test (RFC 9999 §1)."""
from construct import Int8ub, Int16ub, Struct

from decoder.protocol import Bind, Protocol

PROTOCOL = Protocol(name="{name}", title="Docs CLI demo", ref="RFC 9999 §1",
                    layout=Struct("kind" / Int8ub * "Message kind (RFC 9999 §1)",
                                  "len" / Int16ub * "Length (RFC 9999 §2)"),
                    binds=[Bind("udp.port", 9998)])
'''


@needs_sphinx
def test_cli_docs_with_user_specs(tmp_path, capsys):
    from decoder.cli import main
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "langdemo.py").write_text(SPEC.replace("{name}", "langdemo"))
    out = tmp_path / "out"
    assert main(["docs", "--specs", str(specs), "-o", str(out)]) == 0
    html = "\n".join(p.read_text(encoding="utf-8") for p in out.rglob("*.html"))
    assert "langdemo.kind" in html and "Docs CLI demo" in html


def test_cli_docs_error(tmp_path, capsys):
    from decoder.cli import main
    assert main(["docs", "--specs", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("protospec: ") and "missing" in err
