"""``eokit train CONFIG.yaml``: fit a model on a task from a YAML config."""

from __future__ import annotations

import json

import click

from eokit.cli.options import out_option


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set trainer.max_epochs=3 (repeatable).")
@out_option("dir")
@click.option("--no-resume", is_flag=True, help="Start afresh even if the output folder has a resume checkpoint.")
@click.option("--check", is_flag=True, help="Only validate the config and print it.")
def command(config: str, overrides: tuple[str, ...], out: str | None, no_resume: bool, check: bool) -> None:
    """Train a model as CONFIG.yaml says (task, model, data, optimiser, trainer).

    The run (checkpoint, metrics, logs) goes to the folder OUT (default: the config's output_dir).
    """
    from eokit.train import load_config, train

    extra = list(overrides)
    if out:
        extra.append(f"output_dir={out}")
    if no_resume:
        extra.append("resume=false")
    cfg = load_config(config, extra)
    if check:
        click.echo(json.dumps(cfg.model_dump(), indent=2))
        return
    result = train(cfg)
    click.echo(json.dumps({"checkpoint": str(result.checkpoint), "epochs": result.epochs,
                           "start_epoch": result.start_epoch, "resumed": result.resumed,
                           "val": _scalars(result.best_val), "test": _scalars(result.test)}))


def _scalars(d: dict) -> dict:
    return {k: round(v, 6) for k, v in d.items() if isinstance(v, float)}
