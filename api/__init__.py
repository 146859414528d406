"""gcodec from Python: encode, decode and inspect .gcodec files; Pillow reads and writes them.

    import gcodec
    data = gcodec.encode("photo.png")                # numpy array, PIL image or path -> bytes
    image = gcodec.decode(data)                      # -> numpy uint8 (H, W, 3)
    gcodec.info(data)["bpp"]

Every call goes through the same `codec.api.Codec` as the `gcodec` command line. Models stay
loaded between calls (one Codec per device) and the functions may be called from several threads.
Bad input raises a `GcodecError` subclass with a one-line message. Importing this package does
not import torch; the first encode/decode/info call does.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .bitstream.errors import FormatError, GcodecError, InputError, InputWarning, TruncatedError, UnsupportedError
from .codec import pillow_plugin as _pillow_plugin

if TYPE_CHECKING:
    import numpy as np

    from .codec.library import DataInput, ImageInput

try:
    __version__ = version("gcodec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["encode", "decode", "info", "GcodecError", "FormatError", "TruncatedError", "UnsupportedError",
           "InputError", "InputWarning", "__version__"]


def encode(image: ImageInput, *, model: str | None = None, bpp: float | None = None, size: int | None = None,
           **options: Any) -> bytes:
    """Compress an image to the bytes of a .gcodec file.

    image: a numpy uint8 array ((H, W) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB, (H, W, 4) RGBA),
        a PIL image, or a path to an image file. Files and PIL images are read as the CLI reads them:
        EXIF orientation applied, ICC profiles (CMYK too) converted to sRGB, 16 bits reduced to 8
        (an InputWarning), animated images refused. A grey source decodes to grey again.
    model: a shipped model name or a .safetensors path (default: the default image model, see
        `gcodec models`). Layered models are rate-controlled: `bpp` (within +-5%, container
        included) or `size` (at most this many bytes); GC models code at their own rate.
    options:
        refine=N  GC and SC models: fit the latents to the image for N steps (slower encode).
        device="auto" | "cpu" | "cuda" | "cuda:N"  where the model runs (default "auto").
        kind="image" | "labelmap"  "labelmap" codes an (H, W) uint8 class-id map (or a mode L/P
            image) losslessly, without a model.
        alpha="keep" | "drop"  transparency: coded losslessly as an extra plane (default), or dropped.
    Raises InputError for unknown options, unusable images or unknown models.
    """
    from .codec import library

    return library.encode(image, model, bpp, size, options)


def decode(data: DataInput, *, realism: float | None = None, device: str | None = None) -> np.ndarray:
    """Decompress a .gcodec file (its bytes, or a path) to a numpy uint8 array.

    Returns (H, W, 3) RGB for images ((H, W) for grey sources; with a kept alpha plane (H, W, 4)
    RGBA or (H, W, 2) grey + alpha), (H, W) class ids for label maps, and (T, H, W, 3) frames
    for videos (their frame rate is in `info(data)["video"]["fps"]`).
    realism: layered, GC (with a detail stage) and SC images, in [0, 1] (0 most faithful, 1 most detail;
      None: the model's default).
    device: "auto" (default), "cpu", "cuda" or "cuda:N".
    Raises FormatError / TruncatedError for damaged files, UnsupportedError for unknown
    versions or kinds, InputError for unknown models or bad arguments.
    """
    from .codec import library

    return library.decode(data, realism, device)


def info(data: DataInput) -> dict[str, Any]:
    """What a .gcodec file (bytes or path) holds: kind, size, model, bytes per section, bpp;
    the same dict as `gcodec info --json`."""
    from .codec import library

    return library.info(data)


_pillow_plugin.register()
