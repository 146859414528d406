"""Rate-distortion plot: bpp vs PSNR and bpp vs MS-SSIM, log bpp axis, one line per codec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .report import curve_arrays  # noqa: E402


def plot_rd(
    results: dict[str, Any],
    path: Path,
    bpp_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> Path:
    """Draw the dataset curves in `results` (as returned by `evaluate`) to a PNG at `path`.

    `bpp_range` limits the x axis; by default it spans all points. One colour per base codec,
    line style by downscale factor (solid full size, dashed -ds2, dotted -ds4); gcodec's own
    codecs (names starting with "gcodec") are drawn thicker so they stand out from the baselines.
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    panels = (("psnr", "PSNR (dB, RGB)"), ("ms_ssim", "MS-SSIM"))
    markers = "osD^v<>ph*Xd"
    bases = list(dict.fromkeys(_base(n) for n in results["codecs"]))
    colours = plt.get_cmap("tab10" if len(bases) <= 10 else "tab20")
    for i, (name, entry) in enumerate(results["codecs"].items()):
        ours = name.startswith("gcodec")
        b = bases.index(_base(name))
        style = {"color": colours(b % colours.N), "ls": _LINESTYLES.get(name[len(_base(name)):], "-.")}
        for ax, (key, _) in zip(axes, panels):
            xs, ys = curve_arrays(entry, key)
            ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
            if not ok.any():
                continue
            order = np.argsort(xs[ok])
            ax.plot(xs[ok][order], ys[ok][order], marker=markers[i % len(markers)], ms=4,
                    lw=2.6 if ours else 1.3, label=name, **style)
    n = len(results.get("images", []))
    for ax, (_, label) in zip(axes, panels):
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (whole file)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        if bpp_range is not None:
            ax.set_xlim(*bpp_range)
            _fit_y(ax, bpp_range)
    axes[0].legend(fontsize=8, ncol=2)
    fig.suptitle(title or f"Rate-distortion, mean over {n} images")
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def save_figure(fig: Any, path: str | Path, dpi: float | str = "figure") -> Path:
    """Write a matplotlib figure (its folder created as needed) and free it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


_LINESTYLES = {"": "-", "-ds2": "--", "-ds4": ":"}


def _base(name: str) -> str:
    """'avif-ds2' -> 'avif': variants of one codec share a colour."""
    head, sep, k = name.rpartition("-ds")
    return head if sep and k.isdigit() else name


def _fit_y(ax: Any, bpp_range: tuple[float, float]) -> None:
    """Y limits from the points inside the x range, so curves far outside it do not flatten the view."""
    ys = []
    for line in ax.get_lines():
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        ys.extend(y[(x >= bpp_range[0]) & (x <= bpp_range[1]) & np.isfinite(y)])
    if ys:
        lo, hi = min(ys), max(ys)
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ax.set_ylim(lo - pad, hi + pad)
