"""docs/api.md is generated from the docstrings by docs/gen_api.py and kept up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def _gen_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eokit_gen_api", REPO / "docs" / "gen_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_api_reference_is_up_to_date() -> None:
    gen = _gen_api()
    committed = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    assert committed == gen.render(), "docs/api.md is out of date: run `python docs/gen_api.py`"


def test_reference_lists_public_names_with_signatures_and_skips_private_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "src" / "eokit"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Top package."""\n\nfrom eokit.sub.mod import Thing, run\n\n'
                                     '__all__ = ["Thing", "run"]\n')
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "mod.py").write_text(
        '"""A module.\n\nMore words."""\n\nfrom dataclasses import dataclass, field\n\n'
        'LIMIT: int = 3\n\n\n'
        'def run(x: int, *, fast: bool = False) -> str:\n    """Run it.\n\n    Details."""\n    return ""\n\n\n'
        'def _hidden() -> None:\n    """Private."""\n\n\n'
        '@dataclass\nclass Thing:\n    """A thing\n    on two lines."""\n\n    name: str\n    size: int = 1\n'
        '    _cache: dict = field(default_factory=dict)\n\n'
        '    def area(self, scale: float) -> float:\n        """Its area."""\n        return 0.0\n\n'
        '    def _secret(self) -> None:\n        pass\n'
    )
    (pkg / "_private.py").write_text('"""Internal."""\n\ndef visible_but_private_module() -> None:\n    pass\n')
    gen = _gen_api()
    monkeypatch.setattr(gen, "PACKAGE", pkg)
    text = gen.render()
    assert "- [eokit.sub.mod](#eokitsubmod): A module." in text
    assert "- `def run(x: int, *, fast: bool=False) -> str`: Run it." in text
    assert "- `class Thing(name: str, size: int = 1)`: A thing on two lines." in text
    assert "  - `area(scale: float) -> float`: Its area." in text
    assert "- `run`: from [eokit.sub.mod](#eokitsubmod): Run it." in text
    assert "- `LIMIT: int`" in text
    for hidden in ("_hidden", "_secret", "_cache", "_private", "visible_but_private_module"):
        assert hidden not in text, hidden
    assert gen.main(["--check"]) == 1  # the real docs/api.md is not this package's page
