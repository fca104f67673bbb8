"""Shared machinery for the PPP family (RFC 1661): protocol numbers, the Control Protocol
packet format that LCP, IPCP and IPV6CP share, and an optional trailing field.

A PPP Control Protocol packet is Code, Identifier, Length and a body chosen by the code
(RFC 1661 §5).  :func:`control_protocol` builds the spec of one such protocol from its
option list and the bodies of any codes of its own, so ``lcp.py``, ``ipcp.py`` and
``ipv6cp.py`` hold only what differs.  Wireshark files the header under ``ppp.*``
(``ppp.code``, ``ppp.identifier``, ``ppp.length``, ``ppp.data``) whatever the Control
Protocol; the specs give those names as aliases.
"""
from __future__ import annotations

from enum import IntEnum

from construct import Container, FixedSized, GreedyBytes, IfThenElse, Int8ub, Int16ub, SizeofError, Struct, \
    Switch, this
from construct.expr import FuncPath

from decoder.protocol import Bind, Protocol
from specs._fields import Auto, Named

__all__ = ["PppProtocol", "CpCode", "LcpCode", "Rest", "control_protocol", "CODE_INFO"]


class PppProtocol(IntEnum):
    """PPP DLL protocol numbers (IANA "PPP DLL Protocol Numbers"; RFC 1661 §2)."""
    IPv4 = 0x0021
    AppleTalk = 0x0029
    IPX = 0x002B
    VJ_Compressed_TCP_IP = 0x002D
    VJ_Uncompressed_TCP_IP = 0x002F
    Bridging_PDU = 0x0031
    Multilink = 0x003D
    IPv6 = 0x0057
    Compressed_Datagram = 0x00FD
    MPLS_Unicast = 0x0281
    MPLS_Multicast = 0x0283
    IPCP = 0x8021
    ATCP = 0x8029
    IPXCP = 0x802B
    BCP = 0x8031
    IPV6CP = 0x8057
    CCP = 0x80FD
    MPLSCP = 0x8281
    LCP = 0xC021
    PAP = 0xC023
    LQR = 0xC025
    BACP = 0xC02B
    BAP = 0xC02D
    CBCP = 0xC029
    CHAP = 0xC223
    EAP = 0xC227


class CpCode(IntEnum):
    """Codes every Control Protocol has (RFC 1661 §5; IPCP RFC 1332 §2, IPV6CP RFC 5072 §3)."""
    Configure_Request = 1
    Configure_Ack = 2
    Configure_Nak = 3
    Configure_Reject = 4
    Terminate_Request = 5
    Terminate_Ack = 6
    Code_Reject = 7


class LcpCode(IntEnum):
    """LCP codes (RFC 1661 §5; Identification and Time-Remaining: RFC 1570 §2)."""
    Configure_Request = 1
    Configure_Ack = 2
    Configure_Nak = 3
    Configure_Reject = 4
    Terminate_Request = 5
    Terminate_Ack = 6
    Code_Reject = 7
    Protocol_Reject = 8
    Echo_Request = 9
    Echo_Reply = 10
    Discard_Request = 11
    Identification = 12
    Time_Remaining = 13


#: tshark's Info text per code
CODE_INFO = {1: "Configuration Request", 2: "Configuration Ack", 3: "Configuration Nak",
             4: "Configuration Reject", 5: "Termination Request", 6: "Termination Ack", 7: "Code Reject",
             8: "Protocol Reject", 9: "Echo Request", 10: "Echo Reply", 11: "Discard Request",
             12: "Identification", 13: "Time Remaining"}


class Rest(IfThenElse):
    """Trailing octets that form a field only when there are any: ``then`` (a Struct) when
    octets remain in the enclosing space, else an empty Struct, so an empty Terminate-Ack
    has no ``ppp.data`` (as in Wireshark).  The data decides, not a condition: on build, the
    ``then`` branch is used when the object carries its fields.  (An ``IfThenElse`` so that
    field listings see the fields; its nominal condition, False, is what a generator that
    knows only ``IfThenElse`` should use.)"""

    def __init__(self, then):
        super().__init__(False, then, Struct())
        self.flagbuildnone = True
        self._names = [sc.name for sc in then.subcons if sc.name]
        self._fast = None

    def _parse(self, stream, context, path):
        pos = stream.tell()
        more = stream.read(1)
        stream.seek(pos)
        return (self.thensubcon if more else self.elsesubcon)._parsereport(stream, context, path)

    def _build(self, obj, stream, context, path):
        present = isinstance(obj, dict) and any(obj.get(n) not in (None, b"", "") for n in self._names)
        return (self.thensubcon if present else self.elsesubcon)._build(obj or {}, stream, context, path)

    def _sizeof(self, context, path):
        raise SizeofError("present only when octets remain", path=path)

    def fastparse(self, buf, off, end, ctx, spans, depth):
        if off >= end:
            return Container(), off
        if self._fast is None:
            from decoder.fastpath import compile_node
            self._fast = compile_node(self.thensubcon)
        return self._fast(buf, off, end, ctx, spans, depth)


def rest(name, subcon=GreedyBytes, doc=""):
    """``"rest" / Rest(Struct(name / subcon))``: the remaining octets as field ``name``."""
    return "rest" / Rest(Struct(name / subcon * doc))


def packet_length(body_switch, field="body"):
    """``length`` on build: 4 + the built body (RFC 1661 §5: Length covers Code to Data;
    PAP and CHAP lay their packets out the same way, their body field is ``data``)."""
    def length(ctx):
        return 4 + len(body_switch.build(ctx[field], code=ctx.code))
    return FuncPath(length)(this)


#: Wireshark's names for the shared header fields (and Code-Reject/Terminate data)
ALIASES = {"code": "ppp.code", "identifier": "ppp.identifier", "length": "ppp.length", "cp.data": "ppp.data"}

DATA = Struct(rest("cp.data", doc="Data, uninterpreted octets (RFC 1661 §5.5 Terminate, §5.6 rejected packet)"))


def control_protocol(name, title, ref, number, codes, options, bodies=None, column=None):
    """The spec of a PPP Control Protocol.

    :param number: its PPP protocol number (``ppp.protocol`` binding)
    :param codes: IntEnum of its codes
    :param options: the TLV of its configuration options (Configure-* bodies)
    :param bodies: code -> Struct for codes beyond Configure-*/Terminate-*/Code-Reject
    """
    cases = {1: Struct("options" / options * f"Configuration options ({ref})")}
    for code in (2, 3, 4):
        cases[code] = cases[1]
    for code in (5, 6, 7):
        cases[code] = DATA
    cases.update(bodies or {})
    body = Switch(this.code, cases, default=DATA)
    layout = Struct(
        "code" / Named(Int8ub, codes) * "Code, kind of Control Protocol packet (RFC 1661 §5)",
        "identifier" / Int8ub * "Identifier, matches requests and replies (RFC 1661 §5)",
        "length" / Auto(Int16ub, packet_length(body)) * "Length of the packet from Code on, in octets; octets beyond it are padding (RFC 1661 §5)",
        "body" / FixedSized(this.length - 4, body) * "Data, laid out by the code (RFC 1661 §5.1-§5.8)",
    )
    return Protocol(
        name=name, title=title, ref=ref, layout=layout,
        binds=[Bind("ppp.protocol", number)],
        payload_length=0,
        summary=_summary(codes),
        column=column or f"PPP {name.upper()}",
        aliases=dict(ALIASES),
        strict=True,
    )


def _summary(codes):
    known = {int(c) for c in codes}

    def summary(layer):
        code = layer.get("code")
        if code is None:
            return layer.proto.title
        return CODE_INFO[int(code)] if int(code) in known else f"Unknown code {int(code)}"
    return summary
