"""`gcodec train detail`: a detail stage for a frozen GC model, in a run folder.

The folder holds `config.json`, `cache/` (GC decodes of training crops, built first) and the
checkpoint and log of codec/train_loop.py (resumed automatically).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...bitstream.errors import InputError
from ...models.detail import DetailGenerator
from ...models.train_stage import StageTrainConfig, stage_step, stage_trainable, validate_stage, warm_start
from ..gc_codec import load_gc
from ..layered.cache import is_validation, load_cache
from ..layered.training import to_tensors
from ..model_store import load_weights
from ..registry import resolve_model
from ..train_loop import train_loop
from .cache import build_cache


@dataclass
class StageRunOptions:
    base_model: str  # the frozen GC model (name or path)
    data: str
    out: str
    command: str
    steps: int = 100_000
    time_budget: float = 0.0
    val_every: int = 250
    threads: int = 0
    val_fraction: float = 1 / 32
    crop: int = 256  # multiple of 32, >= 192 (MS-SSIM needs 161)
    init_from_layered: str = ""  # a layered model (name or path) whose generator starts the stage


def run_stage(cfg: StageTrainConfig, opts: StageRunOptions, progress: bool = True) -> Path:
    """Build the GC-decode cache if needed, then train (resuming) until steps or the time budget run out."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    ref = resolve_model(opts.base_model, kind="gc")
    init = resolve_model(opts.init_from_layered, kind="layered") if opts.init_from_layered else None
    meta = {"train": cfg.to_dict(), "base_model": ref.name, "base_digest": ref.digest.hex(), "data": opts.data,
            "command": opts.command, "init_from_layered": init and {"name": init.name, "digest": init.digest.hex()}}
    path = out / "config.json"
    if path.is_file():
        old = json.loads(path.read_text())
        keys = ("train", "base_model", "base_digest", "init_from_layered")
        if {k: old.get(k) for k in keys} != {k: meta[k] for k in keys}:
            raise InputError(f"{out} holds a run with another configuration or GC model; pick a new --out")
    path.write_text(json.dumps(meta, indent=1))
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    gc = load_gc(ref, torch.device("cpu"))
    if cfg.model.channels != gc.cfg.channels:
        raise InputError(f"a stage for {ref.name} needs -C {gc.cfg.channels} (its latent channels)")
    cache = load_cache(build_cache(gc, opts.data, out, side=opts.crop, progress=progress))
    held = np.array([is_validation(Path(n), opts.val_fraction) for n in cache["name"]])
    if held.all() or not held.any():
        raise InputError(f"{opts.data}: too few images for a training / validation split")

    def latents(symbols: np.ndarray) -> torch.Tensor:  # constants: the GC model stays frozen
        return gc.model.quantizer.dequantize(torch.from_numpy(symbols.astype(np.int64))).detach()

    x_train, d_train, s_train = cache["original"][~held], cache["decode"][~held], cache["symbols"][~held]
    x_val, d_val, z_val = (to_tensors(cache["original"][held]), to_tensors(cache["decode"][held]),
                           latents(cache["symbols"][held]))
    stage = DetailGenerator(cfg.model)
    if init is not None:
        state, _ = load_weights(init.path)
        warm_start(stage, {k[len("generator."):]: v for k, v in state.items() if k.startswith("generator.")})
    opt = torch.optim.Adam(stage_trainable(stage), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)

    def step() -> dict[str, float]:
        idx = torch.randint(0, len(x_train), (cfg.batch,), generator=gen).numpy()
        return stage_step(stage, opt, cfg, to_tensors(x_train[idx]), to_tensors(d_train[idx]), latents(s_train[idx]),
                          gen)

    return train_loop(out, stage, opt, gen, step, lambda: validate_stage(stage, x_val, d_val, z_val),
                      steps=opts.steps, time_budget=opts.time_budget, val_every=opts.val_every,
                      desc=f"train detail ({ref.name})", progress=progress)
