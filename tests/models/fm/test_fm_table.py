"""docs/models.md's foundation-model table is generated from the registry and kept up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_fm_models_table_is_current() -> None:
    spec = importlib.util.spec_from_file_location("eokit_gen_models", DOCS / "gen_models.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = (DOCS / "models.md").read_text()
    assert gen.updated(text) == text, "docs/models.md is out of date: run `python docs/gen_models.py`"


def test_readme_counts_match_the_registry() -> None:
    import re

    table = (DOCS / "models.md").read_text()
    entries, families = re.search(r"(\d+) weights entries in (\d+) families", table).groups()  # type: ignore[union-attr]
    readme = (DOCS.parent / "README.md").read_text()
    assert f"{entries} published EO foundation-model weights of {families} families" in readme, (
        "README.md's count of weights and families differs from docs/models.md's table")
