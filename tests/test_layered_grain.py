"""Fine grain in layered files: the byte, the filter (models/detail.py) and the encoder's choice
(codec/layered/grain.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gcodec.bitstream.container import unpack
from gcodec.bitstream.errors import FormatError, TruncatedError
from gcodec.bitstream.grain import GRAIN_UNIT, MAX_GRAIN_CODE, code_for_gain, grain_gain
from gcodec.bitstream.layered import SECTION, LayeredPayload, pack_payload, unpack_payload
from gcodec.codec import grain_search
from gcodec.codec.eval.metrics import texture_energy
from gcodec.codec.layered import codec as lc
from gcodec.codec.layered import grain as gr
from gcodec.codec.layered.base import decode_base
from gcodec.codec.registry import resolve_model
from gcodec.models.detail import fine_grain

from .conftest import make_tiny_layered

SIZE = (64, 96)


@pytest.fixture
def sharp(tmp_path):
    path = make_tiny_layered(tmp_path / "w", "tiny-sharp", sharpen=True)
    return lc.load_layered(resolve_model(str(path)), torch.device("cpu"))


def _payload(data: bytes) -> LayeredPayload:
    return unpack_payload(unpack(data).section(SECTION), unpack(data).size)


def test_grain_byte_roundtrip_and_malformed():
    plain = LayeredPayload(scale=4, qp=40, channels=1, base=b"\x00\x00\x01vvc", latents=b"\x07", gains=(6, 0, 15))
    grainy = LayeredPayload(4, 40, 1, plain.base, plain.latents, plain.gains, grain=200)
    raw, old = pack_payload(grainy, SIZE), pack_payload(plain, SIZE)
    assert len(raw) == len(old) + 1 and raw[1] == 0xA1 and raw[4] == 200
    assert unpack_payload(raw, SIZE) == grainy and unpack_payload(old, SIZE).grain is None  # files before grain
    assert unpack_payload(pack_payload(LayeredPayload(4, 40, 1, plain.base, plain.latents, plain.gains, 0), SIZE),
                          SIZE).grain == 0
    with pytest.raises(TruncatedError, match="fine grain"):
        unpack_payload(raw[:5], SIZE)
    no_gains = pack_payload(LayeredPayload(4, 40, 1, plain.base, plain.latents), SIZE)
    with pytest.raises(FormatError, match="without band gains"):
        unpack_payload(no_gains[:1] + bytes([no_gains[1] | 0x20]) + no_gains[2:], SIZE)
    with pytest.raises(FormatError, match="reserved bits"):
        unpack_payload(raw[:1] + bytes([raw[1] | 0x10]) + raw[2:], SIZE)
    with pytest.raises(ValueError, match="grain code"):
        LayeredPayload(4, 40, 1, plain.base, plain.latents, grain=3)  # grain only with gains
    with pytest.raises(ValueError, match="grain code"):
        LayeredPayload(4, 40, 1, plain.base, plain.latents, plain.gains, grain=256)


def test_grain_gain_ladder_and_its_inverse():
    gains = [grain_gain(c) for c in range(MAX_GRAIN_CODE + 1)]
    assert gains[0] == 0 and gains[1] == GRAIN_UNIT and gains[25] == pytest.approx(2 * GRAIN_UNIT)
    assert all(a < b for a, b in zip(gains, gains[1:]))
    for g in (0.01, GRAIN_UNIT, 0.17, 1.6, 10.0):
        c = code_for_gain(g)
        assert grain_gain(c) >= g * (1 - 1e-12) and (c == 1 or grain_gain(c - 1) < g)
    with pytest.raises(ValueError):
        grain_gain(MAX_GRAIN_CODE + 1)


def test_fine_grain_follows_the_texture_residual_in_the_checkerboard_band():
    torch.manual_seed(0)
    t, noise = torch.randn(1, 3, 64, 64), torch.randn(1, 1, 64, 64)
    t[..., :, :32] = 0  # no detail on the left: no grain there
    g = fine_grain(t, noise)
    assert torch.equal(g[:, 0], g[:, 1]) and torch.equal(g[:, 0], g[:, 2])  # the same in R, G and B
    assert float(g[..., 8:-8, :20].abs().max()) < 1e-6 < float(g[..., 8:-8, 44:].abs().min(dim=-1).values.mean())
    # where the residual has detail, the grain's RMS is about its luma's
    luma = 0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2]
    assert float(g[0, 0, 8:-8, 44:-8].std()) == pytest.approx(float(luma[0, 8:-8, 44:-8].std()), rel=0.2)
    # MS-SSIM's 2x2 averaging keeps under a tenth of its energy (of white noise it keeps a quarter)
    right = g[:, :1, :, 32:]
    assert float(F.avg_pool2d(right, 2).pow(2).mean()) < 0.1 * float(right.pow(2).mean())
    shifted = fine_grain(torch.roll(t, (2, 4), (2, 3)), torch.roll(noise, (2, 4), (2, 3)))
    inner = (slice(None), slice(None), slice(12, -12), slice(12, -12))
    assert torch.allclose(torch.roll(g, (2, 4), (2, 3))[inner], shifted[inner], atol=1e-5)


def test_grain_changes_only_decodes_above_r0_and_grows_with_the_code(sharp, sample):
    data = lc.compress_at(sharp, sample, scale=4, qp=44, channels=0)
    p = _payload(data)
    plain = unpack(lc.with_gains(data, p.gains, 0))
    energies = []
    for code in (0, 60, 120):
        c = unpack(lc.with_gains(data, p.gains, code))
        assert len(lc.with_gains(data, p.gains, code)) == len(data)
        assert _payload(lc.with_gains(data, p.gains, code)).grain == code
        assert np.array_equal(lc.decompress(sharp, c, 0.0), lc.decompress(sharp, plain, 0.0))
        energies.append(texture_energy(lc.decompress(sharp, c, 0.5)))
    assert energies[0] < energies[1] < energies[2]


def test_encoder_picks_the_smallest_code_that_meets_the_target(sharp, sample, monkeypatch):
    data = lc.compress_at(sharp, sample, scale=4, qp=44, channels=0)
    p = _payload(data)
    h, w = sample.shape[:2]
    symbols = np.full((sharp.cfg.channels, *lc.latent_grid(h, w)), sharp.model.middle, dtype=np.int64)
    base, seed = decode_base(p.base, h, w, 4), lc.noise_seed(p)
    goal = texture_energy(sample)

    def retention(code: int) -> float:
        out = lc.generate(sharp, base, symbols, seed, sharp.default_realism, 4, gains=p.gains, grain=code)
        return texture_energy(out) / goal

    start = retention(0)
    target = start + 0.5 * (retention(200) - start)  # reachable, and not without grain
    monkeypatch.setattr(grain_search, "GRAIN_TARGET", target)
    code = gr.choose_grain(sharp, sample, base, symbols, 4, p.gains, seed)
    assert 0 < code < 200 and retention(code) >= target > retention(code - 1)
    monkeypatch.setattr(grain_search, "GRAIN_TARGET", start * 0.9)  # met without grain: none
    assert gr.choose_grain(sharp, sample, base, symbols, 4, p.gains, seed) == 0
    monkeypatch.setattr(grain_search, "GRAIN_TARGET", 1e6)  # out of reach: all of it
    assert gr.choose_grain(sharp, sample, base, symbols, 4, p.gains, seed) == MAX_GRAIN_CODE


def test_encoded_files_carry_the_chosen_grain(sharp, sample):
    p = _payload(lc.compress_at(sharp, sample, scale=4, qp=44, channels=0))
    assert p.gains is not None and p.grain is not None
