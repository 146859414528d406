"""Semantic segmentation with a trained SegNet weights file: label maps, colours, evaluation."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..bitstream.errors import InputError, UnsupportedError
from ..models.seg_metrics import ConfusionMeter, format_table, metrics_from_confusion
from ..models.segnet import SegNet, SegNetConfig, predict_logits
from ..models.train_seg_data import (
    CAMVID_CLASSES, CITYSCAPES_CLASSES, IGNORE, label_lut, load_pair, split_pairs,
)
from .model_store import load_weights

__all__ = [
    "CAMVID_CLASSES", "CAMVID_PALETTE", "CITYSCAPES_CLASSES", "CITYSCAPES_PALETTE", "IGNORE",
    "load_segmenter", "segment", "colorize", "overlay", "palette_for", "evaluate_segmenter",
]

# SegNet / CamVid colours, in class-id order
CAMVID_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)
# the official Cityscapes train-id colours
CITYSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)


def palette_for(dataset: str) -> tuple[tuple[int, int, int], ...]:
    if dataset == "camvid":
        return CAMVID_PALETTE
    if dataset == "cityscapes":
        return CITYSCAPES_PALETTE
    raise InputError(f"unknown dataset {dataset!r} (expected camvid or cityscapes)")


def load_segmenter(weights_path: str | os.PathLike, device: str | torch.device = "cpu") -> SegNet:
    """A SegNet in eval mode from a safetensors file and its card; the card is kept as `model.card`."""
    state, card = load_weights(weights_path)
    if card.get("kind") != "segmentation" or card.get("architecture") != "gcodec.models.segnet.SegNet":
        raise UnsupportedError(f"{weights_path} is not a gcodec segmentation model (card kind {card.get('kind')!r})")
    try:
        cfg = SegNetConfig.from_dict(card["config"])
        model = SegNet(cfg)
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise InputError(f"{weights_path} does not match its model card: {str(e).splitlines()[0]}") from None
    model.card = card  # type: ignore[attr-defined]
    return model.to(device).eval()


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError("segment expects a uint8 numpy image")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, 2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"segment expects an HxWx3 image, got shape {image.shape}")
    return image[:, :, :3]


@torch.no_grad()
def segment(model: SegNet, image: np.ndarray) -> np.ndarray:
    """Class ids (H, W) uint8 for an RGB uint8 image of any size (padded to the stride inside)."""
    rgb = _as_rgb(image)
    dev = next(model.parameters()).device
    x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).to(dev).permute(2, 0, 1)[None].float() / 255.0
    was_training = model.training
    model.eval()
    logits = predict_logits(model, x)
    model.train(was_training)
    return logits[0].argmax(0).to(torch.uint8).cpu().numpy()


def _lut_rgb(palette: tuple[tuple[int, int, int], ...] | np.ndarray) -> np.ndarray:
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(pal) > 255:
        raise InputError("a palette has at most 255 colours (255 is void)")
    lut = np.zeros((256, 3), dtype=np.uint8)  # ids without a colour (void 255) are black
    lut[: len(pal)] = pal
    return lut


def colorize(labels: np.ndarray, palette: tuple[tuple[int, int, int], ...] | np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 RGB; void and unknown ids are black."""
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels must be an HxW integer array, got {lab.dtype} {lab.shape}")
    return _lut_rgb(palette)[np.clip(lab, 0, 255).astype(np.uint8)]


def overlay(
    image: np.ndarray, labels: np.ndarray, palette: tuple[tuple[int, int, int], ...] | np.ndarray,
    alpha: float = 0.5,
) -> np.ndarray:
    """Blend the colourised labels over the image (void pixels keep the image)."""
    rgb = _as_rgb(image)
    if rgb.shape[:2] != np.asarray(labels).shape:
        raise InputError(f"image {rgb.shape[:2]} and labels {np.asarray(labels).shape} differ in size")
    col = colorize(labels, palette).astype(np.float32)
    out = rgb.astype(np.float32)
    n_colours = len(np.asarray(palette).reshape(-1, 3))
    known = (np.asarray(labels) < n_colours)[:, :, None]
    blended = np.where(known, (1 - alpha) * out + alpha * col, out)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def evaluate_segmenter(
    model: SegNet, data_dir: str | os.PathLike, dataset: str | None = None, val_fraction: float = 0.0,
    progress: bool = True,
) -> dict[str, Any]:
    """Dataset-level metrics (aAcc, mIoU, mAcc, per-class IoU/Acc, `table`) on the validation split,
    one image at a time at full resolution. `dataset` defaults to the model card's."""
    card = getattr(model, "card", {})
    dataset = dataset or card.get("dataset")
    if dataset not in ("camvid", "cityscapes"):
        raise InputError(f"unknown dataset {dataset!r} (expected camvid or cityscapes)")
    names = CAMVID_CLASSES if dataset == "camvid" else CITYSCAPES_CLASSES
    if model.cfg.num_classes != len(names):
        raise InputError(f"model predicts {model.cfg.num_classes} classes but {dataset} has {len(names)}")
    _, val = split_pairs(data_dir, dataset, val_fraction)
    lut = label_lut(dataset)
    meter = ConfusionMeter(len(names), IGNORE)
    for pair in tqdm(val, desc="eval-seg", unit="img", disable=not progress or None):
        img, lab = load_pair(pair, lut)
        meter.update(torch.from_numpy(segment(model, img)), torch.from_numpy(lab))
    met = metrics_from_confusion(meter.matrix(), names)
    met.update(dataset=dataset, n_images=len(val), table=format_table(met))
    return met
