"""Internet Control Message Protocol (ICMPv4) — RFC 792 (Next-Hop MTU: RFC 1191 §4;
router discovery: RFC 1256 §3; address mask: RFC 950 Appendix I).

The header is the 4 common octets plus a 4-octet body chosen by type (and, for
Destination Unreachable, by code), so its length never varies.  Error messages
(types 3, 4, 5, 11, 12) carry the invoking datagram: it decodes as ordinary layers
after this one, bound in the ``icmp.type`` table and marked ``quoted``.
"""
from enum import IntEnum

from construct import Bytes, IfThenElse, Int8ub, Int16ub, Struct, Switch, this

from decoder.checksum import ChecksumRule
from decoder.fastpath import Prefix
from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs import ip as ip_spec
from specs._fields import Auto, IPv4Address, Named


class IcmpType(IntEnum):
    """ICMP message types (IANA "ICMP Type Numbers"; RFC 792)."""
    EchoReply = 0
    DestinationUnreachable = 3
    SourceQuench = 4
    Redirect = 5
    AlternateHostAddress = 6
    Echo = 8
    RouterAdvertisement = 9
    RouterSolicitation = 10
    TimeExceeded = 11
    ParameterProblem = 12
    Timestamp = 13
    TimestampReply = 14
    InformationRequest = 15
    InformationReply = 16
    AddressMaskRequest = 17
    AddressMaskReply = 18
    Traceroute = 30
    Photuris = 40
    ExtendedEchoRequest = 42
    ExtendedEchoReply = 43


#: types that quote the datagram they complain about (RFC 792): unreachable, source
#: quench, redirect, time exceeded, parameter problem
ERRORS = frozenset((3, 4, 5, 11, 12))

# Wireshark's names (Info column and detail tree)
TYPE_NAMES = {
    0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench (flow control)",
    5: "Redirect", 6: "Alternate host address", 8: "Echo (ping) request", 9: "Router advertisement",
    10: "Router solicitation", 11: "Time-to-live exceeded", 12: "Parameter problem",
    13: "Timestamp request", 14: "Timestamp reply", 15: "Information request", 16: "Information reply",
    17: "Address mask request", 18: "Address mask reply", 19: "Reserved (for security)", 30: "Traceroute",
    31: "Datagram Conversion Error", 32: "Mobile Host Redirect", 33: "IPv6 Where-Are-You",
    34: "IPv6 I-Am-Here", 35: "Mobile Registration Request", 36: "Mobile Registration Reply",
    37: "Domain Name Request", 38: "Domain Name Reply", 39: "SKIP", 40: "Photuris",
    41: "Experimental mobility protocols", 42: "Extended Echo request", 43: "Extended Echo reply",
}

CODE_NAMES = {
    3: {0: "Network unreachable", 1: "Host unreachable", 2: "Protocol unreachable", 3: "Port unreachable",
        4: "Fragmentation needed", 5: "Source route failed", 6: "Destination network unknown",
        7: "Destination host unknown", 8: "Source host isolated", 9: "Network administratively prohibited",
        10: "Host administratively prohibited", 11: "Network unreachable for TOS",
        12: "Host unreachable for TOS", 13: "Communication administratively filtered",
        14: "Host precedence violation", 15: "Precedence cutoff in effect"},
    5: {0: "Redirect for network", 1: "Redirect for host", 2: "Redirect for TOS and network",
        3: "Redirect for TOS and host"},
    6: {0: "Alternate address for host"},
    9: {0: "Normal router advertisement", 16: "Does not route common traffic"},
    11: {0: "Time to live exceeded in transit", 1: "Fragment reassembly time exceeded"},
    12: {0: "Pointer indicates the error", 1: "Required option missing", 2: "Bad length"},
    40: {0: "Bad SPI", 1: "Authentication Failed", 2: "Decompression Failed", 3: "Decryption Failed",
         4: "Need Authentication", 5: "Need Authorization"},
}

ECHO = Struct(
    "ident" / Int16ub * "Identifier, matches replies to requests (RFC 792)",
    "seq" / Int16ub * "Sequence number (RFC 792)",
)
UNUSED = Struct("unused" / Bytes(4) * "Unused, zero (RFC 792)")

LAYOUT = Struct(
    "type" / Named(Int8ub, IcmpType) * "Message type (RFC 792)",
    "code" / Int8ub * "Code, refines the type (RFC 792)",
    "checksum" / Auto(Int16ub, 0) * "Checksum over the ICMP message (RFC 792; RFC 1071)",
    "body" / Switch(this.type, {
        IcmpType.EchoReply: ECHO,
        IcmpType.Echo: ECHO,
        IcmpType.Timestamp: ECHO,
        IcmpType.TimestampReply: ECHO,
        IcmpType.InformationRequest: ECHO,
        IcmpType.InformationReply: ECHO,
        IcmpType.AddressMaskRequest: ECHO,
        IcmpType.AddressMaskReply: ECHO,
        IcmpType.DestinationUnreachable: IfThenElse(this.code == 4, Struct(
            "unused" / Bytes(2) * "Unused, zero (RFC 1191 §4)",
            "mtu" / Int16ub * "Next-hop MTU, for code 4 (RFC 1191 §4)",
        ), UNUSED),
        IcmpType.SourceQuench: UNUSED,
        IcmpType.TimeExceeded: UNUSED,
        IcmpType.Redirect: Struct("redir_gw" / IPv4Address() * "Gateway to send the traffic to (RFC 792)"),
        IcmpType.ParameterProblem: Struct(
            "pointer" / Int8ub * "Octet of the quoted datagram where the error was found (RFC 792)",
            "unused" / Bytes(3) * "Unused, zero (RFC 792)",
        ),
        IcmpType.RouterAdvertisement: Struct(
            "num_addrs" / Int8ub * "Number of router addresses that follow (RFC 1256 §3)",
            "addr_entry_size" / Int8ub * "32-bit words per address entry, 2 (RFC 1256 §3)",
            "lifetime" / Int16ub * "Seconds the addresses stay valid (RFC 1256 §3)",
        ),
        IcmpType.RouterSolicitation: Struct("reserved" / Bytes(4) * "Reserved, zero (RFC 1256 §3)"),
    }, default=Struct("rest_of_header" / Bytes(4) * "Rest of the header of a type not decoded here (RFC 792)"))
    * "Rest of the header, by type (RFC 792)",
)


def _ipv4_octet_fields():
    """Octet offset -> the IPv4 field at that octet, from the ip spec's fixed prefix."""
    prefix = Prefix(ip_spec.LAYOUT)
    names = {}
    for f in prefix.fields:
        for k in range(f.size):
            if f.offset + k in names:
                continue
            if f.bit is not None and not f.bit.mask & (0xFF << 8 * (f.size - 1 - k)):
                continue        # this bit field has no bits in octet k of its word
            names[f.offset + k] = f"{ip_spec.PROTOCOL.name}.{f.name}"
    rest = prefix.rest[0].name if prefix.rest else None
    return names, prefix.size, rest


_IPV4_OCTETS, _IPV4_FIXED, _IPV4_REST = _ipv4_octet_fields()


def pointer_field(pointer):
    """The quoted IPv4 header field a Parameter Problem pointer designates (``ip.ttl``)."""
    if pointer in _IPV4_OCTETS:
        return _IPV4_OCTETS[pointer]
    if _IPV4_REST and _IPV4_FIXED <= pointer < 60:
        return f"{ip_spec.PROTOCOL.name}.{_IPV4_REST}"
    return None


def summary(layer):
    g = layer.get
    kind, code = int(g("type")), g("code")
    name = TYPE_NAMES.get(kind)
    if name is None:
        return "Unknown ICMP (obsolete or malformed?)"
    codes = CODE_NAMES.get(kind)
    if codes is not None:
        name += f" ({codes.get(code, 'Unknown code')})"
    ident = g("ident")
    if ident is not None:
        seq = g("seq")
        name += f" id={ident:#06x}, seq={seq}/{((seq & 0xFF) << 8) | (seq >> 8)}"
        if layer.parent is not None and layer.parent.proto.name == "ip":
            name += f", ttl={layer.parent.get('ttl')}"
    return name


PROTOCOL = Protocol(
    name="icmp",
    title="Internet Control Message Protocol",
    ref="RFC 792",
    layout=LAYOUT,
    binds=[Bind("ip.proto", 1)],
    dispatch=[Dispatch("icmp.type", this.type)],
    checksums=[ChecksumRule("checksum", offset=2, covers="layer", verify_quoted=False)],
    summary=summary,
    quotes=True,
    virtual=[Virtual("pointer.field", "Name of the quoted IPv4 header field the Parameter Problem "
                     "pointer designates (RFC 792)", of="pointer", fn=pointer_field)],
)
