"""Decodes of training crops by the frozen codec under a stage, built once per run folder.

`gcodec train detail` codes PASSES crops of every training image with the frozen model and
stores them in `cache/shard_NNN.npz`: the original and decode (uint8) and what the stage is
conditioned on: for GC the latent symbols (dequantized when training), for SC the
conditioning itself (models/sc.py, `stage_conditioning`; float16), after a random heatmap
(everything coded, a random set of classes synthesized, or one box kept), as SC training draws
them. Shards are written atomically and skipped when present, so an interrupted build resumes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
import torch
from tqdm import tqdm

from ...bitstream.errors import InputError
from ...models.sc import random_heatmaps, stage_conditioning
from ..context_tables import load_labels
from ..eval.images import list_images, load_rgb
from ..gc_codec import LoadedGC, encode_symbols, to_tensor, to_uint8
from ..image_io import labelled_pairs
from ..layered.cache import SHARD, crop
from ..sc_codec import LoadedSC
from ..sc_codec import decode_symbols as sc_decode
from ..sc_codec import encode_symbols as sc_encode
from ..sc_selection import check_labels

PASSES = 2  # crops per image (different positions)
Frozen = Union[LoadedGC, LoadedSC]


@torch.inference_mode()
def code_crop(gc: LoadedGC, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(decode uint8 (H, W, 3), symbols uint8 (C, H/16, W/16)) of a crop whose sides are multiples of 16."""
    symbols = encode_symbols(gc, to_tensor(image, gc.device))
    return to_uint8(gc.model.decode_symbols(symbols), *image.shape[:2]), symbols[0].to(torch.uint8).cpu().numpy()


@torch.inference_mode()
def code_sc_crop(sc: LoadedSC, image: np.ndarray, labels: np.ndarray, gen: torch.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(decode uint8 (H, W, 3), conditioning float16 (C + K + 1, H/16, W/16)) of a crop and its label
    map under a random heatmap; sides multiples of 16."""
    lab = torch.from_numpy(labels.astype(np.int64))[None].to(sc.device)
    heat = random_heatmaps(lab, sc.cfg.classes, gen).to(sc.device)
    symbols = sc_encode(sc, to_tensor(image, sc.device), lab)
    decode = sc_decode(sc, symbols, lab, heat)
    cond = stage_conditioning(sc.model, symbols, lab, heat)[0]
    return to_uint8(decode, *image.shape[:2]), cond.to(torch.float16).cpu().numpy()


def _rows(frozen: Frozen, index: int, path: Path, labels_path: Path | None, side: int) -> list[tuple]:
    rng = np.random.default_rng(index)
    image = load_rgb(path)
    if labels_path is None:
        return [(x, *code_crop(frozen, x), path.name) for x in (crop(image, side, rng) for _ in range(PASSES))]
    gen = torch.Generator().manual_seed(index)
    labels = load_labels(labels_path)
    try:
        check_labels(labels, image.shape[:2], frozen.cfg.classes)
    except InputError as e:
        raise InputError(f"{labels_path}: {e}") from None
    both = np.dstack([image, labels])  # one crop position for both
    rows = []
    for _ in range(PASSES):
        c = crop(both, side, rng)
        x = np.ascontiguousarray(c[..., :3])
        rows.append((x, *code_sc_crop(frozen, x, np.ascontiguousarray(c[..., 3]), gen), path.name))
    return rows


def build_cache(frozen: Frozen, data: str | Path, out: str | Path, side: int = 256, progress: bool = True) -> Path:
    """Code PASSES crops (side x side) of every image of `data` into `out/cache`; returns that folder.
    For SC, `data` is a CamVid-layout folder (images/ and labels/)."""
    folder = Path(out) / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    is_sc = isinstance(frozen, LoadedSC)
    pairs = labelled_pairs(data) if is_sc else [(p, None) for p in list_images([data])]
    shards = [list(enumerate(pairs))[i : i + SHARD] for i in range(0, len(pairs), SHARD)]
    todo = [(k, s) for k, s in enumerate(shards) if not (folder / f"shard_{k:03d}.npz").is_file()]
    bar = tqdm(total=len(pairs), initial=len(pairs) - sum(len(s) for _, s in todo),
               desc=f"{'SC' if is_sc else 'GC'} decodes", unit="img", disable=not progress)
    for k, shard in todo:
        rows = []
        for i, (path, labels_path) in shard:
            rows += _rows(frozen, i, path, labels_path, side)
            bar.update(1)
        tmp = folder / f"shard_{k:03d}.tmp.npz"
        np.savez(tmp, original=np.stack([r[0] for r in rows]), decode=np.stack([r[1] for r in rows]),
                 **{"cond" if is_sc else "symbols": np.stack([r[2] for r in rows])},
                 name=np.array([r[3] for r in rows]))
        os.replace(tmp, folder / f"shard_{k:03d}.npz")
    bar.close()
    return folder
