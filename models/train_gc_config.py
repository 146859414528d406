"""The GC/SC training run's settings (`gcodec train gc|sc`), the error for a run folder that
cannot be resumed, and the device choice: what the CLI and export read without the loop."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .gc import GCConfig
from .sc import SCConfig


@dataclass
class GCTrainConfig:
    data: str
    out: str
    model: GCConfig | SCConfig = field(default_factory=GCConfig)
    labels: str = ""  # label-map folder: trains an SC model when set
    map_tolerance: int = 0  # SC: train on the maps an SC file with this grid cell decodes to
    steps: int = 100_000  # upper bound; a time budget usually ends the run first
    time_budget: float = 0.0  # seconds of wall time for the whole run (0: none)
    crop: int = 256
    batch: int = 8
    lr: float = 2e-4
    lr_disc: float = 2e-4
    warmup_frac: float = 0.4  # distortion-only share of the run before the GAN starts
    # Learning rate ramps up linearly over this many steps. Adam's first steps move every weight
    # by about lr whatever its gradient: two steps at 2e-4 took gc-c3 from 19.88 to 16.18 dB
    # (validation) when continuing from its weights; at 2e-5 to 19.75.
    lr_warmup: int = 500
    mse_weight: float = 100.0  # on images in [-1, 1]
    msssim_weight: float = 0.0
    gan_weight: float = 1.0
    fm_weight: float = 1.0
    rate_weight: float = 0.0  # pushes the encoder toward probable symbols (bits per pixel)
    # SC: how much of the distortion loss synthesized pixels get (their residual is scaled by this).
    # 1 treats them like coded pixels; lower leaves their texture to the GAN and stops them pulling
    # the shared generator toward the blurry mean at the expense of the coded regions.
    synth_distortion: float = 1.0
    # SC with noise: weight of the mode-seeking term that makes synthesized pixels depend on the noise
    diversity_weight: float = 0.0
    # SC: weight of the texture statistics loss on synthesized pixels (band energies and
    # autocorrelations matched to the original's region; models/texture_loss.py)
    texture_weight: float = 0.0
    disc_base: int = 64
    val_count: int = 24
    val_every: float = 120.0  # seconds
    ckpt_every: float = 120.0  # seconds
    device: str = "auto"
    bf16: bool = False
    threads: int = 0  # torch CPU threads (0: torch's default)
    seed: int = 0
    command: str = ""  # the command line that started the run, for the model card
    # the weights the model started from and their training (from that model's card), if any
    init_from: dict[str, Any] = field(default_factory=dict)

    @property
    def semantic(self) -> bool:
        return isinstance(self.model, SCConfig)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        d["arch"] = "sc" if self.semantic else "gc"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GCTrainConfig":
        d = dict(d)
        arch = d.pop("arch", "gc")
        d["model"] = (SCConfig if arch == "sc" else GCConfig).from_dict(d["model"])
        return cls(**d)


class RunFolderError(ValueError):
    """A run folder's checkpoint this run cannot resume (another model config, older optimizer layout)."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
