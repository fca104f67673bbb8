"""Small helpers shared by the test modules."""
from __future__ import annotations

from pathlib import Path

from decoder import cli

#: the public real-world captures (../shared/captures, see its INDEX.md), when present
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "captures"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")


def corpus_captures() -> list[Path]:
    """Every capture file of the corpus, sorted (none when it is absent)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def run(argv, capsys):
    """``protospec ARGV`` in this process: ``(exit status, stdout, stderr)``."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def plain(value):
    """A parsed value without construct's private ``_`` keys, as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
