"""Turn a GC/SC training run into a shipped weights file and model card.

A run folder holds `config.json` and `log.jsonl` from `gcodec train gc`, and
either `checkpoint.pt` (our own training state) or `model.safetensors` (model
weights only, as copied back from a remote GPU). The export keeps the encoder,
quantizer, prior and generator (not the discriminator), stores conv weights in
float16 to halve the file, and freezes the prior into integer probability tables
(`entropy.tables`) so that every machine entropy-codes with identical numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from ..bitstream.entropy import PRECISION, quantize_pmf
from ..bitstream.errors import InputError
from ..models.gc import GCModel
from ..models.sc import SCModel
from ..models.train_gc_config import GCTrainConfig
from .model_store import save_weights

TABLES_KEY = "entropy.tables"


def integer_tables(logits: torch.Tensor) -> torch.Tensor:
    """(C, L) logits -> (C, L) int32 tables summing to 2**PRECISION (computed once, in float64)."""
    lg = logits.detach().double().cpu().numpy()
    pmf = np.exp(lg - lg.max(axis=1, keepdims=True))
    return torch.from_numpy(quantize_pmf(pmf, PRECISION).astype(np.int32))


def _read_run(run_dir: Path) -> tuple[GCTrainConfig, dict[str, torch.Tensor], list[dict[str, Any]], dict[str, float]]:
    """(config, model weights, validation log, {"step", "elapsed"} of a checkpoint's weights or {})."""
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{run_dir} is not a gcodec training run (no config.json)")
    cfg = GCTrainConfig.from_dict(json.loads(cfg_path.read_text()))
    at: dict[str, float] = {}
    if (run_dir / "model.safetensors").is_file():
        state = load_file(str(run_dir / "model.safetensors"))
    elif (run_dir / "checkpoint.pt").is_file():
        # our own training state; weights_only refuses arbitrary pickled objects
        ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
        state, at = ckpt["model"], {"step": int(ckpt["step"]), "elapsed": round(float(ckpt["elapsed"]), 1)}
    else:
        raise InputError(f"{run_dir} has neither checkpoint.pt nor model.safetensors")
    return cfg, state, run_log(run_dir), at


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """A run folder's checkpoint.pt (tensors only, never objects); InputError if it has none."""
    path = Path(run_dir) / "checkpoint.pt"
    if not path.is_file():
        raise InputError(f"{run_dir} has no checkpoint.pt")
    return torch.load(path, map_location="cpu", weights_only=True)


def half_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weight matrices and kernels as float16 (half the file), vectors and scalars as float32."""
    return {k: (v.half() if v.is_floating_point() and v.ndim > 1 else v.float()) for k, v in state.items()}


TRAIN_STATS = ("loss", "fidelity", "texture", "train_bpp")  # a log record's training-batch numbers


def detail_run_entries(meta: dict[str, Any], train_config: dict[str, Any], ckpt: dict[str, Any],
                       log: list[dict[str, Any]], data_note: str, trained_on: str,
                       **more: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card's "training" and "validation" entries of a detail-generator run (layered or stage):
    its config.json `meta`, its train config as a dict, checkpoint and log; `more` joins "training"."""
    training = {"command": meta.get("command"), "data": data_note or meta.get("data"), "steps": int(ckpt["step"]),
                "wall_seconds": round(float(ckpt["elapsed"]), 1), "hardware": trained_on or None, **more,
                "config": {k: v for k, v in train_config.items() if k != "model"}}
    final = log[-1] if log else {}
    return training, {k: v for k, v in final.items() if k not in TRAIN_STATS}


def run_log(run_dir: Path, up_to_step: int | None = None) -> list[dict[str, Any]]:
    """A run folder's log.jsonl records ([] if none), those after `up_to_step` left out (the
    exported checkpoint's step: a log copied later may run past it)."""
    path = run_dir / "log.jsonl"
    log = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    return log if up_to_step is None else [r for r in log if r.get("step", 0) <= up_to_step]


def export_run(run_dir: str | Path, out_path: str | Path, name: str, data_note: str = "",
               trained_on: str = "") -> dict[str, Any]:
    """Write `out_path` (.safetensors) and its card; returns the card.

    The card's steps and wall time are those of the exported weights: a checkpoint taken
    mid-run may be newer than the last validation (then "validation" is that earlier one,
    at "validation_step") or older than a log copied later (later lines are left out).
    """
    run_dir = Path(run_dir)
    cfg, state, log, at = _read_run(run_dir)
    if at:
        log = [r for r in log if r.get("step", 0) <= at["step"]]
    model = SCModel(cfg.model) if cfg.semantic else GCModel(cfg.model)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    # the prior's logits stay float32: the integer tables are computed from them, and a run that
    # starts from these weights (`--init-from`) must get back exactly the same tables
    tensors = {k: (v.half() if v.is_floating_point() and v.ndim > 1 and k != "prior.logits" else v.float())
               for k, v in model.state_dict().items()}
    tensors[TABLES_KEY] = integer_tables(model.prior.logits)
    final = log[-1] if log else {}
    steps, elapsed = at.get("step", final.get("step")), at.get("elapsed", final.get("elapsed"))
    card = {
        "name": name,
        "kind": "sc" if cfg.semantic else "gc",
        "architecture": f"gcodec.models.{'sc.SCModel' if cfg.semantic else 'gc.GCModel'}",
        "config": cfg.model.to_dict(),
        "entropy": {"tables": TABLES_KEY, "dtype": "int32", "precision": PRECISION,
                    "note": "per-channel categorical tables over the L centers; rows sum to 2**precision"},
        "training": {
            "command": cfg.command,
            "data": data_note or cfg.data,
            "labels": cfg.labels or None,
            "steps": steps,
            "wall_seconds": elapsed,
            # runs started from earlier weights (`--init-from`) add up their training
            "total_steps": (steps or 0) + (cfg.init_from.get("steps") or 0),
            "total_wall_seconds": round((elapsed or 0) + (cfg.init_from.get("wall_seconds") or 0), 1),
            "hardware": trained_on or None,
            "config": {k: v for k, v in cfg.to_dict().items() if k not in ("model", "command")},
        },
        "validation": {k: final[k] for k in ("val_psnr", "val_msssim", "val_bpp_ideal", "val_texture") if k in final},
        "validation_step": final.get("step"),
        "validation_note": f"{cfg.val_count} images held out of the training folder (by name hash), "
                           "centre crops of at most 384x384; bpp is the ideal -log2 p under the learned prior"
                           + ("; val_texture is the texture statistics loss where every cell is synthesized"
                              if "val_texture" in final else ""),
        "log": log,
    }
    if cfg.semantic and cfg.map_tolerance:  # the grid its decoder learned: what `encode` uses by default
        card["default_map_tolerance"] = cfg.map_tolerance
    return save_weights(tensors, card, out_path)


def is_codegan_run(run_dir: str | Path) -> bool:
    cfg = Path(run_dir) / "config.json"
    return cfg.is_file() and json.loads(cfg.read_text()).get("arch") == "codegan"


def export_codegan_run(run_dir: str | Path, out_path: str | Path, name: str, data_note: str = "",
                       trained_on: str = "") -> dict[str, Any]:
    """A `gcodec train codegan` run -> its generator (float32; the critic stays behind) and a card
    naming the GC model whose codes it makes (`gcodec sample --source codegan` looks it up by that)."""
    from ..models.codegan import CodeGenerator
    from ..models.train_codegan import CodeGANTrainConfig

    run_dir = Path(run_dir)
    cfg = CodeGANTrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    ckpt = load_checkpoint(run_dir)
    g = CodeGenerator(cfg.model)
    g.load_state_dict(ckpt["generator"])
    log = run_log(run_dir, int(ckpt["step"]))
    final = log[-1] if log else {}
    card = {
        "name": name,
        "kind": "codegan",
        "architecture": "gcodec.models.codegan.CodeGenerator",
        "config": cfg.model.to_dict(),
        "gc_model": cfg.gc_model,
        "training": {
            "command": cfg.command,
            "data": data_note or cfg.data,
            "steps": int(ckpt["step"]),
            "wall_seconds": round(float(ckpt["elapsed"]), 1),
            "hardware": trained_on or None,
            "config": {k: v for k, v in cfg.to_dict().items() if k not in ("model", "command")},
        },
        "validation": {k: final[k] for k in ("val_w_distance", "val_marginal_l1") if k in final},
        "validation_note": f"codes of {cfg.val_count} photos held out of the code GAN's data (by name hash): "
                           "critic score of held-out real codes minus generated ones (val_w_distance), and the "
                           "mean over channels of the L1 distance between their symbol frequencies "
                           "(val_marginal_l1), on 256 crops of 16x16 cells each",
        "log": log,
    }
    return save_weights({k: v.float() for k, v in g.state_dict().items()}, card, out_path)
