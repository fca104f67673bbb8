"""Raw IP link layer: LINKTYPE_RAW (101) and the DLT_RAW values 12 and 14 that some
platforms wrote into capture files — tcpdump.org link-layer header types page,
"LINKTYPE_RAW".

There is no link-layer header: the packet begins with an IPv4 or IPv6 header, told
apart by the version nibble (RFC 791 §3.1, RFC 8200 §3).  This protocol is a zero-octet
header that only reads the nibble ahead (a construct ``Peek``) and hands the packet to
the protocol bound to LINKTYPE_IPV4 (228) or LINKTYPE_IPV6 (229) in the ``linktype``
table.  Wireshark calls this "Raw packet data" (protocol ``raw``) and shows no fields.
"""
from construct import Int8ub, Peek, Struct, this

from decoder.protocol import Bind, Dispatch, Protocol
from specs._fields import Bit, BitFields

LAYOUT = Struct(
    "peek" / Peek(BitFields(
        Int8ub,
        Bit("version", 0xF0, "IP version of the packet, read ahead: 4 or 6 (RFC 791 §3.1; RFC 8200 §3)"),
    )) * "First octet of the IP header, read without consuming it",
)


PROTOCOL = Protocol(
    name="raw",
    title="Raw packet data",
    ref="tcpdump.org LINKTYPE_RAW",
    layout=LAYOUT,
    binds=[Bind("linktype", 101, 12, 14)],
    dispatch=[Dispatch("linktype", 228, when=this.peek.version == 4),
              Dispatch("linktype", 229, when=this.peek.version == 6)],
    column="Raw",
)
