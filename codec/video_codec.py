"""Video codec: fit a NeRV to the clip and store the network (layout: bitstream/FORMAT.md).

Methods (the default, auto, picks supermask or dense by the budget: video_plan.auto_method):
  supermask: weights random and fixed, regenerated from a seed; training
      learns per-weight scores and per-level scales; stored: seed, generator id,
      per-weight level 0..N (entropy coded), alphas in float16. The RGB head (under 1% of
      the weights) is trained and stored like a dense layer unless `head="masked"`.
  dense: NeRV fully trained; weights quantized to 8 bits per output channel, entropy coded.
  sparse: dense fit, global magnitude pruning, fine-tune, quantize; the mask is coded too.
Every method stores biases at 6 bits per layer, entropy coded (in float16 they took up
to 40% of a small supermask file, mostly the MLP's last layer: one per feature-map cell).
The model is sized from the requested bpp with an estimate of the bits per weight of
each method; the real bpp is whatever the file turns out to be (`describe_video`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..bitstream.container import Container, PayloadKind, pack
from ..bitstream.errors import GcodecError, InputError
from ..models.nerv import Nerv, NervConfig
from ..models.seeded_init import INITS, seeded_weight
from ..models.supermask import DEFAULT_SPARSITIES, DenseWeight, SupermaskWeight
from ..models.train_video import FitResult, TrainBudget, fit, prefers_bf16, step_seconds
from .device import pick_device
from .video_bits import pack_f16, pack_symbols
from .video_decode import decompress_video, describe_video, frame_slice  # noqa: F401 (re-exported)
from .video_format import (BIAS_QMAX, HEAD_QMAX, HEADS, METHODS, QMAX, TAG_BIASES, TAG_CONFIG, TAG_FLOATS,
                           TAG_HEAD, TAG_MASK, TAG_WEIGHTS, pack_config)
from .video_io import is_video_path, parse_size, read_video, write_video  # noqa: F401 (re-exported)
from .video_plan import AUTO, SPARSE_PRUNE, auto_method, size_model

SPARSE_FIT_FRACTION = 0.6  # budget share of the dense fit before pruning; the rest fine-tunes
# Adam rates from short fits (carphone, 100 epochs, 0.03 bpp unless said): dense 5e-3/1e-2/2e-2
# -> 25.07/25.84/26.00 dB (3e-2: 25.66, and 29.20 vs 29.72 at 0.1 bpp); supermask scores (after the
# equal-width change) 1.5e-3/3e-3/6e-3/1.2e-2 -> 26.70/26.89/27.06/26.82, 6e-3 with alphas and
# biases at 1e-2 (not 5e-3) 27.18, and at 0.1 bpp 30.27 -> 30.54 (also on bikes 25.43 -> 26.02,
# bunny 25.21 -> 25.40 at 0.03 bpp, 384x164 and 256x144); sparse 1e-2/2e-2 -> 25.09/25.31,
# but at 0.1 bpp 26.51/21.87 (2e-2 collapsed during the fine-tune; measured before pruning
# became relative to each layer's RMS), so sparse uses 1e-2.
LR = {"supermask": 6e-3, "dense": 2e-2, "sparse": 1e-2}
OTHER_LR = 1e-2  # alphas and biases of the supermask method
# Frames per step. Bikes 480x270x60, 0.1 bpp, 240 s (bf16, one thread, two runs side by side):
# supermask batch 2 25.84 / 23.69 / 25.80 dB over three runs, batch 4 21.84, batch 1 22.72;
# dense batch 4 29.34 / 28.34 / 28.75, batch 2 25.78. The supermask gains from more, smaller steps.
BATCH = {"supermask": 2, "dense": 4, "sparse": 4}
DEFAULT_EPOCHS = 30  # the budget when neither epochs nor seconds are given
# Seconds a time budget keeps back for quantizing and entropy coding the trained network: bikes
# 480x270x60 at 0.1 bpp took 0.13 s (supermask) and 0.95 s (dense) with two fits on the 2 cores.
# At most 2% of the budget, so that short budgets on small clips are not cut short.
PACK_RESERVE_S = 1.0


@dataclass
class VideoOptions:
    bpp: float = 0.1
    method: str = AUTO  # or one of METHODS
    epochs: float | None = None
    time_budget: float | None = None  # seconds for the whole encode; when both are None: DEFAULT_EPOCHS
    max_frames: int | None = None
    resize: tuple[int, int] | str | None = None  # (W, H) or "WxH"
    device: str = "auto"
    progress: bool = True
    bf16: bool | None = None  # None: where the CPU computes bfloat16 natively (train_video.prefers_bf16)
    seed: int = 1
    batch: int | None = None  # frames per step; None: BATCH[method]
    init: str = "signed"
    head: str = "trained"  # supermask only: see HEADS
    sparsities: tuple[float, ...] = field(default=DEFAULT_SPARSITIES)


# ---------------------------------------------------------------- encode
def _seeded(seed: int, init: str, i: int, shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
    return torch.from_numpy(seeded_weight(seed, i, shape, fan_in, init))


def _quantize_rows(w: np.ndarray, qmax: int = QMAX) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per output channel, |q| <= qmax: (int symbols, float16 scales)."""
    rows = w.reshape(w.shape[0], -1)
    scale = (np.abs(rows).max(axis=1) / qmax).astype(np.float16)
    scale = np.where(scale > 0, scale, np.float16(1.0))
    q = np.clip(np.rint(rows / scale.astype(np.float32)[:, None]), -qmax, qmax).astype(np.int64)
    return q, scale


def _quantize_biases(model: Nerv) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric 6-bit per layer: (int symbols of all layers, float16 scale per layer)."""
    qs, scales = zip(*(_quantize_rows(b.detach().cpu().numpy()[None], BIAS_QMAX) for b in model.biases))
    return np.concatenate([q.ravel() for q in qs]), np.concatenate(scales)


def _global_prune(model: Nerv, fraction: float) -> None:
    """Zero the `fraction` of all weights with the smallest magnitude relative to their
    layer's RMS (one global threshold).

    Raw magnitudes scale with 1/sqrt(fan_in), so one threshold on them pruned 75-94% of
    the conv layers and 90% of the head (bikes, 0.1 bpp) and the fine-tune never recovered.
    """
    rel = [m.weight.detach().abs() / m.weight.detach().pow(2).mean().sqrt().clamp_min(1e-12)
           for m in model.weights]
    flat = torch.cat([r.flatten() for r in rel])
    k = int(fraction * flat.numel())
    if k < 1:
        return
    thresh = torch.kthvalue(flat.cpu(), k).values.to(flat.device)
    for m, r in zip(model.weights, rel):
        m.mask.copy_((r > thresh).float())


@dataclass
class EncodeResult:
    data: bytes
    train_psnr: float
    seconds: float  # the whole encode, from `started`
    config: NervConfig
    method: str  # the method used (AUTO resolved)
    steps: int
    batch: int
    bf16: bool
    history: list[tuple[float, float]]  # (seconds, training PSNR)


def check_options(opts: VideoOptions) -> None:
    """InputError for options no encode can use; cheap, so callers run it before reading a video."""
    if opts.method not in (AUTO, *METHODS):
        raise InputError(f"unknown --method {opts.method!r}; choose from {AUTO}, {', '.join(METHODS)}")
    if opts.init not in INITS:
        raise InputError(f"unknown init {opts.init!r}; choose from {', '.join(INITS)}")
    if opts.head not in HEADS:
        raise InputError(f"unknown head {opts.head!r}; choose from {', '.join(HEADS)}")
    if opts.head != "trained" and opts.method not in ("supermask", AUTO):
        raise InputError(f"a {opts.head} head needs --method supermask ({opts.method} trains every layer)")
    if opts.epochs is not None and opts.time_budget is not None:
        raise InputError("give --epochs or --time-budget, not both")
    for name, v in (("--bpp", opts.bpp), ("--epochs", opts.epochs), ("--time-budget", opts.time_budget),
                    ("--max-frames", opts.max_frames)):
        if v is not None and not v > 0:
            raise InputError(f"{name} must be positive, got {v}")


def build_model(frames: int, height: int, width: int, method: str, opts: VideoOptions,
                device: torch.device) -> Nerv:
    """The untrained network a method gets for the clip at opts.bpp (`size_model`): seeded random
    weights (masked for the supermask)."""
    cfg = size_model(frames, height, width, opts.bpp, method, opts.sparsities, opts.head)
    torch.manual_seed(opts.seed)  # the supermask's score init and the training order

    def make_weight(i: int, name: str, shape: tuple[int, ...], fan: int) -> torch.nn.Module:
        if method == "supermask" and not (opts.head == "trained" and name == "head"):
            return SupermaskWeight(_seeded(opts.seed, opts.init, i, shape, fan), opts.sparsities)
        return DenseWeight(_seeded(opts.seed, "kaiming_uniform", i, shape, fan))

    return Nerv(cfg, make_weight).to(device)


def _train(model: Nerv, method: str, clip: torch.Tensor, budget: TrainBudget, batch: int, bf16: bool,
           progress: bool) -> FitResult:
    if method == "supermask":
        return fit(model, clip, budget, LR[method], batch, bf16, progress, desc="supermask",
                   param_lr={"alphas": OTHER_LR, "biases": OTHER_LR})
    if method == "dense":
        return fit(model, clip, budget, LR[method], batch, bf16, progress, desc="dense")
    first, second = budget.split(SPARSE_FIT_FRACTION)
    dense_fit = fit(model, clip, first, LR[method], batch, bf16, progress, desc="sparse fit")
    _global_prune(model, SPARSE_PRUNE)
    tuned = fit(model, clip, second, LR[method] * 0.3, batch, bf16, progress, desc="sparse tune", warmup=0.0)
    offset = dense_fit.history[-1][0] if dense_fit.history else 0.0
    return FitResult(tuned.psnr, dense_fit.steps + tuned.steps, bf16,
                     dense_fit.history + [(sec + offset, p) for sec, p in tuned.history])


def _auto_method(clip: torch.Tensor, budget: TrainBudget, opts: VideoOptions, bf16: bool,
                 device: torch.device) -> str:
    """AUTO's pick from the epochs a supermask fit would get: the budget's, or the seconds over
    the measured time of one supermask step (measuring stops at 2% of the budget: a clip whose
    steps take that long is far from the supermask's epochs)."""
    if budget.epochs is not None:
        return auto_method(budget.epochs)
    t, h, w = clip.shape[:3]
    batch = opts.batch or BATCH["supermask"]
    probe = build_model(t, h, w, "supermask", opts, device)
    step = step_seconds(probe, clip, batch, bf16, limit=0.02 * budget.seconds)
    return auto_method(budget.seconds / (step * -(-t // batch)))


def compress_frames(frames: np.ndarray, fps: float, opts: VideoOptions, started: float | None = None) -> EncodeResult:
    """uint8 frames (T, H, W, 3) -> container bytes (and training stats).

    A time budget counts from `started` (a time.perf_counter() value; default: now), so a
    caller that read the video first can include that: training gets what is left.
    """
    check_options(opts)
    start = time.perf_counter() if started is None else started
    t, h, w, _ = frames.shape
    device = pick_device(opts.device)
    bf16 = prefers_bf16(device) if opts.bf16 is None else opts.bf16
    clip = torch.from_numpy(frames)
    budget = (TrainBudget(seconds=opts.time_budget) if opts.time_budget is not None
              else TrainBudget(epochs=opts.epochs if opts.epochs is not None else DEFAULT_EPOCHS))
    method = opts.method
    if method == AUTO:  # a masked head asks for the supermask
        method = "supermask" if opts.head == "masked" else _auto_method(clip, budget, opts, bf16, device)
    batch = opts.batch or BATCH[method]
    model = build_model(t, h, w, method, opts, device)
    if budget.seconds is not None:  # what the reading, the auto probe and the set-up took is spent
        left = start + budget.seconds - time.perf_counter() - min(PACK_RESERVE_S, 0.02 * budget.seconds)
        budget = TrainBudget(seconds=max(0.01 * budget.seconds, left))
    fitted = _train(model, method, clip, budget, batch, bf16, opts.progress)
    data = _pack(model, method, fps, opts, (t, h, w))
    return EncodeResult(data, fitted.psnr, time.perf_counter() - start, model.cfg, method, fitted.steps, batch,
                        fitted.bf16, fitted.history)


def _pack(model: Nerv, method: str, fps: float, opts: VideoOptions, size: tuple[int, int, int]) -> bytes:
    """The trained network as a VIDEO container (layout: bitstream/FORMAT.md)."""
    sections = [(TAG_CONFIG, pack_config(model.cfg, method, fps, opts.seed, opts.init, opts.sparsities))]
    bias_q, bias_scales = _quantize_biases(model)
    if method == "supermask":
        masked = [m for m in model.weights if isinstance(m, SupermaskWeight)]
        levels = np.concatenate([m.levels().cpu().numpy().ravel() for m in masked])
        alphas = np.concatenate([m.alphas.detach().cpu().numpy() for m in masked])
        sections += [(TAG_WEIGHTS, pack_symbols(levels)), (TAG_FLOATS, pack_f16(alphas) + pack_f16(bias_scales))]
        if opts.head == "trained":
            q, s = _quantize_rows(model.weights[-1].weight.detach().cpu().numpy(), HEAD_QMAX)
            sections.append((TAG_HEAD, pack_f16(s) + pack_symbols(q.ravel() + QMAX)))
    else:
        qs, scales, masks = [], [], []
        for m in model.weights:
            q, s = _quantize_rows((m.weight * m.mask).detach().cpu().numpy())
            keep = m.mask.detach().cpu().numpy().reshape(q.shape).astype(bool)
            qs.append(q[keep] if method == "sparse" else q.ravel())
            masks.append(keep.ravel())
            scales.append(s)
        sections += [(TAG_WEIGHTS, pack_symbols(np.concatenate(qs) + QMAX)),
                     (TAG_FLOATS, pack_f16(np.concatenate(scales)) + pack_f16(bias_scales))]
        if method == "sparse":
            sections.append((TAG_MASK, pack_symbols(np.concatenate(masks).astype(np.int64))))
    sections.append((TAG_BIASES, pack_symbols(bias_q + QMAX)))
    return pack(Container(PayloadKind.VIDEO, size, sections=tuple(sections)))


def _as_size(resize: tuple[int, int] | str | None) -> tuple[int, int] | None:
    if resize is None or isinstance(resize, tuple):
        return resize
    return parse_size(resize)


def compress_video(path: str, opts: VideoOptions) -> bytes:
    """A video file or frames folder -> gcodec container bytes (PayloadKind.VIDEO); a time
    budget includes the reading."""
    start = time.perf_counter()
    frames, fps = read_video(path, opts.max_frames, _as_size(opts.resize))
    return compress_frames(frames, fps, opts, start).data


__all__ = ["VideoOptions", "compress_video", "compress_frames", "decompress_video", "describe_video",
           "is_video_path", "write_video", "frame_slice", "GcodecError"]
