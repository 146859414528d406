"""The encoder's band gains: how much each file sharpens at the default realism.

Models with band gains (`layered-s`) decode at R in [0, 0.5] as y0 + sum_k (g0 + 2R g_k) band_k(y0)
(models/detail.py). A global gS must suit every image; but the encoder sees the original, so it
picks g_k per image and writes them in the file (three 4-bit codes, 2 bytes): the gains that
maximize MS-SSIM + LAMBDA * min(texture retention, 1) of the decode at R = 0.5. MS-SSIM's
contrast-structure term is highest when the decode's detail energy matches the original's, so
sharpening detail the decode already holds adds texture at little MS-SSIM cost, and how much it
costs differs from image to image (docs/layered.md, "Per-image gains"). The search is greedy:
from no gain, raise whichever band's gain improves the objective most by STEP codes, until none
does; about a dozen MS-SSIM evaluations (about 1 s for 768x512 on 2 threads).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from pytorch_msssim import ms_ssim

from ...bitstream.layered import GAIN_STEP, MAX_GAIN_CODE
from ...models.detail import BAND_SIGMAS, BASE_SCALES, gaussian_blur
from ...models.train_layered import texture_energy
from ..eval.metrics import ms_ssim_reason
from ..gc_codec import to_tensor
from .codec import NO_GAINS, LoadedLayered, generate

LAMBDA = 0.015  # MS-SSIM traded per unit of texture retention (picked on training photos, docs/layered.md)
STEP = 2  # codes per move: 0.5 in gain
MAX_CODE = 8  # gains up to 2.0: beyond, the decode over-sharpens (measured: never picked on training photos)


def gain_objective(lm: LoadedLayered, image: np.ndarray, base: np.ndarray, symbols: np.ndarray, scale: int
                   ) -> Callable[[tuple[int, ...]], float]:
    """codes -> MS-SSIM + LAMBDA * min(texture retention, 1) of the decode at R = 0.5 with those
    band gain codes, computed as the decoder does (from y0 and its bands, rounded to 8 bits). In
    float32, all channels at once, and texture energy by a 9-tap blur (models/train_layered.py):
    within 1e-4 of EVAL.md's float64 / Pillow numbers and several times faster."""
    h, w = image.shape[:2]
    y0 = generate(lm, base, symbols, 0, 0.0, scale, faithful=True)
    lows = [y0] + [gaussian_blur(y0, s) for s in BAND_SIGMAS]
    bands = [lows[k] - lows[k + 1] for k in range(len(BAND_SIGMAS))]
    g0 = lm.model.generator.band_gain[BASE_SCALES.index(scale)].detach().float().cpu()
    start = y0 + sum(float(g) * b for g, b in zip(g0, bands))
    x = to_tensor(image, torch.device("cpu"))
    e_orig = float(texture_energy(x))

    def objective(codes: tuple[int, ...]) -> float:
        out = (start + sum(c * GAIN_STEP * b for c, b in zip(codes, bands))).clamp(-1, 1)
        out = out.add(1).mul(127.5).round()[..., :h, :w]
        texture = float(texture_energy(out / 127.5 - 1)) / e_orig if e_orig > 0 else 0.0
        return float(ms_ssim(out, x.add(1).mul(127.5), data_range=255)) + LAMBDA * min(texture, 1.0)

    return objective


def step_ups(codes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The codes one STEP higher in one band, within MAX_CODE."""
    ups = [tuple(c + STEP * (j == k) for j, c in enumerate(codes)) for k in range(len(codes))]
    return [u for u in ups if max(u) <= min(MAX_CODE, MAX_GAIN_CODE)]


def choose_gains(lm: LoadedLayered, image: np.ndarray, base: np.ndarray, symbols: np.ndarray, scale: int
                 ) -> tuple[int, int, int]:
    """Band gain codes (fine, mid, coarse) for an image, its upscaled base and latent symbols
    (uncoded channels at the middle level). NO_GAINS for images too small for MS-SSIM."""
    if ms_ssim_reason(*image.shape[:2]) is not None:
        return NO_GAINS
    objective = gain_objective(lm, image, base, symbols, scale)
    best, score = NO_GAINS, objective(NO_GAINS)
    while True:
        scored = [(objective(u), u) for u in step_ups(best)]
        if not scored or max(scored)[0] <= score:
            return best  # type: ignore[return-value]
        score, best = max(scored)
