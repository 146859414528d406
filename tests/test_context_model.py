"""Context-model coding: round trips, determinism, failure modes, and the GC codec path (tag 2)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcodec.bitstream import context_model as cm
from gcodec.bitstream.container import unpack
from gcodec.bitstream.entropy import PRECISION, quantize_pmf
from gcodec.bitstream.errors import FormatError, GcodecError
from gcodec.codec import gc_codec
from gcodec.codec.context_tables import image_symbols, write_with_context_tables
from gcodec.codec.registry import resolve_model


def random_tables(rng: np.random.Generator, channels: int, levels: int) -> np.ndarray:
    counts = rng.integers(0, 50, cm.table_shape(channels, levels)) * (rng.random(cm.table_shape(channels, levels)) < 0.7)
    return cm.tables_from_counts(counts, prior_weight=1.0)


def smooth_latent(rng: np.random.Generator, channels: int, h: int, w: int, levels: int) -> np.ndarray:
    """Spatially and channel-correlated symbols, like an encoder's latents."""
    base = np.cumsum(np.cumsum(rng.normal(size=(h, w)), 0), 1)
    base = (base - base.mean()) / (base.std() + 1e-9)
    chans = [base * (1 - 0.2 * c) + 0.3 * rng.normal(size=(h, w)) for c in range(channels)]
    return np.clip(np.round(np.stack(chans) + (levels - 1) / 2), 0, levels - 1).astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_round_trip_random(channels, h, w, levels, seed):
    rng = np.random.default_rng(seed)
    tables = random_tables(rng, channels, levels)
    sym = rng.integers(0, levels, (channels, h, w))
    data = cm.encode(sym, tables)
    assert np.array_equal(cm.decode(data, tables, sym.shape), sym)
    assert len(data) * 8 <= cm.ideal_bits(sym, tables) + 64  # ~24 bits of stream overhead plus trimming


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.integers(2, 40), st.integers(2, 40), st.integers(0, 2**32 - 1))
def test_structured_latents_round_trip_and_beat_static(channels, h, w, seed):
    rng = np.random.default_rng(seed)
    train = [smooth_latent(rng, channels, 32, 48, 5) for _ in range(6)]
    tables = cm.tables_from_counts(cm.count_contexts(train, channels, 5))
    sym = smooth_latent(rng, channels, h, w, 5)
    data = cm.encode(sym, tables)
    assert np.array_equal(cm.decode(data, tables, sym.shape), sym)
    if h * w >= 400:  # big enough for the gain to dominate the stream overhead
        hist = np.stack([np.bincount(t[c].ravel(), minlength=5) for t in train for c in range(channels)]).sum(0)
        static_bits = -np.log2((hist + 1) / (hist + 1).sum())[sym].sum()
        assert cm.ideal_bits(sym, tables) < 0.9 * static_bits


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_masked_round_trip_codes_only_the_coded_cells(channels, h, w, levels, seed):
    rng = np.random.default_rng(seed)
    tables = random_tables(rng, channels, levels)
    sym = rng.integers(0, levels, (channels, h, w))
    coded = rng.random((h, w)) < 0.6
    data = cm.encode(sym, tables, coded)
    # what sits in skipped cells neither reaches the payload nor comes back
    other = np.where(coded, sym, rng.integers(0, levels, sym.shape))
    assert cm.encode(other, tables, coded) == data
    out = cm.decode(data, tables, sym.shape, coded=coded)
    assert np.array_equal(out[:, coded], sym[:, coded]) and np.all(out[:, ~coded] == (levels - 1) // 2)
    assert len(data) * 8 <= cm.ideal_bits(sym, tables, coded) + 64
    if not coded.any():
        assert cm.ideal_bits(sym, tables, coded) == 0


def test_masked_payload_is_the_full_payload_of_its_cells_and_needs_the_same_mask():
    rng = np.random.default_rng(4)
    tables = random_tables(rng, 3, 5)
    sym = smooth_latent(rng, 3, 10, 12, 5)
    everything = np.ones((10, 12), bool)
    assert cm.encode(sym, tables, everything) == cm.encode(sym, tables)
    coded = everything.copy()
    coded[2:7, 3:9] = False
    data = cm.encode(sym, tables, coded)
    assert len(data) < len(cm.encode(sym, tables))
    with pytest.raises(FormatError):  # the full-size decode runs out of bits
        cm.decode(data, tables, sym.shape)
    with pytest.raises(ValueError):
        cm.encode(sym, tables, coded[:, :5])


def test_contexts_read_only_decoded_symbols():
    """The decoder computes contexts from a partly filled array: garbage elsewhere must not matter."""
    rng = np.random.default_rng(1)
    sym = rng.integers(0, 5, (4, 7, 9))
    pm = cm.phase_map(7, 9).reshape(-1)
    for c in range(4):
        for p in range(cm.PHASES):
            idx = np.flatnonzero(pm == p)
            noisy = rng.integers(0, 5, sym.shape)
            noisy[:c] = sym[:c]
            known = np.isin(pm, list(range(p))).reshape(7, 9)
            noisy[c][known] = sym[c][known]
            assert np.array_equal(cm.contexts(noisy, c, p, idx, 5), cm.contexts(sym, c, p, idx, 5))
            assert cm.contexts(sym, c, p, idx, 5).max() < cm.n_contexts(5)


def test_golden_payload_is_identical_on_every_machine():
    """Fixed integer tables and symbols (PCG64 integer streams are platform-independent) give these bytes."""
    rng = np.random.default_rng(20261123)
    tables = quantize_pmf(rng.integers(1, 100, cm.table_shape(3, 5)))
    walk = np.cumsum(rng.integers(-1, 2, (3, 12, 17)), axis=2)  # integer-only structure
    sym = np.clip(2 + walk + np.arange(3)[:, None, None] // 2, 0, 4)
    data = cm.encode(sym, tables)
    assert hashlib.sha256(tables.tobytes()).hexdigest()[:16] == GOLDEN_TABLES
    assert hashlib.sha256(data).hexdigest()[:16] == GOLDEN_PAYLOAD
    assert np.array_equal(cm.decode(data, tables, sym.shape), sym)


GOLDEN_TABLES = "cdf168f5992344c4"
GOLDEN_PAYLOAD = "6a17e7cb42a2d692"


def test_corrupt_or_mis_sized_payloads_are_format_errors():
    rng = np.random.default_rng(2)
    tables = random_tables(rng, 2, 5)
    sym = rng.integers(0, 5, (2, 8, 8))
    data = cm.encode(sym, tables)
    for bad, shape in [(data + b"\x01", sym.shape), (data[:-1] + b"\0", sym.shape), (data, (2, 8, 9)), (data[:-4], sym.shape)]:
        with pytest.raises(FormatError):
            cm.decode(bad, tables, shape)


def test_table_and_symbol_checks():
    rng = np.random.default_rng(3)
    tables = random_tables(rng, 2, 5)
    with pytest.raises(ValueError):
        cm.check_tables(tables[:, :2])
    with pytest.raises(ValueError):
        cm.check_tables(tables, channels=3)
    bad = tables.copy()
    bad[0, 0, 0, 0] += 1
    with pytest.raises(ValueError):
        cm.check_tables(bad)
    with pytest.raises(ValueError):
        cm.encode(np.full((2, 3, 3), 5), tables)
    assert np.all(tables.sum(-1) == 1 << PRECISION) and tables.min() >= 1


def test_unseen_contexts_fall_back_to_the_channel_marginal():
    counts = np.zeros(cm.table_shape(1, 5), dtype=np.int64)
    counts[0, 0, 0] = [0, 0, 90, 10, 0]
    t = cm.tables_from_counts(counts, prior_weight=2.0)
    assert t[0, 0, 5].argmax() == 2 and t[0, 0, 0, 2] > t[0, 0, 5, 2]  # seen row is sharper
    assert np.all(t[0, 1] == t[0, 1, 0])  # a phase with no data: uniform rows


# --- the GC codec with context tables -------------------------------------------------


@pytest.fixture
def ctx_model(tiny_weights, photo, tmp_path):
    """The tiny GC model plus context tables learned from latents of the photo fixture."""
    ref = resolve_model("tiny", kind="gc")
    gc = gc_codec.load_gc(ref, torch.device("cpu"))
    lat = [image_symbols(gc, photo), image_symbols(gc, photo[::-1].copy()), image_symbols(gc, photo[:, ::-1].copy())]
    tables = cm.tables_from_counts(cm.count_contexts(lat, gc.cfg.channels, gc.cfg.levels))
    out = tmp_path / "ctx" / "tiny.safetensors"
    card = write_with_context_tables(ref, tables, out, {"data": "test fixture", "command": "pytest"})
    assert card["context_model"]["data"] == "test fixture" and card["name"] == "tiny"
    return resolve_model(str(out), kind="gc")


def test_codec_writes_tag_2_and_decodes_bit_exactly_across_threads_and_precision(ctx_model, photo):
    gc = gc_codec.load_gc(ctx_model, torch.device("cpu"))
    assert gc.context_tables is not None
    data = gc_codec.compress(gc, photo)
    c = unpack(data)
    assert [t for t, _ in c.sections] == [gc_codec.SECTION_CONTEXT_LATENTS]
    expected = image_symbols(gc, photo)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for half in (False, True):
                fresh = gc_codec.load_gc(ctx_model, torch.device("cpu"))
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=half):
                    results.append(gc_codec.decode_latents(fresh, unpack(data)))
                img = gc_codec.decompress(fresh, unpack(data), half=half)  # bf16 generator runs too
                assert img.shape == photo.shape
                assert gc_codec.compress(fresh, photo) == data  # re-encoding is bit-identical as well
    finally:
        torch.set_num_threads(before)
    for r in results:
        assert np.array_equal(r, expected)


def test_context_model_file_beats_static_on_its_own_image(ctx_model, photo):
    static = gc_codec.load_gc(resolve_model("tiny", kind="gc"), torch.device("cpu"))
    ctx = gc_codec.load_gc(ctx_model, torch.device("cpu"))
    sym = image_symbols(ctx, photo)
    assert np.array_equal(sym, image_symbols(static, photo))  # same networks, only tables added
    static_bytes = len(unpack(gc_codec.compress(static, photo)).section(gc_codec.SECTION_LATENTS))
    ctx_bytes = len(unpack(gc_codec.compress(ctx, photo)).section(gc_codec.SECTION_CONTEXT_LATENTS))
    assert ctx_bytes < static_bytes


def test_static_files_still_decode_and_tag_2_needs_tables(ctx_model, photo):
    static = gc_codec.load_gc(resolve_model("tiny", kind="gc"), torch.device("cpu"))
    ctx = gc_codec.load_gc(ctx_model, torch.device("cpu"))
    old = unpack(gc_codec.compress(static, photo))
    assert np.array_equal(gc_codec.decode_latents(ctx, old), image_symbols(static, photo))
    new = unpack(gc_codec.compress(ctx, photo))
    with pytest.raises(FormatError, match="no context tables"):
        gc_codec.decode_latents(static, new)


def test_malformed_context_tables_are_refused_at_load(ctx_model, tmp_path):
    from gcodec.codec.model_store import load_weights, save_weights

    state, card = load_weights(ctx_model.path)
    state[gc_codec.CONTEXT_TABLES_KEY] = state[gc_codec.CONTEXT_TABLES_KEY][:, :2].contiguous()
    bad = save_weights(state, card, tmp_path / "bad" / "tiny.safetensors")
    assert bad["sha256"]
    with pytest.raises(GcodecError, match="not a valid GC model"):
        gc_codec.load_gc(resolve_model(str(tmp_path / "bad" / "tiny.safetensors"), kind="gc"), torch.device("cpu"))
