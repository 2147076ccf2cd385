"""Semi-synthetic causal benchmark on REAL mirror embeddings: does eokit recover a known effect?

Embeddings of real EuroSAT RGB images (``$EOKIT_DATA/classification/eurosat_rgb``, a seeded,
class-stratified sample) are computed with a seeded random-init eokit backbone (ResNet-18) and
reduced by PCA. In each replication a subset of units is drawn; treatment and outcome are
simulated from the image PCs (confounded through them) and one tabular covariate, with a known
constant effect ``tau``:

    logit P(T=1) = 0.9 * z_img + 0.3 * w        (z_img: a fixed mix of the top 8 PCs, sd 1)
    Y = tau * T + 1.5 * z_img + 0.3 * z_img**2 + 0.5 * w + N(0, 1)

Three estimators, each over the same replications:

- eokit: ``eokit.embed.causal.estimate_effects`` (DoubleML IRM) with the top ``--pcs`` image
  PCs and ``w`` as confounders (a superset of the true confounders, as in practice);
- naive: difference in mean outcome between treated and control units;
- no-image: the same IRM with only the tabular covariate ``w`` (what one gets without images).

Prints per-estimator bias, relative bias, RMSE and 95 % CI coverage, then ONE JSON line
``{"relative_bias", "coverage", "naive_relative_bias", "no_image_relative_bias", ...}``.
Targets: |relative bias| <= 0.10 and coverage in [0.90, 0.99] over >= 100 replications.

    nice -n 10 python benchmarks/causal.py [--reps 100 --units 1500 --images 3000]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads stall on a shared CPU
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def eurosat_sample(root: Path, n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """A seeded, class-stratified sample of ``n`` EuroSAT RGB images as uint8 (n, 3, 64, 64)."""
    from PIL import Image

    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        sys.exit(f"no class folders under {root}; set EOKIT_DATA to the data mirror")
    rng = np.random.default_rng(seed)
    per = int(np.ceil(n / len(classes)))
    files: list[Path] = []
    for c in classes:
        names = sorted((root / c).glob("*.jpg"))
        files += [names[i] for i in rng.choice(len(names), size=min(per, len(names)), replace=False)]
    files = [files[i] for i in rng.permutation(len(files))[:n]]
    imgs = np.stack([np.asarray(Image.open(f).convert("RGB")).transpose(2, 0, 1) for f in files])
    return imgs, [f.parent.name for f in files]


def embed_images(imgs: np.ndarray, arch: str, seed: int, batch: int = 256) -> np.ndarray:
    """Pooled features of a seeded random-init eokit backbone (RGB bands, 0-1 pixel values)."""
    import torch

    from eokit.models import create_backbone

    torch.manual_seed(seed)
    bb = create_backbone(arch, bands=("R", "G", "B"), sensor="rgb").eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(imgs), batch):
            x = torch.from_numpy(imgs[i:i + batch]).float() / 255.0
            out.append(bb(x).pooled.numpy())
    return np.concatenate(out).astype(np.float64)


def simulate(pcs: np.ndarray, n: int, tau: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One replication: units drawn from the embedded images, treatment and outcome simulated."""
    idx = rng.choice(len(pcs), size=n, replace=False)
    z = pcs[idx]
    mix = np.array([0.6, -0.5, 0.4, 0.3, -0.3, 0.2, 0.2, -0.1])
    z_img = z[:, :8] @ mix / np.linalg.norm(mix)  # PCs are standardised: sd ~ 1
    w = rng.normal(size=n)
    p = 1.0 / (1.0 + np.exp(-(0.9 * z_img + 0.3 * w)))
    t = (rng.random(n) < p).astype(int)
    y = tau * t + 1.5 * z_img + 0.3 * z_img**2 + 0.5 * w + rng.normal(size=n)
    return {"idx": idx, "t": t, "y": y, "w": w}


def summarise(name: str, est: np.ndarray, tau: float, ci: np.ndarray | None) -> dict[str, float]:
    """Bias, relative bias, RMSE and (if CIs are given) 95 % CI coverage of one estimator."""
    bias = float(np.mean(est) - tau)
    row = {"estimator": name, "mean": float(np.mean(est)), "bias": bias, "relative_bias": bias / tau,
           "rmse": float(np.sqrt(np.mean((est - tau) ** 2)))}
    if ci is not None:
        row["coverage"] = float(np.mean((ci[:, 0] <= tau) & (tau <= ci[:, 1])))
        row["mean_ci_width"] = float(np.mean(ci[:, 1] - ci[:, 0]))
    return row


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("EOKIT_DATA", "../shared/data"))
    ap.add_argument("--images", type=int, default=3000, help="EuroSAT RGB images to embed")
    ap.add_argument("--units", type=int, default=1500, help="units per replication")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--pcs", type=int, default=16, help="image PCs given to the estimator")
    ap.add_argument("--tau", type=float, default=1.0, help="the true effect")
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--learner", default="linear", choices=["linear", "boosting"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")  # DoubleML's pandas deprecation notices, once per fit

    from sklearn.decomposition import PCA

    from eokit.embed.causal import estimate_effects

    t0 = time.time()
    root = Path(args.data) / "classification" / "eurosat_rgb"
    imgs, labels = eurosat_sample(root, args.images, args.seed)
    feats = embed_images(imgs, args.arch, args.seed)
    pcs = PCA(n_components=args.pcs, random_state=args.seed).fit_transform(feats)
    pcs = (pcs - pcs.mean(0)) / pcs.std(0)
    print(f"embedded {len(imgs)} real EuroSAT RGB images ({len(set(labels))} classes) with a "
          f"seeded random-init {args.arch}: {feats.shape[1]}-d -> {args.pcs} PCs "
          f"in {time.time() - t0:.1f} s", flush=True)

    import pandas as pd

    rng = np.random.default_rng(args.seed)
    ours, ours_ci, naive, noimg, noimg_ci = [], [], [], [], []
    t1 = time.time()
    for r in range(args.reps):
        sim = simulate(pcs, args.units, args.tau, rng)
        units = pd.DataFrame({"treatment": sim["t"], "outcome": sim["y"], "w": sim["w"]})
        res = estimate_effects(units, embeddings=pcs[sim["idx"]], covariates=["w"],
                               learner=args.learner, seed=args.seed + r)
        ours.append(res.ate)
        ours_ci.append(res.ci)
        y, t = sim["y"], sim["t"]
        naive.append(float(y[t == 1].mean() - y[t == 0].mean()))
        base = estimate_effects(units, covariates=["w"], learner=args.learner, seed=args.seed + r)
        noimg.append(base.ate)
        noimg_ci.append(base.ci)
        if (r + 1) % 10 == 0:
            print(f"  {r + 1}/{args.reps} replications, {time.time() - t1:.0f} s", flush=True)
    tau = args.tau
    rows = [summarise("eokit (IRM, image PCs + w)", np.array(ours), tau, np.array(ours_ci)),
            summarise("naive difference in means", np.array(naive), tau, None),
            summarise("no image (IRM, w only)", np.array(noimg), tau, np.array(noimg_ci))]
    print(f"\ntrue effect {tau}; {args.reps} replications of {args.units} units; learner "
          f"{args.learner}; {time.time() - t0:.0f} s in all")
    print(f"{'estimator':30s} {'mean':>8s} {'bias':>8s} {'rel.bias':>9s} {'rmse':>7s} "
          f"{'coverage':>9s} {'ci width':>9s}")
    for row in rows:
        cov = f"{row['coverage']:9.3f}" if "coverage" in row else f"{'-':>9s}"
        wid = f"{row['mean_ci_width']:9.3f}" if "mean_ci_width" in row else f"{'-':>9s}"
        print(f"{row['estimator']:30s} {row['mean']:8.3f} {row['bias']:8.3f} "
              f"{row['relative_bias']:9.3f} {row['rmse']:7.3f} {cov} {wid}")
    ok = abs(rows[0]["relative_bias"]) <= 0.10 and 0.90 <= rows[0]["coverage"] <= 0.99
    print(f"targets |relative bias| <= 0.10 and coverage in [0.90, 0.99]: "
          f"{'met' if ok else 'NOT met'}")
    out = {"relative_bias": round(rows[0]["relative_bias"], 4),
           "coverage": round(rows[0]["coverage"], 4),
           "naive_relative_bias": round(rows[1]["relative_bias"], 4),
           "no_image_relative_bias": round(rows[2]["relative_bias"], 4),
           "no_image_coverage": round(rows[2]["coverage"], 4),
           "replications": args.reps, "units": args.units, "images": len(imgs)}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
