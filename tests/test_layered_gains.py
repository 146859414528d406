"""The encoder's band gains in layered files (codec/layered/gains.py): bytes, search, decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gcodec.bitstream.container import unpack
from gcodec.bitstream.errors import FormatError, TruncatedError
from gcodec.bitstream.layered import SECTION, LayeredPayload, pack_payload, unpack_payload
from gcodec.codec.eval.metrics import texture_energy
from gcodec.codec.layered import codec as lc
from gcodec.codec.layered.gains import choose_gains
from gcodec.codec.layered.rate import compress_to
from gcodec.codec.registry import resolve_model

from .conftest import make_tiny_layered

SIZE = (64, 96)  # (H, W) of the image a hand-made section belongs to


@pytest.fixture
def sharp(tmp_path):
    path = make_tiny_layered(tmp_path / "w", "tiny-sharp", sharpen=True)
    return lc.load_layered(resolve_model(str(path)), torch.device("cpu"))


def _gains(data: bytes) -> tuple[int, int, int] | None:
    return unpack_payload(unpack(data).section(SECTION), unpack(data).size).gains


def test_gains_bytes_roundtrip_and_malformed():
    p = LayeredPayload(scale=4, qp=40, channels=1, base=b"\x00\x00\x01vvc", latents=b"\x07", gains=(6, 0, 15))
    raw = pack_payload(p, SIZE)
    assert len(raw) == len(pack_payload(LayeredPayload(4, 40, 1, p.base, p.latents), SIZE)) + 2
    assert raw[1] == 0x81 and raw[2:4] == bytes([0x60, 0xF0])
    assert unpack_payload(raw, SIZE) == p
    with pytest.raises(FormatError, match="reserved bits set in the band gains"):
        unpack_payload(raw[:3] + bytes([0xF1]) + raw[4:], SIZE)
    with pytest.raises(TruncatedError, match="band gains"):
        unpack_payload(raw[:4], SIZE)
    with pytest.raises(ValueError, match="band gain codes"):
        LayeredPayload(4, 40, 1, p.base, p.latents, gains=(16, 0, 0))


def test_search_sharpens_a_blurred_base_and_only_above_r0(sharp, sample):
    data = lc.compress_at(sharp, sample, scale=4, qp=44, channels=0)
    gains = _gains(data)
    assert gains is not None and any(gains)  # a quarter-size base lost its fine detail: worth restoring some
    c = unpack(data)
    flat = unpack(lc.with_gains(data, lc.NO_GAINS))
    assert len(lc.with_gains(data, lc.NO_GAINS)) == len(data)
    assert np.array_equal(lc.decompress(sharp, c, 0.0), lc.decompress(sharp, flat, 0.0))  # R = 0: gains unused
    sharpened, plain = lc.decompress(sharp, c, 0.5), lc.decompress(sharp, flat, 0.5)
    assert texture_energy(sharpened) > 1.2 * texture_energy(plain)


def test_chosen_gains_beat_every_step_up(sharp, sample):
    """The greedy search stops only where no single step up improves the objective."""
    from gcodec.codec.layered import gains as g
    from gcodec.codec.layered.base import decode_base

    data = lc.compress_at(sharp, sample, scale=2, qp=44, channels=0)
    p = unpack_payload(unpack(data).section(SECTION), unpack(data).size)
    assert all(code % g.STEP == 0 and code <= g.MAX_CODE for code in p.gains)
    h, w = sample.shape[:2]
    symbols = np.full((sharp.cfg.channels, *lc.latent_grid(h, w)), sharp.model.middle, dtype=np.int64)
    objective = g.gain_objective(sharp, sample, decode_base(p.base, h, w, 2), symbols, 2)
    chosen = objective(p.gains)
    assert chosen > objective(lc.NO_GAINS) and all(objective(u) <= chosen for u in g.step_ups(p.gains))


def test_rate_control_sizes_files_with_their_gains(sharp, sample):
    h, w = sample.shape[:2]
    data, point = compress_to(sharp, sample, bpp=0.05)
    assert abs(8 * len(data) / (h * w) - 0.05) <= 0.05 * 0.05
    assert _gains(data) is not None
    assert _gains(lc.compress_at(sharp, sample[:100, :100], 4, 40)) == lc.NO_GAINS  # under 161 px: no search
    symbols = np.full((sharp.cfg.channels, *lc.latent_grid(h, w)), sharp.model.middle, dtype=np.int64)
    assert choose_gains(sharp, sample[:150], point.base[:150], symbols[:, :5], point.scale) == lc.NO_GAINS
