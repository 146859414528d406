"""File-level encode/decode for every payload kind, with a cache of loaded models.

The CLI and the evaluation call this; it picks the codec from the payload kind
in the container and the model from the id the container names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..bitstream.container import Container, PayloadKind, unpack
from ..bitstream.errors import GcodecError, InputError, UnsupportedError
from . import gc_codec, labelmap_codec, sc_codec
from .device import pick_device
from .registry import DEFAULT_IMAGE_MODEL, ModelRef, resolve_model, shipped_models

KIND_NAMES = {
    PayloadKind.GC_IMAGE: "gc-image",
    PayloadKind.LABEL_MAP: "labelmap",
    PayloadKind.SC_IMAGE: "sc-image",
    PayloadKind.VIDEO: "video",
}


def measured_bpp(m: ModelRef) -> float | None:
    """A model's rate: the eval-set mean of its card when recorded, else its validation estimate."""
    ev = m.card.get("eval", {}).get("bpp")
    return ev if ev is not None else m.card.get("validation", {}).get("val_bpp_ideal")


def model_for_bpp(bpp: float) -> ModelRef:
    """The shipped GC model with the highest measured rate not above `bpp` (else the lowest)."""
    if not bpp > 0:
        raise InputError(f"--bpp must be positive, got {bpp}")
    rated = [(measured_bpp(m), m) for m in shipped_models("gc")]
    rated = sorted((r, m) for r, m in rated if r is not None)
    if not rated:
        raise InputError("no shipped GC model records its rate")
    fitting = [m for r, m in rated if r <= bpp]
    return fitting[-1] if fitting else rated[0][1]


@dataclass
class Codec:
    device: torch.device = field(default_factory=pick_device)
    half: bool = False  # reduced-precision generator on decode
    _gc: dict[str, gc_codec.LoadedGC] = field(default_factory=dict)
    _sc: dict[str, sc_codec.LoadedSC] = field(default_factory=dict)

    def gc(self, ref: ModelRef) -> gc_codec.LoadedGC:
        key = str(ref.path)
        if key not in self._gc:
            self._gc[key] = gc_codec.load_gc(ref, self.device)
        return self._gc[key]

    def encode_image(self, image: np.ndarray, model: str | None = None, refine_steps: int = 0,
                     progress: bool = False) -> bytes:
        ref = resolve_model(model or DEFAULT_IMAGE_MODEL, kind="gc")
        return gc_codec.compress(self.gc(ref), image, refine_steps, progress)

    def sc(self, ref: ModelRef) -> sc_codec.LoadedSC:
        key = str(ref.path)
        if key not in self._sc:
            self._sc[key] = sc_codec.load_sc(ref, self.device)
        return self._sc[key]

    def encode_semantic(self, image: np.ndarray, labels: np.ndarray, model: str,
                        synthesize_ids: list[int] = (), boxes: list[sc_codec.Box] = (),
                        refine_steps: int = 0) -> bytes:
        """SC image: `labels` (H, W) class ids; latents of `synthesize_ids` cells are not coded."""
        return sc_codec.compress(self.sc(resolve_model(model, kind="sc")), image, labels, synthesize_ids, boxes,
                                 refine_steps=refine_steps)

    def encode_labels(self, labels: np.ndarray) -> bytes:
        return labelmap_codec.compress(labels)

    def decode(self, data: bytes, model: str | None = None) -> tuple[Container, np.ndarray]:
        """Container bytes -> (container, decoded array: RGB image or (H, W) label map)."""
        c = unpack(data)
        if c.kind == PayloadKind.LABEL_MAP:
            return c, labelmap_codec.decompress(c)
        if c.kind == PayloadKind.GC_IMAGE:
            ref = resolve_model(model or c.model_id, kind="gc")
            return c, gc_codec.decompress(self.gc(ref), c, half=self.half)
        if c.kind == PayloadKind.SC_IMAGE:
            ref = resolve_model(model or c.model_id, kind="sc")
            return c, sc_codec.decompress(self.sc(ref), c, half=self.half)
        raise UnsupportedError(f"decoding {KIND_NAMES[c.kind]} files is not supported by this version")


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
        if c.has_section(sc_codec.SECTION_SELECTION):
            ids, boxes = sc_codec.unpack_selection(c.section(sc_codec.SECTION_SELECTION))
            extra["synthesized_class_ids"] = ids
            try:  # names when the model is at hand; the ids alone otherwise
                ref = resolve_model(c.model_id, kind="sc")
                names = sc_codec.class_names_for(ref.card, int(ref.card["config"]["classes"]))
                extra["synthesized_classes"] = [names[i] if i < len(names) else str(i) for i in ids]
            except (GcodecError, KeyError, TypeError, ValueError):
                pass
            extra["preserved_boxes"] = [list(b) for b in boxes]
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
