"""SC image payloads (selective generative compression): image + label map <-> container.

The decoder sees the label map s, so latent cells of chosen classes are synthesized from
s alone: they are left out of the latent stream entirely (not coded as zeros) and cost
no bits. Section layout of an SC image (kind 3), see bitstream/FORMAT.md:
  tag 1  latents: the symbols of the cells whose heat is 1, channel-major then raster,
         ANS-coded under the model's per-channel integer tables (may be empty);
  tag 2  label map: `bitstream/labelmap/` payload at the original size;
  tag 3  selection: the synthesized class ids and the preserved boxes (varints);
  tag 4  instead of tag 1 when the model file has context tables: the coded cells' symbols
         under the context model (bitstream/context_model.py, skipped cells read as the
         middle level);
  tag 5  instead of tag 2, a lossy map (`--map-tolerance`): one byte, the grid cell in
         pixels (2..64), then the label-map payload of the coarse grid
         (`bitstream/labelmap/grid.py`); both sides expand it to the full-size map that
         drives the heatmap, the encoder and the generator.
The heatmap is never stored: both sides derive it from the (padded) label map, the
synthesized classes and the boxes with the integer rule in `models.sc.synthesis_heatmap`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

from ..bitstream import context_model
from ..bitstream.container import Container, PayloadKind, pack, unpack
from ..bitstream.entropy import decode_categorical, encode_categorical
from ..bitstream.errors import FormatError, InputError, UnsupportedError
from ..bitstream.labelmap import decode_labelmap, encode_labelmap
from ..bitstream.labelmap import grid as map_grid
from ..models.gc import ENCODER_TILES, STRIDE, pad_to_multiple, padded_size
from ..models.latent_refine import refine_sc_symbols
from ..models.sc import (GENERATOR_TILES, RETIRED_TENSORS, SCConfig, SCModel, heat_at, stage_conditioning,
                         synthesis_heatmap, synthesis_noise)
from ..models.tiling import tiled
from ..models.train_seg_data import CAMVID_CLASSES
from .gc_codec import (check_image, read_context_tables, read_static_tables, to_tensor,
                       to_uint8)
from .device import tile_batch
from .model_store import load_weights
from .registry import ModelRef
from .sc_selection import Box, check_boxes, check_labels, pack_selection, unpack_selection
from .stage.stage import LoadedStage, apply_stage

SECTION_LATENTS = 1
SECTION_MAP = 2
SECTION_SELECTION = 3
SECTION_CONTEXT_LATENTS = 4
SECTION_GRID_MAP = 5
SECTION_NAMES = {SECTION_LATENTS: "latents", SECTION_MAP: "map", SECTION_SELECTION: "selection",
                 SECTION_CONTEXT_LATENTS: "latents", SECTION_GRID_MAP: "map"}
AUTO_SEGMENTER = "seg-camvid"  # the shipped network behind `--semantic auto`


@dataclass
class LoadedSC:
    ref: ModelRef
    model: SCModel
    tables: np.ndarray  # int64 (C, L)
    device: torch.device
    class_names: tuple[str, ...]  # one per class id the model sees
    context_tables: np.ndarray | None = None  # int64 (C, 3, K, L), validated at load
    default_map_tolerance: int = 0  # the card's `default_map_tolerance`: the grid its decoder was tuned on

    @property
    def cfg(self) -> SCConfig:
        return self.model.cfg


def class_names_for(card: dict, classes: int) -> tuple[str, ...]:
    """Names of the model's class ids: the card's `class_names`, else CamVid's (+ void as id 11)."""
    names = card.get("class_names")
    if isinstance(names, list) and len(names) == classes and all(isinstance(n, str) for n in names):
        return tuple(names)
    camvid = CAMVID_CLASSES + ("Unlabelled",)
    if classes <= len(camvid):
        return camvid[:classes]
    return tuple(f"class{i}" for i in range(classes))


def load_sc(ref: ModelRef, device: torch.device) -> LoadedSC:
    state, card = load_weights(ref.path)
    try:
        cfg = SCConfig.from_dict(card["config"])
        tables = read_static_tables(state, cfg.channels, cfg.levels, ref.path)
        ctx = read_context_tables(state, cfg.channels, cfg.levels)
        model = SCModel(cfg)
        model.load_state_dict({k: v.float() for k, v in state.items() if not k.startswith(RETIRED_TENSORS)})
        tolerance = card.get("default_map_tolerance", 0)
        check_map_tolerance(tolerance)
    except (KeyError, ValueError, RuntimeError, TypeError, InputError) as e:
        raise InputError(f"{ref.path} is not a valid SC model: {str(e).splitlines()[0]}") from None
    return LoadedSC(ref, model.eval().to(device), tables, device, class_names_for(card, cfg.classes), ctx, tolerance)


def check_map_tolerance(tolerance: object) -> None:
    """0 (lossless map) or a grid cell of 2..64 pixels."""
    if type(tolerance) is not int or not (tolerance == 0 or 2 <= tolerance <= map_grid.MAX_CELL):
        raise InputError(f"--map-tolerance must be 0 (lossless) or 2..{map_grid.MAX_CELL} pixels, got {tolerance}")


def section_sizes(data: bytes) -> dict[str, int]:
    """Bytes of an SC file by part: header (container overhead), map, latents, selection."""
    c = unpack(data)
    sizes = {SECTION_NAMES.get(t, str(t)): len(p) for t, p in c.sections}
    return {"header": len(data) - sum(sizes.values()), **sizes}


# ------------------------------------------------------------------ heatmap


def pad_labels(labels: np.ndarray) -> np.ndarray:
    """Pad an (H, W) map to `padded_size` exactly as `pad_to_multiple` pads the image."""
    h, w = labels.shape
    ph, pw = padded_size(h, w)
    if (ph, pw) == (h, w):
        return labels
    mode = "reflect" if ph - h < h and pw - w < w else "edge"
    return np.pad(labels, ((0, ph - h), (0, pw - w)), mode=mode)


def heatmap(padded_labels: np.ndarray, classes: int, synthesize_ids: list[int], boxes: list[Box]) -> np.ndarray:
    """bool (h, w) at latent resolution: True where the latent is coded. Boxes force True on
    every cell they overlap."""
    synth = torch.zeros(classes, dtype=torch.bool)
    synth[list(synthesize_ids)] = True
    heat = synthesis_heatmap(torch.from_numpy(np.array(padded_labels, dtype=np.uint8))[None], synth)[0, 0].numpy() > 0
    for x, y, w, h in boxes:
        heat[y // STRIDE : -(-(y + h) // STRIDE), x // STRIDE : -(-(x + w) // STRIDE)] = True
    return heat


def preserved_pixels(heat: np.ndarray, height: int, width: int) -> np.ndarray:
    """bool (H, W): pixels whose latent cell is coded (not synthesized)."""
    return np.repeat(np.repeat(heat, STRIDE, 0), STRIDE, 1)[:height, :width]


# ------------------------------------------------------------------ compress / decompress


def _channel_index(channels: int, cells: int) -> np.ndarray:
    return np.repeat(np.arange(channels), cells)


def map_section(labels: np.ndarray, tolerance: int = 0) -> tuple[tuple[int, bytes], np.ndarray]:
    """((tag, payload), the map the decoder will see): lossless for `tolerance` 0, else the
    map on a grid of `tolerance`-pixel cells."""
    if tolerance == 0:
        return (SECTION_MAP, encode_labelmap(labels)), labels
    coarse = map_grid.coarsen(labels, tolerance)
    seen = map_grid.expand(coarse, tolerance, *labels.shape)
    return (SECTION_GRID_MAP, bytes([tolerance]) + encode_labelmap(coarse)), seen


def compress(sc: LoadedSC, image: np.ndarray, labels: np.ndarray, synthesize_ids: list[int] = (),
             boxes: list[Box] = (), refine_steps: int = 0, progress: bool = False, map_tolerance: int = 0) -> bytes:
    """RGB uint8 (H, W, 3) + class ids (H, W) -> container bytes.

    `map_tolerance` > 0 codes the map on a grid of that many pixels (smaller files, boundaries
    within about half that); everything is then derived from the expanded map.
    `refine_steps` > 0 fits the coded latents to the image (models/latent_refine.py).
    """
    check_image(image)
    h, w = image.shape[:2]
    check_labels(labels, (h, w), sc.cfg.classes)
    ids, boxes = sorted(set(int(i) for i in synthesize_ids)), [tuple(int(v) for v in b) for b in boxes]
    if ids and (ids[0] < 0 or ids[-1] >= sc.cfg.classes):
        raise InputError(f"synthesized class ids must lie in 0..{sc.cfg.classes - 1}")
    check_boxes(boxes, h, w)
    check_map_tolerance(map_tolerance)
    section, labels = map_section(labels, map_tolerance)
    padded = pad_labels(labels)
    heat = heatmap(padded, sc.cfg.classes, ids, boxes)
    x = pad_to_multiple(to_tensor(image, sc.device))
    lab = torch.from_numpy(padded.astype(np.int64))[None].to(sc.device)
    if refine_steps > 0:
        heat_t = torch.from_numpy(heat).float()[None, None].to(sc.device)
        symbols = refine_sc_symbols(sc.model, x, lab, heat_t, h, w, refine_steps, progress=progress)[0].cpu().numpy()
    else:
        symbols = encode_symbols(sc, x, lab)[0].cpu().numpy()  # (C, h, w)
    sections = (latent_section(sc, symbols, heat), section, (SECTION_SELECTION, pack_selection(ids, boxes)))
    return pack(Container(PayloadKind.SC_IMAGE, (h, w), sc.ref.name, sc.ref.digest, sections))


@torch.inference_mode()
def encode_symbols(sc: LoadedSC, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Symbols (1, C, H/16, W/16) of a padded image (1, 3, H, W) and label map (1, H, W), tile by tile."""
    grid = (x.shape[-2] // STRIDE, x.shape[-1] // STRIDE)
    y = tiled(sc.model.encode, [x, labels], [STRIDE] * 2, grid, ENCODER_TILES.scaled(), 1, tile_batch(sc.device))
    return sc.model.quantizer.symbols(y)


def decode_symbols(sc: LoadedSC, symbols: torch.Tensor, labels: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """Image (1, 3, H, W) in [-1, 1], the generator run tile by tile; the noise fields are drawn for
    the whole image, so each tile reads its part of the same fields."""
    noise = synthesis_noise(heat, sc.cfg)

    def decode(symbols: torch.Tensor, labels: torch.Tensor, heat: torch.Tensor, *fields: torch.Tensor) -> torch.Tensor:
        return sc.model.decode_symbols(symbols, labels, heat, list(fields))

    per_cell = [1, STRIDE, 1] + [f.shape[-1] // heat.shape[-1] for f in noise]
    return tiled(decode, [symbols, labels, heat, *noise], per_cell, symbols.shape[-2:], GENERATOR_TILES.scaled(),
                 STRIDE, tile_batch(sc.device))


def latent_section(sc: LoadedSC, symbols: np.ndarray, heat: np.ndarray) -> tuple[int, bytes]:
    """(tag, payload) coding the symbols (C, h, w) of the cells where `heat` holds, skipping the rest:
    under the context model if the model has one, else under the static per-channel tables."""
    if sc.context_tables is not None:
        return SECTION_CONTEXT_LATENTS, context_model.encode(symbols, sc.context_tables, coded=heat)
    kept = symbols[:, heat]  # (C, K): only coded cells, channel-major then raster
    return SECTION_LATENTS, encode_categorical(kept.reshape(-1), sc.tables, _channel_index(*kept.shape))


def decode_latents(sc: LoadedSC, c: Container, heat: np.ndarray) -> np.ndarray:
    """int64 symbols (C, h, w) of the coded cells; synthesized cells hold the middle level."""
    shape = (sc.cfg.channels, *heat.shape)
    if c.has_section(SECTION_CONTEXT_LATENTS):
        if c.has_section(SECTION_LATENTS):
            raise FormatError("SC image file holds latents twice (tags 1 and 4)")
        if sc.context_tables is None:
            raise FormatError(f"file codes latents with a context model, but model {sc.ref.name} has no context tables")
        return context_model.decode(c.section(SECTION_CONTEXT_LATENTS), sc.context_tables, shape, checked=True,
                                    coded=heat)
    cells = int(heat.sum())
    kept = decode_categorical(c.section(SECTION_LATENTS), sc.tables, _channel_index(sc.cfg.channels, cells))
    symbols = np.full(shape, (sc.cfg.levels - 1) // 2, dtype=np.int64)
    symbols[:, heat] = kept.reshape(sc.cfg.channels, cells)
    return symbols


def read_map(c: Container, height: int, width: int) -> np.ndarray:
    """The full-size map of an SC file, from its lossless (tag 2) or grid (tag 5) section."""
    if c.has_section(SECTION_GRID_MAP):
        if c.has_section(SECTION_MAP):
            raise FormatError("SC image file holds the label map twice (tags 2 and 5)")
        payload = c.section(SECTION_GRID_MAP)
        if not payload:
            raise FormatError("grid map section is empty")
        cell = payload[0]
        if not 2 <= cell <= map_grid.MAX_CELL:
            raise FormatError(f"grid map cell {cell} is outside 2..{map_grid.MAX_CELL} pixels")
        coarse = decode_labelmap(payload[1:], *map_grid.grid_size(height, width, cell))
        return map_grid.expand(coarse, cell, height, width)
    return decode_labelmap(c.section(SECTION_MAP), height, width)


@dataclass
class SCParts:
    labels: np.ndarray  # uint8 (H, W)
    synthesize_ids: list[int]
    boxes: list[Box]
    heat: np.ndarray  # bool (h, w), True = coded
    symbols: np.ndarray  # int64 (C, h, w); synthesized cells hold the middle level (masked out anyway)


def decode_parts(sc: LoadedSC, c: Container) -> SCParts:
    """Everything but the image: label map, selection, heatmap and latent symbols, all validated."""
    if c.kind != PayloadKind.SC_IMAGE:
        raise UnsupportedError(f"not an SC image file (payload kind {int(c.kind)})")
    if c.model_id != sc.ref.name or c.model_digest != sc.ref.digest:
        raise FormatError(f"file was written by model {c.model_id} ({c.model_digest.hex()}), "
                          f"not {sc.ref.name} ({sc.ref.digest.hex()})")
    extra = {t for t, _ in c.sections} - set(SECTION_NAMES)
    if extra:
        raise FormatError(f"SC image file has unknown section tags {sorted(extra)}")
    h, w = c.size
    ids, boxes = unpack_selection(c.section(SECTION_SELECTION))
    if ids and ids[-1] >= sc.cfg.classes:
        raise FormatError(f"synthesized class id {ids[-1]} is outside the model's 0..{sc.cfg.classes - 1}")
    check_boxes(boxes, h, w, FormatError)
    labels = read_map(c, h, w)
    if labels.size and int(labels.max()) >= sc.cfg.classes:
        raise FormatError(f"label map holds class id {int(labels.max())}; the model knows 0..{sc.cfg.classes - 1}")
    padded = pad_labels(labels)
    heat = heatmap(padded, sc.cfg.classes, ids, boxes)
    return SCParts(labels, ids, boxes, heat, decode_latents(sc, c, heat))


def stage_seed(c: Container) -> int:
    """The detail stage's noise seed: a CRC of the latent and map sections (a file with every cell
    synthesized has an empty latent section), so each file draws its own field."""
    crc = 0
    for tag in (SECTION_LATENTS, SECTION_CONTEXT_LATENTS, SECTION_MAP, SECTION_GRID_MAP):
        if c.has_section(tag):
            crc = zlib.crc32(c.section(tag), crc)
    return crc


@torch.inference_mode()
def decompress(sc: LoadedSC, c: Container, half: bool = False, detail: tuple[LoadedStage, float] | None = None
               ) -> np.ndarray:
    """Container -> RGB uint8 (H, W, 3); `detail`: a detail stage (codec/stage/) trained on this SC
    model and the realism R it decodes at (R = 0, or None: the generator's image itself). The stage's
    detail goes to synthesized pixels only: preserved pixels are the generator's at every R, as the
    selection promised (a GC file's detail stage is where detail over coded content belongs)."""
    parts = decode_parts(sc, c)
    lab = torch.from_numpy(pad_labels(parts.labels).astype(np.int64))[None].to(sc.device)
    symbols = torch.from_numpy(parts.symbols)[None].to(sc.device)
    heat = torch.from_numpy(parts.heat).float()[None, None].to(sc.device)
    with torch.autocast(sc.device.type, dtype=torch.bfloat16 if sc.device.type == "cpu" else torch.float16,
                        enabled=half):
        x = decode_symbols(sc, symbols, lab, heat)
    if detail is not None and not parts.heat.all():
        x = x.float()
        textured = apply_stage(detail[0], x, stage_conditioning(sc.model, symbols, lab, heat), stage_seed(c), detail[1])
        x = x + (1 - heat_at(heat, STRIDE)) * (textured - x)  # synthesized pixels only
    return to_uint8(x, *c.size)
