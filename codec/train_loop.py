"""The run-folder loop shared by `gcodec train layered` and `gcodec train detail`.

A run folder holds `checkpoint.pt` (resumed automatically: model, optimizer, step, elapsed
seconds, RNG state) and `log.jsonl` (one validation record per line). The loop is meant to
run for hours in the background on a CPU: it checkpoints every few minutes, at the end, and
on Ctrl-C or SIGTERM, so an interrupted run loses little.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

CHECKPOINT_EVERY_S = 300.0


def train_loop(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator,
               step_fn: Callable[[], dict[str, float]], validate_fn: Callable[[], dict[str, float]], *,
               steps: int, time_budget: float, val_every: int, desc: str, progress: bool = True,
               postfix: Callable[[dict[str, float]], dict[str, str]] = lambda s: {"loss": f"{s['loss']:.3f}"}) -> Path:
    """Resume from `out/checkpoint.pt` if present, then call `step_fn` (one optimizer step, drawing
    its batch from `gen`) until `steps` or `time_budget` seconds (0: none); validate every
    `val_every` steps, at step 0, and at the end (so the log's last record is the weights
    exported). Returns the checkpoint's path."""
    step, elapsed = 0, 0.0
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)  # tensors only, never objects
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["rng"])
        step, elapsed = int(state["step"]), float(state["elapsed"])

    def save() -> None:
        tmp = out / "checkpoint.tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": gen.get_state(),
                    "step": step, "elapsed": elapsed}, tmp)
        tmp.replace(ckpt)

    def log(record: dict[str, Any]) -> None:
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    first = step
    if step == 0:
        model.eval()
        log({"step": 0, "elapsed": 0.0, **validate_fn()})
    start, last_save = time.perf_counter() - elapsed, time.perf_counter()
    bar = tqdm(total=steps, initial=step, desc=desc, unit="step", disable=not progress)
    model.train()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # a killed background run ends like Ctrl-C
    try:
        while step < steps and not (time_budget and elapsed >= time_budget):
            stats = step_fn()
            step += 1
            elapsed = time.perf_counter() - start
            bar.update(1)
            bar.set_postfix(**postfix(stats))
            if step % val_every == 0:
                model.eval()
                log({"step": step, "elapsed": round(elapsed, 1), **stats, **validate_fn()})
                model.train()
            if time.perf_counter() - last_save > CHECKPOINT_EVERY_S:
                save()
                last_save = time.perf_counter()
        if step % val_every and step > first:  # ended between validations: log the weights it leaves
            model.eval()
            log({"step": step, "elapsed": round(elapsed, 1), **validate_fn()})
    finally:  # also on Ctrl-C / SIGTERM: the steps done are kept
        signal.signal(signal.SIGTERM, previous)
        bar.close()
        save()
    return ckpt


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
