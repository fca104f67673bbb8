"""User Datagram Protocol header — RFC 768 (IPv6 checksum rules: RFC 8200 §8.1)."""
from construct import Int16ub, Struct, this

from decoder.checksum import ChecksumRule
from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import Auto

LAYOUT = Struct(
    "srcport" / Int16ub * "Source port (RFC 768)",
    "dstport" / Int16ub * "Destination port (RFC 768)",
    "length" / Auto(Int16ub, 8 + this._params.payload_len) * "Length of header and data in octets (RFC 768)",
    "checksum" / Auto(Int16ub, 0) * "Checksum over pseudo-header, header and data; 0 = none over IPv4 (RFC 768)",
)


def summary(layer):
    g = layer.get
    return f"{g('srcport')} → {g('dstport')} Len={g('length') - 8}"


PROTOCOL = Protocol(
    name="udp",
    title="User Datagram Protocol",
    ref="RFC 768",
    layout=LAYOUT,
    binds=[Bind("ip.proto", 17)],
    dispatch=[Dispatch("udp.port", this.srcport, this.dstport)],
    payload_length=this.length - 8,
    checksums=[ChecksumRule("checksum", offset=6, pseudo=17, zero_means_absent=True)],
    summary=summary,
    virtual=[Virtual("port", "Source or destination port", either=("srcport", "dstport"))],
)
