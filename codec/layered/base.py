"""The base layer: the image coded by VVC intra (vvenc) at scale 1, 1/2 or 1/4.

The base is coded at `ceil(H / s) x ceil(W / s)` (Lanczos downscale), padded by edge
replication to a multiple of 8 as vvenc needs, and upscaled back to the exact original size
(Lanczos) after decoding. Both resamplings are Pillow's 8-bit fixed-point ones, and VVC
decoding is bit-exact, so every machine gets the same upscaled base from the same stream.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ...bitstream.errors import FormatError, InputError
from ...bitstream.layered import coded_base_size
from .. import ffmpeg

SCALES = (1, 2, 4)
QP_RANGE = (0, 63)  # what vvenc accepts
MIN_BASE_SAMPLES = 256  # vvenc fails on smaller pictures (padded 8x24 and 16x8 fail; 8x32 and 16x16 work)


def require_vvc() -> None:
    """One clear line when the ffmpeg found cannot encode or decode VVC."""
    exe = ffmpeg.ffmpeg_exe()
    if not ffmpeg.ffmpeg_has_encoder("libvvenc") or not ffmpeg.ffmpeg_has_decoder("vvc"):
        raise InputError(f"the ffmpeg at {exe} lacks libvvenc or the VVC decoder that layered images need "
                         "(imageio-ffmpeg 0.8.x bundles an ffmpeg with both)")


def base_size(height: int, width: int, scale: int) -> tuple[int, int]:
    """(h, w) of the base picture before padding."""
    if scale not in SCALES:
        raise InputError(f"base scale must be one of {SCALES}, got {scale}")
    return -(-height // scale), -(-width // scale)


def scale_fits(height: int, width: int, scale: int) -> bool:
    """Whether the base at this scale, padded to multiples of 8, is large enough for vvenc."""
    h, w = base_size(height, width, scale)
    return (-(-h // 8) * 8) * (-(-w // 8) * 8) >= MIN_BASE_SAMPLES


def downscale(image: np.ndarray, scale: int) -> np.ndarray:
    h, w = base_size(image.shape[0], image.shape[1], scale)
    if scale == 1:
        return np.ascontiguousarray(image)
    return np.asarray(Image.fromarray(image, "RGB").resize((w, h), Image.Resampling.LANCZOS))


def upscale(small: np.ndarray, height: int, width: int) -> np.ndarray:
    if small.shape[:2] == (height, width):
        return small
    return np.asarray(Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.LANCZOS))


def encode_base(image: np.ndarray, scale: int, qp: int) -> bytes:
    """The raw VVC stream of `image` at 1/scale, fixed QP (no crop byte: sizes follow from the header)."""
    if not QP_RANGE[0] <= qp <= QP_RANGE[1]:
        raise InputError(f"QP must be in {QP_RANGE[0]}..{QP_RANGE[1]}, got {qp}")
    if not scale_fits(*image.shape[:2], scale):
        raise InputError(f"a {image.shape[1]}x{image.shape[0]} image is too small for a VVC base at 1/{scale} "
                         f"(under {MIN_BASE_SAMPLES} samples)")
    small = downscale(image, scale)
    padded, _, _ = ffmpeg.pad_edge(small, 8)
    args = ["-c:v", "libvvenc", "-preset", "medium", "-qp", str(int(qp)), "-qpa", "0"]
    try:
        return ffmpeg.encode_picture(padded, ffmpeg.VVC_PIX_FMT, args, "vvc")
    except RuntimeError as e:  # e.g. pictures of a few hundred samples at low QPs
        raise InputError(f"vvenc could not code the {padded.shape[1]}x{padded.shape[0]} base at QP {qp} ({e})") from None


def decode_base_small(stream: bytes, height: int, width: int, scale: int) -> np.ndarray:
    """The base picture at its own size (ceil(H/s), ceil(W/s)); FormatError for a bad stream."""
    h, w = base_size(height, width, scale)
    pw, ph = coded_base_size((height, width), scale)
    try:
        out = ffmpeg.decode_picture(stream, "vvc")
    except RuntimeError:
        raise FormatError("the VVC base stream is corrupt (ffmpeg could not decode it)") from None
    if out.shape[:2] != (ph, pw):
        raise FormatError(f"the VVC base stream decodes to {out.shape[1]}x{out.shape[0]}, "
                          f"expected {pw}x{ph} for a {width}x{height} image at scale 1/{scale}")
    return np.ascontiguousarray(out[:h, :w])


def decode_base(stream: bytes, height: int, width: int, scale: int) -> np.ndarray:
    """The base decoded and upscaled to (height, width, 3) uint8."""
    return upscale(decode_base_small(stream, height, width, scale), height, width)
