"""File-level encode/decode for every payload kind, with a cache of loaded models.

The CLI and the evaluation call this; it picks the codec from the payload kind
in the container and the model from the id the container names.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import numpy as np
import torch

from ..bitstream.container import Container, PayloadKind, unpack
from ..bitstream.errors import GcodecError, InputError, UnsupportedError
from ..bitstream.grain import grain_gain
from ..bitstream.planes import (ALPHA_LABELMAP, IMAGE_KINDS, SECTION_PLANES, Planes, apply_planes, pack_planes, section_overhead,
                                split_planes, with_planes)
from . import gc_codec, labelmap_codec, sc_codec, sc_selection
from .device import pick_device
from .layered import codec as layered_codec
from .registry import DEFAULT_IMAGE_MODEL, ModelRef, resolve_model
from .stage.stage import LoadedStage, load_stage, stage_for

M = TypeVar("M")

# A layered encode with neither --bpp nor --size aims here (gc-c6, the old default, writes ~0.046);
# an image too small for that rate to pay for the container (under ~200x200 px) gets up to
# DEFAULT_SMALL_BYTES instead.
DEFAULT_LAYERED_BPP = 0.05
DEFAULT_SMALL_BYTES = 256

KIND_NAMES = {
    PayloadKind.GC_IMAGE: "gc-image",
    PayloadKind.LABEL_MAP: "labelmap",
    PayloadKind.SC_IMAGE: "sc-image",
    PayloadKind.VIDEO: "video",
    PayloadKind.LAYERED_IMAGE: "layered-image",
}


def measured_bpp(m: ModelRef) -> float | None:
    """A model's rate: the eval-set mean of its card when recorded, else its validation estimate."""
    ev = m.card.get("eval", {}).get("bpp")
    return ev if ev is not None else m.card.get("validation", {}).get("val_bpp_ideal")


@dataclass
class Codec:
    device: torch.device = field(default_factory=pick_device)
    half: bool = False  # reduced-precision generator on decode
    _gc: dict[str, gc_codec.LoadedGC] = field(default_factory=dict)
    _sc: dict[str, sc_codec.LoadedSC] = field(default_factory=dict)
    _layered: dict[str, layered_codec.LoadedLayered] = field(default_factory=dict)
    _stages: dict[str, LoadedStage] = field(default_factory=dict)
    _stage_refs: dict[str, ModelRef | None] = field(default_factory=dict)  # GC/SC model path -> its stage
    # threads share one Codec (`encode --jobs`, the Python API): each model is loaded once
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _cached(self, cache: dict[str, M], ref: ModelRef, load: Callable[[ModelRef, torch.device], M]) -> M:
        with self._lock:
            key = str(ref.path)
            if key not in cache:
                cache[key] = load(ref, self.device)
            return cache[key]

    def gc(self, ref: ModelRef) -> gc_codec.LoadedGC:
        return self._cached(self._gc, ref, gc_codec.load_gc)

    def layered(self, ref: ModelRef) -> layered_codec.LoadedLayered:
        return self._cached(self._layered, ref, layered_codec.load_layered)

    def detail(self, ref: ModelRef, realism: float | None) -> tuple[LoadedStage, float] | None:
        """(the GC or SC model's detail stage, R): the stage's default R when `realism` is None; None
        when R = 0 or no stage is installed (InputError if an R > 0 was asked for)."""
        with self._lock:  # the weights folder is scanned once per GC or SC model, not once per file
            if str(ref.path) not in self._stage_refs:
                self._stage_refs[str(ref.path)] = stage_for(ref)
            stage = self._stage_refs[str(ref.path)]
        if stage is None:
            if realism:
                raise InputError(f"--realism {realism:g} needs a detail stage for {ref.name}, and none is installed "
                                 "(gcodec train detail trains one)")
            return None
        loaded = self._cached(self._stages, stage, load_stage)
        r = loaded.default_realism if realism is None else realism
        return (loaded, r) if r > 0 else None

    def encode_image(self, image: np.ndarray, model: str | None = None, refine_steps: int = 0,
                     progress: bool = False, bpp: float | None = None, size: int | None = None,
                     planes: Planes = Planes()) -> bytes:
        """A GC or layered image. Layered models hit `bpp` (+-5%) or stay within `size` bytes, the
        source-planes section included (DEFAULT_LAYERED_BPP for the colour when neither is given);
        GC models take neither. `planes`: grey source and alpha plane (bitstream/planes.py)."""
        ref = resolve_model(model or DEFAULT_IMAGE_MODEL)
        h, w = image.shape[:2]
        extra = pack_planes(planes, h, w) if planes else b""
        if ref.kind == "layered":
            if refine_steps:
                raise InputError("--refine applies to GC and SC models, not to layered ones")
            from .layered.rate import compress_to

            if bpp is None and size is None:
                if DEFAULT_LAYERED_BPP * h * w / 8 < DEFAULT_SMALL_BYTES:
                    size = DEFAULT_SMALL_BYTES
                else:
                    bpp = DEFAULT_LAYERED_BPP
            elif extra:
                bpp, size = _leave_room(section_overhead(extra), h, w, bpp, size)
            try:
                data = compress_to(self.layered(ref), image, bpp=bpp, size=size)[0]
            except InputError as e:
                if not extra:
                    raise
                raise InputError(f"{e} (the colour's share, after {section_overhead(extra)} bytes of alpha/grey "
                                 "section)") from None
        else:
            if ref.kind != "gc":
                raise InputError(f"model {ref.name!r} is a {ref.kind or 'unknown'} model, not an image model")
            if bpp is not None or size is not None:
                raise InputError(f"--bpp and --size need a layered model; {ref.name} codes at its own rate")
            data = gc_codec.compress(self.gc(ref), image, refine_steps, progress)
            detail = self.detail(ref, None)
            if detail is not None:  # a detail stage is installed: the file's fine grain (codec/stage/grain.py)
                from .stage.grain import with_chosen_grain

                data = with_chosen_grain(self.gc(ref), detail[0], image, data)
        return with_planes(data, extra) if extra else data

    def sc(self, ref: ModelRef) -> sc_codec.LoadedSC:
        return self._cached(self._sc, ref, sc_codec.load_sc)

    def encode_semantic(self, image: np.ndarray, labels: np.ndarray, model: str,
                        synthesize_ids: list[int] = (), boxes: list[sc_selection.Box] = (),
                        refine_steps: int = 0, map_tolerance: int | None = None, planes: Planes = Planes(),
                        progress: bool = False) -> bytes:
        """SC image: `labels` (H, W) class ids; latents of `synthesize_ids` cells are not coded;
        the map on a `map_tolerance`-pixel grid (0: lossless; None: the model's default)."""
        sc = self.sc(resolve_model(model, kind="sc"))
        tolerance = sc.default_map_tolerance if map_tolerance is None else map_tolerance
        data = sc_codec.compress(sc, image, labels, synthesize_ids, boxes, refine_steps=refine_steps,
                                 progress=progress, map_tolerance=tolerance)
        return with_planes(data, pack_planes(planes, *image.shape[:2])) if planes else data

    def encode_labels(self, labels: np.ndarray) -> bytes:
        return labelmap_codec.compress(labels)

    def decode(self, data: bytes, model: str | None = None, realism: float | None = None
               ) -> tuple[Container, np.ndarray]:
        """Container bytes -> (container, decoded array: RGB image or (H, W) label map). `realism` in
        [0, 1] applies to layered images and to GC and SC images whose model has a detail stage (None:
        the model's or stage's default; 0 is always the GC or SC generator's decode)."""
        if realism is not None:
            layered_codec.check_realism(realism)
        full = unpack(data)
        c, planes = split_planes(full)  # the payload decoders see the file an old writer would have made
        if c.kind == PayloadKind.LAYERED_IMAGE:
            ref = resolve_model(model or c.model_id, kind="layered")
            return full, apply_planes(layered_codec.decompress(self.layered(ref), c, realism, half=self.half), planes)
        if c.kind == PayloadKind.GC_IMAGE:
            ref = resolve_model(model or c.model_id, kind="gc")
            detail = self.detail(ref, realism)
            return full, apply_planes(gc_codec.decompress(self.gc(ref), c, half=self.half, detail=detail), planes)
        if c.kind == PayloadKind.SC_IMAGE:
            ref = resolve_model(model or c.model_id, kind="sc")
            detail = self.detail(ref, realism)
            return full, apply_planes(sc_codec.decompress(self.sc(ref), c, half=self.half, detail=detail), planes)
        if realism is not None:
            raise InputError(f"--realism applies to layered, GC and SC images; this is a {KIND_NAMES[c.kind]} file")
        if c.kind == PayloadKind.LABEL_MAP:
            return full, labelmap_codec.decompress(c)
        raise UnsupportedError(f"decoding {KIND_NAMES[c.kind]} files is not supported by this version")


def _leave_room(extra: int, h: int, w: int, bpp: float | None, size: int | None) -> tuple[float | None, int | None]:
    """A layered target for the colour planes once `extra` bytes of source planes are set aside."""
    if size is not None:
        if size <= extra:
            raise InputError(f"--size {size}: the alpha/grey section alone takes {extra} bytes")
        return None, size - extra
    assert bpp is not None
    left = bpp - 8 * extra / (h * w)
    if not left > 0:
        raise InputError(f"--bpp {bpp:g}: the alpha/grey section alone takes {extra} bytes "
                         f"({8 * extra / (h * w):.4f} bpp)")
    return left, None


def describe(data: bytes) -> dict[str, Any]:
    """What `gcodec info` prints: kind, size, model, bytes per section and bpp."""
    c = unpack(data)
    section_bytes = {str(tag): len(payload) for tag, payload in c.sections}
    pixels = int(np.prod(c.size))
    extra: dict[str, Any] = {}
    if c.kind == PayloadKind.VIDEO:
        from .video_codec import describe_video

        video = describe_video(c)
        extra["video"] = video
        extra["section_names"] = {str(t): name for t, name in zip((t for t, _ in c.sections), video["bits"])}
    if c.kind == PayloadKind.SC_IMAGE:  # named sections, and the selection (readable without the model)
        extra["section_names"] = {str(t): sc_codec.SECTION_NAMES.get(t, "unknown") for t, _ in c.sections}
        if c.has_section(sc_codec.SECTION_GRID_MAP) and c.section(sc_codec.SECTION_GRID_MAP):
            extra["map_tolerance"] = c.section(sc_codec.SECTION_GRID_MAP)[0]  # the grid cell in pixels
        if c.has_section(sc_codec.SECTION_SELECTION):
            ids, boxes = sc_selection.unpack_selection(c.section(sc_codec.SECTION_SELECTION))
            extra["synthesized_class_ids"] = ids
            try:  # names when the model is at hand; the ids alone otherwise
                ref = resolve_model(c.model_id, kind="sc")
                names = sc_codec.class_names_for(ref.card, int(ref.card["config"]["classes"]))
                extra["synthesized_classes"] = [names[i] if i < len(names) else str(i) for i in ids]
            except (GcodecError, KeyError, TypeError, ValueError):
                pass
            extra["preserved_boxes"] = [list(b) for b in boxes]
    if c.kind == PayloadKind.GC_IMAGE:
        names = {gc_codec.SECTION_LATENTS: "latents", gc_codec.SECTION_CONTEXT_LATENTS: "latents",
                 gc_codec.SECTION_FINE_GRAIN: "grain"}
        extra["section_names"] = {str(t): names[t] for t, _ in c.sections if t in names}
        code = gc_codec.fine_grain_code(c)
        if code is not None:
            extra["fine_grain"] = {"code": code, "gain": grain_gain(code)}
    if c.kind == PayloadKind.LAYERED_IMAGE:
        from ..bitstream.layered import SECTION, unpack_payload

        p = unpack_payload(c.section(SECTION), c.size)
        extra["section_names"] = {str(SECTION): "layered"}
        extra["layered"] = {"base_codec": "VVC intra", "qp": p.qp, "scale": f"1/{p.scale}",
                            "base_bytes": len(p.base) - p.implied_bytes,
                            "base_bytes_implied": p.implied_bytes,
                            "latent_bytes": len(p.latents), "latent_channels": p.channels,
                            **({"band_gains": list(layered_codec.gain_values(p.gains)),
                                "grain_code": p.grain or 0, "grain": grain_gain(p.grain or 0)}
                               if p.gains is not None else {})}
    if c.kind in IMAGE_KINDS and c.has_section(SECTION_PLANES):
        extra.update(_describe_planes(c))
        extra.setdefault("section_names", {})[str(SECTION_PLANES)] = "source planes"
    return {
        "kind": KIND_NAMES[c.kind],
        "size": list(c.size),
        "model": c.model_id or None,
        "model_digest": c.model_digest.hex() if c.model_id else None,
        "bytes": len(data),
        "header_bytes": len(data) - sum(section_bytes.values()),
        "section_bytes": section_bytes,
        "bpp": 8 * len(data) / pixels,
        **extra,
    }


def _describe_planes(c: Container) -> dict[str, Any]:
    """gray, alpha and how the alpha plane is coded, from the source-planes section."""
    payload = c.section(SECTION_PLANES)
    planes = split_planes(c)[1]
    info: dict[str, Any] = {"gray": planes.gray, "alpha": planes.alpha is not None}
    if planes.alpha is not None:
        info["alpha_coding"] = "labelmap" if payload[1] == ALPHA_LABELMAP else "lzma"
    return info
