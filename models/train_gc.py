"""Training loop for GC and SC models: distortion warm-up, then LSGAN + feature matching.

An SC (semantic) run pairs every image with a label map (`labels` folder, same
stem, .png) and trains with random synthesis heatmaps, the discriminator seeing
the label map too.

Runs unchanged on a CPU, one GPU, or several under torchrun (DistributedDataParallel).
All state lives in a run folder: `checkpoint.pt` (resumed automatically),
`log.jsonl` (one line per validation) and `config.json`. A new run can start from
a shipped model's weights (`init_state`), so training accumulates across GPU
windows; the discriminator and optimizers then start fresh.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from pytorch_msssim import ms_ssim
from tqdm import tqdm

from .discriminator import MultiScaleDiscriminator
from .gan_losses import feature_matching_loss, lsgan_d_loss, lsgan_g_loss, mode_seeking_loss
from .gc import GCModel
from .image_bank import ImageBank, list_images, load_label, load_uint8, pair_labels, split_train_val
from .sc import SCModel, heat_at, one_hot, random_heatmaps, synthesis_noise
from .texture_loss import texture_stats_loss
from .train_gc_config import GCTrainConfig, RunFolderError, resolve_device


def _unwrap(m: torch.nn.Module) -> torch.nn.Module:
    return m.module if hasattr(m, "module") else m


class _Run:
    """Everything one training process holds; rank 0 writes files."""

    def __init__(self, cfg: GCTrainConfig, init_state: dict[str, torch.Tensor] | None = None) -> None:
        self.cfg = cfg
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if self.distributed:
            rank = int(os.environ["LOCAL_RANK"])
            if torch.cuda.is_available():
                torch.cuda.set_device(rank)
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self.device = torch.device(f"cuda:{rank}") if torch.cuda.is_available() else torch.device("cpu")
            self.rank = dist.get_rank()
        else:
            self.device = resolve_device(cfg.device)
            self.rank = 0
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.out = Path(cfg.out)
        self.main = self.rank == 0
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)

        if cfg.semantic != bool(cfg.labels):
            raise ValueError("an SC model needs --labels, and --labels needs an SC model")
        self.resume_state = self._load_checkpoint()  # before the images: a wrong folder fails fast
        train_files, val_files = split_train_val(list_images(cfg.data), cfg.val_count)
        train_labels = pair_labels(train_files, cfg.labels) if cfg.semantic else None
        self.bank = ImageBank(train_files, self.device, cfg.crop, progress=self.main, label_files=train_labels,
                              map_tolerance=cfg.map_tolerance)
        self.val_images = [self._val_crop(load_uint8(f)) for f in val_files]
        if cfg.semantic:
            self.val_labels = [self._val_crop(load_label(p, cfg.map_tolerance))[0]
                               for p in pair_labels(val_files, cfg.labels)]
        self.gen = torch.Generator().manual_seed(cfg.seed * 1000 + self.rank)

        torch.manual_seed(cfg.seed)
        if cfg.semantic:
            self.model = SCModel(cfg.model).to(self.device)
            disc_in = 3 + cfg.model.classes
        else:
            self.model = GCModel(cfg.model).to(self.device)
            disc_in = 3
        self.disc = MultiScaleDiscriminator(in_ch=disc_in, base=cfg.disc_base).to(self.device)
        # the prior's logits only track symbol frequencies: let them move fast; so may the
        # up-sampling noise scales, which start small (NOISE_UP_INIT) and may need to reach ~1
        fast = {"prior.": 50.0, "noise_scales.": 100.0}
        trained = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        groups = [{"params": [p for n, p in trained if not n.startswith(tuple(fast))], "base_lr": cfg.lr}]
        for prefix, factor in fast.items():
            params = [p for n, p in trained if n.startswith(prefix)]
            if params:
                groups.append({"params": params, "base_lr": cfg.lr * factor})
        self.opt_g = torch.optim.Adam(groups, lr=cfg.lr)
        self.opt_d = torch.optim.Adam(
            [{"params": self.disc.parameters(), "base_lr": cfg.lr_disc}], lr=cfg.lr_disc, betas=(0.5, 0.999)
        )
        self.step = 0
        self.elapsed = 0.0
        if init_state is not None and self.resume_state is None:
            self.model.load_state_dict({k: v.float() for k, v in init_state.items()})
        self._resume()
        if self.distributed:
            ddp = torch.nn.parallel.DistributedDataParallel
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = ddp(self.model, device_ids=ids)
            self.disc = ddp(self.disc, device_ids=ids)

    @staticmethod
    def _val_crop(img: torch.Tensor, side: int = 384) -> torch.Tensor:
        h, w = img.shape[1:]
        ch, cw = min(h, side) // 16 * 16, min(w, side) // 16 * 16
        y, x = (h - ch) // 2, (w - cw) // 2
        return img[:, y : y + ch, x : x + cw]

    # --- checkpoints -------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def _load_checkpoint(self) -> dict[str, Any] | None:
        """The run folder's checkpoint (None if there is none), checked to be this model's."""
        if not self.ckpt_path.exists():
            return None
        state = torch.load(self.ckpt_path, map_location=self.device, weights_only=True)
        if state["config"]["model"] != self.cfg.model.to_dict() or state["config"].get("arch") != self.cfg.to_dict()["arch"]:
            raise RunFolderError(f"{self.ckpt_path} was trained with another model config; use a new run folder")
        return state

    def _resume(self) -> None:
        state, self.resume_state = self.resume_state, None
        if state is None:
            return
        self.model.load_state_dict(state["model"])
        self.disc.load_state_dict(state["disc"])
        try:
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
        except ValueError:  # e.g. parameter groups an older gcodec split differently
            raise RunFolderError(f"{self.ckpt_path} holds optimizer state this gcodec cannot resume; "
                             "use a new run folder") from None
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        self.gen.manual_seed(self.cfg.seed * 1000 + self.rank + self.step)

    def save(self) -> None:
        if not self.main:
            return
        state = {
            "model": _unwrap(self.model).state_dict(),
            "disc": _unwrap(self.disc).state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "config": self.cfg.to_dict(),
        }
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt_path)

    # --- schedule ----------------------------------------------------------------
    def progress(self) -> float:
        p = self.step / self.cfg.steps
        if self.cfg.time_budget > 0:
            p = max(p, self.elapsed / self.cfg.time_budget)
        return min(p, 1.0)

    def set_lr(self) -> None:
        # linear warm-up, then cosine decay to 10% over the whole run
        scale = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * self.progress()))
        if self.step < self.cfg.lr_warmup:
            scale *= (self.step + 1) / (self.cfg.lr_warmup + 1)
        for opt in (self.opt_g, self.opt_d):
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * scale

    # --- one step ----------------------------------------------------------------
    def _disc_input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return x if labels is None else torch.cat([x, one_hot(labels, self.cfg.model.classes)], 1)

    def train_step(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        cfg = self.cfg
        gan_on = self.progress() >= cfg.warmup_frac and cfg.gan_weight > 0
        prior = _unwrap(self.model).prior
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            if labels is None:
                out = self.model(x)
            else:
                heat = random_heatmaps(labels, cfg.model.classes, self.gen)
                noise = synthesis_noise(heat, cfg.model, self.gen)
                other = synthesis_noise(heat, cfg.model, self.gen) if cfg.diversity_weight > 0 else None
                out = self.model(x, labels, heat, noise, other)
            x_hat = out["x_hat"].float()
            x_dist = x_hat if labels is None else distortion_target(x_hat, x, out["heat"], cfg.synth_distortion)
            pixels = x.shape[0] * x.shape[2] * x.shape[3]
            sym_bits = prior.bits(out["symbols"])
            if labels is not None:  # synthesized positions are not coded
                sym_bits = sym_bits * out["heat"]
            prior_bits = sym_bits.sum() / pixels
            mse = F.mse_loss(x_dist, x)
            loss = cfg.mse_weight * mse + prior_bits
            logs = {"mse": mse.item(), "bpp": prior_bits.item()}
            if cfg.rate_weight > 0:
                loss = loss + cfg.rate_weight * prior.soft_bits(out["soft_assign"]).sum() / pixels
            if cfg.msssim_weight > 0:
                with torch.autocast(self.device.type, enabled=False):  # its Gaussian filters need fp32
                    m = ms_ssim((x_dist + 1) / 2, (x + 1) / 2, data_range=1.0)
                loss = loss + cfg.msssim_weight * (1 - m)
                logs["msssim"] = m.item()
            if labels is not None:
                synthesized = 1 - heat_at(out["heat"], x.shape[-1] // out["heat"].shape[-1])
                if cfg.texture_weight > 0:
                    tex = texture_stats_loss(x_hat, x, one_hot(labels, cfg.model.classes) * synthesized)
                    loss = loss + cfg.texture_weight * tex
                    logs["tex"] = tex.item()
            if "x_hat_other" in out:
                div = mode_seeking_loss(x_hat, out["x_hat_other"], synthesized)
                loss = loss + cfg.diversity_weight * div
                logs["div"] = div.item()
            if gan_on:
                fake = self.disc(self._disc_input(x_hat, labels))
                with torch.no_grad():
                    real = self.disc(self._disc_input(x, labels))
                g_adv = lsgan_g_loss(fake)
                fm = feature_matching_loss(real, fake)
                loss = loss + cfg.gan_weight * g_adv + cfg.fm_weight * fm
                logs.update(g_adv=g_adv.item(), fm=fm.item())
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if gan_on:
            logs["d"] = self._disc_step(x, x_hat, labels)
        logs["loss"] = loss.item()
        return logs

    def _disc_step(self, x: torch.Tensor, x_hat: torch.Tensor, labels: torch.Tensor | None) -> float:
        """One LSGAN update of the discriminator on real x against the decode x_hat; its loss."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
            # one forward over real and fake together: DDP allows one forward per backward
            both = self.disc(torch.cat([self._disc_input(x, labels), self._disc_input(x_hat.detach(), labels)]))
            n = x.shape[0]
            d_loss = lsgan_d_loss([[t[:n] for t in s] for s in both], [[t[n:] for t in s] for s in both])
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return d_loss.item()

    # --- validation --------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        model = _unwrap(self.model)
        model.eval()
        psnrs, msssims, textures, bits, pixels = [], [], [], 0.0, 0
        for i, img in enumerate(self.val_images):
            x = img.to(self.device).float().unsqueeze(0) / 127.5 - 1
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
                if self.cfg.semantic:  # measured without synthesis: every latent coded
                    lab = self.val_labels[i].to(self.device).long().unsqueeze(0)
                    out = model(x, lab, torch.ones(1, 1, x.shape[2] // 16, x.shape[3] // 16, device=self.device))
                else:
                    out = model(x)
            rec = ((out["x_hat"].float().clamp(-1, 1) + 1) * 127.5).round()
            ref = img.to(self.device).float().unsqueeze(0)
            psnrs.append(10 * math.log10(255**2 / F.mse_loss(rec, ref).item()))
            msssims.append(ms_ssim(rec, ref, data_range=255).item())
            bits += model.prior.bits(out["symbols"]).sum().item()
            pixels += img.shape[1] * img.shape[2]
            if self.cfg.semantic and self.cfg.texture_weight > 0:
                textures.append(self._val_texture(model, x, lab))
        model.train()
        n = len(self.val_images)
        record = {"val_psnr": sum(psnrs) / n, "val_msssim": sum(msssims) / n, "val_bpp_ideal": bits / pixels}
        if textures:
            record["val_texture"] = sum(textures) / n
        return record

    def _val_texture(self, model: SCModel, x: torch.Tensor, labels: torch.Tensor) -> float:
        """Texture statistics loss, class by class, of the image decoded with every cell
        synthesized (the decoder's fixed noise fields)."""
        heat = torch.zeros(1, 1, x.shape[2] // 16, x.shape[3] // 16, device=self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
            x_hat = model(x, labels, heat)["x_hat"].float()
        return texture_stats_loss(x_hat, x, one_hot(labels, model.cfg.classes)).item()

    def log(self, record: dict[str, Any]) -> None:
        if self.main:
            with open(self.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")


def distortion_target(x_hat: torch.Tensor, x: torch.Tensor, heat: torch.Tensor, synth_weight: float) -> torch.Tensor:
    """What the distortion losses compare with x: x_hat on coded pixels, and on synthesized ones
    x + synth_weight * (x_hat - x), so their residual (and its gradient) is scaled by synth_weight."""
    if synth_weight == 1.0:
        return x_hat
    coded = heat_at(heat, x.shape[-1] // heat.shape[-1])
    scale = coded + synth_weight * (1 - coded)
    return x + scale * (x_hat - x)


def train(cfg: GCTrainConfig, progress: bool = True, init_state: dict[str, torch.Tensor] | None = None) -> Path:
    """Train (or resume) in `cfg.out`; returns the checkpoint path.

    init_state: model weights to start from (e.g. a shipped model's); ignored when
    the run folder already holds a checkpoint, which is resumed instead.
    """
    run = _Run(cfg, init_state)
    if run.main:
        (run.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    start = time.time() - run.elapsed
    last_val = last_ckpt = time.time()
    total = int(cfg.time_budget) if cfg.time_budget > 0 else cfg.steps
    bar = tqdm(total=total, initial=min(int(run.elapsed) if cfg.time_budget > 0 else run.step, total),
               disable=not (progress and run.main), unit="s" if cfg.time_budget > 0 else "step", desc="train gc",
               mininterval=1.0 if sys.stderr.isatty() else 60.0)
    running: dict[str, float] = {}
    while run.progress() < 1.0:
        run.set_lr()
        batch = run.bank.batch(cfg.batch, cfg.crop, run.gen)
        logs = run.train_step(*batch) if cfg.semantic else run.train_step(batch)
        for k, v in logs.items():
            running[k] = 0.95 * running.get(k, v) + 0.05 * v
        run.step += 1
        now = time.time()
        run.elapsed = now - start
        bar.update((int(run.elapsed) - bar.n) if cfg.time_budget > 0 else 1)
        bar.set_postfix(step=run.step, psnr=f"{10 * math.log10(4 / max(running['mse'], 1e-10)):.2f}",
                        bpp=f"{running['bpp']:.4f}", refresh=False)
        if now - last_val >= cfg.val_every:
            phase = "gan" if "d" in logs else "distortion"
            rec = {"step": run.step, "elapsed": round(run.elapsed, 1), "phase": phase}
            rec.update({k: round(v, 5) for k, v in running.items()})
            rec.update(run.validate())
            run.log(rec)
            last_val = time.time()
        if now - last_ckpt >= cfg.ckpt_every:
            run.save()
            last_ckpt = time.time()
    bar.close()
    final = {"step": run.step, "elapsed": round(run.elapsed, 1), "phase": "final"}
    final.update({k: round(v, 5) for k, v in running.items()})
    final.update(run.validate())
    run.log(final)
    run.save()
    if run.distributed:
        dist.destroy_process_group()
    return run.ckpt_path
