"""Overlapping tiles for the image networks, so memory stays bounded whatever the image size.

Every network here is convolutional on a grid of cells (the latent stride: 16 px for GC and SC,
32 px for the layered codec). A large image is cut into windows of whole cells, all of one size
(so they stack into batches), each `margin` cells wider on every inner side than the part it
keeps; the network runs on each window, and neighbouring windows' outputs are cross-faded with
linear weights over `blend` cells where their kept parts overlap. Latents and entropy coding
stay whole-image: only the networks see windows. Pure tensor code, no I/O.

Why this is (nearly) exact: a window is cut at a multiple of the network's stride, so strided and
transposed convolutions keep their alignment, and the pixels it keeps lie at least `margin` cells
from its cut edges. When `margin` covers the network's receptive field, the kept pixels are what
the whole image gives, up to float rounding; a smaller margin trades a small, smooth error near
the cut (which the cross-fade hides) for less repeated work. An image that fits one window runs
whole, as before tiling, so small images decode bit-for-bit as they always did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

# Pixels per window by default (1024 x 1024, about 0.35 GB of GC generator activations on a CPU): with
# the margins below, peak memory stays under 1.5 GB at 2048 x 2048 and under 4 GB at 4096 x 4096
# (scripts/bench_memory.py, docs/memory.md); larger windows repeat less work in their margins.
TILE_PIXELS = 1 << 20


@dataclass(frozen=True)
class TilePlan:
    cell: int  # pixels per cell: the network's stride
    tile: int  # largest window side, in cells
    margin: int  # context cells each window adds beyond the part it keeps, on every inner side
    blend: int = 1  # cells over which neighbouring windows cross-fade

    def __post_init__(self) -> None:
        if self.tile - 2 * self.margin - self.blend < 1:
            raise ValueError(f"tile {self.tile} leaves nothing to keep with margin {self.margin} and blend {self.blend}")

    def scaled(self, pixels: int | None = None) -> "TilePlan":
        """The same plan with windows of at most `pixels` pixels (TILE_PIXELS by default; the margin
        and blend unchanged, so very small budgets still get windows of 2 * margin + blend + 1 cells)."""
        pixels = TILE_PIXELS if pixels is None else pixels
        side = max(int(math.isqrt(max(pixels, 1))) // self.cell, 2 * self.margin + self.blend + 1)
        return TilePlan(self.cell, side, self.margin, self.blend)


@dataclass(frozen=True)
class Span:
    """One window along an axis, in cells: it covers [start, start + size) and keeps [keep_lo, keep_hi)."""

    start: int
    size: int
    keep_lo: int
    keep_hi: int


def spans(n: int, plan: TilePlan) -> list[Span]:
    """Windows of one size covering n cells: as few as the plan allows, then evened out, so that
    neighbours' kept parts overlap by at least `blend` cells. One window when n fits."""
    if n <= plan.tile:
        return [Span(0, n, 0, n)]
    extra = 2 * plan.margin + plan.blend  # cells each additional window repeats
    count = -(-(n - extra) // (plan.tile - extra))
    size = -(-(n + (count - 1) * extra) // count)
    while True:  # rounding the starts may take a cell from an overlap: widen by one until none is short
        starts = [round(i * (n - size) / (count - 1)) for i in range(count)]
        if all(size - (b - a) >= extra for a, b in zip(starts, starts[1:])):
            break
        size += 1
    return [Span(s, size, 0 if i == 0 else s + plan.margin, n if i == count - 1 else s + size - plan.margin)
            for i, s in enumerate(starts)]


def owners(parts: list[Span]) -> list[tuple[int, int]]:
    """[lo, hi) in cells that each window alone provides: neighbours split their overlap at the middle."""
    cuts = [0] + [(a.keep_hi + b.keep_lo) // 2 for a, b in zip(parts, parts[1:])] + [parts[-1].start + parts[-1].size]
    return list(zip(cuts, cuts[1:]))


def weights(parts: list[Span], n: int, blend: int, scale: int) -> list[torch.Tensor]:
    """Per window, its weight along the axis at `scale` samples per cell (length size * scale):
    zero outside the kept part, ramping linearly over `blend` cells at inner edges; normalized so
    the windows' weights sum to one at every sample."""
    ramp = max(blend * scale, 1)
    raw = []
    for p in parts:
        x = torch.arange(p.start * scale, (p.start + p.size) * scale, dtype=torch.float32) + 0.5
        w = torch.ones_like(x)
        if p.keep_lo > 0:
            w = torch.minimum(w, ((x - p.keep_lo * scale) / ramp).clamp(min=0))
        if p.keep_hi < n:
            w = torch.minimum(w, ((p.keep_hi * scale - x) / ramp).clamp(min=0))
        raw.append(w)
    total = torch.zeros(n * scale)
    for p, w in zip(parts, raw):
        total[p.start * scale : (p.start + p.size) * scale] += w
    return [w / total[p.start * scale : (p.start + p.size) * scale] for p, w in zip(parts, raw)]


def crop(x: torch.Tensor, rows: Span, cols: Span, per_cell: float) -> torch.Tensor:
    """The window of NCHW `x`, which has `per_cell` samples per cell (1/2 for a half-resolution input)."""
    y0, y1 = int(rows.start * per_cell), int((rows.start + rows.size) * per_cell)
    x0, x1 = int(cols.start * per_cell), int((cols.start + cols.size) * per_cell)
    return x[..., y0:y1, x0:x1]


def tiled(fn: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor], per_cell: Sequence[float],
          grid: tuple[int, int], plan: TilePlan, out_per_cell: int, batch: int = 1) -> torch.Tensor:
    """fn(*inputs) computed window by window and cross-faded: NCHW inputs with batch 1, input i
    having per_cell[i] samples per cell on a grid of `grid` cells; fn's output has `out_per_cell`
    samples per cell. `batch` windows run through fn at once (stacked on dim 0).
    One window: fn(*inputs) itself."""
    rows, cols = spans(grid[0], plan), spans(grid[1], plan)
    if len(rows) == 1 and len(cols) == 1:
        return fn(*inputs)
    wy = weights(rows, grid[0], plan.blend, out_per_cell)
    wx = weights(cols, grid[1], plan.blend, out_per_cell)
    windows = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    out: torch.Tensor | None = None
    for k in range(0, len(windows), max(batch, 1)):
        group = windows[k : k + max(batch, 1)]
        crops = [torch.cat([crop(x, rows[i], cols[j], f) for i, j in group]) for x, f in zip(inputs, per_cell)]
        result = fn(*crops)
        if out is None:
            out = result.new_zeros((1, result.shape[1], grid[0] * out_per_cell, grid[1] * out_per_cell),
                                   dtype=torch.float32)
        for b, (i, j) in enumerate(group):
            w = (wy[i][:, None] * wx[j][None, :]).to(out.device)
            region = crop(out, rows[i], cols[j], out_per_cell)
            region += result[b : b + 1].float() * w
        del result, crops
    return out
