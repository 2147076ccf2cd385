"""``eokit report RESULTS -o report.html``: leaderboard, capability groups, robustness, efficiency."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eokit.cli.options import (
    configure_logging,
    out_option,
    seed_option,
    suite_option,
    verbosity_option,
)
from eokit.errors import ConfigError


def _load_references(path: str | None) -> dict | None:
    if path is None:
        return None
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read references file {path!r}: {exc}") from exc
    import yaml

    try:
        data = yaml.safe_load(text) if p.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"references file {path!r} is not valid {p.suffix or 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"references file {path!r} must map dataset -> {{metric: [min, max]}}")
    return data


@click.command("report")
@click.argument("results", type=click.Path(exists=False))
@out_option("file")
@click.option("--references", default=None, type=click.Path(dir_okay=False),
              help="JSON/YAML {dataset: {metric: [min, max]}} for normalisation (default: references.json beside "
                   "RESULTS, else min/max over models).")
@click.option("--reference-models", default=None, help="Comma-separated models whose best entry sets the high normalisation bound (where it clears chance "
                   "meaningfully; default: the metric's perfect value).")
@click.option("--n-boot", default=1000, show_default=True, type=click.IntRange(min=100),
              help="Bootstrap resamples for confidence intervals and pairwise comparisons.")
@seed_option()
@suite_option()
@verbosity_option()
def command(results: str, out: str | None, references: str | None, reference_models: str | None,
            n_boot: int, seed: int, suite: str | None, verbosity: int) -> None:
    """Build a self-contained HTML report from RESULTS (results folder, .duckdb, .parquet or .csv).

    Writes the HTML file OUT (default: report.html beside RESULTS); --suite keeps only that suite's rows,
    --seed seeds the bootstrap of the capability scores.
    """
    src = Path(results)
    here = src if src.is_dir() else src.parent
    configure_logging(verbosity, log_dir=Path(out).parent if out else here)
    from eokit.bench.groups import GROUPS_FILENAME, read_groups
    from eokit.bench.modality import FUSIONS_FILENAME, read_fusions
    from eokit.bench.runcard import RUNCARD_FILENAME, read_run_card
    from eokit.bench.store import load_outcomes, load_results
    from eokit.report import print_leaderboard, summarise, write_report

    df = load_results(results)
    if suite is not None and suite.lower().endswith((".yaml", ".yml")) and Path(suite).is_file():
        from eokit.bench.config import load_suite

        suite = load_suite(suite).name
    if suite is not None:
        suites = sorted(set(df["suite"]))
        df = df[df["suite"] == suite]
        if df.empty:
            raise ConfigError(f"no rows of suite {suite!r} in {results!r}; its suites are {suites}")
    if df.empty:
        raise ConfigError(f"{results!r} holds no result rows yet")
    models = [m.strip() for m in reference_models.split(",")] if reference_models else None
    # sidecars `eokit bench` writes beside its store: the suite's references and capability groups
    if references is None and models is None and (here / "references.json").exists():
        references = str(here / "references.json")
        click.echo(f"normalising with {references}")
    groups = read_groups(here / GROUPS_FILENAME) if (here / GROUPS_FILENAME).exists() else None
    outcomes = load_outcomes(results, suite)  # per-sample outcomes beside a store: CIs, pairwise, not-ranked
    s = summarise(df, references=_load_references(references), reference_models=models, groups=groups,
                  n_boot=n_boot, seed=seed, outcomes=outcomes, fusions=read_fusions(here / FUSIONS_FILENAME))
    path_out = Path(out) if out else here / "report.html"
    meta = {"results": str(src)}
    if suite or df["suite"].nunique() == 1:
        meta["suite"] = suite or str(df["suite"].iloc[0])
    card = read_run_card(here) if (here / RUNCARD_FILENAME).exists() else None
    path = write_report(df, path_out, meta=meta, summary=s, run_card=card)
    if verbosity >= 0:
        print_leaderboard(s)
    click.echo(f"report written to {path}")
