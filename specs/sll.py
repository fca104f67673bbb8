"""Linux "cooked" capture headers: LINKTYPE_LINUX_SLL (113, ``sll``) and LINKTYPE_LINUX_SLL2
(276, ``sll2``) — tcpdump.org link-layer header types pages "LINKTYPE_LINUX_SLL" and
"LINKTYPE_LINUX_SLL2"; the values come from the kernel's ``struct sockaddr_ll``
(packet(7)).

Both carry a packet type, the ARPHRD_ type of the device, the length of its link-layer
address and an 8-octet address slot holding that many meaningful octets: the address
is shown as a MAC (``src.eth``) when 6 long, IPv4 (``src.ipv4``) when 4, raw octets
(``src.other``) otherwise; the rest of the slot is ``unused`` (Wireshark's names).

The protocol type is an EtherType when above 1536, else a Linux internal protocol
number (``ETH_P_802_2`` 4: an 802.2 LLC frame follows; ``ETH_P_802_3`` 1: Novell raw
802.3) dispatched on the ``sll.ltype`` table.  Wireshark calls the field ``sll.etype`` or
``sll.ltype`` (and ``sll.gretype`` for GRE devices) by value; here it is always
``etype``, with the virtual ``ltype`` when it is a Linux protocol number and ``gretype``
on GRE devices.

Wireshark has one protocol, ``sll``, for both versions; the v2 layout is protocol
``sll2`` with the ``sll`` namespace, so its fields are ``sll.ifindex``, ``sll.pkttype``...
"""
from enum import IntEnum

from construct import Bytes, IfThenElse, Int8ub, Int16ub, Int32ub, Struct, Switch, this

from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import IPv4Address, MacAddress, Named
from specs._numbers import EtherType, HardwareType


class PacketType(IntEnum):
    """``sll_pkttype`` (linux/if_packet.h PACKET_*)."""
    Unicast_to_us = 0
    Broadcast = 1
    Multicast = 2
    Unicast_to_another_host = 3
    Sent_by_us = 4
    Loopback = 5
    Fastroute = 6


class LinuxProtocol(IntEnum):
    """Linux protocol numbers below 1536 (linux/if_ether.h ETH_P_*)."""
    ETH_P_802_3 = 0x0001
    ETH_P_AX25 = 0x0002
    ETH_P_ALL = 0x0003
    ETH_P_802_2 = 0x0004
    ETH_P_SNAP = 0x0005
    ETH_P_DDCMP = 0x0006
    ETH_P_WAN_PPP = 0x0007
    ETH_P_PPP_MP = 0x0008
    ETH_P_LOCALTALK = 0x0009
    ETH_P_CAN = 0x000C
    ETH_P_CANFD = 0x000D
    ETH_P_PPPTALK = 0x0010
    ETH_P_TR_802_2 = 0x0011
    ETH_P_MOBITEX = 0x0015
    ETH_P_CONTROL = 0x0016
    ETH_P_IRDA = 0x0017
    ETH_P_ECONET = 0x0018
    ETH_P_HDLC = 0x0019
    ETH_P_ARCNET = 0x001A
    ETH_P_DSA = 0x001B
    ETH_P_TRAILER = 0x001C
    ETH_P_PHONET = 0x00F5
    ETH_P_IEEE802154 = 0x00F6
    ETH_P_CAIF = 0x00F7
    ETH_P_XDSA = 0x00F8
    ETH_P_MAP = 0x00F9
    ETH_P_MCTP = 0x00FA


def address_slot(halen):
    """The 8-octet address slot: ``halen`` (a ``this`` expression on the header) meaningful
    octets, then the unused rest."""
    other = IfThenElse(
        halen < 8,
        Struct(
            "src.other" / Bytes(this._["halen"]) * "Source link-layer address (sockaddr_ll.sll_addr)",
            "unused" / Bytes(8 - this._["halen"]) * "Unused octets of the address slot",
        ),
        Struct("src.other" / Bytes(8) * "Source link-layer address, first 8 octets (sockaddr_ll.sll_addr)"),
    )
    return Switch(halen, {
        6: Struct(
            "src.eth" / MacAddress() * "Source MAC address (sockaddr_ll.sll_addr)",
            "unused" / Bytes(2) * "Unused octets of the address slot",
        ),
        4: Struct(
            "src.ipv4" / IPv4Address() * "Source IPv4 address of a tunnel device (sockaddr_ll.sll_addr)",
            "unused" / Bytes(4) * "Unused octets of the address slot",
        ),
        0: Struct("unused" / Bytes(8) * "Unused address slot: the device has no link-layer address"),
    }, default=other)


ETYPE_DOC = "Protocol: an EtherType above 1536, else a Linux protocol number (sockaddr_ll.sll_protocol)"

LAYOUT_V1 = Struct(
    "pkttype" / Named(Int16ub, PacketType) * "Packet type (LINKTYPE_LINUX_SLL; sockaddr_ll.sll_pkttype)",
    "hatype" / Named(Int16ub, HardwareType) * "ARPHRD_ type of the device (sockaddr_ll.sll_hatype)",
    "halen" / Int16ub * "Length of the link-layer address (sockaddr_ll.sll_halen)",
    "addr" / address_slot(this.halen) * "Link-layer address slot, 8 octets",
    "etype" / Named(Int16ub, EtherType) * ETYPE_DOC,
)

LAYOUT_V2 = Struct(
    "etype" / Named(Int16ub, EtherType) * ETYPE_DOC,
    "reserved" / Int16ub * "Reserved, must be zero (LINKTYPE_LINUX_SLL2)",
    "ifindex" / Int32ub * "Interface index of the capturing device (LINKTYPE_LINUX_SLL2)",
    "hatype" / Named(Int16ub, HardwareType) * "ARPHRD_ type of the device (sockaddr_ll.sll_hatype)",
    "pkttype" / Named(Int8ub, PacketType) * "Packet type (sockaddr_ll.sll_pkttype)",
    "halen" / Int8ub * "Length of the link-layer address (sockaddr_ll.sll_halen)",
    "addr" / address_slot(this.halen) * "Link-layer address slot, 8 octets",
)

PACKET_TYPE_TEXT = {0: "Unicast to us", 1: "Broadcast", 2: "Multicast", 3: "Unicast to another host",
                    4: "Sent by us", 5: "Loopback", 6: "Fastroute"}


def linux_protocol(etype):
    """Wireshark's ``sll.ltype``: the protocol field when it is a Linux protocol number."""
    if etype > 1536:
        return None
    try:
        return LinuxProtocol(etype)
    except ValueError:
        return int(etype)


def gre_type(layer):
    """Wireshark's ``sll.gretype``: the protocol field of a GRE device (ARPHRD_IPGRE)."""
    etype = layer.get("etype")
    return etype if layer.get("hatype") == HardwareType.IPGRE and etype > 1536 else None


def summary(layer):
    """Wireshark's SLL Info text (the packet type), shown when nothing follows."""
    kind = layer.get("pkttype")
    return PACKET_TYPE_TEXT.get(kind, f"Unknown ({int(kind)})")


def cooked(name, layout, linktype, title, ref):
    return Protocol(
        name=name,
        namespace="sll",
        title=title,
        ref=ref,
        layout=layout,
        binds=[Bind("linktype", linktype)],
        dispatch=[Dispatch("ethertype", this.etype, when=this.etype > 1536),
                  Dispatch("sll.ltype", this.etype, when=this.etype <= 1536)],
        summary=summary,
        source="src.eth",
        column="SLL",
        virtual=[Virtual("ltype", "Linux protocol number, when the protocol field is one (1536 or less)",
                         of="etype", fn=linux_protocol),
                 Virtual("gretype", "GRE protocol type, the protocol field of a GRE device (ARPHRD_IPGRE)",
                         fn=gre_type)],
    )


PROTOCOLS = [
    cooked("sll", LAYOUT_V1, 113, "Linux cooked capture v1", "tcpdump.org LINKTYPE_LINUX_SLL"),
    cooked("sll2", LAYOUT_V2, 276, "Linux cooked capture v2", "tcpdump.org LINKTYPE_LINUX_SLL2"),
]
