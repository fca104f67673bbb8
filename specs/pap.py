"""PPP Password Authentication Protocol — RFC 1334 §2.2."""
from enum import IntEnum

from construct import FixedSized, Int8ub, Int16ub, Struct, Switch, this

from decoder.protocol import Bind, Protocol
from specs._fields import Auto, Named, counted_text
from specs._ppp_cp import PppProtocol, packet_length, rest


class PapCode(IntEnum):
    """PAP codes (RFC 1334 §2.2)."""
    Authenticate_Request = 1
    Authenticate_Ack = 2
    Authenticate_Nak = 3


MESSAGE = Struct(*counted_text("message", "message.length", "Msg-Length (RFC 1334 §2.2.2)",
                                "Message, text for the peer, e.g. why it failed (RFC 1334 §2.2.2)"))

BODY = Switch(this.code, {
    PapCode.Authenticate_Request: Struct(
        *counted_text("peer_id", "peer_id.length", "Peer-ID Length (RFC 1334 §2.2.1)",
                      "Peer-ID, the name being authenticated (RFC 1334 §2.2.1)"),
        *counted_text("password", "password.length", "Passwd-Length (RFC 1334 §2.2.1)",
                      "Password, in the clear (RFC 1334 §2.2.1)"),
    ),
    PapCode.Authenticate_Ack: MESSAGE,
    PapCode.Authenticate_Nak: MESSAGE,
}, default=Struct(rest("stuff", doc="Data of an unknown code (RFC 1334 §2.2)")))

LAYOUT = Struct(
    "code" / Named(Int8ub, PapCode) * "Code (RFC 1334 §2.2)",
    "identifier" / Int8ub * "Identifier, matches a request and its reply (RFC 1334 §2.2)",
    "length" / Auto(Int16ub, packet_length(BODY, "data")) * "Length from Code on, in octets; octets beyond it are padding (RFC 1334 §2.2)",
    "data" / FixedSized(this.length - 4, BODY) * "Data, laid out by the code (RFC 1334 §2.2.1-§2.2.2)",
)


def summary(layer):
    g = layer.get
    code = g("code")
    if code == PapCode.Authenticate_Request:
        return f"Authenticate-Request (Peer-ID='{g('peer_id', '')}', Password='{g('password', '')}')"
    if code in (PapCode.Authenticate_Ack, PapCode.Authenticate_Nak):
        return f"{PapCode(code).name.replace('_', '-')} (Message='{g('message', '')}')"
    return f"Unknown code {code}" if code is not None else layer.proto.title


PROTOCOL = Protocol(
    name="pap",
    title="PPP Password Authentication Protocol",
    ref="RFC 1334 §2",
    layout=LAYOUT,
    binds=[Bind("ppp.protocol", PppProtocol.PAP)],
    payload_length=0,
    summary=summary,
    column="PPP PAP",
    strict=True,
)
