"""BSD loopback encapsulation: LINKTYPE_NULL (0) and LINKTYPE_LOOP (108) — tcpdump.org
link-layer header types page, "LINKTYPE_NULL" / "LINKTYPE_LOOP".

The 4-octet header is the packet's address family (an ``AF_`` value from the capturing
host's ``sys/socket.h``): in the capturing host's byte order for LINKTYPE_NULL, in
network byte order for LINKTYPE_LOOP.  The layout keeps the four octets as read in
network order (``header``); the virtual field ``family`` is the value Wireshark shows:
``header`` byte-swapped when it came from a little-endian host (02 00 00 00 is family
2, IPv4), by Wireshark's rules (packet-null.c), which also recognise IRIX's 16-bit
family and old Linux captures carrying an EtherType (then the virtual ``type``).  Since
family values are small, a LOOP header reads the same way, so both link types share
this protocol.

The next layer is looked up in the ``null.family`` table with both byte orders, the
smaller value first (it is the family); IPv6 is 24, 28 or 30 depending on the BSD.
"""
from enum import IntEnum

from construct import Int32ub, Struct, this

from decoder.protocol import Bind, Dispatch, Protocol, Virtual


class Family(IntEnum):
    """BSD address families found in loopback headers (sys/socket.h of each BSD)."""
    INET = 2
    ISO = 7
    APPLETALK = 16
    IPX = 23
    INET6_BSD = 24        # NetBSD, OpenBSD, BSD/OS
    INET6_FREEBSD = 28    # FreeBSD, DragonFly BSD
    INET6_DARWIN = 30     # macOS, iOS


LAYOUT = Struct(
    "header" / Int32ub * ("Address family in the capturing host's byte order (LINKTYPE_NULL) or network "
                          "order (LINKTYPE_LOOP), read in network order"),
)


def _swap32(v):
    return int.from_bytes(v.to_bytes(4, "big"), "little")


def host_value(header):
    """The header as Wireshark interprets it (packet-null.c, read on a little-endian host)."""
    h = _swap32(header)
    if h & 0xFFFF0000:
        if (h & 0xFF000000) == 0 and (h & 0x00FF0000) < 0x00060000:
            h >>= 16                              # IRIX: 16-bit family in the upper half
        else:
            h = _swap32(h)                        # written by a big-endian host
    elif (h & 0x000000FF) == 0 and (h & 0x0000FF00) < 0x00000600:
        h = ((h & 0xFF) << 8) | ((h >> 8) & 0xFF)  # IRIX, other byte order
    return h


def family(header):
    h = host_value(header)
    if h > 1500:
        return None
    return Family(h) if h in Family._value2member_map_ else h


def ethertype(header):
    h = host_value(header)
    return h if h > 1500 else None


SWAPPED = (((this.header & 0xFF) << 24) | ((this.header & 0xFF00) << 8)
           | ((this.header >> 8) & 0xFF00) | ((this.header >> 24) & 0xFF))


def summary(layer):
    fam = layer.get("family")
    if fam is None:
        return f"Null/Loopback, type 0x{layer.get('type'):04x}"
    return f"Null/Loopback, family {fam.name if isinstance(fam, Family) else fam}"


PROTOCOL = Protocol(
    name="null",
    title="Null/Loopback",
    ref="tcpdump.org LINKTYPE_NULL, LINKTYPE_LOOP",
    layout=LAYOUT,
    binds=[Bind("linktype", 0, 108)],
    dispatch=[Dispatch("null.family", this.header, SWAPPED),
              Dispatch("ethertype", this.header, when=(this.header > 1500) & (this.header <= 0xFFFF))],
    summary=summary,
    column="NULL",
    virtual=[
        Virtual("family", "Address family, in host byte order (BSD AF_ value)", of="header", fn=family),
        Virtual("type", "EtherType, for old Linux loopback captures", of="header", fn=ethertype),
    ],
)
