"""The ``protospec`` command line: every option, output format and error path.

Captures are built in tmp_path from scapy frames with decoder.capture.write_pcap (or a
hand-made pcapng for per-packet comments).  Most tests call ``decoder.cli.main(argv)``
in-process; stdin, gzip through a pipe and ``| head`` run the real command
(``python -m decoder.cli``).
"""
from __future__ import annotations

import functools
import gzip
import io
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

scapy = pytest.importorskip("scapy.all")
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw  # noqa: E402

from decoder import cli  # noqa: E402
from decoder.capture import Frame, write_pcap  # noqa: E402
from decoder.fields import FieldsWriter  # noqa: E402
from decoder.packet import Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from support import CORPUS, corpus_captures, run  # noqa: E402

T0 = 1_700_000_000_123_456_789
MAC_A, MAC_B = "00:21:6a:5b:7d:4a", "00:05:5d:21:99:4c"      # Intel, D-Link


def _eth():
    return Ether(src=MAC_A, dst=MAC_B)


def frames_basic():
    syn = bytes(_eth() / IP(src="192.0.2.1", dst="198.51.100.2", flags="DF", id=0x317F, ttl=64)
                / TCP(sport=2826, dport=80, flags="S", seq=1000,
                      options=[("MSS", 1460), ("NOP", None), ("WScale", 2), ("SAckOK", b"")]))
    synack = bytes(Ether(src=MAC_B, dst=MAC_A) / IP(src="198.51.100.2", dst="192.0.2.1", ttl=57)
                   / TCP(sport=80, dport=2826, flags="SA", seq=5000, ack=1001,
                         options=[("SAck", (100, 200, 300, 400))]))
    udp = bytes(_eth() / IP(src="192.0.2.1", dst="198.51.100.53") / UDP(sport=40001, dport=40404) / Raw(b"hello"))
    small = bytes(_eth() / IP(src="192.0.2.1", dst="198.51.100.2") / UDP(sport=1, dport=2) / Raw(b"x"))
    small += b"\0" * (60 - len(small))                              # Ethernet padding -> trailer
    bad = bytearray(bytes(_eth() / IP(src="192.0.2.9", dst="198.51.100.2") / UDP(sport=7, dport=9)))
    bad[24:26] = b"\x12\x34"                                         # wrong IPv4 header checksum
    quoted = bytes(Ether(src=MAC_B, dst=MAC_A) / IP(src="198.51.100.1", dst="192.0.2.1")
                   / ICMP(type=3, code=3) / IP(src="192.0.2.1", dst="198.51.100.53")
                   / UDP(sport=40001, dport=40404))[:14 + 20 + 8 + 20 + 8]
    out = [syn, synack, udp, small, bytes(bad), quoted]
    return [Frame(data, 1, T0 + i * 1_500_000, len(data)) for i, data in enumerate(out)]


def frame_truncated():
    data = bytes(_eth() / IP(src="192.0.2.1", dst="198.51.100.2") / TCP(sport=1, dport=2, flags="A"))
    return Frame(data[:44], 1, T0 + 10_000_000_000, len(data))      # cut inside the TCP header


def frame_malformed():
    data = bytearray(bytes(_eth() / IP(src="192.0.2.1", dst="198.51.100.2") / UDP(sport=1, dport=2)))
    data[14] = 0x43                                                  # IHL 3: shorter than 20 octets
    return Frame(bytes(data), 1, T0 + 11_000_000_000, len(data))


@pytest.fixture(scope="module")
def capfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "basic.pcap"
    write_pcap(str(path), frames_basic(), nanosecond=True)
    return path


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "damaged.pcap"
    write_pcap(str(path), [frames_basic()[0], frame_truncated(), frame_malformed()])
    return path


def run_process(args, stdin=None):
    return subprocess.run([sys.executable, "-m", "decoder.cli", *args], input=stdin, cwd=ROOT,
                          capture_output=True, timeout=120)


# -- the packet list ---------------------------------------------------------------------

def test_summary_lines(capfile, capsys):
    code, out, err = run(["decode", str(capfile)], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 6
    assert lines[0] == ("    1   0.000000    192.0.2.1 → 198.51.100.2 TCP 66 "
                        "2826 → 80 [SYN] Seq=0 Win=8192 Len=0 MSS=1460 WS=4 SACK_PERM")
    assert lines[1].startswith("    2   0.001500 198.51.100.2 → 192.0.2.1    TCP ")
    assert " UDP " in lines[2] and "40001 → 40404" in lines[2]
    assert lines[3].split()[6] == "60"                            # Length is the frame's orig_len


def test_summary_quoted_datagram_speaks_as_icmp(capfile, capsys):
    code, out, _ = run(["decode", str(capfile)], capsys)
    last = out.splitlines()[5]
    # Source/Destination from the outer IP, Protocol and Info from ICMP, not the quoted UDP
    assert "198.51.100.1 → 192.0.2.1" in last
    assert " ICMP " in last and "[Truncated]" not in last and "[Malformed" not in last


def test_summary_marks_truncated_and_malformed(damaged, capsys):
    code, out, err = run(["decode", str(damaged)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].endswith("[Truncated]")
    assert "[Malformed: ip:" in lines[2]


def test_line_buffered_output_is_the_same(capfile, capsys):
    for mode in ([], ["-e", "ip.src"], ["-T", "jsonl"]):
        _, batched, _ = run(["decode", str(capfile), *mode], capsys)
        _, flushed, _ = run(["decode", str(capfile), "-l", *mode], capsys)
        assert flushed == batched


def test_count_option(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-c", "2"], capsys)
    assert len(out.splitlines()) == 2
    _, out, _ = run(["decode", str(capfile), "-c", "0"], capsys)
    assert out == ""


# -- the detail tree and the hex dump -----------------------------------------------------------

def test_detail_tree(capfile, capsys):
    code, out, _ = run(["decode", str(capfile), "-V", "-c", "1"], capsys)
    assert code == 0
    assert out.startswith("Frame 1: 66 bytes on wire (528 bits), 66 bytes captured (528 bits) on interface 0\n")
    assert "    Arrival Time: 2023-11-14 22:13:20.123456789 UTC\n" in out
    assert "    Protocols in frame: eth:ethertype:ip:tcp  [frame.protocols]\n" in out
    assert f"Ethernet II, Src: {MAC_A}, Dst: {MAC_B}\n" in out
    assert "Vendor of the source address: Intel Corporate  [eth.src.oui_resolved]" in out
    assert "    EtherType: IPv4 (0x0800)  [eth.type @12+2]\n" in out
    assert "Internet Protocol Version 4, Src: 192.0.2.1, Dst: 198.51.100.2\n" in out
    assert "    0100 .... = Version: 4  [ip.version @14+1]\n" in out
    assert "    .... 0101 = Header length in octets: 20 (5)  [ip.hdr_len @14+1]\n" in out
    assert "    Identification: 0x317f  [ip.id @18+2]\n" in out
    assert "    010. .... .... .... = Flags: 0x02  [ip.flags @20+2]\n" in out
    assert "        .1.. .... .... .... = Don't fragment: Set  [ip.flags.df @20+2]\n" in out
    assert "    Time to live: 64  [ip.ttl @22+1]\n" in out
    assert "    Protocol of the payload: TCP (6)  [ip.proto @23+1]\n" in out
    assert "[good]  [ip.checksum @24+2]" in out
    assert "        .... .... .... ..1. = Synchronize sequence numbers: Set  [tcp.flags.syn @46+2]\n" in out
    assert "    Options (12 bytes)  [@54+12]\n" in out
    assert "        Option: MSS (2), 4 bytes  [@54+4]\n" in out
    assert "            Maximum segment size: 1460  [tcp.options.mss_val @56+2]\n" in out


def test_detail_tree_bad_checksum_data_and_trailer(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-V"], capsys)
    packets = out.split("\n\n")
    assert "Data (5 bytes)  [data @42+5]\n    68656c6c6f (5 bytes)" in packets[2]
    assert "Trailer/padding (17 bytes)  [@43+17]" in packets[3]
    assert "Header checksum: 0x1234 [bad, should be 0x" in packets[4]
    assert "Internet Protocol Version 4, Src: 192.0.2.1, Dst: 198.51.100.53 (quoted)" in packets[5]


def test_detail_tree_damaged_layers(damaged, capsys):
    _, out, _ = run(["decode", str(damaged), "-V"], capsys)
    packets = out.split("\n\n")
    assert "    [Truncated: tcp:" in packets[1]
    assert "Source port: 1  [tcp.srcport @34+2]" in packets[1]      # the partial fields still show
    assert "    [Malformed: ip:" in packets[2]


def test_hex_dump_after_summary(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-x", "-c", "1"], capsys)
    lines = out.splitlines()
    assert lines[0].startswith("    1 ")
    assert lines[1] == "0000  00 05 5d 21 99 4c 00 21 6a 5b 7d 4a 08 00 45 00   ..]!.L.!j[}J..E."
    assert lines[5] == "0040  00 00" + " " * 42 + "   .."   # short last line, aligned like tshark's
    assert lines[6] == ""


def test_hex_dump_after_tree(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-V", "-x", "-c", "1"], capsys)
    assert "\n0000  00 05 5d 21 99 4c 00 21 6a 5b 7d 4a 08 00 45 00   ..]!.L.!j[}J..E.\n" in out
    assert out.index("Transmission Control Protocol") < out.index("\n0000  ")
    assert out.endswith("\n\n")


# -- JSON ---------------------------------------------------------------------------------

def test_json_array(capfile, capsys):
    code, out, _ = run(["decode", str(capfile), "-T", "json"], capsys)
    assert code == 0
    packets = json.loads(out)
    assert len(packets) == 6
    first = packets[0]
    assert first["frame"]["number"] == 1 and first["frame"]["ts_ns"] == T0
    assert first["frame"]["protocols"] == "eth:ethertype:ip:tcp"
    ip = first["layers"][1]
    assert ip["protocol"] == "ip" and ip["status"] == "ok" and ip["offset"] == 14 and ip["length"] == 20
    assert ip["fields"]["ip.src"] == "192.0.2.1"
    assert ip["fields"]["ip.proto"] == 6 and ip["names"]["ip.proto"] == "TCP"
    assert ip["fields"]["ip.checksum.status"] == "good"
    assert ip["fields"]["ip.addr"] == ["192.0.2.1", "198.51.100.2"]
    tcp = first["layers"][2]
    assert tcp["fields"]["tcp.option_kind"] == [2, 1, 3, 4, 0]
    assert tcp["names"]["tcp.option_kind"] == ["MSS", "NOP", "WS", "SACK_PERM", "EOL"]
    assert packets[2]["data"] == {"offset": 42, "length": 5, "hex": "68656c6c6f"}
    assert packets[3]["trailer"]["length"] == 17
    assert any(layer.get("quoted") for layer in packets[5]["layers"])


def test_json_lines(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-T", "jsonl", "-c", "3"], capsys)
    lines = out.splitlines()
    assert len(lines) == 3
    assert [json.loads(line)["frame"]["number"] for line in lines] == [1, 2, 3]


def test_json_damaged_layer_has_error(damaged, capsys):
    _, out, _ = run(["decode", str(damaged), "-T", "json"], capsys)
    packets = json.loads(out)
    tcp = packets[1]["layers"][-1]
    assert tcp["status"] == "truncated" and tcp["error"].startswith("tcp:")
    assert tcp["fields"]["tcp.srcport"] == 1


# -- -T fields ---------------------------------------------------------------------------

def test_fields_print_like_tshark(capfile, capsys):
    code, out, _ = run(["decode", str(capfile), "-T", "fields", "-e", "ip.flags", "-e", "ip.flags.df",
                        "-e", "ip.proto", "-e", "eth.type", "-e", "ip.checksum", "-e", "tcp.flags",
                        "-e", "tcp.flags.syn", "-e", "ip.dsfield", "-e", "ip.id", "-e", "eth.src",
                        "-e", "ip.checksum.status", "-e", "tcp.option_kind", "-c", "1"], capsys)
    assert code == 0
    assert out == "0x02\t1\t6\t0x0800\t0x%s\t0x0002\t1\t0x00\t0x317f\t%s\t1\t2,1,3,4,0\n" % (
        bytes(frames_basic()[0].data)[24:26].hex(), MAC_A)


def test_fields_absent_and_repeated(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-e", "tcp.srcport", "-e", "udp.srcport",
                     "-e", "tcp.options.sack_le", "-e", "ip.src"], capsys)
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0] == ["2826", "", "", "192.0.2.1"]
    assert rows[1] == ["80", "", "100,300", "198.51.100.2"]
    assert rows[2] == ["", "40001", "", "192.0.2.1"]
    assert rows[5][3] == "198.51.100.1,192.0.2.1"                  # outer and quoted datagram


def test_fields_options(capfile, capsys):
    base = ["decode", str(capfile), "-c", "2", "-e", "ip.src", "-e", "tcp.options.sack_le"]
    _, out, _ = run(base + ["-E", "separator=,", "-E", "aggregator=/s"], capsys)
    assert out.splitlines() == ["192.0.2.1,", "198.51.100.2,100 300"]
    _, out, _ = run(base + ["-E", "occurrence=f"], capsys)
    assert out.splitlines()[1] == "198.51.100.2\t100"
    _, out, _ = run(base + ["-E", "occurrence=l"], capsys)
    assert out.splitlines()[1] == "198.51.100.2\t300"
    _, out, _ = run(base + ["-E", "header=y", "-E", "quote=d"], capsys)
    assert out.splitlines()[:2] == ['"ip.src"\t"tcp.options.sack_le"', '"192.0.2.1"\t""']
    _, out, _ = run(base + ["-E", "separator=/s"], capsys)
    assert out.splitlines()[1] == "198.51.100.2 100,300"


def test_fields_frame_and_columns(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-c", "2", "-e", "frame.number", "-e", "frame.time_epoch",
                     "-e", "frame.time_relative", "-e", "frame.time_delta", "-e", "frame.len",
                     "-e", "frame.cap_len", "-e", "frame.protocols", "-e", "_ws.col.Protocol",
                     "-e", "_ws.col.Info", "-e", "ip"], capsys)
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0][:7] == ["1", "1700000000.123456789", "0.000000000", "0.000000000", "66", "66",
                           "eth:ethertype:ip:tcp"]
    assert rows[1][:4] == ["2", "1700000000.124956789", "0.001500000", "0.001500000"]
    assert rows[0][7] == "TCP" and rows[0][8].startswith("2826 → 80 [SYN]")
    assert rows[0][9] == "Internet Protocol Version 4, Src: 192.0.2.1, Dst: 198.51.100.2"


def test_fields_protocols_names_data(capfile, capsys):
    _, out, _ = run(["decode", str(capfile), "-e", "frame.protocols"], capsys)
    assert out.splitlines()[2] == "eth:ethertype:ip:udp:data"


def test_unknown_field_suggests(capfile, capsys):
    code, out, err = run(["decode", str(capfile), "-T", "fields", "-e", "ip.sorce"], capsys)
    assert code == 2 and out == ""
    assert err == "protospec: unknown field 'ip.sorce' (did you mean ip.src?)\n"
    code, _, err = run(["decode", str(capfile), "-e", "zzzzzz"], capsys)
    assert code == 2 and err == "protospec: unknown field 'zzzzzz'\n"


@pytest.mark.parametrize("argv, message", [
    (["-T", "fields"], "-T fields needs at least one -e FIELD"),
    (["-T", "json", "-e", "ip.src"], "-e needs -T fields"),
    (["-e", "ip.src", "-E", "occurrence=x"], "bad -E occurrence=x"),
    (["-e", "ip.src", "-E", "quote=x"], "bad -E quote=x"),
])
def test_usage_errors(capfile, capsys, argv, message):
    code, out, err = run(["decode", str(capfile), *argv], capsys)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_argparse_errors_exit_2(capfile, capsys):
    code, _, err = run(["decode", str(capfile), "-E", "nonsense"], capsys)
    assert code == 2 and "bad -E option" in err
    code, _, _ = run(["frobnicate"], capsys)
    assert code == 2


# -- fast path = general path -----------------------------------------------------------------

FAST_FIELDS = ["eth.src", "eth.type", "ip.src", "ip.dst", "ip.proto", "ip.flags", "ip.flags.df", "ip.ttl",
               "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.flags.syn", "tcp.hdr_len", "udp.length",
               "frame.number", "frame.len", "frame.protocols"]


@functools.lru_cache(maxsize=1)
def _writers():
    reg = Registry.default()
    fast = FieldsWriter(reg, FAST_FIELDS)
    slow = FieldsWriter(reg, FAST_FIELDS + ["_ws.col.Protocol"])   # a column forces the general path
    assert fast.fast and not slow.fast
    return reg, fast, slow


def _both_paths(path):
    from decoder.capture import CaptureError, open_capture
    reg, fast, slow = _writers()
    outs = []
    for writer in (fast, slow):
        chunks = []
        try:
            with open_capture(str(path)) as reader:
                writer.run(iter(reader), chunks.append, Decoder(reg))
        except CaptureError:
            pass
        outs.append(["\t".join(line.split("\t")[:len(FAST_FIELDS)]) for line in "".join(chunks).splitlines()])
    return outs


def test_fast_path_equals_general_path(capfile, damaged):
    for path in (capfile, damaged):
        fast, slow = _both_paths(path)
        assert fast == slow


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared captures not present")
def test_fast_path_equals_general_path_on_corpus():
    for path in corpus_captures():
        fast, slow = _both_paths(path)
        assert fast == slow, path


# -- input: stdin, gzip, errors -----------------------------------------------------------------

def test_stdin_and_gzip(capfile, tmp_path, capsys):
    _, expected, _ = run(["decode", str(capfile)], capsys)
    raw = capfile.read_bytes()
    r = run_process(["decode", "-"], stdin=raw)
    assert r.returncode == 0 and r.stdout.decode() == expected and r.stderr == b""
    gz = tmp_path / "basic.pcap.gz"
    gz.write_bytes(gzip.compress(raw))
    code, out, _ = run(["decode", str(gz)], capsys)
    assert code == 0 and out == expected
    r = run_process(["decode", "-", "-e", "ip.src"], stdin=gzip.compress(raw))
    assert r.returncode == 0 and r.stdout.decode().splitlines()[0] == "192.0.2.1"


def test_not_a_capture(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a capture\n")
    code, out, err = run(["decode", str(path)], capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"protospec: {path}: not a pcap or pcapng capture") and err.count("\n") == 1


def test_missing_file(tmp_path, capsys):
    code, _, err = run(["decode", str(tmp_path / "nope.pcap")], capsys)
    assert code == 1 and err.startswith("protospec: ") and "Traceback" not in err


@pytest.mark.parametrize("mode", [[], ["-V"], ["-T", "json"], ["-T", "jsonl"], ["-e", "ip.src"], ["-e", "_ws.col.Info"]])
def test_cut_tail_prints_complete_packets_then_fails(capfile, tmp_path, capsys, mode):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(capfile.read_bytes()[:-10])
    code, out, err = run(["decode", str(cut), *mode], capsys)
    assert code == 1
    assert err.startswith(f"protospec: {cut}: capture cut short in record 6") and err.count("\n") == 1
    if mode[:2] == ["-T", "json"]:
        assert len(json.loads(out)) == 5                        # still a valid JSON array
    elif mode == ["-V"]:
        assert len(re.findall(r"^Frame \d+: ", out, re.M)) == 5
    else:
        assert len(out.splitlines()) == 5


def test_broken_pipe_is_quiet(tmp_path):
    big = tmp_path / "big.pcap"
    frames = frames_basic()
    write_pcap(str(big), (frames[k % len(frames)] for k in range(60000)))
    proc = subprocess.Popen([sys.executable, "-m", "decoder.cli", "decode", str(big)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert first.startswith(b"    1 ")
    assert err == b"" and proc.returncode == 0


# -- --specs and the fields command -----------------------------------------------------------

USER_SPEC = '''
from construct import Int8ub, Int16ub, Struct
from decoder.protocol import Bind, Protocol

PROTOCOL = Protocol(
    name="demo", title="Demo Protocol", ref="none",
    layout=Struct("kind" / Int8ub * "Kind of demo message (test)", "value" / Int16ub * "Demo value (test)"),
    binds=[Bind("udp.port", 40404)],
    summary=lambda layer: f"demo kind={layer.get('kind')}",
)
'''


def test_user_specs_directory(capfile, tmp_path, capsys):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "demo.py").write_text(USER_SPEC)
    code, out, err = run(["decode", str(capfile), "--specs", str(tmp_path / "specs"),
                          "-e", "demo.kind", "-e", "demo.value", "-e", "frame.protocols"], capsys)
    assert code == 0, err
    assert out.splitlines()[2] == f"{ord('h')}\t{int.from_bytes(b'el', 'big')}\teth:ethertype:ip:udp:demo:data"
    code, out, _ = run(["decode", str(capfile), "--specs", str(tmp_path / "specs"), "-c", "3"], capsys)
    assert out.splitlines()[2].endswith(" DEMO 47 demo kind=104")


def test_bad_specs_directory(capfile, tmp_path, capsys):
    code, out, err = run(["decode", str(capfile), "--specs", str(tmp_path / "none")], capsys)
    assert code == 1 and out == "" and err.startswith("protospec: ") and err.count("\n") == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.py").write_text("raise RuntimeError('boom')\n")
    code, _, err = run(["decode", str(capfile), "--specs", str(broken)], capsys)
    assert code == 1 and "bad.py" in err and "Traceback" not in err


def test_fields_command(capsys):
    code, out, _ = run(["fields", "ip."], capsys)
    assert code == 0
    rows = dict(line.split("\t") for line in out.splitlines())
    assert rows["ip.ttl"] == "Time to live"
    assert all(name.startswith("ip.") or "ip." in name for name in rows)


# -- progress bar ---------------------------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_for_big_files_on_a_terminal(capfile, monkeypatch, capsys):
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1)
    monkeypatch.setattr(sys, "stderr", _Tty())
    source, progress = cli._open_input(str(capfile), True)
    try:
        assert progress is not None and source is not str(capfile)
    finally:
        progress.close()
        source.close()
    assert cli._open_input("-", True) == ("-", None)                 # never for stdin
    assert cli._open_input(str(capfile), False) == (str(capfile), None)
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1 << 40)
    assert cli._open_input(str(capfile), True) == (str(capfile), None)


def test_progress_bar_goes_to_stderr(capfile, monkeypatch, capsys):
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1)
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    code = cli.main(["decode", str(capfile), "-e", "ip.src"])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[0] == "192.0.2.1"
    assert "B" in tty.getvalue()                                    # tqdm drew (and cleared) a bar


def test_pcapng_comment_and_interface(tmp_path, capsys):
    """Frame facts from pcapng: interface id and the packet comment."""
    data = frames_basic()[2].data

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    comment = b"first DNS query"
    opt = struct.pack("<HH", 1, len(comment)) + comment + b"\0" * (-len(comment) % 4) + b"\0\0\0\0"
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", 1, 0, 0))
    ts = T0 // 1000
    epb = block(6, struct.pack("<IIIII", 1, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
                + data + b"\0" * (-len(data) % 4) + opt)
    path = tmp_path / "c.pcapng"
    path.write_bytes(shb + idb + idb + epb)
    code, out, _ = run(["decode", str(path), "-V"], capsys)
    assert code == 0
    assert f"{len(data)} bytes captured ({len(data) * 8} bits) on interface 1\n" in out
    assert "    Comment: first DNS query  [frame.comment]\n" in out
    _, out, _ = run(["decode", str(path), "-e", "frame.comment", "-e", "frame.interface_id"], capsys)
    assert out == "first DNS query\t1\n"


def test_fields_lists_what_the_analysis_computes(capsys):
    """``protospec fields`` lists the annotated fields too (as ``tshark -G fields`` does),
    saying what computes them and which need ``-2``."""
    code, out, _ = run(["fields", "."], capsys)
    rows = dict(line.split("\t", 1) for line in out.splitlines())
    assert code == 0
    assert rows["tcp.analysis.retransmission"] == "[conversations and TCP analysis] label"
    assert rows["dns.time"] == "[request/response pairing] float"
    assert rows["dns.response_in"] == "[request/response pairing, with -2: names a later frame] int"
    assert rows["ip.fragment.count"] == "[IP reassembly] int"
    assert rows["ip.src"].startswith("Source address")
