"""NeRV (Chen et al., NeurIPS 2021): frame index -> frame, with pluggable weight providers.

    t in [0, 1] -> PE (sin/cos of b^i * pi * t, i < l) -> Linear -> GELU -> Linear -> GELU
      -> (C0, h0, w0) -> [conv3x3 to C_{k+1} s^2, PixelShuffle(s), GELU] per stage
      -> conv3x3 to RGB -> (tanh + 1) / 2

The working frame is (h0 * prod(s), w0 * prod(s)) >= the video frame; the caller crops.
Every weight comes from a provider module (see supermask.py), so one architecture
serves the supermask, dense and pruned methods and the decoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

PE_BASE = 1.25


@dataclass(frozen=True)
class NervConfig:
    frames: int
    height: int  # video frame size the model covers (crop target)
    width: int
    h0: int
    w0: int
    strides: tuple[int, ...]
    channels: tuple[int, ...]  # len(strides) + 1: stem output, then after each stage
    hidden: int
    pe_levels: int = 80
    pe_base: float = PE_BASE

    @property
    def work_size(self) -> tuple[int, int]:
        s = math.prod(self.strides)
        return self.h0 * s, self.w0 * s

    def layer_shapes(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(name, weight shape, fan_in) of every layer, in a fixed order (= seed layer index)."""
        c = self.channels
        out = [
            ("stem1", (self.hidden, 2 * self.pe_levels), 2 * self.pe_levels),
            ("stem2", (c[0] * self.h0 * self.w0, self.hidden), self.hidden),
        ]
        for k, s in enumerate(self.strides):
            out.append((f"block{k}", (c[k + 1] * s * s, c[k], 3, 3), c[k] * 9))
        out.append(("head", (3, c[-1], 3, 3), c[-1] * 9))
        return out

    def n_weights(self) -> int:
        return sum(math.prod(shape) for _, shape, _ in self.layer_shapes())

    def n_biases(self) -> int:
        return sum(shape[0] for _, shape, _ in self.layer_shapes())


def plan_strides(height: int, width: int, max_stages: int = 5, max_pad: float = 1.25) -> tuple[int, int, tuple[int, ...]]:
    """(h0, w0, strides): as many stride-2 stages as keep the padded area within max_pad.

    A 25% pad allowance gives carphone (176x144) five stages on a 5x6 stem instead of four
    on 9x11 (the stem's linear layer shrinks 4x, the weights go to convolutions): 100 epochs,
    supermask 27.18 -> 27.75 dB at 0.03 bpp and 30.54 -> 31.11 at 0.1; dense 29.72 -> 30.28
    at 0.1. (A 15% allowance kept four.)
    """
    best = (height, width, ())
    for k in range(1, max_stages + 1):
        s = 2**k
        h0, w0 = -(-height // s), -(-width // s)
        if min(h0, w0) < 2:
            break
        if h0 * w0 * s * s <= max_pad * height * width:
            best = (h0, w0, (2,) * k)
    return best


def make_config(frames: int, height: int, width: int, width_c: int, hidden: int | None = None,
                pe_levels: int = 80, shrink: float = 1.0, min_channels: int = 4) -> NervConfig:
    """Channels width_c / shrink**k per stage; the MLP's hidden width follows width_c (8..64).

    shrink 1 (equal widths at every stage) beat NeRV's narrowing channels on carphone
    at 0.03 bpp, 100 epochs: supermask 26.80 dB (1.2: 25.93, 1.5: 25.13), dense 24.85
    (1.2: 25.19, 1.5: 24.53); at 0.1 bpp dense 29.53 (1.2: 28.98).
    """
    h0, w0, strides = plan_strides(height, width)
    hidden = hidden if hidden is not None else max(8, min(64, width_c))
    chans = tuple(max(min_channels, int(round(width_c / shrink**k))) for k in range(len(strides) + 1))
    return NervConfig(frames, height, width, h0, w0, strides, chans, hidden, pe_levels)


def positional_encoding(t: torch.Tensor, levels: int, base: float = PE_BASE) -> torch.Tensor:
    """t: (B,) in [0, 1] -> (B, 2*levels) [sin(b^i pi t)..., cos(b^i pi t)...], computed in float64."""
    freqs = (base ** torch.arange(levels, dtype=torch.float64, device=t.device)) * math.pi
    arg = t.to(torch.float64)[:, None] * freqs[None]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1).float()


WeightFactory = Callable[[int, str, tuple[int, ...], int], nn.Module]


class Nerv(nn.Module):
    def __init__(self, cfg: NervConfig, make_weight: WeightFactory) -> None:
        super().__init__()
        self.cfg = cfg
        # Training sets this: oneDNN's convolutions run 1.6-2x faster on NHWC tensors on CPU
        # (bikes 480x270, one thread). Decoding keeps NCHW so files decode as they always have.
        self.channels_last = False
        self.weights = nn.ModuleList()
        self.biases = nn.ParameterList()
        for i, (name, shape, fan_in) in enumerate(cfg.layer_shapes()):
            self.weights.append(make_weight(i, name, shape, fan_in))
            self.biases.append(nn.Parameter(torch.zeros(shape[0])))

    def frame_times(self, idx: torch.Tensor) -> torch.Tensor:
        return idx.to(torch.float64) / max(1, self.cfg.frames - 1)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Frame indices (B,) -> RGB in [0, 1], (B, 3, height, width) (cropped)."""
        cfg = self.cfg
        x = positional_encoding(self.frame_times(idx), cfg.pe_levels, cfg.pe_base)
        w = [m() for m in self.weights]
        b = list(self.biases)
        x = F.gelu(F.linear(x, w[0], b[0]))
        x = F.gelu(F.linear(x, w[1], b[1]))
        x = x.view(x.shape[0], cfg.channels[0], cfg.h0, cfg.w0)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for k, s in enumerate(cfg.strides):
            x = F.gelu(F.pixel_shuffle(F.conv2d(x, w[2 + k], b[2 + k], padding=1), s))
        x = F.conv2d(x, w[-1], b[-1], padding=1)
        x = (torch.tanh(x.float()) + 1.0) * 0.5
        return x[:, :, : cfg.height, : cfg.width]
