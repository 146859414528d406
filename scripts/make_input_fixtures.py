"""Make the small input-image fixtures of tests/test_image_input.py (tests/fixtures/inputs/).

    python scripts/make_input_fixtures.py

Every picture is a crop of the committed photo tests/fixtures/photo_200x168.png (or a grey /
alpha / 16-bit / CMYK / animated / ICC-tagged rendering of it), each a few KB. Pillow cannot write
16-bit colour PNGs or build an ICC profile other than sRGB, so this script writes those bytes itself:
a PNG with 16-bit samples, and an ICC v2 matrix/TRC profile with Adobe RGB (1998) primaries.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "inputs"
PHOTO = ROOT / "tests" / "fixtures" / "photo_200x168.png"


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def wide_gamut_icc() -> bytes:
    """An ICC v2 RGB display profile: Adobe RGB (1998) primaries (D50-adapted) and gamma 563/256."""
    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)

    name = b"gcodec test wide-gamut RGB\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(4) + bytes(4) + bytes(2) + bytes(1) + bytes(67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, 563) + bytes(2)
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
            (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)), (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text" + bytes(4) + b"public domain\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + bytes(4) + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ " + bytes(12) + b"acsp"
              + bytes(24) + bytes(4) + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + bytes(4) + bytes(16) + bytes(28))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def png16(rgb16: np.ndarray) -> bytes:
    """A 16-bit-per-sample RGB PNG (colour type 2, bit depth 16), filter 0 on every row."""
    h, w, _ = rgb16.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb16)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    crop = photo[60:92, 70:118]  # 32 x 48: rows, columns
    im = Image.fromarray(crop)
    grey = im.convert("L")
    yy, xx = np.mgrid[:32, :48]
    soft = np.clip(255 * (1.3 - np.hypot((yy - 15.5) / 14, (xx - 23.5) / 21)) / 0.6, 0, 255).astype(np.uint8)

    # EXIF orientation 6: the stored pixels are the upright picture turned 90 degrees anticlockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    im.transpose(Image.Transpose.ROTATE_90).save(OUT / "exif_rotate6.jpg", quality=95, exif=exif)
    grey.save(OUT / "grey.png")
    Image.fromarray(np.dstack([crop, soft]), "RGBA").save(OUT / "rgba_soft.png")
    Image.fromarray(np.dstack([np.asarray(grey), np.where(soft > 127, 255, 0).astype(np.uint8)]), "LA").save(
        OUT / "grey_alpha_binary.png")
    pal = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.save(OUT / "palette_transparent.png", transparency=int(np.asarray(pal)[0, 0]))
    # 16-bit samples that are not v * 257: the low byte carries information the reduction rounds away
    Image.fromarray(np.minimum(np.asarray(grey).astype(np.int64) * 257 + 100, 65535).astype(np.uint16)).save(
        OUT / "grey16.png")
    (OUT / "rgb16.png").write_bytes(png16(np.minimum(crop.astype(np.int64) * 257 + 100, 65535)))
    im.convert("CMYK").save(OUT / "cmyk.jpg", quality=95)
    im.save(OUT / "wide_gamut_icc.png", icc_profile=wide_gamut_icc())
    small = im.resize((24, 16), Image.Resampling.LANCZOS)
    frames = [small, small.transpose(Image.Transpose.FLIP_LEFT_RIGHT), small.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    frames[0].save(OUT / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(OUT / "animated.png", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(OUT / "animated.webp", save_all=True, append_images=frames[1:], duration=100, quality=50)
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
