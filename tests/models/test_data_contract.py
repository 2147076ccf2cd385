"""DataContract: one schema-versioned form, strict keys, one legacy adapter for older metadata."""

from __future__ import annotations

import json

import pytest

from eokit.errors import BandError, ConfigError, ModelError
from eokit.models import DataContract, create_model, get_weight_spec
from eokit.models.contract import SCHEMA
from eokit.sensors import get_sensor

S2 = "sentinel2_l1c"


def _contract() -> DataContract:
    return DataContract(bands=("B04", "B03", "B08"), sensor=S2, wavelengths=(664.6, 559.8, 832.8),
                        mean=(0.1, 0.2, 0.3), std=(0.05, 0.04, 0.1), scale=1e-4, gsd=10.0, input_size=64,
                        task="segmentation", classes=("land", "water"))


def test_json_roundtrip_is_exact_and_versioned() -> None:
    c = _contract()
    d = json.loads(json.dumps(c.to_dict()))
    assert d["schema"] == SCHEMA and d["bands"] == ["B04", "B03", "B08"]
    again = DataContract.from_dict(d)
    assert again == c and hash(again) == hash(c)
    assert DataContract.from_config({"format": "eokit-checkpoint/2", "model": {}, "contract": d}) == c
    assert c.n_outputs == 2 and c.is_classifier and c.output_names(2) == ["land", "water"]
    assert c.output_names(3) == ["class_0", "class_1", "class_2"]


def test_unknown_or_misspelled_keys_are_refused_by_name() -> None:
    d = _contract().to_dict()
    with pytest.raises(ConfigError, match="'bnads'.*Did you mean 'bands'"):
        DataContract.from_dict({**{k: v for k, v in d.items() if k != "bands"}, "bnads": ["B04"]})
    with pytest.raises(ConfigError, match="'normalisation'"):
        DataContract.from_dict({**d, "normalisation": {}})
    with pytest.raises(ConfigError, match="schema 'eokit-data-contract/99'"):
        DataContract.from_dict({**d, "schema": "eokit-data-contract/99"})
    with pytest.raises(ConfigError, match="'normalizaton'"):  # the legacy forms are strict too
        DataContract.from_dict({"bands": ["B04"], "normalizaton": None})
    with pytest.raises(ConfigError, match="'stat'"):
        DataContract.from_dict({"bands": ["B04"], "normalization": {"stat": {"B04": [0.1, 0.1]}}})
    with pytest.raises(ConfigError, match="both 'normalization' and 'normalisation'"):
        DataContract.from_dict({"bands": ["B04"], "normalization": None, "normalisation": None})


def test_invalid_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match="mean has 2 values for 3 bands"):
        DataContract(bands=("a", "b", "c"), mean=(0, 0), std=(1, 1))
    with pytest.raises(ConfigError, match="std must be > 0"):
        DataContract(bands=("a",), mean=(0,), std=(0,))
    with pytest.raises(ConfigError, match="mean without std"):
        DataContract(bands=("a",), mean=(0,))
    with pytest.raises(ConfigError, match="activation 'relu'"):
        DataContract(bands=("a",), activation="relu")
    with pytest.raises(ConfigError, match="num_outputs=3"):
        DataContract(bands=("a",), classes=("x", "y"), num_outputs=3)
    with pytest.raises(ConfigError, match="at least one band"):
        DataContract(bands=())


def test_legacy_checkpoint_config_format_1() -> None:
    """config.json written before the contract: top-level bands/sensor/normalization/classes."""
    cfg = {
        "format": "eokit-checkpoint/1", "eokit_version": "0.1", "git_sha": None, "created": "x",
        "model": {"backbone": "mobilecnn"}, "task": {"name": "segmentation", "num_classes": 2, "class_names": None},
        "bands": ["B4", "B3"], "sensor": "landsat8",
        "normalization": {"stats": {"red": [0.1, 0.05], "B03": [0.2, 0.04]}, "scale": 2e-5, "offset": -0.1,
                          "sensor": "landsat8", "target": False},
        "classes": ["land", "water"], "dataset": "d", "seed": 0, "train_config": {}, "epoch": 3,
        "metrics": {}, "monitor": "val/oa", "weights_sha256": "0" * 64,
    }
    c = DataContract.from_config(cfg)
    assert c.bands == ("B4", "B3") and c.mean == (0.1, 0.2) and c.std == (0.05, 0.04)  # statistics by name
    assert (c.scale, c.offset, c.sensor) == (2e-5, -0.1, "landsat8")
    assert c.task == "segmentation" and c.classes == ("land", "water") and c.output_activation == "softmax"
    assert DataContract.from_dict(c.to_dict()) == c
    raw = DataContract.from_config({**cfg, "normalization": None})
    assert not raw.normalizes and raw.normalizer() is None and raw.module() is None
    with pytest.raises(ModelError, match="no normalisation statistics for bands"):
        DataContract.from_config({**cfg, "bands": ["B4", "B5"]})


def test_legacy_model_contract_and_data_config_forms() -> None:
    c = DataContract.from_dict({"bands": ["a", "b"], "normalisation": {"mean": [1, 2], "std": [3, 4]},
                                "task": "pixel_regression", "targets": ["h"]})
    assert c.mean == (1.0, 2.0) and c.std == (3.0, 4.0) and not c.is_classifier and c.output_names(1) == ["h"]
    c = DataContract.from_dict({"data": {"bands": ["a", "b"], "mean": {"b": 2, "a": 1}, "std": {"a": 3, "b": 4}},
                                "task": {"name": "classification", "num_classes": 5}})
    assert c.mean == (1.0, 2.0) and c.n_outputs == 5 and c.classes is None
    old_data_config = {"weights": "resnet18.random", "bands": ["B04"], "sensor": S2, "mean": [0.1], "std": [0.2],
                       "scale": 1e-4, "offset": 0.0, "gsd": None, "input_size": 224}
    c = DataContract.from_dict(old_data_config)
    assert c.input_size == 224 and c.scale == 1e-4 and c.task is None and c.output_activation == "softmax"
    with pytest.raises(ModelError, match="no 'bands'"):
        DataContract.from_dict({"task": "segmentation"})


def test_weight_spec_backbone_and_model_derive_the_contract() -> None:
    spec = get_weight_spec("resnet18.random")
    with pytest.raises(ModelError, match="accept any bands"):
        spec.data_contract()
    s2 = get_sensor(S2)
    bands = tuple(s2.band(b) for b in ("B04", "B08"))
    c = spec.data_contract(bands, S2)
    assert c.mean == tuple(s2.stats(["B04", "B08"])[0]) and c.scale == s2.scale and c.input_size == spec.input_size
    assert spec.transforms(bands, S2).to_dict() == c.normalizer().to_dict()
    model = create_model("mobilecnn", task="segmentation", bands=("B04", "B08"), sensor=S2, num_classes=3, width=0.5)
    mc = model.data_contract
    assert mc.task == "segmentation" and mc.n_outputs == 3 and mc.mean == c.mean
    assert mc.wavelengths == (s2.band("B04").center_nm, s2.band("B08").center_nm)
    inside = create_model("mobilecnn", task="segmentation", bands=("B04", "B08"), sensor=S2, num_classes=3,
                          width=0.5, normalize=True)
    assert not inside.data_contract.normalizes  # it normalises itself: feed raw values


def test_with_sensor_metadata_fills_wavelengths() -> None:
    c = DataContract(bands=("B04", "dsm"), sensor=S2).with_sensor_metadata()
    assert c.wavelengths == (get_sensor(S2).band("B04").center_nm, None)
    assert DataContract(bands=("a",), sensor="no_such_sensor").with_sensor_metadata().wavelengths is None
    with pytest.raises(BandError, match="B05"):
        _contract().normalizer().apply(__import__("torch").zeros(1, 2, 2), ["B05"])
