"""Weights files: safetensors tensors plus a JSON model card beside them.

`NAME.safetensors` holds only tensors (never pickle); `NAME.json` holds the
architecture config, training command, data, steps and validation numbers.
The card records the sha256 of the weights file, checked on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..bitstream.errors import InputError


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def card_path(weights_path: str | os.PathLike) -> Path:
    return Path(weights_path).with_suffix(".json")


def save_weights(state: dict[str, torch.Tensor], card: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """Write `path` (.safetensors) and its card (.json) atomically; return the card with sha256 filled in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; weights are meant to be shared
        card = dict(card, sha256=sha256_file(tmp), bytes=os.path.getsize(tmp))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    write_card(path, card)
    return card


def write_card(weights_path: str | os.PathLike, card: dict[str, Any]) -> None:
    """Replace the card of `weights_path` atomically (the weights file is untouched)."""
    tmp_card = card_path(weights_path).with_suffix(".json.tmp")
    tmp_card.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    os.replace(tmp_card, card_path(weights_path))


def load_card(path: str | os.PathLike) -> dict[str, Any]:
    cp = card_path(path)
    try:
        return json.loads(cp.read_text())
    except FileNotFoundError:
        raise InputError(f"model card {cp} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"model card {cp} is not valid JSON: {e}") from None


def load_weights(path: str | os.PathLike, verify: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load tensors and card; with `verify`, refuse a file whose sha256 differs from its card."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {path} not found")
    card = load_card(path)
    if verify and card.get("sha256") and sha256_file(path) != card["sha256"]:
        raise InputError(f"weights file {path} does not match the sha256 in its model card")
    try:
        state = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for malformed headers
        raise InputError(f"weights file {path} is not a valid safetensors file: {e}") from None
    return state, card
