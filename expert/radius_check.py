"""RADIUS checks that need context beyond one frame: request/response matching, and the
shared-secret checks (RFC 2865 §3, §5.2; RFC 2866 §3; RFC 3579 §3.2; RFC 5176 §2.3, §3.5).

Matching (always, as Wireshark): a response is tied to the request with the same Identifier
between the same two UDP endpoints: ``radius.req``/``radius.rsp``, ``radius.reqframe``,
``radius.rspframe`` (annotated on the request when its response arrives), ``radius.time``
(seconds from request to response), ``radius.dup`` and ``radius.req.dup``/``radius.rsp.dup``
for retransmissions.

With shared secrets (``secrets``: server address -> [secret, ...]; key None: any server;
CLI ``--radius-secret [ADDR=]SECRET``, see :func:`parse_secret`), each result is a field
status, ``good`` or ``bad`` (a secret that verifies once is remembered for that server):

* ``radius.authenticator.status``: Response Authenticator of Access-Accept/Reject/Challenge,
  Accounting-Response, CoA/Disconnect-ACK/NAK = MD5(Code+ID+Length+Request Authenticator+
  Attributes+Secret); Request Authenticator of Accounting-Request, CoA-Request and
  Disconnect-Request = the same with sixteen zero octets for the authenticator;
* ``radius.Message_Authenticator.status``: HMAC-MD5 of the packet (RFC 3579 §3.2);
* ``radius.User_Password``: the User-Password of an Access-Request, un-hidden (RFC 2865 §5.2);
* ``radius.CHAP_Password.status``: with the user's password (``--chap-password USER=PW``),
  CHAP-Password = MD5(CHAP Ident + password + challenge), the challenge being CHAP-Challenge
  or else the Request Authenticator (RFC 2865 §2.2, §5.3).

PPP CHAP with RADIUS: when a PPP CHAP Challenge (PPPoE access side) and a RADIUS
Access-Request carrying the same challenge (as CHAP-Challenge, or as its authenticator) are in
one capture, the RADIUS packet gets ``radius.chap_challenge_frame`` (and
``radius.chap_response_frame`` when the PPP Response value equals the CHAP-Password's) and
the PPP Challenge gets ``chap.radius_frame``.  Annotations on an earlier frame are visible to
output produced after the analysis (two-pass), as with ``radius.rspframe``.

Use :class:`AccessCheck` (RADIUS and PPP CHAP together) as one analysis stage.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections import OrderedDict

from decoder.checksum import network_layer
from expert.chap_check import (BAD, CHAP_FIELDS, GOOD, ChapCheck, _bounded_put, chap_md5,
                               passwords_from_args)

__all__ = ["AccessCheck", "RadiusCheck", "parse_secret", "secrets_from_args", "ACCESS_FIELDS",
           "response_authenticator", "request_authenticator", "message_authenticator",
           "hide_password", "reveal_password"]

#: fields the access checks annotate (full name -> Python type), for the filter language
ACCESS_FIELDS = {
    "radius.req": bool,
    "radius.rsp": bool,
    "radius.reqframe": int,
    "radius.rspframe": int,
    "radius.time": float,
    "radius.dup": int,
    "radius.req.dup": int,
    "radius.rsp.dup": int,
    "radius.authenticator.status": str,
    "radius.Message_Authenticator.status": str,
    "radius.User_Password": str,
    "radius.CHAP_Password.status": str,
    "radius.chap_challenge_frame": int,
    "radius.chap_response_frame": int,
    **CHAP_FIELDS,
}

def add_arguments(p) -> None:
    """The secret options, shared by ``protospec decode`` and ``protospec expert``."""
    p.add_argument("--radius-secret", action="append", default=[], metavar="[ADDR=]SECRET",
                   help="RADIUS shared secret (of one server, or any): checks authenticators")
    p.add_argument("--chap-password", action="append", default=[], metavar="USER=PASSWORD",
                   help="a user's password: checks CHAP responses and RADIUS CHAP-Password")


REQUESTS = {1: (2, 3, 11), 4: (5,), 12: (2, 3, 11, 5), 40: (41, 42), 43: (44, 45)}
RESPONSES = {2, 3, 5, 11, 41, 42, 44, 45}
ZERO_AUTH_REQUESTS = {4, 40, 43}          # authenticator computed over sixteen zero octets
MESSAGE_AUTHENTICATOR = 80


# --- the secret-based computations (bytes in, bytes out) ------------------------------------

def response_authenticator(packet: bytes, request_authenticator: bytes, secret: bytes) -> bytes:
    """RFC 2865 §3: MD5(Code+ID+Length+RequestAuth+Attributes+Secret)."""
    return hashlib.md5(packet[:4] + request_authenticator + packet[20:] + secret).digest()


def request_authenticator(packet: bytes, secret: bytes) -> bytes:
    """RFC 2866 §3, RFC 5176 §2.3: MD5(Code+ID+Length+16 zero octets+Attributes+Secret)."""
    return response_authenticator(packet, bytes(16), secret)


def attributes(packet: bytes):
    """``(type, offset of value, value)`` of each attribute of a well-formed packet."""
    pos, end = 20, min(len(packet), int.from_bytes(packet[2:4], "big"))
    while pos + 2 <= end:
        kind, length = packet[pos], packet[pos + 1]
        if length < 2 or pos + length > end:
            return
        yield kind, pos + 2, packet[pos + 2:pos + length]
        pos += length


def message_authenticator(packet: bytes, authenticator: bytes, secret: bytes) -> bytes | None:
    """RFC 3579 §3.2: HMAC-MD5 over the packet with the Message-Authenticator value zeroed and
    ``authenticator`` in the authenticator field; None without the attribute."""
    for kind, off, value in attributes(packet):
        if kind == MESSAGE_AUTHENTICATOR and len(value) == 16:
            blank = packet[:4] + authenticator + packet[20:off] + bytes(16) + packet[off + 16:]
            return hmac.new(secret, blank, hashlib.md5).digest()
    return None


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """User-Password hiding (RFC 2865 §5.2): pad to 16n octets, XOR with the MD5 chain."""
    padded = password + bytes((-len(password)) % 16 if password else 16)
    out, prev = b"", authenticator
    for i in range(0, len(padded), 16):
        block = bytes(a ^ b for a, b in zip(padded[i:i + 16], hashlib.md5(secret + prev).digest()))
        out += block
        prev = block
    return out


def reveal_password(hidden: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """The inverse of :func:`hide_password`, trailing NUL padding removed."""
    out, prev = b"", authenticator
    for i in range(0, len(hidden), 16):
        chunk = hidden[i:i + 16]
        out += bytes(a ^ b for a, b in zip(chunk, hashlib.md5(secret + prev).digest()))
        prev = chunk
    return out.rstrip(b"\0")


# --- secrets from the command line ----------------------------------------------------------

def parse_secret(text: str) -> tuple[str | None, bytes]:
    """``--radius-secret [ADDR=]SECRET``: ``(address or None for any server, secret)``.
    The part before the first ``=`` is an address only if it parses as one, so a secret
    may itself contain ``=``."""
    head, sep, tail = text.partition("=")
    if sep:
        try:
            return str(ipaddress.ip_address(head)), tail.encode()
        except ValueError:
            pass
    return None, text.encode()


def secrets_from_args(values) -> dict[str | None, list[bytes]]:
    """Repeated ``--radius-secret`` values -> {address or None: [secret, ...]}."""
    out: dict[str | None, list[bytes]] = {}
    for text in values or ():
        addr, secret = parse_secret(text)
        out.setdefault(addr, []).append(secret)
    return out


def _norm_addr(addr):
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


class _Request:
    __slots__ = ("frame", "packet", "code", "authenticator", "ts_ns", "response", "secret")

    def __init__(self, frame, packet, code, authenticator, ts_ns):
        self.frame, self.packet, self.code, self.authenticator, self.ts_ns = frame, packet, code, authenticator, ts_ns
        self.response = None
        self.secret = None


class RadiusCheck:
    """Analysis stage for RADIUS (call :meth:`process` on every packet, in order).

    :param secrets: server address (or None: any) -> shared secrets (bytes or str)
    :param passwords: user -> password, for CHAP-Password
    :param chap: a :class:`~expert.chap_check.ChapCheck` to link PPP CHAP exchanges with
    """

    def __init__(self, secrets=None, passwords=None, chap: ChapCheck | None = None, links=None):
        self.secrets = {(None if a in (None, "*") else _norm_addr(a)): [s.encode() if isinstance(s, str) else s for s in v]
                        for a, v in (secrets or {}).items()}
        self.passwords = {u: (p.encode() if isinstance(p, str) else p) for u, p in (passwords or {}).items()}
        self.known: dict[str, bytes] = {}          # server -> secret that verified
        self.pending: OrderedDict = OrderedDict()  # (client, cport, server, sport, id) -> _Request
        self.by_challenge: OrderedDict = OrderedDict()   # challenge -> (frame, packet) of RADIUS requests
        self.chap = chap
        self.links = links                          # expert.pairing.ForwardLinks, for a second pass
        if chap is not None:
            chap.on_challenge.append(self._ppp_challenge)

    def _late(self, packet, name, value):
        """Annotate an earlier packet: seen by whoever still holds it, and by a second pass."""
        packet.annotate(name, value)
        if self.links is not None:
            self.links.add(packet.number, name, value)

    # -- helpers
    def candidates(self, server) -> list[bytes]:
        """Secrets to try for a server: the one that verified last, then the others given."""
        given = self.secrets.get(server, []) + self.secrets.get(None, [])
        known = self.known.get(server)
        return [known] + [s for s in given if s != known] if known is not None else given

    def _verify(self, server, compute, expected):
        """good/bad over the candidate secrets (None: no secret to try); remembers a good one."""
        tried = False
        for secret in self.candidates(server):
            tried = True
            value = compute(secret)
            if value is not None and hmac.compare_digest(value, expected):
                self.known[server] = secret
                return GOOD, secret
        return (BAD, None) if tried else (None, None)

    # -- the stage
    def process(self, packet) -> None:
        layer = packet.layer("radius")
        if layer is None or layer.quoted:   # a request quoted in an ICMP error is not a request
            return
        if layer.status != "ok":
            code = layer.get("code")
            if code in REQUESTS and code != 12 or code in RESPONSES:
                packet.annotate("radius.req" if code in REQUESTS else "radius.rsp", True)
            return
        # the headers around this message, not the frame's first ones (a tunnel has two)
        net = network_layer(layer)
        udp = layer.parent if layer.parent is not None and layer.parent.proto.name == "udp" else None
        src = _norm_addr(net.get("src")) if net else None
        dst = _norm_addr(net.get("dst")) if net else None
        sport = udp.get("srcport") if udp else None
        dport = udp.get("dstport") if udp else None
        raw = layer.header
        code, rid, auth = int(layer.get("code")), layer.get("id"), layer.get("authenticator")
        ts = packet.frame.ts_ns
        if code in REQUESTS:
            self._request(packet, layer, raw, code, rid, auth, (src, sport, dst, dport, rid), dst, ts)
        elif code in RESPONSES:
            self._response(packet, layer, raw, code, auth, (dst, dport, src, sport, rid), src, ts)

    def _request(self, packet, layer, raw, code, rid, auth, key, server, ts):
        if code != 12:
            packet.annotate("radius.req", True)
        old = self.pending.get(key)
        if old is not None and old.authenticator == auth and old.code == code and old.frame != packet.number:
            packet.annotate("radius.dup", rid)               # a retransmission
            packet.annotate("radius.req.dup", old.frame)
            return
        req = _Request(packet.number, packet, code, auth, ts)
        _bounded_put(self.pending, key, req)
        if code in ZERO_AUTH_REQUESTS:
            status, secret = self._verify(server, lambda s: request_authenticator(raw, s), auth)
            if status:
                packet.annotate("radius.authenticator.status", status)
        ma_auth = bytes(16) if code in ZERO_AUTH_REQUESTS else auth
        ma_status, ma_secret = self._message_authenticator(packet, raw, ma_auth, server)
        # the secret that verified this packet's Message-Authenticator, else the likeliest one;
        # none when the Message-Authenticator shows that no secret given fits
        secret = ma_secret if ma_status else next(iter(self.candidates(server)), None)
        req.secret = secret
        hidden = layer.get("User_Password_encrypted")
        if code == 1 and hidden is not None and secret is not None:
            clear = reveal_password(hidden, secret, auth)
            packet.annotate("radius.User_Password", clear.decode("utf-8", "replace"))
        if code == 1:
            self._chap_password(packet, layer, auth)

    def _response(self, packet, layer, raw, code, auth, key, server, ts):
        packet.annotate("radius.rsp", True)
        req = self.pending.get(key)
        if req is None or code not in REQUESTS.get(req.code, ()):
            return
        if req.response is not None and req.response[0] != packet.number:
            packet.annotate("radius.dup", layer.get("id"))
            packet.annotate("radius.rsp.dup", req.response[0])
            return
        req.response = (packet.number, packet)
        packet.annotate("radius.reqframe", req.frame)
        packet.annotate("radius.time", (ts - req.ts_ns) / 1e9)
        self._late(req.packet, "radius.rspframe", packet.number)
        status, _ = self._verify(server, lambda s: response_authenticator(raw, req.authenticator, s), auth)
        if status:
            packet.annotate("radius.authenticator.status", status)
        self._message_authenticator(packet, raw, req.authenticator, server)

    def _message_authenticator(self, packet, raw, authenticator, server):
        """``(status, secret)`` of the packet's Message-Authenticator; (None, None) without one."""
        sent = next((v for k, _, v in attributes(raw) if k == MESSAGE_AUTHENTICATOR and len(v) == 16), None)
        if sent is None:
            return None, None
        status, secret = self._verify(server, lambda s: message_authenticator(raw, authenticator, s), sent)
        if status:
            packet.annotate("radius.Message_Authenticator.status", status)
        return status, secret

    def _chap_password(self, packet, layer, auth):
        chap_password = layer.get("CHAP_Password")
        if chap_password is None or len(chap_password) < 2:
            return
        challenge = layer.get("CHAP_Challenge") or auth
        ident, response = chap_password[0], chap_password[1:]
        password = self.passwords.get(layer.get("User_Name", ""))
        if password is not None and len(response) == 16:
            ok = chap_md5(ident, password, challenge) == response
            packet.annotate("radius.CHAP_Password.status", GOOD if ok else BAD)
        _bounded_put(self.by_challenge, challenge, (packet.number, packet))
        if self.chap is not None:
            hit = self.chap.challenge_by_value.get(challenge)
            if hit is not None:
                frame, ppp_packet = hit
                packet.annotate("radius.chap_challenge_frame", frame)
                self._late(ppp_packet, "chap.radius_frame", packet.number)
            hit = self.chap.response_by_value.get(response)
            if hit is not None:
                packet.annotate("radius.chap_response_frame", hit[0])

    def _ppp_challenge(self, value, frame, ppp_packet):
        """A PPP CHAP Challenge seen after the RADIUS request that carries it."""
        hit = self.by_challenge.get(value)
        if hit is not None:
            rframe, rpacket = hit
            ppp_packet.annotate("chap.radius_frame", rframe)
            self._late(rpacket, "radius.chap_challenge_frame", frame)


class AccessCheck:
    """PPP CHAP and RADIUS checks as one analysis stage (``process(packet)``)."""

    def __init__(self, secrets=None, passwords=None, links=None):
        self.chap = ChapCheck(passwords)
        self.radius = RadiusCheck(secrets, passwords, chap=self.chap, links=links)

    @classmethod
    def from_args(cls, radius_secrets=(), chap_passwords=()):
        """From the CLI's repeatable ``--radius-secret [ADDR=]S`` and ``--chap-password USER=PW``."""
        return cls(secrets_from_args(radius_secrets), passwords_from_args(chap_passwords))

    def process(self, packet) -> None:
        self.chap.process(packet)
        self.radius.process(packet)
