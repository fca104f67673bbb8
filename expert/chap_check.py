"""PPP CHAP checks that need context beyond one frame (RFC 1994 §4.1).

* each Response is matched to its Challenge (same link, same Identifier):
  ``chap.challenge_frame`` names the challenge's frame;
* when the password of the responding name is known (``--chap-password USER=PW``), the
  Response Value of CHAP with MD5, MD5(Identifier || secret || Challenge Value), is
  recomputed: ``chap.response.status`` is ``good`` or ``bad``.  Responses that are not
  16 octets (MS-CHAP, MS-CHAPv2) are not MD5 CHAP and are left alone.

Challenges and responses are also indexed by value, so that :mod:`expert.radius_check` can
tie a RADIUS Access-Request carrying the same CHAP challenge to the PPP exchange.

Use::

    check = ChapCheck(passwords_from_args(["alice=secret"]))
    for pkt in packets:
        check.process(pkt)
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

__all__ = ["ChapCheck", "chap_md5", "parse_user_password", "passwords_from_args", "CHAP_FIELDS"]

#: fields this stage annotates (full name -> Python type), for the filter language
CHAP_FIELDS = {
    "chap.response.status": str,     # good / bad: the MD5 response matches the known password
    "chap.challenge_frame": int,     # frame of the Challenge a Response answers
    "chap.radius_frame": int,        # frame of the RADIUS Access-Request carrying this exchange
}

GOOD, BAD = "good", "bad"
_LIMIT = 65536


def chap_md5(identifier: int, secret: bytes, challenge: bytes) -> bytes:
    """The CHAP-MD5 Response Value (RFC 1994 §4.1; RFC 2865 §2.2 for CHAP-Password)."""
    return hashlib.md5(bytes([identifier & 0xFF]) + secret + challenge).digest()


def parse_user_password(text: str) -> tuple[str, bytes]:
    """``USER=PASSWORD`` (the first ``=`` separates; the password may contain more)."""
    user, sep, password = text.partition("=")
    if not sep or not user:
        raise ValueError(f"--chap-password {text!r}: expected USER=PASSWORD")
    return user, password.encode()


def passwords_from_args(values) -> dict[str, bytes]:
    """``--chap-password USER=PW`` values (repeatable) -> {user: password}."""
    out = {}
    for text in values or ():
        user, password = parse_user_password(text)
        out[user] = password
    return out


def _bounded_put(table: OrderedDict, key, value):
    table[key] = value
    table.move_to_end(key)
    if len(table) > _LIMIT:
        table.popitem(last=False)


def link_key(packet) -> tuple:
    """The PPP link a frame belongs to: Ethernet addresses and PPPoE session (or nothing,
    on a point-to-point link type)."""
    key = []
    for layer in packet.layers:
        name = layer.proto.name
        if name == "eth":
            key.append(tuple(sorted((layer.get("src"), layer.get("dst")))))
        elif name == "pppoes":
            key.append(layer.get("session_id"))
        elif name == "chap":
            break
    return tuple(key)


class ChapCheck:
    """Analysis stage for PPP CHAP (call :meth:`process` on every packet, in order)."""

    def __init__(self, passwords: dict[str, bytes | str] | None = None):
        self.passwords = {u: (p.encode() if isinstance(p, str) else p) for u, p in (passwords or {}).items()}
        self.challenges: OrderedDict = OrderedDict()      # (link, identifier) -> (value, frame)
        self.challenge_by_value: OrderedDict = OrderedDict()   # value -> (frame, packet)
        self.response_by_value: OrderedDict = OrderedDict()    # response value -> (frame, packet)
        self.on_challenge = []     # callbacks(value, frame, packet): RADIUS linking

    def process(self, packet) -> None:
        layer = packet.layer("chap")
        if layer is None or layer.status != "ok":
            return
        code = layer.get("code")
        ident = layer.get("identifier")
        value = layer.get("value")
        if code == 1 and value is not None:
            _bounded_put(self.challenges, (link_key(packet), ident), (value, packet.number))
            _bounded_put(self.challenge_by_value, value, (packet.number, packet))
            for callback in self.on_challenge:
                callback(value, packet.number, packet)
        elif code == 2 and value is not None:
            _bounded_put(self.response_by_value, value, (packet.number, packet))
            hit = self.challenges.get((link_key(packet), ident))
            if hit is None:
                return
            challenge, frame = hit
            packet.annotate("chap.challenge_frame", frame)
            password = self.passwords.get(layer.get("name", ""))
            if password is not None and len(value) == 16:
                ok = chap_md5(ident, password, challenge) == value
                packet.annotate("chap.response.status", GOOD if ok else BAD)
