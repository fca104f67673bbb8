"""PPP Link Control Protocol — RFC 1661 §5-§6 (Identification, Time-Remaining, Callback,
FCS-Alternatives, Self-Describing-Pad, Numbered-Mode: RFC 1570; Multilink options: RFC 1990;
Quality Protocol: RFC 1989; Vendor-Specific option: RFC 2153).

Code, Identifier and Length are Wireshark's ``ppp.code``, ``ppp.identifier`` and ``ppp.length``
(see :mod:`specs._ppp_cp`); the rest is ``lcp.*``.
"""
from enum import IntEnum

from construct import Int8ub, Int16ub, Int32ub, Struct, Switch, this

from specs._fields import Bit, BitFields, Named, Text
from specs._ppp_cp import LcpCode, PppProtocol, control_protocol, rest
from specs._tlv import TLV


class LcpOption(IntEnum):
    """LCP configuration option types (IANA "PPP LCP Configuration Option Types")."""
    Vendor_Specific = 0
    Maximum_Receive_Unit = 1
    Async_Control_Character_Map = 2
    Authentication_Protocol = 3
    Quality_Protocol = 4
    Magic_Number = 5
    Protocol_Field_Compression = 7
    Address_and_Control_Field_Compression = 8
    FCS_Alternatives = 9
    Self_Describing_Pad = 10
    Numbered_Mode = 11
    Callback = 13
    Multilink_MRRU = 17
    Multilink_Short_Sequence_Number_Header = 18
    Multilink_Endpoint_Discriminator = 19
    Link_Discriminator = 23


class ChapAlgorithm(IntEnum):
    """CHAP algorithms of the Authentication-Protocol option (IANA "PPP Authentication Algorithms")."""
    MD5 = 5
    SHA1 = 6
    MS_CHAP = 128
    MS_CHAP_2 = 129


class CallbackOperation(IntEnum):
    """Callback option operations (RFC 1570 §2.3)."""
    Location_determined_by_user_authentication = 0
    Dialing_string = 1
    Location_identifier = 2
    E_164_number = 3
    Distinguished_name = 4
    CBCP = 6


class EndpointClass(IntEnum):
    """Multilink Endpoint Discriminator classes (RFC 1990 §5.1.3)."""
    Null = 0
    Locally_Assigned = 1
    IPv4_Address = 2
    IEEE_802_1_MAC = 3
    PPP_Magic_Number_Block = 4
    Public_Switched_Network_Directory_Number = 5


# ACCM bit i maps control character i (RFC 1662 §7.1); Wireshark names them after ASCII
_CONTROL_CHARS = ("nul soh stx etx eot enq ack bel bs ht lf vt ff cr so si "
                  "dle dc1 dc2 dc3 dc4 nak syn etb can em sub esc fs gs rs us").split()

OPTIONS = TLV(
    ("opt.type", Named(Int8ub, LcpOption)), ("opt.length", Int8ub),
    {
        LcpOption.Vendor_Specific: Struct(
            "oui_kind" / BitFields(
                Int32ub,
                Bit("opt.oui", 0xFFFFFF00, "Organizationally Unique Identifier of the vendor (RFC 2153 §2)"),
                Bit("opt.kind", 0x000000FF, "Vendor's option kind (RFC 2153 §2)"),
            ),
            rest("opt.data", doc="Vendor's option value (RFC 2153 §2)"),
        ),
        LcpOption.Maximum_Receive_Unit: Struct(
            "opt.mru" / Int16ub * "Maximum Receive Unit, largest Information field the peer may send (RFC 1661 §6.1)"),
        LcpOption.Async_Control_Character_Map: Struct("accm" / BitFields(
            Int32ub,
            Bit("opt.asyncmap", 0xFFFFFFFF, "Async-Control-Character-Map, control characters to escape (RFC 1662 §7.1)"),
            *[Bit(f"opt.asyncmap.{name}", 1 << i, f"Escape control character {i:#04x} ({name.upper()}) (RFC 1662 §7.1)")
              for i, name in enumerate(_CONTROL_CHARS)],
        )),
        LcpOption.Authentication_Protocol: Struct(
            "opt.auth_protocol" / Named(Int16ub, PppProtocol) * "Authentication-Protocol, the one the peer must use (RFC 1661 §6.2)",
            "auth" / Switch(
                this["opt.auth_protocol"],
                {PppProtocol.CHAP: Struct(
                    "opt.algorithm" / Named(Int8ub, ChapAlgorithm) * "CHAP algorithm (RFC 1994 §3)")},
                default=Struct(rest("opt.data", doc="Data for the authentication protocol (RFC 1661 §6.2)")),
            ),
        ),
        LcpOption.Quality_Protocol: Struct(
            "opt.quality_protocol" / Named(Int16ub, PppProtocol) * "Quality-Protocol, for link monitoring (RFC 1661 §6.3)",
            "quality" / Switch(
                this["opt.quality_protocol"],
                {PppProtocol.LQR: Struct(rest(
                    "opt.reporting_period", Int32ub, "Reporting-Period of LQR, in hundredths of a second (RFC 1989 §2.5)"))},
                default=Struct(rest("opt.data", doc="Data for the quality protocol (RFC 1661 §6.3)")),
            ),
        ),
        LcpOption.Magic_Number: Struct(
            "opt.magic_number" / Int32ub * "Magic-Number, detects looped-back links (RFC 1661 §6.4)"),
        LcpOption.Protocol_Field_Compression: Struct(),
        LcpOption.Address_and_Control_Field_Compression: Struct(),
        LcpOption.FCS_Alternatives: Struct("fcs" / BitFields(
            Int8ub,
            Bit("opt.fcs_alternatives", 0xFF, "FCS-Alternatives (RFC 1570 §2.1)"),
            Bit("opt.fcs_alternatives.null", 0x01, "Null FCS (RFC 1570 §2.1)"),
            Bit("opt.fcs_alternatives.ccitt16", 0x02, "CCITT 16-bit FCS (RFC 1570 §2.1)"),
            Bit("opt.fcs_alternatives.ccitt32", 0x04, "CCITT 32-bit FCS (RFC 1570 §2.1)"),
        )),
        LcpOption.Self_Describing_Pad: Struct(
            "opt.maximum" / Int8ub * "Maximum number of padding octets (RFC 1570 §2.2)"),
        LcpOption.Numbered_Mode: Struct(
            "opt.window" / Int8ub * "Window, frames outstanding in numbered mode (RFC 1663 §4)",
            rest("opt.hdlc_address", doc="HDLC address, of the numbered-mode link (RFC 1663 §4)"),
        ),
        LcpOption.Callback: Struct(
            "opt.operation" / Named(Int8ub, CallbackOperation) * "Callback operation (RFC 1570 §2.3)",
            rest("opt.message", doc="Callback message, where to call back, by operation (RFC 1570 §2.3)"),
        ),
        LcpOption.Multilink_MRRU: Struct(
            "opt.mrru" / Int16ub * "Maximum Received Reconstructed Unit (RFC 1990 §5.1.1)"),
        LcpOption.Multilink_Short_Sequence_Number_Header: Struct(),
        LcpOption.Multilink_Endpoint_Discriminator: Struct(
            "opt.ep_disc_class" / Named(Int8ub, EndpointClass) * "Endpoint Discriminator class (RFC 1990 §5.1.3)",
            rest("opt.data", doc="Endpoint Discriminator address (RFC 1990 §5.1.3)"),
        ),
        LcpOption.Link_Discriminator: Struct(
            "opt.link_discrim" / Int16ub * "Link Discriminator for BACP (RFC 2125 §5.1)"),
    },
    raw="opt.data",
)

MAGIC = "magic_number" / Int32ub * "Magic-Number of the sender, or zero (RFC 1661 §5.8)"

BODIES = {
    LcpCode.Protocol_Reject: Struct(
        "rej_proto" / Named(Int16ub, PppProtocol) * "Rejected-Protocol (RFC 1661 §5.7)",
        rest("rej_info", doc="Rejected-Information, the start of the rejected packet (RFC 1661 §5.7)"),
    ),
    LcpCode.Echo_Request: Struct(MAGIC, rest("data", doc="Data, uninterpreted octets (RFC 1661 §5.8)")),
    LcpCode.Echo_Reply: Struct(MAGIC, rest("data", doc="Data, uninterpreted octets (RFC 1661 §5.8)")),
    LcpCode.Discard_Request: Struct(MAGIC, rest("data", doc="Data, uninterpreted octets (RFC 1661 §5.9)")),
    LcpCode.Identification: Struct(MAGIC, rest("message", Text(), "Message, identification text (RFC 1570 §2.4)")),
    LcpCode.Time_Remaining: Struct(
        MAGIC,
        "secs_remaining" / Int32ub * "Seconds remaining in this session (RFC 1570 §2.5)",
        rest("message", Text(), "Message (RFC 1570 §2.5)"),
    ),
}

PROTOCOL = control_protocol(
    name="lcp", title="PPP Link Control Protocol", ref="RFC 1661 §5", number=PppProtocol.LCP,
    codes=LcpCode, options=OPTIONS, bodies=BODIES,
)
