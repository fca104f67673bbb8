"""Hypertext Transfer Protocol/1.x message heads — RFC 9112 §2-§5 (semantics: RFC 9110).

One HTTP layer per TCP segment that begins with a request line (``GET / HTTP/1.1``) or a
status line (``HTTP/1.1 200 OK``): the start line, then the header lines up to and
including the empty line that ends them.  The body is left as undecoded data, as is a
segment that does not begin a message (a body continuation, or anything else on the
port): the spec declines it rather than showing a malformed HTTP layer.  Messages are not
reassembled across segments: a head split over two segments gives the lines present in
the first, and the second is data.

Fields, as in Wireshark: ``http.request.method``, ``http.request.uri``,
``http.request.version``; ``http.response.version``, ``http.response.code``,
``http.response.phrase``; every header line as ``http.request.line`` or
``http.response.line`` (the line with its CRLF, as Wireshark gives it), and the value of
the headers Wireshark names (``http.host``, ``http.user_agent``, ``http.content_type``,
``http.content_length_header``, ``http.server``, ``http.location``, ``http.connection``,
...: the text after the colon and any spaces, as Wireshark gives it).  Computed:
``http.request``/``http.response``, ``http.content_length``, ``http.request.full_uri``,
``http.response.code.desc``, ``http.cookie_pair`` and the query parts of the URI.

As in Wireshark, a line that is neither a header (``name: value``) nor the empty line ends
the head; it and what follows are left as data.
"""
from __future__ import annotations

import re
from http import HTTPStatus

from construct import Struct

from decoder.fastpath import Decline
from decoder.protocol import Bind, Protocol, Virtual
from specs._text import Decimal, LineGrammar, Lines, String, ascii_text, cut_eol

#: request methods Wireshark recognises (RFC 9110 §9, WebDAV RFC 4918, RFC 3253, SSDP, ...)
METHODS = frozenset(b"""GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH
    PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK SEARCH ACL BIND UNBIND REBIND
    REPORT CHECKIN CHECKOUT UNCHECKOUT MERGE LABEL UPDATE VERSION-CONTROL MKWORKSPACE
    MKACTIVITY BASELINE-CONTROL ORDERPATCH MKCALENDAR MKREDIRECTREF UPDATEREDIRECTREF
    NOTIFY SUBSCRIBE UNSUBSCRIBE M-SEARCH POLL BCOPY BMOVE BDELETE BPROPFIND BPROPPATCH
    RPC_CONNECT RPC_IN_DATA RPC_OUT_DATA CCM_POST""".split())

#: header name (lower case) -> field, for the headers Wireshark gives fields of their own
HEADERS = {
    "host": "host",
    "user-agent": "user_agent",
    "accept": "accept",
    "accept-encoding": "accept_encoding",
    "accept-language": "accept_language",
    "authorization": "authorization",
    "cache-control": "cache_control",
    "connection": "connection",
    "content-encoding": "content_encoding",
    "content-length": "content_length_header",
    "content-type": "content_type",
    "cookie": "cookie",
    "date": "date",
    "last-modified": "last_modified",
    "location": "location",
    "proxy-authenticate": "proxy_authenticate",
    "proxy-authorization": "proxy_authorization",
    "referer": "referer",
    "server": "server",
    "set-cookie": "set_cookie",
    "transfer-encoding": "transfer_encoding",
    "upgrade": "upgrade",
    "www-authenticate": "www_authenticate",
    "x-forwarded-for": "x_forwarded_for",
    "sec-websocket-accept": "sec_websocket_accept",
    "sec-websocket-extensions": "sec_websocket_extensions",
    "sec-websocket-key": "sec_websocket_key",
    "sec-websocket-protocol": "sec_websocket_protocol",
    "sec-websocket-version": "sec_websocket_version",
    "http2-settings": "http2_settings",
}

_HEADER_DOCS = {
    "host": "Host, the target's host and port (RFC 9110 §7.2)",
    "user_agent": "User-Agent (RFC 9110 §10.1.5)",
    "accept": "Accept (RFC 9110 §12.5.1)",
    "accept_encoding": "Accept-Encoding (RFC 9110 §12.5.3)",
    "accept_language": "Accept-Language (RFC 9110 §12.5.4)",
    "authorization": "Authorization (RFC 9110 §11.6.2)",
    "cache_control": "Cache-Control (RFC 9111 §5.2)",
    "connection": "Connection (RFC 9110 §7.6.1)",
    "content_encoding": "Content-Encoding (RFC 9110 §8.4)",
    "content_length_header": "Content-Length header text (RFC 9110 §8.6)",
    "content_type": "Content-Type (RFC 9110 §8.3)",
    "cookie": "Cookie (RFC 6265 §5.4)",
    "date": "Date (RFC 9110 §6.6.1)",
    "last_modified": "Last-Modified (RFC 9110 §8.8.2)",
    "location": "Location (RFC 9110 §10.2.2)",
    "proxy_authenticate": "Proxy-Authenticate (RFC 9110 §11.7.1)",
    "proxy_authorization": "Proxy-Authorization (RFC 9110 §11.7.2)",
    "referer": "Referer (RFC 9110 §10.1.3)",
    "server": "Server (RFC 9110 §10.2.4)",
    "set_cookie": "Set-Cookie (RFC 6265 §4.1)",
    "transfer_encoding": "Transfer-Encoding (RFC 9112 §6.1)",
    "upgrade": "Upgrade (RFC 9110 §7.8)",
    "www_authenticate": "WWW-Authenticate (RFC 9110 §11.6.1)",
    "x_forwarded_for": "X-Forwarded-For, the client's address as seen by proxies (RFC 7239 §5.2)",
    "sec_websocket_accept": "Sec-WebSocket-Accept (RFC 6455 §11.3.3)",
    "sec_websocket_extensions": "Sec-WebSocket-Extensions (RFC 6455 §11.3.2)",
    "sec_websocket_key": "Sec-WebSocket-Key (RFC 6455 §11.3.1)",
    "sec_websocket_protocol": "Sec-WebSocket-Protocol (RFC 6455 §11.3.4)",
    "sec_websocket_version": "Sec-WebSocket-Version (RFC 6455 §11.3.5)",
    "http2_settings": "HTTP2-Settings (RFC 7540 §3.2.1)",
}

LINE = Struct(
    "request.method" / String() * "Request method (RFC 9112 §3.1)",
    "request.uri" / String() * "Request target (RFC 9112 §3.2)",
    "request.version" / String() * "Request version (RFC 9112 §2.3)",
    "response.version" / String() * "Response version (RFC 9112 §4)",
    "response.code" / Decimal() * "Status code (RFC 9112 §4; RFC 9110 §15)",
    "response.phrase" / String() * "Reason phrase (RFC 9112 §4)",
    "request.line" / String() * "Request header line; its CRLF included (RFC 9112 §5)",
    "response.line" / String() * "Response header line; its CRLF included (RFC 9112 §5)",
    *[field / String() * _HEADER_DOCS[field] for field in HEADERS.values()],
)

_STATUS = re.compile(rb"(HTTP/[0-9]+(?:\.[0-9]+)?) +([0-9]{3})(?: (.*))?$", re.S)
_VERSION = re.compile(rb" (HTTP/[0-9]+\.[0-9]+)$")

_NOT_HTTP = "not an HTTP request or status line"
_LONGEST_METHOD = max(len(m) for m in METHODS)

# grammar states
_START, _REQUEST, _RESPONSE = 0, 1, 2


class HttpGrammar(LineGrammar):
    """Start line, then ``name: value`` header lines, then the empty line (RFC 9112 §2.1)."""

    item = LINE
    item_doc = "Line (RFC 9112 §2.1)"

    def initial(self):
        return _START

    def declines(self, buf, off, end):
        # a start line begins with "HTTP/" or a method token and a space (RFC 9112 §3, §4)
        head = bytes(buf[off:min(end, off + _LONGEST_METHOD + 1)])
        if head.startswith(b"HTTP/"):
            return None
        space = head.find(b" ")
        return _NOT_HTTP if space <= 0 or head[:space] not in METHODS else None

    def parse_line(self, content, eol, state):
        if state == _START:
            return self.start_line(content)
        if not content:
            return [], state, True                  # the empty line ends the head
        colon = content.find(b":")
        if colon <= 0 or content[0] in b" \t":
            return None                             # not a header line: the head ends before it
        line = "request.line" if state == _REQUEST else "response.line"
        fields = [(line, ascii_text(content + eol), 0, len(content) + len(eol))]
        field = HEADERS.get(ascii_text(content[:colon]).strip().lower())
        if field is not None:
            vstart = colon + 1
            while vstart < len(content) and content[vstart] in b" \t":
                vstart += 1
            fields.append((field, ascii_text(content[vstart:]), vstart, len(content) - vstart))
        return fields, state, False

    def start_line(self, content):
        m = _STATUS.match(content)
        if m:
            fields = [("response.version", ascii_text(m.group(1)), 0, m.end(1)),
                      ("response.code", int(m.group(2)), m.start(2), 3)]
            if m.group(3) is not None:
                fields.append(("response.phrase", ascii_text(m.group(3)), m.start(3), len(m.group(3))))
            return fields, _RESPONSE, False
        space = content.find(b" ")
        if space <= 0 or content[:space] not in METHODS:
            raise Decline(_NOT_HTTP)
        fields = [("request.method", ascii_text(content[:space]), 0, space)]
        rest = space + 1
        v = _VERSION.search(content, rest)
        uri_end = v.start() if v else len(content)
        fields.append(("request.uri", ascii_text(content[rest:uri_end]), rest, uri_end - rest))
        if v:
            fields.append(("request.version", ascii_text(v.group(1)), v.start(1), len(v.group(1))))
        return fields, _REQUEST, False

    def format_line(self, item, raw, state):
        eol = cut_eol(raw)[1] if raw is not None else b"\r\n"
        if state == _START:
            if "response.code" in item or "response.version" in item:
                text = f"{item.get('response.version', 'HTTP/1.1')} {int(item.get('response.code', 200)):03d}"
                if item.get("response.phrase") is not None:
                    text += f" {item['response.phrase']}"
            else:
                text = " ".join(str(item[k]) for k in ("request.method", "request.uri", "request.version") if k in item)
            return text.encode("utf-8") + eol
        line = item.get("request.line", item.get("response.line"))
        header = next(((name, f, item[f]) for name, f in HEADERS.items() if f in item), None)
        if header is not None and raw is not None and b":" in raw:
            content, end = cut_eol(raw)
            got = self.parse_line(content, end, state)
            before = {n: v for n, v, _, _ in got[0]} if got else {}
            if before.get(header[1]) != header[2]:
                # the header's value was changed: written anew, its name as it was
                return f"{content.split(b':', 1)[0].decode('latin-1')}: {header[2]}".encode("utf-8") + eol
        if line is not None:
            return line.encode("utf-8") if line.endswith("\n") else line.encode("utf-8") + eol
        if header is not None:
            return f"{header[0].title()}: {header[2]}".encode("utf-8") + eol
        return eol                                   # the empty line


LAYOUT = Struct(
    "lines" / Lines(HttpGrammar()) * "Message head (RFC 9112 §2.1)",
)


# --- computed fields ------------------------------------------------------------------------

def _is_request(layer):
    return layer.get("request.method") is not None


def _request(layer):
    return True if _is_request(layer) else None


def _response(layer):
    return True if layer.get("response.code") is not None else None


def _content_length(value):
    try:
        return int(value.strip())
    except ValueError:
        return None


def _full_uri(layer):
    uri, host = layer.get("request.uri"), layer.get("host")
    if uri is None:
        return None
    if "://" in uri or host is None:
        return uri if "://" in uri else None
    return f"http://{host.strip()}{uri}"


def _code_desc(code):
    try:
        return HTTPStatus(int(code)).phrase
    except ValueError:
        return None


def _cookie_pairs(layer):
    return [pair.strip() for value in layer.get_all("cookie") for pair in value.split(";") if pair.strip()]


def _uri_path(layer):
    uri = layer.get("request.uri")
    return uri.split("?", 1)[0] if uri is not None and "?" in uri else None


def _uri_query(layer):
    uri = layer.get("request.uri")
    return uri.split("?", 1)[1] if uri is not None and "?" in uri else None


def _query_parameters(layer):
    query = _uri_query(layer)
    return [p for p in query.split("&") if p] if query else None


def summary(layer):
    g = layer.get
    if g("request.method") is not None:
        return " ".join(str(x) for x in (g("request.method"), g("request.uri"), g("request.version")) if x is not None)
    if g("response.version") is not None:
        text = f"{g('response.version')} {g('response.code')}"
        return text + (f" {g('response.phrase')}" if g("response.phrase") is not None else "")
    return "Hypertext Transfer Protocol"


PROTOCOL = Protocol(
    name="http",
    title="Hypertext Transfer Protocol",
    ref="RFC 9112 §2",
    layout=LAYOUT,
    binds=[Bind("tcp.port", 80, 8000, 8080)],
    summary=summary,
    column="HTTP",
    virtual=[
        Virtual("request", "The message is a request (RFC 9112 §3)", fn=_request),
        Virtual("response", "The message is a response (RFC 9112 §4)", fn=_response),
        Virtual("content_length", "Content-Length as a number (RFC 9110 §8.6)",
                of="content_length_header", fn=_content_length),
        Virtual("request.full_uri", "Full request URI, http:// with the Host and the request target (RFC 9110 §4.2.1)",
                fn=_full_uri),
        Virtual("response.code.desc", "Status code description (RFC 9110 §15)", of="response.code", fn=_code_desc),
        Virtual("cookie_pair", "A name=value pair of a Cookie header (RFC 6265 §5.4)", fn=_cookie_pairs),
        Virtual("request.uri.path", "Path of a request URI that has a query (RFC 3986 §3.3)", fn=_uri_path),
        Virtual("request.uri.query", "Query of the request URI (RFC 3986 §3.4)", fn=_uri_query),
        Virtual("request.uri.query.parameter", "A parameter of the request URI's query (RFC 3986 §3.4)",
                fn=_query_parameters),
    ],
)
