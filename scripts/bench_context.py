"""Context model vs static per-channel tables on the eval photos: latent bits, file bpp, decode time.

For each model, the same symbols are coded under its static per-channel tables (section
tag 1) and under its context tables (tag 2): those of the shipped file, or with
--ctx-weights those of a file written by scripts/learn_context_tables.py (the networks
are the same, so the eval photos give the same symbols). This codes them both ways and
prints the real payload sizes (not ideal bits), whole-file bpp, and how long
`gc_codec.decode_latents` takes (median of --reps runs) on 768x512 photos.

An SC model is measured on labelled photos (--eval a CamVid-layout folder) in the three
settings of `gcodec eval-sc`: every cell coded, sky+tree+road synthesized, the centred box
preserved; synthesized cells are skipped by both coders.

Usage: python scripts/bench_context.py [--ctx-weights /work/results/ctx_weights] \
           [--models gc-c3 gc-c6 gc-c10] [--eval ../shared/data/images/eval]
       python scripts/bench_context.py --models sc-camvid-c6 --eval ../shared/data/camvid/val
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from gcodec.bitstream.container import Container, PayloadKind, pack, unpack
from gcodec.codec import sc_codec, sc_selection
from gcodec.codec.context_tables import image_paths, image_symbols, load_labels, load_photo, sc_image_symbols
from gcodec.codec.eval.sc import SETTINGS, centre_box, setting_selections
from gcodec.codec.gc_codec import decode_latents, latent_section, load_gc
from gcodec.codec.image_io import labelled_pairs
from gcodec.codec.registry import resolve_model


def file_bytes(gc, symbols: np.ndarray, size: tuple[int, int]) -> bytes:
    return pack(Container(PayloadKind.GC_IMAGE, size, gc.ref.name, gc.ref.digest, (latent_section(gc, symbols),)))


def median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def with_and_without_context(name: str, kind: str, ctx_weights: str | None):
    """(static, context) views of one model: the same networks and static tables, with and without
    context tables (the shipped file's own, or those of the file of that name in `ctx_weights`)."""
    ref = resolve_model(name, kind=kind)
    if ctx_weights:
        ref = resolve_model(str(Path(ctx_weights) / ref.path.name), kind=kind)
    ctx = (sc_codec.load_sc if kind == "sc" else load_gc)(ref, torch.device("cpu"))
    if ctx.context_tables is None:
        raise SystemExit(f"{ref.path} has no context tables")
    return dataclasses.replace(ctx, context_tables=None), ctx


def bench_sc(name: str, ctx_weights: str | None, folder: str) -> None:
    """Static vs context latent bytes of an SC model in each eval-sc setting (real payloads, checked to decode)."""
    static, ctx = with_and_without_context(name, "sc", ctx_weights)
    sky_tree_road = sc_selection.parse_classes("sky,tree,road", ctx.class_names)
    totals = {s: [0, 0] for s in SETTINGS}
    pairs = labelled_pairs(folder)
    for img_path, lab_path in pairs:
        image, labels = load_photo(img_path), load_labels(lab_path)
        sym = sc_image_symbols(ctx, image, labels)
        h, w = labels.shape
        padded = sc_codec.pad_labels(labels)
        selections = setting_selections(ctx.cfg.classes, sky_tree_road, centre_box(h, w, 0.5))
        for setting in SETTINGS:
            ids, boxes = selections[setting]
            heat = sc_codec.heatmap(padded, ctx.cfg.classes, ids, boxes)
            for i, model in enumerate((static, ctx)):
                tag, payload = sc_codec.latent_section(model, sym, heat)
                c = Container(PayloadKind.SC_IMAGE, (h, w), model.ref.name, model.ref.digest, ((tag, payload),))
                assert np.array_equal(sc_codec.decode_latents(model, c, heat)[:, heat], sym[:, heat])
                totals[setting][i] += 8 * len(payload)
    print(f"{name}: {len(pairs)} labelled photos from {folder}; latent bits are real ANS payload sizes")
    for setting, (sb, cb) in totals.items():
        print(f"  {setting:14s} static {sb:9d} bits, context {cb:9d} bits, saving {100 * (1 - cb / sb):6.2f}%",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ctx-weights", default=None,
                    help="folder with NAME.safetensors holding context tables (default: the shipped files' own)")
    ap.add_argument("--models", nargs="+", default=["gc-c3", "gc-c6", "gc-c10"])
    ap.add_argument("--eval", default="../shared/data/images/eval")
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    sc_models = [m for m in args.models if resolve_model(m).kind == "sc"]
    for name in sc_models:
        bench_sc(name, args.ctx_weights, args.eval)
    args.models = [m for m in args.models if m not in sc_models]
    if not args.models:
        return
    paths = image_paths(args.eval)
    photos = [load_photo(p) for p in paths]
    pixels = sum(im.shape[0] * im.shape[1] for im in photos)
    print(f"{len(photos)} eval photos from {args.eval}; latent bits are real ANS payload sizes")
    print(f"{'model':8s} {'static bits':>12s} {'context bits':>12s} {'saving':>7s} {'static bpp':>10s} {'ctx bpp':>8s}"
          f" {'decode ms 768x512 static / ctx':>31s} {'worst img saving':>16s}")
    for name in args.models:
        static, ctx = with_and_without_context(name, "gc", args.ctx_weights)
        sb = cb = sfile = cfile = 0
        per_image, t_static, t_ctx = [], [], []
        for im in photos:
            sym = image_symbols(ctx, im)
            size = im.shape[:2]
            fs, fc = file_bytes(static, sym, size), file_bytes(ctx, sym, size)
            cs, cc = unpack(fs), unpack(fc)
            assert np.array_equal(decode_latents(ctx, cc), sym) and np.array_equal(decode_latents(static, cs), sym)
            s_bits, c_bits = 8 * len(cs.sections[0][1]), 8 * len(cc.sections[0][1])
            sb, cb, sfile, cfile = sb + s_bits, cb + c_bits, sfile + len(fs), cfile + len(fc)
            per_image.append(1 - c_bits / s_bits)
            if size == (512, 768):
                t_static.append(median_ms(lambda: decode_latents(static, cs), args.reps))
                t_ctx.append(median_ms(lambda: decode_latents(ctx, cc), args.reps))
        timing = f"{np.median(t_static):.2f} / {np.median(t_ctx):.2f} (n={len(t_ctx)})" if t_ctx else "no 768x512 photo"
        print(f"{name:8s} {sb:12d} {cb:12d} {100 * (1 - cb / sb):6.2f}% {8 * sfile / pixels:10.5f} {8 * cfile / pixels:8.5f}"
              f" {timing:>31s} {100 * min(per_image):15.2f}%", flush=True)


if __name__ == "__main__":
    main()
