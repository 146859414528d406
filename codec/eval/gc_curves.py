"""gcodec's own models as a codec of the rate-distortion harness (`codec/eval/images.py`)."""

from __future__ import annotations

import time

import numpy as np
import torch

from ...bitstream.errors import InputError
from ..api import Codec, measured_bpp
from ..registry import resolve_model, shipped_models
from ..stage.stage import stage_for
from .protocol import CodecOutput


class GcodecRD:
    """One RD curve whose settings are GC model names (lowest rate first)."""

    def __init__(self, name: str, models: list[str], device: torch.device, half: bool = False,
                 refine_steps: int = 0, realism: float | None = None) -> None:
        for m in models:  # unknown names, or R > 0 for a model without a detail stage, fail before any work
            ref = resolve_model(m, kind="gc")
            if realism and stage_for(ref) is None:
                raise InputError(f"--realism {realism:g}: GC model {m} has no detail stage installed")
        self.name = name
        self.settings = models
        self.refine_steps = refine_steps
        self.realism = realism  # None: each model's detail stage at its default R (the GC decode without one)
        self.codec = Codec(device, half=half)

    def run(self, image: np.ndarray, setting: str) -> CodecOutput:
        t0 = time.perf_counter()
        data = self.codec.encode_image(image, setting, self.refine_steps)
        t1 = time.perf_counter()
        _, decoded = self.codec.decode(data, realism=self.realism)
        t2 = time.perf_counter()
        return CodecOutput(num_bytes=len(data), decoded=decoded, data=data, encode_s=t1 - t0, decode_s=t2 - t1)


def refined_name(name: str, steps: int) -> str:
    """The curve name of `name` encoded with `steps` of latent refinement."""
    return f"{name}-refine{steps}"


def gcodec_codecs(names: list[str], device: torch.device, half: bool = False,
                  refine_steps: int = 0, realisms: list[float | None] | None = None) -> dict[str, GcodecRD]:
    """'gcodec' -> every shipped GC model as one curve; 'gcodec:A+B' -> models A and B.

    With refine_steps > 0 each curve gets a twin, NAME-refineN, encoded with latent refinement.
    With `realisms`, each curve is decoded at every R instead, as NAME-R<r> (detail stages; None:
    each model's stage at its default R, as NAME-Rdefault).
    """
    out = {}
    for n in names:
        if n == "gcodec":
            rated = sorted(shipped_models("gc"), key=lambda m: measured_bpp(m) or 0)
            if not rated:
                raise InputError("no shipped GC models")
            models = [m.name for m in rated]
        elif n.startswith("gcodec:"):
            models = n[len("gcodec:"):].split("+")
        else:
            continue
        curves = [(f"{n}-R{'default' if r is None else format(r, 'g')}", r) for r in realisms] if realisms else [(n, None)]
        for curve, r in curves:
            out[curve] = GcodecRD(curve, models, device, half, realism=r)
            if refine_steps > 0:
                twin = refined_name(curve, refine_steps)
                out[twin] = GcodecRD(twin, models, device, half, refine_steps, realism=r)
    return out
