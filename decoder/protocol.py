"""How a spec declares a protocol: its layout plus where it binds and what comes next.

Grammar (the construct layout) and registration (binds, dispatch) sit side by side
in the spec module but stay separate values, as in Spicy's ``.spicy``/``.evt`` split
and Scapy's ``bind_layers``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Bind:
    """Decode this protocol when ``table`` (a dispatch table such as ``ethertype``,
    ``ip.proto``, ``udp.port``, ``linktype``) holds one of ``values``."""

    table: str
    values: tuple[int, ...]

    def __init__(self, table: str, *values: int):
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "values", tuple(int(v) for v in values))


@dataclass(frozen=True)
class Dispatch:
    """Choose the next layer by looking ``keys`` up in ``table``.

    Several keys (source and destination port) are tried lowest value first, as
    Wireshark does; ``when`` (a ``this`` expression) guards the lookup, e.g. only
    first fragments carry the upper-layer header.
    """

    table: str
    keys: tuple[Any, ...]
    when: Any = None

    def __init__(self, table: str, *keys, when=None):
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "when", when)


@dataclass(frozen=True)
class Virtual:
    """A field computed from others: ``either`` lists fields whose values it takes (Wireshark's
    ``ip.addr`` is the source or the destination); ``fn`` maps the value of field ``of``, or,
    without ``of``, is called with the whole layer (``fn(layer)`` returns a value, a list of
    values, or None)."""

    name: str
    doc: str
    either: tuple[str, ...] = ()
    of: str | None = None
    fn: Callable[[Any], Any] | None = None


@dataclass
class Protocol:
    """A protocol spec: the construct layout of its header plus its place in the stack.

    :param name: the display-filter prefix (Wireshark's, where Wireshark has the protocol)
    :param title: human title; ``ref`` cites the defining document (``"RFC 791 §3.1"``)
    :param layout: construct ``Struct`` of the header, fields documented with ``* "doc"``
    :param binds: where the protocol sits under its parents
    :param dispatch: how to find the next layer
    :param payload_length: ``this`` expression for the payload octets after the header
        (None: the rest of the frame); octets beyond it are a trailer (Ethernet padding)
    :param checksums: :class:`decoder.checksum.ChecksumRule` s verified on decode, filled on build
    :param summary: ``f(layer) -> str`` for the Info column, or ``f(layer, notes)`` to read
        the packet's annotations too (``notes``: :attr:`decoder.packet.Packet.extra`, None
        when no analysis ran; TCP shows relative sequence numbers from them)
    :param source, destination: field names that give the packet list's Source/Destination
    :param virtual: computed fields (:class:`Virtual`)
    :param column: name in the Protocol column (default: ``name`` upper-cased)
    :param quotes: the payload is a quoted datagram (ICMP errors): layers under it are
        expected to be cut short and are marked ``quoted``
    :param namespace: display-filter prefix of the fields (default: ``name``); IPv6
        extension headers use ``"ipv6"`` so that their options are ``ipv6.opt.*`` as in
        Wireshark (field ``"hopopts.nxt"`` of protocol ``ipv6.hopopts`` is ``ipv6.hopopts.nxt``)
    :param aliases: relative field name -> the full filter name Wireshark gives it when that
        lies outside ``namespace`` (LCP's ``code`` is ``ppp.code``, PPPoE Discovery's
        ``version`` is ``pppoe.version``); the field answers to both names
    :param strict: parse the whole header while decoding, so that an inconsistent option or
        attribute list marks the layer malformed at once (default: such lists are parsed
        on access, and a bad one only shortens the values)
    :param segmented: the payload is one message of a byte stream (DNS over TCP behind its
        length prefix): when it continues past the segment, the layer under it that runs
        out of octets is truncated, as if the capture had cut it, not malformed
    """

    name: str
    title: str
    ref: str
    layout: Any
    binds: list[Bind] = field(default_factory=list)
    dispatch: list[Dispatch] = field(default_factory=list)
    payload_length: Any = None
    checksums: list[Any] = field(default_factory=list)
    summary: Callable[[Any], str] | None = None
    source: str | None = None
    destination: str | None = None
    virtual: list[Virtual] = field(default_factory=list)
    column: str = ""
    quotes: bool = False
    doc: str = ""
    module: str = ""
    namespace: str = ""
    aliases: dict[str, str] = field(default_factory=dict)
    strict: bool = False
    segmented: bool = False

    def __post_init__(self):
        self.column = self.column or self.name.upper()
        self.namespace = self.namespace or self.name
        self.alias_of = {full: rel for rel, full in self.aliases.items()}
        self.summary_notes = self.summary is not None and len(inspect.signature(self.summary).parameters) > 1

    def full_name(self, rel: str) -> str:
        """The display-filter name of a field (its alias when it has one)."""
        return self.aliases.get(rel) or f"{self.namespace}.{rel}"

    def __repr__(self):
        return f"<Protocol {self.name}>"
