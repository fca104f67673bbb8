"""Internet Control Message Protocol for IPv6 — RFC 4443 (Neighbor Discovery: RFC 4861;
MLD: RFC 2710, MLDv2: RFC 3810; RA DNS options: RFC 8106).

Error messages (types 1-4) carry as much of the invoking packet as fits: it decodes
as ordinary layers after this one (``icmpv6.type`` table, marked ``quoted``).  For
Neighbor Discovery and MLD the whole message, options included, is the header.
"""
from enum import IntEnum

from construct import Array, Bytes, GreedyRange, IfThenElse, Int8ub, Int16ub, Int32ub, Struct, Switch, this

from decoder.checksum import ChecksumRule, network_layer
from decoder.packet import flatten
from decoder.protocol import Bind, Dispatch, Protocol
from specs._fields import Auto, Bit, BitFields, IPv6Address, MacAddress, Named
from specs._tlv import TLV


class Icmpv6Type(IntEnum):
    """ICMPv6 message types (IANA "ICMPv6 Type Numbers"; RFC 4443 §2.1)."""
    DestinationUnreachable = 1
    PacketTooBig = 2
    TimeExceeded = 3
    ParameterProblem = 4
    EchoRequest = 128
    EchoReply = 129
    MulticastListenerQuery = 130
    MulticastListenerReport = 131
    MulticastListenerDone = 132
    RouterSolicitation = 133
    RouterAdvertisement = 134
    NeighborSolicitation = 135
    NeighborAdvertisement = 136
    Redirect = 137
    RouterRenumbering = 138
    NodeInformationQuery = 139
    NodeInformationReply = 140
    MulticastListenerReportV2 = 143


class NdOption(IntEnum):
    """Neighbor Discovery option types (IANA "IPv6 Neighbor Discovery Option Formats")."""
    SourceLinkLayerAddress = 1
    TargetLinkLayerAddress = 2
    PrefixInformation = 3
    RedirectedHeader = 4
    MTU = 5
    AdvertisementInterval = 7
    HomeAgentInformation = 8
    Nonce = 14
    RouteInformation = 24
    RecursiveDnsServer = 25
    DnsSearchList = 31


class MldRecordType(IntEnum):
    """MLDv2 multicast address record types (RFC 3810 §5.2.12)."""
    Include = 1
    Exclude = 2
    ChangeToInclude = 3
    ChangeToExclude = 4
    AllowNewSources = 5
    BlockOldSources = 6


# Wireshark's names (Info column)
TYPE_NAMES = {
    1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded", 4: "Parameter Problem",
    100: "Private experimentation", 101: "Private experimentation",
    127: "Reserved for expansion of ICMPv6 error messages",
    128: "Echo (ping) request", 129: "Echo (ping) reply", 130: "Multicast Listener Query",
    131: "Multicast Listener Report", 132: "Multicast Listener Done", 133: "Router Solicitation",
    134: "Router Advertisement", 135: "Neighbor Solicitation", 136: "Neighbor Advertisement", 137: "Redirect",
    138: "Router Renumbering", 139: "Node Information Query", 140: "Node Information Reply",
    141: "Inverse Neighbor Discovery Solicitation", 142: "Inverse Neighbor Discovery Advertisement",
    143: "Multicast Listener Report Message v2", 144: "Home Agent Address Discovery Request",
    145: "Home Agent Address Discovery Reply", 146: "Mobile Prefix Solicitation",
    147: "Mobile Prefix Advertisement", 148: "Certification Path Solicitation",
    149: "Certification Path Advertisement", 150: "Experimental Mobility",
    151: "Multicast Router Advertisement", 152: "Multicast Router Solicitation",
    153: "Multicast Router Termination", 154: "FMIPv6", 155: "RPL Control",
    200: "Private experimentation", 201: "Private experimentation",
    255: "Reserved for expansion of ICMPv6 informational messages",
}

CODE_NAMES = {
    1: {0: "no route to destination", 1: "Administratively prohibited", 2: "Beyond scope of source address",
        3: "Address unreachable", 4: "Port unreachable", 5: "Source address failed ingress/egress policy",
        6: "Reject route to destination", 7: "Error in Source Routing Header"},
    3: {0: "hop limit exceeded in transit", 1: "fragment reassembly time exceeded"},
    4: {0: "erroneous header field encountered", 1: "unrecognized Next Header type encountered",
        2: "unrecognized IPv6 option encountered"},
}


LINK_ADDRESS = Struct("lladdr" / IfThenElse(
    this._._length == 1,        # 8 octets: a 6-octet IEEE 802 address (RFC 2464 §6)
    Struct("opt.linkaddr" / MacAddress() * "Link-layer address, an IEEE 802 MAC address (RFC 4861 §4.6.1)"),
    Struct("opt.linkaddr" / Bytes(this._._._length * 8 - 2) * "Link-layer address (RFC 4861 §4.6.1)"),
) * "Link-layer address (RFC 4861 §4.6.1)")

NDP_OPTIONS = TLV(
    ("opt.type", Named(Int8ub, NdOption)), ("opt.length", Int8ub),
    {
        NdOption.SourceLinkLayerAddress: LINK_ADDRESS,
        NdOption.TargetLinkLayerAddress: LINK_ADDRESS,
        NdOption.PrefixInformation: Struct(
            "opt.prefix.length" / Int8ub * "Prefix length in bits (RFC 4861 §4.6.2)",
            "pflags" / BitFields(
                Int8ub,
                Bit("opt.prefix.flag", 0xFF, "Flags (RFC 4861 §4.6.2)"),
                Bit("opt.prefix.flag.l", 0x80, "On-link (RFC 4861 §4.6.2)"),
                Bit("opt.prefix.flag.a", 0x40, "Autonomous address configuration (RFC 4861 §4.6.2)"),
                Bit("opt.prefix.flag.r", 0x20, "Router address (RFC 6275 §7.2)"),
                Bit("opt.prefix.flag.reserved", 0x1F, "Reserved (RFC 4861 §4.6.2)"),
            ),
            "opt.prefix.valid_lifetime" / Int32ub * "Valid lifetime in seconds, all ones = infinity (RFC 4861 §4.6.2)",
            "opt.prefix.preferred_lifetime" / Int32ub * "Preferred lifetime in seconds (RFC 4861 §4.6.2)",
            "opt.reserved" / Bytes(4) * "Reserved (RFC 4861 §4.6.2)",
            "opt.prefix" / IPv6Address() * "Prefix (RFC 4861 §4.6.2)",
        ),
        NdOption.RedirectedHeader: Struct(
            "opt.reserved" / Bytes(6) * "Reserved (RFC 4861 §4.6.3)",
            "opt.redirected_packet" / Bytes(this._._length * 8 - 8) * "Start of the redirected packet (RFC 4861 §4.6.3)",
        ),
        NdOption.MTU: Struct(
            "opt.reserved" / Bytes(2) * "Reserved (RFC 4861 §4.6.4)",
            "opt.mtu" / Int32ub * "Link MTU (RFC 4861 §4.6.4)",
        ),
        NdOption.AdvertisementInterval: Struct(
            "opt.reserved" / Bytes(2) * "Reserved (RFC 6275 §7.3)",
            "opt.advertisement_interval" / Int32ub * "Maximum time between unsolicited advertisements, ms (RFC 6275 §7.3)",
        ),
        NdOption.HomeAgentInformation: Struct(
            "opt.reserved" / Bytes(2) * "Reserved (RFC 6275 §7.4)",
            "opt.home_agent_preference" / Int16ub * "Home agent preference (RFC 6275 §7.4)",
            "opt.home_agent_lifetime" / Int16ub * "Home agent lifetime in seconds (RFC 6275 §7.4)",
        ),
        NdOption.Nonce: Struct("opt.nonce" / Bytes(this._._length * 8 - 2) * "Nonce (RFC 3971 §5.3.2)"),
        NdOption.RecursiveDnsServer: Struct(
            "opt.reserved" / Bytes(2) * "Reserved (RFC 8106 §5.1)",
            "opt.rdnss.lifetime" / Int32ub * "Lifetime in seconds (RFC 8106 §5.1)",
            "opt.rdnss" / GreedyRange(IPv6Address()) * "Recursive DNS server addresses (RFC 8106 §5.1)",
        ),
        NdOption.DnsSearchList: Struct(
            "opt.reserved" / Bytes(2) * "Reserved (RFC 8106 §5.2)",
            "opt.dnssl.lifetime" / Int32ub * "Lifetime in seconds (RFC 8106 §5.2)",
            "opt.dnssl.raw" / Bytes(this._._length * 8 - 8) * "Domain names in DNS wire form, zero-padded (RFC 8106 §5.2; RFC 1035 §3.1)",
        ),
    },
    raw="data", unit=8, counts_header=True,
)

RESERVED = Struct("reserved" / Bytes(4) * "Unused, zero (RFC 4443 §3)")
ECHO = Struct(
    "echo.identifier" / Int16ub * "Identifier, matches replies to requests (RFC 4443 §4.1)",
    "echo.sequence_number" / Int16ub * "Sequence number (RFC 4443 §4.1)",
)
MLD = Struct(
    "mld.maximum_response_delay" / Int16ub * "Maximum response delay in ms (RFC 2710 §3.4)",
    "reserved" / Bytes(2) * "Reserved (RFC 2710 §3.5)",
    "mld.multicast_address" / IPv6Address() * "Multicast address (RFC 2710 §3.6)",
)
MLD_QUERY = Struct(
    "mld.maximum_response_code" / Int16ub * "Maximum response code; MLDv1: delay in ms (RFC 3810 §5.1.3)",
    "reserved" / Bytes(2) * "Reserved (RFC 3810 §5.1)",
    "mld.multicast_address" / IPv6Address() * "Multicast address, :: for a general query (RFC 3810 §5.1.5)",
    "v2" / GreedyRange(Struct(
        "mflags" / BitFields(
            Int8ub,
            Bit("mld.flag", 0xFF, "Flags (RFC 3810 §5.1)"),
            Bit("mld.flag.reserved", 0xF0, "Reserved (RFC 3810 §5.1)"),
            Bit("mld.flag.s", 0x08, "Suppress router-side processing (RFC 3810 §5.1.7)"),
            Bit("mld.flag.qrv", 0x07, "Querier's robustness variable (RFC 3810 §5.1.8)"),
        ),
        "mld.qqi" / Int8ub * "Querier's query interval code (RFC 3810 §5.1.9)",
        "mld.nb_sources" / Int16ub * "Number of sources (RFC 3810 §5.1.10)",
        "mld.source_address" / Array(this["mld.nb_sources"], IPv6Address()) * "Source addresses (RFC 3810 §5.1.11)",
    )) * "MLDv2 part, absent from an MLDv1 query (RFC 3810 §5.1, §8.1)",
)
MLD_REPORT_V2 = Struct(
    "reserved" / Bytes(2) * "Reserved (RFC 3810 §5.2)",
    "mldr.nb_mcast_records" / Int16ub * "Number of multicast address records (RFC 3810 §5.2.2)",
    "records" / Array(this["mldr.nb_mcast_records"], Struct(
        "mldr.mar.record_type" / Named(Int8ub, MldRecordType) * "Record type (RFC 3810 §5.2.12)",
        "mldr.mar.aux_data_len" / Int8ub * "Auxiliary data length in 32-bit words (RFC 3810 §5.2.6)",
        "mldr.mar.nb_sources" / Int16ub * "Number of sources (RFC 3810 §5.2.7)",
        "mldr.mar.multicast_address" / IPv6Address() * "Multicast address (RFC 3810 §5.2.8)",
        "mldr.mar.source_address" / Array(this["mldr.mar.nb_sources"], IPv6Address()) * "Source addresses (RFC 3810 §5.2.9)",
        "aux" / IfThenElse(this["mldr.mar.aux_data_len"] > 0, Struct(
            "mldr.mar.auxiliary_data" / Bytes(this._["mldr.mar.aux_data_len"] * 4) * "Auxiliary data (RFC 3810 §5.2.10)",
        ), Struct()),
    )) * "Multicast address records (RFC 3810 §5.2)",
)

LAYOUT = Struct(
    "type" / Named(Int8ub, Icmpv6Type) * "Message type; below 128 an error (RFC 4443 §2.1)",
    "code" / Int8ub * "Code, refines the type (RFC 4443 §2.1)",
    "checksum" / Auto(Int16ub, 0) * "Checksum over the IPv6 pseudo-header and the message (RFC 4443 §2.3)",
    "body" / Switch(this.type, {
        Icmpv6Type.DestinationUnreachable: RESERVED,
        Icmpv6Type.PacketTooBig: Struct("mtu" / Int32ub * "MTU of the next-hop link (RFC 4443 §3.2)"),
        Icmpv6Type.TimeExceeded: RESERVED,
        Icmpv6Type.ParameterProblem: Struct(
            "pointer" / Int32ub * "Octet offset in the invoking packet where the error was found (RFC 4443 §3.4)"),
        Icmpv6Type.EchoRequest: ECHO,
        Icmpv6Type.EchoReply: ECHO,
        Icmpv6Type.MulticastListenerQuery: MLD_QUERY,
        Icmpv6Type.MulticastListenerReport: MLD,
        Icmpv6Type.MulticastListenerDone: MLD,
        Icmpv6Type.MulticastListenerReportV2: MLD_REPORT_V2,
        Icmpv6Type.RouterSolicitation: Struct(
            "reserved" / Bytes(4) * "Reserved (RFC 4861 §4.1)",
            "options" / NDP_OPTIONS * "Options (RFC 4861 §4.1)",
        ),
        Icmpv6Type.RouterAdvertisement: Struct(
            "nd.ra.cur_hop_limit" / Int8ub * "Hop limit hosts should use, 0 = unspecified (RFC 4861 §4.2)",
            "raflags" / BitFields(
                Int8ub,
                Bit("nd.ra.flag", 0xFF, "Flags (RFC 4861 §4.2)"),
                Bit("nd.ra.flag.m", 0x80, "Managed address configuration (RFC 4861 §4.2)"),
                Bit("nd.ra.flag.o", 0x40, "Other configuration (RFC 4861 §4.2)"),
                Bit("nd.ra.flag.h", 0x20, "Home agent (RFC 6275 §7.1)"),
                Bit("nd.ra.flag.prf", 0x18, "Default router preference (RFC 4191 §2.2)"),
                Bit("nd.ra.flag.p", 0x04, "Proxy (RFC 4389 §4.1.3.3)"),
                Bit("nd.ra.flag.rsv", 0x03, "Reserved (RFC 4861 §4.2)"),
            ),
            "nd.ra.router_lifetime" / Int16ub * "Router lifetime in seconds, 0 = not a default router (RFC 4861 §4.2)",
            "nd.ra.reachable_time" / Int32ub * "Reachable time in ms (RFC 4861 §4.2)",
            "nd.ra.retrans_timer" / Int32ub * "Retransmission timer in ms (RFC 4861 §4.2)",
            "options" / NDP_OPTIONS * "Options (RFC 4861 §4.2)",
        ),
        Icmpv6Type.NeighborSolicitation: Struct(
            "reserved" / Bytes(4) * "Reserved (RFC 4861 §4.3)",
            "nd.ns.target_address" / IPv6Address() * "Address whose link-layer address is sought (RFC 4861 §4.3)",
            "options" / NDP_OPTIONS * "Options (RFC 4861 §4.3)",
        ),
        Icmpv6Type.NeighborAdvertisement: Struct(
            "naflags" / BitFields(
                Int32ub,
                Bit("nd.na.flag", 0xFFFFFFFF, "Flags (RFC 4861 §4.4)"),
                Bit("nd.na.flag.r", 0x80000000, "Router (RFC 4861 §4.4)"),
                Bit("nd.na.flag.s", 0x40000000, "Solicited (RFC 4861 §4.4)"),
                Bit("nd.na.flag.o", 0x20000000, "Override (RFC 4861 §4.4)"),
                Bit("nd.na.flag.rsv", 0x1FFFFFFF, "Reserved (RFC 4861 §4.4)"),
            ),
            "nd.na.target_address" / IPv6Address() * "Address the advertisement is about (RFC 4861 §4.4)",
            "options" / NDP_OPTIONS * "Options (RFC 4861 §4.4)",
        ),
        Icmpv6Type.Redirect: Struct(
            "reserved" / Bytes(4) * "Reserved (RFC 4861 §4.5)",
            "nd.rd.target_address" / IPv6Address() * "Better first hop for the destination (RFC 4861 §4.5)",
            "rd.na.destination_address" / IPv6Address() * "Destination being redirected (RFC 4861 §4.5)",
            "options" / NDP_OPTIONS * "Options (RFC 4861 §4.5)",
        ),
    }, default=Struct()) * "Message body, by type (RFC 4443 §2.1)",
)


def _option_value(layer, kind, field):
    """``field`` of the first NDP option of type ``kind`` in this message."""
    for opt in _options(layer):
        if int(opt["opt.type"]) == kind:
            values = flatten(opt).get(field)
            return values[0] if values else None
    return None


def _options(layer):
    body = layer.value.get("body")
    return (body.get("options") or ()) if isinstance(body, dict) else ()


def summary(layer):
    g = layer.get
    kind, code = int(g("type")), g("code")
    text = TYPE_NAMES.get(kind, "Unknown ICMP (obsolete or malformed?)")
    codes = CODE_NAMES.get(kind)
    if codes is not None:
        text += f" ({codes.get(code, 'Unknown')})"
    if kind in (128, 129):
        text += f" id={g('echo.identifier'):#06x}, seq={g('echo.sequence_number')}"
        net = network_layer(layer)
        if net is not None and net.proto.name == "ipv6":
            text += f", hop limit={net.get('hlim')}"
    elif kind == 135:
        text += f" for {g('nd.ns.target_address')}"
    elif kind == 136:
        flags = [label for name, label in (("nd.na.flag.r", "rtr"), ("nd.na.flag.s", "sol"), ("nd.na.flag.o", "ovr"))
                 if g(name)]
        text += f" {g('nd.na.target_address')} ({', '.join(flags)})"
    if kind in (133, 134, 135):
        source = _option_value(layer, NdOption.SourceLinkLayerAddress, "opt.linkaddr")
        if isinstance(source, str):                             # an IEEE 802 address, as Wireshark
            text += f" from {source}"
    elif kind in (136, 137):
        target = _option_value(layer, NdOption.TargetLinkLayerAddress, "opt.linkaddr")
        if isinstance(target, str):
            text += f" is at {target}"
    return text


PROTOCOL = Protocol(
    name="icmpv6",
    title="Internet Control Message Protocol v6",
    ref="RFC 4443",
    layout=LAYOUT,
    binds=[Bind("ip.proto", 58)],
    dispatch=[Dispatch("icmpv6.type", this.type)],
    checksums=[ChecksumRule("checksum", offset=2, pseudo=58, verify_quoted=False)],
    summary=summary,
    quotes=True,
    column="ICMPv6",
)
