"""Training step and validation of a detail stage over a frozen GC or SC codec.

A detail stage is the layered codec's detail generator (models/detail.py) run on another
codec's decode, conditioned on that codec's dequantized latents: R = 0 is the codec's own
decode, untouched, so files and their faithful decodes stay exactly those of the codec;
R > 0 adds R times the texture head's residual, drawn from seeded noise and the features of
(decode, latents). Every step decodes its batch at one R ~ U(0, 1) and trains the trunk and
texture head on fidelity (MSE + MS-SSIM) plus R times the windowed texture statistics loss
(after Agustsson et al., Multi-Realism, CVPR 2023), and with `phase_weight` R times the block
phase loss on the texture residual (models/texture_loss.py); the fidelity head stays at zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .detail import UNSHUFFLE, DetailConfig, DetailGenerator
from .texture_loss import block_phase_loss
from .train_gc import distortion_target
from .train_layered import add_metrics, optimize


@dataclass
class StageTrainConfig:
    model: DetailConfig = field(default_factory=DetailConfig)
    lr: float = 5e-4
    batch: int = 8
    mse_weight: float = 100.0  # on [0, 1] pixel values
    msssim_weight: float = 1.0
    texture_weight: float = 2.0
    energy_weight: float = 0.0
    bf16: bool = False
    # SC: weight of the fidelity terms on synthesized pixels, whose decode never matches the
    # original's (models/train_gc.py, `distortion_target`); 0: texture statistics alone there
    synth_fidelity: float = 1.0
    # weight of block_phase_loss on the texture residual (models/texture_loss.py), times R: the
    # texture head draws each 4x4 cell from one feature vector, and without it learned a mosaic
    phase_weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StageTrainConfig":
        d = dict(d)
        return cls(model=DetailConfig.from_dict(d.pop("model")), **d)


def stage_trainable(stage: DetailGenerator) -> list[torch.nn.Parameter]:
    """Trunk and texture head; the fidelity head (unused: R = 0 is the codec's decode) stays out."""
    return [p for name, p in stage.named_parameters() if not name.startswith("fidelity.")]


def warm_start(stage: DetailGenerator, generator_state: dict[str, torch.Tensor]) -> list[str]:
    """Start a stage from a layered model's generator (`generator.*` tensors, prefix stripped): every
    tensor of the same shape is copied; the head's pixel inputs are copied and its latent inputs
    (another codec's latents) start at zero; the fidelity head stays at zero. Returns the names
    copied whole. A layered generator already draws texture on a blurred base, so the stage starts
    there instead of at nothing (trained from scratch on CPU, the texture head collapsed to zero)."""
    own = stage.state_dict()
    copied = []
    for name, value in generator_state.items():
        if name.startswith("fidelity.") or name not in own:
            continue
        if own[name].shape == value.shape:
            own[name] = value.float()
            copied.append(name)
        elif name == "head.weight":
            pixels = 3 * UNSHUFFLE**2
            own[name] = torch.cat([value[:, :pixels].float(), torch.zeros_like(own[name][:, pixels:])], 1)
    stage.load_state_dict(own)
    return copied


def stage_output(stage: DetailGenerator, decode: torch.Tensor, z: torch.Tensor, noise: torch.Tensor,
                 realism: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(decode + R * texture residual, the residual), per example R (N,)."""
    t = stage.texture_residual(stage.features(decode, z), noise, realism)
    return decode + realism.view(-1, 1, 1, 1).to(t.dtype) * t, t


def stage_step(stage: DetailGenerator, opt: torch.optim.Optimizer, cfg: StageTrainConfig, x: torch.Tensor,
               decode: torch.Tensor, z: torch.Tensor, gen: torch.Generator,
               heat: torch.Tensor | None = None) -> dict[str, float]:
    """One optimizer step on a batch (N, 3, H, W) in [-1, 1]: originals, codec decodes and their
    conditioning z (N, C, h, w); heat (N, 1, h, w): SC's coded cells, for cfg.synth_fidelity."""
    noise = torch.randn(x.shape[0], cfg.model.noise, *x.shape[-2:], generator=gen).to(x.device)
    r = float(torch.rand((), generator=gen))
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        out, t = stage_output(stage, decode, z, noise, torch.full((x.shape[0],), r, device=x.device))
    out = out.float()
    fidelity_out = None if heat is None else distortion_target(out, x, heat, cfg.synth_fidelity)
    phase = cfg.phase_weight * r * block_phase_loss(t, UNSHUFFLE) if cfg.phase_weight else None
    return optimize(opt, cfg, out, x, 0, r, fidelity_out=fidelity_out, extra=phase)


@torch.no_grad()
def validate_stage(stage: DetailGenerator, x: torch.Tensor, decode: torch.Tensor, z: torch.Tensor, batch: int = 8,
                   realisms: tuple[float, ...] = (0.25, 0.5, 1.0)) -> dict[str, float]:
    """Means over held-out crops: PSNR / MS-SSIM / texture retention of the codec's decode ("r0_*")
    and of the decode at each R ("r<R>_*"), and block_phase_loss of the residual at the last R
    ("phase"; a photo's detail scores about 0.01, the stages trained without it about 1)."""
    sums: dict[str, float] = {}
    gen = torch.Generator().manual_seed(0)
    for i in range(0, x.shape[0], batch):
        xb, db, zb = x[i : i + batch], decode[i : i + batch], z[i : i + batch]
        noise = torch.randn(xb.shape[0], stage.noise_channels, *xb.shape[-2:], generator=gen)
        outs = {f"r{r:g}": stage_output(stage, db, zb, noise, torch.full((xb.shape[0],), r)) for r in realisms}
        add_metrics(sums, {"r0": db, **{k: out for k, (out, _) in outs.items()}}, xb)
        t = outs[f"r{realisms[-1]:g}"][1]
        sums["phase"] = sums.get("phase", 0.0) + float(block_phase_loss(t, UNSHUFFLE)) * xb.shape[0]
    return {k: round(v / x.shape[0], 4) for k, v in sums.items()}
