"""Decoding with a detail stage: a GC or SC decode plus texture drawn from the file's noise, and
the file's fine grain (codec/stage/grain.py) for GC files that carry it.

`stage_for(ref)` finds the shipped stage trained on exactly that GC or SC model (name and
digest); `apply_stage` runs it tile by tile, conditioned on the GC latents or on SC's
`stage_conditioning` (models/sc.py). R = 0 returns the decode untouched, so a file decodes at
R = 0 to the bytes it always did. The noise is seeded with a CRC32 of the file's sections
(gc_codec.latent_seed, sc_codec.stage_seed), so a file and an R give the same pixels on every
machine (within float tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...bitstream.errors import InputError
from ...models.detail import TILES, DetailConfig, DetailGenerator, fine_grain, noise_field
from ...models.gc import STRIDE
from ...models.tiling import TilePlan, tiled
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


def stage_for(base: ModelRef) -> ModelRef | None:
    """The shipped detail stage for this exact GC or SC model (name and digest), or None."""
    for ref in shipped_models("detail"):
        if ref.card.get("base_model") == base.name and ref.card.get("base_digest") == base.digest.hex():
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


def stage_ramps(realism: float, default: float) -> tuple[float, float]:
    """(grain weight, texture weight) at R for files with fine grain: the grain ramps in to all of it
    at the stage's default R, then the stage's texture ramps in to R times its residual at R = 1,
    so R = 0 is the GC decode and R = 1 adds the same texture as in files without grain."""
    if default <= 0 or default >= 1:
        return (1.0 if realism > 0 else 0.0), realism
    return min(1.0, realism / default), max(0.0, (realism - default) / (1 - default))


@torch.inference_mode()
def apply_stage(ls: LoadedStage, decode: torch.Tensor, z: torch.Tensor, seed: int, realism: float,
                grain: float | None = None) -> torch.Tensor:
    """decode (1, 3, H, W) in [-1, 1], H and W multiples of 16, and the conditioning z (1, C, H/16,
    W/16: GC's dequantized latents, or SC's `stage_conditioning`) -> the decode at R = `realism`.
    `grain`: the file's fine grain gain (bitstream/grain.py), None for files written before fine
    grain, which decode as they always did: R times the stage's texture. With a gain (even 0), R
    ramps the grain in up to the stage's default R and the texture after it (stage_ramps)."""
    if realism == 0:
        return decode
    noise = noise_field(seed, decode.shape[-2], decode.shape[-1], ls.stage.noise_channels).to(ls.device)
    grain_weight, texture_weight = (0.0, realism) if grain is None else stage_ramps(realism, ls.default_realism)
    grain_weight *= grain or 0.0
    r = torch.full((1,), float(texture_weight), device=ls.device)

    def run(d: torch.Tensor, zz: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        feat, out = ls.stage.features(d, zz), d  # one trunk pass for texture and grain
        if texture_weight > 0:  # as models/train_stage.py's stage_output
            out = out + texture_weight * ls.stage.texture_residual(feat, n, r.expand(d.shape[0]))
        if grain_weight > 0:  # the envelope: the stage's residual at R = 1 (models/detail.py, fine_grain)
            t = ls.stage.texture_residual(feat, n, torch.ones_like(r).expand(d.shape[0]))
            out = out + grain_weight * fine_grain(t, n)
        return out

    return tiled(run, [decode.float(), z.float(), noise], [STRIDE, 1, STRIDE], z.shape[-2:], STAGE_TILES.scaled(),
                 STRIDE, tile_batch(ls.device))
