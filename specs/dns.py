"""Domain Name System messages — RFC 1035 §4.1 (header §4.1.1, question §4.1.2, resource
records §4.1.3, compression §4.1.4); AAAA RFC 3596 §2, SRV RFC 2782, EDNS(0) OPT RFC 6891 §6,
AD/CD flags RFC 4035 §3.2.

Over UDP (port 53) the payload is the message; over TCP (port 53) each message is preceded
by a two-octet length (RFC 1035 §4.2.2, RFC 7766 §8): the ``dns.tcp`` layer holds that
length (``dns.length``, as in Wireshark) and the message is a ``dns`` layer under it.
Segments are not reassembled: a message that continues in the next segment is decoded as
far as this one goes and marked truncated; a second message in the same segment is left
as trailing octets.

Field names are Wireshark's: the header (``dns.id``, ``dns.flags.*``, ``dns.count.*``);
per question ``dns.qry.name``/``type``/``class``; per resource record ``dns.resp.name``,
``type``, ``class``, ``ttl``, ``len`` and the record data by type (``dns.a``, ``dns.aaaa``,
``dns.cname``, ``dns.ns``, ``dns.ptr.domain_name``, ``dns.mx.*``, ``dns.soa.*``,
``dns.srv.*``, ``dns.txt``, ``dns.hinfo.*``; other types keep their octets as ``dns.data``).
An OPT pseudo-record (EDNS) carries the UDP payload size and extended flags where other
records have class and TTL (``dns.rr.udp_payload_size``, ``dns.resp.ext_rcode``,
``dns.resp.edns0_version``, ``dns.resp.z*``) and a list of options (``dns.opt.code``,
``dns.opt.len``, ``dns.opt.data`` or the option's own fields).

Names are read with compression pointers followed (see ``specs/_dns_name.py``); a pointer
loop, a pointer past the end, an unknown label type or a name over 255 octets is
malformed.  Unlike Wireshark, which shows a looping or overlong name as a placeholder text,
the layer ends there.  A name keeps its octets as sent, so a parsed message rebuilds octet
for octet; a name set by hand is written uncompressed.

Record data must fill its length exactly (a record whose fields end early or run over is
malformed); zero octets are no data, whatever the type (RFC 2136 deletions).
"""
from __future__ import annotations

from enum import IntEnum

from construct import Array, Bytes, GreedyBytes, GreedyRange, Int8ub, Int16ub, Int32ub, Peek, Struct, Switch, len_, this
from construct.expr import FuncPath

from decoder.protocol import Bind, Dispatch, Protocol, Virtual
from specs._dns_name import DnsName, DomainName, RData
from specs._fields import Auto, Bit, BitFields, IPv4Address, IPv6Address, Named, counted_text
from specs._tlv import TLV


class RRType(IntEnum):
    """Resource record types (IANA "Resource Record (RR) TYPEs"; RFC 1035 §3.2.2, §3.2.3)."""
    A = 1
    NS = 2
    MD = 3
    MF = 4
    CNAME = 5
    SOA = 6
    MB = 7
    MG = 8
    MR = 9
    NULL = 10
    WKS = 11
    PTR = 12
    HINFO = 13
    MINFO = 14
    MX = 15
    TXT = 16
    RP = 17
    AFSDB = 18
    X25 = 19
    ISDN = 20
    RT = 21
    NSAP = 22
    NSAP_PTR = 23
    SIG = 24
    KEY = 25
    PX = 26
    GPOS = 27
    AAAA = 28
    LOC = 29
    NXT = 30
    EID = 31
    NIMLOC = 32
    SRV = 33
    ATMA = 34
    NAPTR = 35
    KX = 36
    CERT = 37
    A6 = 38
    DNAME = 39
    SINK = 40
    OPT = 41
    APL = 42
    DS = 43
    SSHFP = 44
    IPSECKEY = 45
    RRSIG = 46
    NSEC = 47
    DNSKEY = 48
    DHCID = 49
    NSEC3 = 50
    NSEC3PARAM = 51
    TLSA = 52
    SMIMEA = 53
    HIP = 55
    NINFO = 56
    RKEY = 57
    TALINK = 58
    CDS = 59
    CDNSKEY = 60
    OPENPGPKEY = 61
    CSYNC = 62
    ZONEMD = 63
    SVCB = 64
    HTTPS = 65
    SPF = 99
    UINFO = 100
    UID = 101
    GID = 102
    UNSPEC = 103
    NID = 104
    L32 = 105
    L64 = 106
    LP = 107
    EUI48 = 108
    EUI64 = 109
    TKEY = 249
    TSIG = 250
    IXFR = 251
    AXFR = 252
    MAILB = 253
    MAILA = 254
    ANY = 255
    URI = 256
    CAA = 257
    AVC = 258
    DOA = 259
    AMTRELAY = 260
    TA = 32768
    DLV = 32769


class DnsClass(IntEnum):
    """Classes (IANA "DNS CLASSes"; RFC 1035 §3.2.4, §3.2.5; RFC 2136 §1.3)."""
    IN = 1
    CS = 2
    CH = 3
    HS = 4
    NONE = 254
    ANY = 255


class Opcode(IntEnum):
    """Kinds of query (IANA "DNS OpCodes"; RFC 1035 §4.1.1, RFC 1996, RFC 2136, RFC 8490)."""
    QUERY = 0
    IQUERY = 1
    STATUS = 2
    NOTIFY = 4
    UPDATE = 5
    DSO = 6


class Rcode(IntEnum):
    """Response codes (IANA "DNS RCODEs"; RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8490)."""
    NoError = 0
    FormErr = 1
    ServFail = 2
    NXDomain = 3
    NotImp = 4
    Refused = 5
    YXDomain = 6
    YXRRSet = 7
    NXRRSet = 8
    NotAuth = 9
    NotZone = 10
    DSOTYPENI = 11


class EdnsOption(IntEnum):
    """EDNS option codes (IANA "DNS EDNS0 Option Codes (OPT)"; RFC 6891 §6.1.2)."""
    LLQ = 1
    UL = 2
    NSID = 3
    DAU = 5
    DHU = 6
    N3U = 7
    CLIENT_SUBNET = 8
    EXPIRE = 9
    COOKIE = 10
    TCP_KEEPALIVE = 11
    PADDING = 12
    CHAIN = 13
    KEY_TAG = 14
    EXTENDED_ERROR = 15


#: Wireshark's words for the Info column
OPCODE_TEXT = {0: "Standard query", 1: "Inverse query", 2: "Server status request",
               4: "Zone change notification", 5: "Dynamic update", 6: "DNS Stateful operations (DSO)"}
RCODE_TEXT = {0: "No error", 1: "Format error", 2: "Server failure", 3: "No such name", 4: "Not implemented",
              5: "Refused", 6: "Name exists", 7: "RRset exists", 8: "RRset does not exist",
              9: "Not authoritative", 10: "Name out of zone", 11: "DSO-Type not implemented"}

FLAGS = BitFields(
    Int16ub,
    Bit("flags", 0xFFFF, "Flags (RFC 1035 §4.1.1)"),
    Bit("flags.response", 0x8000, "QR, the message is a response (RFC 1035 §4.1.1)"),
    Bit("flags.opcode", 0x7800, "OPCODE, kind of query (RFC 1035 §4.1.1)", enum=Opcode),
    Bit("flags.authoritative", 0x0400, "AA, authoritative answer (RFC 1035 §4.1.1)"),
    Bit("flags.truncated", 0x0200, "TC, the message was truncated to fit the transport (RFC 1035 §4.1.1)"),
    Bit("flags.recdesired", 0x0100, "RD, recursion desired (RFC 1035 §4.1.1)"),
    Bit("flags.recavail", 0x0080, "RA, recursion available (RFC 1035 §4.1.1)"),
    Bit("flags.z", 0x0040, "Z, reserved, zero (RFC 1035 §4.1.1; RFC 6895 §2)"),
    Bit("flags.authenticated", 0x0020, "AD, authentic data (RFC 4035 §3.2.3)"),
    Bit("flags.checkdisable", 0x0010, "CD, checking disabled (RFC 4035 §3.2.2)"),
    Bit("flags.rcode", 0x000F, "RCODE, response code (RFC 1035 §4.1.1)", enum=Rcode),
)

QUESTION = Struct(
    "qry.name" / DnsName() * "Name asked for (RFC 1035 §4.1.2)",
    "qry.type" / Named(Int16ub, RRType) * "Type asked for (RFC 1035 §4.1.2)",
    "qry.class" / Named(Int16ub, DnsClass) * "Class asked for (RFC 1035 §4.1.2)",
)


def character_strings(length, text, ref):
    """A list of <character-string>s: a length octet, then that many octets (RFC 1035 §3.3)."""
    return Struct("strings" / GreedyRange(Struct(
        *counted_text(text, length, f"Length of the string ({ref})", f"Text ({ref})"))))


#: Wireshark shows every option's octets as ``dns.opt.data``, also when it decodes them
OPTION_OCTETS = "opt.data" / Peek(GreedyBytes) * "Option data octets (RFC 6891 §6.1.2)"

EDNS_OPTIONS = TLV(
    ("opt.code", Named(Int16ub, EdnsOption) * "Option code (RFC 6891 §6.1.2)"),
    ("opt.len", Int16ub * "Length of the option data in octets (RFC 6891 §6.1.2)"),
    {
        EdnsOption.CLIENT_SUBNET: Struct(
            OPTION_OCTETS,
            "opt.client.family" / Int16ub * "Address family, IANA address family numbers (RFC 7871 §6)",
            "opt.client.netmask" / Int8ub * "Source prefix length (RFC 7871 §6)",
            "opt.client.scope" / Int8ub * "Scope prefix length (RFC 7871 §6)",
            "opt.client.addr" / GreedyBytes * "Address prefix, octets beyond the prefix omitted (RFC 7871 §6)",
        ),
        EdnsOption.COOKIE: Struct(
            OPTION_OCTETS,
            "opt.cookie.client" / Bytes(8) * "Client cookie (RFC 7873 §4)",
            "opt.cookie.server" / GreedyBytes * "Server cookie, 8 to 32 octets when present (RFC 7873 §4)",
        ),
        EdnsOption.PADDING: Struct(OPTION_OCTETS, "opt.padding" / GreedyBytes * "Padding octets (RFC 7830 §3)"),
    },
    raw="opt.data", counts_header=False,
)

RDATA = RData(this["resp.len"], Switch(this["resp.type"], {
    RRType.A: Struct("a" / IPv4Address() * "IPv4 address (RFC 1035 §3.4.1)"),
    RRType.NS: Struct("ns" / DnsName() * "Authoritative name server (RFC 1035 §3.3.11)"),
    RRType.CNAME: Struct("cname" / DnsName() * "Canonical name (RFC 1035 §3.3.1)"),
    RRType.SOA: Struct(
        "soa.mname" / DnsName() * "Primary name server (RFC 1035 §3.3.13)",
        "soa.rname" / DnsName() * "Mailbox of the person responsible (RFC 1035 §3.3.13)",
        "soa.serial_number" / Int32ub * "Serial number of the zone (RFC 1035 §3.3.13)",
        "soa.refresh_interval" / Int32ub * "Refresh interval in seconds (RFC 1035 §3.3.13)",
        "soa.retry_interval" / Int32ub * "Retry interval in seconds (RFC 1035 §3.3.13)",
        "soa.expire_limit" / Int32ub * "Expire limit in seconds (RFC 1035 §3.3.13)",
        "soa.minimum_ttl" / Int32ub * "Minimum TTL, the negative caching TTL (RFC 1035 §3.3.13; RFC 2308 §4)",
    ),
    RRType.PTR: Struct("ptr.domain_name" / DnsName() * "Domain name pointed to (RFC 1035 §3.3.12)"),
    RRType.HINFO: Struct(
        *counted_text("hinfo.cpu", "hinfo.cpu_length", "Length of the CPU string (RFC 1035 §3.3.2)",
                      "CPU type (RFC 1035 §3.3.2)"),
        *counted_text("hinfo.os", "hinfo.os_length", "Length of the OS string (RFC 1035 §3.3.2)",
                      "Operating system (RFC 1035 §3.3.2)"),
    ),
    RRType.MX: Struct(
        "mx.preference" / Int16ub * "Preference, lower first (RFC 1035 §3.3.9)",
        "mx.mail_exchange" / DnsName() * "Mail exchange host (RFC 1035 §3.3.9)",
    ),
    RRType.TXT: character_strings("txt.length", "txt", "RFC 1035 §3.3.14"),
    RRType.AAAA: Struct("aaaa" / IPv6Address() * "IPv6 address (RFC 3596 §2.2)"),
    RRType.SRV: Struct(
        "srv.priority" / Int16ub * "Priority, lower first (RFC 2782)",
        "srv.weight" / Int16ub * "Weight among targets of one priority (RFC 2782)",
        "srv.port" / Int16ub * "Port of the service on the target (RFC 2782)",
        "srv.target" / DnsName() * "Target host (RFC 2782)",
    ),
    RRType.OPT: Struct("options" / EDNS_OPTIONS * "EDNS options (RFC 6891 §6.1.2)"),
    RRType.SPF: character_strings("spf.length", "spf", "RFC 7208 §3.1"),
}, default=Struct("data" / GreedyBytes * "Record data of a type without a layout here (RFC 1035 §4.1.3)")))

CLASS_TTL = Switch(this["resp.type"], {
    RRType.OPT: Struct(
        "rr.udp_payload_size" / Int16ub * "Largest UDP payload the sender can take, in the CLASS field (RFC 6891 §6.1.2)",
        "edns" / BitFields(
            Int32ub,
            Bit("resp.ext_rcode", 0xFF000000, "Extended RCODE, its upper 8 bits (RFC 6891 §6.1.3)"),
            Bit("resp.edns0_version", 0x00FF0000, "EDNS version (RFC 6891 §6.1.3)"),
            Bit("resp.z", 0x0000FFFF, "EDNS flags (RFC 6891 §6.1.4)"),
            Bit("resp.z.do", 0x00008000, "DO, DNSSEC answers OK (RFC 3225 §3)"),
            Bit("resp.z.reserved", 0x00007FFF, "Reserved EDNS flags, zero (RFC 6891 §6.1.4)"),
        ),
    ),
}, default=Struct(
    "resp.class" / Named(Int16ub, DnsClass) * "Class (RFC 1035 §4.1.3)",
    "resp.ttl" / Int32ub * "Time to live in seconds (RFC 1035 §4.1.3; RFC 2181 §8)",
))

RR = Struct(
    "resp.name" / DnsName() * "Owner name (RFC 1035 §4.1.3)",
    "resp.type" / Named(Int16ub, RRType) * "Type (RFC 1035 §4.1.3)",
    "info" / CLASS_TTL * ("Class and time to live; UDP payload size and EDNS flags in an OPT record "
                          "(RFC 1035 §4.1.3; RFC 6891 §6.1.2)"),
    "resp.len" / Auto(Int16ub, FuncPath(RDATA.built_size)(this)) * "Length of the record data, RDLENGTH (RFC 1035 §4.1.3)",
    "rdata" / RDATA * "Record data, laid out by the type (RFC 1035 §4.1.3)",
)

LAYOUT = Struct(
    "id" / Int16ub * "Identifier, matches responses to queries (RFC 1035 §4.1.1)",
    "hdr" / FLAGS,
    "count.queries" / Auto(Int16ub, len_(this.queries)) * "Number of questions, QDCOUNT (RFC 1035 §4.1.1)",
    "count.answers" / Auto(Int16ub, len_(this.answers)) * "Number of answer records, ANCOUNT (RFC 1035 §4.1.1)",
    "count.auth_rr" / Auto(Int16ub, len_(this.authorities)) * "Number of authority records, NSCOUNT (RFC 1035 §4.1.1)",
    "count.add_rr" / Auto(Int16ub, len_(this.additionals)) * "Number of additional records, ARCOUNT (RFC 1035 §4.1.1)",
    "queries" / Array(this["count.queries"], QUESTION) * "Question section (RFC 1035 §4.1.2)",
    "answers" / Array(this["count.answers"], RR) * "Answer section (RFC 1035 §4.1.3)",
    "authorities" / Array(this["count.auth_rr"], RR) * "Authority section (RFC 1035 §4.1.3)",
    "additionals" / Array(this["count.add_rr"], RR) * "Additional section (RFC 1035 §4.1.3)",
)


# --- the Info column ------------------------------------------------------------------------

def type_text(value) -> str:
    """``A``, ``NSAP-PTR``; ``Unknown (65280)`` for a number without a name (as Wireshark)."""
    try:
        return RRType(int(value)).name.replace("_", "-")
    except ValueError:
        return f"Unknown ({int(value)})"


def record_text(rr) -> str:
    """One record as Wireshark lists it in the Info column: ``A 192.0.2.1``, ``MX 10 mx.example``."""
    kind = int(rr["resp.type"])
    data = rr.get("rdata") or {}
    text = type_text(kind)
    if kind == RRType.A and "a" in data:
        text += f" {data['a']}"
    elif kind == RRType.AAAA and "aaaa" in data:
        text += f" {data['aaaa']}"
    elif kind in (RRType.NS, RRType.CNAME, RRType.PTR):
        name = data.get({RRType.NS: "ns", RRType.CNAME: "cname", RRType.PTR: "ptr.domain_name"}[kind])
        if name is not None:
            text += f" {name}"
    elif kind == RRType.MX and "mx.mail_exchange" in data:
        text += f" {data['mx.preference']} {data['mx.mail_exchange']}"
    elif kind == RRType.SOA and "soa.mname" in data:
        text += f" {data['soa.mname']}"
    elif kind == RRType.SRV and "srv.target" in data:
        text += f" {data['srv.priority']} {data['srv.weight']} {data['srv.port']} {data['srv.target']}"
    elif kind == RRType.HINFO and "hinfo.cpu" in data:
        text += f" {data['hinfo.cpu']} {data['hinfo.os']}"
    return text


def summary(layer):
    g = layer.get
    opcode, response = g("flags.opcode"), g("flags.response")
    text = OPCODE_TEXT.get(int(opcode), f"Unknown operation ({int(opcode)})") if opcode is not None else "DNS"
    if response:
        text += " response"
    if g("id") is not None:
        text += f" 0x{g('id'):04x}"
    rcode = g("flags.rcode")
    if response and rcode:
        text += " " + RCODE_TEXT.get(int(rcode), f"Unknown error ({int(rcode)})")
    value = layer.value
    for q in value.get("queries") or ():
        text += f" {type_text(q['qry.type'])} {q['qry.name']}"
    for section in ("answers", "authorities", "additionals"):
        for rr in value.get(section) or ():
            text += " " + record_text(rr)
    return text


def _domain_name(name) -> DomainName:
    """``name`` as a :class:`DomainName` (a name given as plain text when built by hand)."""
    return name if isinstance(name, DomainName) else DomainName(name)


def _name_length(name):
    return _domain_name(name).octets()


def _label_count(name):
    return _domain_name(name).label_count()


PROTOCOL = Protocol(
    name="dns",
    title="Domain Name System",
    ref="RFC 1035 §4.1",
    layout=LAYOUT,
    binds=[Bind("udp.port", 53), Bind("dns.transport", 6)],
    summary=summary,
    column="DNS",
    virtual=[
        Virtual("qry.name.len", "Length of the name asked for, as text (Wireshark's)", of="qry.name", fn=_name_length),
        Virtual("count.labels", "Number of labels of the name asked for (Wireshark's)", of="qry.name", fn=_label_count),
    ],
)


TCP_LAYOUT = Struct(
    "length" / Auto(Int16ub, this._params.payload_len) * "Length of the DNS message that follows (RFC 1035 §4.2.2)",
)


def tcp_summary(layer):
    return f"DNS message of {layer.get('length')} octets"


TCP_PROTOCOL = Protocol(
    name="dns.tcp",
    title="Domain Name System over TCP, message length",
    ref="RFC 1035 §4.2.2; RFC 7766 §8",
    layout=TCP_LAYOUT,
    binds=[Bind("tcp.port", 53)],
    dispatch=[Dispatch("dns.transport", 6)],
    payload_length=this.length,
    summary=tcp_summary,
    column="DNS",
    namespace="dns",
    segmented=True,
)

PROTOCOLS = [PROTOCOL, TCP_PROTOCOL]
