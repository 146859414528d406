"""Classical baselines: each available codec round-trips small images and its rate falls with quality."""


import numpy as np
import pytest

from gcodec.bitstream.errors import InputError
from gcodec.codec.eval import classical
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.eval.protocol import CodecOutput

BASES = ["jpeg", "webp", "avif", "hevc", "av1", "vvc"]


# (generated images, so the tests need no data files)
def smooth_image(h: int, w: int, seed: int = 0, noise: float = 6.0) -> np.ndarray:
    """Colour gradients plus soft blobs and mild texture: compressible but not trivial."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fy, fx, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.3)
        img[..., c] = 128 + 70 * np.sin(2 * np.pi * fy * yy / h + ph) * np.cos(2 * np.pi * fx * xx / w)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, max(5, min(h, w) / 4))
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-60, 60, size=3)
    img += rng.normal(0, noise, size=img.shape)  # fine texture, so blur measurably lowers texture energy
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _available(names: list[str]) -> list[str]:
    return [n for n in names if classical.unavailable_reason(n) is None]


# lowest PSNR (dB) accepted at a codec's highest-quality setting on the 64x64 test image
MIN_PSNR_BEST = {"jpeg": 28, "webp": 27, "avif": 28, "hevc": 28, "av1": 28, "vvc": 27}


@pytest.mark.parametrize("name", _available(BASES))
def test_roundtrip_64_sane_and_rate_falls(name: str) -> None:
    x = smooth_image(64, 64, seed=5)
    codec = classical.get_codec(name)
    lo, hi = codec.settings[0], codec.settings[-1]
    data_hi, dec_hi = classical.roundtrip(name, x, hi)
    data_lo, dec_lo = classical.roundtrip(name, x, lo)
    for d in (dec_hi, dec_lo):
        assert d.shape == x.shape and d.dtype == np.uint8
    assert psnr(dec_hi, x) > MIN_PSNR_BEST[name]
    assert 12 < psnr(dec_lo, x) < psnr(dec_hi, x)
    assert 0 < len(data_lo) < len(data_hi)
    # the bytes alone decode to the same image (nothing is passed on the side)
    assert np.array_equal(codec.decode(data_hi), dec_hi)


FFMPEG_HQ = {"hevc": (classical.hevc_encode, classical.hevc_decode, 4),
             "av1": (classical.av1_encode, classical.av1_decode, 4),
             "vvc": (classical.vvc_encode, classical.vvc_decode, 4)}


@pytest.mark.parametrize("name", _available(list(FFMPEG_HQ)))
def test_ffmpeg_colour_path_is_faithful(name: str) -> None:
    # at near-lossless settings only the RGB<->YUV round trip is left: a wrong matrix or range costs >10 dB
    enc, dec, setting = FFMPEG_HQ[name]
    x = smooth_image(48, 64, seed=8, noise=0.0)  # 4:2:0 cannot keep per-channel noise
    assert psnr(dec(enc(x, setting)), x) > 38


@pytest.mark.parametrize("name", _available(BASES))
def test_odd_size_keeps_shape(name: str) -> None:
    x = smooth_image(37, 51, seed=6)
    codec = classical.get_codec(name)
    out = codec.run(x, codec.settings[-1])
    assert isinstance(out, CodecOutput)
    assert out.decoded.shape == x.shape
    assert out.num_bytes == len(out.data)
    assert out.encode_s >= 0 and out.decode_s >= 0
    assert psnr(out.decoded, x) > 20


@pytest.mark.parametrize("name", _available(["avif-ds2", "avif-ds4", "hevc-ds2", "vvc-ds4", "jpeg-ds2"]))
def test_downscaled_variants_smaller_and_same_size(name: str) -> None:
    x = smooth_image(67, 93, seed=7)
    base = name.split("-ds")[0]
    s = classical.get_codec(name).settings[-1]
    data_ds, dec_ds = classical.roundtrip(name, x, s)
    data_full, _ = classical.roundtrip(base, x, s)
    assert dec_ds.shape == x.shape
    assert len(data_ds) < len(data_full)
    assert psnr(dec_ds, x) > 18


def test_unknown_codec_is_input_error() -> None:
    with pytest.raises(InputError, match="unknown codec"):
        classical.get_codec("mpeg1")
    with pytest.raises(InputError):
        classical.roundtrip("nope", smooth_image(8, 8), 1)


def test_bad_image_is_input_error() -> None:
    with pytest.raises(InputError):
        classical.jpeg_encode(np.zeros((8, 8), np.uint8), 50)


def test_missing_ffmpeg_encoder_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classical, "ffmpeg_has_encoder", lambda name: name != "libvvenc")
    assert classical.unavailable_reason("vvc") == (
        "codec 'vvc' is not available: the bundled ffmpeg has no libvvenc encoder"
    )
    with pytest.raises(InputError, match="no libvvenc encoder"):
        classical.get_codec("vvc-ds2")
    assert classical.unavailable_reason("hevc") is None


def test_registry_settings_lowest_rate_first() -> None:
    # quality-style settings rise with rate, QP/CRF-style settings fall with it
    for name, c in classical.CODECS.items():
        assert len(c.settings) >= 5, name
        s = list(c.settings)
        assert s == sorted(s, reverse=c.setting_name in ("qp", "crf")), name
        assert c.setting_name in ("quality", "qp", "crf"), name
