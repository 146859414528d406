"""Decode speed of the shipped layered, GC and SC models: images per second and ms per megapixel.

    python scripts/bench_decode.py [--device cpu|cuda] [--threads 2] [--size 768x512] [--repeats 5] [--half]
        [--only layered]

Layered models: one file per base scale (QP chosen for about 0.03 bpp), each timed at R = 0 and
R = 1, split into the VVC base decode (ffmpeg, with Lanczos upscaling) and the generator.

Encodes one real photo (a committed fixture, resized) with each model, then times
`decode` (entropy decoding + generator) end to end. With --device cuda it also
times reduced-precision decoding (float16) and reports its PSNR change against fp32;
--half does the same on a CPU (bfloat16, fast only where the CPU has bf16 instructions).
SC models decode a CamVid fixture (480x360) with its label map, once with every cell
coded and once with sky+tree+road synthesized (then the model's detail stage, if installed, draws
texture there at its default R; label-map decoding included in both).
Prints medians; machines here are noisy, so run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec, sc_codec, sc_selection
from gcodec.codec.api import Codec
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.registry import shipped_models

FIXTURES = Path(__file__).resolve().parent.parent / "tests/fixtures"
SAMPLE = FIXTURES / "sample_481x321.jpg"
STREET, STREET_LABELS = FIXTURES / "camvid_0016E5_07959.jpg", FIXTURES / "labelmap_camvid_0016E5_07959.png"


def _median_seconds(decode: Callable[[], np.ndarray], repeats: int, device: torch.device) -> tuple[float, np.ndarray]:
    """Median wall time of `decode()` after one warm-up call, and its last output."""
    out = decode()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = decode()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_sc(device: torch.device, repeats: int) -> None:
    image = np.asarray(Image.open(STREET).convert("RGB"))
    labels = np.asarray(Image.open(STREET_LABELS))
    h, w = labels.shape
    codec = Codec(device)
    for ref in shipped_models("sc"):
        sc = sc_codec.load_sc(ref, device)
        detail = codec.detail(ref, None)  # its detail stage at the default R, or None
        for setting, spec in (("no synthesis", ""), ("sky+tree+road", "sky,tree,road")):
            ids = sc_selection.parse_classes(spec, sc.class_names) if spec else []
            c = unpack(sc_codec.compress(sc, image, labels, ids))
            t, out = _median_seconds(lambda: sc_codec.decompress(sc, c, detail=detail), repeats, device)
            print(f"{ref.name} {setting:14s} ({w}x{h}, R={detail[1] if detail else 0:g}): decode {1000 * t:7.1f} ms "
                  f"({1000 * t / (w * h / 1e6):7.1f} ms/MP), PSNR {psnr(out, image):.2f} dB")


def bench_layered(image: np.ndarray, device: torch.device, repeats: int) -> None:
    from gcodec.codec.layered import codec as lc
    from gcodec.codec.layered.base import decode_base

    h, w = image.shape[:2]
    for ref in shipped_models("layered"):
        lm = lc.load_layered(ref, device)
        for scale, qp in ((1, 55), (2, 46), (4, 38)):
            data = lc.compress_at(lm, image, scale, qp)
            c = unpack(data)
            p, symbols = lc.parse(lm, c)
            t_base, base = _median_seconds(lambda: decode_base(p.base, h, w, p.scale), repeats, device)
            for realism in (0.0, 1.0):
                t_gen, _ = _median_seconds(lambda: lc.generate(lm, base, symbols, 0, realism, p.scale, gains=p.gains), repeats, device)
                t_all, out = _median_seconds(lambda: lc.decompress(lm, c, realism), repeats, device)
                print(f"{ref.name} scale 1/{scale} QP {qp} ({8 * len(data) / (h * w):.3f} bpp) R={realism:g}: "
                      f"decode {1000 * t_all:7.1f} ms = base {1000 * t_base:6.1f} ms + generator "
                      f"{1000 * t_gen:6.1f} ms (+ entropy decoding); PSNR {psnr(out, image):.2f} dB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", default="768x512")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--half", action="store_true", help="also time reduced precision on a CPU")
    ap.add_argument("--only", choices=["layered", "gc", "sc"], default=None, help="time one kind of model")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.split("x"))
    image = np.asarray(Image.open(SAMPLE).convert("RGB").resize((w, h), Image.LANCZOS))
    device = torch.device(args.device)
    print(f"device {device}, {args.threads} threads, {w}x{h}, median of {args.repeats}")
    if args.only in (None, "layered"):
        bench_layered(image, device, args.repeats)
    gc_models = shipped_models("gc") if args.only in (None, "gc") else []
    for ref in sorted(gc_models, key=lambda m: m.card["config"]["channels"]):
        gc = gc_codec.load_gc(ref, device)
        c = unpack(gc_codec.compress(gc, image))
        modes = [False, True] if device.type == "cuda" or args.half else [False]
        base = None
        for half in modes:
            gc_codec.decompress(gc, c, half=half)  # warm-up
            ent, total = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                gc_codec.decode_latents(gc, c)
                t1 = time.perf_counter()
                out = gc_codec.decompress(gc, c, half=half)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t2 = time.perf_counter()
                ent.append(t1 - t0)
                total.append(t2 - t1)
            t = statistics.median(total)
            q = psnr(out, image)
            base = q if base is None else base
            extra = f", PSNR change vs fp32 {q - base:+.3f} dB" if half else ""
            print(f"{ref.name:8s} {'half' if half else 'fp32'}: decode {1000 * t:7.1f} ms "
                  f"({1 / t:6.2f} images/s, {1000 * t / (w * h / 1e6):7.1f} ms/MP), "
                  f"entropy decoding {1000 * statistics.median(ent):5.2f} ms, PSNR {q:.2f} dB{extra}")
    if args.only in (None, "sc"):
        bench_sc(device, args.repeats)


if __name__ == "__main__":
    main()
