"""Results files and the text report of the rate-distortion harness (codec/eval/images.py):
strict-JSON saving, a codec's curve as arrays, and the plain-text table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import log_bpp_interp

# rates at which format_table compares codecs (those inside its bpp_range are shown)
COMPARE_BPP = (0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)


def json_safe(x: Any) -> Any:
    """nan -> None and +-inf -> "inf"/"-inf", so the file is strict JSON."""
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        return json_safe(x.item())
    return x


def save_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(json_safe(results), indent=1, allow_nan=False) + "\n")
    tmp.replace(path)


def _num(x: Any) -> float:
    if x is None:
        return math.nan
    if isinstance(x, str):
        return float(x)  # "inf" / "-inf" from a saved JSON
    return float(x)


def curve_arrays(entry: dict[str, Any], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean bpp, mean metric) over a codec's settings, as float arrays (nan where missing)."""
    pts = entry["curve"]
    return (np.array([_num(p["bpp"]) for p in pts]), np.array([_num(p[key]) for p in pts]))


def _fmt(x: Any, spec: str) -> str:
    v = _num(x)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf"
    return format(v, spec)


def format_table(results: dict[str, Any], bpp_range: tuple[float, float] = (0.01, 0.2)) -> str:
    """A plain-text report: each codec's settings whose mean bpp is in `bpp_range`, then all codecs
    compared at fixed rates in that range (log-bpp interpolation; '-' where a curve does not reach)."""
    lo, hi = bpp_range
    lines: list[str] = []
    n_img = len(results.get("images", []))
    lines.append(f"Dataset curves over {n_img} images (means per setting), settings with {lo:g} <= bpp <= {hi:g}")
    head = f"{'codec':<14}{'setting':>9}{'bpp':>9}{'PSNR':>8}{'MS-SSIM':>9}{'texture':>9}{'enc s':>8}{'dec s':>8}"
    lines.append(head)
    lines.append("-" * len(head))
    for name, entry in results["codecs"].items():
        shown = [p for p in entry["curve"] if lo <= _num(p["bpp"]) <= hi]
        if not shown:
            bs = [_num(p["bpp"]) for p in entry["curve"]]
            lines.append(f"{name:<14}  (no setting in range; bpp spans {min(bs):.4f}..{max(bs):.4f})")
            continue
        for p in sorted(shown, key=lambda p: _num(p["bpp"])):
            lines.append(
                f"{name:<14}{str(p['setting']):>9}{_fmt(p['bpp'], '.4f'):>9}{_fmt(p['psnr'], '.2f'):>8}"
                f"{_fmt(p['ms_ssim'], '.4f'):>9}{_fmt(p['texture_retention'], '.3f'):>9}"
                f"{_fmt(p['encode_s'], '.2f'):>8}{_fmt(p['decode_s'], '.2f'):>8}"
            )
    rates = [r for r in COMPARE_BPP if lo <= r <= hi]
    if rates:
        for key, title, spec in (("psnr", "PSNR (dB)", ".2f"), ("ms_ssim", "MS-SSIM", ".4f"),
                                 ("texture_retention", "texture retention", ".3f")):
            lines.append("")
            lines.append(f"{title} at equal rate (linear in log bpp between settings)")
            head = f"{'codec':<14}" + "".join(f"{r:>9g}" for r in rates)
            lines.append(head)
            lines.append("-" * len(head))
            for name, entry in results["codecs"].items():
                xs, ys = curve_arrays(entry, key)
                cells = [_fmt(log_bpp_interp(xs, ys, r), spec) for r in rates]
                lines.append(f"{name:<14}" + "".join(f"{c:>9}" for c in cells))
    return "\n".join(lines)
