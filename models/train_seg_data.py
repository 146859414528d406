"""Segmentation datasets decoded once into uint8 tensors, and batched on-device augmentation.

Layouts: CamVid `<root>/<split>/images/*.jpg` + `<root>/<split>/labels/*.png` (class ids,
11 = void); Cityscapes `<root>/leftImg8bit/<city>/*_leftImg8bit.*` +
`<root>/gtFine/<city>/*_gtFine_labelIds.png` (labelIds mapped to the 19 train ids).
Void becomes 255 everywhere.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..bitstream.errors import InputError

IGNORE = 255

CAMVID_CLASSES = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree",
    "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)
CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)
# Cityscapes labelId -> trainId (the standard table; everything else void)
_CS_ID_TO_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                   24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}


def label_lut(dataset: str) -> np.ndarray:
    lut = np.full(256, IGNORE, dtype=np.uint8)
    if dataset == "camvid":
        lut[: len(CAMVID_CLASSES)] = np.arange(len(CAMVID_CLASSES))
    elif dataset == "cityscapes":
        for k, v in _CS_ID_TO_TRAIN.items():
            lut[k] = v
    else:
        raise InputError(f"unknown dataset {dataset!r} (expected camvid or cityscapes)")
    return lut


def class_names(dataset: str) -> tuple[str, ...]:
    if dataset == "camvid":
        return CAMVID_CLASSES
    if dataset == "cityscapes":
        return CITYSCAPES_CLASSES
    raise InputError(f"unknown dataset {dataset!r} (expected camvid or cityscapes)")


def list_pairs(root: str | Path, dataset: str, split: str) -> list[tuple[Path, Path]]:
    """(image, label) paths of one split, sorted. Cityscapes `split` may be 'all' (every city
    under leftImg8bit/ directly) or a split folder (leftImg8bit/<split>/<city>)."""
    root = Path(root)
    pairs: list[tuple[Path, Path]] = []
    if dataset == "camvid":
        for img in sorted((root / split / "images").glob("*")):
            lab = root / split / "labels" / (img.stem + ".png")
            if lab.is_file():
                pairs.append((img, lab))
    elif dataset == "cityscapes":
        img_root = root / "leftImg8bit" if split == "all" else root / "leftImg8bit" / split
        lab_root = root / "gtFine" if split == "all" else root / "gtFine" / split
        for img in sorted(img_root.glob("*/*_leftImg8bit.*")):
            stem = img.name.split("_leftImg8bit")[0]
            lab = lab_root / img.parent.name / f"{stem}_gtFine_labelIds.png"
            if lab.is_file():
                pairs.append((img, lab))
    else:
        raise InputError(f"unknown dataset {dataset!r} (expected camvid or cityscapes)")
    return pairs


def load_pair(pair: tuple[Path, Path], lut: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One decoded pair: image (H, W, 3) uint8 and label (H, W) uint8 mapped through `lut`."""
    img = Image.open(pair[0]).convert("RGB")
    lab = Image.open(pair[1])
    if lab.mode not in ("L", "P"):
        raise InputError(f"label {pair[1]} is not an 8-bit class-id image (mode {lab.mode})")
    if img.size != lab.size:
        raise InputError(f"image {pair[0]} and label {pair[1]} differ in size")
    if scale != 1.0:
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.BILINEAR)
        lab = lab.resize(size, Image.NEAREST)
    return np.asarray(img), lut[np.asarray(lab)]


def load_pairs(
    pairs: list[tuple[Path, Path]], dataset: str, scale: float = 1.0, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode all pairs: images (N, 3, H, W) uint8, labels (N, H, W) uint8 with void = 255."""
    if not pairs:
        raise InputError("no image/label pairs found")
    lut = label_lut(dataset)
    with ThreadPoolExecutor(4) as ex:
        loaded = list(ex.map(lambda p: load_pair(p, lut, scale), pairs))
    shapes = {im.shape for im, _ in loaded}
    if len(shapes) != 1:
        raise InputError(f"images of one split must share a size, got {sorted(shapes)[:3]}")
    imgs = torch.from_numpy(np.stack([im for im, _ in loaded])).permute(0, 3, 1, 2).contiguous()
    labs = torch.from_numpy(np.stack([lb for _, lb in loaded]))
    return imgs.to(device), labs.to(device)


def split_pairs(
    root: str | Path, dataset: str, val_fraction: float = 0.0
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]:
    """(train pairs, val pairs). Uses the dataset's own train/val split when present; otherwise
    (or when val_fraction > 0) holds out the last `val_fraction` of the sorted frames (a
    contiguous tail, so neighbouring video frames rarely straddle the split)."""
    if not Path(root).is_dir():
        raise InputError(f"data directory {root} not found")
    train, val = list_pairs(root, dataset, "train"), list_pairs(root, dataset, "val")
    if dataset == "cityscapes" and not train and not val:
        train = list_pairs(root, dataset, "all")
    if val_fraction > 0 or not val:
        allp = train + val
        if val_fraction <= 0:
            raise InputError(f"{root} has no validation split: set a val fraction (--val-fraction)")
        n_val = max(1, int(math.ceil(len(allp) * val_fraction)))
        if n_val >= len(allp):
            raise InputError(f"val fraction {val_fraction} leaves no training images in {root}")
        train, val = allp[:-n_val], allp[-n_val:]
    if not train:
        raise InputError(f"no training pairs found under {root} for dataset {dataset}")
    return train, val


def load_dataset(
    root: str | Path, dataset: str, val_fraction: float = 0.0, scale: float = 1.0,
    device: str | torch.device = "cpu",
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """((train images, labels), (val images, labels)) decoded into uint8 tensors on `device`."""
    train, val = split_pairs(root, dataset, val_fraction)
    return load_pairs(train, dataset, scale, device), load_pairs(val, dataset, scale, device)


@torch.no_grad()
def augment_batch(
    images: torch.Tensor,
    labels: torch.Tensor,
    crop: tuple[int, int],
    scale_range: tuple[float, float] = (0.5, 2.0),
    flip: bool = True,
    jitter: float = 0.3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random scale + crop + flip + colour jitter for a whole batch in one grid_sample.

    images (B, 3, H, W) uint8, labels (B, H, W) uint8 -> float images in [0, 1] (B, 3, ch, cw)
    and long labels (B, ch, cw); area outside the scaled image is void (255) / black.
    """
    dev = images.device
    b, _, h, w = images.shape
    ch, cw = crop

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, device=dev, generator=generator)

    # log-uniform scale: equal odds of zooming in and out
    lo, hi = math.log(scale_range[0]), math.log(scale_range[1])
    s = torch.exp(lo + (hi - lo) * rand(b))
    # half-extent of the crop in the source's normalised coordinates
    ax, ay = cw / (s * w), ch / (s * h)
    # crop centre: inside the image when it fits, else the image lands at a random place in the crop
    tx = (1 - ax) * (2 * rand(b) - 1)
    ty = (1 - ay) * (2 * rand(b) - 1)
    sx = torch.where(rand(b) < 0.5, -ax, ax) if flip else ax
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = sx, tx
    theta[:, 1, 1], theta[:, 1, 2] = ay, ty
    grid = F.affine_grid(theta, [b, 3, ch, cw], align_corners=False)
    img = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # shift labels by one so zero padding marks out-of-image pixels
    lab = F.grid_sample((labels[:, None].float() + 1), grid, mode="nearest", padding_mode="zeros",
                        align_corners=False)[:, 0].round().long()
    lab = torch.where(lab == 0, torch.full_like(lab, IGNORE), lab - 1)
    img = img / 255.0
    if jitter > 0:
        bright = 1 + jitter * (2 * rand(b, 1, 1, 1) - 1)
        contrast = 1 + jitter * (2 * rand(b, 1, 1, 1) - 1)
        sat = 1 + jitter * (2 * rand(b, 1, 1, 1) - 1)
        img = img * bright
        mean = img.mean(dim=(1, 2, 3), keepdim=True)
        img = (img - mean) * contrast + mean
        gray = (0.299 * img[:, 0:1] + 0.587 * img[:, 1:2] + 0.114 * img[:, 2:3])
        img = (img - gray) * sat + gray
        img = img.clamp(0, 1)
    return img, lab
