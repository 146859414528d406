"""The VIDEO payload's layout (bitstream/FORMAT.md): section tags, quantization ranges and
the config section, shared by the encoder (video_codec.py) and the decoder (video_decode.py)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..bitstream.container import Container, PayloadKind, unpack
from ..bitstream.errors import FormatError, InputError, UnsupportedError
from ..bitstream.varint import encode_uvarint
from ..models.nerv import NervConfig
from ..models.seeded_init import GENERATOR_ID, INITS
from .video_bits import Reader

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


def pack_config(cfg: NervConfig, method: str, fps: float, seed: int, init: str,
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
class VideoHeader:
    cfg: NervConfig
    method: str
    fps: float
    seed: int
    init: str
    sparsities: tuple[float, ...]


def unpack_config(c: Container) -> VideoHeader:
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
    return VideoHeader(cfg, method, fps, seed, INITS[init_id], sparsities)


def video_container(data_or_container: bytes | Container) -> Container:
    c = data_or_container if isinstance(data_or_container, Container) else unpack(data_or_container)
    if c.kind != PayloadKind.VIDEO:
        raise InputError("not a gcodec video file")
    return c
