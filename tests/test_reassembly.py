"""IPv4 and IPv6 reassembly (decoder.reassembly): fragments built with scapy, and the
public captures with fragments, read by ``protospec decode`` and compared with tshark
(which reassembles by default)."""
from __future__ import annotations

import subprocess

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether

from decoder.capture import Frame, write_pcap
from support import CORPUS, run
from tshark_compare import TSHARK, needs_tshark

T0 = 1_700_000_000_000_000_000
E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
FIELDS = ["frame.number", "frame.protocols", "ip.fragment", "ip.fragment.count", "ip.reassembled.length",
          "udp.srcport", "udp.length", "dns.a", "icmp.seq", "udp.stream", "icmp.checksum.status",
          "udp.checksum.status", "_ws.col.Protocol", "_ws.col.Info"]


def _dns_answer(ident):
    names = [f"host{i}.example.com" for i in range(60)]
    return (IP(src="198.51.100.53", dst="192.0.2.10", id=ident) / UDP(sport=53, dport=40000)
            / DNS(id=ident, qr=1, qd=DNSQR(qname="example.com"),
                  an=[DNSRR(rrname=n, rdata=f"192.0.2.{i + 1}") for i, n in enumerate(names)]))


def frames():
    """(seconds, packet): a fragmented DNS answer in order, a big ping whose fragments
    come last-first, a datagram with a fragment missing, a fragment sent twice, and an
    unfragmented datagram between them."""
    out = []
    for i, f in enumerate(fragment(_dns_answer(0x1001), fragsize=600)):
        out.append((0.0 + i * 0.001, E / f))
    ping = IP(src="192.0.2.10", dst="198.51.100.20", id=0x2002) / ICMP(id=7, seq=1) / (b"x" * 3000)
    for i, f in enumerate(reversed(fragment(ping, fragsize=1480))):
        out.append((1.0 + i * 0.001, E / f))
    out.append((1.5, E / IP(src="192.0.2.10", dst="198.51.100.53", id=0x3003) / UDP(sport=40001, dport=53)
                / DNS(id=5, qd=DNSQR(qname="example.org"))))
    lost = fragment(_dns_answer(0x4004), fragsize=600)
    for i, f in enumerate(lost[:1] + lost[2:]):               # the second fragment never comes
        out.append((2.0 + i * 0.001, E / f))
    twice = fragment(_dns_answer(0x5005), fragsize=1200)
    for i, f in enumerate([twice[0], twice[0]] + twice[1:]):
        out.append((3.0 + i * 0.001, E / f))
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("reassembly") / "fragments.pcap"
    items = [bytes(p) for _, p in frames()]
    write_pcap(str(path), [Frame(b, 1, T0 + round(t * 1e9), len(b)) for (t, _), b in zip(frames(), items)])
    return path


def _rows(out):
    return [line.split("\t") for line in out.splitlines()]


def assert_as_tshark(path, fields, capsys, prefs=()):
    """``protospec decode -T fields`` and tshark print the same rows (runs of spaces in a
    cell taken as one: tshark pads some Info texts)."""
    args = ["-T", "fields", "-E", "occurrence=a"]
    for f in fields:
        args += ["-e", f]
    code, out, _ = run(["decode", str(path), *args], capsys)
    assert code == 0
    theirs = subprocess.run([TSHARK, "-n", "-r", str(path), *prefs, *args], capture_output=True, text=True,
                            check=True).stdout
    ours, theirs = ([[" ".join(c.split()) for c in row] for row in _rows(text)] for text in (out, theirs))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert o == t, (o[0], [(f, a, b) for f, a, b in zip(fields, o, t) if a != b])


def _ours(path, capsys, *extra):
    args = ["decode", *extra, str(path), "-T", "fields", "-E", "occurrence=a"]
    for f in FIELDS:
        args += ["-e", f]
    code, out, _ = run(args, capsys)
    assert code == 0
    return _rows(out)


def test_datagrams_decoded_whole_at_their_last_fragment(capture, capsys):
    rows = {int(r[0]): dict(zip(FIELDS, r)) for r in _ours(capture, capsys)}
    assert rows[1]["frame.protocols"] == "eth:ethertype:ip:data"
    assert rows[1]["_ws.col.Info"] == "Fragmented IP protocol (proto=UDP 17, off=0, ID=1001)"
    assert rows[4]["ip.fragment"] == "1,2,3,4" and rows[4]["frame.protocols"] == "eth:ethertype:ip:udp:dns"
    assert rows[4]["dns.a"].count(",") == 59 and rows[4]["_ws.col.Protocol"] == "DNS"
    ping = next(r for r in rows.values() if r["icmp.seq"])        # fragments came last-first
    assert ping["ip.fragment.count"] == "3" and ping["ip.reassembled.length"] == "3008"
    assert ping["ip.fragment"].split(",") == sorted(ping["ip.fragment"].split(","), key=int, reverse=True)
    # the datagram missing a fragment is never decoded
    assert sum(1 for r in rows.values() if r["ip.fragment"]) == 3


def test_detail_tree_names_the_fragments(capture, capsys):
    _, out, _ = run(["decode", str(capture), "-V", "-c", "7"], capsys)
    frame7 = out[out.index("Frame 7:"):]
    assert "[3 IPv4 Fragments (3008 bytes): #7, #6, #5]  [ip.fragment]" in frame7
    assert "Checksum over the ICMP message: 0x1616 [good]" in frame7     # verified over the whole datagram


def test_no_reassembly_option_and_two_pass_links(capture, capsys):
    plain = _ours(capture, capsys, "--no-reassembly")
    assert plain[0][FIELDS.index("udp.srcport")] == "53"          # the first fragment's UDP header
    assert not any(r[FIELDS.index("ip.fragment")] for r in plain)
    _, out, _ = run(["decode", "-2", str(capture), "-T", "fields", "-e", "frame.number",
                     "-e", "ip.reassembled_in", "-Y", "ip.reassembled_in"], capsys)
    linked = [line.split("\t") for line in out.splitlines()]
    assert linked and all(int(n) < int(last) for n, last in linked)


def test_fast_fields_path_agrees(capture, capsys):
    """-T fields with header fields only runs the fast path, which hands fragments to
    the reassembling decoder."""
    code, out, _ = run(["decode", str(capture), "-T", "fields", "-e", "frame.number", "-e", "udp.srcport",
                        "-e", "ip.id"], capsys)
    assert code == 0
    slow = _ours(capture, capsys)
    fast = _rows(out)
    assert [r[1] for r in fast] == [r[FIELDS.index("udp.srcport")] for r in slow]


@needs_tshark
def test_against_tshark(capture, capsys):
    assert_as_tshark(capture, FIELDS, capsys, prefs=("-o", "udp.check_checksum:TRUE"))


@needs_tshark
@pytest.mark.parametrize("name, ns", [("ip_frag_source.pcapng", "ip"), ("ipv6_fragments.pcapng", "ipv6")])
def test_public_captures_against_tshark(name, ns, capsys):
    path = CORPUS / "chrissanders+packets" / name
    if not path.exists():
        pytest.skip("public captures absent")
    assert_as_tshark(path, ["frame.number", "frame.protocols", f"{ns}.fragment", f"{ns}.fragment.count",
                            f"{ns}.reassembled.length", "_ws.col.Protocol", "_ws.col.Info"], capsys)


def tcp_frames():
    """A connection whose 2,800-octet segment travels in two fragments (a tunnel with a small
    MTU), then is acknowledged."""
    c, srv = "192.0.2.10", "198.51.100.20"

    def seg(src, dst, sp, dp, flags, seq, ack, data=b"", ident=0):
        return IP(src=src, dst=dst, id=ident) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack,
                                                    window=8192) / data
    out = [seg(c, srv, 40000, 5001, "S", 100, 0), seg(srv, c, 5001, 40000, "SA", 500, 101),
           seg(c, srv, 40000, 5001, "A", 101, 501)]
    out += fragment(seg(srv, c, 5001, 40000, "PA", 501, 101, b"d" * 2800, ident=0x0c01), fragsize=1480)
    out.append(seg(c, srv, 40000, 5001, "A", 101, 3301))  # port 5001: no application to wait for
    return [(i * 0.01, E / p) for i, p in enumerate(out)]


@needs_tshark
def test_tcp_in_fragments_against_tshark(tmp_path, capsys):
    path = tmp_path / "tcp-fragments.pcap"
    write_pcap(str(path), [Frame(bytes(p), 1, T0 + round(t * 1e9), len(bytes(p))) for t, p in tcp_frames()])
    assert_as_tshark(path, ["frame.number", "tcp.stream", "tcp.len", "tcp.seq", "tcp.ack",
                            "tcp.analysis.acks_frame", "tcp.analysis.bytes_in_flight", "ip.fragment",
                            "_ws.col.Info"], capsys)
