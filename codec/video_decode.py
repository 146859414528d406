"""Video decoder: rebuild the stored network (regenerating a supermask's random weights from
its seed) and render frames; `gcodec info`'s description of a video file."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..bitstream.container import Container, pack
from ..bitstream.errors import FormatError, InputError
from ..models.nerv import Nerv
from ..models.seeded_init import GENERATOR_ID, seeded_weight
from ..models.supermask import FixedWeight, supermask_effective
from ..models.train_video import render
from .device import pick_device
from .video_bits import Reader, unpack_f16, unpack_symbols
from .video_format import (QMAX, TAG_BIASES, TAG_CONFIG, TAG_FLOATS, TAG_HEAD, TAG_MASK, TAG_WEIGHTS, VideoHeader,
                           unpack_config, video_container)

def _dequantize_rows(q: np.ndarray, scales: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return (q.reshape(shape[0], -1) * scales[:, None]).astype(np.float32).reshape(shape)


def _unpack_signed(data: bytes, count: int, what: str) -> np.ndarray:
    """A symbol stream of q + QMAX -> q, FormatError unless every |q| <= QMAX."""
    q = unpack_symbols(data, count, what) - QMAX
    if q.size and (q.min() < -QMAX or q.max() > QMAX):
        raise FormatError(f"{what} fall outside the 8-bit range")
    return q


def _decoded_head(payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """A supermask file's trained head: float16 row scales, then q + QMAX symbols."""
    r = Reader(payload, "video head")
    scales = unpack_f16(r, shape[0], "head scales")
    return _dequantize_rows(_unpack_signed(r.rest(), math.prod(shape), "video head weights"), scales, shape)


def _decoded_weights(c: Container, hd: VideoHeader) -> tuple[list[np.ndarray], np.ndarray]:
    shapes = hd.cfg.layer_shapes()
    sizes = [math.prod(s) for _, s, _ in shapes]
    n_w, n_b = sum(sizes), hd.cfg.n_biases()
    fl = Reader(c.section(TAG_FLOATS), "video scales")
    weights: list[np.ndarray] = []
    if c.has_section(TAG_HEAD) and hd.method != "supermask":
        raise FormatError(f"a {hd.method} video file holds a supermask head section")
    if hd.method == "supermask":
        n_masked = len(shapes) - 1 if c.has_section(TAG_HEAD) else len(shapes)
        levels = unpack_symbols(c.section(TAG_WEIGHTS), sum(sizes[:n_masked]), "video levels")
        if levels.min() < 0 or levels.max() > len(hd.sparsities):
            raise FormatError("video levels fall outside 0..N")
        alphas = unpack_f16(fl, n_masked * len(hd.sparsities), "alphas").reshape(n_masked, -1)
        pos = 0
        for i, (_, shape, fan_in) in enumerate(shapes[:n_masked]):
            lv = levels[pos : pos + sizes[i]].reshape(shape)
            pos += sizes[i]
            base = seeded_weight(hd.seed, i, shape, fan_in, hd.init)
            weights.append(supermask_effective(base, lv, alphas[i]))
        if n_masked < len(shapes):
            weights.append(_decoded_head(c.section(TAG_HEAD), shapes[-1][1]))
    else:
        scales = unpack_f16(fl, n_b, "weight scales")
        if hd.method == "sparse":
            mask = unpack_symbols(c.section(TAG_MASK), n_w, "video mask")
            if mask.min() < 0 or mask.max() > 1:
                raise FormatError("video mask holds values other than 0 and 1")
            mask = mask.astype(bool)
            kept = int(mask.sum())
        else:
            mask, kept = np.ones(n_w, bool), n_w
        q_kept = _unpack_signed(c.section(TAG_WEIGHTS), kept, "video weights")
        q = np.zeros(n_w, np.float32)
        q[mask] = q_kept
        pos = spos = 0
        for i, (_, shape, _) in enumerate(shapes):
            weights.append(_dequantize_rows(q[pos : pos + sizes[i]], scales[spos : spos + shape[0]], shape))
            pos += sizes[i]
            spos += shape[0]
    bias_scales = unpack_f16(fl, len(shapes), "bias scales")
    fl.done()
    q_b = _unpack_signed(c.section(TAG_BIASES), n_b, "video biases")
    per_layer = np.repeat(bias_scales, [shape[0] for _, shape, _ in shapes])
    return weights, (q_b * per_layer).astype(np.float32)


def decoder_model(c: Container, device: torch.device) -> tuple[Nerv, VideoHeader]:
    hd = unpack_config(c)
    weights, biases = _decoded_weights(c, hd)
    model = Nerv(hd.cfg, lambda i, _n, _s, _f: FixedWeight(torch.from_numpy(weights[i])))
    pos = 0
    with torch.no_grad():
        for b in model.biases:
            b.copy_(torch.from_numpy(biases[pos : pos + b.numel()]))
            pos += b.numel()
    return model.to(device).eval(), hd


def decompress_video(data_or_container: bytes | Container, device: str = "auto",
                     frames: slice | None = None) -> tuple[np.ndarray, float]:
    """Container (or its bytes) -> uint8 frames (T, H, W, 3) and fps; `frames` picks a slice."""
    c = video_container(data_or_container)
    dev = pick_device(device)
    model, hd = decoder_model(c, dev)
    indices = range(hd.cfg.frames)[frames] if frames is not None else range(hd.cfg.frames)
    if len(indices) == 0:
        raise InputError(f"--frames selects no frames of the {hd.cfg.frames}")
    # TF32 would make GPU decodes drift from CPU ones; keep full float32.
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        out = render(model, torch.tensor(list(indices), dtype=torch.long))
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    return out.numpy(), hd.fps


def describe_video(container: Container) -> dict[str, Any]:
    """Frames, size, fps, method, network and bits per part, for `gcodec info`."""
    c = video_container(container)
    hd = unpack_config(c)
    t, h, w = c.size
    names = {TAG_CONFIG: "config", TAG_WEIGHTS: "levels" if hd.method == "supermask" else "weights",
             TAG_FLOATS: "scales", TAG_MASK: "mask", TAG_BIASES: "biases", TAG_HEAD: "head"}
    total = len(pack(c))
    return {
        "kind": "video", "frames": t, "width": w, "height": h, "fps": hd.fps, "method": hd.method,
        "bpp": 8 * total / (t * h * w), "bytes": total,
        "network": {"base": f"{hd.cfg.w0}x{hd.cfg.h0}", "strides": list(hd.cfg.strides),
                    "channels": list(hd.cfg.channels), "hidden": hd.cfg.hidden,
                    "weights": hd.cfg.n_weights(), "biases": hd.cfg.n_biases()},
        "seed": hd.seed if hd.method == "supermask" else None,
        "generator": GENERATOR_ID if hd.method == "supermask" else None,
        "init": hd.init if hd.method == "supermask" else None,
        "head": ("trained" if c.has_section(TAG_HEAD) else "masked") if hd.method == "supermask" else None,
        "sparsities": list(hd.sparsities) or None,
        "bits": {names.get(tag, str(tag)): 8 * len(p) for tag, p in c.sections},
        "bits_container_overhead": 8 * (total - sum(len(p) for _, p in c.sections)),
    }


def frame_slice(text: str) -> slice:
    """'a:b' (either end optional) -> slice; InputError if malformed."""
    parts = (text or "").split(":")
    try:
        if len(parts) == 1:
            i = int(parts[0])
            return slice(i, i + 1)
        if len(parts) == 2:
            return slice(int(parts[0]) if parts[0] else None, int(parts[1]) if parts[1] else None)
    except ValueError:
        pass
    raise InputError(f"--frames expects a:b, got {text!r}")


