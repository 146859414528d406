"""SC decode-time realism: a detail stage (codec/stage/) trained on the frozen SC model; R = 0 is
the generator's own decode. Also: weights files that still hold the retired texture branch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.codec import sc_codec
from gcodec.codec.api import Codec
from gcodec.codec.model_store import load_weights, save_weights
from gcodec.codec.registry import resolve_model
from gcodec.models.sc import SCConfig, SCModel, stage_channels

from .conftest import save_tiny_model
from .test_detail_stage import make_tiny_stage
from .test_sc_cli import _one_line_error, run
from .test_sc_codec import ROAD, SKY, TINY_SC, TREE, labels, photo, weights  # noqa: F401

STAGE_CHANNELS = stage_channels(SCConfig.from_dict(TINY_SC))


@pytest.fixture
def sc_file(weights, photo, labels) -> bytes:
    sc = sc_codec.load_sc(resolve_model("tiny-sc", kind="sc"), torch.device("cpu"))
    return sc_codec.compress(sc, photo, labels, [SKY, ROAD, TREE])


def test_realism_on_sc_files(weights, sc_file):
    plain = Codec(torch.device("cpu")).decode(sc_file)[1]  # no stage installed: the generator's decode
    make_tiny_stage(weights, base="tiny-sc", channels=STAGE_CHANNELS, default_realism=0.25)
    codec = Codec(torch.device("cpu"))
    assert np.array_equal(codec.decode(sc_file, realism=0.0)[1], plain)  # R = 0: bit for bit
    default, quarter, one = (codec.decode(sc_file, realism=r)[1].astype(int) for r in (None, 0.25, 1.0))
    assert np.array_equal(default, quarter)  # the stage's default R
    assert np.abs(quarter - plain).mean() > 0.1
    assert np.abs(one - plain).mean() > 2 * np.abs(quarter - plain).mean()
    parts = sc_codec.decode_parts(codec.sc(resolve_model("tiny-sc")), unpack(sc_file))
    preserved = sc_codec.preserved_pixels(parts.heat, *parts.labels.shape)
    assert 0.1 < preserved.mean() < 0.9 and np.array_equal(one[preserved], plain[preserved])  # never moved
    assert np.array_equal(Codec(torch.device("cpu")).decode(sc_file, realism=1.0)[1], one)  # seeded noise


def test_the_stage_sees_the_label_map_and_heatmap(weights, sc_file):
    """The conditioning holds the coded latents, each cell's class shares and the heatmap, and the
    stage reads the class shares: weight on those inputs alone changes the detail drawn."""
    make_tiny_stage(weights, base="tiny-sc", channels=STAGE_CHANNELS)
    codec = Codec(torch.device("cpu"))
    sc = codec.sc(resolve_model("tiny-sc", kind="sc"))
    c = unpack(sc_file)
    parts = sc_codec.decode_parts(sc, c)
    heat = torch.from_numpy(parts.heat).float()[None, None]
    cond = sc_codec.stage_conditioning(sc.model, torch.from_numpy(parts.symbols)[None],
                                       torch.from_numpy(sc_codec.pad_labels(parts.labels).astype(np.int64))[None], heat)
    assert cond.shape[1] == STAGE_CHANNELS and 0 < heat.mean() < 1
    latents, shares = cond[0, : TINY_SC["channels"]], cond[0, TINY_SC["channels"] : -1]
    assert torch.allclose(shares.sum(0), torch.ones_like(shares[0]))  # each cell's class shares sum to 1
    assert torch.equal(cond[0, -1], heat[0, 0]) and torch.all(latents[:, heat[0, 0] == 0] == 0)
    detail = codec.detail(sc.ref, 1.0)
    before = sc_codec.decompress(sc, c, detail=detail)
    with torch.no_grad():
        detail[0].stage.head.weight[:, 48 + TINY_SC["channels"] : -1] += 0.5
    assert not np.array_equal(sc_codec.decompress(sc, c, detail=detail), before)


def test_realism_needs_a_stage(weights, sc_file, photo, labels, tmp_path):
    codec = Codec(torch.device("cpu"))
    assert np.array_equal(codec.decode(sc_file, realism=0.0)[1], codec.decode(sc_file)[1])
    make_tiny_stage(weights, base="tiny-sc", channels=STAGE_CHANNELS, digest="00000000")  # another model's stage
    img, lab, f = tmp_path / "photo.png", tmp_path / "labels.png", tmp_path / "s.gcodec"
    Image.fromarray(photo).save(img)
    Image.fromarray(labels).save(lab)
    assert run("encode", img, "-m", "tiny-sc", "--semantic", lab, "--synthesize", "sky,tree", "-o", f).exit_code == 0
    bad = tmp_path / "bad.png"
    _one_line_error(run("decode", f, "--realism", "0.5", "-o", bad), "needs a detail stage for tiny-sc")
    _one_line_error(run("decode", f, "--realism", "2", "-o", bad), "[0, 1]")
    assert not bad.exists()
    assert run("decode", f, "--realism", "0", "-o", tmp_path / "ok.png").exit_code == 0


def test_weights_with_the_retired_texture_branch_still_load(weights, photo, labels):
    """Early SC weights hold a texture branch (config keys, `texture.*` tensors): it is never read,
    and the file (so the digest its SC files check) stays as it was."""
    torch.manual_seed(0)
    card = {"name": "tiny-sc-old", "kind": "sc", "config": {**TINY_SC, "texture_width": 1, "texture_resize": True}}
    path = save_tiny_model(SCModel(SCConfig.from_dict(TINY_SC)), card, weights)
    state, card = load_weights(path)
    save_weights({**state, "texture.tail.weight": torch.randn(3, 5, 7, 7)}, card, path)
    sc = sc_codec.load_sc(resolve_model("tiny-sc-old", kind="sc"), torch.device("cpu"))
    assert "texture.tail.weight" not in sc.model.state_dict()
    data = sc_codec.compress(sc, photo, labels, [SKY])
    assert unpack(data).model_digest == resolve_model("tiny-sc-old").digest
    assert json.loads(path.with_suffix(".json").read_text())["config"]["texture_width"] == 1
    assert sc_codec.decompress(sc, unpack(data)).shape == (*labels.shape, 3)


def test_train_an_sc_stage(weights, tmp_path):
    """`gcodec train detail` on an SC model: a CamVid-layout folder, random heatmaps, the SC conditioning."""
    data = tmp_path / "camvid"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    fixtures = __import__("pathlib").Path(__file__).parent / "fixtures"
    photo_img = Image.open(fixtures / "photo_200x168.png").convert("RGB").resize((224, 224))
    lab = Image.open(fixtures / "labelmap_camvid_0016E5_07959.png").resize((224, 224), Image.NEAREST)
    for i in range(6):  # p5 falls in the held-out half (name hash)
        photo_img.rotate(90 * i).save(data / "images" / f"p{i}.png")
        lab.rotate(90 * i).save(data / "labels" / f"p{i}.png")
    out = tmp_path / "run"
    r = run("train", "detail", "-m", "tiny-sc", "--data", data, "--out", out, "--crop", "192", "--width", "8",
            "--blocks", "1", "--batch", "2", "--val-every", "2", "--val-fraction", "0.5", "--threads", "1",
            "--steps", "2")
    assert r.exit_code == 0, r.output
    cache = np.load(sorted((out / "cache").glob("shard_*.npz"))[0])
    assert cache["cond"].shape[1:] == (STAGE_CHANNELS, 12, 12) and "symbols" not in cache
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [0, 2] and log[0]["r1_psnr"] == log[0]["r0_psnr"]
    w = tmp_path / "w.safetensors"
    r = run("export", out, "-o", w, "--name", "tiny-sc-detail", "--default-realism", "0.5")
    assert r.exit_code == 0, r.output
    card = json.loads(w.with_suffix(".json").read_text())
    assert card["base_model"] == "tiny-sc" and card["config"]["channels"] == STAGE_CHANNELS
    # installed, it can be continued with other loss weights; the new card names what it continued
    w.rename(weights / w.name), w.with_suffix(".json").rename(weights / "w.json")
    more = ["--crop", "192", "--width", "8", "--blocks", "1", "--batch", "2", "--val-every", "2", "--val-fraction",
            "0.5", "--threads", "1", "--steps", "1", "--data", data]
    r = run("train", "detail", "-m", "tiny-sc", "--init-from-stage", "tiny-sc-detail", "--synth-fidelity", "0",
            "--phase-weight", "1", *more, "--out", tmp_path / "run2")
    assert r.exit_code == 0, r.output
    assert run("export", tmp_path / "run2", "-o", tmp_path / "w2.safetensors").exit_code == 0
    card2 = json.loads((tmp_path / "w2.json").read_text())
    assert card2["training"]["continued_from"]["name"] == "tiny-sc-detail" and card2["training"]["total_steps"] == 3
    assert card2["training"]["config"]["synth_fidelity"] == 0 and card2["training"]["config"]["phase_weight"] == 1
    log2 = [json.loads(x) for x in (tmp_path / "run2" / "log.jsonl").read_text().splitlines()]
    assert log2[-1]["phase"] > 0  # validation measures the mosaic
    # a continuation of a continuation keeps the whole lineage and counts every step
    assert run("export", tmp_path / "run2", "-o", tmp_path / "w2.safetensors", "--name", "tiny-sc-detail",
               "--force").exit_code == 0
    (tmp_path / "w2.safetensors").replace(weights / "w.safetensors"), (tmp_path / "w2.json").replace(weights / "w.json")
    assert run("train", "detail", "-m", "tiny-sc", "--init-from-stage", "tiny-sc-detail", *more,
               "--out", tmp_path / "run6").exit_code == 0
    assert run("export", tmp_path / "run6", "-o", tmp_path / "w3.safetensors").exit_code == 0
    card3 = json.loads((tmp_path / "w3.json").read_text())["training"]
    assert card3["total_steps"] == 4 and card3["continued_from"]["continued_from"]["steps"] == 2
    r = run("train", "detail", "-m", "tiny-sc", "--phase-weight", "-1", *more, "--out", tmp_path / "run5")
    assert r.exit_code == 1 and "--phase-weight" in r.stderr and not (tmp_path / "run5").exists()
    r = run("train", "detail", "-m", "tiny-sc", "--init-from-stage", "tiny-sc-detail", "--width", "16", *more[4:],
            "--out", tmp_path / "run3")
    assert r.exit_code == 1 and "not of this run's shape" in r.stderr and not (tmp_path / "run3").exists()
    bad = tmp_path / "bad"  # a label map with ids the model does not know: one line, no traceback
    (bad / "images").mkdir(parents=True)
    (bad / "labels").mkdir()
    photo_img.save(bad / "images" / "p0.png")
    Image.fromarray(np.full((224, 224), 200, np.uint8)).save(bad / "labels" / "p0.png")
    r = run("train", "detail", "-m", "tiny-sc", "--data", bad, "--out", tmp_path / "r4")
    assert r.exit_code == 1 and "class id 200" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "photos").mkdir()  # an SC stage needs label maps beside the photos
    photo_img.save(tmp_path / "photos" / "p0.png")
    r = run("train", "detail", "-m", "tiny-sc", "--data", tmp_path / "photos", "--out", tmp_path / "r2")
    assert r.exit_code == 1 and "CamVid layout" in r.stderr and not (tmp_path / "r2" / "cache").exists()


def test_eval_sc_at_the_stage_default_and_at_r0(weights, tmp_path, photo, labels):
    from .test_sc_codec import make_tiny_seg

    make_tiny_seg(weights)
    make_tiny_stage(weights, base="tiny-sc", channels=STAGE_CHANNELS, default_realism=0.75)
    data = tmp_path / "camvid"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    Image.fromarray(np.asarray(Image.fromarray(photo).resize((320, 240)))).save(data / "images" / "im0.png")
    Image.fromarray(np.asarray(Image.fromarray(labels).resize((320, 240), Image.NEAREST))).save(data / "labels" / "im0.png")
    res = {}
    for r_arg in ((), ("--realism", "0")):
        out = tmp_path / f"res{len(r_arg)}"
        r = run("eval-sc", "--data", data, "-m", "tiny-sc", "--seg-model", "tiny-seg", "--gc-model", "none",
                *r_arg, "-o", out)
        assert r.exit_code == 0, r.output
        res[len(r_arg)] = json.loads((out / "eval_sc.json").read_text())
    default, zero = res[0], res[2]
    assert default["realism"] == 0.75 and zero["realism"] == 0
    for s in ("sky+tree+road", "box"):  # detail on synthesized pixels only
        a, b = default["summary"][s], zero["summary"][s]
        assert a["psnr_preserved"] == b["psnr_preserved"] and a["texture_synth"] != b["texture_synth"]
    assert default["summary"]["none"]["psnr"] == zero["summary"]["none"]["psnr"]  # nothing synthesized
