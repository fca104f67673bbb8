"""Spanning Tree BPDUs: STP Configuration and Topology Change Notification (IEEE Std
802.1D-2004 §9.3), RSTP (802.1D-2004 §9.3.3) and the MSTP extension (IEEE Std
802.1Q-2018 §14.6).

The BPDU type chooses the layout: a TCN BPDU is only the 4-octet preamble; a
Configuration BPDU adds the 31 octets of §9.3.1; an RST/MST BPDU (type 2) adds the
Version 1 Length (§9.3.3).  Only RST BPDUs carry the RSTP flags (agreement, forwarding,
learning, port role, proposal), as in Wireshark.  Bridge identifiers are split as
Wireshark does: ``root.prio`` is the 4-bit priority times 4096 (32768, not 8),
``root.ext`` the 12-bit system id extension (802.1D-2004 §9.2.5), ``root.hw`` the MAC.

Times (``msg_age``, ``max_age``, ``hello``, ``forward``) are kept **raw, in units of
1/256 s** (802.1D-2004 §9.2.8): 0x0f00 is 15 s.  Wireshark shows them in seconds.

MST BPDUs (version 3 or more, Version 1 Length 0) continue with the MST extension,
protocol ``stp.mst`` (fields ``mstp.*`` as in Wireshark), decoded as the BPDU's payload;
each MSTI's flag bits also answer to Wireshark's ``stp.flags.*`` names.
Cisco PVST+ BPDUs (SNAP OUI 00000c, PID 0x010b) are STP BPDUs followed by a PVID TLV,
left undecoded (``data``).
"""
from enum import IntEnum

from construct import Array, Bytes, Int8ub, Int16ub, Int32ub, Struct, Switch, this

from decoder.protocol import Bind, Dispatch, Protocol
from specs._fields import Bit, BitFields, MacAddress, Named


class BpduType(IntEnum):
    """BPDU types (IEEE 802.1D-2004 §9.3.1-§9.3.3)."""
    Configuration = 0x00
    RST = 0x02
    TCN = 0x80


class StpVersion(IntEnum):
    """Protocol Version Identifier (802.1D-2004 §9.3; 802.1Q-2018 §14.2: 3 MSTP, 4 SPT)."""
    STP = 0
    RSTP = 2
    MSTP = 3
    SPT = 4


class PortRole(IntEnum):
    """Port role in RST/MST flags (802.1D-2004 §9.3.3)."""
    Unknown = 0
    Alternate_or_Backup = 1
    Root = 2
    Designated = 3


def bridge_id(prefix, what, ref="IEEE 802.1D-2004 §9.2.5"):
    """An 8-octet bridge identifier: priority (4 bits), system id extension (12 bits), MAC."""
    return Struct(
        "prio_ext" / BitFields(
            Int16ub,
            Bit(f"{prefix}.prio", 0xF000, f"{what} priority, a multiple of 4096 ({ref})", scale=4096),
            Bit(f"{prefix}.ext", 0x0FFF, f"{what} system id extension, usually the VLAN or MST instance ({ref})"),
        ),
        f"{prefix}.hw" / MacAddress() * f"{what} MAC address ({ref})",
    )


CONFIG_FLAGS = (
    Bit("flags.tcack", 0x80, "Topology Change Acknowledgment (802.1D-2004 §9.3.1)"),
    Bit("flags.tc", 0x01, "Topology Change (802.1D-2004 §9.3.1)"),
)
RST_FLAGS = (
    Bit("flags.agreement", 0x40, "Agreement (802.1D-2004 §9.3.3)"),
    Bit("flags.forwarding", 0x20, "Forwarding (802.1D-2004 §9.3.3)"),
    Bit("flags.learning", 0x10, "Learning (802.1D-2004 §9.3.3)"),
    Bit("flags.port_role", 0x0C, "Port role (802.1D-2004 §9.3.3)", enum=PortRole),
    Bit("flags.proposal", 0x02, "Proposal (802.1D-2004 §9.3.3)"),
)


def bpdu_body(flags, *tail):
    """Octets 5-35 of a Configuration or RST BPDU (802.1D-2004 §9.3.1), then ``tail``."""
    return Struct(
        "f" / BitFields(Int8ub, Bit("flags", 0xFF, "BPDU flags (802.1D-2004 §9.3.1)"), *flags),
        "rid" / bridge_id("root", "Root bridge"),
        "root.cost" / Int32ub * "Root path cost (802.1D-2004 §9.3.1)",
        "bid" / bridge_id("bridge", "Transmitting bridge"),
        "port" / Int16ub * "Port identifier: 4-bit priority and 12-bit port number (802.1D-2004 §9.2.7)",
        "msg_age" / Int16ub * "Message age in 1/256 s (802.1D-2004 §9.2.8)",
        "max_age" / Int16ub * "Max age in 1/256 s (802.1D-2004 §9.2.8)",
        "hello" / Int16ub * "Hello time in 1/256 s (802.1D-2004 §9.2.8)",
        "forward" / Int16ub * "Forward delay in 1/256 s (802.1D-2004 §9.2.8)",
        *tail,
    )


LAYOUT = Struct(
    "protocol" / Int16ub * "Protocol identifier, 0 (802.1D-2004 §9.3.1)",
    "version" / Named(Int8ub, StpVersion) * "Protocol version identifier (802.1D-2004 §9.3; 802.1Q-2018 §14.4)",
    "type" / Named(Int8ub, BpduType) * "BPDU type (802.1D-2004 §9.3)",
    "bpdu" / Switch(this.type, {
        BpduType.Configuration: bpdu_body(CONFIG_FLAGS),
        BpduType.RST: bpdu_body(CONFIG_FLAGS + RST_FLAGS,
                                "version_1_length" / Int8ub * "Version 1 length, 0 (802.1D-2004 §9.3.3)"),
    }, default=Struct()) * "BPDU parameters by type; none for a TCN BPDU (802.1D-2004 §9.3)",
)


def summary(layer):
    """Wireshark's STP Info column text."""
    g = layer.get
    kind = g("type")
    if kind == BpduType.TCN:
        return "Topology Change Notification"
    if kind not in (BpduType.Configuration, BpduType.RST):
        return f"Unknown BPDU type ({int(kind)})"
    if kind == BpduType.Configuration:
        name = "Conf"
    else:
        name = {3: "MST", 4: "SPT"}.get(int(g("version")), "RST")
    tc = "TC + " if g("flags.tc") else ""
    return (f"{name}. {tc}Root = {g('root.prio')}/{g('root.ext')}/{g('root.hw')}  "
            f"Cost = {g('root.cost')}  Port = 0x{g('port'):04x}")


PROTOCOL_STP = Protocol(
    name="stp",
    title="Spanning Tree Protocol",
    ref="IEEE 802.1D-2004 §9.3; IEEE 802.1Q-2018 §14",
    layout=LAYOUT,
    binds=[Bind("llc.dsap", 0x42), Bind("snap.pid", 0x00000C_010B)],
    dispatch=[Dispatch("stp.version", this.version,
                       when=(this.type == 2) & (this.bpdu.version_1_length == 0))],
    summary=summary,
    column="STP",
)


MSTI = Struct(
    "mf" / BitFields(
        Int8ub,
        Bit("msti.flags", 0xFF, "MSTI flags (802.1Q-2018 §14.6.1)"),
        Bit("msti.flags.master", 0x80, "Master (802.1Q-2018 §14.6.1); Wireshark: stp.flags.tcack"),
        Bit("msti.flags.agreement", 0x40, "Agreement (802.1Q-2018 §14.6.1)"),
        Bit("msti.flags.forwarding", 0x20, "Forwarding (802.1Q-2018 §14.6.1)"),
        Bit("msti.flags.learning", 0x10, "Learning (802.1Q-2018 §14.6.1)"),
        Bit("msti.flags.port_role", 0x0C, "Port role (802.1Q-2018 §14.6.1)", enum=PortRole),
        Bit("msti.flags.proposal", 0x02, "Proposal (802.1Q-2018 §14.6.1)"),
        Bit("msti.flags.tc", 0x01, "Topology change (802.1Q-2018 §14.6.1)"),
    ),
    "rrid" / BitFields(
        Int16ub,
        Bit("msti.priority", 0xF000, "Regional root priority, the 4 high bits (802.1Q-2018 §14.6.1; §13.26.2)"),
        Bit("msti.msti_id", 0x0FFF, "MSTID of the instance (802.1Q-2018 §14.6.1)"),
    ),
    "msti.root.hw" / MacAddress() * "Regional root MAC address (802.1Q-2018 §14.6.1)",
    "msti.root_cost" / Int32ub * "Internal root path cost (802.1Q-2018 §14.6.1)",
    "bp" / BitFields(Int8ub, Bit("msti.bridge_priority", 0xF0, "Bridge identifier priority, 4 high bits (802.1Q-2018 §14.6.1)")),
    "pp" / BitFields(Int8ub, Bit("msti.port_priority", 0xF0, "Port identifier priority, 4 high bits (802.1Q-2018 §14.6.1)")),
    "msti.remaining_hops" / Int8ub * "Remaining hops (802.1Q-2018 §14.6.1)",
)

MST_LAYOUT = Struct(
    "version_3_length" / Int16ub * "Octets of MST data after this field: 64 + 16 per MSTI (802.1Q-2018 §14.6)",
    "config_format_selector" / Int8ub * "MST configuration identifier format selector, 0 (802.1Q-2018 §13.8)",
    "config_name" / Bytes(32) * "MST configuration name, NUL padded (802.1Q-2018 §13.8)",
    "config_revision_level" / Int16ub * "MST configuration revision level (802.1Q-2018 §13.8)",
    "config_digest" / Bytes(16) * "MST configuration digest, HMAC-MD5 of the VID-to-MSTID table (802.1Q-2018 §13.8)",
    "cist_internal_root_path_cost" / Int32ub * "CIST internal root path cost (802.1Q-2018 §14.6)",
    "cist" / bridge_id("cist_bridge", "CIST bridge", "IEEE 802.1Q-2018 §14.6"),
    "cist_remaining_hops" / Int8ub * "CIST remaining hops (802.1Q-2018 §14.6)",
    "mstis" / Array((this.version_3_length - 64) // 16, MSTI) * "MSTI configuration messages (802.1Q-2018 §14.6.1)",
)


def mst_summary(layer):
    g = layer.get
    return f"MST config revision {g('config_revision_level')}, {len(layer.get_all('msti.msti_id'))} MSTI(s)"


PROTOCOL_MST = Protocol(
    name="stp.mst",
    namespace="mstp",
    title="MST Extension",
    ref="IEEE 802.1Q-2018 §14.6",
    layout=MST_LAYOUT,
    binds=[Bind("stp.version", 3, 4)],
    # Wireshark shows each MSTI's flag bits under the BPDU flags' names
    aliases={f"msti.flags.{bit}": f"stp.flags.{bit}" for bit in
             ("agreement", "forwarding", "learning", "port_role", "proposal", "tc")}
    | {"msti.flags.master": "stp.flags.tcack"},
    summary=mst_summary,
    column="STP",
)

PROTOCOLS = [PROTOCOL_STP, PROTOCOL_MST]
