"""Video codec speed: encode time and PSNR at fixed training budgets, decode frames per second.

Runs on the CPU and, when one is present, on a CUDA GPU (also with --bf16).

    python scripts/bench_video.py VIDEO [--resize 176x144] [--max-frames 60] [--budgets 10,30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gcodec.codec.eval.metrics import psnr
from gcodec.codec.video_codec import VideoOptions, compress_frames, decompress_video
from gcodec.codec.video_io import parse_size, read_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--resize", default=None)
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--budgets", default="10,30", help="training seconds, comma-separated")
    ap.add_argument("--bpp", type=float, default=0.05)
    ap.add_argument("--methods", default="supermask,dense,sparse")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--devices", default=None, help="default: cpu, plus cuda when available")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    frames, fps = read_video(args.video, args.max_frames, parse_size(args.resize) if args.resize else None)
    t, h, w, _ = frames.shape
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{args.video}: {t} frames {w}x{h}, bpp target {args.bpp}, torch threads {args.threads}")
    print("device  bf16 method     budget_s  train_s  bpp      PSNR    decode_fps")
    for dev in devices:
        for bf16 in ([False, True] if dev.startswith("cuda") else [False]):
            for method in args.methods.split(","):
                for budget in (float(b) for b in args.budgets.split(",")):
                    r = compress_frames(frames, fps, VideoOptions(bpp=args.bpp, method=method, time_budget=budget,
                                                                  device=dev, bf16=bf16, progress=False))
                    decompress_video(r.data, dev, slice(0, 1))  # warm-up
                    start = time.perf_counter()
                    dec, _ = decompress_video(r.data, dev)
                    dec_s = time.perf_counter() - start
                    p = float(np.mean([psnr(a, b) for a, b in zip(frames, dec)]))
                    print(f"{dev:7s} {int(bf16):4d} {method:10s} {budget:8.0f} {r.seconds:8.1f} "
                          f"{8 * len(r.data) / (t * h * w):.5f} {p:7.2f} {t / dec_s:10.1f}")


if __name__ == "__main__":
    main()
