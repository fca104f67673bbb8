"""The capture the README decodes is the one tests/captures/make_captures.py builds, and it decodes cleanly."""
import importlib.util
from pathlib import Path

from decoder.capture import open_capture, write_pcap
from decoder.packet import Decoder
from decoder.registry import Registry

HERE = Path(__file__).resolve().parent / "captures"


def _maker():
    spec = importlib.util.spec_from_file_location("make_captures", HERE / "make_captures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_captures_are_what_the_script_builds(tmp_path):
    maker = _maker()
    for name, make in maker.CAPTURES.items():
        out = tmp_path / name
        write_pcap(str(out), make())
        assert out.read_bytes() == (HERE / name).read_bytes(), f"rerun tests/captures/make_captures.py for {name}"


def test_sample_decodes_without_malformed_layers():
    dec = Decoder(Registry.default())
    with open_capture(str(HERE / "sample.pcap")) as cap:
        packets = [dec.decode(f, n) for n, f in enumerate(cap, 1)]
    assert len(packets) == 30
    assert all(p.status == "ok" for p in packets)
    assert [p.number for p in packets if "dns" in p] == [3, 4]
    assert packets[24].layer("icmp").get("pointer.field") == "ip.checksum"
