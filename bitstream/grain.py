"""The fine grain code: one byte in layered and GC files that sets how much pixel-scale grain the
decode adds (models/detail.py, `fine_grain`; docs/layered.md, "Fine grain").

Code c means a gain of 0 for c = 0, else GRAIN_UNIT * 2^((c - 1) / GRAIN_CODES_PER_OCTAVE): steps of
6% in grain energy, from 0.05 to 78 times the texture residual's local RMS.
"""

from __future__ import annotations

import math

MAX_GRAIN_CODE = 255
GRAIN_UNIT = 0.05  # grain code 1's gain: grain RMS in units of the texture residual's local RMS
GRAIN_CODES_PER_OCTAVE = 24


def grain_gain(code: int) -> float:
    """The fine grain's gain for a grain code (0..255)."""
    if not 0 <= code <= MAX_GRAIN_CODE:
        raise ValueError(f"grain code must be in 0..{MAX_GRAIN_CODE}, got {code}")
    return 0.0 if code == 0 else GRAIN_UNIT * 2.0 ** ((code - 1) / GRAIN_CODES_PER_OCTAVE)


def code_for_gain(gain: float) -> int:
    """The smallest code whose grain_gain is at least `gain` (> 0), not clipped to the code range."""
    return max(1, math.ceil(1 + GRAIN_CODES_PER_OCTAVE * math.log2(gain / GRAIN_UNIT) - 1e-9))
