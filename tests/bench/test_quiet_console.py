"""A quiet console: library chatter (Dask, Lightning, deprecations) goes to OUT/eokit.log, not the terminal."""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path

import pytest
import yaml
from bench_tiny import tiny_suite_dict

from eokit.cli.console import LOG_FILENAME, configure_console
from eokit.cli.main import main

# a line a library printed on its own: a logging prefix, a Python warning, Lightning's chatter
THIRD_PARTY = re.compile(r"INFO distributed|WARNING distributed|litlogger|GPU available|Warning:|"
                         r"DeprecationWarning|site-packages/")


def _third_party_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if THIRD_PARTY.search(line)]


@pytest.fixture
def restore_logging():
    """Put the root handlers back after a test reconfigured logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
    logging.captureWarnings(False)
    os.environ.pop("EOKIT_LOG_FILE", None)
    os.environ.pop("EOKIT_LOG_PID", None)


def test_console_routes_library_records_to_the_log(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   restore_logging: None) -> None:
    path = configure_console(0, tmp_path)
    assert path == tmp_path / LOG_FILENAME
    logging.getLogger("distributed.scheduler").info("State start")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").info("Tip: try installing litlogger")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        configure_console(0, tmp_path)  # takes the warnings hook back from pytest's catch_warnings
        warnings.warn_explicit("old api is deprecated", DeprecationWarning, "/x/site-packages/lib/mod.py", 3)
    logging.getLogger("eokit.bench.runner").warning("dataset x skipped: not found")
    logging.getLogger("distributed.nanny").error("worker died")
    err = capsys.readouterr().err
    assert "warning: dataset x skipped" in err and "worker died" in err  # eokit warnings, any error
    assert "State start" not in err and "litlogger" not in err and "deprecated" not in err
    log = path.read_text()
    for text in ("State start", "litlogger", "old api is deprecated", "dataset x skipped", "worker died"):
        assert text in log, text
    # -v brings the libraries back; -q keeps errors only
    configure_console(1, tmp_path)
    logging.getLogger("distributed.scheduler").info("Scheduler at tcp://x")
    assert "INFO distributed.scheduler: Scheduler at" in capsys.readouterr().err
    configure_console(-1, tmp_path)
    logging.getLogger("eokit.x").warning("not shown")
    logging.getLogger("eokit.x").error("shown")
    err = capsys.readouterr().err
    assert "not shown" not in err and "shown" in err


def test_library_handlers_attached_at_import_are_adopted(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         restore_logging: None) -> None:
    lg = logging.getLogger("lightning.pytorch")
    own = logging.StreamHandler()  # what lightning does when imported before logging is configured
    lg.addHandler(own)
    lg.propagate = False
    try:
        configure_console(0, tmp_path)
        assert own not in lg.handlers and lg.propagate
        lg.info("GPU available: False")
        assert "GPU available" not in capsys.readouterr().err
        assert "GPU available" in (tmp_path / LOG_FILENAME).read_text()
    finally:
        lg.removeHandler(own)


def test_worker_warnings_go_to_the_commands_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    from eokit.env import LOG_FILE_ENV, LOG_PID_ENV, route_worker_warnings

    log = tmp_path / LOG_FILENAME
    monkeypatch.setenv(LOG_FILE_ENV, str(log))
    monkeypatch.setenv(LOG_PID_ENV, str(os.getpid()))
    route_worker_warnings()  # the console's own process routes its warnings itself
    assert not any(getattr(h, "_eokit_worker", False) for h in logging.getLogger("py.warnings").handlers)
    monkeypatch.setenv(LOG_PID_ENV, "1")  # as in a worker process
    pw = logging.getLogger("py.warnings")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(False)
            route_worker_warnings()
            route_worker_warnings()  # idempotent: one handler
            assert sum(getattr(h, "_eokit_worker", False) for h in pw.handlers) == 1
            warnings.warn_explicit("torch.foo is deprecated", FutureWarning, "/x/site-packages/torch/a.py", 1)
        assert "deprecated" not in capsys.readouterr().err
        assert "[worker " in log.read_text() and "torch.foo is deprecated" in log.read_text()
    finally:
        for h in [h for h in pw.handlers if getattr(h, "_eokit_worker", False)]:
            pw.removeHandler(h)
            h.close()
        pw.propagate = True


@pytest.mark.slow
def test_train_and_bench_keep_the_terminal_quiet(tmp_path: Path, mirror: Path, cache: Path,
                                                 capfd: pytest.CaptureFixture[str], restore_logging: None) -> None:
    cfg = {"name": "quiet", "seed": 0, "task": {"type": "classification"},
           "model": {"backbone": "mobilecnn", "options": {"width": 0.25}},
           "data": {"dataset": "image_folder", "root": str(mirror / "classification/eurosat_ms_subset"),
                    "options": {"sensor": "sentinel2_l1c"}, "batch_size": 8, "crop_size": 32,
                    "max_samples": {"train": 16, "val": 8, "test": 8}},
           "trainer": {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1,
                       "limit_test_batches": 1, "log_every_n_steps": 1},
           "output_dir": str(tmp_path / "run")}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "train.yaml")]) == 0
    cap = capfd.readouterr()
    assert _third_party_lines(cap.err) == [], cap.err
    assert cap.out.strip().splitlines()[-1].startswith("{")  # stdout: the result only
    assert "oa" in cap.err and "eokit.log" in cap.err  # the one-screen summary
    log = (tmp_path / "run" / LOG_FILENAME).read_text()
    assert "litlogger" in log and "GPU available" in log

    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(tiny_suite_dict(robustness=False, seeds=(0,))))
    out = tmp_path / "bench"
    assert main(["bench", "--suite", str(suite), "-o", str(out), "--workers", "1"]) == 0
    cap = capfd.readouterr()
    assert _third_party_lines(cap.err) == [], cap.err
    assert "computed" in cap.err and "leaderboard" in cap.out
    log = (out / LOG_FILENAME).read_text()
    assert "INFO distributed" in log
