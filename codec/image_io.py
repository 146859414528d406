"""Reading images into uint8 arrays and writing outputs atomically."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..bitstream.errors import InputError

MAX_IMAGE_PIXELS = 1 << 28
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})
_UMASK = os.umask(0)
os.umask(_UMASK)  # read once at import: outputs get the usual 0666 & ~umask, not mkstemp's 0600
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # PIL raises DecompressionBombError beyond this


def read_bytes(path: str) -> bytes:
    """Whole file, or standard input for '-'."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


def _decode(data: bytes, name: str, keep_single: bool) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            single = keep_single and im.mode in ("L", "P")
            arr = np.asarray(im if single else im.convert("RGB"))
    except Image.DecompressionBombError:
        raise InputError(f"{name}: image is larger than {MAX_IMAGE_PIXELS} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        detail = str(e).splitlines()[0] if str(e) else "invalid data"
        raise InputError(f"{name}: not a readable image ({e.__class__.__name__}: {detail})") from None
    return np.ascontiguousarray(arr)


def decode_any(data: bytes, name: str = "input") -> np.ndarray:
    """Image bytes -> (H, W) uint8 for single-channel 8-bit images (L, or P as palette indices),
    else (H, W, 3) uint8 RGB. InputError if unreadable."""
    return _decode(data, name, keep_single=True)


def decode_rgb(data: bytes, name: str = "input") -> np.ndarray:
    """Image bytes -> (H, W, 3) uint8 RGB (grey and palette images expanded)."""
    return _decode(data, name, keep_single=False)


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def write_atomic(path: str, data: bytes, force: bool = False) -> None:
    """Write to a temp file beside `path`, then rename; '-' writes to standard output.

    Refuses to replace an existing file unless `force`, so a failed or refused run
    never leaves a partial or clobbered output behind.
    """
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    if target.exists() and not force:
        raise InputError(f"{path} exists (use --force to overwrite)")
    if not target.parent.is_dir():
        raise InputError(f"{path}: folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def labelled_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """(photo, label map) pairs of a CamVid-layout folder: `images/` and `labels/` (.png, same stems), sorted."""
    root = Path(folder)
    if not (root / "images").is_dir() or not (root / "labels").is_dir():
        raise InputError(f"{folder} has no images/ and labels/ folders (CamVid layout)")
    pairs = [(p, root / "labels" / (p.stem + ".png")) for p in sorted((root / "images").iterdir())
             if p.suffix.lower() in IMAGE_SUFFIXES]
    pairs = [(p, lab) for p, lab in pairs if lab.is_file()]
    if not pairs:
        raise InputError(f"no image/label pairs in {root}")
    return pairs
