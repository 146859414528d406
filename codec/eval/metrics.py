"""Image quality and rate metrics, defined as /work/shared/EVAL.md defines them.

All image arguments are uint8 RGB arrays of shape HxWx3 (decoded images are
rounded to uint8 before they get here). PSNR is over all pixels and channels;
MS-SSIM is pytorch_msssim's with data_range=255; texture energy is the mean
squared difference between the PIL grayscale image and its GaussianBlur(1.5).
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from PIL import Image, ImageFilter

from ...bitstream.errors import InputError
from ...models.msssim_limits import MS_SSIM_MIN_SIDE

TEXTURE_BLUR_SIGMA = 1.5


def _check_rgb(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
        raise InputError(f"{what} must be a uint8 HxWx3 RGB array, got dtype {x.dtype} shape {x.shape}")
    return x


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = _check_rgb(a, "first image")
    b = _check_rgb(b, "second image")
    if a.shape != b.shape:
        raise InputError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """RGB PSNR in dB over all pixels and channels (peak 255); inf for identical images."""
    a, b = _check_pair(a, b)
    # Exact integer sums over bands of rows (float64 copies of a 4096x4096 pair took 1.6 GB): the
    # same number np.mean gave, as every partial sum of these integers is exact in float64 too.
    rows = max(1, (1 << 22) // max(1, a[0].size))
    total = sum(int(np.sum((a[i : i + rows].astype(np.int32) - b[i : i + rows]) ** 2, dtype=np.int64))
                for i in range(0, a.shape[0], rows))
    mse = total / a.size
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


FLOAT64_MAX_PIXELS = 1 << 23  # 8 MP: larger images get MS-SSIM in float32


def ms_ssim_reason(h: int, w: int) -> str | None:
    """Why MS-SSIM cannot be computed for an HxW image, or None if it can."""
    if min(h, w) < MS_SSIM_MIN_SIDE:
        return f"MS-SSIM needs both sides >= {MS_SSIM_MIN_SIDE} px, image is {w}x{h}"
    return None


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch_msssim.ms_ssim on RGB with data_range=255; nan (with a warning) if a side < 161 px."""
    a, b = _check_pair(a, b)
    reason = ms_ssim_reason(a.shape[0], a.shape[1])
    if reason is not None:
        warnings.warn(reason + "; returning nan", stacklevel=2)
        return math.nan
    import torch  # local: metrics other than MS-SSIM should not pay for importing torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    # One channel at a time (pytorch_msssim averages its per-channel values, so the mean is the
    # same number): a third of the float64 maps, 2.2 GB rather than 6.6 GB at 4096x4096. Above
    # FLOAT64_MAX_PIXELS, float32 halves that again (3.3 GB peak for one float64 channel at 4096^2
    # kept a layered encode's rate control over its 4 GB bound).
    dtype = torch.float64 if a.shape[0] * a.shape[1] <= FLOAT64_MAX_PIXELS else torch.float32
    values = []
    with torch.no_grad():
        for c in range(a.shape[2]):
            ta = torch.from_numpy(np.array(a[..., c], copy=True))[None, None].to(dtype)
            tb = torch.from_numpy(np.array(b[..., c], copy=True))[None, None].to(dtype)
            values.append(float(_ms_ssim(ta, tb, data_range=255, size_average=True)))
    return float(np.mean(values))


def _gray(x: np.ndarray) -> Image.Image:
    """PIL's convert('L') of an RGB uint8 array, the gray every texture measure here reads."""
    return Image.fromarray(_check_rgb(x, "image"), "RGB").convert("L")


def high_pass(x: np.ndarray) -> np.ndarray:
    """gray(x) - GaussianBlur_1.5(gray(x)) as float64 (H, W), with PIL's convert('L') and GaussianBlur."""
    gray_img = _gray(x)
    blurred = np.asarray(gray_img.filter(ImageFilter.GaussianBlur(TEXTURE_BLUR_SIGMA)), dtype=np.float64)
    return np.asarray(gray_img, dtype=np.float64) - blurred


def texture_energy(x: np.ndarray, mask: np.ndarray | None = None) -> float:
    """E(x) = mean of high_pass(x)^2, over the pixels where `mask` holds (all when None); nan for an empty mask."""
    hp = high_pass(x)
    if mask is not None:
        hp = hp[mask]
    return float(np.mean(hp**2)) if hp.size else math.nan


def texture_retention(decoded: np.ndarray, original: np.ndarray, mask: np.ndarray | None = None) -> float:
    """E(decoded) / E(original) (over `mask`): 1.0 keeps all fine detail, blur pushes it toward 0;
    nan if E(original) is 0 or the mask is empty."""
    decoded, original = _check_pair(decoded, original)
    e_orig = texture_energy(original, mask)
    if not e_orig > 0.0:
        return math.nan
    return texture_energy(decoded, mask) / e_orig


def tile_repetition(x: np.ndarray, mask: np.ndarray, period: int = 16) -> float:
    """Correlation of the high-pass image with itself shifted by `period` pixels (across and down,
    pooled), over pixel pairs both inside `mask`: near 1 for a pattern that repeats every `period`
    pixels (what a generator fed a constant input draws), near 0 for natural texture; nan when
    no pair or no energy."""
    hp = high_pass(x)
    num = den_a = den_b = 0.0
    for a, b, ma, mb in ((hp[:, :-period], hp[:, period:], mask[:, :-period], mask[:, period:]),
                         (hp[:-period], hp[period:], mask[:-period], mask[period:])):
        both = ma & mb
        num += float(np.sum(a[both] * b[both]))
        den_a += float(np.sum(a[both] ** 2))
        den_b += float(np.sum(b[both] ** 2))
    return num / math.sqrt(den_a * den_b) if den_a > 0 and den_b > 0 else math.nan


def cell_edges(x: np.ndarray, mask: np.ndarray, cell: int = 4) -> float:
    """Mean squared gray-level step between neighbouring pixels that straddle a boundary of the
    `cell`-px grid (pixel i and i + 1 with i = cell - 1 mod cell, across and down) over the mean
    step between the other neighbours, over pairs both inside `mask`: near 1 for photos, well
    above 1 for a mosaic of cells (a decoder layer at 1/cell resolution drawing each cell on its
    own); inf when only boundary steps have energy, nan when no pair or no energy."""
    gray = np.asarray(_gray(x), dtype=np.float64)
    sums = np.zeros(2)  # on boundaries, elsewhere
    counts = np.zeros(2)
    for step, both, pos in ((np.diff(gray, axis=1), mask[:, 1:] & mask[:, :-1], np.arange(gray.shape[1] - 1)[None, :]),
                            (np.diff(gray, axis=0), mask[1:] & mask[:-1], np.arange(gray.shape[0] - 1)[:, None])):
        on = np.broadcast_to(pos % cell == cell - 1, both.shape)
        for k, sel in enumerate((both & on, both & ~on)):
            sums[k] += float(np.sum(step[sel] ** 2))
            counts[k] += int(sel.sum())
    if counts.min() == 0 or sums.sum() == 0:
        return math.nan
    return math.inf if sums[1] == 0 else (sums[0] / counts[0]) / (sums[1] / counts[1])


def bpp(num_bytes: int, h: int, w: int) -> float:
    """Bits per pixel of a whole file: 8 * bytes / (h * w)."""
    if h <= 0 or w <= 0:
        raise InputError(f"image size must be positive, got {w}x{h}")
    if num_bytes < 0:
        raise InputError(f"byte count must be >= 0, got {num_bytes}")
    return 8.0 * num_bytes / (h * w)


def log_bpp_interp(curve_bpp: Sequence[float], curve_metric: Sequence[float], at_bpp: float) -> float:
    """Metric of a rate-distortion curve at `at_bpp`, linear in log(bpp) between its points.

    Points are sorted by bpp first; points with a non-finite value or bpp <= 0 are dropped.
    Returns nan outside the curve's bpp range (no extrapolation).
    """
    xs = np.asarray(curve_bpp, dtype=np.float64)
    ys = np.asarray(curve_metric, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise InputError(f"curve_bpp and curve_metric must be 1-D of equal length, got {xs.shape} and {ys.shape}")
    ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
    xs, ys = xs[ok], ys[ok]
    if xs.size == 0 or not (at_bpp > 0) or not math.isfinite(at_bpp):
        return math.nan
    order = np.argsort(xs, kind="stable")
    lx, ys = np.log(xs[order]), ys[order]
    t = math.log(at_bpp)
    # a tolerance so the curve's own end points count as inside it despite rounding
    eps = 1e-12
    if t < lx[0] - eps or t > lx[-1] + eps:
        return math.nan
    if lx.size == 1:
        return float(ys[0])
    return float(np.interp(t, lx, ys))
