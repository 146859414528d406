"""Measure a layered model at several realism values on the held-out crops of its training run,
to choose the default R (the eval photos are never used for this choice).

    python scripts/pick_realism.py ~/runs/layered --weights weights/layered-c4.safetensors \\
        [--realism 0,0.25,0.5,0.75,1] [--threads 2]

Prints, per R, the mean PSNR, MS-SSIM and texture retention (Gaussian-blur residual energy of
the decode over the original's) of the held-out pairs, beside the upscaled VVC base.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from gcodec.codec.layered.cache import is_validation, load_cache
from gcodec.codec.layered.codec import load_layered
from gcodec.codec.layered.training import to_tensors
from gcodec.codec.registry import resolve_model
from gcodec.models.train_layered import validate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--realism", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--val-fraction", type=float, default=1 / 32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cache = load_cache(Path(args.run) / "cache")
    held = np.array([is_validation(Path(n), args.val_fraction) for n in cache["name"]])

    lm = load_layered(resolve_model(args.weights), torch.device("cpu"))
    realisms = tuple(float(v) for v in args.realism.split(","))
    res = validate(lm.model, to_tensors(cache["original"][held]), to_tensors(cache["base"][held]),
                   torch.from_numpy(cache["scale"][held]), realisms=realisms)
    print(f"{held.sum()} held-out pairs; latent rate {res['latent_bpp']:.4f} bpp (all channels, ideal)")
    print(f"{'decode':>8} {'PSNR':>7} {'MS-SSIM':>8} {'texture':>8}")
    for key in ["base"] + [f"r{r:g}" for r in realisms]:
        print(f"{key:>8} {res[key + '_psnr']:7.2f} {res[key + '_msssim']:8.4f} {res[key + '_texture']:8.3f}")


if __name__ == "__main__":
    main()
