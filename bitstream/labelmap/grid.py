"""Lossy label maps on a coarse grid, for SC files (`--map-tolerance`).

An SC decoder needs the map's layout, not every boundary pixel: its heatmap lives at
latent resolution (16 px) and the generator's map features are smooth. So an SC file may
carry the map on a grid of `cell` x `cell` pixel cells (each cell holds its majority
class), coded losslessly by `payload.py` at the coarse size, and both encoder and decoder
expand it with `expand`: a bilinear vote between the four nearest cells. The expanded
boundaries are smooth curves, not cell staircases; they sit within about cell / 2 pixels
of the original's, and regions narrower than about cell / 2 may vanish.

Everything is integer arithmetic on numpy arrays, so every machine expands a coded grid to
the same map (the heatmap and the generator's input follow from it on both sides).
On the 101 CamVid val maps, a coarse grid costs fewer bytes than a full-resolution map
with majority-filtered (simplified) boundaries at the same pixel agreement (docs/sc_maps.md).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

MAX_CELL = 64


def grid_size(height: int, width: int, cell: int) -> tuple[int, int]:
    """Rows and columns of the coarse grid: every pixel falls in one cell."""
    return -(-height // cell), -(-width // cell)


def check_cell(cell: int) -> None:
    if not 2 <= cell <= MAX_CELL:
        raise InputError(f"map grid cell {cell} is outside 2..{MAX_CELL} pixels")


def coarsen(labels: np.ndarray, cell: int) -> np.ndarray:
    """uint8 (H, W) -> uint8 grid: each cell's most frequent class (ties: the lower id).

    Cells past the right or bottom edge count only the pixels inside the image."""
    check_cell(cell)
    h, w = labels.shape
    gh, gw = grid_size(h, w, cell)
    best_count = np.full((gh, gw), -1, np.int32)
    out = np.zeros((gh, gw), np.uint8)
    for k in np.unique(labels):  # ascending, and only a strictly larger count wins: ties keep the lower id
        ind = np.zeros((gh * cell, gw * cell), np.int32)
        ind[:h, :w] = labels == k
        count = ind.reshape(gh, cell, gw, cell).sum(axis=(1, 3))
        better = count > best_count
        best_count[better] = count[better]
        out[better] = k
    return out


def _taps(fine: int, coarse: int, cell: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each fine index: the two nearest coarse indices and their integer weights (sum 2*cell).

    Pixel i's centre lies at (2i + 1 - cell) / (2 cell) in coarse-cell units."""
    pos = 2 * np.arange(fine, dtype=np.int32) + 1 - cell
    lo = np.floor_divide(pos, 2 * cell)
    frac = pos - lo * 2 * cell
    a = np.clip(lo, 0, coarse - 1)
    b = np.clip(lo + 1, 0, coarse - 1)
    return a, b, 2 * cell - frac, frac


def expand(grid: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
    """Coarse grid -> uint8 (height, width): each pixel takes the class with the largest
    bilinear vote of the four nearest cells (ties: the lower id)."""
    check_cell(cell)
    if grid.shape != grid_size(height, width, cell):
        raise ValueError(f"grid {grid.shape} does not cover {height}x{width} with {cell}-px cells")
    ya, yb, wya, wyb = _taps(height, grid.shape[0], cell)
    xa, xb, wxa, wxb = _taps(width, grid.shape[1], cell)
    best = np.full((height, width), -1, np.int32)  # votes reach (2 cell)^2 <= 16384
    out = np.zeros((height, width), np.uint8)
    for k in np.unique(grid):  # ascending, and only a strictly larger vote wins: ties keep the lower id
        ind = (grid == k).astype(np.int32)
        rows = wya[:, None] * ind[ya] + wyb[:, None] * ind[yb]
        vote = rows[:, xa] * wxa[None] + rows[:, xb] * wxb[None]
        better = vote > best
        best[better] = vote[better]
        out[better] = k
    return out


def simplify(labels: np.ndarray, cell: int) -> np.ndarray:
    """The map an SC decoder sees for `labels` coded on a `cell` grid."""
    h, w = labels.shape
    return expand(coarsen(labels, cell), cell, h, w)
