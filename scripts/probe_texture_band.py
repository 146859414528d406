"""Probe: what added detail costs in MS-SSIM, by spatial frequency band, at equal texture retention.

Decodes layered files at R = 0, 0.1 and 0.8, and adds to the R = 0 decode spatially uniform
Gaussian noise (the same in R, G and B): white, or high-passed (minus its Gaussian blur of
sigma 0.7 or 1.5 px), scaled by bisection until texture retention (EVAL.md) reaches --retention.
MS-SSIM weighs its finest scale least, so detail confined to the finest band costs it least.

    python scripts/probe_texture_band.py --data ../shared/data/images/eval --count 6 --bpp 0.05
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import gcodec
from gcodec.codec.eval.images import list_images, load_rgb
from gcodec.codec.eval.metrics import ms_ssim, psnr, texture_energy


def high_pass_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    n = rng.standard_normal(shape)
    if sigma > 0:
        r = int(3 * sigma) + 1
        k = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma**2))
        k /= k.sum()
        low = np.apply_along_axis(np.convolve, 0, n, k, "same")
        n = n - np.apply_along_axis(np.convolve, 1, low, k, "same")
    return n / n.std()


def with_retention(base: np.ndarray, noise: np.ndarray, goal: float) -> np.ndarray:
    lo, hi, out = 0.0, 80.0, base
    for _ in range(16):
        a = (lo + hi) / 2
        out = np.clip(base + a * noise[..., None], 0, 255).round().astype(np.uint8)
        lo, hi = (a, hi) if texture_energy(out) < goal else (lo, a)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--bpp", type=float, default=0.05)
    ap.add_argument("--retention", type=float, default=0.5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for path in list_images([args.data])[: args.count]:
        img = load_rgb(path)
        e0 = texture_energy(img)
        data = gcodec.encode(img, bpp=args.bpp)
        decodes = {f"model R={r}": gcodec.decode(data, realism=r) for r in (0.0, 0.1, 0.8)}
        base = decodes["model R=0.0"].astype(np.float64)
        for name, sigma in (("white noise", 0.0), ("high-pass 0.7", 0.7), ("high-pass 1.5", 1.5)):
            decodes[name] = with_retention(base, high_pass_noise(img.shape[:2], sigma, rng), args.retention * e0)
        for name, out in decodes.items():
            rows.setdefault(name, []).append((texture_energy(out) / e0, psnr(out, img), ms_ssim(out, img)))
        print(Path(path).name, flush=True)
    print(f"{'decode':<14} {'texture':>7} {'PSNR':>6} {'MS-SSIM':>7}")
    for name, v in rows.items():
        t, p, m = np.mean(v, axis=0)
        print(f"{name:<14} {t:7.3f} {p:6.2f} {m:7.4f}")


if __name__ == "__main__":
    main()
