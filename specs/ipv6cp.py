"""PPP IPv6 Control Protocol — RFC 5072 §3-§4.

Code, Identifier and Length are Wireshark's ``ppp.code``/``ppp.identifier``/``ppp.length``
(see :mod:`specs._ppp_cp`).  (Wireshark files the IPv6-Compression-Protocol option under
``ipcp.opt.*``; here it is ``ipv6cp.opt.compress_proto``.)
"""
from enum import IntEnum

from construct import Bytes, Int8ub, Int16ub, Struct

from specs._fields import Named
from specs._ppp_cp import CpCode, PppProtocol, control_protocol, rest
from specs._tlv import TLV


class Ipv6cpOption(IntEnum):
    """IPV6CP configuration option types (IANA "IPV6CP Configuration Options"; RFC 5072 §4)."""
    Interface_Identifier = 1
    IPv6_Compression_Protocol = 2


OPTIONS = TLV(
    ("opt.type", Named(Int8ub, Ipv6cpOption)), ("opt.length", Int8ub),
    {
        Ipv6cpOption.Interface_Identifier: Struct(
            "interface_identifier" / Bytes(8) * "Interface-Identifier, the low 64 bits of the link-local address (RFC 5072 §4.1)"),
        Ipv6cpOption.IPv6_Compression_Protocol: Struct(
            "opt.compress_proto" / Int16ub * "IPv6-Compression-Protocol (RFC 5072 §4.2)",
            rest("opt.data", doc="Compression parameters (RFC 5072 §4.2)"),
        ),
    },
    raw="opt.data",
)

PROTOCOL = control_protocol(
    name="ipv6cp", title="PPP IPv6 Control Protocol", ref="RFC 5072 §3", number=PppProtocol.IPV6CP,
    codes=CpCode, options=OPTIONS,
)
