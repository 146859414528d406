"""Probe: which detail a GC decode can add most cheaply, at equal texture retention 0.5.

For each photo, codes it with the GC model and adds, scaled per image by bisection until texture
retention (EVAL.md) reaches 0.5: the fine grain (models/detail.py, `fine_grain`, as GC files carry
it); the model's detail stage's texture residual at R = 0.25 and R = 1; and that residual's finest
band (the residual minus its Gaussian blur of sigma 0.7 or 1.5 px). Prints the mean change in PSNR
and MS-SSIM from the GC decode (issue 20 allows 0.6 dB and 0.01). Detail that follows the original
would cost less PSNR than its energy; uncorrelated detail costs all of it.

    python scripts/probe_gc_detail_sources.py gc-c6 --data ../shared/data/images/train --step 84
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np
import torch

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec
from gcodec.codec.api import Codec
from gcodec.codec.eval.images import list_images, load_rgb
from gcodec.codec.eval.metrics import ms_ssim, psnr, texture_energy
from gcodec.codec.registry import resolve_model
from gcodec.models.detail import DetailGenerator, fine_grain, gaussian_blur, noise_field
from probe_gc_fine_grain import with_retention  # scripts/ is on the path when run as a script


Decoded = tuple[str, np.ndarray, torch.Tensor, torch.Tensor, torch.Tensor, DetailGenerator]


def decoded_photos(doc: str) -> Iterator[Decoded]:
    """The GC probes' arguments (a model, --data, --step, --threads), then per photo: its name, the
    photo (uint8), the GC decode (1, 3, H, W, padded), the model's detail stage's features of it, the
    file's noise, and the stage."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--step", type=int, default=1, help="every STEP-th photo")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    codec = Codec(torch.device("cpu"))
    ref = resolve_model(args.model, kind="gc")
    gc = codec.gc(ref)
    detail = codec.detail(ref, 1.0)
    if detail is None:
        raise SystemExit(f"{args.model} has no detail stage installed")
    g = detail[0].stage
    for path in list_images([args.data])[:: args.step]:
        img = load_rgb(path)
        c = unpack(gc_codec.compress(gc, img))
        symbols = torch.from_numpy(gc_codec.decode_latents(gc, c)).unsqueeze(0)
        x = gc_codec.decode_symbols(gc, symbols).float()
        noise = noise_field(gc_codec.latent_seed(c), x.shape[-2], x.shape[-1], g.noise_channels)
        yield f"{args.model} {path.name}", img, x, g.features(x, gc.model.quantizer.dequantize(symbols)), noise, g


def changes_at_half_texture(x: torch.Tensor, sources: dict[str, torch.Tensor], img: np.ndarray
                            ) -> dict[str, tuple[float, float, float]]:
    """Per detail source: the decode x plus the source scaled to texture retention 0.5, as (change
    in PSNR, change in MS-SSIM, texture retention reached)."""
    h, w = img.shape[:2]
    goal = 0.5 * texture_energy(img)
    base = gc_codec.to_uint8(x, h, w)
    p0, m0 = psnr(base, img), ms_ssim(base, img)
    outs = {name: with_retention(x, d, goal, h, w) for name, d in sources.items()}
    return {name: (psnr(out, img) - p0, ms_ssim(out, img) - m0, texture_energy(out) / (2 * goal))
            for name, out in outs.items()}


@torch.inference_mode()
def main() -> None:
    rows = []
    for name, img, x, feat, noise, g in decoded_photos(__doc__):
        sources = {"fine grain": fine_grain(g.texture_residual(feat, noise, torch.ones(1)), noise)}
        for r in (0.25, 1.0):
            t = g.texture_residual(feat, noise, torch.full((1,), r))
            sources[f"stage residual, R {r:g}"] = t
            for sigma in (0.7, 1.5):
                sources[f"stage residual, R {r:g}, finer than {sigma:g} px"] = t - gaussian_blur(t, sigma)
        rows.append(changes_at_half_texture(x, sources, img))
        print(name, flush=True)
    model = name.split()[0]
    for source in rows[0]:
        dp, dm, t = np.mean([r[source] for r in rows], axis=0)
        print(f"{model} {source:<46} PSNR {dp:+.2f} dB, MS-SSIM {dm:+.4f}, texture {t:.3f}")


if __name__ == "__main__":
    main()
