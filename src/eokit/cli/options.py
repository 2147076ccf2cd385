"""The CLI grammar: one click option per meaning, shared by every command.

Each decorator here defines an option once (long name, short form, type, help);
commands stack them instead of spelling options themselves, so ``-o/--out``,
``--device`` or ``--workers`` read and mean the same on every command
(``tests/test_cli_grammar.py`` walks the command registry to keep it so).
What differs per command (a default, whether the option is required, a file
or a folder) is a parameter of the decorator, never the help text.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]

OUT_HELP = "Where the command writes its output (described above)."
JSON_HELP = "Print JSON instead of a table."
SENSOR_HELP = "Sensor of the input, whose band names and aliases apply (e.g. landsat8, sentinel2_l1c)."
BANDS_HELP = "Bands to use, comma-separated, by name, alias or common name (e.g. B4,B3,B2 or red,green,blue)."
BAND_NAMES_HELP = "Names of a single file's bands, comma-separated, in file order (e.g. B2,B3,B4,B5)."
BAND_MAP_HELP = "name bands by 1-based position, e.g. red=3,nir=4"
RESAMPLING_HELP = "Resample bands on another grid onto the reference grid (e.g. bilinear); unset: never resample."
DEVICE_HELP = "Torch device: cpu, cuda, cuda:1, mps."
ENGINE_HELP = "What runs the model: torch, or onnxruntime (pip install 'eokit[onnx]')."
PRECISION_HELP = ("fp32; bf16/fp16 (torch autocast); int8 (onnxruntime, static quantisation). Reduced precision "
                  "is checked against fp32 on a sample first and falls back to fp32 below the agreement bound.")
WORKERS_HELP = "Dask LocalCluster worker processes (one thread each); 0 runs in this process."
SCHEDULER_HELP = "Address of an existing Dask scheduler (tcp://HOST:PORT); default: a LocalCluster on loopback."
BATCH_SIZE_HELP = "Samples (tiles) per batch."
SEED_HELP = "Random seed; the same seed repeats a run exactly."
ROOT_HELP = "Dataset folder (default: its folder under $EOKIT_DATA, else the data mirror's copy)."
SUITE_HELP = "Benchmark suite: 'quick', 'full' or a suite YAML file."
VERBOSE_HELP = "Log progress details."
QUIET_HELP = "Print only the result lines (no tables, no progress bars)."
BBOX_HELP = "Area as W,S,E,N in degrees (EPSG:4326 lon/lat)."
START_HELP = "Earliest acquisition time, ISO 8601 (e.g. 2021-06-01); naive times are UTC."
END_HELP = "Latest acquisition time, ISO 8601; a date alone includes that whole day."
METHOD_HELP = "How the command computes its result (the command's description explains each choice)."

#: Long names that once meant "the output" on some command; ``-o/--out`` is the one spelling.
OUTPUT_SYNONYMS = ("--output", "--output-dir", "--outdir", "--out-dir", "--output-file")


def _stack(*decorators: Decorator) -> Decorator:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def _csv(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    """'a, b,c' -> ('a', 'b', 'c'); empty names are a usage error naming the option."""
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(","))
    if not all(names):
        raise click.BadParameter(f"{value!r} has an empty band name; separate names by single commas (B4,B3,B2)")
    return names


def out_option(kind: Literal["file", "dir", "any"] = "file", *, required: bool = False,
               default: str | None = None) -> Decorator:
    """``-o/--out``: what the command writes; ``kind`` says a file, a folder or either."""
    metavar = {"file": "FILE", "dir": "DIR", "any": "PATH"}[kind]
    return click.option("-o", "--out", "out", metavar=metavar, required=required, default=default,
                        show_default=default is not None,
                        type=click.Path(file_okay=kind != "dir", dir_okay=kind != "file"), help=OUT_HELP)


def json_option() -> Decorator:
    """``--json``: machine-readable output instead of a table (parameter ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)


def sensor_option(*, required: bool = False) -> Decorator:
    """``--sensor NAME``."""
    return click.option("--sensor", metavar="NAME", required=required, default=None, help=SENSOR_HELP)


def bands_option(default: str | None = None) -> Decorator:
    """``--bands a,b,c``: the bands wanted, as a tuple of names (None when not given)."""
    return click.option("--bands", metavar="LIST", default=default, show_default=default is not None,
                        callback=_csv, help=BANDS_HELP)


def band_names_option() -> Decorator:
    """``--band-names a,b,c``: name every band of a single-file input, in file order (a tuple)."""
    return click.option("--band-names", "band_names", metavar="LIST", default=None, callback=_csv,
                        help=BAND_NAMES_HELP)


def band_map_option() -> Decorator:
    """``--band-map red=3,nir=4``: name bands by position (the text, for ``eokit.sensors.parse_band_map``)."""
    return click.option("--band-map", "band_map", metavar="MAP", default=None, help=BAND_MAP_HELP)


def resampling_option() -> Decorator:
    """``--resampling NAME``: one of rasterio's resampling methods, or None."""
    from rasterio.enums import Resampling

    return click.option("--resampling", default=None, metavar="METHOD", help=RESAMPLING_HELP,
                        type=click.Choice([r.name for r in Resampling]))


def device_option(default: str = "cpu") -> Decorator:
    """``--device``: where torch runs."""
    return click.option("--device", default=default, show_default=True, help=DEVICE_HELP)


def engine_option() -> Decorator:
    """``--engine torch|onnxruntime`` and ``--precision fp32|bf16|fp16|int8`` (``eokit.models.engine``)."""
    from eokit.models.engine import ENGINES, PRECISIONS

    return _stack(
        click.option("--engine", type=click.Choice(ENGINES), default="torch", show_default=True, help=ENGINE_HELP),
        click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
                     help=PRECISION_HELP),
    )


def workers_option(default: int = 2) -> Decorator:
    """``--workers N``: LocalCluster processes; 0 runs in this process."""
    return click.option("--workers", default=default, show_default=True, type=click.IntRange(min=0),
                        help=WORKERS_HELP)


def scheduler_option() -> Decorator:
    """``--scheduler ADDR``: an existing Dask cluster instead of a LocalCluster."""
    return click.option("--scheduler", default=None, metavar="ADDR", help=SCHEDULER_HELP)


def batch_size_option(default: int) -> Decorator:
    """``--batch-size N`` (N >= 1)."""
    return click.option("--batch-size", default=default, show_default=True, type=click.IntRange(min=1),
                        help=BATCH_SIZE_HELP)


def method_option(choices: list[str], default: str = "auto") -> Decorator:
    """``--method NAME``: one of the command's ``choices`` (parameter ``method``)."""
    return click.option("--method", default=default, show_default=True, type=click.Choice(choices),
                        help=METHOD_HELP)


def config_options() -> Decorator:
    """``--set KEY=VALUE`` (repeatable), ``--no-resume`` and ``--check``: the options of a config-driven run."""
    return _stack(
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override a config value (a dotted key path), e.g. --set trainer.lr=0.01 (repeatable)."),
        click.option("--no-resume", is_flag=True,
                     help="Start afresh even if the output folder has a resume checkpoint."),
        click.option("--check", is_flag=True, help="Only validate the config and print it."),
    )


def config_overrides(overrides: Sequence[str], out: str | None, no_resume: bool, verbosity: int) -> list[str]:
    """The ``key.path=value`` overrides that ``--set``, ``-o``, ``--no-resume`` and ``-q`` mean for a config run."""
    extra = list(overrides)
    if out:
        extra.append(f"output_dir={out}")
    if no_resume:
        extra.append("resume=false")
    if verbosity < 0:
        extra.append("trainer.progress_bar=false")
    return extra


def seed_option(default: int = 0) -> Decorator:
    """``--seed N``."""
    return click.option("--seed", default=default, show_default=True, type=int, help=SEED_HELP)


def root_option() -> Decorator:
    """``--root DIR``: a dataset's folder (a string; None: under $EOKIT_DATA)."""
    return click.option("--root", default=None, metavar="DIR", type=click.Path(file_okay=False), help=ROOT_HELP)


def suite_option(default: str | None = None) -> Decorator:
    """``--suite``: a built-in benchmark suite name or a suite YAML file."""
    return click.option("--suite", default=default, show_default=default is not None, help=SUITE_HELP)


def _bbox(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, ...] | None:
    """'W,S,E,N' -> four floats with W < E and S < N, in lon/lat range; else a usage error."""
    if value is None:
        return None
    try:
        box = tuple(float(v) for v in value.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (-180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90):
        raise click.BadParameter(f"{value!r} is not W,S,E,N in degrees with W < E and S < N "
                                 "(e.g. 10.5,45.2,11.0,45.6)")
    return box


def bbox_option() -> Decorator:
    """``--bbox W,S,E,N``: an area in EPSG:4326 degrees (a tuple of 4 floats, None when not given)."""
    return click.option("--bbox", metavar="W,S,E,N", default=None, callback=_bbox, help=BBOX_HELP)


def time_range_option() -> Decorator:
    """``--start TIME`` and ``--end TIME``: an inclusive acquisition-time range (strings, None when not given)."""
    return _stack(click.option("--start", metavar="TIME", default=None, help=START_HELP),
                  click.option("--end", metavar="TIME", default=None, help=END_HELP))


def verbosity_option() -> Decorator:
    """``-v/--verbose`` and ``-q/--quiet`` -> one parameter ``verbosity`` (1, -1; 0 when neither)."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, verbose: bool = False, quiet: bool = False, **kwargs: Any) -> Any:
            if verbose and quiet:
                raise click.UsageError("-v/--verbose and -q/--quiet exclude each other; give one of them")
            return f(*args, verbosity=1 if verbose else -1 if quiet else 0, **kwargs)

        wrapper = click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)(wrapper)
        return click.option("-v", "--verbose", is_flag=True, help=VERBOSE_HELP)(wrapper)  # type: ignore[return-value]

    return decorate


def deprecated_alias(old: str, new: str, dest: str, **kwargs: Any) -> Decorator:
    """A hidden ``old`` spelling of the option ``new`` (parameter ``dest``) that still works, with a warning.

    Kept only while a published doc or script uses ``old``; ``kwargs`` (type...) as for ``new``.
    """
    hidden = f"deprecated_{dest}"

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kw: Any) -> Any:
            value = kw.pop(hidden, None)
            if value is not None:
                click.echo(f"warning: {old} is deprecated; use {new} (same values)", err=True)
                if kw.get(dest) not in (None, value):
                    raise click.UsageError(f"{old} {value!r} contradicts {new} {kw[dest]!r}; give only {new}")
                kw[dest] = value
            return f(*args, **kw)

        return click.option(old, hidden, hidden=True, default=None, **kwargs)(wrapper)  # type: ignore[return-value]

    return decorate


def configure_logging(verbosity: int, log_dir: str | os.PathLike[str] | None = None) -> Path:
    """The quiet console (``eokit.cli.console``): -1 errors only, 0 eokit's warnings, 1 every library's INFO.

    Everything, shown or not, goes to ``LOG_DIR/eokit.log`` (default: ``$EOKIT_CACHE``); returns that path.
    """
    from eokit.cli.console import configure_console

    return configure_console(verbosity, log_dir)
