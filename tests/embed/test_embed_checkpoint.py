"""`eokit embed CHECKPOINT`: an `eokit train` checkpoint's backbone, normalised by its contract."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from eokit.cli.main import main
from eokit.embed import read_embeddings
from eokit.errors import ConfigError

BANDS = ("B04", "B03", "B02", "B08")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from eokit.models import create_model
    from eokit.train import save_checkpoint

    torch.manual_seed(0)
    model = create_model("unet", task="classification", bands=BANDS, num_classes=2, sensor="sentinel2_l1c",
                         base_channels=8, depth=3)
    folder = tmp_path_factory.mktemp("ckpt") / "checkpoint"
    meta = {"model": model.config, "task": {"name": "classification", "num_classes": 2},
            "contract": model.data_contract}
    return save_checkpoint(folder, model, meta), model


def test_checkpoint_backbone_embeds_like_the_model(tmp_path, checkpoint):
    folder, model = checkpoint
    rng = np.random.default_rng(0)
    data = rng.integers(200, 3000, size=(4, 32, 64)).astype(np.uint16)
    with rasterio.open(tmp_path / "s.tif", "w", driver="GTiff", width=64, height=32, count=4, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(500000, 5000000, 10, 10)) as ds:
        ds.write(data)
        for i, b in enumerate(BANDS, start=1):
            ds.set_band_description(i, b)
    out = tmp_path / "e.parquet"
    assert main(["embed", str(folder), str(tmp_path / "s.tif"), "-o", str(out), "--chip", "32"]) in (0, None)
    store = read_embeddings(out)
    assert len(store) == 2 and store.meta["model"] == "unet.random@checkpoint"
    # the same numbers as the trained model's own encoder on the normalised chip
    norm = model.data_contract.module()
    x = norm(torch.from_numpy(data[:, :, 32:64].astype(np.float32))[None])
    with torch.inference_mode():
        want = model.eval().encode(x)[0].pooled[0].numpy()
    k = list(store.table["chip_id"]).index("s/r0c1")
    np.testing.assert_allclose(store.vectors[k], want, rtol=1e-4, atol=1e-5)


def test_checkpoint_rejects_other_bands(checkpoint):
    from eokit.embed import as_embedder

    with pytest.raises(ConfigError, match="trained on bands"):
        as_embedder(checkpoint[0], bands=("B05",))
    with pytest.raises(ConfigError, match="no checkpoint at"):
        as_embedder("runs/nowhere/checkpoint")
