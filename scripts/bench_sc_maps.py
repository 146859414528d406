"""Lossy label maps for SC files: bytes against pixel agreement, two ways to simplify.

- grid: the map on a coarse grid of CELL-pixel cells (majority class), coded losslessly at
  the coarse size and expanded by the bilinear vote of `bitstream/labelmap/grid.py`: what
  `--map-tolerance CELL` writes;
- mode: boundaries simplified at full resolution by a SIZE x SIZE majority (mode) filter,
  then coded losslessly at full size.

Agreement is the share of pixels whose decoded class equals the original's.

    python scripts/bench_sc_maps.py --data ../shared/data/camvid/val/labels
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tqdm import tqdm

from gcodec.bitstream.labelmap import decode_labelmap, encode_labelmap, grid


def grid_round_trip(labels: np.ndarray, cell: int) -> tuple[int, np.ndarray]:
    coarse = grid.coarsen(labels, cell)
    data = encode_labelmap(coarse)
    return len(data) + 1, grid.expand(decode_labelmap(data, *coarse.shape), cell, *labels.shape)


def mode_round_trip(labels: np.ndarray, size: int) -> tuple[int, np.ndarray]:
    simple = np.asarray(Image.fromarray(labels).filter(ImageFilter.ModeFilter(size)))
    data = encode_labelmap(simple)
    return len(data), decode_labelmap(data, *labels.shape)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="Folder of single-channel class-id PNGs.")
    ap.add_argument("--cells", default="2,3,4,6,8")
    ap.add_argument("--modes", default="3,5,7,9,13")
    args = ap.parse_args()
    files = sorted(Path(args.data).glob("*.png"))
    if not files:
        raise SystemExit(f"{args.data}: no PNG label maps")
    maps = [np.asarray(Image.open(f)) for f in files]
    pixels = sum(m.size for m in maps)
    rows = [("lossless", 0, lambda m, _: (len(encode_labelmap(m)), m))]
    rows += [("grid", int(c), grid_round_trip) for c in args.cells.split(",")]
    rows += [("mode", int(s), mode_round_trip) for s in args.modes.split(",")]
    print(f"{len(maps)} maps from {args.data}; bytes per map, bpp, pixel agreement")
    print(f"{'method':<9} {'param':>5} {'bytes':>7} {'bpp':>7} {'agreement':>9}")
    for method, param, fn in tqdm(rows, desc="settings", leave=False):
        total, agree = 0, 0
        for m in maps:
            n, decoded = fn(m, param)
            total += n
            agree += int((decoded == m).sum())
        print(f"{method:<9} {param:>5} {total / len(maps):>7.0f} {8 * total / pixels:>7.4f} {agree / pixels:>9.4f}",
              flush=True)


if __name__ == "__main__":
    main()
