"""Time of one video training step per method, in float32 and bfloat16, NCHW and NHWC.

    python scripts/bench_video_steps.py ../shared/data/video/bikes.mp4 --resize 480x270 --max-frames 60

Each cell is the faster of two timed steps (forward, backward and Adam) after one warm-up,
on one thread unless --threads says otherwise, for the network each method gets at --bpp.
Fitting runs NHWC always, and bfloat16 where the CPU has it natively (models/train_video.py).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from gcodec.codec.video_codec import BATCH, VideoOptions, build_model
from gcodec.codec.video_io import parse_size, read_video
from gcodec.models.train_video import cpu_has_native_bf16


def step_ms(model: torch.nn.Module, clip: torch.Tensor, batch: int, bf16: bool, nhwc: bool) -> float:
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    idx = torch.arange(batch)
    target = clip[idx].permute(0, 3, 1, 2).float().div_(255.0)
    model.channels_last = nhwc
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(idx)
        loss = F.mse_loss(out.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    model.channels_last = False
    return 1000 * min(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--resize", default=None)
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--bpp", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    frames, _ = read_video(args.video, args.max_frames, parse_size(args.resize) if args.resize else None)
    clip = torch.from_numpy(frames)
    t, h, w, _ = frames.shape
    print(f"{args.video}: {t} frames {w}x{h}, {args.bpp} bpp, {args.threads} thread(s), "
          f"native bf16: {cpu_has_native_bf16()}")
    print("method     batch  weights   fp32 NCHW  fp32 NHWC  bf16 NCHW  bf16 NHWC  (ms per step)")
    for method in ("supermask", "dense"):
        opts = VideoOptions(bpp=args.bpp, method=method)
        model = build_model(t, h, w, method, opts, torch.device("cpu"))
        cells = [step_ms(model, clip, BATCH[method], bf16, nhwc) for bf16 in (False, True) for nhwc in (False, True)]
        print(f"{method:10s} {BATCH[method]:5d} {model.cfg.n_weights():8d} " + " ".join(f"{c:10.0f}" for c in cells))


if __name__ == "__main__":
    main()
