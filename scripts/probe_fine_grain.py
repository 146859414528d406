"""Probe: which pixel-scale grain costs MS-SSIM least, at equal texture retention.

Encodes photos with layered-s at --bpp, takes the default-R decode without grain (y), and adds
grain g * f for several fields f, with g bisected per image until texture retention (EVAL.md)
reaches --retention. The fields: the texture head's residual (luma) band-passed around the pixel
checkerboard frequency; and the decoder's noise band-passed around the checkerboard frequency
(`corner`) or around all three frequencies 2x2 averaging cancels (`three`: across, down, both),
times the local RMS of the texture residual (what models/detail.py's fine_grain ships: corner, 1.2).
Writes a crop strip of the first three photos (original, then each decode) to --crops.

    python scripts/probe_fine_grain.py --data ../shared/data/images/train --count 12 --bpp 0.02
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

import gcodec
from gcodec.codec.eval.images import list_images, load_rgb
from gcodec.codec.eval.metrics import ms_ssim, psnr, texture_energy
from gcodec.codec.gc_codec import to_tensor
from gcodec.codec.layered import codec as lc
from gcodec.codec.layered.base import decode_base
from gcodec.codec.registry import resolve_model
from gcodec.models.detail import GRAIN_ENVELOPE_SIGMA, LUMA, gaussian_blur, noise_field, pad_to_stride

BANDS = {"corner": [(True, True)], "three": [(True, True), (True, False), (False, True)]}


def band(x: torch.Tensor, which: str, sigma: float) -> torch.Tensor:
    f = sum(gaussian_blur(x, sigma, modulate=m) for m in BANDS[which])
    return f / f.std()


@torch.inference_mode()
def fields(lm: lc.LoadedLayered, img: np.ndarray, data: bytes) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(y, {name: field}) for one file, as float tensors (1, 3 or 1, H', W') in [-1, 1] units."""
    h, w = img.shape[:2]
    p, symbols = lc.parse(lm, lc.unpack(data))
    b = pad_to_stride(to_tensor(decode_base(p.base, h, w, p.scale), lm.device))
    z = lm.model.dequantize(torch.from_numpy(symbols).unsqueeze(0))
    noise = noise_field(lc.noise_seed(p), b.shape[-2], b.shape[-1], lm.cfg.noise)
    y = lm.model.decode(b, z, noise, lm.default_realism, p.scale, lc.gain_values(p.gains))
    g = lm.model.generator
    t = g.texture_residual(g.features(b, z), noise, torch.ones(1))
    luma = (t * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    envelope = gaussian_blur(luma * luma, GRAIN_ENVELOPE_SIGMA).clamp(min=0).sqrt()
    return y, {"residual, corner 1.2": band(luma, "corner", 1.2),
               **{f"noise x RMS, {which} {s}": envelope / envelope.std() * band(noise, which, s)
                  for which in BANDS for s in (1.2, 0.7)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--bpp", type=float, default=0.02)
    ap.add_argument("--retention", type=float, default=0.5)
    ap.add_argument("--crops", default="fine_grain_crops.png")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = lc.load_layered(resolve_model("layered-s"), torch.device("cpu"))
    paths = list_images([args.data])
    rows: dict[str, list[tuple[float, float, float]]] = {}
    crops = []
    for path in paths[:: max(1, len(paths) // args.count)][: args.count]:
        img = load_rgb(path)
        h, w = img.shape[:2]
        e0 = texture_energy(img)
        data = gcodec.encode(img, bpp=args.bpp)
        data = lc.with_gains(data, lc.unpack_payload(lc.unpack(data).section(lc.SECTION), (h, w)).gains, 0)
        y, fs = fields(lm, img, data)
        outs = {"no grain": lc.to_uint8(y.float(), h, w)}
        for name, f in fs.items():
            lo, hi = 0.0, 4.0
            for _ in range(16):
                out = lc.to_uint8((y + (lo + hi) / 2 * f).float(), h, w)
                lo, hi = ((lo + hi) / 2, hi) if texture_energy(out) < args.retention * e0 else (lo, (lo + hi) / 2)
            outs[name] = lc.to_uint8((y + hi * f).float(), h, w)
        for name, out in outs.items():
            rows.setdefault(name, []).append((texture_energy(out) / e0, psnr(out, img), ms_ssim(out, img)))
        cy, cx = h // 2 - 64, w // 2 - 64
        crops.append(np.concatenate([o[cy : cy + 128, cx : cx + 128] for o in (img, *outs.values())], 1))
        print(path.name, flush=True)
    print("| grain | texture | PSNR | MS-SSIM |\n|---|---|---|---|")
    for name, v in rows.items():
        t, p, m = np.mean(v, axis=0)
        print(f"| {name} | {t:.3f} | {p:.2f} | {m:.4f} |")
    Image.fromarray(np.concatenate(crops[:3], 0)).save(args.crops)


if __name__ == "__main__":
    main()
