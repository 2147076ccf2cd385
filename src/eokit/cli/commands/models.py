"""``eokit models list|info|heads``: registered backbones, weights and heads."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from eokit.cli.options import json_option
from eokit.models import create_backbone, get_arch, get_weight_spec, list_heads, list_models


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
    for col in ("family", "source", "bands", "input", "gsd (m)", "licence"):
        table.add_column(col)
    for s in specs:
        table.add_row(
            s.name, get_arch(s.arch).family, s.source, ",".join(s.bands) or "any", str(s.input_size),
            "" if s.gsd is None else f"{s.gsd:g}", s.license,
        )
    _console().print(table)


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
    bb = create_backbone(spec.arch, bands=bands, sensor=sensor, **kw)  # random init: shapes only, no download
    d = spec.to_dict()
    d.update(
        family=arch.family,
        architecture=arch.description,
        num_features=bb.num_features,
        feature_info=bb.feature_info,
        parameters=sum(p.numel() for p in bb.parameters()),
        band_flexible=bb.band_flexible,
    )
    d.pop("extra", None)
    if as_json:
        click.echo(json.dumps(d, indent=2, default=str))
        return
    table = Table(title=spec.name, show_header=False)
    for key in ("architecture", "family", "source", "bands", "sensor", "mean", "std", "gsd", "input_size",
                "num_features", "feature_info", "parameters", "band_flexible", "url", "sha256", "timm_name",
                "license", "description"):
        value = d.get(key)
        if value in (None, (), [], ""):
            value = "any (adapted by name)" if key == "bands" else "-"
        table.add_row(key, str(value))
    _console().print(table)


@command.command("heads")
def heads_cmd() -> None:
    """List the registered heads and the tasks they serve."""
    table = Table(title="eokit heads")
    for col in ("name", "kind", "description"):
        table.add_column(col)
    for h in list_heads():
        table.add_row(h.name, h.kind, h.description)
    _console().print(table)
