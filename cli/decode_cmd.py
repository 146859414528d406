"""`gcodec decode`: .gcodec files back to PNG images, label maps and videos."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..bitstream.errors import InputError
from ..bitstream.planes import colour_of
from .coding_cmd import _device_option, _outputs, _run_all
from .main import cli


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", help="Output PNG ('-' for standard output); single input only.")
@click.option("-d", "--outdir", help="Output folder: one INPUT-stem.png per input.")
@click.option("--model", "-m", default=None, help="Model file, when the container's model is not shipped.")
@click.option("--reference", "-r", default=None, help="Original image: also print PSNR and MS-SSIM against it.")
@click.option("--realism", type=float, default=None, metavar="R",
              help="Layered images, and GC and SC images whose model has a detail stage: 0 = most faithful "
                   "(the model's own decode), 1 = most detail; with layered-s, up to 0.5 sharpens "
                   "the decode's own detail and above adds generated grain (default: the model's or stage's, "
                   "see `gcodec models`).")
@click.option("--half", is_flag=True, help="Run the generator in reduced precision (faster on GPUs).")
@click.option("--frames", "frame_range", default=None, metavar="A:B", help="Videos: decode only frames A..B-1.")
@_device_option
@click.option("--jobs", "-j", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
def decode(inputs: tuple[str, ...], out: str | None, outdir: str | None, model: str | None,
           reference: str | None, realism: float | None, half: bool, frame_range: str | None, device: str, jobs: int, as_json: bool,
           force: bool) -> None:
    """Decompress .gcodec files: images and label maps to PNG, videos to .mp4 (or a folder of frames)."""
    from ..bitstream.container import PayloadKind, peek_kind
    from ..codec.video_codec import decompress_video, frame_slice
    from ..codec.video_io import write_video
    from ..codec.api import Codec
    from ..codec.device import pick_device
    from ..codec.image_io import decode_any, png_bytes, read_bytes, write_atomic
    from ..codec.labelmap_codec import looks_like_labelmap
    from ..codec.eval.metrics import ms_ssim, ms_ssim_reason, psnr

    frames_sel = frame_slice(frame_range) if frame_range else None
    if realism is not None:
        from ..codec.layered.codec import check_realism

        check_realism(realism)

    outputs = _outputs(inputs, out, outdir, ".png")
    if reference and len(inputs) != 1:
        raise InputError("--reference takes a single input")
    if out == "-" and as_json:
        raise InputError("--json and -o - would both write to standard output")
    for dst in outputs:
        if dst != "-" and Path(dst).exists() and not force:
            raise InputError(f"{dst} exists (use --force to overwrite)")
    ref_image = decode_any(read_bytes(reference), reference) if reference else None
    if ref_image is not None and ref_image.ndim == 2 and not looks_like_labelmap(ref_image):
        ref_image = colour_of(ref_image)
    codec = Codec(pick_device(device), half=half)

    def work(src: str, dst: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        data = read_bytes(src)
        if peek_kind(data) == PayloadKind.VIDEO:
            if dst == "-":
                raise InputError("a video decodes to a file or folder, not standard output")
            if outdir:
                dst = str(Path(dst).with_suffix(".mp4"))
            video, fps = decompress_video(data, device, frames_sel)
            write_video(video, fps, dst, force)
            t, h, w = video.shape[:3]
            secs = time.perf_counter() - t0
            return {"input": src, "output": dst, "kind": "video", "frames": t, "bytes": len(data),
                    "seconds": round(secs, 3), "_line": f"{src} -> {dst}: {t} frames {w}x{h}, {secs:.2f} s"}
        if realism is not None and peek_kind(data) == PayloadKind.VIDEO:
            raise InputError("--realism applies to images (layered, GC, SC), not videos")
        c, image = codec.decode(data, model, realism)
        write_atomic(dst, png_bytes(image), force)
        secs = time.perf_counter() - t0
        pixels = int(image.shape[0] * image.shape[1])
        is_map = c.kind == PayloadKind.LABEL_MAP
        result = {"input": src, "output": dst, "kind": "labelmap" if is_map else "image",
                  "bytes": len(data), "bpp": round(8 * len(data) / pixels, 5), "seconds": round(secs, 3)}
        line = f"{src} -> {dst}: {result['bpp']:.4f} bpp, {secs:.2f} s"
        if ref_image is not None and is_map:
            ref_labels = ref_image if ref_image.ndim == 2 else None
            if ref_labels is None or ref_labels.shape != image.shape:
                raise InputError("--reference for a label map must be a single-channel map of the same size")
            result["exact"] = bool(np.array_equal(ref_labels, image))
            line += ", identical to the reference" if result["exact"] else ", DIFFERS from the reference"
        elif ref_image is not None:
            image = colour_of(image)  # metrics on the colour: grey as R = G = B, alpha aside
            if ref_image.shape != image.shape:
                raise InputError(f"reference is {ref_image.shape[1]}x{ref_image.shape[0]}, "
                                 f"decoded image {image.shape[1]}x{image.shape[0]}")
            result["psnr"] = round(psnr(image, ref_image), 3)
            line += f", PSNR {result['psnr']:.2f} dB"
            too_small = ms_ssim_reason(*image.shape[:2])
            result["ms_ssim"] = None if too_small else round(ms_ssim(image, ref_image), 4)
            line += f" ({too_small})" if too_small else f", MS-SSIM {result['ms_ssim']:.4f}"
        result["_line"] = line
        return result

    _run_all(inputs, outputs, work, jobs, as_json)
