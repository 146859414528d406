import torch
import torch.nn.functional as F

from gcodec.models.affinity_loss import affinity_loss, label_grid


def _blocky_labels(b: int = 2, c: int = 4, h: int = 48, w: int = 48) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    # 8x8-pixel blocks: every pooling cell of the 12x12 and 6x6 grids holds a single label
    return torch.randint(0, c, (b, h // 8, w // 8), generator=g).repeat_interleave(8, 1).repeat_interleave(8, 2)


def test_perfect_one_hot_prediction_gives_zero():
    lab = _blocky_labels()
    logits = F.one_hot(lab, 4).permute(0, 3, 1, 2).float() * 60.0  # softmax ~ exact one-hot
    assert affinity_loss(logits, lab).item() < 1e-4


def test_wrong_prediction_is_penalised():
    lab = _blocky_labels()
    uniform = torch.zeros(2, 4, 48, 48)
    wrong = F.one_hot((lab + 1) % 4, 4).permute(0, 3, 1, 2).float() * 60.0
    swapped_all = affinity_loss(wrong, lab).item()  # a consistent relabelling keeps affinities
    assert swapped_all < 1e-4
    assert affinity_loss(uniform, lab).item() > 0.1


def test_void_pairs_excluded_and_all_void_is_finite():
    lab = _blocky_labels()
    logits = F.one_hot(lab, 4).permute(0, 3, 1, 2).float() * 60.0
    # corrupting the prediction only where the label is void must not change the loss
    lab_void = lab.clone()
    lab_void[:, :24] = 255
    bad = logits.clone()
    bad[:, :, :24] = torch.randn(2, 4, 24, 48) * 10
    assert affinity_loss(bad, lab_void).item() < 1e-4
    all_void = torch.full_like(lab, 255)
    x = torch.randn(2, 4, 48, 48, requires_grad=True)
    loss = affinity_loss(x, all_void)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(x.grad).all()


def test_gradients_finite_and_nonzero():
    lab = _blocky_labels()
    lab[0, :5] = 255
    x = torch.randn(2, 4, 48, 48, requires_grad=True)
    loss = affinity_loss(x, lab)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # saturated probabilities (exact zeros after softmax) still give finite gradients thanks to eps
    y = (F.one_hot(lab.clamp(max=3), 4).permute(0, 3, 1, 2).float() * 1e4).requires_grad_()
    affinity_loss(y, lab).backward()
    assert torch.isfinite(y.grad).all()


def test_label_grid_size_and_nearest_exact():
    lab = torch.arange(24 * 24).view(1, 24, 24)
    g = label_grid(lab, (12, 6))
    assert g.shape == (1, 180)
    # nearest-exact samples at cell centres: floor((i + 0.5) * 2) -> source pixel 2i + 1
    assert g[0, 0].item() == lab[0, 1, 1].item() and g[0, 1].item() == lab[0, 1, 3].item()
    assert g[0, 144].item() == lab[0, 2, 2].item()  # 6x6 grid: floor((0 + 0.5) * 4) = 2
