"""Every kind of input image (issue 21, item 4), on the fixtures of scripts/make_input_fixtures.py."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image, ImageCms

import gcodec
from gcodec.bitstream.container import unpack
from gcodec.bitstream.errors import FormatError, InputError, InputWarning
from gcodec.bitstream.planes import (ALPHA_LABELMAP, ALPHA_LZMA, SECTION_PLANES, Planes, _alpha_candidates,
                                     pack_planes, unpack_planes)
from gcodec.codec.image_io import read_bytes, read_image

from .conftest import FIXTURES, make_tiny_gc, make_tiny_layered

INPUTS = FIXTURES / "inputs"


def load(name: str):
    return read_image(read_bytes(str(INPUTS / name)), name)


@pytest.fixture
def crop() -> np.ndarray:
    """The upright picture every fixture was made from (scripts/make_input_fixtures.py)."""
    return np.asarray(Image.open(FIXTURES / "photo_200x168.png").convert("RGB"))[60:92, 70:118]


def test_exif_orientation_is_applied(crop):
    raw = np.asarray(Image.open(INPUTS / "exif_rotate6.jpg"))
    assert raw.shape == (48, 32, 3)  # stored on its side
    src = load("exif_rotate6.jpg")
    assert src.rgb.shape == crop.shape
    assert np.abs(src.rgb.astype(int) - crop).mean() < 4  # JPEG q95 of the upright picture


def test_icc_profile_is_converted_to_srgb():
    im = Image.open(INPUTS / "wide_gamut_icc.png")
    raw = np.asarray(im.convert("RGB")).astype(int)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
    expected = np.asarray(ImageCms.profileToProfile(im, profile, ImageCms.createProfile("sRGB"), outputMode="RGB"))
    got = load("wide_gamut_icc.png").rgb
    assert np.array_equal(got, expected)
    # wide-gamut values mean more saturated sRGB ones: the channels spread further apart
    assert np.ptp(got.astype(int), axis=2).mean() > np.ptp(raw, axis=2).mean() + 3


def test_srgb_tagged_image_is_left_alone(crop):
    buf = io.BytesIO()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(crop).save(buf, "PNG", icc_profile=srgb)
    assert np.array_equal(read_image(buf.getvalue()).rgb, crop)


def test_cmyk_is_converted(crop):
    src = load("cmyk.jpg")
    assert src.rgb.shape == crop.shape and not src.gray and src.alpha is None
    assert np.array_equal(src.rgb, np.asarray(Image.open(INPUTS / "cmyk.jpg").convert("RGB")))
    assert np.abs(src.rgb.astype(int) - crop).mean() < 4


def test_16_bit_is_reduced_with_a_warning():
    for name in ("grey16.png", "rgb16.png"):
        with pytest.warns(InputWarning, match=f"{name}: 16-bit image reduced to 8 bits"):
            src = load(name)
        assert src.rgb.dtype == np.uint8
    grey = np.asarray(Image.open(INPUTS / "grey.png"))
    with pytest.warns(InputWarning):
        src = load("grey16.png")
    assert src.gray and np.array_equal(src.rgb[:, :, 0], grey)  # (v * 257 + 100 + 128) // 257 == v
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load("grey.png")  # an 8-bit image says nothing


@pytest.mark.parametrize("name", ["animated.gif", "animated.png", "animated.webp"])
def test_animated_images_are_refused_towards_the_video_path(name):
    with pytest.raises(InputError, match=r"animated image \(3 frames\).*video.*gcodec encode") as e:
        load(name)
    assert "\n" not in str(e.value)


def test_grey_alpha_and_palette_sources():
    assert load("grey.png").gray and load("grey.png").alpha is None
    la = load("grey_alpha_binary.png")
    assert la.gray and set(np.unique(la.alpha)) == {0, 255}
    rgba = load("rgba_soft.png")
    assert not rgba.gray and len(np.unique(rgba.alpha)) > 100
    pal = load("palette_transparent.png")
    assert not pal.gray and set(np.unique(pal.alpha)) == {0, 255} and pal.single is None
    assert load("rgba_soft.png").planes("drop") == Planes(gray=False, alpha=None)


def test_planes_section_round_trip_and_damage():
    alpha = np.asarray(Image.open(INPUTS / "rgba_soft.png"))[:, :, 3]
    for planes in (Planes(gray=True), Planes(alpha=alpha), Planes(gray=True, alpha=alpha > 127)):
        a = None if planes.alpha is None else planes.alpha.astype(np.uint8)
        planes = Planes(planes.gray, a)
        back = unpack_planes(pack_planes(planes, 32, 48), 32, 48)
        assert back.gray == planes.gray and (a is None) == (back.alpha is None)
        assert a is None or np.array_equal(back.alpha, a)
    # both alpha codes decode; the encoder keeps the smaller
    lm, lz = _alpha_candidates(alpha)
    assert lm[0] == ALPHA_LABELMAP and lz[0] == ALPHA_LZMA
    for body in (lm, lz):
        assert np.array_equal(unpack_planes(bytes([2]) + body, 32, 48).alpha, alpha)
    assert len(pack_planes(Planes(alpha=alpha), 32, 48)) == 1 + min(len(lm), len(lz))
    for bad in (b"", b"\x00", b"\x04", b"\x01\x00", b"\x02", b"\x02\x02" + lz[1:-3], b"\x02\x02" + lz[1:] + b"\x00"):
        with pytest.raises(gcodec.GcodecError):
            unpack_planes(bad, 32, 48)


def _encode_decode(tmp_path, model: str, name: str, **options):
    data = gcodec.encode(INPUTS / name, model=model, **options)
    return data, gcodec.decode(data)


@pytest.fixture
def weights(tmp_path, monkeypatch):
    from .test_sc_codec import make_tiny_sc

    wdir = tmp_path / "weights"
    make_tiny_gc(wdir)
    make_tiny_sc(wdir)
    make_tiny_layered(wdir)
    monkeypatch.setenv("GCODEC_WEIGHTS", str(wdir))
    return wdir


def test_grey_and_alpha_files_survive_gc(weights, tmp_path):
    data, out = _encode_decode(tmp_path, "tiny", "grey.png")
    assert out.shape == (32, 48) and gcodec.info(data)["gray"] is True
    data, out = _encode_decode(tmp_path, "tiny", "rgba_soft.png")
    alpha = np.asarray(Image.open(INPUTS / "rgba_soft.png"))[:, :, 3]
    assert out.shape == (32, 48, 4) and np.array_equal(out[:, :, 3], alpha)
    assert gcodec.info(data)["alpha"] is True and unpack(data).has_section(SECTION_PLANES)
    data, out = _encode_decode(tmp_path, "tiny", "grey_alpha_binary.png")
    assert out.shape == (32, 48, 2) and gcodec.info(data)["alpha_coding"] == "labelmap"
    data, out = _encode_decode(tmp_path, "tiny", "rgba_soft.png", alpha="drop")
    assert out.shape == (32, 48, 3) and not unpack(data).has_section(SECTION_PLANES)


def _soft_alpha(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h / 2) / (h / 2.2), (xx - w / 2) / (w / 2.2))
    return np.clip(255 * (1 - r) / 0.04, 0, 255).astype(np.uint8)  # a cut-out with a soft edge, ~3 px


def test_grey_and_alpha_arrays_survive_layered(weights, photo):
    # the layered codec's VVC base needs more than the 48x32 fixtures: the 200x168 photo as arrays
    grey = np.asarray(Image.fromarray(photo).convert("L"))
    out = gcodec.decode(gcodec.encode(grey, model="tiny-layered"))
    assert out.shape == grey.shape
    alpha = _soft_alpha(*grey.shape)
    data = gcodec.encode(np.dstack([photo, alpha]), model="tiny-layered", bpp=0.5)
    out = gcodec.decode(data)
    assert out.shape == (*grey.shape, 4) and np.array_equal(out[:, :, 3], alpha)
    assert abs(8 * len(data) / grey.size - 0.5) <= 0.025  # +-5%, the alpha section included
    grey_alpha = np.dstack([grey, np.where(alpha > 99, 255, 0).astype(np.uint8)])
    assert gcodec.decode(gcodec.encode(grey_alpha, model="tiny-layered")).shape == (*grey.shape, 2)


def test_layered_size_target_counts_the_alpha_plane(weights, photo):
    rgba = np.dstack([photo, _soft_alpha(*photo.shape[:2])])
    data = gcodec.encode(rgba, model="tiny-layered", size=3000)
    assert len(data) <= 3000 and unpack(data).has_section(SECTION_PLANES)
    with pytest.raises(InputError, match="alpha/grey section alone"):
        gcodec.encode(rgba, model="tiny-layered", size=50)


def test_sc_images_keep_grey_and_alpha(weights):
    from gcodec.codec.library import codec_for

    codec = codec_for("cpu")
    src = load("rgba_soft.png")
    labels = np.zeros((32, 48), np.uint8)
    data = codec.encode_semantic(src.rgb, labels, "tiny-sc", planes=Planes(gray=True, alpha=src.alpha))
    out = gcodec.decode(data)
    assert out.shape == (32, 48, 2) and np.array_equal(out[:, :, 1], src.alpha)
    assert gcodec.info(data)["section_names"][str(SECTION_PLANES)] == "source planes"


def test_old_readers_skip_or_refuse_the_section(weights):
    """What a reader without the section does (FORMAT.md, "Source planes"): GC and layered payload
    decoders ignore it (colour only), the SC decoder refuses it in one line."""
    from gcodec.codec import gc_codec, sc_codec
    from gcodec.codec.library import codec_for
    from gcodec.codec.registry import resolve_model

    codec = codec_for("cpu")
    src = load("rgba_soft.png")
    gc_file = unpack(codec.encode_image(src.rgb, "tiny", planes=Planes(alpha=src.alpha)))
    colour = gc_codec.decompress(codec.gc(resolve_model("tiny")), gc_file)
    assert colour.shape == (32, 48, 3) and np.array_equal(colour, gcodec.decode(codec.encode_image(src.rgb, "tiny")))
    sc_file = unpack(codec.encode_semantic(src.rgb, np.zeros((32, 48), np.uint8), "tiny-sc", planes=Planes(gray=True)))
    with pytest.raises(FormatError, match=r"unknown section tags \[16\]"):
        sc_codec.decompress(codec.sc(resolve_model("tiny-sc", kind="sc")), sc_file)


def test_pillow_plugin_matches_the_api(weights, tmp_path):
    f = tmp_path / "a.gcodec"
    with Image.open(INPUTS / "rgba_soft.png") as im:
        im.save(f, model="tiny")
    assert f.read_bytes() == gcodec.encode(INPUTS / "rgba_soft.png", model="tiny")
    with Image.open(f) as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im), gcodec.decode(f))
    with Image.open(INPUTS / "rgba_soft.png") as im:
        im.save(f, model="tiny", alpha="drop")
    with Image.open(f) as im:
        assert im.mode == "RGB"
    with Image.open(INPUTS / "grey.png") as im:
        im.save(f, model="tiny")
    with Image.open(f) as im:
        assert im.mode == "L" and im.size == (48, 32)
    with Image.open(INPUTS / "animated.gif") as im, pytest.raises(InputError, match="animated"):
        im.save(f, model="tiny")
