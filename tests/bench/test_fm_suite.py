"""The `fm` suite: published foundation models as entries; offline it says per model what is missing."""

from __future__ import annotations

from pathlib import Path

import yaml
from bench_tiny import tiny_suite_dict

from eokit.bench.config import SuiteConfig, load_suite
from eokit.bench.features import weights_problem
from eokit.bench.runner import run_suite
from eokit.models import get_weight_spec


def test_fm_suite_names_published_models_of_every_family() -> None:
    suite = load_suite("fm")
    published = [m for m in suite.models if m.arch and get_weight_spec(m.arch).pretrained]
    families = {get_weight_spec(m.arch).family for m in published if m.arch}
    assert len(families) >= 12, sorted(families)
    assert any(m.role == "reference" and m.arch == "resnet50" for m in suite.models)  # the random-init twin


def test_fm_suite_offline_leaves_out_each_model_with_its_url(cache: Path) -> None:
    suite = load_suite("fm")
    for m in suite.models:
        spec = get_weight_spec(m.arch or "")
        why = weights_problem(m, suite.allow_noncommercial)
        if spec.pretrained:
            assert why is not None and spec.url is not None and spec.url in why, (m.name, why)
            assert str(cache) in why  # where the file can be placed by hand
        else:
            assert why is None


def test_fm_models_left_out_offline_and_the_rest_runs(cache: Path, mirror: Path, tmp_path: Path) -> None:
    d = tiny_suite_dict(name="fm_offline", seeds=(0,), robustness=False)
    fm = yaml.safe_load((Path(__file__).resolve().parents[2] / "src/eokit/bench/suites/fm.yaml").read_text())
    d["models"] += [m for m in fm["models"] if m["name"] in ("dofa_base", "scalemae_l")]
    d["allow_noncommercial"] = False
    summary = run_suite(SuiteConfig.model_validate(d), tmp_path / "out", workers=0)
    left = {m: why for m, ds, why in summary.skipped if ds == "*"}
    assert set(left) == {"dofa_base", "scalemae_l"}
    assert "cannot download" in left["dofa_base"] and "non-commercial" in left["scalemae_l"]
    assert summary.rows > 0  # the tiny CNN and the baselines still ran
