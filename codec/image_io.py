"""Reading images into uint8 arrays and writing outputs atomically."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..bitstream.errors import InputError
from .temp_outputs import publish, temporary

if TYPE_CHECKING:
    from .image_input import SourceImage

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


def read_image(data: bytes, name: str = "input") -> "SourceImage":
    """Image bytes -> SourceImage (codec/image_input.py: orientation, sRGB, 8 bits, grey, alpha).
    InputError if unreadable or not a still image."""
    from .image_input import normalize

    try:
        with Image.open(io.BytesIO(data)) as im:
            return normalize(im, name)
    except Image.DecompressionBombError:
        raise InputError(f"{name}: image is larger than {MAX_IMAGE_PIXELS} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        detail = str(e).splitlines()[0] if str(e) else "invalid data"
        raise InputError(f"{name}: not a readable image ({e.__class__.__name__}: {detail})") from None


def decode_any(data: bytes, name: str = "input") -> np.ndarray:
    """Image bytes -> (H, W) uint8 for single-channel 8-bit images (L, or P as palette indices),
    else (H, W, 3) uint8 RGB. InputError if unreadable."""
    src = read_image(data, name)
    return src.single if src.single is not None else src.rgb


def decode_rgb(data: bytes, name: str = "input") -> np.ndarray:
    """Image bytes -> (H, W, 3) uint8 RGB (grey and palette images expanded)."""
    return read_image(data, name).rgb


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def write_atomic(path: str, data: bytes, force: bool = False) -> None:
    """Write to a temp file beside `path`, then rename; '-' writes to standard output.

    Refuses to replace an existing file unless `force`, so a failed or refused run
    never leaves a partial or clobbered output behind; an interrupted one neither
    (the temporary is registered in codec/temp_outputs.py).
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
    with temporary(lambda: temp_beside(target)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)
        publish(tmp, lambda: os.replace(tmp, target))


def temp_beside(target: Path, folder: bool = False) -> str:
    """A new hidden temporary file (or folder) next to `target`: same file system, so renames are atomic."""
    if folder:
        return tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    return tmp


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
