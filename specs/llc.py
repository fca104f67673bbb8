"""IEEE 802.2 Logical Link Control header (ISO/IEC 8802-2 / IEEE Std 802.2-1998 §3) and the
SNAP extension (IEEE Std 802-2014 §10.3).

DSAP and SSAP carry the service access points (§3.3.1); their low bits are the
individual/group and command/response bits.  The control field (§3.3.2, §5.4) is one
octet for U (unnumbered) frames and two for I (information) and S (supervisory) frames;
its frame type is read ahead (a construct ``Peek``) to choose the layout, and the
command/response bit of the SSAP chooses between Wireshark's ``p``/``u_modifier_cmd``
(command) and ``f``/``u_modifier_resp`` (response) names.  For I and S frames the
sub-fields match Wireshark, but ``control`` is the first control octet, where Wireshark
shows both octets as a little-endian number (0x0100 + first octet for N(R)=0, P/F=1).

When DSAP and SSAP are both 0xaa a SNAP header follows the (UI) control octet: a 3-octet
OUI and a 2-octet protocol id.  With OUI 000000 (and Cisco's 0000f8) the protocol id is
an EtherType (``type``, RFC 1042); with Cisco's OUI 00000c it is ``cisco_pid``; other
OUIs give ``pid``.  The next layer comes from the ``ethertype`` table for EtherTypes,
from the ``snap.pid`` table keyed ``oui << 16 | pid`` otherwise (PVST+ 0x00000c010b,
CDP 0x00000c2000), and from the ``llc.dsap`` table (STP 0x42) for non-SNAP I and UI
frames.
"""
from enum import IntEnum

from construct import Default, IfThenElse, Int8ub, Int16ub, Int32ub, Peek, Struct, Switch, this

from decoder.protocol import Bind, Dispatch, Protocol
from specs._fields import Bit, BitFields, Named
from specs._numbers import EtherType


class Sap(IntEnum):
    """Service access points (IEEE 802.2 §3.3.1; IEEE RA "LLC address" assignments)."""
    NULL = 0x00
    LLC_SLMGMT = 0x02
    SNA_PATH_CONTROL = 0x04
    IP = 0x06
    SNA = 0x08
    SNA_2 = 0x0C
    PROWAY_NM = 0x0E
    TI = 0x18
    BPDU = 0x42
    RS511 = 0x4E
    X25 = 0x7E
    XNS = 0x80
    BACNET = 0x82
    NESTAR = 0x86
    PROWAY_ASLM = 0x8E
    ARP = 0x98
    SNAP = 0xAA
    HPJD = 0xB4
    VINES_1 = 0xBA
    VINES_2 = 0xBC
    NETWARE = 0xE0
    NETBIOS = 0xF0
    IBMNM = 0xF4
    HPEXT = 0xF8
    UB = 0xFA
    RPL = 0xFC
    OSINL = 0xFE
    GLOBAL = 0xFF


class UFunction(IntEnum):
    """U-frame commands and responses, the modifier bits 0xec of the control octet shifted
    right by two as Wireshark shows them (IEEE 802.2 §5.4.3)."""
    UI = 0x00
    DM = 0x03
    DISC = 0x10
    UA = 0x18
    SABME = 0x1B
    FRMR = 0x21
    XID = 0x2B
    TEST = 0x38


class SFunction(IntEnum):
    """S-frame functions (IEEE 802.2 §5.4.2)."""
    RR = 0
    RNR = 1
    REJ = 2


class FrameType(IntEnum):
    """Control field format, its low bits (IEEE 802.2 §5.4; I frames: bit 0 clear)."""
    I = 0
    S = 1
    U = 3


def u_control_bits(response, shift=0):
    """The one-octet U-frame control field, at bit ``shift`` of a wider word."""
    role = "resp" if response else "cmd"
    return (
        Bit("control", 0xFF << shift, "Control field (IEEE 802.2 §3.3.2)"),
        Bit(f"control.u_modifier_{role}", 0xEC << shift,
            f"U-frame {'response' if response else 'command'} (IEEE 802.2 §5.4.3)", enum=UFunction),
        Bit("control.f" if response else "control.p", 0x10 << shift,
            f"{'Final' if response else 'Poll'} bit (IEEE 802.2 §5.4.3)"),
        Bit("control.ftype", 0x03 << shift, "Frame type, 3 = U (IEEE 802.2 §5.4)", enum=FrameType, default=3),
    )


def u_control(response):
    return BitFields(Int8ub, *u_control_bits(response))


def s_control(response):
    """Two-octet S-frame control, read as a big-endian word: first octet high."""
    return BitFields(
        Int16ub,
        Bit("control", 0xFF00, "First octet of the control field (IEEE 802.2 §3.3.2)"),
        Bit("control.n_r", 0x00FE, "N(R), receive sequence number (IEEE 802.2 §5.4.2)"),
        Bit("control.f" if response else "control.p", 0x0001,
            f"{'Final' if response else 'Poll'} bit (IEEE 802.2 §5.4.2)"),
        Bit("control.s_ftype", 0x0C00, "Supervisory function (IEEE 802.2 §5.4.2)", enum=SFunction),
        Bit("control.ftype", 0x0300, "Frame type, 1 = S (IEEE 802.2 §5.4)", enum=FrameType, default=1),
    )


def i_control(response):
    """Two-octet I-frame control, read as a big-endian word: first octet high."""
    return BitFields(
        Int16ub,
        Bit("control", 0xFF00, "First octet of the control field (IEEE 802.2 §3.3.2)"),
        Bit("control.n_r", 0x00FE, "N(R), receive sequence number (IEEE 802.2 §5.4.1)"),
        Bit("control.n_s", 0xFE00, "N(S), send sequence number (IEEE 802.2 §5.4.1)"),
        Bit("control.f" if response else "control.p", 0x0001,
            f"{'Final' if response else 'Poll'} bit (IEEE 802.2 §5.4.1)"),
        Bit("control.ftype", 0x0100, "Frame type, 0 = I (IEEE 802.2 §5.4)", enum=FrameType),
    )


def by_role(make):
    """``make(response)`` chosen by the SSAP's command/response bit."""
    return IfThenElse(this._.s["ssap.cr"] == 1, make(True), make(False))


CONTROL = Struct(
    "_c" / Default(Peek(Int8ub), 0x03) * "First control octet, read ahead for the frame type",
    "ctl" / IfThenElse(
        this._c == None,  # noqa: E711 (a construct expression): no octet left, the U layout reports it
        by_role(u_control),
        Switch(this._c & 0x03, {0x03: by_role(u_control), 0x01: by_role(s_control)}, default=by_role(i_control)),
    ) * "Control field: 1 octet (U) or 2 (I, S) (IEEE 802.2 §3.3.2)",
)

SNAP = Struct(
    "cw" / BitFields(
        Int32ub,
        *u_control_bits(False, shift=24),
        Bit("oui", 0x00FFFFFF, "Organizationally unique identifier of the protocol id (IEEE 802-2014 §10.3)"),
    ),
    "p" / Switch(this.cw.oui, {
        0x000000: Struct("type" / Named(Int16ub, EtherType) * "EtherType of the payload (IEEE 802-2014 §10.5; RFC 1042)"),
        0x0000F8: Struct("type" / Named(Int16ub, EtherType) * "EtherType of the payload (Cisco OUI for 802.1H bridging)"),
        0x00000C: Struct("cisco_pid" / Int16ub * "Cisco protocol id (0x2000 CDP, 0x010b PVST+, 0x2004 DTP)"),
    }, default=Struct("pid" / Int16ub * "Protocol id, assigned by the OUI's owner (IEEE 802-2014 §10.3)")),
)

IS_SNAP = (this.d.dsap == 0xAA) & (this.s.ssap == 0xAA)

LAYOUT = Struct(
    "d" / BitFields(
        Int8ub,
        Bit("dsap", 0xFF, "Destination service access point (IEEE 802.2 §3.3.1)", enum=Sap),
        Bit("dsap.sap", 0xFE, "DSAP address bits (IEEE 802.2 §3.3.1)"),
        Bit("dsap.ig", 0x01, "Individual (0) or group (1) DSAP (IEEE 802.2 §3.3.1.1)"),
    ),
    "s" / BitFields(
        Int8ub,
        Bit("ssap", 0xFF, "Source service access point (IEEE 802.2 §3.3.1)", enum=Sap),
        Bit("ssap.sap", 0xFE, "SSAP address bits (IEEE 802.2 §3.3.1)"),
        Bit("ssap.cr", 0x01, "Command (0) or response (1) (IEEE 802.2 §3.3.1.2)"),
    ),
    "h" / IfThenElse(IS_SNAP, SNAP, CONTROL) * "Control field, and the SNAP header when DSAP = SSAP = 0xaa",
)

# Dispatch expressions name fields by their flat names (``control`` is in ``h.ctl`` or ``h.cw``).
IS_UI = (this.control & 0xEF) == 0x03
IS_INFORMATION = ((this.control & 0x01) == 0) | IS_UI   # I and UI frames carry a payload
NOT_SNAP = (this.dsap != 0xAA) | (this.ssap != 0xAA)
SNAP_PID = IS_SNAP & (this.oui != 0x000000) & (this.oui != 0x0000F8) & (this.oui != 0x00000C)

# Short names Wireshark's xdlc code shows in the Info column, keyed by control & 0xec.
U_COMMANDS = {0x00: "UI", 0x20: "UP", 0x40: "DISC", 0x80: "SNRM", 0xE0: "TEST", 0x04: "SIM", 0xC4: "CFGR",
              0x0C: "SARM", 0x2C: "SABM", 0x4C: "SARME", 0x6C: "SABME", 0x8C: "RESET", 0xAC: "XID",
              0xCC: "SNRME", 0xEC: "BCN"}
U_RESPONSES = {0x00: "UI", 0x40: "RD", 0x60: "UA", 0xE0: "TEST", 0x04: "RIM", 0x84: "FRMR", 0xC4: "CFGR",
               0x0C: "DM", 0xAC: "XID", 0xEC: "BCN"}
S_NAMES = {0: "RR", 1: "RNR", 2: "REJ", 3: "SREJ"}
SAP_NAMES = {0x00: "NULL LSAP", 0x02: "LLC Sub-Layer Management", 0x04: "SNA Path Control", 0x06: "TCP/IP",
             0x08: "SNA", 0x0C: "SNA", 0x0E: "PROWAY (IEC955) Network Management and Initialization",
             0x10: "NetWare (unofficial?)", 0x14: "ISO Network Layer (OSLAN 1)", 0x18: "Texas Instruments",
             0x20: "ISO Network Layer (unofficial?)", 0x34: "ISO Network Layer (unofficial?)",
             0x42: "Spanning Tree BPDU", 0x4E: "EIA RS-511 Manufacturing Message Service",
             0x54: "ISO Network Layer (OSLAN 2)", 0x7E: "ISO 8208 (X.25 over 802.2)", 0x80: "XNS",
             0x82: "BACnet", 0x86: "Nestar", 0x8E: "PROWAY (IEC955) Active Station List Maintenance",
             0x98: "ARP", 0xAA: "SNAP", 0xBA: "Banyan Vines", 0xBC: "Banyan Vines", 0xE0: "NetWare",
             0xF0: "NetBIOS", 0xF4: "IBM Net Management", 0xF8: "HP Extended LLC", 0xFA: "Ungermann-Bass",
             0xFC: "Remote Program Load", 0xFE: "ISO Network Layer"}
OUI_NAMES = {0x000000: "Officially Xerox, but", 0x0000F8: "Cisco 90-Compatible", 0x00000C: "Cisco Systems, Inc",
             0x0080C2: "IEEE 802.1 Committee", 0x00E02B: "Extreme Networks", 0x080007: "Apple"}


def control_text(layer):
    """Wireshark's xdlc summary of the control field: ``U, func=UI``, ``I P, N(R)=3, N(S)=5``."""
    g = layer.get
    ftype = g("control.ftype")
    pf = " P" if g("control.p") else " F" if g("control.f") else ""
    if ftype == FrameType.U:
        cmd = g("control.u_modifier_cmd")
        name = (U_COMMANDS.get(cmd << 2) if cmd is not None
                else U_RESPONSES.get(g("control.u_modifier_resp") << 2))
        return f"U{pf}, func={name or 'Unknown'}"
    if ftype == FrameType.S:
        return f"S{pf}, func={S_NAMES[g('control.s_ftype')]}, N(R)={g('control.n_r')}"
    return f"I{pf}, N(R)={g('control.n_r')}, N(S)={g('control.n_s')}"


def summary(layer):
    """Wireshark's LLC Info text (shown when no upper layer replaces it)."""
    g = layer.get
    text = control_text(layer)
    oui = g("oui")
    if oui is not None:
        pid = next(v for v in (g("type"), g("cisco_pid"), g("pid")) if v is not None)
        return f"{text}; SNAP, OUI 0x{oui:06X} ({OUI_NAMES.get(oui, 'Unknown')}), PID 0x{pid:04X}"
    dsap, ssap = g("dsap") & 0xFE, g("ssap") & 0xFE
    return (f"{text}; DSAP {SAP_NAMES.get(dsap, f'0x{dsap:02x}')} {'Group' if g('dsap.ig') else 'Individual'}, "
            f"SSAP {SAP_NAMES.get(ssap, f'0x{ssap:02x}')} {'Response' if g('ssap.cr') else 'Command'}")


PROTOCOL = Protocol(
    name="llc",
    title="Logical-Link Control",
    ref="IEEE 802.2 §3; IEEE 802-2014 §10.3 (SNAP)",
    layout=LAYOUT,
    binds=[Bind("ieee802.3", 1), Bind("sll.ltype", 0x0004)],
    dispatch=[
        Dispatch("ethertype", this.type, when=IS_UI),
        Dispatch("snap.pid", this.cisco_pid + (0x00000C << 16), when=IS_UI & (this.oui == 0x00000C)),
        Dispatch("snap.pid", this.oui * 65536 + this.pid, when=IS_UI & SNAP_PID),
        Dispatch("llc.dsap", this.dsap, when=NOT_SNAP & IS_INFORMATION),
    ],
    summary=summary,
    column="LLC",
)
