"""``eokit bench``: run a benchmark suite -> results store, leaderboard, report.html."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from eokit.bench.runner import RunSummary


@click.command("bench")
@click.option("--suite", default="quick", show_default=True,
              help="Built-in suite ('quick', 'full') or a suite YAML file.")
@click.option("--out", "out", default="outputs/bench", show_default=True, type=click.Path(file_okay=False),
              help="Output folder: results.duckdb, results.parquet/.csv, report.html.")
@click.option("--scheduler", default=None, metavar="ADDR",
              help="Address of an existing Dask scheduler (tcp://HOST:PORT); default: a loopback LocalCluster.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0),
              help="LocalCluster worker processes (one thread each); 0 runs in this process.")
@click.option("--no-report", is_flag=True, help="Skip writing report.html.")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def command(suite: str, out: str, scheduler: str | None, workers: int, no_report: bool, verbose: bool) -> None:
    """Run a benchmark suite: models x datasets x protocols x fractions x seeds (x corruptions)."""
    from eokit.bench.runner import run_suite

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]bench[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=False) as bar:
        task = bar.add_task("planning (loading data)", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        summary = run_suite(suite, out, scheduler=scheduler, workers=workers, progress=progress)
    report = _report(summary, write=not no_report, console=Console())
    for model, dataset, why in summary.skipped:
        why = escape(why)
        console.print(f"[dim]skipped {model} on {dataset}: {why}[/]" if model != "*"
                      else f"[yellow]skipped dataset {dataset}: {why}[/]")
    console.print(
        f"{summary.total_jobs} jobs: {summary.done_before} already stored, {summary.computed} computed; "
        f"{summary.rows} rows in {summary.out / 'results.duckdb'}"
    )
    if report:
        console.print(f"report: {report}")
    if summary.failed:
        for label, err in summary.failed[:20]:
            console.print(f"[red]failed[/] {escape(label)}: {escape(err)}")
        raise click.ClickException(f"{len(summary.failed)} benchmark jobs failed (rerun to retry only those)")


def _report(summary: RunSummary, *, write: bool, console: Console) -> Path | None:
    """Leaderboard in the terminal and OUT/report.html, from every row in the store."""
    from eokit.bench.runner import report_context
    from eokit.bench.store import ResultsStore
    from eokit.report import print_leaderboard, summarise, write_report

    df = ResultsStore(summary.out / "results.duckdb").frame()
    if df.empty or summary.plan is None:
        return None
    refs, groups = report_context(df, summary.plan, summary.out)
    s = summarise(df, references=refs, groups=groups)
    print_leaderboard(s, console=console)
    if not write:
        return None
    suite = summary.plan.suite
    meta = {"suite": suite.name, "description": suite.description, "config_hash": suite.config_hash()}
    return write_report(df, summary.out / "report.html", meta=meta, summary=s)
