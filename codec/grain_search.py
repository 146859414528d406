"""The encoder's fine grain dose, for every decoder that draws fine grain (layered and GC files).

The file carries a grain code (bitstream/grain.py); the encoder, which sees the original, picks the
smallest code whose default decode keeps GRAIN_TARGET of the original's fine-detail energy (EVAL.md's
texture retention, measured on the pixels the decoder makes), and 0 when the decode without grain
already does. Grain adds energy about in proportion to its gain squared, so after one guess the
search aims: 1 to 5 decodes (docs/layered.md, "Fine grain").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..bitstream.grain import MAX_GRAIN_CODE, code_for_gain, grain_gain
from .eval.metrics import texture_energy

GRAIN_TARGET = 0.5  # the default decode keeps at least half of the original's fine-detail energy
FIRST_GUESS = 97  # a gain of 0.8, about what photos at 0.02-0.03 bpp need (docs/layered.md)
MAX_TRIES = 8  # decodes after the one without grain; 2 to 4 are the rule


def choose_grain_code(image: np.ndarray, decode: Callable[[int], np.ndarray], max_psnr_loss: float | None = None
                      ) -> int:
    """The smallest grain code whose decode (`decode(code)`: uint8 RGB at the default R) keeps
    GRAIN_TARGET of `image`'s texture energy (MAX_GRAIN_CODE when none does); 0 when no grain is
    needed or the original has no fine detail. With `max_psnr_loss` (dB), never more grain than
    keeps the decode's PSNR within that of the decode without grain."""
    goal = GRAIN_TARGET * texture_energy(image)
    if not goal > 0:
        return 0
    plain = decode(0)
    e0 = texture_energy(plain)
    if e0 >= goal:
        return 0
    code = min(_first_reaching(lambda c: texture_energy(decode(c)), goal, e0, FIRST_GUESS), MAX_GRAIN_CODE)
    if max_psnr_loss is None:
        return code
    mse0 = _mse(plain, image)
    cap = mse0 * 10 ** (max_psnr_loss / 10)
    too_much = _first_reaching(lambda c: _mse(decode(c), image), math.nextafter(cap, math.inf), mse0, code)
    return min(code, too_much - 1)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b) ** 2))


def _first_reaching(value: Callable[[int], float], goal: float, v0: float, guess: int) -> int:
    """The smallest code whose value reaches `goal` (> v0, the value at code 0), MAX_GRAIN_CODE + 1
    when none does. Grain adds energy, and so texture energy and squared error, about in proportion
    to its gain squared: after `guess`, each try aims at the goal from what it measured."""
    lo, hi = 0, MAX_GRAIN_CODE + 1  # value(lo) < goal <= value(hi); hi past the last code: none known
    code = min(max(guess, 1), MAX_GRAIN_CODE)
    for _ in range(MAX_TRIES):
        v = value(code)
        lo, hi = (lo, code) if v >= goal else (code, hi)
        if hi - lo <= 1:
            break
        per_gain2 = (v - v0) / grain_gain(code) ** 2
        aim = code_for_gain(math.sqrt((goal - v0) / per_gain2)) if per_gain2 > 0 else hi - 1
        code = min(max(aim, lo + 1), hi - 1)
    return hi
