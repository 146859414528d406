"""Selective generative compression (SC) after Agustsson et al., ICCV 2019.

The decoder also sees the semantic label map s. A feature extractor F brings s to
the latent resolution; its features are concatenated with the quantized latent
(masked by a binary heatmap) before the generator. Where the heatmap is 0 the
latent costs no bits and the generator synthesizes from the semantics alone.

We keep the GC encoder's /16 downsampling (the paper's SC encoder uses /8) so a
semantic model reaches the same extreme rates as the GC models.

Synthesis noise (beyond the paper): with `noise` > 0 the generator also gets that many
channels of +-1 noise at synthesized cells (0 at coded ones); with `noise_up`, a +-1 noise
image is also added after each of its four up-sampling stages at synthesized pixels, scaled
per channel by learned weights that start at NOISE_UP_INIT. Without noise a region of one class
feeds the generator a constant input, and a convolutional generator can then only paint a
pattern repeating every 16 pixels (the coloured checkerboard our first SC models drew);
noise at 1/16 alone varies from cell to cell but not within one. Training draws fresh noise
each step; decoding uses fixed fields from seeded CPU generators, so every machine decodes
the same image and nothing is stored.

Generated detail on top of the generator's image (the `--realism` knob) comes from a detail
stage (codec/stage/, models/detail.py) trained on the frozen SC model, conditioned on its
decode and `stage_conditioning`. Early SC weights files also hold a texture branch (tensors
`texture.*`, config `texture_width`): that network is retired and never read, but stays in
those files so the digest their SC files check is unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .gc import STRIDE, Encoder, GCConfig, Generator, LatentPrior, Quantizer
from .layers import conv_block
from .tiling import TilePlan

# Tiles (models/tiling.py) for the decoder, in cells of 16 px: the GC generator's 8 cells
# (models/gc.py) plus 2 for the semantic features F that feed it (a 7x7 and four stride-2 3x3s,
# about 50 px). The encoder is GC's with a one-hot map, so it tiles as models.gc.ENCODER_TILES.
GENERATOR_TILES = TilePlan(cell=STRIDE, tile=64, margin=10)


RETIRED_KEYS = ("texture_width", "texture_resize")  # the retired texture branch's (module docstring)
RETIRED_TENSORS = "texture."


@dataclass(frozen=True)
class SCConfig:
    width: int = 20
    blocks: int = 6
    channels: int = 6
    levels: int = 5
    norm: str = "channel"
    classes: int = 12  # semantic classes seen by the model (CamVid: 11 + void)
    sem_width: int = 8  # F's base width; it outputs 16 * sem_width channels at 1/16
    noise: int = 0  # channels of synthesis noise fed to the generator at synthesized cells
    noise_up: bool = False  # also add noise after each up-sampling stage at synthesized pixels

    def gc(self) -> GCConfig:
        return GCConfig(self.width, self.blocks, self.channels, self.levels, self.norm)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SCConfig":
        d = {k: v for k, v in d.items() if k not in RETIRED_KEYS}
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


def stage_conditioning(model: "SCModel", symbols: torch.Tensor, labels: torch.Tensor,
                       heat: torch.Tensor) -> torch.Tensor:
    """What a detail stage over SC (codec/stage/) sees beside the decode, at latent resolution:
    the coded latents (zero in synthesized cells), each class's share of the cell's pixels, and
    the heatmap. symbols (N, C, h, w), labels (N, 16h, 16w), heat (N, 1, h, w) -> (N, C + K + 1, h, w)."""
    shares = F.avg_pool2d(one_hot(labels, model.cfg.classes), STRIDE)
    return torch.cat([model.quantizer.dequantize(symbols) * heat, shares, heat.to(shares.dtype)], 1)


def stage_channels(cfg: "SCConfig") -> int:
    """Channels of `stage_conditioning`."""
    return cfg.channels + cfg.classes + 1


def heat_at(heat: torch.Tensor, factor: int) -> torch.Tensor:
    """The cell heatmap (N, 1, h, w) on a grid `factor` times finer (1 where the cell is coded)."""
    return F.interpolate(heat.float(), scale_factor=factor, mode="nearest")


# Starting value of the per-channel noise scales. Not 0: a loss that asks for more (or less)
# texture energy has zero expected gradient in a scale at 0 (the noise's sign averages out), so
# zero-initialized scales only random-walk (measured: mean |scale| 0.01-0.07 after 200 steps at lr 5e-3).
# Where every cell is coded the noise is 0, so a model widened from one without it still
# reproduces that model exactly there.
NOISE_UP_INIT = 0.1
NOISE_SEED = 20191027  # the decoder's synthesis noise fields; changing it changes decoded images


def _signs(shape: tuple[int, ...], n: int, gen: torch.Generator | None, seed: int) -> torch.Tensor:
    """+-1 of (n, *shape[1:]): fresh from `gen`, or one fixed field (seeded) shared by the batch."""
    if gen is None:
        fixed = torch.randint(0, 2, (1, *shape[1:]), generator=torch.Generator().manual_seed(seed))
        return fixed.expand(n, *shape[1:]) * 2 - 1
    return torch.randint(0, 2, (n, *shape[1:]), generator=gen) * 2 - 1


def random_noise(heat: torch.Tensor, channels: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """(N, channels, h, w) of +-1 for heat (N, 1, h, w); fresh draws from `gen` (CPU), or the
    decoder's fixed field when gen is None. Zero where heat is 1 (coded cells)."""
    n, _, h, w = heat.shape
    return _signs((1, channels, h, w), n, gen, NOISE_SEED).to(heat.device, heat.dtype) * (1 - heat)


def synthesis_noise(heat: torch.Tensor, cfg: SCConfig, gen: torch.Generator | None = None) -> list[torch.Tensor]:
    """Every noise input of a model for heat (N, 1, h, w): the latent-resolution channels (if
    cfg.noise), then one (N, 1, h*2^k, w*2^k) image per up-sampling stage k = 1..4 (if
    cfg.noise_up), each zero at coded pixels; fixed seeded fields when gen is None."""
    noise = [random_noise(heat, cfg.noise, gen)] if cfg.noise else []
    if cfg.noise_up:
        n, _, h, w = heat.shape
        for k in range(1, 5):
            synth = 1 - heat_at(heat, 2**k)
            noise.append(_signs((1, 1, h * 2**k, w * 2**k), n, gen, NOISE_SEED + k).to(heat.device, heat.dtype) * synth)
    return noise


class SCModel(nn.Module):
    def __init__(self, cfg: SCConfig) -> None:
        super().__init__()
        self.cfg = cfg
        gcfg = cfg.gc()
        self.encoder = Encoder(gcfg, extra_in=cfg.classes)
        self.quantizer = Quantizer(cfg.levels)
        self.prior = LatentPrior(cfg.channels, cfg.levels)
        self.semantics = SemanticFeatures(cfg.classes, cfg.sem_width, cfg.norm)
        self.generator = Generator(gcfg, extra_in=16 * cfg.sem_width + cfg.noise)
        if cfg.noise_up:  # per-channel scale of the noise added after each up-sampling stage
            self.noise_scales = nn.ParameterList(
                [nn.Parameter(torch.full((1, c * cfg.width, 1, 1), NOISE_UP_INIT)) for c in (8, 4, 2, 1)])

    def generate(self, w_hat: torch.Tensor, features: torch.Tensor, heat: torch.Tensor,
                 noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Image from quantized latents, F's features and the heatmap; noise: `synthesis_noise`'s
        list (the decoder's fixed fields unless given)."""
        if noise is None:
            noise = synthesis_noise(heat, self.cfg)
        latent_noise, up_noise = (noise[:1], noise[1:]) if self.cfg.noise else ([], noise)
        parts = [w_hat * heat, features, *latent_noise]

        def add_noise(i: int, h: torch.Tensor) -> torch.Tensor:
            return h + self.noise_scales[i] * up_noise[i]

        return self.generator(torch.cat(parts, 1), add_noise if self.cfg.noise_up else None)

    def forward(self, x: torch.Tensor, labels: torch.Tensor, heat: torch.Tensor,
                noise: list[torch.Tensor] | None = None,
                other_noise: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """other_noise: also generate from the same code with this noise ("x_hat_other")."""
        s = one_hot(labels, self.cfg.classes)
        w = self.encoder(torch.cat([x, s], 1))
        w_hat, symbols, soft = self.quantizer(w)
        features = self.semantics(s)
        x_hat = self.generate(w_hat, features, heat, noise)
        out = {"x_hat": x_hat, "symbols": symbols, "soft_assign": soft, "heat": heat}
        if other_noise is not None:
            out["x_hat_other"] = self.generate(w_hat, features, heat, other_noise)
        return out

    @torch.no_grad()
    def encode_symbols(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.quantizer.symbols(self.encode(x, labels))

    def encode(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Unquantized latents (N, C, H/16, W/16) of images and their label maps (N, H, W)."""
        return self.encoder(torch.cat([x, one_hot(labels, self.cfg.classes)], 1))

    @torch.no_grad()
    def decode_symbols(self, symbols: torch.Tensor, labels: torch.Tensor, heat: torch.Tensor,
                       noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Image from symbols, label maps and heatmap; noise as in `generate` (the decoder's fixed
        fields for this heatmap unless given: a tile passes its crop of the whole image's fields)."""
        s = one_hot(labels, self.cfg.classes)
        return self.generate(self.quantizer.dequantize(symbols), self.semantics(s), heat, noise)


def random_heatmaps(labels: torch.Tensor, classes: int, gen: torch.Generator, keep_all: bool = True) -> torch.Tensor:
    """Training heatmaps as the paper draws them: per image, keep everything (1/3),
    synthesize a random subset of the classes present (1/3), or preserve one random
    box and synthesize the rest (1/3); without keep_all, only the last two (1/2 each).
    labels: (N, H, W) -> (N, 1, H/16, W/16)."""
    n, h, w = labels.shape
    hh, ww = h // STRIDE, w // STRIDE
    heats = []
    for i in range(n):
        mode = int(torch.randint(3, (1,), generator=gen)) if keep_all else 1 + int(torch.randint(2, (1,), generator=gen))
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


def widen_to_sc(state: dict[str, torch.Tensor], cfg: SCConfig) -> dict[str, torch.Tensor]:
    """An SC model's weights that start as the model `state` (GC, or SC with less noise) exactly.

    The inputs SC adds, the one-hot map into the encoder's first convolution, F's
    features and the noise channels into the generator's first convolution, get zero
    weights, so with an all-ones heatmap the SC model reproduces the source model's
    latents and images; F keeps its random initialisation (when the source is GC) and
    learns once training moves those zero weights (as ControlNet's zero convolutions do).
    `state` must match cfg's width, blocks, channels and levels.
    """
    model = SCModel(cfg)
    target_state = model.state_dict()
    for name, tensor in state.items():
        if name.startswith(RETIRED_TENSORS):
            continue
        if name not in target_state:
            raise ValueError(f"weight {name!r} has no place in an SC model")
        target = target_state[name]
        if name in ("encoder.net.0.0.weight", "generator.head.0.weight"):
            # the source's input channels come first in both concatenations (image, map; latent, F, noise)
            if target.shape[0] != tensor.shape[0] or target.shape[2:] != tensor.shape[2:] \
                    or target.shape[1] < tensor.shape[1]:
                raise ValueError(f"weight {name!r} {tuple(tensor.shape)} does not fit {tuple(target.shape)}")
            widened = torch.zeros_like(target)
            widened[:, : tensor.shape[1]] = tensor.float()
            target_state[name] = widened
        elif target.shape != tensor.shape:
            raise ValueError(f"weight {name!r} {tuple(tensor.shape)} does not fit {tuple(target.shape)}")
        else:
            target_state[name] = tensor.float()
    # F (new when the source is GC) and the up-sampling noise scales keep their initialisation
    missing = [n for n in target_state if n not in state and not n.startswith(("semantics.", "noise_scales."))]
    if missing:
        raise ValueError(f"the source weights lack {missing[:3]}")
    return target_state
