"""Network Time Protocol version 4 packet header — RFC 5905 §7.3 (versions 1-3 share it:
RFC 1305 §3.2).

The 48-octet header only: extension fields and the key identifier and message digest that
may follow (RFC 5905 §7.5) are left as data.  The four timestamps are kept as the raw
64-bit NTP timestamps (seconds since 1900-01-01 in the upper 32 bits, a binary fraction in
the lower 32, RFC 5905 §6); ``ntp.xmt.utc`` and its siblings give them as UTC text, the
way Wireshark shows them.  Root delay and dispersion are raw 32-bit NTP short formats
(16.16 fixed point seconds), as ``tshark -T fields`` prints them.
"""
from datetime import datetime, timedelta, timezone
from enum import IntEnum

from construct import Bytes, Int8ub, Int32ub, Int64ub, Struct

from decoder.protocol import Bind, Protocol, Virtual
from specs._fields import Bit, BitFields


class Leap(IntEnum):
    """Leap indicator (RFC 5905 §7.3, Figure 9)."""
    no_warning = 0
    last_minute_61 = 1
    last_minute_59 = 2
    unsynchronized = 3


class Mode(IntEnum):
    """Association modes (RFC 5905 §7.3, Figure 10)."""
    reserved = 0
    symmetric_active = 1
    symmetric_passive = 2
    client = 3
    server = 4
    broadcast = 5
    control = 6
    private = 7


LAYOUT = Struct(
    "flags_octet" / BitFields(
        Int8ub,
        Bit("flags", 0xFF, "Flags: leap indicator, version and mode (RFC 5905 §7.3)"),
        Bit("flags.li", 0xC0, "Leap indicator, warns of a leap second (RFC 5905 §7.3)", enum=Leap),
        Bit("flags.vn", 0x38, "Version number, 4 (RFC 5905 §7.3)", default=4),
        Bit("flags.mode", 0x07, "Association mode (RFC 5905 §7.3)", enum=Mode),
    ),
    "stratum" / Int8ub * "Stratum, 1 for a primary server, 16 unsynchronized (RFC 5905 §7.3)",
    "ppoll" / Int8ub * "Poll interval, log2 seconds (RFC 5905 §7.3)",
    "precision" / Int8ub * "Precision of the clock, log2 seconds as a signed octet (RFC 5905 §7.3)",
    "rootdelay" / Int32ub * "Root delay, NTP short format (RFC 5905 §7.3)",
    "rootdispersion" / Int32ub * "Root dispersion, NTP short format (RFC 5905 §7.3)",
    "refid" / Bytes(4) * "Reference ID: a server address or a source code such as GPS (RFC 5905 §7.3)",
    "reftime" / Int64ub * "Reference timestamp, when the clock was last set (RFC 5905 §7.3)",
    "org" / Int64ub * "Origin timestamp, the client's transmit time echoed (RFC 5905 §7.3)",
    "rec" / Int64ub * "Receive timestamp, when the request arrived (RFC 5905 §7.3)",
    "xmt" / Int64ub * "Transmit timestamp, when the packet left (RFC 5905 §7.3)",
)

NTP_EPOCH = datetime(1900, 1, 1, tzinfo=timezone.utc)


def utc_text(stamp: int) -> str:
    """A 64-bit NTP timestamp as Wireshark prints it: ``Aug 16, 2015 19:35:26.284174908 UTC``
    (era 0; 0 is "NULL")."""
    if not stamp:
        return "NULL"
    seconds, fraction = stamp >> 32, stamp & 0xFFFFFFFF
    when = NTP_EPOCH + timedelta(seconds=seconds)
    nanos = (fraction * 1_000_000_000) >> 32
    return f"{when:%b} {when.day:2d}, {when:%Y %H:%M:%S}.{nanos:09d} UTC"


MODE_TEXT = {0: "reserved", 1: "symmetric active", 2: "symmetric passive", 3: "client", 4: "server",
             5: "broadcast", 6: "reserved for NTP control message", 7: "reserved for private use"}


def summary(layer):
    """As Wireshark's Info column: ``NTP Version 4, client``."""
    return f"NTP Version {layer.get('flags.vn')}, {MODE_TEXT[layer.get('flags.mode')]}"


PROTOCOL = Protocol(
    name="ntp",
    title="Network Time Protocol",
    ref="RFC 5905 §7.3",
    layout=LAYOUT,
    binds=[Bind("udp.port", 123)],
    summary=summary,
    column="NTP",
    virtual=[
        Virtual("reftime.utc", "Reference timestamp as UTC text", of="reftime", fn=utc_text),
        Virtual("org.utc", "Origin timestamp as UTC text", of="org", fn=utc_text),
        Virtual("rec.utc", "Receive timestamp as UTC text", of="rec", fn=utc_text),
        Virtual("xmt.utc", "Transmit timestamp as UTC text", of="xmt", fn=utc_text),
    ],
)
