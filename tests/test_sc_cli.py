"""SC from the command line (encode, info, decode, errors, semantic folders, eval-sc) and encoder-side refinement."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.cli.main import main
from gcodec.codec import sc_codec
from gcodec.codec.eval.sc import centre_box, masked_psnr, rect_of

from .test_sc_codec import SKY, TREE, labels, make_tiny_seg, photo, sc, weights  # noqa: F401




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
