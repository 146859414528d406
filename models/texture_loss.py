"""Texture statistics loss for synthesized pixels (no pretrained network).

A texture is described, as in Portilla and Simoncelli's classical texture model, by
statistics of band-pass images at several scales: each band's energy and its
autocorrelation at a few offsets. Matching them between a generated region and the
original's same region asks for detail of the right strength and grain without asking
for the original's pixels (which the decoder of a synthesized region never sees), and
the autocorrelation at the 16-pixel offset penalizes the tile pattern a generator
with a constant input draws.

Statistics are taken on an opponent colour transform (luma and two colour differences), so
colour speckle, which photos lack, costs on its own. Bands: level k is the image
average-pooled by 2^k minus its 3x3 box blur, so level k holds detail about 2^k pixels
across. Autocorrelations are taken at offsets reaching 1, 2, 4, 8 and 16 pixels (those a
level's coarse pixel can express): the periods of the generator's four 2x up-sampling stages,
so a pattern repeating at any of them shows at every scale that carries its energy.

Those statistics are averages over positions, so they cannot see a mosaic: detail drawn cell by
cell at 1/4 resolution, with its steps on the cell boundaries. `block_phase_loss` does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LEVELS = 4
REACH = (1, 2, 4, 8, 16)  # autocorrelation offsets in full-resolution pixels
MIN_PIXELS = 16  # a region smaller than this at some level contributes nothing there
EPS = 1e-6


def _band(x: torch.Tensor) -> torch.Tensor:
    return x - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def _opponent(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    return torch.stack([(r + g + b) / 3, r - g, (r + g) / 2 - b], 1)


def _masked_stats(band: torch.Tensor, regions: torch.Tensor, offsets: list[int]
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image, region and channel: band energy (N, K, C) and autocorrelations (N, K, C,
    2 * len(offsets)) over pixel pairs both in the region, and whether the region has enough
    pixels (N, K). band: (N, C, H, W); regions: (N, K, H, W) of 0/1."""
    def region_sums(values: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nchw,nkhw->nkc", values, masks)

    count = regions.sum(dim=(2, 3))
    energy = region_sums(band**2, regions) / count.clamp(min=1).unsqueeze(-1)
    corrs = []
    for d in offsets:
        for a, b, both in ((band[..., :, :-d], band[..., :, d:], regions[..., :, :-d] * regions[..., :, d:]),
                           (band[..., :-d, :], band[..., d:, :], regions[..., :-d, :] * regions[..., d:, :])):
            den = (region_sums(a**2, both) * region_sums(b**2, both) + EPS).sqrt()
            corrs.append(region_sums(a * b, both) / den)
    return energy, torch.stack(corrs, -1), count >= MIN_PIXELS


def texture_stats_loss(fake: torch.Tensor, real: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Mean over bands of |log energy(fake) - log energy(real)| + summed |autocorrelation differences|,
    per image, region and channel. regions: (N, K, H, W), each channel one region's 0/1 mask (SC
    training passes one per class, restricted to synthesized pixels, so sky is held to the sky's
    statistics and trees to the trees'). Images (N, 3, H, W); real is treated as a constant.
    0 when no region is large enough."""
    regions = regions[:, regions.sum(dim=(0, 2, 3)) > 0].float()  # drop regions empty in every image
    if regions.shape[1] == 0:
        return fake.new_zeros(())
    fake, real = _opponent(fake.float()), _opponent(real.detach().float())
    total = fake.new_zeros(())
    terms = 0
    for level in range(LEVELS):
        if level:
            fake, real = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
            regions = -F.max_pool2d(-regions, 2)  # a coarse pixel is in a region only if all four were
        offsets = [r >> level for r in REACH if r >> level]
        e_f, c_f, ok = _masked_stats(_band(fake), regions, offsets)
        e_r, c_r, _ = _masked_stats(_band(real), regions, offsets)
        if not ok.any():
            continue
        e_term = ((e_f + EPS).log() - (e_r + EPS).log()).abs().mean(-1)
        c_term = (c_f - c_r).abs().sum(-1).mean(-1)  # summed: a tile shows at one offset only
        total = total + ((e_term + c_term) * ok).sum() / ok.sum()
        terms += 1
    return total / max(terms, 1)


def phase_energy(x: torch.Tensor, period: int) -> torch.Tensor:
    """Mean squared gray-level ((R + G + B) / 3) step between neighbouring pixels, by position modulo `period`:
    (N, 2, period), across then down; phase p holds the differences from pixels p, p + period, ...
    to their right (below) neighbours. Images (N, 3, H, W)."""
    luma = _opponent(x.float())[:, 0]
    across = (luma[..., :, 1:] - luma[..., :, :-1]).pow(2)
    down = (luma[..., 1:, :] - luma[..., :-1, :]).pow(2)
    n, h, w = across.shape[0], down.shape[1] // period * period, across.shape[2] // period * period
    return torch.stack([across[..., :w].reshape(n, -1, w // period, period).mean((1, 2)),
                        down[:, :h].reshape(n, h // period, period, -1).mean((1, 3))], 1)


def block_phase_loss(x: torch.Tensor, period: int) -> torch.Tensor:
    """Mean squared log ratio of each phase's energy (phase_energy) to its direction's mean. Detail in
    photos does not know where a generator's cells begin; a generator that draws each period x
    period cell from one feature vector puts its edges at fixed phases, a mosaic this sees."""
    e = phase_energy(x, period) + EPS
    return (e.log() - e.mean(-1, keepdim=True).log()).pow(2).mean()
