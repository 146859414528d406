"""Benchmark: the encoder's per-image band-gain search (codec/layered/gains.py) alone.

Rate control runs first (not timed); then the search is timed on the chosen operating point.

    python scripts/bench_gains.py --data ../shared/data/images/eval --pick ::6 --bpp 0.02,0.08 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gcodec.codec.eval.images import list_images, load_rgb
from gcodec.codec.layered import codec as lc
from gcodec.codec.layered.gains import choose_gains
from gcodec.codec.layered.rate import compress_to
from gcodec.codec.registry import DEFAULT_IMAGE_MODEL, resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--pick", default="::6", help="a Python slice of the folder's sorted image list")
    ap.add_argument("--model", default=DEFAULT_IMAGE_MODEL)
    ap.add_argument("--bpp", default="0.02,0.08")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = lc.load_layered(resolve_model(args.model, kind="layered"), torch.device("cpu"))
    paths = list_images([args.data])[slice(*[int(v) if v else None for v in args.pick.split(":")])]
    for bpp in (float(b) for b in args.bpp.split(",")):
        seconds = []
        for p in paths:
            image = load_rgb(p)
            _, point = compress_to(lm, image, bpp=bpp)
            t0 = time.perf_counter()
            symbols = lc.decoder_symbols(lm, point.symbols, point.channels, *image.shape[:2])
            gains = choose_gains(lm, image, point.base, symbols, point.scale)
            seconds.append(time.perf_counter() - t0)
            print(f"{p.name} {image.shape[1]}x{image.shape[0]} --bpp {bpp:g}: scale 1/{point.scale}, "
                  f"gain codes {gains}, {seconds[-1]:.2f} s", flush=True)
        print(f"--bpp {bpp:g}: gain search median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s "
              f"({len(seconds)} images, {args.threads} threads)")


if __name__ == "__main__":
    main()
