"""Video methods at equal wall time: PSNR against training seconds, with repeats.

Runs `gcodec eval-video` once per (clip, method, budget, seed), JOBS at a time, each on one
thread, and skips runs whose results.json exists (re-run the command to resume). Then prints
one Markdown table (mean PSNR over seeds, min..max when repeated; x264 and x265 interpolated
at the target bpp) and draws PSNR against seconds per clip. A budget ending in "ep" is a
number of epochs instead of seconds (an equal-epochs row; not plotted).

    python scripts/video_time_table.py --out ~/runs/video-time --budgets 60,240,900,50ep --seeds 1,2 \\
        --plot docs/video_time.png

Clips (the issue's): bikes cut to 480x270 and 60 frames, carphone, bunny at 256x144.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gcodec.codec.eval.video import interp_log_bpp

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "video"
CLIPS = {
    "bikes": ["bikes.mp4", "--resize", "480x270", "--max-frames", "60"],
    "carphone": ["carphone_pristine.mp4"],
    "bunny": ["bigbuckbunny.mp4", "--resize", "256x144"],
}


def run_dir(out: Path, clip: str, method: str, budget: str, seed: int) -> Path:
    return out / f"{clip}-{method}-{budget if budget.endswith('ep') else f'{float(budget):g}s'}-seed{seed}"


def budget_args(budget: str) -> list[str]:
    return ["--epochs", budget[:-2]] if budget.endswith("ep") else ["--time-budget", budget]


def run_one(out: Path, data: Path, clip: str, method: str, budget: str, seed: int, bpp: float,
            anchors: bool) -> Path:
    d = run_dir(out, clip, method, budget, seed)
    if (d / "results.json").is_file():
        return d
    name, *extra = CLIPS[clip]
    cmd = [sys.executable, "-m", "gcodec", "eval-video", "--data", str(data / name), *extra, "--bpp", str(bpp),
           *budget_args(budget), "--threads", "1", "--methods", method, "--seed", str(seed),
           "--anchors", "x264,x265" if anchors else "none", "--quiet", "--out", str(d)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "log.txt", "w") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return d


def load(d: Path) -> dict:
    return json.loads((d / "results.json").read_text())[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--clips", default="bikes,carphone,bunny")
    ap.add_argument("--methods", default="supermask,dense,sparse")
    ap.add_argument("--budgets", default="60,240,900", help="training seconds, comma-separated")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--bpp", type=float, default=0.1)
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (one thread each)")
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--report-only", action="store_true", help="print the table of the runs found, run nothing")
    args = ap.parse_args()
    clips, methods = args.clips.split(","), args.methods.split(",")
    budgets = [b.strip() for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    # x264 and x265 ride on the first run of a clip that no earlier run measured them for
    todo = [(c, m, b, s, anchor_psnr(args.out, c, "x264", args.bpp) is None
             and (m, b, s) == (methods[0], budgets[0], seeds[0]))
            for b in budgets for s in seeds for c in clips for m in methods]
    with ThreadPoolExecutor(args.jobs if not args.report_only else 1) as pool:
        todo = [] if args.report_only else todo
        for d in pool.map(lambda r: run_one(args.out, args.data, *r[:4], args.bpp, r[4]), todo):
            print(f"done {d.name}", file=sys.stderr, flush=True)
    print(table(args.out, clips, methods, budgets, seeds, args.bpp))
    if args.plot:
        plot(args.out, clips, methods, budgets, seeds, args.plot)


def points(out: Path, clip: str, method: str, budget: str, seeds: list[int]) -> list[dict]:
    found = [run_dir(out, clip, method, budget, s) for s in seeds]
    return [load(d)["codecs"][f"gcodec-{method}"]["points"][0] for d in found if (d / "results.json").is_file()]


def anchor_psnr(out: Path, clip: str, name: str, bpp: float) -> float | None:
    """The anchor's PSNR at `bpp` from whichever run of the clip measured it."""
    for d in sorted(out.glob(f"{clip}-*/results.json")):
        e = json.loads(d.read_text())[0]["codecs"].get(name)
        if e:
            return interp_log_bpp(e["points"], bpp, "psnr")
    return None


def table(out: Path, clips: list[str], methods: list[str], budgets: list[str], seeds: list[int], bpp: float) -> str:
    head = ["clip", "budget"] + methods + [f"x264 @ {bpp:g}", f"x265 @ {bpp:g}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for clip in clips:
        anchors = [anchor_psnr(out, clip, a, bpp) for a in ("x264", "x265")]
        for b in budgets:
            row = [clip, b.replace("ep", " epochs") if b.endswith("ep") else f"{float(b):g} s"]
            for m in methods:
                pts = points(out, clip, m, b, seeds)
                if not pts:
                    row.append("-")
                    continue
                p = [q["psnr"] for q in pts]
                spread = f" ({min(p):.2f}..{max(p):.2f})" if len(p) > 1 else ""
                row.append(f"{np.mean(p):.2f}{spread} @ {np.mean([q['bpp'] for q in pts]):.3f}")
            row += [f"{a:.2f}" if a is not None else "-" for a in anchors]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot(out: Path, clips: list[str], methods: list[str], budgets: list[str], seeds: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gcodec.codec.eval.plots import save_figure

    fig, axes = plt.subplots(1, len(clips), figsize=(4.8 * len(clips), 4.0), squeeze=False)
    for ax, clip in zip(axes[0], clips):
        for i, m in enumerate(methods):
            xs, mean, lo, hi = [], [], [], []
            for b in (b for b in budgets if not b.endswith("ep")):
                p = [q["psnr"] for q in points(out, clip, m, b, seeds)]
                if p:
                    xs.append(float(b)), mean.append(np.mean(p))
                    lo.append(np.mean(p) - min(p)), hi.append(max(p) - np.mean(p))
            ax.errorbar(xs, mean, yerr=[lo, hi], marker="osD"[i % 3], color=f"C{i}", capsize=3, label=m)
        ax.set_xscale("log")
        ax.set_xlabel("training seconds (one thread)")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(clip)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


if __name__ == "__main__":
    main()
