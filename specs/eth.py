"""Ethernet II (DIX) frame header — IEEE Std 802.3 §3.2, RFC 894.

A type/length value below 0x0600 is an IEEE 802.3 length: the payload is then an
IEEE 802.2 LLC PDU (see ``llc``).
"""
from construct import Struct, Int16ub, this

from decoder.oui import vendor
from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import MacAddress, Named
from specs._numbers import EtherType

LAYOUT = Struct(
    "dst" / MacAddress() * "Destination MAC address (IEEE 802.3 §3.2.3)",
    "src" / MacAddress() * "Source MAC address (IEEE 802.3 §3.2.3)",
    "type" / Named(Int16ub, EtherType) * "EtherType, or the payload length when below 0x0600 (IEEE 802.3 §3.2.6)",
)


def summary(layer):
    return f"{layer.get('src')} → {layer.get('dst')}"


PROTOCOL = Protocol(
    name="eth",
    title="Ethernet II",
    ref="IEEE 802.3 §3.2; RFC 894",
    layout=LAYOUT,
    binds=[Bind("linktype", 1)],
    dispatch=[Dispatch("ethertype", this.type, when=this.type >= 0x0600),
              Dispatch("ieee802.3", 1, when=this.type < 0x0600)],
    summary=summary,
    source="src",
    destination="dst",
    column="Ethernet",
    virtual=[
        Virtual("addr", "Destination or source address (header order, as Wireshark)", either=("dst", "src")),
        Virtual("src.oui_resolved", "Vendor of the source address (IEEE OUI registry)", of="src", fn=vendor),
        Virtual("dst.oui_resolved", "Vendor of the destination address (IEEE OUI registry)", of="dst", fn=vendor),
    ],
)
