"""Entry point: a click group whose commands are discovered, not hand-listed."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from importlib.metadata import entry_points

import click

from eokit import __version__
from eokit.env import tune_allocator
from eokit.errors import EokitError


class _BrokenCommand(click.Command):
    """Stands in for a command that failed to import, so the rest of the CLI still works."""

    def __init__(self, name: str, error: BaseException) -> None:
        # takes any arguments, so that the load error is what the user reads, not "unexpected extra argument"
        super().__init__(name, help=f"(unavailable: {error})", add_help_option=False,
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
        self.error = error

    def invoke(self, ctx: click.Context) -> None:
        raise click.ClickException(f"command {self.name!r} could not be loaded: {self.error!r}")


class EokitGroup(click.Group):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        import eokit.cli.commands as pkg

        for mod in pkgutil.iter_modules(pkg.__path__):
            name = mod.name.replace("_", "-")
            try:
                module = importlib.import_module(f"{pkg.__name__}.{mod.name}")
                cmd = module.command
            except Exception as exc:
                cmd = _BrokenCommand(name, exc)
            self.add_command(cmd, cmd.name or name)
        for ep in entry_points(group="eokit.commands"):
            try:
                self.add_command(ep.load(), ep.name)
            except Exception as exc:
                self.add_command(_BrokenCommand(ep.name, exc), ep.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return self.commands.get(cmd_name)


@click.group(cls=EokitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eokit")
def cli() -> None:
    """eokit: machine learning on Earth-observation imagery."""
    from eokit.cli.console import configure_console

    configure_console(0)  # every command: quiet terminal, library chatter to the log; -v/-q/-o refine it


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; eokit errors print as one clear line and exit with status 2.

    Tunes glibc's allocator first (``eokit.env.tune_allocator``): the heavy commands
    (bench, train, predict) free and reallocate large tensors all the time.
    """
    tune_allocator()
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        cli.main(args=args, prog_name="eokit", standalone_mode=False, obj={"argv": args})
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except EokitError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
