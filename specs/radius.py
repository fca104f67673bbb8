"""Remote Authentication Dial In User Service — RFC 2865 §3 (packet), §5 (attributes);
accounting RFC 2866; Dynamic Authorization (Disconnect/CoA, codes 40-45) RFC 5176.

The attribute layouts are generated from data: ``specs/radius.dictionary`` (FreeRADIUS
dictionary format, written from the attribute tables of RFC 2865, 2866, 2867, 2868, 2869,
3162, 4072, 4372, 4675, 4818, 4849, 5090, 5176, 5447, 5580, 5607, 6911, plus Cisco and
Microsoft vendor attributes).  :func:`value_layout` is the one place that maps a dictionary
type to a construct node; adding an attribute means adding a dictionary line.

Field names, as in Wireshark:

* ``radius.code``, ``radius.id``, ``radius.length``, ``radius.authenticator``;
* per attribute ``radius.avp.type`` and ``radius.avp.length``, then its value under the
  attribute's name with "-" turned into "_": ``radius.User_Name``, ``radius.NAS_IP_Address``,
  ``radius.Acct_Status_Type`` (integers with dictionary VALUE names are enumerations);
* tagged attributes (RFC 2868 §3) add ``<Name>.tag``; hidden values (User-Password,
  Tunnel-Password) are ``<Name>_encrypted`` (``expert/radius_check.py`` decodes User-Password
  into ``radius.User_Password`` when the shared secret is known);
* Vendor-Specific: ``radius.avp.vendor_id``, then per sub-attribute ``radius.avp.vendor_type``,
  ``radius.avp.vendor_len`` and the value by its vendor dictionary name (``radius.MS_CHAP_Challenge``,
  ``radius.Cisco_AVPair``); an attribute or vendor attribute not in the dictionary is
  ``radius.Unknown_Attribute``;
* where Wireshark uses a name of its own it is given too: ``radius.Framed-IP-Address``,
  ``radius.Login-IP-Host``, ``radius.Framed-IPX-Network`` (its hyphenated names for these),
  ``radius.eap_fragment`` (EAP-Message), ``radius.CHAP_Ident``/``radius.CHAP_String`` (the parts
  of CHAP-Password), ``radius.egress_vlanid*``/``radius.egress_vlan_name*`` (RFC 4675
  Egress-VLANID and Egress-VLAN-Name split into tag indication and value).

An attribute whose length is below 2 or runs past the packet, or whose value does not fit
its type, ends the layer as malformed (RFC 2865 §5: the attribute list is invalid).
"""
from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import NamedTuple

from construct import Bytes, FixedSized, GreedyBytes, Int8ub, Int16ub, Int32sb, Int32ub, Int64ub, Peek, \
    Struct, Switch, this

from decoder.protocol import Bind, Protocol, Virtual
from specs._fields import Auto, Bit, BitFields, IPv4Address, IPv6Address, Named, Text
from specs._tlv import TLV

DICTIONARY = Path(__file__).with_name("radius.dictionary")


class RadiusCode(IntEnum):
    """RADIUS packet codes (IANA "RADIUS Packet Type Codes"; RFC 2865 §3, RFC 2866 §4, RFC 5176 §3)."""
    Access_Request = 1
    Access_Accept = 2
    Access_Reject = 3
    Accounting_Request = 4
    Accounting_Response = 5
    Access_Challenge = 11
    Status_Server = 12
    Status_Client = 13
    Disconnect_Request = 40
    Disconnect_ACK = 41
    Disconnect_NAK = 42
    CoA_Request = 43
    CoA_ACK = 44
    CoA_NAK = 45


def code_name(code) -> str:
    """``Access-Request`` for 1, as in tshark's Info column."""
    try:
        return RadiusCode(int(code)).name.replace("_", "-")
    except ValueError:
        return f"Unknown Packet({int(code)})"


# --- the dictionary ------------------------------------------------------------------------

class Attribute(NamedTuple):
    name: str            # dictionary name, "User-Name"
    number: int
    type: str            # dictionary type, "string"
    has_tag: bool
    encrypt: int
    values: dict         # number -> value name


class Dictionary(NamedTuple):
    attributes: dict     # number -> Attribute
    vendors: dict        # vendor id -> (vendor name, {number -> Attribute})


def load_dictionary(path=DICTIONARY) -> Dictionary:
    """Read a FreeRADIUS-format dictionary (ATTRIBUTE, VALUE, VENDOR, BEGIN-/END-VENDOR)."""
    standard, vendors, vendor_ids, by_name = {}, {}, {}, {}
    vendor = None
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            keyword = words[0]
            if keyword == "VENDOR":
                vendor_ids[words[1]] = int(words[2], 0)
                vendors[int(words[2], 0)] = (words[1], {})
            elif keyword == "BEGIN-VENDOR":
                vendor = vendor_ids[words[1]]
            elif keyword == "END-VENDOR":
                vendor = None
            elif keyword == "ATTRIBUTE":
                flags = words[4].split(",") if len(words) > 4 else []
                encrypt = next((int(f.split("=")[1]) for f in flags if f.startswith("encrypt=")), 0)
                attr = Attribute(words[1], int(words[2], 0), words[3], "has_tag" in flags, encrypt, {})
                (standard if vendor is None else vendors[vendor][1])[attr.number] = attr
                by_name[attr.name] = attr
            elif keyword == "VALUE":
                by_name[words[1]].values[int(words[3], 0)] = words[2]
            else:
                raise ValueError(f"unknown keyword {keyword}")
        except (IndexError, KeyError, ValueError) as e:
            raise ValueError(f"{path}:{lineno}: bad dictionary line: {line.strip()!r} ({e})") from None
    return Dictionary(standard, vendors)


def field_name(attribute_name: str) -> str:
    """The field of an attribute: ``User-Name`` -> ``User_Name`` (Wireshark's rule)."""
    return attribute_name.replace("-", "_")


def _enum(class_name, names):
    """An IntEnum from ``{number: name}`` (names kept as the dictionary spells them)."""
    seen, members = set(), []
    for number, name in sorted(names.items()):
        if name not in seen:
            seen.add(name)
            members.append((name, number))
    return IntEnum(class_name, members) if members else None


# dictionary type -> construct node of the value (RFC 2865 §5, RFC 8044 data types)
TYPES = {
    "string": Text(),
    "text": Text(),
    "octets": GreedyBytes,
    "ipaddr": IPv4Address(),
    "ipv6addr": IPv6Address(),
    "ipv6prefix": GreedyBytes,   # reserved, prefix length, prefix: kept raw, as Wireshark shows it
    "ifid": GreedyBytes,
    "integer": Int32ub,
    "date": Int32ub,             # seconds since 1970-01-01 UTC
    "integer64": Int64ub,
    "byte": Int8ub,
    "short": Int16ub,
    "signed": Int32sb,
}


def value_layout(attr: Attribute, ref: str = "RFC 2865 §5") -> Struct:
    """The construct layout of one attribute's value, from its dictionary entry."""
    name = field_name(attr.name)
    doc = f"{attr.name} ({ref})"
    enum = _enum(name, attr.values)
    if attr.encrypt:
        # hidden with the shared secret (RFC 2865 §5.2, RFC 2868 §3.5): the octets as sent
        tag = [f"{name}.tag" / Int8ub * "Tag grouping tunnel attributes (RFC 2868 §3.5)"] if attr.has_tag else []
        return Struct(*tag, f"{name}_encrypted" / GreedyBytes * f"{doc}, hidden with the shared secret")
    if attr.has_tag and attr.type == "integer":
        # RFC 2868 §3.1: a one-octet tag, always present, then a three-octet value
        return Struct("tagged" / BitFields(
            Int32ub,
            Bit(f"{name}.tag", 0xFF000000, "Tag grouping tunnel attributes (RFC 2868 §3.1)"),
            Bit(name, 0x00FFFFFF, doc, enum=enum),
        ))
    node = TYPES.get(attr.type, GreedyBytes)
    if enum is not None and attr.type == "integer":
        node = Named(node, enum)
    if attr.has_tag:
        tag = Struct(f"{name}.tag" / Int8ub * "Tag grouping tunnel attributes (RFC 2868 §3)")
        # RFC 2868 §3: a first octet 0x00-0x1F is a tag, anything else starts the value
        return Struct(
            "_tag" / Peek(Int8ub) * "First octet, read ahead, 0x00-0x1F is a tag (RFC 2868 §3.3)",
            "tag" / Switch(this._tag, {t: tag for t in range(0x20)}, default=Struct()),
            name / node * doc,
        )
    return Struct(name / node * doc)


DICT = load_dictionary()

# Wireshark decodes these RFC 4675 attributes into fields of its own (§2.1, §2.3)
OVERRIDES = {
    56: Struct("vlanid" / BitFields(
        Int32ub,
        Bit("egress_vlanid_tag", 0xFF000000, "Tag indication, 0x31 tagged, 0x32 untagged (RFC 4675 §2.1)"),
        Bit("egress_vlanid_pad", 0x00FFF000, "Pad, zero (RFC 4675 §2.1)"),
        Bit("egress_vlanid", 0x00000FFF, "Egress VLAN ID (RFC 4675 §2.1)"),
    )),
    58: Struct(
        "egress_vlan_name_tag" / Int8ub * "Tag indication, 0x31 tagged, 0x32 untagged (RFC 4675 §2.3)",
        "egress_vlan_name" / Text() * "Egress VLAN name (RFC 4675 §2.3)",
    ),
}


def _values(attributes, ref):
    return {number: value_layout(attr, ref) for number, attr in attributes.items()}


RadiusAttribute = _enum("RadiusAttribute", {n: field_name(a.name) for n, a in DICT.attributes.items()})
Vendor = _enum("Vendor", {vid: name for vid, (name, _) in DICT.vendors.items()})


def vendor_tlv(name, attributes):
    """Sub-attributes of one vendor: 1-octet type and length (RFC 2865 §5.26)."""
    kinds = _enum(f"{name}_Attribute", {n: field_name(a.name) for n, a in attributes.items()})
    return TLV(
        ("avp.vendor_type", Named(Int8ub, kinds) if kinds else Int8ub), ("avp.vendor_len", Int8ub),
        _values(attributes, f"{name} vendor dictionary"),
        raw="Unknown_Attribute",
    )


VENDOR_SPECIFIC = Struct(
    "avp.vendor_id" / Named(Int32ub, Vendor) * "Vendor-Id, the vendor's SMI Network Management Private Enterprise Code (RFC 2865 §5.26)",
    "vsa" / Switch(this["avp.vendor_id"], {
        vid: Struct("attributes" / vendor_tlv(name, attrs) * f"{name} attributes (RFC 2865 §5.26)")
        for vid, (name, attrs) in DICT.vendors.items()
    }, default=Struct("attributes" / vendor_tlv("Unknown", {}) * "Vendor attributes (RFC 2865 §5.26)")),
)

ATTRIBUTES = TLV(
    ("avp.type", Named(Int8ub, RadiusAttribute)), ("avp.length", Int8ub),
    {**_values(DICT.attributes, "RFC 2865 §5"), **OVERRIDES, 26: VENDOR_SPECIFIC},
    raw="Unknown_Attribute",
)

LAYOUT = Struct(
    "code" / Named(Int8ub, RadiusCode) * "Code, kind of RADIUS packet (RFC 2865 §3)",
    "id" / Int8ub * "Identifier, matches requests and replies (RFC 2865 §3)",
    "length" / Auto(Int16ub, 20 + ATTRIBUTES.size(this.attributes)) * "Length of the packet, header included; octets beyond it are padding (RFC 2865 §3)",
    "authenticator" / Bytes(16) * "Authenticator, random in requests, an MD5 over the packet and secret in replies (RFC 2865 §3)",
    "attributes" / FixedSized(this.length - 20, ATTRIBUTES) * "Attribute Value Pairs (RFC 2865 §5)",
)


def summary(layer):
    return f"{code_name(layer.get('code'))} id={layer.get('id')}"


def _first_octet(value):
    return value[0] if value else None


def _after_first(value):
    return value[1:] if value else None


PROTOCOL = Protocol(
    name="radius",
    title="RADIUS Protocol",
    ref="RFC 2865 §3",
    layout=LAYOUT,
    binds=[Bind("udp.port", 1645, 1646, 1700, 1812, 1813, 3799)],
    payload_length=0,
    summary=summary,
    column="RADIUS",
    strict=True,
    virtual=[
        Virtual("Framed-IP-Address", "Framed-IP-Address (Wireshark's name)", either=("Framed_IP_Address",)),
        Virtual("Login-IP-Host", "Login-IP-Host (Wireshark's name)", either=("Login_IP_Host",)),
        Virtual("Framed-IPX-Network", "Framed-IPX-Network (Wireshark's name)", either=("Framed_IPX_Network",)),
        Virtual("eap_fragment", "EAP-Message, a fragment of an EAP packet (RFC 3579 §3.1)", either=("EAP_Message",)),
        Virtual("CHAP_Ident", "CHAP Identifier, first octet of CHAP-Password (RFC 2865 §5.3)",
                of="CHAP_Password", fn=_first_octet),
        Virtual("CHAP_String", "CHAP Response, CHAP-Password after the identifier (RFC 2865 §5.3)",
                of="CHAP_Password", fn=_after_first),
    ],
)
