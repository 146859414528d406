"""Lossy SC maps on a coarse grid (`--map-tolerance`): the grid itself, and SC files that carry one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gcodec.bitstream.container import Container, pack, unpack
from gcodec.bitstream.errors import FormatError, InputError
from gcodec.bitstream.labelmap import encode_labelmap, grid
from gcodec.codec import sc_codec

from .conftest import FIXTURES
from .test_sc_cli import _one_line_error, files, run  # noqa: F401
from .test_sc_codec import SKY, TREE, _with_section, labels, photo, sc, weights  # noqa: F401


def camvid_map() -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / "labelmap_camvid_0016E5_07959.png"))


def test_cell_aligned_stripes_survive_exactly():
    labels = np.zeros((37, 50), np.uint8)
    labels[:, 8:20] = 3
    labels[:, 40:] = 7
    labels[24:, :] = 5  # rows 24.. : a horizontal band, also on the 4-px grid
    assert np.array_equal(grid.simplify(labels, 4), labels)


def test_majority_and_ties():
    labels = np.zeros((4, 8), np.uint8)
    labels[:, 4:7] = 9  # three quarters of the second cell
    labels[:3, 0] = 2
    assert grid.coarsen(labels, 4).tolist() == [[0, 9]]
    half = np.zeros((2, 2), np.uint8)
    half[:, 1] = 6
    assert grid.coarsen(half, 2).tolist() == [[0]]  # 2 against 2: the lower id


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(2, 9), st.integers(0, 2**32 - 1))
def test_expand_covers_any_size_with_the_grid_classes(h, w, cell, seed):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 4, grid.grid_size(h, w, cell)).astype(np.uint8)
    out = grid.expand(coarse, cell, h, w)
    assert out.shape == (h, w) and set(np.unique(out)) <= set(np.unique(coarse))
    # a pixel at a cell's centre keeps that cell's class unless a neighbour outvotes it
    assert np.array_equal(grid.expand(np.full_like(coarse, 2), cell, h, w), np.full((h, w), 2, np.uint8))


def test_real_map_agreement_bytes_and_smooth_boundaries():
    labels = camvid_map()
    full = len(encode_labelmap(labels))
    for cell, floor in ((2, 0.97), (4, 0.95), (8, 0.92)):
        coarse = grid.coarsen(labels, cell)
        simple = grid.expand(coarse, cell, *labels.shape)
        assert (simple == labels).mean() > floor
        assert len(encode_labelmap(coarse)) < full * 0.7
    # the bilinear vote's curves follow the real boundaries more closely than the cells' staircase
    coarse = grid.coarsen(labels, 8)
    blocky = np.kron(coarse, np.ones((8, 8), np.uint8))[:labels.shape[0], :labels.shape[1]]
    smooth = grid.expand(coarse, 8, *labels.shape)
    assert (smooth == labels).mean() > (blocky == labels).mean() + 0.003


def test_bad_cells_are_refused():
    for cell in (0, 1, 65):
        with pytest.raises(InputError):
            grid.coarsen(np.zeros((4, 4), np.uint8), cell)
    with pytest.raises(ValueError):
        grid.expand(np.zeros((2, 2), np.uint8), 4, 20, 20)


# ------------------------------------------------------------------ SC files with a grid map


def test_sc_file_with_grid_map_round_trips_and_is_smaller(sc, photo, labels):  # noqa: F811
    lossless = sc_codec.compress(sc, photo, labels, [SKY])
    data = sc_codec.compress(sc, photo, labels, [SKY], map_tolerance=4)
    c = unpack(data)
    assert c.has_section(sc_codec.SECTION_GRID_MAP) and not c.has_section(sc_codec.SECTION_MAP)
    assert c.section(sc_codec.SECTION_GRID_MAP)[0] == 4
    assert sc_codec.section_sizes(data)["map"] < sc_codec.section_sizes(lossless)["map"]
    parts = sc_codec.decode_parts(sc, c)
    expected = grid.simplify(labels, 4)
    assert np.array_equal(parts.labels, expected)
    assert np.array_equal(parts.heat, sc_codec.heatmap(sc_codec.pad_labels(expected), 12, [SKY], []))
    out = sc_codec.decompress(sc, c)
    assert out.shape == photo.shape
    # the encoder worked from the same expanded map: encoding that map losslessly codes the same latents
    same = unpack(sc_codec.compress(sc, photo, expected, [SKY]))
    assert same.section(sc_codec.SECTION_LATENTS) == c.section(sc_codec.SECTION_LATENTS)


def test_grid_map_sections_are_validated(sc, photo, labels):  # noqa: F811
    data = sc_codec.compress(sc, photo, labels, [TREE], map_tolerance=4)
    payload = unpack(data).section(sc_codec.SECTION_GRID_MAP)
    for bad, msg in ((b"", "empty"), (bytes([1]) + payload[1:], "outside 2..64"),
                     (bytes([8]) + payload[1:], None)):
        with pytest.raises(FormatError, match=msg):
            sc_codec.decode_parts(sc, unpack(_with_section(data, sc_codec.SECTION_GRID_MAP, bad)))
    c = unpack(data)
    both = Container(c.kind, c.size, c.model_id, c.model_digest,
                     c.sections + ((sc_codec.SECTION_MAP, encode_labelmap(labels)),))
    with pytest.raises(FormatError, match="twice"):
        sc_codec.decode_parts(sc, unpack(pack(both)))
    for tolerance in (1, -2, 65):
        with pytest.raises(InputError, match="--map-tolerance"):
            sc_codec.compress(sc, photo, labels, map_tolerance=tolerance)


def test_cli_map_tolerance(weights, files, tmp_path):  # noqa: F811
    img, lab = files
    sizes = {}
    for tolerance in ("0", "4"):
        out = tmp_path / f"t{tolerance}.gcodec"
        r = run("encode", img, "-m", "tiny-sc", "--semantic", lab, "--map-tolerance", tolerance, "-o", out, "--json")
        assert r.exit_code == 0, r.output
        rec = json.loads(r.stdout.strip().splitlines()[-1])
        assert rec["map_tolerance"] == int(tolerance)
        sizes[tolerance] = rec["map_bytes"]
        assert run("decode", out, "-o", tmp_path / f"t{tolerance}.png").exit_code == 0
    assert sizes["4"] < sizes["0"]
    assert json.loads(run("info", tmp_path / "t4.gcodec", "--json").stdout)["map_tolerance"] == 4
    assert "(on a 4-px grid)" in run("info", tmp_path / "t4.gcodec").stdout
    assert "grid" not in run("info", tmp_path / "t0.gcodec").stdout
    out = tmp_path / "x.gcodec"
    _one_line_error(run("encode", img, "-m", "tiny-sc", "--semantic", lab, "--map-tolerance", "1", "-o", out),
                    "--map-tolerance must be 0")
    _one_line_error(run("encode", img, "-m", "tiny", "--map-tolerance", "4", "-o", out), "need an SC model")
    assert not out.exists()
