"""Small helpers shared by the test modules."""
from __future__ import annotations

from decoder import cli


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
