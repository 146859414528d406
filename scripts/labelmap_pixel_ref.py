"""A plain context-adaptive pixel coder for label maps: the baseline the chain code must beat.

Each pixel, in raster order, is coded as "same as W", "same as N", "same as NW", "same as
NE" (the first that matches) or "new", in which case its class id follows. The context is
the agreement pattern of the four neighbours; probabilities are adaptive integer counts,
exactly as in `gcodec.bitstream.labelmap`. The benchmark (bench_labelmap.py, beside this
file) uses it; the codec does not. The decoder is a plain per-pixel loop (seconds for a
megapixel map), kept to prove the code is complete (tests/test_labelmap.py round-trips it).
"""

from __future__ import annotations

import numpy as np
import constriction

from gcodec.bitstream.errors import FormatError, InputError
from gcodec.bitstream.labelmap.coding import FAM as _FAM, Adaptive as _Adaptive, adaptive_rows as _adaptive_rows

__all__ = ["encode_pixel_ref", "decode_pixel_ref"]

_N_CTX = 64
_INC = 2.0
_NEW = 4


def _neighbours(x: np.ndarray) -> tuple[np.ndarray, ...]:
    """W, N, NW, NE as int16 with distinct negative values outside the image."""
    h, w = x.shape
    p = np.full((h + 1, w + 2), -1, np.int16)
    p[1:, 1:-1] = x
    west = p[1:, :-2].copy()
    west[:, 0] = -1
    north = p[:-1, 1:-1].copy()
    north[0] = -2
    nw = p[:-1, :-2].copy()
    nw[0] = -3
    nw[:, 0] = -3
    ne = p[:-1, 2:].copy()
    ne[0] = -4
    ne[:, -1] = -4
    return west, north, nw, ne


def _context(west, north, nw, ne):  # works on arrays and on scalars alike
    return ((west == north) * 1 + (north == nw) * 2 + (north == ne) * 4 + (west == nw) * 8
            + (west == ne) * 16 + (nw == ne) * 32)


def encode_pixel_ref(labels: np.ndarray) -> bytes:
    if not isinstance(labels, np.ndarray) or labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError("label map must be a 2-D uint8 array")
    x = labels.astype(np.int16)
    west, north, nw, ne = _neighbours(x)
    sym = np.full(x.shape, _NEW, np.int64)
    for k, ref in reversed(list(enumerate((west, north, nw, ne)))):
        sym[x == ref] = k  # reversed: the first match in W, N, NW, NE order wins
    ctx = _context(west, north, nw, ne).ravel().astype(np.int64)
    sym = sym.ravel()
    rows = _adaptive_rows(np.ones((_N_CTX, 5)), _INC, ctx, sym)
    new = sym == _NEW
    new_vals = x.ravel()[new].astype(np.int64)
    new_rows = _adaptive_rows(np.ones((1, 256)), _INC, np.zeros(len(new_vals), np.int64), new_vals)
    # symbols interleave (flag, then id for new pixels): code in the order the decoder reads
    enc = constriction.stream.queue.RangeEncoder()
    idx = np.flatnonzero(new)
    start = 0
    for j, i in enumerate(idx):
        if i + 1 > start:
            enc.encode(sym[start : i + 1].astype(np.int32), _FAM, rows[start : i + 1])
        enc.encode(new_vals[j : j + 1].astype(np.int32), _FAM, new_rows[j : j + 1])
        start = i + 1
    if start < len(sym):
        enc.encode(sym[start:].astype(np.int32), _FAM, rows[start:])
    return enc.get_compressed().astype(">u4").tobytes()


def decode_pixel_ref(data: bytes, height: int, width: int) -> np.ndarray:
    if len(data) % 4:
        raise FormatError("pixel reference: payload is not whole words")
    dec = constriction.stream.queue.RangeDecoder(np.frombuffer(data, ">u4").astype(np.uint32))
    model = _Adaptive(np.ones((_N_CTX, 5)), _INC)
    new_model = _Adaptive(np.ones((1, 256)), _INC)
    out = np.zeros((height, width), np.int16)
    prev = [-2] * (width + 2)  # row above with sentinels: NW at j, N at j+1, NE at j+2
    for i in range(height):
        cur = [-1] * (width + 2)
        for j in range(width):
            west = cur[j] if j > 0 else -1
            north = prev[j + 1] if i > 0 else -2
            nw = prev[j] if i > 0 and j > 0 else -3
            ne = prev[j + 2] if i > 0 and j < width - 1 else -4
            c = _context(west, north, nw, ne)
            s = int(dec.decode(_FAM, model.row(c))[0])
            model.update(c, s)
            if s == _NEW:
                v = int(dec.decode(_FAM, new_model.row(0))[0])
                new_model.update(0, v)
            else:
                v = (west, north, nw, ne)[s]
                if v < 0:
                    raise FormatError("pixel reference: refers to a pixel outside the image")
            cur[j + 1] = v
        out[i] = cur[1 : width + 1]
        prev = cur
    return out.astype(np.uint8)
