"""GC image payloads: an image <-> a container of entropy-coded latent symbols.

Section layout of a GC image (kind 1), see bitstream/FORMAT.md; exactly one of:
  tag 1  latents: the C x ceil(H/16) x ceil(W/16) symbols in channel-major order,
         ANS-coded under the model's per-channel integer tables.
  tag 2  the same latents under the context model (bitstream/context_model.py),
         written when the model file carries context tables (`entropy.context_tables`).
The latent shape follows from the original size in the header (padded to a multiple
of 16, at least 32) and the model's C,
so no other side information is stored.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

from ..bitstream import context_model
from ..bitstream.container import Container, PayloadKind, pack
from ..bitstream.entropy import decode_categorical, encode_categorical
from ..bitstream.errors import FormatError, InputError, UnsupportedError
from ..bitstream.grain import grain_gain
from ..models.gc import ENCODER_TILES, GENERATOR_TILES, STRIDE, GCConfig, GCModel, pad_to_multiple, padded_size
from ..models.latent_refine import refine_symbols
from ..models.tiling import tiled
from .device import tile_batch
from .export import TABLES_KEY
from .model_store import load_weights
from .registry import ModelRef
from .stage.stage import LoadedStage, apply_stage

SECTION_LATENTS = 1
SECTION_CONTEXT_LATENTS = 2
SECTION_FINE_GRAIN = 3  # one byte, the fine grain code (bitstream/grain.py); absent in files before it
CONTEXT_TABLES_KEY = "entropy.context_tables"


@dataclass
class LoadedGC:
    ref: ModelRef
    model: GCModel
    tables: np.ndarray  # int64 (C, L)
    device: torch.device
    context_tables: np.ndarray | None = None  # int64 (C, 3, K, L), validated at load

    @property
    def cfg(self) -> GCConfig:
        return self.model.cfg


def read_static_tables(state: dict[str, torch.Tensor], channels: int, levels: int, path: object) -> np.ndarray:
    """Pop the per-channel integer tables (`entropy.tables`) from a model's tensors and check their shape."""
    if TABLES_KEY not in state:
        raise InputError(f"{path} is not a valid model: it has no {TABLES_KEY}")
    tables = state.pop(TABLES_KEY).numpy().astype(np.int64)
    if tables.shape != (channels, levels):
        raise InputError(f"{path}: entropy tables have shape {tables.shape}, expected {(channels, levels)}")
    return tables


def read_context_tables(state: dict[str, torch.Tensor], channels: int, levels: int) -> np.ndarray | None:
    """Pop the optional context tables (`entropy.context_tables`) from a model's tensors; None if
    absent, ValueError if malformed."""
    ctx = state.pop(CONTEXT_TABLES_KEY, None)
    return None if ctx is None else context_model.check_tables(ctx.numpy(), channels, levels)


def load_gc(ref: ModelRef, device: torch.device) -> LoadedGC:
    state, card = load_weights(ref.path)
    try:
        cfg = GCConfig.from_dict(card["config"])
        tables = read_static_tables(state, cfg.channels, cfg.levels, ref.path)
        ctx = read_context_tables(state, cfg.channels, cfg.levels)
        model = GCModel(cfg)
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise InputError(f"{ref.path} is not a valid GC model: {str(e).splitlines()[0]}") from None
    return LoadedGC(ref, model.eval().to(device), tables, device, ctx)


def latent_shape(cfg: GCConfig, height: int, width: int) -> tuple[int, int, int]:
    ph, pw = padded_size(height, width)
    return cfg.channels, ph // STRIDE, pw // STRIDE


def to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image).copy()).to(device).permute(2, 0, 1).unsqueeze(0).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor, height: int, width: int) -> np.ndarray:
    """float (1, 3, H', W') in [-1, 1] -> uint8 (height, width, 3), cropped."""
    x = x[0, :, :height, :width].float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()


def check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}")


def compress(gc: LoadedGC, image: np.ndarray, refine_steps: int = 0, progress: bool = False) -> bytes:
    """RGB uint8 (H, W, 3) -> container bytes; `refine_steps` > 0 fits the latents to the image
    (models/latent_refine.py: slower encode, same decoder)."""
    check_image(image)
    h, w = image.shape[:2]
    x = pad_to_multiple(to_tensor(image, gc.device))
    if refine_steps > 0:
        symbols = refine_symbols(gc.model, x, h, w, refine_steps, progress=progress)[0].cpu().numpy()
    else:
        symbols = encode_symbols(gc, x)[0].cpu().numpy()  # (C, h, w)
    c = Container(PayloadKind.GC_IMAGE, (h, w), gc.ref.name, gc.ref.digest, (latent_section(gc, symbols),))
    return pack(c)


@torch.inference_mode()
def encode_symbols(gc: LoadedGC, x: torch.Tensor) -> torch.Tensor:
    """Symbols (1, C, H/16, W/16) of a padded image (1, 3, H, W), the encoder run tile by tile."""
    grid = (x.shape[-2] // STRIDE, x.shape[-1] // STRIDE)
    y = tiled(gc.model.encoder, [x], [STRIDE], grid, ENCODER_TILES.scaled(), 1, tile_batch(gc.device))
    return gc.model.quantizer.symbols(y)


def decode_symbols(gc: LoadedGC, symbols: torch.Tensor) -> torch.Tensor:
    """Image (1, 3, H, W) in [-1, 1] from symbols (1, C, H/16, W/16), the generator run tile by tile."""
    return tiled(gc.model.decode_symbols, [symbols], [1], symbols.shape[-2:], GENERATOR_TILES.scaled(), STRIDE,
                 tile_batch(gc.device))


def latent_section(gc: LoadedGC, symbols: np.ndarray) -> tuple[int, bytes]:
    """(tag, payload) coding symbols (C, h, w): the context model if the model has one, else static tables."""
    if gc.context_tables is not None:
        return SECTION_CONTEXT_LATENTS, context_model.encode(symbols, gc.context_tables)
    channel = np.broadcast_to(np.arange(symbols.shape[0])[:, None, None], symbols.shape)
    return SECTION_LATENTS, encode_categorical(symbols.reshape(-1), gc.tables, channel.reshape(-1))


def decode_latents(gc: LoadedGC, c: Container) -> np.ndarray:
    """Container -> int64 symbols (C, h, w); exact on every machine (CPU integer tables)."""
    h, w = c.size
    shape = latent_shape(gc.cfg, h, w)
    if c.has_section(SECTION_CONTEXT_LATENTS):
        if gc.context_tables is None:
            raise FormatError(f"file codes latents with a context model, but model {gc.ref.name} has no context tables")
        return context_model.decode(c.section(SECTION_CONTEXT_LATENTS), gc.context_tables, shape, checked=True)
    channel = np.repeat(np.arange(shape[0]), shape[1] * shape[2])
    return decode_categorical(c.section(SECTION_LATENTS), gc.tables, channel).reshape(shape)


def latent_seed(c: Container) -> int:
    """The detail stage's noise seed: a CRC of the latent section, so each file draws its own field."""
    tag = SECTION_CONTEXT_LATENTS if c.has_section(SECTION_CONTEXT_LATENTS) else SECTION_LATENTS
    return zlib.crc32(c.section(tag))


def fine_grain_code(c: Container) -> int | None:
    """The file's fine grain code, None for files without the section; FormatError unless it is one byte."""
    if not c.has_section(SECTION_FINE_GRAIN):
        return None
    payload = c.section(SECTION_FINE_GRAIN)
    if len(payload) != 1:
        raise FormatError(f"GC image: the fine grain section must be one byte, got {len(payload)}")
    return payload[0]


@torch.inference_mode()
def decompress(gc: LoadedGC, c: Container, half: bool = False, detail: tuple[LoadedStage, float] | None = None
               ) -> np.ndarray:
    """Container -> RGB uint8 (H, W, 3); `detail`: a detail stage (codec/stage/) and the realism R
    it decodes at (R = 0: the GC decode itself)."""
    if c.kind != PayloadKind.GC_IMAGE:
        raise UnsupportedError(f"not a GC image file (payload kind {int(c.kind)})")
    if c.model_id != gc.ref.name or c.model_digest != gc.ref.digest:
        raise FormatError(f"file was written by model {c.model_id} ({c.model_digest.hex()}), "
                          f"not {gc.ref.name} ({gc.ref.digest.hex()})")
    code = fine_grain_code(c)
    grain = None if code is None else grain_gain(code)
    symbols = torch.from_numpy(decode_latents(gc, c)).unsqueeze(0).to(gc.device)
    with torch.autocast(gc.device.type, dtype=torch.bfloat16 if gc.device.type == "cpu" else torch.float16,
                        enabled=half):
        x = decode_symbols(gc, symbols)
    if detail is not None:
        x = apply_stage(detail[0], x.float(), gc.model.quantizer.dequantize(symbols), latent_seed(c), detail[1], grain)
    return to_uint8(x, *c.size)
