"""PPP Internet Protocol Control Protocol — RFC 1332 (DNS and NBNS addresses: RFC 1877;
Mobile-IPv4: RFC 2290; IP Header Compression parameters: RFC 2509 §2).

Code, Identifier and Length are Wireshark's ``ppp.code``/``ppp.identifier``/``ppp.length``
(see :mod:`specs._ppp_cp`).
"""
from enum import IntEnum

from construct import Int8ub, Int16ub, Struct, Switch, this

from specs._fields import IPv4Address, Named
from specs._ppp_cp import CpCode, PppProtocol, control_protocol, rest
from specs._tlv import TLV


class IpcpOption(IntEnum):
    """IPCP configuration option types (IANA "PPP IPCP Configuration Option Types")."""
    IP_Addresses = 1
    IP_Compression_Protocol = 2
    IP_Address = 3
    Mobile_IPv4 = 4
    Primary_DNS = 129
    Primary_NBNS = 130
    Secondary_DNS = 131
    Secondary_NBNS = 132


class IpCompression(IntEnum):
    """IP-Compression-Protocol values (RFC 1332 §3.2; RFC 2509 §2)."""
    Van_Jacobson = 0x002D
    IPHC = 0x0061
    ROHC = 0x0003


OPTIONS = TLV(
    ("opt.type", Named(Int8ub, IpcpOption)), ("opt.length", Int8ub),
    {
        IpcpOption.IP_Addresses: Struct(
            "opt.src_address" / IPv4Address() * "Source IP address (RFC 1172 §5.1, deprecated)",
            "opt.dst_address" / IPv4Address() * "Destination IP address (RFC 1172 §5.1, deprecated)",
        ),
        IpcpOption.IP_Compression_Protocol: Struct(
            "opt.compress_proto" / Named(Int16ub, IpCompression) * "IP-Compression-Protocol (RFC 1332 §3.2)",
            "compress" / Switch(this["opt.compress_proto"], {
                IpCompression.Van_Jacobson: Struct(
                    "opt.max_slot_id" / Int8ub * "Max-Slot-Id, highest slot identifier (RFC 1332 §4)",
                    "opt.comp_slot_id" / Int8ub * "Comp-Slot-Id, slot identifier may be compressed (RFC 1332 §4)",
                ),
                IpCompression.IPHC: Struct(
                    "opt.tcp_space" / Int16ub * "TCP_SPACE, highest TCP context identifier (RFC 2509 §2.1)",
                    "opt.non_tcp_space" / Int16ub * "NON_TCP_SPACE, highest non-TCP context identifier (RFC 2509 §2.1)",
                    "opt.f_max_period" / Int16ub * "F_MAX_PERIOD, compressed headers between full ones (RFC 2509 §2.1)",
                    "opt.f_max_time" / Int16ub * "F_MAX_TIME, seconds between full headers (RFC 2509 §2.1)",
                    "opt.max_header" / Int16ub * "MAX_HEADER, largest compressible header (RFC 2509 §2.1)",
                    rest("opt.data", doc="IPHC suboptions (RFC 2509 §2.1)"),
                ),
            }, default=Struct(rest("opt.data", doc="Compression parameters (RFC 1332 §3.2)"))),
        ),
        IpcpOption.IP_Address: Struct(
            "opt.ip_address" / IPv4Address() * "IP-Address, the sender's address, or 0.0.0.0 to ask for one (RFC 1332 §3.3)"),
        IpcpOption.Mobile_IPv4: Struct(
            "opt.mobilenodehomeaddress" / IPv4Address() * "Mobile node's home address (RFC 2290 §2.1)"),
        IpcpOption.Primary_DNS: Struct(
            "opt.pri_dns_address" / IPv4Address() * "Primary DNS server address (RFC 1877 §1.1)"),
        IpcpOption.Primary_NBNS: Struct(
            "opt.pri_nbns_address" / IPv4Address() * "Primary NBNS server address (RFC 1877 §1.2)"),
        IpcpOption.Secondary_DNS: Struct(
            "opt.sec_dns_address" / IPv4Address() * "Secondary DNS server address (RFC 1877 §1.3)"),
        IpcpOption.Secondary_NBNS: Struct(
            "opt.sec_nbns_address" / IPv4Address() * "Secondary NBNS server address (RFC 1877 §1.4)"),
    },
    raw="opt.data",
)

PROTOCOL = control_protocol(
    name="ipcp", title="PPP IP Control Protocol", ref="RFC 1332 §2", number=PppProtocol.IPCP,
    codes=CpCode, options=OPTIONS,
)
