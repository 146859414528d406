"""Probe: what texture retention 0.5 costs a GC model's decode with the layered codec's fine grain.

For each photo, encodes with the GC model and adds fine grain (models/detail.py, `fine_grain`, its
envelope from the model's detail stage at R = 1) scaled per image by bisection until texture
retention (EVAL.md) reaches 0.5: on the GC decode (R = 0) and on the stage's default-R decode.
With --sharpen, the R = 0 decode is first sharpened by difference-of-Gaussians band gains (a grid
of fine and mid gains, the best PSNR kept per image, as an encoder could pick them).
Prints mean PSNR / MS-SSIM / texture retention (issue 20: within 0.6 dB and 0.01 of R = 0).

    python scripts/probe_gc_fine_grain.py gc-c6 --data ../shared/data/images/eval --step 3
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec
from gcodec.codec.api import Codec
from gcodec.codec.eval.images import list_images, load_rgb
from gcodec.codec.eval.metrics import ms_ssim, psnr, texture_energy
from gcodec.codec.registry import resolve_model
from gcodec.models.detail import BAND_SIGMAS, fine_grain, gaussian_blur, noise_field
from gcodec.models.train_stage import stage_output


def with_retention(y: torch.Tensor, grain: torch.Tensor, goal: float, h: int, w: int) -> np.ndarray:
    """y + k * grain as uint8, with the smallest k (bisection) whose texture energy reaches `goal`."""
    if texture_energy(gc_codec.to_uint8(y, h, w)) >= goal:
        return gc_codec.to_uint8(y, h, w)
    lo, hi = 0.0, 8.0
    for _ in range(14):
        k = (lo + hi) / 2
        lo, hi = (k, hi) if texture_energy(gc_codec.to_uint8(y + k * grain, h, w)) < goal else (lo, k)
    return gc_codec.to_uint8(y + hi * grain, h, w)


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--step", type=int, default=1, help="every STEP-th photo")
    ap.add_argument("--sharpen", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    codec = Codec(torch.device("cpu"))
    ref = resolve_model(args.model)
    gc = codec.gc(ref)
    stage, r_default = codec.detail(ref, None)
    names = ["R = 0", f"R = {r_default:g} (stage)", "R = 0 + fine grain", f"R = {r_default:g} + fine grain"]
    rows: list[list[tuple[float, float, float]]] = []
    for path in list_images([args.data])[:: args.step]:
        img = load_rgb(path)
        h, w = img.shape[:2]
        goal = 0.5 * texture_energy(img)
        c = unpack(codec.encode_image(img, args.model))
        symbols = torch.from_numpy(gc_codec.decode_latents(gc, c)).unsqueeze(0)
        x = gc_codec.decode_symbols(gc, symbols).float()
        z = gc.model.quantizer.dequantize(symbols)
        g = stage.stage
        noise = noise_field(gc_codec.latent_seed(c), x.shape[-2], x.shape[-1], g.noise_channels)
        grain = fine_grain(g.texture_residual(g.features(x, z), noise, torch.ones(1)), noise)
        y = stage_output(g, x, z, noise, torch.full((1,), r_default))[0]
        if args.sharpen:
            blurs = [x] + [gaussian_blur(x, s) for s in BAND_SIGMAS]
            bands = [blurs[k] - blurs[k + 1] for k in range(len(BAND_SIGMAS))]
            outs = [with_retention(x + a * bands[0] + b * bands[1], grain, goal, h, w)
                    for a, b in itertools.product((0, 0.5, 1, 1.5), (0, 0.5, 1))]
            x_grain = max(outs, key=lambda o: psnr(o, img))
        else:
            x_grain = with_retention(x, grain, goal, h, w)
        decodes = [gc_codec.to_uint8(x, h, w), gc_codec.to_uint8(y, h, w), x_grain, with_retention(y, grain, goal, h, w)]
        rows.append([(psnr(o, img), ms_ssim(o, img), texture_energy(o) / (2 * goal)) for o in decodes])
        print(path.name, flush=True)
    means = np.mean(rows, axis=0)
    for name, (p, m, t) in zip(names, means):
        print(f"{args.model} {name:<26} {p:.2f} / {m:.4f} / {t:.3f}")


if __name__ == "__main__":
    main()
