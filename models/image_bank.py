"""Training images held in memory as uint8 tensors, cropped on the training device.

Decoding every JPEG once and cropping with tensor slicing keeps a GPU busy
without DataLoader workers, and costs little on a CPU.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..bitstream.labelmap import grid as map_grid

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} not found")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images in {folder}")
    return files


def split_train_val(files: list[Path], val_count: int) -> tuple[list[Path], list[Path]]:
    """Deterministic split by a hash of each file name, independent of listing order."""
    ranked = sorted(files, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    val = sorted(ranked[:val_count])
    return [f for f in files if f not in set(val)], val


def load_uint8(path: Path) -> torch.Tensor:
    """(3, H, W) uint8 tensor."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def load_label(path: Path, map_tolerance: int = 0) -> torch.Tensor:
    """(1, H, W) uint8 class ids from a single-channel PNG; with `map_tolerance` > 0, the map
    an SC file coded on that grid decodes to (bitstream/labelmap/grid.py)."""
    with Image.open(path) as im:
        arr = np.asarray(im)
    if arr.ndim != 2:
        raise ValueError(f"{path}: label maps must be single-channel")
    if map_tolerance:
        arr = map_grid.simplify(arr, map_tolerance)
    return torch.from_numpy(arr.copy()).unsqueeze(0)


def pair_labels(files: list[Path], label_dir: str | Path) -> list[Path]:
    """The label map for each image: same stem, .png, in `label_dir`."""
    labels = [Path(label_dir) / (f.stem + ".png") for f in files]
    missing = [p for p in labels if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images have no label map, e.g. {missing[0]}")
    return labels


class ImageBank:
    """All images of a folder in memory; `batch()` draws random crops with flips.

    With `label_files`, each image carries its label map as a fourth channel so
    crops and flips stay aligned; `batch()` then returns (images, labels).
    """

    def __init__(self, files: list[Path], device: torch.device, min_side: int, progress: bool = True,
                 label_files: list[Path] | None = None, map_tolerance: int = 0) -> None:
        self.images = []
        self.labeled = label_files is not None
        for i, f in enumerate(tqdm(files, desc="loading images", disable=not progress, leave=False)):
            img = load_uint8(f)
            if self.labeled:
                lab = load_label(label_files[i], map_tolerance)
                if lab.shape[1:] != img.shape[1:]:
                    raise ValueError(f"{label_files[i]} is {tuple(lab.shape[1:])}, its image {tuple(img.shape[1:])}")
                img = torch.cat([img, lab])
            if min(img.shape[1:]) >= min_side:
                self.images.append(img.to(device))
        if not self.images:
            raise ValueError(f"no image has both sides >= {min_side} px")
        self.device = device

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, size: int, crop: int, gen: torch.Generator) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(size, 3, crop, crop) float in [-1, 1] (and (size, crop, crop) labels when labeled)."""
        idx = torch.randint(len(self.images), (size,), generator=gen).tolist()
        crops = []
        for i in idx:
            img = self.images[i]
            h, w = img.shape[1:]
            y = int(torch.randint(h - crop + 1, (1,), generator=gen))
            x = int(torch.randint(w - crop + 1, (1,), generator=gen))
            c = img[:, y : y + crop, x : x + crop]
            if torch.rand(1, generator=gen).item() < 0.5:
                c = c.flip(-1)
            crops.append(c)
        stack = torch.stack(crops)
        images = stack[:, :3].float().div_(127.5).sub_(1.0)
        if self.labeled:
            return images, stack[:, 3].long()
        return images
