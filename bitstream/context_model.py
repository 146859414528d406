"""Context-conditional entropy coding of GC latents (C, h, w) under static integer tables.

Every symbol is coded under a row of an integer table chosen by a CONTEXT made of
symbols the decoder already has, so coding is a pure table lookup and decodes
bit-exactly on every machine (integers in, integers out; constriction gets
`table / 2**16` in float64, which is exact).

Decoding order: channel by channel; inside a channel, three phases over a 2x2 grid:
  phase 0: (even row, even col)  context: co-located symbols of channels c-1 and c-2
  phase 1: (odd row, odd col)    + sum of the 4 diagonal neighbours (all phase 0)
  phase 2: the other half        + sum of the 4 N/S/W/E neighbours (phases 0 and 1)
Each (channel, phase) is decoded in one vectorised constriction call, so a 768x512
image (C x 32 x 48 symbols) takes 3C calls. Neighbours outside the latent count as
the middle level. Sums rather than tuples keep the table small (the levels are
ordered quantization centers, so a sum is a good summary of the neighbourhood).

Context index for channel c: k = (s[c-1] + L * s[c-2]) * S + spatial, where absent
channels count as 0, S = 4 (L - 1) + 1 and spatial is 0 in phase 0. Tables have shape
(C, 3, L * L * S, L); rows of contexts a channel cannot reach are still valid rows.

Selective (SC) latents code only some cells: `coded` (bool (h, w)) names them; the
others are skipped (no bits) and read as the middle level in contexts, like positions
outside the latent. Every channel of a cell is coded or none is.

The whole latent is ONE ANS stream (a stream costs ~24 bits of overhead): the encoder
knows every context up front and pushes all symbols in reverse decode order; the
decoder pops phase after phase from the same coder. Byte form as in `entropy.py`.
"""

from __future__ import annotations

from typing import Iterable

import constriction
import numpy as np

from .entropy import PRECISION, encode_with_rows, quantize_pmf
from .errors import FormatError

PHASES = 3
_FAMILY = constriction.stream.model.Categorical(perfect=False)  # as entropy.py: exact inputs


def spatial_values(levels: int) -> int:
    """How many values a sum of 4 neighbours takes: 0 .. 4 (L - 1)."""
    return 4 * (levels - 1) + 1


def n_contexts(levels: int) -> int:
    return levels * levels * spatial_values(levels)


def table_shape(channels: int, levels: int) -> tuple[int, int, int, int]:
    return channels, PHASES, n_contexts(levels), levels


def phase_map(height: int, width: int) -> np.ndarray:
    """int8 (h, w): the phase (0, 1, 2) in which each position is coded."""
    i, j = np.indices((height, width))
    return np.where((i % 2 == 0) & (j % 2 == 0), 0, np.where((i % 2 == 1) & (j % 2 == 1), 1, 2)).astype(np.int8)


def _phase_index(height: int, width: int, coded: np.ndarray | None = None) -> list[np.ndarray]:
    """Flat raster indices of each phase's coded positions."""
    pm = phase_map(height, width).reshape(-1)
    if coded is not None:
        pm = np.where(coded.reshape(-1), pm, -1)
    return [np.flatnonzero(pm == p) for p in range(PHASES)]


def _check_coded(coded: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if coded is None:
        return None
    m = np.asarray(coded)
    if m.dtype != bool or m.shape != tuple(shape[1:]):
        raise ValueError(f"coded must be a bool array {tuple(shape[1:])}, got {m.dtype} {m.shape}")
    return m


def _skipped_as_middle(symbols: np.ndarray, coded: np.ndarray | None, levels: int) -> np.ndarray:
    """`symbols` with every skipped cell set to the middle level (what contexts read there)."""
    if coded is None:
        return symbols
    out = symbols.copy()
    out[:, ~coded] = (levels - 1) // 2
    return out


def contexts(symbols: np.ndarray, channel: int, phase: int, flat_index: np.ndarray, levels: int) -> np.ndarray:
    """Context indices (N,) of channel `channel` at flat positions `flat_index` of `phase`.

    Reads only what the decoder has when it reaches that phase: channels < channel in
    full, and in `channel` the positions of earlier phases. Everything else in
    `symbols` (C, h, w) may hold anything.
    """
    _, h, w = symbols.shape
    rows, cols = np.divmod(flat_index, w)
    ch = np.zeros(flat_index.size, dtype=np.int64)
    if channel >= 1:
        ch += symbols[channel - 1].reshape(-1)[flat_index]
    if channel >= 2:
        ch += levels * symbols[channel - 2].reshape(-1)[flat_index]
    if phase == 0:
        return ch * spatial_values(levels)
    mid = (levels - 1) // 2
    padded = np.pad(symbols[channel].astype(np.int64), 1, constant_values=mid)
    r, c = rows + 1, cols + 1
    offsets = ((-1, -1), (-1, 1), (1, -1), (1, 1)) if phase == 1 else ((-1, 0), (1, 0), (0, -1), (0, 1))
    spatial = sum(padded[r + dr, c + dc] for dr, dc in offsets)
    return ch * spatial_values(levels) + spatial


def _check_symbols(symbols: np.ndarray, levels: int) -> np.ndarray:
    s = np.asarray(symbols)
    if s.ndim != 3 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"symbols must be an integer array (C, h, w), got {s.dtype} {s.shape}")
    if s.size and (s.min() < 0 or s.max() >= levels):
        raise ValueError(f"symbols must lie in 0..{levels - 1}")
    return s.astype(np.int64)


def check_tables(tables: np.ndarray, channels: int | None = None, levels: int | None = None) -> np.ndarray:
    """Validate context tables (C, 3, K, L), optionally for a model's C and L; returns them
    as int64. ValueError if malformed."""
    t = np.asarray(tables)
    if t.ndim != 4 or not np.issubdtype(t.dtype, np.integer) or t.shape[3] < 2:
        raise ValueError(f"context tables must be an integer array (C, {PHASES}, K, L), got {t.dtype} {t.shape}")
    want = table_shape(t.shape[0] if channels is None else channels, t.shape[3] if levels is None else levels)
    if t.shape != want:
        raise ValueError(f"context tables have shape {t.shape}, expected {want}")
    t = t.astype(np.int64)
    if t.min() < 1 or np.any(t.sum(axis=-1) != 1 << PRECISION):
        raise ValueError(f"context table entries must be >= 1 and rows must sum to 2**{PRECISION}")
    return t


def _order(symbols: np.ndarray, levels: int, coded: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All coded symbols in decode order and the (c, phase, context) row index of each."""
    C, h, w = symbols.shape
    K = n_contexts(levels)
    coded = _check_coded(coded, symbols.shape)
    symbols = _skipped_as_middle(symbols, coded, levels)
    phases = _phase_index(h, w, coded)
    syms, rows = [], []
    for c in range(C):
        flat = symbols[c].reshape(-1)
        for p, idx in enumerate(phases):
            syms.append(flat[idx])
            rows.append((c * PHASES + p) * K + contexts(symbols, c, p, idx, levels))
    return np.concatenate(syms), np.concatenate(rows)


def encode(symbols: np.ndarray, tables: np.ndarray, coded: np.ndarray | None = None) -> bytes:
    """Code int symbols (C, h, w) under context tables (C, 3, K, L); returns payload bytes.

    `coded` (bool (h, w)): code only those cells; the symbols of the others are ignored.
    """
    t = check_tables(tables)
    C, _, _, L = t.shape
    s = _check_symbols(symbols, L)
    if s.shape[0] != C:
        raise ValueError(f"{s.shape[0]} channels of symbols but tables for {C}")
    sym, row = _order(s, L, coded)
    # encode_with_rows wants one row per symbol; gather them (N, L) from the flat table.
    return encode_with_rows(sym, np.take(t.reshape(-1, L), row, axis=0))


def decode(data: bytes, tables: np.ndarray, shape: tuple[int, int, int], checked: bool = False,
           coded: np.ndarray | None = None) -> np.ndarray:
    """Inverse of `encode`: int64 symbols of `shape` (C, h, w). FormatError on bad payloads.

    `checked=True` skips validating `tables` (callers that validated them at load time).
    `coded` must be the encoder's; skipped cells come back as the middle level.
    """
    t = np.asarray(tables) if checked else check_tables(tables)
    C, _, K, L = t.shape
    if len(shape) != 3 or shape[0] != C or min(shape) < 0:
        raise ValueError(f"shape {shape} does not fit tables for {C} channels")
    _, h, w = shape
    coded = _check_coded(coded, tuple(shape))
    data = bytes(data)
    if data and data[-1] == 0:
        raise FormatError("entropy-coded data is malformed (ends in a zero byte)")
    words = np.frombuffer(data + b"\0" * (-len(data) % 4), dtype="<u4").astype(np.uint32)
    probs = t.reshape(C, PHASES, K, L) / float(1 << PRECISION)  # exact dyadic float64
    out = np.full(shape, (L - 1) // 2, dtype=np.int64)
    phases = _phase_index(h, w, coded)
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        for c in range(C):
            flat = out[c].reshape(-1)  # a view: writes land in `out`
            for p, idx in enumerate(phases):
                if idx.size:
                    ctx = contexts(out, c, p, idx, L)
                    flat[idx] = coder.decode(_FAMILY, np.take(probs[c, p], ctx, axis=0))
    except (ValueError, KeyError, RuntimeError) as exc:
        raise FormatError(f"entropy-coded data is corrupted ({exc})") from None
    if not coder.is_empty():
        raise FormatError("entropy-coded data is corrupted or has the wrong symbol count (bits left over)")
    return out


def ideal_bits(symbols: np.ndarray, tables: np.ndarray, coded: np.ndarray | None = None) -> float:
    """Sum of -log2 p(symbol) under the context tables: what an ideal coder would spend."""
    t = check_tables(tables)
    L = t.shape[3]
    sym, row = _order(_check_symbols(symbols, L), L, coded)
    p = t.reshape(-1, L)[row, sym].astype(np.float64)
    return float(PRECISION * sym.size - np.log2(p).sum())


def count_contexts(latents: Iterable[np.ndarray], channels: int, levels: int) -> np.ndarray:
    """int64 counts (C, 3, K, L) of (context, symbol) over symbol arrays (C, h, w)."""
    counts = np.zeros(table_shape(channels, levels), dtype=np.int64)
    flat = counts.reshape(-1)
    for s in latents:
        s = _check_symbols(s, levels)
        if s.shape[0] != channels:
            raise ValueError(f"latent has {s.shape[0]} channels, expected {channels}")
        sym, row = _order(s, levels)
        flat += np.bincount(row * levels + sym, minlength=flat.size)
    return counts


def tables_from_counts(counts: np.ndarray, prior_weight: float = 2.5) -> np.ndarray:
    """Counts (C, 3, K, L) -> int32 tables (C, 3, K, L) summing to 2**PRECISION per row.

    Each row is its counts plus `prior_weight` pseudo-counts spread like the
    (channel, phase) marginal, so rare contexts fall back on what the channel does
    overall (unseen contexts get the marginal itself). Computed once, offline;
    `quantize_pmf` is deterministic, and decoders only ever read the stored integers.
    """
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 4 or n.shape[1] != PHASES or np.any(n < 0):
        raise ValueError(f"counts must be non-negative (C, {PHASES}, K, L), got {n.shape}")
    marginal = n.sum(axis=2, keepdims=True) + 1.0  # +1: every symbol stays possible
    marginal /= marginal.sum(axis=-1, keepdims=True)
    return quantize_pmf(n + prior_weight * marginal, PRECISION).astype(np.int32)


def sample(tables: np.ndarray, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw symbols (C, h, w) from the context model itself, in decode order: channel by channel,
    phase by phase, each symbol from its context's table row. Exact ancestral sampling (a symbol's
    context holds only symbols drawn before it), 3C vectorised draws."""
    t = check_tables(tables, shape[0])
    C, h, w = shape
    L = t.shape[3]
    cdf = np.cumsum(t, axis=-1)  # integer rows summing to 2**PRECISION
    out = np.full(shape, (L - 1) // 2, dtype=np.int64)
    for c in range(C):
        for p, idx in enumerate(_phase_index(h, w)):
            k = contexts(out, c, p, idx, L)
            u = rng.integers(0, 1 << PRECISION, size=idx.size)
            rows = cdf[c, p][k]  # (N, L)
            out[c].reshape(-1)[idx] = (u[:, None] >= rows).sum(axis=1)
    return out
