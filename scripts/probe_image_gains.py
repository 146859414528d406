"""Probe: band gains chosen per image (as the encoder may, seeing the original) vs one global triple.

Encodes each picked image with a layered model at --bpp, decodes it at R = 0, and measures
texture retention, PSNR and MS-SSIM for every gain triple of a grid added to the decode's
difference-of-Gaussians bands (sigmas 0.7 / 1.5 / 3 px, models/detail.py). Then prints, for
each lambda, the means when every image takes the triple maximizing MS-SSIM + lambda *
min(texture, 1) (codec/layered/gains.py's objective, searched exhaustively here), next to
the best single triple for all images. Slow (one MS-SSIM per triple and image).

    python scripts/probe_image_gains.py --data ../shared/data/images/train --pick 5::84 --bpp 0.05
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
    t = torch.from_numpy(x).permute(2, 0, 1)[None].float()
    return gaussian_blur(t, sigma)[0].permute(1, 2, 0).double().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--pick", default="::3", help="a Python slice of the folder's sorted image list")
    ap.add_argument("--model", default="layered-s")
    ap.add_argument("--bpp", type=float, default=0.05)
    ap.add_argument("--gains", default="0,0.5,1,2")
    ap.add_argument("--lambdas", default="0,0.01,0.0125,0.015,0.0175,0.02")
    args = ap.parse_args()
    torch.set_num_threads(1)
    grid = list(itertools.product([float(g) for g in args.gains.split(",")], repeat=3))
    paths = list_images([args.data])[slice(*[int(v) if v else None for v in args.pick.split(":")])]
    rows = []
    for p in paths:
        img = load_rgb(p)
        e0 = texture_energy(img)
        data = gcodec.encode(img, model=args.model, bpp=args.bpp)
        y = gcodec.decode(data, realism=0.0).astype(np.float64)
        lows = [y] + [blur(y, s) for s in BAND_SIGMAS]
        bands = [lows[k] - lows[k + 1] for k in range(3)]
        m = []
        for g in grid:
            out = np.clip(y + sum(gk * b for gk, b in zip(g, bands)), 0, 255).round().astype(np.uint8)
            m.append((texture_energy(out) / e0, psnr(out, img), ms_ssim(out, img)))
        rows.append(m)
        print(f"{p.name}: scale {gcodec.info(data)['layered']['scale']}, {len(data)} bytes", flush=True)
    m = np.array(rows)  # (images, triples, (texture, PSNR, MS-SSIM))
    mean = m.mean(0)
    print(f"\n{len(paths)} images at --bpp {args.bpp:g}: texture, PSNR, MS-SSIM (means)")
    print(f"  R = 0 decode                  {mean[grid.index((0.0, 0.0, 0.0))].round(4).tolist()}")
    for lam in (float(v) for v in args.lambdas.split(",")):
        pick = np.argmax(m[:, :, 2] + lam * np.minimum(m[:, :, 0], 1), axis=1)
        per_image = m[np.arange(len(paths)), pick].mean(0)
        target = per_image[0]  # the best global triple reaching the same texture
        ok = np.flatnonzero(mean[:, 0] >= target)
        best = mean[ok[np.argmax(mean[ok, 2])]] if len(ok) else None
        print(f"  lambda {lam:<7g} per image     {per_image.round(4).tolist()}"
              f"   one triple for all: {best.round(4).tolist() if best is not None else '-'}")


if __name__ == "__main__":
    main()
