"""Rate control for layered images: `--bpp X` within +-5%, `--size BYTES` never above.

Per base scale (1, 1/2, 1/4, searched in parallel: the encodes are ffmpeg processes), the
search finds the lowest QP whose file fits under the upper bound with no latents, then adds
as many latent channels (ordered by importance) as still fit: the base's QP moves the rate
in ~13% steps, the latent channels fill in between. Each scale's candidate that lands inside
the bounds is decoded at R = 0 and the one with the best measured quality (PSNR plus MS-SSIM
in dB) is written. Models with band gains then pick the file's gains and fine grain (gains.py,
grain.py): the files were sized with their bytes, so the choice does not move the rate.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ...bitstream.errors import InputError
from ..eval.metrics import ms_ssim, ms_ssim_reason, psnr
from .base import MIN_BASE_SAMPLES, QP_RANGE, SCALES, decode_base, encode_base, require_vvc, scale_fits
from .codec import LoadedLayered, decoder_symbols, encode_latents, generate, latent_symbols, pack_layered, signals_gains
from .grain import with_chosen_detail

BPP_TOLERANCE = 0.05
# ln(file bytes) falls about this much per QP step, by base scale (two training photos and two eval
# photos at QPs 26-54, files with implied parameter sets); it only sets where the search starts
LOG_RATE_PER_QP = {1: 0.19, 2: 0.17, 4: 0.125}
FIRST_QP = {1: 52, 2: 44, 4: 36}
# At equal bytes a base at 1/2 (1/1) takes about 6-9 (12-17) QP more than one at 1/4 (measured on
# three eval photos at 0.02 and 0.08 bpp): the cheap 1/4 search is run first and starts the others.
QP_OFFSET_FROM_QUARTER = {2: 7, 1: 14}


@dataclass
class Target:
    low: int  # bytes, inclusive
    high: int
    text: str  # for messages

    @classmethod
    def from_options(cls, height: int, width: int, bpp: float | None, size: int | None) -> "Target":
        if (bpp is None) == (size is None):
            raise InputError("give exactly one of --bpp and --size")
        if bpp is not None:
            if not (bpp > 0 and math.isfinite(bpp)):
                raise InputError(f"--bpp must be a positive number, got {bpp}")
            goal = bpp * height * width / 8
            return cls(math.ceil(goal * (1 - BPP_TOLERANCE)), math.floor(goal * (1 + BPP_TOLERANCE)),
                       f"--bpp {bpp:g} (+-5%: {math.ceil(goal * 0.95)}..{math.floor(goal * 1.05)} bytes)")
        if size <= 0:
            raise InputError(f"--size must be a positive number of bytes, got {size}")
        return cls(0, int(size), f"--size {size}")


@dataclass
class Point:
    scale: int
    qp: int
    channels: int
    data: bytes
    base: np.ndarray = field(repr=False)
    symbols: np.ndarray | None = field(default=None, repr=False)
    score: float = -math.inf


class _ScaleSearch:
    """Bases of one scale by QP, encoded on demand and kept."""

    def __init__(self, lm: LoadedLayered, image: np.ndarray, scale: int) -> None:
        self.lm, self.image, self.scale = lm, image, scale
        self.streams: dict[int, bytes | None] = {}  # None: vvenc failed at that QP
        self.first_qp = FIRST_QP[scale]
        self.found: int | None = None  # the QP `candidate` settled on

    def stream(self, qp: int) -> bytes | None:
        if qp not in self.streams:
            try:
                self.streams[qp] = encode_base(self.image, self.scale, qp)
            except InputError:  # vvenc refuses some tiny pictures at low QPs: that QP is out of reach
                self.streams[qp] = None
        return self.streams[qp]

    def bare_size(self, qp: int) -> float:
        """File bytes with this base and no latents (infinite where vvenc failed)."""
        stream = self.stream(qp)
        if stream is None:
            return math.inf
        return len(pack_layered(self.lm, self.image.shape[:2], self.scale, qp, stream, b"", 0))

    def lowest_fitting_qp(self, high: int) -> int | None:
        """The lowest QP whose latent-free file is at most `high` bytes (None if even QP 63 is too big)."""
        lo_qp, hi_qp = QP_RANGE
        qp = self.first_qp
        if math.isfinite(first := self.bare_size(qp)):
            qp = min(hi_qp, max(lo_qp, qp + round(math.log(first / max(high, 1)) / LOG_RATE_PER_QP[self.scale])))
        if self.bare_size(qp) <= high:
            while qp > lo_qp and self.bare_size(qp - 1) <= high:
                qp -= 1
            return qp
        while qp < hi_qp:
            qp += 1
            if self.bare_size(qp) <= high:
                return qp
        return None

    def candidate(self, target: Target) -> Point | None:
        qp = self.found = self.lowest_fitting_qp(target.high)
        if qp is None:
            return None
        h, w = self.image.shape[:2]
        stream = self.stream(qp)
        base = decode_base(stream, h, w, self.scale)
        symbols = latent_symbols(self.lm, self.image, base)
        best = None
        for k in range(self.lm.cfg.channels + 1):
            data = pack_layered(self.lm, (h, w), self.scale, qp, stream, encode_latents(self.lm, symbols, k), k)
            if len(data) > target.high:
                break
            best = Point(self.scale, qp, k, data, base, symbols)
        return best if best is not None and len(best.data) >= target.low else None

    def smallest(self) -> float:
        return self.bare_size(QP_RANGE[1])


def _score(point: Point, lm: LoadedLayered, image: np.ndarray) -> float:
    """PSNR + MS-SSIM in dB of the R = 0 decode (MS-SSIM left out for images under 161 px)."""
    out = generate(lm, point.base, decoder_symbols(lm, point.symbols, point.channels, *image.shape[:2]), 0, 0.0,
                   point.scale)  # R = 0 ignores the noise
    score = psnr(out, image)
    if ms_ssim_reason(*image.shape[:2]) is None:
        score += -10 * math.log10(max(1 - ms_ssim(out, image), 1e-10))
    return score


def compress_to(lm: LoadedLayered, image: np.ndarray, bpp: float | None = None, size: int | None = None,
                scales: tuple[int, ...] = SCALES) -> tuple[bytes, Point]:
    """The best-scoring file within the target; InputError naming the nearest reachable rate if none is."""
    h, w = image.shape[:2]
    target = Target.from_options(h, w, bpp, size)
    require_vvc()
    scales = tuple(s for s in scales if scale_fits(h, w, s))
    if not scales:
        raise InputError(f"a {w}x{h} image is too small for the layered codec (its VVC base needs "
                         f"{MIN_BASE_SAMPLES} samples); use a GC model (-m gc-c6)")
    overhead = len(pack_layered(lm, (h, w), 4, 63, b"\0", b"", 0)) - 1  # container and section, no stream
    if target.high <= overhead:
        raise InputError(f"cannot meet {target.text}: the container alone takes {overhead} bytes")
    searches = [_ScaleSearch(lm, image, s) for s in scales]
    points = []
    quarter = next((s for s in searches if s.scale == 4), None)
    if quarter is not None:
        points.append(quarter.candidate(target))
        for s in searches:
            if s.scale in QP_OFFSET_FROM_QUARTER and quarter.found is not None:
                s.first_qp = min(QP_RANGE[1], quarter.found + QP_OFFSET_FROM_QUARTER[s.scale])
    rest = [s for s in searches if s is not quarter]
    with ThreadPoolExecutor(max_workers=max(1, len(rest))) as pool:
        points += list(pool.map(lambda s: s.candidate(target), rest))
    points = [p for p in points if p is not None]
    if not points:
        smallest = min(s.smallest() for s in searches)
        if smallest > target.high:
            raise InputError(f"cannot meet {target.text}: the smallest layered file for this "
                             f"{w}x{h} image is {smallest} bytes ({8 * smallest / (h * w):.4f} bpp)")
        sizes = sorted({len(p) for s in searches for p in s.streams.values() if p is not None})
        raise InputError(f"cannot meet {target.text}: no base QP and latent budget lands inside it for this "
                         f"image (base streams tried: {', '.join(map(str, sizes[:8]))} bytes); try another rate")
    for p in points:
        p.score = _score(p, lm, image)
    best = max(points, key=lambda p: p.score)
    if signals_gains(lm):
        symbols = decoder_symbols(lm, best.symbols, best.channels, h, w)
        best.data = with_chosen_detail(lm, best.data, image, best.base, symbols, best.scale)
    return best.data, best
