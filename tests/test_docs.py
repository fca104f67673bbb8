"""The Sphinx documentation and the decode reference generated from the specs."""
from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from decoder import reference
from decoder.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
HAVE_SPHINX = importlib.util.find_spec("sphinx") is not None
needs_sphinx = pytest.mark.skipif(not HAVE_SPHINX, reason="sphinx is not installed (pip install '.[docs]')")

DEMO_SPEC = '''\
"""A made-up protocol for the docs test (RFC 9999 §1)."""
from enum import IntEnum

from construct import Bytes, Int8ub, Int16ub, Struct, this

from decoder.protocol import Bind, Protocol
from specs._fields import Bit, BitFields, Named


class Kind(IntEnum):
    HELLO = 1
    BYE = 2


LAYOUT = Struct(
    "kind" / Named(Int8ub, Kind) * "Message kind (RFC 9999 §1)",
    "bits" / BitFields(Int8ub, Bit("flags.urgent", 0x80, "Urgent (RFC 9999 §1)"),
                       Bit("hops", 0x7F, "Hops left (RFC 9999 §1)")),
    "len" / Int16ub{len_doc},
    "data" / Bytes(this.len) * "Data (RFC 9999 §2)",
)

PROTOCOL = Protocol(name="{name}", title="Docs demo", ref="RFC 9999 §1", layout=LAYOUT,
                    binds=[Bind("udp.port", 9999)])
'''


def write_spec(directory: Path, name: str, documented=True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(DEMO_SPEC.format(name=name, len_doc=' * "Length of the data (RFC 9999 §1)"' if documented else ""))
    return path


def full_names(p):
    """Every filter name of a protocol's fields (a field with a Wireshark alias has both)."""
    aliases = getattr(p, "aliases", {})
    return [f"{p.namespace}.{rel}" for rel in p.field_names] + [aliases[rel] for rel in p.field_names if rel in aliases]


@pytest.fixture(scope="module")
def registry():
    return Registry.default()


@pytest.fixture(scope="module")
def built(tmp_path_factory, registry):
    """The project's docs, built as the README says, with warnings as errors (after the
    registry is loaded: a spec added meanwhile only adds pages)."""
    if not HAVE_SPHINX:
        pytest.skip("sphinx is not installed (pip install '.[docs]')")
    out = tmp_path_factory.mktemp("html")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(out / ".doctrees"),
                           str(ROOT / "docs"), str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_every_protocol_has_a_page(built, registry):
    for p in registry.protocols.values():
        page = built / "reference" / "protocols" / f"{reference._doc_name(p)}.html"
        assert page.is_file(), f"no reference page for {p.name}"
        text = page.read_text(encoding="utf-8")
        assert html.escape(p.title, quote=False) in text
        if reference.header_diagram(p):                     # not for a zero-octet read-ahead layer
            assert "0 1 2 3 4 5 6 7 8 9 0 1" in text
        for name in full_names(p):
            assert f">{html.escape(name, quote=False)}<" in text, f"{name} missing from {p.name}'s page"


def test_every_field_is_in_the_field_index(built, registry):
    text = (built / "reference" / "fields.html").read_text(encoding="utf-8")
    missing = [n for p in registry.protocols.values() for n in full_names(p)
               if f">{html.escape(n, quote=False)}<" not in text]
    assert not missing, f"not in the field index: {missing}"
    listed = re.findall(r'<span class="std std-ref">([^<]+)</span>', text)
    assert listed == sorted(listed)                         # sorted, each name once
    assert len(listed) == len(set(listed))


def test_field_index_links_land_on_the_field(built):
    text = (built / "reference" / "fields.html").read_text(encoding="utf-8")
    pages = {}
    for page, anchor in re.findall(r'href="(protocols/[^"#]+)#([^"]+)"', text):
        pages.setdefault(page, (built / "reference" / page).read_text(encoding="utf-8"))
        assert f'id="{anchor}"' in pages[page], f"{page}#{anchor}"


def test_hand_written_pages_are_built(built):
    for page in ("index", "quickstart", "capture", "adding-a-protocol", "fastpath", "reference/index"):
        assert (built / f"{page}.html").is_file()
    udp = (built / "adding-a-protocol.html").read_text(encoding="utf-8")
    assert "zero_means_absent" in udp                     # the real specs/udp.py is included


def test_ipv4_diagram_reads_like_rfc_791(registry):
    lines = reference.header_diagram(registry.protocols["ip"]).splitlines()
    assert lines[0].split() == ["0", "1", "2", "3"]
    assert lines[1].split() == [str(b % 10) for b in range(32)]
    assert lines[2] == "+-" * 32 + "+"

    def row(n):
        cells = lines[3 + 2 * n].split("|")[1:-1]
        return [c.strip() for c in cells], [(len(c) + 1) // 2 for c in cells]

    # RFC 791 §3.1: Version | IHL | Type of Service | Total Length, and so on
    assert row(0) == (["version", "hdr_len", "dsfield", "len"], [4, 4, 8, 16])
    assert row(1) == (["id", "flags", "frag_offset"], [16, 3, 13])
    assert row(2) == (["ttl", "proto", "checksum"], [8, 8, 16])
    assert row(3) == (["src"], [32])
    assert row(4) == (["dst"], [32])
    assert row(5) == (["Options (variable)"], [32])
    assert all(line == "+-" * 32 + "+" for line in lines[2:15:2])


def test_rfc_citations_become_links():
    text = reference.rst_text("Time to live (RFC 791 §3.1); see RFC 768 and RFC 7042 Appendix B")
    assert "<https://www.rfc-editor.org/rfc/rfc791#section-3.1>`__" in text
    assert "<https://www.rfc-editor.org/rfc/rfc768>`__" in text
    assert "<https://www.rfc-editor.org/rfc/rfc7042#appendix-B>`__" in text
    assert reference.rst_text("hdr_len *x*") == r"hdr\_len \*x\*"


def test_a_field_without_a_description_names_the_file_and_field(tmp_path):
    path = write_spec(tmp_path / "specs", "docs_undocumented", documented=False)
    reg = Registry.default([tmp_path / "specs"])
    with pytest.raises(reference.DocsError) as err:
        reference.generate(reg)
    assert str(path) in str(err.value) and "docs_undocumented.len" in str(err.value)


@needs_sphinx
def test_reference_for_a_users_spec_directory(tmp_path):
    specs = tmp_path / "specs"
    write_spec(specs, "docs_demo")
    out = tmp_path / "html"
    script = textwrap.dedent(f"""
        from decoder.reference import build_docs
        print(build_docs({str(out)!r}, [{str(specs)!r}], reference_only=True))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (out / "protocols" / "docs_demo.html").read_text(encoding="utf-8")
    assert "udp.port" in page and "9999" in page
    assert "https://www.rfc-editor.org/rfc/rfc9999#section-1" in page
    assert "HELLO = 1" in page and "mask 0x80" in page
    fields = (out / "fields.html").read_text(encoding="utf-8")
    for name in ("docs_demo.kind", "docs_demo.flags.urgent", "docs_demo.hops", "docs_demo.len", "docs_demo.data", "ip.src"):
        assert f">{name}<" in fields
