"""Fitting a NeRV to one video: the whole clip in memory as uint8, batches of frames.

The budget is either a number of epochs (passes over all frames) or seconds of wall
time; the learning rate warms up, then follows a cosine to zero over the budget
(measured in steps, or in elapsed time for a time budget).
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .nerv import Nerv


@dataclass
class TrainBudget:
    epochs: float | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.seconds is None):
            raise ValueError("give exactly one of epochs or seconds")

    def split(self, frac: float) -> tuple["TrainBudget", "TrainBudget"]:
        if self.epochs is not None:
            return TrainBudget(epochs=self.epochs * frac), TrainBudget(epochs=self.epochs * (1 - frac))
        return TrainBudget(seconds=self.seconds * frac), TrainBudget(seconds=self.seconds * (1 - frac))


def psnr_from_mse(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def fit(model: Nerv, frames: torch.Tensor, budget: TrainBudget, lr: float, batch: int = 4,
        bf16: bool = False, progress: bool = True, desc: str = "fit", warmup: float = 0.05,
        param_lr: dict[str, float] | None = None) -> float:
    """Train `model` on uint8 frames (T, H, W, 3) on the model's device; returns final train PSNR.

    param_lr: learning rate per parameter-name substring (first match wins), else `lr`.
    """
    device = next(model.parameters()).device
    frames = frames.to(device)
    t_total = frames.shape[0]
    batch = max(1, min(batch, t_total))
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        rate = next((v for k, v in (param_lr or {}).items() if k in name), lr)
        groups.setdefault(rate, []).append(p)
    opt = torch.optim.Adam([{"params": ps, "lr": r, "base_lr": r} for r, ps in groups.items()], betas=(0.9, 0.99))
    steps_per_epoch = math.ceil(t_total / batch)
    total_steps = max(1, int(round(budget.epochs * steps_per_epoch))) if budget.epochs is not None else None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    bar = tqdm(total=total_steps if total_steps else int(budget.seconds), desc=desc, disable=not progress,
               unit="step" if total_steps else "s", leave=False)
    start = time.perf_counter()
    step, ema, perm, pos = 0, None, torch.randperm(t_total, device=device), 0
    while True:
        elapsed = time.perf_counter() - start
        frac = step / total_steps if total_steps else elapsed / budget.seconds
        if frac >= 1.0:
            break
        scale = frac / warmup if frac < warmup else 0.5 * (1 + math.cos(math.pi * (frac - warmup) / (1 - warmup)))
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * max(scale, 0.01 if frac < warmup else 0.0)
        if pos >= t_total:
            perm, pos = torch.randperm(t_total, device=device), 0
        idx = perm[pos : pos + batch]
        pos += batch
        target = frames[idx].permute(0, 3, 1, 2).float().div_(255.0)
        with autocast:
            out = model(idx)
        loss = F.mse_loss(out.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        value = float(loss.detach())
        ema = value if ema is None else 0.9 * ema + 0.1 * value
        if total_steps:
            bar.update(1)
        else:
            bar.n = min(int(budget.seconds), int(time.perf_counter() - start))
            bar.refresh() if step % 10 == 0 else None
        if step % 10 == 0:
            bar.set_postfix(psnr=f"{psnr_from_mse(ema):.2f}")
    bar.close()
    return psnr_from_mse(ema) if ema is not None else float("nan")


@torch.no_grad()
def render(model: Nerv, indices: torch.Tensor | None = None, batch: int = 8, bf16: bool = False) -> torch.Tensor:
    """Frames `indices` (default: all) as uint8 (N, H, W, 3) on the CPU, decoded in batches."""
    device = next(iter(model.buffers())).device
    if indices is None:
        indices = torch.arange(model.cfg.frames)
    out = []
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    for start in range(0, len(indices), batch):
        idx = indices[start : start + batch].to(device)
        with autocast:
            x = model(idx).float()
        out.append(x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu())
    return torch.cat(out)
