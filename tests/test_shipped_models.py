"""The weights in weights/ load, match their cards, and do their job on a real photo."""

import numpy as np
import pytest
import torch
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec, sc_codec, sc_selection
from gcodec.codec.api import Codec
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.eval.sc import masked_psnr, synthesis_measures
from gcodec.codec.registry import DEFAULT_IMAGE_MODEL, resolve_model, shipped_models

from .conftest import FIXTURES

PSNR_FLOOR = 20.0  # sc-camvid-c6 measured 23.08 dB on this photo (22.13 on the coded part with synthesis)


def test_every_shipped_model_has_an_honest_card():
    models = shipped_models()
    assert {m.kind for m in models} >= {"gc", "layered"}
    for m in models:
        assert m.path.stat().st_size < 50e6
        card = m.card
        assert card["sha256"] and card["bytes"] == m.path.stat().st_size
        training = card.get("training") or {}
        assert training.get("command") or card.get("training_command"), m.name


def test_default_model_on_a_real_photo():
    """The default (layered) model at its default rate: within +-5% of 0.05 bpp, trained weights."""
    from gcodec.codec.api import DEFAULT_LAYERED_BPP, Codec

    image = np.asarray(Image.open(FIXTURES / "sample_481x321.jpg").convert("RGB"))
    assert resolve_model(DEFAULT_IMAGE_MODEL).kind == "layered"
    codec = Codec(torch.device("cpu"))
    data = codec.encode_image(image, DEFAULT_IMAGE_MODEL)
    assert abs(8 * len(data) / (481 * 321) / DEFAULT_LAYERED_BPP - 1) <= 0.05
    faithful = codec.decode(data, realism=0.0)[1]
    default = codec.decode(data)[1]
    assert faithful.shape == image.shape
    # measured 32.23 dB at R = 0 and 31.76 at the default R = 0.1 on this (training-set) photo
    assert psnr(faithful, image) > 30.0
    assert psnr(faithful, image) - 1.0 < psnr(default, image) < psnr(faithful, image)


def test_gc_c6_on_a_real_photo():
    image = np.asarray(Image.open(FIXTURES / "sample_481x321.jpg").convert("RGB"))
    gc = gc_codec.load_gc(resolve_model("gc-c6", kind="gc"), torch.device("cpu"))
    data = gc_codec.compress(gc, image)
    bpp = 8 * len(data) / (481 * 321)
    assert 0.01 < bpp < 0.1
    out = gc_codec.decompress(gc, unpack(data))
    assert out.shape == image.shape
    # a trained model, not noise: measured 19-21 dB on photos at this rate
    assert psnr(out, image) > 17.0


@pytest.mark.parametrize("name", [m.name for m in shipped_models("gc")])
def test_gc_models_decode_tiny_images(name):
    gc = gc_codec.load_gc(resolve_model(name, kind="gc"), torch.device("cpu"))
    img = np.asarray(Image.open(FIXTURES / "urban_176.png").convert("RGB"))[:40, :50]
    out = gc_codec.decompress(gc, unpack(gc_codec.compress(gc, img)))
    assert out.shape == img.shape


def test_shipped_sc_model_on_a_real_street_scene():
    """The CamVid SC model on a CamVid val photo with its ground-truth map: a trained model that codes
    the latents under its context tables and skips synthesized cells."""
    models = shipped_models("sc")
    if not models:
        pytest.skip("no SC model shipped")
    sc = sc_codec.load_sc(models[0], torch.device("cpu"))
    image = np.asarray(Image.open(FIXTURES / "camvid_0016E5_07959.jpg").convert("RGB"))
    labels = np.asarray(Image.open(FIXTURES / "labelmap_camvid_0016E5_07959.png"))
    full = unpack(sc_codec.compress(sc, image, labels, []))
    assert sc.context_tables is not None and full.has_section(sc_codec.SECTION_CONTEXT_LATENTS)
    assert psnr(sc_codec.decompress(sc, full), image) > PSNR_FLOOR
    synth = unpack(sc_codec.compress(sc, image, labels, sc_selection.parse_classes("sky,tree,road", sc.class_names)))
    part = sc_codec.decode_parts(sc, synth)
    ratio = len(synth.section(sc_codec.SECTION_CONTEXT_LATENTS)) / len(full.section(sc_codec.SECTION_CONTEXT_LATENTS))
    assert 0 < part.heat.mean() < 0.8 and abs(ratio - part.heat.mean()) < 0.15
    plain = sc_codec.decompress(sc, synth)  # R = 0: the generator's image
    preserved = sc_codec.preserved_pixels(part.heat, *labels.shape)
    assert plain.shape == image.shape and masked_psnr(plain, image, preserved) > PSNR_FLOOR - 1.5
    codec = Codec(torch.device("cpu"))
    detail = codec.detail(sc.ref, None)
    assert detail is not None, f"no detail stage shipped for {sc.ref.name}"
    out = sc_codec.decompress(sc, synth, detail=detail)  # its default R
    assert np.array_equal(out[preserved], plain[preserved])
    # the stage draws detail there, not flat colour (R = 0: texture 0.006, tile repetition 0.40) or a 16-px
    # tile; measured 0.84 and -0.027 on this photo (the photo's own tile repetition: -0.007)
    flat, synthesized = synthesis_measures(plain, image, preserved), synthesis_measures(out, image, preserved)
    assert flat["texture_synth"] < 0.05
    assert synthesized["texture_synth"] > 0.25 and synthesized["tile_repeat_synth"] < 0.1


def test_default_model_on_a_tiny_image():
    """The Python API's first example: a 64x64 image at the default settings (too small for 0.05 bpp
    to pay for the container, so it gets up to DEFAULT_SMALL_BYTES)."""
    import gcodec
    from gcodec.codec.api import DEFAULT_SMALL_BYTES

    data = gcodec.encode(np.zeros((64, 64, 3), np.uint8))
    assert len(data) <= DEFAULT_SMALL_BYTES
    assert gcodec.decode(data).shape == (64, 64, 3)


def test_shipped_code_gan_samples_gc_c6_codes():
    """gc-c6-codegan was trained on the shipped gc-c6's codes, and its samples depend on the seed
    (a collapsed generator would give one code); the prior source samples gc-c6's context model."""
    from gcodec.codec.sampling import make_sampler

    cg, ref = resolve_model("gc-c6-codegan"), resolve_model("gc-c6")
    assert cg.kind == "codegan" and cg.card["gc_model"] == {"name": "gc-c6", "sha256": ref.card["sha256"]}
    gc = gc_codec.load_gc(ref, torch.device("cpu"))
    s = make_sampler(gc, "codegan")
    a, b = s.codes(16, 16, seed=0, index=0), s.codes(16, 16, seed=0, index=1)
    assert a.shape == (6, 16, 16) and (a != b).mean() > 0.3
    assert np.array_equal(a, s.codes(16, 16, seed=0, index=0))
    assert gc.context_tables is not None
    p = make_sampler(gc, "prior")
    assert (p.codes(16, 16, 0, 0) != p.codes(16, 16, 1, 0)).mean() > 0.3


def test_models_lists_every_shipped_model():
    """`gcodec models` reads every card as shipped (detail stages carry eval entries keyed by R)."""
    from .test_cli import run

    r = run("models")
    assert r.exit_code == 0, r.output
    listed = {line.split()[0] for line in r.stdout.splitlines()[1:]}
    assert listed == {m.name for m in shipped_models()}
    assert "--realism for sc-camvid-c6-grid3 files (default R 1)" in r.stdout
