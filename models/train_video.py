"""Fitting a NeRV to one video: the whole clip in memory as uint8, batches of frames.

The budget is either a number of epochs (passes over all frames) or seconds of wall
time; the learning rate warms up, then follows a cosine to zero over the budget
(measured in steps, or in elapsed time for a time budget).
"""

from __future__ import annotations

import functools
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

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


@dataclass
class FitResult:
    psnr: float  # training PSNR (running average of the last steps), dB
    steps: int
    bf16: bool  # whether the steps ran in bfloat16 autocast
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, training PSNR) every 10 steps


# Fitting in bfloat16 pays only where the CPU computes it natively (AVX-512 BF16 or AMX): there
# a bikes 480x270 supermask step runs 1.85x faster (771 vs 1428 ms, NHWC, one thread) and a
# dense one 1.7x (286 vs 486 ms); elsewhere bfloat16 is emulated and slower.
_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """True when /proc/cpuinfo lists AVX-512 BF16 or AMX-BF16 (False where there is no such file)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in _NATIVE_BF16_FLAGS)


def prefers_bf16(device: torch.device) -> bool:
    return device.type == "cpu" and cpu_has_native_bf16()


def step_seconds(model: Nerv, frames: torch.Tensor, batch: int, bf16: bool, limit: float = math.inf) -> float:
    """Wall time of one training step (forward, backward; no update) of `model` on this machine:
    the faster of two, after one that sets up kernels; or, once the steps so far took more than
    `limit` seconds, the last one (an overestimate, for callers that only need "too slow")."""
    device = next(model.parameters()).device
    idx = torch.arange(min(batch, frames.shape[0]), device=device)
    target = frames[idx.cpu()].to(device).permute(0, 3, 1, 2).float().div_(255.0)
    model.channels_last = device.type == "cpu"
    times = []
    try:
        for _ in range(3):
            t0 = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext():
                out = model(idx)
            F.mse_loss(out.float(), target).backward()
            times.append(time.perf_counter() - t0)
            if sum(times) > limit:
                break
        model.zero_grad(set_to_none=True)
        return min(times[1:]) if len(times) == 3 else times[-1]
    finally:
        model.channels_last = False


def fit(model: Nerv, frames: torch.Tensor, budget: TrainBudget, lr: float, batch: int = 4,
        bf16: bool | None = False, progress: bool = True, desc: str = "fit", warmup: float = 0.05,
        param_lr: dict[str, float] | None = None) -> FitResult:
    """Train `model` on uint8 frames (T, H, W, 3) on the model's device.

    param_lr: learning rate per parameter-name substring (first match wins), else `lr`.
    bf16: True / False, or None for bfloat16 where the CPU computes it natively (`prefers_bf16`).
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
    use_bf16 = prefers_bf16(device) if bf16 is None else bf16
    history: list[tuple[float, float]] = []
    bar = tqdm(total=total_steps if total_steps else int(budget.seconds), desc=desc, disable=not progress,
               unit="step" if total_steps else "s", leave=False)
    start = time.perf_counter()
    step, ema, perm, pos = 0, None, torch.randperm(t_total, device=device), 0
    model.channels_last = device.type == "cpu"
    try:
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
            with torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext():
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
                history.append((time.perf_counter() - start, psnr_from_mse(ema)))
                bar.set_postfix(psnr=f"{history[-1][1]:.2f}", bf16=int(use_bf16))
    finally:
        model.channels_last = False
        bar.close()
    return FitResult(psnr_from_mse(ema) if ema is not None else float("nan"), step, use_bf16, history)


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
