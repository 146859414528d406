"""Lossless coding of semantic label maps with a crack-edge chain code.

A label map (uint8, H x W) is described by the set E of crack edges between
4-neighbouring pixels of different class, plus one class id per region (4-connected
component). E is a plane graph on the (H+1) x (W+1) grid of pixel corners; it is coded
by walking it: each vertex is visited once and its edge configuration is coded relative
to the direction of arrival (left / straight / right), under adaptive count models whose
context is the last two turns and what is already known about the vertex's edges from
vertices resolved earlier (shared boundaries and junctions cost nothing twice). Region
class ids follow, predicted from neighbouring regions. See FORMAT-labelmap.md.

Everything entropy coded goes through one constriction range coder with probabilities
count/total in float64 from integer counts that encoder and decoder update identically.
"""

from __future__ import annotations

import numpy as np
import constriction

from .errors import FormatError, InputError, UnsupportedError
from .labelmap_regions import regions_from_edges

__all__ = ["encode_labelmap", "decode_labelmap"]

_VERSION = 1
_FAM = constriction.stream.model.Categorical(perfect=False)
_MAX_PIXELS = 1 << 28  # 16384 x 16384; the walk keeps two bytes per pixel corner

# Vertex state bytes (`st`): bits 0-3 the vertex's edges (bit d: edge in direction d),
# bit 4 resolved (edges known), bit 7 on the image border. Directions: 0 up, 1 right,
# 2 down, 3 left. `tr` holds the traced edges of each vertex, same bit layout.
_RESOLVED = 16
_BORDER = 128

# Pattern symbol at a vertex reached heading d: bit 0 edge to the left of d, bit 1
# straight on, bit 2 to the right. Context = known-status (27) x last two turns (16).
_HIST_START = 15
_N_KNOWN = 27
_N_HIST = 16
_PAT_INC = 2.0


def _pattern_tables() -> tuple[list[int], list[int], np.ndarray]:
    """Valid patterns per known-status code: mask, forced pattern (or -1), init counts."""
    valid_mask = []
    forced = []
    init = np.zeros((_N_KNOWN * _N_HIST, 8))
    for kn in range(_N_KNOWN):
        status = (kn % 3, kn // 3 % 3, kn // 9)  # left, straight, right: 0 ?, 1 yes, 2 no
        mask = 0
        for pat in range(1, 8):  # an interior vertex on E has degree >= 2
            ok = all(
                st == 0 or (st == 1) == bool(pat >> b & 1) for b, st in enumerate(status)
            )
            if ok:
                mask |= 1 << pat
        valid_mask.append(mask)
        pats = [p for p in range(8) if mask >> p & 1]
        # -1: code a symbol; -2: no valid pattern, only corrupt data gets here
        forced.append(pats[0] if len(pats) == 1 else -1 if pats else -2)
        for p in pats:
            init[kn * _N_HIST : (kn + 1) * _N_HIST, p] = 1.0
    return valid_mask, forced, init


_VALID, _FORCED, _PAT_INIT = _pattern_tables()


def _continuation_tables() -> tuple[list[list[int]], list[list[tuple[int, ...]]]]:
    """For heading d and untraced edge mask: the edge to follow next and the ones to stack."""
    first = [[-1] * 16 for _ in range(4)]
    rest: list[list[tuple[int, ...]]] = [[()] * 16 for _ in range(4)]
    for d in range(4):
        pref = (d, (d + 3) & 3, (d + 1) & 3)  # straight, left, right
        for m in range(16):
            es = [e for e in pref if m >> e & 1]
            if es:
                first[d][m] = es[0]
                rest[d][m] = tuple(es[1:])
    return first, rest


_FIRST, _REST = _continuation_tables()
# relative turn from heading d to heading e: 0 left, 1 straight, 2 right
_TURN = [[{(d + 3) & 3: 0, d: 1, (d + 1) & 3: 2}.get(e, 3) for e in range(4)] for d in range(4)]


class _Adaptive:
    """Adaptive frequency tables, one row of integer counts per context."""

    def __init__(self, init: np.ndarray, inc: float) -> None:
        self.c = np.array(init, dtype=np.float64)
        self.t = self.c.sum(axis=1)
        self.t[self.t == 0] = 1.0  # rows that can never be used
        self.p = self.c / self.t[:, None]
        self.inc = inc

    def row(self, ctx: int) -> np.ndarray:
        return self.p[ctx : ctx + 1]

    def update(self, ctx: int, sym: int) -> None:
        self.c[ctx, sym] += self.inc
        self.t[ctx] += self.inc
        self.p[ctx] = self.c[ctx] / self.t[ctx]


def _adaptive_rows(init: np.ndarray, inc: float, ctx: np.ndarray, sym: np.ndarray) -> np.ndarray:
    """Probability rows an `_Adaptive` model would give, for a whole symbol sequence at once."""
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


def _uniform_row(bits: int) -> np.ndarray:
    return np.full(1 << bits, 1.0 / (1 << bits))


_UNIFORM = [None] + [_uniform_row(b) for b in range(1, 9)]
_GAP_K = 32  # bit lengths 0..31 of gap values


class _SymbolSink:
    """Encoder side: records symbols in coding order, then range codes them in batches."""

    def __init__(self) -> None:
        self.ops: list[list] = []  # ["P", start, stop] pattern runs or ["C", rows, syms]
        self.pat_ctx: list[int] = []
        self.pat_sym: list[int] = []

    def cat(self, row: np.ndarray, sym: int) -> None:
        if self.ops and self.ops[-1][0] == "C" and len(self.ops[-1][1][0]) == len(row):
            self.ops[-1][1].append(row.copy())
            self.ops[-1][2].append(sym)
        else:
            self.ops.append(["C", [row.copy()], [sym]])

    def mark_patterns(self, start: int) -> None:
        stop = len(self.pat_ctx)
        if stop > start:
            self.ops.append(["P", start, stop])

    def finish(self) -> bytes:
        enc = constriction.stream.queue.RangeEncoder()
        pat_rows = _adaptive_rows(
            _PAT_INIT, _PAT_INC, np.array(self.pat_ctx, np.int64), np.array(self.pat_sym, np.int64)
        )
        pat_sym = np.array(self.pat_sym, np.int32)
        for op in self.ops:
            if op[0] == "P":
                enc.encode(pat_sym[op[1] : op[2]], _FAM, pat_rows[op[1] : op[2]])
            else:
                enc.encode(np.array(op[2], np.int32), _FAM, np.stack(op[1]))
        words = enc.get_compressed().astype(">u4").tobytes()
        return words.rstrip(b"\0")  # the decoder pads with zero bytes again


class _SymbolSource:
    """Decoder side: the same symbols, one at a time, from the range coder."""

    def __init__(self, payload: bytes) -> None:
        pad = (-len(payload)) % 4
        words = np.frombuffer(payload + b"\0" * pad, dtype=">u4").astype(np.uint32)
        self.dec = constriction.stream.queue.RangeDecoder(words)

    def cat(self, row: np.ndarray) -> int:
        return int(self.dec.decode(_FAM, row[None, :])[0])


class _GapCoder:
    """Non-negative integers as an adaptive bit length plus uniform mantissa bytes."""

    def __init__(self, n_ctx: int) -> None:
        self.model = _Adaptive(np.ones((n_ctx, _GAP_K)), 1.0)

    def encode(self, sink: _SymbolSink, ctx: int, value: int) -> None:
        nb = value.bit_length()
        sink.cat(self.model.row(ctx)[0], nb)
        self.model.update(ctx, nb)
        for shift, bits in _mantissa_chunks(nb):
            sink.cat(_UNIFORM[bits], (value >> shift) & ((1 << bits) - 1))

    def decode(self, src: _SymbolSource, ctx: int) -> int:
        nb = src.cat(self.model.row(ctx)[0])
        self.model.update(ctx, nb)
        if nb == 0:
            return 0
        value = 1
        for _shift, bits in _mantissa_chunks(nb):
            value = (value << bits) | src.cat(_UNIFORM[bits])
        return value


def _mantissa_chunks(nb: int) -> list[tuple[int, int]]:
    """(shift, bits) of the nb-1 bits below the leading one, most significant first."""
    chunks = []
    low = nb - 1
    while low > 0:
        bits = min(8, low)
        low -= bits
        chunks.append((low, bits))
    return chunks


# --------------------------------------------------------------------------- traversal


class _Walker:
    """Walks E vertex by vertex; shared by encoder (tc given) and decoder (src given)."""

    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        self.w1 = w + 1
        nv = (h + 1) * (w + 1)
        border = np.zeros((h + 1, w + 1), np.uint8)
        border[0, :] = border[h, :] = border[:, 0] = border[:, w] = _BORDER
        self.st = bytearray(border.tobytes())
        self.tr = bytearray(nv)
        self.nv = nv
        self.model = _Adaptive(_PAT_INIT, _PAT_INC)

    def perimeter(self) -> list[tuple[int, int]]:
        """Border vertices with a real (interior crack) edge, and that edge's direction."""
        h, w, w1 = self.h, self.w, self.w1
        out = [(j, 2) for j in range(1, w)]
        out += [(i * w1 + w, 3) for i in range(1, h)]
        out += [(h * w1 + j, 0) for j in range(w - 1, 0, -1)]
        out += [(i * w1, 1) for i in range(h - 1, 0, -1)]
        return out

    def trace(self, stack: list[tuple[int, int]], floor: int, tc: bytes | None,
              sink: _SymbolSink | None, src: _SymbolSource | None) -> None:
        """Trace every edge reachable from the stacked (vertex, direction) starts."""
        st, tr, w1 = self.st, self.tr, self.w1
        step = (-w1, 1, w1, -1)
        first_t, rest_t, turn_t = _FIRST, _REST, _TURN
        valid, forced = _VALID, _FORCED
        enc = tc is not None
        if enc:
            rec_ctx, rec_sym = sink.pat_ctx, sink.pat_sym
            start = len(rec_ctx)
        else:
            decode = src.dec.decode
            fam = _FAM
            model = self.model
            probs = model.p
        while stack:
            v, d = stack.pop()
            if tr[v] >> d & 1:
                continue
            hist = _HIST_START
            while True:
                u = v + step[d]
                back = d ^ 2
                tr[v] |= 1 << d
                tr[u] |= 1 << back
                v = u
                s = st[v]
                if s & _RESOLVED:
                    conf = s & 15
                elif s & _BORDER:
                    st[v] = s | _RESOLVED | (1 << back)
                    break
                else:
                    dl = (d + 3) & 3
                    dr = (d + 1) & 3
                    u = v + step[dl]
                    su = st[u]
                    if su & _RESOLVED:
                        kl = 1 if su >> (dl ^ 2) & 1 else 2
                    else:
                        kl = 2 if u < floor else 0
                    u = v + step[d]
                    su = st[u]
                    if su & _RESOLVED:
                        ks = 1 if su >> back & 1 else 2
                    else:
                        ks = 2 if u < floor else 0
                    u = v + step[dr]
                    su = st[u]
                    if su & _RESOLVED:
                        kr = 1 if su >> (dr ^ 2) & 1 else 2
                    else:
                        kr = 2 if u < floor else 0
                    kn = kl + 3 * ks + 9 * kr
                    pat = forced[kn]
                    if pat == -2:
                        raise FormatError("label map: inconsistent boundary code")
                    if pat < 0:
                        ctx = kn * _N_HIST + hist
                        if enc:
                            t = tc[v]
                            pat = (t >> dl & 1) | (t >> d & 1) << 1 | (t >> dr & 1) << 2
                            rec_ctx.append(ctx)
                            rec_sym.append(pat)
                        else:
                            pat = int(decode(fam, probs[ctx : ctx + 1])[0])
                            if not valid[kn] >> pat & 1:
                                raise FormatError("label map: inconsistent boundary code")
                            model.update(ctx, pat)
                    conf = (1 << back) | (pat & 1) << dl | (pat >> 1 & 1) << d | (pat >> 2 & 1) << dr
                    st[v] = s | _RESOLVED | conf
                rem = conf & ~tr[v]
                nxt = first_t[d][rem]
                if nxt < 0:
                    break
                for e in rest_t[d][rem]:
                    stack.append((v, e))
                hist = ((hist & 3) << 2) | turn_t[d][nxt]
                d = nxt
        if enc:
            sink.mark_patterns(start)

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Traced crack edges: V (H x W-1, right of pixel) and H (H-1 x W, below pixel)."""
        h, w = self.h, self.w
        t = np.frombuffer(bytes(self.tr), np.uint8).reshape(h + 1, w + 1)
        vert = (t[0:h, 1:w] >> 2 & 1).astype(bool)
        horiz = (t[1:h, 0:w] >> 1 & 1).astype(bool)
        return vert, horiz


def _true_conf(vert: np.ndarray, horiz: np.ndarray, h: int, w: int) -> np.ndarray:
    tc = np.zeros((h + 1, w + 1), np.uint8)
    v8 = vert.astype(np.uint8)
    h8 = horiz.astype(np.uint8)
    tc[1 : h + 1, 1:w] |= v8
    tc[0:h, 1:w] |= v8 << 2
    tc[1:h, 0:w] |= h8 << 1
    tc[1:h, 1 : w + 1] |= h8 << 3
    return tc


# --------------------------------------------------------------------------- phases


def _code_boundaries(walker: _Walker, tc: np.ndarray | None, sink: _SymbolSink | None,
                     src: _SymbolSource | None) -> None:
    """Border-anchored components first, then islands in raster order of their first vertex."""
    st = walker.st
    gaps = _GapCoder(2)
    enc = tc is not None
    tcb = tc.tobytes() if enc else None
    perim = walker.perimeter()
    k = 0
    n = len(perim)
    while True:
        # gap = rank of the next start among not yet resolved border vertices, 0 = none left
        if enc:
            rank = 0
            found = -1
            for k2 in range(k, n):
                v, din = perim[k2]
                if st[v] & _RESOLVED:
                    continue
                rank += 1
                if tcb[v] >> din & 1:
                    found = k2
                    break
            gap = rank if found >= 0 else 0
            gaps.encode(sink, 0, gap)
        else:
            gap = gaps.decode(src, 0)
        if gap == 0:
            for k2 in range(k, n):
                v = perim[k2][0]
                st[v] |= _RESOLVED
            break
        rank = 0
        found = -1
        for k2 in range(k, n):
            v = perim[k2][0]
            if st[v] & _RESOLVED:
                continue
            rank += 1
            if rank == gap:
                found = k2
                break
            st[v] |= _RESOLVED  # skipped: no edge here
        if found < 0:
            raise FormatError("label map: border start out of range")
        v, din = perim[found]
        st[v] |= _RESOLVED | (1 << din)
        walker.trace([(v, din)], 0, tcb, sink, src)
        k = found + 1

    # islands: components touching neither the border nor anything traced so far
    prev = -1
    if enc:
        cands = np.flatnonzero(tc.ravel() == 6).tolist()  # exactly right + down
        ci = 0
    while True:
        if enc:
            v = -1
            while ci < len(cands):
                c = cands[ci]
                ci += 1
                if not st[c] & _RESOLVED:
                    v = c
                    break
            gaps.encode(sink, 1, v - prev if v >= 0 else 0)
        else:
            g = gaps.decode(src, 1)
            if g == 0:
                break
            v = prev + g
            if v >= walker.nv or st[v] & (_RESOLVED | _BORDER):
                raise FormatError("label map: bad region start")
        if v < 0:
            break
        st[v] |= _RESOLVED | 6
        walker.trace([(v, 2), (v, 1)], v, tcb, sink, src)
        prev = v


def _code_classes(labels_at_first: np.ndarray | None, first_pos: np.ndarray, up_reg: np.ndarray,
                  left_reg: np.ndarray, adj_ptr: np.ndarray, adj: np.ndarray, n_classes: int,
                  sink: _SymbolSink | None, src: _SymbolSource | None) -> np.ndarray:
    """One class id per region, in region order, predicted from earlier neighbouring regions."""
    n_reg = len(first_pos)
    lab = np.zeros(n_reg, np.int64)
    seen = np.zeros(n_classes, bool)
    n_seen = 0
    glob = np.zeros(n_classes, np.int64)
    pair = np.zeros((n_classes + 1, n_classes), np.int64)  # row n_classes: no neighbour
    flag_model = _Adaptive(np.ones((4, 2)), 1.0)
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
    sink = _SymbolSink()
    walker = _Walker(h, w)
    tc = _true_conf(vert, horiz, h, w)
    _code_boundaries(walker, tc, sink, None)
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
    src = _SymbolSource(data[2:])
    walker = _Walker(h, w)
    try:
        _code_boundaries(walker, None, None, src)
        vert, horiz = walker.edges()
        reg = regions_from_edges(vert, horiz)
        lab = _code_classes(None, reg.first_pos, reg.up_reg, reg.left_reg, reg.adj_ptr, reg.adj,
                            n_classes, None, src)
    except (ValueError, IndexError, AssertionError) as err:  # how constriction rejects garbage
        raise FormatError(f"label map: corrupt payload ({err})") from None
    if not src.dec.maybe_exhausted():
        raise FormatError("label map: trailing data after the last symbol")
    return reg.paint(lab.astype(np.uint8), h, w)
