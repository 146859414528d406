"""Training runs end to end on tiny settings: train, resume, export, then code with the export."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec
from gcodec.codec.export import TABLES_KEY, export_run, integer_tables
from gcodec.codec.registry import resolve_model
from gcodec.models.gc import GCConfig
from gcodec.models.sc import NOISE_UP_INIT, SCConfig
from gcodec.models.train_gc import train
from gcodec.models.train_gc_config import GCTrainConfig

from .conftest import FIXTURES


def _data(tmp_path, labels=False):
    d = tmp_path / "data"
    d.mkdir()
    for i, f in enumerate(["photo_200x168.png", "urban_176.png", "sample_481x321.jpg"]):
        shutil.copy(FIXTURES / f, d / f"img{i}{(FIXTURES / f).suffix}")
    if labels:
        ld = tmp_path / "labels"
        ld.mkdir()
        for p in d.iterdir():
            w, h = Image.open(p).size
            lab = (np.arange(w)[None, :] * 3 // w + np.zeros((h, 1), int)).astype(np.uint8)
            Image.fromarray(lab).save(ld / (p.stem + ".png"))
    return d


def _cfg(tmp_path, data, steps, **kw):
    return GCTrainConfig(data=str(data), out=str(tmp_path / "run"), steps=steps, crop=64, batch=2, val_count=1,
                         warmup_frac=0.5, disc_base=8, val_every=0, ckpt_every=1e9, seed=1, command="test", **kw)


def test_train_resume_export_and_code(tmp_path, monkeypatch):
    data = _data(tmp_path)
    model = GCConfig(width=4, blocks=1, channels=2)
    train(_cfg(tmp_path, data, 2, model=model), progress=False)
    train(_cfg(tmp_path, data, 4, model=model), progress=False)  # resumes at step 2
    log = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["phase"] == "final"] == [2, 4]
    assert {"val_psnr", "val_msssim", "val_bpp_ideal"} <= set(log[-1])
    assert log[-1]["phase"] == "final" and "d" in log[-1]  # the GAN phase ran

    wdir = tmp_path / "weights"
    card = export_run(tmp_path / "run", wdir / "mine.safetensors", "mine", data_note="fixtures")
    assert card["training"]["steps"] == 4 and card["kind"] == "gc"
    monkeypatch.setenv("GCODEC_WEIGHTS", str(wdir))
    gc = gc_codec.load_gc(resolve_model("mine", kind="gc"), torch.device("cpu"))
    img = np.asarray(Image.open(FIXTURES / "urban_176.png").convert("RGB"))
    assert gc_codec.decompress(gc, unpack(gc_codec.compress(gc, img))).shape == img.shape


def test_export_of_a_mid_run_checkpoint_describes_those_weights(tmp_path):
    data = _data(tmp_path)
    train(_cfg(tmp_path, data, 3, model=GCConfig(width=4, blocks=1, channels=2)), progress=False)
    run = tmp_path / "run"
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    # a checkpoint two steps past the last validation, and a log copied after a later validation
    ckpt["step"], ckpt["elapsed"] = 5, 9.5
    logits = torch.randn_like(ckpt["model"]["prior.logits"]) * 3  # not representable in float16
    ckpt["model"]["prior.logits"] = logits
    torch.save(ckpt, run / "checkpoint.pt")
    later = dict(log[-1], step=8, elapsed=20.0, val_psnr=99.0)
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log + [later]))
    card = export_run(run, tmp_path / "w/mid.safetensors", "mid")
    assert card["training"]["steps"] == 5 and card["training"]["wall_seconds"] == 9.5
    assert card["validation_step"] == 3 and card["validation"]["val_psnr"] == log[-1]["val_psnr"]
    assert [r["step"] for r in card["log"]] == [r["step"] for r in log]
    # the logits are stored exactly, so a run continuing from this file rebuilds the same tables
    w = load_file(str(tmp_path / "w/mid.safetensors"))
    assert torch.equal(w["prior.logits"], logits) and torch.equal(w[TABLES_KEY], integer_tables(logits))


def test_sc_training_step_runs(tmp_path):
    data = _data(tmp_path, labels=True)
    model = SCConfig(width=4, blocks=1, channels=2, classes=3, sem_width=2)
    train(_cfg(tmp_path, data, 2, model=model, labels=str(tmp_path / "labels")), progress=False)
    card = export_run(tmp_path / "run", tmp_path / "w/sc.safetensors", "sc")
    assert card["kind"] == "sc" and card["config"]["classes"] == 3


def test_init_from_a_shipped_model_continues_its_training(tmp_path):

    from .test_cli import run

    data = _data(tmp_path)
    train(_cfg(tmp_path, data, 3, model=GCConfig(width=4, blocks=1, channels=2)), progress=False)
    first = tmp_path / "w/first.safetensors"
    export_run(tmp_path / "run", first, "first")
    common = ["train", "gc", "--data", str(data), "--crop", "64", "--batch", "2", "--val-count", "1",
              "--disc-base", "8", "--steps", "2", "--init-from", str(first)]
    # lr 0: the weights stay those of the init, so the export must reproduce them exactly
    r = run(*common, "--out", str(tmp_path / "run2"), "--lr", "0")
    assert r.exit_code == 0, r.output
    card = export_run(tmp_path / "run2", tmp_path / "w/second.safetensors", "second")
    assert card["config"]["width"] == 4 and card["training"]["config"]["init_from"]["name"] == "first"
    assert card["training"]["steps"] == 2 and card["training"]["total_steps"] == 5
    a, b = load_file(str(first)), load_file(str(tmp_path / "w/second.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a third stage's card traces its lineage back through both earlier ones
    r = run(*common[:-1], str(tmp_path / "w/second.safetensors"), "--out", str(tmp_path / "run4"), "--lr", "0")
    assert r.exit_code == 0, r.output
    lineage = export_run(tmp_path / "run4", tmp_path / "w/third.safetensors", "third")["training"]["config"]["init_from"]
    assert lineage["name"] == "second" and lineage["init_from"]["name"] == "first" and lineage["steps"] == 5
    # an architecture option that contradicts the init model is refused before training
    r = run(*common, "--out", str(tmp_path / "run3"), "--width", "8")
    assert r.exit_code != 0 and "contradicts" in r.output and not (tmp_path / "run3").exists()
    # a run folder holding another model's checkpoint is refused in one line, and left as it was
    before = (tmp_path / "run/checkpoint.pt").read_bytes()
    r = run("train", "gc", "--data", str(data), "--crop", "64", "--batch", "2", "--val-count", "1",
            "--disc-base", "8", "--steps", "4", "--width", "4", "--blocks", "1", "-C", "3", "--out", str(tmp_path / "run"))
    assert r.exit_code == 1 and "trained with another model config; use a new run folder" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and (tmp_path / "run/checkpoint.pt").read_bytes() == before


def test_sc_run_starts_from_a_gc_model(tmp_path):

    from gcodec.codec.model_store import load_weights
    from gcodec.models.sc import SCModel

    from .test_cli import run

    data = _data(tmp_path, labels=True)
    train(_cfg(tmp_path, data, 2, model=GCConfig(width=4, blocks=1, channels=2)), progress=False)
    gc_file = tmp_path / "w/gc.safetensors"
    export_run(tmp_path / "run", gc_file, "gc")
    common = ["train", "gc", "--data", str(data), "--labels", str(tmp_path / "labels"), "--crop", "64",
              "--batch", "2", "--val-count", "1", "--disc-base", "8", "--steps", "1", "--init-from", str(gc_file),
              "--classes", "3", "--sem-width", "2"]
    r = run(*common, "--out", str(tmp_path / "sc_run"), "--lr", "0")
    assert r.exit_code == 0, r.output
    card = export_run(tmp_path / "sc_run", tmp_path / "w/sc.safetensors", "sc")
    assert card["kind"] == "sc" and card["config"]["classes"] == 3 and card["config"]["width"] == 4
    assert card["training"]["config"]["init_from"]["name"] == "gc" and card["training"]["total_steps"] == 3
    # lr 0: the shared weights are the GC model's; the label-map inputs are zero
    gc_w, sc_w = load_file(str(gc_file)), load_file(str(tmp_path / "w/sc.safetensors"))
    first = "encoder.net.0.0.weight"
    assert torch.equal(sc_w[first][:, :3], gc_w[first]) and not sc_w[first][:, 3:].any()
    assert torch.equal(sc_w["generator.tail.weight"], gc_w["generator.tail.weight"])
    state, _ = load_weights(tmp_path / "w/sc.safetensors")
    SCModel(SCConfig(**card["config"])).load_state_dict({k: v.float() for k, v in state.items()
                                                         if not k.startswith("entropy.")})
    # noise channels join an SC model at zero weight, after its latent and F inputs
    r = run(*common[:-6], "--init-from", str(tmp_path / "w/sc.safetensors"), "--noise", "2",
            "--out", str(tmp_path / "noise_run"), "--lr", "0")
    assert r.exit_code == 0, r.output
    card = export_run(tmp_path / "noise_run", tmp_path / "w/noisy.safetensors", "noisy")
    assert card["config"]["noise"] == 2 and card["config"]["classes"] == 3
    noisy_w = load_file(str(tmp_path / "w/noisy.safetensors"))
    head = "generator.head.0.weight"
    assert torch.equal(noisy_w[head][:, :-2], sc_w[head]) and not noisy_w[head][:, -2:].any()
    r = run(*common[:-6], "--init-from", str(tmp_path / "w/noisy.safetensors"), "--noise", "1",
            "--out", str(tmp_path / "fewer"))
    assert r.exit_code == 1 and "contradicts" in r.stderr
    # the mode-seeking term trains a model with noise (here the one just made), and needs one
    r = run(*common[:-6], "--init-from", str(tmp_path / "w/noisy.safetensors"), "--diversity-weight", "0.1",
            "--out", str(tmp_path / "diverse"))
    assert r.exit_code == 0, r.output
    assert "div" in json.loads((tmp_path / "diverse/log.jsonl").read_text().splitlines()[-1])
    r = run(*common[:-6], "--init-from", str(tmp_path / "w/sc.safetensors"), "--diversity-weight", "0.1",
            "--out", str(tmp_path / "no_noise"))
    assert r.exit_code == 1 and "needs a model with noise" in r.stderr
    # noise after the up-sampling stages joins at a small scale (zero where every cell is coded)
    r = run(*common[:-6], "--init-from", str(tmp_path / "w/noisy.safetensors"), "--noise-up",
            "--diversity-weight", "0.1", "--texture-weight", "1", "--out", str(tmp_path / "up_run"), "--lr", "0")
    assert r.exit_code == 0, r.output
    assert {"div", "tex"} <= set(json.loads((tmp_path / "up_run/log.jsonl").read_text().splitlines()[-1]))
    card = export_run(tmp_path / "up_run", tmp_path / "w/up.safetensors", "up")
    assert card["config"]["noise_up"] is True and card["config"]["noise"] == 2
    up_w = load_file(str(tmp_path / "w/up.safetensors"))
    assert {k for k in up_w if k.startswith("noise_scales.")} == {f"noise_scales.{i}" for i in range(4)}
    assert all(torch.allclose(up_w[f"noise_scales.{i}"].float(), torch.tensor(NOISE_UP_INIT), atol=1e-4)
               for i in range(4))  # stored as float16
    # a GC run cannot start from an SC model
    r = run("train", "gc", "--data", str(data), "--out", str(tmp_path / "gc_run"), "--crop", "64",
            "--init-from", str(tmp_path / "w/sc.safetensors"))
    assert r.exit_code == 1 and "a gc run starts from a gc model" in r.stderr
    assert not (tmp_path / "gc_run").exists()


@pytest.mark.parametrize("args,msg", [
    (["--crop", "200"], "multiple of 16"),
    (["--crop", "16"], "at least 32"),
    (["--crop", "128", "--msssim-weight", "5"], "--crop of at least 161"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--lr", "-1e-4"], "--lr must not be negative"),
    (["--lr-warmup", "-1"], "--lr-warmup must not be negative"),
    (["--gan-weight", "-1"], "--gan-weight must not be negative"),
    (["--threads", "-2"], "--threads must not be negative"),
    (["--synth-distortion", "1.5"], "--synth-distortion must lie in [0, 1]"),
    (["--synth-distortion", "0.5"], "it needs --labels"),
    (["--noise", "2"], "--noise is for SC models (it needs --labels)"),
    (["--noise-up"], "--noise-up is for SC models (it needs --labels)"),
    (["--diversity-weight", "0.1"], "--diversity-weight is for SC models (it needs --labels)"),
    (["--texture-weight", "1"], "--texture-weight is for SC models (it needs --labels)"),
])
def test_impossible_training_options_fail_before_any_work(tmp_path, args, msg):
    from .test_cli import run

    data = _data(tmp_path)
    r = run("train", "gc", "--data", str(data), "--out", str(tmp_path / "run"), *args)
    assert r.exit_code == 1 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_learning_rate_warms_up_linearly_then_follows_the_cosine():
    from types import SimpleNamespace

    from gcodec.models.train_gc import _Run

    groups = [{"base_lr": 1.0, "lr": 0.0}]
    run = SimpleNamespace(cfg=SimpleNamespace(lr_warmup=4), step=0, progress=lambda: 0.0,
                          opt_g=SimpleNamespace(param_groups=groups), opt_d=SimpleNamespace(param_groups=[]))
    rates = []
    for step in range(6):
        run.step = step
        _Run.set_lr(run)
        rates.append(groups[0]["lr"])
    assert rates == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_synthesized_pixels_weigh_in_the_distortion_by_their_weight():
    from gcodec.models.train_gc import distortion_target

    x = torch.zeros(1, 3, 32, 64)
    x_hat = torch.ones(1, 3, 32, 64, requires_grad=True)
    heat = torch.tensor([[[[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]]])  # 2x4 cells of 16x16 pixels
    assert distortion_target(x_hat, x, heat, 1.0) is x_hat
    t = distortion_target(x_hat, x, heat, 0.25)
    assert torch.equal(t[0, :, :16, :16], torch.ones(3, 16, 16)) and torch.equal(t[0, :, :16, 16:32],
                                                                                   torch.full((3, 16, 16), 0.25))
    assert torch.equal(t[0, :, 16:, :32], torch.full((3, 16, 32), 0.25)) and torch.equal(t[0, :, :, 32:],
                                                                                          torch.ones(3, 32, 32))
    t.sum().backward()
    assert x_hat.grad[0, 0, 0, 0] == 1 and x_hat.grad[0, 0, 20, 5] == 0.25
