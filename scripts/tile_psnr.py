"""How far a tiled decode is from an untiled one, on a real photo at 2048x2048.

    python scripts/tile_psnr.py [--photo PATH] [--side 2048] [--models gc-c6 layered]
    python scripts/tile_psnr.py --refine 10 --side 0 --models gc-c6 --photo PATH [PATH ...]

Resizes the photo (default: the eval set's urban_img_023.png) to side x side, encodes it with each
model (layered: a base at 1/2 and QP 40 with every latent channel, decoded at R = 1 so the texture
branch runs), then decodes it twice: whole (one window) and in the default tiles
(models/tiling.TILE_PIXELS). Prints PSNR of each decode against the photo and of the tiled decode
against the whole one, and the largest pixel difference. With --refine N (GC models), it instead
encodes each photo (at its own size with --side 0) plainly, with N refinement steps whole, and with
N steps in the default refinement windows, and prints each file's PSNR and bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.layered import codec as layered_codec
from gcodec.codec.layered.base import decode_base, encode_base
from gcodec.codec.registry import resolve_model
from gcodec.models import tiling

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared/data/images/eval/urban_img_023.png"


def decode_pair(model: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whole decode, tiled decode) of one encode of `image`."""
    cpu = torch.device("cpu")
    if model == "layered":
        lm = layered_codec.load_layered(resolve_model(model, kind="layered"), cpu)
        h, w = image.shape[:2]
        base = decode_base(encode_base(image, 2, 40), h, w, 2)
        symbols = layered_codec.latent_symbols(lm, image, base)
        decode = lambda: layered_codec.generate(lm, base, symbols, 1, 1.0, 1)  # noqa: E731
    else:
        gc = gc_codec.load_gc(resolve_model(model, kind="gc"), cpu)
        c = unpack(gc_codec.compress(gc, image))
        decode = lambda: gc_codec.decompress(gc, c)  # noqa: E731
    tiles = decode()
    default, tiling.TILE_PIXELS = tiling.TILE_PIXELS, 1 << 40
    try:
        whole = decode()
    finally:
        tiling.TILE_PIXELS = default
    return whole, tiles


def refine_rows(model: str, image: np.ndarray, steps: int) -> str:
    gc = gc_codec.load_gc(resolve_model(model, kind="gc"), torch.device("cpu"))
    parts = []
    runs = (("plain", tiling.TILE_PIXELS, 0), ("whole", 1 << 40, steps), ("windows", tiling.TILE_PIXELS, steps))
    for label, pixels, n in runs:
        default, tiling.TILE_PIXELS = tiling.TILE_PIXELS, pixels
        try:
            data = gc_codec.compress(gc, image, refine_steps=n)
        finally:
            tiling.TILE_PIXELS = default
        parts.append(f"{label} {psnr(gc_codec.decompress(gc, unpack(data)), image):.3f} dB {len(data)} B")
    return ", ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", type=Path, nargs="+", default=[DEFAULT_PHOTO])
    ap.add_argument("--side", type=int, default=2048, help="resize to side x side; 0 keeps the size")
    ap.add_argument("--refine", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=["gc-c6", "layered"])
    args = ap.parse_args()
    for photo in args.photo:
        image = Image.open(photo).convert("RGB")
        if args.side:
            image = image.resize((args.side, args.side), Image.Resampling.LANCZOS)
        for model in args.models:
            report(model, np.asarray(image), photo.name, args.refine)


def report(model: str, image: np.ndarray, name: str, refine: int) -> None:
    if refine:
        print(f"{name} {model} --refine {refine}: {refine_rows(model, image, refine)}", flush=True)
    else:
        whole, tiles = decode_pair(model, image)
        print(f"{name} {model}: whole {psnr(whole, image):.3f} dB, tiled {psnr(tiles, image):.3f} dB, tiled vs whole "
              f"{psnr(tiles, whole):.2f} dB, max |diff| {np.abs(tiles.astype(int) - whole).max()}", flush=True)


if __name__ == "__main__":
    main()
