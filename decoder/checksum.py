"""Internet checksums (RFC 1071) and the rules that say what each protocol's checksum covers."""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

GOOD, BAD, UNVERIFIED, NOT_PRESENT = "good", "bad", "unverified", "not present"


def internet_checksum(data: bytes, initial: int = 0, skip: int | None = None) -> int:
    """One's-complement sum of 16-bit words, complemented (RFC 1071 §1); ``skip``: the
    (even) offset of a word taken as zero, the checksum field itself.

    Computed as RFC 1071 §2(B) allows, from the octets as one big number: 2**16 is 1
    modulo 0xFFFF, so the words' end-around-carry sum is that number modulo 0xFFFF (0xFFFF
    for a non-zero multiple, 0 only when every word is 0), and a word at an even offset
    weighs 1: the skipped word is subtracted, with no copy of the octets."""
    if skip is not None and len(data) < skip + 2:
        data, skip = data[:skip] + b"\0\0", None      # the field is not all there: pad it
    total = (int.from_bytes(data, "big") << (8 if len(data) % 2 else 0)) + initial
    if skip is not None:
        total -= data[skip] << 8 | data[skip + 1]
    folded = total % 0xFFFF
    if folded == 0 and (initial or any(data[:skip]) or (skip is not None and any(data[skip + 2:]))):
        folded = 0xFFFF
    return ~folded & 0xFFFF


def network_layer(layer):
    """The nearest enclosing IPv4 or IPv6 layer (skipping IPv6 extension headers)."""
    parent = layer.parent
    while parent is not None and parent.proto.name not in ("ip", "ipv6"):
        parent = parent.parent
    return parent


def pseudo_header(parent, proto_number: int, length: int, final_dst: str | None = None) -> bytes:
    """IPv4 (RFC 793 §3.1) or IPv6 (RFC 8200 §8.1) pseudo-header for a transport checksum."""
    raw = parent.raw_field
    if parent.proto.name == "ipv6":
        dst = ipaddress.IPv6Address(final_dst).packed if final_dst else raw("dst")
        return raw("src") + dst + struct.pack("!IxxxB", length, proto_number)
    return raw("src") + raw("dst") + struct.pack("!xBH", proto_number, length)


def final_destination(layer):
    """RFC 8200 §8.1: behind an IPv6 Routing header with segments left the pseudo-header
    carries the final destination (the routing header's virtual ``final_dst``), not ``ipv6.dst``."""
    parent = layer.parent
    while parent is not None and parent.proto.name not in ("ip", "ipv6"):
        if parent.proto.name == "ipv6.routing":
            return parent.get("final_dst")
        parent = parent.parent
    return None


def fragmented(layer) -> bool:
    """Whether the layer lies in one fragment of a larger datagram (IPv4 MF or offset, IPv6
    Fragment header): its checksum cannot be verified without reassembly (as Wireshark).
    A layer decoded from a reassembled datagram (another buffer than its parent's) is whole."""
    child, parent = layer, layer.parent
    while parent is not None:
        if parent.buf is not child.buf:
            return False
        name = parent.proto.name
        if name == "ip":
            return bool(parent.get("flags.mf") or parent.get("frag_offset"))
        if name == "ipv6":
            return False
        if name == "ipv6.fraghdr" and (parent.get("more") or parent.get("offset")):
            return True
        child, parent = parent, parent.parent
    return False


@dataclass(frozen=True)
class ChecksumRule:
    """Where a protocol's checksum field is and what it covers.

    :param field: the checksum field's name in the layout
    :param offset: its offset from the start of the layer
    :param covers: ``"header"`` (IPv4) or ``"layer"`` (header and payload: ICMP, TCP, UDP)
    :param pseudo: IP protocol number for the pseudo-header, or None
    :param zero_means_absent: UDP over IPv4 (RFC 768): zero means no checksum was sent
    :param verify_quoted: False: a copy quoted inside an ICMP error is left unverified (ICMP
        messages: the quote may be padded or overlaid by RFC 4884 extensions; as Wireshark)
    """

    field: str
    offset: int
    covers: str = "layer"
    pseudo: int | None = None
    zero_means_absent: bool = False
    verify_quoted: bool = True

    def covered(self, layer) -> tuple[bytes, bool]:
        """The octets the checksum covers, and whether all of them were captured."""
        end = layer.off + layer.hlen if self.covers == "header" else layer.end
        complete = end <= len(layer.buf) and not (self.covers != "header" and layer.cut) \
            and layer.status != "truncated"
        data = bytes(layer.buf[layer.off:end])
        return data, complete

    def compute(self, layer, data: bytes, net=False) -> int:
        """The value the field should hold for these octets (the field itself taken as zero).

        ``net``: the enclosing IP layer when the caller has it (False: look it up)."""
        initial = 0
        if self.pseudo is not None:
            if net is False:
                net = network_layer(layer)
            if net is not None:
                ph = pseudo_header(net, self.pseudo, len(data), final_destination(layer))
                initial = int.from_bytes(ph, "big")
        value = internet_checksum(data, initial, skip=self.offset)
        if self.zero_means_absent and value == 0:
            value = 0xFFFF
        return value

    def status(self, layer) -> tuple[str, int | None]:
        """``(status, expected value)`` for a decoded layer."""
        sent = layer.get(self.field)
        if sent is None:
            return UNVERIFIED, None
        net = network_layer(layer)
        if self.zero_means_absent and sent == 0 and (net is None or net.proto.name == "ip"):
            return NOT_PRESENT, None
        data, complete = self.covered(layer)
        if not complete or (self.covers != "header" and fragmented(layer)) or \
                (layer.quoted and not self.verify_quoted):
            return UNVERIFIED, None
        expected = self.compute(layer, data, net)
        return (GOOD if expected == sent else BAD), expected
