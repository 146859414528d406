"""Regions (4-connected components) of a pixel grid cut by crack edges, with numpy only.

Pixels are grouped into horizontal runs (cut by vertical cracks); runs in adjacent rows
that overlap without a horizontal crack between them are joined with a vectorised
union-find. Region ids follow the raster order of each region's first pixel, which is
the order the label-map coder codes their class ids in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Regions:
    run_start: np.ndarray  # flat pixel index where each run starts (raster order)
    run_region: np.ndarray  # region id of each run
    first_pos: np.ndarray  # flat pixel index of each region's first pixel
    up_reg: np.ndarray  # region above the first pixel, -1 on the top row
    left_reg: np.ndarray  # region left of the first pixel, -1 in the first column
    adj_ptr: np.ndarray  # CSR: adj[adj_ptr[r]:adj_ptr[r+1]] are the adjacent regions < r
    adj: np.ndarray

    def paint(self, region_class: np.ndarray, h: int, w: int) -> np.ndarray:
        """The label map given one class per region."""
        lengths = np.diff(np.r_[self.run_start, h * w])
        return np.repeat(region_class[self.run_region], lengths).reshape(h, w)


def connected_min_root(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For nodes 0..n-1 joined by edges (a, b): the smallest node index in each one's component."""
    p = np.arange(n)
    if len(a) == 0:
        return p
    while True:
        pa = p[a]
        pb = p[b]
        m = np.minimum(pa, pb)
        changed = pa != pb
        if not changed.any():
            return p
        # hook the larger root under the smaller one, then flatten all paths
        np.minimum.at(p, pa[changed], m[changed])
        np.minimum.at(p, pb[changed], m[changed])
        while True:
            q = p[p]
            if np.array_equal(q, p):
                break
            p = q


def regions_from_edges(vert: np.ndarray, horiz: np.ndarray) -> Regions:
    """Regions of an H x W grid; vert (H x W-1) cuts right of a pixel, horiz (H-1 x W) below it."""
    h, w = vert.shape[0], vert.shape[1] + 1
    starts = np.ones((h, w), bool)
    starts[:, 1:] = vert
    run_start = np.flatnonzero(starts)
    n_run = len(run_start)
    # vertical joins: every overlap of two runs begins where one of them starts
    cand = run_start
    top = np.concatenate([cand[cand < (h - 1) * w], cand[cand >= w] - w])
    if len(top):
        top = np.unique(top)
        r, c = np.divmod(top, w)
        join = ~horiz[r, c]
        cut = top[~join]
        top = top[join]
    else:
        cut = top
    ra = np.searchsorted(run_start, top, side="right") - 1
    rb = np.searchsorted(run_start, top + w, side="right") - 1
    root = connected_min_root(n_run, ra, rb)
    roots, run_region = np.unique(root, return_inverse=True)
    run_region = run_region.astype(np.int64)
    first_pos = run_start[roots]
    n_reg = len(roots)
    fr, fc = np.divmod(first_pos, w)
    up_reg = np.full(n_reg, -1, np.int64)
    has_up = fr > 0
    up_reg[has_up] = run_region[np.searchsorted(run_start, first_pos[has_up] - w, side="right") - 1]
    left_reg = np.full(n_reg, -1, np.int64)
    has_left = fc > 0
    left_reg[has_left] = run_region[roots[has_left] - 1]
    # adjacency: consecutive runs in a row, and vertically overlapping runs across a cut
    same_row = run_start[1:] // w == run_start[:-1] // w
    ea = [run_region[:-1][same_row]]
    eb = [run_region[1:][same_row]]
    if len(cut):
        ea.append(run_region[np.searchsorted(run_start, cut, side="right") - 1])
        eb.append(run_region[np.searchsorted(run_start, cut + w, side="right") - 1])
    ea = np.concatenate(ea)
    eb = np.concatenate(eb)
    lo = np.minimum(ea, eb)
    hi = np.maximum(ea, eb)
    keep = lo != hi  # corrupt streams can cut a region against itself
    key = np.unique(hi[keep] * n_reg + lo[keep])
    hi_u, lo_u = np.divmod(key, n_reg)
    adj_ptr = np.searchsorted(hi_u, np.arange(n_reg + 1), side="left")
    return Regions(run_start, run_region, first_pos, up_reg, left_reg, adj_ptr, lo_u)
