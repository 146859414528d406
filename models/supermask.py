"""Weight providers for NeRV layers: hierarchical supermask, trained dense, pruned dense.

A provider is an nn.Module whose forward() returns the layer's effective weight.
`SupermaskWeight` holds a fixed random weight (a buffer, regenerated from the seed at
decode) and learns only a score per weight and one scale per mask level:

    level(w) = number of nested masks m_1 > m_2 > ... > m_N that keep w   (0..N)
    W_eff    = W * cum_alpha[level],  cum_alpha = [0, a_1, a_1+a_2, ...]

Mask i keeps the (1 - p_i) fraction of weights with the largest |score|. Training
finds the cut-offs with k-th value selection (linear time, 3x faster than a sort on
CPU); the stored levels come from a full ranking (ties broken by index), so the count
at every level is exact. Float scores almost never tie, and when they do the two differ
only in which tied weight lands on which side. The score gets a straight-through
gradient: d loss / d score = d loss / d (sum_i a_i m_i).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

# Denser nested masks won on carphone at 0.03 bpp, 100 epochs (after sizing each to the
# same file size): (0.5, 0.8, 0.95) 25.13 dB, (0.5, 0.9) 25.13, (0.4, 0.7, 0.9) 25.01,
# (0.8, 0.95, 0.98) 24.81, (0.7, 0.92, 0.97) 24.78, (0.3, 0.6, 0.85) 24.63.
DEFAULT_SPARSITIES = (0.5, 0.8, 0.95)


def level_counts(n: int, sparsities: tuple[float, ...]) -> list[int]:
    """Exact number of weights at each level 0..N for a layer of n weights."""
    cuts = [0] + [min(n, int(round(p * n))) for p in sparsities] + [n]
    return [cuts[i + 1] - cuts[i] for i in range(len(cuts) - 1)]


def levels_from_scores(scores: torch.Tensor, sparsities: tuple[float, ...]) -> torch.Tensor:
    """int64 level 0..N per weight (same shape as scores) by rank of |score|."""
    flat = scores.detach().abs().flatten()
    n = flat.numel()
    order = torch.argsort(flat, stable=True)
    counts = level_counts(n, sparsities)
    by_rank = torch.repeat_interleave(
        torch.arange(len(counts), device=flat.device), torch.tensor(counts, device=flat.device)
    )
    levels = torch.empty_like(order)
    levels[order] = by_rank
    return levels.view_as(scores)


def cumulative_scales(alphas: torch.Tensor) -> torch.Tensor:
    """[0, a1, a1+a2, ...]: the multiplier of each level."""
    return torch.cat([alphas.new_zeros(1), torch.cumsum(alphas, 0)])


class SupermaskWeight(nn.Module):
    def __init__(self, base: torch.Tensor, sparsities: tuple[float, ...] = DEFAULT_SPARSITIES) -> None:
        super().__init__()
        self.sparsities = tuple(sparsities)
        self.register_buffer("base", base)
        # Kaiming-uniform-like scores (edge-popup): only their ranks matter.
        bound = 1.0 / math.sqrt(max(1, base[0].numel()))
        self.scores = nn.Parameter(torch.empty_like(base).uniform_(-bound, bound))
        # Keeping the top 1-p_1 fraction shrinks the output variance by that factor; undo it.
        a = torch.zeros(len(self.sparsities))
        a[0] = 1.0 / math.sqrt(1.0 - self.sparsities[0])
        self.alphas = nn.Parameter(a)

    def levels(self) -> torch.Tensor:
        return levels_from_scores(self.scores, self.sparsities)

    def forward(self) -> torch.Tensor:
        a = self.scores.abs()
        flat = a.detach().flatten()
        n = flat.numel()
        mult = torch.zeros_like(a)
        below = np.cumsum(level_counts(n, self.sparsities))[:-1]  # weights under level 1, 2, ...
        for alpha, k in zip(self.alphas, below):
            if k == 0:
                mult = mult + alpha
            elif k < n:  # the n - k largest |scores| reach this level
                mult = mult + alpha * (a.detach() > torch.kthvalue(flat, int(k)).values)
        mult = mult + (a - a.detach())  # straight-through to |score|, which sets the ranks
        return self.base * mult


class DenseWeight(nn.Module):
    """A trained weight, optionally multiplied by a fixed 0/1 mask (magnitude pruning)."""

    def __init__(self, init: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(init.clone())
        self.register_buffer("mask", torch.ones_like(init))

    def forward(self) -> torch.Tensor:
        return self.weight * self.mask


class FixedWeight(nn.Module):
    """A decoded weight: no parameters, used at decode time for every method."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self) -> torch.Tensor:
        return self.weight


def supermask_effective(base: np.ndarray, levels: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Decoder side: float32 W * cum_alpha[level], from stored levels and alphas (exact ops)."""
    a = alphas.astype(np.float32)
    cum = np.zeros(len(a) + 1, dtype=np.float32)
    for i, v in enumerate(a):  # sequential float32 adds: same result everywhere
        cum[i + 1] = np.float32(cum[i] + v)
    return base * cum[levels]
