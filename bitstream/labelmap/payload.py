"""Lossless coding of semantic label maps with a crack-edge chain code.

A label map (uint8, H x W) is described by the set E of crack edges between
4-neighbouring pixels of different class, plus one class id per region (4-connected
component). E is a plane graph on the (H+1) x (W+1) grid of pixel corners; it is coded
by walking it: each vertex is visited once and its edge configuration is coded relative
to the direction of arrival (left / straight / right), under adaptive count models whose
context is the last turns and what is already known about the vertex's edges from
vertices resolved earlier (shared boundaries and junctions cost nothing twice). Region
class ids follow, predicted from neighbouring regions. See FORMAT.md in this folder.

Modules: walk (the chain code), regions (components), coding (adaptive models, range coder).

Everything entropy coded goes through one constriction range coder with probabilities
count/total in float64 from integer counts that encoder and decoder update identically.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError, InputError, UnsupportedError
from .coding import Adaptive, SymbolSink, SymbolSource
from .regions import regions_from_edges
from .walk import Walker, code_boundaries, true_conf

__all__ = ["encode_labelmap", "decode_labelmap"]

_VERSION = 1
_MAX_PIXELS = 1 << 28  # 16384 x 16384; the walk keeps two bytes per pixel corner


def _code_classes(labels_at_first: np.ndarray | None, first_pos: np.ndarray, up_reg: np.ndarray,
                  left_reg: np.ndarray, adj_ptr: np.ndarray, adj: np.ndarray, n_classes: int,
                  sink: SymbolSink | None, src: SymbolSource | None) -> np.ndarray:
    """One class id per region, in region order, predicted from earlier neighbouring regions."""
    n_reg = len(first_pos)
    lab = np.zeros(n_reg, np.int64)
    seen = np.zeros(n_classes, bool)
    n_seen = 0
    glob = np.zeros(n_classes, np.int64)
    pair = np.zeros((n_classes + 1, n_classes), np.int64)  # row n_classes: no neighbour
    flag_model = Adaptive(np.ones((4, 2)), 1.0)
    enc = labels_at_first is not None
    for r in range(n_reg):
        excl = np.zeros(n_classes, bool)
        nb = adj[adj_ptr[r] : adj_ptr[r + 1]]
        excl[lab[nb]] = True
        cand_seen = seen & ~excl
        cand_new = ~seen & ~excl
        any_seen = bool(cand_seen.any())
        any_new = bool(cand_new.any())
        if not any_seen and not any_new:
            raise FormatError("label map: no class fits a region")
        if enc:
            k = int(labels_at_first[r])
            is_new = not seen[k]
        if any_seen and any_new:
            fctx = min(n_seen, 3)
            if enc:
                sink.cat(flag_model.row(fctx)[0], int(is_new))
            else:
                is_new = bool(src.cat(flag_model.row(fctx)[0]))
            flag_model.update(fctx, int(is_new))
        else:
            is_new = any_new
        lu = lab[up_reg[r]] if up_reg[r] >= 0 else n_classes
        ll = lab[left_reg[r]] if left_reg[r] >= 0 else n_classes
        cand = cand_new if is_new else cand_seen
        n_cand = int(cand.sum())
        if n_cand == 1:
            k = int(np.argmax(cand))  # forced; constriction cannot code a one-symbol alphabet
        else:
            if is_new:
                row = cand / n_cand
            else:
                wts = (1 + glob + 4 * (pair[lu] + pair[ll])) * cand
                row = wts / wts.sum()
            if enc:
                sink.cat(row, k)
            else:
                k = src.cat(row)
                if k >= n_classes or not cand[k]:
                    raise FormatError("label map: impossible class id")
        lab[r] = k
        if not seen[k]:
            seen[k] = True
            n_seen += 1
        glob[k] += 1
        pair[lu, k] += 1
        pair[ll, k] += 1
    return lab


# --------------------------------------------------------------------------- public API


def encode_labelmap(labels: np.ndarray) -> bytes:
    """Code a 2-D uint8 class-id map exactly; the size is not stored (the container has it)."""
    if not isinstance(labels, np.ndarray) or labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError("label map must be a 2-D uint8 array")
    h, w = labels.shape
    if h == 0 or w == 0:
        return bytes([_VERSION, 0])
    if h * w > _MAX_PIXELS:
        raise InputError(f"label map {w}x{h} is larger than {_MAX_PIXELS} pixels")
    x = np.ascontiguousarray(labels)
    n_classes = int(x.max()) + 1
    vert = x[:, 1:] != x[:, :-1]
    horiz = x[1:] != x[:-1]
    walker = Walker(h, w)
    sink = SymbolSink(walker.models)
    code_boundaries(walker, true_conf(vert, horiz), sink, None)
    got_v, got_h = walker.edges()
    if not (np.array_equal(got_v, vert) and np.array_equal(got_h, horiz)):
        raise RuntimeError("label map encoder missed boundary edges")  # a bug, not bad input
    reg = regions_from_edges(vert, horiz)
    first_labels = x.ravel()[reg.first_pos]
    _code_classes(first_labels, reg.first_pos, reg.up_reg, reg.left_reg, reg.adj_ptr, reg.adj,
                  n_classes, sink, None)
    return bytes([_VERSION, n_classes - 1]) + sink.finish()


def decode_labelmap(data: bytes, height: int, width: int) -> np.ndarray:
    """Inverse of `encode_labelmap`; raises FormatError on data that cannot be a label map."""
    if height < 0 or width < 0:
        raise FormatError("label map: negative size")
    data = bytes(data)
    if len(data) < 2:
        raise FormatError("label map: payload too short")
    if data[0] != _VERSION:
        raise UnsupportedError(f"label map: unknown format version {data[0]}")
    h, w = int(height), int(width)
    if h == 0 or w == 0:
        return np.zeros((h, w), np.uint8)
    if h * w > _MAX_PIXELS:
        raise FormatError(f"label map: size {w}x{h} is larger than {_MAX_PIXELS} pixels")
    n_classes = data[1] + 1
    src = SymbolSource(data[2:])
    walker = Walker(h, w)
    try:
        code_boundaries(walker, None, None, src)
        vert, horiz = walker.edges()
        reg = regions_from_edges(vert, horiz)
        lab = _code_classes(None, reg.first_pos, reg.up_reg, reg.left_reg, reg.adj_ptr, reg.adj,
                            n_classes, None, src)
    except (ValueError, IndexError, AssertionError) as err:  # how constriction rejects garbage
        raise FormatError(f"label map: corrupt payload ({err})") from None
    if not src.exhausted():
        raise FormatError("label map: trailing data after the last symbol")
    return reg.paint(lab.astype(np.uint8), h, w)
