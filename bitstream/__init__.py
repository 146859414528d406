"""Bytes, symbols and probabilities: the container format and entropy coding.

This package never imports torch, so it can be read, tested and reused alone.
"""

from .container import (
    MAX_DIM,
    MAX_FRAMES,
    MAX_PIXELS,
    MAX_SECTIONS,
    Container,
    PayloadKind,
    pack,
    peek_kind,
    unpack,
)
from .entropy import (
    PRECISION,
    decode_categorical,
    decode_with_rows,
    encode_categorical,
    encode_with_rows,
    ideal_bits,
    quantize_pmf,
)
from .errors import FormatError, GcodecError, InputError, TruncatedError, UnsupportedError

__all__ = [
    "GcodecError",
    "FormatError",
    "TruncatedError",
    "UnsupportedError",
    "InputError",
    "Container",
    "PayloadKind",
    "pack",
    "unpack",
    "peek_kind",
    "MAX_DIM",
    "MAX_FRAMES",
    "MAX_PIXELS",
    "MAX_SECTIONS",
    "PRECISION",
    "quantize_pmf",
    "encode_categorical",
    "decode_categorical",
    "encode_with_rows",
    "decode_with_rows",
    "ideal_bits",
]
