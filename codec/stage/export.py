"""A `gcodec train detail` run folder -> a shipped detail stage: its own weights file and card.

The stage ships apart from its GC or SC model, so that model's weights (and the digest its files
check) stay as they are; the card names the model and digest the stage was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...bitstream.errors import InputError
from ...models.detail import DetailGenerator
from ...models.train_stage import StageTrainConfig
from ..export import detail_run_entries, half_weights, load_checkpoint, run_log
from ..model_store import save_weights
from ..registry import resolve_model


def is_stage_run(run_dir: str | Path) -> bool:
    try:
        return "base_model" in json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def _lineage(source: dict[str, str] | None, steps: int) -> dict[str, Any]:
    """For a run that continued a shipped stage (`--init-from-stage`): that stage's training, read
    from its card while the file is still the one the run started from (same digest), with what
    that stage had continued in turn; total_steps counts the whole chain."""
    if not source:
        return {}
    entry: dict[str, Any] = dict(source)
    try:
        ref = resolve_model(source["name"])
    except InputError:  # no longer installed: the name and digest say which it was
        return {"continued_from": entry}
    if ref.digest.hex() == source["digest"]:
        earlier = ref.card.get("training", {})
        entry.update({k: earlier[k] for k in ("command", "steps", "wall_seconds", "continued_from") if k in earlier})
        earlier_steps = int(earlier.get("total_steps") or earlier.get("steps") or 0)
        return {"continued_from": entry, "total_steps": steps + earlier_steps}
    return {"continued_from": entry}


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
    kind = meta.get("base_kind") or resolve_model(meta["base_model"]).kind  # runs before SC stages: GC
    training, validation = detail_run_entries(meta, cfg.to_dict(), ckpt, log, data_note, trained_on,
                                              **_lineage(meta.get("init_from_stage"), int(ckpt["step"])))
    card = {
        "name": name,
        "kind": "detail",
        "architecture": f"gcodec.models.detail.DetailGenerator (texture path; R = 0 is the {kind.upper()} decode)",
        "config": cfg.model.to_dict(),
        "base_model": meta["base_model"],
        "base_kind": kind,
        "base_digest": meta["base_digest"],
        "default_realism": default_realism,
        "training": training,
        "validation": validation,
        "validation_note": f"held-out training images (name hash), two crops each; r0_* is the {kind.upper()} decode, "
                           "r<R>_* the decode at R",
        "log": log,
    }
    return save_weights(tensors, card, out_path)
