"""``eokit datasets list|info|download``: the benchmark dataset catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from eokit.cli.options import configure_logging, json_option, root_option, verbosity_option
from eokit.datasets import DATASETS, DatasetSpec, list_datasets
from eokit.env import data_root


def _spec(name: str) -> DatasetSpec:
    return DATASETS.get(name).spec


def _present(spec: DatasetSpec) -> bool:
    return spec.path().exists()


def _where(spec: DatasetSpec) -> str:
    """The list's ``local`` cell: yes (at its home), the mirror's copy (whole or part), or no."""
    if spec.home().exists():
        return "yes"
    if spec.mirror_copy() is not None:
        return "mirror (part)" if spec.mirror_part else "mirror"
    return "no"


def _as_dict(spec: DatasetSpec) -> dict:
    return {
        "name": spec.name,
        "task": spec.task,
        "sensor": spec.sensor,
        "bands": list(spec.bands),
        "classes": list(spec.classes),
        "splits": list(spec.splits),
        "split_policy": spec.split_policy,
        "folder": spec.folder,
        "path": str(spec.path()),
        "present": _present(spec),
        "home": str(spec.home()),
        "mirror": spec.mirror or None,
        "mirror_part": spec.mirror_part or None,
        "layout": spec.layout,
        "downloads": [
            {"url": d.url, "filename": d.filename, "sha256": d.sha256, "md5": d.md5, "extract": d.extract}
            for d in spec.downloads
        ],
        "license": spec.license,
        "citation": spec.citation,
        "size": spec.size,
        "gsd": spec.gsd,
        "tags": sorted(spec.tags),
        "homepage": spec.homepage,
        "description": spec.description,
    }


@click.group("datasets")
def command() -> None:
    """Benchmark datasets: list them, describe one, download one into $EOKIT_DATA."""


@command.command("list")
@click.option("--task", default=None, help="Only datasets of this task (e.g. segmentation).")
@click.option("--tag", "tags", multiple=True, help="Only datasets with this capability tag (repeatable).")
@json_option()
def list_cmd(task: str | None, tags: tuple[str, ...], as_json: bool) -> None:
    """List the registered datasets (name, present locally, task, sensor, size, licence, tags)."""
    specs = [s for s in list_datasets() if (task is None or s.task == task) and set(tags) <= set(s.tags)]
    specs.sort(key=lambda s: (s.task, s.name))
    if as_json:
        click.echo(json.dumps([_as_dict(s) for s in specs], indent=2))
        return
    table = Table(title=f"{len(specs)} datasets (EOKIT_DATA={data_root()})")
    table.add_column("name", no_wrap=True, min_width=max((len(s.name) for s in specs), default=4))
    table.add_column("local", no_wrap=True, min_width=len("mirror (part)"))
    for col in ("task", "sensor", "bands"):
        table.add_column(col, no_wrap=True)
    for col in ("size", "licence"):
        table.add_column(col, no_wrap=True, max_width=30, overflow="ellipsis")
    table.add_column("tags", no_wrap=True)
    for s in specs:
        table.add_row(
            s.name,
            _where(s),
            s.task,
            s.sensor or "-",
            str(len(s.bands)) if s.bands else "any",
            s.size,
            s.license,
            ",".join(sorted(s.tags)),
        )
    Console(width=max(Console().width, 200)).print(table)


@command.command("info")
@click.argument("name")
@json_option()
def info_cmd(name: str, as_json: bool) -> None:
    """Describe one dataset: layout, splits, downloads, licence, citation."""
    d = _as_dict(_spec(name))
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    table = Table(title=name, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in d.items():
        if value is None and key in ("mirror", "mirror_part"):  # most datasets have no mirror copy
            continue
        if key == "downloads":
            value = "\n".join(
                f"{x['url']} -> {x['filename']} ({'sha256 ' + x['sha256'] if x['sha256'] else 'md5 ' + x['md5'] if x['md5'] else 'no published checksum'})"
                for x in value
            ) or "none (manual download, see homepage)"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        table.add_row(key, str(value))
    Console(width=160).print(table)


@command.command("download")
@click.argument("name")
@root_option()
@click.option("--keep-archives", is_flag=True, help="Keep the downloaded archives beside the dataset.")
@verbosity_option()
def download_cmd(name: str, root: str | None, keep_archives: bool, verbosity: int) -> None:
    """Download NAME into --root with resume and checksum verification, and unpack it atomically."""
    from eokit.datasets.download import download_dataset

    spec = _spec(name)
    configure_logging(verbosity, log_dir=Path(root) if root else spec.home())
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), disable=verbosity < 0) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(d, done: int, total: int | None) -> None:
            if d.filename not in tasks:
                tasks[d.filename] = bar.add_task(d.filename, total=total)
            bar.update(tasks[d.filename], completed=done, total=total)

        path = download_dataset(spec, Path(root) if root else None, keep_archives=keep_archives,
                                progress=progress)
    click.echo(f"{name}: ready at {path}")
