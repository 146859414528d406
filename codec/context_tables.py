"""Learn context-model tables for a GC or SC model from training images, and ship them.

The tables are counts of (context, symbol) over the hard latents the model's encoder
produces on training photos (`context_model.count_contexts`; an SC model sees each
photo with its label map and codes every cell), frozen into integer
probability rows (`context_model.tables_from_counts`) and stored in a COPY of the
weights file next to the existing tensors under `CONTEXT_TABLES_KEY`; the card gains
a "context_model" entry saying what was learned from, how, and by which command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..bitstream import context_model
from ..bitstream.entropy import PRECISION
from ..bitstream.errors import InputError
from ..bitstream.labelmap import grid as map_grid
from ..models.gc import pad_to_multiple
from . import sc_codec, sc_selection
from .gc_codec import CONTEXT_TABLES_KEY, SECTION_CONTEXT_LATENTS, LoadedGC, to_tensor
from .image_io import IMAGE_SUFFIXES, labelled_pairs
from .model_store import load_weights, save_weights
from .registry import ModelRef

Source = Path | tuple[Path, Path]  # a photo (GC), or a photo and its label map (SC)


def image_paths(folder: str | Path) -> list[Path]:
    """Image files in `folder`, sorted by name (so every run sees the same order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise InputError(f"{folder} holds no images")
    return paths


def _shrunk(im: Image.Image, max_side: int, resample: int) -> Image.Image:
    if max_side and max(im.size) > max_side:
        s = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), resample)
    return im


def load_photo(path: Path, max_side: int = 0) -> np.ndarray:
    """RGB uint8; with max_side > 0, larger photos are shrunk (Lanczos) to that long side."""
    with Image.open(path) as im:
        return np.asarray(_shrunk(im.convert("RGB"), max_side, Image.LANCZOS))


def load_labels(path: Path, max_side: int = 0) -> np.ndarray:
    """Class ids uint8 (H, W), shrunk like `load_photo` but by nearest neighbour."""
    with Image.open(path) as im:
        return np.asarray(_shrunk(im, max_side, Image.NEAREST))


@torch.inference_mode()
def image_symbols(gc: LoadedGC, image: np.ndarray) -> np.ndarray:
    """The int64 (C, h, w) symbols `gc_codec.compress` would code for `image`."""
    x = pad_to_multiple(to_tensor(image, gc.device))
    return gc.model.encode_symbols(x)[0].cpu().numpy()


@torch.inference_mode()
def sc_image_symbols(sc: sc_codec.LoadedSC, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The int64 (C, h, w) symbols `sc_codec.compress` computes for `image` (before skipping cells),
    from the map the model codes by default (`default_map_tolerance`)."""
    sc_selection.check_labels(labels, image.shape[:2], sc.cfg.classes)
    if sc.default_map_tolerance:
        labels = map_grid.simplify(labels, sc.default_map_tolerance)
    x = pad_to_multiple(to_tensor(image, sc.device))
    lab = torch.from_numpy(sc_codec.pad_labels(labels).astype(np.int64))[None].to(sc.device)
    return sc.model.encode_symbols(x, lab)[0].cpu().numpy()


def latents_of(model: LoadedGC | sc_codec.LoadedSC, sources: Iterable[Source], max_side: int = 0,
               progress: bool = True) -> Iterator[np.ndarray]:
    sources = list(sources)
    for src in tqdm(sources, desc=f"latents {model.ref.name}", disable=not progress, unit="img"):
        if isinstance(model, sc_codec.LoadedSC):
            yield sc_image_symbols(model, load_photo(src[0], max_side), load_labels(src[1], max_side))
        else:
            yield image_symbols(model, load_photo(src, max_side))


def _name(src: Source) -> str:
    return src[0].name if isinstance(src, tuple) else src.name


def cached_latents(model: LoadedGC | sc_codec.LoadedSC, sources: list[Source], max_side: int,
                   cache_dir: str | Path | None, progress: bool = True) -> list[np.ndarray]:
    """Latents of `sources`; with `cache_dir`, kept in an .npz keyed by the weights' sha256 and max_side.

    The file is reused only if it holds exactly these photo names (encoding 675
    photos on a shared CPU takes many minutes; tables are cheap to relearn).
    """
    cache = None
    if cache_dir is not None:
        sha = str(model.ref.card.get("sha256", ""))[:16] or "nosha"
        cache = Path(cache_dir) / f"{model.ref.name}-{sha}-side{max_side}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                if sorted(z.files) == sorted(_name(s) for s in sources):
                    return [z[_name(s)].astype(np.int64) for s in sources]
    lat = list(latents_of(model, sources, max_side, progress))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **{_name(src): s.astype(np.uint8) for src, s in zip(sources, lat)})
    return lat


def learn_context_tables(model: LoadedGC | sc_codec.LoadedSC, train_dir: str | Path, max_side: int = 768,
                         prior_weight: float = 8.0, progress: bool = True,
                         cache_dir: str | Path | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """int32 context tables (C, 3, K, L) from the model's latents of every photo in `train_dir`
    (for an SC model, a CamVid-layout folder: each photo with its label map, every cell coded).

    Photos larger than `max_side` are shrunk first, so latents have the statistics of
    the sizes the codec is evaluated at. Returns the tables and a summary for the card.
    """
    semantic = isinstance(model, sc_codec.LoadedSC)
    sources: list[Source] = list(labelled_pairs(train_dir)) if semantic else list(image_paths(train_dir))
    cfg = model.cfg
    lat = cached_latents(model, sources, max_side, cache_dir, progress)
    counts = context_model.count_contexts(lat, cfg.channels, cfg.levels)
    tables = context_model.tables_from_counts(counts, prior_weight)
    n = int(counts.sum())
    # Training-set cross-entropy under both models (the eval set is measured by scripts/bench_context.py).
    static_bits = -(counts.sum(axis=(1, 2)) * np.log2(model.tables / 2.0 ** PRECISION)).sum()
    ctx_bits = -(counts * np.log2(tables / 2.0 ** PRECISION)).sum()
    info = {"images": len(sources), "symbols": n, "max_side": max_side, "prior_weight": prior_weight,
            "train_bits_per_symbol_static": round(float(static_bits) / n, 5),
            "train_bits_per_symbol_context": round(float(ctx_bits) / n, 5)}
    return tables, info


def write_with_context_tables(src: ModelRef, tables: np.ndarray, out_path: str | Path,
                              context_card: dict[str, Any]) -> dict[str, Any]:
    """Copy the weights file `src` to `out_path` with the context tables added; returns the card.

    Every existing tensor is kept as stored (dtype included) and the card keeps every
    existing entry; it gains "context_model" (how the tables were made) and sha256/bytes
    are recomputed for the new file.
    """
    state, card = load_weights(src.path)
    channels, levels = int(card["config"]["channels"]), int(card["config"]["levels"])
    try:
        t = context_model.check_tables(tables, channels, levels)
    except ValueError as e:
        raise InputError(f"{src.name}: {e}") from None
    state[CONTEXT_TABLES_KEY] = torch.from_numpy(t.astype(np.int32))
    card = {k: v for k, v in card.items() if k not in ("sha256", "bytes")}
    semantic = card.get("kind") == "sc"
    card["context_model"] = {
        "tables": CONTEXT_TABLES_KEY, "dtype": "int32", "precision": PRECISION,
        "shape": list(t.shape),
        "section_tag": sc_codec.SECTION_CONTEXT_LATENTS if semantic else SECTION_CONTEXT_LATENTS,
        "scheme": "gcodec.bitstream.context_model: per (channel, phase) tables; channel by channel, phases "
                  "(even,even) / (odd,odd) / rest of a 2x2 grid; context = co-located symbols of channels "
                  "c-1, c-2 and the sum of the 4 diagonal (phase 1) or N/S/W/E (phase 2) neighbours"
                  + ("; only the cells the heatmap keeps are coded, skipped cells read as the middle level"
                     if semantic else ""),
        **context_card,
    }
    return save_weights(state, card, out_path)
