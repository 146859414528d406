"""Affinity heat maps of the segmentation network (Cao's AR loss, his Fig. 4) and the AR term's record.

For a chosen pixel p of an image: the LABEL affinity (1 where a pixel's label equals p's, void
pixels blank) next to the network's SQUARE-ROOT-KERNEL affinity sum_c sqrt(P_c(p) P_c(q)) at
every pixel q, which the AR loss (models/affinity_loss.py) regresses onto the label affinity on
coarse grids. Each image also gets the AR term itself, as training computes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..bitstream.errors import InputError
from ..models.affinity_loss import affinity_loss
from ..models.segnet import SegNet, predict_logits
from ..models.train_seg_data import IGNORE, label_lut, load_pair, split_pairs
from .eval.plots import plt, save_figure

DEFAULT_PIXELS = ((0.5, 0.15), (0.5, 0.85), (0.2, 0.5))  # as fractions of width, height: top, bottom, left


def parse_pixel(text: str) -> tuple[int, int]:
    """'x,y' -> (x, y); InputError otherwise."""
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--pixels takes x,y in pixels (e.g. 240,60), got {text!r}")
    return int(parts[0]), int(parts[1])


@torch.no_grad()
def affinities(model: SegNet, image: np.ndarray, labels: np.ndarray, pixels: list[tuple[int, int]]) -> dict[str, Any]:
    """Label and sqrt-kernel affinity maps (H, W) of each pixel, and the image's AR term."""
    h, w = labels.shape
    for x, y in pixels:
        if not (0 <= x < w and 0 <= y < h):
            raise InputError(f"pixel {x},{y} lies outside the {w}x{h} image")
    dev = next(model.parameters()).device
    t = torch.from_numpy(np.array(image)).to(dev).permute(2, 0, 1)[None].float() / 255.0
    logits = predict_logits(model.eval(), t)
    sq = torch.softmax(logits[0].float(), 0).sqrt()  # (C, H, W)
    lab = torch.from_numpy(labels.astype(np.int64)).to(dev)
    maps = []
    for x, y in pixels:
        label_aff = (labels == labels[y, x]).astype(np.float32)
        label_aff[(labels == IGNORE) | (labels[y, x] == IGNORE)] = np.nan
        out_aff = (sq * sq[:, y, x, None, None]).sum(0).cpu().numpy()
        maps.append({"pixel": (x, y), "label": label_aff, "output": out_aff})
    return {"maps": maps, "ar_term": float(affinity_loss(logits, lab[None], IGNORE))}


def _figure(image: np.ndarray, result: dict[str, Any], title: str) -> Any:
    rows = len(result["maps"])
    fig, axes = plt.subplots(rows, 3, figsize=(11, 2.7 * rows), squeeze=False, constrained_layout=True)
    cmap = plt.get_cmap("inferno").with_extremes(bad="0.6")  # void pixels: no label affinity
    for row, m in zip(axes, result["maps"]):
        x, y = m["pixel"]
        row[0].imshow(image)
        row[0].plot([x], [y], marker="o", ms=9, mfc="none", mec="cyan", mew=2)
        row[0].set_title(f"pixel ({x}, {y})", fontsize=9)
        for ax, key, name in ((row[1], "label", "label affinity (void grey)"), (row[2], "output", "sqrt-kernel affinity")):
            im = ax.imshow(m[key], cmap=cmap, vmin=0, vmax=1)
            ax.plot([x], [y], marker="o", ms=9, mfc="none", mec="cyan", mew=2)
            ax.set_title(name, fontsize=9)
        for ax in row:
            ax.axis("off")
    fig.colorbar(im, ax=axes[:, 2].tolist(), shrink=0.8, fraction=0.05)
    fig.suptitle(title, fontsize=10)
    return fig


def write_affinity_maps(model: SegNet, data: str, out_dir: str | Path, pixels: list[tuple[int, int]] | None,
                        count: int, dataset: str | None = None, val_fraction: float = 0.0) -> list[dict[str, Any]]:
    """One heat-map PNG for each of the first `count` validation images of `data`, and
    `ar_terms.json`; returns per image {"image", "png", "ar_term"}."""
    dataset = dataset or getattr(model, "card", {}).get("dataset", "camvid")
    val = split_pairs(data, dataset, val_fraction)[1][:count]
    lut = label_lut(dataset)
    out = Path(out_dir)
    rows = []
    for pair in val:
        image, labels = load_pair(pair, lut)
        h, w = labels.shape
        px = pixels or [(min(w - 1, int(fx * w)), min(h - 1, int(fy * h))) for fx, fy in DEFAULT_PIXELS]
        result = affinities(model, image, labels, px)
        out.mkdir(parents=True, exist_ok=True)  # after the pixels are checked: bad input leaves nothing
        png = out / f"{pair[0].stem}_affinity.png"
        save_figure(_figure(image, result, f"{pair[0].name}: AR term {result['ar_term']:.4f}"), png, dpi=90)
        rows.append({"image": pair[0].name, "png": png.name, "ar_term": round(result["ar_term"], 5),
                     "pixels": [list(p) for p in px]})
    (out / "ar_terms.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def plot_training_log(log: list[dict[str, Any]], path: str | Path) -> str:
    """Plot a `gcodec train seg` log: the AR term over steps where it was logged ("ar_term"), else
    what was logged (training loss and validation mIoU) by phase. Returns a one-line account."""
    has_ar = any(r.get("ar_term") is not None for r in log)
    keys = [("ar_term", "AR term (training batches, EMA)")] if has_ar else []
    keys += [("loss", "training loss (EMA)"), ("val_mIoU", "validation mIoU")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.4), squeeze=False)
    for ax, (key, name) in zip(axes[0], keys):
        for phase in dict.fromkeys(r.get("phase", "") for r in log):
            pts = [(r["step"], r[key]) for r in log if r.get("phase", "") == phase and r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), marker=".", label=phase or "run")
        ax.set_xlabel("step")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8)
    save_figure(fig, path, dpi=90)
    return ("plotted the AR term" if has_ar else "no AR term in this log: plotted training loss and validation mIoU") \
        + f" over {len(log)} log lines"
