"""``protospec expert FILE``: the expert diagnosis of a capture, as text or JSON.

::

    protospec expert trace.pcap                       # findings grouped by severity
    protospec expert trace.pcap -T json               # rule, severity, group, message, frames, conversation
    protospec expert trace.pcap --fail-on warning     # exit 3 when a warning or an error is found
    protospec expert trace.pcap --set min_syns=5 --disable tcp.keep_alive --severity tcp.retransmission=note
    protospec expert trace.pcap --rules my-rules/ --settings site.settings
    protospec expert --list-rules                     # every rule, its parameters and state
    protospec expert --list-fields                    # the conv.* / server.* / seq.* fields rules read

Text output is grouped like ``tshark -q -z expert`` (errors, warnings, notes, chats),
with one block per diagnosis: the message naming hosts, ports, values and frames, the
probable cause and the recommended action (OptiView's layout).

Exit status: 0 done (no finding at or above ``--fail-on``), 1 unreadable capture or
spec (a capture damaged part-way is still diagnosed up to the damage, then 1), 2 usage
error (bad option, invalid rule or settings file: ``file:line:col:`` message), 3 a
finding at or above the ``--fail-on`` level exists.

JSON (``-T json``): ``file``, ``packets``, ``counts`` per severity, ``findings`` (each:
``rule``, ``severity``, ``group``, ``title``, ``message``, ``frames``, ``count``, ``cause``,
``action``, ``conversation`` — ``proto``, ``stream`` when known, and ``client``/``server``
for a conversation record or ``src``/``dst`` for the packet a finding came from),
``inactive_rules`` and the analysis ``stages`` that ran.
"""
from __future__ import annotations

import json
import sys

from expert.rules import SEVERITIES

EXIT_OK, EXIT_CAPTURE, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3
_MOST_SEVERE_FIRST = SEVERITIES[::-1]    # ("error", "warning", "note", "chat")
_PLURAL = {"error": "Errors", "warning": "Warnings", "note": "Notes", "chat": "Chats"}


def add_arguments(p) -> None:
    """The options of ``protospec expert`` (on an argparse parser)."""
    p.add_argument("file", metavar="FILE", nargs="?", help="capture file, or - for standard input")
    p.add_argument("-T", dest="format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--rules", action="append", default=[], metavar="DIR",
                   help="also load the *.rules files in DIR (or one file); a rule with a built-in's id replaces it")
    p.add_argument("--no-builtin", action="store_true", help="do not load the built-in rule packs")
    p.add_argument("--settings", action="append", default=[], metavar="FILE",
                   help="settings file: 'set NAME = VALUE', 'disable ID', 'severity ID LEVEL' lines")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="a rule parameter: RULE.PARAM=VALUE (tcp.syn_unanswered.min_syns=5) or PARAM=VALUE "
                        "for every rule that has it")
    p.add_argument("--disable", action="append", default=[], metavar="ID", help="turn a rule off (repeatable, or ID,ID)")
    p.add_argument("--severity", dest="severities", action="append", default=[], metavar="ID=LEVEL",
                   help=f"change a rule's severity ({', '.join(SEVERITIES)})")
    p.add_argument("--min-severity", choices=SEVERITIES, default="chat",
                   help="show only findings at or above this level (default: all)")
    p.add_argument("--fail-on", choices=SEVERITIES, metavar="LEVEL",
                   help=f"exit with status {EXIT_FINDINGS} when a finding at or above LEVEL exists "
                        f"({', '.join(SEVERITIES)})")
    p.add_argument("--specs", action="append", default=[], metavar="DIR",
                   help="also load the spec modules in DIR (repeatable)")
    from expert.radius_check import add_arguments as secret_arguments
    secret_arguments(p)
    p.add_argument("-c", dest="count", type=int, metavar="N", help="read only the first N packets")
    p.add_argument("--max-per-rule", type=int, default=20, metavar="N",
                   help="text output: show at most N findings of each rule (0: all; default 20)")
    p.add_argument("--list-rules", action="store_true", help="list the rules (after settings) and exit")
    p.add_argument("--list-fields", action="store_true",
                   help="list the conversation and sequence fields rules can read, and exit")


class _Usage(Exception):
    pass


def load(args, registry):
    """The rule set the options describe; :class:`expert.rules.RuleError` when invalid."""
    from expert.rules import load_rules
    disable = [d.strip() for text in args.disable for d in text.split(",") if d.strip()]
    return load_rules(registry, args.rules, builtin=not args.no_builtin, settings_files=args.settings,
                      sets=args.sets, disable=disable, severities=args.severities)


def main(args, out=None) -> int:
    """Run ``protospec expert`` with parsed arguments; returns the exit status."""
    from decoder.registry import Registry
    from expert.rules import RuleError

    out = out or sys.stdout
    if args.list_fields:
        out.write(fields_text())
        return EXIT_OK
    if args.count is not None and args.count < 0:
        return _usage("-c needs a count of 0 or more")
    reg = Registry.default(extra_dirs=args.specs)
    try:
        rules = load(args, reg)
    except RuleError as e:
        print(f"protospec: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.list_rules:
        out.write(rules_text(rules))
        return EXIT_OK
    if not args.file:
        return _usage("expert needs a capture FILE (or --list-rules / --list-fields)")
    try:
        from expert.radius_check import passwords_from_args, secrets_from_args
        secrets = secrets_from_args(args.radius_secret)
        passwords = passwords_from_args(args.chap_password)
    except ValueError as e:
        return _usage(str(e))
    from decoder.capture import CaptureError
    from expert.engine import Engine
    engine = Engine(rules, reg, radius_secrets=secrets or None, chap_passwords=passwords or None)
    damage = None
    try:
        findings = _run(engine, args)
    except CaptureError as e:
        if not engine.packets:
            raise
        damage = e                  # diagnose every complete packet before the damage
        findings = engine.finish()
    for err in engine.errors:
        print(f"protospec: warning: {err}", file=sys.stderr)
    from expert.rules import severity_rank
    floor = severity_rank(args.min_severity)
    shown = [f for f in findings if severity_rank(f.severity) >= floor]
    if args.format == "json":
        json.dump(json_report(shown, engine, args.file), out, indent=2)
        out.write("\n")
    else:
        out.write(text_report(shown, engine, args.file, args.max_per_rule or None))
    if damage is not None:
        print(f"protospec: {damage}", file=sys.stderr)
        return EXIT_CAPTURE
    if args.fail_on is not None:
        level = severity_rank(args.fail_on)
        if any(severity_rank(f.severity) >= level for f in findings):
            return EXIT_FINDINGS
    return EXIT_OK


def _usage(message) -> int:
    print(f"protospec: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run(engine, args):
    import itertools

    from decoder.capture import open_capture
    with open_capture(args.file) as reader:
        frames = reader if args.count is None else itertools.islice(reader, args.count)
        # a CaptureError mid-capture leaves the engine unfinished (main() finishes it)
        return engine.run_frames(frames)


# -- output ---------------------------------------------------------------------------------------

def conversation_text(conv) -> str:
    if not conv:
        return ""
    proto = conv.get("proto", "")
    head = f"{proto}.stream {conv['stream']}" if "stream" in conv else proto
    if "client" in conv:
        text = f"{head}  {conv['client']} -> {conv['server']}"
        if conv.get("conn_state"):
            text += f"  ({conv['conn_state']})"
        return text
    return f"{head}  {conv.get('src', '?')} -> {conv.get('dst', '?')}"


def _frames(f) -> str:
    from expert.template import frames_text
    text = frames_text(f.frames)
    distinct = len(set(f.frames))
    if f.count > 1 and f.count != distinct:
        text += f"  ({f.count} times)"
    return text


def text_report(findings, engine, name, max_per_rule=None) -> str:
    """Findings grouped by severity, then by rule: the rule's title once, each finding's
    message, frames and conversation, and the cause and action (once for the rule when
    every finding of it has the same)."""
    counts = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = ", ".join(f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}"
                        for s in _MOST_SEVERE_FIRST if s in counts)
    lines = [f"Expert diagnosis of {name}: {engine.packets} packets, "
             f"{len(findings)} finding{'s' if len(findings) != 1 else ''}" + (f" ({summary})" if summary else "")]
    for sev in _MOST_SEVERE_FIRST:
        group = [f for f in findings if f.severity == sev]
        if not group:
            continue
        head = f"{_PLURAL[sev]} ({len(group)})"
        lines += ["", head, "=" * len(head)]
        by_rule: dict = {}
        for f in group:
            by_rule.setdefault(f.id, []).append(f)
        for rid, items in by_rule.items():
            first = items[0]
            n = len(items)
            lines.append("")
            lines.append(f"{rid}  [{first.group}]  {first.title}" + (f"  ({n} findings)" if n > 1 else ""))
            same = all(f.cause_text == first.cause_text and f.action_text == first.action_text for f in items)
            shown = items if max_per_rule is None else items[:max_per_rule]
            for f in shown:
                lines.append(f"  * {f.message}")
                lines.append(f"    Frames:       {_frames(f)}")
                conv = conversation_text(f.conversation)
                if conv:
                    lines.append(f"    Conversation: {conv}")
                if not same:
                    _cause_action(lines, f, "    ")
            if len(shown) < n:
                lines.append(f"  ... and {n - len(shown)} more (all of them with -T json)")
            if same:
                _cause_action(lines, first, "  ")
    if not findings:
        lines.append("No findings.")
    for rid, n in sorted(engine.overflow.items()):
        lines.append(f"({rid}: {n} more findings not listed)")
    inactive = getattr(engine.ruleset, "inactive", {})
    if inactive:
        lines += ["", "Inactive rules: " + "; ".join(f"{rid} ({why})" for rid, why in sorted(inactive.items()))]
    return "\n".join(lines) + "\n"


def _cause_action(lines, f, indent):
    if f.cause:
        lines.append(f"{indent}Cause:        {f.cause_text}")
    if f.action:
        lines.append(f"{indent}Action:       {f.action_text}")


def json_report(findings, engine, name) -> dict:
    counts = {s: 0 for s in _MOST_SEVERE_FIRST}
    for f in findings:
        counts[f.severity] += 1
    return {
        "file": name,
        "packets": engine.packets,
        "counts": counts,
        "findings": [f.as_dict() for f in findings],
        "inactive_rules": dict(sorted(getattr(engine.ruleset, "inactive", {}).items())),
        "stages": sorted(engine.stages),
    }


def rules_text(rules) -> str:
    lines = []
    for rid, rule in rules.all.items():
        state = "disabled" if rid in rules.disabled else f"inactive: {rules.inactive[rid]}" \
            if rid in rules.inactive else "on"
        lines.append(f"{rid:36s} {rule.severity:8s} {rule.group:14s} {rule.scope:12s} {state}")
        lines.append(f"    {rule.title}")
        for p in rule.params.values():
            value = f"{p.value:g} s" if p.kind == "duration" else repr(p.value) if p.kind == "str" else p.value
            lines.append(f"    param {p.name} = {value}    ({p.where})")
        if rule.overrides:
            lines.append("    overrides " + ", ".join(r for r, _ in rule.overrides))
        lines.append(f"    defined at {rule.path}:{rule.line}")
    return "\n".join(lines) + "\n"


def fields_text() -> str:
    from expert import convstats
    from expert.rule_compiler import SEQ_FIELDS
    lines = ["Conversation rules (scope conversation):"]
    for name, (ftype, _, doc, many) in convstats.FIELDS.items():
        lines.append(f"  {name:40s} {ftype:6s}{' list' if many else '     '}  {doc}")
    lines += ["", "Sequence rules ('when' and later steps):"]
    for name, (ftype, _, doc, many) in SEQ_FIELDS.items():
        lines.append(f"  {name:40s} {ftype:6s}{' list' if many else '     '}  {doc}")
    lines += ["", "Packet fields: every decoded field (protospec fields), plus the analysis annotations:"]
    from expert import filters
    for name, ftype in sorted(filters.extra_fields().items()):
        lines.append(f"  {name:40s} {ftype}")
    return "\n".join(lines) + "\n"
