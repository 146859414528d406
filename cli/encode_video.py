"""`gcodec encode` of videos (a video file or a folder of frames): each becomes one fitted network."""

from __future__ import annotations

import time
from typing import Any

from .coding_cmd import SUFFIX, _outputs, _refuse_existing, _run_all


def encode_videos(inputs: tuple[str, ...], out: str | None, outdir: str | None, bpp: float | None, method: str,
                   head: str, epochs: float | None, time_budget: float | None, max_frames: int | None, resize: str | None,
                   bf16: bool | None, device: str, jobs: int, as_json: bool, force: bool) -> None:
    """Each video becomes one container: a fitted network (see codec/video_codec.py)."""
    from ..codec.image_io import write_atomic
    from ..codec.video_codec import VideoOptions, check_options, compress_frames
    from ..codec.video_io import parse_size, read_video

    outputs = _outputs(inputs, out, outdir, SUFFIX)
    _refuse_existing(outputs, force)
    size = parse_size(resize) if resize else None
    opts = VideoOptions(bpp=0.1 if bpp is None else bpp, method=method, head=head, epochs=epochs, time_budget=time_budget,
                        max_frames=max_frames, resize=size, device=device, progress=not as_json, bf16=bf16)
    check_options(opts)

    def work(src: str, dst: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        frames, fps = read_video(src, max_frames, size)
        result = compress_frames(frames, fps, opts, started=t0)
        write_atomic(dst, result.data, force)
        t, h, w = frames.shape[:3]
        secs = time.perf_counter() - t0
        bpp_ = 8 * len(result.data) / (t * h * w)
        return {"input": src, "output": dst, "kind": "video", "frames": t, "width": w, "height": h,
                "bytes": len(result.data), "bpp": round(bpp_, 5), "method": result.method,
                "train_psnr": round(result.train_psnr, 3), "seconds": round(secs, 3),
                "_line": f"{src} -> {dst}: {t} frames {w}x{h}, {len(result.data)} bytes, {bpp_:.4f} bpp, "
                         f"{result.method}, PSNR {result.train_psnr:.2f} dB, {secs:.1f} s"}

    _run_all(inputs, outputs, work, jobs, as_json)
