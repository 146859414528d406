"""Train the segmentation network within a wall-clock budget, with an Affinity Regression ablation.

    from gcodec.models.train_seg import SegTrainConfig, train
    train(SegTrainConfig(data="DIR", dataset="camvid", out="RUN", time_budget=1300, device="cuda"))

Phase 1 (first `phase1_frac` of the budget): cross-entropy (+ auxiliary heads), the best
validation mIoU kept as `best_baseline`. Then fine-tuning from the best baseline with
CE + ar_weight * AR, the best kept as `best_ar`. With `control_finetune` the rest of the budget
is split in two equal fine-tunes from the same best baseline with the same LR schedule: first
CE only (`best_ft_ce`, the control), then CE + AR, so the AR ablation is not confounded by the
extra low-LR training. The LR is a function of the elapsed fraction of the budget, so any
budget works. The data lives on the device as uint8 and is
augmented there in batches. State is checkpointed to RUN/checkpoint.pt about every minute and
a run resumes from it. At the end the better of the two is exported with its model card
(codec/seg_export.py).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from .affinity_loss import affinity_loss
from .seg_metrics import ConfusionMeter, format_table, metrics_from_confusion
from .segnet import SegNet, SegNetConfig, predict_logits
from .train_seg_data import IGNORE, augment_batch, class_names, load_dataset


@dataclass
class SegTrainConfig:
    data: str = ""
    dataset: str = "camvid"
    out: str = "runs/seg"
    time_budget: float = 1300.0  # seconds of wall clock, data loading and validation included
    max_steps: int = 0  # >0: also end after this many steps (progress = max of both fractions)
    device: str = "cuda"
    batch_size: int = 0  # 0: 16 on cuda, 4 on cpu
    crop: tuple[int, int] = (360, 480)
    scale_range: tuple[float, float] = (0.5, 2.0)
    jitter: float = 0.3
    data_scale: float = 1.0  # resize the whole dataset on load (e.g. 0.5 for 2048x1024 Cityscapes)
    val_fraction: float = 0.0  # >0: hold out this tail fraction of train(+val) as validation
    lr: float = 2e-3
    weight_decay: float = 1e-2
    warmup_frac: float = 0.03
    poly_power: float = 0.9
    aux_weight: float = 0.4
    phase1_frac: float = 0.75
    ar_weight: float = 0.1  # 0 disables the fine-tuning phases
    control_finetune: bool = True  # also fine-tune with CE only (same schedule) as the ablation's control
    ft_lr_factor: float = 0.1  # fine-tuning peak LR relative to `lr`
    val_every: float = 30.0  # seconds between validations
    ckpt_every: float = 60.0  # seconds between checkpoints
    val_batch: int = 8
    bf16: bool | None = None  # None: on for cuda
    channels_last: bool | None = None  # None: on for cuda
    compile: bool = False
    seed: int = 0
    export_name: str = ""  # default seg-<dataset>.safetensors
    model: dict[str, Any] = field(default_factory=dict)  # SegNetConfig overrides

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegTrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})


# best-checkpoint keys of the phases, in the order they run
PHASE_KEYS = ("baseline", "ft_ce", "ar")


def phase_plan(cfg: SegTrainConfig) -> list[tuple[str, float, float]]:
    """(key, start, end) fractions of the budget for each phase that runs."""
    if cfg.ar_weight <= 0:
        return [("baseline", 0.0, 1.0)]
    p1 = cfg.phase1_frac
    if cfg.control_finetune:
        mid = p1 + (1 - p1) / 2
        return [("baseline", 0.0, p1), ("ft_ce", p1, mid), ("ar", mid, 1.0)]
    return [("baseline", 0.0, p1), ("ar", p1, 1.0)]


def _lr_at(cfg: SegTrainConfig, progress: float, phase: int) -> float:
    """LR as a function of the elapsed fraction of the whole budget (phase indexes phase_plan)."""
    key, a, b = phase_plan(cfg)[phase]
    f = min(max((progress - a) / max(b - a, 1e-9), 0.0), 1.0)
    if key == "baseline":
        warm = cfg.warmup_frac
        if f < warm:
            return cfg.lr * (0.1 + 0.9 * f / warm)
        return cfg.lr * (1 - (f - warm) / (1 - warm)) ** cfg.poly_power
    return cfg.lr * cfg.ft_lr_factor * (1 - f) ** cfg.poly_power


def _make_optimizer(model: torch.nn.Module, cfg: SegTrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999))


def _state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    m = getattr(model, "_orig_mod", model)
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


@torch.no_grad()
def validate(
    model: SegNet, images: torch.Tensor, labels: torch.Tensor, num_classes: int, names: tuple[str, ...],
    batch: int = 8, autocast: bool = False, channels_last: bool = False,
) -> dict[str, Any]:
    """Dataset-level metrics of `model` on uint8 images (N, 3, H, W) and labels (N, H, W)."""
    was_training = model.training
    model.eval()
    meter = ConfusionMeter(num_classes, IGNORE)
    dev = images.device
    for i in range(0, len(images), batch):
        x = images[i : i + batch].float() / 255.0
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=autocast):
            logits = predict_logits(model, x)
        meter.update(logits.argmax(1), labels[i : i + batch])
    model.train(was_training)
    return metrics_from_confusion(meter.matrix(), names)


class RunFolder:
    """Paths and small JSON state of a run directory."""

    def __init__(self, out: str | Path) -> None:
        self.dir = Path(out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ckpt = self.dir / "checkpoint.pt"
        self.log = self.dir / "log.jsonl"
        self.summary = self.dir / "summary.json"

    def best(self, which: str) -> Path:
        return self.dir / f"best_{which}.safetensors"

    def append_log(self, rec: dict[str, Any]) -> None:
        with open(self.log, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def write_json(self, path: Path, obj: Any) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
        os.replace(tmp, path)


def _save_checkpoint(run: RunFolder, state: dict[str, Any]) -> None:
    tmp = run.ckpt.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, run.ckpt)


def train(cfg: SegTrainConfig) -> dict[str, Any]:
    """Run (or resume) training; returns the summary dict also written to OUT/summary.json."""
    t_start = time.monotonic()
    device = torch.device(cfg.device)
    is_cuda = device.type == "cuda"
    bf16 = is_cuda if cfg.bf16 is None else cfg.bf16
    chl = is_cuda if cfg.channels_last is None else cfg.channels_last
    bs = cfg.batch_size or (16 if is_cuda else 4)
    if is_cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(cfg.seed)
    # the data first: a dataset that cannot train leaves no run folder behind
    (tr_x, tr_y), (va_x, va_y) = load_dataset(cfg.data, cfg.dataset, cfg.val_fraction, cfg.data_scale, device)
    run = RunFolder(cfg.out)
    names = class_names(cfg.dataset)
    mcfg = SegNetConfig.from_dict({"num_classes": len(names), **cfg.model})

    resume: dict[str, Any] | None = None
    if run.ckpt.is_file():
        # our own run directory's training state: weights_only refuses arbitrary objects
        resume = torch.load(run.ckpt, map_location="cpu", weights_only=True)
        mcfg = SegNetConfig.from_dict(resume["model_config"])
    elapsed0 = float(resume["elapsed"]) if resume else 0.0
    t0 = t_start - elapsed0

    def elapsed() -> float:
        return time.monotonic() - t0

    n_train = len(tr_x)
    crop = (min(cfg.crop[0], 4096), min(cfg.crop[1], 4096))

    model = SegNet(mcfg).to(device)
    if chl:
        model = model.to(memory_format=torch.channels_last)
    opt = _make_optimizer(model, cfg)
    plan = phase_plan(cfg)
    step, phase = 0, 0
    best = {k: -1.0 for k in PHASE_KEYS}
    best_metrics: dict[str, Any] = {}
    if resume:
        model.load_state_dict(resume["model"])
        phase = int(resume["phase"])
        opt.load_state_dict(resume["optimizer"])
        step = int(resume["step"])
        best = dict(resume["best"])
        best_metrics = json.loads(resume["best_metrics"])
    fwd = torch.compile(model) if cfg.compile else model
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed * 1000003 + step)


    def progress() -> float:
        pr = elapsed() / cfg.time_budget
        if cfg.max_steps > 0:
            pr = max(pr, step / cfg.max_steps)
        return pr

    last_val = elapsed()
    last_ckpt = elapsed()
    val_cost = 0.0  # duration of the last validation, reserved at the end of the budget
    loss_ema: float | None = None
    ar_ema: float | None = None  # the AR term on training batches, whatever the phase trains on

    def do_validate() -> dict[str, Any]:
        nonlocal last_val, val_cost
        tv = time.monotonic()
        met = validate(model, va_x, va_y, len(names), names, cfg.val_batch, bf16, chl)
        key = plan[phase][0]
        rec = {
            "step": step, "elapsed": round(elapsed(), 2), "phase": key, "loss": loss_ema, "ar_term": ar_ema,
            "lr": opt.param_groups[0]["lr"], "val_mIoU": met["mIoU"], "val_mAcc": met["mAcc"],
            "val_aAcc": met["aAcc"], "val_IoU": met["IoU"],
        }
        if met["mIoU"] > best[key]:
            best[key] = met["mIoU"]
            best_metrics[key] = {"step": step, "elapsed": rec["elapsed"], **met}
            save_file({k: v.contiguous().cpu() for k, v in _state_dict(model).items()}, str(run.best(key)))
            rec["new_best"] = key
        run.append_log(rec)
        val_cost = time.monotonic() - tv
        last_val = elapsed()
        bests = ", ".join(f"{k} {100 * v:.2f}" for k, v in best.items() if v >= 0)
        tqdm.write(f"[val] {rec['elapsed']:.0f}s step {step} {key} loss {loss_ema or 0:.3f} "
                   f"mIoU {100 * met['mIoU']:.2f} (best: {bests}; val took {val_cost:.1f}s)")
        return met

    def checkpoint() -> None:
        nonlocal last_ckpt
        _save_checkpoint(run, {
            "model": _state_dict(model), "optimizer": opt.state_dict(), "step": step, "phase": phase,
            "elapsed": elapsed(), "best": best, "best_metrics": json.dumps(best_metrics),
            "model_config": mcfg.to_dict(), "train_config": json.dumps(cfg.to_dict()),
        })
        last_ckpt = elapsed()

    def next_phase() -> None:
        nonlocal phase, opt
        phase += 1
        if run.best("baseline").is_file():
            sd = load_file(str(run.best("baseline")), device=str(device))
            getattr(model, "_orig_mod", model).load_state_dict(sd)
        opt = _make_optimizer(model, cfg)
        what = "CE + %g * AR" % cfg.ar_weight if plan[phase][0] == "ar" else "CE only (control)"
        tqdm.write(f"[{plan[phase][0]}] fine-tuning from best baseline (mIoU {100 * best['baseline']:.2f}) "
                   f"with {what}")

    tqdm.write(f"[train-seg] {cfg.dataset}: {n_train} train / {len(va_x)} val images on {device}, batch {bs}, "
               f"crop {crop}, bf16 {bf16}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, "
               f"budget {cfg.time_budget:.0f}s, {'resuming at step %d' % step if resume else 'fresh start'}")
    model.train()
    bar = tqdm(total=round(cfg.time_budget), initial=min(round(elapsed()), round(cfg.time_budget)),
               unit="s", desc="train-seg", disable=None, file=sys.stderr)
    shown = bar.n
    while True:
        pr = progress()
        # stop early enough that the final validation fits in the budget
        if pr >= 1.0 or (elapsed() + val_cost) / cfg.time_budget >= 1.0:
            break
        if phase + 1 < len(plan) and pr >= plan[phase + 1][1]:
            do_validate()
            next_phase()
        lr = _lr_at(cfg, pr, phase)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, n_train, (bs,), device=device, generator=gen)
        x, y = augment_batch(tr_x[idx], tr_y[idx], crop, cfg.scale_range, True, cfg.jitter, gen)
        if chl:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            out = fwd(x)
        main, aux = out if isinstance(out, tuple) else (out, [])
        loss = F.cross_entropy(main.float(), y, ignore_index=IGNORE)
        for a in aux:
            loss = loss + cfg.aux_weight * F.cross_entropy(a.float(), y, ignore_index=IGNORE)
        # logged in every phase (graph only where trained), so a run shows how the AR term falls
        ar = affinity_loss(main if plan[phase][0] == "ar" else main.detach(), y, IGNORE)
        if plan[phase][0] == "ar":
            loss = loss + cfg.ar_weight * ar
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 10 == 0 or step < 10:
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise FloatingPointError(f"training loss became {lv} at step {step}")
            loss_ema = lv if loss_ema is None else 0.9 * loss_ema + 0.1 * lv
            ar_ema = float(ar.detach()) if ar_ema is None else 0.9 * ar_ema + 0.1 * float(ar.detach())
            bar.set_postfix(step=step, phase=plan[phase][0], loss=f"{loss_ema:.3f}", lr=f"{lr:.2e}")
        now = elapsed()
        if round(now) > shown:
            bar.update(min(round(now), bar.total) - shown)
            shown = bar.n
        if now - last_val >= cfg.val_every:
            do_validate()
        if now - last_ckpt >= cfg.ckpt_every:
            checkpoint()
    do_validate()
    if phase + 1 < len(plan):
        tqdm.write(f"[warn] budget ended in phase {plan[phase][0]}, before the last phase")
    checkpoint()
    bar.close()

    summary = {
        "steps": step, "wall_time_s": round(elapsed(), 1), "best_val_mIoU_baseline": best["baseline"],
        "best_val_mIoU_ar": best["ar"] if best["ar"] >= 0 else None,
        "best_val_mIoU_ft_ce": best["ft_ce"] if best["ft_ce"] >= 0 else None, "best_metrics": best_metrics,
        "model_config": mcfg.to_dict(), "train_config": cfg.to_dict(), "batch_size": bs,
        "bf16": bf16, "device": str(device), "n_train": n_train, "n_val": len(va_x),
        "class_names": list(names),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(device) if is_cuda else None,
    }
    run.write_json(run.summary, summary)
    name = cfg.export_name or f"seg-{cfg.dataset}.safetensors"
    from ..codec.seg_export import export  # codec depends on models, not the reverse at import

    export(run.dir, run.dir / "export" / name, which="best")
    for key in PHASE_KEYS:
        if key in best_metrics:
            tqdm.write(f"best {key} (step {best_metrics[key]['step']}):\n{format_table(best_metrics[key])}")
    return summary
