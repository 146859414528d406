"""The GC encoder's fine grain: the dose of pixel-scale grain a GC file's detail-stage decode adds.

A GC decode keeps a tenth of the original's fine-detail energy. With a detail stage installed, the
encoder writes a fine grain code (section 3 of the GC image, one byte) picked as for layered files
(codec/grain_search.py): the smallest code whose decode at the stage's default R keeps half the
original's fine-detail energy, but never one that costs that decode more than MAX_PSNR_LOSS of PSNR
(the tolerance a GC stage's default R keeps). The grain's envelope is the stage's texture residual
(models/detail.py, `fine_grain`); R = 0 stays the GC decode itself, and in such files the stage's
own texture only comes in above the default R (codec/stage/stage.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...bitstream.container import pack, unpack
from ...bitstream.grain import grain_gain
from ..grain_search import choose_grain_code
from .stage import LoadedStage, apply_stage

if TYPE_CHECKING:
    from ..gc_codec import LoadedGC

# the most PSNR the default decode may give up to grain, per image: the tolerance the default R of a
# GC detail stage keeps (docs/detail_stage.md)
MAX_PSNR_LOSS = 0.6


@torch.inference_mode()
def with_chosen_grain(gc: LoadedGC, stage: LoadedStage, image: np.ndarray, data: bytes) -> bytes:
    """A GC file with the fine grain section chosen for `image` (written even when the code is 0:
    the section's presence says the file's R ramps grain, then texture; codec/stage/stage.py)."""
    from ..gc_codec import SECTION_FINE_GRAIN, decode_latents, decode_symbols, latent_seed, to_uint8

    if stage.default_realism <= 0:
        return data
    c = unpack(data)
    h, w = c.size
    symbols = torch.from_numpy(decode_latents(gc, c)).unsqueeze(0).to(gc.device)
    x = decode_symbols(gc, symbols).float()
    z = gc.model.quantizer.dequantize(symbols)
    seed = latent_seed(c)

    def decode(code: int) -> np.ndarray:
        return to_uint8(apply_stage(stage, x, z, seed, stage.default_realism, grain_gain(code)), h, w)

    code = choose_grain_code(image, decode, MAX_PSNR_LOSS)
    sections = tuple(s for s in c.sections if s[0] != SECTION_FINE_GRAIN) + ((SECTION_FINE_GRAIN, bytes([code])),)
    return pack(replace(c, sections=sections))
