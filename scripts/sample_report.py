"""Measure `gcodec sample`'s three sources against decoded real codes; write a JSON and a sample grid.

    python scripts/sample_report.py --model gc-c6 --run ~/runs/codegan/gc-c6 -n 64 \
        --json results/samples.json --grid docs/samples_grid.png

The run folder is a `gcodec train codegan` run of the same GC model: its `codes.safetensors`
holds the model's codes of the training photos (`train.*`, what the code GAN saw) and of the
photos held out of it (`val.*`). Every sample is a 256x256 image (16x16 codes), drawn exactly as
`gcodec sample --seed S` draws it. The reference ("real") is the GC generator's decode of 16x16
crops of held-out photos' codes. Per set: high-frequency energy (codec/eval/metrics.texture_energy),
RGB mean and std, colour-histogram intersection with the reference (32 bins per channel, pooled
over the set, mean of the three channels), the L1 distance of per-channel symbol frequencies to
the reference codes, and the distance (share of the 16x16xC symbols that differ) from each code to
its nearest 16x16 crop of any training code: a code GAN that copied training codes would sit near 0,
below what held-out real codes reach; and the mean such distance between two codes of the set
(diversity: a collapsed code GAN would sit near 0).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from gcodec.codec.eval.metrics import texture_energy
from gcodec.codec.gc_codec import load_gc
from gcodec.codec.registry import resolve_model
from gcodec.codec.sampling import SOURCES, make_sampler
from gcodec.models.codegan import one_hot_codes
from gcodec.models.train_codegan import read_codes

SIDE = 16  # latent cells: 256 px samples
LABELS = {"uniform": "uniform", "prior": "prior (context model)", "codegan": "code GAN (WGAN-GP)"}


def real_crops(codes: list[torch.Tensor], n: int) -> list[np.ndarray]:
    """Up to n 16x16 crops of held-out code grids: centre, then left/right thirds, photo by photo."""
    out = []
    for frac in (0.5, 0.0, 1.0):
        for c in codes:
            h, w = c.shape[1:]
            if min(h, w) >= SIDE and len(out) < n:
                y, x = (h - SIDE) // 2, round((w - SIDE) * frac)
                out.append(c[:, y:y + SIDE, x:x + SIDE].numpy())
    return out


def nearest_distance(codes: np.ndarray, train: list[torch.Tensor], levels: int) -> np.ndarray:
    """For each code (N, C, 16, 16): the least share of differing symbols over every 16x16 crop of `train`."""
    q = one_hot_codes(torch.from_numpy(codes), levels)  # (N, C*L, 16, 16)
    total = codes[0].size
    best = torch.zeros(len(codes))
    for t in tqdm(train, desc="nearest training code", leave=False):
        if min(t.shape[1:]) < SIDE:
            continue
        agree = F.conv2d(one_hot_codes(t[None], levels), q)  # (1, N, h', w'): matching symbols per offset
        best = torch.maximum(best, agree.flatten(2).amax(-1)[0])
    return (1 - best / total).numpy()


def colour_hist(images: list[np.ndarray]) -> np.ndarray:
    px = np.concatenate([im.reshape(-1, 3) for im in images])
    return np.stack([np.histogram(px[:, c], bins=32, range=(0, 256))[0] / len(px) for c in range(3)])


def symbol_freq(codes: np.ndarray, levels: int) -> np.ndarray:
    return np.stack([np.bincount(codes[:, c].reshape(-1), minlength=levels) / codes[:, c].size
                     for c in range(codes.shape[1])])


def measure(images: list[np.ndarray], codes: np.ndarray, ref_images: list[np.ndarray], ref_codes: np.ndarray,
            train: list[torch.Tensor], levels: int) -> dict[str, float]:
    px = np.concatenate([im.reshape(-1, 3) for im in images]).astype(np.float64)
    nn = nearest_distance(codes, train, levels)
    hist_inter = np.minimum(colour_hist(images), colour_hist(ref_images)).sum(1).mean()
    return {"hf_energy": float(np.mean([texture_energy(im) for im in images])),
            "rgb_mean": px.mean(0).round(1).tolist(), "rgb_std": px.std(0).round(1).tolist(),
            "colour_hist_intersection": round(float(hist_inter), 4),
            "symbol_freq_l1": round(float(np.abs(symbol_freq(codes, levels) - symbol_freq(ref_codes, levels)).sum(1).mean()), 4),
            "nn_distance_median": round(float(np.median(nn)), 4), "nn_distance_min": round(float(nn.min()), 4),
            "pairwise_distance_mean": round(float(pairwise_distance(codes)), 4)}


def pairwise_distance(codes: np.ndarray) -> float:
    """Mean share of differing symbols between two codes of the set (a collapsed GAN sits near 0)."""
    flat = codes.reshape(len(codes), -1)
    d = (flat[:, None] != flat[None]).mean(-1)
    return float(d.sum() / (len(codes) * (len(codes) - 1)))


def grid(rows: list[tuple[str, list[np.ndarray]]], path: Path, per_row: int = 4, thumb: int = 160) -> None:
    label_w, gap, font = 170, 4, ImageFont.load_default(size=17)
    canvas = Image.new("RGB", (label_w + per_row * (thumb + gap), len(rows) * (thumb + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (name, images) in enumerate(rows):
        y = r * (thumb + gap)
        draw.multiline_text((6, y + thumb // 2 - 20), name.replace(" (", "\n("), fill="black", font=font)
        for i, im in enumerate(images[:per_row]):
            canvas.paste(Image.fromarray(im).resize((thumb, thumb), Image.LANCZOS), (label_w + i * (thumb + gap), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gc-c6")
    ap.add_argument("--run", required=True, help="gcodec train codegan run folder of the same model (its code cache)")
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", required=True)
    ap.add_argument("--grid", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    gc = load_gc(resolve_model(a.model, "gc"), torch.device("cpu"))
    levels = gc.cfg.levels
    train, val = read_codes(a.run)
    ref_codes = np.stack(real_crops(val, a.n))
    sampler = make_sampler(gc, "uniform")
    decode = lambda codes: [sampler.image(c) for c in tqdm(codes, desc="decode", leave=False)]  # noqa: E731
    ref_images = decode(ref_codes)
    report = {"model": a.model, "n": a.n, "seed": a.seed, "size": "256x256", "reference": f"{len(ref_codes)} 16x16 "
              f"crops of the codes of {len(val)} photos held out of the code GAN's training, decoded",
              "sets": {"real (held out)": measure(ref_images, ref_codes, ref_images, ref_codes, train, levels)}}
    rows = []
    for source in SOURCES:
        s = make_sampler(gc, source)
        codes = np.stack([s.codes(SIDE, SIDE, a.seed, i) for i in tqdm(range(a.n), desc=source, leave=False)])
        images = decode(codes)
        report["sets"][source] = measure(images, codes, ref_images, ref_codes, train, levels)
        rows.append((LABELS[source], images))
        print(source, report["sets"][source], flush=True)
    rows.append(("real codes (held out)", ref_images))
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(report, indent=2) + "\n")
    grid(rows, Path(a.grid))


if __name__ == "__main__":
    main()
