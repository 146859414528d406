"""GC decodes of training crops, built once per run folder and reused by every step.

`gcodec train detail` codes a crop of every training image with the frozen GC model and
stores (original, decode, latent symbols) in `cache/shard_NNN.npz`; shards are written
atomically and skipped when present, so an interrupted build resumes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..eval.images import list_images, load_rgb
from ..gc_codec import LoadedGC, encode_symbols, to_tensor, to_uint8
from ..layered.cache import SHARD, crop

PASSES = 2  # crops per image (different positions)


@torch.inference_mode()
def code_crop(gc: LoadedGC, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(decode uint8 (H, W, 3), symbols uint8 (C, H/16, W/16)) of a crop whose sides are multiples of 16."""
    symbols = encode_symbols(gc, to_tensor(image, gc.device))
    return to_uint8(gc.model.decode_symbols(symbols), *image.shape[:2]), symbols[0].to(torch.uint8).cpu().numpy()


def build_cache(gc: LoadedGC, data: str | Path, out: str | Path, side: int = 256, progress: bool = True) -> Path:
    """Code PASSES crops (side x side) of every image of `data` into `out/cache`; returns that folder."""
    folder = Path(out) / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    paths = list_images([data])
    shards = [list(enumerate(paths))[i : i + SHARD] for i in range(0, len(paths), SHARD)]
    todo = [(k, s) for k, s in enumerate(shards) if not (folder / f"shard_{k:03d}.npz").is_file()]
    bar = tqdm(total=len(paths), initial=len(paths) - sum(len(s) for _, s in todo), desc="GC decodes",
               unit="img", disable=not progress)
    for k, shard in todo:
        rows = []
        for i, path in shard:
            rng = np.random.default_rng(i)
            image = load_rgb(path)
            for _ in range(PASSES):
                x = crop(image, side, rng)
                rows.append((x, *code_crop(gc, x), path.name))
            bar.update(1)
        tmp = folder / f"shard_{k:03d}.tmp.npz"
        np.savez(tmp, original=np.stack([r[0] for r in rows]), decode=np.stack([r[1] for r in rows]),
                 symbols=np.stack([r[2] for r in rows]), name=np.array([r[3] for r in rows]))
        os.replace(tmp, folder / f"shard_{k:03d}.npz")
    bar.close()
    return folder
