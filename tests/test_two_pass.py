"""``protospec decode -2``: the links to later frames (``dns.response_in`` on a query,
``icmp.no_resp`` on an unanswered echo request) learnt in a first pass, as tshark's ``-2``.

On the project's sample capture the links are checked by value.  Against ``tshark -2`` on
every public capture: each tool's forward links are the exact inverse of its backward ones
(``dns.response_in`` of a query = the frame whose ``dns.response_to`` names it), and our
forward links differ from tshark's exactly where the backward ones do.  The backward
differences are those documented by the single-pass pairing tests (no TCP reassembly:
an HTTP response is paired at its first segment, DNS over TCP split across segments is
not paired; a truncated echo header is).
The fuzzed nDPI capture is counted, not asserted: tshark's own links there are not each
other's inverse.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import corpus_captures, run
from tshark_compare import TSHARK, needs_tshark

SAMPLE = Path(__file__).resolve().parent / "captures" / "sample.pcap"
PAIRS = (("dns.response_in", "dns.response_to"), ("icmp.resp_in", "icmp.resp_to"),
         ("icmpv6.resp_in", "icmpv6.resp_to"), ("http.response_in", "http.request_in"),
         ("radius.rspframe", "radius.reqframe"))
NO_RESP = ("icmp.no_resp", "icmpv6.no_resp")
FIELDS = [f for pair in PAIRS for f in pair] + list(NO_RESP)


def _args(path):
    args = ["-T", "fields", "-E", "occurrence=a", "-e", "frame.number"]
    for f in FIELDS:
        args += ["-e", f]
    return args


def _rows(text) -> dict[int, dict[str, list[str]]]:
    rows = {}
    for line in text.splitlines():
        cells = line.split("\t")
        rows[int(cells[0])] = {f: [v for v in c.split(",") if v] for f, c in zip(FIELDS, cells[1:])}
    return rows


def _links(rows):
    """Per pair kind: (request, response) pairs from the forward field and from the
    backward one; the frames marked unanswered."""
    fwd, back = {}, {}
    for n, row in rows.items():
        for f_in, f_to in PAIRS:
            fwd.setdefault(f_in, set()).update((n, int(v)) for v in row[f_in])
            back.setdefault(f_in, set()).update((int(v), n) for v in row[f_to])
    no_resp = {n for n, row in rows.items() if any(row[f] for f in NO_RESP)}
    return fwd, back, no_resp


def test_sample_capture_links(capsys):
    code, out, _ = run(["decode", "-2", str(SAMPLE), *_args(SAMPLE)], capsys)
    assert code == 0
    rows = _rows(out)
    assert rows[3]["dns.response_in"] == ["4"] and rows[4]["dns.response_to"] == ["3"]
    assert rows[8]["http.response_in"] == ["9"]
    assert rows[22]["icmp.resp_in"] == ["23"]
    assert rows[26]["icmp.no_resp"] == ["1"] and not rows[22]["icmp.no_resp"]
    # one pass, as tshark without -2: no forward links
    _, out, _ = run(["decode", str(SAMPLE), *_args(SAMPLE)], capsys)
    assert not any(row[f] for row in _rows(out).values() for f in ("dns.response_in", "icmp.resp_in",
                                                                    "icmp.no_resp", "http.response_in"))
    # the classic filter for unanswered queries and pings
    _, out, _ = run(["decode", "-2", str(SAMPLE), "-Y", "(dns && !dns.flags.response && !dns.response_in) "
                     "|| icmp.no_resp", "-T", "fields", "-e", "frame.number"], capsys)
    assert out.split() == ["26"]


def test_echo_notes_in_the_info_column(capsys):
    """As tshark: a reply names its request in one pass; with -2 a request names its
    reply, or says none came."""
    _, out, _ = run(["decode", str(SAMPLE), "-Y", "icmp.type in {0, 8}"], capsys)
    assert [line.split("ttl=64")[1] for line in out.splitlines()] == ["", " (request in 22)", ""]
    _, out, _ = run(["decode", "-2", str(SAMPLE), "-Y", "icmp.type in {0, 8}"], capsys)
    assert [line.split("ttl=64")[1] for line in out.splitlines()] == [
        " (reply in 23)", " (request in 22)", " (no response found!)"]
    _, out, _ = run(["decode", str(SAMPLE), "-T", "fields", "-e", "_ws.col.Info", "-Y", "icmp.type == 0"], capsys)
    assert out.endswith("ttl=64 (request in 22)\n")


def test_two_pass_needs_a_file(capsys):
    code, _, err = run(["decode", "-2", "-"], capsys)
    assert code == 2 and "-2 reads the capture twice" in err


def test_broken_capture_reported_once_after_its_packets(tmp_path, capsys):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(SAMPLE.read_bytes()[:2000])          # ends inside record 23
    code, out, err = run(["decode", "-2", str(cut)], capsys)
    assert code == 1 and err.count("capture cut short") == 1
    assert len(out.splitlines()) == 22 and out.splitlines()[-1].endswith("(no response found!)")


def test_count_limits_both_passes(capsys):
    """With -c 3 (as tshark) the first pass stops where the second does: the query in
    frame 3 has no link to its answer in frame 4."""
    _, out, _ = run(["decode", "-2", "-c", "3", str(SAMPLE), *_args(SAMPLE)], capsys)
    assert sorted(_rows(out)) == [1, 2, 3] and _rows(out)[3]["dns.response_in"] == []


CAPTURES = corpus_captures()


@needs_tshark
@pytest.mark.skipif(not CAPTURES, reason="no public captures (../shared/captures)")
def test_forward_links_vs_tshark_two_pass(capsys):
    figures = {False: [0, 0], True: [0, 0]}      # fuzzed? -> [agree, total]
    for path in CAPTURES:
        out = subprocess.run([TSHARK, "-2", "-n", "-r", str(path), *_args(path)], capture_output=True,
                             text=True, timeout=300).stdout
        theirs = _links(_rows(out))
        code, out, _ = run(["decode", "-2", str(path), *_args(path)], capsys)
        ours = _links(_rows(out))
        where = path.name
        counts = figures[where.startswith("fuzz-")]
        for got, want in [(ours[0][f], theirs[0][f]) for f in ours[0]] + [(ours[2], theirs[2])]:
            counts[0] += len(got & want)
            counts[1] += len(got | want)
        for f in ours[0]:                   # ours: the forward links invert the backward ones
            assert ours[0][f] == ours[1][f], (where, f)
        if where.startswith("fuzz-"):
            continue                        # the fuzzed capture's figures are counted only
        moved = set()
        for f in ours[0]:
            assert theirs[0][f] == theirs[1][f], (where, f)
            assert ours[0][f] ^ theirs[0][f] == ours[1][f] ^ theirs[1][f], (where, f)
            moved |= {n for pair in ours[0][f] ^ theirs[0][f] for n in pair}
        # an echo request is unanswered for both, except where the pairing differs
        assert ours[2] ^ theirs[2] <= moved, (where, sorted(ours[2] ^ theirs[2]))
    (agree, total), (fuzz_agree, fuzz_total) = figures[False], figures[True]
    print(f"forward links agreeing with tshark -2: {agree} of {total}; fuzzed capture {fuzz_agree} of {fuzz_total}")
    assert total and agree / total > 0.75
