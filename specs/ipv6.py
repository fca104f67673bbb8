"""Internet Protocol version 6 header and its extension headers — RFC 8200 §3, §4.

The extension headers are protocols of their own (as in Wireshark: ``ipv6.hopopts``,
``ipv6.routing``, ``ipv6.fraghdr``, ``ipv6.dstopts``), each bound in the ``ip.proto``
table that IPv6's Next Header shares with IPv4's Protocol.  Hop-by-Hop and Destination
Options share one layout (:func:`options_header`); their fields live in the ``ipv6``
filter namespace, so an option is ``ipv6.opt.type`` whichever header carries it.
"""
from enum import IntEnum

from construct import Array, Bytes, FixedSized, GreedyBytes, GreedyRange, Int8ub, Int16ub, Int32ub, Struct, Switch, this

from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import Auto, Bit, BitFields, IPv6Address, Named
from specs._numbers import IpProto
from specs._tlv import TLV


class Ipv6Option(IntEnum):
    """Hop-by-Hop and Destination option types (IANA "Destination Options and Hop-by-Hop
    Options"; RFC 8200 §4.2)."""
    Pad1 = 0x00
    PadN = 0x01
    TunnelEncapLimit = 0x04
    RouterAlert = 0x05
    CALIPSO = 0x07
    SMF_DPD = 0x08
    PDM = 0x0F
    QuickStart = 0x26
    RPL = 0x63
    JumboPayload = 0xC2
    HomeAddress = 0xC9


class RoutingType(IntEnum):
    """Routing header types (IANA "Routing Types"; RFC 8200 §4.4)."""
    SourceRoute = 0
    Nimrod = 1
    Type2 = 2
    RPL = 3
    SegmentRouting = 4
    CRH16 = 5
    CRH32 = 6


OPTIONS = TLV(
    ("opt.type", Named(Int8ub, Ipv6Option)), ("opt.length", Int8ub),
    {
        Ipv6Option.PadN: Struct("opt.padn" / GreedyBytes * "Padding octets, all zero (RFC 8200 §4.2)"),
        Ipv6Option.TunnelEncapLimit: Struct("opt.tel" / Int8ub * "Tunnel encapsulation limit (RFC 2473 §5.1)"),
        Ipv6Option.RouterAlert: Struct("opt.router_alert" / Int16ub * "Router Alert value, 0 = MLD (RFC 2711 §2.1)"),
        Ipv6Option.JumboPayload: Struct("opt.jumbo" / Int32ub * "Jumbo payload length (RFC 2675 §2)"),
        Ipv6Option.HomeAddress: Struct("opt.mipv6.home_address" / IPv6Address() * "Home address of the mobile node (RFC 6275 §6.3)"),
    },
    raw="opt.unknown", bare=(Ipv6Option.Pad1,), counts_header=False,
)


def options_header(kind: str) -> Struct:
    """Layout of a Hop-by-Hop (RFC 8200 §4.3) or Destination Options (§4.6) header; ``kind``
    (``"hopopts"``/``"dstopts"``) prefixes the header's own fields."""
    return Struct(
        f"{kind}.nxt" / Named(Int8ub, IpProto) * "Next header (RFC 8200 §4.3)",
        f"{kind}.len" / Auto(Int8ub, (2 + OPTIONS.size(this.options) + 7) // 8 - 1)
        * "Header length in 8-octet units, not counting the first 8 octets (RFC 8200 §4.3)",
        "options" / FixedSized(this[f"{kind}.len"] * 8 + 6, OPTIONS) * "Options, type-length-value (RFC 8200 §4.2)",
    )


LAYOUT = Struct(
    "vtf" / BitFields(
        Int32ub,
        Bit("version", 0xF0000000, "Version, 6 (RFC 8200 §3)", default=6),
        Bit("tclass", 0x0FF00000, "Traffic class (RFC 8200 §7)"),
        Bit("tclass.dscp", 0x0FC00000, "Differentiated Services Codepoint (RFC 2474 §3)"),
        Bit("tclass.ecn", 0x00300000, "Explicit Congestion Notification (RFC 3168 §5)"),
        Bit("flow", 0x000FFFFF, "Flow label (RFC 8200 §6; RFC 6437)"),
    ),
    "plen" / Auto(Int16ub, this._params.payload_len) * "Payload length: octets after this header, extension headers included (RFC 8200 §3)",
    "nxt" / Named(Int8ub, IpProto) * "Next header: an extension header or the upper-layer protocol (RFC 8200 §3)",
    "hlim" / Int8ub * "Hop limit (RFC 8200 §3)",
    "src" / IPv6Address() * "Source address (RFC 8200 §3)",
    "dst" / IPv6Address() * "Destination address (RFC 8200 §3)",
)

ROUTING = Struct(
    "nxt" / Named(Int8ub, IpProto) * "Next header (RFC 8200 §4.4)",
    "len" / Int8ub * "Header length in 8-octet units, not counting the first 8 octets (RFC 8200 §4.4)",
    "type" / Named(Int8ub, RoutingType) * "Routing type (RFC 8200 §4.4)",
    "segleft" / Int8ub * "Segments left: route segments still to visit (RFC 8200 §4.4)",
    "data" / FixedSized(this.len * 8 + 4, Switch(this.type, {
        RoutingType.SourceRoute: Struct(
            "src.reserved" / Bytes(4) * "Reserved (RFC 2460 §4.4, type 0, deprecated by RFC 5095)",
            "src.addr" / GreedyRange(IPv6Address()) * "Addresses to visit (RFC 2460 §4.4)",
        ),
        RoutingType.Type2: Struct(
            "mipv6.reserved" / Bytes(4) * "Reserved (RFC 6275 §6.4)",
            "mipv6.home_address" / IPv6Address() * "Home address of the mobile node (RFC 6275 §6.4)",
        ),
        RoutingType.SegmentRouting: Struct(
            "srh.last_entry" / Int8ub * "Index of the last segment list entry (RFC 8754 §2)",
            "srh.flags" / Int8ub * "Flags (RFC 8754 §2)",
            "srh.tag" / Bytes(2) * "Tag (RFC 8754 §2)",
            "srh.addr" / Array(this["srh.last_entry"] + 1, IPv6Address()) * "Segment list, last segment first (RFC 8754 §2)",
        ),
    }, default=Struct("unknown_data" / GreedyBytes * "Type-specific data (RFC 8200 §4.4)"))) * "Type-specific data (RFC 8200 §4.4)",
)

FRAGMENT = Struct(
    "nxt" / Named(Int8ub, IpProto) * "Next header of the fragmentable part (RFC 8200 §4.5)",
    "reserved_octet" / Int8ub * "Reserved (RFC 8200 §4.5)",
    "frag" / BitFields(
        Int16ub,
        Bit("offset", 0xFFF8, "Fragment offset in 8-octet units (RFC 8200 §4.5)"),
        Bit("reserved_bits", 0x0006, "Reserved (RFC 8200 §4.5)"),
        Bit("more", 0x0001, "More fragments follow (RFC 8200 §4.5: M flag)"),
    ),
    "ident" / Int32ub * "Identification, shared by the fragments of one packet (RFC 8200 §4.5)",
)


def _text(enum, value) -> str:
    """The enum's name for a value (prefix getters give plain ints), else the number."""
    try:
        return enum(int(value)).name
    except ValueError:
        return str(value)


def summary(layer):
    g = layer.get
    return f"{g('src')} → {g('dst')} nxt={_text(IpProto, g('nxt'))} hlim={g('hlim')}"


def options_summary(kind: str, title: str):
    def summary(layer):
        types = ", ".join(_text(Ipv6Option, t) for t in layer.get_all("opt.type"))
        return f"{title} nxt={_text(IpProto, layer.get(f'{kind}.nxt'))}" + (f" [{types}]" if types else "")
    return summary


def routing_summary(layer):
    g = layer.get
    return f"Routing Header type={_text(RoutingType, g('type'))} segleft={g('segleft')} nxt={_text(IpProto, g('nxt'))}"


def fragment_summary(layer):
    g = layer.get
    return (f"IPv6 fragment (off={g('offset') * 8} more={'y' if g('more') else 'n'} "
            f"ident={g('ident'):#010x} nxt={int(g('nxt'))})")


def final_destination(layer):
    """The packet's final destination while segments are left (RFC 8200 §4.4, §8.1)."""
    if not layer.get("segleft"):
        return None
    kind = layer.get("type")
    if kind == RoutingType.SourceRoute:
        addrs = layer.get_all("src.addr")
        return addrs[-1] if addrs else None
    if kind == RoutingType.Type2:
        return layer.get("mipv6.home_address")
    if kind == RoutingType.SegmentRouting:
        addrs = layer.get_all("srh.addr")
        return addrs[0] if addrs else None
    return None


PROTOCOL = Protocol(
    name="ipv6",
    title="Internet Protocol Version 6",
    ref="RFC 8200 §3",
    layout=LAYOUT,
    binds=[Bind("ethertype", 0x86DD), Bind("linktype", 229), Bind("ip.proto", 41),
           Bind("ppp.protocol", 0x0057), Bind("null.family", 24, 28, 30), Bind("icmpv6.type", 1, 2, 3, 4)],
    dispatch=[Dispatch("ip.proto", this.nxt)],
    payload_length=this.plen,
    summary=summary,
    source="src",
    destination="dst",
    column="IPv6",
    virtual=[Virtual("addr", "Source or destination address", either=("src", "dst"))],
)

HOPOPTS = Protocol(
    name="ipv6.hopopts",
    title="IPv6 Hop-by-Hop Option",
    ref="RFC 8200 §4.3",
    layout=options_header("hopopts"),
    binds=[Bind("ip.proto", 0)],
    dispatch=[Dispatch("ip.proto", this["hopopts.nxt"])],
    summary=options_summary("hopopts", "Hop-by-Hop Options"),
    column="IPv6",
    namespace="ipv6",
)

ROUTING_HEADER = Protocol(
    name="ipv6.routing",
    title="Routing Header for IPv6",
    ref="RFC 8200 §4.4",
    layout=ROUTING,
    binds=[Bind("ip.proto", 43)],
    dispatch=[Dispatch("ip.proto", this.nxt)],
    summary=routing_summary,
    column="IPv6",
    virtual=[Virtual("final_dst", "Final destination while segments are left, used in upper-layer "
                     "checksums (RFC 8200 §8.1)", fn=final_destination)],
)

FRAGMENT_HEADER = Protocol(
    name="ipv6.fraghdr",
    title="Fragment Header for IPv6",
    ref="RFC 8200 §4.5",
    layout=FRAGMENT,
    binds=[Bind("ip.proto", 44)],
    dispatch=[Dispatch("ip.proto", this.nxt, when=this.frag.offset == 0)],
    summary=fragment_summary,
    column="IPv6",
)

DSTOPTS = Protocol(
    name="ipv6.dstopts",
    title="Destination Options for IPv6",
    ref="RFC 8200 §4.6",
    layout=options_header("dstopts"),
    binds=[Bind("ip.proto", 60)],
    dispatch=[Dispatch("ip.proto", this["dstopts.nxt"])],
    summary=options_summary("dstopts", "Destination Options"),
    column="IPv6",
    namespace="ipv6",
)

PROTOCOLS = [PROTOCOL, HOPOPTS, ROUTING_HEADER, FRAGMENT_HEADER, DSTOPTS]
