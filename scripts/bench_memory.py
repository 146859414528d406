"""Peak memory and time of `gcodec encode` / `gcodec decode` by image size, as a user runs them.

    python scripts/bench_memory.py [--mp 1 4 16 64] [--models layered gc-c6 sc-camvid-c6]
        [--photo PATH] [--threads 2] [--work DIR] [--extra-args ...]

Each test image is a real photo (default: the eval set's urban_img_023.png, 768x768, from
/work/shared/data) resized with Lanczos to a square of the given megapixels (2^20 pixels each). Every encode and
decode runs as its own `gcodec` process; its peak memory is the maximum resident set size that
the kernel reports for it when it ends (os.wait4, the number `/usr/bin/time -v` prints as
"Maximum resident set size"; for layered files it covers the ffmpeg child processes too, as their
maximum, not their sum). SC runs get a label map of two classes split by a horizontal line,
the top third 'sky' and synthesized, so the detail stage (if installed) runs too. Run one benchmark at a time: two 64-megapixel runs at once can exhaust a 24 GB machine.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared/data/images/eval/urban_img_023.png"


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in GB, wall seconds) of one command; raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return usage.ru_maxrss / 1e6, seconds  # ru_maxrss is in KiB on Linux


def make_inputs(photo: Path, mp: float, work: Path, sc: bool) -> tuple[Path, Path | None]:
    side = int(round(math.sqrt(mp * 2**20) / 16) * 16)  # 1, 4, 16, 64 MP: 1024, 2048, 4096, 8192 px
    path = work / f"photo_{side}.png"
    if not path.exists():
        Image.open(photo).convert("RGB").resize((side, side), Image.Resampling.LANCZOS).save(path, compress_level=1)
    labels = None
    if sc:
        labels = work / f"labels_{side}.png"
        if not labels.exists():
            lab = np.full((side, side), 4, np.uint8)  # CamVid 'building'
            lab[: side // 3] = 0  # 'sky', synthesized
            Image.fromarray(lab, "L").save(labels)
    return path, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--models", nargs="+", default=["layered", "gc-c6"])
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS for each gcodec process")
    ap.add_argument("--work", type=Path, default=Path("/tmp/gcodec_bench_memory"))
    ap.add_argument("--extra-args", default="", help="more encode options, e.g. '--refine 5'")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    gcodec = [str(Path(sys.executable).with_name("gcodec"))]  # the console script beside this python
    print(f"{'model':<14} {'size':>11} {'MP':>6} {'enc GB':>7} {'enc s':>7} {'dec GB':>7} {'dec s':>7}", flush=True)
    for mp in args.mp:
        for model in args.models:
            sc = model.startswith("sc-")
            photo, labels = make_inputs(args.photo, mp, args.work, sc)
            side = Image.open(photo).size[0]
            out = args.work / f"{model}_{side}.gcodec"
            enc = [*gcodec, "encode", str(photo), "-o", str(out), "--force", "-m", model, *args.extra_args.split()]
            if sc:
                enc += ["--semantic", str(labels), "--synthesize", "sky"]
            enc_gb, enc_s = run_measured(enc, env)
            dec_gb, dec_s = run_measured([*gcodec, "decode", str(out), "-o", str(args.work / f"{model}_{side}.png"),
                                          "--force"], env)
            print(f"{model:<14} {f'{side}x{side}':>11} {side * side / 1e6:>6.1f} {enc_gb:>7.2f} {enc_s:>7.1f} "
                  f"{dec_gb:>7.2f} {dec_s:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
