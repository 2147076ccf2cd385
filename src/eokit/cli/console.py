"""One quiet console for every command.

The terminal gets what needs the user: eokit's own warnings and errors, a
progress bar (stage, count, elapsed, ETA) and the command's summary. Everything
else that libraries say — Dask's ``INFO distributed…`` lines, Lightning's
"GPU available" lines and its litlogger tip, third-party deprecation warnings —
goes to a log file, ``eokit.log`` in the command's output folder (or in
``$EOKIT_CACHE`` for commands without one). ``-v`` brings all of it back to the
terminal; ``-q`` leaves errors only.

How: one pair of handlers on the root logger (terminal + file), Python warnings
routed through logging (``logging.captureWarnings``), and the stream handlers
that Lightning and Distributed attach to their own loggers at import time
removed so their records reach the root (a library imported later sees the root
handlers and attaches none).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from eokit.env import LOG_FILE_ENV, LOG_PID_ENV

LOG_FILENAME = "eokit.log"
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
VERBOSE_FORMAT = "%(levelname)s %(name)s: %(message)s"

#: Loggers that attach their own stderr handler when imported before eokit configures logging.
ADOPTED_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning",
                   "lightning_fabric", "distributed", "distributed.client", "tornado",
                   "tornado.application", "bokeh")

_EOKIT_DIR = str(Path(__file__).resolve().parent.parent)
_MARK = "_eokit_console"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (click's CliRunner and pytest swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns it
        pass


class _LazyFileHandler(logging.FileHandler):
    """A log file created (with its folder) on the first record, appended to by later runs."""

    def _open(self) -> Any:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def is_eokit_record(record: logging.LogRecord) -> bool:
    """True for eokit's own log records and for Python warnings raised in eokit's code."""
    if record.name == "eokit" or record.name.startswith("eokit."):
        return True
    if record.name == "py.warnings":
        return record.getMessage().startswith(_EOKIT_DIR)
    return False


class TerminalFilter(logging.Filter):
    """What reaches the terminal at a verbosity: -1 errors, 0 eokit warnings + any error, 1 everything."""

    def __init__(self, verbosity: int) -> None:
        super().__init__()
        self.verbosity = verbosity

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbosity > 0:
            return True
        if self.verbosity < 0:
            return record.levelno >= logging.ERROR
        return record.levelno >= (logging.WARNING if is_eokit_record(record) else logging.ERROR)


class _QuietFormatter(logging.Formatter):
    """``warning: message`` (eokit's voice) on a normal run."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _adopt_library_loggers() -> None:
    """Drop the terminal handlers libraries attached to their loggers, so records reach the root."""
    for name in ADOPTED_LOGGERS:
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) \
                    and getattr(h, "stream", None) in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__):
                lg.removeHandler(h)
        lg.propagate = True


def default_log_dir() -> Path:
    """Where commands without an output folder log: ``$EOKIT_CACHE`` (or ~/.cache/eokit-work)."""
    from eokit.env import cache_dir

    return cache_dir()


def configure_console(verbosity: int = 0, log_dir: str | os.PathLike[str] | None = None) -> Path:
    """Route all logging and warnings: terminal by ``verbosity``, everything (INFO+) to ``LOG_DIR/eokit.log``.

    Safe to call again (a command calls it once its output folder is known): the previous
    handlers are replaced. Returns the log file's path.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
            h.close()
    term = _StderrHandler()
    term.setLevel(logging.INFO)
    term.addFilter(TerminalFilter(verbosity))
    term.setFormatter(logging.Formatter(VERBOSE_FORMAT) if verbosity > 0 else _QuietFormatter())
    path = Path(log_dir if log_dir is not None else default_log_dir()) / LOG_FILENAME
    file = _LazyFileHandler(path, mode="a", encoding="utf-8", delay=True)
    file.setLevel(logging.INFO)
    file.setFormatter(logging.Formatter(FILE_FORMAT))
    for h in (term, file):
        setattr(h, _MARK, True)
        root.addHandler(h)
    root.setLevel(logging.INFO)
    logging.getLogger("eokit").setLevel(logging.INFO)
    os.environ[LOG_FILE_ENV] = str(path)  # Dask workers started from here log their warnings there too
    os.environ[LOG_PID_ENV] = str(os.getpid())
    if warnings.showwarning is not getattr(logging, "_showwarning", None):
        logging.captureWarnings(False)  # someone (pytest, a library) replaced the hook since: take it again
    logging.captureWarnings(True)
    pw = logging.getLogger("py.warnings")  # warnings reach the root handlers (not a worker-only file)
    for h in [h for h in pw.handlers if getattr(h, "_eokit_worker", False)]:
        pw.removeHandler(h)
        h.close()
    pw.propagate = True
    _adopt_library_loggers()
    return path


def log_file() -> Path | None:
    """The log file the console writes to now (None before :func:`configure_console`)."""
    for h in logging.getLogger().handlers:
        if getattr(h, _MARK, False) and isinstance(h, logging.FileHandler):
            return Path(h.baseFilename)
    return None


def progress_bar(console: Console, stage: str, *, disable: bool = False) -> Progress:
    """A progress bar: stage, bar, done/total, elapsed, ETA, then the current item."""
    return Progress(TextColumn(f"[bold]{stage}[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.description}"),
                    console=console, transient=False, disable=disable)
