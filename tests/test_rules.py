"""The expert rule language: rule files, their errors, parameters and settings, message
templates, packet / conversation / sequence scopes, precedence and the engine's bounds."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "captures"))

import expert_cases as cases  # noqa: E402

from decoder.capture import Frame  # noqa: E402
from decoder.packet import Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from expert import engine as engine_mod  # noqa: E402
from expert.engine import Engine  # noqa: E402
from expert.rules import RuleError, load_rules, parse_rules, parse_value  # noqa: E402

A, B, C = "192.0.2.1", "192.0.2.2", "192.0.2.3"


@pytest.fixture(scope="module")
def reg():
    return Registry.default()


def load(reg, text, **kw):
    return load_rules(reg, builtin=False, texts=[("test.rules", text)], **kw)


def udp(t, src=A, dst=B, sport=1000, dport=2000, payload=b"x", ident=1, **kw):
    return (t, bytes(Ether(src=cases.CMAC, dst=cases.SMAC) / IP(src=src, dst=dst, id=ident, **kw) / UDP(sport=sport, dport=dport) / payload))


def run(reg, text, frames, **kw):
    rules = load(reg, text, **kw)
    eng = Engine(rules, reg)
    dec = Decoder(reg)
    for n, (t, data) in enumerate(sorted(frames, key=lambda f: f[0]), 1):
        eng.process(dec.decode(Frame(data, 1, cases.T0 + round(t * 1e9), len(data)), n))
    out = eng.finish()
    assert not eng.errors, eng.errors
    return out


def error(reg, text, **kw) -> RuleError:
    with pytest.raises(RuleError) as e:
        load(reg, text, **kw)
    return e.value


RULE = '''
rule test.big {{
    severity {severity}
    group protocol
    title "Big datagram"
    param limit = 100
    when udp.length > $limit
    message "{{ip.src}} sent {{udp.length}} octets"
    cause "c" action "a"
}}
'''


# -- syntax and statements --------------------------------------------------------------------------

def test_packet_rule(reg):
    frames = [udp(0, payload=b"x" * 10), udp(1, payload=b"x" * 200), udp(2, payload=b"x" * 200, ident=2)]
    (f,) = run(reg, RULE.format(severity="warning"), frames)
    assert (f.id, f.severity, f.group, f.title) == ("test.big", "warning", "protocol", "Big datagram")
    assert f.message == "192.0.2.1 sent 208 octets"
    assert f.frames == [2, 3] and f.count == 2           # same text: merged
    assert (f.cause_text, f.action_text) == ("c", "a")


def test_comments_and_layer_operator(reg):
    rules, _ = parse_rules('''# a comment line
rule a.b {   # after a brace
    when ip.id#1 == 7   # ip.id#1 is the layer operator, this is a comment
    message "m"  # here too
}
''')
    assert rules[0].id == "a.b"


def test_defaults_and_multi_line_texts(reg):
    rules, _ = parse_rules('rule a.b { when udp message "one " "two" cause "c1 "\n "c2" }')
    r = rules[0]
    assert (r.severity, r.group, r.scope, r.title) == ("note", "protocol", "packet", "a.b")
    rs = load(reg, 'rule a.b { when udp message "one " "two" cause "c1 "\n "c2" }')
    assert rs.by_id("a.b").message.text == "one two"


@pytest.mark.parametrize("text, where, words", [
    ('rule a.b { when tcp.flag.syn == 1 message "x" }', "test.rules:1:17",
     "unknown field 'tcp.flag.syn' (did you mean 'tcp.flags.syn'?)"),
    ('rule a.b {\n  when udp\n  message "x {ip.srcc}"\n}', "test.rules:3:15", "unknown field 'ip.srcc' (did you mean 'ip.src'?)"),
    ('rule a.b { severity warn when udp message "x" }', "test.rules:1:21",
     "unknown severity 'warn' (did you mean warning?): use chat, note, warning or error"),
    ('rule a.b { group sequnce when udp message "x" }', "test.rules:1:18", "unknown group 'sequnce' (did you mean sequence?)"),
    ('rule a.b { scope conversaton when udp message "x" }', "test.rules:1:18", "did you mean conversation?"),
    ('rule a.b { when udp messag "x" }', "test.rules:1:21",
     "unexpected 'messag', expected a statement (action, cause, doc, first, frames, group, message, overrides, "
     "param, requires, scope, severity, then, title, when), a comparison"),
    ('rule a.b { when udp messag "x" }', "test.rules:1:21", "(did you mean 'message'?)"),
    ('rule a.b { when udp.length = 3 message "x" }', "test.rules:1:28", "(compare with ==)"),
    ('rule a.b { when udp message "x"', "test.rules:1:33", "a rule block is not closed with '}'"),
    ('rule a.b { when udp }', "test.rules:1:6", "rule a.b has no 'message'"),
    ('rule a.b { message "x" }', "test.rules:1:6", "rule a.b has no 'when' condition"),
    ('rule a.b { when udp when tcp message "x" }', "test.rules:1:21", "'when' given twice in rule a.b"),
    ('rule A.B { when udp message "x" }', "test.rules:1:6", "use lower-case dotted words"),
    ('rule a.b { when udp message "x {ip.src:.2q}" }', "test.rules:1:40", "bad format spec '.2q'"),
    ('rule a.b { when udp message "x {ip.src" }', "test.rules:1:32", "unmatched '{'"),
    ('rule a.b { when udp message "x {$nope}" }', "test.rules:1:33", "unknown parameter $nope"),
    ('rule a.b { param n = 3 when udp.length > $m message "x" }', "test.rules:1:42", "unknown parameter $m"),
    ('rule a.b { when udp message "x {udp.length == 3}" }', "test.rules:1:33", "is a test"),
    ('rule a.b { when udp overrides c.d message "x" }', "test.rules:1:31", "overrides unknown rule 'c.d'"),
    ('rule a.b { scope conversation when ip.src == 192.0.2.1 message "x" }', "test.rules:1:36",
     "ip.src is a packet field; a conversation rule reads conv.* and server.* fields"),
    ('rule a.b { scope conversation when conv.syn_cont > 1 message "x" }', "test.rules:1:36",
     "unknown field 'conv.syn_cont' (did you mean 'conv.syn_count'?)"),
    ('rule a.b { when conv.syn_count > 1 message "x" }', "test.rules:1:17",
     "conv.syn_count is a conversation field: it needs 'scope conversation'"),
    ('rule a.b { first A: ip then B: ip.id == C.ip.id within 2s message "x" }', "test.rules:1:41",
     "C is not a step of this rule (steps: A, B)"),
    ('rule a.b { first A: ip then B: ip.id == A.ip.idd within 2s message "x" }', "test.rules:1:41",
     "unknown field 'A.ip.idd' (did you mean 'A.ip.id'?)"),
    ('rule a.b { first A: ip.id == B.ip.id then B: ip within 2s message "x" }', "test.rules:1:30",
     "B.ip.id: step B comes later in this sequence"),
    ('rule a.b { first A: ip then B: ip absent within 2s message "x {B.ip.id}" }', "test.rules:1:64",
     "step B comes later"),
    ('rule a.b { first A: ip then B: ip absent within 2s then C: ip within 1s message "x" }', "test.rules:1:29",
     "only the last step of a sequence may be 'absent'"),
    ('rule a.b { first A: ip then B: ip within soon message "x" }', "test.rules:1:42", "'within' needs a duration"),
    ('rule a.b { first A: ip then B: ip message "x" }', "test.rules:1:35", "expected"),
    ('rule a.b { first A: ip message "x" }', "test.rules:1:18", "needs a 'then' step after 'first'"),
    ('rule a.b { then B: ip within 1s message "x" }', "test.rules:1:12", "'then' needs a 'first' step before it"),
    ('rule a.b { first tcp: ip then B: ip within 1s message "x" }', "test.rules:1:18",
     "step label 'tcp' is also a protocol"),
    ('rule a.b { first A: ip then B: ip within 1s when seq.delay > 1 first C: ip message "x" }', "test.rules:1:64",
     "'first' must come before every 'then'"),
    ('rule a.b { first A: ip then B: ip absent within 1s when seq.delay > 1 message "x" }', "test.rules:1:52",
     "has no match for 'when' to test"),
    ('rule a.b { when udp message "x" }\nrule a.b { when udp message "y" }', "test.rules:2:6",
     "rule a.b is already defined at test.rules:1"),
    ('set a.b.n = 3\nrule a.b { param n = 1 when udp message "x" }\nset a.b.n = many', "test.rules:3:5",
     "set a.b.n: n takes an integer, not 'many'"),
    ('disable a.bb\nrule a.b { when udp message "x" }', "test.rules:1:9", "disable a.bb: no such rule (did you mean a.b?)"),
])
def test_errors_name_file_line_column(reg, text, where, words):
    e = error(reg, text)
    assert str(e).startswith(where + ": "), str(e)
    assert words in str(e)


def test_error_shows_the_line_and_a_caret(reg):
    e = error(reg, 'rule a.b {\n    when tcp.flag.syn == 1\n    message "x"\n}')
    assert str(e).splitlines()[1:] == ["        when tcp.flag.syn == 1", "             ^"]


def test_every_field_is_checked_when_loaded(reg):
    """A field only a later packet would reach is checked all the same (not at run time)."""
    e = error(reg, 'rule a.b { when udp and (udp.length > 9000 or icmp.typ == 3) message "x" }')
    assert "unknown field 'icmp.typ' (did you mean 'icmp.type'?)" in str(e)


def test_requires_makes_a_rule_inactive(reg):
    rs = load(reg, 'rule a.b { requires nosuchproto when udp message "x" }\nrule a.c { when udp message "y" }')
    assert "a.b" in rs.inactive and "nosuchproto" in rs.inactive["a.b"]
    assert [r.id for r in rs] == ["a.c"]


def test_user_rule_replaces_builtin(reg, tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "x.rules").write_text('rule tcp.syn_unanswered { scope conversation when conv.syn_count > 99 message "m" }')
    rs = load_rules(reg, [d])
    assert rs.all["tcp.syn_unanswered"].message[0] == '"m"' and not rs.all["tcp.syn_unanswered"].builtin


def test_missing_rules_path(reg, tmp_path):
    with pytest.raises(RuleError, match="no such rule file or directory"):
        load_rules(reg, [tmp_path / "nope"])


# -- parameters and settings --------------------------------------------------------------------------

@pytest.mark.parametrize("text, value, kind", [
    ("3", 3, "int"), ("0x10", 16, "int"), ("2.5", 2.5, "float"), ("2s", 2.0, "duration"),
    ("500ms", 0.5, "duration"), ("2m", 120.0, "duration"), ("true", True, "bool"), ("off", False, "bool"),
    ("tcp", "tcp", "str")])
def test_parameter_values(text, value, kind):
    assert parse_value(text) == (value, kind)


def test_parameter_overrides(reg):
    frames = [udp(0, payload=b"x" * 150)]
    assert run(reg, RULE.format(severity="note"), frames)
    assert not run(reg, RULE.format(severity="note"), frames, sets=["test.big.limit=200"])
    assert not run(reg, RULE.format(severity="note"), frames, sets=["limit=200"])
    rs = load(reg, RULE.format(severity="note"), sets=["limit=0x20"])
    assert rs.all["test.big"].params["limit"].value == 32 and rs.all["test.big"].params["limit"].where == "--set"


def test_parameter_errors(reg):
    text = RULE.format(severity="note")
    assert "no rule has a parameter 'limt' (did you mean limit?)" in str(error(reg, text, sets=["limt=3"]))
    assert "rule test.big has no parameter 'limt' (did you mean limit?); its parameters: limit" in \
        str(error(reg, text, sets=["test.big.limt=3"]))
    assert "no rule 'test.bg' (did you mean test.big?)" in str(error(reg, text, sets=["test.bg.limit=3"]))
    assert "limit takes an integer, not '1.5'" in str(error(reg, text, sets=["limit=1.5"]))
    assert "expected NAME=VALUE" in str(error(reg, text, sets=["limit"]))


def test_duration_parameter_accepts_numbers(reg):
    rs = load(reg, 'rule a.b { param t = 2s first A: udp then B: udp within $t message "x" }', sets=["t=500ms"])
    assert rs.by_id("a.b").steps[1].within == 0.5
    rs = load(reg, 'rule a.b { param t = 2s first A: udp then B: udp within $t message "x" }', sets=["t=3"])
    assert rs.by_id("a.b").steps[1].within == 3.0


def test_settings_statements(reg, tmp_path):
    s = tmp_path / "s.settings"
    s.write_text("disable test.big\nenable test.big\nseverity test.big error\nset test.big.limit = 7\n")
    rs = load(reg, RULE.format(severity="note"), settings_files=[s])
    r = rs.by_id("test.big")
    assert r.severity == "error" and r.params["limit"] == 7 and "test.big" not in rs.disabled
    s.write_text("disable test.big\n")
    assert not list(load(reg, RULE.format(severity="note"), settings_files=[s]))
    s.write_text('rule x.y { when udp message "x" }')
    assert "a settings file holds set/disable/enable/severity statements" in str(
        error(reg, RULE.format(severity="note"), settings_files=[s]))


def test_cli_style_disable_and_severity(reg):
    rs = load(reg, RULE.format(severity="note"), disable=["test.big"])
    assert not list(rs) and "test.big" in rs.disabled
    rs = load(reg, RULE.format(severity="note"), severities=["test.big=chat"])
    assert rs.by_id("test.big").severity == "chat"
    assert "unknown severity 'fatal'" in str(error(reg, RULE.format(severity="note"), severities=["test.big=fatal"]))
    assert "no such rule" in str(error(reg, RULE.format(severity="note"), disable=["test.bog"]))


# -- templates ----------------------------------------------------------------------------------------

def test_template_features(reg):
    text = '''rule t.x {
        param n = 2.5
        when udp
        message "{ip.src|ipv6.src} id {ip.id:#06x} ttl {ip.ttl:>4} {{braces}} n={$n:.2f} f={frames} c={count} "
                "gw={icmp.redir_gw|'none'} dsf={ip.dsfield.dscp}"
    }'''
    (f,) = run(reg, text, [udp(0, ident=0x42), udp(1, ident=0x42)])
    assert f.message == "192.0.2.1 id 0x0042 ttl   64 {braces} n=2.50 f=1, 2 c=2 gw=none dsf=0"


def test_template_label_spec_and_missing_value(reg):
    quote = bytes(IP(src=A, dst=B, id=5) / UDP(sport=1, dport=2))[:28]
    frame = (0, bytes(Ether(src=cases.SMAC, dst=cases.CMAC) / IP(src=B, dst=A) / ICMP(type=12, ptr=8) / quote))
    (f,) = run(reg, 'rule t.x { when icmp message "{icmp.pointer.field:label} / {icmp.pointer.field} / '
                    '{icmp.mtu} / {ip.src#2}" }', [frame])
    assert f.message == "Time to live / ip.ttl / ? / 192.0.2.1"


def test_frames_statement(reg):
    quote = bytes(IP(src=A, dst=B, id=5) / UDP(sport=1, dport=2))[:28]
    frames = [udp(0, ident=5, sport=1, dport=2), (0.1, bytes(Ether(src=cases.SMAC, dst=cases.CMAC) / IP(src=B, dst=A) / ICMP(type=3, code=3) / quote))]
    (f,) = run(reg, 'rule t.x { when icmp frames frame.number, icmp.quoted_frame message "m" }', frames)
    assert f.frames == [2, 1]


# -- conversation scope -------------------------------------------------------------------------------

def test_conversation_rule(reg, tmp_path):
    text = '''rule t.conv {
        scope conversation
        when conv.proto == "tcp" and conv.conn_state == "REJ"
        message "{conv.client_endpoint} -> {conv.server_endpoint} {conv.conn_state} {conv.history} "
                "syn={conv.syn_frames} rst={conv.rst_from} {conv.duration:.2f}"
        frames conv.syn_frames, conv.rst_frames
    }'''
    (f,) = run(reg, text, cases.case_connection_refused().frames)
    assert f.message == "192.0.2.10:40002 -> 198.51.100.20:23 REJ Sr syn=1 rst=server 0.01"
    assert f.frames == [1, 2]
    assert f.conversation["conn_state"] == "REJ" and f.conversation["stream"] == 0


def test_boolean_conversation_fields_exist_only_when_true(reg):
    text = '''rule t.a { scope conversation when conv.rtx.doubling message "doubling" }
              rule t.b { scope conversation when conv.proto == "tcp" and not conv.rtx.syn message "not syn" }'''
    out = run(reg, text, cases.case_rto_backoff().frames)
    assert {f.message for f in out} == {"doubling", "not syn"}


# -- sequences ----------------------------------------------------------------------------------------

SEQ = '''rule t.pair {
    scope sequence
    param wait = 1s
    first Q: udp.dstport == 53
    then R: udp.srcport == 53 and udp.dstport == Q.udp.srcport and ip.src == Q.ip.dst {absent}within $wait
    {when}
    message "{Q.ip.src}:{Q.udp.srcport} {text}"
}'''


def seq_rule(absent=False, when="", text="x"):
    return SEQ.replace("{absent}", "absent " if absent else "").replace("{when}", when).replace("{text}", text)


def test_sequence_pairs_by_key(reg):
    frames = [udp(0, sport=1111, dport=53), udp(0.1, sport=2222, dport=53),
              udp(0.2, src=B, dst=A, sport=53, dport=2222), udp(0.3, src=B, dst=A, sport=53, dport=1111)]
    out = run(reg, seq_rule(text="{R.frame.number} after {seq.delay:.1f} s"), frames)
    assert sorted((f.message, tuple(f.frames)) for f in out) == [
        ("192.0.2.1:1111 4 after 0.3 s", (1, 4)), ("192.0.2.1:2222 3 after 0.1 s", (2, 3))]
    rs = load(reg, seq_rule())
    step = rs.by_id("t.pair").steps[1]
    assert len(step.key_cur) == 2 and step.cross is None      # both equalities index the pending match


def test_sequence_window(reg):
    frames = [udp(0, sport=1111, dport=53), udp(1.5, src=B, dst=A, sport=53, dport=1111)]
    assert not run(reg, seq_rule(), frames)                  # the answer came too late
    assert run(reg, seq_rule(), frames, sets=["wait=2s"])


def test_absent_step(reg):
    q = udp(0, sport=1111, dport=53)
    late = udp(0.5, C, B, 7, 7)
    assert not run(reg, seq_rule(absent=True), [q, udp(0.2, src=B, dst=A, sport=53, dport=1111), udp(3, C, B, 7, 7)])
    (f,) = run(reg, seq_rule(absent=True), [q, udp(3, C, B, 7, 7)])          # window passed: unanswered
    assert f.frames == [1] and f.message == "192.0.2.1:1111 x"
    assert not run(reg, seq_rule(absent=True), [q, late])    # the capture ended inside the window: unknown


def test_sequence_when_and_delay(reg):
    frames = [udp(0, sport=1111, dport=53), udp(0.8, src=B, dst=A, sport=53, dport=1111),
              udp(1, sport=2222, dport=53), udp(1.1, src=B, dst=A, sport=53, dport=2222)]
    (f,) = run(reg, seq_rule(when="when seq.delay > 0.5"), frames)
    assert f.frames == [1, 2]


def test_repeated_requests_answered_once(reg):
    """Three copies of one request and one answer: one exchange, timed from the first."""
    frames = [udp(t, sport=1111, dport=53) for t in (0, 0.2, 0.4)] + [udp(0.5, src=B, dst=A, sport=53, dport=1111)]
    (f,) = run(reg, seq_rule(text="{seq.delay:.1f}"), frames)
    assert f.message.endswith("0.5") and f.frames == [1, 4]
    assert not run(reg, seq_rule(absent=True), frames + [udp(5, C, B, 7, 7)])


def test_three_steps_and_cross_conditions(reg):
    text = '''rule t.three {
        first A: udp.dstport == 7
        then B: udp.srcport == 7 and udp.length > A.udp.length within 1s
        then C: udp.dstport == 7 and udp.srcport == B.udp.dstport within 1s
        message "{A.frame.number} {B.frame.number} {C.frame.number}"
    }'''
    frames = [udp(0, sport=5, dport=7, payload=b"ab"), udp(0.1, B, A, 7, 5, payload=b"a"),
              udp(0.2, B, A, 7, 5, payload=b"abc"), udp(0.3, sport=5, dport=7)]
    (f,) = run(reg, text, frames)
    assert f.message == "1 3 4"
    assert load(reg, text).by_id("t.three").steps[1].cross is not None


def test_pending_matches_are_bounded(reg, monkeypatch):
    monkeypatch.setattr(Engine, "max_pending", 5)
    rules = load(reg, seq_rule(absent=True))
    eng = Engine(rules, reg)
    dec = Decoder(reg)
    for n in range(1, 51):
        t, data = udp(n * 0.001, sport=1000 + n, dport=53)
        eng.process(dec.decode(Frame(data, 1, cases.T0 + round(t * 1e9), len(data)), n))
    st = eng.seq_rules[0]
    assert st.alive <= 5 and st.dropped == 45


def test_pending_matches_with_one_key_are_bounded(reg):
    rules = load(reg, seq_rule(absent=True))
    eng = Engine(rules, reg)
    dec = Decoder(reg)
    for n in range(1, 41):
        t, data = udp(n * 0.001, sport=1111, dport=53)
        eng.process(dec.decode(Frame(data, 1, cases.T0 + round(t * 1e9), len(data)), n))
    assert eng.seq_rules[0].alive == engine_mod.MAX_PER_KEY


def test_expired_matches_free_their_memory(reg):
    rules = load(reg, seq_rule())
    eng = Engine(rules, reg)
    dec = Decoder(reg)
    for n in range(1, 101):
        t, data = udp(n * 0.1, sport=1000 + n, dport=53)
        eng.process(dec.decode(Frame(data, 1, cases.T0 + round(t * 1e9), len(data)), n))
    st = eng.seq_rules[0]
    assert st.alive <= 12 and len(st.waiting[1]) <= 12 and len(st.queues[1]) <= 13


# -- precedence ---------------------------------------------------------------------------------------

def test_precedence_one_frame_one_verdict(reg):
    text = '''rule t.any { when udp message "udp {count}" }
              rule t.big { when udp.length > 50 overrides t.any message "big" }'''
    frames = [udp(0), udp(1, payload=b"x" * 100), udp(2)]
    out = {f.id: f for f in run(reg, text, frames)}
    assert out["t.big"].frames == [2]
    assert out["t.any"].frames == [1, 3] and out["t.any"].message == "udp 2"


def test_precedence_removes_whole_events(reg):
    text = '''rule t.conv { scope conversation when conv.proto == "tcp" frames conv.syn_frames, conv.rst_frames
                             message "conv" }
              rule t.rst { when tcp.flags.reset == 1 overrides t.conv message "rst" }'''
    out = run(reg, text, cases.case_connection_refused().frames)
    assert [f.id for f in out] == ["t.rst"]


# -- the engine's economy -----------------------------------------------------------------------------

def test_rules_run_only_on_packets_with_their_protocols(reg):
    rs = load(reg, '''rule t.a { when tcp.flags.syn == 1 and ip message "a" }
                      rule t.b { when not tcp message "b" }
                      rule t.c { when tcp.analysis.retransmission or tcp.analysis.duplicate_ack message "c" }''')
    a, b, c = rs.by_id("t.a"), rs.by_id("t.b"), rs.by_id("t.c")
    assert a.req == {"tcp", "ip"} and not b.req and c.req == {"tcp"}
    assert c.ann == ("tcp.analysis.duplicate_ack", "tcp.analysis.retransmission")
    out = run(reg, 'rule t.b { when not tcp message "b {ip.id}" }', [udp(0, ident=3)])
    assert out[0].message == "b 3"


def test_only_needed_stages_run(reg):
    eng = Engine(load(reg, RULE.format(severity="note")), reg)
    assert eng.stages == set() and eng.tracker is None
    eng = Engine(load(reg, 'rule t.x { when tcp.analysis.retransmission message "r" }'), reg)
    assert eng.stages == {"conversations", "tcp_analysis"}
    eng = Engine(load(reg, 'rule t.x { scope conversation when conv.art > 1 message "r" }'), reg)
    assert eng.stages == {"conversations", "conv_stats"}
    eng = Engine(load(reg, 'rule t.x { when radius.rspframe message "r" }'), reg)
    assert eng.stages == {"access"}
    eng = Engine(load(reg, 'rule t.x { when icmp.quoted_frame message "r" }'), reg)
    assert eng.stages == {"icmp_link"}                      # the lean linker
    eng = Engine(load(reg, 'rule t.x { when dns.time > 1 or icmp.quoted_frame message "r" }'), reg)
    assert eng.stages == {"pairing"}                        # the whole pairing stage


def test_pairing_fields(reg):
    """Request/response times from expert.pairing are rule fields too."""
    out = run(reg, 'rule d.slow { when dns.time > 1 frames frame.number, dns.response_to '
                   'message "{dns.qry.name} took {dns.time:.2f} s" }', cases.case_dns_problems().frames)
    (f,) = out
    assert f.message == "slow.example.com took 1.50 s" and f.frames == [7, 6]


def test_a_failing_rule_does_not_stop_the_others(reg, monkeypatch):
    rules = load(reg, 'rule t.a { when udp message "a" }\nrule t.b { when udp message "b" }')
    rules.by_id("t.a").test = lambda pkt: 1 / 0
    eng = Engine(rules, reg)
    findings = eng.run_frames([Frame(udp(0)[1], 1, cases.T0, 50)])
    assert [f.id for f in findings] == ["t.b"]
    assert eng.errors == ["rule t.a: ZeroDivisionError: division by zero"]


def test_finding_json_shape(reg):
    (f,) = run(reg, RULE.format(severity="error"), [udp(0, payload=b"x" * 300)])
    d = f.as_dict()
    assert d == {"rule": "test.big", "severity": "error", "group": "protocol", "title": "Big datagram",
                 "message": "192.0.2.1 sent 308 octets", "frames": [1], "count": 1, "cause": "c", "action": "a",
                 "conversation": {"proto": "udp", "src": "192.0.2.1:1000", "dst": "192.0.2.2:2000"}}
