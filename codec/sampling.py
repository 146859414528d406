"""Images from codes no photo produced (Agustsson et al., ICCV 2019, Figs. 5, 20, 21).

A GC model's generator decodes any symbol grid. Three sources of grids:
  uniform  every symbol drawn uniformly over the L centers;
  prior    drawn from the model's own entropy model: its context model (sampled exactly, in
           decode order: channel by channel, 2x2-grid phase by phase) when the model carries
           context tables, else its per-channel marginal tables;
  codegan  the argmax of a WGAN-GP generator trained on the model's codes of photos
           (models/codegan.py), shipped beside it as `<model>-codegan`.
Sample i of seed S always comes from the same random stream (S, i), so a seed fixes the images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm import tqdm

from ..bitstream import context_model
from ..bitstream.errors import InputError
from ..models.codegan import CodeGANConfig, CodeGenerator
from ..models.gc import MIN_SIDE, STRIDE
from ..models.image_bank import split_train_val
from .context_tables import load_photo
from .gc_codec import LoadedGC, decode_symbols, encode_symbols, pad_to_multiple, to_tensor, to_uint8
from .model_store import load_weights, save_weights
from .registry import ModelRef, shipped_models

SOURCES = ("uniform", "prior", "codegan")
CODEGAN_KIND = "codegan"


def check_size(width: int, height: int) -> None:
    """InputError unless both sides are multiples of 16 and at least 32 (a latent grid of >= 2 x 2)."""
    for name, v in (("width", width), ("height", height)):
        if v < MIN_SIDE or v % STRIDE:
            raise InputError(f"sample {name} must be a multiple of {STRIDE} and at least {MIN_SIDE}, got {v}")


def find_codegan(gc_ref: ModelRef) -> ModelRef:
    """The shipped code GAN trained on `gc_ref`'s codes; InputError if there is none."""
    for ref in shipped_models(CODEGAN_KIND):
        if ref.card.get("gc_model", {}).get("name") == gc_ref.name:
            return ref
    raise InputError(f"model {gc_ref.name!r} has no code GAN (none of the shipped codegan models was trained on "
                     f"its codes); use --source uniform or prior")


def load_codegan(ref: ModelRef, gc: LoadedGC) -> CodeGenerator:
    """The generator of a code GAN weights file, checked to match the GC model's C and L."""
    state, card = load_weights(ref.path)
    try:
        cfg = CodeGANConfig.from_dict(card["config"])
        g = CodeGenerator(cfg)
        g.load_state_dict({k: v.float() for k, v in state.items()})
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise InputError(f"{ref.path} is not a valid code GAN: {str(e).splitlines()[0]}") from None
    if (cfg.channels, cfg.levels) != (gc.cfg.channels, gc.cfg.levels):
        raise InputError(f"code GAN {ref.name} makes C={cfg.channels}, L={cfg.levels} codes; "
                         f"{gc.ref.name} has C={gc.cfg.channels}, L={gc.cfg.levels}")
    return g.eval()


@dataclass
class Sampler:
    gc: LoadedGC
    source: str
    codegan: CodeGenerator | None = None

    def codes(self, h: int, w: int, seed: int, index: int) -> np.ndarray:
        """int64 symbols (C, h, w) of sample `index` under `seed`."""
        C, L = self.gc.cfg.channels, self.gc.cfg.levels
        if self.source == "codegan":
            assert self.codegan is not None
            g = torch.Generator().manual_seed(seed * 1_000_003 + index)
            return self.codegan.symbols(self.codegan.noise(1, h, w, g), h, w)[0].numpy()
        rng = np.random.default_rng([seed, index])
        if self.source == "uniform":
            return rng.integers(0, L, size=(C, h, w))
        if self.gc.context_tables is not None:
            return context_model.sample(self.gc.context_tables, (C, h, w), rng)
        cdf = np.cumsum(self.gc.tables, axis=1)  # marginal tables: channel c's row for every cell
        u = rng.integers(0, int(cdf[0, -1]), size=(C, h * w))
        return (u[:, :, None] >= cdf[:, None, :]).sum(-1).reshape(C, h, w)

    @torch.inference_mode()
    def image(self, codes: np.ndarray) -> np.ndarray:
        """RGB uint8 (16h, 16w, 3) the GC generator decodes from `codes`."""
        x = decode_symbols(self.gc, torch.from_numpy(codes).unsqueeze(0).to(self.gc.device))
        return to_uint8(x, x.shape[-2], x.shape[-1])


def make_sampler(gc: LoadedGC, source: str) -> Sampler:
    if source not in SOURCES:
        raise InputError(f"unknown source {source!r} (choose from {', '.join(SOURCES)})")
    return Sampler(gc, source, load_codegan(find_codegan(gc.ref), gc) if source == "codegan" else None)


def samples(sampler: Sampler, n: int, width: int, height: int, seed: int) -> Iterator[np.ndarray]:
    """n RGB uint8 images (height, width, 3)."""
    if n < 1:
        raise InputError(f"the number of samples must be at least 1, got {n}")
    check_size(width, height)
    for i in range(n):
        yield sampler.image(sampler.codes(height // STRIDE, width // STRIDE, seed, i))


def cache_codes(gc: LoadedGC, files: list[Path], out: Path, max_side: int, val_count: int,
                progress: bool = True) -> tuple[int, int]:
    """Encode every photo (long side shrunk to `max_side`) and write the symbol grids to `out`
    (safetensors, uint8 (C, h, w) per photo, `train.NNNN` / `val.NNNN`: `val_count` photos held
    out by name hash, as `gcodec train gc` holds them out). Returns (train, val) counts."""
    train_files, val_files = split_train_val(files, min(val_count, len(files) - 1))
    tensors = {}
    for split, group in (("train", train_files), ("val", val_files)):
        for i, f in enumerate(tqdm(group, desc=f"encode {split} codes", disable=not progress)):
            x = pad_to_multiple(to_tensor(load_photo(f, max_side), gc.device))
            tensors[f"{split}.{i:04d}"] = encode_symbols(gc, x)[0].to(torch.uint8).cpu()
    save_weights(tensors, {"gc_model": gc.ref.name, "files": [f.name for f in train_files + val_files]}, out)
    return len(train_files), len(val_files)
