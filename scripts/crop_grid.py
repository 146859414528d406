"""Side-by-side crops at matched rate: original | gcodec | AVIF (full size) | AVIF (downscaled x2).

    python scripts/crop_grid.py IMAGE --model gc-c6 --crop X,Y,W,H -o docs/crops.png
    python scripts/crop_grid.py IMAGE --model layered-c4 --bpp 0.03 --realism 0,0.6 --codecs vvc \
        --also gc-c6 --crop X,Y,W,H -o docs/crops_layered.png
    python scripts/crop_grid.py IMAGE --model sc-camvid-c6-grid3 --labels MAP --synthesize sky,tree,road \
        --realism 0,1 --codecs "" --crop X,Y,W,H -o docs/sc_crops.png

A layered model is encoded at `--bpp`, a GC model at its own rate; either is shown once per
`--realism` value (GC models: R > 0 needs a detail stage); `--also` adds other gcodec models at
their own rate (and default decode). An SC model takes the photo's label map (`--labels`) and the
classes to synthesize (`--synthesize`).

For each classical codec the setting whose whole-file bpp on this image is closest to
gcodec's (not above it when possible) is chosen; each panel is labelled with its bpp,
PSNR and texture retention (EVAL.md).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw

from gcodec.codec.api import Codec
from gcodec.codec.registry import resolve_model
from gcodec.codec.sc_codec import class_names_for
from gcodec.codec.sc_selection import parse_classes
from gcodec.codec.eval import classical
from gcodec.codec.eval.metrics import psnr, texture_retention


def closest(name: str, image: np.ndarray, target_bpp: float) -> tuple[float, np.ndarray, int]:
    h, w = image.shape[:2]
    best = None
    for s in classical.settings_of(name):
        data, dec = classical.roundtrip(name, image, s)
        b = 8 * len(data) / (h * w)
        key = (b > target_bpp * 1.05, abs(np.log(b / target_bpp)))
        if best is None or key < best[0]:
            best = (key, b, dec, s)
    return best[1], best[2], best[3]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--model", default="gc-c6")
    ap.add_argument("--crop", default="0,0,256,256")
    ap.add_argument("--codecs", default="avif,avif-ds2")
    ap.add_argument("--refine", type=int, default=0, help="also show gcodec with this many refinement steps")
    ap.add_argument("--bpp", type=float, default=None, help="layered models: the rate to encode at")
    ap.add_argument("--realism", default="0", help="comma-separated R values, one panel each (GC models: with a "
                    "detail stage)")
    ap.add_argument("--also", default="", help="comma-separated gcodec models shown at their own rate")
    ap.add_argument("--labels", default=None, help="SC models: the photo's label map (class ids)")
    ap.add_argument("--synthesize", default="", help="SC models: comma-separated classes to synthesize")
    ap.add_argument("--zoom", type=int, default=1, help="enlarge each crop this many times (nearest neighbour)")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    image = np.asarray(Image.open(args.image).convert("RGB"))
    h, w = image.shape[:2]
    codec = Codec(torch.device("cpu"))
    if args.labels:
        labels = np.asarray(Image.open(args.labels))
        ref = resolve_model(args.model, kind="sc")
        names = class_names_for(ref.card, ref.card["config"]["classes"])
        ids = parse_classes(args.synthesize, names) if args.synthesize else []
        data = codec.encode_semantic(image, labels, args.model, ids)
    else:
        data = codec.encode_image(image, args.model, bpp=args.bpp)
    panels = [("original", image)]
    for r in (float(v) for v in args.realism.split(",")):
        panels.append((f"{args.model} R={r:g}: {8 * len(data) / (h * w):.3f} bpp", codec.decode(data, realism=r)[1]))
    if args.refine > 0:
        refined = codec.encode_image(image, args.model, args.refine)
        panels.append((f"gcodec refine {args.refine}: {8 * len(refined) / (h * w):.3f} bpp", codec.decode(refined)[1]))
    for name in filter(None, args.codecs.split(",")):
        b, dec, s = closest(name, image, 8 * len(data) / (h * w))
        panels.append((f"{name} ({s}): {b:.3f} bpp", dec))
    for name in filter(None, args.also.split(",")):
        other = codec.encode_image(image, name)
        panels.append((f"gcodec {name}: {8 * len(other) / (h * w):.3f} bpp", codec.decode(other)[1]))
    x, y, cw, ch = (int(v) for v in args.crop.split(","))
    tiles = []
    for label, img in panels:
        tile = Image.fromarray(img[y : y + ch, x : x + cw]).resize((cw * args.zoom, ch * args.zoom), Image.NEAREST)
        if label != "original":
            label += f"\nPSNR {psnr(img, image):.2f} dB, texture {texture_retention(img, image):.2f}"
        canvas = Image.new("RGB", (tile.width, tile.height + 34), "white")
        canvas.paste(tile, (0, 34))
        ImageDraw.Draw(canvas).multiline_text((4, 2), label, fill="black")
        tiles.append(canvas)
    grid = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), tiles[0].height), "white")
    for i, t in enumerate(tiles):
        grid.paste(t, (i * (t.width + 4), 0))
    grid.save(args.out)
    print(f"wrote {args.out}: " + "; ".join(p[0] for p in panels[1:]))


if __name__ == "__main__":
    main()
