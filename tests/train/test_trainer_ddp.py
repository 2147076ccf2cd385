"""The trainer section's distributed settings (strategy, devices, num_nodes) reach Lightning's Trainer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

from eokit.cli.main import main
from eokit.errors import ConfigError
from eokit.train.config import load_config
from eokit.train.fit import TrainResult, _trainer

CONFIG = "task: {type: classification}\nmodel: {backbone: mobilecnn}\ndata: {dataset: eurosat_rgb}\n"


def _cfg(tmp_path: Path, *overrides: str):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    return load_config(path, ["trainer.progress_bar=false", *overrides])


def test_ddp_two_nodes_two_cpu_processes_each(tmp_path: Path) -> None:
    """``--set trainer.strategy=ddp --set trainer.devices=2 --set trainer.num_nodes=2`` on CPU."""
    cfg = _cfg(tmp_path, "trainer.accelerator=cpu", "trainer.strategy=ddp", "trainer.devices=2",
               "trainer.num_nodes=2")
    trainer = _trainer(cfg, [], tmp_path)
    assert isinstance(trainer.strategy, DDPStrategy)
    assert trainer.num_devices == 2 and trainer.num_nodes == 2
    assert trainer.world_size == 4  # every process of both nodes joins one process group
    assert [d.type for d in trainer.strategy.parallel_devices] == ["cpu", "cpu"]


def test_cli_set_passes_the_ddp_settings_through(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    assert main(["train", str(path), "--set", "trainer.strategy=ddp", "--set", "trainer.devices=4",
                 "--set", "trainer.num_nodes=3", "--check"]) == 0
    trainer = json.loads(capsys.readouterr().out)["trainer"]
    assert (trainer["strategy"], trainer["devices"], trainer["num_nodes"]) == ("ddp", 4, 3)


def test_default_trainer_is_one_process(tmp_path: Path) -> None:
    trainer = _trainer(_cfg(tmp_path, "trainer.accelerator=cpu"), [], tmp_path)
    assert isinstance(trainer.strategy, SingleDeviceStrategy)
    assert trainer.world_size == 1 and trainer.num_nodes == 1


@pytest.mark.parametrize(("override", "needle"), [
    ("trainer.num_nodes=0", "greater than or equal to 1"),
    ("trainer.strategy=horovod", "'ddp'"),
])
def test_bad_distributed_settings_name_the_key(tmp_path: Path, override: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        _cfg(tmp_path, override)
    assert override.split("=")[0] in str(info.value) and needle in str(info.value)


@pytest.mark.parametrize("rank", [0, 1])
def test_only_global_rank_zero_prints_the_result(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch, rank: int) -> None:
    """Every DDP process runs ``eokit train``; one JSON result line comes out, from rank 0."""
    import eokit.train

    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    result = TrainResult(tmp_path, tmp_path / "checkpoint", {"oa": 0.5}, {}, 1, 0, False, global_rank=rank)
    monkeypatch.setattr(eokit.train, "train", lambda cfg: result)
    assert main(["train", str(path), "-o", str(tmp_path / "run"), "-q"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    if rank:
        assert lines == []
    else:
        assert json.loads(lines[-1])["val"] == {"oa": 0.5}
