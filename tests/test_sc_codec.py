"""SC image codec: round trips, zero-bit synthesized cells, heatmap agreement, context tables, errors
(the command line: test_sc_cli.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gcodec.bitstream.container import Container, PayloadKind, pack, unpack
from gcodec.bitstream.entropy import encode_categorical
from gcodec.bitstream.errors import FormatError, InputError
from gcodec.bitstream.labelmap import encode_labelmap
from gcodec.codec import sc_codec, sc_selection
from gcodec.codec.gc_codec import to_tensor
from gcodec.codec.registry import resolve_model
from gcodec.models.gc import pad_to_multiple

from .conftest import FIXTURES, make_tiny_gc, save_tiny_model

TINY_SC = {"width": 4, "blocks": 1, "channels": 2, "levels": 5, "norm": "channel", "classes": 12, "sem_width": 2}
SKY, ROAD, TREE, VOID = 0, 3, 5, 11


def make_tiny_sc(path: Path, name: str = "tiny-sc", seed: int = 0) -> Path:
    from gcodec.models.sc import SCConfig, SCModel

    torch.manual_seed(seed)
    return save_tiny_model(SCModel(SCConfig.from_dict(TINY_SC)), {"name": name, "kind": "sc", "config": TINY_SC}, path)


def make_tiny_seg(path: Path, name: str = "tiny-seg") -> Path:
    from gcodec.codec.model_store import save_weights
    from gcodec.models.segnet import SegNet, SegNetConfig

    torch.manual_seed(0)
    cfg = SegNetConfig(stem=8, widths=(8, 16, 16, 16), depths=(1, 1, 1, 1), decoder=16)
    card = {"name": name, "kind": "segmentation", "architecture": "gcodec.models.segnet.SegNet",
            "config": cfg.to_dict(), "dataset": "camvid"}
    save_weights(SegNet(cfg).state_dict(), card, path / f"{name}.safetensors")
    return path / f"{name}.safetensors"


@pytest.fixture
def weights(tmp_path, monkeypatch) -> Path:
    wdir = tmp_path / "weights"
    make_tiny_gc(wdir)
    make_tiny_sc(wdir)
    monkeypatch.setenv("GCODEC_WEIGHTS", str(wdir))
    return wdir


@pytest.fixture
def sc(weights) -> sc_codec.LoadedSC:
    return sc_codec.load_sc(resolve_model("tiny-sc", kind="sc"), torch.device("cpu"))


@pytest.fixture
def photo() -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / "photo_200x168.png").convert("RGB"))


@pytest.fixture
def labels() -> np.ndarray:
    """A real CamVid label map (ids 0..11) resized to the photo's 200x168."""
    lab = Image.open(FIXTURES / "labelmap_camvid_0016E5_07959.png").resize((200, 168), Image.NEAREST)
    arr = np.asarray(lab)
    assert arr.dtype == np.uint8 and {SKY, ROAD, TREE} <= set(np.unique(arr).tolist())
    return arr


# ------------------------------------------------------------------ codec


def _expected_image(sc, photo, labels, heat):
    """What the decoder must produce: the model on the encoder's symbols masked by `heat`."""
    padded = torch.from_numpy(sc_codec.pad_labels(labels).astype(np.int64))[None]
    x = pad_to_multiple(to_tensor(photo, sc.device))
    symbols = sc.model.encode_symbols(x, padded)
    out = sc.model.decode_symbols(symbols, padded, torch.from_numpy(heat).float()[None, None])
    return symbols[0].numpy(), out


@pytest.mark.parametrize("ids,boxes", [([], []), ([SKY, ROAD, TREE], []), (list(range(12)), [(50, 40, 60, 50)])])
def test_round_trip_matches_model_and_heatmap(sc, photo, labels, ids, boxes):
    data = sc_codec.compress(sc, photo, labels, ids, boxes)
    c = unpack(data)
    assert c.kind == PayloadKind.SC_IMAGE and c.size == (168, 200)
    parts = sc_codec.decode_parts(sc, c)
    assert np.array_equal(parts.labels, labels)
    assert parts.synthesize_ids == sorted(ids) and parts.boxes == boxes
    heat = sc_codec.heatmap(sc_codec.pad_labels(labels), 12, ids, boxes)
    assert np.array_equal(parts.heat, heat)  # the decoder derives the encoder's heatmap
    symbols, expected = _expected_image(sc, photo, labels, heat)
    assert np.array_equal(parts.symbols[:, heat], symbols[:, heat])
    out = sc_codec.decompress(sc, c)
    assert out.shape == photo.shape and out.dtype == np.uint8
    from gcodec.codec.gc_codec import to_uint8

    assert np.array_equal(out, to_uint8(expected, 168, 200))


@pytest.mark.parametrize("h,w", [(20, 25), (40, 17), (33, 50)])
def test_round_trip_small_and_odd_sizes(sc, h, w):
    rng = np.random.default_rng(h * w)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    labels = np.zeros((h, w), np.uint8)
    labels[: h // 2] = SKY
    labels[h // 2 :, : w // 2] = VOID
    labels[h // 2 :, w // 2 :] = ROAD
    c = unpack(sc_codec.compress(sc, image, labels, [SKY, VOID]))
    parts = sc_codec.decode_parts(sc, c)
    assert np.array_equal(parts.heat, sc_codec.heatmap(sc_codec.pad_labels(labels), 12, [SKY, VOID], []))
    _, expected = _expected_image(sc, image, labels, parts.heat)
    from gcodec.codec.gc_codec import to_uint8

    assert np.array_equal(sc_codec.decompress(sc, c), to_uint8(expected, h, w))


def test_synthesized_cells_are_skipped_not_coded(sc, photo, labels):
    """The latent section is exactly the coded cells' symbols: nothing for synthesized ones."""
    ids = [SKY, ROAD, TREE]
    c = unpack(sc_codec.compress(sc, photo, labels, ids))
    heat = sc_codec.heatmap(sc_codec.pad_labels(labels), 12, ids, [])
    assert 0 < heat.sum() < heat.size
    symbols, _ = _expected_image(sc, photo, labels, heat)
    kept = symbols[:, heat]
    expected = encode_categorical(kept.reshape(-1), sc.tables, np.repeat(np.arange(2), kept.shape[1]))
    assert c.section(sc_codec.SECTION_LATENTS) == expected


def test_file_shrinks_as_more_is_synthesized(sc, photo, labels):
    sizes = []
    for ids in ([], [SKY], [SKY, ROAD], [SKY, ROAD, TREE], list(range(12))):
        c = unpack(sc_codec.compress(sc, photo, labels, ids))
        sizes.append(len(c.section(sc_codec.SECTION_LATENTS)))
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[3]
    assert sizes[-1] == 0  # everything synthesized: an empty latent section
    out = sc_codec.decompress(sc, c)
    assert out.shape == photo.shape


def test_preserved_box_forces_coded_cells(sc, photo, labels):
    box = (20, 17, 30, 15)  # overlaps latent columns 1..3 and rows 1..1
    parts = sc_codec.decode_parts(sc, unpack(sc_codec.compress(sc, photo, labels, list(range(12)), [box])))
    expected = np.zeros_like(parts.heat)
    expected[1:2, 1:4] = True
    assert np.array_equal(parts.heat, expected)
    mask = sc_codec.preserved_pixels(parts.heat, 168, 200)
    assert mask.shape == (168, 200) and mask.sum() == 16 * 48


def test_heatmap_majority_rule():
    lab = np.ones((32, 48), np.uint8)  # Building
    lab[:8, 16:32] = SKY  # exactly half of cell (0, 1) is sky: no majority, still coded
    lab[:9, 32:48] = SKY  # 9 of 16 rows: a majority, synthesized
    heat = sc_codec.heatmap(lab, 12, [SKY], [])
    assert heat.tolist() == [[True, True, False], [True, True, True]]
    assert sc_codec.heatmap(lab, 12, [SKY], [(40, 0, 1, 1)]).all()  # a box overrides synthesis


def test_selection_round_trip_and_canonical_form():
    for ids, boxes in (([], []), ([0, 3, 5], []), (list(range(12)), [(1, 2, 3, 4), (0, 0, 480, 360)])):
        data = sc_selection.pack_selection(ids, boxes)
        assert sc_selection.unpack_selection(data) == (ids, boxes)
    assert sc_selection.pack_selection([], []) == b"\x00\x00"
    with pytest.raises(FormatError):
        sc_selection.unpack_selection(b"\x02\x01\x00\x00")  # mask with a zero top byte
    with pytest.raises(FormatError):
        sc_selection.unpack_selection(b"\x00\x00\x00")  # trailing byte
    with pytest.raises(FormatError):
        sc_selection.unpack_selection(b"\x00\x01\x01\x01")  # box cut short


@pytest.fixture
def sc_ctx(sc, photo, labels, weights, tmp_path) -> sc_codec.LoadedSC:
    """The tiny SC model plus context tables learned (every cell coded) from the photo and its flips."""
    from gcodec.bitstream import context_model as cm
    from gcodec.codec.context_tables import sc_image_symbols, write_with_context_tables

    lat = [sc_image_symbols(sc, photo, labels), sc_image_symbols(sc, photo[::-1].copy(), labels[::-1].copy()),
           sc_image_symbols(sc, photo[:, ::-1].copy(), labels[:, ::-1].copy())]
    tables = cm.tables_from_counts(cm.count_contexts(lat, sc.cfg.channels, sc.cfg.levels))
    card = write_with_context_tables(sc.ref, tables, weights / "ctx" / "tiny-sc.safetensors", {"data": "fixture"})
    assert card["context_model"]["section_tag"] == sc_codec.SECTION_CONTEXT_LATENTS
    return sc_codec.load_sc(resolve_model(str(weights / "ctx" / "tiny-sc.safetensors"), kind="sc"),
                            torch.device("cpu"))


@pytest.mark.parametrize("ids,boxes", [([], []), ([SKY, ROAD, TREE], []), (list(range(12)), [(50, 40, 60, 50)])])
def test_context_model_codes_the_same_cells_in_fewer_bytes(sc, sc_ctx, photo, labels, ids, boxes):
    static, ctx = unpack(sc_codec.compress(sc, photo, labels, ids, boxes)), unpack(sc_codec.compress(
        sc_ctx, photo, labels, ids, boxes))
    assert [t for t, _ in ctx.sections] == [sc_codec.SECTION_CONTEXT_LATENTS, sc_codec.SECTION_MAP,
                                            sc_codec.SECTION_SELECTION]
    a, b = sc_codec.decode_parts(sc, static), sc_codec.decode_parts(sc_ctx, ctx)
    assert np.array_equal(a.heat, b.heat) and np.array_equal(a.symbols, b.symbols)
    assert np.array_equal(sc_codec.decompress(sc, static), sc_codec.decompress(sc_ctx, ctx))
    assert len(ctx.section(sc_codec.SECTION_CONTEXT_LATENTS)) < len(static.section(sc_codec.SECTION_LATENTS))
    assert sc_codec.section_sizes(pack(ctx))["latents"] == len(ctx.section(sc_codec.SECTION_CONTEXT_LATENTS))


def test_context_coded_files_need_the_tables_and_one_latent_section(sc, sc_ctx, photo, labels):
    data = sc_codec.compress(sc_ctx, photo, labels, [SKY])
    c = unpack(data)
    # the same networks without tables (another digest, so forge the header to reach the latents)
    forged = Container(c.kind, c.size, sc.ref.name, sc.ref.digest, c.sections)
    with pytest.raises(FormatError, match="no context tables"):
        sc_codec.decode_parts(sc, forged)
    both = Container(c.kind, c.size, c.model_id, c.model_digest,
                     c.sections + ((sc_codec.SECTION_LATENTS, b""),))
    with pytest.raises(FormatError, match="twice"):
        sc_codec.decode_parts(sc_ctx, both)
    other = unpack(sc_codec.compress(sc_ctx, photo, labels, [])).section(sc_codec.SECTION_CONTEXT_LATENTS)
    with pytest.raises(FormatError):  # latents of another heatmap
        sc_codec.decode_parts(sc_ctx, unpack(_with_section(data, sc_codec.SECTION_CONTEXT_LATENTS, other)))


def test_sc_context_tables_learn_from_labelled_photos(sc, photo, labels, tmp_path):
    from gcodec.codec.context_tables import learn_context_tables, sc_image_symbols

    (tmp_path / "set" / "images").mkdir(parents=True)
    (tmp_path / "set" / "labels").mkdir()
    Image.fromarray(photo).save(tmp_path / "set" / "images" / "a.png")
    Image.fromarray(labels).save(tmp_path / "set" / "labels" / "a.png")
    Image.fromarray(photo).save(tmp_path / "set" / "images" / "unlabelled.png")  # no map: left out
    tables, info = learn_context_tables(sc, tmp_path / "set", progress=False)
    assert info["images"] == 1 and info["symbols"] == sc_image_symbols(sc, photo, labels).size
    assert info["train_bits_per_symbol_context"] < info["train_bits_per_symbol_static"]
    with pytest.raises(InputError, match="images/ and labels/"):
        learn_context_tables(sc, tmp_path / "set" / "images", progress=False)


# ------------------------------------------------------------------ errors


def test_parse_classes_names_aliases_and_errors():
    names = sc_codec.class_names_for({}, 12)
    assert names[SKY] == "Sky" and names[VOID] == "Unlabelled"
    assert sc_selection.parse_classes("sky,TREE,Road", names) == [SKY, ROAD, TREE]
    assert sc_selection.parse_classes("vegetation, sidewalk", names) == [4, TREE]
    assert sc_selection.parse_classes("all", names) == list(range(12))
    with pytest.raises(InputError, match="unknown class 'skyy'"):
        sc_selection.parse_classes("sky,skyy", names)
    with pytest.raises(InputError):
        sc_selection.parse_classes("12", names)


def test_encode_rejects_bad_label_maps_and_boxes(sc, photo, labels):
    with pytest.raises(InputError, match="label map is 199x168"):
        sc_codec.compress(sc, photo, labels[:, :199], [SKY])
    bad = labels.copy()
    bad[0, 0] = 12
    with pytest.raises(InputError, match="class id 12"):
        sc_codec.compress(sc, photo, bad)
    with pytest.raises(InputError, match="inside"):
        sc_codec.compress(sc, photo, labels, [], [(190, 0, 11, 5)])
    with pytest.raises(InputError):
        sc_selection.parse_box("1,2,3")


def _with_section(data: bytes, tag: int, payload: bytes) -> bytes:
    c = unpack(data)
    sections = tuple((t, payload if t == tag else p) for t, p in c.sections)
    return pack(Container(c.kind, c.size, c.model_id, c.model_digest, sections))


def test_decode_validates_selection_map_and_model(sc, photo, labels, weights):
    data = sc_codec.compress(sc, photo, labels, [SKY])
    for payload, msg in ((sc_selection.pack_selection([12], []), "class id 12"),
                         (sc_selection.pack_selection([], [(0, 0, 201, 10)]), "inside"),
                         (b"", "ends inside")):
        with pytest.raises(FormatError, match=msg):
            sc_codec.decode_parts(sc, unpack(_with_section(data, sc_codec.SECTION_SELECTION, payload)))
    bad = labels.copy()
    bad[5, 5] = 40
    with pytest.raises(FormatError, match="class id 40"):
        sc_codec.decode_parts(sc, unpack(_with_section(data, sc_codec.SECTION_MAP, encode_labelmap(bad))))
    # latents of a different heatmap: wrong symbol count
    with pytest.raises(FormatError):
        other = unpack(sc_codec.compress(sc, photo, labels, [])).section(sc_codec.SECTION_LATENTS)
        sc_codec.decode_parts(sc, unpack(_with_section(data, sc_codec.SECTION_LATENTS, other)))
    make_tiny_sc(weights, "tiny-sc2", seed=1)
    sc2 = sc_codec.load_sc(resolve_model("tiny-sc2", kind="sc"), torch.device("cpu"))
    with pytest.raises(FormatError, match="written by model tiny-sc"):
        sc_codec.decode_parts(sc2, unpack(data))
