"""Where models come from: the shipped `gcodec.weights` folder, or a path the user gives."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..bitstream.errors import InputError
from .model_store import load_card

DEFAULT_IMAGE_MODEL = "layered-s"  # the layered codec with band gains; "layered" (no gains) and gc-c6 were defaults before


@dataclass(frozen=True)
class ModelRef:
    name: str  # model id written into containers
    path: Path  # the .safetensors file
    card: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.card.get("kind", ""))

    @property
    def digest(self) -> bytes:
        """First 4 bytes of the weights file's sha256, stored in every container it writes."""
        sha = self.card.get("sha256")
        if not sha:
            h = hashlib.sha256(self.path.read_bytes()).hexdigest()
            sha = h
        return bytes.fromhex(sha)[:4]


def weights_dir() -> Path:
    env = os.environ.get("GCODEC_WEIGHTS")
    if env:
        return Path(env)
    return Path(str(resources.files("gcodec.weights")))


def shipped_models(kind: str | None = None) -> list[ModelRef]:
    """Every model in the weights folder (optionally of one kind), sorted by name."""
    refs = []
    for p in sorted(weights_dir().glob("*.safetensors")):
        card = load_card(p)
        if kind is None or card.get("kind") == kind:
            refs.append(ModelRef(card.get("name", p.stem), p, card))
    return refs


def resolve_model(name_or_path: str, kind: str | None = None) -> ModelRef:
    """A shipped model by name, or a .safetensors file (with its .json card) by path."""
    p = Path(name_or_path)
    if p.suffix == ".safetensors" or os.sep in name_or_path:
        if not p.is_file():
            raise InputError(f"model file {p} not found")
        card = load_card(p)
        ref = ModelRef(card.get("name", p.stem), p, card)
    else:
        matches = [m for m in shipped_models() if m.name == name_or_path]
        if not matches:
            names = ", ".join(m.name for m in shipped_models(kind)) or "none installed"
            raise InputError(f"unknown model {name_or_path!r} (available: {names})")
        ref = matches[0]
    if kind is not None and ref.kind != kind:
        raise InputError(f"model {ref.name!r} is a {ref.kind or 'unknown'} model, not a {kind} model")
    return ref
