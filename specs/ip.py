"""Internet Protocol version 4 header — RFC 791 §3.1 (DSCP: RFC 2474 §3, ECN: RFC 3168 §5)."""
from enum import IntEnum

from construct import FixedSized, GreedyRange, Int8ub, Int16ub, Struct, this

from decoder.checksum import ChecksumRule
from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import Auto, Bit, BitFields, IPv4Address, Named
from specs._numbers import IpProto
from specs._tlv import TLV


class IpOption(IntEnum):
    """IPv4 option types (IANA "IP Option Numbers"; RFC 791 §3.1)."""
    EOL = 0
    NOP = 1
    RR = 7
    TS = 68
    SEC = 130
    LSRR = 131
    SID = 136
    SSRR = 137
    RTRALT = 148


ROUTE = Struct(
    "opt.ptr" / Int8ub * "Pointer to the next free route slot (RFC 791 §3.1)",
    "opt.route" / GreedyRange(IPv4Address()) * "Recorded or source-routed addresses (RFC 791 §3.1)",
)

OPTIONS = TLV(
    ("opt.type", Named(Int8ub, IpOption)), ("opt.len", Int8ub),
    {
        IpOption.RR: ROUTE,
        IpOption.LSRR: ROUTE,
        IpOption.SSRR: ROUTE,
        IpOption.RTRALT: Struct("opt.ra" / Int16ub * "Router Alert value, 0 = examine packet (RFC 2113 §2.1)"),
    },
    raw="opt.value", bare=(IpOption.EOL, IpOption.NOP), end=(IpOption.EOL,), padding="opt.padding",
)

LAYOUT = Struct(
    "vihl" / BitFields(
        Int8ub,
        Bit("version", 0xF0, "Version, 4 (RFC 791 §3.1)", default=4),
        Bit("hdr_len", 0x0F, "Header length in octets; the header carries it in 32-bit words (RFC 791 §3.1: IHL)",
            default=20 + OPTIONS.size(this.options), scale=4),
    ),
    "tos" / BitFields(
        Int8ub,
        Bit("dsfield", 0xFF, "Differentiated Services field, formerly Type of Service (RFC 2474 §3)"),
        Bit("dsfield.dscp", 0xFC, "Differentiated Services Codepoint (RFC 2474 §3)"),
        Bit("dsfield.ecn", 0x03, "Explicit Congestion Notification (RFC 3168 §5)"),
    ),
    "len" / Auto(Int16ub, this.vihl.hdr_len + this._params.payload_len) * "Total length of the datagram in octets (RFC 791 §3.1)",
    "id" / Int16ub * "Identification, shared by all fragments of a datagram (RFC 791 §3.1)",
    "frag" / BitFields(
        Int16ub,
        Bit("flags", 0xE000, "Flags (RFC 791 §3.1)"),
        Bit("flags.rb", 0x8000, "Reserved bit, must be zero (RFC 791 §3.1)"),
        Bit("flags.df", 0x4000, "Don't fragment (RFC 791 §3.1)"),
        Bit("flags.mf", 0x2000, "More fragments (RFC 791 §3.1)"),
        Bit("frag_offset", 0x1FFF, "Fragment offset in 8-octet units (RFC 791 §3.1)"),
    ),
    "ttl" / Int8ub * "Time to live (RFC 791 §3.1)",
    "proto" / Named(Int8ub, IpProto) * "Protocol of the payload (RFC 791 §3.1; IANA protocol numbers)",
    "checksum" / Auto(Int16ub, 0) * "Header checksum (RFC 791 §3.1; RFC 1071)",
    "src" / IPv4Address() * "Source address (RFC 791 §3.1)",
    "dst" / IPv4Address() * "Destination address (RFC 791 §3.1)",
    "options" / FixedSized(this.vihl.hdr_len - 20, OPTIONS) * "Options (RFC 791 §3.1)",
)


def summary(layer):
    """tshark's Info when IPv4 is the top layer: a fragment whose datagram is not (yet)
    decoded says so, with the protocol, octet offset and identification."""
    g = layer.get
    proto = g("proto")
    if g("flags.mf") or g("frag_offset"):
        name = IpProto(proto).name if proto in IpProto._value2member_map_ else "Unknown"
        return f"Fragmented IP protocol (proto={name} {int(proto)}, off={g('frag_offset') * 8}, ID={g('id'):04x})"
    return f"{g('src')} → {g('dst')} proto={proto!s} ttl={g('ttl')}"


PROTOCOL = Protocol(
    name="ip",
    title="Internet Protocol Version 4",
    ref="RFC 791 §3.1",
    layout=LAYOUT,
    binds=[Bind("ethertype", 0x0800), Bind("linktype", 228), Bind("ip.proto", 4),
           Bind("ppp.protocol", 0x0021), Bind("icmp.type", 3, 4, 5, 11, 12), Bind("null.family", 2)],
    dispatch=[Dispatch("ip.proto", this.proto, when=this.frag.frag_offset == 0)],
    payload_length=this.len - this.vihl.hdr_len,
    checksums=[ChecksumRule("checksum", offset=10, covers="header")],
    summary=summary,
    source="src",
    destination="dst",
    column="IPv4",
    virtual=[Virtual("addr", "Source or destination address", either=("src", "dst"))],
)
