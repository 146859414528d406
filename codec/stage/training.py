"""`gcodec train detail`: a detail stage for a frozen GC or SC model, in a run folder.

The folder holds `config.json`, `cache/` (the frozen model's decodes of training crops, built
first) and the checkpoint and log of codec/train_loop.py (resumed automatically).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...bitstream.errors import InputError
from ...models.detail import DetailGenerator
from ...models.sc import SCConfig, stage_channels
from ...models.train_stage import StageTrainConfig, stage_step, stage_trainable, validate_stage, warm_start
from ..gc_codec import load_gc
from ..image_io import labelled_pairs
from ..layered.cache import is_validation, load_cache
from ..layered.training import to_tensors
from ..model_store import load_weights
from ..registry import ModelRef, resolve_model
from ..sc_codec import load_sc
from ..train_loop import train_loop
from .cache import Frozen, build_cache
from .stage import load_stage


@dataclass
class StageRunOptions:
    base_model: str  # the frozen GC or SC model (name or path)
    data: str  # a folder of images; for SC, a CamVid-layout folder (images/, labels/)
    out: str
    command: str
    steps: int = 100_000
    time_budget: float = 0.0
    val_every: int = 250
    threads: int = 0
    val_fraction: float = 1 / 32
    crop: int = 256  # multiple of 32, >= 192 (MS-SSIM needs 161)
    init_from_layered: str = ""  # a layered model (name or path) whose generator starts the stage
    init_from_stage: str = ""  # or a detail stage of the same shape (name or path) to continue from


def _check_kind(ref: ModelRef) -> None:
    if ref.kind not in ("gc", "sc"):
        raise InputError(f"model {ref.name!r} is a {ref.kind or 'unknown'} model; detail stages extend GC and SC models")


def load_frozen(ref: ModelRef) -> Frozen:
    """The GC or SC model a stage extends, on the CPU; InputError for other kinds."""
    _check_kind(ref)
    return (load_gc if ref.kind == "gc" else load_sc)(ref, torch.device("cpu"))


def conditioning_size(ref: ModelRef) -> tuple[int, int]:
    """(channels a stage over this GC or SC model is conditioned on, the model's latent levels), from
    its card: GC latents, or models/sc.py's `stage_conditioning`."""
    _check_kind(ref)
    try:
        cfg = ref.card["config"]
        return (cfg["channels"] if ref.kind == "gc" else stage_channels(SCConfig.from_dict(cfg))), cfg["levels"]
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{ref.path}: the model card's config is not a GC or SC one ({e})") from None


def run_stage(cfg: StageTrainConfig, opts: StageRunOptions, progress: bool = True) -> Path:
    """Build the cache of the frozen model's decodes if needed, then train (resuming) until steps or
    the time budget run out. Bad models, data or channels fail before the run folder is made."""
    ref = resolve_model(opts.base_model)
    channels = conditioning_size(ref)[0]
    if cfg.model.channels != channels:
        raise InputError(f"a stage for {ref.name} is conditioned on {channels} channels, not {cfg.model.channels}")
    is_sc = ref.kind == "sc"
    if is_sc:
        labelled_pairs(opts.data)  # SC crops need their label maps
    elif cfg.synth_fidelity != 1:
        raise InputError("--synth-fidelity weighs SC's synthesized pixels; a GC stage has none")
    if opts.init_from_layered and opts.init_from_stage:
        raise InputError("start from a layered model or from a detail stage, not both")
    init = resolve_model(opts.init_from_layered, kind="layered") if opts.init_from_layered else None
    init_stage = resolve_model(opts.init_from_stage, kind="detail") if opts.init_from_stage else None
    if init_stage is not None and init_stage.card.get("config") != cfg.model.to_dict():
        raise InputError(f"detail stage {init_stage.name} is not of this run's shape (--width, --blocks, base model)")
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"train": cfg.to_dict(), "base_model": ref.name, "base_kind": ref.kind, "base_digest": ref.digest.hex(),
            "data": opts.data, "command": opts.command,
            "init_from_layered": init and {"name": init.name, "digest": init.digest.hex()},
            "init_from_stage": init_stage and {"name": init_stage.name, "digest": init_stage.digest.hex()}}
    path = out / "config.json"
    if path.is_file():
        old = json.loads(path.read_text())
        old["train"] = StageTrainConfig.from_dict(old["train"]).to_dict()  # settings added since read as defaults
        keys = ("train", "base_model", "base_digest", "init_from_layered", "init_from_stage")
        if {k: old.get(k) for k in keys} != {k: meta[k] for k in keys}:
            raise InputError(f"{out} holds a run with another configuration or base model; pick a new --out")
    path.write_text(json.dumps(meta, indent=1))
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    frozen = load_frozen(ref)
    cache = load_cache(build_cache(frozen, opts.data, out, side=opts.crop, progress=progress))
    held = np.array([is_validation(Path(n), opts.val_fraction) for n in cache["name"]])
    if held.all() or not held.any():
        raise InputError(f"{opts.data}: too few images for a training / validation split")

    key = "cond" if "cond" in cache else "symbols"

    def latents(rows: np.ndarray) -> torch.Tensor:  # constants: the frozen model stays frozen
        if key == "cond":
            return torch.from_numpy(rows.astype(np.float32))
        return frozen.model.quantizer.dequantize(torch.from_numpy(rows.astype(np.int64))).detach()

    x_train, d_train, s_train = cache["original"][~held], cache["decode"][~held], cache[key][~held]
    x_val, d_val, z_val = (to_tensors(cache["original"][held]), to_tensors(cache["decode"][held]),
                           latents(cache[key][held]))
    stage = DetailGenerator(cfg.model)
    if init is not None:
        state, _ = load_weights(init.path)
        warm_start(stage, {k[len("generator."):]: v for k, v in state.items() if k.startswith("generator.")})
    if init_stage is not None:
        stage = load_stage(init_stage, torch.device("cpu")).stage.train()
    opt = torch.optim.Adam(stage_trainable(stage), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)

    def step() -> dict[str, float]:
        idx = torch.randint(0, len(x_train), (cfg.batch,), generator=gen).numpy()
        z = latents(s_train[idx])
        return stage_step(stage, opt, cfg, to_tensors(x_train[idx]), to_tensors(d_train[idx]), z, gen,
                          heat=z[:, -1:] if is_sc else None)  # SC's conditioning ends with the heatmap

    return train_loop(out, stage, opt, gen, step, lambda: validate_stage(stage, x_val, d_val, z_val),
                      steps=opts.steps, time_budget=opts.time_budget, val_every=opts.val_every,
                      desc=f"train detail ({ref.name})", progress=progress)
