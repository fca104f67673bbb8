"""Shared by the differential tests: tshark's field list, and one frame's fields against
tshark's ``-T fields`` row."""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

import pytest

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


@lru_cache(maxsize=1)
def tshark_fields() -> dict[str, tuple[str, str]]:
    """``tshark -G fields``: filter name -> (FT_ type, display base), every field it knows."""
    out = subprocess.run([TSHARK or "tshark", "-G", "fields"], capture_output=True, text=True, check=True).stdout
    fields = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if cols[0] == "F" and len(cols) >= 6:
            fields.setdefault(cols[2], (cols[3], cols[5]))
    return fields


@lru_cache(maxsize=1)
def tshark_types() -> dict[str, str]:
    """Filter name -> FT_ type."""
    return {name: ftype for name, (ftype, _) in tshark_fields().items()}


def tshark_rows(path, fields, column, prefs=()) -> list[list[str]]:
    """tshark's reading of a capture: per packet record ``column`` (``_ws.col.Protocol``,
    ``frame.protocols`` ...), the Info column, then each field's occurrences (separated
    by 0x1f); ``prefs``: ``-o`` options."""
    cmd = [TSHARK, "-r", str(path), *prefs, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\x1f",
           "-e", "frame.encap_type", "-e", column, "-e", "_ws.col.Info"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return [row for row in rows if row[0]]      # pcapng non-packet records have no encapsulation


def compare_fields(pkt, fields, texts, *, norm_tshark, norm_ours, explain, stats, known, where,
                   drop_empty=False) -> list[str]:
    """Compare every field of a decoded packet with tshark's texts (occurrences separated by
    0x1f).  Explained differences are counted in ``known`` by reason; the unexplained ones
    come back as messages.  ``drop_empty`` ignores our values that normalise to ""."""
    problems = []
    for name, text in zip(fields, texts):
        theirs = [norm_tshark(name, t) for t in text.split("\x1f")] if text else []
        ours = [norm_ours(name, x) for x in pkt.values(name)]
        if drop_empty:
            ours = [v for v in ours if v != ""]
        if not theirs and not ours:
            continue
        stats["values"] += 1
        if theirs == ours:
            continue
        reason = explain(name, theirs, ours, pkt)
        if reason:
            known[reason] += 1
        else:
            problems.append(f"{where} {name}: tshark {theirs} ours {ours}")
    return problems


def compare_info(theirs: str, layer, *, explain_info, stats, known, where) -> list[str]:
    """Compare tshark's Info column with the layer's summary."""
    stats["info"] += 1
    ours = layer.summary()
    if theirs == ours:
        return []
    reason = explain_info(theirs, layer)
    if reason:
        known[reason] += 1
        return []
    return [f"{where} Info: tshark {theirs!r} ours {ours!r}"]
