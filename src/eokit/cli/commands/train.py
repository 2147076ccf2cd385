"""``eokit train CONFIG.yaml``: fit a model on a task from a YAML config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from eokit.cli.options import (
    config_options,
    config_overrides,
    configure_logging,
    out_option,
    verbosity_option,
)

if TYPE_CHECKING:
    from eokit.train.fit import TrainResult


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False))
@out_option("dir")
@config_options()
@verbosity_option()
def command(config: str, overrides: tuple[str, ...], out: str | None, no_resume: bool, check: bool,
            verbosity: int) -> None:
    """Train a model as CONFIG.yaml says (task, model, data, optimiser, trainer).

    The run (checkpoint, metrics, logs, eokit.log) goes to the folder OUT (default: the config's
    output_dir). The last line on stdout is the result as JSON; a summary table goes to stderr.
    With trainer.strategy ddp (trainer.devices, trainer.num_nodes) only global rank 0 prints them.
    """
    configure_logging(verbosity)
    from eokit.train import load_config, train

    extra = config_overrides(overrides, out, no_resume, verbosity)
    cfg = load_config(config, extra)
    if check:
        click.echo(json.dumps(cfg.model_dump(), indent=2))
        return
    log_path = configure_logging(verbosity, log_dir=cfg.out)
    result = train(cfg)
    if result.global_rank != 0:  # DDP: the other processes of the run print nothing
        return
    val, test = _scalars(result.best_val), _scalars(result.test)
    if verbosity >= 0:
        _summary(cfg.name, result, val, test, log_path)
    click.echo(json.dumps({"checkpoint": str(result.checkpoint), "epochs": result.epochs,
                           "start_epoch": result.start_epoch, "resumed": result.resumed,
                           "val": val, "test": test}))


def _summary(name: str, result: TrainResult, val: dict[str, float], test: dict[str, float], log_path: Path) -> None:
    """One screen on stderr: the metrics of the best epoch and the test split, and where things are."""
    table = Table(title=f"{name}: {result.epochs} epoch(s)"
                  + (f", resumed at epoch {result.start_epoch}" if result.resumed else ""))
    table.add_column("metric")
    table.add_column("val (best)", justify="right")
    table.add_column("test", justify="right")
    for k in sorted(set(val) | set(test)):
        table.add_row(k, f"{val[k]:.4f}" if k in val else "–", f"{test[k]:.4f}" if k in test else "–")
    console = Console(stderr=True)
    console.print(table)
    console.print(f"checkpoint: {result.checkpoint}\nlog: {log_path}")


def _scalars(d: dict[str, Any]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in d.items() if isinstance(v, float)}
