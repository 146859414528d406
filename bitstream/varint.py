"""Unsigned LEB128 varints: 7 bits per byte, low bits first, high bit = "more follows".

Only the canonical (shortest) encoding is accepted, so every value has exactly one
byte form and a flipped continuation bit cannot silently yield the same number.
"""

from __future__ import annotations

from .errors import FormatError, TruncatedError

# 5 bytes hold 35 bits: enough for any length or dimension gcodec writes (< 2**32).
MAX_VARINT_BYTES = 5


def encode_uvarint(value: int) -> bytes:
    """Encode a non-negative int below 2**(7*MAX_VARINT_BYTES) as a canonical varint."""
    if value < 0:
        raise ValueError(f"varint must be non-negative, got {value}")
    if value >= 1 << (7 * MAX_VARINT_BYTES):
        raise ValueError(f"varint {value} exceeds {7 * MAX_VARINT_BYTES} bits")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_uvarint(data: bytes | memoryview, pos: int, what: str = "varint") -> tuple[int, int]:
    """Read one varint at `pos`; return (value, position after it).

    Raises TruncatedError when the data ends inside the varint and FormatError when
    it is longer than MAX_VARINT_BYTES or not in canonical (shortest) form.
    """
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise TruncatedError(f"file ends inside the {what}")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise FormatError(f"{what} is not minimally encoded")
            return value, pos + i + 1
    raise FormatError(f"{what} is longer than {MAX_VARINT_BYTES} bytes")
