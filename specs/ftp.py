"""File Transfer Protocol control connection — RFC 959 §4 (commands §4.1, replies §4.2);
extended addresses RFC 2428 (EPRT §2, EPSV §3); FEAT RFC 2389.

One FTP layer per TCP segment, one item per line it carries (``CRLF``-ended; a line cut at
the segment's end is kept as it is).  Each line is read on its own, as Wireshark does,
without knowing the direction:

* ``NNN text`` / ``NNN-text`` (three digits) is a reply: ``ftp.response.code`` and
  ``ftp.response.arg``; ``NNN-`` opens a multi-line reply (RFC 959 §4.2) whose following
  lines, up to ``NNN text``, are text (``ftp.response.arg`` only) unless they begin with
  the same code;
* a word of three or four letters, alone or followed by a space, is a command:
  ``ftp.request.command`` and ``ftp.request.arg``;
* any other line (the indented body of a multi-line reply continued in a later segment)
  is reply text: ``ftp.response.arg``.

Derived from the arguments, as in Wireshark: the ``227`` passive address
(``ftp.passive.ip``, ``ftp.passive.port`` = p1 * 256 + p2), the ``229`` extended passive
port (``ftp.epsv.port``), ``PORT`` (``ftp.active.cip``, ``ftp.active.port``) and ``EPRT``
(``ftp.eprt.af``, ``ftp.eprt.ip``/``ftp.eprt.ipv6``, ``ftp.eprt.port``).  They are read from the
argument; on build the line is written from its command or code and argument.

``ftp.request``/``ftp.response`` and the Info column's ``Request:``/``Response:`` follow the
direction (towards port 21 is a request), as in Wireshark.

Unlike Wireshark, which gives fields for the first line of a segment only, every line has
its fields (repeated occurrences).
"""
from __future__ import annotations

import ipaddress
import re

from construct import Struct

from decoder.protocol import Bind, Protocol, Virtual
from specs._text import Decimal, LineGrammar, Lines, String, ascii_text, cut_eol

PORTS = (21,)

LINE = Struct(
    "request.command" / String() * "Command (RFC 959 §4.1)",
    "request.arg" / String() * "Command argument (RFC 959 §4.1)",
    "response.code" / Decimal() * "Reply code (RFC 959 §4.2)",
    "response.arg" / String() * "Reply text; or a line of a multi-line reply (RFC 959 §4.2)",
    "active.cip" / String() * "Active IP address; the client's, from a PORT command (RFC 959 §4.1.2)",
    "active.port" / Decimal() * "Active port; p1 * 256 + p2 of a PORT command (RFC 959 §4.1.2)",
    "passive.ip" / String() * "Passive IP address; the server's, from a 227 reply (RFC 959 §4.1.2)",
    "passive.port" / Decimal() * "Passive port; p1 * 256 + p2 of a 227 reply (RFC 959 §4.1.2)",
    "eprt.af" / Decimal() * "Extended active address family; 1 IPv4, 2 IPv6 (RFC 2428 §2)",
    "eprt.ip" / String() * "Extended active IP address; of an EPRT command (RFC 2428 §2)",
    "eprt.ipv6" / String() * "Extended active IPv6 address; of an EPRT command (RFC 2428 §2)",
    "eprt.port" / Decimal() * "Extended active port; of an EPRT command (RFC 2428 §2)",
    "epsv.port" / Decimal() * "Extended passive port; from a 229 reply (RFC 2428 §3)",
)

_REPLY = re.compile(rb"([0-9]{3})(?:([ -])(.*))?$", re.S)
_COMMAND = re.compile(rb"([A-Za-z]{3,4})(?: +(.*))?$", re.S)
_HOST_PORT = re.compile(rb"([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3}),([0-9]{1,3})")
_EPSV = re.compile(rb"\(([!-~])\1\1([0-9]{1,5})\1\)")
PRIMARY = ("request.command", "request.arg", "response.code", "response.arg")


def _host_port(arg: bytes, at: int, ip_name: str, port_name: str) -> list:
    m = _HOST_PORT.search(arg)
    if not m:
        return []
    n = [int(x) for x in m.groups()]
    if any(x > 255 for x in n):
        return []
    return [(ip_name, "%d.%d.%d.%d" % tuple(n[:4]), at + m.start(1), m.end(4) - m.start(1)),
            (port_name, n[4] * 256 + n[5], at + m.start(5), m.end(6) - m.start(5))]


def _eprt(arg: bytes, at: int) -> list:
    """``|af|address|port|`` (RFC 2428 §2; the delimiter is the first octet)."""
    if len(arg) < 2:
        return []
    parts = arg.split(arg[:1])
    if len(parts) != 5 or parts[0] or parts[4]:
        return []
    af, addr, port = parts[1:4]
    out = []
    pos = at + 1
    if af.isdigit():
        out.append(("eprt.af", int(af), pos, len(af)))
    pos += len(af) + 1
    try:
        ip = ipaddress.ip_address(addr.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        ip = None
    if ip is not None:
        out.append(("eprt.ip" if ip.version == 4 else "eprt.ipv6", str(ip), pos, len(addr)))
    pos += len(addr) + 1
    if port.isdigit() and int(port) < 65536:
        out.append(("eprt.port", int(port), pos, len(port)))
    return out


class FtpGrammar(LineGrammar):
    """Command lines and reply lines (RFC 959 §4.1, §4.2); the state is the code of an
    open multi-line reply."""

    item = LINE
    item_doc = "Line (RFC 959 §4)"

    def parse_line(self, content, eol, state):
        if not content:
            return [], state, False
        if state is not None and content[:3] != state:
            return [("response.arg", ascii_text(content), 0, len(content))], state, False
        m = _REPLY.match(content)
        if m:
            fields = [("response.code", int(m.group(1)), 0, 3)]
            arg = m.group(3)
            if arg:
                fields.append(("response.arg", ascii_text(arg), 4, len(arg)))
                if m.group(1) == b"227":
                    fields += _host_port(arg, 4, "passive.ip", "passive.port")
                elif m.group(1) == b"229":
                    e = _EPSV.search(arg)
                    if e:
                        fields.append(("epsv.port", int(e.group(2)), 4 + e.start(2), len(e.group(2))))
            if m.group(2) == b"-":
                state = m.group(1)          # opens a multi-line reply, or continues one
            else:
                state = None                # "NNN text" (or "NNN" alone) ends it
            return fields, state, False
        m = _COMMAND.match(content)
        if m:
            fields = [("request.command", ascii_text(m.group(1)), 0, len(m.group(1)))]
            arg = m.group(2)
            if arg:
                at = m.start(2)
                fields.append(("request.arg", ascii_text(arg), at, len(arg)))
                command = m.group(1).upper()
                if command == b"PORT":
                    fields += _host_port(arg, at, "active.cip", "active.port")
                elif command == b"EPRT":
                    fields += _eprt(arg, at)
            return fields, state, False
        return [("response.arg", ascii_text(content), 0, len(content))], state, False

    def primary(self, fields):
        return {k: fields[k] for k in PRIMARY if k in fields}

    def format_line(self, item, raw, state):
        eol = cut_eol(raw)[1] if raw is not None else b"\r\n"
        arg = item.get("response.arg")
        if "request.command" in item:
            text = str(item["request.command"])
            if item.get("request.arg") is not None:
                text += f" {item['request.arg']}"
        elif "response.code" in item:
            sep = "-" if raw is not None and raw[3:4] == b"-" else " "
            text = f"{int(item['response.code']):03d}" + (f"{sep}{arg}" if arg is not None else "")
        else:
            text = "" if arg is None else str(arg)
        return text.encode("utf-8") + eol


LAYOUT = Struct(
    "lines" / Lines(FtpGrammar()) * "Lines (RFC 959 §4)",
)


def is_request(layer) -> bool:
    """Towards the FTP port is a request (as Wireshark decides); without a transport layer,
    a segment whose first line is a command."""
    parent = layer.parent
    if parent is not None:
        src, dst = parent.get("srcport"), parent.get("dstport")
        if src is not None and dst is not None and (src in PORTS) != (dst in PORTS):
            return dst in PORTS
    lines = layer.value.get("lines") or ()
    return bool(lines) and "request.command" in lines[0]


def is_response(layer) -> bool:
    return not is_request(layer)


def summary(layer):
    lines = layer.value.get("lines")
    if not lines:
        return "File Transfer Protocol"
    first = lines[0]["_line"]
    text = ascii_text(first.rstrip(b"\r\n"))
    return f"{'Request' if is_request(layer) else 'Response'}: {text}"


PROTOCOL = Protocol(
    name="ftp",
    title="File Transfer Protocol (FTP)",
    ref="RFC 959 §4",
    layout=LAYOUT,
    binds=[Bind("tcp.port", *PORTS)],
    summary=summary,
    column="FTP",
    virtual=[
        Virtual("request", "The segment goes towards the server port: commands (RFC 959 §4.1)",
                fn=is_request),
        Virtual("response", "The segment comes from the server port: replies (RFC 959 §4.2)",
                fn=is_response),
    ],
)
