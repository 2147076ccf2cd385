"""``eokit models list|info|heads``."""

from __future__ import annotations

import json

from eokit.cli.main import main
from eokit.models import list_models


def test_models_list_table_and_json(capsys) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("resnet18.random", "resnet50.imagenet", "dofa_small.random", "unet.random"):
        assert name in out
    assert main(["models", "list", "--json", "--pretrained"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["source"] != "random" for r in rows)
    assert len(rows) == len(list_models(pretrained=True))


def test_models_info(capsys) -> None:
    assert main(["models", "info", "resnet18.imagenet", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["bands"] == ["R", "G", "B"] and d["num_features"] == 512 and d["feature_info"][-1]["stride"] == 32
    assert d["mean"] == [0.485, 0.456, 0.406] and d["license"]
    assert main(["models", "info", "dofa_tiny"]) == 0
    out = capsys.readouterr().out
    assert "any (adapted by name)" in out and "True" in out


def test_models_heads_and_unknown_name(capsys) -> None:
    assert main(["models", "heads"]) == 0
    out = capsys.readouterr().out
    assert "upernet" in out and "faster_rcnn" in out
    assert main(["models", "info", "resnet19"]) == 2
    assert "Did you mean" in capsys.readouterr().err
