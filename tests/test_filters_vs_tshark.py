"""Differential test: our display filters against tshark's, over the public capture corpus.

Every frame of every capture under ../shared/captures (recursive), as our reader yields
it, is written to one temporary pcapng (one interface per link type, nanosecond
timestamps); tshark reads it once and evaluates all :data:`EXPRESSIONS` in that one pass
(a Lua script registers one tap per filter) and reports each frame's ``frame.protocols``
and whether it flagged the frame as malformed.  We decode the same frames in the same
order, compile each expression once with :func:`expert.filters.compile_filter` and
compare the sets of matching frames.  (One tshark run instead of one per capture keeps
the test well under a minute; relative and delta times are those of the merged sequence
on both sides.)

A frame counts for an expression only where the two decoders saw the same packet for
the protocols the expression names: as many ``ip`` layers in tshark's ``frame.protocols``
as in our layers and so on (a protocol we have no spec for yet, a link type we do not
decode, IP reassembly, which tshark does and the plain decoder used here does not, are
decoder differences), and
neither side found a named protocol broken (tshark's malformed/error expert items; our
layer status, or a header part our parser rejects where tshark keeps what precedes the
damage).  Those frames are counted and reported, not compared.  Frames whose timestamp
is negative or past 2038 are left out of the merged file: tshark's filter engine wraps
such times.  Expressions whose fields we do not have are skipped with the reason.

Deliberate differences (not in :data:`EXPRESSIONS`; covered by tests/test_filters.py):

* ``xor`` / ``^^``: tshark 4.0 has no ``xor`` (Wireshark 4.2 added it); we accept it.
* ``len(tcp)``, ``len(udp)``: the length of a protocol is its header here; in Wireshark it
  is the tree item's length, which also covers the payload when no sub-dissector took it.
* ``*.checksum.status``: we verify checksums, tshark 4.0 does not by default (its value is
  2, "unverified"); we also accept Wireshark's numbers 0-3 for the status.
* ``frame.protocols``: we spell it like tshark (``eth:ethertype:ip:tcp``) only for the
  protocols we decode; tshark names every dissector it ran (``data``, ``http``...).
* Enumeration names: ``eth.type == ARP`` uses our IntEnum member names, tshark its
  value strings; ``ip.proto == tcp`` works here, tshark rejects it (a protocol name).
* Quoted addresses (``ip.src == "10.0.0.1"``) and ``true``/``false``: we accept a superset.
* Comparisons of unsigned fields with negative numbers (``tcp.srcport > -1``) are
  mathematical here; tshark matches nothing.

Run with ``-s`` to see the agreement table.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from decoder.capture import CaptureError, open_capture
from decoder.fastpath import Malformed, Truncated
from decoder.packet import OK, Decoder
from decoder.registry import Registry
from expert.filters import FilterError, compile_filter
from support import CORPUS, corpus_captures

TSHARK = shutil.which("tshark")

EXPRESSIONS = [
    # existence
    "tcp", "udp", "icmp", "arp", "ipv6", "vlan", "tcp.options.mss_val", "not ip and not ipv6",
    # comparisons, quantifiers
    "ip.ttl < 64", "ip.ttl >= 128", "ip.ttl != 64", "ip.len > 1000", "ip.id == 0",
    "ip.hdr_len > 20", "ip.dsfield.dscp != 0", "ip.proto == 17", "ip.src !== ip.dst",
    "all tcp.port > 1024", "any udp.port < 1024", "ip.src == ip.dst", "udp.srcport == udp.dstport",
    "tcp.srcport < tcp.dstport", "udp.length > 100", "tcp.window_size_value < 1000",
    "tcp.hdr_len > 20", "tcp.options.mss_val >= 1400", "tcp.option_kind == 4",
    "tcp.options.wscale.shift > 2",
    # booleans and flags
    "tcp.flags.syn == 1 and tcp.flags.ack == 0", "tcp.flags.reset == 1 || tcp.flags.fin == 1",
    "ip.flags.df == 1", "ip.flags.mf == 1 or ip.frag_offset > 0", "tcp.flags & 0x12 == 0x12",
    "tcp.flags.push", "!tcp.flags.ack == 1",
    # addresses
    "ip.addr == 192.168.0.0/16", "ip.src == 10.0.0.0/8", "ip.dst in {224.0.0.0/4, 255.255.255.255}",
    "ip.src in {10.0.0.0 .. 10.255.255.255, 172.16.0.0/12}", "!(ip.addr == 10.0.0.0/8)",
    "ipv6.addr == fe80::/10", "ipv6.dst == ff02::1:ff00:0/104", "ipv6.hlim == 255", "ipv6.nxt == 58",
    "eth.addr == ff:ff:ff:ff:ff:ff", "eth.dst[0] & 1", "eth.src[0:3] == 00:0c:29",
    "eth.src[1-2] == 2c:03", "eth.dst[-2:] == 00:01", "arp.src.proto_ipv4 == arp.dst.proto_ipv4",
    "arp.opcode == 2",
    # membership
    "tcp.port in {80, 443, 8000..8100}", "udp.port in {53, 67, 68, 123}", "ip.ttl in {1, 64, 128, 255}",
    "tcp.port not in {80, 443}", "icmp.type in {0, 8}", "icmp.type == 3 and icmp.code == 3",
    "icmpv6.type == 135", "vlan.id == 1",
    # frame
    "frame.len > 100", "frame.cap_len < 60", "frame.number <= 3", "frame.time_relative > 1000",
    "frame.time_delta < 0.001", "frame.time_epoch > 1400000000.5", "frame.len != frame.cap_len",
    # slices, contains, matches
    "tcp[13] & 0x02", "ip[0] == 45", "frame[12:2] == 08:00", "frame contains \"HTTP\"",
    "tcp contains \"GET\"", "udp contains 00:00:00:00", "frame matches \"user-agent\"",
    "ip contains 0a:00", "eth contains ff:ff:ff:ff",
    # functions, arithmetic, layers
    "count(ip.src) > 1", "len(ip) > 20", "len(eth.src) == 6", "max(tcp.srcport, tcp.dstport) > 1024",
    "string(ip.proto) == \"6\"", "tcp.srcport + tcp.dstport > 50000", "ip.len - ip.hdr_len < 40",
    "ip.ttl#2 == 1", "ip.src#1 == ip.dst#2",
]

pytestmark = [
    pytest.mark.skipif(TSHARK is None, reason="tshark not installed"),
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"capture corpus {CORPUS} not present"),
]

LUA = r"""
local protos = Field.new("frame.protocols")
local filters = { %s }
local all = Listener.new(nil, nil)
function all.packet(pinfo, tvb)
  local p = protos()
  print("P\t" .. pinfo.number .. "\t" .. (p and tostring(p.value) or ""))
end
local bad = Listener.new(nil, "_ws.malformed or _ws.expert.severity == error")
function bad.packet(pinfo, tvb) print("X\t" .. pinfo.number) end
for i, f in ipairs(filters) do
  local ok, tap = pcall(Listener.new, nil, f)
  if ok then
    tap.packet = function(pinfo, tvb) print("M\t" .. i .. "\t" .. pinfo.number) end
  else
    print("E\t" .. i .. "\t" .. tostring(tap):gsub("\n", " "))
  end
end
"""

_MAX_TS = (1 << 31) * 10 ** 9     # tshark's filter engine wraps times from 2038 on


def _captures():
    return corpus_captures()


def _corpus_frames():
    """``[(capture, number in it, Frame)]`` for every frame our reader yields."""
    out = []
    for path in _captures():
        try:
            for n, frame in enumerate(open_capture(str(path)), 1):
                if 0 <= frame.ts_ns < _MAX_TS:
                    out.append((path, n, frame))
        except CaptureError:
            pass               # a damaged capture: the frames before the damage count
    return out


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    size = len(body) + 12
    return struct.pack("<II", kind, size) + body + struct.pack("<I", size)


def write_pcapng(path: Path, frames) -> None:
    """One section, an interface per link type (if_tsresol 9: nanoseconds), EPBs in order."""
    ifaces: dict[int, int] = {}
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for frame in frames:
        if frame.linktype not in ifaces:
            ifaces[frame.linktype] = len(ifaces)
            opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
            out.append(_block(1, struct.pack("<HHI", frame.linktype, 0, 0) + opts))
        ts = frame.ts_ns
        out.append(_block(6, struct.pack("<IIIII", ifaces[frame.linktype], ts >> 32, ts & 0xFFFFFFFF,
                                         len(frame.data), frame.orig_len) + bytes(frame.data)))
    path.write_bytes(b"".join(out))


def _tshark(path: Path, script: Path):
    """``(matches per expression index, frame.protocols per frame, frames flagged, errors)``."""
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run([TSHARK, "-n", "-q", "-r", str(path), "-X", f"lua_script:{script}"],
                          capture_output=True, text=True, errors="replace", timeout=300, env=env)
    matches: dict[int, set] = {}
    protos: dict[int, Counter] = {}
    flagged: set = set()
    errors: dict[int, str] = {}
    for line in proc.stdout.splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "M":
            i, n = rest.split("\t")
            matches.setdefault(int(i) - 1, set()).add(int(n))
        elif kind == "P":
            n, _, text = rest.partition("\t")
            protos[int(n)] = Counter(text.split(":")) if text else Counter()
        elif kind == "X":
            flagged.add(int(rest))
        elif kind == "E":
            i, _, msg = rest.partition("\t")
            errors[int(i) - 1] = msg
    if not protos:
        raise AssertionError(f"tshark produced no output: {proc.stderr.strip()[:500]}")
    return matches, protos, flagged, errors


def _broken(layer) -> bool:
    """Our decoder gave up on (part of) this layer's header."""
    if layer.status != OK:
        return True
    try:
        layer.proto.full(layer.buf, layer.off, layer.end, None)
    except (Truncated, Malformed):
        return True
    return False


def _protocols_named(flt, reg) -> set:
    """The protocols whose layers an expression reads (``frame`` fields need none)."""
    out = set()
    for name in flt.fields:
        if name == "frame" or name.startswith("frame.") or name in ("data", "data.data", "data.len"):
            continue
        hit = reg.resolve(name)
        out.add(hit[0].name if hit else name.split(".")[0])
    return out


@pytest.fixture(scope="module")
def comparison():
    reg = Registry.default()
    corpus = _corpus_frames()
    if not corpus:
        pytest.skip("no frames in the capture corpus")
    compiled, skipped = {}, {}
    for i, expr in enumerate(EXPRESSIONS):
        try:
            compiled[i] = compile_filter(expr, reg)
        except FilterError as e:
            skipped[i] = str(e)
    with tempfile.TemporaryDirectory() as tmp:
        merged, script = Path(tmp) / "corpus.pcapng", Path(tmp) / "filters.lua"
        write_pcapng(merged, [frame for _, _, frame in corpus])
        script.write_text(LUA % ", ".join("[==[" + e + "]==]" for e in EXPRESSIONS))
        t_matches, t_protos, t_flagged, tshark_errors = _tshark(merged, script)
    wanted = {i: _protocols_named(flt, reg) for i, flt in compiled.items()}
    stats = {i: Counter() for i in range(len(EXPRESSIONS))}
    diffs = {i: [] for i in range(len(EXPRESSIONS))}
    dec = Decoder(reg)
    for k, (path, n, frame) in enumerate(corpus, 1):
        pkt = dec.decode(frame, k)
        ours = Counter(layer.proto.name for layer in pkt.layers)
        broken = {layer.proto.name for layer in pkt.layers if _broken(layer)}
        theirs = t_protos.get(k, Counter())
        for i, flt in compiled.items():
            verdict = flt(pkt)            # every filter sees every frame, in order (clocks)
            st = stats[i]
            names = wanted[i]
            if any(theirs[p] != ours[p] for p in names):
                st["skipped: decoders differ"] += 1
                continue
            if names and (names & broken or k in t_flagged):
                st["skipped: broken packet"] += 1
                continue
            st["compared"] += 1
            b = k in t_matches.get(i, ())
            st["matched by both"] += verdict and b
            if verdict != b:
                diffs[i].append(f"{path.relative_to(CORPUS)}#{n}: ours={verdict} tshark={b}")
    return {"skipped": skipped, "stats": stats, "diffs": diffs, "tshark_errors": tshark_errors,
            "captures": len({path for path, _, _ in corpus}), "frames": len(corpus)}


def test_expressions_are_valid_in_tshark(comparison):
    errors = comparison["tshark_errors"]
    assert not errors, {EXPRESSIONS[i]: msg for i, msg in errors.items()}


@pytest.mark.parametrize("index", range(len(EXPRESSIONS)), ids=EXPRESSIONS)
def test_same_frames_as_tshark(comparison, index):
    if index in comparison["skipped"]:
        pytest.skip(f"not compiled here: {comparison['skipped'][index]}")
    st, diffs = comparison["stats"][index], comparison["diffs"][index]
    assert st["compared"] > 0
    assert not diffs, f"{len(diffs)} disagreements, first: " + "; ".join(diffs[:5])


def test_agreement_summary(comparison):
    """The figures for the report (printed with -s)."""
    stats, skipped = comparison["stats"], comparison["skipped"]
    total = Counter()
    lines = [f"{comparison['captures']} captures, {comparison['frames']} frames, {len(EXPRESSIONS)} expressions, "
             f"{len(skipped)} skipped (fields we lack)"]
    for i, expr in enumerate(EXPRESSIONS):
        if i in skipped:
            lines.append(f"  SKIP {expr}: {skipped[i]}")
            continue
        st = stats[i]
        total.update(st)
        agree = st["compared"] - len(comparison["diffs"][i])
        lines.append(f"  {agree:5d}/{st['compared']:<5d} agree, {st['matched by both']:4d} matches; skipped "
                     f"{st['skipped: decoders differ']:4d} decoder, {st['skipped: broken packet']:3d} broken  {expr}")
    disagree = sum(len(d) for d in comparison["diffs"].values())
    lines.append(f"total: {total['compared'] - disagree}/{total['compared']} frame verdicts agree "
                 f"({total['matched by both']} matches); not compared: {total['skipped: decoders differ']} "
                 f"where the decoders saw different protocols, {total['skipped: broken packet']} broken packets")
    print("\n" + "\n".join(lines))
    assert total["compared"] > 0
