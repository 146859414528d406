"""Layered images as codecs of the rate-distortion harness (`gcodec eval --codecs layered`).

Settings are `--bpp` targets; there is one curve per realism R ("layered-R0", ...). Each
(image, target) is encoded once, with rate control, and decoded at every R, so the curves
share their files and differ only in the decode.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import torch

from ..layered.codec import check_realism
from ..registry import DEFAULT_IMAGE_MODEL, resolve_model
from .protocol import CodecOutput

DEFAULT_TARGETS = (0.02, 0.03, 0.05, 0.08)


class _SharedEncodes:
    def __init__(self, model: str, device: torch.device) -> None:
        from ..api import Codec

        self.codec = Codec(device)
        self.model = model
        self.files: dict[tuple[str, float], tuple[bytes, float]] = {}

    def encode(self, image: np.ndarray, bpp: float) -> tuple[bytes, float]:
        key = (hashlib.sha1(image.tobytes()).hexdigest(), float(bpp))
        if key not in self.files:
            if any(k[0] != key[0] for k in self.files):
                self.files.clear()  # the harness goes image by image: keep only this image's files
            t0 = time.perf_counter()
            data = self.codec.encode_image(image, self.model, bpp=bpp)
            self.files[key] = (data, time.perf_counter() - t0)
        return self.files[key]


class LayeredRD:
    """One curve: the layered model at realism R over bpp targets."""

    def __init__(self, name: str, shared: _SharedEncodes, realism: float, targets: tuple[float, ...]) -> None:
        self.name, self.shared, self.realism = name, shared, check_realism(realism)
        self.settings = list(targets)

    def run(self, image: np.ndarray, setting: float) -> CodecOutput:
        data, enc_s = self.shared.encode(image, setting)
        t0 = time.perf_counter()
        _, decoded = self.shared.codec.decode(data, realism=self.realism)
        return CodecOutput(num_bytes=len(data), decoded=decoded, data=data, encode_s=enc_s,
                           decode_s=time.perf_counter() - t0)


def layered_codecs(names: list[str], device: torch.device, realisms: list[float],
                   targets: tuple[float, ...] = DEFAULT_TARGETS) -> dict[str, LayeredRD]:
    """'layered' (the default image model) or 'layered:NAME' -> one curve per realism, named NAME-R<r>."""
    out: dict[str, LayeredRD] = {}
    for n in names:
        if n != "layered" and not n.startswith("layered:"):
            continue
        model = n.split(":", 1)[1] if ":" in n else DEFAULT_IMAGE_MODEL
        resolve_model(model, kind="layered")  # unknown names fail before any work
        shared = _SharedEncodes(model, device)
        for r in realisms:
            curve = f"{n}-R{r:g}"
            out[curve] = LayeredRD(curve, shared, r, targets)
    return out
