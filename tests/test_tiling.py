"""Tiles (models/tiling.py): windows cover the image, weights cross-fade, and tiled networks give the
whole image's pixels with no seam, on real photos and the shipped models."""

import numpy as np
import pytest
import torch
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec, sc_codec, sc_selection
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.layered import codec as layered_codec
from gcodec.codec.registry import resolve_model
from gcodec.models import tiling
from gcodec.models.gc import GENERATOR_TILES, STRIDE
from gcodec.models.latent_refine import refine_symbols, refinement_loss
from gcodec.models.tiling import TilePlan, owners, spans, tiled, weights

from .conftest import FIXTURES

PLANS = [TilePlan(16, 18, 8, 1), TilePlan(32, 10, 2, 1), TilePlan(16, 40, 4, 3)]


@pytest.mark.parametrize("plan", PLANS)
def test_windows_are_one_size_cover_and_overlap_by_the_blend(plan):
    for n in range(1, 300):
        parts = spans(n, plan)
        assert len({p.size for p in parts}) == 1 and parts[0].size <= min(n, plan.tile + 1)
        assert parts[0].start == 0 and parts[-1].start + parts[-1].size == n
        assert parts[0].keep_lo == 0 and parts[-1].keep_hi == n
        for a, b in zip(parts, parts[1:]):
            assert a.keep_hi - b.keep_lo >= plan.blend  # kept parts overlap: no cell is left out
            assert b.keep_lo - b.start >= plan.margin and a.start + a.size - a.keep_hi >= plan.margin
        cuts = owners(parts)
        assert cuts[0][0] == 0 and cuts[-1][1] == n and all(x[1] == y[0] for x, y in zip(cuts, cuts[1:]))
        assert all(p.keep_lo <= lo < hi <= p.keep_hi for p, (lo, hi) in zip(parts, cuts))
        total = torch.zeros(n * 4)
        for p, w in zip(parts, weights(parts, n, plan.blend, 4)):
            total[p.start * 4 : (p.start + p.size) * 4] += w
        assert torch.allclose(total, torch.ones_like(total))


def _net() -> torch.nn.Module:
    torch.manual_seed(0)  # receptive field: three 3x3s, 3 px, inside one 4-px cell of margin
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1),
                               torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 3, padding=1)).eval()


def test_tiled_equals_whole_when_the_margin_covers_the_field_and_batches_change_nothing():
    net, x = _net(), torch.randn(1, 3, 44, 60)
    plan = TilePlan(cell=4, tile=5, margin=1)
    with torch.no_grad():
        whole = net(x)
        one = tiled(net, [x], [4], (11, 15), plan, 4, batch=1)
        three = tiled(net, [x], [4], (11, 15), plan, 4, batch=3)
    assert len(spans(11, plan)) > 2 and torch.allclose(one, whole, atol=1e-5)
    assert torch.allclose(one, three, atol=1e-6)
    assert torch.equal(tiled(net, [x], [4], (11, 15), TilePlan(4, 16, 1), 4), net(x))  # one window: the net itself


@pytest.fixture(scope="module")
def gc_c6():
    return gc_codec.load_gc(resolve_model("gc-c6", kind="gc"), torch.device("cpu"))


def _seam_columns(n_cells: int, plan: TilePlan) -> list[int]:
    """Pixel columns c whose step c -> c+1 lies in a cross-fade band between two windows."""
    parts = spans(n_cells, plan)
    cols = set()
    for a, b in zip(parts, parts[1:]):
        cols.update(range(b.keep_lo * plan.cell - 1, a.keep_hi * plan.cell))
    return sorted(cols)


def test_tiled_gc_decode_of_a_real_photo_shows_no_seam(gc_c6, monkeypatch):
    image = np.asarray(Image.open(FIXTURES / "urban_023_crop_384.jpg").convert("RGB"))
    c = unpack(gc_codec.compress(gc_c6, image))
    whole = gc_codec.decompress(gc_c6, c)
    monkeypatch.setattr(tiling, "TILE_PIXELS", (20 * STRIDE) ** 2)  # 320-px windows: 3 x 3 on 384 px
    plan = GENERATOR_TILES.scaled()
    assert len(spans(384 // STRIDE, plan)) == 3
    tiles = gc_codec.decompress(gc_c6, c)
    assert psnr(tiles, whole) > 50
    assert unpack(gc_codec.compress(gc_c6, image)).sections == c.sections  # tiled encoder: same symbols
    seams = _seam_columns(384 // STRIDE, plan)
    for img in (tiles, tiles.transpose(1, 0, 2)):  # across vertical seams, then horizontal ones
        grad = np.abs(np.diff(img.astype(np.float64), axis=1)).mean(axis=(0, 2))  # per column step
        elsewhere = np.delete(grad, seams)
        assert grad[seams].mean() <= elsewhere.mean(), (grad[seams].mean(), elsewhere.mean())


def test_tiled_sc_decode_reads_the_whole_images_noise(monkeypatch):
    sc = sc_codec.load_sc(resolve_model("sc-camvid-c6", kind="sc"), torch.device("cpu"))
    image = np.asarray(Image.open(FIXTURES / "camvid_0016E5_07959.jpg").convert("RGB"))
    labels = np.asarray(Image.open(FIXTURES / "labelmap_camvid_0016E5_07959.png"))
    c = unpack(sc_codec.compress(sc, image, labels, sc_selection.parse_classes("sky,road", sc.class_names)))
    whole = sc_codec.decompress(sc, c)
    monkeypatch.setattr(tiling, "TILE_PIXELS", (24 * STRIDE) ** 2)
    tiles = sc_codec.decompress(sc, c)
    assert psnr(tiles, whole) > 35


def test_tiled_layered_decode_matches_whole(layered_weights, sample, monkeypatch):
    lm = layered_codec.load_layered(resolve_model("tiny-layered", kind="layered"), torch.device("cpu"))
    base = np.asarray(Image.fromarray(sample).resize((120, 80)).resize(sample.shape[1::-1]))
    symbols = layered_codec.latent_symbols(lm, sample, base)
    whole = layered_codec.generate(lm, base, symbols, 5, 1.0, 1)
    monkeypatch.setattr(tiling, "TILE_PIXELS", 192 * 192)
    assert np.array_equal(layered_codec.latent_symbols(lm, sample, base), symbols)
    tiles = layered_codec.generate(lm, base, symbols, 5, 1.0, 1)
    assert np.abs(tiles.astype(int) - whole).max() <= 1


def test_tiled_refinement_lowers_the_loss(tiny_weights, photo):
    gc = gc_codec.load_gc(resolve_model("tiny", kind="gc"), torch.device("cpu"))
    x = gc_codec.pad_to_multiple(gc_codec.to_tensor(photo, gc.device))
    h, w = photo.shape[:2]
    guess = gc.model.encode_symbols(x)
    refined = refine_symbols(gc.model, x, h, w, 6, tile_pixels=4 * (10 * STRIDE) ** 2)  # 160-px windows
    assert refined.shape == guess.shape and not torch.equal(refined, guess)
    with torch.no_grad():
        loss = [refinement_loss(gc.model.decode_symbols(s)[..., :h, :w], x[..., :h, :w]).item() for s in (guess, refined)]
    assert loss[1] < loss[0]


def test_tiled_sharpening_decode_matches_whole(sample, monkeypatch):
    """layered-s sharpens with blurs of up to 9 px radius: still inside the tiles' margin."""
    lm = layered_codec.load_layered(resolve_model("layered-s", kind="layered"), torch.device("cpu"))
    base = np.asarray(Image.fromarray(sample).resize((120, 80)).resize(sample.shape[1::-1]))
    symbols = layered_codec.latent_symbols(lm, sample, base)
    whole = layered_codec.generate(lm, base, symbols, 5, 0.5, 4)
    monkeypatch.setattr(tiling, "TILE_PIXELS", 192 * 192)
    tiles = layered_codec.generate(lm, base, symbols, 5, 0.5, 4)
    assert np.abs(tiles.astype(int) - whole).max() <= 1
    assert not np.array_equal(whole, layered_codec.generate(lm, base, symbols, 5, 0.0, 4))  # R = 0.5 sharpens

