"""Config validation errors name the key and the allowed values; checkpoints refuse the wrong model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from eokit.cli.main import main
from eokit.errors import CheckpointMismatchError, ConfigError, ModelError
from eokit.models import DataContract, create_model
from eokit.train import load_checkpoint, load_weights, parse_config, save_checkpoint
from eokit.train.config import load_config

BASE = {"task": {"type": "classification"}, "model": {"backbone": "resnet18"},
        "data": {"dataset": "eurosat_rgb"}}


def _with(**sections: dict) -> dict:
    cfg = json.loads(json.dumps(BASE))
    for k, v in sections.items():
        cfg.setdefault(k, {}).update(v) if isinstance(v, dict) else cfg.__setitem__(k, v)
    return cfg


@pytest.mark.parametrize(("cfg", "needles"), [
    (_with(data={"batch_sise": 4}), ["data.batch_sise", "batch_size", "allowed keys"]),
    (_with(optim={"optimizer": "lion"}), ["optim.optimizer", "'adamw'", "'sgd'", "lion"]),
    (_with(task={"type": "segmentaton"}), ["task.type", "segmentation", "Did you mean"]),
    (_with(data={"dataset": "eurosat"}), ["data.dataset", "eurosat_rgb"]),
    (_with(trainer={"max_epochs": 0}), ["trainer.max_epochs", "greater than or equal to 1"]),
    (_with(data={"normalize": "zscore"}), ["data.normalize", "'auto'", "'dataset'"]),
    ({"task": {"type": "classification"}, "data": {"dataset": "eurosat_rgb"}}, ["missing required key 'model'"]),
    (_with(trainerr={"max_epochs": 1}), ["unknown key 'trainerr'", "'trainer'"]),
])
def test_config_errors_name_the_key_and_allowed_values(cfg: dict, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(cfg, "test.yaml")
    msg = str(info.value)
    for n in needles:
        assert n in msg, f"{n!r} not in: {msg}"


def test_task_and_model_shorthands() -> None:
    cfg = parse_config({"task": "segmentation", "model": "unet", "data": {"dataset": "sparcs_l8_cloud"}}, "t.yaml")
    assert cfg.task.type == "segmentation" and cfg.model.backbone == "unet" and cfg.model.head is None
    with pytest.raises(ConfigError, match="task.type"):  # a wrong shorthand is named as the long form would be
        parse_config({"task": "segmentaton", "model": "unet", "data": {"dataset": "sparcs_l8_cloud"}}, "t.yaml")


def test_yaml_overrides_and_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("task: {type: classification}\nmodel: {backbone: resnet18}\ndata: {dataset: eurosat_rgb}\n")
    cfg = load_config(path, ["trainer.max_epochs=3", "data.augment=[flip, rot90]", "name=x"])
    assert cfg.trainer.max_epochs == 3 and cfg.data.augment == ["flip", "rot90"] and cfg.out == Path("runs/x")
    assert main(["train", str(path), "--set", "trainer.precison=16"]) == 2
    assert "trainer.precison" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def _ckpt(tmp_path: Path, bands=("B02", "B03", "B04"), k: int = 3, backbone: str = "mobilecnn") -> tuple:
    model = create_model(backbone, task="classification", bands=bands, sensor="sentinel2_l1c", num_classes=k)
    folder = save_checkpoint(tmp_path / f"ck_{backbone}_{k}_{len(bands)}", model, {
        "model": model.config, "task": {"name": "classification", "num_classes": k, "class_names": None},
        "contract": DataContract(bands=tuple(bands), sensor="sentinel2_l1c", task="classification", num_outputs=k)})
    return model, folder


def test_checkpoint_roundtrip_is_exact_and_atomic(tmp_path: Path) -> None:
    model, folder = _ckpt(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]  # no temp files
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["format"] == "eokit-checkpoint/2" and cfg["eokit_version"] and len(cfg["weights_sha256"]) == 64
    again, meta = load_checkpoint(folder)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    assert meta["contract"]["bands"] == ["B02", "B03", "B04"]


def test_checkpoint_mismatch_lists_keys(tmp_path: Path) -> None:
    _, folder = _ckpt(tmp_path, k=3)
    other_head = create_model("mobilecnn", task="classification", bands=("B02", "B03", "B04"),
                              sensor="sentinel2_l1c", num_classes=5)
    with pytest.raises(CheckpointMismatchError, match=r"shape differs: head\S* checkpoint \(3"):
        load_weights(other_head, folder)
    other_arch = create_model("resnet18", task="classification", bands=("B02", "B03", "B04"),
                              sensor="sentinel2_l1c", num_classes=3)
    with pytest.raises(CheckpointMismatchError) as info:
        load_weights(other_arch, folder)
    msg = str(info.value)
    assert "mismatching keys" in msg and "missing in checkpoint: backbone" in msg and "unexpected in checkpoint" in msg
    four = create_model("mobilecnn", task="classification", bands=("B02", "B03", "B04", "B08"),
                        sensor="sentinel2_l1c", num_classes=3)
    with pytest.raises(CheckpointMismatchError, match=r"bands \['B02', 'B03', 'B04'\].*'B08'"):
        load_weights(four, folder, bands=("B02", "B03", "B04", "B08"))
    with pytest.raises(CheckpointMismatchError, match="shape differs"):
        load_weights(four, folder)  # without the band check the first conv's shape still differs


def test_corrupt_or_foreign_checkpoints_fail_clearly(tmp_path: Path) -> None:
    _, folder = _ckpt(tmp_path)
    with pytest.raises(ModelError, match="Lightning resume checkpoint"):
        load_checkpoint(tmp_path / "last.ckpt") if (tmp_path / "last.ckpt").touch() is None else None
    with pytest.raises(ModelError, match="not an eokit checkpoint"):
        load_checkpoint(tmp_path)
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_checkpoint(folder)


def test_format_1_checkpoints_still_load_with_their_contract(tmp_path: Path) -> None:
    """A config.json written before the data contract (top-level bands/normalization/classes) still loads."""
    from eokit.infer.checkpoint import load_for_inference

    model, folder = _ckpt(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.pop("contract")
    cfg.update(format="eokit-checkpoint/1", bands=["B02", "B03", "B04"], sensor="sentinel2_l1c",
               classes=["a", "b", "c"], normalization={"stats": {"B04": [0.3, 0.1], "blue": [0.1, 0.1],
                                                                 "B03": [0.2, 0.1]},
                                                       "scale": 1e-4, "offset": 0.0, "sensor": "sentinel2_l1c",
                                                       "target": False})
    (folder / "config.json").write_text(json.dumps(cfg))
    again, meta = load_checkpoint(folder)
    c = DataContract.from_config(meta)
    assert c.bands == ("B02", "B03", "B04") and c.mean == (0.1, 0.2, 0.3) and c.classes == ("a", "b", "c")
    _, contract = load_for_inference(folder)
    assert contract == c and contract.task == "classification" and contract.scale == 1e-4
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), again(x))
    cfg["normalisaton"] = cfg.pop("normalization")
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="config.json.*'normalisaton'"):
        load_checkpoint(folder)
    cfg["format"] = "eokit-checkpoint/9"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="eokit-checkpoint/9"):
        load_checkpoint(folder)
