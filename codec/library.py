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
from .image_io import decode_any, read_bytes

ImageInput = Union[np.ndarray, Image.Image, str, os.PathLike]
DataInput = Union[bytes, bytearray, memoryview, str, os.PathLike]
ENCODE_OPTIONS = ("refine", "device", "kind")
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


def to_array(image: ImageInput, kind: str = "image") -> np.ndarray:
    """uint8 (H, W, 3) RGB for kind 'image' (grey expanded), uint8 (H, W) class ids for 'labelmap'."""
    if isinstance(image, (str, os.PathLike)):
        arr = decode_any(_read_path(image), os.fspath(image))  # keeps single-channel images 2-D
    elif isinstance(image, Image.Image):
        if kind == "labelmap" and image.mode not in ("L", "P"):
            raise InputError(f"a label map must be a mode L or P image, got mode {image.mode}")
        arr = np.asarray(image if kind == "labelmap" else image.convert("RGB"))
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            raise InputError(f"expected a uint8 array, got {arr.dtype}")
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
            raise InputError(f"expected an (H, W, 3) or (H, W) array, got shape {arr.shape}")
    else:
        raise InputError(f"image must be a numpy array, a PIL image or a path, not {type(image).__name__}")
    if kind == "labelmap":
        if arr.ndim != 2:
            raise InputError("a label map must be single-channel: an (H, W) uint8 array or a mode L image")
        return np.ascontiguousarray(arr)
    return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr)


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
        return codec.encode_labels(to_array(image, kind))
    return codec.encode_image(to_array(image), model, refine, bpp=bpp, size=size)


def decode(data: DataInput, realism: float | None, device: str | None) -> np.ndarray:
    if realism is not None and (isinstance(realism, bool) or not isinstance(realism, (int, float))):
        raise InputError(f"realism must be a number in [0, 1], got {realism!r}")
    codec = codec_for(device)  # checks the device name before any reading
    raw = to_bytes(data)
    if peek_kind(raw) == PayloadKind.VIDEO:
        if realism is not None:
            raise InputError("realism applies to layered images, not videos")
        from .video_codec import decompress_video

        return decompress_video(raw, str(codec.device))[0]  # frames (T, H, W, 3); fps is in info()
    return codec.decode(raw, realism=realism)[1]


def info(data: DataInput) -> dict[str, Any]:
    return describe(to_bytes(data))
