import torch

from gcodec.models.texture_loss import block_phase_loss, phase_energy, texture_stats_loss


def _noise(seed: int, scale: float = 0.2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 3, 96, 96, generator=g) * scale).clamp(-1, 1)


def _mask() -> torch.Tensor:
    m = torch.zeros(2, 1, 96, 96)
    m[..., 16:80, 16:80] = 1
    return m


def test_matching_statistics_score_far_better_than_flat_or_tiled_regions():
    real, mask = _noise(0), _mask()
    assert texture_stats_loss(real, real, mask).item() == 0.0
    same_kind = texture_stats_loss(_noise(1), real, mask).item()
    flat = texture_stats_loss(torch.zeros_like(real), real, mask).item()
    weaker = texture_stats_loss(_noise(1, 0.05), real, mask).item()
    tiled = texture_stats_loss(_noise(1)[..., :16, :16].repeat(1, 1, 6, 6), real, mask).item()
    assert same_kind < 0.4 * tiled and tiled < weaker < flat
    assert flat > 10 * same_kind


def test_only_pixels_near_the_mask_count_and_no_mask_gives_zero():
    real, fake, mask = _noise(0), _noise(1), _mask()
    far = fake.clone()
    far[..., :, :2] = 1.0  # 14+ px from the region: outside every band's reach
    assert torch.allclose(texture_stats_loss(far, real, mask), texture_stats_loss(fake, real, mask))
    assert texture_stats_loss(fake.requires_grad_(True), real, torch.zeros_like(mask)).item() == 0.0


def test_gradient_raises_the_energy_of_a_too_flat_region():
    real, mask = _noise(0), _mask()
    fake = (_noise(1) * 0.1).requires_grad_(True)
    texture_stats_loss(fake, real, mask).backward()
    inside = mask.bool().expand_as(fake)
    # descending the loss moves each pixel away from zero: -grad has the sign of the pixel
    assert (fake.grad[inside] * fake.detach()[inside]).sum() < 0


def test_each_region_is_held_to_its_own_statistics():
    # the original is smooth on the left and grainy on the right; a uniformly grainy fake matches
    # the union's statistics better than each half's
    real = _noise(0)
    real[..., :48] *= 0.02
    fake = _noise(1, 0.14)
    halves = torch.zeros(2, 2, 96, 96)
    halves[:, 0, :, :48] = 1
    halves[:, 1, :, 48:] = 1
    union = halves.sum(1, keepdim=True)
    assert texture_stats_loss(fake, real, halves) > 2 * texture_stats_loss(fake, real, union)
    matched = _noise(1)
    matched[..., :48] *= 0.02
    assert texture_stats_loss(matched, real, halves) < 0.5 * texture_stats_loss(fake, real, halves)


def test_block_phase_loss_sees_a_mosaic_of_cells_and_trains_it_away():
    noise = _noise(0)
    cells = _noise(1)[..., ::4, ::4].repeat_interleave(4, -2).repeat_interleave(4, -1)
    assert block_phase_loss(noise, 4).item() < 0.01 < 1 < block_phase_loss(cells + 0.05 * noise, 4).item()
    e = phase_energy(cells + 0.05 * noise, 4)  # (N, across / down, phase): the steps sit at phase 3
    assert e.shape == (2, 2, 4) and bool((e[..., 3] > 10 * e[..., :3].max(-1).values).all())
    # its gradient moves detail off the cell boundaries
    x = (cells + 0.05 * noise).requires_grad_()
    opt = torch.optim.Adam([x], lr=0.01)
    for _ in range(50):
        opt.zero_grad()
        block_phase_loss(x, 4).backward()
        opt.step()
    assert block_phase_loss(x, 4).item() < 0.1
