"""Byte forms of the VIDEO payload's parts (numpy only): a byte reader, symbol
streams with their own fitted table, and low-precision float arrays.

Symbol stream: uvarint lo (zigzag), uvarint (hi - lo), then (hi - lo + 1) uvarints
(table entry - 1, a 12-bit table fitted to the histogram), then the ANS bytes of
`bitstream.entropy` to the end of the section. The symbol count is known from the
config, so it is not stored.
"""

from __future__ import annotations

import numpy as np

from ..bitstream.entropy import decode_categorical, encode_categorical, quantize_pmf
from ..bitstream.errors import FormatError, TruncatedError
from ..bitstream.varint import decode_uvarint, encode_uvarint

TABLE_PRECISION = 12
MAX_ALPHABET = 1 << 10


def zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def unzigzag(u: int) -> int:
    return u // 2 if u % 2 == 0 else -(u + 1) // 2


class Reader:
    """Sequential reads from one section; every overrun is a TruncatedError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def uvarint(self, name: str) -> int:
        value, self.pos = decode_uvarint(self.data, self.pos, f"{self.what} {name}")
        return value

    def take(self, n: int, name: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise TruncatedError(f"{self.what} ends inside {name}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def done(self) -> None:
        if self.pos != len(self.data):
            raise FormatError(f"{self.what} has {len(self.data) - self.pos} unexpected trailing bytes")


def pack_symbols(symbols: np.ndarray) -> bytes:
    """Entropy-code int symbols under a table fitted to their own histogram (table included)."""
    s = np.asarray(symbols, dtype=np.int64).ravel()
    if s.size == 0:
        return encode_uvarint(0) + encode_uvarint(0) + encode_uvarint(0)
    lo, hi = int(s.min()), int(s.max())
    if hi - lo >= MAX_ALPHABET:
        raise ValueError(f"symbol range {lo}..{hi} exceeds {MAX_ALPHABET} letters")
    counts = np.bincount(s - lo, minlength=hi - lo + 1).astype(np.float64)
    table = quantize_pmf(counts, TABLE_PRECISION)
    out = bytearray(encode_uvarint(zigzag(lo)) + encode_uvarint(hi - lo))
    for v in table:
        out += encode_uvarint(int(v) - 1)
    out += encode_categorical(s - lo, table[None], np.zeros(s.size, np.int64), TABLE_PRECISION)
    return bytes(out)


def unpack_symbols(data: bytes, count: int, what: str) -> np.ndarray:
    """Inverse of pack_symbols for `count` symbols; FormatError/TruncatedError on bad bytes."""
    r = Reader(data, what)
    lo = unzigzag(r.uvarint("symbol minimum"))
    span = r.uvarint("symbol range")
    if span >= MAX_ALPHABET:
        raise FormatError(f"{what}: symbol range {span + 1} exceeds {MAX_ALPHABET}")
    table = np.array([r.uvarint("table entry") + 1 for _ in range(span + 1)], dtype=np.int64)
    if table.sum() != 1 << TABLE_PRECISION:
        raise FormatError(f"{what}: probability table does not sum to 2**{TABLE_PRECISION}")
    sym = decode_categorical(r.rest(), table[None], np.zeros(count, np.int64), TABLE_PRECISION)
    return sym + lo


def pack_f16(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<f2").tobytes()


def unpack_f16(r: Reader, n: int, name: str) -> np.ndarray:
    arr = np.frombuffer(r.take(2 * n, name), dtype="<f2").astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise FormatError(f"{r.what}: {name} holds non-finite values")
    return arr
