"""docs/troubleshooting.rst stays true: build each walk-through's capture the way the page
says, run the page's ``protospec`` commands through decoder.cli.main and check that the
key lines pasted on the page (the diagnosis lines, one decode/fields line) are printed."""
from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from decoder import cli  # noqa: E402

PAGE = (ROOT / "docs" / "troubleshooting.rst").read_text()

# walk-through -> (files the page builds, {command on the page: key lines of its output})
WALKS = {
    "ftp_passive_nat": {
        "protospec decode ftp_passive_nat.pcap -Y 'ftp.response.code == 227' -T fields -e frame.number "
        "-e ftp.response.code -e ftp.passive.ip -e ftp.passive.port -e ip.src": ["6\t227\t192.0.2.65\t50000\t192.0.2.2"],
        "protospec expert ftp_passive_nat.pcap": [
            "  * 192.0.2.10 could not open the FTP data connection to 192.0.2.65:50000 advertised by 192.0.2.2 "
            "in its 227 reply (frame 6)",
            "  * FTP server advertises 192.0.2.65 in its 227 reply but lives at 192.0.2.2 (port 50000, to 192.0.2.10)"],
    },
    "parameter_problem": {
        "protospec decode param_problem.pcap": [
            "    4   1.010000 198.51.100.20 → 192.0.2.10   ICMP 70 Parameter problem (Pointer indicates the error)"],
        "protospec decode param_problem.pcap -Y 'ip.checksum.status == 0 or icmp.type == 12' -T fields "
        "-e frame.number -e ip.src -e ip.checksum -e ip.checksum.status -e icmp.pointer": [
            "4\t198.51.100.20,192.0.2.10\t0x8e6c,0xffff\t1,0\t10"],
        "protospec expert param_problem.pcap": [
            "  * ICMP Parameter Problem pointer 10 = Header checksum (ip.checksum): 192.0.2.10 sent checksum 0xffff "
            "(correct: 0x4c33) in frame 3, and 198.51.100.20 broke RFC 1122 by answering it in frame 4"],
    },
    "syn_vs_rst": {
        "protospec decode tests/captures/sample.pcap -Y 'tcp.port in {8081, 23}' -T fields -e frame.number "
        "-e frame.time_relative -e tcp.dstport -e tcp.flags -e tcp.analysis.retransmission": [
            "15\t4.000000000\t8081\t0x0002\t1", "17\t4.520000000\t40002\t0x0014\t"],
        "protospec expert tests/captures/sample.pcap": [
            "  * SYN sent 3 times, no answer: port 8081 filtered. 192.0.2.100:40001 -> 198.51.100.10:8081 over 3.0 s, "
            "while 198.51.100.10 answers on port 23, 80",
            "  * 198.51.100.10 refused connections from 192.0.2.100 to port 23: SYN answered by RST"],
    },
    "retransmission_and_windows": {
        "protospec decode rto.pcap -Y 'tcp.len > 0' -T fields -e frame.number -e frame.time_delta_displayed "
        "-e tcp.seq -e tcp.len -e tcp.analysis.retransmission": ["8\t1.600000000\t1\t200\t1"],
        "protospec expert rto.pcap": [
            "  * 192.0.2.10 sent the same segment (seq 1, 200 octets) 5 times, gaps 0.2, 0.4, 0.8, 1.6 s: "
            "the timeout grew each time (RTO back-off), outcome: acked"],
        "protospec decode zero_window.pcap -Y 'tcp.analysis.zero_window or tcp.analysis.window_update' -T fields "
        "-e frame.number -e frame.time_relative -e ip.src -e tcp.window_size": ["8\t3.610000000\t192.0.2.10\t64256"],
        "protospec expert zero_window.pcap": [
            "  * 192.0.2.10 kept its receive window closed for 3.5 s and then reopened "
            "(conversation 192.0.2.10:40014 -> 198.51.100.20:80)",
            "  * 192.0.2.10:40014 advertised a zero receive window to 198.51.100.20:80 1 time(s)"],
    },
    "pppoe_radius": {
        "protospec decode ppp.pcap -Y 'pppoed or chap' -T fields -e frame.number -e pppoed.code "
        "-e pppoe.session_id -e chap.code -e chap.message": ["5\t\t0x0013\t4\tAuthentication failed"],
        "protospec expert ppp.pcap": [
            "  * CHAP authentication of user bob failed: Authentication failed",
            "  * 02:00:00:00:00:01 broadcast a PADI (service internet) and no access concentrator offered a session",
            "  * 02:00:00:00:00:ac terminated PPPoE session 17 to 02:00:00:00:00:01: RADIUS server timeout"],
        "protospec decode radius.pcap -Y 'radius.code == 3' -T fields -e frame.number -e radius.code "
        "-e radius.id -e radius.Reply_Message": ["2\t3\t7\tWrong password"],
        "protospec expert radius.pcap --min-severity warning": [
            "  * RADIUS server 198.51.100.12 rejected user alice from NAS 192.0.2.30: Wrong password"],
    },
}

BUILD = re.compile(r'^   python -c "(from tests\.captures\.expert_cases import [^"]*)"$', re.M)


def _page_output(command):
    """The lines the page shows under ``$ command`` in its console block."""
    lines = PAGE.splitlines()
    start = lines.index("   $ " + command)
    out = []
    for line in lines[start + 1:]:
        if line.startswith("   $ ") or (line and not line.startswith("   ")):
            break
        out.append(line[3:])
    return out


def _run(command, capsys):
    argv = shlex.split(command)
    assert argv[0] == "protospec"
    try:
        rc = cli.main(argv[1:])
    except SystemExit as e:           # main may exit rather than return
        rc = e.code
    assert rc in (0, None), (command, rc)
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Run the page's capture-building snippets in a temporary directory, as a reader would
    from the repository root (sample.pcap is linked in at its repository path)."""
    d = tmp_path_factory.mktemp("walkthroughs")
    (d / "tests" / "captures").mkdir(parents=True)
    (d / "tests" / "captures" / "sample.pcap").symlink_to(ROOT / "tests" / "captures" / "sample.pcap")
    cwd = os.getcwd()
    os.chdir(d)
    try:
        for snippet in BUILD.findall(PAGE):
            exec(snippet, {})
    finally:
        os.chdir(cwd)
    return d


def test_page_builds_every_capture_it_uses(workdir):
    assert len(BUILD.findall(PAGE)) == 4
    for name in ("ftp_passive_nat", "param_problem", "rto", "zero_window", "ppp", "radius"):
        assert (workdir / f"{name}.pcap").stat().st_size > 0


@pytest.mark.parametrize("walk", list(WALKS))
def test_walkthrough(walk, workdir, capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    for command, keys in WALKS[walk].items():
        shown = _page_output(command)         # the command is on the page ...
        out = _run(command, capsys)
        printed = out.splitlines()
        for key in keys:                      # ... the key lines are on the page and printed
            assert key in shown, (command, key)
            assert key in printed, (command, key, out)
        # and every line pasted on the page (apart from the '...' of an excerpt) is printed
        for line in shown:
            if line.strip() and line.strip() != "...":
                assert line in printed, (command, line)


def test_every_command_on_the_page_prints_what_is_pasted(workdir, capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    commands = re.findall(r"^   \$ (protospec .*)$", PAGE, re.M)
    assert len(commands) == 19
    for command in commands:
        printed = _run(command, capsys).splitlines()
        for line in _page_output(command):
            if line.strip() and line.strip() != "...":
                assert line in printed, (command, line)
