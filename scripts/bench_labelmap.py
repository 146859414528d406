"""Label-map codec benchmark: sizes against PNG, WebP, JPEG XL, xz and a pixel coder; speed.

Every map is checked to round-trip exactly through our codec (and the references through
theirs). Prints, per dataset: mean bytes and bpp per codec, our size relative to lossless
JPEG XL (effort 9), and our encode / decode seconds (mean and max).

    python scripts/bench_labelmap.py [--data /work/shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import glob
import io
import lzma
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from gcodec.bitstream.labelmap import decode_labelmap, encode_labelmap

from labelmap_pixel_ref import encode_pixel_ref  # beside this script

DATASETS = {
    "cityscapes-sample gtFine": ["cityscapes-sample/gtFine/*/*_gtFine_labelIds.png"],
    "camvid val+train labels": ["camvid/val/labels/*.png", "camvid/train/labels/*.png"],
}


def _png(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _webp(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(x).convert("RGB").save(buf, format="WEBP", lossless=True, method=6, quality=100)
    return buf.getvalue()


def _check_image(data: bytes, x: np.ndarray, what: str) -> None:
    y = np.array(Image.open(io.BytesIO(data)).convert("L"))
    if not np.array_equal(y, x):
        raise SystemExit(f"{what} did not round-trip")


def bench(files: list[str], name: str, refs: bool) -> None:
    import imagecodecs

    sizes: dict[str, list[int]] = {k: [] for k in ["ours", "pixel ref", "PNG", "WebP", "JXL e9", "xz"]}
    t_enc, t_dec = [], []
    pixels = []
    for f in tqdm(files, desc=name, leave=False):
        x = np.array(Image.open(f))
        if x.ndim != 2 or x.dtype != np.uint8:
            raise SystemExit(f"{f}: not an 8-bit single-channel label map")
        pixels.append(x.size)
        t0 = time.perf_counter()
        data = encode_labelmap(x)
        t1 = time.perf_counter()
        y = decode_labelmap(data, *x.shape)
        t2 = time.perf_counter()
        if not np.array_equal(x, y):
            raise SystemExit(f"{f}: our codec did not round-trip")
        sizes["ours"].append(len(data))
        t_enc.append(t1 - t0)
        t_dec.append(t2 - t1)
        sizes["pixel ref"].append(len(encode_pixel_ref(x)))
        if not refs:
            continue
        png = _png(x)
        _check_image(png, x, "PNG")
        sizes["PNG"].append(len(png))
        webp = _webp(x)
        _check_image(webp, x, "WebP")
        sizes["WebP"].append(len(webp))
        jxl = imagecodecs.jpegxl_encode(x, lossless=True, effort=9)
        if not np.array_equal(np.squeeze(imagecodecs.jpegxl_decode(jxl)), x):
            raise SystemExit("JPEG XL did not round-trip")
        sizes["JXL e9"].append(len(jxl))
        sizes["xz"].append(len(lzma.compress(x.tobytes(), preset=9 | lzma.PRESET_EXTREME)))
    px = float(np.mean(pixels))
    h, w = np.array(Image.open(files[0])).shape
    print(f"\n== {name}: {len(files)} maps, {w}x{h}, all round-trip exactly")
    print(f"{'codec':<10} {'mean bytes':>11} {'bpp':>8}")
    for k, v in sizes.items():
        if v:
            print(f"{k:<10} {np.mean(v):11.1f} {8 * np.sum(v) / np.sum(pixels):8.5f}")
    if sizes["JXL e9"]:
        ratio = np.array(sizes["ours"]) / np.array(sizes["JXL e9"])
        print(f"ours / JXL e9: {np.sum(sizes['ours']) / np.sum(sizes['JXL e9']):.3f} "
              f"(per map: mean {ratio.mean():.3f}, max {ratio.max():.3f})")
    print(f"ours encode s: mean {np.mean(t_enc):.4f} max {np.max(t_enc):.4f}; "
          f"decode s: mean {np.mean(t_dec):.4f} max {np.max(t_dec):.4f}  ({px / 1e6:.2f} Mpx)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=0, help="maps per dataset (0: all)")
    ap.add_argument("--no-refs", action="store_true", help="skip PNG, WebP, JPEG XL and xz")
    args = ap.parse_args()
    data = args.data if os.path.isdir(args.data) else "/work/shared/data"
    for name, patterns in DATASETS.items():
        files = [f for p in patterns for f in sorted(glob.glob(os.path.join(data, p)))]
        if args.limit:
            files = files[: args.limit]
        if not files:
            print(f"== {name}: no files under {data}")
            continue
        bench(files, name, not args.no_refs)


if __name__ == "__main__":
    main()
