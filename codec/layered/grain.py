"""The encoder's fine grain: how much pixel-scale detail each file's default decode adds.

At 0.02-0.03 bpp the VVC base keeps a fifth of the original's fine-detail energy, and the band
gains (codec/layered/gains.py) can only sharpen what is left. Models with band gains also decode
a fine grain (models/detail.py, `fine_grain`): the texture head's detail, which the latents place
where the original had texture, confined to the band around the pixel checkerboard frequency.
MS-SSIM's 2x2 averaging removes that band before its coarser scales, so it costs a quarter of
what the same energy of broadband texture does (docs/layered.md, "Fine grain").

The file carries a grain code (one byte, only when not 0; bitstream/layered.py, `grain_gain`:
24 codes an octave); the sharpening ramp min(1, 2R) scales it, so R = 0 is unchanged and R = 0.5
gets all of it. The encoder, which sees the original, picks the smallest code whose default decode
keeps GRAIN_TARGET of the original's fine-detail energy (EVAL.md's texture retention, measured on
the pixels the decoder makes), and none when the decode without grain already does. Grain adds
energy about in proportion to its gain squared, so after one guess the search aims: 1 to 5 decodes.
"""

from __future__ import annotations

import math

import numpy as np

from ...bitstream.container import unpack
from ...bitstream.layered import GRAIN_CODES_PER_OCTAVE, GRAIN_UNIT, MAX_GRAIN_CODE, SECTION, grain_gain, unpack_payload
from ..eval.metrics import texture_energy
from .codec import LoadedLayered, generate, noise_seed, with_gains
from .gains import choose_gains

GRAIN_TARGET = 0.5  # the default decode keeps at least half of the original's fine-detail energy
FIRST_GUESS = 97  # a gain of 0.8, about what photos at 0.02-0.03 bpp need (docs/layered.md)
MAX_TRIES = 8  # decodes after the one without grain; 2 to 4 are the rule


def choose_grain(lm: LoadedLayered, image: np.ndarray, base: np.ndarray, symbols: np.ndarray, scale: int,
                 gains: tuple[int, int, int], seed: int) -> int:
    """The smallest grain code whose decode at the model's default R keeps GRAIN_TARGET of the
    original's texture energy (MAX_GRAIN_CODE when none does); 0 when no grain is needed or the
    original has no fine detail. symbols: the decoder's; seed: the file's noise seed."""
    goal = GRAIN_TARGET * texture_energy(image)
    if not goal > 0:
        return 0

    def energy(code: int) -> float:
        return texture_energy(generate(lm, base, symbols, seed, lm.default_realism, scale, gains=gains, grain=code))

    e0 = energy(0)
    if e0 >= goal:
        return 0
    lo, hi = 0, MAX_GRAIN_CODE + 1  # energy(lo) < goal <= energy(hi); hi past the last code: none known
    code = FIRST_GUESS
    for _ in range(MAX_TRIES):
        e = energy(code)
        lo, hi = (lo, code) if e >= goal else (code, hi)
        if hi - lo <= 1:
            break
        # grain adds energy about in proportion to its gain squared: aim at the goal from here
        per_gain2 = (e - e0) / grain_gain(code) ** 2
        aim = code_for_gain(math.sqrt((goal - e0) / per_gain2)) if per_gain2 > 0 else hi - 1
        code = min(max(aim, lo + 1), hi - 1)
    return min(hi, MAX_GRAIN_CODE)


def code_for_gain(gain: float) -> int:
    """The smallest code whose grain_gain is at least `gain` (> 0), not clipped to the code range."""
    return max(1, math.ceil(1 + GRAIN_CODES_PER_OCTAVE * math.log2(gain / GRAIN_UNIT) - 1e-9))


def with_chosen_detail(lm: LoadedLayered, data: bytes, image: np.ndarray, base: np.ndarray, symbols: np.ndarray,
                       scale: int) -> bytes:
    """A layered file (written without gains) with the band gains and then the fine grain chosen
    for `image`; the same size plus the 2 bytes of gains. symbols: the decoder's (uncoded channels
    at the middle level)."""
    gains = choose_gains(lm, image, base, symbols, scale)
    c = unpack(data)
    seed = noise_seed(unpack_payload(c.section(SECTION), c.size))
    return with_gains(data, gains, choose_grain(lm, image, base, symbols, scale, gains, seed))
