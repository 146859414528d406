"""What the rate-distortion harness needs from a codec, classical or learned.

A codec is anything with `name`, `settings` (a list, lowest rate first by convention) and
`run(image, setting)`, which encodes a uint8 RGB HxWx3 image and decodes it again. `run`
returns either a `CodecOutput` (with encode/decode timings if the codec can split them) or a
plain `(bytes_or_len, decoded)` tuple; `as_output` turns either into a `CodecOutput`.
gcodec's own models plug into `evaluate(..., extra_codecs={name: codec})` this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ...bitstream.errors import InputError


@dataclass
class CodecOutput:
    """One encode+decode: the whole file's size, the decoded image, and timings when known."""

    num_bytes: int
    decoded: np.ndarray
    data: bytes | None = None
    encode_s: float | None = None
    decode_s: float | None = None


@runtime_checkable
class Codec(Protocol):
    name: str
    settings: Sequence[Any]

    def run(self, image: np.ndarray, setting: Any) -> CodecOutput | tuple[bytes | int, np.ndarray]: ...


def as_output(result: CodecOutput | tuple[bytes | int, np.ndarray], codec_name: str) -> CodecOutput:
    """Normalise what `Codec.run` returned; the decoded image must be uint8 HxWx3."""
    if isinstance(result, CodecOutput):
        out = result
    else:
        try:
            data, decoded = result
        except (TypeError, ValueError):
            raise InputError(f"codec {codec_name!r}: run() must return CodecOutput or (bytes, decoded)") from None
        if isinstance(data, (bytes, bytearray, memoryview)):
            out = CodecOutput(num_bytes=len(data), decoded=decoded, data=bytes(data))
        else:
            out = CodecOutput(num_bytes=int(data), decoded=decoded)
    d = np.asarray(out.decoded)
    if d.dtype != np.uint8 or d.ndim != 3 or d.shape[2] != 3:
        raise InputError(f"codec {codec_name!r}: decoded image must be uint8 HxWx3, got {d.dtype} {d.shape}")
    out.decoded = d
    return out


@dataclass
class FunctionCodec:
    """Adapter: a plain `run(image, setting)` function plus its settings as a `Codec`."""

    name: str
    settings: Sequence[Any]
    fn: Any

    def run(self, image: np.ndarray, setting: Any) -> CodecOutput | tuple[bytes | int, np.ndarray]:
        return self.fn(image, setting)
