"""`gcodec encode`: its options, and the dispatch by input kind.

Videos (a video file or a folder of frames) go to encode_video.py; images, label maps and SC
images to encode_image.py, which asks encode_labelmap.py which single-channel inputs are label maps.
"""

from __future__ import annotations

from typing import Any

import click

from ..bitstream.errors import InputError
from ..codec.image_input import ALPHA_MODES, DEFAULT_ALPHA
from .coding_cmd import SUFFIX, _device_option
from .encode_image import ImageOptions, encode_images
from .encode_video import encode_videos
from .main import cli


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", help="Output file ('-' for standard output); single input only.")
@click.option("-d", "--outdir", help=f"Output folder: one INPUT-stem{SUFFIX} per input.")
@click.option("--model", "-m", default=None, help="Model name or .safetensors path (default: the layered model).")
@click.option("--bpp", type=float, default=None,
              help="Layered images: each file within +-5% of this rate, container included (default 0.05). "
                   "Videos: the rate to aim at.")
@click.option("--size", "size_bytes", type=int, default=None, metavar="BYTES",
              help="Layered images: the best file of at most BYTES bytes.")
@click.option("--kind", type=click.Choice(["auto", "image", "labelmap"]), default="auto", show_default=True,
              help="auto: single-channel PNGs with few values are label maps (coded losslessly).")
@click.option("--semantic", default=None,
              help="SC models: the label map (class-id PNG), a folder of INPUT-stem.png maps, or 'auto' "
                   "(the shipped segmentation network).")
@click.option("--synthesize", default=None,
              help="SC models: comma-separated classes to synthesize at zero latent bits (e.g. sky,tree,road; all).")
@click.option("--preserve-box", "preserve_boxes", multiple=True, metavar="X,Y,W,H",
              help="SC models: always code the latents under this pixel box (repeatable).")
@click.option("--map-tolerance", type=int, default=None, metavar="PX",
              help="SC models: code the label map on a PX-pixel grid, boundaries within about PX/2 "
                   "(0: lossless; default: the model's).")
@click.option("--refine", type=int, default=0, show_default=True, metavar="STEPS",
              help="Images (GC and SC): fit the latents to the image for STEPS gradient steps (+0.3-0.5 dB "
                   "at 20; each step costs ~3 decodes of encode time; the decoder is unchanged).")
@click.option("--method", type=click.Choice(["auto", "supermask", "dense", "sparse"]), default=None,
              help="Videos: seeded-weight supermasks, or the trained dense / pruned sparse NeRV baselines. auto "
                   "(default) takes the supermask when the budget gives it enough epochs to win, else dense.")
@click.option("--head", type=click.Choice(["trained", "masked"]), default=None,
              help="Videos, supermask: train the RGB head and store it at 6 bits (default; +0.2-0.6 dB), or "
                   "keep it random and masked like every other layer (the paper's method; implies the supermask).")
@click.option("--epochs", type=float, default=None, help="Videos: training epochs (the encode cost).")
@click.option("--time-budget", type=float, default=None,
              help="Videos: seconds for the whole encode, reading included (instead of --epochs).")
@click.option("--max-frames", type=int, default=None, help="Videos: use only the first N frames.")
@click.option("--resize", default=None, metavar="WxH", help="Videos: resize frames before coding.")
@click.option("--bf16/--fp32", default=None,
              help="Videos: fit in bfloat16 autocast or in float32 (the file and its decode stay float32). "
                   "Default: bfloat16 where the CPU computes it natively (AVX-512 BF16, AMX), else float32.")
@click.option("--alpha", type=click.Choice(ALPHA_MODES), default=None,
              help=f"Images with transparency: keep codes the alpha plane losslessly in the file (decodes to "
                   f"RGBA / LA PNG), drop codes the colour only (default: {DEFAULT_ALPHA}).")
@_device_option
@click.option("--jobs", "-j", default=1, show_default=True, help="Files processed in parallel.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
def encode(inputs: tuple[str, ...], out: str | None, outdir: str | None, model: str | None, bpp: float | None,
           size_bytes: int | None, kind: str, semantic: str | None, synthesize: str | None, preserve_boxes: tuple[str, ...],
           map_tolerance: int | None, refine: int, method: str | None, head: str | None, epochs: float | None, time_budget: float | None, max_frames: int | None, resize: str | None,
           bf16: bool | None, alpha: str | None, device: str, jobs: int, as_json: bool, force: bool) -> None:
    """Compress images, label maps or videos (mp4/mkv/avi/y4m or a folder of frames) to .gcodec files."""
    from ..codec.video_io import is_video_path

    videos = [i for i in inputs if i != "-" and is_video_path(i)]
    if refine < 0:
        raise InputError(f"--refine must be >= 0, got {refine}")
    if refine and kind == "labelmap":
        raise InputError("--refine applies to images only")
    # an option for the other kind of input would be silently ignored: refuse it instead
    image_only = {"--model": model, "--size": size_bytes, "--kind": kind if kind != "auto" else None, "--semantic": semantic,
                  "--synthesize": synthesize, "--preserve-box": preserve_boxes or None, "--refine": refine or None,
                  "--map-tolerance": map_tolerance, "--alpha": alpha}
    video_only = {"--method": method, "--head": head, "--epochs": epochs, "--time-budget": time_budget, "--max-frames": max_frames,
                  "--resize": resize, ("--bf16" if bf16 else "--fp32"): bf16}
    if videos:
        if len(videos) != len(inputs):
            raise InputError("give videos and images in separate commands")
        _refuse(image_only, "images")
        encode_videos(inputs, out, outdir, bpp, method or "auto", head or "trained", epochs, time_budget, max_frames,
                      resize, bf16, device, jobs, as_json, force)
        return
    _refuse(video_only, "videos")
    encode_images(inputs, out, outdir, ImageOptions(model, bpp, size_bytes, kind, semantic, synthesize, preserve_boxes,
                                                    map_tolerance, refine, alpha or DEFAULT_ALPHA), device, jobs, as_json, force)


def _refuse(given_options: dict[str, Any], kind: str) -> None:
    given = [k for k, v in given_options.items() if v is not None]
    if given:
        raise InputError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to {kind} only")
