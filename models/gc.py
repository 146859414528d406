"""Generative compression (GC) after Agustsson et al., ICCV 2019.

x -> Encoder -> w (C channels at 1/16 resolution) -> Quantizer (L centers)
  -> symbols (coded by the bitstream layer under per-channel tables)
  -> Generator -> x_hat.

Images are float tensors in [-1, 1], NCHW, with H and W multiples of 16
(callers reflect-pad; see `pad_to_multiple`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResBlock, conv_block, up_block
from .tiling import TilePlan

STRIDE = 16
# Tiles (models/tiling.py), margins in cells of 16 px. The encoder's receptive field reaches
# about 50 px (7x7 at full size, four stride-2 3x3s, a 3x3 at 1/16): 4 cells cover it. The
# generator's theoretical field is 14 cells (thirteen 3x3s at 1/16, then up-sampling and a 7x7),
# but its weights decay fast: see GENERATOR_TILES.
ENCODER_TILES = TilePlan(cell=STRIDE, tile=64, margin=4)
GENERATOR_TILES = TilePlan(cell=STRIDE, tile=64, margin=8)


@dataclass(frozen=True)
class GCConfig:
    width: int = 16  # w in the paper's notation (paper: 60)
    blocks: int = 6  # residual blocks in the generator (paper: 9)
    channels: int = 4  # C: latent channels (paper: 2, 4 or 8)
    levels: int = 5  # L: quantization centers
    norm: str = "channel"  # "channel" (HiFiC) or "instance" (paper)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GCConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown GC config keys {sorted(unknown)}")
        return cls(**d)


class Encoder(nn.Module):
    """c7s1-w, d2w, d4w, d8w, d16w, c3s1-C (no norm or ReLU before the quantizer)."""

    def __init__(self, cfg: GCConfig, extra_in: int = 0) -> None:
        super().__init__()
        w, n = cfg.width, cfg.norm
        self.net = nn.Sequential(
            conv_block(3 + extra_in, w, 7, 1, n),
            conv_block(w, 2 * w, 3, 2, n),
            conv_block(2 * w, 4 * w, 3, 2, n),
            conv_block(4 * w, 8 * w, 3, 2, n),
            conv_block(8 * w, 16 * w, 3, 2, n),
            nn.Conv2d(16 * w, cfg.channels, 3, padding=1, padding_mode="reflect"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Quantizer(nn.Module):
    """Nearest of L learned centers; soft-to-hard with a straight-through estimator."""

    def __init__(self, levels: int, sigma: float = 1.0) -> None:
        super().__init__()
        half = (levels - 1) / 2
        self.centers = nn.Parameter(torch.linspace(-half, half, levels))
        self.sigma = sigma

    def distances(self, w: torch.Tensor) -> torch.Tensor:
        # (N, C, H, W, L) squared distances to every center
        return (w.unsqueeze(-1) - self.centers) ** 2

    def symbols(self, w: torch.Tensor) -> torch.Tensor:
        """Index of the nearest center, int64 (N, C, H, W)."""
        return self.distances(w).argmin(dim=-1)

    def dequantize(self, symbols: torch.Tensor) -> torch.Tensor:
        return self.centers[symbols]

    def forward(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (w_hat with straight-through gradients, hard symbols, soft assignments)."""
        d = self.distances(w)
        soft_assign = torch.softmax(-self.sigma * d, dim=-1)
        w_soft = (soft_assign * self.centers).sum(-1)
        symbols = d.argmin(dim=-1)
        w_hard = self.centers[symbols]
        return w_soft + (w_hard - w_soft).detach(), symbols, soft_assign


class LatentPrior(nn.Module):
    """Per-channel categorical distribution over the L symbols (the static entropy model).

    Learned by maximum likelihood on the encoder's hard symbols during training;
    export turns it into integer tables so every machine codes with the same numbers.
    """

    def __init__(self, channels: int, levels: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(channels, levels))

    def bits(self, symbols: torch.Tensor) -> torch.Tensor:
        """-log2 p of each hard symbol, (N, C, H, W); gradients reach only the logits."""
        logp = torch.log_softmax(self.logits.float(), dim=-1)  # (C, L)
        c = torch.arange(symbols.shape[1], device=symbols.device).view(1, -1, 1, 1).expand_as(symbols)
        return -logp[c, symbols] / torch.log(torch.tensor(2.0))

    def soft_bits(self, soft_assign: torch.Tensor) -> torch.Tensor:
        """Expected -log2 p under the soft assignments; gradients reach the encoder only."""
        logp = torch.log_softmax(self.logits.detach().float(), dim=-1)  # (C, L)
        return -(soft_assign.float() * logp.view(1, -1, 1, 1, logp.shape[-1])).sum(-1) / torch.log(torch.tensor(2.0))


class Generator(nn.Module):
    """c3s1-16w, n residual blocks, u8w, u4w, u2w, uw, c7s1-3 (tanh)."""

    def __init__(self, cfg: GCConfig, extra_in: int = 0) -> None:
        super().__init__()
        w, n = cfg.width, cfg.norm
        self.head = conv_block(cfg.channels + extra_in, 16 * w, 3, 1, n)
        self.blocks = nn.Sequential(*[ResBlock(16 * w, n) for _ in range(cfg.blocks)])
        self.up = nn.Sequential(
            up_block(16 * w, 8 * w, n),
            up_block(8 * w, 4 * w, n),
            up_block(4 * w, 2 * w, n),
            up_block(2 * w, w, n),
        )
        self.tail = nn.Conv2d(w, 3, 7, padding=3, padding_mode="reflect")

    def forward(self, z: torch.Tensor, after_up: Callable[[int, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """after_up(i, h): applied to the features after up-sampling stage i (SC adds noise there)."""
        h = self.head(z)
        h = h + self.blocks(h)
        for i, stage in enumerate(self.up):
            h = stage(h)
            if after_up is not None:
                h = after_up(i, h)
        return torch.tanh(self.tail(h))


class GCModel(nn.Module):
    """Encoder, quantizer, prior and generator of one GC model (the discriminator lives apart)."""

    def __init__(self, cfg: GCConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = Quantizer(cfg.levels)
        self.prior = LatentPrior(cfg.channels, cfg.levels)
        self.generator = Generator(cfg)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        w = self.encoder(x)
        w_hat, symbols, soft = self.quantizer(w)
        x_hat = self.generator(w_hat)
        return {"x_hat": x_hat, "symbols": symbols, "soft_assign": soft}

    @torch.no_grad()
    def encode_symbols(self, x: torch.Tensor) -> torch.Tensor:
        """Image in [-1, 1], H and W multiples of 16 -> int64 symbols (N, C, H/16, W/16)."""
        return self.quantizer.symbols(self.encoder(x))

    @torch.no_grad()
    def decode_symbols(self, symbols: torch.Tensor) -> torch.Tensor:
        return self.generator(self.quantizer.dequantize(symbols))


MIN_SIDE = 2 * STRIDE  # reflect-padded 3x3 convs need at least 2x2 latents


def padded_size(height: int, width: int) -> tuple[int, int]:
    """Size the networks see: a multiple of 16, at least 32 on each side."""
    return max(-(-height // STRIDE) * STRIDE, MIN_SIDE), max(-(-width // STRIDE) * STRIDE, MIN_SIDE)


def pad_to_multiple(x: torch.Tensor) -> torch.Tensor:
    """Pad the bottom and right of NCHW `x` to `padded_size` (reflect, or replicate for tiny images)."""
    h, w = x.shape[-2:]
    ph, pw = (v - s for v, s in zip(padded_size(h, w), (h, w)))
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
