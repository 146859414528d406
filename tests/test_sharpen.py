"""Band gains and the two-ramp realism knob of `sharpen` layered models (models/detail.py)."""

import torch

from gcodec.models.detail import DetailConfig, DetailModel, gaussian_blur, realism_ramps


def _pair():
    torch.manual_seed(0)
    plain, sharp = DetailModel(DetailConfig(width=8, blocks=1)), DetailModel(DetailConfig(width=8, blocks=1, sharpen=True))
    missing, unexpected = sharp.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["generator.band_gain", "generator.sharpen_gain"] and not unexpected
    for m in (plain, sharp):
        torch.nn.init.normal_(m.generator.fidelity.weight, std=0.05)
        torch.nn.init.normal_(m.generator.texture[-1].weight, std=0.05)
    sharp.load_state_dict({**plain.state_dict(), **{k: v for k, v in sharp.state_dict().items() if "_gain" in k}})
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    return plain, sharp, (x, torch.zeros(2, 4, 2, 2), torch.randn(2, 1, 64, 64))


def test_ramps_split_the_knob_at_one_half():
    a, s = realism_ramps(torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert a.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0] and s.tolist() == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_zero_gains_sharpen_nothing_and_texture_starts_above_one_half():
    plain, sharp, (x, z, n) = _pair()
    with torch.no_grad():
        y0 = plain.decode(x, z, n, 0.0)
        assert torch.allclose(sharp.decode(x, z, n, 0.0, 4), y0, atol=1e-6)
        assert torch.allclose(sharp.decode(x, z, n, 0.5, 4), y0, atol=1e-6)  # no generated texture up to R = 0.5
        assert not torch.allclose(sharp.decode(x, z, n, 0.9, 4), y0, atol=1e-3)
        # above one half, the texture head runs at s = 2R - 1 with weight s
        assert torch.allclose(sharp.decode(x, z, n, 0.75, 4), plain.decode(x, z, n, 0.5), atol=1e-5)


def test_gains_follow_the_base_scale_and_the_bands():
    plain, sharp, (x, z, n) = _pair()
    with torch.no_grad():
        sharp.generator.band_gain[1] = torch.tensor([1.0, 0.0, 0.0])  # scale 1/2: the finest band, doubled
        sharp.generator.sharpen_gain[1] = torch.tensor([0.0, 0.0, 2.0])  # and, at R = 0.5, band 3 tripled
        y0 = plain.decode(x, z, n, 0.0)
        assert torch.allclose(sharp.decode(x, z, n, 0.0, 1), y0, atol=1e-6)  # other scales untouched
        assert torch.allclose(sharp.decode(x, z, n, 0.0, 2), 2 * y0 - gaussian_blur(y0, 0.7), atol=1e-5)
        band3 = gaussian_blur(y0, 1.5) - gaussian_blur(y0, 3.0)
        half = sharp.decode(x, z, n, 0.25, torch.tensor([2, 1]))  # a = 0.5: band 3 gets +1 at scale 1/2
        assert torch.allclose(half[0], (2 * y0 - gaussian_blur(y0, 0.7) + band3)[0], atol=1e-5)
        assert torch.allclose(half[1], y0[1], atol=1e-6)


def test_energy_gap_measures_lost_detail():
    from gcodec.models.train_layered import energy_gap

    torch.manual_seed(1)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    blurred = gaussian_blur(x, 1.5)
    assert float(energy_gap(x, x)) == 0.0
    assert float(energy_gap(blurred, x)) > float(energy_gap(0.5 * (x + blurred), x)) > 0.0
