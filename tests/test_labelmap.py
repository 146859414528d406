"""Label-map codec: exact round trips, a real map, corrupt and truncated payloads."""

from __future__ import annotations

import functools
import importlib.util
import signal
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gcodec.bitstream.errors import FormatError, GcodecError, InputError, UnsupportedError
from gcodec.bitstream.labelmap import decode_labelmap, encode_labelmap
from gcodec.bitstream.labelmap.coding import Adaptive, adaptive_rows

FIXTURE = Path(__file__).parent / "fixtures" / "labelmap_camvid_0016E5_07959.png"
PIXEL_REF = Path(__file__).parents[1] / "scripts" / "labelmap_pixel_ref.py"  # lives with its benchmark


def _roundtrip(x: np.ndarray) -> bytes:
    data = encode_labelmap(x)
    y = decode_labelmap(data, *x.shape)
    assert y.dtype == np.uint8 and y.shape == x.shape
    np.testing.assert_array_equal(y, x)
    return data


# ---- synthetic maps ---------------------------------------------------------------


@st.composite
def label_maps(draw: st.DrawFn) -> np.ndarray:
    h = draw(st.integers(1, 64))
    w = draw(st.integers(1, 64))
    kind = draw(st.sampled_from(["rects", "blobs", "single", "noise", "checker", "stripes"]))
    n_cls = draw(st.sampled_from([2, 3, 12, 34, 256]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "single":
        return np.full((h, w), rng.integers(0, n_cls), np.uint8)
    if kind == "noise":
        return rng.integers(0, n_cls, (h, w)).astype(np.uint8)
    if kind == "checker":
        a, b = rng.choice(n_cls, 2, replace=False) if n_cls > 1 else (0, 1)
        return np.where(np.indices((h, w)).sum(0) % 2 == 0, a, b).astype(np.uint8)
    if kind == "stripes":
        period = int(rng.integers(1, 5))
        return (rng.integers(0, n_cls, max(h, w))[(np.arange(w) // period) % max(h, w)][None, :]
                .repeat(h, 0).astype(np.uint8))
    x = np.full((h, w), rng.integers(0, n_cls), np.uint8)
    for _ in range(int(rng.integers(1, 12))):
        if kind == "rects":
            r0, r1 = np.sort(rng.integers(0, h + 1, 2))
            c0, c1 = np.sort(rng.integers(0, w + 1, 2))
            x[r0:r1, c0:c1] = rng.integers(0, n_cls)
        else:  # blobs: discs with ragged edges, holes and islands inside each other
            cy, cx = rng.integers(0, h), rng.integers(0, w)
            rad = rng.uniform(0.5, max(h, w) / 2)
            yy, xx = np.indices((h, w))
            d = np.hypot(yy - cy, xx - cx) + rng.uniform(0, 1.5, (h, w))
            x[d < rad] = rng.integers(0, n_cls)
    return x


@settings(max_examples=300, deadline=None)
@given(label_maps())
def test_roundtrip_synthetic(x: np.ndarray) -> None:
    _roundtrip(x)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (1, 97), (97, 1), (2, 2), (3, 3)])
def test_roundtrip_thin_and_tiny(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for n_cls in (1, 2, 256):
        _roundtrip(rng.integers(0, n_cls, shape).astype(np.uint8))


def test_worst_cases() -> None:
    yy, xx = np.indices((64, 64))
    _roundtrip(((yy + xx) % 2).astype(np.uint8))  # every vertex a 4-way junction
    _roundtrip(np.arange(64 * 64, dtype=np.int64).reshape(64, 64).astype(np.uint8))  # 256 ids
    x = np.zeros((40, 40), np.uint8)
    x[1:-1:2, 1:-1:2] = 255  # single-pixel islands everywhere
    _roundtrip(x)
    spiral = np.zeros((41, 41), np.uint8)  # one long thin winding region
    r0, r1, c0, c1 = 0, 40, 0, 40
    while r0 <= r1 and c0 <= c1:
        spiral[r0, c0 : c1 + 1] = 1
        spiral[r0 : r1 + 1, c1] = 1
        if r0 + 2 <= r1:
            spiral[r1, c0 : c1 + 1] = 1
        if c0 + 2 <= c1:
            spiral[r0 + 2 : r1 + 1, c0] = 1
        r0, r1, c0, c1 = r0 + 2, r1 - 2, c0 + 2, c1 - 2
    _roundtrip(spiral)


def test_empty_and_deterministic() -> None:
    for shape in [(0, 0), (0, 5), (5, 0)]:
        _roundtrip(np.zeros(shape, np.uint8))
    x = np.random.default_rng(1).integers(0, 5, (30, 40)).astype(np.uint8)
    assert encode_labelmap(x) == encode_labelmap(x.copy())


def test_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        encode_labelmap(np.zeros((4, 4), np.int32))
    with pytest.raises(InputError):
        encode_labelmap(np.zeros((2, 2, 2), np.uint8))


# ---- the real map -----------------------------------------------------------------


def test_real_map_roundtrip_and_size() -> None:
    x = np.array(Image.open(FIXTURE))
    data = _roundtrip(x)
    # the PNG itself is 4090 bytes and lossless JPEG XL (effort 9) 2173; the chain code
    # needs about half of JPEG XL: a regression in the context models shows up here
    assert len(data) < 1300, len(data)


# ---- adaptive models --------------------------------------------------------------


def test_vectorised_adaptive_rows_match_sequential() -> None:
    rng = np.random.default_rng(2)
    init = rng.integers(0, 3, (5, 4)).astype(float)
    init[:, 0] = 1.0
    ctx = rng.integers(0, 5, 400)
    sym = rng.integers(0, 4, 400)
    sym[init[ctx, sym] == 0] = 0
    rows = adaptive_rows(init, 2.0, ctx, sym)
    model = Adaptive(init, 2.0)
    for i in range(len(ctx)):
        assert np.array_equal(rows[i], model.row(ctx[i])[0])  # bit-identical, not close
        model.update(ctx[i], sym[i])


# ---- corrupt data -----------------------------------------------------------------


class _Alarm:
    """Fail instead of hanging if a decoder loop ever runs away."""

    def __enter__(self) -> None:
        signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(20)

    def __exit__(self, *exc: object) -> None:
        signal.alarm(0)

    @staticmethod
    def _fire(*_: object) -> None:
        raise AssertionError("decoder did not terminate")


def _decode_or_error(data: bytes, h: int, w: int) -> None:
    try:
        y = decode_labelmap(data, h, w)
    except GcodecError:
        return
    assert y.shape == (h, w) and y.dtype == np.uint8


def test_truncated_and_corrupted() -> None:
    x = np.array(Image.open(FIXTURE))[:120, :160]
    data = encode_labelmap(x)
    rng = np.random.default_rng(3)
    with _Alarm():
        for cut in sorted(set(rng.integers(0, len(data), 40).tolist()) | {0, 1, 2, 3}):
            _decode_or_error(data[:cut], *x.shape)
        for _ in range(150):
            bad = bytearray(data)
            for pos in rng.integers(2, len(data), rng.integers(1, 4)):
                bad[pos] ^= 1 << int(rng.integers(0, 8))
            _decode_or_error(bytes(bad), *x.shape)
        for _ in range(50):
            junk = bytes([1]) + rng.integers(0, 256, rng.integers(1, 300)).astype(np.uint8).tobytes()
            _decode_or_error(junk, int(rng.integers(1, 80)), int(rng.integers(1, 80)))


def test_truncation_is_noticed_somewhere() -> None:
    x = np.array(Image.open(FIXTURE))
    data = encode_labelmap(x)
    wrong = 0
    for cut in range(len(data) // 2, len(data) - 1, 37):
        try:
            wrong += not np.array_equal(decode_labelmap(data[:cut], *x.shape), x)
        except FormatError:
            wrong += 1
    assert wrong == len(range(len(data) // 2, len(data) - 1, 37))


def test_header_errors() -> None:
    with pytest.raises(FormatError):
        decode_labelmap(b"", 4, 4)
    with pytest.raises(FormatError):
        decode_labelmap(b"\x01", 4, 4)
    with pytest.raises(UnsupportedError):
        decode_labelmap(b"\x09\x00\x00\x00", 4, 4)
    with pytest.raises(FormatError):
        decode_labelmap(b"\x01\x00", -1, 4)
    with pytest.raises(FormatError):
        decode_labelmap(b"\x01\x00", 1 << 20, 1 << 20)


# ---- the pixel-coder reference used by the benchmark ------------------------------


@functools.cache
def _pixel_ref() -> ModuleType:
    spec = importlib.util.spec_from_file_location("labelmap_pixel_ref", PIXEL_REF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=40, deadline=None)
@given(label_maps())
def test_pixel_reference_roundtrip(x: np.ndarray) -> None:
    ref = _pixel_ref()
    np.testing.assert_array_equal(ref.decode_pixel_ref(ref.encode_pixel_ref(x), *x.shape), x)
