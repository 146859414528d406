"""Adaptive count models and the range-coder plumbing of the label-map codec.

Every probability row is count/total in float64, where the counts are small integers
that encoder and decoder update identically; integers below 2**53 are exact in float64
and IEEE division is deterministic, so both sides hand constriction bit-identical rows
on every machine. The encoder knows all symbols up front and computes the rows of a
whole sequence at once (`adaptive_rows`); the decoder updates one row per symbol.
"""

from __future__ import annotations

import numpy as np
import constriction

__all__ = ["FAM", "Adaptive", "adaptive_rows", "SymbolSink", "SymbolSource", "GapCoder"]

FAM = constriction.stream.model.Categorical(perfect=False)
SMALL_K = 4  # the chain-code models share one row width so the encoder codes them in one call


class Adaptive:
    """Adaptive frequency tables, one row of integer counts per context."""

    def __init__(self, init: np.ndarray, inc: float) -> None:
        self.init = np.array(init, dtype=np.float64)
        self.c = self.init.copy()
        self.t = self.c.sum(axis=1)
        self.t[self.t == 0] = 1.0  # rows no valid stream can use
        self.p = self.c / self.t[:, None]
        self.inc = inc

    def row(self, ctx: int) -> np.ndarray:
        """The current row as a (1, K) view: valid until the next update of this context."""
        return self.p[ctx : ctx + 1]

    def update(self, ctx: int, sym: int) -> None:
        self.c[ctx, sym] += self.inc
        self.t[ctx] += self.inc
        self.p[ctx] = self.c[ctx] / self.t[ctx]


def adaptive_rows(init: np.ndarray, inc: float, ctx: np.ndarray, sym: np.ndarray) -> np.ndarray:
    """The rows an `Adaptive(init, inc)` would give along a whole (ctx, sym) sequence."""
    n = len(ctx)
    k = init.shape[1]
    if n == 0:
        return np.zeros((0, k))
    order = np.argsort(ctx, kind="stable")
    cs = ctx[order]
    onehot = np.zeros((n, k))
    onehot[np.arange(n), sym[order]] = inc
    cum = np.cumsum(onehot, axis=0) - onehot  # counts seen before each symbol (exclusive)
    first = np.r_[True, cs[1:] != cs[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    counts = init[cs] + (cum - cum[group_start])
    total = counts.sum(axis=1)
    rows = np.empty_like(counts)
    rows[order] = counts / total[:, None]
    return rows


class SymbolSink:
    """Encoder side: records symbols in coding order, then range codes them in batches.

    Symbols of the adaptive `small` models (row width SMALL_K) are recorded as
    (model, context, symbol); their rows are computed at the end, vectorised per model.
    Other symbols come with an explicit probability row.
    """

    def __init__(self, small_models: list[Adaptive]) -> None:
        self.small_models = small_models
        self.s_model: list[int] = []
        self.s_ctx: list[int] = []
        self.s_sym: list[int] = []
        self.ops: list[list] = []  # ["S", start, stop] runs of small symbols, ["C", rows, syms]
        self._mark = 0

    def flush_small(self) -> None:
        """Close the run of small symbols recorded since the last explicit symbol."""
        stop = len(self.s_sym)
        if stop > self._mark:
            self.ops.append(["S", self._mark, stop])
            self._mark = stop

    def cat(self, row: np.ndarray, sym: int) -> None:
        self.flush_small()
        if self.ops and self.ops[-1][0] == "C" and len(self.ops[-1][1][0]) == len(row):
            self.ops[-1][1].append(row.copy())
            self.ops[-1][2].append(sym)
        else:
            self.ops.append(["C", [row.copy()], [sym]])

    def finish(self) -> bytes:
        self.flush_small()
        mid = np.array(self.s_model, np.int64)
        ctx = np.array(self.s_ctx, np.int64)
        sym = np.array(self.s_sym, np.int64)
        rows = np.zeros((len(sym), SMALL_K))
        for m, model in enumerate(self.small_models):
            sel = mid == m
            rows[sel] = adaptive_rows(model.init, model.inc, ctx[sel], sym[sel])
        sym32 = sym.astype(np.int32)
        enc = constriction.stream.queue.RangeEncoder()
        for op in self.ops:
            if op[0] == "S":
                enc.encode(sym32[op[1] : op[2]], FAM, rows[op[1] : op[2]])
            else:
                enc.encode(np.array(op[2], np.int32), FAM, np.stack(op[1]))
        words = enc.get_compressed().astype(">u4").tobytes()
        return words.rstrip(b"\0")  # the decoder pads with zero bytes again


class SymbolSource:
    """Decoder side: the same symbols, one at a time, from the range coder."""

    def __init__(self, payload: bytes) -> None:
        pad = (-len(payload)) % 4
        words = np.frombuffer(payload + b"\0" * pad, dtype=">u4").astype(np.uint32)
        self.dec = constriction.stream.queue.RangeDecoder(words)

    def cat(self, row: np.ndarray) -> int:
        return int(self.dec.decode(FAM, row.reshape(1, -1))[0])

    def exhausted(self) -> bool:
        return bool(self.dec.maybe_exhausted())


def _uniform_row(bits: int) -> np.ndarray:
    return np.full(1 << bits, 1.0 / (1 << bits))


_UNIFORM = [np.zeros(0)] + [_uniform_row(b) for b in range(1, 9)]
GAP_K = 32  # bit lengths 0..31


def _mantissa_chunks(nb: int) -> list[tuple[int, int]]:
    """(shift, bits) of the nb-1 bits below the leading one, most significant first."""
    chunks = []
    low = nb - 1
    while low > 0:
        bits = min(8, low)
        low -= bits
        chunks.append((low, bits))
    return chunks


class GapCoder:
    """Non-negative integers: an adaptive bit length, then the bits below the leading one."""

    def __init__(self, n_ctx: int) -> None:
        self.model = Adaptive(np.ones((n_ctx, GAP_K)), 1.0)

    def encode(self, sink: SymbolSink, ctx: int, value: int) -> None:
        nb = value.bit_length()
        sink.cat(self.model.row(ctx)[0], nb)
        self.model.update(ctx, nb)
        for shift, bits in _mantissa_chunks(nb):
            sink.cat(_UNIFORM[bits], (value >> shift) & ((1 << bits) - 1))

    def decode(self, src: SymbolSource, ctx: int) -> int:
        nb = src.cat(self.model.row(ctx)[0])
        self.model.update(ctx, nb)
        if nb == 0:
            return 0
        value = 1
        for _shift, bits in _mantissa_chunks(nb):
            value = (value << bits) | src.cat(_UNIFORM[bits])
        return value
