"""Differential test of the access protocols (PPPoE, PPP, LCP, PAP, CHAP, IPCP, IPV6CP, RADIUS)
against tshark, over the public captures that carry them (../shared/captures, INDEX.md).

One ``tshark -2 -T json`` call per capture.  In every frame where our stack reaches one of these
protocols, every field whose name tshark also knows (``tshark -G fields``) and that one of
these specs (or the access checks' annotations) can produce is compared, value by value (the
multiset of its occurrences in the frame).  Frames our stack does not reach yet (a link layer
not written) are counted, not compared.

Known, documented differences (each listed with its reason in KNOWN below) are counted apart;
everything else must agree.  ``python tests/test_access_vs_tshark.py`` prints the figures.
"""
from __future__ import annotations

import calendar
import ipaddress
import json
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from enum import IntEnum
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from decoder.capture import open_capture  # noqa: E402
from decoder.packet import Decoder  # noqa: E402
from decoder.registry import Registry  # noqa: E402
from tshark_compare import tshark_types  # noqa: E402
from expert.radius_check import ACCESS_FIELDS, AccessCheck  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "captures"
TSHARK = shutil.which("tshark")

MINE = ("pppoed", "pppoes", "ppp", "lcp", "pap", "chap", "ipcp", "ipv6cp", "radius")

CAPTURES = [
    "the-tcpdump-group+tcpdump/tests/pppoe.pcap",
    "the-tcpdump-group+tcpdump/tests/pppoes.pcap",
    "the-tcpdump-group+tcpdump/tests/RADIUS.pcap",
    "the-tcpdump-group+tcpdump/tests/RADIUS-RFC5176.pcap",
    "the-tcpdump-group+tcpdump/tests/RADIUS-RFC4675.pcap",
    "the-tcpdump-group+tcpdump/tests/radius_rfc5447_invalid_length.pcap",
    "zeek+zeek/testing/btest/Traces/pppoe.pcap",
    "zeek+zeek/testing/btest/Traces/pppoe-over-qinq.pcap",
    "zeek+zeek/testing/btest/Traces/radius/radius_localhost.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/PPPoEDiscovery.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/PPPoESession.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/radius_1_2_11.pcap",
    "seladb+PcapPlusPlus/Tests/Packet++Test/PacketExamples/radius_3.pcap",
    "dotpcap+packetnet/Test/CaptureFiles/PPPoEPPP.pcap",
    "ntop+nDPI/tests/cfgs/default/pcap/dlt_ppp.pcap",
]

#: field -> why it may differ from tshark (counted apart, not failures)
KNOWN = {
    # Wireshark adds pppoed.tag / pppoed.tag_length only for tags it does not know
    "pppoed.tag": "Wireshark shows the tag type only for unknown tags",
    "pppoed.tag_length": "Wireshark shows the tag length only for unknown tags",
    # Wireshark fills the hyphenated twins (radius.Framed-IP-Address, ...) and radius.eap_fragment,
    # never the dictionary-named fields; both are given here (see specs/radius.py)
    "radius.Framed_IP_Address": "Wireshark fills only radius.Framed-IP-Address",
    "radius.Login_IP_Host": "Wireshark fills only radius.Login-IP-Host",
    "radius.Framed_IPX_Network": "Wireshark fills only radius.Framed-IPX-Network",
    "radius.EAP_Message": "Wireshark fills only radius.eap_fragment",
    # RFC 4675: Wireshark splits these into egress_vlanid* / egress_vlan_name*
    "radius.Egress_VLANID": "Wireshark fills only radius.egress_vlanid*",
    "radius.Egress_VLAN_Name": "Wireshark fills only radius.egress_vlan_name*",
}


@lru_cache(maxsize=1)
def registry():
    return Registry.default()


def our_names(reg) -> set[str]:
    """Every full field name the access specs (and checks) can produce."""
    names = set(ACCESS_FIELDS)
    for name in MINE:
        p = reg.protocols[name]
        names.update(f"{p.namespace}.{rel}" for rel in p.field_names)
        names.update(p.aliases.values())
    return names


# --- normalisation: tshark's JSON text and our values to comparable values -------------------

def _time(text: str):
    # "Dec 22, 2019 23:45:04.000000000 UTC"
    stamp = text.rsplit(" ", 1)[0].split(".")[0]
    return calendar.timegm(time.strptime(stamp, "%b %d, %Y %H:%M:%S"))


def norm_tshark(ftype: str, text: str):
    if ftype == "FT_NONE":
        return True
    if ftype.startswith(("FT_UINT", "FT_INT", "FT_FRAMENUM", "FT_IPXNET", "FT_CHAR")) and not ftype.startswith("FT_UINT_"):
        return int(text, 0)
    if ftype == "FT_BOOLEAN":
        return int(text)
    if ftype in ("FT_BYTES", "FT_UINT_BYTES", "FT_ETHER"):
        return bytes.fromhex(text.replace(":", ""))
    if ftype in ("FT_IPv4", "FT_IPv6"):
        return ipaddress.ip_address(text)
    if ftype == "FT_ABSOLUTE_TIME":
        return _time(text)
    if ftype in ("FT_RELATIVE_TIME", "FT_DOUBLE", "FT_FLOAT"):
        return round(float(text), 6)
    return text


def norm_ours(ftype: str, value):
    if ftype == "FT_NONE":
        return True
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, IntEnum):
        return int(value)
    if ftype in ("FT_IPv4", "FT_IPv6") and isinstance(value, str):
        return ipaddress.ip_address(value)
    if ftype == "FT_ETHER" and isinstance(value, str):
        return bytes.fromhex(value.replace(":", ""))
    if ftype in ("FT_RELATIVE_TIME", "FT_DOUBLE", "FT_FLOAT"):
        return round(float(value), 6)
    if isinstance(value, str) and type(value) is not str:
        return str(value)
    return value


def tshark_frames(path: Path) -> list[dict[str, list[str]]]:
    # two passes (-2): a request's radius.rspframe is known, as after our analysis stage
    out = subprocess.run([TSHARK, "-2", "-r", str(path), "-T", "json", "--no-duplicate-keys"],
                         capture_output=True, text=True, check=True).stdout
    frames = []
    for pkt in json.loads(out):
        fields: dict[str, list[str]] = defaultdict(list)

        def walk(obj):
            if isinstance(obj, dict):
                for k, v in obj.items():
                    if isinstance(v, str):
                        fields[k].append(v)
                    elif isinstance(v, list) and all(isinstance(x, str) for x in v):
                        fields[k].extend(v)
                    else:
                        walk(v)
            elif isinstance(obj, list):
                for x in obj:
                    walk(x)
        walk(pkt["_source"]["layers"])
        frames.append(fields)
    return frames


def our_frames(path: Path):
    """(reached, fields) per frame: whether an access layer was decoded, and its fields."""
    reg = registry()
    dec = Decoder(reg)
    check = AccessCheck()
    out = []
    with open_capture(path) as cap:
        for number, frame in enumerate(cap, 1):
            pkt = dec.decode(frame, number)
            check.process(pkt)
            out.append(pkt)
    frames = []
    for pkt in out:
        fields: dict[str, list] = defaultdict(list)
        reached = False
        for layer in pkt.layers:
            if layer.proto.name not in MINE:
                continue
            reached = True
            for rel, values in layer.flat().items():
                fields[layer.proto.full_name(rel)].extend(values)
        for name, values in (pkt.extra or {}).items():
            fields[name].extend(values)
        frames.append((reached, fields))
    return frames


def compare(path: Path):
    """Per-field figures for one capture: {field: [agree, differ, known]}, frames reached,
    frames total, and the first differences."""
    types = tshark_types()
    names = {n for n in our_names(registry()) if n in types}
    theirs = tshark_frames(path)
    ours = our_frames(path)
    assert len(theirs) == len(ours), f"{path.name}: tshark saw {len(theirs)} frames, we saw {len(ours)}"
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    diffs = []
    reached = 0
    for number, ((hit, mine), tsh) in enumerate(zip(ours, theirs), 1):
        if not hit:
            continue
        reached += 1
        for name in sorted((set(mine) | set(tsh)) & names):
            ftype = types[name]
            a = Counter(repr(norm_ours(ftype, v)) for v in mine.get(name, ()) if v not in ("", b""))
            b = Counter(repr(norm_tshark(ftype, v)) for v in tsh.get(name, ()) if v != "")
            if a == b:
                stats[name][0] += 1
            elif name in KNOWN:
                stats[name][2] += 1
            else:
                stats[name][1] += 1
                diffs.append(f"{path.name} frame {number} {name}: ours {sorted(a)} tshark {sorted(b)}")
    return stats, reached, len(ours), diffs


def _available():
    return [c for c in CAPTURES if (CORPUS / c).exists()]


needs = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")


@needs
@pytest.mark.parametrize("capture", CAPTURES)
def test_access_fields_agree_with_tshark(capture):
    path = CORPUS / capture
    if not path.exists():
        pytest.skip(f"{capture}: capture not present")
    stats, reached, total, diffs = compare(path)
    assert not diffs, "\n".join(diffs[:20])


def main():
    if TSHARK is None:
        print("tshark not installed")
        return
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for capture in _available():
        stats, reached, total, diffs = compare(CORPUS / capture)
        agree = sum(s[0] for s in stats.values())
        differ = sum(s[1] for s in stats.values())
        known = sum(s[2] for s in stats.values())
        print(f"{capture}: frames {reached}/{total} reached; field comparisons {agree} agree, "
              f"{differ} differ, {known} known differences")
        for d in diffs[:10]:
            print("   ", d)
        for k, s in stats.items():
            for i in range(3):
                totals[k][i] += s[i]
    agree = sum(s[0] for s in totals.values())
    differ = sum(s[1] for s in totals.values())
    known = sum(s[2] for s in totals.values())
    print(f"TOTAL: {len(totals)} fields, {agree} agree, {differ} differ, {known} known differences")
    for k, s in sorted(totals.items()):
        print(f"  {k}: {s[0]} agree, {s[1]} differ, {s[2]} known")


if __name__ == "__main__":
    main()
