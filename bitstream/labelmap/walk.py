"""The crack-edge walk: coding the boundary graph E of a label map vertex by vertex.

E lives on the (H+1) x (W+1) grid of pixel corners. A walk enters each vertex of E once
through an edge, heading d, and codes the vertex's other three edges relative to d:
left, straight, right. The pattern is binarised: a junction flag (degree >= 3), then
either the turn of an ordinary vertex (context: the last four turns) or the shape of a
junction. Edges already known from vertices resolved earlier (a shared boundary, a
junction's pending branch, the emptiness of everything above an island) shrink the
choice and select the context; a choice with one possibility costs nothing.
See FORMAT.md in this folder for the traversal order.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from .coding import FAM, SMALL_K, Adaptive, GapCoder, SymbolSink, SymbolSource

# Vertex state bytes (`st`): bits 0-3 the vertex's edges (bit d: edge heading d), bit 4
# resolved (edges known), bit 7 on the image border. Directions: 0 up, 1 right, 2 down,
# 3 left. `tr` holds the traced edges of each vertex with the same bit layout.
RESOLVED = 16
BORDER = 128
TOP_LEFT_CORNER = 6  # right + down: the first vertex of an island in raster order

# Patterns: bit 0 the edge to the left of the heading, bit 1 straight on, bit 2 right.
_TURN_PAT = (1, 2, 4)  # turn index 0 left, 1 straight, 2 right
_JUNC_PAT = (3, 5, 6, 7)
_N_KNOWN = 27  # status of left, straight, right: 0 unknown, 1 present, 2 absent
_HIST_BITS = 8  # the last four turns, two bits each (3 = before the chain started)
_HIST_START = (1 << _HIST_BITS) - 1
_MODEL_J, _MODEL_T, _MODEL_P = 0, 1, 2
_INC_J, _INC_T, _INC_P = 2.0, 1.0, 1.0


def _tables() -> dict[str, list]:
    t: dict[str, list] = {k: [] for k in ("forced", "needj", "tmask", "jmask", "tonly", "jonly")}
    for kn in range(_N_KNOWN):
        status = (kn % 3, kn // 3 % 3, kn // 9)

        def ok(pat: int) -> bool:
            return all(s == 0 or (s == 1) == bool(pat >> b & 1) for b, s in enumerate(status))

        turns = [i for i, p in enumerate(_TURN_PAT) if ok(p)]
        juncs = [i for i, p in enumerate(_JUNC_PAT) if ok(p)]
        n = len(turns) + len(juncs)
        # forced: -2 nothing fits (only corrupt data gets here), -1 something to code
        if n == 0:
            forced = -2
        elif n == 1:
            forced = _TURN_PAT[turns[0]] if turns else _JUNC_PAT[juncs[0]]
        else:
            forced = -1
        t["forced"].append(forced)
        t["needj"].append(bool(turns) and bool(juncs))
        t["tmask"].append(sum(1 << i for i in turns))
        t["jmask"].append(sum(1 << i for i in juncs))
        t["tonly"].append(_TURN_PAT[turns[0]] if len(turns) == 1 else -1)
        t["jonly"].append(_JUNC_PAT[juncs[0]] if len(juncs) == 1 else -1)
    return t


_T = _tables()


def _model_inits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    j = np.zeros((_N_KNOWN, SMALL_K))
    t = np.zeros((_N_KNOWN << _HIST_BITS, SMALL_K))
    p = np.zeros((_N_KNOWN, SMALL_K))
    for kn in range(_N_KNOWN):
        if _T["needj"][kn]:
            j[kn, :2] = 1.0
        for i in range(3):
            if _T["tmask"][kn] >> i & 1:
                t[kn << _HIST_BITS : (kn + 1) << _HIST_BITS, i] = 1.0
        for i in range(4):
            if _T["jmask"][kn] >> i & 1:
                p[kn, i] = 1.0
    return j, t, p


_INIT_J, _INIT_T, _INIT_P = _model_inits()


def _continuation_tables() -> tuple[list[list[int]], list[list[tuple[int, ...]]]]:
    """For heading d and a mask of untraced edges: the edge to follow and the ones to stack."""
    first = [[-1] * 16 for _ in range(4)]
    rest: list[list[tuple[int, ...]]] = [[()] * 16 for _ in range(4)]
    for d in range(4):
        pref = (d, (d + 3) & 3, (d + 1) & 3)  # straight on, then left, then right
        for m in range(16):
            es = [e for e in pref if m >> e & 1]
            if es:
                first[d][m] = es[0]
                rest[d][m] = tuple(es[1:])
    return first, rest


_FIRST, _REST = _continuation_tables()
# relative turn from heading d to heading e: 0 left, 1 straight, 2 right
_TURN = [[{(d + 3) & 3: 0, d: 1, (d + 1) & 3: 2}.get(e, 3) for e in range(4)] for d in range(4)]
_TURN_INDEX = {1: 0, 2: 1, 4: 2}
_JUNC_INDEX = {3: 0, 5: 1, 6: 2, 7: 3}


def true_conf(vert: np.ndarray, horiz: np.ndarray) -> np.ndarray:
    """Edge bits of every vertex from the crack maps (H x W-1 and H-1 x W)."""
    h, w = vert.shape[0], vert.shape[1] + 1
    tc = np.zeros((h + 1, w + 1), np.uint8)
    v8 = vert.astype(np.uint8)
    h8 = horiz.astype(np.uint8)
    tc[1 : h + 1, 1:w] |= v8
    tc[0:h, 1:w] |= v8 << 2
    tc[1:h, 0:w] |= h8 << 1
    tc[1:h, 1 : w + 1] |= h8 << 3
    return tc


class Walker:
    """Walks E; the encoder passes the true vertex edges `tc`, the decoder a SymbolSource."""

    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        self.w1 = w + 1
        self.nv = (h + 1) * (w + 1)
        # np.zeros maps zero pages lazily, so a corrupt file claiming 2**28 pixels fails in its
        # first symbols having written only the border marks, not 768 MB of state (bytearrays
        # are memset in full). The walk indexes them through memoryviews, as fast as bytearrays.
        self._st = np.zeros((h + 1, w + 1), np.uint8)
        self._st[0, :] = self._st[h, :] = self._st[:, 0] = self._st[:, w] = BORDER
        self._tr = np.zeros(self.nv, np.uint8)
        self.st = memoryview(self._st.reshape(-1))
        self.tr = memoryview(self._tr)
        self.models = [Adaptive(_INIT_J, _INC_J), Adaptive(_INIT_T, _INC_T), Adaptive(_INIT_P, _INC_P)]

    def perimeter(self) -> list[tuple[int, int]]:
        """Border vertices with a real (interior crack) edge, clockwise, and its direction."""
        h, w, w1 = self.h, self.w, self.w1
        out = [(j, 2) for j in range(1, w)]
        out += [(i * w1 + w, 3) for i in range(1, h)]
        out += [(h * w1 + j, 0) for j in range(w - 1, 0, -1)]
        out += [(i * w1, 1) for i in range(h - 1, 0, -1)]
        return out

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Traced crack edges: vertical (H x W-1) and horizontal (H-1 x W)."""
        h, w = self.h, self.w
        t = self._tr.reshape(h + 1, w + 1)
        return (t[0:h, 1:w] & 4).astype(bool), (t[1:h, 0:w] & 2).astype(bool)

    def trace(self, stack: list[tuple[int, int]], floor: int, tc: memoryview | None,
              sink: SymbolSink | None, src: SymbolSource | None) -> None:
        """Trace every edge reachable from the stacked (vertex, heading) starts.

        `floor`: every unresolved vertex below this raster index is known to be off E.
        """
        st, tr, w1 = self.st, self.tr, self.w1
        step = (-w1, 1, w1, -1)
        first_t, rest_t, turn_t = _FIRST, _REST, _TURN
        forced_t, needj_t, tmask_t, jmask_t = _T["forced"], _T["needj"], _T["tmask"], _T["jmask"]
        tonly_t, jonly_t = _T["tonly"], _T["jonly"]
        mj, mt, mp = self.models
        enc = tc is not None
        if enc:
            rec_m, rec_c, rec_s = sink.s_model.append, sink.s_ctx.append, sink.s_sym.append
            tidx, jidx = _TURN_INDEX, _JUNC_INDEX
        else:
            decode = src.dec.decode
            fam = FAM
            pj, pt, pp = mj.p, mt.p, mp.p
        hist_mask = _HIST_START
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
                if s & RESOLVED:
                    conf = s & 15
                elif s & BORDER:
                    st[v] = s | RESOLVED | (1 << back)
                    break
                else:
                    dl = (d + 3) & 3
                    dr = (d + 1) & 3
                    u = v + step[dl]
                    su = st[u]
                    if su & RESOLVED:
                        kn = 1 if su >> (dl ^ 2) & 1 else 2
                    else:
                        kn = 2 if u < floor else 0
                    u = v + step[d]
                    su = st[u]
                    if su & RESOLVED:
                        kn += 3 if su >> back & 1 else 6
                    elif u < floor:
                        kn += 6
                    u = v + step[dr]
                    su = st[u]
                    if su & RESOLVED:
                        kn += 9 if su >> (dr ^ 2) & 1 else 18
                    elif u < floor:
                        kn += 18
                    pat = forced_t[kn]
                    if pat == -1:
                        if enc:
                            t = tc[v]
                            pat = (t >> dl & 1) | (t >> d & 1) << 1 | (t >> dr & 1) << 2
                            isj = pat in jidx
                            if needj_t[kn]:
                                rec_m(0)
                                rec_c(kn)
                                rec_s(int(isj))
                            if isj:
                                if jonly_t[kn] < 0:
                                    rec_m(2)
                                    rec_c(kn)
                                    rec_s(jidx[pat])
                            elif tonly_t[kn] < 0:
                                rec_m(1)
                                rec_c(kn << 8 | hist)
                                rec_s(tidx[pat])
                        else:
                            if needj_t[kn]:
                                isj = int(decode(fam, pj[kn : kn + 1])[0])
                                if isj > 1:
                                    raise FormatError("label map: inconsistent boundary code")
                                mj.update(kn, isj)
                            else:
                                isj = tmask_t[kn] == 0
                            if isj:
                                pat = jonly_t[kn]
                                if pat < 0:
                                    i = int(decode(fam, pp[kn : kn + 1])[0])
                                    if not jmask_t[kn] >> i & 1:
                                        raise FormatError("label map: inconsistent boundary code")
                                    mp.update(kn, i)
                                    pat = _JUNC_PAT[i]
                            else:
                                pat = tonly_t[kn]
                                if pat < 0:
                                    c = kn << 8 | hist
                                    i = int(decode(fam, pt[c : c + 1])[0])
                                    if not tmask_t[kn] >> i & 1:
                                        raise FormatError("label map: inconsistent boundary code")
                                    mt.update(c, i)
                                    pat = _TURN_PAT[i]
                    elif pat == -2:
                        raise FormatError("label map: inconsistent boundary code")
                    conf = (1 << back) | (pat & 1) << dl | (pat >> 1 & 1) << d | (pat >> 2 & 1) << dr
                    st[v] = s | RESOLVED | conf
                rem = conf & ~tr[v]
                nxt = first_t[d][rem]
                if nxt < 0:
                    break
                for e in rest_t[d][rem]:
                    stack.append((v, e))
                hist = ((hist << 2) | turn_t[d][nxt]) & hist_mask
                d = nxt


def code_boundaries(walker: Walker, tc: np.ndarray | None, sink: SymbolSink | None,
                    src: SymbolSource | None) -> None:
    """Components touching the image border first, then islands in raster order."""
    st = walker.st
    gaps = GapCoder(2)
    enc = tc is not None
    tcb = memoryview(np.ascontiguousarray(tc).reshape(-1)) if enc else None  # no copy
    perim = walker.perimeter()
    k = 0
    n = len(perim)
    while True:
        # gap: rank of the next start among the unresolved border vertices; 0: none left
        if enc:
            rank = 0
            found = -1
            for k2 in range(k, n):
                v, din = perim[k2]
                if st[v] & RESOLVED:
                    continue
                rank += 1
                if tcb[v] >> din & 1:
                    found = k2
                    break
            gap = rank if found >= 0 else 0
            sink.flush_small()
            gaps.encode(sink, 0, gap)
        else:
            gap = gaps.decode(src, 0)
        if gap == 0:
            for k2 in range(k, n):
                st[perim[k2][0]] |= RESOLVED
            break
        rank = 0
        found = -1
        for k2 in range(k, n):
            v = perim[k2][0]
            if st[v] & RESOLVED:
                continue
            rank += 1
            if rank == gap:
                found = k2
                break
            st[v] |= RESOLVED  # skipped over: no edge here
        if found < 0:
            raise FormatError("label map: border start out of range")
        v, din = perim[found]
        st[v] |= RESOLVED | (1 << din)
        walker.trace([(v, din)], 0, tcb, sink, src)
        k = found + 1

    # islands: the raster-first vertex of every component not reached yet
    prev = -1
    if enc:
        cands = np.flatnonzero(tc.ravel() == TOP_LEFT_CORNER).tolist()
        ci = 0
    while True:
        if enc:
            v = -1
            while ci < len(cands):
                c = cands[ci]
                ci += 1
                if not st[c] & RESOLVED:
                    v = c
                    break
            sink.flush_small()
            gaps.encode(sink, 1, v - prev if v >= 0 else 0)
            if v < 0:
                break
        else:
            g = gaps.decode(src, 1)
            if g == 0:
                break
            v = prev + g
            if v >= walker.nv or st[v] & (RESOLVED | BORDER):
                raise FormatError("label map: bad region start")
        st[v] |= RESOLVED | TOP_LEFT_CORNER
        walker.trace([(v, 2), (v, 1)], v, tcb, sink, src)
        prev = v
