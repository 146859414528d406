"""Layered images: the section layout, encode/decode at any realism, rate control, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gcodec.bitstream.container import Container, PayloadKind, pack, unpack
from gcodec.bitstream.errors import FormatError, GcodecError, InputError, TruncatedError
from gcodec.bitstream.layered import SECTION, LayeredPayload, pack_payload, unpack_payload
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.layered import codec as lc
from gcodec.codec.layered.rate import compress_to
from gcodec.codec.registry import resolve_model

SIZE = (64, 96)  # (H, W) of the image a hand-made section belongs to


@pytest.fixture
def lm(layered_weights):
    return lc.load_layered(resolve_model("tiny-layered"), torch.device("cpu"))


def _with_payload(data: bytes, payload: bytes) -> bytes:
    c = unpack(data)
    return pack(Container(c.kind, c.size, c.model_id, c.model_digest, ((SECTION, payload),)))


def test_payload_roundtrip_and_malformed():
    p = LayeredPayload(scale=2, qp=47, channels=3, base=b"\x00\x00\x01vvc", latents=b"\x05\x06")
    raw = pack_payload(p, SIZE)
    assert len(raw) == len(p.base) + len(p.latents) + 3  # two header bytes and a one-byte length
    assert unpack_payload(raw, SIZE) == p
    with pytest.raises(FormatError, match="scale code"):
        unpack_payload(bytes([0xC0 | 47]) + raw[1:], SIZE)
    with pytest.raises(FormatError, match="reserved"):
        unpack_payload(raw[:1] + bytes([0x13]) + raw[2:], SIZE)
    with pytest.raises(TruncatedError, match="base stream claims"):
        unpack_payload(raw[:6], SIZE)
    with pytest.raises(TruncatedError, match="latent channels are coded"):
        unpack_payload(raw[: -len(p.latents)], SIZE)
    with pytest.raises(FormatError, match="no latent channel"):
        unpack_payload(bytes([raw[0], 0]) + raw[2:], SIZE)


def test_encode_decode_every_realism(lm, sample):
    data = lc.compress_at(lm, sample, scale=2, qp=40)
    c = unpack(data)
    assert c.kind == PayloadKind.LAYERED_IMAGE and c.size == sample.shape[:2]
    p = unpack_payload(c.section(SECTION), c.size)
    assert (p.scale, p.qp, p.channels) == (2, 40, 2) and p.latents
    base = lc.decode_base(p.base, *c.size, p.scale)
    r0, r1 = lc.decompress(lm, c, 0.0), lc.decompress(lm, c, 1.0)
    assert r0.shape == sample.shape and r0.dtype == np.uint8
    assert psnr(r0, sample) > 24
    assert np.array_equal(r0, base)  # the untrained fidelity head is zero: R = 0 gives the base
    assert not np.array_equal(r1, r0)  # R = 1 adds the texture residual
    assert np.array_equal(lc.decompress(lm, c, 1.0), r1)  # the seeded noise repeats
    assert np.array_equal(lc.decompress(lm, c), lc.decompress(lm, c, 0.5))  # the card's default R


def test_fewer_latent_channels_are_smaller(lm, sample):
    sizes = [len(lc.compress_at(lm, sample, 4, 36, k)) for k in range(3)]
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("bpp", [0.05, 0.1])
def test_bpp_target_within_five_percent(lm, sample, bpp):
    data, point = compress_to(lm, sample, bpp=bpp)
    got = 8 * len(data) / (sample.shape[0] * sample.shape[1])
    assert abs(got / bpp - 1) <= 0.05
    assert np.isfinite(point.score)
    assert lc.decompress(lm, unpack(data), 0.0).shape == sample.shape


def test_size_is_never_exceeded(lm, sample):
    data, _ = compress_to(lm, sample, size=1500)
    assert len(data) <= 1500 and len(data) > 1000


@pytest.mark.parametrize("kw,msg", [({"bpp": 1e-5}, "container alone"), ({"size": 20}, "container alone"),
                                    ({"size": 50}, "smallest layered file"),
                                    ({"bpp": -1.0}, "positive"), ({"bpp": 0.05, "size": 100}, "exactly one"),
                                    ({}, "exactly one")])
def test_impossible_targets(lm, sample, kw, msg):
    with pytest.raises(InputError, match=msg):
        compress_to(lm, sample, **kw)


def test_tiny_images_use_the_scales_vvenc_can_code(lm, sample):
    small = np.ascontiguousarray(sample[:32, :48])  # 1/4 would be a 8x16 picture: vvenc refuses it
    data, point = compress_to(lm, small, size=400)
    assert point.scale in (1, 2) and lc.decompress(lm, unpack(data)).shape == (32, 48, 3)
    with pytest.raises(InputError, match="too small for the layered codec"):
        compress_to(lm, np.ascontiguousarray(sample[:5, :5]), size=400)
    with pytest.raises(InputError, match="too small for a VVC base"):
        lc.compress_at(lm, small, 4, 40)


def test_realism_out_of_range(lm, sample):
    c = unpack(lc.compress_at(lm, sample, 4, 40, 0))
    for r in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="realism"):
            lc.decompress(lm, c, r)


def test_corrupt_base_stream(lm, sample):
    data = lc.compress_at(lm, sample, 4, 40, 0)
    p = unpack_payload(unpack(data).section(SECTION), unpack(data).size)
    junk = LayeredPayload(p.scale, p.qp, 0, bytes(len(p.base)), b"")
    with pytest.raises(FormatError, match="base stream"):
        lc.decompress(lm, unpack(_with_payload(data, pack_payload(junk, sample.shape[:2]))), 0.0)
    half = LayeredPayload(p.scale, p.qp, 0, p.base[: len(p.base) // 2], b"")
    with pytest.raises(GcodecError):
        lc.decompress(lm, unpack(_with_payload(data, pack_payload(half, sample.shape[:2]))), 0.0)


def test_truncated_latents(lm, sample):
    data = lc.compress_at(lm, sample, 4, 40)
    p = unpack_payload(unpack(data).section(SECTION), unpack(data).size)
    cut = LayeredPayload(p.scale, p.qp, p.channels, p.base, p.latents[: len(p.latents) // 2])
    with pytest.raises(FormatError):
        lc.decompress(lm, unpack(_with_payload(data, pack_payload(cut, sample.shape[:2]))), 0.0)


def test_ffmpeg_without_vvc(lm, sample, monkeypatch):
    from gcodec.codec import ffmpeg

    data = lc.compress_at(lm, sample, 4, 40, 0)
    monkeypatch.setattr(ffmpeg, "ffmpeg_has_decoder", lambda name: name != "vvc")
    with pytest.raises(InputError, match="lacks libvvenc or the VVC decoder"):
        lc.decompress(lm, unpack(data), 0.0)
    with pytest.raises(InputError, match="lacks libvvenc"):
        compress_to(lm, sample, bpp=0.05)


def test_file_of_another_model(lm, sample, tmp_path):
    from .conftest import make_tiny_layered

    other = lc.load_layered(resolve_model(str(make_tiny_layered(tmp_path / "o", "other", seed=1))),
                            torch.device("cpu"))
    data = lc.compress_at(other, sample, 4, 40)
    with pytest.raises(FormatError, match="written by model other"):
        lc.decompress(lm, unpack(data), 0.0)


def test_eval_curves_share_files_across_realism(layered_weights, tmp_path):
    from gcodec.codec.eval.images import evaluate
    from gcodec.codec.eval.layered_curves import layered_codecs

    from .conftest import FIXTURES

    curves = layered_codecs(["layered:tiny-layered"], torch.device("cpu"), [0.0, 1.0], targets=(0.08, 0.1))
    assert list(curves) == ["layered:tiny-layered-R0", "layered:tiny-layered-R1"]
    shared = curves["layered:tiny-layered-R0"].shared
    calls = []
    encode = shared.codec.encode_image
    shared.codec.encode_image = lambda *a, **k: calls.append(k["bpp"]) or encode(*a, **k)
    res = evaluate([FIXTURES / "sample_481x321.jpg"], list(curves), extra_codecs=curves, progress=False)
    assert calls == [0.08, 0.1]  # each (image, target) encoded once, decoded at every R
    r0, r1 = (res["codecs"][n]["per_image"][1] for n in curves)
    assert r0["bytes"] == r1["bytes"] and abs(r0["bpp"] / 0.1 - 1) <= 0.05
    assert r1["texture_retention"] != r0["texture_retention"]
