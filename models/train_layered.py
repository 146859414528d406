"""Training step and validation of the layered codec's detail model (models/detail.py).

Batches are (original, upscaled base decode) crop pairs from the base-decode cache
(codec/layered/cache.py). Each step splits its batch in two halves:
- the first half is decoded at R = 0 and trained on fidelity alone (MSE + MS-SSIM);
- the second at one R drawn from U(0, 1), trained on fidelity plus R times the texture
  statistics loss, matched window by window (WINDOW px) against the original.
The latent rate (ideal bits under the learned prior) is charged on both halves, and trailing
latent channels are dropped at random so that any prefix of them decodes well.

With `texture_only` (a second stage, started from a trained model) only the texture head
learns: encoder, prior and the R = 0 decode are frozen, so files and R = 0 decodes stay the
same. With `gains_only` (for `sharpen` models) only the band gains g0 and gS learn, on the
same loss: g0 from the R = 0 half, gS from the texture statistics at R.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim

from .detail import DetailConfig, DetailModel
from .texture_loss import texture_stats_loss

WINDOW = 64


@dataclass
class LayeredTrainConfig:
    model: DetailConfig = field(default_factory=DetailConfig)
    lr: float = 5e-4
    batch: int = 8
    mse_weight: float = 100.0  # on [0, 1] pixel values
    msssim_weight: float = 1.0
    texture_weight: float = 0.1
    rate_weight: float = 15.0  # per bit per pixel of latents
    drop_prob: float = 0.5  # chance that a batch codes only a random prefix of the latent channels
    bf16: bool = False  # bfloat16 autocast for the networks (losses stay float32)
    texture_only: bool = False  # train only the texture head (everything else frozen)
    gains_only: bool = False  # train only the band gains of a `sharpen` model
    energy_weight: float = 0.0  # weight of R * (log detail energy of decode / original)^2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LayeredTrainConfig":
        d = dict(d)
        return cls(model=DetailConfig.from_dict(d.pop("model")), **d)


def window_regions(n: int, height: int, width: int, window: int = WINDOW, device: torch.device | None = None
                   ) -> torch.Tensor:
    """(n, K, H, W) 0/1 masks, one per window of a regular grid."""
    rows, cols = -(-height // window), -(-width // window)
    ids = (torch.arange(height, device=device) // window).view(-1, 1) * cols + (
        torch.arange(width, device=device) // window).view(1, -1)
    masks = F.one_hot(ids, rows * cols).permute(2, 0, 1).float()
    return masks.unsqueeze(0).expand(n, -1, -1, -1)


def to01(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(-1, 1) + 1) / 2


def fidelity_loss(cfg: LayeredTrainConfig, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    mse = F.mse_loss(to01(out), to01(x))
    ms = ms_ssim(to01(out).float(), to01(x).float(), data_range=1.0, size_average=True)
    return cfg.mse_weight * mse + cfg.msssim_weight * (1 - ms)


def latents(model: DetailModel, x: torch.Tensor, base: torch.Tensor, keep: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(dequantized latents with straight-through gradients and channels >= keep at the middle level,
    rate in bits per pixel: hard bits train the prior, expected bits the encoder)."""
    w_hat, symbols, soft = model.quantizer(model.encoder(x, base))
    if keep < w_hat.shape[1]:
        mid = model.quantizer.centers[model.middle]
        w_hat = torch.cat([w_hat[:, :keep], mid.expand_as(w_hat[:, keep:])], 1)
    pixels = x.shape[0] * x.shape[-2] * x.shape[-1]
    hard = model.prior.bits(symbols)[:, :keep].sum() / pixels
    expected = model.prior.soft_bits(soft)[:, :keep].sum() / pixels
    return w_hat, hard + expected


def trainable(model: DetailModel, cfg: LayeredTrainConfig) -> list[torch.nn.Parameter]:
    """The parameters a run updates: all, only the texture head's, or only the band gains."""
    g = model.generator
    if cfg.gains_only:
        return [g.band_gain, g.sharpen_gain]
    return list(g.texture.parameters() if cfg.texture_only else model.parameters())


def _halves(x: torch.Tensor, gen: torch.Generator) -> tuple[int, float, torch.Tensor]:
    """(half, r, per-example R): the first half of a batch at R = 0, the rest at r ~ U(0, 1)."""
    half = x.shape[0] // 2
    r = float(torch.rand((), generator=gen))
    return half, r, torch.cat([torch.zeros(half), torch.full((x.shape[0] - half,), r)]).to(x.device)


def frozen_step(model: DetailModel, opt: torch.optim.Optimizer, cfg: LayeredTrainConfig, x: torch.Tensor,
                base: torch.Tensor, scale: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
    """One step of the texture head or the band gains alone on fidelity + R * texture statistics,
    all latents coded."""
    noise = torch.randn(x.shape[0], cfg.model.noise, *x.shape[-2:], generator=gen).to(x.device)
    half, r, realism = _halves(x, gen)
    g = model.generator
    amount, w = g.ramps(realism)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        with torch.no_grad():
            feat = g.features(base, model.dequantize(model.encode_symbols(x, base)))
            y0 = g.faithful(base, feat)
        with torch.set_grad_enabled(not cfg.gains_only):
            t = g.texture_residual(feat, noise, w)
        y = g.sharpen(y0, scale, amount)
    out = (y + w.view(-1, 1, 1, 1) * t).float()
    return optimize(opt, cfg, out, x, half, r)


def optimize(opt: torch.optim.Optimizer, cfg: Any, out: torch.Tensor, x: torch.Tensor, half: int,
              r: float, rate: torch.Tensor | None = None, fidelity_out: torch.Tensor | None = None,
              extra: torch.Tensor | None = None) -> dict[str, float]:
    """One optimizer step on fidelity + r * (texture statistics, energy gap) of the examples from
    `half` on (at R = r) + the latent rate; returns the step's stats. `cfg`: any config with the
    loss weights (LayeredTrainConfig, models/train_stage.py's StageTrainConfig). `fidelity_out`:
    what the fidelity terms see instead of `out` (models/train_gc.py, `distortion_target`); `extra`:
    a further loss term, already weighted."""
    fid = fidelity_loss(cfg, out if fidelity_out is None else fidelity_out, x)
    tex = texture_stats_loss(out[half:], x[half:], window_regions(x.shape[0] - half, *x.shape[-2:], device=x.device))
    loss = fid + cfg.texture_weight * r * tex + cfg.energy_weight * r * energy_gap(out[half:], x[half:])
    if rate is not None:
        loss = loss + cfg.rate_weight * rate
    if extra is not None:
        loss = loss + extra
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss": loss.item(), "fidelity": fid.item(), "texture": tex.item(),
            "train_bpp": 0.0 if rate is None else rate.item() / 2, **({} if extra is None else {"extra": extra.item()})}


def train_step(model: DetailModel, opt: torch.optim.Optimizer, cfg: LayeredTrainConfig, x: torch.Tensor,
               base: torch.Tensor, scale: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
    """One optimizer step on a batch (N, 3, H, W) in [-1, 1], H and W multiples of 32, whose
    bases were coded at 1/scale (N,)."""
    if cfg.texture_only or cfg.gains_only:
        return frozen_step(model, opt, cfg, x, base, scale, gen)
    c = cfg.model.channels
    keep = c if torch.rand((), generator=gen) >= cfg.drop_prob else int(torch.randint(0, c + 1, (), generator=gen))
    noise = torch.randn(x.shape[0], cfg.model.noise, *x.shape[-2:], generator=gen).to(x.device)
    half, r, realism = _halves(x, gen)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        z, rate = latents(model, x, base, keep)
        y, t, w = model.generator(base, z, noise, realism, scale)
    out = (y + w.view(-1, 1, 1, 1) * t).float()
    return optimize(opt, cfg, out, x, half, r, rate)


def energy_gap(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared log ratio of fine-detail energy (EVAL.md's texture retention, per image)."""
    return (torch.log(texture_energy(out) + 1.0) - torch.log(texture_energy(x) + 1.0)).pow(2).mean()


def add_metrics(sums: dict[str, float], outs: dict[str, torch.Tensor], x: torch.Tensor) -> None:
    """Add each decode's PSNR, MS-SSIM and texture retention against x, times the batch size, to
    sums["<key>_psnr"], ... (validation means are these sums over the number of examples)."""
    e_x = texture_energy(x).clamp(min=1e-6)
    for key, out in outs.items():
        ms = float(ms_ssim(to01(out), to01(x), data_range=1.0, size_average=True))
        for name, value in ((f"{key}_psnr", psnr01(out, x)), (f"{key}_msssim", ms),
                            (f"{key}_texture", float((texture_energy(out) / e_x).mean()))):
            sums[name] = sums.get(name, 0.0) + value * x.shape[0]


def psnr01(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(F.mse_loss(torch.round(to01(a) * 255), torch.round(to01(b) * 255)))
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def texture_energy(x: torch.Tensor) -> torch.Tensor:
    """Per image: mean squared high-pass of luma (a Gaussian-blur residual, as EVAL.md's texture retention)."""
    g = to01(x).mul(255).mul(torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, True)
    k = torch.arange(-4, 5, dtype=torch.float32, device=x.device)
    k = torch.exp(-(k**2) / (2 * 1.5**2))
    k = k / k.sum()
    blur = F.conv2d(F.pad(g, (4, 4, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    blur = F.conv2d(F.pad(blur, (0, 0, 4, 4), mode="reflect"), k.view(1, 1, -1, 1))
    return ((g - blur) ** 2).mean(dim=(1, 2, 3))


@torch.no_grad()
def validate(model: DetailModel, x: torch.Tensor, base: torch.Tensor, scale: torch.Tensor, batch: int = 8,
             realisms: tuple[float, ...] = (0.0, 0.5, 1.0)) -> dict[str, float]:
    """Means over held-out pairs: PSNR / MS-SSIM / texture retention of the base ("base_*") and of
    the decode at each R ("r<R>_*", e.g. r0_psnr), and the latent rate (ideal bits, all channels)."""
    sums: dict[str, float] = {}
    gen = torch.Generator().manual_seed(0)
    for i in range(0, x.shape[0], batch):
        xb, bb, sb = x[i : i + batch], base[i : i + batch], scale[i : i + batch]
        symbols = model.encode_symbols(xb, bb)
        z = model.dequantize(symbols)
        bits = float(model.prior.bits(symbols).sum())
        noise = torch.randn(xb.shape[0], model.cfg.noise, *xb.shape[-2:], generator=gen)
        outs = {"base": bb, **{f"r{r:g}": model.decode(bb, z, noise, r, sb) for r in realisms}}
        add_metrics(sums, outs, xb)
        sums["latent_bpp"] = sums.get("latent_bpp", 0.0) + bits / (xb.shape[-2] * xb.shape[-1])
    return {k: round(v / x.shape[0], 4) for k, v in sums.items()}
