"""Evaluation of an SC model on a CamVid-layout folder, in the paper's three settings.

Settings (Agustsson et al. 2019, selective generation figure):
  none          every latent coded (no synthesis);
  sky+tree+road those classes synthesized at zero latent bits;
  box           one centred box preserved, everything else synthesized.
Per image and setting: bytes of the whole file and of its map / latent sections, PSNR and
MS-SSIM overall and on the preserved (non-synthesized) pixels, and the shipped segmentation
network's labels on the decoded image (compared with its labels on the original: semantic
preservation mIoU; and with the ground truth). A GC model, when given, is measured on the
same pixels as the reference "GC quality at the same latent bits".

MS-SSIM on preserved pixels is only defined where those pixels form a full rectangle of at
least 161 px per side (whole image, or the preserved box): then it is MS-SSIM of that crop;
elsewhere it is null and left out of the mean (the count is reported).

On the synthesized pixels, where PSNR means little, three measures of the texture drawn there:
texture retention (EVAL.md's E(decoded) / E(original) over those pixels), tile repetition
(metrics.tile_repetition: near 1 for a pattern repeating every 16 pixels, near 0 for the
original photos' texture) and cell edges (metrics.cell_edges: near 1 for photos, above for a
mosaic of the detail stage's 4-px cells).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ...bitstream.container import unpack
from ...bitstream.errors import InputError
from ...models.seg_metrics import ConfusionMeter, confusion, metrics_from_confusion
from ...models.segnet import SegNet
from ...models.train_seg_data import CAMVID_CLASSES, IGNORE
from .. import gc_codec, sc_codec, sc_selection
from ..image_io import labelled_pairs
from ..segment import segment
from ..stage.stage import LoadedStage
from .metrics import cell_edges, ms_ssim, ms_ssim_reason, psnr, texture_retention, tile_repetition

SETTINGS = ("none", "sky+tree+road", "box")
SETTING_TITLES = {"none": "no synthesis", "sky+tree+road": "synthesize sky+tree+road",
                  "box": "preserve box, synthesize rest"}


def centre_box(height: int, width: int, fraction: float) -> sc_selection.Box:
    """The centred box covering `fraction` of each side."""
    if not 0 < fraction <= 1:
        raise InputError(f"box fraction must be in (0, 1], got {fraction}")
    bw, bh = max(1, round(width * fraction)), max(1, round(height * fraction))
    return (width - bw) // 2, (height - bh) // 2, bw, bh


def setting_selections(classes: int, sky_tree_road: list[int],
                       box: sc_selection.Box) -> dict[str, tuple[list[int], list[sc_selection.Box]]]:
    """(synthesized class ids, preserved boxes) of each setting."""
    return {"none": ([], []), "sky+tree+road": (sky_tree_road, []), "box": (list(range(classes)), [box])}


def camvid_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """(image, label) pairs of `folder`/images and `folder`/labels (or of `folder`/val)."""
    root = Path(folder)
    if not (root / "images").is_dir() and (root / "val" / "images").is_dir():
        root = root / "val"
    return labelled_pairs(root)


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    """RGB PSNR over the pixels where `mask` holds; None for an empty mask."""
    if not mask.any():
        return None
    d = a[mask].astype(np.float64) - b[mask].astype(np.float64)
    mse = float(np.mean(d * d))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def rect_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) when `mask` is exactly one filled rectangle, else None."""
    ys, xs = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    if ys.size == 0:
        return None
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    if int(mask.sum()) != (y1 - y0) * (x1 - x0):
        return None
    return int(y0), int(y1), int(x0), int(x1)


def preserved_ms_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    r = rect_of(mask)
    if r is None or ms_ssim_reason(r[1] - r[0], r[3] - r[2]) is not None:
        return None
    y0, y1, x0, x1 = r
    return ms_ssim(np.ascontiguousarray(a[y0:y1, x0:x1]), np.ascontiguousarray(b[y0:y1, x0:x1]))


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def synthesis_measures(decoded: np.ndarray, image: np.ndarray, preserved: np.ndarray) -> dict[str, float | None]:
    """Texture retention, tile repetition and cell edges on the synthesized (not preserved) pixels."""
    synth = ~preserved
    return {"texture_synth": _finite(texture_retention(decoded, image, synth)),
            "tile_repeat_synth": _finite(tile_repetition(decoded, synth)),
            "cell_edges_synth": _finite(cell_edges(decoded, synth))}


def _mean(values: list[float | None]) -> tuple[float | None, int]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return (float(np.mean(v)) if v else None), len(v)


def _class_id(names: tuple[str, ...], name: str) -> int:
    return sc_selection.parse_classes(name, names)[0]


def _confusions(seg_dec: np.ndarray, seg_orig: np.ndarray, truth: np.ndarray, n: int,
                synthesized: np.ndarray | None = None) -> dict[str, list]:
    """Confusion matrices of the decode's segmentation against the original's and the ground
    truth; with `synthesized` (bool (H, W)), also against the original's on those pixels only."""
    dec, orig = torch.from_numpy(seg_dec), torch.from_numpy(seg_orig)
    out = {"vs_original": confusion(dec, orig, n, IGNORE).tolist(),
           "vs_truth": confusion(dec, torch.from_numpy(truth), n, IGNORE).tolist()}
    if synthesized is not None:
        keep = torch.from_numpy(synthesized)
        out["vs_original_synth"] = confusion(dec[keep], orig[keep], n, IGNORE).tolist()
    return out


@torch.inference_mode()
def _evaluate_one(sc: sc_codec.LoadedSC, segmenter: SegNet, gc: gc_codec.LoadedGC | None, img_path: Path,
                  lab_path: Path, box_fraction: float, sky_tree_road: list[int],
                  refine_steps: int = 0, map_tolerance: int = 0, detail: tuple[LoadedStage, float] | None = None
                  ) -> tuple[dict[str, Any], dict]:
    """One image in every setting: its record (with per-image confusion matrices under
    `_confusion`) and the decoded images."""
    n_seg = len(CAMVID_CLASSES)
    image = np.asarray(Image.open(img_path).convert("RGB"))
    labels = np.asarray(Image.open(lab_path))
    if labels.ndim != 2:
        raise InputError(f"{lab_path}: label maps must be single-channel class ids")
    h, w = labels.shape
    truth = np.where(labels < n_seg, labels, IGNORE).astype(np.uint8)
    seg_orig = segment(segmenter, image)
    box = centre_box(h, w, box_fraction)
    selections = setting_selections(sc.cfg.classes, sky_tree_road, box)
    rec: dict[str, Any] = {"image": img_path.name, "height": h, "width": w, "box_rect": list(box), "_confusion": {}}
    masks: dict[str, np.ndarray] = {}
    decoded: dict[str, np.ndarray] = {"original": image}
    for s in SETTINGS:
        ids, boxes = selections[s]
        data = sc_codec.compress(sc, image, labels, ids, boxes, refine_steps=refine_steps, map_tolerance=map_tolerance)
        c = unpack(data)
        out = sc_codec.decompress(sc, c, detail=detail)
        parts = sc_codec.decode_parts(sc, c)
        mask = sc_codec.preserved_pixels(parts.heat, h, w)
        masks[s], decoded[s] = mask, out
        sizes = sc_codec.section_sizes(data)
        rec["_confusion"][s] = _confusions(segment(segmenter, out), seg_orig, truth, n_seg,
                                           ~mask if s != "none" else None)
        rec[s] = {
            "bytes": len(data), "map_bytes": sizes["map"], "latent_bytes": sizes["latents"],
            "bpp": 8 * len(data) / (h * w), "bpp_map": 8 * sizes["map"] / (h * w),
            "bpp_latents": 8 * sizes["latents"] / (h * w),
            "coded_cell_fraction": float(parts.heat.mean()),
            "preserved_pixel_fraction": float(mask.mean()),
            "psnr": psnr(out, image), "ms_ssim": ms_ssim(out, image),
            "psnr_preserved": masked_psnr(out, image, mask),
            "ms_ssim_preserved": preserved_ms_ssim(out, image, mask),
            # the no-synthesis decode on the same pixels: what preservation costs
            "psnr_preserved_by_none": masked_psnr(decoded["none"], image, mask),
            "ms_ssim_preserved_by_none": preserved_ms_ssim(decoded["none"], image, mask),
            **synthesis_measures(out, image, mask),
            "tile_repeat_synth_original": _finite(tile_repetition(image, ~mask)),
            "cell_edges_synth_original": _finite(cell_edges(image, ~mask)),
        }
    for s in SETTINGS[1:]:
        rec[s]["latent_bytes_vs_none"] = rec[s]["latent_bytes"] / max(1, rec["none"]["latent_bytes"])
    if gc is not None:
        data = gc_codec.compress(gc, image, refine_steps)
        out = gc_codec.decompress(gc, unpack(data))
        rec["_confusion"]["gc"] = _confusions(segment(segmenter, out), seg_orig, truth, n_seg)
        rec["gc"] = {"bytes": len(data), "bpp": 8 * len(data) / (h * w), "psnr": psnr(out, image),
                     "ms_ssim": ms_ssim(out, image),
                     **{f"psnr_preserved_{s}": masked_psnr(out, image, masks[s]) for s in SETTINGS},
                     **{f"ms_ssim_preserved_{s}": preserved_ms_ssim(out, image, masks[s]) for s in SETTINGS},
                     **{f"{k}_{s}": v for s in SETTINGS[1:] for k, v in synthesis_measures(out, image, masks[s]).items()}}
    return rec, decoded


def evaluate_sc(sc: sc_codec.LoadedSC, segmenter: SegNet, folder: str | Path, box_fraction: float = 0.5,
                gc: gc_codec.LoadedGC | None = None, limit: int | None = None, figure_stem: str | None = None,
                progress: bool = True, cache_dir: str | Path | None = None, refine_steps: int = 0,
                map_tolerance: int = 0, detail: tuple[LoadedStage, float] | None = None) -> dict[str, Any]:
    """Run the three settings on every pair; returns per-image records, a summary and the
    decoded images of the figure image (`figure` key, not JSON). With `cache_dir`, each
    image's record is kept there and reused by a rerun with the same models and box.
    `refine_steps` > 0 encodes SC and GC images with latent refinement; `map_tolerance` > 0
    codes the map on a grid of that many pixels; `detail`: the SC model's detail stage and the R
    SC files decode at (None: the generator's own decode)."""
    realism = detail[1] if detail else 0.0
    pairs = camvid_pairs(folder)[:limit]
    sky_tree_road = [_class_id(sc.class_names, n) for n in ("sky", "tree", "road")]
    n_seg = len(CAMVID_CLASSES)
    meters = {s: {ref: ConfusionMeter(n_seg, IGNORE)
                  for ref in ("vs_original", "vs_truth") + (("vs_original_synth",) if s in SETTINGS[1:] else ())}
              for s in SETTINGS + (("gc",) if gc else ())}
    key = {"model": sc.ref.name, "digest": sc.ref.digest.hex(), "box_fraction": box_fraction,
           "gc": gc.ref.name if gc else None, "seg": getattr(segmenter, "card", {}).get("sha256"),
           "refine": refine_steps, "map_tolerance": map_tolerance, "realism": realism,
           "stage": detail[0].ref.digest.hex() if detail else None, "measures": 3}  # bump when a record gains a measure
    records: list[dict[str, Any]] = []
    figure: dict[str, Any] = {}
    fig_stem = figure_stem or pairs[0][0].stem
    for img_path, lab_path in tqdm(pairs, desc="eval-sc", unit="img", disable=not progress, mininterval=30):
        cached = Path(cache_dir) / f"{img_path.stem}.json" if cache_dir else None
        rec = None
        if cached is not None and cached.is_file() and img_path.stem != fig_stem:
            stored = json.loads(cached.read_text())
            rec = stored["record"] if stored.get("key") == key else None
        if rec is None:
            rec, decoded = _evaluate_one(sc, segmenter, gc, img_path, lab_path, box_fraction, sky_tree_road,
                                         refine_steps, map_tolerance, detail)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps({"key": key, "record": rec}))
            if img_path.stem == fig_stem:
                figure = {"image": decoded["original"], "box_rect": tuple(rec["box_rect"]), "name": img_path.name,
                          **{s: (decoded[s], rec[s]["bpp"]) for s in SETTINGS}}
        for setting, mats in rec.pop("_confusion").items():
            for ref, mat in mats.items():
                meters[setting][ref].add(torch.tensor(mat))
        records.append(rec)
    summary = summarize(records, meters, gc.ref.name if gc else None)
    return {"model": sc.ref.name, "folder": str(folder), "n_images": len(records), "box_fraction": box_fraction,
            "refine_steps": refine_steps, "map_tolerance": map_tolerance, "realism": realism, "summary": summary, "images": records, "figure": figure}


def summarize(records: list[dict[str, Any]], meters: dict[str, dict[str, ConfusionMeter]],
              gc_name: str | None) -> dict[str, Any]:
    names = list(CAMVID_CLASSES)
    out: dict[str, Any] = {}
    keys = ("bpp", "bpp_map", "bpp_latents", "coded_cell_fraction", "psnr", "ms_ssim", "psnr_preserved",
            "ms_ssim_preserved", "psnr_preserved_by_none", "ms_ssim_preserved_by_none", "latent_bytes_vs_none",
            "texture_synth", "tile_repeat_synth", "tile_repeat_synth_original", "cell_edges_synth",
            "cell_edges_synth_original")
    for s in SETTINGS:
        row: dict[str, Any] = {}
        for k in keys:
            if k in records[0][s]:
                row[k], row[f"{k}_n"] = _mean([r[s][k] for r in records])
        for ref, meter in meters[s].items():
            row[f"miou_{ref}"] = metrics_from_confusion(meter.matrix(), names)["mIoU"]
        if gc_name:
            row["gc_psnr_preserved"], _ = _mean([r["gc"][f"psnr_preserved_{s}"] for r in records])
            row["gc_ms_ssim_preserved"], row["gc_ms_ssim_preserved_n"] = _mean(
                [r["gc"][f"ms_ssim_preserved_{s}"] for r in records])
            for k in ("texture_synth", "tile_repeat_synth", "cell_edges_synth"):
                if f"{k}_{s}" in records[0]["gc"]:
                    row[f"gc_{k}"], _ = _mean([r["gc"][f"{k}_{s}"] for r in records])
        out[s] = row
    if gc_name:
        g = {k: _mean([r["gc"][k] for r in records])[0] for k in ("bpp", "psnr", "ms_ssim")}
        g.update({f"miou_{ref}": metrics_from_confusion(m.matrix(), names)["mIoU"] for ref, m in meters["gc"].items()})
        out["gc"] = {"model": gc_name, **g}
    return out


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def format_table(result: dict[str, Any]) -> str:
    s = result["summary"]
    head = (f"{'setting':<14} {'bpp':>7} {'map':>7} {'latent':>7} {'coded':>6} {'PSNR':>6} {'MS-SSIM':>7} "
            f"{'PSNR-p':>6} {'MSSSIM-p':>8} {'PSNR-p@none':>11} {'mIoU-orig':>9} {'mIoU-gt':>7}")
    lines = [f"{result['model']} on {result['folder']}: {result['n_images']} images "
             f"(box = centred, {result['box_fraction']:g} of each side; realism {result['realism']:g})",
             head, "-" * len(head)]
    for name in SETTINGS:
        r = s[name]
        lines.append(f"{name:<14} {_f(r['bpp'], '.4f'):>7} {_f(r['bpp_map'], '.4f'):>7} "
                     f"{_f(r['bpp_latents'], '.4f'):>7} {_f(r['coded_cell_fraction'], '.3f'):>6} "
                     f"{_f(r['psnr'], '.2f'):>6} {_f(r['ms_ssim'], '.4f'):>7} {_f(r['psnr_preserved'], '.2f'):>6} "
                     f"{_f(r['ms_ssim_preserved'], '.4f'):>8} {_f(r['psnr_preserved_by_none'], '.2f'):>11} "
                     f"{100 * r['miou_vs_original']:>9.2f} {100 * r['miou_vs_truth']:>7.2f}")
    if "gc" in s:
        g = s["gc"]
        lines.append(f"{g['model']:<14} {g['bpp']:>7.4f} {'-':>7} {'-':>7} {'1.000':>6} {g['psnr']:>6.2f} "
                     f"{g['ms_ssim']:>7.4f} {'':>6} {'':>8} {'':>11} {100 * g['miou_vs_original']:>9.2f} "
                     f"{100 * g['miou_vs_truth']:>7.2f}")
        lines.append(f"{g['model']} on each setting's preserved pixels: " + ", ".join(
            f"{n} PSNR {_f(s[n]['gc_psnr_preserved'], '.2f')}"
            + (f" MS-SSIM {_f(s[n]['gc_ms_ssim_preserved'], '.4f')}" if s[n]['gc_ms_ssim_preserved'] is not None else "")
            for n in SETTINGS))
    lines.append("coded = latent cells coded; -p = on preserved (coded) pixels; PSNR-p@none = the no-synthesis "
                 "decode on those pixels; mIoU-orig = seg(decoded) vs seg(original); mIoU-gt vs ground truth")
    lines.append("MS-SSIM-p is defined where the preserved pixels form a rectangle >= 161 px a side: "
                 + ", ".join(f"{n} {s[n]['ms_ssim_preserved_n']}/{result['n_images']}" for n in SETTINGS))
    lines.append("synthesized pixels: " + "; ".join(
        f"{n} texture {_f(s[n]['texture_synth'], '.3f')}"
        + (f" (gc {_f(s[n]['gc_texture_synth'], '.3f')})" if "gc_texture_synth" in s[n] else "")
        + f", mIoU-orig {100 * s[n]['miou_vs_original_synth']:.2f}"
        + f", tile repetition {_f(s[n]['tile_repeat_synth'], '.3f')} (original {_f(s[n]['tile_repeat_synth_original'], '.3f')}"
        + (f", gc {_f(s[n]['gc_tile_repeat_synth'], '.3f')}" if "gc_tile_repeat_synth" in s[n] else "") + ")"
        + f", 4-px cell edges {_f(s[n]['cell_edges_synth'], '.2f')}"
        + f" (original {_f(s[n]['cell_edges_synth_original'], '.2f')}"
        + (f", gc {_f(s[n]['gc_cell_edges_synth'], '.2f')}" if "gc_cell_edges_synth" in s[n] else "") + ")"
        for n in SETTINGS[1:]))
    lines.append("latent bytes relative to no synthesis: " + ", ".join(
        f"{n} {s[n]['latent_bytes_vs_none']:.3f} (coded cells {s[n]['coded_cell_fraction']:.3f})" for n in SETTINGS[1:]))
    return "\n".join(lines)


def write_figure(figure: dict[str, Any], path: str | Path) -> None:
    """original | no synthesis | synthesize sky+tree+road | preserve box, bpp under each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from .plots import save_figure

    panels = [("original", figure["image"], None)] + [
        (SETTING_TITLES[s], figure[s][0], figure[s][1]) for s in SETTINGS]
    h, w = figure["image"].shape[:2]
    fig, axes = plt.subplots(1, 4, figsize=(4 * 4.0, 4.0 * h / w + 0.9), dpi=120)
    for ax, (title, img, b) in zip(axes, panels):
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("" if b is None else f"{b:.4f} bpp", fontsize=10)
    x, y, bw, bh = figure["box_rect"]
    axes[3].add_patch(Rectangle((x - 0.5, y - 0.5), bw, bh, fill=False, edgecolor="yellow", linewidth=1.2))
    fig.suptitle(figure["name"], fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def write_json(result: dict[str, Any], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({k: v for k, v in result.items() if k != "figure"}, indent=1) + "\n")
