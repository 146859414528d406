"""Video codec: fit a NeRV to the clip and store the network (layout: bitstream/FORMAT.md).

Methods:
  supermask (default): weights random and fixed, regenerated from a seed; training
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

import math
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..bitstream.container import Container, PayloadKind, pack, unpack
from ..bitstream.errors import FormatError, GcodecError, InputError, UnsupportedError
from ..bitstream.varint import encode_uvarint
from ..models.nerv import Nerv, NervConfig, make_config
from ..models.seeded_init import GENERATOR_ID, INITS, seeded_weight
from ..models.supermask import (DEFAULT_SPARSITIES, DenseWeight, FixedWeight, SupermaskWeight,
                                supermask_effective)
from ..models.train_video import TrainBudget, fit, render
from .device import pick_device
from .video_bits import Reader, pack_f16, pack_symbols, unpack_f16, unpack_symbols
from .video_io import is_video_path, parse_size, read_video, write_video  # noqa: F401 (re-exported)

METHODS = ("supermask", "dense", "sparse")
# Supermask head: "trained" fits the 3 x C x 3 x 3 RGB head like the dense method and stores it
# at 6 bits per output channel (HEAD_QMAX); "masked" keeps it random and masked like every other
# layer (the paper's method). eval-video, 100 epochs, masked -> trained at 0.03 / 0.1 bpp:
# carphone 27.61 -> 28.21 / 31.24 -> 31.74 dB, bikes 384x164 26.70 -> 26.99 / 29.87 -> 30.43,
# bunny 256x144 25.60 -> 25.72 / 28.52 -> 28.96. A head learning rate of 2e-2 instead of the
# scores' 6e-3: 27.97 instead of 28.05 (carphone 0.03 bpp probe, 8-bit head).
HEADS = ("trained", "masked")
TAG_CONFIG, TAG_WEIGHTS, TAG_FLOATS, TAG_MASK, TAG_BIASES, TAG_HEAD = 1, 2, 3, 4, 5, 6
QMAX = 127  # 8-bit symmetric quantization per output channel; symbols are stored as q + QMAX
# Biases are quantized to 6 bits (|q| <= 31) within the 8-bit range the format allows.
# Re-quantizing decoded 8-bit carphone files (100 epochs): supermask at 0.03 bpp biases
# 938 -> 578 bytes (3.2% of the file) for -0.004 dB, at 0.1 bpp 1499 -> 972 bytes (1.4%)
# for -0.004 dB; dense at 0.03 bpp 524 -> 280 bytes (2.1%) for -0.022 dB. 5 bits cost dense
# 0.09 dB; the fitted table of 255 symbols was a third of the 8-bit bias bytes.
BIAS_QMAX = 31
# The supermask's trained head is quantized to 6 bits too (carphone 0.03 bpp, 100 epochs:
# 28.05 dB at 8 bits, 28.03 at 6 with a file 1.7% smaller: its 8-bit symbol table was as big
# as its symbols). The format allows 8.
HEAD_QMAX = 31
SPARSE_PRUNE = 0.5  # fraction of weights the sparse baseline removes
SPARSE_FIT_FRACTION = 0.6  # budget share of the dense fit before pruning; the rest fine-tunes
# Estimated coded bits per weight, used only to size the network for a bpp target.
# Dense files at 7.5 landed 1-6.5% under target (100-epoch runs on the three videos: 7.1-7.4 bits
# per weight); the sparse baseline's kept weights code less well and land within 2% at 7.5.
EST_BITS = {"dense": 7.2, "sparse": 1.0 + (1 - SPARSE_PRUNE) * 7.5}
# Coded bits per bias, for sizing only: with ~80 bytes of table it predicts the 6-bit bias
# sections of carphone files (100 epochs; supermask at 0.03 and 0.1 bpp, dense at 0.03:
# 5.0-5.2 bits per bias) within 3%.
EST_BIAS_BITS = 5.1
EST_BIAS_TABLE_BYTES = 80
# The supermask's 6-bit trained head: a 10-epoch carphone file at 0.03 bpp stored 378 head
# weights in 350 bytes (6 of them row scales): ~5.1 bits a weight and ~100 bytes of table.
EST_HEAD_BITS = 5.1
EST_HEAD_TABLE_BYTES = 100
# Adam rates from short fits (carphone, 100 epochs, 0.03 bpp unless said): dense 5e-3/1e-2/2e-2
# -> 25.07/25.84/26.00 dB (3e-2: 25.66, and 29.20 vs 29.72 at 0.1 bpp); supermask scores (after the
# equal-width change) 1.5e-3/3e-3/6e-3/1.2e-2 -> 26.70/26.89/27.06/26.82, 6e-3 with alphas and
# biases at 1e-2 (not 5e-3) 27.18, and at 0.1 bpp 30.27 -> 30.54 (also on bikes 25.43 -> 26.02,
# bunny 25.21 -> 25.40 at 0.03 bpp, 384x164 and 256x144); sparse 1e-2/2e-2 -> 25.09/25.31,
# but at 0.1 bpp 26.51/21.87 (2e-2 collapsed during the fine-tune; measured before pruning
# became relative to each layer's RMS), so sparse uses 1e-2.
LR = {"supermask": 6e-3, "dense": 2e-2, "sparse": 1e-2}
OTHER_LR = 1e-2  # alphas and biases of the supermask method


@dataclass
class VideoOptions:
    bpp: float = 0.1
    method: str = "supermask"
    epochs: float | None = None
    time_budget: float | None = None  # seconds of training; default when both are None: 30 epochs
    max_frames: int | None = None
    resize: tuple[int, int] | str | None = None  # (W, H) or "WxH"
    device: str = "auto"
    progress: bool = True
    bf16: bool = False
    seed: int = 1
    batch: int = 4
    init: str = "signed"
    head: str = "trained"  # supermask only: see HEADS
    sparsities: tuple[float, ...] = field(default=DEFAULT_SPARSITIES)


def _entropy_bits(probs: list[float]) -> float:
    return -sum(p * math.log2(p) for p in probs if p > 0)


def estimate_bits(cfg: NervConfig, method: str, sparsities: tuple[float, ...], head: str = "trained") -> float:
    """Expected file size in bits for a config: weights + float16 extras + ~80 bytes of headers."""
    n_w, n_b = cfg.n_weights(), cfg.n_biases()
    n_layers = len(cfg.layer_shapes())
    if method == "supermask":
        cuts = (0.0, *sparsities, 1.0)
        per_w = _entropy_bits([cuts[i + 1] - cuts[i] for i in range(len(cuts) - 1)])
        extra = 16 * n_layers * len(sparsities)
        if head == "trained":
            n_head = math.prod(cfg.layer_shapes()[-1][1])
            n_w -= n_head
            extra += n_head * EST_HEAD_BITS + 16 * 3 + 8 * EST_HEAD_TABLE_BYTES - 16 * len(sparsities)
    else:
        per_w = EST_BITS[method]
        extra = 16 * n_b + 8 * 300  # per-row weight scales, weight table
    biases = EST_BIAS_BITS * n_b + 16 * n_layers + 8 * EST_BIAS_TABLE_BYTES  # symbols, scales, table
    return n_w * per_w + extra + biases + 8 * 80


def size_model(frames: int, height: int, width: int, bpp: float, method: str,
               sparsities: tuple[float, ...], head: str = "trained") -> NervConfig:
    """Widest config whose estimated size fits bpp * pixels (the narrowest if none does).

    The channel count moves the size in coarse steps; the MLP's hidden width (up to
    twice its default) then fills what is left, so every method lands near the target.
    """
    budget = bpp * frames * height * width

    def fits(cfg: NervConfig) -> bool:
        return estimate_bits(cfg, method, sparsities, head) <= budget

    best = make_config(frames, height, width, 2)
    for c in range(2, 2049):
        cfg = make_config(frames, height, width, c)
        if not fits(cfg):
            break
        best = cfg
    for hidden in range(best.hidden + 1, 2 * best.hidden + 1):
        cfg = make_config(frames, height, width, best.channels[0], hidden=hidden)
        if not fits(cfg):
            break
        best = cfg
    return best


# ---------------------------------------------------------------- config section
def _pack_config(cfg: NervConfig, method: str, fps: float, seed: int, init: str,
                 sparsities: tuple[float, ...]) -> bytes:
    out = bytearray((METHODS.index(method), GENERATOR_ID, INITS.index(init)))
    out += struct.pack("<I", seed)
    for v in (round(fps * 1000), cfg.h0, cfg.w0, len(cfg.strides), *cfg.strides, *cfg.channels,
              cfg.hidden, cfg.pe_levels, round(cfg.pe_base * 1000)):
        out += encode_uvarint(int(v))
    if method == "supermask":
        out += encode_uvarint(len(sparsities))
        for p in sparsities:
            out += encode_uvarint(round(p * 10000))
    return bytes(out)


@dataclass
class _Header:
    cfg: NervConfig
    method: str
    fps: float
    seed: int
    init: str
    sparsities: tuple[float, ...]


def _unpack_config(c: Container) -> _Header:
    r = Reader(c.section(TAG_CONFIG), "video config")
    method_id, gen_id, init_id = r.take(3, "method")
    if method_id >= len(METHODS):
        raise UnsupportedError(f"unknown video method {method_id}")
    if gen_id != GENERATOR_ID:
        raise UnsupportedError(f"weight generator {gen_id} is not supported (this build has {GENERATOR_ID})")
    if init_id >= len(INITS):
        raise UnsupportedError(f"unknown weight init {init_id}")
    (seed,) = struct.unpack("<I", r.take(4, "seed"))
    fps = r.uvarint("fps") / 1000
    h0, w0, n = r.uvarint("h0"), r.uvarint("w0"), r.uvarint("stage count")
    if not (1 <= h0 <= 4096 and 1 <= w0 <= 4096 and n <= 8):
        raise FormatError(f"implausible video config: base {h0}x{w0}, {n} stages")
    strides = tuple(r.uvarint("stride") for _ in range(n))
    channels = tuple(r.uvarint("channels") for _ in range(n + 1))
    hidden, pe_levels, pe_base = r.uvarint("hidden"), r.uvarint("PE levels"), r.uvarint("PE base") / 1000
    frames, height, width = c.size
    if (any(not 1 <= s <= 8 for s in strides) or any(not 1 <= ch <= 4096 for ch in channels)
            or not 1 <= hidden <= 8192 or not 1 <= pe_levels <= 256 or not 1.0 < pe_base < 4.0):
        raise FormatError("implausible video network config")
    cfg = NervConfig(frames, height, width, h0, w0, strides, channels, hidden, pe_levels, pe_base)
    work_h, work_w = cfg.work_size
    if not (height <= work_h < 2 * height + 64 and width <= work_w < 2 * width + 64):
        raise FormatError(f"network output {work_w}x{work_h} does not fit the {width}x{height} video")
    if cfg.n_weights() > 1 << 28:
        raise FormatError("implausible video network size")
    sparsities: tuple[float, ...] = ()
    method = METHODS[method_id]
    if method == "supermask":
        k = r.uvarint("level count")
        if not 1 <= k <= 15:
            raise FormatError(f"implausible level count {k}")
        sparsities = tuple(r.uvarint("sparsity") / 10000 for _ in range(k))
        if any(not 0 < p < 1 for p in sparsities) or list(sparsities) != sorted(set(sparsities)):
            raise FormatError("supermask sparsities must increase strictly within (0, 1)")
    r.done()
    return _Header(cfg, method, fps, seed, INITS[init_id], sparsities)


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
    seconds: float
    config: NervConfig


def check_options(opts: VideoOptions) -> None:
    """InputError for options no encode can use; cheap, so callers run it before reading a video."""
    if opts.method not in METHODS:
        raise InputError(f"unknown --method {opts.method!r}; choose from {', '.join(METHODS)}")
    if opts.init not in INITS:
        raise InputError(f"unknown init {opts.init!r}; choose from {', '.join(INITS)}")
    if opts.head not in HEADS:
        raise InputError(f"unknown head {opts.head!r}; choose from {', '.join(HEADS)}")
    if opts.head != "trained" and opts.method != "supermask":
        raise InputError(f"a {opts.head} head needs --method supermask ({opts.method} trains every layer)")
    if opts.epochs is not None and opts.time_budget is not None:
        raise InputError("give --epochs or --time-budget, not both")
    for name, v in (("--bpp", opts.bpp), ("--epochs", opts.epochs), ("--time-budget", opts.time_budget),
                    ("--max-frames", opts.max_frames)):
        if v is not None and not v > 0:
            raise InputError(f"{name} must be positive, got {v}")


def compress_frames(frames: np.ndarray, fps: float, opts: VideoOptions) -> EncodeResult:
    """uint8 frames (T, H, W, 3) -> container bytes (and training stats)."""
    check_options(opts)
    budget = (TrainBudget(seconds=opts.time_budget) if opts.time_budget is not None
              else TrainBudget(epochs=opts.epochs if opts.epochs is not None else 30))
    t, h, w, _ = frames.shape
    device = pick_device(opts.device)
    method = opts.method
    cfg = size_model(t, h, w, opts.bpp, method, opts.sparsities, opts.head)
    trained_head = method == "supermask" and opts.head == "trained"
    start = time.perf_counter()
    torch.manual_seed(opts.seed)
    if method == "supermask":
        def make_weight(i: int, name: str, shape: tuple[int, ...], fan: int) -> torch.nn.Module:
            if trained_head and name == "head":
                return DenseWeight(_seeded(opts.seed, "kaiming_uniform", i, shape, fan))
            return SupermaskWeight(_seeded(opts.seed, opts.init, i, shape, fan), opts.sparsities)

        model = Nerv(cfg, make_weight)
        model.to(device)
        psnr = fit(model, torch.from_numpy(frames), budget, LR[method], opts.batch, opts.bf16, opts.progress,
                   desc="supermask", param_lr={"alphas": OTHER_LR, "biases": OTHER_LR})
    else:
        model = Nerv(cfg, lambda i, _n, shape, fan: DenseWeight(_seeded(opts.seed, "kaiming_uniform", i, shape, fan)))
        model.to(device)
        if method == "dense":
            psnr = fit(model, torch.from_numpy(frames), budget, LR[method], opts.batch, opts.bf16, opts.progress, desc="dense")
        else:
            first, second = budget.split(SPARSE_FIT_FRACTION)
            fit(model, torch.from_numpy(frames), first, LR[method], opts.batch, opts.bf16, opts.progress, desc="sparse fit")
            _global_prune(model, SPARSE_PRUNE)
            psnr = fit(model, torch.from_numpy(frames), second, LR[method] * 0.3, opts.batch, opts.bf16, opts.progress,
                       desc="sparse tune", warmup=0.0)
    seconds = time.perf_counter() - start
    sections = [(TAG_CONFIG, _pack_config(cfg, method, fps, opts.seed, opts.init, opts.sparsities))]
    bias_q, bias_scales = _quantize_biases(model)
    if method == "supermask":
        masked = [m for m in model.weights if isinstance(m, SupermaskWeight)]
        levels = np.concatenate([m.levels().cpu().numpy().ravel() for m in masked])
        alphas = np.concatenate([m.alphas.detach().cpu().numpy() for m in masked])
        sections += [(TAG_WEIGHTS, pack_symbols(levels)), (TAG_FLOATS, pack_f16(alphas) + pack_f16(bias_scales))]
        if trained_head:
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
    data = pack(Container(PayloadKind.VIDEO, (t, h, w), sections=tuple(sections)))
    return EncodeResult(data, psnr, seconds, cfg)


def _as_size(resize: tuple[int, int] | str | None) -> tuple[int, int] | None:
    if resize is None or isinstance(resize, tuple):
        return resize
    return parse_size(resize)


def compress_video(path: str, opts: VideoOptions) -> bytes:
    """A video file or frames folder -> gcodec container bytes (PayloadKind.VIDEO)."""
    frames, fps = read_video(path, opts.max_frames, _as_size(opts.resize))
    return compress_frames(frames, fps, opts).data


# ---------------------------------------------------------------- decode
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


def _decoded_weights(c: Container, hd: _Header) -> tuple[list[np.ndarray], np.ndarray]:
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


def _container(data_or_container: bytes | Container) -> Container:
    c = data_or_container if isinstance(data_or_container, Container) else unpack(data_or_container)
    if c.kind != PayloadKind.VIDEO:
        raise InputError("not a gcodec video file")
    return c


def decoder_model(c: Container, device: torch.device) -> tuple[Nerv, _Header]:
    hd = _unpack_config(c)
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
    c = _container(data_or_container)
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
    c = _container(container)
    hd = _unpack_config(c)
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


__all__ = ["VideoOptions", "compress_video", "compress_frames", "decompress_video", "describe_video",
           "is_video_path", "write_video", "frame_slice", "GcodecError"]
