"""The encoder's per-image detail for models with band gains: band gains, then fine grain.

At 0.02-0.03 bpp the VVC base keeps a fifth of the original's fine-detail energy, and the band
gains (codec/layered/gains.py) can only sharpen what is left. Models with band gains also decode
a fine grain (models/detail.py, `fine_grain`): pixel-scale grain where the texture head puts
detail, in the band MS-SSIM's 2x2 averaging removes before its coarser scales, so it costs a
fraction of what the same energy of broadband texture does (docs/layered.md, "Fine grain"). The
sharpening ramp min(1, 2R) scales it: R = 0 is unchanged, R = 0.5 gets all of it. Its dose is
chosen as for every fine-grain decoder (codec/grain_search.py).
"""

from __future__ import annotations

import numpy as np

from ...bitstream.container import unpack
from ...bitstream.layered import SECTION, unpack_payload
from ..grain_search import choose_grain_code
from .codec import LoadedLayered, generate, noise_seed, with_gains
from .gains import choose_gains


def choose_grain(lm: LoadedLayered, image: np.ndarray, base: np.ndarray, symbols: np.ndarray, scale: int,
                 gains: tuple[int, int, int], seed: int) -> int:
    """The file's grain code (codec/grain_search.py), its decodes made at the model's default R.
    symbols: the decoder's; seed: the file's noise seed."""
    return choose_grain_code(image, lambda code: generate(lm, base, symbols, seed, lm.default_realism, scale,
                                                          gains=gains, grain=code))


def with_chosen_detail(lm: LoadedLayered, data: bytes, image: np.ndarray, base: np.ndarray, symbols: np.ndarray,
                       scale: int) -> bytes:
    """A layered file (written without gains) with the band gains and then the fine grain chosen
    for `image`; the same size plus the 2 bytes of gains. symbols: the decoder's (uncoded channels
    at the middle level)."""
    gains = choose_gains(lm, image, base, symbols, scale)
    c = unpack(data)
    seed = noise_seed(unpack_payload(c.section(SECTION), c.size))
    return with_gains(data, gains, choose_grain(lm, image, base, symbols, scale, gains, seed))
