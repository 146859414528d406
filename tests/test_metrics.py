"""Metrics as EVAL.md defines them: PSNR, MS-SSIM, texture retention, bpp, log-bpp interpolation."""

import math
from pathlib import Path
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFilter

from gcodec.bitstream.errors import InputError
from gcodec.codec.eval.metrics import (
    bpp,
    cell_edges,
    log_bpp_interp,
    ms_ssim,
    psnr,
    texture_energy,
    texture_retention,
    tile_repetition,
)


# (generated images, so the tests need no data files)
def smooth_image(h: int, w: int, seed: int = 0, noise: float = 6.0) -> np.ndarray:
    """Colour gradients plus soft blobs and mild texture: compressible but not trivial."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fy, fx, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.3)
        img[..., c] = 128 + 70 * np.sin(2 * np.pi * fy * yy / h + ph) * np.cos(2 * np.pi * fx * xx / w)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, max(5, min(h, w) / 4))
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-60, 60, size=3)
    img += rng.normal(0, noise, size=img.shape)  # fine texture, so blur measurably lowers texture energy
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def test_psnr_identical_is_inf() -> None:
    x = smooth_image(32, 40)
    assert psnr(x, x.copy()) == math.inf


def test_psnr_known_value() -> None:
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 10  # MSE = 100 / 60
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / (100 / 60)))
    assert psnr(b, a) == psnr(a, b)


def test_psnr_rejects_bad_inputs() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(InputError):
        psnr(a, np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(InputError):
        psnr(a, a.astype(np.float32))


def test_ms_ssim_identical_and_degraded() -> None:
    x = smooth_image(170, 180, seed=1)
    assert ms_ssim(x, x.copy()) == pytest.approx(1.0, abs=1e-9)
    noisy = np.clip(x.astype(int) + np.random.default_rng(0).normal(0, 25, x.shape), 0, 255).astype(np.uint8)
    s = ms_ssim(noisy, x)
    assert 0.0 < s < 0.99


def test_ms_ssim_small_image_is_nan_with_reason() -> None:
    x = smooth_image(160, 300)
    with pytest.warns(UserWarning, match="161"):
        assert math.isnan(ms_ssim(x, x))


def test_texture_energy_matches_definition() -> None:
    x = smooth_image(48, 64, seed=2)
    g = Image.fromarray(x).convert("L")
    ref = np.mean((np.asarray(g, float) - np.asarray(g.filter(ImageFilter.GaussianBlur(1.5)), float)) ** 2)
    assert texture_energy(x) == pytest.approx(ref)
    assert texture_energy(np.full((8, 8, 3), 77, np.uint8)) == 0.0


def test_texture_retention_blur_below_one_identity_one() -> None:
    x = smooth_image(64, 64, seed=3)
    blurred = np.asarray(Image.fromarray(x).filter(ImageFilter.GaussianBlur(2.0)))
    assert texture_retention(x, x) == pytest.approx(1.0)
    r = texture_retention(blurred, x)
    assert 0.0 <= r < 0.5


def test_texture_retention_inside_a_mask_sees_only_those_pixels() -> None:
    x = smooth_image(64, 64, seed=4)
    y = x.copy()
    left = np.zeros((64, 64), bool)
    left[:, :24] = True
    y[:, 32:] = np.asarray(Image.fromarray(x).filter(ImageFilter.GaussianBlur(2.0)))[:, 32:]  # blur the right
    assert texture_retention(y, x, left) == pytest.approx(1.0)
    assert texture_retention(y, x, ~left) < 0.7
    assert math.isnan(texture_retention(y, x, np.zeros((64, 64), bool)))


def test_tile_repetition_tells_a_repeated_tile_from_texture() -> None:
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    tiled = np.tile(tile, (6, 6, 1))
    textured = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    everywhere = np.ones((96, 96), bool)
    assert tile_repetition(tiled, everywhere) > 0.8  # not 1: PIL's blur sees the image's edges
    assert abs(tile_repetition(textured, everywhere)) < 0.1
    # only pairs inside the mask count: the tiled half alone repeats, the textured half alone does not
    half = np.concatenate([tiled[:, :48], textured[:, 48:]], axis=1)
    left = np.zeros((96, 96), bool)
    left[:, :40] = True
    assert tile_repetition(half, left) > 0.8 > 0.1 > abs(tile_repetition(half, ~left))
    assert math.isnan(tile_repetition(tiled, np.zeros((96, 96), bool)))


def test_cell_edges_tells_a_mosaic_of_cells_from_texture() -> None:
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 256, (24, 24, 1), dtype=np.uint8).repeat(4, 0).repeat(4, 1).repeat(3, 2)
    noise = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    everywhere = np.ones((96, 96), bool)
    assert cell_edges(cells, everywhere) == math.inf  # every step falls on a cell boundary
    cells = cells + rng.integers(0, 2, cells.shape, dtype=np.uint8)  # a little grain inside the cells
    assert cell_edges(cells, everywhere) > 100
    assert cell_edges(noise, everywhere) == pytest.approx(1.0, abs=0.1)
    shifted = np.roll(cells, 2, axis=(0, 1))  # the same mosaic off the grid: its steps are elsewhere
    assert cell_edges(shifted, everywhere) < 0.02
    left = np.zeros((96, 96), bool)
    left[:, :48] = True
    half = np.concatenate([cells[:, :48], noise[:, 48:]], axis=1)
    assert cell_edges(half, left) > 100 and cell_edges(half, ~left) == pytest.approx(1.0, abs=0.1)
    assert math.isnan(cell_edges(cells, np.zeros((96, 96), bool)))


def test_bpp() -> None:
    assert bpp(1000, 100, 80) == pytest.approx(1.0)
    with pytest.raises(InputError):
        bpp(10, 0, 5)


def test_log_bpp_interp() -> None:
    xs, ys = [0.4, 0.1, 0.025], [30.0, 26.0, 22.0]  # unsorted on purpose; log-spaced by factors of 4
    assert log_bpp_interp(xs, ys, 0.1) == pytest.approx(26.0)
    assert log_bpp_interp(xs, ys, 0.05) == pytest.approx(24.0)  # halfway in log between 0.025 and 0.1
    assert log_bpp_interp(xs, ys, 0.2) == pytest.approx(28.0)
    assert math.isnan(log_bpp_interp(xs, ys, 0.5))
    assert math.isnan(log_bpp_interp(xs, ys, 0.01))
    assert log_bpp_interp([0.1, 0.2, float("nan")], [1.0, 2.0, 3.0], 0.2) == pytest.approx(2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(log_bpp_interp([], [], 0.1))


def test_ms_ssim_float32_for_large_images_matches_float64(monkeypatch) -> None:
    from gcodec.codec.eval import metrics

    photo = np.asarray(Image.open(Path(__file__).parent / "fixtures" / "photo_200x168.png").convert("RGB"))
    rng = np.random.default_rng(0)
    noisy = np.clip(photo.astype(np.int16) + rng.integers(-20, 21, photo.shape), 0, 255).astype(np.uint8)
    exact = ms_ssim(photo, noisy)
    monkeypatch.setattr(metrics, "FLOAT64_MAX_PIXELS", 0)  # as an image above 8 MP gets it
    single = ms_ssim(photo, noisy)
    assert single != exact and abs(single - exact) < 1e-5
