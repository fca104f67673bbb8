"""Sphinx configuration for the protospec documentation.

The decode reference (``reference/``) is generated from the specs by the
``decoder.reference`` extension at the start of every build; it is git-ignored.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "protospec"
author = "the protospec authors"
copyright = "the protospec authors"

extensions = ["decoder.reference", "decoder.rulecat"]
protospec_reference_dir = "reference"   # generated, git-ignored
protospec_spec_dirs = []                # more spec directories (``protospec docs --specs DIR``)

html_theme = "furo"
html_title = "protospec"
exclude_patterns = ["_build"]
highlight_language = "none"
