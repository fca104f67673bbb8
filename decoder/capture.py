"""Streaming reader and writer for pcap and pcapng capture files (stdlib only).

Formats read:

* classic pcap (draft-ietf-opsawg-pcap): microsecond and nanosecond magic in
  both byte orders, plus Kuznetsov's "modified pcap" (magic a1b2cd34, 24-byte
  record headers);
* pcapng (draft-ietf-opsawg-pcapng): Section Header Block (4.1), Interface
  Description Block (4.2, options if_tsresol / if_tsoffset), Enhanced Packet
  Block (4.3), Simple Packet Block (4.4) and the obsolete Packet Block
  (Appendix A).  NRB (4.5), ISB (4.6), DSB (4.7), CB (4.8) and unknown blocks
  are skipped by their length (3.1);
* either of the above gzip-compressed, detected by the 1f 8b magic.

Files are read record by record; memory does not grow with the file size.
Every problem is reported as a one-line ``CaptureError`` naming the file;
frames before a damaged or cut record are always yielded first.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from dataclasses import dataclass
from typing import Iterable, Iterator

__all__ = ["CaptureError", "Frame", "CaptureReader", "open_capture", "write_pcap", "PcapWriter"]

MAX_CAPLEN = 256 * 1024 * 1024        # larger records are treated as corrupt
_MAX_BLOCK = MAX_CAPLEN + 64 * 1024   # pcapng block: packet + options
_READ_BUFFER = 1 << 16

# pcap magics as they appear in the first 4 bytes: bytes -> (endian, ns?, modified?)
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False, False), b"\xa1\xb2\xc3\xd4": (">", False, False),
    b"\x4d\x3c\xb2\xa1": ("<", True, False), b"\xa1\xb2\x3c\x4d": (">", True, False),
    b"\x34\xcd\xb2\xa1": ("<", False, True), b"\xa1\xb2\xcd\x34": (">", False, True),
}
_SHB = b"\x0a\x0d\x0d\x0a"            # pcapng 4.1: same value in both byte orders
_SHB_TYPE = 0x0A0D0D0A
_OTHER_MAGICS = {b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"\x28\xb5\x2f\xfd": "zstd",
                 b"\x04\x22\x4d\x18": "lz4", b"PK\x03\x04": "zip"}


class CaptureError(Exception):
    """One-line, user-facing message (no traceback needed)."""


@dataclass(slots=True)
class Frame:
    data: bytes                 # captured bytes
    linktype: int               # LINKTYPE_* number
    ts_ns: int                  # absolute timestamp, integer ns since the epoch
    orig_len: int               # original length on the wire
    interface: int = 0          # pcapng interface id (0 for pcap)
    comment: str | None = None  # first opt_comment of the packet block


class _Reader(io.RawIOBase):
    """Raw-stream view of any object with ``read(n)``, so io.BufferedReader can
    wrap pipes and duck-typed streams that return short reads."""

    def __init__(self, f):
        self._f = f

    def readable(self):
        return True

    def readinto(self, b):
        data = self._f.read(len(b)) or b""
        b[:len(data)] = data
        return len(data)


class _Gunzip(io.RawIOBase):
    """Streaming gzip decoder (RFC 1952 via zlib; multi-member, NUL padding).

    Unlike gzip.GzipFile it hands out every decompressed byte before it reports
    a truncated (EOFError) or corrupt (zlib.error) stream, so all complete
    records in front of the damage are still yielded.  ``head`` holds the bytes
    already consumed while sniffing the magic (the stream may be a pipe)."""

    def __init__(self, f, head: bytes):
        self._f, self._buf, self._cut = f, head, False
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def readable(self):
        return True

    def readinto(self, b):
        z = self._z
        while True:
            if self._cut:
                raise EOFError("gzip stream cut short")
            if not self._buf:
                self._buf = self._f.read(_READ_BUFFER)
                if not self._buf:
                    if z.eof:
                        return 0
                    self._cut, out = True, z.flush()
                    if not out:
                        continue
                    b[:len(out)] = out
                    return len(out)
            if z.eof:                      # member done: padding or another member
                self._buf = self._buf.lstrip(b"\0")
                if not self._buf:
                    continue
                z = self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = z.decompress(self._buf, len(b))
            self._buf = z.unused_data if z.eof else z.unconsumed_tail
            if out:
                b[:len(out)] = out
                return len(out)


def _hex(b: bytes) -> str:
    return " ".join(f"{x:02x}" for x in b)


def open_capture(source) -> "CaptureReader":
    """Open a pcap / pcapng (optionally gzipped) capture for streaming.

    ``source`` is a path (str / os.PathLike), ``"-"`` for stdin, or a binary
    file object.  The file header is read now, so format errors surface here;
    record errors surface while iterating.
    """
    return CaptureReader(source)


class CaptureReader:
    """Iterable of Frame; a context manager that closes files it opened.

    ``linktypes`` lists the link type per interface of the current pcapng
    section (it is cleared in place when a new SHB starts a section);
    ``section_comments`` collects the SHB opt_comments of all sections so far.
    Record numbers in error messages count pcap records or pcapng blocks
    from 1 (the pcap file header is not a record; the first SHB is record 1).
    """

    def __init__(self, source):
        self.format = ""
        self.linktypes: list[int] = []
        self.section_comments: list[str] = []
        self._owned = None        # file object opened here, closed by close()
        self._gz = None
        self._frames = None
        self._ifaces: list[tuple] = []   # pcapng: (linktype, mul, div, offset_ns, snaplen)
        if isinstance(source, str) and source == "-":
            self.name, raw = "<stdin>", getattr(sys.stdin, "buffer", None)
            if raw is None:
                raise CaptureError("<stdin>: standard input is not available")
        elif isinstance(source, (str, bytes, os.PathLike)):
            self.name = os.fsdecode(source)
            try:
                raw = self._owned = open(source, "rb", buffering=_READ_BUFFER)
            except OSError as e:
                raise CaptureError(f"{self.name}: {e.strerror or e}") from None
        else:
            raw = getattr(source, "buffer", source) if isinstance(source, io.TextIOBase) else source
            name = getattr(source, "name", None)
            self.name = name if isinstance(name, str) else "<stream>"
        if not isinstance(raw, io.BufferedIOBase):
            # raw / duck-typed streams may return short reads: buffer them
            raw = io.BufferedReader(_Reader(raw), _READ_BUFFER)
        self._f = raw
        try:
            self._open()
        except (OSError, EOFError, zlib.error) as e:
            self.close()
            raise self._io_error(e, 0) from None
        except BaseException:
            self.close()
            raise
        self._frames = self._pcap_frames() if self.format == "pcap" else self._pcapng_frames()

    # -- opening --------------------------------------------------------------

    def _open(self) -> None:
        magic = self._f.read(4)
        if magic[:2] == b"\x1f\x8b":
            self._gz = _Gunzip(self._f, magic)
            self._f = io.BufferedReader(self._gz, _READ_BUFFER)
            magic = self._f.read(4)
        gz = " (gzip-compressed)" if self._gz else ""
        if not magic:
            raise CaptureError(f"{self.name}: empty file{gz}")
        if magic in _PCAP_MAGICS:
            self._open_pcap(magic)
        elif magic == _SHB:
            self.format = "pcapng"
            self._read_shb(1, magic)
        elif len(magic) < 4:
            raise CaptureError(f"{self.name}: truncated file header{gz} ({len(magic)} bytes)")
        else:
            hint = next((f", looks {k}-compressed" for m, k in _OTHER_MAGICS.items()
                         if magic.startswith(m)), "")
            raise CaptureError(f"{self.name}: not a pcap or pcapng capture{gz} "
                               f"(starts with {_hex(magic)}{hint})")

    def _open_pcap(self, magic: bytes) -> None:
        """draft-ietf-opsawg-pcap 4: 24-byte file header; 5: packet records."""
        endian, ns, modified = _PCAP_MAGICS[magic]
        hdr = self._f.read(20)
        if len(hdr) != 20:
            raise CaptureError(f"{self.name}: truncated pcap file header ({4 + len(hdr)} of 24 bytes)")
        _maj, _min, _zone, _sigfigs, self.snaplen, network = struct.unpack(endian + "HHiIII", hdr)
        self.format = "pcap"
        # LinkType is the lower 16 bits; the upper bits carry FCS length/flags.
        self.linktypes.append(network & 0xFFFF)
        self._rec = struct.Struct(endian + ("IIII8x" if modified else "IIII"))
        self._frac_mul = 1 if ns else 1000

    def _read_shb(self, block_no: int, head: bytes) -> None:
        """pcapng 4.1: ``head`` is the part of the SHB already read.  Sets the
        section byte order from the byte-order magic and resets interfaces."""
        head += self._f.read(12 - len(head))
        if len(head) < 12:
            if block_no == 1:
                raise CaptureError(f"{self.name}: truncated pcapng section header ({len(head)} bytes)")
            raise CaptureError(f"{self.name}: capture cut short in record {block_no} "
                               f"(section header has {len(head)} of 12 bytes)")
        bom = head[8:12]
        if bom == b"\x4d\x3c\x2b\x1a":
            e = "<"
        elif bom == b"\x1a\x2b\x3c\x4d":
            e = ">"
        else:
            raise self._corrupt(block_no, f"bad pcapng byte-order magic {_hex(bom)}")
        (blen,) = struct.unpack_from(e + "I", head, 4)
        if blen < 28 or blen & 3 or blen > _MAX_BLOCK:
            raise self._corrupt(block_no, f"block length {blen}")
        body = self._f.read(blen - 12)
        if len(body) != blen - 12:
            raise self._cut(block_no, blen, 12 + len(body))
        if body[-4:] != head[4:8]:
            raise self._corrupt(block_no, "block trailer length differs from header")
        major, minor = struct.unpack_from(e + "HH", body)
        if major != 1:
            raise CaptureError(f"{self.name}: unsupported pcapng version {major}.{minor} "
                               f"in record {block_no}")
        self._e = e
        self._u32 = struct.Struct(e + "I")
        self._hdr = struct.Struct(e + "II")
        self._epb = struct.Struct(e + "IIIII")
        self._pb = struct.Struct(e + "HHIIII")
        self._opt = struct.Struct(e + "HH")
        self._ifaces.clear()
        self.linktypes.clear()
        for code, val in self._options(body, 12, blen - 16):
            if code == 1:
                self.section_comments.append(_text(val))

    # -- helpers ---------------------------------------------------------------

    def _cut(self, rec: int, want: int, have: int) -> CaptureError:
        return CaptureError(f"{self.name}: capture cut short in record {rec} "
                            f"(header says {want} bytes, {have} present)")

    def _corrupt(self, rec: int, why: str) -> CaptureError:
        return CaptureError(f"{self.name}: corrupt record {rec} ({why})")

    def _io_error(self, e: BaseException, n: int) -> CaptureError:
        if isinstance(e, EOFError):
            return CaptureError(f"{self.name}: gzip stream cut short after {n} records")
        what = "corrupt gzip stream" if self._gz else "read error"
        msg = (e.strerror if isinstance(e, OSError) else None) or str(e) or type(e).__name__
        return CaptureError(f"{self.name}: {what} after {n} records ({msg})")

    def _options(self, buf: bytes, off: int, end: int):
        """pcapng 3.5: yield (code, value) until opt_endofopt or the end."""
        unpack_from = self._opt.unpack_from
        while off + 4 <= end:
            code, olen = unpack_from(buf, off)
            if code == 0 or off + 4 + olen > end:
                return
            yield code, buf[off + 4:off + 4 + olen]
            off += 4 + ((olen + 3) & ~3)

    def _comment(self, buf: bytes, off: int, end: int) -> str | None:
        for code, val in self._options(buf, off, end):
            if code == 1:
                return _text(val)
        return None

    def _add_interface(self, body: bytes, blen: int) -> None:
        """pcapng 4.2: IDB; if_tsresol (9) default 10^-6, MSB set = 2^-n;
        if_tsoffset (14) seconds added to every timestamp."""
        linktype, _res, snaplen = struct.unpack_from(self._e + "HHI", body)
        resol, offset = 6, 0
        for code, val in self._options(body, 8, blen - 12):
            if code == 9 and len(val) >= 1:
                resol = val[0]
            elif code == 14 and len(val) >= 8:
                (offset,) = struct.unpack(self._e + "q", val[:8])
        if resol & 0x80:
            mul, div = 10**9, 1 << (resol & 0x7F)
        elif resol <= 9:
            mul, div = 10 ** (9 - resol), 1
        else:
            mul, div = 1, 10 ** (resol - 9)
        self._ifaces.append((linktype, mul, div, offset * 10**9, snaplen))
        self.linktypes.append(linktype)

    # -- iteration ---------------------------------------------------------------

    def __iter__(self) -> Iterator[Frame]:
        return self._frames

    def _pcap_frames(self) -> Iterator[Frame]:
        read, unpack, hlen = self._f.read, self._rec.unpack, self._rec.size
        lt, mul, n, _Frame = self.linktypes[0], self._frac_mul, 0, Frame
        try:
            while True:
                hdr = read(hlen)
                if len(hdr) != hlen:
                    if not hdr:
                        return
                    raise CaptureError(f"{self.name}: capture cut short in record {n + 1} "
                                       f"(record header has {len(hdr)} of {hlen} bytes)")
                sec, frac, caplen, orig = unpack(hdr)
                if caplen > MAX_CAPLEN:
                    raise self._corrupt(n + 1, f"captured length {caplen} bytes")
                data = read(caplen)
                n += 1
                if len(data) != caplen:
                    raise self._cut(n, caplen, len(data))
                yield _Frame(data, lt, sec * 1_000_000_000 + frac * mul, orig)
        except (OSError, EOFError, zlib.error) as e:
            raise self._io_error(e, n) from None

    def _pcapng_frames(self) -> Iterator[Frame]:
        read, n, _Frame = self._f.read, 1, Frame
        while True:                                # once per section (4.1)
            hdr_unpack, epb_unpack, pb_unpack = self._hdr.unpack, self._epb.unpack_from, self._pb.unpack_from
            ifaces = self._ifaces
            try:
                while True:
                    n += 1
                    hdr = read(8)
                    if len(hdr) != 8:
                        if not hdr:
                            return
                        raise CaptureError(f"{self.name}: capture cut short in record {n} "
                                           f"(block header has {len(hdr)} of 8 bytes)")
                    btype, blen = hdr_unpack(hdr)
                    if btype == _SHB_TYPE:
                        break                      # new section: byte order may change
                    if blen < 12 or blen & 3 or blen > _MAX_BLOCK:
                        raise self._corrupt(n, f"block length {blen}")
                    body = read(blen - 8)
                    if len(body) != blen - 8:
                        raise self._cut(n, blen, 8 + len(body))
                    if body[-4:] != hdr[4:]:
                        raise self._corrupt(n, "block trailer length differs from header")
                    if btype == 6 or btype == 2:   # EPB (4.3) / obsolete PB (Appendix A)
                        if blen < 32:
                            raise self._corrupt(n, f"block length {blen}")
                        if btype == 6:
                            ifid, hi, lo, caplen, orig = epb_unpack(body)
                        else:
                            ifid, _drops, hi, lo, caplen, orig = pb_unpack(body)
                        if caplen > blen - 32:
                            raise self._corrupt(n, f"captured length {caplen} exceeds block")
                        try:
                            lt, mul, div, off, _snap = ifaces[ifid]
                        except IndexError:
                            raise self._corrupt(n, f"packet for undefined interface {ifid}") from None
                        opt = 20 + ((caplen + 3) & ~3)
                        yield _Frame(body[20:20 + caplen], lt, ((hi << 32 | lo) * mul) // div + off,
                                     orig, ifid,
                                     self._comment(body, opt, blen - 12) if opt < blen - 12 else None)
                    elif btype == 1:               # IDB, 4.2
                        if blen < 20:
                            raise self._corrupt(n, f"block length {blen}")
                        self._add_interface(body, blen)
                    elif btype == 3:               # SPB, 4.4: no timestamp, interface 0
                        if blen < 16:
                            raise self._corrupt(n, f"block length {blen}")
                        if not ifaces:
                            raise self._corrupt(n, "simple packet before any interface")
                        (orig,) = self._u32.unpack_from(body)
                        lt, snap = ifaces[0][0], ifaces[0][4]
                        yield _Frame(body[4:4 + min(orig, blen - 16, snap or orig)], lt, 0, orig)
                    # anything else (NRB 4.5, ISB 4.6, DSB 4.7, CB 4.8, unknown) is skipped
                self._read_shb(n, hdr)
            except (OSError, EOFError, zlib.error) as e:
                raise self._io_error(e, n - 1) from None

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        frames = getattr(self, "_frames", None)
        if frames is not None:
            frames.close()
        if self._gz is not None:
            self._gz.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> "CaptureReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _text(val: bytes) -> str:
    return val.decode("utf-8", errors="replace").rstrip("\x00")


class PcapWriter:
    """Write classic little-endian pcap (draft-ietf-opsawg-pcap 4 and 5).

    ``fileobj`` is a binary file object (left open by ``close``) or a path
    (opened here and closed by ``close``).  Frames longer than ``snaplen`` are
    truncated; a frame whose linktype differs from the file's raises
    CaptureError because classic pcap holds a single link type.
    """

    def __init__(self, fileobj, linktype: int, nanosecond: bool = False, snaplen: int = 262144):
        self._owned = None
        if isinstance(fileobj, (str, bytes, os.PathLike)):
            name = os.fsdecode(fileobj)
            try:
                fileobj = self._owned = open(fileobj, "wb")
            except OSError as e:
                raise CaptureError(f"{name}: {e.strerror or e}") from None
        self._f, self.linktype, self.snaplen = fileobj, linktype, snaplen
        self._div = 1 if nanosecond else 1000
        self._rec = struct.Struct("<IIII")
        self.count = 0
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
        fileobj.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, frame: Frame) -> None:
        if frame.linktype != self.linktype:
            raise CaptureError(f"cannot write a linktype {frame.linktype} frame into a "
                               f"linktype {self.linktype} pcap")
        data = frame.data
        if len(data) > self.snaplen:
            data = data[:self.snaplen]
        sec, frac = divmod(frame.ts_ns, 1_000_000_000)
        if not 0 <= sec <= 0xFFFFFFFF:
            raise CaptureError(f"timestamp {frame.ts_ns} ns cannot be stored in pcap")
        orig = min(max(frame.orig_len, 0), 0xFFFFFFFF)
        self._f.write(self._rec.pack(sec, frac // self._div, len(data), orig))
        self._f.write(data)
        self.count += 1

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
        else:
            self._f.flush()

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_pcap(dest, frames: Iterable[Frame], linktype: int | None = None,
               nanosecond: bool = False, snaplen: int = 262144) -> int:
    """Write ``frames`` to ``dest`` (path, ``"-"`` for stdout, or binary file
    object) as little-endian pcap; linktype defaults to the first frame's
    (Ethernet for an empty input).  Returns the number of frames written."""
    it = iter(frames)
    first = next(it, None)
    if linktype is None:
        linktype = first.linktype if first is not None else 1
    if isinstance(dest, str) and dest == "-":
        dest = sys.stdout.buffer
    with PcapWriter(dest, linktype, nanosecond, snaplen) as w:
        if first is not None:
            w.write(first)
            write = w.write
            for frame in it:
                write(frame)
        return w.count
