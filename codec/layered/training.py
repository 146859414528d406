"""`gcodec train layered`: the run folder around models/train_layered.py.

A run folder holds `config.json`, `cache/` (base decodes, built first), `checkpoint.pt`
(resumed automatically: model, optimizer, step, elapsed seconds, RNG state) and `log.jsonl`
(one validation record per line). The loop is meant to run for hours in the background on
a CPU; it checkpoints every few minutes and at the end, so an interrupted run loses little.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ...bitstream.errors import InputError
from ...models.detail import DetailModel
from ...models.train_layered import LayeredTrainConfig, train_step, validate
from .cache import build_cache, is_validation, load_cache

CHECKPOINT_EVERY_S = 300.0


@dataclass
class RunOptions:
    data: str
    out: str
    command: str
    steps: int = 100_000
    time_budget: float = 0.0
    val_every: int = 250
    threads: int = 0
    cache_workers: int = 1
    val_fraction: float = 1 / 32  # of the images, held out by name hash
    crop: int = 256  # side of the cached crops: a multiple of 32, >= 192 (MS-SSIM needs 161)


def _tensors(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _check_config(out: Path, cfg: LayeredTrainConfig) -> None:
    path = out / "config.json"
    if path.is_file():
        old = json.loads(path.read_text()).get("train")
        if old != cfg.to_dict():
            raise InputError(f"{out} holds a run with another configuration; pick a new --out or the same options")


def run(cfg: LayeredTrainConfig, opts: RunOptions, progress: bool = True) -> Path:
    """Build the cache if needed, then train (resuming) until steps or the time budget run out."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, cfg)
    (out / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "data": opts.data,
                                                 "command": opts.command}, indent=1))
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    cache = load_cache(build_cache(opts.data, out, side=opts.crop, workers=opts.cache_workers, progress=progress))
    held = np.array([is_validation(Path(n), opts.val_fraction) for n in cache["name"]])
    if held.all() or not held.any():
        raise InputError(f"{opts.data}: too few images for a training / validation split")
    x_train, b_train = cache["original"][~held], cache["base"][~held]
    x_val, b_val = _tensors(cache["original"][held]), _tensors(cache["base"][held])

    model = DetailModel(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)
    step, elapsed = 0, 0.0
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["rng"])
        step, elapsed = int(state["step"]), float(state["elapsed"])

    def save() -> None:
        tmp = out / "checkpoint.tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": gen.get_state(),
                    "step": step, "elapsed": elapsed}, tmp)
        tmp.replace(ckpt)

    def log(record: dict[str, Any]) -> None:
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    if step == 0:
        log({"step": 0, "elapsed": 0.0, **validate(model, x_val, b_val)})
    start, last_save = time.perf_counter() - elapsed, time.perf_counter()
    bar = tqdm(total=opts.steps, initial=step, desc="train layered", unit="step", disable=not progress)
    model.train()
    while step < opts.steps and not (opts.time_budget and elapsed >= opts.time_budget):
        idx = torch.randint(0, len(x_train), (cfg.batch,), generator=gen).numpy()
        stats = train_step(model, opt, cfg, _tensors(x_train[idx]), _tensors(b_train[idx]), gen)
        step += 1
        elapsed = time.perf_counter() - start
        bar.update(1)
        bar.set_postfix(loss=f"{stats['loss']:.3f}", bpp=f"{stats['train_bpp']:.4f}")
        if step % opts.val_every == 0:
            model.eval()
            log({"step": step, "elapsed": round(elapsed, 1), **stats, **validate(model, x_val, b_val)})
            model.train()
        if time.perf_counter() - last_save > CHECKPOINT_EVERY_S:
            save()
            last_save = time.perf_counter()
    bar.close()
    save()
    return ckpt
