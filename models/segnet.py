"""A compact encoder-decoder for real-time semantic segmentation, trained from scratch.

ResNet-style basic-block encoder down to 1/32, a pyramid pooling module for
global context, and an FPN-style top-down decoder with skips at 1/16, 1/8 and
1/4 (no pretrained backbone needed: plain 3x3 convs with BN train quickly from
random init). Two auxiliary heads (1/8, 1/16) give deep supervision while
training and are skipped in eval mode. Input is RGB float in [0, 1]; the
normalisation lives inside the model so a weights file is self-contained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass
class SegNetConfig:
    num_classes: int = 11
    stem: int = 32
    widths: tuple[int, ...] = (64, 128, 256, 256)  # stages at 1/4, 1/8, 1/16, 1/32
    depths: tuple[int, ...] = (2, 2, 2, 2)
    decoder: int = 96
    ppm_bins: tuple[int, ...] = (1, 2, 4)
    aux: bool = True
    dropout: float = 0.1

    @property
    def stride(self) -> int:
        return 32

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown SegNetConfig keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        # zero-init the last BN so each block starts as identity: stabler from scratch
        nn.init.zeros_(self.bn2.weight)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.AvgPool2d(stride, stride, ceil_mode=True) if stride > 1 else nn.Identity(),
                nn.Conv2d(cin, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.short(x), inplace=True)


class PPM(nn.Module):
    """Pyramid pooling: pooled context at a few grid sizes, fused with the input."""

    def __init__(self, cin: int, cout: int, bins: tuple[int, ...]) -> None:
        super().__init__()
        mid = cin // 4
        self.bins = bins
        self.branches = nn.ModuleList([conv_bn(cin, mid, 1) for _ in bins])
        self.fuse = conv_bn(cin + mid * len(bins), cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        outs = [x]
        for b, branch in zip(self.bins, self.branches):
            y = branch(F.adaptive_avg_pool2d(x, b))
            outs.append(F.interpolate(y, size=size, mode="bilinear", align_corners=False))
        return self.fuse(torch.cat(outs, 1))


class Head(nn.Module):
    def __init__(self, cin: int, mid: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.conv = conv_bn(cin, mid, 3)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.cls = nn.Conv2d(mid, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls(self.drop(self.conv(x)))


class SegNet(nn.Module):
    def __init__(self, cfg: SegNetConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or SegNetConfig()
        if len(cfg.widths) != 4 or len(cfg.depths) != 4:
            raise ValueError("SegNetConfig needs 4 widths and 4 depths")
        self.cfg = cfg
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        s = cfg.stem
        self.stem = nn.Sequential(conv_bn(3, s, 3, 2), conv_bn(s, s, 3), conv_bn(s, cfg.widths[0], 3, 2))
        stages = []
        cin = cfg.widths[0]
        for i, (w, d) in enumerate(zip(cfg.widths, cfg.depths)):
            blocks = [BasicBlock(cin, w, 1 if i == 0 else 2)]
            blocks += [BasicBlock(w, w) for _ in range(d - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = w
        self.stages = nn.ModuleList(stages)
        D = cfg.decoder
        self.ppm = PPM(cfg.widths[3], D, cfg.ppm_bins)
        self.lateral = nn.ModuleList([conv_bn(w, D, 1) for w in cfg.widths[:3]])
        self.smooth = nn.ModuleList([conv_bn(D, D, 3) for _ in range(3)])
        self.head = Head(D, D, cfg.num_classes, cfg.dropout)
        if cfg.aux:
            self.aux8 = Head(cfg.widths[1], 64, cfg.num_classes, cfg.dropout)
            self.aux16 = Head(cfg.widths[2], 64, cfg.num_classes, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """x: (B, 3, H, W) RGB in [0, 1]. Returns logits (B, C, H, W); in training mode with aux
        heads, returns (logits, [aux logits at 1/8, 1/16 upsampled to H, W])."""
        size = x.shape[-2:]
        x = (x - self.mean) / self.std
        feats = []
        y = self.stem(x)
        for stage in self.stages:
            y = stage(y)
            feats.append(y)
        p = self.ppm(feats[3])
        for i in (2, 1, 0):
            lat = self.lateral[i](feats[i])
            p = F.interpolate(p, size=lat.shape[-2:], mode="bilinear", align_corners=False) + lat
            p = self.smooth[i](p)
        out = F.interpolate(self.head(p), size=size, mode="bilinear", align_corners=False)
        if self.training and self.cfg.aux:
            aux = [
                F.interpolate(h(f), size=size, mode="bilinear", align_corners=False)
                for h, f in ((self.aux8, feats[1]), (self.aux16, feats[2]))
            ]
            return out, aux
        return out


def pad_to_stride(x: torch.Tensor, stride: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (B, C, H, W) on the bottom/right to a multiple of `stride`; returns padded, (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % stride, (-w) % stride
    if ph or pw:
        # reflect needs pad < size; replicate covers tiny inputs
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


@torch.no_grad()
def predict_logits(model: SegNet, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode logits for any input size: pad to the network stride, crop back."""
    xp, (h, w) = pad_to_stride(x, model.cfg.stride)
    out = model(xp)
    if isinstance(out, tuple):
        out = out[0]
    return out[..., :h, :w]
