"""PPP Challenge-Handshake Authentication Protocol — RFC 1994 §4 (MS-CHAP: RFC 2433, RFC 2759
use the same packets).  The Response Value of CHAP with MD5 is MD5(Identifier, secret,
Challenge Value) (RFC 1994 §4.1): ``expert/chap_check.py`` verifies it when the password is known.
"""
from enum import IntEnum

from construct import Bytes, FixedSized, Int8ub, Int16ub, Struct, Switch, this
from construct.expr import FuncPath

from decoder.protocol import Bind, Protocol
from specs._fields import Auto, Named, Text
from specs._ppp_cp import PppProtocol, packet_length, rest


class ChapCode(IntEnum):
    """CHAP codes (RFC 1994 §4)."""
    Challenge = 1
    Response = 2
    Success = 3
    Failure = 4


VALUE = Struct(
    "value_size" / Auto(Int8ub, FuncPath(len)(this.value)) * "Value-Size (RFC 1994 §4.1)",
    "value" / Bytes(this.value_size) * "Value, the challenge, or the response computed from it (RFC 1994 §4.1)",
    rest("name", Text(), "Name, the system sending the packet (RFC 1994 §4.1)"),
)

MESSAGE = Struct(rest("message", Text(), "Message for a person, implementation-dependent (RFC 1994 §4.2)"))

BODY = Switch(this.code, {
    ChapCode.Challenge: VALUE,
    ChapCode.Response: VALUE,
    ChapCode.Success: MESSAGE,
    ChapCode.Failure: MESSAGE,
}, default=Struct(rest("stuff", doc="Data of an unknown code (RFC 1994 §4)")))

LAYOUT = Struct(
    "code" / Named(Int8ub, ChapCode) * "Code (RFC 1994 §4)",
    "identifier" / Int8ub * "Identifier, matches a challenge, its response and the result (RFC 1994 §4)",
    "length" / Auto(Int16ub, packet_length(BODY, "data")) * "Length from Code on, in octets; octets beyond it are padding (RFC 1994 §4)",
    "data" / FixedSized(this.length - 4, BODY) * "Data, laid out by the code (RFC 1994 §4.1-§4.2)",
)


def summary(layer):
    g = layer.get
    code = g("code")
    if code in (ChapCode.Challenge, ChapCode.Response):
        value = g("value") or b""
        return f"{ChapCode(code).name} (NAME='{g('name', '')}', VALUE=0x{value.hex()})"
    if code in (ChapCode.Success, ChapCode.Failure):
        return f"{ChapCode(code).name} (MESSAGE='{g('message', '')}')"
    return f"Unknown code {code}" if code is not None else layer.proto.title


PROTOCOL = Protocol(
    name="chap",
    title="PPP Challenge Handshake Authentication Protocol",
    ref="RFC 1994 §4",
    layout=LAYOUT,
    binds=[Bind("ppp.protocol", PppProtocol.CHAP)],
    payload_length=0,
    summary=summary,
    column="PPP CHAP",
    strict=True,
)
