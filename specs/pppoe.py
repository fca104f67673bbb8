"""PPP over Ethernet — RFC 2516 §4 (Discovery tags: Appendix A; Credits, Sequence-Number,
Credit-Scale-Factor: RFC 5578; HURL, MOTM, IP_Route_Add: RFC 4937; PPP-Max-Payload: RFC 4638;
Broadband Forum vendor tags: TR-101 §3.9.3 / RFC 4679 §5).

Two protocols as in Wireshark: ``pppoed`` (Discovery, EtherType 0x8863: header plus tags) and
``pppoes`` (Session, EtherType 0x8864: header, then PPP).  Wireshark names the shared
header fields ``pppoe.*`` in both: the Session spec's namespace is ``pppoe``, the Discovery
spec gives those names as aliases and keeps ``pppoed.tags.*`` for its tags.

Checks: the tags must fill the payload length exactly (a tag that overruns it, or a payload
length beyond the frame, ends ``pppoed`` as malformed); a version or type other than 1
(RFC 2516 §4) leaves the payload undecoded; a session payload length beyond the frame is
flagged ``pppoe.payload_length.bad`` (as Wireshark).
"""
from enum import IntEnum

from construct import FixedSized, GreedyBytes, IfThenElse, Int8ub, Int16ub, Int32ub, Struct, Switch, this

from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import Auto, Bit, BitFields, Named, Text
from specs._tlv import TLV


class PppoeCode(IntEnum):
    """PPPoE codes (RFC 2516 §5; PADM/PADN: RFC 4937 §3)."""
    Session_Data = 0x00
    PADO = 0x07
    PADI = 0x09
    PADR = 0x19
    PADS = 0x65
    PADT = 0xA7
    PADM = 0xD3
    PADN = 0xD4


#: tshark's Info text per code
CODE_INFO = {
    0x00: "Session Data",
    0x07: "Active Discovery Offer (PADO)",
    0x09: "Active Discovery Initiation (PADI)",
    0x19: "Active Discovery Request (PADR)",
    0x65: "Active Discovery Session-confirmation (PADS)",
    0xA7: "Active Discovery Terminate (PADT)",
    0xD3: "Active Discovery Message (PADM)",
    0xD4: "Active Discovery Network (PADN)",
}


class PppoeTag(IntEnum):
    """PPPoE tag types (IANA "PPPoE TAG Types"; RFC 2516 Appendix A)."""
    End_Of_List = 0x0000
    Service_Name = 0x0101
    AC_Name = 0x0102
    Host_Uniq = 0x0103
    AC_Cookie = 0x0104
    Vendor_Specific = 0x0105
    Credits = 0x0106
    Metrics = 0x0107
    Sequence_Number = 0x0108
    Credit_Scale_Factor = 0x0109
    Relay_Session_Id = 0x0110
    HURL = 0x0111
    MOTM = 0x0112
    PPP_Max_Payload = 0x0120
    IP_Route_Add = 0x0121
    Service_Name_Error = 0x0201
    AC_System_Error = 0x0202
    Generic_Error = 0x0203


class BbfTag(IntEnum):
    """Broadband Forum (vendor 3561) sub-tags: line identification and DSL line
    characteristics (TR-101 §3.9.3; RFC 4679 §5.1)."""
    Agent_Circuit_Id = 0x01
    Agent_Remote_Id = 0x02
    Actual_Data_Rate_Upstream = 0x81
    Actual_Data_Rate_Downstream = 0x82
    Minimum_Data_Rate_Upstream = 0x83
    Minimum_Data_Rate_Downstream = 0x84
    Attainable_Data_Rate_Upstream = 0x85
    Attainable_Data_Rate_Downstream = 0x86
    Maximum_Data_Rate_Upstream = 0x87
    Maximum_Data_Rate_Downstream = 0x88
    Minimum_Data_Rate_Upstream_Low_Power = 0x89
    Minimum_Data_Rate_Downstream_Low_Power = 0x8A
    Maximum_Interleaving_Delay_Upstream = 0x8B
    Actual_Interleaving_Delay_Upstream = 0x8C
    Maximum_Interleaving_Delay_Downstream = 0x8D
    Actual_Interleaving_Delay_Downstream = 0x8E
    Access_Loop_Encapsulation = 0x90


BBF_VENDOR = 3561


def _rate(name, doc):
    return Struct(f"tags.{name}" / Int32ub * f"{doc} (RFC 4679 §5.1)")


BBF_TAGS = TLV(
    ("tags.vendorspecific.tag", Named(Int8ub, BbfTag)), ("tag_length_8", Int8ub),
    {
        BbfTag.Agent_Circuit_Id: Struct("tags.circuit_id" / Text() * "Agent-Circuit-Id, the access line (RFC 4679 §5.1)"),
        BbfTag.Agent_Remote_Id: Struct("tags.remote_id" / Text() * "Agent-Remote-Id, the subscriber (RFC 4679 §5.1)"),
        BbfTag.Actual_Data_Rate_Upstream: _rate("act_data_rate_up", "Actual upstream data rate, kbit/s"),
        BbfTag.Actual_Data_Rate_Downstream: _rate("act_data_rate_down", "Actual downstream data rate, kbit/s"),
        BbfTag.Minimum_Data_Rate_Upstream: _rate("min_data_rate_up", "Minimum upstream data rate, kbit/s"),
        BbfTag.Minimum_Data_Rate_Downstream: _rate("min_data_rate_down", "Minimum downstream data rate, kbit/s"),
        BbfTag.Attainable_Data_Rate_Upstream: _rate("attainable_data_rate_up", "Attainable upstream data rate, kbit/s"),
        BbfTag.Attainable_Data_Rate_Downstream: _rate("attainable_data_rate_down", "Attainable downstream data rate, kbit/s"),
        BbfTag.Maximum_Data_Rate_Upstream: _rate("max_data_rate_up", "Maximum upstream data rate, kbit/s"),
        BbfTag.Maximum_Data_Rate_Downstream: _rate("max_data_rate_down", "Maximum downstream data rate, kbit/s"),
        BbfTag.Minimum_Data_Rate_Upstream_Low_Power: _rate("min_data_rate_up_lp", "Low-power minimum upstream rate, kbit/s"),
        BbfTag.Minimum_Data_Rate_Downstream_Low_Power: _rate("min_data_rate_down_lp", "Low-power minimum downstream rate, kbit/s"),
        BbfTag.Maximum_Interleaving_Delay_Upstream: _rate("max_int_delay_up", "Maximum upstream interleaving delay, ms"),
        BbfTag.Actual_Interleaving_Delay_Upstream: _rate("act_int_delay_up", "Actual upstream interleaving delay, ms"),
        BbfTag.Maximum_Interleaving_Delay_Downstream: _rate("max_int_delay_down", "Maximum downstream interleaving delay, ms"),
        BbfTag.Actual_Interleaving_Delay_Downstream: _rate("act_int_delay_down", "Actual downstream interleaving delay, ms"),
        BbfTag.Access_Loop_Encapsulation: Struct(
            "tags.access_loop_encap.data_link" / Int8ub * "Data link, ATM AAL5 or Ethernet (RFC 4679 §5.1)",
            "tags.access_loop_encap.encap_1" / Int8ub * "Encapsulation 1 (RFC 4679 §5.1)",
            "tags.access_loop_encap.encap_2" / Int8ub * "Encapsulation 2 (RFC 4679 §5.1)",
        ),
    },
    raw="tag.unknown_data", counts_header=False,
)

TAGS = TLV(
    ("tag", Named(Int16ub, PppoeTag)), ("tag_length", Int16ub),
    {
        PppoeTag.End_Of_List: Struct(),
        PppoeTag.Service_Name: Struct(
            "tags.service_name" / Text() * "Service-Name; empty means any service (RFC 2516 Appendix A)"),
        PppoeTag.AC_Name: Struct("tags.ac_name" / Text() * "AC-Name, the Access Concentrator (RFC 2516 Appendix A)"),
        PppoeTag.Host_Uniq: Struct(
            "tags.host_uniq" / GreedyBytes * "Host-Uniq, the host's value, echoed by the AC (RFC 2516 Appendix A)"),
        PppoeTag.AC_Cookie: Struct(
            "tags.ac_cookie" / GreedyBytes * "AC-Cookie, the AC's value, echoed in the PADR (RFC 2516 Appendix A)"),
        PppoeTag.Vendor_Specific: Struct(
            "tags.vendor_id" / Int32ub * "Vendor-Id, 0, then the vendor's SMI enterprise number (RFC 2516 Appendix A)",
            "vendor" / Switch(this["tags.vendor_id"], {
                BBF_VENDOR: Struct("tags.vendorspecific.tags" / BBF_TAGS * "Broadband Forum sub-tags (RFC 4679 §5.1)"),
            }, default=Struct("tags.vendor_unspecified" / GreedyBytes * "Vendor data (RFC 2516 Appendix A)")),
        ),
        PppoeTag.Credits: Struct(
            "tags.credits.fcn" / Int16ub * "Forward Credit Notification (RFC 5578 §4.2)",
            "tags.credits.bcn" / Int16ub * "Backward Credit Notification (RFC 5578 §4.2)",
        ),
        PppoeTag.Metrics: Struct("tags.metrics" / GreedyBytes * "Metrics of the radio link (RFC 5578 §4.4)"),
        PppoeTag.Sequence_Number: Struct("tags.seq_num" / Int16ub * "Sequence Number (RFC 5578 §4.5)"),
        PppoeTag.Credit_Scale_Factor: Struct("tags.credit_scale" / Int16ub * "Credit Scale Factor (RFC 5578 §4.6)"),
        PppoeTag.Relay_Session_Id: Struct(
            "tags.relay_session_id" / GreedyBytes * "Relay-Session-Id, added by a relay, echoed back (RFC 2516 Appendix A)"),
        PppoeTag.HURL: Struct("tags.hurl" / GreedyBytes * "HURL, URL for the user (RFC 4937 §5.1)"),
        PppoeTag.MOTM: Struct("tags.motm" / GreedyBytes * "MOTM, message of the minute (RFC 4937 §5.2)"),
        PppoeTag.PPP_Max_Payload: Struct(
            "tags.max_payload" / GreedyBytes * "PPP-Max-Payload, largest PPP payload, 2 octets (RFC 4638 §4)"),
        PppoeTag.IP_Route_Add: Struct("tags.ip_route_add" / GreedyBytes * "IP_Route_Add, routes to add (RFC 4937 §5.3)"),
        PppoeTag.Service_Name_Error: Struct(
            "tags.service_name_error" / Text() * "Service-Name-Error, the service is refused (RFC 2516 Appendix A)"),
        PppoeTag.AC_System_Error: Struct(
            "tags.ac_system_error" / Text() * "AC-System-Error, the AC cannot serve the request (RFC 2516 Appendix A)"),
        PppoeTag.Generic_Error: Struct("tags.generic_error" / Text() * "Generic-Error (RFC 2516 Appendix A)"),
    },
    raw="tag.unknown_data", counts_header=False,
)

VALID = (this.vt.version == 1) & (this.vt.type == 1)


def header(payload_length_default):
    return (
        "vt" / BitFields(
            Int8ub,
            Bit("version", 0xF0, "Version, 1 (RFC 2516 §4)", default=1),
            Bit("type", 0x0F, "Type, 1 (RFC 2516 §4)", default=1),
        ),
        "code" / Named(Int8ub, PppoeCode) * "Code, Discovery stage packet, or 0 for session data (RFC 2516 §4)",
        "session_id" / Int16ub * "Session ID, 0 until the AC assigns one in its PADS (RFC 2516 §4)",
        "payload_length" / Auto(Int16ub, payload_length_default) * "Length of the payload, not counting the Ethernet or PPPoE headers (RFC 2516 §4)",
    )


DISCOVERY = Struct(
    *header(TAGS.size(this.tags)),
    "tags" / IfThenElse(VALID, FixedSized(this.payload_length, TAGS), Struct()) * "Tags (RFC 2516 §5, Appendix A)",
)

SESSION = Struct(*header(this._params.payload_len))


def discovery_summary(layer):
    code = layer.get("code")
    text = CODE_INFO.get(int(code), f"Unknown code {int(code):#04x}") if code is not None else layer.proto.title
    for name in layer.get_all("tags.ac_name"):
        text += f" AC-Name='{name}'"
    return text


def session_summary(layer):
    return "Session Data"


def _bad_length(layer):
    """The payload length claims more octets than follow (Wireshark: "Possible bad payload length")."""
    return True if layer.cut else None


_HEADER_ALIASES = {name: f"pppoe.{name}" for name in ("version", "type", "code", "session_id", "payload_length")}

PROTOCOLS = [
    Protocol(
        name="pppoed",
        title="PPP-over-Ethernet Discovery",
        ref="RFC 2516 §5",
        layout=DISCOVERY,
        binds=[Bind("ethertype", 0x8863)],
        # a version or type this spec does not know leaves the tags undecoded, as payload
        payload_length=this.payload_length * ((this.vt.version != 1) | (this.vt.type != 1)),
        summary=discovery_summary,
        column="PPPoED",
        aliases=_HEADER_ALIASES,
        strict=True,
    ),
    Protocol(
        name="pppoes",
        title="PPP-over-Ethernet Session",
        ref="RFC 2516 §6",
        layout=SESSION,
        namespace="pppoe",
        binds=[Bind("ethertype", 0x8864)],
        dispatch=[Dispatch("pppoes.payload", 1, when=VALID)],
        payload_length=this.payload_length,
        summary=session_summary,
        column="PPPoES",
        virtual=[Virtual("payload_length.bad", "The payload length claims more octets than the frame has", fn=_bad_length)],
    ),
]
