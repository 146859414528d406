"""Video evaluation: gcodec's three methods at matched bpp against x264 and x265.

Conventions (EVAL.md, Video): bpp = 8 * bytes / (W * H * frames) of the whole file
(raw elementary stream for x264/x265); PSNR and MS-SSIM per frame, averaged; x264/x265
with the medium preset, yuv420p and a CRF sweep; comparisons at equal bpp by linear
interpolation in log(bpp).
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...bitstream.errors import InputError
from ..ffmpeg import ffmpeg_exe, ffmpeg_has_encoder
from ..video_codec import METHODS, VideoOptions, compress_frames, decompress_video
from ..video_plan import AUTO
from ..video_io import read_video
from .metrics import ms_ssim, ms_ssim_reason, psnr

CRFS = (18, 23, 28, 33, 38, 43, 48, 51)
ANCHORS = {"x264": ("libx264", "h264", []), "x265": ("libx265", "hevc", ["-x265-params", "log-level=error:info=0"])}


def frame_metrics(ref: np.ndarray, dec: np.ndarray) -> dict[str, float]:
    """Mean per-frame RGB PSNR and MS-SSIM (nan when a side < 161 px)."""
    p = float(np.mean([psnr(a, b) for a, b in zip(ref, dec)]))
    if ms_ssim_reason(ref.shape[1], ref.shape[2]) is None:
        m = float(np.mean([ms_ssim(a, b) for a, b in zip(ref, dec)]))
    else:
        m = math.nan
    return {"psnr": p, "ms_ssim": m}


def anchor_roundtrip(frames: np.ndarray, fps: float, name: str, crf: int) -> tuple[int, np.ndarray]:
    """Encode with x264/x265 (medium, yuv420p) to a raw elementary stream; (bytes, decoded frames)."""
    encoder, fmt, extra = ANCHORS[name]
    t, h, w, _ = frames.shape
    ph, pw = h + h % 2, w + w % 2  # yuv420p needs even sides: pad by edge replication, crop after
    src = np.pad(frames, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge") if (ph, pw) != (h, w) else frames
    enc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{pw}x{ph}", "-r", f"{fps:.6g}", "-i", "pipe:", "-c:v", encoder, "-preset", "medium",
         "-crf", str(crf), "-pix_fmt", "yuv420p", *extra, "-f", fmt, "pipe:"],
        input=np.ascontiguousarray(src).tobytes(), capture_output=True, check=True).stdout
    dec = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-f", fmt, "-i", "pipe:",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"], input=enc, capture_output=True, check=True).stdout
    out = np.frombuffer(dec, np.uint8).reshape(-1, ph, pw, 3)[:, :h, :w]
    if out.shape[0] != t:
        raise RuntimeError(f"{name} decoded {out.shape[0]} of {t} frames")
    return len(enc), out


def interp_log_bpp(points: Sequence[dict[str, float]], bpp: float, key: str) -> float:
    """Metric `key` at `bpp` by linear interpolation in log(bpp); nan outside the measured range."""
    pts = sorted((p["bpp"], p[key]) for p in points
                 if p.get(key) is not None and np.isfinite(p[key]) and p["bpp"] > 0)  # JSON null = nan
    if len(pts) < 2 or not pts[0][0] <= bpp <= pts[-1][0]:
        return math.nan
    xs, ys = np.log([p[0] for p in pts]), np.array([p[1] for p in pts])
    return float(np.interp(math.log(bpp), xs, ys))


# Method names eval-video accepts: the codec's methods, plus the supermask with the paper's
# masked RGB head (the default supermask trains its head; see HEADS in video_codec.py).
VARIANTS = {**{m: (m, "trained") for m in (AUTO, *METHODS)}, "supermask-masked": ("supermask", "masked")}


def evaluate_video(path: str, bpps: Sequence[float], methods: Sequence[str], time_budget: float | None,
                   epochs: float | None, max_frames: int | None, resize: tuple[int, int] | None,
                   device: str = "auto", anchors: Sequence[str] = ("x264", "x265"),
                   progress: bool = True, log: Any = print, seed: int = 1) -> dict[str, Any]:
    """Every method at every bpp (network weights and training order from `seed`), then the anchors."""
    frames, fps = read_video(path, max_frames, resize)
    t, h, w, _ = frames.shape
    pixels = t * h * w
    res: dict[str, Any] = {"video": str(path), "frames": t, "width": w, "height": h, "fps": fps,
                           "time_budget_s": time_budget, "epochs": epochs, "seed": seed, "codecs": {}}
    for name in methods:
        method, head = VARIANTS[name]
        pts = []
        for bpp in bpps:
            opts = VideoOptions(bpp=bpp, method=method, head=head, time_budget=time_budget, epochs=epochs,
                                device=device, progress=progress, seed=seed)
            r = compress_frames(frames, fps, opts)
            start = time.perf_counter()
            dec, _ = decompress_video(r.data, device)
            dec_s = time.perf_counter() - start
            m = frame_metrics(frames, dec)
            pts.append({"target_bpp": bpp, "bpp": 8 * len(r.data) / pixels, "bytes": len(r.data),
                        "encode_s": r.seconds, "method": r.method, "decode_fps": t / dec_s,
                        "weights": r.config.n_weights(), "steps": r.steps, "epochs": r.steps * r.batch / t,
                        "bf16": r.bf16, **m})
            log(f"{Path(path).name} {name} target {bpp}: bpp {pts[-1]['bpp']:.4f} PSNR {m['psnr']:.2f} "
                f"MS-SSIM {m['ms_ssim']:.4f} encode {r.seconds:.0f}s ({r.method}, {r.steps} steps"
                f"{', bf16' if r.bf16 else ''}) weights {r.config.n_weights()}")
        res["codecs"][f"gcodec-{name}"] = {"points": pts}
    for name in anchors:
        if not ffmpeg_has_encoder(ANCHORS[name][0]):
            log(f"{name}: encoder {ANCHORS[name][0]} unavailable, skipped")
            continue
        pts = []
        for crf in CRFS:
            n, dec = anchor_roundtrip(frames, fps, name, crf)
            pts.append({"crf": crf, "bpp": 8 * n / pixels, "bytes": n, **frame_metrics(frames, dec)})
        res["codecs"][name] = {"points": pts}
        log(f"{Path(path).name} {name}: bpp {pts[-1]['bpp']:.4f}..{pts[0]['bpp']:.4f}")
    res["matched"] = matched_points(res)
    return res


def matched_points(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Every codec at each gcodec-supermask point's bpp (log-bpp interpolation)."""
    ref = res["codecs"].get("gcodec-supermask", {}).get("points", [])
    return [
        {"bpp": p["bpp"], **{name: {k: interp_log_bpp(e["points"], p["bpp"], k) for k in ("psnr", "ms_ssim")}
                             for name, e in res["codecs"].items()}}
        for p in ref
    ]


def _setting(point: dict[str, Any]) -> Any:
    """What a point was asked for: a gcodec target bpp or an anchor's CRF."""
    return point.get("target_bpp", point.get("crf"))


def merge_results(runs: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per-video results of several eval runs as one list. Runs of the same video (same file,
    size, frame count, training budget and seed) merge point by point: a later run's point for
    a codec and target bpp replaces an earlier one's. Other budgets and seeds stay separate entries."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for run in runs:
        for res in run:
            key = (Path(res["video"]).name, res["width"], res["height"], res["frames"],
                   res.get("epochs"), res.get("time_budget_s"), res.get("seed", 1))
            entry = merged.setdefault(key, {**res, "codecs": {}})
            for name, e in res["codecs"].items():
                new = {_setting(p) for p in e["points"]}
                kept = [p for p in entry["codecs"].get(name, {"points": []})["points"] if _setting(p) not in new]
                entry["codecs"][name] = {**e, "points": kept + list(e["points"])}
    for res in merged.values():
        res["matched"] = matched_points(res)
    return list(merged.values())


def codec_names(results: list[dict[str, Any]]) -> list[str]:
    """Every codec named in any result, in first-seen order (one table column / plot style each)."""
    return list(dict.fromkeys(n for res in results for n in res["codecs"]))


def video_label(res: dict[str, Any]) -> str:
    """'name WxHxT, E ep' (or ', S s' for a time budget; ', seed N' unless seed 1): what a
    table row or plot is about."""
    label = f"{Path(res['video']).stem} {res['width']}x{res['height']}x{res['frames']}"
    if res.get("epochs"):
        label = f"{label}, {res['epochs']:g} ep"
    elif res.get("time_budget_s"):
        label = f"{label}, {res['time_budget_s']:g} s"
    return label if res.get("seed", 1) == 1 else f"{label}, seed {res['seed']}"


def plot_video_rd(results: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import save_figure

    names = codec_names(results)  # same style in every panel
    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.4), squeeze=False)
    for ax, res in zip(axes[0], results):
        for name, e in res["codecs"].items():
            i = names.index(name)
            pts = sorted(e["points"], key=lambda p: p["bpp"])
            ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], marker="osD^v"[i % 5], color=f"C{i}",
                    lw=2.4 if name.startswith("gcodec") else 1.2, label=name)
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (whole file)")
        ax.set_ylabel("PSNR (dB, RGB, per-frame mean)")
        ax.set_title(video_label(res))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    return x


def write_json(results: Any, path: Path) -> None:
    """Strict JSON: nan (e.g. MS-SSIM on frames under 161 px) becomes null."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(_nan_to_none(results), indent=1))


def check_methods(methods: Sequence[str]) -> None:
    bad = [m for m in methods if m not in VARIANTS]
    if bad:
        raise InputError(f"unknown method(s) {', '.join(bad)}; choose from {', '.join(VARIANTS)}")


def parse_anchors(text: str) -> list[str]:
    """'x264,x265' -> names; '' or 'none' -> []; InputError for an unknown name (before any encode)."""
    names = [a.strip() for a in text.split(",") if a.strip()]
    if [n.lower() for n in names] == ["none"]:
        return []
    bad = [n for n in names if n not in ANCHORS]
    if bad:
        raise InputError(f"unknown anchor(s) {', '.join(map(repr, bad))}; choose from {', '.join(ANCHORS)}, or none")
    return names


def markdown_table(results: list[dict[str, Any]]) -> str:
    """One row per video and target bpp: each gcodec method's actual bpp and PSNR (MS-SSIM),
    and x264/x265 PSNR interpolated at the supermask file's bpp ("-" where not measured)."""
    names = codec_names(results)
    ours = [n for n in names if n.startswith("gcodec-")]
    anchors = [n for n in names if not n.startswith("gcodec-")]
    head = ["video", "target bpp"] + [n.removeprefix("gcodec-") for n in ours] + [f"{a} @ supermask bpp" for a in anchors]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        codecs = res["codecs"]
        targets = sorted({p["target_bpp"] for n in ours if n in codecs for p in codecs[n]["points"]})
        for tb in targets:
            row = [video_label(res), f"{tb:g}"]
            ref_bpp = None
            for n in ours:
                p = next((q for q in codecs.get(n, {}).get("points", []) if q["target_bpp"] == tb), None)
                if p is None:
                    row.append("-")
                    continue
                ms = p.get("ms_ssim")
                ms_txt = f" / {ms:.3f}" if ms is not None and math.isfinite(ms) else ""
                row.append(f"{p['bpp']:.4f}: {p['psnr']:.2f}{ms_txt}")
                if n == "gcodec-supermask":
                    ref_bpp = p["bpp"]
            for a in anchors:
                v = interp_log_bpp(codecs[a]["points"], ref_bpp, "psnr") if a in codecs and ref_bpp else math.nan
                row.append(f"{v:.2f}" if math.isfinite(v) else "-")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
