"""``eokit models list --pretrained`` and ``eokit models info`` for the SSL4EO-S12, DeCUR and SoftCon entries."""

from __future__ import annotations

import json

from eokit.cli.main import main


def test_models_list_shows_published_family_and_compact_bands(capsys) -> None:
    assert main(["models", "list", "--pretrained"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "resnet50.softcon_s2" in line)
    assert "SoftCon" in row and "B01…B12 (13)" in row and "CC-BY-4.0" in row and "10" in row
    row = next(line for line in out.splitlines() if "resnet50.decur_s1" in line)
    assert "DeCUR" in row and "VV,VH" in row and "Apache-2.0" in row
    assert "resnet18.imagenet" in out  # timm ImageNet weights keep their architecture family
    assert next(line for line in out.splitlines() if "resnet18.imagenet" in line).count("resnet") >= 2


def test_models_info_reads_the_published_facts(capsys) -> None:
    assert main(["models", "info", "vit_small_patch16_224.ssl4eo_s1_mae", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["family"] == "SSL4EO-S12" and d["architecture"].endswith("[vit]")
    assert d["bands"] == ["VV", "VH"] and d["sensor"] == "sentinel1_grd_db" and d["mean"] == [-12.59, -20.26]
    assert d["sha256"] == "none published" and d["ssl_method"] == "mae" and d["patch_size"] == 16
    assert d["num_features"] == 384 and [f["stride"] for f in d["feature_info"]] == [16] * 4
    assert d["proof"].startswith("equivalence: torchgeo 0.8.1")
    assert main(["models", "info", "resnet50.ssl4eo_s2_moco"]) == 0
    out = capsys.readouterr().out
    assert "B01, B02, B03" in out and "442.7" in out and "SSL4EO-S12" in out and "sha256_prefix" in out
    assert "df8b932e" in out and "divide by 10000" in out
    assert "resnet50_sentinel2_all_moco-df8b932e.pth" in out.replace("\n", "").replace("│", "").replace(" ", "")
