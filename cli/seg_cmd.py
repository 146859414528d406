"""`gcodec segment`, `gcodec eval-seg` and `gcodec train seg`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..bitstream.errors import InputError
from .coding_cmd import _outputs, _run_all
from .main import cli
from .train_cmd import _command_line, train

DEFAULT_SEG_MODEL = "seg-camvid"


def _load(model: str, device: str):
    from ..codec.device import pick_device
    from ..codec.registry import resolve_model
    from ..codec.segment import load_segmenter

    ref = resolve_model(model, kind="segmentation")
    return load_segmenter(ref.path, pick_device(device))


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", help="Output class-id PNG; single input only.")
@click.option("-d", "--outdir", help="Output folder: one INPUT-stem.png per input.")
@click.option("--model", "-m", default=DEFAULT_SEG_MODEL, show_default=True)
@click.option("--color", is_flag=True, help="Also write OUT_color.png (palette) and OUT_overlay.png (blend).")
@click.option("--device", default="auto", show_default=True)
@click.option("--jobs", "-j", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
def segment(inputs: tuple[str, ...], out: str | None, outdir: str | None, model: str, color: bool, device: str,
            jobs: int, as_json: bool, force: bool) -> None:
    """Label images with the shipped segmentation network (class-id PNGs)."""
    import time

    import numpy as np

    from ..codec.image_io import decode_rgb, png_bytes, read_bytes, write_atomic
    from ..codec.segment import colorize, overlay, palette_for
    from ..codec.segment import segment as run_segment

    outputs = _outputs(inputs, out, outdir, ".png")
    if "-" in outputs and color:
        raise InputError("--color writes extra files: give a file name, not '-'")
    extra = lambda dst, tag: str(Path(dst).with_name(Path(dst).stem + f"_{tag}.png"))  # noqa: E731
    for dst in outputs:
        for p in [dst] + ([extra(dst, "color"), extra(dst, "overlay")] if color else []):
            if p != "-" and Path(p).exists() and not force:
                raise InputError(f"{p} exists (use --force to overwrite)")
    net = _load(model, device)
    palette = palette_for(net.card.get("dataset", "camvid"))
    names = net.card.get("class_names", [])

    def work(src: str, dst: str) -> dict:
        t0 = time.perf_counter()
        image = decode_rgb(read_bytes(src), src)
        labels = run_segment(net, image)
        write_atomic(dst, png_bytes(labels), force)
        if color:
            write_atomic(extra(dst, "color"), png_bytes(colorize(labels, palette)), force)
            write_atomic(extra(dst, "overlay"), png_bytes(overlay(image, labels, palette)), force)
        counts = np.bincount(labels.reshape(-1), minlength=len(names))
        share = {names[i]: round(float(c) / labels.size, 4) for i, c in enumerate(counts) if c and i < len(names)}
        secs = time.perf_counter() - t0
        return {"input": src, "output": dst, "seconds": round(secs, 3), "classes": share,
                "_line": f"{src} -> {dst}: {len(share)} classes, {secs:.2f} s"}

    _run_all(inputs, outputs, work, jobs, as_json)


@cli.command("eval-seg")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="Dataset root (CamVid: train/ and val/ with images/ and labels/; Cityscapes layout).")
@click.option("--dataset", type=click.Choice(["camvid", "cityscapes"]), default=None,
              help="Default: the model's.")
@click.option("--model", "-m", default=DEFAULT_SEG_MODEL, show_default=True)
@click.option("--val-fraction", default=0.0, help="Cityscapes sample without a val split: hold out this tail fraction.")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False), help="Also write metrics as JSON.")
@click.option("--affinity-maps", "maps_dir", default=None, type=click.Path(file_okay=False),
              help="Instead of metrics: write label vs sqrt-kernel affinity heat maps (the AR loss's view) of the "
                   "first --count validation images to this folder, with each image's AR term (ar_terms.json), "
                   "and plot the AR term over training from --log or the model card's log.")
@click.option("--pixels", multiple=True, metavar="X,Y", help="Affinity maps: pixels to show (repeatable; default three).")
@click.option("--count", default=3, show_default=True, help="Affinity maps: how many validation images.")
@click.option("--log", "log_path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Affinity maps: a `gcodec train seg` run's log.jsonl to plot (default: the card's log, if any).")
def eval_seg(data: str, dataset: str | None, model: str, val_fraction: float, device: str, json_out: str | None,
             maps_dir: str | None, pixels: tuple[str, ...], count: int, log_path: str | None) -> None:
    """Per-class IoU/Acc, aAcc, mIoU and mAcc on a dataset's validation split (or, with --affinity-maps,
    affinity heat maps)."""
    from ..codec.segment import evaluate_segmenter

    if maps_dir is None and (pixels or log_path):
        raise InputError("--pixels and --log go with --affinity-maps DIR")
    if maps_dir is not None:
        return _affinity_maps(data, dataset, model, val_fraction, device, maps_dir, pixels, count, log_path)
    net = _load(model, device)
    met = evaluate_segmenter(net, data, dataset, val_fraction)
    click.echo(met["table"])
    if json_out:
        Path(json_out).write_text(json.dumps({k: v for k, v in met.items() if k != "table"}, indent=2) + "\n")


def _affinity_maps(data: str, dataset: str | None, model: str, val_fraction: float, device: str, maps_dir: str,
                   pixels: tuple[str, ...], count: int, log_path: str | None) -> None:
    from ..codec.affinity_maps import parse_pixel, plot_training_log, write_affinity_maps

    px = [parse_pixel(p) for p in pixels] or None
    if count < 1:
        raise InputError(f"--count must be at least 1, got {count}")
    log = None
    if log_path:
        try:
            log = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{log_path} is not a JSON-lines log: {e}") from None
        if not log or not all(isinstance(r, dict) and "step" in r for r in log):
            raise InputError(f"{log_path} is not a gcodec train seg log (lines with a step)")
    net = _load(model, device)
    rows = write_affinity_maps(net, data, maps_dir, px, count, dataset, val_fraction)
    for r in rows:
        click.echo(f"{r['image']}: AR term {r['ar_term']:.4f} -> {Path(maps_dir) / r['png']}")
    log = log or net.card.get("log")
    if log:
        click.echo(plot_training_log(log, Path(maps_dir) / "ar_training.png") + f" -> {Path(maps_dir) / 'ar_training.png'}")
    else:
        click.echo(f"{net.card.get('name', model)}'s card records no training log, so there is no AR term over "
                   "training to plot (give a run's log.jsonl with --log)")


@train.command("seg")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--dataset", type=click.Choice(["camvid", "cityscapes"]), default="camvid", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder; resumed if it exists.")
@click.option("--time-budget", default=1300.0, show_default=True, help="Wall-clock seconds for the whole run.")
@click.option("--max-steps", default=0, help="Also stop after this many steps (0: no limit).")
@click.option("--ar-weight", default=0.1, show_default=True, help="Affinity Regression weight in the fine-tune (0: none).")
@click.option("--batch", default=0, help="Batch size (0: 16 on cuda, 4 on cpu).")
@click.option("--lr", default=2e-3, show_default=True)
@click.option("--val-fraction", default=0.0, help="Hold out this tail fraction when the dataset has no val split.")
@click.option("--data-scale", default=1.0, help="Resize the whole dataset on load (0.5 for 2048x1024 Cityscapes).")
@click.option("--device", default="auto", show_default=True)
@click.option("--export", "export_to", default=None, type=click.Path(dir_okay=False),
              help="Export the best model here (safetensors + card) at the end.")
def train_seg(data: str, dataset: str, out: str, time_budget: float, max_steps: int, ar_weight: float, batch: int,
              lr: float, val_fraction: float, data_scale: float, device: str, export_to: str | None) -> None:
    """Train the segmentation network (CE baseline, then CE-only and CE + AR fine-tunes)."""
    from ..codec.device import pick_device
    from ..codec.seg_export import export
    from ..models.train_seg import SegTrainConfig
    from ..models.train_seg import train as run

    for name, value, ok, need in (("--time-budget", time_budget, time_budget > 0, "positive"),
                                  ("--lr", lr, lr > 0, "positive"),
                                  ("--batch", batch, batch >= 0, ">= 0 (0: automatic)"),
                                  ("--max-steps", max_steps, max_steps >= 0, ">= 0 (0: no limit)"),
                                  ("--ar-weight", ar_weight, ar_weight >= 0, ">= 0"),
                                  ("--val-fraction", val_fraction, 0 <= val_fraction < 1, "in [0, 1)"),
                                  ("--data-scale", data_scale, 0 < data_scale <= 1, "in (0, 1]")):
        if not ok:
            raise InputError(f"{name} must be {need}, got {value}")
    device = str(pick_device(device))
    cfg = SegTrainConfig(data=data, dataset=dataset, out=out, time_budget=time_budget, max_steps=max_steps,
                         device=device, batch_size=batch, lr=lr, ar_weight=ar_weight, val_fraction=val_fraction,
                         data_scale=data_scale)
    summary = run(cfg)
    click.echo(f"best val mIoU: baseline {summary.get('best_val_mIoU_baseline')}, "
               f"AR fine-tune {summary.get('best_val_mIoU_ar')}")
    if export_to:
        from ..codec.model_store import write_card

        card = export(out, export_to)
        card.setdefault("training", {})["command"] = _command_line()  # the real command, for the card
        write_card(export_to, card)
        click.echo(f"wrote {export_to}")
