"""IEEE 802.1Q VLAN tags: the customer tag (C-TAG, ``vlan``) and the service tag of
IEEE 802.1ad provider bridging (S-TAG, ``ieee8021ad``) — IEEE Std 802.1Q-2018 §9.

Both tags are a 16-bit Tag Control Information word (priority, drop eligible, VLAN id)
followed by the EtherType of what they carry (§9.6); they differ only in the TPID that
announces them (0x8100 C-TAG; 0x88a8 S-TAG; 0x9100 is a pre-standard Q-in-Q TPID that
Wireshark, like us, decodes as a C-TAG).  The layout is built once by :func:`tag_layout`.

A type below 0x0600 is an IEEE 802.3 length (802.1Q-2018 §9.5, 802.3 §3.2.6): the
payload is then an LLC PDU, as after an Ethernet header.  Wireshark names the field
``vlan.len`` in that case; here the field stays ``etype`` and the virtual field ``len``
gives the length.  The length does not (yet) bound the payload, as in ``eth``.
"""
from construct import Int16ub, Struct, this

from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import Bit, BitFields, Named
from specs._numbers import EtherType


def tag_layout(kind):
    """The tag after its TPID: TCI word and EtherType (IEEE 802.1Q-2018 §9.6); ``kind``
    names the tag in the field docs (``"C-TAG"``/``"S-TAG"``)."""
    return Struct(
        "tci" / BitFields(
            Int16ub,
            Bit("priority", 0xE000, f"Priority Code Point of the {kind} (IEEE 802.1Q-2018 §9.6; Table I-2 names the classes)"),
            Bit("dei", 0x1000, f"Drop Eligible Indicator of the {kind}, formerly CFI (IEEE 802.1Q-2018 §9.6)"),
            Bit("id", 0x0FFF, f"VLAN identifier of the {kind}; 0 = priority tag only, 4095 reserved (IEEE 802.1Q-2018 §9.6)"),
        ),
        "etype" / Named(Int16ub, EtherType) * "EtherType of the payload, or its length when below 0x0600 (IEEE 802.1Q-2018 §9.5)",
    )


def length(etype):
    """Wireshark's ``vlan.len``: the type field when it is an 802.3 length."""
    return int(etype) if etype < 0x0600 else None


def summary(layer):
    g = layer.get
    return f"PRI: {g('priority')}, DEI: {g('dei')}, ID: {g('id')}"


def tag_protocol(name, title, kind, tpids, column, aliases=None):
    return Protocol(
        name=name,
        title=title,
        ref="IEEE 802.1Q-2018 §9.6",
        layout=tag_layout(kind),
        binds=[Bind("ethertype", *tpids)],
        dispatch=[Dispatch("ethertype", this.etype, when=this.etype >= 0x0600),
                  Dispatch("ieee802.3", 1, when=this.etype < 0x0600)],
        summary=summary,
        column=column,
        virtual=[Virtual("len", "Length of the 802.3 payload, when the type field is one (below 0x0600)",
                         of="etype", fn=length)],
        aliases=aliases or {},
    )


PROTOCOLS = [
    tag_protocol("vlan", "802.1Q Virtual LAN", "C-TAG", (EtherType.VLAN, EtherType.QinQ_old), "802.1Q"),
    # Wireshark shows the S-TAG's type field with its 802.1ah field, ieee8021ah.etype
    tag_protocol("ieee8021ad", "IEEE 802.1ad", "S-TAG", (EtherType.QinQ,), "802.1ad",
                 aliases={"etype": "ieee8021ah.etype"}),
]
