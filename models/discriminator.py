"""Multi-scale PatchGAN discriminator (pix2pixHD style) with feature outputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchDiscriminator(nn.Module):
    """C64-C128-C256-C512 (4x4 convs, LeakyReLU 0.2), then a 1-channel score map."""

    def __init__(self, in_ch: int = 3, base: int = 64, layers: int = 3) -> None:
        super().__init__()
        chans = [in_ch] + [base * 2**i for i in range(layers + 1)]
        self.stages = nn.ModuleList()
        for i in range(layers + 1):
            stride = 2 if i < layers else 1
            norm = nn.Identity() if i == 0 else nn.InstanceNorm2d(chans[i + 1], affine=True)
            self.stages.append(
                nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 4, stride, 2), norm, nn.LeakyReLU(0.2, True))
            )
        self.stages.append(nn.Conv2d(chans[-1], 1, 4, 1, 2))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats  # last entry is the score map


class MultiScaleDiscriminator(nn.Module):
    """The same PatchGAN at full, 1/2 and 1/4 resolution; optional conditioning channels."""

    def __init__(self, in_ch: int = 3, base: int = 64, scales: int = 3) -> None:
        super().__init__()
        self.discs = nn.ModuleList([PatchDiscriminator(in_ch, base) for _ in range(scales)])

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outs = []
        for i, d in enumerate(self.discs):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(d(x))
        return outs
