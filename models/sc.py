"""Selective generative compression (SC) after Agustsson et al., ICCV 2019.

The decoder also sees the semantic label map s. A feature extractor F brings s to
the latent resolution; its features are concatenated with the quantized latent
(masked by a binary heatmap) before the generator. Where the heatmap is 0 the
latent costs no bits and the generator synthesizes from the semantics alone.

We keep the GC encoder's /16 downsampling (the paper's SC encoder uses /8) so a
semantic model reaches the same extreme rates as the GC models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .gc import STRIDE, Encoder, GCConfig, Generator, LatentPrior, Quantizer
from .layers import conv_block


@dataclass(frozen=True)
class SCConfig:
    width: int = 20
    blocks: int = 6
    channels: int = 6
    levels: int = 5
    norm: str = "channel"
    classes: int = 12  # semantic classes seen by the model (CamVid: 11 + void)
    sem_width: int = 8  # F's base width; it outputs 16 * sem_width channels at 1/16

    def gc(self) -> GCConfig:
        return GCConfig(self.width, self.blocks, self.channels, self.levels, self.norm)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SCConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown SC config keys {sorted(unknown)}")
        return cls(**d)


class SemanticFeatures(nn.Module):
    """F: c7s1-w, d2w, d4w, d8w, d16w on the one-hot label map."""

    def __init__(self, classes: int, w: int, norm: str) -> None:
        super().__init__()
        self.net = nn.Sequential(
            conv_block(classes, w, 7, 1, norm),
            conv_block(w, 2 * w, 3, 2, norm),
            conv_block(2 * w, 4 * w, 3, 2, norm),
            conv_block(4 * w, 8 * w, 3, 2, norm),
            conv_block(8 * w, 16 * w, 3, 2, norm),
        )

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.net(onehot)


def one_hot(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """(N, H, W) int -> (N, classes, H, W) float."""
    return F.one_hot(labels.long(), classes).permute(0, 3, 1, 2).float()


def synthesis_heatmap(labels: torch.Tensor, synthesized: torch.Tensor) -> torch.Tensor:
    """Binary heatmap at latent resolution: 0 where a latent cell is synthesized.

    A cell is synthesized when more than half of its 16x16 pixels belong to the
    `synthesized` classes (bool (classes,)). Integer counting makes the encoder and
    decoder derive the identical mask from the label map. labels: (N, H, W), H and W
    multiples of 16. Returns (N, 1, H/16, W/16) float.
    """
    chosen = synthesized.to(labels.device)[labels.long()].to(torch.int32)
    n, h, w = chosen.shape
    counts = chosen.view(n, h // STRIDE, STRIDE, w // STRIDE, STRIDE).sum(dim=(2, 4))
    return (counts * 2 <= STRIDE * STRIDE).to(torch.float32).unsqueeze(1)


class SCModel(nn.Module):
    def __init__(self, cfg: SCConfig) -> None:
        super().__init__()
        self.cfg = cfg
        gcfg = cfg.gc()
        self.encoder = Encoder(gcfg, extra_in=cfg.classes)
        self.quantizer = Quantizer(cfg.levels)
        self.prior = LatentPrior(cfg.channels, cfg.levels)
        self.semantics = SemanticFeatures(cfg.classes, cfg.sem_width, cfg.norm)
        self.generator = Generator(gcfg, extra_in=16 * cfg.sem_width)

    def forward(self, x: torch.Tensor, labels: torch.Tensor, heat: torch.Tensor) -> dict[str, torch.Tensor]:
        s = one_hot(labels, self.cfg.classes)
        w = self.encoder(torch.cat([x, s], 1))
        w_hat, symbols, soft = self.quantizer(w)
        x_hat = self.generator(torch.cat([w_hat * heat, self.semantics(s)], 1))
        return {"x_hat": x_hat, "symbols": symbols, "soft_assign": soft, "heat": heat}

    @torch.no_grad()
    def encode_symbols(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        s = one_hot(labels, self.cfg.classes)
        return self.quantizer.symbols(self.encoder(torch.cat([x, s], 1)))

    @torch.no_grad()
    def decode_symbols(self, symbols: torch.Tensor, labels: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
        s = one_hot(labels, self.cfg.classes)
        w_hat = self.quantizer.dequantize(symbols) * heat
        return self.generator(torch.cat([w_hat, self.semantics(s)], 1))


def random_heatmaps(labels: torch.Tensor, classes: int, gen: torch.Generator) -> torch.Tensor:
    """Training heatmaps as the paper draws them: per image, keep everything (1/3),
    synthesize a random subset of the classes present (1/3), or preserve one random
    box and synthesize the rest (1/3). labels: (N, H, W) -> (N, 1, H/16, W/16)."""
    n, h, w = labels.shape
    hh, ww = h // STRIDE, w // STRIDE
    heats = []
    for i in range(n):
        mode = int(torch.randint(3, (1,), generator=gen))
        if mode == 0:
            heat = torch.ones(1, 1, hh, ww)
        elif mode == 1:
            synth = torch.rand(classes, generator=gen) < 0.5
            heat = synthesis_heatmap(labels[i : i + 1].cpu(), synth)
        else:
            bh = int(torch.randint(1, hh + 1, (1,), generator=gen))
            bw = int(torch.randint(1, ww + 1, (1,), generator=gen))
            y = int(torch.randint(hh - bh + 1, (1,), generator=gen))
            x = int(torch.randint(ww - bw + 1, (1,), generator=gen))
            heat = torch.zeros(1, 1, hh, ww)
            heat[..., y : y + bh, x : x + bw] = 1
        heats.append(heat)
    return torch.cat(heats).to(labels.device)


def sc_state_from_gc(gc_state: dict[str, torch.Tensor], cfg: SCConfig) -> dict[str, torch.Tensor]:
    """An SC model's weights that start as the GC model `gc_state` exactly.

    The two inputs SC adds, the one-hot map into the encoder's first convolution and
    F's features into the generator's first convolution, get zero weights, so with an
    all-ones heatmap the SC model reproduces the GC model's latents and images; F keeps
    its random initialisation and learns once training moves those zero weights (as
    ControlNet's zero convolutions do). `gc_state` must match cfg's width, blocks,
    channels and levels.
    """
    model = SCModel(cfg)
    state = model.state_dict()
    for name, tensor in gc_state.items():
        if name not in state:
            raise ValueError(f"GC weight {name!r} has no place in an SC model")
        target = state[name]
        if name in ("encoder.net.0.0.weight", "generator.head.0.weight"):
            # GC's input channels come first in both concatenations (image then map; latent then F)
            if target.shape[0] != tensor.shape[0] or target.shape[2:] != tensor.shape[2:] \
                    or target.shape[1] < tensor.shape[1]:
                raise ValueError(f"GC weight {name!r} {tuple(tensor.shape)} does not fit {tuple(target.shape)}")
            widened = torch.zeros_like(target)
            widened[:, : tensor.shape[1]] = tensor.float()
            state[name] = widened
        elif target.shape != tensor.shape:
            raise ValueError(f"GC weight {name!r} {tuple(tensor.shape)} does not fit {tuple(target.shape)}")
        else:
            state[name] = tensor.float()
    missing = [n for n in state if n not in gc_state and not n.startswith("semantics.")]
    if missing:
        raise ValueError(f"GC weights lack {missing[:3]}")
    return state
