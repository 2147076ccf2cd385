"""Suite YAML validation: built-in suites load; bad input names the key and the allowed values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from eokit.bench.baselines import with_baselines
from eokit.bench.config import BUILTIN_SUITES, load_suite, parse_suite
from eokit.errors import ConfigError


@pytest.mark.parametrize("name", BUILTIN_SUITES)
def test_builtin_suites_load(name: str) -> None:
    suite = load_suite(name)
    assert suite.name == name
    assert suite.models and suite.datasets
    assert len(suite.seeds) >= 3
    assert {p.name for p in suite.protocol_cfgs()} >= {"knn5", "knn20", "linear", "decoder", "finetune"}
    assert suite.robustness is not None and len(suite.robustness.corruptions) == 12
    if name == "full":
        assert len(suite.seeds) >= 5


def test_unknown_key_names_key_and_allowed_keys(tiny: Any) -> None:
    d = tiny()
    d["datasets"][0]["tile_size"] = 64
    with pytest.raises(ConfigError) as e:
        parse_suite(d, "s.yaml")
    msg = str(e.value)
    assert "datasets.0.tile_size" in msg and "'tile'" in msg and "Did you mean" in msg


def test_bad_protocol_lists_allowed_values(tiny: Any) -> None:
    d = tiny()
    d["protocols"] = ["knn5", "lineer"]
    with pytest.raises(ConfigError) as e:
        parse_suite(d, "s.yaml")
    assert "protocols.1" in str(e.value) and "'linear'" in str(e.value)


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("fractions", [0.0, 1.0], "fractions"),
    ("seeds", "zero", "seeds"),
    ("robustness", {"severities": [7]}, "robustness.severities"),
    ("robustness", {"corruptions": ["fog"]}, "robustness.corruptions.0"),
])
def test_bad_values(tiny: Any, key: str, value: object, needle: str) -> None:
    d = tiny()
    d[key] = value
    with pytest.raises(ConfigError, match=needle):
        parse_suite(d)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither a built-in suite"):
        load_suite(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_suite(bad)
    bad.write_text(yaml.safe_dump({"name": "x", "datasets": []}))
    with pytest.raises(ConfigError, match="models: required key is missing"):
        load_suite(bad)


def test_baselines_are_added_once(tiny: Any) -> None:
    suite = with_baselines(parse_suite(tiny()))
    names = [m.name for m in suite.models]
    assert names == ["cnn", "raw_pixels", "spectral_indices", "cnn.rgb"]
    assert with_baselines(suite).models == suite.models
    weighted = tiny()
    weighted["models"][0]["weights"] = "imagenet"
    names = [m.name for m in with_baselines(parse_suite(weighted)).models]
    assert "mobilecnn.random" in names
    off = tiny()
    off["baselines"] = False
    assert [m.name for m in with_baselines(parse_suite(off)).models] == ["cnn"]
