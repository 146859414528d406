"""Learn context-model tables for a GC model from training images, and ship them.

The tables are counts of (context, symbol) over the hard latents the model's encoder
produces on training photos (`bitstream.context_model.learn_tables`), frozen into
integer probability rows and stored in a COPY of the weights file next to the
existing tensors under `CONTEXT_TABLES_KEY`; the card gains a "context_model" entry
saying what was learned from, how, and by which command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..bitstream.errors import InputError
from ..models.gc import pad_to_multiple
from .gc_codec import LoadedGC, to_tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def image_paths(folder: str | Path) -> list[Path]:
    """Image files in `folder`, sorted by name (so every run sees the same order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise InputError(f"{folder} holds no images")
    return paths


def load_photo(path: Path, max_side: int = 0) -> np.ndarray:
    """RGB uint8; with max_side > 0, larger photos are shrunk (Lanczos) to that long side."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if max_side and max(im.size) > max_side:
            s = max_side / max(im.size)
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
        return np.asarray(im)


@torch.inference_mode()
def image_symbols(gc: LoadedGC, image: np.ndarray) -> np.ndarray:
    """The int64 (C, h, w) symbols `gc_codec.compress` would code for `image`."""
    x = pad_to_multiple(to_tensor(image, gc.device))
    return gc.model.encode_symbols(x)[0].cpu().numpy()


def latents_of(gc: LoadedGC, paths: Iterable[Path], max_side: int = 0,
               progress: bool = True) -> Iterator[np.ndarray]:
    paths = list(paths)
    for p in tqdm(paths, desc=f"latents {gc.ref.name}", disable=not progress, unit="img"):
        yield image_symbols(gc, load_photo(p, max_side))
