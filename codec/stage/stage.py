"""Decoding with a detail stage: a GC decode plus R times texture drawn from the file's noise.

`stage_for(ref)` finds the shipped stage trained on exactly that GC model (name and digest);
`apply_stage` runs it tile by tile. R = 0 returns the GC decode untouched, so a file decodes
at R = 0 to the bytes it always did. The noise is seeded with the CRC32 of the file's latent
section, so a file and an R give the same pixels on every machine (within float tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...bitstream.errors import InputError
from ...models.detail import TILES, DetailConfig, DetailGenerator, noise_field
from ...models.gc import STRIDE
from ...models.tiling import TilePlan, tiled
from ...models.train_stage import stage_output
from ..device import tile_batch
from ..model_store import load_weights
from ..registry import ModelRef, shipped_models

# Tiles in cells of the GC latents (16 px): the stage's receptive field, 61 px (models/detail.py,
# TILES), fits in a margin of four cells.
STAGE_TILES = TilePlan(cell=STRIDE, tile=2 * TILES.tile, margin=4)


@dataclass
class LoadedStage:
    ref: ModelRef
    stage: DetailGenerator
    device: torch.device
    default_realism: float


def stage_for(gc_ref: ModelRef) -> ModelRef | None:
    """The shipped detail stage for this exact GC model (name and digest), or None."""
    for ref in shipped_models("detail"):
        if ref.card.get("base_model") == gc_ref.name and ref.card.get("base_digest") == gc_ref.digest.hex():
            return ref
    return None


def load_stage(ref: ModelRef, device: torch.device) -> LoadedStage:
    state, card = load_weights(ref.path)
    try:
        stage = DetailGenerator(DetailConfig.from_dict(card["config"]))
        missing, unexpected = stage.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        if unexpected or any(not k.startswith("fidelity.") for k in missing):
            raise ValueError(f"tensors do not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
        realism = float(card.get("default_realism", 0.0))
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise InputError(f"{ref.path} is not a valid detail stage: {str(e).splitlines()[0]}") from None
    return LoadedStage(ref, stage.eval().to(device), device, realism)


@torch.inference_mode()
def apply_stage(ls: LoadedStage, decode: torch.Tensor, z: torch.Tensor, seed: int, realism: float) -> torch.Tensor:
    """decode (1, 3, H, W) in [-1, 1], H and W multiples of 16, and dequantized latents z (1, C, H/16,
    W/16) -> the decode at R = `realism`."""
    if realism == 0:
        return decode
    noise = noise_field(seed, decode.shape[-2], decode.shape[-1], ls.stage.noise_channels).to(ls.device)
    r = torch.full((1,), float(realism), device=ls.device)

    def run(d: torch.Tensor, zz: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        return stage_output(ls.stage, d, zz, n, r.expand(d.shape[0]))

    return tiled(run, [decode.float(), z.float(), noise], [STRIDE, 1, STRIDE], z.shape[-2:], STAGE_TILES.scaled(),
                 STRIDE, tile_batch(ls.device))
