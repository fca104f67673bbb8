"""Differential test of the DNS, FTP, HTTP (and NTP) specs against tshark, over the public
captures INDEX.md lists for them (../shared/captures).

One ``tshark -T fields -E occurrence=a`` call per capture prints every field name that
tshark knows and one of these specs can produce; ``decoder.fields.FieldsWriter`` prints the
same columns from our decode (so values are compared as ``protospec -T fields`` prints
them).  tshark runs with TCP reassembly off (``tcp.desegment_tcp_streams:FALSE``): we
decode segment by segment, and so does tshark then.  Each cell (frame x field, at least
one side non-empty) is

* ``agree``: the same text;
* ``known``: a documented, deliberate difference (KNOWN_FIELDS / the frame rules below);
* ``differ`` / ``missing`` (tshark has a value, we do not) / ``extra`` (the reverse).

Asserted: no ``differ``, ``missing`` or ``extra`` cell outside the known differences, on
every capture but the fuzzed one (whose figures are reported only).  ``python
tests/test_app_vs_tshark.py`` prints the figures.

Deliberate differences:

* tshark shows the AA, RA, AD and RCODE bits of a DNS response only; we decode every bit
  of the flags word, in queries too;
* NTP timestamps are the raw 64-bit values (``ntp.xmt.utc`` and siblings give the text);
* tshark prints ``<MISSING>`` for an absent DNS server cookie; we have no such field then;
* tshark gives FTP fields for the first line of a segment only; we give every line's;
* tshark does not hand a retransmitted segment's payload to FTP or HTTP; we decode it;
* a DNS message cut short (inside an ICMP error, by the snap length) shows the sections
  completed before the cut; tshark also shows the complete records of the cut section.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from decoder.capture import open_capture  # noqa: E402
from decoder.fields import Clock, FieldsWriter  # noqa: E402
from decoder.packet import OK, Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from tshark_compare import tshark_types  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "captures"
TSHARK = shutil.which("tshark")
MINE = ("dns", "dns.tcp", "ftp", "http", "ntp")
AGG = "\x1f"                     # occurrences joined with a character no value holds
FUZZED = "ntop+nDPI/tests/cfgs/default/pcap/fuzz-2006-06-26-2594.pcap"

CAPTURES = [
    "the-tcpdump-group+tcpdump/tests/dns_udp.pcap",
    "the-tcpdump-group+tcpdump/tests/dns_tcp.pcap",
    "the-tcpdump-group+tcpdump/tests/ipv4_invalid_total_length.pcap",
    "the-tcpdump-group+tcpdump/tests/ipv4_tcp_http_xml.pcap",
    "chrissanders+packets/dns_query_response.pcapng",
    "chrissanders+packets/dns_query_nonexistent.pcapng",
    "chrissanders+packets/http_google.pcapng",
    "chrissanders+packets/http_ip4and6.pcapng",
    "chrissanders+packets/tickedoffdeveloper.pcapng",
    "chrissanders+packets/tcp_dupack.pcapng",
    "zeek+zeek/testing/btest/Traces/ftp/ipv4.pcap",
    "zeek+zeek/testing/btest/Traces/ftp/ipv6.pcap",
    "zeek+zeek/testing/btest/Traces/pcapng-multi-interface.pcapng",
    "zeek+zeek/testing/btest/Traces/icmp/icmp-destunreach-udp.pcap",
    "zeek+zeek/testing/btest/Traces/snap-tcp.pcap",
    "zeek+zeek/testing/btest/Traces/tcp/qi_internet_SYNACK_curl_jsonip.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/Ftp.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/TcpPacketWithOptions.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/SllPacket.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/one_http_stream_fin.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/nanosecs_big_endian.pcap",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/many_interfaces-1.pcapng",
    "seladb+PcapPlusPlus/Tests/Pcap++Test/PcapExamples/pcapng-example.pcapng",
    "dotpcap+packetnet/Test/CaptureFiles/ipv6_http.pcap",
    "dotpcap+packetnet/Test/CaptureFiles/802.1q_vlan_ipv4_tcp.pcap",
    "dotpcap+packetnet/Test/CaptureFiles/LinuxCookedCapture.pcap",
    "ntop+nDPI/tests/cfgs/default/pcap/ftp.pcap",
    FUZZED,
]

#: field -> (kind of cell it excuses, why)
KNOWN_FIELDS = {
    "dns.flags.authoritative": ("extra", "tshark shows AA in responses only"),
    "dns.flags.recavail": ("extra", "tshark shows RA in responses only"),
    "dns.flags.authenticated": ("extra", "tshark shows AD in responses (and queries that set it) only"),
    "dns.flags.rcode": ("extra", "tshark shows RCODE in responses only"),
    "ntp.reftime": ("differ", "kept as the raw 64-bit NTP timestamp; ntp.reftime.utc is the text"),
    "ntp.org": ("differ", "kept as the raw 64-bit NTP timestamp; ntp.org.utc is the text"),
    "ntp.rec": ("differ", "kept as the raw 64-bit NTP timestamp; ntp.rec.utc is the text"),
    "ntp.xmt": ("differ", "kept as the raw 64-bit NTP timestamp; ntp.xmt.utc is the text"),
    "dns.opt.cookie.server": ("missing", "tshark prints <MISSING> for an absent server cookie"),
}

#: frame rules: (name, why) -- see frame_excuses()
FRAME_RULES = {
    "ftp-lines": "tshark gives FTP fields for the first line of a segment only",
    "retransmission": "tshark does not decode the payload of a retransmitted segment",
    "dns-cut": "a DNS message cut short shows its completed sections only",
}


@lru_cache(maxsize=1)
def registry():
    return Registry.default()


@lru_cache(maxsize=1)
def field_names() -> list[str]:
    reg = registry()
    ours = {reg.protocols[p].full_name(rel) for p in MINE for rel in reg.protocols[p].field_names}
    return sorted(ours & tshark_types().keys())


def tshark_rows(path: Path) -> list[list[str]]:
    cmd = [TSHARK, "-r", str(path), "-n", "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "ip.defragment:FALSE",
           "-T", "fields", "-E", "occurrence=a", "-E", f"aggregator={AGG}", "-E", "separator=/t",
           "-e", "tcp.analysis.retransmission", "-e", "tcp.analysis.spurious_retransmission"]
    for name in field_names():
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.split("\n")[:-1]]


def our_rows(path: Path):
    """(packet, field texts) per frame."""
    reg = registry()
    dec = Decoder(reg)
    writer = FieldsWriter(reg, field_names(), occurrence="a", aggregator=AGG)
    clock = Clock()
    out = []
    with open_capture(path) as cap:
        for number, frame in enumerate(cap, 1):
            clock.tick(frame.ts_ns)
            pkt = dec.decode(frame, number)
            out.append((pkt, writer.row(pkt, clock)))
    return out


def frame_excuses(pkt, retransmitted: bool) -> dict[str, str]:
    """Field prefix -> rule name, for the known frame-level differences."""
    out = {}
    ftp = pkt.layer("ftp")
    if ftp is not None and len(ftp.value.get("lines") or ()) > 1:
        out["ftp."] = "ftp-lines"
    if retransmitted:
        out["ftp."] = out["http."] = "retransmission"
    dns = pkt.layer("dns")
    if dns is not None and dns.status != OK:
        out["dns."] = "dns-cut"
    return out


@lru_cache(maxsize=None)
def compare(rel: str):
    """{field: Counter(agree/known/differ/missing/extra)} and examples of the unexplained."""
    path = CORPUS / rel
    theirs, ours = tshark_rows(path), our_rows(path)
    assert len(theirs) == len(ours), f"{rel}: tshark printed {len(theirs)} frames, we decoded {len(ours)}"
    names = field_names()
    stats: dict[str, Counter] = defaultdict(Counter)
    problems = []
    for number, ((pkt, mine), row) in enumerate(zip(ours, theirs), 1):
        retransmitted = bool(row[0] or row[1])
        excuses = frame_excuses(pkt, retransmitted)
        for name, x, y in zip(names, mine, row[2:]):
            if not x and not y:
                continue
            kind = "agree" if x == y else "differ" if x and y else "missing" if y else "extra"
            if kind != "agree":
                known = KNOWN_FIELDS.get(name)
                if (known and known[0] == kind) or any(name.startswith(p) for p in excuses):
                    kind = "known"
            stats[name][kind] += 1
            if kind in ("differ", "missing", "extra"):
                problems.append(f"{rel} frame {number} {name} ({kind}): ours {x!r} tshark {y!r}")
    return stats, problems


needs = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")


@needs
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.rsplit("/", 1)[-1])
def test_fields_agree_with_tshark(capture):
    if not (CORPUS / capture).exists():
        pytest.skip(f"{capture}: capture not present")
    stats, problems = compare(capture)
    if capture == FUZZED:
        return                  # fuzzed octets: the figures are reported, not asserted
    assert not problems, f"{len(problems)} unexplained differences:\n" + "\n".join(problems[:25])


@needs
def test_every_app_protocol_is_compared():
    """The captures exercise every protocol and most of the fields tshark shares with us."""
    present = [c for c in CAPTURES if (CORPUS / c).exists()]
    if not present:
        pytest.skip("captures not present")
    seen = set()
    for capture in present:
        if capture != FUZZED:
            stats, _ = compare(capture)
            seen |= {name for name, c in stats.items() if c["agree"]}
    for prefix in ("dns.", "ftp.", "http.", "ntp."):
        assert any(n.startswith(prefix) for n in seen), prefix
    for name in ("dns.qry.name", "dns.a", "dns.aaaa", "dns.cname", "dns.soa.mname", "dns.length",
                 "ftp.request.command", "ftp.response.code", "ftp.passive.port", "ftp.epsv.port",
                 "ftp.eprt.port", "ftp.active.port", "http.request.method", "http.response.code",
                 "http.host", "http.request.line", "ntp.stratum"):
        assert name in seen, f"{name}: never agreed with tshark on the corpus"


def report() -> str:
    totals: dict[str, Counter] = defaultdict(Counter)
    lines = []
    for capture in CAPTURES:
        if not (CORPUS / capture).exists():
            continue
        stats, problems = compare(capture)
        cap = Counter()
        for name, c in stats.items():
            cap.update(c)
            if capture != FUZZED:
                totals[name].update(c)
        lines.append(f"{capture}: " + ", ".join(f"{k} {cap[k]}" for k in ("agree", "known", "differ", "missing", "extra")))
    lines.append("")
    lines.append(f"{'field':36} {'agree':>6} {'known':>6} {'differ':>6} {'missing':>7} {'extra':>6}")
    grand = Counter()
    for name in sorted(totals):
        c = totals[name]
        grand.update(c)
        lines.append(f"{name:36} {c['agree']:6} {c['known']:6} {c['differ']:6} {c['missing']:7} {c['extra']:6}")
    cells = sum(grand.values())
    lines.append(f"total (fuzzed capture apart): {grand['agree']}/{cells} cells agree "
                 f"({100 * grand['agree'] / max(cells, 1):.2f}%), {grand['known']} known differences, "
                 f"{grand['differ'] + grand['missing'] + grand['extra']} unexplained")
    return "\n".join(lines)


if __name__ == "__main__":
    if TSHARK is None:
        print("tshark not installed")
    else:
        print(report())
