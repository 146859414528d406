"""Base decodes of training crops, built once per run folder and reused by every step.

A VVC encode costs 0.1-0.5 s for a 256x256 crop, far more than a training step needs, so
`gcodec train layered` first codes every training image's crop at a few QPs and each base
scale, and stores (original, upscaled base decode) pairs in `cache/shard_NNN.npz`. Shards
are written atomically and skipped when present, so an interrupted build resumes.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..eval.images import list_images, load_rgb
from .base import SCALES, decode_base, encode_base

# QPs drawn per scale so that bases span about 0.015-0.1 bpp of the full image
QP_SPAN = {1: (44, 60), 2: (36, 54), 4: (28, 48)}
SHARD = 25  # images per shard


def is_validation(path: Path, fraction: float = 1 / 32) -> bool:
    """A stable held-out split by name hash (never by order, so adding images keeps it)."""
    h = int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:4], "big")
    return h < fraction * 2**32


def crop(image: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    if h < side or w < side:  # pad small images by reflection
        image = np.pad(image, ((0, max(0, side - h)), (0, max(0, side - w)), (0, 0)), mode="reflect")
        h, w = image.shape[:2]
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    return np.ascontiguousarray(image[y : y + side, x : x + side])


def _code_image(args: tuple[str, int, int, int]) -> list[tuple[np.ndarray, np.ndarray, int, int, int]]:
    path, seed, side, qps_per_scale = args
    rng = np.random.default_rng(seed)
    original = crop(load_rgb(Path(path)), side, rng)
    rows = []
    for scale in SCALES:
        lo, hi = QP_SPAN[scale]
        for qp in rng.choice(np.arange(lo, hi + 1), size=qps_per_scale, replace=False):
            stream = encode_base(original, scale, int(qp))
            rows.append((original, decode_base(stream, side, side, scale), scale, int(qp), len(stream)))
    return rows


def build_cache(data: str | Path, out: str | Path, side: int = 256, qps_per_scale: int = 2,
                workers: int = 1, progress: bool = True) -> Path:
    """Code every image of `data` (crop `side`) into `out/cache`; returns that folder."""
    folder = Path(out) / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    paths = list_images([data])
    jobs = [(str(p), i, side, qps_per_scale) for i, p in enumerate(paths)]
    shards = [jobs[i : i + SHARD] for i in range(0, len(jobs), SHARD)]
    todo = [(k, s) for k, s in enumerate(shards) if not (folder / f"shard_{k:03d}.npz").is_file()]
    bar = tqdm(total=len(jobs), initial=len(jobs) - sum(len(s) for _, s in todo), desc="base decodes",
               unit="img", disable=not progress)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for k, shard in todo:
            rows, names = [], []
            for (path, *_), coded in zip(shard, pool.map(_code_image, shard)):
                rows += coded
                names += [Path(path).name] * len(coded)
                bar.update(1)
            tmp = folder / f"shard_{k:03d}.tmp.npz"
            np.savez(tmp, original=np.stack([r[0] for r in rows]), base=np.stack([r[1] for r in rows]),
                     scale=np.array([r[2] for r in rows]), qp=np.array([r[3] for r in rows]),
                     nbytes=np.array([r[4] for r in rows]), name=np.array(names))
            os.replace(tmp, folder / f"shard_{k:03d}.npz")
    bar.close()
    return folder


def load_cache(folder: str | Path) -> dict[str, np.ndarray]:
    """Every shard concatenated: original, base (N, side, side, 3) uint8; scale, qp, nbytes, name (N,)."""
    files = sorted(Path(folder).glob("shard_[0-9][0-9][0-9].npz"))
    if not files:
        raise FileNotFoundError(f"no cache shards in {folder}")
    parts = [dict(np.load(f, allow_pickle=False)) for f in files]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
