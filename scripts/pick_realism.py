"""Measure a layered model or a GC detail stage at several realism values on the held-out crops
of its training run, to choose the default R (the eval photos are never used for this choice).

    python scripts/pick_realism.py ~/runs/layered --weights weights/layered-c4.safetensors \\
        [--realism 0,0.25,0.5,0.75,1] [--threads 2]
    python scripts/pick_realism.py ~/runs/gc6-detail --weights weights/gc-c6-detail.safetensors --realism 0.05,0.1

Prints, per R, the mean PSNR, MS-SSIM and texture retention (Gaussian-blur residual energy of
the decode over the original's) of the held-out pairs, beside the upscaled VVC base.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from gcodec.codec.gc_codec import load_gc
from gcodec.codec.layered.cache import is_validation, load_cache
from gcodec.codec.layered.codec import load_layered
from gcodec.codec.layered.training import to_tensors
from gcodec.codec.registry import resolve_model
from gcodec.codec.stage.stage import load_stage
from gcodec.models.train_layered import validate
from gcodec.models.train_stage import validate_stage


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

    realisms = tuple(float(v) for v in args.realism.split(","))
    ref = resolve_model(args.weights)
    if ref.kind == "detail":
        stage = load_stage(ref, torch.device("cpu")).stage
        gc = load_gc(resolve_model(ref.card["base_model"], kind="gc"), torch.device("cpu"))
        z = gc.model.quantizer.dequantize(torch.from_numpy(cache["symbols"][held].astype(np.int64))).detach()
        res = validate_stage(stage, to_tensors(cache["original"][held]), to_tensors(cache["decode"][held]), z,
                             realisms=tuple(r for r in realisms if r > 0))
        print(f"{held.sum()} held-out crops; r0 is the {gc.ref.name} decode")
        _table(res, ["r0"] + [f"r{r:g}" for r in realisms if r > 0])
        return
    lm = load_layered(ref, torch.device("cpu"))
    res = validate(lm.model, to_tensors(cache["original"][held]), to_tensors(cache["base"][held]),
                   torch.from_numpy(cache["scale"][held]), realisms=realisms)
    print(f"{held.sum()} held-out pairs; latent rate {res['latent_bpp']:.4f} bpp (all channels, ideal)")
    _table(res, ["base"] + [f"r{r:g}" for r in realisms])


def _table(res: dict[str, float], keys: list[str]) -> None:
    print(f"{'decode':>8} {'PSNR':>7} {'MS-SSIM':>8} {'texture':>8}")
    for key in keys:
        print(f"{key:>8} {res[key + '_psnr']:7.2f} {res[key + '_msssim']:8.4f} {res[key + '_texture']:8.3f}")


if __name__ == "__main__":
    main()
