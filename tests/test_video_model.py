"""Seeded weights, hierarchical supermasks and the NeRV model."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from gcodec.models.nerv import Nerv, make_config, plan_strides
from gcodec.models.seeded_init import seeded_weight
from gcodec.models.supermask import (SupermaskWeight, level_counts, levels_from_scores,
                                     supermask_effective)

# Digests of seeded_weight(1234, 3, (8, 4, 3, 3), 36, init).tobytes(), recorded once: a
# change in numpy's PCG64/SeedSequence or in our bit-to-float mapping breaks old files.
GOLDEN = {
    "signed": "9aca57048f9c748209fb4960603120c973efff01ba43e471287f5ca6f3b1f40d",
    "kaiming_uniform": "2145c554c0720e435fd3ff6dc23146b40fb88226b262ad35ade6e22fcf588e02",
}


@pytest.mark.parametrize("init", sorted(GOLDEN))
def test_seeded_weights_are_bit_exact(init: str) -> None:
    w = seeded_weight(1234, 3, (8, 4, 3, 3), 36, init)
    assert w.dtype == np.float32
    assert hashlib.sha256(w.tobytes()).hexdigest() == GOLDEN[init]


def test_seeded_weights_differ_by_layer_and_seed() -> None:
    a = seeded_weight(1, 0, (64, 9), 9)
    assert not np.array_equal(a, seeded_weight(1, 1, (64, 9), 9))
    assert not np.array_equal(a, seeded_weight(2, 0, (64, 9), 9))
    assert set(np.unique(np.abs(a))) == {np.float32(np.sqrt(2.0) / 3.0)}  # signed constant
    assert 0.3 < (a > 0).mean() < 0.7


def test_levels_are_nested_with_exact_counts() -> None:
    torch.manual_seed(0)
    scores = torch.randn(37, 11)
    sp = (0.7, 0.92, 0.97)
    lv = levels_from_scores(scores, sp)
    counts = np.bincount(lv.flatten().numpy(), minlength=4).tolist()
    assert counts == level_counts(scores.numel(), sp)
    # a higher level always has a larger |score| than any lower level
    mags = scores.abs()
    for k in range(3):
        assert mags[lv == k].max() < mags[lv > k].min()


def test_straight_through_gradient_reaches_scores_and_alphas() -> None:
    base = torch.from_numpy(seeded_weight(0, 0, (6, 5), 5))
    sm = SupermaskWeight(base)
    loss = (sm() * torch.randn(6, 5)).sum()
    loss.backward()
    assert sm.scores.grad is not None and sm.scores.grad.abs().sum() > 0
    assert sm.alphas.grad is not None and sm.alphas.grad[0] != 0


def test_decoder_weights_match_training_weights() -> None:
    base = torch.from_numpy(seeded_weight(5, 2, (8, 3, 3, 3), 27))
    sm = SupermaskWeight(base)
    with torch.no_grad():
        sm.alphas.copy_(torch.tensor([1.5, 0.25, -0.125]))  # dyadic: exact in float16 and sums
    dec = supermask_effective(base.numpy(), sm.levels().numpy(), sm.alphas.detach().numpy())
    np.testing.assert_array_equal(dec, sm().detach().numpy())


def test_plan_strides_and_crop() -> None:
    h0, w0, strides = plan_strides(144, 176)
    assert strides == (2,) * 5 and (h0 * 32, w0 * 32) == (160, 192)  # 5 stages: 21% pad
    h0, w0, strides = plan_strides(144, 176, max_pad=1.15)
    assert strides == (2,) * 4 and (h0 * 16, w0 * 16) == (144, 176)  # 4 stages cover it exactly
    cfg = make_config(3, 47, 61, 6)
    model = Nerv(cfg, lambda i, _n, shape, fan: SupermaskWeight(torch.from_numpy(seeded_weight(0, i, shape, fan))))
    with torch.no_grad():
        out = model(torch.arange(3))
    assert out.shape == (3, 3, 47, 61) and float(out.min()) >= 0 and float(out.max()) <= 1


def _tiny_model() -> Nerv:
    from gcodec.models.supermask import DenseWeight

    cfg = make_config(6, 24, 32, 4)
    torch.manual_seed(0)
    return Nerv(cfg, lambda i, _n, shape, fan: DenseWeight(torch.randn(shape) / fan**0.5))


def test_channels_last_forward_matches_and_is_reset_after_fit() -> None:
    from gcodec.models.train_video import TrainBudget, fit

    model = _tiny_model()
    idx = torch.arange(3)
    with torch.no_grad():
        plain = model(idx)
        model.channels_last = True
        nhwc = model(idx)
    assert torch.allclose(plain, nhwc, atol=1e-5)
    frames = torch.randint(0, 256, (6, 24, 32, 3), dtype=torch.uint8)
    fit(model, frames, TrainBudget(epochs=2), 1e-2, batch=2, progress=False)
    assert model.channels_last is False  # decoding runs NCHW, as files always decoded


@pytest.mark.parametrize("native", [True, False])
def test_fit_uses_bf16_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    from gcodec.models import train_video
    from gcodec.models.train_video import TrainBudget, fit

    monkeypatch.setattr(train_video, "cpu_has_native_bf16", lambda: native)
    frames = torch.randint(0, 256, (6, 24, 32, 3), dtype=torch.uint8)
    result = fit(_tiny_model(), frames, TrainBudget(epochs=4), 1e-2, batch=2, bf16=None, progress=False)
    assert result.steps == 12 and result.bf16 is native and np.isfinite(result.psnr)
    assert len(result.history) == 1 and result.history[0][0] > 0  # every 10 steps
    # an explicit choice is kept
    assert fit(_tiny_model(), frames, TrainBudget(epochs=4), 1e-2, batch=2, bf16=False, progress=False).bf16 is False


def test_step_seconds_times_a_step_and_leaves_no_trace() -> None:
    from gcodec.models.train_video import step_seconds

    model = _tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    frames = torch.randint(0, 256, (6, 24, 32, 3), dtype=torch.uint8)
    assert 0 < step_seconds(model, frames, batch=4, bf16=False) < 5
    assert 0 < step_seconds(model, frames, batch=4, bf16=False, limit=0.0) < 5  # stops after one step
    assert model.channels_last is False and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
