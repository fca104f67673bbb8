"""Point-to-Point Protocol encapsulation — RFC 1661 §2 (HDLC-like framing: RFC 1662 §3).

One spec for PPP wherever it is carried: inside PPPoE (RFC 2516 §7: no Address and Control
field) and on PPP links (pcap LINKTYPE_PPP 9, LINKTYPE_PPP_HDLC 50, GRE/PPTP EtherType 0x880B)
where the frame may start with Address 0xFF and Control 0x03 — or not, when the peers
negotiated Address-and-Control-Field-Compression.  The data says which: 0xFF is never the
first octet of a protocol number (RFC 1661 §2: the first octet is even).  A protocol number
whose first octet is odd was compressed to one octet (Protocol-Field-Compression, RFC 1661
§6.5).  Wireshark dissects both cases into ``ppp.address``/``ppp.control``/``ppp.protocol``.
"""
from construct import Container, IfThenElse, Int8ub, Int16ub, Peek, Struct, Switch, this

from decoder.fastpath import Truncated
from decoder.protocol import Bind, Dispatch, Protocol
from specs._fields import Named
from specs._ppp_cp import PppProtocol

PROTOCOL_8 = Named(Int8ub, PppProtocol)      # compressed to one octet (RFC 1661 §6.5)
PROTOCOL_16 = Named(Int16ub, PppProtocol)


class PppHeader(Struct):
    """The PPP header Struct, with a hand-written fast parser: PPPoE session traffic is
    mostly PPP, and the generic parser of its read-ahead fields costs more than the rest
    of the frame.  Parses exactly as the Struct does (tests compare both)."""

    def fastparse(self, buf, off, end, ctx, spans, depth):
        first_node, hdlc_node, pfc_node, proto_node = self.subcons
        value = Container()
        first = buf[off] if off < end else None
        value["_first"] = first
        if spans is not None:
            spans.append((depth + 1, "_first", off, 0, first, first_node))
        if first == 0xFF:
            if off + 2 > end:
                raise Truncated
            hdlc = Container(address=buf[off], control=buf[off + 1])
            if spans is not None:
                spans.append((depth + 1, "hdlc", off, 2, hdlc, hdlc_node))
                address, control = HDLC.subcons
                spans.append((depth + 2, "address", off, 1, hdlc["address"], address))
                spans.append((depth + 2, "control", off + 1, 1, hdlc["control"], control))
            off += 2
        else:
            hdlc = Container()
            if spans is not None:
                spans.append((depth + 1, "hdlc", off, 0, hdlc, hdlc_node))
        value["hdlc"] = hdlc
        pfc = buf[off] if off < end else None
        value["_pfc"] = pfc
        if spans is not None:
            spans.append((depth + 1, "_pfc", off, 0, pfc, pfc_node))
        if pfc is not None and pfc & 1:
            number, size = pfc, 1
        else:
            if off + 2 > end:
                raise Truncated
            number, size = (buf[off] << 8) | buf[off + 1], 2
        protocol = value["protocol"] = PROTOCOL_16.names.get(number, number)
        if spans is not None:
            spans.append((depth + 1, "protocol", off, size, protocol, proto_node))
        return value, off + size


HDLC = Struct(
    "address" / Int8ub * "Address, 0xFF: All-Stations (RFC 1662 §3.1)",
    "control" / Int8ub * "Control, 0x03: Unnumbered Information (RFC 1662 §3.1)",
)

LAYOUT = PppHeader(
    "_first" / Peek(Int8ub) * "First octet, read ahead: 0xFF starts an Address field (RFC 1662 §3.1)",
    "hdlc" / IfThenElse(this._first == 0xFF, HDLC, Struct()),
    "_pfc" / Peek(Int8ub) * "First protocol octet, read ahead: odd means a one-octet protocol (RFC 1661 §6.5)",
    "protocol" / Switch(this._pfc, {octet: PROTOCOL_8 for octet in range(1, 256, 2)}, default=PROTOCOL_16)
    * "Protocol of the Information field; one octet when compressed (RFC 1661 §2, §6.5)",
)


def summary(layer):
    proto = layer.get("protocol")
    if proto is None:
        return layer.proto.title
    name = f" ({proto.name.replace('_', ' ')})" if isinstance(proto, PppProtocol) else ""
    return f"Protocol {int(proto):#06x}{name}"


PROTOCOL = Protocol(
    name="ppp",
    title="Point-to-Point Protocol",
    ref="RFC 1661 §2; RFC 1662 §3",
    layout=LAYOUT,
    binds=[Bind("linktype", 9, 50), Bind("ethertype", 0x880B), Bind("pppoes.payload", 1)],
    dispatch=[Dispatch("ppp.protocol", this.protocol)],
    summary=summary,
    column="PPP",
)
