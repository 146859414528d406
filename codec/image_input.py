"""Every kind of input image, brought to what the codecs code, as image tools do.

- EXIF orientation is applied (a phone JPEG comes out upright);
- an embedded ICC profile is converted to sRGB (CMYK included; CMYK without one uses Pillow's formula);
- 16-bit samples are reduced to 8 bits, with a warning;
- a grey source stays grey (`gray`: the file says so and decodes to one channel);
- transparency becomes an alpha plane (`alpha`), kept or dropped by the caller;
- an animated image (more than one frame) is refused: it is a video.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps

from ..bitstream.errors import InputError, InputWarning
from ..bitstream.planes import Planes

ALPHA_MODES = ("keep", "drop")
DEFAULT_ALPHA = "keep"
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SRGB = ImageCms.createProfile("sRGB")
_ORIENTATION = 0x0112


warnings.simplefilter("always", InputWarning)  # one line per file in a batch, not once per process


@dataclass(frozen=True)
class SourceImage:
    rgb: np.ndarray  # (H, W, 3) uint8 sRGB: what the image codecs code (grey as R = G = B)
    gray: bool  # the source was grey: decoders give back one channel
    alpha: np.ndarray | None  # (H, W) uint8, None when opaque
    single: np.ndarray | None  # (H, W) uint8 of an 8-bit L or P source (P: palette indices): label-map candidates

    def planes(self, alpha: str = DEFAULT_ALPHA) -> Planes:
        """What the file's source-planes section records, under `--alpha keep|drop`."""
        check_alpha_mode(alpha)
        return Planes(gray=self.gray, alpha=self.alpha if alpha == "keep" else None)


def check_alpha_mode(alpha: str) -> None:
    if alpha not in ALPHA_MODES:
        raise InputError(f"--alpha must be keep or drop, got {alpha!r}")


def _refuse_animation(im: Image.Image, name: str) -> None:
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        raise InputError(f"{name}: an animated image ({frames} frames) is not a still image; code it as a video: "
                         f"`gcodec encode FRAMES_FOLDER_OR.mp4` (e.g. ffmpeg -i {name} frames/%04d.png first)")


def _to_srgb(im: Image.Image, name: str) -> Image.Image:
    """Convert through the embedded ICC profile (or Pillow's formula for CMYK without one).
    A grey source stays grey: lcms gives neutral RGB, read back as L."""
    icc = im.info.get("icc_profile")
    if icc and im.mode in ("P", "PA", "1"):  # palette colours go through the profile too
        im = im.convert("RGBA" if im.mode != "1" else "L")
    mode = im.mode
    if icc and mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if ImageCms.getProfileDescription(src).strip().startswith("sRGB"):
                return im if mode != "CMYK" else im.convert("RGB")  # already sRGB (a CMYK one is not)
            colour = im.convert("L") if mode == "LA" else im  # lcms has no LA transform: alpha goes around it
            out = ImageCms.profileToProfile(colour, src, _SRGB, outputMode="RGBA" if mode == "RGBA" else "RGB")
            if mode in ("L", "LA"):
                out = out.convert("L")
            if mode == "LA":
                out.putalpha(im.getchannel("A"))
            return out
        except (ImageCms.PyCMSError, OSError, ValueError) as e:
            detail = str(e).splitlines()[0] if str(e) else "invalid"
            warnings.warn(f"{name}: ignoring its unusable ICC profile ({detail})", InputWarning, stacklevel=2)
    if mode == "CMYK":
        return im.convert("RGB")
    return im


def _reduce_wide(im: Image.Image, name: str, wide: bool) -> Image.Image:
    """16-bit (or 32-bit integer) grey to 8-bit L by rounding v / 257, with a warning. 16-bit
    colour is already 8-bit here (Pillow reduces it on load); the warning is what is left to do."""
    if im.mode == "F":
        raise InputError(f"{name}: floating-point images are not supported; convert it to 8 or 16 bits")
    if not (wide or im.mode in _WIDE_MODES):
        return im
    warnings.warn(f"{name}: 16-bit image reduced to 8 bits", InputWarning, stacklevel=2)
    if im.mode not in _WIDE_MODES:
        return im
    v = np.asarray(im).astype(np.int64)
    out = Image.fromarray(((np.clip(v, 0, 65535) + 128) // 257).astype(np.uint8), "L")
    out.info = dict(im.info)  # an ICC profile still applies
    return out


def normalize(im: Image.Image, name: str = "input") -> SourceImage:
    """A PIL image (from a file or a caller) -> SourceImage; InputError for what cannot be coded."""
    _refuse_animation(im, name)
    # 16-bit colour shows only in the raw mode of the tiles, which load() clears
    wide = any(";16" in str(getattr(t, "args", t)) for t in (getattr(im, "tile", None) or ()))
    im.load()
    if im.getexif().get(_ORIENTATION, 1) != 1:
        im = ImageOps.exif_transpose(im)
    gray = im.mode in _GRAY_MODES
    im = _to_srgb(_reduce_wide(im, name, wide), name)
    has_alpha = im.mode in _ALPHA_MODES or (im.mode in ("P", "L", "RGB") and "transparency" in im.info)
    single = np.asarray(im) if im.mode in ("L", "P") and not has_alpha else None
    alpha = None
    if has_alpha:
        a = np.asarray(im.convert("RGBA" if im.mode not in ("LA", "La") else "LA").getchannel("A"))
        alpha = None if a.min() == 255 else np.ascontiguousarray(a)  # opaque: nothing to keep
    if gray:
        g = np.asarray(im.convert("L"))
        rgb = np.repeat(g[:, :, None], 3, axis=2)
    else:
        rgb = np.asarray(im.convert("RGB"))
    return SourceImage(np.ascontiguousarray(rgb), gray, alpha, None if single is None else np.ascontiguousarray(single))
