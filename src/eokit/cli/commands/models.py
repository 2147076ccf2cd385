"""``eokit models list|info|heads``: registered backbones, weights and heads."""

from __future__ import annotations

import json
from typing import Any

import click
import torch
from rich.console import Console
from rich.table import Table

from eokit.cli.options import json_option
from eokit.models import (
    create_backbone,
    download_weights,
    get_arch,
    get_weight_spec,
    list_heads,
    list_models,
)


def _console() -> Console:
    """A console; piped output gets 120 columns instead of rich's default 80."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


@click.group("models")
def command() -> None:
    """Backbones, published weights (arch.tag) and heads."""


@command.command("list")
@click.option("--pretrained/--all", "pretrained", default=None, help="Only pretrained weights (or all).")
@json_option()
def list_cmd(pretrained: bool | None, as_json: bool) -> None:
    """List every registered model as arch.weights_tag."""
    specs = list_models(pretrained=pretrained or None)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in specs], indent=2, default=str))
        return
    table = Table(title=f"eokit models ({len(specs)})")
    table.add_column("name", no_wrap=True)
    for col in ("family", "bands", "input", "gsd (m)", "licence"):  # where they come from: models info
        table.add_column(col, no_wrap=col in ("family", "bands", "licence"))
    for s in specs:
        table.add_row(
            s.name, s.family or get_arch(s.arch).family, _bands_cell(s.bands), str(s.input_size),
            "" if s.gsd is None else f"{s.gsd:g}", s.license + (" NC" if s.noncommercial else ""),
        )
    _console().print(table)


def _bands_cell(bands: tuple[str, ...]) -> str:
    """Bands for the list table: all of a few, first…last (count) of many."""
    if not bands:
        return "any"
    return ",".join(bands) if len(bands) <= 4 else f"{bands[0]}…{bands[-1]} ({len(bands)})"


def _cell(value: Any) -> str:
    """A value for the info table: sequences of scalars comma-separated, the rest as str()."""
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    return str(value)


@command.command("info")
@click.argument("name")
@json_option()
def info_cmd(name: str, as_json: bool) -> None:
    """Describe one model: its weights' data contract and its feature maps."""
    spec = get_weight_spec(name)
    arch = get_arch(spec.arch)
    bands = spec.bands or ("B02", "B03", "B04", "B08")
    sensor: str | None = spec.sensor if spec.bands else "sentinel2_l1c"
    kw: dict = {}
    if arch.family == "fusion":  # shown on example S1 + S2 modalities (eokit train takes them from the data)
        kw = dict(arch.test_kwargs)
        bands, sensor = tuple(b for v in kw["modalities"].values() for b in v), None
    bb = _shapes_only(spec.name, bands, sensor, **kw)
    d = spec.to_dict()
    if spec.bands:
        d["wavelengths_nm"] = [round(b.center_nm, 1) if b.center_nm > 0 else None for b in spec.band_objects()]
    if spec.pretrained and spec.source in ("url", "file"):
        d["sha256"] = spec.sha256 or "none published"
    d["license"] = spec.license + (" (NON-COMMERCIAL)" if spec.noncommercial else "")
    d.update(
        family=spec.family or arch.family,
        architecture=arch.description + (f" [{arch.family}]" if spec.family else ""),
        num_features=bb.num_features,
        feature_info=bb.feature_info,
        parameters=sum(p.numel() for p in bb.parameters()),
        band_flexible=bb.band_flexible,
    )
    d.update({k: v for k, v in spec.extra.items() if k not in d})
    d.pop("extra", None)
    if as_json:
        click.echo(json.dumps(d, indent=2, default=str))
        return
    table = Table(title=spec.name, show_header=False)
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    keys = ["architecture", "family", "source", "bands", "wavelengths_nm", "sensor", "mean", "std",
            "normalization", "gsd", "input_size", "patch_size", "num_features", "feature_info", "parameters",
            "band_flexible", "url", "sha256", "timm_name", "license", "citation", "proof", "description"]
    for key in keys + [k for k in spec.extra if k not in keys]:
        value = d.get(key)
        if value in (None, (), [], ""):
            value = "any (adapted by name)" if key == "bands" else "-"
        table.add_row(key, _cell(value))
    _console().print(table)


def _shapes_only(name: str, bands: tuple[str, ...], sensor: str | None, **kw: Any) -> Any:
    """The backbone with its weights' contract, built on the meta device (no memory, no download)."""
    try:
        with torch.device("meta"):
            return create_backbone(name, bands=bands, sensor=sensor, pretrained=False, **kw)
    except (NotImplementedError, RuntimeError):  # an initialiser without a meta kernel
        return create_backbone(name, bands=bands, sensor=sensor, pretrained=False, **kw)


@command.command("download")
@click.argument("names", nargs=-1, required=True)
def download_cmd(names: tuple[str, ...]) -> None:
    """Download published weights (arch.tag) into the cache, verified by sha256 where published.

    Offline, the error names the URL and the path where the file can be placed by hand.
    """
    for name in names:
        path = download_weights(name)
        click.echo(f"{get_weight_spec(name).name}\t{path}")


@command.command("heads")
def heads_cmd() -> None:
    """List the registered heads and the tasks they serve."""
    table = Table(title="eokit heads")
    for col in ("name", "kind", "description"):
        table.add_column(col)
    for h in list_heads():
        table.add_row(h.name, h.kind, h.description)
    _console().print(table)
