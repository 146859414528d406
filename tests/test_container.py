"""The container format: round trips and every kind of broken input."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcodec.bitstream.container import (
    MAGIC,
    MAX_DIM,
    MAX_FRAMES,
    Container,
    PayloadKind,
    pack,
    peek_kind,
    unpack,
)
from gcodec.bitstream.errors import FormatError, GcodecError, InputError, TruncatedError, UnsupportedError
from gcodec.bitstream.varint import decode_uvarint, encode_uvarint


def _sample() -> Container:
    return Container(
        kind=PayloadKind.GC_IMAGE,
        size=(512, 768),
        model_id="gc-lo.v1",
        model_digest=b"\x12\x34\x56\x78",
        sections=((1, b"\x08\x30\x20"), (2, bytes(range(200)))),
    )


def _header(kind: int = 1, version: int = 1, model_id: bytes = b"", size: bytes = b"\x02\x03") -> bytes:
    """Hand-built header up to and including the size (no section count)."""
    digest = b"\0\0\0\0" if model_id else b""
    return MAGIC + bytes((version, kind, len(model_id))) + model_id + digest + size


def _with_sections(head: bytes, sections: list[tuple[int, bytes]]) -> bytes:
    """Append a section count and correctly chained-CRC sections to a raw header."""
    out = bytearray(head) + bytes((len(sections),))
    for tag, payload in sections:
        out += bytes((tag,)) + encode_uvarint(len(payload)) + payload
        out += zlib.crc32(out).to_bytes(4, "little")
    return bytes(out)


def test_round_trip_all_kinds() -> None:
    for kind, size in [
        (PayloadKind.GC_IMAGE, (512, 768)),
        (PayloadKind.LABEL_MAP, (1, 1)),
        (PayloadKind.SC_IMAGE, (MAX_DIM, 8)),
        (PayloadKind.VIDEO, (MAX_FRAMES, 96, 160)),
    ]:
        c = Container(kind=kind, size=size, sections=((3, b""), (0, b"abc")))
        assert unpack(pack(c)) == c
        assert peek_kind(pack(c)) == kind
    c = _sample()
    assert unpack(pack(c)) == c
    assert unpack(bytearray(pack(c))) == c
    assert unpack(memoryview(pack(c))) == c


def test_overhead_is_small() -> None:
    sections = ((1, b"x" * 20), (2, b"y" * 1000))
    no_model = Container(PayloadKind.LABEL_MAP, (512, 768), sections=sections)
    assert len(pack(no_model)) - 1020 == 24
    with_model = Container(PayloadKind.GC_IMAGE, (512, 768), "gc-lo.v1", b"abcd", sections)
    assert len(pack(with_model)) - 1020 == 24 + 8 + 4


def test_hand_built_file_matches_pack() -> None:
    # Pins the documented byte layout (FORMAT.md), not just pack/unpack agreement.
    head = _header(kind=2, size=encode_uvarint(300) + encode_uvarint(5))
    raw = _with_sections(head, [(7, b"hello")])
    assert raw == pack(Container(PayloadKind.LABEL_MAP, (300, 5), sections=((7, b"hello"),)))
    assert unpack(raw).section(7) == b"hello"


def test_section_lookup() -> None:
    c = unpack(pack(_sample()))
    assert c.section(2) == bytes(range(200))
    assert c.has_section(1) and not c.has_section(9)
    with pytest.raises(FormatError, match="lacks section 9"):
        c.section(9)


def test_truncation_at_every_length() -> None:
    data = pack(_sample())
    for n in range(len(data)):
        with pytest.raises(GcodecError):
            unpack(data[:n])
    # Cutting inside the sections is reported as truncation, not as something vaguer.
    with pytest.raises(TruncatedError):
        unpack(data[:-1])


def test_bit_flip_at_every_byte() -> None:
    data = pack(_sample())
    for i in range(len(data)):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            with pytest.raises(GcodecError):
                unpack(bytes(bad))


def test_payload_flip_is_a_checksum_error() -> None:
    data = bytearray(pack(_sample()))
    data[-10] ^= 0x40
    with pytest.raises(FormatError, match="checksum"):
        unpack(bytes(data))


def test_wrong_magic() -> None:
    for bad in (b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xc7GX\x01\x01"):
        with pytest.raises(FormatError):
            unpack(bad)
    with pytest.raises(FormatError, match="magic"):
        peek_kind(b"\x89PNG\r\n")


def test_unknown_version_and_kind() -> None:
    data = bytearray(pack(_sample()))
    data[3] = 2
    with pytest.raises(UnsupportedError, match="version 2"):
        unpack(bytes(data))
    with pytest.raises(UnsupportedError):
        peek_kind(bytes(data))
    data[3] = 1
    for kind in (0, 6, 255):
        data[4] = kind
        with pytest.raises(UnsupportedError, match=f"kind {kind}"):
            unpack(bytes(data))


@pytest.mark.parametrize(
    "kind,size",
    [
        (1, encode_uvarint(MAX_DIM + 1) + encode_uvarint(5)),
        (1, encode_uvarint(0) + encode_uvarint(5)),
        (3, encode_uvarint(5) + encode_uvarint(1 << 34)),
        (1, encode_uvarint(MAX_DIM) + encode_uvarint(MAX_DIM)),  # too many pixels
        (4, encode_uvarint(MAX_FRAMES + 1) + encode_uvarint(5) + encode_uvarint(5)),
        (4, encode_uvarint(0) + encode_uvarint(5) + encode_uvarint(5)),
    ],
)
def test_absurd_dimensions(kind: int, size: bytes) -> None:
    raw = _with_sections(_header(kind=kind, size=size), [(1, b"x")])
    with pytest.raises(FormatError, match="implausible size"):
        unpack(raw)


def test_absurd_dimensions_rejected_at_construction() -> None:
    with pytest.raises(InputError):
        Container(PayloadKind.GC_IMAGE, (MAX_DIM + 1, 4), sections=((1, b""),))
    with pytest.raises(InputError):
        Container(PayloadKind.VIDEO, (4, 4), sections=((1, b""),))


def test_huge_claimed_section_length() -> None:
    # Claims ~2**35 bytes with 6 left: must fail on the length check, not on allocation.
    raw = _header() + b"\x01" + b"\x01" + b"\xff\xff\xff\xff\x7f" + b"abcdef"
    with pytest.raises(TruncatedError, match="claims"):
        unpack(raw)


def test_structural_errors() -> None:
    good = [(1, b"a"), (2, b"b")]
    with pytest.raises(FormatError, match="twice"):
        unpack(_with_sections(_header(), [(1, b"a"), (1, b"b")]))
    with pytest.raises(FormatError, match="trailing"):
        unpack(_with_sections(_header(), good) + b"\0")
    with pytest.raises(FormatError, match="section count"):
        unpack(_with_sections(_header(), []))
    with pytest.raises(FormatError, match="model id"):
        unpack(_with_sections(_header(model_id=b"bad id"), good))
    with pytest.raises(FormatError, match="model id"):
        unpack(_with_sections(_header(model_id=b"\xff"), good))
    with pytest.raises(FormatError, match="minimally"):
        unpack(_with_sections(_header(size=b"\x82\x00\x03"), good))


def test_constructor_rejects_programming_errors() -> None:
    with pytest.raises(ValueError):
        Container(PayloadKind.GC_IMAGE, (4, 4))  # no sections
    with pytest.raises(ValueError):
        Container(PayloadKind.GC_IMAGE, (4, 4), sections=((1, b""), (1, b"")))
    with pytest.raises(ValueError):
        Container(PayloadKind.GC_IMAGE, (4, 4), sections=((256, b""),))
    with pytest.raises(ValueError):
        Container(PayloadKind.GC_IMAGE, (4, 4), model_id="é", sections=((1, b""),))
    with pytest.raises(ValueError):
        Container(PayloadKind.GC_IMAGE, (4, 4), model_digest=b"abcd", sections=((1, b""),))


def test_varint_round_trip_and_limits() -> None:
    for v in (0, 1, 127, 128, 16383, 16384, (1 << 35) - 1):
        enc = encode_uvarint(v)
        assert decode_uvarint(enc + b"zz", 0) == (v, len(enc))
    with pytest.raises(ValueError):
        encode_uvarint(1 << 35)
    with pytest.raises(TruncatedError):
        decode_uvarint(b"\x80", 0)
    with pytest.raises(FormatError):
        decode_uvarint(b"\x80\x80\x80\x80\x80\x01", 0)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(list(PayloadKind)),
    dims=st.lists(st.integers(1, 4096), min_size=3, max_size=3),
    model_id=st.text(alphabet="abcXYZ019._+-", max_size=64),
    digest=st.binary(min_size=4, max_size=4),
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    tag_seed=st.integers(0, 255),
)
def test_round_trip_random(
    kind: PayloadKind, dims: list[int], model_id: str, digest: bytes, payloads: list[bytes], tag_seed: int
) -> None:
    size = tuple(dims[: 3 if kind == PayloadKind.VIDEO else 2])
    tags = [(tag_seed + 37 * i) % 256 for i in range(len(payloads))]
    c = Container(kind, size, model_id, digest if model_id else b"\0\0\0\0", tuple(zip(tags, payloads)))
    data = pack(c)
    assert unpack(data) == c
    assert peek_kind(data) == kind
    for tag, payload in zip(tags, payloads):
        assert c.section(tag) == payload


@settings(max_examples=200, deadline=None)
@given(prefix_len=st.integers(0, 60), junk=st.binary(max_size=80))
def test_random_garbage_never_escapes(prefix_len: int, junk: bytes) -> None:
    data = pack(_sample())[:prefix_len] + junk
    try:
        unpack(data)
    except GcodecError:
        pass
