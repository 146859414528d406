"""A WGAN-GP over GC latent codes (Agustsson et al., ICCV 2019, Figs. 20-21: sampling the code space).

Codes are the (C, h, w) symbol grids a GC encoder gives photos, one-hot over the L centers
(C * L channels). The generator maps a noise grid at 1/4 of the latent size to per-channel
softmaxes over the L centers; the critic sees one-hot real codes against either those softmaxes (as
the WGAN-GP paper's character model does) or, by default, their one-hot argmax with straight-through
gradients, which is exactly what sampling (the argmax) produces. Both nets are fully convolutional, so one trained on 16 x 16 latents (256 px crops)
samples any latent size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

NOISE_STRIDE = 4  # the noise grid is the latent grid / 4


@dataclass(frozen=True)
class CodeGANConfig:
    channels: int = 6  # C of the GC model whose codes it learns
    levels: int = 5  # L of that model
    noise: int = 32  # noise channels per cell of the noise grid
    width: int = 64  # base channel count of both nets

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CodeGANConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown code GAN config keys {sorted(unknown)}")
        return cls(**d)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode="reflect")


class CodeGenerator(nn.Module):
    """Noise (N, noise, h/4, w/4) -> logits (N, C, L, h, w)."""

    def __init__(self, cfg: CodeGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.net = nn.Sequential(
            _conv(cfg.noise, 2 * w), nn.LeakyReLU(0.2), _conv(2 * w, 2 * w), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(2 * w, 2 * w), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(2 * w, w), nn.LeakyReLU(0.2),
            _conv(w, w), nn.LeakyReLU(0.2),
            nn.Conv2d(w, cfg.channels * cfg.levels, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.net(z)
        return y.view(y.shape[0], self.cfg.channels, self.cfg.levels, *y.shape[-2:])

    def noise(self, n: int, h: int, w: int, gen: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
        """Noise for n codes of latent size (h, w) (the output is cropped to it); at least 2 x 2 cells,
        which the reflect-padded convolutions need."""
        return torch.randn(n, self.cfg.noise, max(2, -(-h // NOISE_STRIDE)), max(2, -(-w // NOISE_STRIDE)),
                           generator=gen, device=device)

    def soft(self, z: torch.Tensor, h: int, w: int, hard: bool = False) -> torch.Tensor:
        """What the critic sees of a generated code: softmaxes (N, C * L, h, w); with `hard`, the
        one-hot argmax (the code `symbols` samples) carrying the softmax's gradients (straight-through),
        so the critic cannot tell generated codes from real ones by their softness alone."""
        p = torch.softmax(self(z)[..., :h, :w], dim=2)
        if hard:
            p = p + (F.one_hot(p.argmax(dim=2), p.shape[2]).movedim(-1, 2).to(p.dtype) - p).detach()
        return p.flatten(1, 2)

    @torch.no_grad()
    def symbols(self, z: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """int64 symbols (N, C, h, w): the most probable center at every position."""
        return self(z)[..., :h, :w].argmax(dim=2)


class CodeCritic(nn.Module):
    """One-hot or soft codes (N, C * L, h, w) -> a score per code (no normalisation: the gradient
    penalty is per sample)."""

    def __init__(self, cfg: CodeGANConfig) -> None:
        super().__init__()
        w = cfg.width
        self.net = nn.Sequential(
            _conv(cfg.channels * cfg.levels, w), nn.LeakyReLU(0.2),
            _conv(w, 2 * w, 2), nn.LeakyReLU(0.2),
            _conv(2 * w, 4 * w, 2), nn.LeakyReLU(0.2),
            _conv(4 * w, 4 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(1, 2, 3))


def one_hot_codes(symbols: torch.Tensor, levels: int) -> torch.Tensor:
    """int symbols (N, C, h, w) -> float one-hot (N, C * L, h, w), channel-major like `CodeGenerator.soft`."""
    oh = F.one_hot(symbols.long(), levels).permute(0, 1, 4, 2, 3).float()
    return oh.flatten(1, 2)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (||grad critic(x)|| - 1)^2 at random points between real and fake."""
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=gen, device=real.device)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
