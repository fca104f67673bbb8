"""The built-in diagnoses (expert/builtin/*.rules) on captures built for each of them
(tests/captures/expert_cases.py), on clean captures, on the project's sample capture and
on the shared corpus; and the ``protospec expert`` command line."""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from contextlib import redirect_stderr
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "captures"))

import expert_cases as cases  # noqa: E402

from decoder import cli  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from expert.engine import Engine  # noqa: E402
from expert import report  # noqa: E402
from expert.radius_check import passwords_from_args, secrets_from_args  # noqa: E402
from expert.rules import SEVERITIES, load_rules  # noqa: E402
from support import CORPUS, corpus_captures  # noqa: E402

SAMPLE = ROOT / "tests" / "captures" / "sample.pcap"


@pytest.fixture(scope="module")
def registry():
    return Registry.default()


@pytest.fixture(scope="module")
def builtin(registry):
    return load_rules(registry)


def run_case(case, registry, tmp_path):
    path = cases.write(case, tmp_path / f"{case.name}.pcap")
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    args = parser.parse_args([str(path), *case.args])
    engine = Engine(load_rules(registry), registry, radius_secrets=secrets_from_args(args.radius_secret) or None,
                    chap_passwords=passwords_from_args(args.chap_password) or None)
    findings = engine.run_capture(str(path))
    assert not engine.errors, engine.errors
    return findings


def _describe(findings):
    return "\n".join(f"  {f.id} {sorted(set(f.frames))} {f.message}" for f in findings)


# -- the built-in packs -----------------------------------------------------------------------------

def test_builtin_packs_load_and_are_complete(builtin):
    """Every built-in rule compiles against the registry, with a cause and an action."""
    assert len(builtin.all) >= 60
    assert not builtin.inactive, builtin.inactive          # dns and ftp specs exist
    for rid, rule in builtin.all.items():
        assert rule.builtin
        assert rule.severity in SEVERITIES
        assert rule.title and rule.title != rid, rid
        assert rule.cause and rule.action, f"{rid} lacks a cause or an action"
        assert rule.path.endswith(".rules")


def test_builtin_rules_are_in_their_protocols_pack(builtin):
    packs = {Path(r.path).stem for r in builtin.all.values()}
    assert {"tcp", "checksum", "icmp", "ip", "arp", "ppp", "radius", "dns", "ftp"} <= packs


# -- one capture per diagnosis ------------------------------------------------------------------------

DIAGNOSES = [name for name, fn in cases.CASES.items() if not name.startswith("clean")]


@pytest.mark.parametrize("name", DIAGNOSES)
def test_diagnosis(name, registry, tmp_path):
    case = cases.CASES[name]()
    findings = run_case(case, registry, tmp_path)
    got: dict[str, list] = {}
    for f in findings:
        got.setdefault(f.id, []).append(f)
    for rid, expects in case.expect.items():
        assert rid in got, f"{name}: {rid} did not fire; findings:\n{_describe(findings)}"
        for e in expects:
            ok = [f for f in got[rid]
                  if (e.frames is None or sorted(set(f.frames)) == e.frames)
                  and all(t in f.message for t in e.text)
                  and (e.severity is None or f.severity == e.severity)]
            assert ok, f"{name}: {rid} expected frames {e.frames} with {e.text}; got:\n{_describe(got[rid])}"
    for rid in case.silent:
        assert rid not in got, f"{name}: {rid} should stay silent:\n{_describe(got[rid])}"
    unexpected = [f for f in findings if f.id not in case.expect]
    assert not unexpected, f"{name}: unexpected findings:\n{_describe(unexpected)}"


def test_every_builtin_rule_has_a_capture(builtin, registry, tmp_path):
    """Each built-in rule fires on at least one of the captures built for the diagnoses."""
    fired = set()
    for name in DIAGNOSES:
        fired |= set(cases.CASES[name]().expect)
    assert set(builtin.all) - fired == set()


@pytest.mark.parametrize("name", [n for n in cases.CASES if n.startswith("clean")])
def test_clean_capture_is_silent(name, registry, tmp_path):
    case = cases.CASES[name]()
    findings = run_case(case, registry, tmp_path)
    assert findings == [], _describe(findings)


def test_rfc1122_message_names_field_values_and_hosts(registry, tmp_path):
    (f,) = run_case(cases.case_rfc1122_parameter_problem(), registry, tmp_path)
    assert f.id == "ip.bad_checksum_answered" and f.severity == "error"
    assert f.message.startswith("ICMP Parameter Problem pointer 10 = Header checksum (ip.checksum): "
                                "192.0.2.10 sent checksum 0xffff")
    assert "198.51.100.20 broke RFC 1122 by answering it" in f.message
    assert "RFC 1122 §3.2.1.2" in f.cause_text
    assert f.conversation["proto"] == "udp" and f.conversation["stream"] == 0


def test_syn_unanswered_names_the_conversation(registry, tmp_path):
    (f,) = run_case(cases.case_syn_unanswered(), registry, tmp_path)
    assert f.conversation == {"proto": "tcp", "stream": 1, "client": "192.0.2.10:40001",
                              "server": "198.51.100.20:8081", "conn_state": "S0"}
    assert "firewall" in f.cause_text and "port 8081" in f.action_text


def test_icmp_errors_link_to_the_conversation(registry, tmp_path):
    findings = run_case(cases.case_icmp_unreachable(), registry, tmp_path)
    port = next(f for f in findings if f.id == "icmp.port_unreachable")
    assert port.conversation == {"proto": "udp", "stream": 0, "src": "192.0.2.10:40800", "dst": "198.51.100.20:33435"}


# -- the sample capture and the corpus ------------------------------------------------------------------

def test_sample_capture(registry):
    engine = Engine(load_rules(registry), registry)
    findings = engine.run_capture(str(SAMPLE))
    by_id = {f.id: f for f in findings}
    assert set(by_id) == {"ip.bad_checksum_answered", "icmp.port_unreachable", "tcp.syn_unanswered",
                          "tcp.connection_refused", "icmp.ttl_exceeded"}, _describe(findings)
    assert sorted(by_id["ip.bad_checksum_answered"].frames) == [24, 25]
    assert "ICMP Parameter Problem pointer 10 = Header checksum (ip.checksum): 192.0.2.100 sent checksum 0xffff" \
        in by_id["ip.bad_checksum_answered"].message
    assert by_id["tcp.syn_unanswered"].message.startswith("SYN sent 3 times, no answer: port 8081 filtered")
    assert sorted(by_id["tcp.syn_unanswered"].frames) == [13, 14, 15]


def _corpus(rel):
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"corpus capture {rel} not available")
    return path


# what the built-in rules find in the shared corpus (reviewed by hand, see the report)
CORPUS_EXPECT = {
    "chrissanders+packets/tcp_refuseconnection.pcapng": {"tcp.connection_refused"},
    "chrissanders+packets/tcp_zerowindowdead.pcapng": {"tcp.window_stalled", "tcp.zero_window"},
    "chrissanders+packets/tcp_zerowindowrecovery.pcapng": {"tcp.zero_window"},
    "chrissanders+packets/tcp_retransmissions.pcapng": {"tcp.rto_backoff"},
    "chrissanders+packets/tcp_dupack.pcapng": {"tcp.duplicate_ack", "tcp.fast_retransmission"},
    "chrissanders+packets/tcp_handshake.pcapng": set(),
    "chrissanders+packets/tcp_teardown.pcapng": set(),
    "chrissanders+packets/dns_query_nonexistent.pcapng": {"dns.nxdomain"},
    "chrissanders+packets/icmp_traceroute.pcapng": {"icmp.ttl_exceeded"},
    "chrissanders+packets/tickedoffdeveloper.pcapng": {"checksum.offload", "ip.checksum_offload",
                                                        "ftp.error_reply"},
    "zeek+zeek/testing/btest/Traces/linuxsll-arp.pcap": {"arp.unanswered"},
    "zeek+zeek/testing/btest/Traces/radius/radius_localhost.pcap": {
        "radius.access_reject_user", "radius.unanswered", "radius.retransmission", "checksum.offload",
        "ip.checksum_offload"},
    "zeek+zeek/testing/btest/Traces/pppoe.pcap": set(),
    "the-tcpdump-group+tcpdump/tests/RADIUS.pcap": set(),
}


@pytest.mark.parametrize("rel", sorted(CORPUS_EXPECT))
def test_corpus_capture(rel, registry, builtin):
    path = _corpus(rel)
    engine = Engine(builtin, registry)
    findings = engine.run_capture(str(path))
    assert not engine.errors
    assert {f.id for f in findings} == CORPUS_EXPECT[rel], _describe(findings)


def test_corpus_runs_clean_of_rule_errors(registry, builtin):
    """Every capture of the corpus goes through every built-in rule without a rule failing."""
    if not CORPUS.exists():
        pytest.skip("corpus not available")
    from decoder.capture import CaptureError
    files = corpus_captures()
    assert files
    for path in files:
        engine = Engine(builtin, registry)
        try:
            engine.run_capture(str(path))
        except CaptureError:
            continue
        assert not engine.errors, f"{path}: {engine.errors}"


# -- the command line ---------------------------------------------------------------------------------

def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout
    sys.stdout = out
    try:
        with redirect_stderr(err):
            rc = cli.main(["expert", *map(str, argv)])
    finally:
        sys.stdout = old
    return rc, out.getvalue(), err.getvalue()


def test_cli_text_groups_by_severity():
    rc, out, err = run_cli(SAMPLE)
    assert rc == 0, err
    assert out.startswith("Expert diagnosis of ")
    assert out.index("Errors (1)") < out.index("Warnings (3)") < out.index("Notes (1)")
    assert "ip.bad_checksum_answered  [checksum]" in out
    assert "Cause:" in out and "Action:" in out and "Frames:       24, 25" in out
    assert "Conversation: tcp.stream 1  192.0.2.100:40001 -> 198.51.100.10:8081  (S0)" in out


def test_cli_json():
    rc, out, _ = run_cli(SAMPLE, "-T", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["packets"] == 30
    assert doc["counts"] == {"error": 1, "warning": 3, "note": 1, "chat": 0}
    first = doc["findings"][0]
    assert set(first) >= {"rule", "severity", "group", "title", "message", "frames", "count", "cause", "action",
                          "conversation"}
    assert first["rule"] == "ip.bad_checksum_answered" and first["frames"] == [24, 25]
    assert "conversations" in doc["stages"] and "tcp_analysis" in doc["stages"]


def test_cli_fail_on():
    assert run_cli(SAMPLE, "--fail-on", "error")[0] == 3
    assert run_cli(SAMPLE, "--fail-on", "warning")[0] == 3
    rc, _, _ = run_cli(SAMPLE, "--fail-on", "error", "--disable", "ip.bad_checksum_answered,ip.checksum_bad")
    assert rc == 0


def test_cli_min_severity():
    rc, out, _ = run_cli(SAMPLE, "--min-severity", "warning")
    assert rc == 0 and "Notes" not in out and "Warnings (3)" in out


def test_cli_disable_and_severity():
    rc, out, _ = run_cli(SAMPLE, "-T", "json", "--disable", "icmp.ttl_exceeded,icmp.port_unreachable",
                         "--severity", "tcp.connection_refused=error")
    doc = json.loads(out)
    ids = {f["rule"]: f["severity"] for f in doc["findings"]}
    assert "icmp.ttl_exceeded" not in ids and "icmp.port_unreachable" not in ids
    assert ids["tcp.connection_refused"] == "error"


@pytest.mark.parametrize("setting", ["tcp.syn_unanswered.min_syns=4", "min_syns=4"])
def test_cli_set_parameter(setting):
    rc, out, _ = run_cli(SAMPLE, "-T", "json", "--set", setting)
    assert rc == 0
    assert "tcp.syn_unanswered" not in {f["rule"] for f in json.loads(out)["findings"]}


def test_cli_set_unknown_parameter_suggests():
    rc, _, err = run_cli(SAMPLE, "--set", "min_synz=4")
    assert rc == 2
    assert "no rule has a parameter 'min_synz' (did you mean min_syns?)" in err
    rc, _, err = run_cli(SAMPLE, "--set", "tcp.syn_unanswered.min_syns=many")
    assert rc == 2 and "min_syns takes an integer" in err


def test_cli_user_rules_and_settings(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site.rules").write_text('''
rule site.telnet {
    severity error
    group security
    title "Telnet in use"
    when tcp.dstport == 23 and tcp.flags.syn == 1 and tcp.flags.ack == 0
    message "{ip.src} tried telnet to {ip.dst}"
    cause "Someone uses a clear-text protocol"
    action "Use SSH"
}
''')
    settings = tmp_path / "site.settings"
    settings.write_text("disable icmp.ttl_exceeded\nseverity tcp.connection_refused note\nset min_syns = 3\n")
    rc, out, err = run_cli(SAMPLE, "-T", "json", "--rules", rules, "--settings", settings)
    assert rc == 0, err
    found = {f["rule"]: f for f in json.loads(out)["findings"]}
    assert found["site.telnet"]["message"] == "192.0.2.100 tried telnet to 198.51.100.10"
    assert found["site.telnet"]["frames"] == [16]
    assert "icmp.ttl_exceeded" not in found
    assert found["tcp.connection_refused"]["severity"] == "note"


def test_cli_bad_rule_file_reports_position(tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text('rule my.rule {\n    severity warning\n    when tcp.flag.syn == 1\n    message "x"\n}\n')
    rc, out, err = run_cli(SAMPLE, "--rules", bad)
    assert rc == 2 and out == ""
    assert f"{bad}:3:10: unknown field 'tcp.flag.syn' (did you mean 'tcp.flags.syn'?)" in err
    assert "    when tcp.flag.syn == 1\n" in err and "\n             ^" in err


def test_cli_list_rules_and_fields():
    rc, out, _ = run_cli("--list-rules", "--set", "min_syns=5")
    assert rc == 0
    assert "tcp.syn_unanswered" in out and "param min_syns = 5    (--set)" in out
    rc, out, _ = run_cli("--list-fields")
    assert rc == 0 and "conv.syn_count" in out and "seq.delay" in out and "tcp.analysis.retransmission" in out


def test_cli_needs_a_file():
    rc, _, err = run_cli()
    assert rc == 2 and "needs a capture FILE" in err


def test_cli_unreadable_capture(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    rc, _, err = run_cli(junk)
    assert rc == 1 and err


def test_console_script_runs(tmp_path):
    """python -m decoder.cli expert: the subcommand is wired into the real entry point."""
    res = subprocess.run([sys.executable, "-m", "decoder.cli", "expert", str(SAMPLE), "--fail-on", "error"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 3, res.stderr
    assert "RFC 1122" in res.stdout


def test_cli_damaged_capture_is_diagnosed_up_to_the_damage(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(SAMPLE.read_bytes()[:1500])
    rc, out, err = run_cli(cut)
    assert rc == 1
    assert "16 packets" in out and "tcp.syn_unanswered" in out and "tcp.connection_refused" not in out
    assert "cut short" in err
