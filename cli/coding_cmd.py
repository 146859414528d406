"""`gcodec encode`, and the batch helpers `decode` shares (output paths, per-file error reporting)."""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np
from tqdm import tqdm

from ..bitstream.errors import GcodecError, InputError
from .main import cli

SUFFIX = ".gcodec"


def _outputs(inputs: tuple[str, ...], out: str | None, outdir: str | None, suffix: str) -> list[str]:
    """Output path for each input; validated before any work starts."""
    if bool(out) == bool(outdir):
        raise InputError("give exactly one of -o OUT or -d OUTDIR")
    if out:
        if len(inputs) != 1:
            raise InputError("-o takes a single input; use -d OUTDIR for several")
        if out != "-" and not Path(out).resolve().parent.is_dir():
            raise InputError(f"{out}: folder {Path(out).parent} does not exist")
        return [out]
    if "-" in inputs:
        raise InputError("standard input ('-') needs -o")
    if not Path(outdir).is_dir():
        raise InputError(f"output folder {outdir} does not exist")
    names = [Path(outdir) / (Path(i).stem + suffix) for i in inputs]
    if len(set(names)) != len(names):
        raise InputError("several inputs share a file name stem; -d would write them to the same output")
    return [str(n) for n in names]


def _run_all(inputs: tuple[str, ...], outputs: list[str], work: Callable[[str, str], dict[str, Any]],
             jobs: int, as_json: bool) -> None:
    """Process every input; report bad ones and carry on; exit 1 if any failed."""
    if jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {jobs}")
    if jobs > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // jobs))

    def one(pair: tuple[str, str]) -> tuple[str, dict[str, Any] | None, str | None]:
        src, dst = pair
        try:
            return src, work(src, dst), None
        except GcodecError as e:
            return src, None, str(e)

    # one progress bar for a batch, on a terminal only: scripts read --json or a pipe instead
    bar = tqdm(total=len(inputs), unit="file", file=sys.stderr, leave=False,
               disable=len(inputs) < 2 or as_json or not _stderr_is_terminal())

    def say(text: str) -> None:  # a line on stderr, above the bar when there is one
        if bar.disable:
            click.echo(text, err=True)
        else:
            bar.write(text, file=sys.stderr)

    failed = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for src, result, err in pool.map(one, zip(inputs, outputs)):
            bar.update(1)
            if err is not None:
                failed += 1
                if as_json:
                    click.echo(json.dumps({"input": src, "error": err}))
                say(f"gcodec: error: {err if err.startswith(src) else f'{src}: {err}'}")
            else:
                line = result.pop("_line")  # the human-readable summary; JSON carries the fields instead
                if as_json:
                    click.echo(json.dumps(result))
                else:
                    say(line)
    bar.close()
    if failed:
        raise SystemExit(1)


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _device_option(f: Callable) -> Callable:
    return click.option("--device", default="auto", show_default=True,
                        help="auto (GPU when present), cpu or cuda.")(f)


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
@click.option("--method", type=click.Choice(["supermask", "dense", "sparse"]), default=None,
              help="Videos: seeded-weight supermasks (default), or the trained dense / pruned sparse NeRV baselines.")
@click.option("--head", type=click.Choice(["trained", "masked"]), default=None,
              help="Videos, supermask: train the RGB head and store it at 6 bits (default; +0.2-0.6 dB), or "
                   "keep it random and masked like every other layer (the paper's method).")
@click.option("--epochs", type=float, default=None, help="Videos: training epochs (the encode cost).")
@click.option("--time-budget", type=float, default=None, help="Videos: training seconds (instead of --epochs).")
@click.option("--max-frames", type=int, default=None, help="Videos: use only the first N frames.")
@click.option("--resize", default=None, metavar="WxH", help="Videos: resize frames before coding.")
@click.option("--bf16", is_flag=True, help="Videos: fit in bfloat16 autocast (the file and its decode stay float32; "
                                         "on a 2-core CPU only 1-10% faster and ~0.1 dB lower on carphone).")
@_device_option
@click.option("--jobs", "-j", default=1, show_default=True, help="Files processed in parallel.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
def encode(inputs: tuple[str, ...], out: str | None, outdir: str | None, model: str | None, bpp: float | None,
           size_bytes: int | None, kind: str, semantic: str | None, synthesize: str | None, preserve_boxes: tuple[str, ...],
           map_tolerance: int | None, refine: int, method: str | None, head: str | None, epochs: float | None, time_budget: float | None, max_frames: int | None, resize: str | None,
           bf16: bool, device: str, jobs: int, as_json: bool, force: bool) -> None:
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
                  "--map-tolerance": map_tolerance}
    video_only = {"--method": method, "--head": head, "--epochs": epochs, "--time-budget": time_budget, "--max-frames": max_frames,
                  "--resize": resize, "--bf16": bf16 or None}
    if videos:
        if len(videos) != len(inputs):
            raise InputError("give videos and images in separate commands")
        given = [k for k, v in image_only.items() if v is not None]
        if given:
            raise InputError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to images only")
        _encode_videos(inputs, out, outdir, bpp, method or "supermask", head or "trained", epochs, time_budget, max_frames, resize, bf16,
                       device, jobs, as_json, force)
        return
    given = [k for k, v in video_only.items() if v is not None]
    if given:
        raise InputError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to videos only")
    from ..codec.api import Codec
    from ..codec.device import pick_device
    from ..codec.image_io import decode_any, read_bytes, write_atomic
    from ..codec.labelmap_codec import looks_like_labelmap
    from ..codec.registry import DEFAULT_IMAGE_MODEL, resolve_model

    if bpp is not None and size_bytes is not None:
        raise InputError("give --bpp or --size, not both")
    outputs = _outputs(inputs, out, outdir, SUFFIX)
    if out == "-" and as_json:
        raise InputError("--json and -o - would both write to standard output")
    for dst in outputs:
        if dst != "-" and Path(dst).exists() and not force:
            raise InputError(f"{dst} exists (use --force to overwrite)")
    name = model or DEFAULT_IMAGE_MODEL
    model_kind = resolve_model(name).kind  # unknown names fail before any work
    semantic_model = model_kind == "sc"
    if not semantic_model:
        if semantic or synthesize or preserve_boxes or map_tolerance is not None:
            raise InputError("--semantic, --synthesize, --preserve-box and --map-tolerance need an SC model "
                             "(e.g. --model sc-camvid-c6)")
        if model_kind not in ("gc", "layered"):
            raise InputError(f"model {name!r} is a {model_kind or 'unknown'} model, not an image model")
        if model_kind == "gc" and (bpp is not None or size_bytes is not None):
            raise InputError(f"--bpp and --size need a layered model; {name} codes at its own rate")
        if model_kind == "layered" and refine:
            raise InputError("--refine applies to GC and SC models, not to layered ones")
    elif bpp is not None or size_bytes is not None:
        raise InputError(f"--bpp and --size need a layered model; {name} codes at its own rate")
    codec = Codec(pick_device(device))
    sc_setup = (_sc_setup(name, inputs, kind, semantic, synthesize, preserve_boxes, codec, refine, jobs == 1,
                          map_tolerance) if semantic_model else None)

    def work(src: str, dst: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        arr = decode_any(read_bytes(src), src)
        as_labels = not sc_setup and (kind == "labelmap" or (kind == "auto" and looks_like_labelmap(arr)))
        extra: dict[str, Any] = {}
        if sc_setup:
            image = np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr
            data, extra = sc_setup(src, image)
        elif as_labels:
            if refine:
                raise InputError(f"{src} is a label map: --refine applies to images only")
            if arr.ndim != 2:
                raise InputError(f"{src}: --kind labelmap needs a single-channel 8-bit PNG")
            data = codec.encode_labels(arr)
        else:
            image = np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr
            data = codec.encode_image(image, name, refine, progress=refine > 0 and jobs == 1, bpp=bpp,
                                      size=size_bytes)
        image = arr
        write_atomic(dst, data, force)
        h, w = image.shape[:2]
        secs = time.perf_counter() - t0
        bpp_ = 8 * len(data) / (h * w)
        return {"input": src, "output": dst, "bytes": len(data), "bpp": round(bpp_, 5), "width": w, "height": h,
                "seconds": round(secs, 3), **extra,
                "_line": f"{src} -> {dst}: {len(data)} bytes, {bpp_:.4f} bpp, {secs:.2f} s"
                         + (f" (map {extra['map_bytes']} B, latents {extra['latent_bytes']} B)" if extra else "")}

    _run_all(inputs, outputs, work, jobs, as_json)


def _encode_videos(inputs: tuple[str, ...], out: str | None, outdir: str | None, bpp: float | None, method: str,
                   head: str, epochs: float | None, time_budget: float | None, max_frames: int | None, resize: str | None,
                   bf16: bool, device: str, jobs: int, as_json: bool, force: bool) -> None:
    """Each video becomes one container: a fitted network (see codec/video_codec.py)."""
    from ..codec.image_io import write_atomic
    from ..codec.video_codec import VideoOptions, check_options, compress_frames
    from ..codec.video_io import parse_size, read_video

    outputs = _outputs(inputs, out, outdir, SUFFIX)
    for dst in outputs:
        if dst != "-" and Path(dst).exists() and not force:
            raise InputError(f"{dst} exists (use --force to overwrite)")
    size = parse_size(resize) if resize else None
    opts = VideoOptions(bpp=0.1 if bpp is None else bpp, method=method, head=head, epochs=epochs, time_budget=time_budget,
                        max_frames=max_frames, resize=size, device=device, progress=not as_json, bf16=bf16)
    check_options(opts)

    def work(src: str, dst: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        frames, fps = read_video(src, max_frames, size)
        result = compress_frames(frames, fps, opts)
        write_atomic(dst, result.data, force)
        t, h, w = frames.shape[:3]
        secs = time.perf_counter() - t0
        bpp_ = 8 * len(result.data) / (t * h * w)
        return {"input": src, "output": dst, "kind": "video", "frames": t, "width": w, "height": h,
                "bytes": len(result.data), "bpp": round(bpp_, 5), "method": method,
                "train_psnr": round(result.train_psnr, 3), "seconds": round(secs, 3),
                "_line": f"{src} -> {dst}: {t} frames {w}x{h}, {len(result.data)} bytes, {bpp_:.4f} bpp, "
                         f"{method}, PSNR {result.train_psnr:.2f} dB, {secs:.1f} s"}

    _run_all(inputs, outputs, work, jobs, as_json)


def _sc_setup(model: str, inputs: tuple[str, ...], kind: str, semantic: str | None, synthesize: str | None,
              boxes_spec: tuple[str, ...], codec: Any, refine: int = 0, progress: bool = False,
              map_tolerance: int | None = None) -> Callable[[str, np.ndarray], tuple[bytes, dict[str, Any]]]:
    """Check the SC options before any work; return the per-file encoder (image -> bytes, JSON extras)."""
    from ..codec import sc_codec
    from ..codec.image_io import decode_any, read_bytes
    from ..codec.registry import resolve_model

    ref = resolve_model(model, kind="sc")
    if kind == "labelmap":
        raise InputError(f"--kind labelmap cannot be used with the SC model {ref.name}")
    if not semantic:
        raise InputError(f"{ref.name} is a semantic (SC) model: give --semantic LABELS.png, a folder, or auto")
    try:
        classes = int(ref.card.get("config", {}).get("classes", sc_codec.SCConfig.classes))
    except (TypeError, ValueError):
        raise InputError(f"{ref.path}: model card has no valid class count") from None
    names = sc_codec.class_names_for(ref.card, classes)
    ids = sc_codec.parse_classes(synthesize, names, ref.name) if synthesize else []
    boxes = [sc_codec.parse_box(b) for b in boxes_spec]
    if map_tolerance is not None:
        sc_codec.check_map_tolerance(map_tolerance)
    folder = semantic != "auto" and Path(semantic).is_dir()
    if semantic != "auto" and not folder:
        if not Path(semantic).is_file():
            raise InputError(f"--semantic {semantic}: no such file or folder (or 'auto')")
        if len(inputs) != 1:
            raise InputError("--semantic FILE takes a single input; give a folder of INPUT-stem.png maps for several")
    segmenter = None
    if semantic == "auto":
        from ..codec.segment import load_segmenter

        segmenter = load_segmenter(resolve_model(sc_codec.AUTO_SEGMENTER, kind="segmentation").path, codec.device)
    sc = codec.sc(ref)
    tolerance = sc.default_map_tolerance if map_tolerance is None else map_tolerance

    def encode_one(src: str, image: np.ndarray) -> tuple[bytes, dict[str, Any]]:
        if segmenter is not None:
            from ..codec.segment import segment

            labels = segment(segmenter, image)
        else:
            path = str(Path(semantic) / (Path(src).stem + ".png")) if folder else semantic
            labels = decode_any(read_bytes(path), path)
            if labels.ndim != 2:
                raise InputError(f"{path}: a label map must be a single-channel 8-bit PNG of class ids")
        data = sc_codec.compress(sc, image, labels, ids, boxes, refine_steps=refine, progress=progress,
                                 map_tolerance=tolerance)
        sizes = sc_codec.section_sizes(data)
        return data, {"map_bytes": sizes["map"], "map_tolerance": tolerance, "latent_bytes": sizes["latents"],
                      "synthesized": [names[i] for i in ids], "preserved_boxes": [list(b) for b in boxes]}

    return encode_one
