"""Label-map payloads: a class-id map <-> a container holding its lossless code."""

from __future__ import annotations

import numpy as np

from ..bitstream.container import Container, PayloadKind, pack
from ..bitstream.errors import InputError, UnsupportedError
from ..bitstream.labelmap import decode_labelmap, encode_labelmap

SECTION_LABELS = 1
# a single-channel PNG with at most this many distinct values is taken for a label map
AUTO_MAX_CLASSES = 64


def looks_like_labelmap(arr: np.ndarray) -> bool:
    return arr.ndim == 2 and len(np.unique(arr)) <= AUTO_MAX_CLASSES


def compress(labels: np.ndarray) -> bytes:
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError(f"a label map must be single-channel 8-bit, got {labels.dtype} {labels.shape}")
    h, w = labels.shape
    return pack(Container(PayloadKind.LABEL_MAP, (h, w), sections=((SECTION_LABELS, encode_labelmap(labels)),)))


def decompress(c: Container) -> np.ndarray:
    if c.kind != PayloadKind.LABEL_MAP:
        raise UnsupportedError(f"not a label-map file (payload kind {int(c.kind)})")
    h, w = c.size
    return decode_labelmap(c.section(SECTION_LABELS), h, w)
