"""Follow a stream (Wireshark's Follow TCP/UDP Stream, ``tshark -z follow,tcp,ascii,N``):
the payload one conversation carried, as each side sent it and the application read it.

TCP payload is put in sequence order per side (relative ``tcp.seq`` from the flow table):
octets already delivered (retransmissions) are left out, a segment that arrives early
waits for the gap before it to fill (what never fills is shown at the end, in order). A
UDP stream is its datagrams' payloads as they come.  Output formats are tshark's:
``ascii`` (printable octets, others as ``.``), ``hex`` (a dump, offsets counted per side)
and ``raw`` (hex digits, a line per chunk); the second side's chunks are indented by a tab.
"""
from __future__ import annotations

from decoder.checksum import network_layer

__all__ = ["Follower", "MODES"]

MODES = ("ascii", "hex", "raw")
_RULE = "=" * 67


class Follower:
    """Collects stream ``stream`` of ``kind`` (``tcp``/``udp``); feed it every packet with
    its conversation (:meth:`process`), then :meth:`text` or :meth:`as_dict`."""

    def __init__(self, kind: str, stream: int, mode: str = "ascii"):
        self.kind, self.stream, self.mode = kind, stream, mode
        self.nodes: list = []                  # [(address, port)] of the two sides
        self.chunks: list[tuple[int, bytes]] = []
        self._next = [None, None]              # TCP: the next relative sequence number per side
        self._early: list[dict] = [{}, {}]     # TCP: segments that arrived before their turn

    def process(self, packet, conv) -> None:
        if conv is None or conv.kind != self.kind or conv.index != self.stream:
            return
        layer = next((x for x in packet.layers if x.proto.name == self.kind and not x.quoted), None)
        net = network_layer(layer) if layer is not None else None
        if net is None or layer.v is None:
            return
        me = (net.get("src"), layer.get("srcport"))
        if not self.nodes:                     # node 0 sent the first packet, node 1 got it
            self.nodes = [me, (net.get("dst"), layer.get("dstport"))]
        if me not in self.nodes:
            return
        side = self.nodes.index(me)
        data = bytes(layer.buf[layer.off + layer.hlen:layer.end])
        if self.kind == "udp":
            if data:
                self.chunks.append((side, data))
            return
        seq = (packet.extra or {}).get("tcp.seq")
        if data and seq:
            self._segment(side, seq[0], data)

    def _segment(self, side, seq, data):
        nxt = self._next[side]
        if nxt is None:
            nxt = seq
        if seq > nxt:
            self._early[side].setdefault(seq, data)
            self._next[side] = nxt
            return
        data = data[nxt - seq:]               # what an earlier copy already delivered goes
        if data:
            self.chunks.append((side, data))
            nxt += len(data)
        early = self._early[side]
        while early:
            first = min(early)
            if first > nxt:
                break
            rest = early.pop(first)[nxt - first:]
            if rest:
                self.chunks.append((side, rest))
                nxt += len(rest)
        self._next[side] = nxt

    def finish(self) -> None:
        """What never got its turn (a gap the capture missed), in order."""
        for side in (0, 1):
            early = self._early[side]
            for seq in sorted(early):
                self.chunks.append((side, early.pop(seq)))

    # -- output ---------------------------------------------------------------------------------
    def _node_text(self, i) -> str:
        if i >= len(self.nodes):
            return ":0"                        # no such stream (as tshark)
        addr, port = self.nodes[i]
        return f"[{addr}]:{port}" if ":" in str(addr) else f"{addr}:{port}"

    def text(self) -> str:
        lines = ["", _RULE, f"Follow: {self.kind},{self.mode}", f"Filter: {self.kind}.stream eq {self.stream}",
                 f"Node 0: {self._node_text(0)}", f"Node 1: {self._node_text(1)}"]
        offsets = [0, 0]
        for side, data in self.chunks:
            tab = "\t" if side else ""
            if self.mode == "ascii":
                lines.append(f"{tab}{len(data)}")
                lines.append(_ascii(data, keep_lines=True))
            elif self.mode == "raw":
                lines.append(tab + data.hex())
            else:
                lines += [tab + line for line in _hex_lines(data, offsets[side])]
                offsets[side] += len(data)
        lines.append(_RULE)
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "stream": self.stream,
                "nodes": [self._node_text(i) for i in range(len(self.nodes))],
                "chunks": [{"node": side, "hex": data.hex()} for side, data in self.chunks]}


def _ascii(data: bytes, keep_lines: bool = False) -> str:
    keep = b"\r\n\t" if keep_lines else b""
    return "".join(chr(b) if 32 <= b < 127 or b in keep else "." for b in data)


def _hex_lines(data: bytes, start: int) -> list[str]:
    out = []
    for i in range(0, len(data), 16):
        row = data[i:i + 16]
        left, right = row[:8], row[8:]
        hexes = " ".join(f"{b:02x}" for b in left) + ("  " + " ".join(f"{b:02x}" for b in right) if right else "")
        text = _ascii(left) + (" " + _ascii(right) if right else "")
        if len(row) != 8 and text.endswith(" "):
            text = text[:-1]        # what tshark 4.0 prints: one trailing space goes, except on a line of 8
        out.append(f"{start + i:08X}  {hexes:<48}  {text}")
    return out
