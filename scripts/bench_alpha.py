"""Bytes of an alpha plane under each code the source-planes section could use (FORMAT.md, "Source planes").

    python scripts/bench_alpha.py IMAGE.png [IMAGE.png ...]

For each RGBA / LA / transparent-palette image: its size, the number of alpha levels, and the bytes of the
plane as the label-map chain code (bitstream/labelmap/), raw LZMA2 (the section's settings), zlib level 9
and bz2 level 9, with the encoder's label-map time. The section stores the smaller of the first two.
"""

from __future__ import annotations

import argparse
import bz2
import time
import zlib
from pathlib import Path

import numpy as np

from gcodec.bitstream.planes import _alpha_candidates
from gcodec.codec.image_io import read_bytes, read_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    print(f"{'image':32s} {'size':>10s} {'levels':>6s} {'labelmap':>9s} {'lzma':>7s} {'zlib':>7s} {'bz2':>7s} {'lm s':>6s}")
    for path in args.images:
        alpha = read_image(read_bytes(path), path).alpha
        if alpha is None:
            print(f"{Path(path).name:32s} opaque: no alpha plane to store")
            continue
        t0 = time.perf_counter()
        lm, lz = _alpha_candidates(alpha)
        secs = time.perf_counter() - t0
        raw = alpha.tobytes()
        h, w = alpha.shape
        print(f"{Path(path).name[:32]:32s} {f'{w}x{h}':>10s} {len(np.unique(alpha)):6d} {len(lm) - 1:9d} {len(lz) - 1:7d} "
              f"{len(zlib.compress(raw, 9)):7d} {len(bz2.compress(raw, 9)):7d} {secs:6.2f}")


if __name__ == "__main__":
    main()
