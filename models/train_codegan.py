"""Training loop for the code GAN (models/codegan.py): WGAN-GP on cached GC codes.

The run folder holds `codes.safetensors` (the GC model's symbols of every training photo,
written once by codec/sampling.py's `cache_codes`), `config.json`, `log.jsonl` (one line per
log interval) and `checkpoint.pt` (resumed automatically), as `gcodec train gc` runs do.
Every step trains the critic `critic_steps` times (Adam, lr 1e-4, betas (0, 0.9), gradient
penalty 10: the WGAN-GP paper's settings), then the generator once, on random crops of
`crop` x `crop` latent cells.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from tqdm import tqdm

from .codegan import CodeCritic, CodeGANConfig, CodeGenerator, gradient_penalty, one_hot_codes
from .train_gc_config import RunFolderError

CODES_FILE = "codes.safetensors"


@dataclass
class CodeGANTrainConfig:
    out: str
    data: str = ""  # the photo folder the codes came from (for the card)
    gc_model: dict[str, Any] = field(default_factory=dict)  # name and sha256 of the GC model
    model: CodeGANConfig = field(default_factory=CodeGANConfig)
    steps: int = 20_000  # generator steps, upper bound
    time_budget: float = 0.0  # seconds for the whole run (0: none)
    crop: int = 16  # latent cells (16 x 16 cells = a 256 px image)
    batch: int = 32
    lr: float = 1e-4
    critic_steps: int = 5
    gp_weight: float = 10.0
    # the critic sees generated codes as one-hot argmaxes with straight-through gradients (else as
    # softmaxes, which it told from one-hot real codes by their softness: W stayed near 35)
    straight_through: bool = False
    max_side: int = 512  # photos are shrunk to this long side before encoding
    val_count: int = 24  # photos held out of the code GAN's training (the nearest-neighbour check uses them)
    log_every: float = 60.0  # seconds
    ckpt_every: float = 120.0  # seconds
    threads: int = 0
    seed: int = 0
    command: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        d["arch"] = "codegan"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CodeGANTrainConfig":
        d = {k: v for k, v in d.items() if k != "arch"}
        d["model"] = CodeGANConfig.from_dict(d["model"])
        return cls(**d)


def read_codes(run_dir: str | Path) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(train, held-out) int64 code grids (C, h, w) of a run folder's cache."""
    state = load_file(str(Path(run_dir) / CODES_FILE))
    split: dict[str, list[torch.Tensor]] = {"train": [], "val": []}
    for key in sorted(state):
        split[key.split(".")[0]].append(state[key].long())
    return split["train"], split["val"]


class _CodeBank:
    """Random crops of cached code grids."""

    def __init__(self, codes: list[torch.Tensor], crop: int) -> None:
        self.codes = [c for c in codes if min(c.shape[-2:]) >= crop]
        if not self.codes:
            raise RunFolderError(f"no cached code grid has both sides of at least {crop} cells")
        self.crop = crop

    def batch(self, n: int, gen: torch.Generator) -> torch.Tensor:
        out = []
        for i in torch.randint(len(self.codes), (n,), generator=gen).tolist():
            c = self.codes[i]
            y = int(torch.randint(c.shape[1] - self.crop + 1, (1,), generator=gen))
            x = int(torch.randint(c.shape[2] - self.crop + 1, (1,), generator=gen))
            out.append(c[:, y:y + self.crop, x:x + self.crop])
        return torch.stack(out)


def _marginal_l1(fake: torch.Tensor, real: torch.Tensor, levels: int) -> float:
    """Mean over channels of the L1 distance between two sets of codes' symbol frequencies."""
    def freq(s: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.bincount(s[:, c].reshape(-1), minlength=levels).float() / s[:, c].numel()
                            for c in range(s.shape[1])])
    return float((freq(fake) - freq(real)).abs().sum(1).mean())


def train(cfg: CodeGANTrainConfig, progress: bool = True) -> Path:
    """Train (or resume) in `cfg.out` from its cached codes; returns the checkpoint path."""
    out = Path(cfg.out)
    ckpt_path = out / "checkpoint.pt"
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    g, d = CodeGenerator(cfg.model), CodeCritic(cfg.model)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(0.0, 0.9))
    step, elapsed = 0, 0.0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if state["config"]["model"] != cfg.model.to_dict() or state["config"].get("arch") != "codegan":
            raise RunFolderError(f"{ckpt_path} was trained with another model config; use a new run folder")
        g.load_state_dict(state["generator"])
        d.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    train_codes, val_codes = read_codes(out)
    bank = _CodeBank(train_codes, cfg.crop)
    val = _CodeBank(val_codes or train_codes, cfg.crop)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + step)  # a resumed run draws new crops
    levels, n, crop = cfg.model.levels, cfg.batch, cfg.crop

    def save() -> None:
        state = {"generator": g.state_dict(), "critic": d.state_dict(), "opt_g": opt_g.state_dict(),
                 "opt_d": opt_d.state_dict(), "step": step, "elapsed": elapsed, "config": cfg.to_dict()}
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, ckpt_path)

    def log(phase: str) -> None:
        with torch.no_grad():
            fake = g.symbols(g.noise(256, crop, crop, gen), crop, crop)
            real = val.batch(256, gen)
            w_val = float(d(one_hot_codes(real, levels)).mean() - d(one_hot_codes(fake, levels)).mean())
        rec = {"step": step, "elapsed": round(elapsed, 1), "phase": phase, **{k: round(v, 5) for k, v in running.items()},
               "val_w_distance": round(w_val, 5), "val_marginal_l1": round(_marginal_l1(fake, real, levels), 5)}
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")

    total = int(cfg.time_budget) if cfg.time_budget > 0 else cfg.steps
    bar = tqdm(total=total, initial=min(int(elapsed) if cfg.time_budget > 0 else step, total), disable=not progress,
               unit="s" if cfg.time_budget > 0 else "step", desc="train codegan",
               mininterval=1.0 if sys.stderr.isatty() else 60.0)
    running: dict[str, float] = {}
    start = time.time() - elapsed
    last_log = last_ckpt = time.time()
    while step < cfg.steps and not (cfg.time_budget > 0 and elapsed >= cfg.time_budget):
        for _ in range(cfg.critic_steps):
            real = one_hot_codes(bank.batch(n, gen), levels)
            with torch.no_grad():
                fake = g.soft(g.noise(n, crop, crop, gen), crop, crop, cfg.straight_through)
            w = d(real).mean() - d(fake).mean()
            gp = gradient_penalty(d, real, fake, gen)
            opt_d.zero_grad(set_to_none=True)
            (-w + cfg.gp_weight * gp).backward()
            opt_d.step()
        g_loss = -d(g.soft(g.noise(n, crop, crop, gen), crop, crop, cfg.straight_through)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for k, v in (("w_distance", w.item()), ("gp", gp.item()), ("g_loss", g_loss.item())):
            running[k] = 0.95 * running.get(k, v) + 0.05 * v
        step += 1
        now = time.time()
        elapsed = now - start
        bar.update((int(elapsed) - bar.n) if cfg.time_budget > 0 else 1)
        bar.set_postfix(step=step, w=f"{running['w_distance']:.3f}", refresh=False)
        if now - last_log >= cfg.log_every:
            log("train")
            last_log = time.time()
        if now - last_ckpt >= cfg.ckpt_every:
            save()
            last_ckpt = time.time()
    bar.close()
    if running:
        log("final")
    save()
    return ckpt_path
