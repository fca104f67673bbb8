"""Transmission Control Protocol header — RFC 9293 §3.1 (options: §3.2, RFC 7323, RFC 2018)."""
from enum import IntEnum

from construct import FixedSized, GreedyRange, Int8ub, Int16ub, Int32ub, Struct, this

from decoder.checksum import ChecksumRule
from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._fields import Auto, Bit, BitFields, Named
from specs._tlv import TLV


class TcpOption(IntEnum):
    """TCP option kinds (IANA "TCP Option Kind Numbers")."""
    EOL = 0
    NOP = 1
    MSS = 2
    WS = 3
    SACK_PERM = 4
    SACK = 5
    ECHO = 6
    ECHOREPLY = 7
    TS = 8
    MD5 = 19
    UTO = 28
    AO = 29
    MPTCP = 30
    TFO = 34


OPTIONS = TLV(
    ("option_kind", Named(Int8ub, TcpOption)), ("option_len", Int8ub),
    {
        TcpOption.MSS: Struct("options.mss_val" / Int16ub * "Maximum segment size (RFC 9293 §3.7.1)"),
        TcpOption.WS: Struct("options.wscale.shift" / Int8ub * "Window scale shift count (RFC 7323 §2.2)"),
        TcpOption.SACK_PERM: Struct(),
        TcpOption.SACK: Struct("blocks" / GreedyRange(Struct(
            "options.sack_le" / Int32ub * "Left edge of a SACK block (RFC 2018 §3)",
            "options.sack_re" / Int32ub * "Right edge of a SACK block (RFC 2018 §3)",
        ))),
        TcpOption.TS: Struct(
            "options.timestamp.tsval" / Int32ub * "Timestamp value (RFC 7323 §3.2)",
            "options.timestamp.tsecr" / Int32ub * "Timestamp echo reply (RFC 7323 §3.2)",
        ),
        TcpOption.UTO: Struct("options.user_to" / Int16ub * "User timeout, granularity bit and value (RFC 5482 §2)"),
    },
    raw="options.data", bare=(TcpOption.EOL, TcpOption.NOP), end=(TcpOption.EOL,), padding="options.padding",
)

LAYOUT = Struct(
    "srcport" / Int16ub * "Source port (RFC 9293 §3.1)",
    "dstport" / Int16ub * "Destination port (RFC 9293 §3.1)",
    "seq_raw" / Int32ub * "Sequence number (RFC 9293 §3.1)",
    "ack_raw" / Int32ub * "Acknowledgment number (RFC 9293 §3.1)",
    "hdr" / BitFields(
        Int16ub,
        Bit("hdr_len", 0xF000, "Header length in octets; the header carries it in 32-bit words (RFC 9293 §3.1: Data Offset)",
            default=20 + OPTIONS.size(this.options), scale=4),
        Bit("flags", 0x0FFF, "Control bits (RFC 9293 §3.1)"),
        Bit("flags.res", 0x0E00, "Reserved (RFC 9293 §3.1)"),
        Bit("flags.ae", 0x0100, "Accurate ECN, formerly Nonce Sum (RFC 3540)"),
        Bit("flags.cwr", 0x0080, "Congestion Window Reduced (RFC 3168 §6.1)"),
        Bit("flags.ece", 0x0040, "ECN-Echo (RFC 3168 §6.1)"),
        Bit("flags.urg", 0x0020, "Urgent pointer significant (RFC 9293 §3.1)"),
        Bit("flags.ack", 0x0010, "Acknowledgment field significant (RFC 9293 §3.1)"),
        Bit("flags.push", 0x0008, "Push function (RFC 9293 §3.1)"),
        Bit("flags.reset", 0x0004, "Reset the connection (RFC 9293 §3.1)"),
        Bit("flags.syn", 0x0002, "Synchronize sequence numbers (RFC 9293 §3.1)"),
        Bit("flags.fin", 0x0001, "No more data from sender (RFC 9293 §3.1)"),
    ),
    "window_size_value" / Int16ub * "Window, before any window scaling (RFC 9293 §3.1)",
    "checksum" / Auto(Int16ub, 0) * "Checksum over pseudo-header, header and data (RFC 9293 §3.1)",
    "urgent_pointer" / Int16ub * "Urgent pointer (RFC 9293 §3.1)",
    "options" / FixedSized(this.hdr.hdr_len - 20, OPTIONS) * "Options (RFC 9293 §3.1)",
)

_FLAG_NAMES = (("flags.fin", "FIN"), ("flags.syn", "SYN"), ("flags.reset", "RST"), ("flags.push", "PSH"),
               ("flags.ack", "ACK"), ("flags.urg", "URG"), ("flags.ece", "ECE"), ("flags.cwr", "CWR"),
               ("flags.ae", "AE"), ("flags.res", "Reserved"))


def flag_text(layer) -> str:
    return ", ".join(label for name, label in _FLAG_NAMES if layer.get(name))


def _option_text(opt, sack_base) -> str:
    """An option as tshark's Info column lists it (packet-tcp.c); "" for those it skips."""
    kind = opt.get("option_kind")
    if kind == TcpOption.MSS and "options.mss_val" in opt:
        return f" MSS={opt['options.mss_val']}"
    if kind == TcpOption.WS and "options.wscale.shift" in opt:
        return f" WS={1 << min(opt['options.wscale.shift'], 14)}"
    if kind == TcpOption.SACK_PERM:
        return " SACK_PERM"
    if kind == TcpOption.TS and "options.timestamp.tsval" in opt:
        return f" TSval={opt['options.timestamp.tsval']} TSecr={opt['options.timestamp.tsecr']}"
    if kind == TcpOption.SACK:
        return "".join(f" SLE={(b['options.sack_le'] - sack_base) & 0xFFFFFFFF}"
                       f" SRE={(b['options.sack_re'] - sack_base) & 0xFFFFFFFF}" for b in opt.get("blocks", ()))
    return ""


def summary(layer, notes=None):
    """tshark's Info text.  With the TCP analysis' ``notes`` (``tcp.seq`` ...), sequence
    numbers are relative and the window scaled, as tshark shows them."""
    g = layer.get
    notes = notes or {}

    def noted(name, raw):
        v = notes.get(name)
        return v[0] if v else raw

    ack_raw = g("ack_raw")
    text = f"{g('srcport')} → {g('dstport')} [{flag_text(layer)}] Seq={noted('tcp.seq', g('seq_raw'))}"
    if g("flags.ack"):
        text += f" Ack={noted('tcp.ack', ack_raw)}"
    text += f" Win={noted('tcp.window_size', g('window_size_value'))}"
    if g("flags.urg"):
        text += f" Urg={g('urgent_pointer')}"
    text += f" Len={noted('tcp.len', layer.end - layer.off - layer.hlen)}"   # the IP header's, if known
    if layer.hlen > 20:
        # SACK edges count in the acknowledged (peer's) sequence space, like the Ack number
        base = (ack_raw - noted("tcp.ack", ack_raw)) & 0xFFFFFFFF if g("flags.ack") else 0
        text += "".join(_option_text(opt, base) for opt in layer.value.get("options") or ())
    return text


PROTOCOL = Protocol(
    name="tcp",
    title="Transmission Control Protocol",
    ref="RFC 9293 §3.1",
    layout=LAYOUT,
    binds=[Bind("ip.proto", 6)],
    dispatch=[Dispatch("tcp.port", this.srcport, this.dstport)],
    checksums=[ChecksumRule("checksum", offset=16, pseudo=6)],
    summary=summary,
    virtual=[Virtual("port", "Source or destination port", either=("srcport", "dstport"))],
)
