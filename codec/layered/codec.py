"""Layered images (payload kind 5): a VVC base, texture latents and a detail generator.

`compress_at(model, image, scale, qp, channels)` writes one operating point;
codec/layered/rate.py picks the operating point for a rate. `decompress(model, c, realism)`
decodes any file at any realism R in [0, 1]: R = 0 is the most faithful decode, R = 1 the
most detailed; the generator's noise is seeded from the file, so a file and R give the same
pixels on every machine (within float tolerance).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import numpy as np
import torch

from ...bitstream.container import Container, PayloadKind, pack, unpack
from ...bitstream.entropy import decode_categorical, encode_categorical
from ...bitstream.errors import FormatError, InputError, UnsupportedError
from ...bitstream.grain import grain_gain
from ...bitstream.layered import GAIN_STEP, SECTION, LayeredPayload, pack_payload, unpack_payload
from ...models.detail import LATENT_STRIDE, TILES, DetailConfig, DetailModel, noise_field, pad_to_stride
from ...models.tiling import tiled
from ..device import tile_batch
from ..gc_codec import check_image, read_static_tables, to_tensor, to_uint8
from ..model_store import load_weights
from ..registry import ModelRef
from .base import decode_base, encode_base, require_vvc


NO_GAINS = (0, 0, 0)  # band gain codes: no sharpening beyond the model's g0


@dataclass
class LoadedLayered:
    ref: ModelRef
    model: DetailModel
    tables: np.ndarray  # int64 (C, L)
    device: torch.device
    default_realism: float

    @property
    def cfg(self) -> DetailConfig:
        return self.model.cfg


def load_layered(ref: ModelRef, device: torch.device) -> LoadedLayered:
    state, card = load_weights(ref.path)
    try:
        cfg = DetailConfig.from_dict(card["config"])
        tables = read_static_tables(state, cfg.channels, cfg.levels, ref.path)
        model = DetailModel(cfg)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        realism = float(card.get("default_realism", 0.0))
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise InputError(f"{ref.path} is not a valid layered model: {str(e).splitlines()[0]}") from None
    return LoadedLayered(ref, model.eval().to(device), tables, device, realism)


def latent_grid(height: int, width: int) -> tuple[int, int]:
    return -(-height // LATENT_STRIDE), -(-width // LATENT_STRIDE)


def check_realism(realism: float) -> float:
    if not 0.0 <= realism <= 1.0:  # also refuses NaN
        raise InputError(f"--realism must be in [0, 1], got {realism}")
    return float(realism)


@torch.inference_mode()
def latent_symbols(lm: LoadedLayered, image: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The encoder's symbols (C, h/32, w/32) for an image and its upscaled base decode."""
    x = pad_to_stride(to_tensor(image, lm.device))
    b = pad_to_stride(to_tensor(base, lm.device))
    grid = (x.shape[-2] // LATENT_STRIDE, x.shape[-1] // LATENT_STRIDE)
    y = tiled(lm.model.encoder, [x, b], [LATENT_STRIDE] * 2, grid, TILES.scaled(), 1, tile_batch(lm.device))
    return lm.model.quantizer.symbols(y)[0].cpu().numpy()


def decoder_symbols(lm: LoadedLayered, symbols: np.ndarray | None, channels: int, height: int, width: int
                    ) -> np.ndarray:
    """The symbols (C, h/32, w/32) a decoder reads: the first `channels` of `symbols`, the rest at
    the middle level."""
    out = np.full((lm.cfg.channels, *latent_grid(height, width)), lm.model.middle, dtype=np.int64)
    if channels:
        out[:channels] = symbols[:channels]
    return out


def encode_latents(lm: LoadedLayered, symbols: np.ndarray, channels: int) -> bytes:
    """ANS bytes of the first `channels` channels (empty for 0)."""
    if channels == 0:
        return b""
    part = symbols[:channels]
    index = np.broadcast_to(np.arange(channels)[:, None, None], part.shape).reshape(-1)
    return encode_categorical(part.reshape(-1), lm.tables, index)


def signals_gains(lm: LoadedLayered) -> bool:
    """Whether this model's files carry the encoder's band gains (models with `sharpen`)."""
    return lm.model.generator.sharpens


def pack_layered(lm: LoadedLayered, size: tuple[int, int], scale: int, qp: int, base_stream: bytes,
                 latent_bytes: bytes, channels: int, gains: tuple[int, int, int] | None = None) -> bytes:
    """The container; `gains` (codes) for models that signal them, NO_GAINS when not yet chosen
    (the same size), and for those a fine grain code, 0 until the encoder picks one."""
    if signals_gains(lm) and gains is None:
        gains = NO_GAINS
    grain = None if gains is None else 0
    payload = pack_payload(LayeredPayload(scale, qp, channels, base_stream, latent_bytes, gains, grain), size)
    return pack(Container(PayloadKind.LAYERED_IMAGE, size, lm.ref.name, lm.ref.digest, ((SECTION, payload),)))


def with_gains(data: bytes, gains: tuple[int, int, int], grain: int = 0) -> bytes:
    """A layered file with its band gain and fine grain codes replaced (the same size when it had both)."""
    c = unpack(data)
    p = replace(unpack_payload(c.section(SECTION), c.size), gains=gains, grain=grain)
    return pack(replace(c, sections=tuple((t, pack_payload(p, c.size) if t == SECTION else b) for t, b in c.sections)))


def compress_at(lm: LoadedLayered, image: np.ndarray, scale: int, qp: int, channels: int | None = None) -> bytes:
    """One operating point: base at 1/scale and QP, then the first `channels` latent channels
    (all by default)."""
    check_image(image)
    require_vvc()
    h, w = image.shape[:2]
    channels = lm.cfg.channels if channels is None else channels
    if not 0 <= channels <= lm.cfg.channels:
        raise InputError(f"latent channels must be in 0..{lm.cfg.channels}, got {channels}")
    stream = encode_base(image, scale, qp)
    base = decode_base(stream, h, w, scale)
    symbols = latent_symbols(lm, image, base) if channels else None
    latents = encode_latents(lm, symbols, channels) if channels else b""
    data = pack_layered(lm, (h, w), scale, qp, stream, latents, channels)
    if signals_gains(lm):
        from .grain import with_chosen_detail

        data = with_chosen_detail(lm, data, image, base, decoder_symbols(lm, symbols, channels, h, w), scale)
    return data


def parse(lm: LoadedLayered, c: Container) -> tuple[LayeredPayload, np.ndarray]:
    """(payload, symbols (C, h/32, w/32) with uncoded channels at the middle level); checked."""
    if c.kind != PayloadKind.LAYERED_IMAGE:
        raise UnsupportedError(f"not a layered image file (payload kind {int(c.kind)})")
    if c.model_id != lm.ref.name or c.model_digest != lm.ref.digest:
        raise FormatError(f"file was written by model {c.model_id} ({c.model_digest.hex()}), "
                          f"not {lm.ref.name} ({lm.ref.digest.hex()})")
    p = unpack_payload(c.section(SECTION), c.size)
    if p.channels > lm.cfg.channels:
        raise FormatError(f"file codes {p.channels} latent channels; model {lm.ref.name} has {lm.cfg.channels}")
    gh, gw = latent_grid(*c.size)
    coded = None
    if p.channels:
        index = np.repeat(np.arange(p.channels), gh * gw)
        coded = decode_categorical(p.latents, lm.tables, index).reshape(p.channels, gh, gw)
    return p, decoder_symbols(lm, coded, p.channels, *c.size)


def noise_seed(p: LayeredPayload) -> int:
    """The generator's noise seed: a CRC of the whole base stream (parameter sets included, implied
    or not), so each file draws its own field."""
    return zlib.crc32(p.base)


def gain_values(codes: tuple[int, int, int] | None) -> tuple[float, float, float] | None:
    return None if codes is None else tuple(c * GAIN_STEP for c in codes)  # type: ignore[return-value]


@torch.inference_mode()
def generate(lm: LoadedLayered, base: np.ndarray, symbols: np.ndarray, seed: int, realism: float, scale: int,
             half: bool = False, gains: tuple[int, int, int] | None = None, faithful: bool = False,
             grain: int = 0) -> np.ndarray | torch.Tensor:
    """Upscaled base (H, W, 3) uint8, coded at 1/`scale`, + symbols -> decoded image at `realism`
    (band gain codes `gains` in place of the model's gS, fine grain code `grain`). With `faithful`:
    the float decode (1, 3, H, W) in [-1, 1] before any band gain (y0 of models/detail.py)."""
    h, w = base.shape[:2]
    b = pad_to_stride(to_tensor(base, lm.device))
    z = lm.model.dequantize(torch.from_numpy(symbols).unsqueeze(0).to(lm.device))
    noise = noise_field(seed, b.shape[-2], b.shape[-1], lm.cfg.noise).to(lm.device)
    dtype = torch.bfloat16 if lm.device.type == "cpu" else torch.float16

    def decode(b: torch.Tensor, z: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        with torch.autocast(lm.device.type, dtype=dtype, enabled=half):
            if faithful:
                return lm.model.generator.faithful(b, lm.model.generator.features(b, z))
            return lm.model.decode(b, z, noise, realism, scale, gain_values(gains), grain_gain(grain))

    out = tiled(decode, [b, z, noise], [LATENT_STRIDE, 1, LATENT_STRIDE], z.shape[-2:], TILES.scaled(), LATENT_STRIDE,
                tile_batch(lm.device))
    return out.float()[..., :h, :w] if faithful else to_uint8(out.float(), h, w)


def decompress(lm: LoadedLayered, c: Container, realism: float | None = None, half: bool = False) -> np.ndarray:
    """Container -> RGB uint8 (H, W, 3) at `realism` (the model's default when None)."""
    realism = lm.default_realism if realism is None else check_realism(realism)
    p, symbols = parse(lm, c)
    require_vvc()
    base = decode_base(p.base, *c.size, p.scale)
    return generate(lm, base, symbols, noise_seed(p), realism, p.scale, half, p.gains, grain=p.grain or 0)
