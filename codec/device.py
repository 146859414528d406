"""Which torch device a command runs on: `auto` (a GPU when there is one), `cpu`, `cuda` or `cuda:N`,
and how many image tiles (models/tiling.py) it runs at once."""

from __future__ import annotations

import re

import torch

from ..bitstream.errors import InputError

# Tiles per network call: a GPU gains from batches (its memory is not the process's RSS); a CPU
# gains nothing from them and would only hold more activations, so it runs tiles one at a time.
CUDA_TILE_BATCH = 4


def pick_device(name: str | None = "auto") -> torch.device:
    if name in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise InputError(f"unknown device {name!r} (auto, cpu, cuda or cuda:N)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA GPU is available")
    return torch.device(name)


def tile_batch(device: torch.device) -> int:
    """Tiles that go through a network at once on `device`."""
    return CUDA_TILE_BATCH if device.type == "cuda" else 1
