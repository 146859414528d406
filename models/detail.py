"""The layered codec's learned parts: a texture-latent encoder and a detail generator.

Both see the image at 1/4 resolution (pixel-unshuffled), where their heavy layers run, so
a 768x512 decode costs a few GMAC. The generator restores what the VVC base lost:

    out(R) = base + fidelity(base, z) + R * texture(base, z, noise, R)

- `fidelity` is trained on MSE + MS-SSIM only, so R = 0 is the most faithful decode;
- `texture` adds seeded, high-frequency detail whose strength and kind follow the base and
  the texture latents z, trained on local texture statistics (models/texture_loss.py)
  window by window, weighted by R (after Agustsson et al., Multi-Realism, CVPR 2023).

Models with `sharpen` (band gains) decode instead, with y0 = base + fidelity(base, z),
a = min(1, 2R) and s = max(0, 2R - 1):

    out(R) = y0 + sum_k (g0[b, k] + a * gS[b, k]) * band_k(y0) + s * texture(base, z, noise, s)

where band_k are difference-of-Gaussians bands of y0 and b is the base scale. A file may carry
its own gains in place of gS (`signaled`) and a fine grain gain G, which adds a * G * fine_grain:
pixel-scale grain where the texture head puts detail, in the band MS-SSIM weighs least; the
encoder, which sees the original, picks both per image (codec/layered/gains.py, grain.py). An MSE-trained
y0 carries less detail energy than the original, and MS-SSIM's contrast-structure term
prefers matched energy: g0, fitted on MS-SSIM, sharpens a little at R = 0; gS, fitted on
texture statistics, sharpens more up to R = 0.5, detail that follows the image at a small
fraction of the MS-SSIM that generated texture costs; above R = 0.5 the texture head adds
generated grain (docs/layered.md).

The latents z (C channels at 1/32 resolution, L levels) are written by an encoder that sees
the original and the base. Channels are ordered by importance: training drops trailing
channels at random (reading them as the middle level), so the encoder may code any prefix
of them, which gives rate control a fine knob.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .gc import LatentPrior, Quantizer
from .tiling import TilePlan

UNSHUFFLE = 4  # heavy layers run at 1/4 resolution
BAND_SIGMAS = (0.7, 1.5, 3.0)  # band k of y is blur_{k-1}(y) - blur_k(y), blur_{-1}(y) = y
BASE_SCALES = (1, 2, 4)  # the band gains' first index
LATENT_STRIDE = 32  # latents at 1/32 resolution
GRAIN_SIGMA = 1.2  # px: the fine grain's band-pass Gaussian (fine_grain); wider, a narrower band
GRAIN_ENVELOPE_SIGMA = 2.0  # px: the Gaussian window of the texture residual's local RMS (fine_grain)
LUMA = (0.299, 0.587, 0.114)  # BT.601 weights, as PIL's convert("L") and EVAL.md's texture measure
# Tiles (models/tiling.py) in cells of 32 px. The generator's receptive field is thirteen 3x3s at
# 1/4 (head, trunk, texture branch): 13 * 4 = 52 px; the encoder's a 3x3 and three stride-2 3x3s
# at 1/4, under 64 px; the band gains' widest blur adds 9 px (61), the fine grain's envelope 6 (58).
# Two cells (64 px) cover all, so tiles change pixels only by float rounding.
TILES = TilePlan(cell=LATENT_STRIDE, tile=32, margin=2)


@dataclass(frozen=True)
class DetailConfig:
    width: int = 64  # channels of the 1/4-resolution trunk
    blocks: int = 4  # residual blocks in the trunk
    channels: int = 4  # texture latent channels C
    levels: int = 5  # quantization centers L
    noise: int = 1  # full-resolution noise channels (unshuffled to 16 each)
    # sigma (px) of the Gaussian blur taken off the texture residual, confining the detail R adds
    # to the finest band, which MS-SSIM weighs least (docs/layered.md, probe); 0: the whole residual
    texture_band: float = 0.0
    # band gains g0, gS on the fidelity decode and the two-ramp realism knob (module docstring)
    sharpen: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DetailConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown detail config keys {sorted(unknown)}")
        return cls(**d)


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(width, width, 3, padding=1)
        self.b = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


class LatentEncoder(nn.Module):
    """(original, base) at full resolution -> C unquantized channels at 1/32."""

    def __init__(self, cfg: DetailConfig) -> None:
        super().__init__()
        w = cfg.width // 2
        cin = 6 * UNSHUFFLE**2
        self.net = nn.Sequential(
            nn.Conv2d(cin, w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, cfg.channels, 1),
        )

    def forward(self, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        return self.net(F.pixel_unshuffle(torch.cat([x, base - x], 1), UNSHUFFLE))


class DetailGenerator(nn.Module):
    """(base, dequantized latents, noise, R) -> image, all images in [-1, 1]."""

    def __init__(self, cfg: DetailConfig) -> None:
        super().__init__()
        w, px = cfg.width, 3 * UNSHUFFLE**2
        self.texture_band = cfg.texture_band
        self.noise_channels = cfg.noise
        self.head = nn.Conv2d(px + cfg.channels, w, 3, padding=1)
        self.trunk = nn.Sequential(*[Block(w) for _ in range(cfg.blocks)])
        self.fidelity = nn.Conv2d(w, px, 3, padding=1)
        self.texture = nn.Sequential(
            nn.Conv2d(w + cfg.noise * UNSHUFFLE**2 + 1, w, 3, padding=1), nn.ReLU(inplace=True),
            Block(w), nn.Conv2d(w, px, 3, padding=1),
        )
        for conv in (self.fidelity, self.texture[-1]):  # start as the identity: out = base
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.sharpens = cfg.sharpen
        if cfg.sharpen:  # (base scale, band): g0 and gS of the module docstring
            self.band_gain = nn.Parameter(torch.zeros(len(BASE_SCALES), len(BAND_SIGMAS)))
            self.sharpen_gain = nn.Parameter(torch.zeros(len(BASE_SCALES), len(BAND_SIGMAS)))

    def features(self, base: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        small = F.pixel_unshuffle(base, UNSHUFFLE)
        z_up = F.interpolate(z, size=small.shape[-2:], mode="nearest")
        return self.trunk(F.relu(self.head(torch.cat([small, z_up], 1))))

    def faithful(self, base: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """The decode at R = 0."""
        return base + F.pixel_shuffle(self.fidelity(feat), UNSHUFFLE)

    def texture_residual(self, feat: torch.Tensor, noise: torch.Tensor, realism: torch.Tensor) -> torch.Tensor:
        """t, the detail that R scales. realism: (N,) in [0, 1]."""
        r = realism.view(-1, 1, 1, 1).to(feat.dtype).expand(-1, 1, *feat.shape[-2:])
        t_in = torch.cat([feat, F.pixel_unshuffle(noise.to(feat.dtype), UNSHUFFLE), r], 1)
        t = F.pixel_shuffle(self.texture(t_in), UNSHUFFLE)
        return t - gaussian_blur(t, self.texture_band) if self.texture_band > 0 else t

    def ramps(self, realism: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sharpening amount, texture weight) per example: realism_ramps for sharpening models,
        (0, R) for the others."""
        return realism_ramps(realism) if self.sharpens else (torch.zeros_like(realism), realism)

    def sharpen(self, y0: torch.Tensor, scale: torch.Tensor, amount: torch.Tensor,
                signaled: torch.Tensor | None = None) -> torch.Tensor:
        """y0 + sum_k (g0 + amount * gS)[scale, k] * band_k(y0); scale, amount: (N,); `signaled`
        (N, 3), a file's own gains, replaces gS. y0 itself for models without band gains."""
        if not self.sharpens:
            return y0
        index = torch.bucketize(scale.to(y0.device), torch.tensor(BASE_SCALES, device=y0.device))
        amount = amount.view(-1, 1).to(y0.device)
        g0 = self.band_gain[index]
        if torch.is_grad_enabled():  # g0 learns from the R = 0 examples only, gS from the others
            g0 = torch.where(amount > 0, g0.detach(), g0)
        gs = self.sharpen_gain[index] if signaled is None else signaled.to(y0.device, g0.dtype)
        gains = g0 + amount * gs
        with torch.autocast(y0.device.type, enabled=False):  # float32: bf16 blurs are slow and coarse
            y0 = y0.float()
            out, low = y0, y0
            for k, sigma in enumerate(BAND_SIGMAS):
                lower = gaussian_blur(y0, sigma)
                out = out + gains[:, k].view(-1, 1, 1, 1).float() * (low - lower)
                low = lower
        return out

    def forward(self, base: torch.Tensor, z: torch.Tensor, noise: torch.Tensor, realism: torch.Tensor,
                scale: torch.Tensor, signaled: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(y, t, w) with the output at each example's R = y + w * t: y the (sharpened) fidelity
        decode, t the texture residual, w (N,) its weight. scale: (N,) base scales; signaled:
        optional (N, 3) gains in place of gS."""
        feat = self.features(base, z)
        amount, weight = self.ramps(realism)
        y = self.sharpen(self.faithful(base, feat), scale, amount, signaled)
        return y, self.texture_residual(feat, noise, weight), weight


class DetailModel(nn.Module):
    """Encoder, quantizer, latent prior and generator of the layered codec."""

    def __init__(self, cfg: DetailConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = LatentEncoder(cfg)
        self.quantizer = Quantizer(cfg.levels)
        self.prior = LatentPrior(cfg.channels, cfg.levels)
        self.generator = DetailGenerator(cfg)

    @property
    def middle(self) -> int:
        """The symbol that uncoded channels read as."""
        return self.cfg.levels // 2

    def encode_symbols(self, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Hard symbols (N, C, H/32, W/32), int64; sizes must be multiples of 32."""
        return self.quantizer.symbols(self.encoder(x, base))

    def dequantize(self, symbols: torch.Tensor, coded_channels: int | None = None) -> torch.Tensor:
        """Latent values; channels from `coded_channels` on read as the middle level."""
        if coded_channels is not None and coded_channels < symbols.shape[1]:
            symbols = symbols.clone()
            symbols[:, coded_channels:] = self.middle
        return self.quantizer.dequantize(symbols)

    def decode(self, base: torch.Tensor, z: torch.Tensor, noise: torch.Tensor, realism: float,
               scale: int | torch.Tensor = 1, signaled: tuple[float, float, float] | None = None,
               grain: float = 0.0) -> torch.Tensor:
        """The image at R = `realism` from (upscaled) bases coded at 1/`scale` (int, or (N,)) and
        latents z; `signaled`: a file's band gains, in place of the model's gS; `grain`: its fine
        grain gain (0: none), which the sharpening ramp a = min(1, 2R) scales."""
        g, n = self.generator, base.shape[0]
        r = torch.full((n,), float(realism), device=base.device)
        scales = scale if isinstance(scale, torch.Tensor) else torch.full((n,), scale, device=base.device)
        gains = None if signaled is None else torch.tensor([signaled] * n, dtype=torch.float32, device=base.device)
        feat = g.features(base, z)
        amount, weight = g.ramps(r)
        y = g.sharpen(g.faithful(base, feat), scales, amount, gains)
        if grain > 0 and float(amount.max()) > 0:
            fine = fine_grain(g.texture_residual(feat, noise, torch.ones_like(r)), noise)
            y = y + (grain * amount).view(-1, 1, 1, 1).to(fine.dtype) * fine
        if float(weight.max()) > 0:
            y = y + weight.view(-1, 1, 1, 1).to(y.dtype) * g.texture_residual(feat, noise, weight)
        return y


def realism_ramps(realism: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sharpening amount a = min(1, 2R), texture weight s = max(0, 2R - 1)) for sharpening models."""
    return (2 * realism).clamp(max=1.0), (2 * realism - 1).clamp(min=0.0)


def fine_grain(t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Pixel-scale grain (N, 3, H, W), the same in R, G and B: the decoder's noise (its first
    channel) band-passed around the pixel checkerboard frequency (half a cycle per pixel across and
    down) to unit variance, times the local RMS of the luma of the texture residual t (N, 3, H, W),
    so the grain goes where the texture head puts detail. 2x2 averaging cancels that band, so of
    MS-SSIM's scales only the finest (weight 0.045) sees it (docs/layered.md, "Fine grain"). The
    band-pass is a Gaussian of GRAIN_SIGMA with taps times (-1)^(x + y): shift-invariant, so tiles
    change fine grain only by float rounding."""
    band_rms = float(gaussian_taps(GRAIN_SIGMA, torch.float64).pow(2).sum())  # of unit white noise, separable
    with torch.autocast(t.device.type, enabled=False):  # float32: squares of small residuals underflow in fp16
        t = t.float()
        luma = (t * torch.tensor(LUMA, device=t.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        envelope = gaussian_blur(luma * luma, GRAIN_ENVELOPE_SIGMA).clamp(min=0).sqrt()
        band = gaussian_blur(noise[:, :1].float(), GRAIN_SIGMA, modulate=(True, True)) / band_rms
        return (envelope * band).expand(-1, 3, -1, -1)


def gaussian_taps(sigma: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The normalized 1-D Gaussian of `sigma`, radius ceil(3 sigma) (at least 1)."""
    r = max(1, math.ceil(3 * sigma))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=dtype) ** 2 / (2 * sigma * sigma))
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float, modulate: tuple[bool, bool] = (False, False)) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), radius ceil(3 sigma), reflected at the borders;
    `modulate` (across, down): that pass's taps times (-1)^i, which moves its pass band to the
    highest frequency."""
    k = gaussian_taps(sigma)
    r = len(k) // 2
    kx, ky = ((k * (1 - 2 * (torch.arange(-r, r + 1) % 2)) if m else k).to(x.dtype).to(x.device) for m in modulate)
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), kx.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), ky.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def pad_to_stride(x: torch.Tensor) -> torch.Tensor:
    """Replicate-pad (N, C, H, W) on the bottom and right to multiples of LATENT_STRIDE."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % LATENT_STRIDE, (-w) % LATENT_STRIDE
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def noise_field(seed: int, height: int, width: int, channels: int = 1) -> torch.Tensor:
    """The decoder's noise (1, channels, H, W): standard normal from torch's CPU generator, seeded
    from the file, so every machine draws the same numbers."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn((1, channels, height, width), generator=g)
