"""Export a segmentation training run (`models/train_seg.py`'s run folder) as shipped weights and a card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ..models.train_seg import PHASE_KEYS, RunFolder
from ..models.train_seg_data import IGNORE, class_names
from .model_store import save_weights


def _summary_from_checkpoint(run: RunFolder) -> dict[str, Any]:
    ck = torch.load(run.ckpt, map_location="cpu", weights_only=True)
    tc = json.loads(ck["train_config"])
    dev = torch.device(tc["device"])
    return {
        "steps": int(ck["step"]), "wall_time_s": round(float(ck["elapsed"]), 1),
        "best_val_mIoU_baseline": ck["best"]["baseline"],
        "best_val_mIoU_ar": ck["best"]["ar"] if ck["best"]["ar"] >= 0 else None,
        "best_val_mIoU_ft_ce": ck["best"]["ft_ce"] if ck["best"]["ft_ce"] >= 0 else None,
        "best_metrics": json.loads(ck["best_metrics"]), "model_config": ck["model_config"],
        "train_config": tc, "batch_size": tc["batch_size"] or (16 if dev.type == "cuda" else 4),
        "bf16": dev.type == "cuda" if tc["bf16"] is None else tc["bf16"], "device": str(dev),
        "n_train": None, "n_val": None, "class_names": list(class_names(tc["dataset"])), "gpu": None,
        "note": "exported from checkpoint.pt of a run that did not reach its end",
    }


def export(run_dir: str | Path, out_path: str | Path, which: str = "best") -> dict[str, Any]:
    """Export best_baseline / best_ft_ce / best_ar (`which` = one of those keys, or 'best': the
    highest val mIoU)
    with `codec.model_store.save_weights`; returns the card."""
    run = RunFolder(run_dir)
    if run.summary.is_file():
        s = json.loads(run.summary.read_text())
    elif run.ckpt.is_file():
        s = _summary_from_checkpoint(run)  # a run cut off before its end: export what it has
    else:
        raise FileNotFoundError(f"neither {run.summary} nor {run.ckpt} exists")
    scores = {"baseline": s["best_val_mIoU_baseline"], "ft_ce": s.get("best_val_mIoU_ft_ce"),
              "ar": s["best_val_mIoU_ar"]}
    if which == "best":
        # ties go to the earlier (simpler) phase
        which = max((k for k in PHASE_KEYS if scores[k] is not None), key=lambda k: scores[k])
    if which not in scores or not run.best(which).is_file():
        raise FileNotFoundError(f"no best_{which} weights in {run_dir}")
    state = load_file(str(run.best(which)))
    bm = s["best_metrics"][which]
    tc = s["train_config"]
    card = {
        "kind": "segmentation",
        "architecture": "gcodec.models.segnet.SegNet",
        "config": s["model_config"],
        "dataset": tc["dataset"],
        "class_names": s["class_names"],
        "ignore_index": IGNORE,
        "train_config": tc,
        "training_command": (
            "python -c \"from gcodec.models.train_seg import SegTrainConfig, train; "
            f"train(SegTrainConfig.from_dict({tc!r}))\""
        ),
        "batch_size": s["batch_size"], "bf16": s["bf16"], "device": s["device"], "gpu": s["gpu"],
        "n_train": s["n_train"], "n_val": s["n_val"],
        "steps": s["steps"], "wall_time_s": s["wall_time_s"],
        "exported": which, "exported_step": bm["step"],
        "val_mIoU_baseline": scores["baseline"], "val_mIoU_ce_finetune": scores["ft_ce"],
        "val_mIoU_ar_finetune": scores["ar"],
        "val_mIoU": bm["mIoU"], "val_mAcc": bm["mAcc"], "val_aAcc": bm["aAcc"],
        "val_per_class_IoU": bm["IoU"], "val_per_class_Acc": bm["Acc"],
    }
    if "note" in s:
        card["note"] = s["note"]
    return save_weights(state, card, out_path)
