"""`gcodec train layered` end to end on three tiny images: cache, steps, resume, export, encode."""

import json
import shutil

import numpy as np
import torch
from PIL import Image

from .conftest import FIXTURES
from .test_cli import run


def _data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    img = np.asarray(Image.open(FIXTURES / "sample_481x321.jpg").convert("RGB"))
    for i, (y, x) in enumerate([(0, 0), (40, 200), (100, 90), (60, 250)]):
        Image.fromarray(img[y : y + 220, x : x + 220]).save(data / f"c{i}.png")
    return data


def test_train_resume_export_encode(tmp_path, monkeypatch):
    data, out = _data(tmp_path), tmp_path / "run"
    args = ["train", "layered", "--data", str(data), "--out", str(out), "--crop", "192", "--width", "8",
            "--blocks", "1", "-C", "2", "--batch", "2", "--val-every", "2", "--val-fraction", "0.5", "--threads", "1"]
    r = run(*args, "--steps", "2")
    assert r.exit_code == 0, r.output
    assert len(list((out / "cache").glob("shard_*.npz"))) == 1
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [0, 2] and log[0]["r0_psnr"] == log[0]["base_psnr"]
    assert run(*args, "--steps", "4").exit_code == 0  # resumes at step 2
    assert [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()] == [0, 2, 4]
    r = run(*args, "--steps", "4", "--lr", "1e-3")
    assert r.exit_code == 1 and "another configuration" in r.stderr

    # a texture-only stage from that run moves the texture head and nothing else
    stage2 = tmp_path / "stage2"
    r = run(*[a if a != str(out) else str(stage2) for a in args], "--steps", "2", "--init-from", str(out),
            "--texture-only", "--cache-from", str(out), "--texture-weight", "1")
    assert r.exit_code == 0, r.output
    before = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    after = torch.load(stage2 / "checkpoint.pt", weights_only=True)["model"]
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("generator.texture.") for k in moved)
    assert not (stage2 / "cache").exists()
    assert json.loads((stage2 / "config.json").read_text())["init_from"]["steps"] == 4

    # a band-gains stage from a model trained without them moves the gains and nothing else
    stage3 = tmp_path / "stage3"
    r = run(*[a if a != str(out) else str(stage3) for a in args], "--steps", "2", "--init-from", str(out),
            "--sharpen", "--gains-only", "--cache-from", str(out), "--lr", "0.05")
    assert r.exit_code == 0, r.output
    after = torch.load(stage3 / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert after["generator.band_gain"].abs().sum() > 0 and after["generator.sharpen_gain"].abs().sum() > 0

    wdir = tmp_path / "weights"
    wdir.mkdir()
    r = run("export", str(out), "-o", str(wdir / "lay.safetensors"), "--default-realism", "0.4")
    assert r.exit_code == 0, r.output
    card = json.loads((wdir / "lay.json").read_text())
    assert card["kind"] == "layered" and card["training"]["steps"] == 4 and card["default_realism"] == 0.4
    assert card["training"]["command"].startswith("gcodec ")  # sys.argv: pytest's own here
    monkeypatch.setenv("GCODEC_WEIGHTS", str(wdir))
    enc = tmp_path / "a.gcodec"
    assert run("encode", str(FIXTURES / "sample_481x321.jpg"), "-o", str(enc), "-m", "lay", "--bpp", "0.1").exit_code == 0
    assert run("decode", str(enc), "-o", str(tmp_path / "a.png")).exit_code == 0
    r = run("export", str(stage3), "-o", str(wdir / "sharp.safetensors"))
    assert r.exit_code == 0, r.output
    assert json.loads((wdir / "sharp.json").read_text())["config"]["sharpen"] is True
    assert run("encode", str(FIXTURES / "sample_481x321.jpg"), "-o", str(enc), "-m", "sharp", "--bpp", "0.1",
               "--force").exit_code == 0
    assert run("decode", str(enc), "-o", str(tmp_path / "b.png"), "--realism", "0.7").exit_code == 0


def test_train_refuses_impossible_options(tmp_path):
    data = _data(tmp_path)
    r = run("train", "layered", "--data", str(data), "--out", str(tmp_path / "r"), "--crop", "100", "--lr", "-1")
    assert r.exit_code == 1 and "--crop" in r.stderr and "--lr" in r.stderr
    assert not (tmp_path / "r").exists()
    r = run("train", "layered", "--data", str(data), "--out", str(tmp_path / "r"), "--texture-only")
    assert r.exit_code == 1 and "--init-from" in r.stderr
    r = run("train", "layered", "--data", str(data), "--out", str(tmp_path / "r"), "--gains-only", "--init-from", "x")
    assert r.exit_code == 1 and "--sharpen" in r.stderr
    assert not (tmp_path / "r").exists()
    shutil.rmtree(data)


def test_texture_band_confines_the_residual_to_the_finest_band():
    from gcodec.models.detail import DetailConfig, DetailModel, gaussian_blur

    torch.manual_seed(0)
    cfg = DetailConfig(width=8, blocks=1, texture_band=0.7)
    assert DetailConfig.from_dict(cfg.to_dict()) == cfg and DetailConfig.from_dict({}).texture_band == 0
    banded, whole = DetailModel(cfg), DetailModel(DetailConfig(width=8, blocks=1))
    whole.load_state_dict(banded.state_dict())  # no tensors of its own: cards without the key still load
    for m in (banded, whole):
        torch.nn.init.normal_(m.generator.texture[-1].weight, std=0.1)
        torch.nn.init.normal_(m.generator.texture[-1].bias, std=0.1)  # a flat offset the band removes
    whole.load_state_dict(banded.state_dict())
    args = (torch.rand(1, 3, 64, 64) * 2 - 1, torch.zeros(1, 4, 2, 2), torch.randn(1, 1, 64, 64), torch.ones(1),
            torch.ones(1))
    with torch.no_grad():
        (o_b, t_b, _), (o_w, t_w, _) = banded.generator(*args), whole.generator(*args)
    assert torch.equal(o_b, o_w)  # R = 0 is untouched
    low = lambda t: gaussian_blur(t, 3.0).abs().mean()  # noqa: E731
    assert low(t_b) < 0.1 * low(t_w)
    assert torch.allclose(t_b, t_w - gaussian_blur(t_w, 0.7), atol=1e-6)
