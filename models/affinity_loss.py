"""Affinity Regression loss (Cao, "Use square root affinity to regress labels in semantic segmentation").

The label map is reduced to coarse grids (12x12 and 6x6 by default, 180
positions); the ideal affinity between two positions is 1 when their labels
agree. The network's class probabilities are average-pooled to the same grids
and their square roots give unit-norm-ish vectors whose dot products regress
that affinity. Pairs touching a void (ignore) position are left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def label_grid(labels: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """(B, H, W) integer labels -> (B, sum(s*s)) labels on coarse nearest-exact grids."""
    lf = labels[:, None].float()
    parts = [F.interpolate(lf, size=(s, s), mode="nearest-exact").flatten(1) for s in sizes]
    return torch.cat(parts, 1).long()


def prob_grid(logits: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """(B, C, H, W) logits -> (B, C, sum(s*s)) class probabilities average-pooled on the grids."""
    p = torch.softmax(logits.float(), dim=1)
    parts = [F.adaptive_avg_pool2d(p, s).flatten(2) for s in sizes]
    return torch.cat(parts, 2)


def affinity_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    ignore_index: int = 255,
    sizes: tuple[int, ...] = (12, 6),
    eps: float = 1e-6,
) -> torch.Tensor:
    """Mean squared error between sqrt-probability affinity and label affinity over valid pairs.

    logits: (B, C, H, W); labels: (B, H, W) with `ignore_index` for void. Returns a scalar;
    zero (with a graph, so backward works) when no pair is valid.
    """
    lab = label_grid(labels, sizes)  # (B, N)
    sq = torch.sqrt(prob_grid(logits, sizes) + eps)  # (B, C, N)
    aff = torch.bmm(sq.transpose(1, 2), sq)  # (B, N, N)
    target = (lab[:, :, None] == lab[:, None, :]).float()
    valid_pos = lab != ignore_index
    valid = (valid_pos[:, :, None] & valid_pos[:, None, :]).float()
    sq_err = (aff - target).pow(2) * valid
    return sq_err.sum() / valid.sum().clamp(min=1.0)
