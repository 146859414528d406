"""The one binary container every gcodec file uses (layout: bitstream/FORMAT.md).

A file is a small header (magic, version, payload kind, model id and digest,
original size) followed by tagged, length-prefixed sections. Each section ends with
a CRC32 of every byte of the file before that CRC, so the header and all earlier
sections are checked too. The reader validates every length and dimension against
the bytes left and fixed limits before using it, and turns every malformed input
into a one-line `GcodecError`.
"""

from __future__ import annotations

import enum
import re
import zlib
from dataclasses import dataclass

from .errors import FormatError, InputError, TruncatedError, UnsupportedError
from .varint import decode_uvarint, encode_uvarint

MAGIC = b"\xc7GC"  # non-ASCII first byte: text files and 7-bit mangling never match
FORMAT_VERSION = 1

MAX_DIM = 1 << 15  # per image side, pixels
MAX_FRAMES = 1 << 16
MAX_PIXELS = 1 << 28  # per frame (H * W); keeps decoders' buffers bounded
MAX_SECTIONS = 32
MAX_MODEL_ID = 64
NO_DIGEST = b"\0\0\0\0"
DIGEST_BYTES = 4
CRC_BYTES = 4

_MODEL_ID_RE = re.compile(r"[A-Za-z0-9._+-]*")


class PayloadKind(enum.IntEnum):
    GC_IMAGE = 1
    LABEL_MAP = 2
    SC_IMAGE = 3
    VIDEO = 4
    LAYERED_IMAGE = 5


_KIND_NAMES = {
    PayloadKind.GC_IMAGE: "GC image",
    PayloadKind.LABEL_MAP: "label map",
    PayloadKind.SC_IMAGE: "semantic image",
    PayloadKind.VIDEO: "video",
    PayloadKind.LAYERED_IMAGE: "layered image",
}


def size_rank(kind: PayloadKind) -> int:
    """Number of size dimensions a kind stores: (H, W) for images, (frames, H, W) for video."""
    return 3 if kind == PayloadKind.VIDEO else 2


def _size_problem(kind: PayloadKind, size: tuple[int, ...]) -> str | None:
    """Why `size` is not a valid original size for `kind`, or None when it is."""
    if len(size) != size_rank(kind):
        return f"{_KIND_NAMES[kind]} needs {size_rank(kind)} size values, got {len(size)}"
    *frames, height, width = size
    if frames and not 1 <= frames[0] <= MAX_FRAMES:
        return f"frame count {frames[0]} is outside 1..{MAX_FRAMES}"
    for name, value in (("height", height), ("width", width)):
        if not 1 <= value <= MAX_DIM:
            return f"{name} {value} is outside 1..{MAX_DIM}"
    if height * width > MAX_PIXELS:
        return f"{height}x{width} exceeds the {MAX_PIXELS}-pixel frame limit"
    return None


@dataclass(frozen=True)
class Container:
    """A parsed gcodec file: what it holds, for which model, and its raw sections."""

    kind: PayloadKind
    size: tuple[int, ...]  # (H, W) or (frames, H, W)
    model_id: str = ""
    model_digest: bytes = NO_DIGEST
    sections: tuple[tuple[int, bytes], ...] = ()  # (tag, payload); tags 0..255, unique

    def __post_init__(self) -> None:
        # Normalise cheap-to-fix types so equality and hashing behave.
        object.__setattr__(self, "kind", PayloadKind(self.kind))
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "model_digest", bytes(self.model_digest))
        object.__setattr__(
            self, "sections", tuple((int(tag), bytes(payload)) for tag, payload in self.sections)
        )
        problem = _size_problem(self.kind, self.size)
        if problem:  # an image or video too large for the format is the user's input
            raise InputError(problem)
        if len(self.model_id) > MAX_MODEL_ID or not _MODEL_ID_RE.fullmatch(self.model_id):
            raise ValueError(f"model id {self.model_id!r} must be <= {MAX_MODEL_ID} chars of [A-Za-z0-9._+-]")
        if len(self.model_digest) != DIGEST_BYTES:
            raise ValueError(f"model digest must be {DIGEST_BYTES} bytes, got {len(self.model_digest)}")
        if not self.model_id and self.model_digest != NO_DIGEST:
            raise ValueError("a model digest needs a model id")
        if not 1 <= len(self.sections) <= MAX_SECTIONS:
            raise ValueError(f"a container holds 1..{MAX_SECTIONS} sections, got {len(self.sections)}")
        tags = [tag for tag, _ in self.sections]
        if any(not 0 <= tag <= 255 for tag in tags) or len(set(tags)) != len(tags):
            raise ValueError(f"section tags must be unique bytes, got {tags}")

    def section(self, tag: int) -> bytes:
        """The payload of section `tag`; FormatError if the file lacks it."""
        for t, payload in self.sections:
            if t == tag:
                return payload
        raise FormatError(f"{_KIND_NAMES[self.kind]} file lacks section {tag}")

    def has_section(self, tag: int) -> bool:
        return any(t == tag for t, _ in self.sections)


def pack(c: Container) -> bytes:
    """Serialise a container to bytes (inverse of `unpack`)."""
    model_id = c.model_id.encode("ascii")
    out = bytearray(MAGIC)
    out += bytes((FORMAT_VERSION, int(c.kind), len(model_id)))
    out += model_id
    if model_id:
        out += c.model_digest
    for value in c.size:
        out += encode_uvarint(value)
    out.append(len(c.sections))
    crc = 0
    done = 0  # bytes of `out` already folded into crc
    for tag, payload in c.sections:
        out.append(tag)
        out += encode_uvarint(len(payload))
        out += payload
        crc = zlib.crc32(memoryview(out)[done:], crc)
        out += crc.to_bytes(CRC_BYTES, "little")
        done = len(out) - CRC_BYTES  # the CRC field itself is covered by the next CRC
    return bytes(out)


def _check_magic_version_kind(data: bytes | memoryview) -> PayloadKind:
    head = bytes(data[: len(MAGIC)])
    if head != MAGIC[: len(head)]:
        raise FormatError("not a gcodec file (bad magic bytes)")
    if len(data) < len(MAGIC) + 2:
        raise TruncatedError("file ends inside the header")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise UnsupportedError(f"gcodec format version {version} is not supported (this build reads {FORMAT_VERSION})")
    kind = data[len(MAGIC) + 1]
    try:
        return PayloadKind(kind)
    except ValueError:
        raise UnsupportedError(f"unknown payload kind {kind}") from None


def peek_kind(data: bytes | memoryview) -> PayloadKind:
    """Check magic, version and kind only; cheap dispatch before a full `unpack`."""
    return _check_magic_version_kind(data)


def unpack(data: bytes | bytearray | memoryview) -> Container:
    """Parse and fully verify a gcodec file; any defect raises a GcodecError subclass."""
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    kind = _check_magic_version_kind(view)
    pos = len(MAGIC) + 2

    if pos >= len(view):
        raise TruncatedError("file ends before the model id")
    id_len = view[pos]
    pos += 1
    if id_len > MAX_MODEL_ID:
        raise FormatError(f"model id length {id_len} exceeds {MAX_MODEL_ID}")
    if pos + id_len > len(view):
        raise TruncatedError("file ends inside the model id")
    raw_id = bytes(view[pos : pos + id_len])
    pos += id_len
    try:
        model_id = raw_id.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("model id is not ASCII") from None
    if not _MODEL_ID_RE.fullmatch(model_id):
        raise FormatError(f"model id {model_id!r} has characters outside [A-Za-z0-9._+-]")
    digest = NO_DIGEST
    if id_len:
        if pos + DIGEST_BYTES > len(view):
            raise TruncatedError("file ends inside the model digest")
        digest = bytes(view[pos : pos + DIGEST_BYTES])
        pos += DIGEST_BYTES

    size = []
    for name in ("frame count", "height", "width")[3 - size_rank(kind) :]:
        value, pos = decode_uvarint(view, pos, name)
        size.append(value)
    problem = _size_problem(kind, tuple(size))
    if problem:
        raise FormatError(f"implausible size: {problem}")

    if pos >= len(view):
        raise TruncatedError("file ends before the section count")
    n_sections = view[pos]
    pos += 1
    if not 1 <= n_sections <= MAX_SECTIONS:
        raise FormatError(f"section count {n_sections} is outside 1..{MAX_SECTIONS}")

    sections: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    crc = 0
    done = 0
    for i in range(n_sections):
        if pos >= len(view):
            raise TruncatedError(f"file ends before section {i + 1} of {n_sections}")
        tag = view[pos]
        length, pos = decode_uvarint(view, pos + 1, f"length of section {i + 1}")
        left = len(view) - pos
        if length + CRC_BYTES > left:  # checked before any slicing or copying
            raise TruncatedError(f"section {i + 1} (tag {tag}) claims {length} bytes but only {left} remain")
        end = pos + length
        crc = zlib.crc32(view[done:end], crc)
        stored = int.from_bytes(view[end : end + CRC_BYTES], "little")
        if stored != crc:
            raise FormatError(f"checksum mismatch in section {i + 1} (tag {tag}): the file is corrupted")
        if tag in seen:
            raise FormatError(f"section tag {tag} appears twice")
        seen.add(tag)
        sections.append((tag, bytes(view[pos:end])))
        done = end
        pos = end + CRC_BYTES
    if pos != len(view):
        raise FormatError(f"{len(view) - pos} bytes of trailing data after the last section")

    return Container(kind=kind, size=tuple(size), model_id=model_id, model_digest=digest, sections=tuple(sections))
