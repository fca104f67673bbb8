"""Depth-limited decoding (``Decoder(want=...)``): the consumers that read only the
lower layers get exactly what a full decode gives them."""
from pathlib import Path

import pytest

from decoder.capture import CaptureError, open_capture
from decoder.packet import Decoder
from decoder.registry import Registry
from expert import stats
from expert.conversations import PROTOCOLS
from expert.engine import Engine
from expert.rules import load_rules
from support import corpus_captures

ROOT = Path(__file__).resolve().parent
CAPTURES = [ROOT / "captures" / "sample.pcap"] + corpus_captures()


@pytest.fixture(scope="module")
def reg():
    return Registry.default()


def _frames(path):
    """Every frame, or None for a deliberately broken capture (stats.collect would stop
    at its damage with an error; those captures have their own tests)."""
    try:
        with open_capture(str(path)) as cap:
            return list(cap)
    except CaptureError:
        return None


def test_decoding_stops_where_nothing_wanted_can_follow(reg):
    frames = _frames(ROOT / "captures" / "sample.pcap")
    full, lean = Decoder(reg), Decoder(reg, want=PROTOCOLS)
    deeper = 0
    for n, f in enumerate(frames, 1):
        a, b = full.decode(f, n), lean.decode(f, n)
        names = [x.name for x in b.layers]
        assert names == [x.name for x in a.layers][:len(names)]
        assert not any(x.name in ("dns", "http", "ftp", "arp") for x in b.layers)
        deeper += len(a.layers) > len(b.layers)
    assert deeper        # the sample capture has DNS, HTTP and FTP above TCP/UDP


def test_protocols_of_fields(reg):
    assert reg.protocols_of(["ip.src", "tcp.stream", "tcp.analysis.retransmission"]) == {"ip", "tcp"}
    assert reg.protocols_of(["frame.len", "dns.qry.name"]) == {"dns"}
    assert reg.protocols_of(["frame.protocols"]) is None
    assert reg.protocols_of(["data.data"]) is None


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_statistics_equal_full_decode(path, monkeypatch):
    if _frames(path) is None:
        pytest.skip("unreadable capture")
    select = {"conv", "endpoints", "art", "io"}
    lean = stats.report(stats.collect(str(path), select), stats.CONV_KINDS, stats.CONV_KINDS)
    monkeypatch.setattr(stats.Collector, "protocols", property(lambda self: None))
    full = stats.report(stats.collect(str(path), select), stats.CONV_KINDS, stats.CONV_KINDS)
    assert lean == full


@pytest.fixture(scope="module")
def tcp_rules(reg):
    every = load_rules(reg)
    return load_rules(reg, disable=[r.id for r in every if not r.id.startswith(("tcp", "checksum"))])


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_tcp_rules_find_the_same_with_a_lean_decode(path, reg, tcp_rules):
    frames = _frames(path)
    if frames is None:
        pytest.skip("unreadable capture")

    def findings(decoder):
        engine = Engine(tcp_rules)
        assert engine.protocols == set(PROTOCOLS)
        return [(f.id, f.message, f.frames) for f in engine.run_frames(frames, decoder)]

    assert findings(None) == findings(Decoder(reg))
