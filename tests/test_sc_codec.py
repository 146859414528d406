"""SC image codec: round trips, zero-bit synthesized cells, heatmap agreement, errors, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gcodec.bitstream.container import Container, PayloadKind, pack, unpack
from gcodec.bitstream.entropy import encode_categorical
from gcodec.bitstream.errors import FormatError, InputError
from gcodec.bitstream.labelmap import encode_labelmap
from gcodec.cli.main import main
from gcodec.codec import sc_codec, sc_selection
from gcodec.codec.eval.sc import centre_box, masked_psnr, rect_of
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


# ------------------------------------------------------------------ CLI


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def cli_entry(ctx):
    main(ctx.args)


def run(*args):
    return CliRunner().invoke(cli_entry, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def files(tmp_path, photo, labels) -> tuple[Path, Path]:
    img, lab = tmp_path / "photo.png", tmp_path / "photo_labels.png"
    Image.fromarray(photo).save(img)
    Image.fromarray(labels).save(lab)
    return img, lab


def test_cli_encode_info_decode(weights, files, tmp_path):
    img, lab = files
    sizes = {}
    for tag, extra in (("all", []), ("some", ["--synthesize", "Sky,tree,ROAD"]),
                       ("box", ["--synthesize", "all", "--preserve-box", "40,40,80,60"])):
        out = tmp_path / f"{tag}.gcodec"
        r = run("encode", img, "-m", "tiny-sc", "--semantic", lab, *extra, "-o", out, "--json")
        assert r.exit_code == 0, r.output
        rec = json.loads(r.stdout.strip().splitlines()[-1])
        assert rec["bytes"] == out.stat().st_size and rec["map_bytes"] > 0
        sizes[tag] = rec["latent_bytes"]
        r = run("decode", out, "-o", tmp_path / f"{tag}.png", "-r", img, "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout.strip().splitlines()[-1])["psnr"] > 0
    assert sizes["all"] > sizes["some"] > sizes["box"]
    r = run("info", tmp_path / "some.gcodec")
    assert r.exit_code == 0
    for word in ("header", "map", "latents", "selection", "Sky, Road, Tree"):
        assert word in r.stdout
    d = json.loads(run("info", tmp_path / "box.gcodec", "--json").stdout)
    assert d["kind"] == "sc-image" and d["preserved_boxes"] == [[40, 40, 80, 60]]
    assert set(d["section_names"].values()) == {"latents", "map", "selection"}


def _one_line_error(r, *words):
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_cli_errors(weights, files, tmp_path, labels):
    img, lab = files
    out = tmp_path / "x.gcodec"
    _one_line_error(run("encode", img, "-m", "tiny-sc", "--semantic", lab, "--synthesize", "sky,clouds", "-o", out),
                    "unknown class 'clouds'")
    _one_line_error(run("encode", img, "-m", "tiny", "--synthesize", "sky", "-o", out), "need an SC model")
    _one_line_error(run("encode", img, "-m", "tiny", "--semantic", lab, "-o", out), "need an SC model")
    _one_line_error(run("encode", img, "-m", "tiny-sc", "-o", out), "--semantic")
    small = tmp_path / "small.png"
    Image.fromarray(labels[:100]).save(small)
    _one_line_error(run("encode", img, "-m", "tiny-sc", "--semantic", small, "-o", out), "label map is 200x100")
    bad = labels.copy()
    bad[0, 0] = 30
    badp = tmp_path / "bad.png"
    Image.fromarray(bad).save(badp)
    _one_line_error(run("encode", img, "-m", "tiny-sc", "--semantic", badp, "-o", out), "class id 30")
    _one_line_error(run("encode", img, "-m", "tiny-sc", "--semantic", lab, "--preserve-box", "1,2", "-o", out),
                    "x,y,w,h")
    assert not out.exists()


def test_cli_semantic_folder_and_auto(weights, files, tmp_path, photo):
    img, lab = files
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "photo.png").write_bytes(lab.read_bytes())
    outdir = tmp_path / "out"
    outdir.mkdir()
    r = run("encode", img, "-m", "tiny-sc", "--semantic", maps, "-d", outdir)
    assert r.exit_code == 0, r.output
    make_tiny_seg(weights, sc_codec.AUTO_SEGMENTER)
    r = run("encode", img, "-m", "tiny-sc", "--semantic", "auto", "--synthesize", "sky", "-o", tmp_path / "a.gcodec")
    assert r.exit_code == 0, r.output
    assert run("decode", tmp_path / "a.gcodec", "-o", tmp_path / "a.png").exit_code == 0


# ------------------------------------------------------------------ evaluation


def test_eval_helpers():
    assert centre_box(360, 480, 0.5) == (120, 90, 240, 180)
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True
    assert rect_of(m) == (2, 5, 3, 9)
    m[0, 0] = True
    assert rect_of(m) is None
    a = np.zeros((10, 12, 3), np.uint8)
    b = a.copy()
    b[~m] = 255  # differences only outside the mask
    assert masked_psnr(a, b, m) == float("inf")
    assert masked_psnr(a, b, ~m) == pytest.approx(0.0)


def test_cli_eval_sc(weights, tmp_path, photo, labels):
    make_tiny_seg(weights)
    data = tmp_path / "camvid"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    big = np.asarray(Image.fromarray(photo).resize((320, 240), Image.BILINEAR))
    big_labels = np.asarray(Image.fromarray(labels).resize((320, 240), Image.NEAREST))
    for i in range(2):
        Image.fromarray(np.roll(big, 7 * i, axis=1)).save(data / "images" / f"im{i}.png")
        Image.fromarray(np.roll(big_labels, 7 * i, axis=1)).save(data / "labels" / f"im{i}.png")
    out = tmp_path / "res"
    r = run("eval-sc", "--data", data, "-m", "tiny-sc", "--seg-model", "tiny-seg", "--gc-model", "tiny",
            "--box-fraction", "0.75", "-o", out)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "eval_sc.json").read_text())
    s = res["summary"]
    assert res["n_images"] == 2 and (out / "sc_figure.png").is_file()
    assert s["none"]["bpp_latents"] > max(s["sky+tree+road"]["bpp_latents"], s["box"]["bpp_latents"])
    assert s["none"]["bpp_map"] == s["box"]["bpp_map"] > 0
    assert s["none"]["psnr_preserved"] == pytest.approx(s["none"]["psnr"])
    assert s["box"]["ms_ssim_preserved_n"] == 2 and 0 <= s["box"]["miou_vs_original"] <= 1
    # synthesized pixels get texture measures (none in the no-synthesis setting), GC's on the same pixels
    assert s["none"]["texture_synth"] is None and s["box"]["texture_synth"] > 0
    assert -1 <= s["box"]["tile_repeat_synth"] <= 1 and -1 <= s["box"]["gc_tile_repeat_synth"] <= 1
    assert "sky+tree+road" in r.stdout and "tile repetition" in r.stdout
    # segmentation kept on the synthesized pixels alone; the decode's realism is recorded
    assert 0 <= s["box"]["miou_vs_original_synth"] <= 1 and "miou_vs_original_synth" not in s["none"]
    assert res["realism"] == 0 and "realism 0" in r.stdout  # tiny-sc has no detail stage
    _one_line_error(run("eval-sc", "--data", data, "-m", "tiny-sc", "--realism", "0.5", "-o", tmp_path / "x"),
                    "needs a detail stage for tiny-sc")
    # a resumed run reuses the cached per-image records and reports the same numbers
    args = ["eval-sc", "--data", data, "-m", "tiny-sc", "--seg-model", "tiny-seg", "--gc-model", "tiny",
            "--box-fraction", "0.75", "--resume", "--figure-image", "im0"]
    assert run(*args, "-o", tmp_path / "r1").exit_code == 0
    assert (tmp_path / "r1" / "cache" / "im1.json").is_file()
    assert run(*args, "-o", tmp_path / "r1").exit_code == 0
    again = json.loads((tmp_path / "r1" / "eval_sc.json").read_text())
    assert again["summary"] == res["summary"]
    # refinement is part of the cache key: a refined rerun into the same folder computes afresh
    r = run(*args, "--refine", "3", "-o", tmp_path / "r1")
    assert r.exit_code == 0, r.output
    refined = json.loads((tmp_path / "r1" / "eval_sc.json").read_text())
    assert refined["refine_steps"] == 3 and refined["summary"] != res["summary"]


def test_refinement_moves_only_coded_latents_and_lowers_the_loss(sc, photo, labels, weights, tmp_path):
    from gcodec.models.latent_refine import refinement_loss

    def loss(img: np.ndarray) -> float:
        to = lambda a: torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1  # noqa: E731
        return refinement_loss(to(img), to(photo)).item()

    plain = sc_codec.compress(sc, photo, labels, [SKY])
    refined = sc_codec.compress(sc, photo, labels, [SKY], refine_steps=8)
    a, b = sc_codec.decode_parts(sc, unpack(plain)), sc_codec.decode_parts(sc, unpack(refined))
    assert np.array_equal(a.heat, b.heat) and not np.array_equal(a.symbols, b.symbols)
    assert np.all(b.symbols[:, ~b.heat] == (sc.cfg.levels - 1) // 2)  # synthesized cells stay uncoded
    assert loss(sc_codec.decompress(sc, unpack(refined))) < loss(sc_codec.decompress(sc, unpack(plain)))
    # and from the command line
    lab = tmp_path / "l.png"
    Image.fromarray(labels).save(lab)
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    r = run("encode", src, "-m", "tiny-sc", "--semantic", lab, "--synthesize", "sky", "--refine", 8,
            "-o", tmp_path / "r.gcodec")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r.gcodec").read_bytes() == refined
