"""A `gcodec train layered` run folder -> shipped weights and model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...bitstream.entropy import PRECISION
from ...models.detail import DetailModel
from ...models.train_layered import LayeredTrainConfig
from ..export import TABLES_KEY, detail_run_entries, half_weights, integer_tables, load_checkpoint, run_log
from ..model_store import save_weights

BASE_NOTE = ("VVC intra (ffmpeg libvvenc, preset medium, fixed QP, qpa 0, 10-bit 4:2:0, BT.601 limited range) "
             "at scale 1, 1/2 or 1/4 with Pillow Lanczos down/up-scaling")


def is_layered_run(run_dir: str | Path) -> bool:
    path = Path(run_dir) / "config.json"
    try:
        return "train" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def export_layered_run(run_dir: str | Path, out_path: str | Path, name: str, data_note: str = "",
                       trained_on: str = "", default_realism: float = 0.0) -> dict[str, Any]:
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "config.json").read_text())
    cfg = LayeredTrainConfig.from_dict(meta["train"])
    ckpt = load_checkpoint(run_dir)
    model = DetailModel(cfg.model)
    model.load_state_dict(ckpt["model"])
    step = int(ckpt["step"])
    log = run_log(run_dir, step)
    tensors = half_weights(model.state_dict())
    tensors[TABLES_KEY] = integer_tables(model.prior.logits)
    # a run started from another (`--init-from`) adds up its training
    training, validation = detail_run_entries(meta, cfg.to_dict(), ckpt, log, data_note, trained_on,
                                              init_from=meta.get("init_from"),
                                              total_steps=step + _chain_steps(meta.get("init_from")))
    card = {
        "name": name,
        "kind": "layered",
        "architecture": "gcodec.models.detail.DetailModel",
        "config": cfg.model.to_dict(),
        "base_codec": BASE_NOTE,
        "default_realism": default_realism,
        "entropy": {"tables": TABLES_KEY, "dtype": "int32", "precision": PRECISION,
                    "note": "per-channel categorical tables over the L centers; rows sum to 2**precision"},
        "training": training,
        "validation": validation,
        "validation_note": "held-out training images (name hash) as 256x256 crops, each coded at two QPs per "
                           "base scale; base_* is the upscaled VVC decode, r<R>_* the decode at R (r0_*, r0.5_*, r1_*)",
        "log": log,
    }
    return save_weights(tensors, card, out_path)


def _chain_steps(init: dict | None) -> int:
    """Steps of every run this one started from, through the whole --init-from chain."""
    return 0 if not init else int(init.get("steps") or 0) + _chain_steps(init.get("init_from"))
