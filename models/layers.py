"""Small building blocks shared by the image models."""

from __future__ import annotations

import torch
from torch import nn


class ChannelNorm2d(nn.Module):
    """Normalize each pixel across channels (as in HiFiC), with a learned affine.

    Unlike instance norm it keeps image-level statistics (brightness, colour),
    which avoids the colour shift the GC paper reports, and it behaves the same
    on a 256-px training crop and a full image at decode time.
    """

    def __init__(self, channels: int, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, keepdim=True, unbiased=False)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "channel":
        return ChannelNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def conv_block(cin: int, cout: int, k: int, stride: int, norm: str) -> nn.Sequential:
    """c{k}s{stride}-{cout}: reflect-padded conv, norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, padding=k // 2, padding_mode="reflect"),
        norm_layer(norm, cout),
        nn.ReLU(inplace=True),
    )


def up_block(cin: int, cout: int, norm: str) -> nn.Sequential:
    """u{cout}: 3x3 fractionally strided conv (x2), norm, ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
        norm_layer(norm, cout),
        nn.ReLU(inplace=True),
    )


def resize_up_block(cin: int, cout: int, norm: str) -> nn.Sequential:
    """x2 nearest-neighbour up-sampling, then c3s1-{cout}, norm, ReLU (a resize-convolution: no
    transposed convolution's uneven overlap, so no checkerboard of its own)."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect"),
        norm_layer(norm, cout),
        nn.ReLU(inplace=True),
    )


class ResBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"),
            norm_layer(norm, channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"),
            norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
