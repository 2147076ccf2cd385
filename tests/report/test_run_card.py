"""The run card renders in the HTML report (own section) with machine, git sha, stage times, data and models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eokit.bench.runcard import (
    RUNCARD_FILENAME,
    StageClock,
    machine_info,
    read_run_card,
    set_stage,
    task_stream_seconds,
    write_run_card,
)
from eokit.bench.store import git_sha
from eokit.cli.main import main
from eokit.errors import ConfigError


def _card() -> dict:
    clock = StageClock()
    clock.add("data loading", 12.25)
    clock.add("feature extraction", 80.5)
    clock.add("protocol knn5", 3.0)
    clock.add("protocol knn5", 1.5)
    clock.add("protocol linear", 7.75)
    return {
        "run_id": "20260101T000000Z-abcdef", "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:02:00+00:00", "command": "eokit bench --suite quick -o out",
        "suite": "quick", "config_hash": "0123456789abcdef", "machine": machine_info(),
        "data": {"eurosat_rgb": {"root": "/data/eurosat", "train": {"split": "train", "samples": 1000,
                                                                 "source_items": 1000, "sha256": "f" * 64,
                                                                 "list": "splits/eurosat_rgb.train.txt"},
                                 "test": {"split": "test", "samples": 500, "source_items": 500,
                                          "sha256": "e" * 64}},
                 "dubai": {"root": "/data/dubai", "unscored": "nothing scores it: a segmentation dataset takes the "
                           "protocols ['decoder']; the suite has ['knn5']"}},
        "models": {"resnet18": {"kind": "backbone", "arch": "resnet18", "weights": "random", "init_seed": 0,
                                "state_dict_sha256": "1234abcd5678ef90", "hashed_on": "eurosat_rgb (3 bands)"}},
        "protocols": {"knn5": {"name": "knn5", "fractions": [1.0], "seeds": [0, 1]}},
        "seeds": [0, 1], "stages": clock.seconds, "stage_clock": clock.mode, "wall_s": 104.0,
    }


def test_machine_info_names_the_checkout() -> None:
    m = machine_info()
    assert m["git_sha"] == git_sha() and m["cores"] >= 1 and m["python"] and "torch" in m["libraries"]


def test_report_renders_the_run_card(bench_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "res"
    shutil.copytree(bench_dir, folder)
    write_run_card(_card(), folder)
    set_stage(folder, "report", 2.5)
    assert (folder / "runs" / "20260101T000000Z-abcdef.json").is_file()
    assert read_run_card(folder)["stages"]["report"] == 2.5
    assert main(["report", str(folder), "-o", str(tmp_path / "r.html"), "--n-boot", "100", "-q"]) == 0
    page = (tmp_path / "r.html").read_text()
    card = page[page.index('id="run-card"'):]
    assert git_sha() in card and "eokit bench --suite quick -o out" in card
    for stage, secs in (("data loading", "12.2"), ("feature extraction", "80.5"), ("protocol knn5", "4.5"),
                        ("protocol linear", "7.8"), ("report", "2.5")):
        assert f'data-stage="{stage}"><td class="l">{stage}</td><td>{secs}</td>' in card, stage
    assert "/data/eurosat" in card and "f" * 64 in card and "splits/eurosat_rgb.train.txt" in card
    dubai = card[card.index('data-dataset="dubai"'):]
    assert "/data/dubai" in dubai and "not scored: nothing scores it: a segmentation dataset" in dubai
    assert "1234abcd5678ef90" in card and "random (seed 0)" in card and "seeds=[0, 1]" in card
    # each capability group is listed with its (GEO-Bench-2) definition and its datasets
    groups = page[page.index('id="group-members"'):page.index('id="run-card"')]
    assert "more than one timestamp used as input" in groups and 'data-group="Multi-Temporal"' in groups


def test_report_without_a_run_card_has_no_section(cli_report: tuple[Path, str]) -> None:
    assert 'id="run-card"' not in cli_report[0].read_text()


def test_bad_run_card_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / RUNCARD_FILENAME).write_text(json.dumps({"stages": {}}))
    with pytest.raises(ConfigError, match="not an eokit run card"):
        read_run_card(tmp_path)


def test_task_stream_seconds_sums_compute_only() -> None:
    records = [{"key": "a", "startstops": [{"action": "transfer", "start": 0, "stop": 5},
                                           {"action": "compute", "start": 5, "stop": 7.5}]},
               {"key": "a", "startstops": [{"action": "compute", "start": 10, "stop": 11}]},
               {"key": "b", "startstops": []}]
    assert task_stream_seconds(records) == {"a": 3.5}
