"""`gcodec encode` of still images: GC and layered images, SC images (with their label maps),
and label maps (encode_labelmap.py decides which single-channel inputs are those)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..bitstream.errors import InputError
from .coding_cmd import SUFFIX, _outputs, _refuse_existing, _run_all
from .encode_labelmap import encode_labelmap_file, is_labelmap

if TYPE_CHECKING:
    from ..codec.image_input import SourceImage


@dataclass(frozen=True)
class ImageOptions:
    model: str | None
    bpp: float | None
    size: int | None
    kind: str  # auto, image or labelmap
    semantic: str | None
    synthesize: str | None
    preserve_boxes: tuple[str, ...]
    map_tolerance: int | None
    refine: int
    alpha: str  # keep or drop


def _check_model(o: ImageOptions, name: str, model_kind: str | None) -> None:
    """Options that the chosen model cannot honour, refused before any work."""
    if model_kind != "sc":
        if o.semantic or o.synthesize or o.preserve_boxes or o.map_tolerance is not None:
            raise InputError("--semantic, --synthesize, --preserve-box and --map-tolerance need an SC model "
                             "(e.g. --model sc-camvid-c6)")
        if model_kind not in ("gc", "layered"):
            raise InputError(f"model {name!r} is a {model_kind or 'unknown'} model, not an image model")
        if model_kind == "gc" and (o.bpp is not None or o.size is not None):
            raise InputError(f"--bpp and --size need a layered model; {name} codes at its own rate")
        if model_kind == "layered" and o.refine:
            raise InputError("--refine applies to GC and SC models, not to layered ones")
    elif o.bpp is not None or o.size is not None:
        raise InputError(f"--bpp and --size need a layered model; {name} codes at its own rate")


def encode_images(inputs: tuple[str, ...], out: str | None, outdir: str | None, o: ImageOptions, device: str,
                  jobs: int, as_json: bool, force: bool) -> None:
    """Each image becomes one container: GC, layered or SC by the model, or a lossless label map."""
    from ..codec.api import Codec
    from ..codec.device import pick_device
    from ..codec.image_io import read_bytes, read_image, write_atomic
    from ..codec.registry import DEFAULT_IMAGE_MODEL, resolve_model

    if o.bpp is not None and o.size is not None:
        raise InputError("give --bpp or --size, not both")
    outputs = _outputs(inputs, out, outdir, SUFFIX)
    if out == "-" and as_json:
        raise InputError("--json and -o - would both write to standard output")
    _refuse_existing(outputs, force)
    name = o.model or DEFAULT_IMAGE_MODEL
    model_kind = resolve_model(name).kind  # unknown names fail before any work
    _check_model(o, name, model_kind)
    codec = Codec(pick_device(device))
    sc_setup = (_sc_setup(name, inputs, o.kind, o.semantic, o.synthesize, o.preserve_boxes, codec, o.refine, jobs == 1,
                          o.map_tolerance, o.alpha) if model_kind == "sc" else None)

    def work(src: str, dst: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        source = read_image(read_bytes(src), src)
        extra: dict[str, Any] = {}
        if sc_setup:
            data, extra = sc_setup(src, source)
        elif is_labelmap(source, o.kind, src):
            data = encode_labelmap_file(codec, source, src, o.refine)
        else:
            data = codec.encode_image(source.rgb, name, o.refine, progress=o.refine > 0 and jobs == 1, bpp=o.bpp,
                                      size=o.size, planes=source.planes(o.alpha))
        write_atomic(dst, data, force)
        h, w = source.rgb.shape[:2]
        secs = time.perf_counter() - t0
        bpp_ = 8 * len(data) / (h * w)
        return {"input": src, "output": dst, "bytes": len(data), "bpp": round(bpp_, 5), "width": w, "height": h,
                "seconds": round(secs, 3), **extra,
                "_line": f"{src} -> {dst}: {len(data)} bytes, {bpp_:.4f} bpp, {secs:.2f} s"
                         + (f" (map {extra['map_bytes']} B, latents {extra['latent_bytes']} B)" if extra else "")}

    _run_all(inputs, outputs, work, jobs, as_json)


def _sc_setup(model: str, inputs: tuple[str, ...], kind: str, semantic: str | None, synthesize: str | None,
              boxes_spec: tuple[str, ...], codec: Any, refine: int = 0, progress: bool = False,
              map_tolerance: int | None = None, alpha: str = "keep"
              ) -> Callable[[str, SourceImage], tuple[bytes, dict[str, Any]]]:
    """Check the SC options before any work; return the per-file encoder (image -> bytes, JSON extras)."""
    from ..codec import sc_codec, sc_selection
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
    ids = sc_selection.parse_classes(synthesize, names, ref.name) if synthesize else []
    boxes = [sc_selection.parse_box(b) for b in boxes_spec]
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

    def encode_one(src: str, source: SourceImage) -> tuple[bytes, dict[str, Any]]:
        image = source.rgb
        if segmenter is not None:
            from ..codec.segment import segment

            labels = segment(segmenter, image)
        else:
            path = str(Path(semantic) / (Path(src).stem + ".png")) if folder else semantic
            labels = decode_any(read_bytes(path), path)
            if labels.ndim != 2:
                raise InputError(f"{path}: a label map must be a single-channel 8-bit PNG of class ids")
        data = codec.encode_semantic(image, labels, model, ids, boxes, refine_steps=refine, map_tolerance=tolerance,
                                     planes=source.planes(alpha), progress=progress)
        sizes = sc_codec.section_sizes(data)
        return data, {"map_bytes": sizes["map"], "map_tolerance": tolerance, "latent_bytes": sizes["latents"],
                      "synthesized": [names[i] for i in ids], "preserved_boxes": [list(b) for b in boxes]}

    return encode_one
