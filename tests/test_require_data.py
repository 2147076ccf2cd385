"""EOKIT_REQUIRE_DATA=1 turns the "no data mirror" skips into failures that name the missing path.

An inner pytest session runs with this suite's conftest and ``EOKIT_DATA`` pointing
at an empty folder, with and without the switch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

INNER = '''
from eokit.env import data_root


def test_reads_mirror(mirror):
    assert (mirror / "MANIFEST.md").exists()


def test_provider_needs_mirror(missing_mirror):
    if not (data_root() / "MANIFEST.md").exists():
        missing_mirror("a dataset's test data")
'''


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, root: Path,
         require: bool) -> pytest.RunResult:
    monkeypatch.setenv("EOKIT_DATA", str(root))
    if require:
        monkeypatch.setenv("EOKIT_REQUIRE_DATA", "1")
    else:
        monkeypatch.delenv("EOKIT_REQUIRE_DATA", raising=False)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_inner=INNER)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rsf")


def test_missing_mirror_skips_by_default(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    result = _run(pytester, monkeypatch, tmp_path / "empty", require=False)
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([f"*{tmp_path / 'empty' / 'MANIFEST.md'} is missing*"])


def test_missing_mirror_fails_with_require_data(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    result = _run(pytester, monkeypatch, tmp_path / "empty", require=True)
    result.assert_outcomes(failed=1, errors=1)  # the `mirror` fixture errors, the direct call fails
    result.stdout.fnmatch_lines([f"*{tmp_path / 'empty' / 'MANIFEST.md'} is missing*EOKIT_REQUIRE_DATA=1*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_present_mirror_passes_with_require_data(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "MANIFEST.md").write_text("# a stand-in mirror\n")
    result = _run(pytester, monkeypatch, root, require=True)
    result.assert_outcomes(passed=2)
