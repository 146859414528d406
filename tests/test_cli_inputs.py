"""The command line on every kind of input image (issue 21, item 4) and on interruption (item 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.codec import temp_outputs

from .conftest import FIXTURES
from .test_cli import run

INPUTS = FIXTURES / "inputs"


def test_alpha_option_and_its_default_are_in_help():
    from click.testing import CliRunner

    from gcodec.cli.main import cli

    r = CliRunner().invoke(cli, ["encode", "--help"])
    assert "--alpha [keep|drop]" in r.stdout and "(default: keep)" in " ".join(r.stdout.split())


def test_grey_and_rgba_decode_to_grey_and_rgba_png(tiny_weights, tmp_path):
    for name, mode in (("grey.png", "L"), ("rgba_soft.png", "RGBA"), ("grey_alpha_binary.png", "LA")):
        code, png = tmp_path / f"{name}.gcodec", tmp_path / f"{name}.out.png"
        assert run("encode", str(INPUTS / name), "-o", str(code), "-m", "tiny").exit_code == 0
        r = run("decode", str(code), "-o", str(png), "-r", str(INPUTS / name), "--json")
        assert r.exit_code == 0, r.output
        with Image.open(png) as im:
            assert im.mode == mode and im.size == (48, 32)
        assert '"kind": "image"' in r.stdout and '"psnr"' in r.stdout
    with Image.open(tmp_path / "rgba_soft.png.out.png") as im, Image.open(INPUTS / "rgba_soft.png") as src:
        assert np.array_equal(np.asarray(im)[:, :, 3], np.asarray(src)[:, :, 3])  # alpha is lossless
    dropped = tmp_path / "drop.gcodec"
    assert run("encode", str(INPUTS / "rgba_soft.png"), "-o", str(dropped), "-m", "tiny", "--alpha", "drop").exit_code == 0
    assert len(unpack(dropped.read_bytes()).sections) == 1


def test_16_bit_input_warns_in_one_line(tiny_weights, tmp_path):
    r = run("encode", str(INPUTS / "rgb16.png"), "-o", str(tmp_path / "a.gcodec"), "-m", "tiny")
    assert r.exit_code == 0
    assert [ln for ln in r.stderr.splitlines() if "warning" in ln] == [
        f"gcodec: warning: {INPUTS / 'rgb16.png'}: 16-bit image reduced to 8 bits"]


def test_animated_input_is_refused_with_the_video_path(tiny_weights, tmp_path):
    out = tmp_path / "a.gcodec"
    r = run("encode", str(INPUTS / "animated.gif"), "-o", str(out), "-m", "tiny")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "animated image (3 frames)" in r.stderr and "gcodec encode FRAMES_FOLDER_OR.mp4" in r.stderr
    assert not out.exists()


def test_alpha_is_refused_for_videos(tmp_path):
    r = run("encode", str(FIXTURES / "clip_carphone_64x48.mp4"), "-o", str(tmp_path / "v.gcodec"), "--alpha", "keep")
    assert r.exit_code == 1 and r.stderr.strip() == "gcodec: error: --alpha applies to images only"


def test_abandon_removes_temporaries_and_blocks_renames(tmp_path, monkeypatch):
    monkeypatch.setattr(temp_outputs, "_abandoned", False)
    monkeypatch.setattr(temp_outputs, "_live", set())
    target = tmp_path / "out.gcodec"
    with pytest.raises(temp_outputs.Abandoned):
        with temp_outputs.temporary(lambda: str(tmp_path / ".out.tmp")) as tmp:
            Path(tmp).write_bytes(b"half")  # a write in progress when the signal lands
            assert temp_outputs.abandon() == 1 and not Path(tmp).exists()
            temp_outputs.publish(tmp, lambda: os.replace(tmp, target))
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(temp_outputs.Abandoned):
        with temp_outputs.temporary(lambda: str(tmp_path / ".next.tmp")):
            pass


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_batch_leaves_no_partial_output(tiny_weights, photo_path, tmp_path, signum, code):
    inputs = []
    for i in range(12):
        inputs.append(tmp_path / f"p{i:02d}.png")
        inputs[-1].write_bytes(photo_path.read_bytes())
    outdir = tmp_path / "out"
    outdir.mkdir()
    env = {**os.environ, "GCODEC_WEIGHTS": str(tiny_weights), "OMP_NUM_THREADS": "1"}
    # --refine makes each file take a while (fitting steps), so the signal lands mid-batch
    proc = subprocess.Popen([sys.executable, "-m", "gcodec", "encode", *map(str, inputs), "-d", str(outdir),
                             "-m", "tiny", "--refine", "40", "--jobs", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(outdir.glob("*.gcodec")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    done = sorted(outdir.glob("*.gcodec"))
    assert proc.returncode == code, err
    lines = err.decode().strip().splitlines()
    assert lines[-1].startswith(f"gcodec: interrupted by {signal.Signals(signum).name}: ")
    assert "Traceback" not in err.decode()
    assert 1 <= len(done) < len(inputs)  # stopped mid-batch
    assert sorted(p.name for p in outdir.iterdir()) == [p.name for p in done]  # no temporaries left
    for p in done:
        unpack(p.read_bytes())  # every file there is complete
