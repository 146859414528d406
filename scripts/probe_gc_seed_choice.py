"""Probe: can a few bits make a GC file's fine grain follow the original (issue 20)?

Grain that does not follow the original costs PSNR by its whole energy. Here the encoder, which
sees the original, picks for each B x B block one of K grain fields (K/2 seeds, each either
sign: log2 K bits a block) to best match the decode's error there, then the picked grain is
scaled by bisection to texture retention 0.5 (EVAL.md), as the plain grain is. Prints the mean
change in PSNR and MS-SSIM from the GC decode and what the choices would cost in bits per pixel
(issue 20 allows 0.6 dB and 0.01; gc-c6 files are about 0.046 bpp).

    python scripts/probe_gc_seed_choice.py gc-c6 --data ../shared/data/images/train --step 84
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from gcodec.codec import gc_codec
from gcodec.models.detail import fine_grain, noise_field
from probe_gc_detail_sources import changes_at_half_texture, decoded_photos  # scripts/ is on the path

BLOCKS = (8, 16, 32)
CHOICES = (2, 4, 16)


def picked_grain(fields: torch.Tensor, err: torch.Tensor, block: int, choices: int) -> torch.Tensor:
    """Per block, the one of `choices` signed fields (the first choices/2 of `fields` (K, 3, H, W),
    either sign) with the largest inner product with err (1, 3, H, W)."""
    half = choices // 2
    score = F.avg_pool2d((fields[:half] * err).sum(1, keepdim=True), block, ceil_mode=True)  # (half, 1, h, w)
    best = torch.cat([score, -score]).argmax(0)  # (1, h, w)
    h, w = fields.shape[-2:]
    best = best.repeat_interleave(block, -2).repeat_interleave(block, -1)[..., :h, :w]
    sign = 1 - 2 * (best >= half).float()
    return sum((best % half == s).float() * fields[s] for s in range(half)) * sign


@torch.inference_mode()
def main() -> None:
    rows = []
    for name, img, x, feat, noise, g in decoded_photos(__doc__):
        h, w = img.shape[:2]
        hp, wp = x.shape[-2:]
        t = g.texture_residual(feat, noise, torch.ones(1))
        fields = torch.cat([fine_grain(t, noise_field(1000 + s, hp, wp, g.noise_channels))
                            for s in range(max(CHOICES) // 2)])
        inside = F.pad(torch.ones(1, 1, h, w), (0, wp - w, 0, hp - h))
        err = (F.pad(gc_codec.to_tensor(img, x.device), (0, wp - w, 0, hp - h)) - x) * inside
        sources, bits = {"plain grain": fields[:1]}, {"plain grain": 0.0}
        for block in BLOCKS:
            for k in CHOICES:
                key = f"{block}x{block} blocks, {k} choices"
                sources[key] = picked_grain(fields, err, block, k)
                bits[key] = math.ceil(h / block) * math.ceil(w / block) * math.log2(k) / (h * w)
        rows.append({k: (*v, bits[k]) for k, v in changes_at_half_texture(x, sources, img).items()})
        print(name, flush=True)
    model = name.split()[0]
    for key in rows[0]:  # bits per pixel too are means: the blocks' share depends on each photo's size
        dp, dm, t, b = np.mean([r[key] for r in rows], axis=0)
        print(f"{model} {key:<26} PSNR {dp:+.3f} dB, MS-SSIM {dm:+.4f}, texture {t:.3f}, {b:.4f} bpp")


if __name__ == "__main__":
    main()
