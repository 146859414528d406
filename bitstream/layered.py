"""The layered-image section (payload kind 5), byte by byte (bitstream/FORMAT.md).

One section, tag 1, so the container adds a single tag, length and CRC:

    byte 0      bits 7-6: log2 of the base scale (0, 1, 2 -> 1, 1/2, 1/4; 3 is invalid)
                bits 5-0: the base stream's QP (informational: the stream carries its own)
    byte 1      bit 7: band gains follow; bit 6: the base stream's parameter sets are implied;
                bit 5: a fine grain code follows (only with bit 7); bit 4: 0 (reserved);
                bits 3-0: coded latent channels k
    2 bytes     only with bit 7: the encoder's band gains (fine << 4 | mid, coarse << 4), each a
                4-bit code c for a gain of c / 4 (GAIN_STEP)
    1 byte      only with bit 5: the fine grain code (bitstream/grain.py; 0: no grain)
    varint      n: length of the base stream
    n bytes     the raw VVC intra stream (Annex-B, 10-bit 4:2:0, padded to multiples of 8); with bit 6,
                without the AUD, SPS and PPS that vvc_params rebuilds from the coded size
    the rest    the first k latent channels, ANS-coded under the model's per-channel tables
                (empty when k = 0); channels from k on decode as the middle level

The base picture's size follows from the header's (H, W) and the scale; the latents'
from (H, W) padded up to multiples of 32.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import vvc_params
from .errors import FormatError, TruncatedError
from .grain import MAX_GRAIN_CODE
from .varint import decode_uvarint, encode_uvarint

SECTION = 1
SCALE_CODES = {1: 0, 2: 1, 4: 2}
MAX_CHANNELS = 15
GAINS_FLAG = 0x80  # byte 1: band gains follow
IMPLIED_FLAG = 0x40  # byte 1: the base stream's parameter sets are left out
GRAIN_FLAG = 0x20  # byte 1: a fine grain code follows the band gains
GAIN_STEP = 0.25  # a gain code c means a gain of c * GAIN_STEP
MAX_GAIN_CODE = 15


@dataclass(frozen=True)
class LayeredPayload:
    scale: int  # 1, 2 or 4
    qp: int  # 0..63
    channels: int  # coded latent channels k, 0..15
    base: bytes  # raw VVC stream
    latents: bytes  # ANS payload of the k channels
    # the encoder's band gains (fine, mid, coarse) as codes 0..15 (gain = code * GAIN_STEP), or None
    gains: tuple[int, int, int] | None = None
    grain: int | None = None  # the encoder's fine grain code 0..255 (0: no grain), None: no byte
    # bytes of the base stream the file left out (its parameter sets, rebuilt at decode)
    implied_bytes: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.scale not in SCALE_CODES:
            raise ValueError(f"base scale must be 1, 2 or 4, got {self.scale}")
        if not 0 <= self.qp <= 63 or not 0 <= self.channels <= MAX_CHANNELS:
            raise ValueError(f"QP {self.qp} or channel count {self.channels} out of range")
        if not self.base:
            raise ValueError("the base stream is empty")
        if self.gains is not None and (len(self.gains) != 3 or not all(0 <= g <= MAX_GAIN_CODE for g in self.gains)):
            raise ValueError(f"band gain codes must be three numbers in 0..{MAX_GAIN_CODE}, got {self.gains}")
        if self.grain is not None and (self.gains is None or not 0 <= self.grain <= MAX_GRAIN_CODE):
            raise ValueError(f"a grain code needs band gains and must be in 0..{MAX_GRAIN_CODE}, got {self.grain}")


def coded_base_size(size: tuple[int, int], scale: int) -> tuple[int, int]:
    """(width, height) of the coded base picture of an (H, W) image: ceil(H/s), ceil(W/s) padded
    up to multiples of 8."""
    h, w = -(-size[0] // scale), -(-size[1] // scale)
    return -(-w // 8) * 8, -(-h // 8) * 8


def pack_payload(p: LayeredPayload, size: tuple[int, int], imply_parameter_sets: bool = True) -> bytes:
    """The section for an (H, W) image; the base's parameter sets are left out when the
    decoder's rebuild gives them back byte for byte (and `imply_parameter_sets`)."""
    stripped = vvc_params.strip_parameter_sets(p.base, *coded_base_size(size, p.scale)) if imply_parameter_sets else None
    base = p.base if stripped is None else stripped
    flags = ((GAINS_FLAG if p.gains is not None else 0) | (IMPLIED_FLAG if stripped is not None else 0)
             | (GRAIN_FLAG if p.grain is not None else 0))
    head = bytes([(SCALE_CODES[p.scale] << 6) | p.qp, p.channels | flags])
    if p.gains is not None:
        head += bytes([p.gains[0] << 4 | p.gains[1], p.gains[2] << 4])
    if p.grain is not None:
        head += bytes([p.grain])
    return head + encode_uvarint(len(base)) + base + p.latents


def unpack_payload(data: bytes, size: tuple[int, int]) -> LayeredPayload:
    """Parse the section of an (H, W) image, base stream made whole; FormatError / TruncatedError
    for anything malformed."""
    if len(data) < 3:
        raise TruncatedError("layered image section ends inside its header")
    code, channels, pos = data[0] >> 6, data[1] & 0x1F, 2  # without the three flags
    if code == 3:
        raise FormatError("layered image: invalid base scale code 3")
    if channels >> 4:
        raise FormatError(f"layered image: reserved bits set in byte 1 ({data[1]:#04x})")
    if data[1] & GRAIN_FLAG and not data[1] & GAINS_FLAG:
        raise FormatError("layered image: a fine grain code without band gains")
    gains, grain = None, None
    if data[1] & GAINS_FLAG:
        if len(data) < 5:
            raise TruncatedError("layered image section ends inside its band gains")
        if data[3] & 15:
            raise FormatError(f"layered image: reserved bits set in the band gains ({data[3]:#04x})")
        gains, pos = (data[2] >> 4, data[2] & 15, data[3] >> 4), 4
    if data[1] & GRAIN_FLAG:
        if len(data) < 6:
            raise TruncatedError("layered image section ends inside its fine grain code")
        grain, pos = data[4], 5
    n, pos = decode_uvarint(data, pos, "base stream length")
    if n == 0:
        raise FormatError("layered image: the base stream is empty")
    if pos + n > len(data):
        raise TruncatedError(f"layered image: base stream claims {n} bytes but only {len(data) - pos} remain")
    latents = bytes(data[pos + n :])
    if channels == 0 and latents:
        raise FormatError(f"layered image: {len(latents)} latent bytes follow but no latent channel is coded")
    if channels and not latents:
        raise TruncatedError(f"layered image: {channels} latent channels are coded but their bytes are missing")
    scale = {v: k for k, v in SCALE_CODES.items()}[code]
    base = bytes(data[pos : pos + n])
    p = LayeredPayload(scale, data[0] & 63, channels, base, latents, gains, grain)
    if data[1] & IMPLIED_FLAG:
        whole = vvc_params.restore_parameter_sets(base, *coded_base_size(size, scale))
        p = replace(p, base=whole, implied_bytes=len(whole) - len(base))
    return p
