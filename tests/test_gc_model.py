import pytest
import torch

from gcodec.models.gc import GCConfig, GCModel, Quantizer, pad_to_multiple
from gcodec.models.sc import (NOISE_SEED, SCConfig, SCModel, random_noise, synthesis_heatmap, synthesis_noise,
                              widen_to_sc)

TINY = GCConfig(width=4, blocks=1, channels=3)


def test_shapes_and_padding():
    x = torch.rand(1, 3, 50, 37) * 2 - 1
    xp = pad_to_multiple(x)
    assert xp.shape[-2:] == (64, 48)
    assert torch.equal(xp[..., :50, :37], x)
    out = GCModel(TINY)(xp)
    assert out["x_hat"].shape == xp.shape
    assert out["symbols"].shape == (1, 3, 4, 3)
    assert out["x_hat"].abs().max() <= 1


def test_pad_tiny_image_uses_replicate():
    assert pad_to_multiple(torch.rand(1, 3, 3, 2)).shape[-2:] == (32, 32)


def test_quantizer_straight_through():
    q = Quantizer(5)
    w = torch.tensor([-3.0, -0.6, 0.2, 1.49, 7.0], requires_grad=True)
    w_hat, symbols, _ = q(w)
    assert torch.equal(w_hat.detach(), torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))
    assert symbols.tolist() == [0, 1, 2, 3, 4]
    w_hat.sum().backward()
    assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0  # soft path carries gradient


def test_prior_bits_match_logits():
    m = GCModel(TINY)
    sym = torch.zeros(1, 3, 2, 2, dtype=torch.long)
    assert torch.allclose(m.prior.bits(sym), torch.full((1, 3, 2, 2), torch.log2(torch.tensor(5.0)).item()))


def test_heatmap_majority_rule():
    labels = torch.zeros(1, 32, 32, dtype=torch.long)
    labels[0, :16, :16] = 1  # cell (0,0) all class 1
    labels[0, :16, 16:24] = 1  # cell (0,1) exactly half: not synthesized
    labels[0, 16:, :9] = 1  # cell (1,0) 9/16 columns: synthesized
    synth = torch.tensor([False, True])
    heat = synthesis_heatmap(labels, synth)
    assert heat[0, 0].tolist() == [[0.0, 1.0], [0.0, 1.0]]


def test_sc_forward_masks_latents():
    cfg = SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2)
    m = SCModel(cfg).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    labels = torch.randint(0, 3, (1, 32, 32))
    sym = m.encode_symbols(x, labels)
    zero = torch.zeros(1, 1, 2, 2)
    # with every cell synthesized the output cannot depend on the symbols
    a = m.decode_symbols(sym, labels, zero)
    b = m.decode_symbols(torch.zeros_like(sym), labels, zero)
    assert torch.equal(a, b)


def test_sc_started_from_gc_weights_is_that_gc_model_until_it_trains():
    torch.manual_seed(0)
    gc = GCModel(TINY).eval()
    for p in gc.parameters():  # non-trivial weights everywhere, the widened convolutions included
        p.data.normal_(0, 0.3)
    cfg = SCConfig(width=4, blocks=1, channels=3, classes=5, sem_width=2)
    sc = SCModel(cfg).eval()
    sc.load_state_dict(widen_to_sc(gc.state_dict(), cfg))
    x = torch.rand(2, 3, 48, 64) * 2 - 1
    labels = torch.randint(0, 5, (2, 48, 64))
    symbols = gc.encode_symbols(x)
    assert torch.equal(sc.encode_symbols(x, labels), symbols)
    # all latents kept: the map changes nothing yet; a synthesized cell does
    assert torch.allclose(sc.decode_symbols(symbols, labels, torch.ones(2, 1, 3, 4)), gc.decode_symbols(symbols),
                          atol=1e-6)
    heat = torch.ones(2, 1, 3, 4)
    heat[..., 0, 0] = 0
    assert not torch.allclose(sc.decode_symbols(symbols, labels, heat), gc.decode_symbols(symbols), atol=1e-3)


def test_sc_from_gc_refuses_weights_of_another_shape():
    state = GCModel(TINY).state_dict()
    with pytest.raises(ValueError, match="does not fit"):
        widen_to_sc(state, SCConfig(width=8, blocks=1, channels=3, classes=5, sem_width=2))
    with pytest.raises(ValueError, match="lack"):
        widen_to_sc({k: v for k, v in state.items() if not k.startswith("generator.tail")},
                         SCConfig(width=4, blocks=1, channels=3, classes=5, sem_width=2))


def test_synthesis_noise_is_fixed_for_decoding_fresh_for_training_and_zero_on_coded_cells():
    heat = torch.ones(2, 1, 3, 5)
    heat[:, :, 1:, 2:] = 0
    fixed = random_noise(heat, 4)
    assert torch.equal(fixed, random_noise(heat, 4)) and torch.equal(fixed[0], fixed[1])
    assert torch.all(fixed[:, :, heat[0, 0] == 1] == 0) and torch.all(fixed[:, :, heat[0, 0] == 0].abs() == 1)
    drawn = random_noise(heat, 4, torch.Generator().manual_seed(NOISE_SEED + 1))
    assert not torch.equal(drawn, fixed) and torch.all(drawn[:, :, heat[0, 0] == 0].abs() == 1)


def _constant_scene(cfg: SCConfig) -> torch.Tensor:
    """Decode of a one-class 128x128 map with every cell synthesized, noise weights made non-zero."""
    torch.manual_seed(0)
    m = SCModel(cfg).eval()
    if cfg.noise:
        m.generator.head[0].weight.data[:, -cfg.noise:].normal_(0, 0.3)
    if cfg.noise_up:
        for scale in m.noise_scales:
            scale.data.normal_(0, 0.3)
    labels = torch.zeros(1, 128, 128, dtype=torch.long)
    return m.decode_symbols(torch.zeros(1, cfg.channels, 8, 8, dtype=torch.long), labels, torch.zeros(1, 1, 8, 8))


def test_without_noise_a_synthesized_region_repeats_every_16_pixels_and_noise_breaks_it():
    tiled = _constant_scene(SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2))
    inner = tiled[..., 48:80, 48:80]  # away from the reflect-padded borders
    assert torch.allclose(inner[..., :, 16:], inner[..., :, :-16], atol=1e-5)
    noisy = _constant_scene(SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2, noise=3))
    inner = noisy[..., 48:80, 48:80]
    assert (inner[..., :, 16:] - inner[..., :, :-16]).abs().mean() > 1e-2


def test_noise_channels_added_to_an_sc_model_start_at_zero_weight():
    torch.manual_seed(0)
    cfg = SCConfig(width=4, blocks=1, channels=3, classes=5, sem_width=2)
    src = SCModel(cfg).eval()
    noisy_cfg = SCConfig(width=4, blocks=1, channels=3, classes=5, sem_width=2, noise=2)
    noisy = SCModel(noisy_cfg).eval()
    noisy.load_state_dict(widen_to_sc(src.state_dict(), noisy_cfg))
    labels = torch.randint(0, 5, (1, 48, 64))
    symbols = torch.randint(0, 5, (1, 3, 3, 4))
    heat = (torch.rand(1, 1, 3, 4) < 0.5).float()
    assert torch.allclose(noisy.decode_symbols(symbols, labels, heat), src.decode_symbols(symbols, labels, heat),
                          atol=1e-6)


def test_mode_seeking_loss_counts_only_synthesized_pixels():
    from gcodec.models.gan_losses import mode_seeking_loss

    a = torch.zeros(1, 3, 4, 4)
    b = a.clone()
    b[..., :, :2] = 0.5  # differs on the left half only
    left = torch.zeros(1, 1, 4, 4)
    left[..., :, :2] = 1
    assert mode_seeking_loss(a, b, left).item() == pytest.approx(2.0, rel=1e-3)
    assert mode_seeking_loss(a, b, 1 - left).item() > 1e4  # identical where synthesized: huge
    assert mode_seeking_loss(a, b, torch.zeros(1, 1, 4, 4)).item() == 0


def test_noise_after_up_sampling_varies_within_a_cell_and_leaves_coded_cells_alone():
    heat = torch.ones(1, 1, 2, 3)
    heat[..., 0, 0] = 0
    cfg = SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2, noise=2, noise_up=True)
    noise = synthesis_noise(heat, cfg)
    assert [tuple(t.shape) for t in noise] == [(1, 2, 2, 3), (1, 1, 4, 6), (1, 1, 8, 12), (1, 1, 16, 24),
                                              (1, 1, 32, 48)]
    full = noise[-1][0, 0]
    assert torch.all(full[:16, :16].abs() == 1) and not full[16:].any() and not full[:, 16:].any()
    # a one-class scene no longer repeats every 16 pixels
    up = _constant_scene(SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2, noise_up=True))
    inner_up = up[..., 48:80, 48:80]
    assert (inner_up[..., :, 16:] - inner_up[..., :, :-16]).abs().mean() > 1e-2
    # widened from a model without it: the same image where every cell is coded (no noise there)
    torch.manual_seed(1)
    src_cfg = SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2, noise=3)
    src = SCModel(src_cfg).eval()
    src.generator.head[0].weight.data[:, -3:].normal_(0, 0.3)
    wide = SCModel(SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2, noise=3, noise_up=True)).eval()
    wide.load_state_dict(widen_to_sc(src.state_dict(), wide.cfg))
    labels = torch.zeros(1, 128, 128, dtype=torch.long)
    sym, zero, ones = torch.zeros(1, 2, 8, 8, dtype=torch.long), torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    assert torch.allclose(wide.decode_symbols(sym, labels, ones), src.decode_symbols(sym, labels, ones), atol=1e-6)
    assert not torch.allclose(wide.decode_symbols(sym, labels, zero), src.decode_symbols(sym, labels, zero), atol=1e-3)
