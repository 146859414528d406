"""Which torch device a command runs on: `auto` (a GPU when there is one), `cpu`, `cuda` or `cuda:N`."""

from __future__ import annotations

import re

import torch

from ..bitstream.errors import InputError


def pick_device(name: str | None = "auto") -> torch.device:
    if name in ("auto", "", None):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise InputError(f"unknown device {name!r} (auto, cpu, cuda or cuda:N)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA GPU is available")
    return torch.device(name)
