"""The layered codec's done-when table from a `gcodec eval` results file.

    python scripts/layered_report.py results_layered.json

Per --bpp target: the mean bpp over the images and the worst image's deviation from the target
(rate control's promise is +-5%), then, at each realism R, mean PSNR / MS-SSIM / texture
retention beside the best classical codec at the same mean bpp (log-bpp interpolation of each
classical curve in the file; the best is taken per metric) and gc-c6's curve where it reaches.
"""

from __future__ import annotations

import argparse
import json
import math

from gcodec.codec.eval.report import curve_arrays
from gcodec.codec.eval.metrics import log_bpp_interp

METRICS = (("psnr", "PSNR", ".2f"), ("ms_ssim", "MS-SSIM", ".4f"), ("texture_retention", "texture", ".3f"))


def best_classical(codecs: dict, key: str, bpp: float) -> tuple[float, str]:
    best = (-math.inf, "-")
    for name, entry in codecs.items():
        if name.startswith(("layered", "gcodec")):
            continue
        v = log_bpp_interp(*curve_arrays(entry, key), bpp)
        if math.isfinite(v) and v > best[0]:
            best = (v, name)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    args = ap.parse_args()
    res = json.load(open(args.results))
    codecs = res["codecs"]
    layered = {n: e for n, e in codecs.items() if n.startswith("layered")}
    gc = {n: e for n, e in codecs.items() if n.startswith("gcodec")}
    first = next(iter(layered.values()))
    for point in first["curve"]:
        target = point["setting"]
        rows = [r for r in first["per_image"] if r["setting"] == target]
        dev = max(abs(r["bpp"] / target - 1) for r in rows)
        bpp = point["bpp"]
        print(f"--bpp {target:g}: mean {bpp:.4f} bpp over {len(rows)} images, worst deviation {100 * dev:.1f}%")
        for key, title, spec in METRICS:
            cells = []
            for name, entry in layered.items():
                p = next(q for q in entry["curve"] if q["setting"] == target)
                cells.append(f"{name.rsplit('-', 1)[1]} {format(p[key], spec)}")
            v, who = best_classical(codecs, key, bpp)
            ref = f"best classical {format(v, spec)} ({who})" if math.isfinite(v) else "no classical curve reaches"
            for name, entry in gc.items():
                g = log_bpp_interp(*curve_arrays(entry, key), bpp)
                if math.isfinite(g):
                    ref += f"; {name} {format(g, spec)}"
            print(f"  {title:<8} " + ", ".join(cells) + f"   | {ref}")


if __name__ == "__main__":
    main()
