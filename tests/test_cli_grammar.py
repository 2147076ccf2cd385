"""One CLI grammar: every command and subcommand the registry exposes reads the same way.

The same long option has the same short form, type and help everywhere; ``-o`` is always
the output (``--out``); shared meanings use the decorators of ``eokit.cli.options``;
no two meanings share a name and no meaning has two names; every ``--help`` runs.
"""

from __future__ import annotations

from collections import defaultdict

import click
import pytest
from click.testing import CliRunner

from eokit.cli import options as O
from eokit.cli.main import cli, main


def _walk(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...],
                                                                                             click.Command]]:
    found = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, f"listed command {name!r} cannot be loaded"
        found.append(((*path, name), cmd))
        if isinstance(cmd, click.Group):
            found += _walk(cmd, click.Context(cmd, parent=ctx, info_name=name), (*path, name))
    return found


COMMANDS = _walk(cli, click.Context(cli, info_name="eokit"))
NAMES = [" ".join(p) for p, _ in COMMANDS]


def _long(opt: click.Option) -> str:
    names = [o for o in [*opt.opts, *opt.secondary_opts] if o.startswith("--")]
    assert names, f"option {opt.opts} has no long name"
    return names[0]


def _shorts(opt: click.Option) -> tuple[str, ...]:
    return tuple(sorted(o for o in [*opt.opts, *opt.secondary_opts] if not o.startswith("--")))


def _type(opt: click.Option) -> str:
    """The kind of value (a Path is a Path whether it must be a file or a folder)."""
    return type(opt.type).__name__


def _visible(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden and p.name != "help"]


def _shared_specs() -> dict[str, tuple[tuple[str, ...], str, str | None]]:
    """Long name -> (short forms, type name, help) of every decorator in eokit.cli.options."""
    decorators = [O.out_option(), O.out_option("dir"), O.json_option(), O.sensor_option(), O.bands_option(),
                  O.band_names_option(), O.band_map_option(), O.resampling_option(), O.device_option(),
                  O.workers_option(), O.scheduler_option(), O.batch_size_option(1), O.seed_option(),
                  O.root_option(), O.suite_option(), O.verbosity_option(), O.bbox_option(),
                  O.time_range_option()]
    specs: dict[str, tuple[tuple[str, ...], str, str | None]] = {}
    for deco in decorators:
        cmd = click.Command("x", params=[], callback=deco(lambda **kw: None))
        cmd.params = list(reversed(getattr(cmd.callback, "__click_params__", [])))
        for opt in _visible(cmd):
            spec = (_shorts(opt), _type(opt), opt.help)
            assert specs.setdefault(_long(opt), spec) == spec, f"options.py defines {_long(opt)} two ways"
    return specs


SHARED = _shared_specs()


def test_registry_is_complete() -> None:
    """The walk sees every built-in command, the groups' subcommands included, and none is broken."""
    for name in ("bench", "datasets list", "datasets info", "datasets download", "evaluate", "index", "info",
                 "models list", "models info", "models heads", "predict", "quicklook", "report", "search",
                 "train"):
        assert name in NAMES
    broken = [n for n, (_, c) in zip(NAMES, COMMANDS, strict=True) if c.__class__.__name__ == "_BrokenCommand"]
    assert not broken, f"commands that failed to import: {broken}"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=NAMES)
def test_help_runs(path: tuple[str, ...]) -> None:
    res = CliRunner().invoke(cli, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage: " in res.output and "-h, --help" in res.output


def test_one_meaning_per_name_and_one_name_per_meaning() -> None:
    seen: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    helps: dict[str, set[str]] = defaultdict(set)
    dests: dict[str, set[str]] = defaultdict(set)
    for name, (_, cmd) in zip(NAMES, COMMANDS, strict=True):
        for opt in _visible(cmd):
            long = _long(opt)
            assert opt.help, f"`eokit {name} {long}` has no help text"
            seen[long][(_shorts(opt), _type(opt), opt.help)].append(name)
            helps[opt.help].add(long)
            dests[opt.name].add(long)
            if "-o" in _shorts(opt):
                assert long == "--out", f"`eokit {name}`: -o means {long}, but -o is always the output (--out)"
            assert long not in O.OUTPUT_SYNONYMS, f"`eokit {name} {long}`: the output option is -o/--out"
            if long in SHARED:
                assert (_shorts(opt), _type(opt), opt.help) == SHARED[long], (
                    f"`eokit {name} {long}` is spelled by hand; use the decorator of eokit.cli.options")
    drift = {long: dict(v) for long, v in seen.items() if len(v) > 1}
    assert not drift, f"options whose short form, type or help differ between commands: {drift}"
    synonyms = {h: sorted(v) for h, v in helps.items() if len(v) > 1}
    assert not synonyms, f"one meaning under several names: {synonyms}"
    shared_dest = {d: sorted(v) for d, v in dests.items() if len(v) > 1}
    assert not shared_dest, f"one parameter name for several options: {shared_dest}"


def test_short_forms_mean_one_thing() -> None:
    shorts: dict[str, set[str]] = defaultdict(set)
    for _, cmd in COMMANDS:
        for opt in _visible(cmd):
            for s in _shorts(opt):
                shorts[s].add(_long(opt))
    assert {s: v for s, v in shorts.items() if len(v) > 1} == {}
    assert shorts["-o"] == {"--out"}


def test_commands_writing_files_take_dash_o() -> None:
    writers = {"bench", "evaluate", "index", "predict", "quicklook", "report", "search", "train"}
    for name, (_, cmd) in zip(NAMES, COMMANDS, strict=True):
        if name in writers:
            assert any("-o" in _shorts(o) for o in _visible(cmd)), f"`eokit {name}` has no -o/--out"


def test_bench_takes_dash_o(tmp_path, capsys) -> None:
    """The issue's example: `eokit bench --suite quick -o DIR` used to fail with "No such option '-o'"."""
    assert main(["bench", "--suite", "quik", "-o", str(tmp_path / "o"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "No such option" not in err and "quik" in err


def test_verbose_and_quiet_exclude_each_other(capsys) -> None:
    assert main(["report", "nowhere", "-v", "-q"]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_deprecated_alias_still_works_and_warns() -> None:
    @click.command()
    @click.option("--output-kind", "kind", type=click.Choice(["a", "b"]), default=None, help="kind")
    @O.deprecated_alias("--output", "--output-kind", "kind", type=click.Choice(["a", "b"]))
    def cmd(kind: str | None) -> None:
        click.echo(f"kind={kind}")

    runner = CliRunner()
    res = runner.invoke(cmd, ["--output", "b"])
    assert res.exit_code == 0 and "kind=b" in res.output and "--output is deprecated; use --output-kind" in res.output
    res = runner.invoke(cmd, ["--output-kind", "a"])
    assert res.exit_code == 0 and res.output.strip() == "kind=a"
    assert runner.invoke(cmd, ["--output", "b", "--output-kind", "a"]).exit_code == 2  # contradiction
    assert "--output" not in runner.invoke(cmd, ["--help"]).output.replace("--output-kind", "")


def test_bands_option_parses_names() -> None:
    @click.command()
    @O.bands_option(default="red,green,blue")
    def cmd(bands: tuple[str, ...]) -> None:
        click.echo(repr(bands))

    runner = CliRunner()
    assert runner.invoke(cmd, []).output.strip() == "('red', 'green', 'blue')"
    assert runner.invoke(cmd, ["--bands", "B4, B3,B2"]).output.strip() == "('B4', 'B3', 'B2')"
    res = runner.invoke(cmd, ["--bands", "B4,,B2"])
    assert res.exit_code == 2 and "empty band name" in res.output


def test_band_map_option_is_defined_once() -> None:
    assert SHARED["--band-map"] == ((), "StringParamType", "name bands by 1-based position, e.g. red=3,nir=4")


def test_a_command_that_fails_to_import_says_so_whatever_its_arguments(capsys: pytest.CaptureFixture) -> None:
    """Not "unexpected extra argument": the load error, with the rest of the CLI still working."""
    from eokit.cli.main import _BrokenCommand, main

    cli.add_command(_BrokenCommand("brokencmd", NameError("name 'field' is not defined")), "brokencmd")
    try:
        assert main(["brokencmd", "scene.tif", "--some-option", "3"]) != 0
        err = capsys.readouterr().err
        assert "command 'brokencmd' could not be loaded" in err and "name 'field' is not defined" in err
        assert main(["info", "--help"]) == 0
    finally:
        cli.commands.pop("brokencmd", None)
