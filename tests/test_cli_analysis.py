"""`protospec decode` runs the TCP analysis and pairing stages when fields or filters need them."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import run

SAMPLE = Path(__file__).resolve().parent / "captures" / "sample.pcap"


def test_analysis_fields_in_fields_output(capsys):
    code, out, _ = run(["decode", str(SAMPLE), "-T", "fields", "-e", "frame.number", "-e", "tcp.stream",
                        "-e", "tcp.analysis.retransmission", "-e", "tcp.analysis.rto"], capsys)
    rows = {int(r.split("\t")[0]): r.split("\t")[1:] for r in out.splitlines()}
    assert code == 0
    assert rows[13] == ["1", "", ""]
    assert rows[14] == ["1", "1", "1.000000000"] and rows[15] == ["1", "1", "3.000000000"]


def test_filter_on_analysis_and_pairing_fields(capsys):
    _, out, _ = run(["decode", str(SAMPLE), "-Y", "tcp.analysis.retransmission",
                     "-T", "fields", "-e", "frame.number"], capsys)
    assert out.split() == ["14", "15"]
    _, out, _ = run(["decode", str(SAMPLE), "-Y", "dns.time", "-T", "fields", "-e", "frame.number",
                     "-e", "dns.time"], capsys)
    assert out == "4\t0.020000000\n"


def test_info_column_names_the_analysis(capsys):
    _, out, _ = run(["decode", str(SAMPLE)], capsys)
    line = out.splitlines()[13]
    assert line.split()[0] == "14" and "[TCP Retransmission] 40001 → 8081 [SYN]" in line


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_analysis_columns_match_tshark():
    fields = ["frame.number", "tcp.stream", "tcp.seq", "tcp.ack", "tcp.len",
              "tcp.analysis.retransmission", "tcp.analysis.rto"]
    argv = [a for f in fields for a in ("-e", f)]
    ours = subprocess.run([sys.executable, "-m", "decoder.cli", "decode", str(SAMPLE), "-T", "fields", *argv],
                          capture_output=True, text=True, check=True).stdout
    theirs = subprocess.run(["tshark", "-r", str(SAMPLE), "-T", "fields", *argv],
                            capture_output=True, text=True, check=True).stdout
    assert ours == theirs
