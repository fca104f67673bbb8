"""Hex and ASCII dump of a frame, as ``tshark -x`` prints it."""
from __future__ import annotations

_ASCII = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in range(256))


def hexdump(data: bytes) -> str:
    """``0000  00 11 22 ...  ..ascii..`` lines, 16 octets each, newline-terminated."""
    width = max(4, len(f"{max(len(data) - 1, 0):x}"))
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexes = chunk.hex(" ")
        lines.append(f"{off:0{width}x}  {hexes:<47}   {chunk.decode('latin-1').translate(_ASCII)}")
    return "\n".join(lines) + "\n" if lines else ""
