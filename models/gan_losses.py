"""LSGAN and discriminator feature-matching losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lsgan_d_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Discriminator: (D(x) - 1)^2 + D(G(z))^2, averaged over scales."""
    loss = sum(((r[-1].float() - 1) ** 2).mean() + (f[-1].float() ** 2).mean() for r, f in zip(real, fake))
    return loss / len(real)


def lsgan_g_loss(fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Generator: (D(G(z)) - 1)^2, averaged over scales."""
    return sum(((f[-1].float() - 1) ** 2).mean() for f in fake) / len(fake)


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminator's intermediate features of real and generated images."""
    total = 0.0
    count = 0
    for r_scale, f_scale in zip(real, fake):
        for r, f in zip(r_scale[:-1], f_scale[:-1]):
            total = total + F.l1_loss(f.float(), r.detach().float())
            count += 1
    return total / max(count, 1)


def mode_seeking_loss(a: torch.Tensor, b: torch.Tensor, synthesized: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """1 / (mean |a - b| over synthesized pixels): two images generated from the same code with
    different noise (MSGAN, Mao et al. 2019; the +-1 noise differs by 1 per channel on average).
    Minimizing it makes a conditional generator use its noise, which otherwise learns to ignore
    it (pix2pix). synthesized: (N, 1, H, W) 1 where a pixel is synthesized; 0 when none is."""
    m = synthesized.float()
    if m.sum() == 0:
        return a.new_zeros(())
    diff = ((a.float() - b.float()).abs().mean(1, keepdim=True) * m).sum() / m.sum()
    return 1 / (diff + eps)
