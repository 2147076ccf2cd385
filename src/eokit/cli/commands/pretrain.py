"""``eokit pretrain CONFIG.yaml``: self-supervised pretraining -> safetensors weights that load as ``arch``."""

from __future__ import annotations

import json

import click
from rich.console import Console

from eokit.cli.options import (
    config_options,
    config_overrides,
    configure_logging,
    out_option,
    verbosity_option,
)


@click.command("pretrain")
@click.argument("config", type=click.Path(dir_okay=False))
@out_option("dir")
@config_options()
@verbosity_option()
def command(config: str, overrides: tuple[str, ...], out: str | None, no_resume: bool, check: bool,
            verbosity: int) -> None:
    """Pretrain a backbone as CONFIG.yaml says (sources, curation, method, trainer); docs/pretrain.md.

    Reads training splits only (an item the `exclude_suite` benchmark evaluates is refused), curates the
    chips (nodata, clouds, near-duplicates, balance), fits the method with Lightning (resumable) and
    writes OUT/weights.safetensors + weights.json, splits.json and the curation report. The last line
    on stdout is the result as JSON.
    """
    configure_logging(verbosity)
    from eokit.pretrain.config import load_pretrain_config
    from eokit.pretrain.run import pretrain

    extra = config_overrides(overrides, out, no_resume, verbosity)
    cfg = load_pretrain_config(config, extra)
    if check:
        click.echo(json.dumps(cfg.model_dump(), indent=2))
        return
    log_path = configure_logging(verbosity, log_dir=cfg.out)
    r = pretrain(cfg)
    if verbosity >= 0:
        Console(stderr=True).print(
            f"{cfg.name}: {cfg.method} on {cfg.backbone.arch}, {r.steps} steps, {r.images_seen} images in "
            f"{r.seconds:.1f} s ({r.images_per_second:.1f} images/s){', resumed' if r.resumed else ''}\n"
            f"weights: {r.weights}\ncuration report: {r.output_dir / 'curation.md'}\nlog: {log_path}")
    click.echo(json.dumps({"weights": str(r.weights), "steps": r.steps, "images_seen": r.images_seen,
                           "seconds": round(r.seconds, 2), "images_per_s": round(r.images_per_second, 2),
                           "resumed": r.resumed}))
