"""Write the SatMAE / SatMAE++ key manifests from the upstream model definitions at pinned commits.

Usage (needs git mirrors of the two repositories, e.g. from ``git clone --mirror``)::

    python tests/data/fm_manifests/make_satmae_manifests.py SATMAE_GIT_DIR SATMAE_PP_GIT_DIR

Each upstream file is read with ``git show COMMIT:PATH`` into a temporary folder and imported; the
pretraining model is built on the meta device (shapes only) and every key of its state dict is written
under ``model.``, as the repositories' ``misc.save_model`` nests it in the published ``.pth`` files.
timm >= 0.9 no longer takes the ``qk_scale`` argument these files pass to ``Block``; it is dropped
(it was ``None``, the default, and owns no parameters), and ``numpy.float`` (removed in NumPy 1.24, used by
``util/pos_embed.py``) is restored as the builtin ``float`` it aliased.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import timm.models.vision_transformer as tvt

OUT = Path(__file__).resolve().parent
SATMAE = ("sustainlab-group/SatMAE", "e31c11fa1bef6f9a9aa3eb49e8637c8b8952ba5e")
SATMAE_PP = ("techmn/satmae_pp", "ee173bf50247d3dac16e25077095363001106cb9")

# manifest name -> (repo, module path, builder, builder kwargs, eokit weights entries)
MANIFESTS = {
    "satmae_group_base_fmow_sentinel": (SATMAE, "models_mae_group_channels.py", "mae_vit_base_patch16_dec512d8b",
                                        {"img_size": 96, "patch_size": 8, "in_chans": 10},
                                        ["satmae_group_base.fmow_sentinel"]),
    "satmae_group_large_fmow_sentinel": (SATMAE, "models_mae_group_channels.py", "mae_vit_large_patch16_dec512d8b",
                                         {"img_size": 96, "patch_size": 8, "in_chans": 10},
                                         ["satmae_group_large.fmow_sentinel"]),
    "satmae_large_fmow_rgb": (SATMAE, "models_mae.py", "mae_vit_large_patch16_dec512d8b",
                              {"img_size": 224, "patch_size": 16, "in_chans": 3}, ["satmae_large_patch16.fmow_rgb"]),
    "satmae_temporal_large_fmow_rgb": (SATMAE, "models_mae_temporal.py", "mae_vit_large_patch16_dec512d8b",
                                       {"img_size": 224, "in_chans": 3},  # the builder fixes patch 16
                                       ["satmae_temporal_large_patch16.fmow_temporal"]),
    "satmaepp_group_large_fmow_sentinel": (SATMAE_PP, "models_mae_group_channels.py",
                                           "mae_vit_large_patch16_dec512d8b",
                                           {"img_size": 96, "patch_size": 8, "in_chans": 10},
                                           ["satmaepp_group_large.fmow_sentinel"]),
    "satmaepp_large_fmow_rgb": (SATMAE_PP, "models_mae.py", "mae_vit_large_patch16_dec512d8b",
                                {"img_size": 224, "patch_size": 16, "in_chans": 3},
                                ["satmaepp_large_patch16.fmow_rgb"]),
}


class _Block(tvt.Block):
    def __init__(self, *args, qk_scale=None, **kwargs):
        super().__init__(*args, **kwargs)


def _extract(git_dir: str, commit: str, paths: list[str], dest: Path) -> None:
    for p in paths:
        text = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{p}"], check=True,
                              capture_output=True, text=True).stdout
        (dest / p).parent.mkdir(parents=True, exist_ok=True)
        (dest / p).write_text(text)


def main(satmae_git: str, satmae_pp_git: str) -> None:
    tvt.Block = _Block  # type: ignore[misc]
    np.float = float  # type: ignore[attr-defined]
    gits = {SATMAE: satmae_git, SATMAE_PP: satmae_pp_git}
    for name, ((repo, commit), path, builder, kwargs, weights) in MANIFESTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            _extract(gits[(repo, commit)], commit, [path, "util/pos_embed.py"], Path(tmp))
            (Path(tmp) / "util" / "__init__.py").write_text("")
            sys.path.insert(0, tmp)
            for mod in [m for m in sys.modules if m == "util" or m.startswith("util.") or m.startswith("models_")]:
                del sys.modules[mod]
            try:
                module = importlib.import_module(path.removesuffix(".py"))
                model = getattr(module, builder)(**kwargs)  # on CPU: its init calls numpy on tensors
            finally:
                sys.path.remove(tmp)
        keys = {f"model.{k}": list(v.shape) for k, v in model.state_dict().items()}
        manifest = {"source": repo, "commit": commit, "path": path, "builder": f"{builder}(**{kwargs})",
                    "weights": weights, "prefix": "model.", "keys": keys}
        (OUT / f"{name}.json").write_text(json.dumps(manifest, indent=1) + "\n")
        print(f"{name}: {len(keys)} keys")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
