"""Bare GPU driver that trained the shipped ``eokit_small.ssl`` (SimCLR, multi-sensor) from a pretraining pack.

The GPU machine lent to this project has PyTorch but not eokit's geospatial stack (rasterio, pyproj...), so this
driver loads eokit's pure-PyTorch modules by file path — the network (``eokit/models/nets/wresnet.py``), the
augmentations (``eokit/pretrain/augment.py``) and the losses (``eokit/pretrain/objectives.py``), the same code
``eokit pretrain`` runs — and reads the pack written by ``scripts/pretrain_pack.py``. It trains for a wall-clock
budget (the cosine schedule is sized from the measured step time), writes ``net.safetensors`` (the network's
state dict) and ``run.json`` (config, steps, images seen, losses, throughput, a probe on held-out *training*
images) into ``--out``, with a checkpoint each ``--save-every`` seconds.

    python scripts/pretrain_gpu.py --pack .pack/pretrain_pack.npz --out $OUT --seconds 420
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

SRC = Path(__file__).resolve().parents[1] / "src" / "eokit"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


wresnet = load("eokit_wresnet", SRC / "models" / "nets" / "wresnet.py")
augment = load("eokit_augment", SRC / "pretrain" / "augment.py")
objectives = load("eokit_objectives", SRC / "pretrain" / "objectives.py")

# Per-source sampling weight, batch size and view size (SAR at the 32 px the suite feeds it).
PLAN = {
    "eurosat_rgb": (0.40, 1024, 64), "dubai_aerial": (0.16, 512, 64), "eurosat_ms": (0.08, 160, 64),
    "opensarship": (0.08, 128, 32), "landsat8_scene": (0.10, 256, 64), "sentinel2_scene": (0.10, 256, 64),
    "eolearn_series": (0.08, 256, 64),
}


def decode_jpegs(blob: np.ndarray, off: np.ndarray) -> list[np.ndarray]:
    from PIL import Image

    def one(i: int) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(blob[off[i]:off[i + 1]].tobytes())).convert("RGB")).transpose(2, 0, 1)

    with ThreadPoolExecutor(16) as ex:
        return list(ex.map(one, range(len(off) - 1)))


def windows(scene: torch.Tensor, n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """n random size x size windows of a (..., H, W) scene (stacked on a new first axis)."""
    h, w = scene.shape[-2:]
    ys = torch.randint(0, h - size + 1, (n,), generator=g).tolist()
    xs = torch.randint(0, w - size + 1, (n,), generator=g).tolist()
    return torch.stack([scene[..., y:y + size, x:x + size] for y, x in zip(ys, xs, strict=True)])


class Source:
    def __init__(self, meta: dict, data: torch.Tensor, scale: torch.Tensor | None, dev: str, series: bool = False):
        self.meta, self.series = meta, series
        self.data = data.to(dev)  # uint8 or float16; series: (N, T, C, H, W)
        self.scale = None if scale is None else scale.to(dev).view(1, -1, 1, 1)
        self.wv = torch.tensor(meta["wavelengths"], device=dev)
        self.codes = torch.tensor(meta["codes"], device=dev)
        self.mean = torch.tensor(meta["mean"], device=dev)
        self.std = torch.tensor(meta["std"], device=dev)
        weight, batch, size = PLAN[meta["name"]]
        self.weight, self.batch, self.size = weight, min(batch, len(self.data)), size

    def refl(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.meta["kind"] in ("jpeg", "jpeg_scene"):
            return x * self.meta["sensor_scale"] + self.meta["sensor_offset"]
        return x * self.scale if self.scale is not None else x

    def sample(self, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randperm(len(self.data), generator=g)[: self.batch].to(self.data.device)
        if not self.series:
            x = self.refl(self.data[idx])
            return x, x
        s = self.data[idx]  # (B, T, C, H, W): two different dates of each place (seasonal positives)
        t = s.shape[1]
        a = torch.randint(0, t, (len(idx),), generator=g)
        b = (a + torch.randint(1, t, (len(idx),), generator=g)) % t
        ar = torch.arange(len(idx))
        return self.refl(s[ar, a]), self.refl(s[ar, b])


def build_sources(pack: Path, dev: str, g: torch.Generator) -> list[Source]:
    z = np.load(pack, allow_pickle=False)
    meta = json.loads(z["meta"].tobytes().decode())
    out = []
    for m in meta["sources"]:
        name, scale = m["name"], torch.tensor(m["scale"]) if "scale" in m else None
        if name == "eurosat_rgb":
            data = torch.from_numpy(np.stack(decode_jpegs(z["rgb_jpeg"], z["rgb_off"])))
        elif name == "dubai_aerial":
            imgs = [torch.from_numpy(a) for a in decode_jpegs(z["dubai_jpeg"], z["dubai_off"])]
            data = torch.cat([windows(im, 200, 96, g) for im in imgs])
        elif name == "eurosat_ms":
            data = torch.from_numpy(z["ms_u8"])
        elif name == "opensarship":
            data = torch.from_numpy(z["sar_f16"])
        elif name == "landsat8_scene":
            data = windows(torch.from_numpy(z["l8_u8"]), 4000, 64, g)
        elif name == "sentinel2_scene":
            data = windows(torch.from_numpy(z["s2_u8"]), 4000, 64, g)
        elif name == "eolearn_series":
            data = windows(torch.from_numpy(z["eol_u8"]), 1500, 64, g)  # (N, T, 13, 64, 64)
        else:
            raise SystemExit(f"unknown pack source {name!r}")
        out.append(Source(m, data, scale, dev, series=name == "eolearn_series"))
        print(f"source {name}: {tuple(data.shape)} batch {out[-1].batch} view {out[-1].size}", flush=True)
    return out


def view_cfg(src: Source) -> object:
    scale = (0.2, 1.0) if src.meta["name"] == "dubai_aerial" else (0.25, 1.0)
    return augment.ViewConfig(size=src.size, scale=scale)


def probe(net: torch.nn.Module, src: Source, labels: np.ndarray, dev: str) -> dict:
    """Logistic-regression probe on pooled features of held-out *training* images (a sanity figure only)."""
    from sklearn.linear_model import LogisticRegression

    net.eval()
    feats = []
    with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=dev == "cuda"):
        for i in range(0, len(src.data), 2048):
            x = augment.normalize(src.refl(src.data[i:i + 2048]), src.mean, src.std)
            feats.append(net(x.contiguous(memory_format=torch.channels_last), src.wv, src.codes)[0].float().cpu())
    net.train()
    f = torch.cat(feats).numpy()
    n = len(f)
    perm = np.random.default_rng(0).permutation(n)
    tr, te = perm[: int(0.8 * n)], perm[int(0.8 * n):]
    mu, sd = f[tr].mean(0), f[tr].std(0) + 1e-6
    clf = LogisticRegression(max_iter=2000).fit((f[tr] - mu) / sd, labels[tr])
    return {"probe_acc": float(clf.score((f[te] - mu) / sd, labels[te])), "n_train": len(tr), "n_test": len(te)}


def save(net: torch.nn.Module, out: Path, info: dict) -> None:
    from safetensors.torch import save_file

    sd = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(sd, str(out / "net.tmp"), metadata={"format": "eokit_small-net/1"})
    (out / "net.tmp").replace(out / "net.safetensors")
    (out / "run.tmp").write_text(json.dumps(info, indent=1))
    (out / "run.tmp").replace(out / "run.json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=420)
    ap.add_argument("--save-every", type=float, default=90)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)")
    args = ap.parse_args()
    t_start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    sources = build_sources(args.pack, dev, g)
    rgb = next(s for s in sources if s.meta["name"] == "eurosat_rgb")
    classes = sorted({i.split("/")[-2] for i in rgb.meta["idents"]})
    rgb_labels = np.array([classes.index(i.split("/")[-2]) for i in rgb.meta["idents"]])
    weights = torch.tensor([s.weight for s in sources])
    net = wresnet.WavelengthResNet().to(dev).to(memory_format=torch.channels_last)
    proj = objectives.Projector(net.num_features, 1024, 128, layers=2).to(dev)
    params = list(net.parameters()) + list(proj.parameters())
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0}],
                            lr=args.lr, betas=(0.9, 0.95))
    prep_s = time.time() - t_start
    print(f"prepared in {prep_s:.1f} s on {dev}; net {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M params",
          flush=True)
    budget = args.seconds
    t0 = time.time()
    total_steps, warmup, t100 = None, 300, 0.0
    step, seen, last_save, losses = 0, 0, t0, []
    per_source = {s.meta["name"]: 0 for s in sources}
    while True:
        el = time.time() - t0
        if step == 100:
            t100 = time.time()
        if total_steps is None and step == 300:  # size the cosine schedule from the step time after warm-up
            per = (time.time() - t100) / 200
            total_steps = 300 + max(int((budget - el) / per), 100)
            print(f"{per * 1000:.1f} ms/step -> {total_steps} steps", flush=True)
        if (total_steps is not None and step >= total_steps) or (args.max_steps and step >= args.max_steps):
            break
        frac = step / total_steps if total_steps else 0.0  # ~0 during the first 300 steps (warm-up)
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for group in opt.param_groups:
            group["lr"] = lr
        src = sources[int(torch.multinomial(weights, 1, generator=g))]
        a, b = src.sample(g)
        vc = view_cfg(src)
        with torch.autocast("cuda", torch.bfloat16, enabled=dev == "cuda"):
            v1 = augment.make_view(a, src.mean, src.std, vc).contiguous(memory_format=torch.channels_last)
            v2 = augment.make_view(b, src.mean, src.std, vc).contiguous(memory_format=torch.channels_last)
            z = proj(net(torch.cat([v1, v2]), src.wv, src.codes)[0])
            loss = objectives.nt_xent(z[: len(a)], z[len(a):], args.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        step += 1
        seen += len(a)
        per_source[src.meta["name"]] += len(a)
        if step % 100 == 0:
            losses.append((step, src.meta["name"], float(loss.detach())))
        if step % 500 == 0:
            el = time.time() - t0
            print(f"step {step}/{total_steps} loss {float(loss):.3f} ({src.meta['name']}) lr {lr:.2e} "
                  f"{seen / el:.0f} img/s", flush=True)
        if time.time() - last_save > args.save_every:
            last_save = time.time()
            save(net, args.out, {"partial": True, "step": step, "seen": seen})
    train_s = time.time() - t0
    info = {"format": "eokit_small-run/1", "method": "contrastive (SimCLR NT-Xent, 2 views)", "args": {
        k: str(v) for k, v in vars(args).items()}, "plan": PLAN, "steps": step, "images_seen": seen,
        "images_per_source": per_source, "train_seconds": round(train_s, 1), "prep_seconds": round(prep_s, 1),
        "img_per_s": round(seen / train_s, 1), "losses": losses, "device": torch.cuda.get_device_name() if dev == "cuda"
        else "cpu", "torch": torch.__version__, "params": sum(p.numel() for p in net.parameters())}
    info["probe_heldout_train_rgb"] = probe(net, rgb, rgb_labels, dev)
    print(json.dumps({k: info[k] for k in ("steps", "images_seen", "img_per_s", "train_seconds",
                                           "probe_heldout_train_rgb")}), flush=True)
    save(net, args.out, info)


if __name__ == "__main__":
    main()
