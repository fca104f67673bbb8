"""Differential test of ``protospec decode -T fields`` against ``tshark -T fields``.

Every capture under ../shared/captures (``*.pcap``, ``*.pcapng``, recursively) is printed
by both tools for every field name our registry and ``tshark -G fields`` share (so a new
spec is covered as soon as it lands), and the two outputs are compared line by line,
column by column.  tshark runs once over all captures: ``mergecap -a`` concatenates them
with a marker frame between files, and the output is split at the markers (one tshark
start instead of a hundred).  tshark is told to verify checksums like we do and not to
reassemble IP fragments (``-o ip.defragment:FALSE``), since the plain decoder compared here
takes frames one by one (reassembly has its own tests: ``tests/test_reassembly.py``).

Per field and capture the cells are counted as

* ``agree``: equal text (at least one side non-empty);
* ``differ``: both sides have a value and the text differs;
* ``missing``: tshark has a value, we have none (mostly protocols without a spec yet);
* ``extra``: we have a value, tshark has none.

Asserted:

* the curated fields (the headline IPv4/TCP/UDP/Ethernet set) never *differ* on any
  capture, and are neither *missing* nor *extra* on the curated captures, apart from the
  KNOWN differences (each with its reason; those are reported as xfail while they last);
* for every shared field, wherever both tools agree on the number the text is tshark's
  (``0x0800`` not ``2048``, ``1`` not ``True``): the output formatting is right even where a
  spec still decodes something differently;
* decoder/tshark_bases.py is current (else: ``python tests/tools/gen_tshark_bases.py``).

``python tests/test_fields_vs_tshark.py`` prints the agreement figures per field.
"""
from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from decoder.capture import CaptureError, Frame, open_capture, write_pcap  # noqa: E402
from decoder.fields import FieldsWriter  # noqa: E402
from decoder.packet import Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from tshark_compare import needs_tshark, tshark_fields  # noqa: E402
from support import CORPUS, corpus_captures  # noqa: E402

TSHARK = shutil.which("tshark")
MERGECAP = shutil.which("mergecap")

CURATED_FIELDS = [
    "eth.src", "eth.dst", "eth.type",
    "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.len", "ip.id", "ip.flags", "ip.flags.df",
    "ip.checksum", "ip.hdr_len", "ip.dsfield",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.flags.syn",
    "tcp.flags.ack", "tcp.hdr_len", "tcp.window_size_value", "tcp.checksum", "tcp.options.mss_val",
    "tcp.options.wscale.shift", "tcp.options.sack_le", "tcp.options.sack_re",
    "udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
]

#: captures whose every frame both tools decode through the curated protocols
CURATED_CAPTURES = [
    "chrissanders+packets/tcp_*.pcapng",
    "chrissanders+packets/http_google.pcapng",
    "chrissanders+packets/dns_query_*.pcapng",
    "chrissanders+packets/icmp_echo.pcapng",
    "chrissanders+packets/tickedoffdeveloper.pcapng",
    "the-tcpdump-group+tcpdump/tests/dns_*.pcap",
    "the-tcpdump-group+tcpdump/tests/tcp-handshake-nano.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/TcpPacketWithOptions.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/one_*.pcap",
    "zeek+zeek/testing/btest/Traces/tcp/*.pcap",
    "zeek+zeek/testing/btest/Traces/ftp/ipv4.pcap",
    "ntop+nDPI/tests/cfgs/default/pcap/ftp.pcap",
    "dotpcap+packetnet/Test/CaptureFiles/802.1q_vlan_ipv4_tcp.pcap",
]

#: (field, capture glob) -> why we deliberately or knowingly print something else
KNOWN = {
    ("eth.src.oui_resolved", "*"): "vendor names come from netaddr's IEEE registry copy "
                                   "(\"D-LINK SYSTEMS, INC.\"), tshark's from its own manuf file "
                                   "(\"D-Link Systems, Inc.\", and Xerox's 00:00:00 note)",
    ("eth.dst.oui_resolved", "*"): "same as eth.src.oui_resolved",
    ("ip.version", "*"): "tshark also fills ip.version for IPv6 (value 6); ours is IPv4's field only",
    ("tcp.options.mss_val", "zeek+zeek/testing/btest/Traces/tcp/truncated-header.pcap"):
        "the capture ends inside the TCP options: a truncated layer keeps only its fixed header "
        "(decoder/packet.py Layer._partial_value), tshark decodes the options that were captured",
}

#: capture glob -> why it is not compared (records do not line up)
EXCLUDED = {
    "hadrielk+pcapng-test-generator/output_le/advanced/test102.pcapng":
        "tshark 4.0 lists pcapng Custom Blocks as frames; we skip them (pcapng 4.8)",
    "hadrielk+pcapng-test-generator/output_le/difficult/test202.pcapng":
        "tshark 4.0 lists pcapng Custom Blocks as frames; we skip them (pcapng 4.8)",
}

MARKER_SRC = "02:70:73:70:65:63"      # locally administered; frame between merged captures


def _matches(rel: str, pattern: str) -> bool:
    return fnmatch.fnmatch(rel, pattern)


def _known(field: str, rel: str) -> str | None:
    for (f, pattern), reason in KNOWN.items():
        if f == field and _matches(rel, pattern):
            return reason
    return None


def _captures() -> list[Path]:
    return corpus_captures()


@lru_cache(maxsize=1)
def registry():
    return Registry.default()


def _tshark_options(reg) -> list[str]:
    # we decode frame by frame, and tcp.options.sack_le/re are the raw edges (tshark's
    # default shows them relative to the stream's first sequence number)
    opts = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
            "-o", "tcp.relative_sequence_numbers:FALSE",
            # an IPv4 total length of 0 is printed as sent, not replaced by the frame's
            # length on the guess that it was TCP segmentation offload
            "-o", "ip.tso_support:FALSE"]
    prefs = subprocess.run([TSHARK, "-G", "defaultprefs"], capture_output=True, text=True).stdout
    for line in prefs.splitlines():
        m = re.match(r"#?([\w.]+)\.check_checksum:", line)
        if m and m.group(1) in reg.protocols:
            opts += ["-o", f"{m.group(1)}.check_checksum:TRUE"]
    return opts


def _tshark_lines(files, fields, opts, tmp: Path) -> list[list[str]]:
    """tshark's lines per capture: one run over all files concatenated with marker frames."""
    cmd_fields = [x for name in fields for x in ("-e", name)]
    if MERGECAP and fields[0] == "eth.src":
        marker = tmp / "marker.pcap"
        frame = bytes.fromhex("ffffffffffff" + MARKER_SRC.replace(":", "") + "88b5") + bytes(46)
        write_pcap(str(marker), [Frame(frame, 1, 0, len(frame))])
        merged = tmp / "all.pcapng"
        args = []
        for f in files:
            args += [str(f), str(marker)]
        r = subprocess.run([MERGECAP, "-a", "-I", "none", "-F", "pcapng", "-w", str(merged), *args],
                           capture_output=True, text=True)
        if r.returncode == 0:
            out = subprocess.run([TSHARK, "-r", str(merged), "-T", "fields", *opts, *cmd_fields],
                                 capture_output=True, text=True).stdout
            per_file, cur = [], []
            for line in out.splitlines():
                if line.split("\t", 1)[0] == MARKER_SRC:
                    per_file.append(cur)
                    cur = []
                else:
                    cur.append(line)
            if len(per_file) == len(files):
                return per_file

    def one(f):
        return subprocess.run([TSHARK, "-r", str(f), "-T", "fields", *opts, *cmd_fields],
                              capture_output=True, text=True).stdout.splitlines()
    with ThreadPoolExecutor(4) as ex:
        return list(ex.map(one, files))


def _our_lines(path: Path, writer, decoder) -> list[str]:
    chunks = []
    try:
        with open_capture(str(path)) as reader:
            writer.run(iter(reader), chunks.append, decoder)
    except CaptureError:
        pass                       # tshark too prints the frames before the damage
    return "".join(chunks).splitlines()


class Result:
    def __init__(self, fields):
        self.fields = fields
        self.cells = defaultdict(Counter)                 # (field, rel) -> Counter
        self.examples = defaultdict(list)                 # (field, rel, kind) -> [(frame, ours, theirs)]
        self.format_issues = defaultdict(list)            # field -> ["rel#frame: ours=.. tshark=.."]
        self.excluded = {}                                # rel -> reason / line counts
        self.line_counts = {}

    def add(self, rel, ours, theirs):
        self.line_counts[rel] = (len(ours), len(theirs))
        n = len(self.fields)
        for i, (a, b) in enumerate(zip(ours, theirs), 1):
            ca, cb = a.split("\t"), b.split("\t")
            ca += [""] * (n - len(ca))
            cb += [""] * (n - len(cb))
            for j, field in enumerate(self.fields):
                x, y = ca[j], cb[j]
                if not x and not y:
                    continue
                kind = "agree" if x == y else "differ" if x and y else "missing" if y else "extra"
                self.cells[(field, rel)][kind] += 1
                if kind != "agree":
                    ex = self.examples[(field, rel, kind)]
                    if len(ex) < 3:
                        ex.append((i, x, y))
                    if kind == "differ" and same_value_other_text(x, y):
                        self.format_issues[field].append(f"{rel}#{i}: ours={x!r} tshark={y!r}")

    def totals(self, field, rels=None) -> Counter:
        total = Counter()
        for (f, rel), c in self.cells.items():
            if f == field and (rels is None or rel in rels):
                total.update(c)
        return total

    def problems(self, field, kinds, rels=None):
        """``[(rel, kind, count, examples)]`` of cells of these kinds, known ones excluded."""
        out = []
        for (f, rel), c in sorted(self.cells.items()):
            if f != field or (rels is not None and rel not in rels) or _known(field, rel):
                continue
            for kind in kinds:
                if c[kind]:
                    out.append((rel, kind, c[kind], self.examples[(field, rel, kind)]))
        return out


@lru_cache(maxsize=1)
def result() -> Result:
    reg = registry()
    known = tshark_fields()
    shared = sorted(set(reg.fields) & set(known))
    fields = ["eth.src"] + [f for f in shared if f != "eth.src"] if "eth.src" in shared else shared
    files = _captures()
    res = Result(fields)
    with tempfile.TemporaryDirectory() as tmp:
        theirs = _tshark_lines(files, fields, _tshark_options(reg), Path(tmp))
    writer = FieldsWriter(reg, fields)
    decoder = Decoder(reg)
    for path, their_lines in zip(files, theirs):
        rel = path.relative_to(CORPUS).as_posix()
        ours = _our_lines(path, writer, decoder)
        reason = next((r for pat, r in EXCLUDED.items() if _matches(rel, pat)), None)
        if reason or len(ours) != len(their_lines):
            res.excluded[rel] = reason or f"record counts differ: ours {len(ours)}, tshark {len(their_lines)}"
            res.line_counts[rel] = (len(ours), len(their_lines))
            continue
        res.add(rel, ours, their_lines)
    return res


def curated_rels(res) -> set[str]:
    return {rel for rel in res.line_counts if any(_matches(rel, p) for p in CURATED_CAPTURES)}


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} not present")
pytestmark = [needs_tshark, needs_corpus]


def _describe(problems) -> str:
    lines = []
    for rel, kind, count, examples in problems[:12]:
        ex = "; ".join(f"#{i}: ours={x!r} tshark={y!r}" for i, x, y in examples)
        lines.append(f"  {rel}: {count} {kind} ({ex})")
    return "\n".join(lines)


def _prints_the_same(reg, name, ours, want) -> bool:
    if ours == want or (ours == "?" and want in ("s", "4", "6", "e", "d", "B", "b")):
        return True     # "?" prints str(): text as is, ints in decimal, bytes in hex, bools 1/0
    proto, rel = reg.resolve(name)
    bit = proto.field_nodes.get(rel, (None, None))[1]
    return {ours, want} == {"d", "b"} and bit is not None and bit.width == 1


def test_bases_file_is_current():
    """Every field tshark knows prints with tshark's declared type and base: from
    decoder/tshark_bases.py, or (a field added since it was generated) from the rule on
    the spec, when that rule gives the same text."""
    from decoder.fieldfmt import code_for, tshark_code
    reg = registry()
    known = tshark_fields()
    stale = {}
    for name in reg.fields:
        if name in known:
            proto, rel = reg.resolve(name)
            ours, want = code_for(proto, rel, name), tshark_code(*known[name], name)
            if not _prints_the_same(reg, name, ours, want):
                stale[name] = (ours, want)
    assert not stale, (f"{len(stale)} fields would not print like tshark (ours, tshark's): "
                       f"{sorted(stale.items())[:6]}: run python tests/tools/gen_tshark_bases.py")


def test_excluded_captures_are_the_expected_ones():
    """Only the listed captures (with a reason) may fall out of the line-by-line comparison."""
    res = result()
    unexpected = {rel: why for rel, why in res.excluded.items()
                  if not any(_matches(rel, p) for p in EXCLUDED)}
    assert not unexpected, f"captures whose records do not line up with tshark's: {unexpected}"


def test_curated_captures_exist():
    res = result()
    missing = [p for p in CURATED_CAPTURES if not any(_matches(rel, p) for rel in res.line_counts)]
    assert not missing, f"curated capture patterns match nothing: {missing}"


@pytest.mark.parametrize("field", CURATED_FIELDS)
def test_curated_field_agrees(field):
    res = result()
    if field not in res.fields:
        pytest.skip(f"{field}: no spec provides it (or tshark does not know it)")
    bad = res.problems(field, ("differ",))
    bad += res.problems(field, ("missing", "extra"), curated_rels(res))
    assert not bad, f"{field} disagrees with tshark:\n{_describe(bad)}"
    total = res.totals(field)
    assert total["agree"] > 0 or field.startswith(("tcp.options.sack", "tcp.options.wscale")), \
        f"{field}: never seen in the corpus"


@pytest.mark.parametrize("key", sorted(KNOWN), ids=lambda k: f"{k[0]}@{k[1]}")
def test_known_difference(key):
    """Deliberate or known differences: xfail while they show, pass once they are gone."""
    field, pattern = key
    res = result()
    seen = [(rel, c) for (f, rel), c in res.cells.items()
            if f == field and _matches(rel, pattern) and (c["differ"] or c["missing"] or c["extra"])]
    if seen:
        pytest.xfail(f"{KNOWN[key]} ({len(seen)} captures)")


_NUM = re.compile(r"^(0x[0-9a-f]+|-?\d+)$")


def _number(text: str):
    if text in ("True", "False"):
        return int(text == "True")
    if _NUM.match(text):
        return int(text, 0) if text.startswith("0x") else int(text)
    return None


_SEPARATORS = re.compile(r"[:.\-\s]")


def same_value_other_text(x: str, y: str) -> bool:
    """Whether two different texts are one value printed two ways: the same numbers
    (``2048``/``0x0800``, ``True``/``1``), the same octets (``c801``/``c8:01``), or the same
    string up to NUL padding."""
    xs, ys = x.split(","), y.split(",")
    if len(xs) == len(ys) and all(_number(a) is not None and _number(a) == _number(b)
                                  for a, b in zip(xs, ys)):
        return True
    if _SEPARATORS.sub("", x) == _SEPARATORS.sub("", y) and re.fullmatch(r"[0-9a-f]+", _SEPARATORS.sub("", x)):
        return True
    return x.rstrip("\x00") == y.rstrip("\x00")


def test_formatting_follows_tshark_for_every_field():
    """Where our value and tshark's are the same value, the text must be tshark's too."""
    wrong = result().format_issues
    assert not wrong, "formatting differs from tshark's:\n" + "\n".join(
        f"  {f}: {v[0]}" for f, v in sorted(wrong.items()))


def report(res=None) -> str:
    res = res or result()
    lines = [f"{'field':40} {'agree':>7} {'differ':>7} {'missing':>8} {'extra':>6}  rate"]
    all_agree = all_cells = 0
    for field in res.fields:
        t = res.totals(field)
        cells = sum(t.values())
        if not cells:
            continue
        compared = t["agree"] + t["differ"]
        rate = f"{100 * t['agree'] / compared:6.2f}%" if compared else "   n/a"
        note = " (known)" if any(f == field for f, _ in KNOWN) else ""
        lines.append(f"{field:40} {t['agree']:7} {t['differ']:7} {t['missing']:8} {t['extra']:6} {rate}{note}")
        all_agree += t["agree"]
        all_cells += compared
    lines.append(f"overall: {all_agree}/{all_cells} cells where both have a value agree "
                 f"({100 * all_agree / max(all_cells, 1):.2f}%), {len(res.fields)} shared fields, "
                 f"{len(res.line_counts) - len(res.excluded)} captures compared, {len(res.excluded)} excluded")
    for rel, why in sorted(res.excluded.items()):
        lines.append(f"excluded {rel}: {why}")
    return "\n".join(lines)


def test_report():
    """Print the agreement table (shown with ``-s``, or run this file as a script)."""
    text = report()
    print(text)
    assert "overall:" in text


if __name__ == "__main__":
    if TSHARK is None or not CORPUS.is_dir():
        sys.exit("needs tshark and ../shared/captures")
    res = result()
    print(report(res))
    if "-v" in sys.argv:
        for field in res.fields:
            for rel, kind, count, examples in res.problems(field, ("differ", "missing", "extra")):
                ex = "; ".join(f"#{i}: ours={x!r} tshark={y!r}" for i, x, y in examples)
                print(f"{field} {rel}: {count} {kind} ({ex})")
