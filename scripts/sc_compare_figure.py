"""Several SC models side by side on one photo with the same classes synthesized.

    python scripts/sc_compare_figure.py IMAGE LABELS --synthesize sky,tree,road \
        --model "stage 2=OLD/sc-camvid-c6.safetensors" --model "shipped=sc-camvid-c6" -o docs/fig.png

Each --model is LABEL=NAME_OR_PATH (a shipped name or a .safetensors file with its card).
Panels: the original, then each model's decode, captioned with its label, the file's bpp, and
the synthesized pixels' texture retention and tile repetition (as `gcodec eval-sc` measures them).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw

from gcodec.bitstream.container import unpack
from gcodec.codec import sc_codec, sc_selection
from gcodec.codec.api import Codec
from gcodec.codec.eval.sc import synthesis_measures
from gcodec.codec.registry import resolve_model

CAPTION = 16  # pixels under each panel


def decode_with(model: str, image: np.ndarray, labels: np.ndarray, classes: str) -> tuple[np.ndarray, str]:
    codec = Codec(torch.device("cpu"))
    sc = codec.sc(resolve_model(model, kind="sc"))
    data = sc_codec.compress(sc, image, labels, sc_selection.parse_classes(classes, sc.class_names))
    c = unpack(data)
    out = sc_codec.decompress(sc, c, detail=codec.detail(sc.ref, None))  # its detail stage's default R
    preserved = sc_codec.preserved_pixels(sc_codec.decode_parts(sc, c).heat, *labels.shape)
    m = synthesis_measures(out, image, preserved)
    bpp = 8 * len(data) / labels.size
    return out, f"{bpp:.4f} bpp, texture {m['texture_synth']:.2f}, tile rep. {m['tile_repeat_synth']:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("labels")
    ap.add_argument("--synthesize", default="sky,tree,road")
    ap.add_argument("--model", action="append", required=True, help="LABEL=NAME_OR_PATH (repeat)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    image = np.asarray(Image.open(args.image).convert("RGB"))
    labels = np.asarray(Image.open(args.labels))
    panels = [(image, "original")]
    for spec in args.model:
        label, _, model = spec.partition("=")
        out, caption = decode_with(model, image, labels, args.synthesize)
        panels.append((out, f"{label}: {caption}"))
    h, w = labels.shape
    sheet = Image.new("RGB", (len(panels) * (w + 8) - 8, h + CAPTION), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (img, caption) in enumerate(panels):
        sheet.paste(Image.fromarray(img), (k * (w + 8), 0))
        draw.text((k * (w + 8) + 2, h + 2), caption, fill="black")
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
