"""Layered files leave VVC's parameter sets out and rebuild them from the picture size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gcodec.bitstream import vvc_params
from gcodec.bitstream.container import Container, pack, unpack
from gcodec.bitstream.errors import FormatError
from gcodec.bitstream.layered import IMPLIED_FLAG, SECTION, LayeredPayload, coded_base_size, pack_payload, unpack_payload
from gcodec.codec import ffmpeg
from gcodec.codec.layered import codec as lc
from gcodec.codec.layered.base import encode_base
from gcodec.codec.registry import resolve_model


@pytest.fixture
def lm(layered_weights):
    return lc.load_layered(resolve_model("tiny-layered"), torch.device("cpu"))


@pytest.mark.parametrize("hw", [(16, 16), (24, 40), (128, 192), (488, 768), (1536, 2048)])
def test_rebuilt_parameter_sets_are_vvencs_own(hw):
    """The templates and the level rule reproduce what this ffmpeg's vvenc writes, across levels
    1 to 4.1 and ue(v) size fields of 5 to 12 bits (which move the VUI's byte alignment)."""
    h, w = hw
    rng = np.random.default_rng(h)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    stream = encode_base(image, 1, 63)
    stripped = vvc_params.strip_parameter_sets(stream, w, h)
    assert stripped is not None and len(stream) - len(stripped) > 170
    assert vvc_params.restore_parameter_sets(stripped, w, h) == stream


def test_level_follows_the_sample_rate():
    assert [vvc_params.level_idc(w, h) for w, h in ((64, 64), (192, 128), (768, 488), (768, 768), (2048, 1536))] \
        == [16, 32, 48, 48, 67]


def test_other_streams_are_kept_whole(sample):
    """A stream whose parameter sets differ (another size, other settings) is not stripped."""
    stream = encode_base(sample, 2, 40)
    w, h = coded_base_size(sample.shape[:2], 2)
    assert vvc_params.strip_parameter_sets(stream, w + 8, h) is None
    other = ffmpeg.encode_picture(ffmpeg.pad_edge(sample, 8)[0], ffmpeg.VVC_PIX_FMT,
                                  ["-c:v", "libvvenc", "-preset", "faster", "-qp", "40", "-qpa", "1"], "vvc")
    w1, h1 = coded_base_size(sample.shape[:2], 1)
    assert vvc_params.strip_parameter_sets(other, w1, h1) is None
    p = LayeredPayload(1, 40, 0, other, b"")
    raw = pack_payload(p, sample.shape[:2])
    assert not raw[1] & IMPLIED_FLAG and unpack_payload(raw, sample.shape[:2]) == p


def test_files_leave_them_out_and_decode_as_whole_ones(lm, sample):
    data = lc.compress_at(lm, sample, scale=2, qp=44, channels=1)
    c = unpack(data)
    raw = c.section(SECTION)
    assert raw[1] & IMPLIED_FLAG
    p = unpack_payload(raw, c.size)
    assert p.implied_bytes > 170 and p.base.startswith(b"\x00\x00\x00\x01")
    # the same payload with the whole stream stored: bigger by exactly the implied bytes, same pixels
    whole = pack_payload(p, c.size, imply_parameter_sets=False)
    assert not whole[1] & IMPLIED_FLAG and len(whole) - len(raw) >= p.implied_bytes
    c_whole = Container(c.kind, c.size, c.model_id, c.model_digest, ((SECTION, whole),))
    assert unpack_payload(whole, c.size) == p
    for r in (0.0, 1.0):
        assert np.array_equal(lc.decompress(lm, c, r), lc.decompress(lm, unpack(pack(c_whole)), r))


def test_corrupt_slice_after_implied_sets(lm, sample):
    data = lc.compress_at(lm, sample, 4, 40, 0)
    c = unpack(data)
    p = unpack_payload(c.section(SECTION), c.size)
    w, h = coded_base_size(c.size, p.scale)
    junk = vvc_params.parameter_sets(w, h) + bytes(np.random.default_rng(0).integers(0, 256, 60, dtype=np.uint8))
    raw = pack_payload(LayeredPayload(p.scale, p.qp, 0, junk, b""), c.size)
    assert raw[1] & IMPLIED_FLAG
    bad = unpack(pack(Container(c.kind, c.size, c.model_id, c.model_digest, ((SECTION, raw),))))
    with pytest.raises(FormatError, match="base stream"):
        lc.decompress(lm, bad, 0.0)
    with pytest.raises(FormatError, match="multiple of 8"):
        vvc_params.restore_parameter_sets(b"\x01", 12, 16)
    with pytest.raises(FormatError, match="largest level"):  # a header claiming 16384x16384: refused, not decoded
        vvc_params.restore_parameter_sets(b"\x01", 16384, 16384)
