"""Leave VVC's parameter sets out of a layered file, and put them back at decode time.

At 0.02 bpp a 768x512 base stream is about 1 KB, and some 190 bytes of it are the access-unit
delimiter, the SPS and the PPS that vvenc writes in front of the slice. With the encoder's fixed
settings (codec/layered/base.py) these depend only on the coded picture size, so the decoder can
rebuild them bit for bit from (width, height): the bits before and after the two size fields are
fixed templates, captured from this project's vvenc, and the level follows from the size (see
`level_idc`). The encoder only drops them when the rebuild reproduces its stream's own bytes
exactly (`strip_parameter_sets`), so a vvenc that writes other parameter sets gets a file that
keeps them, never a wrong one.
"""

from __future__ import annotations

from .errors import FormatError

START_CODE = b"\x00\x00\x00\x01"
IMPLIED = b"\x00\x00"  # the first two bytes of the next unit's start code (3 or 4 bytes)
AUD_NAL = bytes.fromhex("00a188")  # IRAP access unit, picture type I


def _hex_bits(hex_digits: str, count: int) -> str:
    return f"{int(hex_digits, 16):0{len(hex_digits) * 4}b}"[:count]


# The SPS and PPS as bit strings of their RBSP (NAL header included, emulation prevention removed)
# around their two ue(v) size fields; the stop bit and alignment are added when they are written.
# Captured from libvvenc 1.x in imageio-ffmpeg's ffmpeg (preset medium, -qpa 0, 10-bit 4:2:0, one
# intra picture); tests/test_vvc_params.py checks them against the ffmpeg at hand.
SPS_HEAD = _hex_bits("007900ad02008000008", 74)  # up to sps_pic_width_max_in_luma_samples
LEVEL_BITS = slice(40, 48)  # general_level_idc inside SPS_HEAD, filled in by level_idc
# From the height to the VUI payload, which starts byte-aligned (sps_vui_alignment_zero_bit).
SPS_BEFORE_VUI = _hex_bits(
    "1a801cdd36e991a4526f384d958c10209c00ca0c5842183110819220d487a3d5a92f249a92c9116a22f1126a22452444"
    "992224d4659210b5085e10bd5a92f25ea19418b100c5880810810102a102020690810102c408081104040b2080812101"
    "064081108102c8408122041a081241070832045a104908710d0972395ffa5d97f9c900000001000000191a6", 1116)
SPS_VUI = _hex_bits("bc05020205200", 49)  # the VUI payload and the SPS's last flags
PPS_HEAD = _hex_bits("0081000", 27)  # up to pps_pic_width_in_luma_samples
PPS_TAIL = _hex_bits("1120fd80", 31)

# Table A.2 of H.266: the largest luma sample rate of each level (general_level_idc = 16 x major + 3 x minor).
# vvenc picks the lowest level whose rate holds the picture at ffmpeg's default 25 frames a second.
_LEVEL_RATES = ((16, 552_960), (32, 3_686_400), (35, 7_372_800), (48, 16_588_800), (51, 33_177_600),
                (64, 66_846_720), (67, 133_693_440), (80, 267_386_880), (83, 534_773_760),
                (86, 1_069_547_520), (99, 2_139_095_040), (102, 4_278_190_080))
FRAME_RATE = 25
MAX_LUMA_SAMPLES = 35_651_584  # level 6.2's largest picture (Table A.1): no rebuild beyond it


def level_idc(width: int, height: int) -> int:
    rate = width * height * FRAME_RATE
    for idc, max_rate in _LEVEL_RATES:
        if rate <= max_rate:
            return idc
    return 255  # beyond level 6.2: vvenc's choice is unknown, so the rebuild will not match


def _escape(rbsp: bytes) -> bytes:
    """Insert emulation prevention bytes so no 00 00 0x (x <= 3) appears inside the unit."""
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _ue(value: int) -> str:
    code = bin(value + 1)[2:]
    return "0" * (len(code) - 1) + code


def _to_bytes(bits: str) -> bytes:
    bits += "1"  # rbsp_stop_one_bit, then alignment zeros
    bits += "0" * (-len(bits) % 8)
    return _escape(int(bits, 2).to_bytes(len(bits) // 8, "big"))


def build_sps(width: int, height: int) -> bytes:
    head = SPS_HEAD[: LEVEL_BITS.start] + f"{level_idc(width, height):08b}" + SPS_HEAD[LEVEL_BITS.stop :]
    bits = head + _ue(width) + _ue(height) + SPS_BEFORE_VUI
    return _to_bytes(bits + "0" * (-len(bits) % 8) + SPS_VUI)


def build_pps(width: int, height: int) -> bytes:
    return _to_bytes(PPS_HEAD + _ue(width) + _ue(height) + PPS_TAIL)


def parameter_sets(width: int, height: int) -> bytes:
    """What vvenc writes first for a width x height picture (multiples of 8): the AUD, SPS and PPS
    with four-byte start codes, and the two zero bytes that begin any start code after them."""
    units = (AUD_NAL, build_sps(width, height), build_pps(width, height))
    return b"".join(START_CODE + u for u in units) + IMPLIED


def strip_parameter_sets(stream: bytes, width: int, height: int) -> bytes | None:
    """The stream after `parameter_sets`, or None when it does not start with exactly those bytes
    (another vvenc, other settings): then the file keeps the whole stream."""
    if width * height > MAX_LUMA_SAMPLES:
        return None
    prefix = parameter_sets(width, height)
    return stream[len(prefix) :] if stream.startswith(prefix) and len(stream) > len(prefix) else None


def restore_parameter_sets(stripped: bytes, width: int, height: int) -> bytes:
    """The whole Annex-B stream from `strip_parameter_sets`' output, byte for byte."""
    if width % 8 or height % 8 or width <= 0 or height <= 0:
        raise FormatError(f"VVC base: coded size {width}x{height} is not a positive multiple of 8")
    if width * height > MAX_LUMA_SAMPLES:  # a genuine file of this size keeps its parameter sets
        raise FormatError(f"VVC base: implied parameter sets for a {width}x{height} picture, beyond VVC's "
                          f"largest level (6.2: {MAX_LUMA_SAMPLES} samples)")
    return parameter_sets(width, height) + stripped
