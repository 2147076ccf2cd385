"""``eokit evaluate CKPT DATASET``: metrics of a trained checkpoint on a dataset split."""

from __future__ import annotations

import json

import click
import yaml
from rich.console import Console
from rich.table import Table

from eokit.cli.options import (
    batch_size_option,
    configure_logging,
    device_option,
    out_option,
    root_option,
    verbosity_option,
)


@click.command("evaluate")
@click.argument("checkpoint", type=click.Path())
@click.argument("dataset")
@click.option("--split", default="test", show_default=True, help="Dataset split to evaluate on.")
@root_option()
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Dataset option passed to get_dataset (value parsed as YAML), e.g. --option sensor=rgb.")
@batch_size_option(default=32)
@click.option("--max-samples", type=click.IntRange(min=1), default=None, help="Evaluate at most this many samples.")
@device_option()
@out_option("file")
@verbosity_option()
def command(checkpoint: str, dataset: str, split: str, root: str | None, options: tuple[str, ...],
            batch_size: int, max_samples: int | None, device: str, out: str | None, verbosity: int) -> None:
    """Evaluate CHECKPOINT (an eokit checkpoint folder) on DATASET/--split; print and write the metrics.

    The metrics go to the JSON file OUT (default: <checkpoint>/eval_<dataset>_<split>.json).
    """
    from pathlib import Path

    from eokit.errors import ConfigError
    from eokit.train import evaluate

    opts = {}
    for o in options:
        if "=" not in o:
            raise ConfigError(f"--option {o!r} must look like key=value")
        k, v = o.split("=", 1)
        opts[k] = yaml.safe_load(v)
    ck = Path(checkpoint)
    folder = ck.parent if ck.is_file() else ck
    out = out or str(folder / f"eval_{dataset}_{split}.json")
    configure_logging(verbosity, log_dir=Path(out).parent)
    res = evaluate(checkpoint, dataset, split, root=root, options=opts, batch_size=batch_size,
                   max_samples=max_samples, device=device, out=out)
    table = Table(title=f"{dataset} / {split} ({res['samples']} samples)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in res["metrics"].items():
        if isinstance(v, float):
            table.add_row(k, f"{v:.4f}")
    if verbosity >= 0:
        Console(stderr=True).print(table)
    click.echo(json.dumps({"output": out, **{k: v for k, v in res["metrics"].items() if isinstance(v, float)}}))
