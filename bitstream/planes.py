"""The optional "source planes" section of image files: grey source, lossless alpha plane.

The image codecs (GC, SC, layered) code three colour planes. A grey source is coded as
R = G = B and this section's grey flag makes the decoder output one channel again; an alpha
plane rides along losslessly. Layout and compatibility: FORMAT.md, "Source planes".
"""

from __future__ import annotations

import lzma
from dataclasses import dataclass

import numpy as np

from .container import Container, PayloadKind, pack, unpack
from .errors import FormatError, InputError, UnsupportedError
from .varint import encode_uvarint

SECTION_PLANES = 16  # a tag no image payload kind uses (GC 1-2, SC 1-5, layered 1)

FLAG_GRAY = 1
FLAG_ALPHA = 2
ALPHA_LABELMAP = 1  # the label-map chain code: best for few levels and clean edges
ALPHA_LZMA = 2  # raw LZMA2 of the plane: best for many levels (soft, noisy edges)


@dataclass(frozen=True)
class Planes:
    gray: bool = False
    alpha: np.ndarray | None = None  # (H, W) uint8

    def __bool__(self) -> bool:
        return self.gray or self.alpha is not None


def _lzma_filters(height: int, width: int) -> list[dict]:
    # The dictionary is the plane's size rounded up to a power of two (4 KiB .. 64 MiB): both sides
    # derive it from the header, so the decoder never allocates more than the plane needs.
    dict_size = min(max(4096, 1 << (height * width - 1).bit_length()), 1 << 26)
    return [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}]


def _alpha_candidates(alpha: np.ndarray) -> list[bytes]:
    from .labelmap import encode_labelmap  # imported on use: reading a file without alpha needs no range coder

    h, w = alpha.shape
    plane = np.ascontiguousarray(alpha, dtype=np.uint8)
    return [bytes([ALPHA_LABELMAP]) + encode_labelmap(plane),
            bytes([ALPHA_LZMA]) + lzma.compress(plane.tobytes(), format=lzma.FORMAT_RAW, filters=_lzma_filters(h, w))]


def pack_planes(planes: Planes, height: int, width: int) -> bytes:
    """The section payload: flags, then (with alpha) the smaller of the two alpha codes."""
    if not planes:
        raise ValueError("nothing to store: the section is written only for grey or alpha sources")
    flags = (FLAG_GRAY if planes.gray else 0) | (FLAG_ALPHA if planes.alpha is not None else 0)
    if planes.alpha is None:
        return bytes([flags])
    if planes.alpha.shape != (height, width) or planes.alpha.dtype != np.uint8:
        raise InputError(f"alpha plane must be uint8 ({height}, {width}), got {planes.alpha.dtype} {planes.alpha.shape}")
    return bytes([flags]) + min(_alpha_candidates(planes.alpha), key=len)


def _decode_lzma(data: bytes, height: int, width: int) -> np.ndarray:
    n = height * width
    dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(height, width))
    try:
        raw = dec.decompress(data, max_length=n)  # never more than the plane, whatever the stream claims
    except lzma.LZMAError as e:
        raise FormatError(f"alpha plane: corrupt LZMA stream ({e})") from None
    if len(raw) != n or not dec.eof or dec.unused_data:
        raise FormatError(f"alpha plane: the LZMA stream does not hold exactly {height}x{width} bytes")
    return np.frombuffer(raw, np.uint8).reshape(height, width)


def unpack_planes(data: bytes, height: int, width: int) -> Planes:
    """Inverse of `pack_planes`; FormatError / UnsupportedError for anything else."""
    if not data:
        raise FormatError("source planes section is empty")
    flags = data[0]
    if flags & ~(FLAG_GRAY | FLAG_ALPHA) or not flags:
        raise FormatError(f"source planes section has invalid flags {flags:#04x}")
    gray = bool(flags & FLAG_GRAY)
    if not flags & FLAG_ALPHA:
        if len(data) != 1:
            raise FormatError(f"{len(data) - 1} bytes of trailing data in the source planes section")
        return Planes(gray=gray)
    if len(data) < 2:
        raise FormatError("source planes section ends before the alpha method")
    method, body = data[1], bytes(data[2:])
    if method == ALPHA_LABELMAP:
        from .labelmap import decode_labelmap

        alpha = decode_labelmap(body, height, width)
    elif method == ALPHA_LZMA:
        alpha = _decode_lzma(body, height, width)
    else:
        raise UnsupportedError(f"unknown alpha coding method {method}")
    return Planes(gray=gray, alpha=alpha)


IMAGE_KINDS = frozenset({PayloadKind.GC_IMAGE, PayloadKind.SC_IMAGE, PayloadKind.LAYERED_IMAGE})


def section_overhead(payload: bytes) -> int:
    """Bytes the section adds to a container: tag, length varint, payload, CRC."""
    return 1 + len(encode_uvarint(len(payload))) + len(payload) + 4


def with_planes(data: bytes, payload: bytes) -> bytes:
    """An image file with the source-planes section (payload from `pack_planes`) appended."""
    c = unpack(data)
    if c.kind not in IMAGE_KINDS or c.has_section(SECTION_PLANES):
        raise ValueError(f"cannot add source planes to a {c.kind.name} file (or twice)")
    return pack(Container(c.kind, c.size, c.model_id, c.model_digest, (*c.sections, (SECTION_PLANES, payload))))


def split_planes(c: Container) -> tuple[Container, Planes]:
    """(the file without the section, its planes) for an image kind; other kinds unchanged (the
    label-map and video readers skip a section they do not know)."""
    if c.kind not in IMAGE_KINDS or not c.has_section(SECTION_PLANES):
        return c, Planes()
    h, w = c.size
    planes = unpack_planes(c.section(SECTION_PLANES), h, w)
    rest = tuple((t, p) for t, p in c.sections if t != SECTION_PLANES)
    if not rest:
        raise FormatError("image file holds only a source planes section")
    return Container(c.kind, c.size, c.model_id, c.model_digest, rest), planes


def apply_planes(rgb: np.ndarray, planes: Planes) -> np.ndarray:
    """Decoded (H, W, 3) colour -> the source's layout: (H, W) grey (channel mean, rounded),
    (H, W, 2) grey + alpha, (H, W, 4) RGBA, or `rgb` itself."""
    out = rgb
    if planes.gray:
        out = ((rgb.astype(np.uint16).sum(axis=2) + 1) // 3).astype(np.uint8)
    if planes.alpha is not None:
        out = np.dstack([out, planes.alpha])
    return np.ascontiguousarray(out)


def colour_of(image: np.ndarray) -> np.ndarray:
    """The (H, W, 3) colour of a decoded image in any of the layouts `apply_planes` gives."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    colour = image[:, :, :3] if image.shape[2] >= 3 else image[:, :, :1]
    return np.ascontiguousarray(np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour)
