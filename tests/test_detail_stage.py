"""Detail stages for GC models (codec/stage/; SC: tests/test_sc_realism.py): training, export, and the --realism knob on GC files."""

from __future__ import annotations

import json

import numpy as np
import torch

from gcodec.codec.api import Codec
from gcodec.codec.model_store import save_weights
from gcodec.codec.registry import resolve_model
from gcodec.models.detail import DetailConfig, DetailGenerator

from .test_cli import run
from .test_train_layered import _data


def make_tiny_stage(wdir, base: str = "tiny", digest: str | None = None, default_realism: float = 0.5,
                    channels: int = 2) -> None:
    """A stage for GC or SC model `base` (conditioned on `channels`) whose texture head draws visible detail."""
    torch.manual_seed(0)
    cfg = DetailConfig(width=8, blocks=1, channels=channels, levels=5)
    stage = DetailGenerator(cfg)
    with torch.no_grad():
        stage.texture[-1].weight.normal_(0, 0.05)
    ref = resolve_model(base)
    card = {"name": f"{base}-detail", "kind": "detail", "config": cfg.to_dict(), "base_model": ref.name,
            "base_digest": digest or ref.digest.hex(), "default_realism": default_realism}
    save_weights({k: v for k, v in stage.state_dict().items() if not k.startswith("fidelity.")}, card,
                 wdir / f"{base}-detail.safetensors")


def _gc_file(tmp_path, photo_path):
    out = tmp_path / "g.gcodec"
    assert run("encode", str(photo_path), "-o", str(out), "-m", "tiny").exit_code == 0
    return out.read_bytes()


def test_realism_on_gc_files(tiny_weights, tmp_path, photo_path):
    data = _gc_file(tmp_path, photo_path)
    plain = Codec(device=torch.device("cpu")).decode(data)[1]
    make_tiny_stage(tiny_weights)
    codec = Codec(device=torch.device("cpu"))
    assert np.array_equal(codec.decode(data, realism=0.0)[1], plain)  # R = 0: the GC decode, bit for bit
    default, half, one = (codec.decode(data, realism=r)[1] for r in (None, 0.5, 1.0))
    assert np.array_equal(default, half)  # the stage's default R
    assert not np.array_equal(half, plain) and not np.array_equal(one, half)
    assert np.abs(one.astype(int) - plain).mean() > np.abs(half.astype(int) - plain).mean()
    assert np.array_equal(Codec(device=torch.device("cpu")).decode(data, realism=1.0)[1], one)  # seeded noise

    png = tmp_path / "g.png"
    r = run("decode", str(tmp_path / "g.gcodec"), "-o", str(png), "--realism", "1")
    assert r.exit_code == 0, r.output
    r = run("decode", str(tmp_path / "g.gcodec"), "-o", str(tmp_path / "h.png"), "--realism", "1.5")
    assert r.exit_code == 1 and "--realism must be in [0, 1]" in r.stderr and not (tmp_path / "h.png").exists()


def test_a_stage_for_other_weights_is_not_used(tiny_weights, tmp_path, photo_path):
    data = _gc_file(tmp_path, photo_path)
    make_tiny_stage(tiny_weights, digest="00000000")
    codec = Codec(device=torch.device("cpu"))
    assert np.array_equal(codec.decode(data)[1], codec.decode(data, realism=0.0)[1])
    png = tmp_path / "g.png"
    r = run("decode", str(tmp_path / "g.gcodec"), "-o", str(png), "--realism", "0.5")
    assert r.exit_code == 1 and "needs a detail stage for tiny" in r.stderr and not png.exists()


def test_train_resume_export(tiny_weights, tmp_path, photo_path):
    data, out = _data(tmp_path), tmp_path / "run"
    args = ["train", "detail", "-m", "tiny", "--data", str(data), "--out", str(out), "--crop", "192", "--width", "8",
            "--blocks", "1", "--batch", "2", "--val-every", "2", "--val-fraction", "0.5", "--threads", "1",
            "--lr", "0.01"]
    r = run(*args, "--steps", "2")
    assert r.exit_code == 0, r.output
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [0, 2]
    assert log[0]["r1_psnr"] == log[0]["r0_psnr"]  # the texture head starts silent
    assert run(*args, "--steps", "4").exit_code == 0  # resumes at step 2
    assert [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()] == [0, 2, 4]
    assert run(*args, "--steps", "5").exit_code == 0  # a run ending between validations validates its last step
    assert run(*args, "--steps", "5").exit_code == 0  # once: nothing left to do logs nothing
    assert [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()] == [0, 2, 4, 5]
    state = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    assert not state["fidelity.weight"].any()  # R = 0 stays the GC decode
    assert state["texture.3.weight"].abs().sum() > 0
    r = run(*args, "--steps", "4", "--texture-weight", "3")
    assert r.exit_code == 1 and "another configuration" in r.stderr

    r = run("export", str(out), "-o", str(tiny_weights / "tiny-detail.safetensors"), "--default-realism", "0.5")
    assert r.exit_code == 0, r.output
    card = json.loads((tiny_weights / "tiny-detail.json").read_text())
    assert card["kind"] == "detail" and card["base_model"] == "tiny" and card["training"]["steps"] == 5 == card["validation"]["step"]
    assert card["base_digest"] == resolve_model("tiny").digest.hex()
    from gcodec.codec.stage.stage import stage_for

    assert stage_for(resolve_model("tiny")).name == "tiny-detail"
    gc_file = _gc_file(tmp_path, photo_path)
    assert Codec(device=torch.device("cpu")).decode(gc_file, realism=1.0)[1].shape == (168, 200, 3)


def test_eval_decodes_gc_curves_at_each_realism(tiny_weights, tmp_path, photo_path):
    out = tmp_path / "r.json"
    r = run("eval", "--data", str(photo_path), "--codecs", "gcodec:tiny", "--gc-realism", "0,1", "--out", str(out))
    assert r.exit_code == 1 and "gc model tiny has no detail stage" in r.stderr.lower()
    make_tiny_stage(tiny_weights)
    r = run("eval", "--data", str(photo_path), "--codecs", "gcodec:tiny", "--gc-realism", "0,1", "--refine", "2",
            "--out", str(out))
    assert r.exit_code == 0, r.output
    codecs = json.loads(out.read_text())["codecs"]
    assert list(codecs) == ["gcodec:tiny-R0", "gcodec:tiny-R0-refine2", "gcodec:tiny-R1", "gcodec:tiny-R1-refine2"]
    r0, r1 = (codecs[n]["per_image"][0] for n in ("gcodec:tiny-R0", "gcodec:tiny-R1"))
    assert r0["bytes"] == r1["bytes"] and r1["texture_retention"] != r0["texture_retention"]
    # "default": each stage at its own R (0.5 for the tiny stage)
    r = run("eval", "--data", str(photo_path), "--codecs", "gcodec:tiny", "--gc-realism", "default,0.5", "--out", str(out))
    assert r.exit_code == 0, r.output
    codecs = json.loads(out.read_text())["codecs"]
    assert list(codecs) == ["gcodec:tiny-Rdefault", "gcodec:tiny-R0.5"]
    assert codecs["gcodec:tiny-Rdefault"]["per_image"][0]["psnr"] == codecs["gcodec:tiny-R0.5"]["per_image"][0]["psnr"]
    r = run("eval", "--data", str(photo_path), "--codecs", "gcodec:tiny", "--gc-realism", "0,best", "--out", str(out))
    assert r.exit_code == 1 and "comma-separated" in r.stderr


def test_warm_start_from_a_layered_generator():
    from gcodec.models.detail import UNSHUFFLE
    from gcodec.models.train_stage import warm_start

    torch.manual_seed(0)
    layered = DetailGenerator(DetailConfig(width=8, blocks=1, channels=4))
    for p in layered.parameters():
        torch.nn.init.normal_(p)
    stage = DetailGenerator(DetailConfig(width=8, blocks=1, channels=6))
    copied = warm_start(stage, layered.state_dict())
    pixels = 3 * UNSHUFFLE**2
    assert "head.weight" not in copied and "texture.3.weight" in copied and "trunk.0.a.weight" in copied
    assert torch.equal(stage.head.weight[:, :pixels], layered.head.weight[:, :pixels])
    assert not stage.head.weight[:, pixels:].any()  # the other codec's latents start unheard
    assert not stage.fidelity.weight.any() and torch.equal(stage.texture[-1].weight, layered.texture[-1].weight)
