"""Probe: sharpening a decode's own detail vs MS-SSIM, PSNR and texture retention.

Encodes each image with a model (layered at --bpp, or a GC model), decodes it at R = 0, adds
g_k times each difference-of-Gaussians band of the decode (sigmas 0.7, 1.5, 3 px, as
models/detail.py's band gains) for every gain triple of a grid, and prints per base scale:
the decode, the MS-SSIM-best triple, and the MS-SSIM-best triple reaching each texture
retention. Slow (one MS-SSIM per triple): a few images are enough.

    python scripts/probe_band_gains.py --data ../shared/data/images/train --pick 10,140,270,400,530 --bpp 0.02,0.03,0.05,0.08
    python scripts/probe_band_gains.py --data ../shared/data/images/train --pick 10,140,270,400 --model gc-c6 --gains 0,0.5,1,2
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

import gcodec
from gcodec.codec.eval.images import list_images, load_rgb
from gcodec.codec.eval.metrics import ms_ssim, psnr, texture_energy
from gcodec.models.detail import BAND_SIGMAS, gaussian_blur


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """The model's Gaussian blur (models/detail.py) of an (H, W, 3) float image."""
    t = torch.from_numpy(x).permute(2, 0, 1)[None]
    return gaussian_blur(t, sigma)[0].permute(1, 2, 0).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--pick", default="0,1,2,3", help="indices of the images in the folder's sorted list")
    ap.add_argument("--model", default="layered")
    ap.add_argument("--bpp", default="0.05", help="layered targets (ignored for GC models)")
    ap.add_argument("--gains", default="0,0.25,0.5,1")
    args = ap.parse_args()
    torch.set_num_threads(1)
    grid = list(itertools.product(*[[float(g) for g in args.gains.split(",")]] * 3))
    paths = list_images([args.data])
    rows: dict[str, list[np.ndarray]] = {}
    for i in (int(v) for v in args.pick.split(",")):
        img = load_rgb(paths[i])
        e0 = texture_energy(img)
        for bpp in [float(b) for b in args.bpp.split(",")] if args.model.startswith("layered") else [None]:
            data = gcodec.encode(img, model=args.model, **({"bpp": bpp} if bpp else {}))
            info = gcodec.info(data)
            group = f"scale {info['layered']['scale']}" if "layered" in info else args.model
            y = gcodec.decode(data, realism=0.0) if "layered" in info else gcodec.decode(data)
            y = y.astype(np.float64)
            lows = [y] + [blur(y, s) for s in BAND_SIGMAS]
            bands = [lows[k] - lows[k + 1] for k in range(3)]
            m = []
            for g in grid:
                out = np.clip(y + sum(gk * b for gk, b in zip(g, bands)), 0, 255).round().astype(np.uint8)
                m.append((texture_energy(out) / e0, psnr(out, img), ms_ssim(out, img)))
            rows.setdefault(group, []).append(np.array(m))
            print(f"{paths[i].name} {bpp or ''} {group}", flush=True)
    for group, ms in rows.items():
        mean = np.mean(ms, axis=0)
        print(f"\n{group} ({len(ms)} decodes): gains (fine, mid, coarse) -> texture, PSNR, MS-SSIM")
        show = [("decode", grid.index((0.0, 0.0, 0.0))), ("best MS-SSIM", int(np.argmax(mean[:, 2])))]
        for t in (0.3, 0.4, 0.5, 0.6):
            ok = np.flatnonzero(mean[:, 0] >= t)
            if len(ok):
                show.append((f"texture >= {t}", int(ok[np.argmax(mean[ok, 2])])))
        for label, j in show:
            print(f"  {label:<16} {str(grid[j]):<18} {mean[j, 0]:6.3f} {mean[j, 1]:6.2f} {mean[j, 2]:7.4f}")


if __name__ == "__main__":
    main()
