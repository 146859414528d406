"""A `gcodec train detail` run folder -> a shipped detail stage: its own weights file and card.

The stage ships apart from its GC model, so the GC weights (and the digest its files check)
stay as they are; the card names the GC model and digest the stage was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...models.detail import DetailGenerator
from ...models.train_stage import StageTrainConfig
from ..export import detail_run_entries, half_weights, load_checkpoint, run_log
from ..model_store import save_weights


def is_stage_run(run_dir: str | Path) -> bool:
    try:
        return "base_model" in json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def export_stage_run(run_dir: str | Path, out_path: str | Path, name: str, data_note: str = "",
                     trained_on: str = "", default_realism: float = 0.0) -> dict[str, Any]:
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "config.json").read_text())
    cfg = StageTrainConfig.from_dict(meta["train"])
    ckpt = load_checkpoint(run_dir)
    stage = DetailGenerator(cfg.model)
    stage.load_state_dict(ckpt["model"])
    tensors = half_weights({k: v for k, v in stage.state_dict().items() if not k.startswith("fidelity.")})
    log = run_log(run_dir, int(ckpt["step"]))
    training, validation = detail_run_entries(meta, cfg.to_dict(), ckpt, log, data_note, trained_on)
    card = {
        "name": name,
        "kind": "detail",
        "architecture": "gcodec.models.detail.DetailGenerator (texture path; R = 0 is the GC decode)",
        "config": cfg.model.to_dict(),
        "base_model": meta["base_model"],
        "base_digest": meta["base_digest"],
        "default_realism": default_realism,
        "training": training,
        "validation": validation,
        "validation_note": "held-out training images (name hash), two 256x256 crops each; r0_* is the GC decode, "
                           "r<R>_* the decode at R",
        "log": log,
    }
    return save_weights(tensors, card, out_path)
