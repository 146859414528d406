"""What `import gcodec` runs: input coercion, option checks and one shared `Codec` per device.

The public functions and their docs are in api/__init__.py (the package root `gcodec`); this
module imports torch, so the package root imports it only when a function is first called.
Encoding and decoding go through `codec.api.Codec`, the same path the CLI takes.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Union

import numpy as np
from PIL import Image

from ..bitstream.container import PayloadKind, peek_kind
from ..bitstream.errors import InputError
from .api import Codec, describe
from .device import pick_device
from .image_input import DEFAULT_ALPHA, SourceImage, check_alpha_mode, normalize
from .image_io import decode_any, read_bytes, read_image

ImageInput = Union[np.ndarray, Image.Image, str, os.PathLike]
DataInput = Union[bytes, bytearray, memoryview, str, os.PathLike]
ENCODE_OPTIONS = ("refine", "device", "kind", "alpha")
KINDS = ("image", "labelmap")

_codecs: dict[str, Codec] = {}
_codecs_lock = threading.Lock()


def codec_for(device: str | None) -> Codec:
    """The shared Codec of a device (created on first use), so models stay loaded between calls."""
    dev = pick_device(device)
    with _codecs_lock:
        if str(dev) not in _codecs:
            _codecs[str(dev)] = Codec(dev)
        return _codecs[str(dev)]


def _read_path(path: str | os.PathLike) -> bytes:
    name = os.fspath(path)
    # '-' means standard input on the command line; here it is only a file name
    return read_bytes(f".{os.sep}-" if name == "-" else name)


def to_source(image: ImageInput) -> SourceImage:
    """An image to code: paths and PIL images go through the CLI's input handling (orientation,
    sRGB, 8 bits, grey, alpha); arrays are (H, W) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB or
    (H, W, 4) RGBA uint8."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(_read_path(image), os.fspath(image))
    if isinstance(image, Image.Image):
        return normalize(image, "image")
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array, a PIL image or a path, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 array, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (2, 3, 4))):
        raise InputError(f"expected an (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) array, got shape {image.shape}")
    arr = image if image.ndim == 3 else image[:, :, None]
    colour, alpha = (arr[:, :, :-1], arr[:, :, -1]) if arr.shape[2] in (2, 4) else (arr, None)
    gray = colour.shape[2] == 1
    rgb = np.ascontiguousarray(np.repeat(colour, 3, axis=2) if gray else colour)
    keep = None if alpha is None or alpha.min() == 255 else np.ascontiguousarray(alpha)
    return SourceImage(rgb, gray, keep, np.ascontiguousarray(image) if image.ndim == 2 else None)


def to_labels(image: ImageInput) -> np.ndarray:
    """uint8 (H, W) class ids from an (H, W) array, a mode L or P image, or a path to one."""
    if isinstance(image, (str, os.PathLike)):
        arr = decode_any(_read_path(image), os.fspath(image))  # keeps single-channel images 2-D
    elif isinstance(image, Image.Image):
        if image.mode not in ("L", "P"):
            raise InputError(f"a label map must be a mode L or P image, got mode {image.mode}")
        arr = np.asarray(image)
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            raise InputError(f"expected a uint8 array, got {arr.dtype}")
    else:
        raise InputError(f"image must be a numpy array, a PIL image or a path, not {type(image).__name__}")
    if arr.ndim != 2:
        raise InputError("a label map must be single-channel: an (H, W) uint8 array or a mode L image")
    return np.ascontiguousarray(arr)


def to_bytes(data: DataInput) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        return _read_path(data)
    raise InputError(f"data must be bytes or a path, not {type(data).__name__}")


def encode(image: ImageInput, model: str | None, bpp: float | None, size: int | None,
           options: dict[str, Any]) -> bytes:
    unknown = sorted(set(options) - set(ENCODE_OPTIONS))
    if unknown:
        raise InputError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(encode takes model, bpp, size, {', '.join(ENCODE_OPTIONS)})")
    kind = options.get("kind", "image")
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    refine = options.get("refine", 0)
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise InputError(f"refine must be a whole number >= 0, got {refine!r}")
    if bpp is not None and size is not None:
        raise InputError("give bpp or size, not both")
    codec = codec_for(options.get("device", "auto"))
    if kind == "labelmap":
        given = [k for k, v in (("model", model), ("bpp", bpp), ("size", size), ("refine", refine)) if v]
        if given:
            raise InputError(f"label maps are coded losslessly without a model: drop {', '.join(given)}")
        if "alpha" in options:
            raise InputError("label maps have no alpha: drop alpha")
        return codec.encode_labels(to_labels(image))
    alpha = options.get("alpha", DEFAULT_ALPHA)
    check_alpha_mode(alpha)
    src = to_source(image)
    return codec.encode_image(src.rgb, model, refine, bpp=bpp, size=size, planes=src.planes(alpha))


def decode(data: DataInput, realism: float | None, device: str | None) -> np.ndarray:
    if realism is not None and (isinstance(realism, bool) or not isinstance(realism, (int, float))):
        raise InputError(f"realism must be a number in [0, 1], got {realism!r}")
    codec = codec_for(device)  # checks the device name before any reading
    raw = to_bytes(data)
    if peek_kind(raw) == PayloadKind.VIDEO:
        if realism is not None:
            raise InputError("realism applies to images (layered, GC, SC), not videos")
        from .video_codec import decompress_video

        return decompress_video(raw, str(codec.device))[0]  # frames (T, H, W, 3); fps is in info()
    return codec.decode(raw, realism=realism)[1]


def info(data: DataInput) -> dict[str, Any]:
    return describe(to_bytes(data))
