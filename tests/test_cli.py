"""The command line through click's runner, plus one real subprocess pipeline."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gcodec.cli.main import main

from .conftest import FIXTURES


def run(*args, input=None):
    """Invoke through `main` (the console entry point) so error handling is what users get."""
    runner = CliRunner()
    return runner.invoke(cli_entry, list(args), input=input, catch_exceptions=False)


import click  # noqa: E402


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def cli_entry(ctx):
    main(ctx.args)


def test_encode_decode_info(tiny_weights, photo_path, tmp_path):
    out = tmp_path / "a.gcodec"
    r = run("encode", str(photo_path), "-o", str(out), "--model", "tiny", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout.strip().splitlines()[-1])
    assert rec["bytes"] == out.stat().st_size and rec["bpp"] > 0 and "_line" not in rec
    r = run("info", str(out), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["model"] == "tiny"
    png = tmp_path / "a.png"
    r = run("decode", str(out), "-o", str(png), "-r", str(photo_path), "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout.strip().splitlines()[-1])
    assert png.is_file() and rec["psnr"] > 0 and 0 < rec["ms_ssim"] <= 1


def test_refuses_to_overwrite_without_force(tiny_weights, photo_path, tmp_path):
    out = tmp_path / "a.gcodec"
    out.write_bytes(b"keep")
    r = run("encode", str(photo_path), "-o", str(out), "--model", "tiny")
    assert r.exit_code == 1 and "exists" in r.stderr and out.read_bytes() == b"keep"
    assert run("encode", str(photo_path), "-o", str(out), "--model", "tiny", "--force").exit_code == 0
    assert out.read_bytes() != b"keep"


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n truncated"])
def test_bad_image_one_line_no_output(tiny_weights, tmp_path, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    out = tmp_path / "bad.gcodec"
    r = run("encode", str(bad), "-o", str(out), "--model", "tiny")
    assert r.exit_code == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not out.exists() and list(tmp_path.glob(".*tmp")) == []


def test_corrupt_and_truncated_containers(tiny_weights, photo_path, tmp_path):
    good = tmp_path / "a.gcodec"
    assert run("encode", str(photo_path), "-o", str(good), "--model", "tiny").exit_code == 0
    data = good.read_bytes()
    for i, variant in enumerate([data[: len(data) // 2], data[:5], b"GIF89a", bytes([data[0] ^ 1]) + data[1:],
                                 data[:-3] + bytes([data[-3] ^ 0x40]) + data[-2:]]):
        f = tmp_path / f"bad{i}.gcodec"
        f.write_bytes(variant)
        out = tmp_path / f"bad{i}.png"
        r = run("decode", str(f), "-o", str(out))
        assert r.exit_code == 1, (i, r.output)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert not out.exists()


def test_several_inputs_one_bad(tiny_weights, photo_path, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"junk")
    outdir = tmp_path / "out"
    outdir.mkdir()
    r = run("encode", str(photo_path), str(bad), "-d", str(outdir), "--model", "tiny", "--json")
    assert r.exit_code == 1
    assert (outdir / "photo_200x168.gcodec").is_file() and not (outdir / "bad.gcodec").exists()
    lines = [json.loads(x) for x in r.stdout.strip().splitlines()]
    assert {("error" in x) for x in lines} == {True, False}


@pytest.mark.parametrize("args,msg", [
    (["encode", "missing.png", "-o", "x.gcodec", "-m", "tiny"], "no such file"),
    (["encode", "a.png", "b.png", "-o", "x.gcodec", "-m", "tiny"], "single input"),
    (["encode", "a.png", "-m", "tiny"], "exactly one of"),
    (["encode", "a.png", "-o", "x.gcodec", "--model", "nope"], "unknown model"),
    (["encode", "a.png", "-o", "x.gcodec", "-m", "tiny", "--jobs", "0"], "--jobs"),
    (["encode", "a.png", "-o", "x.gcodec", "-m", "tiny", "--device", "tpu"], "unknown device"),
    (["encode", "a.png", "-o", "x.gcodec", "-m", "tiny", "--bpp", "0.05"], "need a layered model"),
    (["encode", "a.png", "-o", "x.gcodec", "-m", "tiny", "--refine", "-1"], "--refine must be >= 0"),
    (["encode", "l.png", "-o", "x.gcodec", "-m", "tiny", "--refine", "2"], "label map"),
    (["encode", "l.png", "-o", "x.gcodec", "--kind", "labelmap", "--refine", "2"], "images only"),
    (["decode", "missing.gcodec", "-o", "x.png"], "no such file"),
    (["info", "missing.gcodec"], "no such file"),
])
def test_usage_errors_are_one_line(tiny_weights, tmp_path, monkeypatch, photo_path, args, msg):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(photo_path.read_bytes())
    (tmp_path / "l.png").write_bytes((FIXTURES / "labelmap_camvid_0016E5_07959.png").read_bytes())
    r = run(*args)
    assert r.exit_code != 0
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_models_lists_shipped(tiny_weights):
    r = run("models", "--json")
    assert r.exit_code == 0 and [m["name"] for m in json.loads(r.stdout)] == ["tiny"]


def test_pipe_through_subprocess(tiny_weights, photo_path, tmp_path):
    """`gcodec encode - -o - | gcodec decode - -o out.png` as a shell pipeline would run it."""
    env = dict(os.environ, GCODEC_WEIGHTS=str(tiny_weights))
    cmd = [sys.executable, "-m", "gcodec.cli"]
    enc = subprocess.run(cmd + ["encode", "-", "-o", "-", "--model", "tiny"], input=photo_path.read_bytes(),
                         capture_output=True, env=env, timeout=300)
    assert enc.returncode == 0, enc.stderr.decode()
    assert enc.stdout[:3] == b"\xc7GC"
    out = tmp_path / "out.png"
    dec = subprocess.run(cmd + ["decode", "-", "-o", str(out)], input=enc.stdout, capture_output=True, env=env,
                         timeout=300)
    assert dec.returncode == 0, dec.stderr.decode()
    assert out.read_bytes()[:4] == b"\x89PNG"
    bad = subprocess.run(cmd + ["decode", "-", "-o", str(tmp_path / "x.png")], input=enc.stdout[:10],
                         capture_output=True, env=env, timeout=300)
    assert bad.returncode == 1 and b"Traceback" not in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_decode_reference_of_a_small_image_says_why_there_is_no_ms_ssim(tiny_weights, tmp_path):
    import numpy as np
    from PIL import Image

    src = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(src)
    assert run("encode", str(src), "-o", str(tmp_path / "s.gcodec"), "-m", "tiny").exit_code == 0
    r = run("decode", str(tmp_path / "s.gcodec"), "-o", str(tmp_path / "s.png"), "-r", str(src))
    assert r.exit_code == 0 and "MS-SSIM needs both sides" in r.stderr
    assert "Warning" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("decode", str(tmp_path / "s.gcodec"), "-o", str(tmp_path / "t.png"), "-r", str(src), "--json")
    rec = json.loads(r.stdout.strip())
    assert rec["ms_ssim"] is None and rec["psnr"] > 0


@pytest.mark.parametrize("src,args,msg", [
    ("photo_200x168.png", ["--epochs", "5"], "--epochs applies to videos only"),
    ("photo_200x168.png", ["--method", "dense", "--resize", "8x8"], "--method, --resize apply to videos only"),
    ("photo_200x168.png", ["--bf16"], "--bf16 applies to videos only"),
    ("photo_200x168.png", ["--head", "masked"], "--head applies to videos only"),
    ("clip_carphone_64x48.mp4", ["--method", "dense", "--head", "masked"],
     "a masked head needs --method supermask (dense trains every layer)"),
    ("clip_carphone_64x48.mp4", ["--model", "gc-c3"], "--model applies to images only"),
    ("clip_carphone_64x48.mp4", ["--synthesize", "sky"], "--synthesize applies to images only"),
])
def test_options_for_the_other_kind_of_input_are_refused(tmp_path, src, args, msg):
    out = tmp_path / "x.gcodec"
    r = run("encode", str(FIXTURES / src), "-o", str(out), *args)
    assert r.exit_code == 1 and r.stderr.strip() == f"gcodec: error: {msg}" and not out.exists()


def test_batch_progress_bar_on_a_terminal_only(tiny_weights, photo_path, tmp_path, monkeypatch):
    from gcodec.cli import coding_cmd

    inputs = []
    for i in range(3):
        inputs.append(tmp_path / f"p{i}.png")
        inputs[-1].write_bytes(photo_path.read_bytes())
    monkeypatch.setattr(coding_cmd, "_stderr_is_terminal", lambda: True)
    (tmp_path / "a").mkdir()
    r = run("encode", *map(str, inputs), "-d", str(tmp_path / "a"), "-m", "tiny")
    assert r.exit_code == 0 and "3/3" in r.stderr and r.stderr.count(" bpp, ") == 3
    (tmp_path / "b").mkdir()
    r = run("encode", *map(str, inputs), "-d", str(tmp_path / "b"), "-m", "tiny", "--json")
    assert r.exit_code == 0 and "3/3" not in r.stderr and len(r.stdout.strip().splitlines()) == 3
    monkeypatch.setattr(coding_cmd, "_stderr_is_terminal", lambda: False)
    (tmp_path / "c").mkdir()
    r = run("encode", *map(str, inputs), "-d", str(tmp_path / "c"), "-m", "tiny")
    assert r.exit_code == 0 and "3/3" not in r.stderr
