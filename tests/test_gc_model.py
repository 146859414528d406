import torch

from gcodec.models.gc import GCConfig, GCModel, Quantizer, pad_to_multiple
import pytest

from gcodec.models.sc import SCConfig, SCModel, sc_state_from_gc, synthesis_heatmap

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
    sc.load_state_dict(sc_state_from_gc(gc.state_dict(), cfg))
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
        sc_state_from_gc(state, SCConfig(width=8, blocks=1, channels=3, classes=5, sem_width=2))
    with pytest.raises(ValueError, match="lack"):
        sc_state_from_gc({k: v for k, v in state.items() if not k.startswith("generator.tail")},
                         SCConfig(width=4, blocks=1, channels=3, classes=5, sem_width=2))
