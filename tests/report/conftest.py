"""A real DuckDB results store of a realistic grid, shared by the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from results_data import grid

from eokit.bench.store import ResultsStore


@pytest.fixture(scope="session")
def bench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    store = ResultsStore(root)
    store.add_jobs(*grid())
    store.export()
    return root


@pytest.fixture(scope="session")
def cli_report(bench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`eokit report FOLDER` (a copy of the DuckDB store, with its outcomes) run once (default output beside
    the results): (html path, stdout)."""
    import contextlib
    import io

    from eokit.cli.main import main

    folder = tmp_path_factory.mktemp("cli")
    (folder / "results.duckdb").write_bytes((bench_dir / "results.duckdb").read_bytes())
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["report", str(folder), "--n-boot", "200"]) == 0
    return folder / "report.html", buf.getvalue()
