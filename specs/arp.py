"""Address Resolution Protocol — RFC 826 (RARP: RFC 903; InARP: RFC 2390; opcodes: IANA
"Address Resolution Protocol (ARP) Parameters").

The four addresses have the sizes the header announces.  As in Wireshark, a hardware
address is a MAC (``src.hw_mac``) when the hardware type is Ethernet or IEEE 802 and
the size is 6, otherwise raw octets (``src.hw``); a protocol address is IPv4
(``src.proto_ipv4``) when the protocol type is IPv4 (or AX.25 IP, 0xcc) and the size is
4, otherwise raw octets (``src.proto``).  A size of 0 leaves the address out.  The ARP
message ends the frame's payload: anything after it (Ethernet padding) is trailer.
"""
from enum import IntEnum

from construct import Bytes, IfThenElse, Int8ub, Int16ub, Struct, this

from decoder.protocol import Bind, Protocol, Virtual
from specs._fields import IPv4Address, MacAddress, Named
from specs._numbers import EtherType, HardwareType


class Opcode(IntEnum):
    """ARP operation codes (IANA "Operation Codes"; RFC 826, RFC 903, RFC 2390, RFC 2176)."""
    request = 1
    reply = 2
    reverse_request = 3
    reverse_reply = 4
    drarp_request = 5
    drarp_reply = 6
    drarp_error = 7
    inverse_request = 8
    inverse_reply = 9
    arp_nak = 10
    mars_request = 11
    mars_multi = 12
    mars_mserv = 13
    mars_join = 14
    mars_leave = 15
    mars_nak = 16
    mars_unserv = 17
    mars_sjoin = 18
    mars_sleave = 19
    mars_grouplist_request = 20
    mars_grouplist_reply = 21
    mars_redirect_map = 22
    mapos_unarp = 23
    exp1 = 24
    exp2 = 25


# Wireshark's ARP_HW_IS_ETHER / ARP_PRO_IS_IPv4 (packet-arp.c)
HW_IS_MAC = (((this["hw.type"] == int(HardwareType.Ethernet)) | (this["hw.type"] == int(HardwareType.IEEE802)))
             & (this["hw.size"] == 6))
PROTO_IS_IPV4 = (((this["proto.type"] == int(EtherType.IPv4)) | (this["proto.type"] == 0xCC))
                 & (this["proto.size"] == 4))


def hw_address(side, who):
    """The sender's or target's hardware address: a MAC or ``hw.size`` raw octets."""
    return IfThenElse(
        HW_IS_MAC,
        Struct(f"{side}.hw_mac" / MacAddress() * f"{who} MAC address (RFC 826: ar$sha/ar$tha)"),
        IfThenElse(this["hw.size"] > 0,
                   Struct(f"{side}.hw" / Bytes(this._["hw.size"]) * f"{who} hardware address (RFC 826: ar$sha/ar$tha)"),
                   Struct()),
    )


def proto_address(side, who):
    """The sender's or target's protocol address: IPv4 or ``proto.size`` raw octets."""
    return IfThenElse(
        PROTO_IS_IPV4,
        Struct(f"{side}.proto_ipv4" / IPv4Address() * f"{who} IPv4 address (RFC 826: ar$spa/ar$tpa)"),
        IfThenElse(this["proto.size"] > 0,
                   Struct(f"{side}.proto" / Bytes(this._["proto.size"]) * f"{who} protocol address (RFC 826: ar$spa/ar$tpa)"),
                   Struct()),
    )


LAYOUT = Struct(
    "hw.type" / Named(Int16ub, HardwareType) * "Hardware address space (RFC 826: ar$hrd; IANA hardware types)",
    "proto.type" / Named(Int16ub, EtherType) * "Protocol address space, an EtherType (RFC 826: ar$pro)",
    "hw.size" / Int8ub * "Length of each hardware address in octets (RFC 826: ar$hln)",
    "proto.size" / Int8ub * "Length of each protocol address in octets (RFC 826: ar$pln)",
    "opcode" / Named(Int16ub, Opcode) * "Operation (RFC 826: ar$op; IANA operation codes)",
    "sha" / hw_address("src", "Sender") * "Sender hardware address, hw.size octets (RFC 826: ar$sha)",
    "spa" / proto_address("src", "Sender") * "Sender protocol address, proto.size octets (RFC 826: ar$spa)",
    "tha" / hw_address("dst", "Target") * "Target hardware address, hw.size octets (RFC 826: ar$tha)",
    "tpa" / proto_address("dst", "Target") * "Target protocol address, proto.size octets (RFC 826: ar$tpa)",
)


def _addresses(layer):
    """(sha, spa, tha, tpa) as Wireshark prints them in the Info column."""
    def text(*names):
        v = _raw(layer, *names)
        if v is None:
            return "<No address>"
        return v.hex() if isinstance(v, bytes) else v
    return (text("src.hw_mac", "src.hw"), text("src.proto_ipv4", "src.proto"),
            text("dst.hw_mac", "dst.hw"), text("dst.proto_ipv4", "dst.proto"))


def _raw(layer, *names):
    for n in names:
        v = layer.get(n)
        if v is not None:
            return v
    return None


def is_gratuitous(layer):
    """Request or reply whose sender and target protocol addresses are equal (Wireshark's
    ``arp.isgratuitous``); None (absent) otherwise."""
    if layer.get("opcode") in (Opcode.request, Opcode.reply):
        spa = _raw(layer, "src.proto_ipv4", "src.proto")
        if spa is not None and spa == _raw(layer, "dst.proto_ipv4", "dst.proto"):
            return True
    return None


def _zero_target_mac(layer):
    return layer.get("dst.hw_mac") == "00:00:00:00:00:00"


def is_announcement(layer):
    """Gratuitous request with an all-zero target MAC (RFC 5227 §2.3 ARP Announcement)."""
    if layer.get("opcode") == Opcode.request and is_gratuitous(layer) and _zero_target_mac(layer):
        return True
    return None


def is_probe(layer):
    """Request from sender address 0.0.0.0 with an all-zero target MAC (RFC 5227 §2.1.1)."""
    if (layer.get("opcode") == Opcode.request and not is_gratuitous(layer) and _zero_target_mac(layer)
            and layer.get("src.proto_ipv4") == "0.0.0.0"):
        return True
    return None


def summary(layer):
    """Wireshark's ARP Info column text."""
    op = layer.get("opcode")
    sha, spa, tha, tpa = _addresses(layer)
    if op == Opcode.request:
        if is_announcement(layer):
            return f"ARP Announcement for {tpa}"
        if is_gratuitous(layer):
            return f"Gratuitous ARP for {tpa} (Request)"
        if is_probe(layer):
            return f"Who has {tpa}? (ARP Probe)"
        return f"Who has {tpa}? Tell {spa}"
    if op == Opcode.reply:
        if is_gratuitous(layer):
            return f"Gratuitous ARP for {spa} (Reply)"
        return f"{spa} is at {sha}"
    if op in (Opcode.reverse_request, Opcode.inverse_request, Opcode.drarp_request):
        return f"Who is {tha}? Tell {sha}"
    if op in (Opcode.reverse_reply, Opcode.drarp_reply):
        return f"{tha} is at {tpa}"
    if op == Opcode.inverse_reply:
        return f"{sha} is at {spa}"
    if op == Opcode.drarp_error:
        return "DRARP Error"
    if op == Opcode.arp_nak:
        return "ARP NAK"
    if op in (0, 0xFFFF):
        return f"Reserved opcode {int(op)}"
    return f"Unknown ARP opcode 0x{int(op):04x}"


PROTOCOL = Protocol(
    name="arp",
    title="Address Resolution Protocol",
    ref="RFC 826",
    layout=LAYOUT,
    binds=[Bind("ethertype", EtherType.ARP, EtherType.RARP)],
    payload_length=0,
    summary=summary,
    column="ARP",
    virtual=[
        Virtual("isgratuitous", "Sender and target protocol addresses are equal (gratuitous ARP)", fn=is_gratuitous),
        Virtual("isprobe", "ARP Probe: request from 0.0.0.0 (RFC 5227 §2.1.1)", fn=is_probe),
        Virtual("isannouncement", "ARP Announcement: gratuitous request (RFC 5227 §2.3)", fn=is_announcement),
    ],
)
