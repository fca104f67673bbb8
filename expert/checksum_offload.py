"""Checksum-offload awareness: one finding per host instead of one error per packet.

A capture taken on a host whose network card computes TCP/UDP checksums ("checksum
offload") shows every segment that host *sends* with a wrong checksum: the capture
point saw the segment before the card filled the field in.  Wireshark says so in each
packet ("maybe caused by TCP checksum offload?") and does not verify TCP checksums by
default; Zeek drops such packets unless run with ``-C``.

:class:`ChecksumMonitor` keeps, per sending host and transport protocol, how many
checksums were verified and how many were bad, and judges the host after
``probe_packets`` verified segments:

* ``offload``: every one was bad — reported once as a :class:`HostChecksums` record
  (``likely_offload`` True) to ``on_offload``; its later checksums are not verified;
* ``clean``: none was bad — in ``mode="auto"`` (the default) later segments from it are
  not verified either (the cost of a checksum is paid for a few packets per host);
* ``mixed``: some bad, some good — real corruption on the path; every later segment is
  verified and counted.

``mode="all"`` verifies every segment (``HostChecksums`` counts stay exact, history
letters ``c``/``C`` for every bad one); ``mode="off"`` verifies none.

``bad_is_error(host)`` tells a rule whether a bad checksum from that host is worth
reporting: not for an offloading host, nor for one that never sent a good checksum yet.
Per packet, ``tcp.checksum.status`` / ``udp.checksum.status`` stay available from the
decoded layer (``layer.flat()["checksum.status"]``).
"""
from __future__ import annotations

from dataclasses import dataclass

from specs._fields import ipv4_text, ipv6_text

PROBING, OFFLOAD, CLEAN, MIXED = "probing", "offload", "clean", "mixed"


@dataclass
class ChecksumSettings:
    """``mode``: ``auto`` (verify the first ``probe_packets`` segments per host and keep
    verifying only hosts with some bad checksums), ``all`` or ``off``."""
    mode: str = "auto"
    probe_packets: int = 16


class HostChecksums:
    """Verified checksums of one sending host for one protocol (``tcp``/``udp``)."""

    __slots__ = ("addr", "proto", "checked", "bad", "state", "first_bad_frame", "first_frame")

    def __init__(self, addr: bytes, proto: str):
        self.addr, self.proto = addr, proto
        self.checked = self.bad = 0
        self.state = PROBING
        self.first_bad_frame = self.first_frame = None

    @property
    def host(self) -> str:
        return ipv4_text(self.addr) if len(self.addr) == 4 else ipv6_text(self.addr)

    @property
    def good(self) -> int:
        return self.checked - self.bad

    @property
    def likely_offload(self) -> bool:
        return self.state == OFFLOAD

    def __repr__(self):
        return (f"<HostChecksums {self.host} {self.proto} {self.state}: "
                f"{self.bad}/{self.checked} bad>")


class ChecksumMonitor:
    def __init__(self, settings: ChecksumSettings | None = None, on_offload=None):
        self.settings = settings or ChecksumSettings()
        self.on_offload = on_offload
        self.hosts: dict[tuple[bytes, str], HostChecksums] = {}
        self.offloading: list[HostChecksums] = []
        self._all = self.settings.mode == "all"
        self._off = self.settings.mode == "off"

    def check(self, layer, src: bytes, proto: str, frame: int):
        """Verify ``layer``'s checksum if this host still needs it: ``True`` for a bad
        checksum that counts as an error, ``False`` otherwise (good, unverified, not
        checked, or bad from an offloading host)."""
        if self._off:
            return False
        key = (src, proto)
        h = self.hosts.get(key)
        if h is None:
            h = self.hosts[key] = HostChecksums(src, proto)
            h.first_frame = frame
        elif not self._all and (h.state == OFFLOAD or h.state == CLEAN):
            return False
        status = layer.checksum_status()
        if status != "good" and status != "bad":
            return False
        h.checked += 1
        bad = status == "bad"
        if bad:
            h.bad += 1
            if h.first_bad_frame is None:
                h.first_bad_frame = frame
        if h.state == PROBING and h.checked >= self.settings.probe_packets:
            if h.bad == h.checked:
                h.state = OFFLOAD
                self.offloading.append(h)
                if self.on_offload is not None:
                    self.on_offload(h)
            else:
                h.state = CLEAN if h.bad == 0 else MIXED
        elif h.state == CLEAN and bad:
            h.state = MIXED
        return bad and h.bad < h.checked and h.state != OFFLOAD

    def settled(self, addr: bytes, proto: str) -> bool:
        """No more checks needed for this sender (``auto``: judged offloading or clean)."""
        if self._all:
            return False
        if self._off:
            return True
        h = self.hosts.get((addr, proto))
        return h is not None and (h.state == OFFLOAD or h.state == CLEAN)

    def bad_is_error(self, addr: bytes, proto: str = "tcp") -> bool:
        """Whether a bad checksum from this host (raw address) is a real error."""
        h = self.hosts.get((addr, proto))
        return h is not None and h.state != OFFLOAD and h.bad < h.checked

    def likely_offload(self, addr: bytes, proto: str = "tcp") -> bool:
        h = self.hosts.get((addr, proto))
        return h is not None and h.state == OFFLOAD

    def summary(self) -> list[HostChecksums]:
        """Every host with at least one bad checksum, offloading hosts first."""
        rows = [h for h in self.hosts.values() if h.bad]
        rows.sort(key=lambda h: (h.state != OFFLOAD, -h.bad))
        return rows
