import numpy as np
import pytest
import torch

from gcodec.bitstream.container import unpack
from gcodec.bitstream.errors import FormatError, GcodecError
from gcodec.codec import gc_codec
from gcodec.codec.api import Codec, describe
from gcodec.codec.registry import resolve_model

from .conftest import make_tiny_gc


def _loaded(name="tiny"):
    return gc_codec.load_gc(resolve_model(name, kind="gc"), torch.device("cpu"))


def test_round_trip_is_bit_exact_in_latents(tiny_weights, photo):
    gc = _loaded()
    data = gc_codec.compress(gc, photo)
    c = unpack(data)
    assert c.size == photo.shape[:2] and c.model_id == "tiny"
    x = gc_codec.pad_to_multiple(gc_codec.to_tensor(photo, gc.device))
    expected = gc.model.encode_symbols(x)[0].numpy()
    assert np.array_equal(gc_codec.decode_latents(gc, c), expected)
    out = gc_codec.decompress(gc, c)
    assert out.shape == photo.shape and out.dtype == np.uint8


def test_decoding_is_identical_across_thread_counts_and_precision(tiny_weights, photo):
    gc = _loaded()
    c = unpack(gc_codec.compress(gc, photo))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = gc_codec.decode_latents(gc, c)
        torch.set_num_threads(2)
        two = gc_codec.decode_latents(gc, c)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, two)
    # the generator's precision cannot change the symbols: they come from integer tables
    img32 = gc_codec.decompress(gc, c, half=False)
    img16 = gc_codec.decompress(gc, c, half=True)
    assert np.array_equal(gc_codec.decode_latents(gc, c), one)
    assert np.abs(img32.astype(int) - img16.astype(int)).mean() < 8


def test_coded_size_close_to_ideal(tiny_weights, photo):
    from gcodec.bitstream.entropy import ideal_bits

    gc = _loaded()
    c = unpack(gc_codec.compress(gc, photo))
    sym = gc_codec.decode_latents(gc, c)
    idx = np.repeat(np.arange(sym.shape[0]), sym[0].size)
    ideal = ideal_bits(sym.reshape(-1), gc.tables, idx) / 8
    assert len(c.section(gc_codec.SECTION_LATENTS)) <= ideal + 8


def test_decode_refuses_other_model(tiny_weights, photo):
    make_tiny_gc(tiny_weights, "other", seed=1)
    data = gc_codec.compress(_loaded(), photo)
    with pytest.raises(FormatError, match="written by model tiny"):
        gc_codec.decompress(_loaded("other"), unpack(data))


def test_codec_api_and_describe(tiny_weights, photo):
    codec = Codec(torch.device("cpu"))
    data = codec.encode_image(photo, "tiny")
    c, img = codec.decode(data)
    assert img.shape == photo.shape
    d = describe(data)
    assert d["kind"] == "gc-image" and d["bytes"] == len(data)
    assert d["bpp"] == pytest.approx(8 * len(data) / (168 * 200))


def test_unknown_model_is_a_clean_error(tiny_weights):
    with pytest.raises(GcodecError, match="unknown model"):
        resolve_model("nope", kind="gc")


def test_any_image_size(tiny_weights):
    gc = _loaded()
    for h, w in [(1, 1), (17, 3), (33, 64)]:
        img = np.random.default_rng(h).integers(0, 256, (h, w, 3), dtype=np.uint8)
        out = gc_codec.decompress(gc, unpack(gc_codec.compress(gc, img)))
        assert out.shape == (h, w, 3)
