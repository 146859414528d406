"""`gcodec train layered`: the run folder around models/train_layered.py.

A run folder holds `config.json`, `cache/` (base decodes, built first), and the checkpoint
and log of codec/train_loop.py (resumed automatically).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...bitstream.errors import InputError
from ...models.detail import DetailModel
from ...models.train_layered import LayeredTrainConfig, train_step, trainable, validate
from ..train_loop import train_loop
from .cache import build_cache, is_validation, load_cache


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
    init_from: str = ""  # another run folder whose checkpoint's weights start this run
    cache_from: str = ""  # another run folder whose base-decode cache this run reuses


def to_tensors(a: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(a).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _check_config(out: Path, cfg: LayeredTrainConfig) -> None:
    path = out / "config.json"
    if path.is_file():
        old = json.loads(path.read_text()).get("train")
        try:  # options added since the run started read as their defaults
            old = LayeredTrainConfig.from_dict(old).to_dict()
        except (TypeError, ValueError, AttributeError):
            pass
        if old != cfg.to_dict():
            raise InputError(f"{out} holds a run with another configuration; pick a new --out or the same options")


def _init_source(run_dir: str) -> dict[str, Any]:
    """The model weights of another run's checkpoint, and where they came from (for the card)."""
    path = Path(run_dir) / "checkpoint.pt"
    if not path.is_file():
        raise InputError(f"--init-from {run_dir}: no checkpoint.pt there")
    state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only, never objects
    meta = json.loads((Path(run_dir) / "config.json").read_text())
    return {"model": state["model"], "meta": {"run": str(run_dir), "steps": int(state["step"]),
                                              "wall_seconds": round(float(state["elapsed"]), 1),
                                              "command": meta.get("command"), "init_from": meta.get("init_from")}}


def load_init(model: DetailModel, state: dict[str, torch.Tensor]) -> None:
    """Another run's weights; band gains it lacks (a model trained without --sharpen) start at 0."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("_gain") for k in missing):
        raise InputError(f"--init-from: weights do not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]})")


def run(cfg: LayeredTrainConfig, opts: RunOptions, progress: bool = True) -> Path:
    """Build the cache if needed, then train (resuming) until steps or the time budget run out."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, cfg)
    init = _init_source(opts.init_from) if opts.init_from else None
    (out / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "data": opts.data, "command": opts.command,
                                                 "init_from": init and init["meta"]}, indent=1))
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    cache_dir = Path(opts.cache_from) / "cache" if opts.cache_from else build_cache(
        opts.data, out, side=opts.crop, workers=opts.cache_workers, progress=progress)
    cache = load_cache(cache_dir)
    held = np.array([is_validation(Path(n), opts.val_fraction) for n in cache["name"]])
    if held.all() or not held.any():
        raise InputError(f"{opts.data}: too few images for a training / validation split")
    x_train, b_train, s_train = cache["original"][~held], cache["base"][~held], torch.from_numpy(cache["scale"][~held])
    x_val, b_val = to_tensors(cache["original"][held]), to_tensors(cache["base"][held])
    s_val = torch.from_numpy(cache["scale"][held])

    model = DetailModel(cfg.model)
    if init is not None:
        load_init(model, init["model"])
    opt = torch.optim.Adam(trainable(model, cfg), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)

    def step() -> dict[str, float]:
        idx = torch.randint(0, len(x_train), (cfg.batch,), generator=gen).numpy()
        return train_step(model, opt, cfg, to_tensors(x_train[idx]), to_tensors(b_train[idx]), s_train[idx], gen)

    return train_loop(out, model, opt, gen, step, lambda: validate(model, x_val, b_val, s_val), steps=opts.steps,
                      time_budget=opts.time_budget, val_every=opts.val_every, desc="train layered", progress=progress,
                      postfix=lambda s: {"loss": f"{s['loss']:.3f}", "bpp": f"{s['train_bpp']:.4f}"})
