"""Classical image codecs swept down to their lowest rates, as baselines for gcodec.

Each codec is an `encode(image, setting) -> bytes` and a `decode(bytes) -> image`
pair on uint8 RGB HxWx3 arrays, wrapped in a `ClassicalCodec` (see codec/eval/protocol.py)
and listed in `CODECS`. `roundtrip(name, image, setting)` gives `(bytes, decoded)`.

What the counted bytes are (bpp = 8 * len(bytes) / (H * W), per EVAL.md):
- jpeg, webp, avif: the whole file pillow writes (JFIF / RIFF WebP / HEIF AVIF container).
- hevc: the raw Annex-B elementary stream (`ffmpeg -f hevc`, like a .hevc / .265 file),
  with x265's SEI text disabled (`info=0`).
- av1: the raw low-overhead OBU stream (`ffmpeg -f obu`, a .obu file: temporal delimiter,
  sequence header, frame); the leanest AV1 file form, smaller than .ivf or .avif.
- vvc: the raw elementary stream (`ffmpeg -f vvc`, a .266 file).
- hevc and vvc need sizes that are multiples of 2 (4:2:0) or 8 (vvenc): the image is
  padded by edge replication and ONE extra byte in front of the stream records how many
  rows/columns to crop, so the decoder needs nothing but the bytes.
- `<codec>-ds<k>`: one byte in front records how far the original size falls short of
  k times the coded size, so the decoder can upscale to the exact original size.

Colour: ffmpeg codecs go through codec/ffmpeg.py (RGB <-> Y'CbCr BT.601 limited range).
Chroma format per codec is in `YUV_FORMATS`. Pillow's AVIF uses its defaults (4:2:0, full
range, tagged in the file). Every encoder runs on one thread so timings are comparable and
the shared CPU is not flooded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image, features

from ...bitstream.errors import InputError
from ..ffmpeg import VVC_PIX_FMT, decode_picture, encode_picture, ffmpeg_has_decoder, ffmpeg_has_encoder, pad_edge
from .protocol import CodecOutput

EncodeFn = Callable[[np.ndarray, Any], bytes]
DecodeFn = Callable[[bytes], np.ndarray]

# Pixel format each ffmpeg codec codes in, picked by comparing yuv420p and yuv444p curves on
# 3 eval images at 0.05 and 0.1 bpp (log-bpp interpolation): x265 did 0.12-0.22 dB better in
# 4:2:0, libaom 0.09-0.13 dB better in 4:4:4 (MS-SSIM within 0.001 both ways). libvvenc in
# this ffmpeg accepts only yuv420p10le.
YUV_FORMATS = {"hevc": "yuv420p", "av1": "yuv444p", "vvc": VVC_PIX_FMT}


# ---------------------------------------------------------------- helpers


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be a uint8 HxWx3 RGB array, got dtype {image.dtype} shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"image is empty: shape {image.shape}")
    return np.ascontiguousarray(image)


def _crop_byte(ph: int, pw: int) -> bytes:
    assert 0 <= ph < 16 and 0 <= pw < 16
    return bytes([(ph << 4) | pw])


def _uncrop_byte(data: bytes) -> tuple[int, int, bytes]:
    if not data:
        raise InputError("encoded image is empty")
    return data[0] >> 4, data[0] & 15, data[1:]


# ---------------------------------------------------------------- pillow codecs


def _pil_encode(image: np.ndarray, fmt: str, **opts: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_check_image(image), "RGB").save(buf, format=fmt, **opts)
    return buf.getvalue()


def _pil_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def jpeg_encode(image: np.ndarray, quality: int) -> bytes:
    # optimize=True: Huffman tables fitted to the image, which only ever shrinks the file
    return _pil_encode(image, "JPEG", quality=int(quality), optimize=True)


def webp_encode(image: np.ndarray, quality: int) -> bytes:
    return _pil_encode(image, "WEBP", quality=int(quality), method=6)


def avif_encode(image: np.ndarray, quality: int) -> bytes:
    if not features.check("avif"):
        raise InputError("codec 'avif' is not available: this pillow was built without AVIF support")
    return _pil_encode(image, "AVIF", quality=int(quality), speed=6, max_threads=1)


# ---------------------------------------------------------------- ffmpeg codecs


def _require(encoder: str, decoder: str, name: str) -> None:
    if not ffmpeg_has_encoder(encoder):
        raise InputError(f"codec '{name}' is not available: the bundled ffmpeg has no {encoder} encoder")
    if not ffmpeg_has_decoder(decoder):
        raise InputError(f"codec '{name}' is not available: the bundled ffmpeg has no {decoder} decoder")


def hevc_encode(image: np.ndarray, qp: int, pix_fmt: str | None = None) -> bytes:
    """x265 intra at a fixed QP; raw HEVC stream behind one crop byte (4:2:0 needs even sizes)."""
    _require("libx265", "hevc", "hevc")
    pix_fmt = pix_fmt or YUV_FORMATS["hevc"]
    padded, ph, pw = pad_edge(_check_image(image), 2 if pix_fmt.startswith("yuv420") else 1)
    # info=0: no ~2 KB version/options SEI text; pools/frame-threads: one thread
    params = f"qp={int(qp)}:info=0:log-level=error:pools=1:frame-threads=1"
    stream = encode_picture(padded, pix_fmt, ["-c:v", "libx265", "-preset", "medium", "-x265-params", params], "hevc")
    return _crop_byte(ph, pw) + stream


def hevc_decode(data: bytes) -> np.ndarray:
    ph, pw, stream = _uncrop_byte(data)
    out = decode_picture(stream, "hevc")
    return np.ascontiguousarray(out[: out.shape[0] - ph, : out.shape[1] - pw])


def av1_encode(image: np.ndarray, crf: int, pix_fmt: str | None = None) -> bytes:
    """libaom still picture at a fixed CRF (constant quality: -b:v 0); raw OBU stream (AV1 allows odd sizes)."""
    _require("libaom-av1", "libdav1d" if ffmpeg_has_decoder("libdav1d") else "libaom-av1", "av1")
    args = ["-c:v", "libaom-av1", "-still-picture", "1", "-crf", str(int(crf)), "-b:v", "0", "-cpu-used", "4"]
    return encode_picture(_check_image(image), pix_fmt or YUV_FORMATS["av1"], args, "obu")


def av1_decode(data: bytes) -> np.ndarray:
    return decode_picture(data, "obu", "libdav1d" if ffmpeg_has_decoder("libdav1d") else None)


def vvc_encode(image: np.ndarray, qp: int) -> bytes:
    """vvenc intra at a fixed QP, no perceptual QP adaptation, 10-bit 4:2:0; size padded to a multiple of 8."""
    _require("libvvenc", "vvc", "vvc")
    padded, ph, pw = pad_edge(_check_image(image), 8)
    args = ["-c:v", "libvvenc", "-preset", "medium", "-qp", str(int(qp)), "-qpa", "0"]
    return _crop_byte(ph, pw) + encode_picture(padded, YUV_FORMATS["vvc"], args, "vvc")


def vvc_decode(data: bytes) -> np.ndarray:
    ph, pw, stream = _uncrop_byte(data)
    out = decode_picture(stream, "vvc")
    return np.ascontiguousarray(out[: out.shape[0] - ph, : out.shape[1] - pw])


# ---------------------------------------------------------------- downscaled variants


def downscaled(encode: EncodeFn, decode: DecodeFn, k: int) -> tuple[EncodeFn, DecodeFn]:
    """Encode at 1/k size (Lanczos), decode and upscale back (Lanczos) to the exact original size."""
    if not 2 <= k <= 15:
        raise InputError(f"downscale factor must be in 2..15, got {k}")

    def enc(image: np.ndarray, setting: Any) -> bytes:
        image = _check_image(image)
        h, w = image.shape[:2]
        hs, ws = -(-h // k), -(-w // k)  # ceil, so k*hs - h is in 0..k-1 and fits half a byte
        small = np.asarray(Image.fromarray(image, "RGB").resize((ws, hs), Image.Resampling.LANCZOS))
        return _crop_byte(k * hs - h, k * ws - w) + encode(small, setting)

    def dec(data: bytes) -> np.ndarray:
        dh, dw, stream = _uncrop_byte(data)
        small = decode(stream)
        size = (k * small.shape[1] - dw, k * small.shape[0] - dh)
        return np.asarray(Image.fromarray(small, "RGB").resize(size, Image.Resampling.LANCZOS))

    return enc, dec


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class ClassicalCodec:
    """A classical codec with a fixed list of settings (quality, QP or CRF), lowest rate first
    (so quality settings rise and QP/CRF settings fall along the list)."""

    name: str
    settings: tuple[int, ...]
    encode: EncodeFn = field(repr=False)
    decode: DecodeFn = field(repr=False)
    setting_name: str = "quality"
    counted: str = ""  # what the counted bytes are

    def run(self, image: np.ndarray, setting: Any) -> CodecOutput:
        import time

        image = _check_image(image)
        t0 = time.perf_counter()
        data = self.encode(image, setting)
        t1 = time.perf_counter()
        decoded = self.decode(data)
        t2 = time.perf_counter()
        if decoded.shape != image.shape:
            raise RuntimeError(f"{self.name} decoded shape {decoded.shape} != input {image.shape}")
        return CodecOutput(data=data, num_bytes=len(data), decoded=decoded, encode_s=t1 - t0, decode_s=t2 - t1)


def _base_codecs() -> dict[str, ClassicalCodec]:
    return {
        "jpeg": ClassicalCodec("jpeg", (1, 2, 3, 5, 8, 12, 20, 30, 50), jpeg_encode, _pil_decode,
                               "quality", "JPEG file (pillow, optimize=True, 4:2:0)"),
        "webp": ClassicalCodec("webp", (0, 2, 5, 10, 20, 30, 50), webp_encode, _pil_decode,
                               "quality", "WebP file (pillow, method 6)"),
        "avif": ClassicalCodec("avif", (0, 5, 10, 15, 20, 25, 30, 35, 40, 45), avif_encode, _pil_decode,
                               "quality", "AVIF file (pillow/libavif, speed 6, 4:2:0)"),
        "hevc": ClassicalCodec("hevc", (51, 48, 45, 42, 39, 36, 33), hevc_encode, hevc_decode,
                               "qp", "raw HEVC stream (x265 intra, info=0, 4:2:0) + 1 crop byte"),
        "av1": ClassicalCodec("av1", (63, 58, 54, 50, 46, 42, 38), av1_encode, av1_decode,
                              "crf", "raw AV1 OBU stream (libaom still picture, cpu-used 4, 4:4:4)"),
        "vvc": ClassicalCodec("vvc", (63, 58, 54, 50, 46, 42, 38), vvc_encode, vvc_decode,
                              "qp", "raw VVC stream (vvenc, qpa 0, 10-bit 4:2:0) + 1 crop byte"),
    }


BASE_CODECS: dict[str, ClassicalCodec] = _base_codecs()
DOWNSCALED = {"avif": (2, 4), "hevc": (2, 4), "av1": (2, 4), "vvc": (2, 4), "webp": (2, 4), "jpeg": (2, 4)}


def _all_codecs() -> dict[str, ClassicalCodec]:
    reg = dict(BASE_CODECS)
    for base, ks in DOWNSCALED.items():
        b = BASE_CODECS[base]
        for k in ks:
            enc, dec = downscaled(b.encode, b.decode, k)
            name = f"{base}-ds{k}"
            reg[name] = ClassicalCodec(name, b.settings, enc, dec, b.setting_name,
                                       f"1 size byte + {b.counted}, coded at 1/{k} size (Lanczos down/up)")
    return reg


CODECS: dict[str, ClassicalCodec] = _all_codecs()
# codec name -> its settings, lowest rate first (quality rises, QP/CRF falls along each list)
SETTINGS: dict[str, list[int]] = {n: list(c.settings) for n, c in CODECS.items()}

# ffmpeg encoder/decoder each codec needs; pillow codecs need a pillow feature instead
_FFMPEG_NEEDS = {"hevc": ("libx265", "hevc"), "av1": ("libaom-av1", "av1"), "vvc": ("libvvenc", "vvc")}


def unavailable_reason(name: str) -> str | None:
    """Why codec `name` cannot run here (one line), or None if it can. Unknown names raise InputError."""
    if name not in CODECS:
        raise InputError(f"unknown codec {name!r}; known: {', '.join(sorted(CODECS))}")
    base = name.split("-ds")[0]
    if base == "avif" and not features.check("avif"):
        return f"codec '{name}' is not available: this pillow was built without AVIF support"
    if base == "webp" and not features.check("webp"):
        return f"codec '{name}' is not available: this pillow was built without WebP support"
    if base in _FFMPEG_NEEDS:
        enc, dec = _FFMPEG_NEEDS[base]
        if not ffmpeg_has_encoder(enc):
            return f"codec '{name}' is not available: the bundled ffmpeg has no {enc} encoder"
        if not ffmpeg_has_decoder(dec):
            return f"codec '{name}' is not available: the bundled ffmpeg has no {dec} decoder"
    return None


def get_codec(name: str) -> ClassicalCodec:
    """The registered codec `name`; InputError if unknown or if this machine cannot run it."""
    reason = unavailable_reason(name)
    if reason is not None:
        raise InputError(reason)
    return CODECS[name]


def available_codecs() -> list[str]:
    return [n for n in CODECS if unavailable_reason(n) is None]


def roundtrip(name: str, image: np.ndarray, setting: Any) -> tuple[bytes, np.ndarray]:
    """Encode `image` with codec `name` at `setting` and decode it: (encoded bytes, decoded uint8 HxWx3)."""
    c = get_codec(name)
    data = c.encode(_check_image(image), setting)
    return data, c.decode(data)


def settings_of(name: str) -> Sequence[int]:
    return get_codec(name).settings


# One function per base codec, (image, setting) -> (encoded bytes, decoded image).
def jpeg(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    return roundtrip("jpeg", image, quality)


def webp(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    return roundtrip("webp", image, quality)


def avif(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    return roundtrip("avif", image, quality)


def hevc(image: np.ndarray, qp: int) -> tuple[bytes, np.ndarray]:
    return roundtrip("hevc", image, qp)


def av1(image: np.ndarray, crf: int) -> tuple[bytes, np.ndarray]:
    return roundtrip("av1", image, crf)


def vvc(image: np.ndarray, qp: int) -> tuple[bytes, np.ndarray]:
    return roundtrip("vvc", image, qp)
