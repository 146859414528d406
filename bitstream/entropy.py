"""Entropy coding of discrete symbols under integer probability tables (ANS).

Probability models are INTEGER tables whose rows sum to exactly 2**precision, stored
with the model weights. Coding hands constriction `table / 2**precision` in float64:
those values and all of constriction's fixed-point arithmetic on them are exact, so the
encoder and decoder build bit-identical models on any machine.

constriction's `AnsCoder` (a stack) is used rather than its range coder: measured with
`scripts/bench_entropy.py --compare-range` the two code within a few bytes of each other
at similar speed, while ANS lets the decoder check that it ends exactly in the coder's
initial state (catching most corrupted or mis-sized payloads) and its last word can be
trimmed. Cost over ideal_bits is a fixed ~20-25 bits per call (the first symbol pushed
from ANS state 0 costs ~24 bits), not per symbol: code one stream per file, not many.

Byte form: the coder's 32-bit words, little-endian, with the zero bytes at the top of
the last word dropped (the top word is never zero, so the decoder re-pads to a
multiple of 4 and the form is unique: a payload never ends in a zero byte).
"""

from __future__ import annotations

import constriction
import numpy as np

from .errors import FormatError

PRECISION = 16
MAX_PRECISION = 24  # constriction's default ANS coder resolves probabilities to 2**-24
_CHUNK = 1 << 16  # symbols per constriction call: bounds the float64 (chunk, L) buffer

# perfect=False on both sides: fast, deterministic quantization (and our inputs are exact).
_FAMILY = constriction.stream.model.Categorical(perfect=False)


def quantize_pmf(pmf: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Turn float probabilities (..., L) into integer tables (..., L) summing to 2**precision.

    Every entry is >= 1 (so every symbol stays codable). Method: normalise each row
    by its sum (summed left to right), give entry i `1 + floor(p_i * (2**precision - L))`,
    then hand the few units still missing to the entries with the largest dropped
    fractions, ties going to the lower index. Only IEEE-exact float ops (divide,
    multiply, floor) and integer ops are used, so results are identical everywhere.
    Rows must be finite, non-negative and not all zero.
    """
    p = np.asarray(pmf, dtype=np.float64)
    if p.ndim < 1 or p.shape[-1] < 1:
        raise ValueError(f"pmf needs a last axis of length >= 1, got shape {p.shape}")
    n_levels = p.shape[-1]
    if not 1 <= precision <= MAX_PRECISION or n_levels > 1 << precision:
        raise ValueError(f"cannot fit {n_levels} levels into {precision}-bit tables")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pmf must be finite and non-negative")
    total = np.zeros(p.shape[:-1], dtype=np.float64)
    with np.errstate(over="ignore"):  # an overflowing sum is rejected just below
        for i in range(n_levels):  # explicit order: np.sum's pairwise order is not specified
            total = total + p[..., i]
    if np.any(total <= 0) or not np.all(np.isfinite(total)):
        raise ValueError("every pmf row needs a positive, finite sum")
    free = (1 << precision) - n_levels
    scaled = (p / total[..., None]) * free
    base = np.floor(scaled)
    counts = base.astype(np.int64) + 1
    missing = (1 << precision) - counts.sum(axis=-1)  # integer sum: exact
    # Rounding can leave 0..L units missing (L only through float error); spread them.
    counts += (missing // n_levels)[..., None]
    missing = missing % n_levels
    order = np.argsort(-(scaled - base), axis=-1, kind="stable")  # largest fraction first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_levels), axis=-1)
    counts += rank < missing[..., None]
    return counts


def _check_tables(tables: np.ndarray, precision: int) -> np.ndarray:
    t = np.asarray(tables)
    if t.ndim != 2 or t.shape[1] < 1 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"tables must be a 2-D integer array (K, L), got {t.dtype} {t.shape}")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in 1..{MAX_PRECISION}, got {precision}")
    t = t.astype(np.int64)
    if t.size and (t.min() < 1 or np.any(t.sum(axis=1) != 1 << precision)):
        raise ValueError(f"table entries must be >= 1 and each row must sum to 2**{precision}")
    return t


def _check_index(table_index: np.ndarray, n_tables: int) -> np.ndarray:
    idx = np.asarray(table_index)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"table_index must be a 1-D integer array, got {idx.dtype} {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_tables):
        raise ValueError(f"table_index must lie in 0..{n_tables - 1}")
    return idx


def encode_categorical(
    symbols: np.ndarray, tables: np.ndarray, table_index: np.ndarray, precision: int = PRECISION
) -> bytes:
    """Code symbols[i] under row tables[table_index[i]]; returns the payload bytes.

    symbols: int (N,) with 0 <= symbols[i] < L; tables: int (K, L), rows summing to
    2**precision, entries >= 1; table_index: int (N,) in 0..K-1. ValueError on bad input.
    """
    t = _check_tables(tables, precision)
    idx = _check_index(table_index, t.shape[0])
    sym = np.asarray(symbols)
    if sym.ndim != 1 or not np.issubdtype(sym.dtype, np.integer):
        raise ValueError(f"symbols must be a 1-D integer array, got {sym.dtype} {sym.shape}")
    if sym.shape != idx.shape:
        raise ValueError(f"{sym.size} symbols but {idx.size} table indices")
    if sym.size and (sym.min() < 0 or sym.max() >= t.shape[1]):
        raise ValueError(f"symbols must lie in 0..{t.shape[1] - 1}, got {sym.min()}..{sym.max()}")
    if t.shape[1] == 1:  # one-letter alphabet: nothing to code (constriction needs L >= 2)
        return b""
    sym = sym.astype(np.int32)
    probs_table = t / float(1 << precision)  # exact dyadic float64 values
    coder = constriction.stream.stack.AnsCoder()
    # ANS is a stack: push the last chunk first so decoding runs front to back.
    for start in reversed(range(0, sym.size, _CHUNK)):
        stop = start + _CHUNK
        probs = np.take(probs_table, idx[start:stop], axis=0)  # (chunk, L); take beats fancy indexing
        coder.encode_reverse(sym[start:stop], _FAMILY, probs)
    raw = coder.get_compressed().astype("<u4").tobytes()
    # Drop the top word's high zero bytes (at most 3: the top word is never zero).
    trim = len(raw)
    while trim > len(raw) - 3 and trim > 0 and raw[trim - 1] == 0:
        trim -= 1
    return raw[:trim]


def decode_categorical(
    data: bytes, tables: np.ndarray, table_index: np.ndarray, precision: int = PRECISION
) -> np.ndarray:
    """Inverse of `encode_categorical`; returns int64 symbols (N,) with N = len(table_index).

    Malformed payloads raise FormatError; a corrupted payload that still parses may
    instead decode to wrong (but in-range) symbols. Never hangs: work is O(N).
    """
    t = _check_tables(tables, precision)
    idx = _check_index(table_index, t.shape[0])
    data = bytes(data)
    if t.shape[1] == 1:
        if data:
            raise FormatError("entropy-coded data is corrupted (one-letter alphabet needs no bytes)")
        return np.zeros(idx.size, dtype=np.int64)
    if data and data[-1] == 0:
        raise FormatError("entropy-coded data is malformed (ends in a zero byte)")
    padded = data + b"\0" * (-len(data) % 4)
    words = np.frombuffer(padded, dtype="<u4").astype(np.uint32)
    probs_table = t / float(1 << precision)
    out = np.empty(idx.size, dtype=np.int64)
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        for start in range(0, idx.size, _CHUNK):
            stop = start + _CHUNK
            out[start:stop] = coder.decode(_FAMILY, np.take(probs_table, idx[start:stop], axis=0))
    except (ValueError, KeyError, RuntimeError) as exc:
        raise FormatError(f"entropy-coded data is corrupted ({exc})") from None
    if not coder.is_empty():
        raise FormatError("entropy-coded data is corrupted or has the wrong symbol count (bits left over)")
    return out


def encode_with_rows(symbols: np.ndarray, rows: np.ndarray, precision: int = PRECISION) -> bytes:
    """Code symbols[i] under its own integer row rows[i] (N, L): for adaptive/context models."""
    r = np.asarray(rows)
    return encode_categorical(symbols, r, np.arange(r.shape[0] if r.ndim else 0), precision)


def decode_with_rows(data: bytes, rows: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Inverse of `encode_with_rows`."""
    r = np.asarray(rows)
    return decode_categorical(data, r, np.arange(r.shape[0] if r.ndim else 0), precision)


def ideal_bits(
    symbols: np.ndarray, tables: np.ndarray, table_index: np.ndarray, precision: int = PRECISION
) -> float:
    """Sum of -log2 p(symbol) under the integer tables: the size an ideal coder reaches."""
    t = _check_tables(tables, precision)
    idx = _check_index(table_index, t.shape[0])
    sym = np.asarray(symbols, dtype=np.int64)
    if sym.shape != idx.shape:
        raise ValueError(f"{sym.size} symbols but {idx.size} table indices")
    return float(precision * sym.size - np.log2(t[idx, sym].astype(np.float64)).sum())
