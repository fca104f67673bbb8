"""Adding a protocol takes one file: specs/ntp.py (NTP, RFC 5905 §7.3) was added alone,
with no edit anywhere else, and these tests show that the whole tool then knows it:

* ``protospec decode`` names it in the packet list, ``-V`` shows its fields;
* ``-T fields -e ntp.stratum`` prints its fields, display filters select on them;
* the registry-wide round-trip tests (tests/test_roundtrip.py, parametrised over the
  registry) cover it, and its layout is one the object generator fully knows;
* the decode reference (decoder.reference) has a page for it and indexes its fields;
* the same file, copied into a directory of one's own and loaded with ``--specs DIR``
  (renamed ``myntp`` on UDP 1123, so as not to clash with the built-in one), works the
  same way.

docs/adding-a-protocol.rst walks through the file.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("scapy.all")
from scapy.all import IP, UDP, Ether  # noqa: E402
from scapy.layers.ntp import NTPHeader  # noqa: E402

from decoder import fastpath, reference  # noqa: E402
from decoder.capture import Frame, write_pcap  # noqa: E402
from decoder.packet import OK, Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from support import run  # noqa: E402

SPEC = ROOT / "specs" / "ntp.py"
T0 = 1_700_000_000_000_000_000


XMT = 15671229821389305137            # a transmit timestamp from a real capture: Aug 16, 2015 19:35:26.16


def ntp_frames(port=123):
    client = (Ether(src="00:21:6a:5b:7d:4a", dst="00:05:5d:21:99:4c") / IP(src="192.0.2.1", dst="198.51.100.123")
              / UDP(sport=port, dport=port)
              / NTPHeader(leap=0, version=4, mode=3, stratum=2, poll=10, precision=-20, id="17.253.12.253",
                          ref=0, orig=0, recv=0, sent=XMT / 2 ** 32))
    server = (Ether(src="00:05:5d:21:99:4c", dst="00:21:6a:5b:7d:4a") / IP(src="198.51.100.123", dst="192.0.2.1")
              / UDP(sport=port, dport=port)
              / NTPHeader(leap=0, version=4, mode=4, stratum=1, poll=6, precision=-20, ref_id="GPSs",
                          ref=0, orig=XMT / 2 ** 32, recv=0, sent=0))
    return [Frame(bytes(p), 1, T0 + i * 1_000_000, len(bytes(p))) for i, p in enumerate((client, server))]


@pytest.fixture
def capfile(tmp_path):
    path = tmp_path / "ntp.pcap"
    write_pcap(str(path), ntp_frames())
    return path


def test_the_spec_is_one_self_contained_file():
    text = SPEC.read_text()
    imports = re.findall(r"^(?:from|import) (\S+)", text, re.M)
    assert set(imports) <= {"datetime", "enum", "construct", "decoder.protocol", "specs._fields"}, imports
    # nothing in the decoder or the expert checks knows NTP by name (decoder/tshark_bases.py,
    # generated from tshark for every registry field, aside)
    for path in list((ROOT / "decoder").glob("*.py")) + list((ROOT / "expert").glob("*.py")):
        if path.name != "tshark_bases.py":
            assert not re.search(r"\bntp\b", path.read_text(), re.I), path


def test_decoded_fields():
    reg = Registry.default()
    pkt = Decoder(reg).decode(ntp_frames()[0])
    assert [l.name for l in pkt.layers] == ["eth", "ip", "udp", "ntp"]
    ntp = pkt["ntp"]
    assert ntp.status == OK
    names = ("flags", "flags.li", "flags.vn", "flags.mode", "stratum", "ppoll")
    assert [ntp.get(n) for n in names] == [0x23, 0, 4, 3, 2, 10]
    assert ntp.get("precision") == 256 - 20 and ntp.get("refid") == bytes([17, 253, 12, 253])
    assert ntp.get("xmt.utc").startswith("Aug 16, 2015 19:35:26.1617") and ntp.get("xmt") >> 32 == XMT >> 32
    assert ntp.get("reftime") == 0 and ntp.get("reftime.utc") == "NULL"
    assert ntp.summary() == "NTP Version 4, client"
    assert ntp.value == reg.protocols["ntp"].layout.parse(ntp.header)
    assert not fastpath.FALLBACKS


def test_packet_list_names_it(capfile, capsys):
    code, out, err = run(["decode", str(capfile)], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 2
    assert " NTP 90 NTP Version 4, client" in lines[0] and " NTP 90 NTP Version 4, server" in lines[1]


def test_detail_tree_shows_its_fields(capfile, capsys):
    code, out, _ = run(["decode", str(capfile), "-V", "-c", "1"], capsys)
    assert code == 0
    assert "Network Time Protocol, NTP Version 4, client" in out
    assert "Stratum: 2  [ntp.stratum @" in out
    assert "Transmit timestamp as UTC text: Aug 16, 2015 19:35:26.1617" in out


def test_fields_and_filters(capfile, capsys):
    code, out, _ = run(["decode", str(capfile), "-T", "fields", "-e", "ntp.stratum", "-e", "ntp.flags",
                        "-e", "ntp.flags.mode", "-e", "ntp.refid"], capsys)
    assert code == 0
    assert out.splitlines() == ["2\t0x23\t3\t11fd0cfd", "1\t0x24\t4\t47505373"]
    code, out, _ = run(["decode", str(capfile), "-Y", "ntp.stratum == 1"], capsys)
    assert code == 0 and len(out.splitlines()) == 1 and "server" in out
    code, out, _ = run(["fields", "ntp."], capsys)
    assert "ntp.stratum" in out and "ntp.xmt.utc" in out


def _roundtrip_module():
    spec = importlib.util.spec_from_file_location("_roundtrip_for_ntp", ROOT / "tests" / "test_roundtrip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.corpus = lambda: {}           # the captures carry NTP too, but the generated cases suffice here
    return module


def test_the_round_trip_tests_cover_it():
    rt = _roundtrip_module()
    assert "ntp" in rt.NAMES
    assert rt._unsupported(rt.REG.protocols["ntp"]) is None      # the generator knows every node
    rt.test_parse_of_build_gives_the_object("ntp")
    rt.test_build_of_parse_gives_the_bytes("ntp")
    rt.test_fast_path_equals_construct("ntp")
    rt.test_random_bytes_decode_without_raising("ntp")


def test_the_reference_has_a_page():
    pages = reference.generate(Registry.default())
    page = pages["protocols/ntp.rst"]
    assert page.startswith("ntp — Network Time Protocol")
    assert "rfc5905#section-7.3" in page and "``udp.port`` 123" in page
    for name in ("ntp.flags.li", "ntp.stratum", "ntp.rootdelay", "ntp.refid", "ntp.xmt", "ntp.xmt.utc"):
        assert f"``{name}``" in page, name
        assert name in pages["fields.rst"]


def _user_dir(tmp_path):
    """The file copied into a directory of one's own: renamed myntp, bound to UDP 1123."""
    text = SPEC.read_text()
    assert text.count('name="ntp"') == 1 and text.count('Bind("udp.port", 123)') == 1
    text = text.replace('name="ntp"', 'name="myntp"').replace('Bind("udp.port", 123)', 'Bind("udp.port", 1123)')
    specs = tmp_path / "my_specs"
    specs.mkdir()
    (specs / "myntp.py").write_text(text)
    return specs


def test_the_same_file_as_a_users_spec(tmp_path, capsys):
    specs = _user_dir(tmp_path)
    path = tmp_path / "myntp.pcap"
    write_pcap(str(path), ntp_frames(port=1123))
    code, out, err = run(["decode", str(path), "--specs", str(specs)], capsys)
    assert code == 0 and err == ""
    assert " NTP Version 4, client" in out.splitlines()[0]
    code, out, _ = run(["decode", str(path), "--specs", str(specs), "-T", "fields",
                        "-e", "myntp.stratum", "-e", "myntp.flags.vn"], capsys)
    assert out.splitlines() == ["2\t4", "1\t4"]
    # without the directory the port means nothing
    code, out, _ = run(["decode", str(path), "-T", "fields", "-e", "udp.dstport", "-e", "ntp.stratum"], capsys)
    assert out.splitlines() == ["1123\t", "1123\t"]
    reg = Registry.default(extra_dirs=[specs])
    assert reg.protocols["myntp"].binds[0].values == (1123,)
    pages = reference.generate(reg)
    assert "protocols/myntp.rst" in pages and "``myntp.stratum``" in pages["protocols/myntp.rst"]
    assert not fastpath.FALLBACKS
