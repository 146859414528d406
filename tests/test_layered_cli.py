"""Layered images through the command line: encode with rate control, info, decode at R, bad input."""

import json

import pytest

from .conftest import FIXTURES
from .test_cli import run

SAMPLE = FIXTURES / "sample_481x321.jpg"


def test_encode_info_decode(layered_weights, tmp_path):
    out = tmp_path / "s.gcodec"
    r = run("encode", str(SAMPLE), "-o", str(out), "-m", "tiny-layered", "--bpp", "0.08", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout.strip().splitlines()[-1])
    assert abs(rec["bpp"] / 0.08 - 1) <= 0.05 and rec["bytes"] == out.stat().st_size
    info = json.loads(run("info", str(out), "--json").stdout)
    assert info["kind"] == "layered-image" and info["layered"]["base_codec"] == "VVC intra"
    assert info["layered"]["base_bytes"] + info["layered"]["latent_bytes"] < info["bytes"]
    text = run("info", str(out)).stderr + run("info", str(out)).stdout
    assert "QP" in text and "scale 1/" in text
    for realism in ("0", "1"):
        png = tmp_path / f"s{realism}.png"
        r = run("decode", str(out), "-o", str(png), "--realism", realism, "-r", str(SAMPLE), "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["psnr"] > 20
    assert (tmp_path / "s0.png").read_bytes() != (tmp_path / "s1.png").read_bytes()


def test_size_option(layered_weights, tmp_path):
    out = tmp_path / "s.gcodec"
    r = run("encode", str(SAMPLE), "-o", str(out), "-m", "tiny-layered", "--size", "1200")
    assert r.exit_code == 0, r.output
    assert out.stat().st_size <= 1200


@pytest.mark.parametrize("args,msg", [
    (["--bpp", "0.00001"], "cannot meet --bpp"),
    (["--size", "30"], "cannot meet --size 30"),
    (["--bpp", "0.05", "--size", "900"], "not both"),
    (["--refine", "5"], "--refine applies to GC and SC"),
])
def test_encode_errors_leave_no_file(layered_weights, tmp_path, args, msg):
    out = tmp_path / "s.gcodec"
    r = run("encode", str(SAMPLE), "-o", str(out), "-m", "tiny-layered", *args)
    assert r.exit_code != 0 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_gc_model_refuses_rate_options(layered_weights, tmp_path):
    r = run("encode", str(SAMPLE), "-o", str(tmp_path / "x.gcodec"), "-m", "tiny", "--bpp", "0.05")
    assert r.exit_code == 1 and "need a layered model" in r.stderr


@pytest.mark.parametrize("realism", ["-0.5", "1.01", "nan"])
def test_decode_realism_out_of_range(layered_weights, tmp_path, realism):
    out = tmp_path / "s.gcodec"
    assert run("encode", str(SAMPLE), "-o", str(out), "-m", "tiny-layered", "--size", "1500").exit_code == 0
    png = tmp_path / "s.png"
    r = run("decode", str(out), "-o", str(png), "--realism", realism)
    assert r.exit_code == 1 and "--realism must be in [0, 1]" in r.stderr
    assert not png.exists()


def test_realism_refused_for_gc_files_without_a_stage(layered_weights, tmp_path, photo_path):
    out = tmp_path / "g.gcodec"
    assert run("encode", str(photo_path), "-o", str(out), "-m", "tiny").exit_code == 0
    r = run("decode", str(out), "-o", str(tmp_path / "g.png"), "--realism", "0.5")
    assert r.exit_code == 1 and "needs a detail stage for tiny" in r.stderr
    assert not (tmp_path / "g.png").exists()
