"""Shared fixtures: tiny random models in a temporary weights folder, small images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

FIXTURES = Path(__file__).parent / "fixtures"
TINY_GC = {"width": 4, "blocks": 1, "channels": 2, "levels": 5, "norm": "channel"}


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    torch.set_num_threads(1)  # CI machines have 2 cores; keep tests predictable


def save_tiny_model(model: torch.nn.Module, card: dict, path: Path) -> Path:
    """Write an untrained 2-channel GC/SC model with a skewed prior (as training would learn)
    and its integer tables to PATH/NAME.safetensors, NAME from the card."""
    from gcodec.codec.export import TABLES_KEY, integer_tables
    from gcodec.codec.model_store import save_weights

    with torch.no_grad():
        model.prior.logits.copy_(torch.tensor([[-2.0, 0.0, 2.0, 0.0, -2.0], [-1.0, 1.0, 1.5, 0.5, -1.0]]))
    state = dict(model.state_dict())
    state[TABLES_KEY] = integer_tables(model.prior.logits)
    out = path / f"{card['name']}.safetensors"
    save_weights(state, card, out)
    return out


def make_tiny_gc(path: Path, name: str = "tiny", seed: int = 0) -> Path:
    from gcodec.models.gc import GCConfig, GCModel

    torch.manual_seed(seed)
    card = {"name": name, "kind": "gc", "config": TINY_GC, "validation": {"val_bpp_ideal": 0.01}}
    return save_tiny_model(GCModel(GCConfig.from_dict(TINY_GC)), card, path)


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch) -> Path:
    """A weights folder holding one tiny random GC model named 'tiny', set as GCODEC_WEIGHTS."""
    wdir = tmp_path / "weights"
    make_tiny_gc(wdir)
    monkeypatch.setenv("GCODEC_WEIGHTS", str(wdir))
    return wdir


@pytest.fixture
def photo() -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / "photo_200x168.png").convert("RGB"))


@pytest.fixture
def photo_path() -> Path:
    return FIXTURES / "photo_200x168.png"


TINY_LAYERED = {"width": 8, "blocks": 1, "channels": 2, "levels": 5, "noise": 1}


def make_tiny_layered(path: Path, name: str = "tiny-layered", seed: int = 0, default_realism: float = 0.5,
                      sharpen: bool = False) -> Path:
    """An untrained layered detail model whose texture head draws visible detail (so R matters);
    with `sharpen`, band gains (all zero) and files that carry the encoder's gains."""
    from gcodec.models.detail import DetailConfig, DetailModel

    torch.manual_seed(seed)
    config = {**TINY_LAYERED, "sharpen": sharpen}
    model = DetailModel(DetailConfig.from_dict(config))
    with torch.no_grad():
        model.generator.texture[-1].weight.normal_(0, 0.05)
    card = {"name": name, "kind": "layered", "config": config, "default_realism": default_realism}
    return save_tiny_model(model, card, path)


@pytest.fixture
def layered_weights(tmp_path, monkeypatch) -> Path:
    """A weights folder with a tiny GC model 'tiny' and a tiny layered model 'tiny-layered'."""
    wdir = tmp_path / "weights"
    make_tiny_gc(wdir)
    make_tiny_layered(wdir)
    monkeypatch.setenv("GCODEC_WEIGHTS", str(wdir))
    return wdir


@pytest.fixture
def sample() -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / "sample_481x321.jpg").convert("RGB"))
