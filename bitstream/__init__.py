"""Bytes, symbols and probabilities: the container format and entropy coding.

This package never imports torch, so it can be read, tested and reused alone.
"""

from .errors import FormatError, GcodecError, InputError, TruncatedError, UnsupportedError

__all__ = ["GcodecError", "FormatError", "TruncatedError", "UnsupportedError", "InputError"]
