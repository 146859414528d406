"""Pillow support for .gcodec files, registered by `import gcodec`.

    im = Image.open("photo.gcodec")            # RGB / RGBA / L / LA images (as coded), L label maps
    im.realism = 0.8; im.load()                 # optional, layered/GC/SC images: decode-time realism
    im.save("copy.gcodec", model="gc-c3")       # same keywords as gcodec.encode (alpha="keep"|"drop" too)

Opening parses and checks the container without importing torch; pixels are decoded on `load()`
through codec/library.py, the code behind `gcodec.decode`. A damaged .gcodec file raises the
container's GcodecError rather than Pillow's UnidentifiedImageError: its message says what is wrong.
"""

from __future__ import annotations

from typing import IO, Any

from PIL import Image, ImageFile

from ..bitstream.container import MAGIC, Container, PayloadKind, peek_kind, unpack
from ..bitstream.planes import split_planes
from ..bitstream.errors import UnsupportedError

FORMAT = "GCODEC"
DECODER = "gcodec"
EXTENSION = ".gcodec"
MIME = "image/x-gcodec"  # not registered with IANA; the x- form is the convention for that


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(MAGIC)


class GcodecImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "gcodec learned image codec"
    realism: float | None = None  # images: set before load(); None is the model's default

    def _open(self) -> None:
        assert self.fp is not None
        data = self.fp.read()
        if peek_kind(data) == PayloadKind.VIDEO:
            raise UnsupportedError("a gcodec video is not an image: decode it with gcodec.decode or `gcodec decode`")
        c = unpack(data)  # whole-file check (lengths, CRCs); files are small
        height, width = c.size
        self._mode = _mode_of(c)
        self._size = (width, height)
        self.tile = [(DECODER, (0, 0, width, height), 0, (None,))]  # type: ignore[list-item]

    def load(self) -> Any:
        if self.tile:  # hand the realism chosen after open() to the decoder
            self.tile = [(t[0], t[1], t[2], (self.realism,)) for t in self.tile]  # type: ignore[misc]
        return super().load()


class GcodecDecoder(ImageFile.PyDecoder):
    _pulls_fd = True  # the codec needs the whole file at once

    def decode(self, buffer: Any) -> tuple[int, int]:
        from .library import decode

        assert self.fd is not None
        arr = decode(self.fd.read(), self.args[0], None)
        self.set_as_raw(arr.tobytes(), _MODES[1 if arr.ndim == 2 else arr.shape[2]])
        return -1, 0


_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # channels of a decoded array -> Pillow mode


def _mode_of(c: Container) -> str:
    """The decoded mode, read from the container (no torch): the source-planes section says grey / alpha."""
    if c.kind == PayloadKind.LABEL_MAP:
        return "L"
    planes = split_planes(c)[1]
    return _MODES[(1 if planes.gray else 3) + (planes.alpha is not None)]


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from .library import encode

    opts = dict(im.encoderinfo)
    fp.write(encode(im, opts.pop("model", None), opts.pop("bpp", None), opts.pop("size", None), opts))


def register() -> None:
    """Make Image.open / Image.save know .gcodec files (idempotent)."""
    Image.register_open(FORMAT, GcodecImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, EXTENSION)
    Image.register_mime(FORMAT, MIME)
    Image.register_decoder(DECODER, GcodecDecoder)
