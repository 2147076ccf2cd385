"""``eokit bench``: run a benchmark suite -> results store, leaderboard, report.html."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from eokit.cli.console import progress_bar
from eokit.cli.options import (
    configure_logging,
    out_option,
    scheduler_option,
    suite_option,
    verbosity_option,
    workers_option,
)

if TYPE_CHECKING:
    from eokit.bench.runner import RunSummary


@click.command("bench")
@suite_option(default="quick")
@out_option("dir", default="outputs/bench")
@scheduler_option()
@workers_option(default=2)
@click.option("--no-report", is_flag=True, help="Skip writing report.html.")
@verbosity_option()
def command(suite: str, out: str, scheduler: str | None, workers: int, no_report: bool, verbosity: int) -> None:
    """Run a benchmark suite: models x datasets x protocols x fractions x seeds (x corruptions).

    Writes into the folder OUT: results.duckdb, results.parquet/.csv and report.html.
    """
    if workers > 0 and not scheduler:
        from eokit.env import BENCH_PRELOAD, prepare_workers

        prepare_workers(BENCH_PRELOAD)  # the workers' server imports while this process imports and plans
    from eokit.bench.runner import run_suite

    log_path = configure_logging(verbosity, log_dir=out)
    console = Console(stderr=True)  # result lines print under -q too
    with progress_bar(console, "bench", disable=verbosity < 0) as bar:
        task = bar.add_task("planning: loading the datasets", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        summary = run_suite(suite, out, scheduler=scheduler, workers=workers, progress=progress,
                            command=_command_line())
    report = _report(summary, write=not no_report, console=Console(quiet=verbosity < 0))
    offline = [m for m, ds, why in summary.skipped if ds == "*" and why.startswith("cannot download")]
    if offline:  # one line, not one URL per model: each URL and cache path is in eokit.log and the run card
        console.print(f"[yellow]{len(offline)} model(s) left out, their weights cannot be downloaded (offline?): "
                      f"{', '.join(offline)}. Each URL and where to place the file by hand: {log_path}; "
                      "or run `eokit models download ARCH.TAG` where the internet is reachable[/]")
    for model, dataset, why in summary.skipped:
        why = escape(why)
        if dataset == "*":
            if model not in offline:
                console.print(f"[yellow]model {model} left out: {why}[/]")
        else:
            console.print(f"[dim]skipped {model} on {dataset}: {why}[/]" if model != "*"
                          else f"[yellow]skipped dataset {dataset}: {why}[/]")
    console.print(
        f"{summary.total_jobs} jobs: {summary.done_before} already stored, {summary.computed} computed; "
        f"{summary.rows} rows in {summary.out / 'results.duckdb'}"
    )
    if report:
        console.print(f"report: {report}")
    console.print(f"log: {log_path}")
    if summary.failed:
        for label, err in summary.failed[:20]:
            console.print(f"[red]failed[/] {escape(label)}: {escape(err)}")
        raise click.ClickException(f"{len(summary.failed)} benchmark jobs failed (rerun to retry only those)")


def _command_line() -> str:
    """The command as typed (``eokit.cli.main.main`` keeps its arguments in the context object)."""
    from eokit.bench.runcard import command_line

    obj = click.get_current_context().find_root().obj
    return command_line(obj.get("argv") if isinstance(obj, dict) else None)


def _report(summary: RunSummary, *, write: bool, console: Console) -> Path | None:
    """Leaderboard in the terminal and OUT/report.html, from every row in the store; the report's time
    goes into the run card (the page shows the time up to its rendering)."""
    import time

    from eokit.bench.runcard import STAGE_REPORT, set_stage
    from eokit.bench.runner import report_context
    from eokit.bench.store import ResultsStore
    from eokit.report import print_leaderboard, summarise, write_report

    t0 = time.perf_counter()
    store = ResultsStore(summary.out / "results.duckdb")
    if summary.plan is None:
        return None
    keys = summary.plan.job_keys  # rows of earlier configurations of the same names stay in the store, unranked
    df = store.frame(job_keys=keys)
    stale = len(store) - len(df)
    if stale > 0:
        console.print(f"{stale} result rows in {store.path} (other suites, or earlier configurations of this one) "
                      "are not in this leaderboard")
    if df.empty:
        return None
    outcomes = store.outcomes(job_keys=keys)  # per-test-sample outcomes: CIs, chance levels, pairwise tests
    refs, groups = report_context(df, summary.plan, summary.out, outcomes=outcomes)
    from eokit.bench.modality import model_fusions

    s = summarise(df, references=refs, groups=groups, outcomes=outcomes, fusions=model_fusions(summary.plan.suite))
    print_leaderboard(s, console=console)
    if not write:
        if summary.run_card is not None:
            set_stage(summary.out, STAGE_REPORT, time.perf_counter() - t0)
        return None
    suite = summary.plan.suite
    meta = {"suite": suite.name, "description": suite.description, "config_hash": suite.config_hash()}
    card = summary.run_card
    if card is not None:
        card = {**card, "stages": {**card.get("stages", {}), STAGE_REPORT: round(time.perf_counter() - t0, 3)}}
    path = write_report(df, summary.out / "report.html", meta=meta, summary=s, run_card=card)
    if summary.run_card is not None:
        set_stage(summary.out, STAGE_REPORT, time.perf_counter() - t0)
    return path
