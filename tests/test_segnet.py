import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gcodec.codec.seg_export import export
from gcodec.models.segnet import SegNet, SegNetConfig, predict_logits
from gcodec.models.train_seg import SegTrainConfig, train
from gcodec.models.train_seg_data import augment_batch, load_dataset

@pytest.fixture(autouse=True)
def _one_thread():
    # tiny tensors: extra threads only add contention on a shared machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


SMALL = SegNetConfig(num_classes=5, stem=8, widths=(8, 16, 16, 16), depths=(1, 1, 1, 1), decoder=16)


@pytest.mark.parametrize("hw", [(37, 53), (64, 96), (1, 1), (33, 32)])
def test_forward_shapes_any_size(hw):
    m = SegNet(SMALL).eval()
    x = torch.rand(2, 3, *hw)
    assert predict_logits(m, x).shape == (2, 5, *hw)


def test_training_mode_returns_aux():
    m = SegNet(SMALL).train()
    out, aux = m(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 5, 64, 64) and len(aux) == 2 and all(a.shape == out.shape for a in aux)


def test_config_roundtrip():
    d = SMALL.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert SegNetConfig.from_dict(d) == SMALL
    with pytest.raises(ValueError):
        SegNetConfig.from_dict({"nope": 1})


def test_augment_keeps_labels_aligned():
    # image colour encodes the label, so after any warp the two must still agree
    g = torch.Generator().manual_seed(0)
    lab = torch.randint(0, 4, (3, 8, 10), generator=g).repeat_interleave(6, 1).repeat_interleave(6, 2).to(torch.uint8)
    img = (lab * 60).to(torch.uint8)[:, None].repeat(1, 3, 1, 1)
    x, y = augment_batch(img, lab, (40, 50), (0.5, 2.0), True, jitter=0.0, generator=g)
    assert x.shape == (3, 3, 40, 50) and y.shape == (3, 40, 50)
    inside = y != 255
    assert inside.any() and ((y[inside] == 255) | (y[inside] <= 3)).all()
    # away from label edges, bilinear colour equals the nearest label's colour
    exact = (x[:, 0] * 255 / 60 - y.float()).abs() < 1e-3
    assert exact[inside].float().mean() > 0.6


def _write_camvid(root: Path, n: int, split: str, rng: np.random.Generator) -> None:
    (root / split / "images").mkdir(parents=True)
    (root / split / "labels").mkdir(parents=True)
    for i in range(n):
        lab = rng.integers(0, 12, (6, 8)).repeat(8, 0).repeat(8, 1)  # 48x64, 11 = void
        img = np.stack([lab * 20, 255 - lab * 20, (lab * 37) % 256], -1).astype(np.uint8)
        Image.fromarray(img).save(root / split / "images" / f"f{i:03d}.jpg", quality=95)
        Image.fromarray(lab.astype(np.uint8)).save(root / split / "labels" / f"f{i:03d}.png")


def test_load_maps_void(tmp_path):
    rng = np.random.default_rng(0)
    _write_camvid(tmp_path, 3, "train", rng)
    _write_camvid(tmp_path, 2, "val", rng)
    (tx, ty), (vx, vy) = load_dataset(tmp_path, "camvid")
    assert tx.shape == (3, 3, 48, 64) and tx.dtype == torch.uint8 and vy.shape == (2, 48, 64)
    vals = set(ty.unique().tolist())
    assert 11 not in vals and 255 in vals and vals <= set(range(11)) | {255}


def test_train_smoke_eight_steps_three_phases_then_export(tmp_path):
    rng = np.random.default_rng(1)
    _write_camvid(tmp_path / "data", 6, "train", rng)
    _write_camvid(tmp_path / "data", 2, "val", rng)
    run = tmp_path / "run"
    cfg = SegTrainConfig(
        data=str(tmp_path / "data"), dataset="camvid", out=str(run), time_budget=300, max_steps=8,
        device="cpu", batch_size=2, crop=(32, 48), val_every=1e9,
        model={"stem": 8, "widths": [8, 16, 16, 16], "depths": [1, 1, 1, 1], "decoder": 16},
    )
    s = train(cfg)
    assert s["steps"] == 8
    assert 0 <= s["best_val_mIoU_baseline"] <= 1 and s["best_val_mIoU_ar"] is not None
    assert s["best_val_mIoU_ft_ce"] is not None
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    # baseline, CE-only control fine-tune, then the AR fine-tune, each validated at its end
    assert [r["phase"] for r in lines] == ["baseline", "ft_ce", "ar"]
    assert [r["step"] for r in lines] == [6, 7, 8]
    assert len(lines[0]["val_IoU"]) == 11
    assert all(0 <= r["ar_term"] <= 1 for r in lines)  # the AR term is logged in every phase
    assert (run / "checkpoint.pt").is_file()
    card = json.loads((run / "export" / "seg-camvid.json").read_text())
    assert card["exported"] in ("baseline", "ft_ce", "ar") and card["config"]["widths"] == [8, 16, 16, 16]
    assert card["val_mIoU_baseline"] == s["best_val_mIoU_baseline"]
    # resuming a finished run does no more steps; exporting the baseline explicitly works too
    assert train(cfg)["steps"] == 8
    c2 = export(run, tmp_path / "b.safetensors", which="baseline")
    assert c2["exported"] == "baseline"
    # a run cut off before writing its summary still exports from its checkpoint
    (run / "summary.json").unlink()
    c3 = export(run, tmp_path / "c.safetensors")
    assert c3["steps"] == 8 and "note" in c3 and c3["val_mIoU"] == card["val_mIoU"]
    # the exported file loads as a segmenter that labels any image size and evaluates the val split
    from gcodec.codec.segment import evaluate_segmenter, load_segmenter, segment

    m = load_segmenter(run / "export" / "seg-camvid.safetensors")
    lab = segment(m, np.zeros((37, 51, 3), np.uint8))
    assert lab.shape == (37, 51) and lab.dtype == np.uint8 and lab.max() < 11
    met = evaluate_segmenter(m, tmp_path / "data", progress=False)
    assert met["n_images"] == 2 and "mIoU" in met["table"]
    # same numbers as the training-time validation of the exported weights (same full-res images)
    assert abs(met["mIoU"] - card["val_mIoU"]) < 1e-6


def test_cityscapes_label_mapping_and_val_fraction(tmp_path):
    img_dir = tmp_path / "leftImg8bit" / "seq0000"
    lab_dir = tmp_path / "gtFine" / "seq0000"
    img_dir.mkdir(parents=True)
    lab_dir.mkdir(parents=True)
    ids = np.array([[7, 8, 11, 0], [26, 33, 1, 255]], np.uint8).repeat(4, 0).repeat(4, 1)
    for i in range(5):
        Image.fromarray(np.full((8, 16, 3), 40 * i, np.uint8)).save(img_dir / f"a_000000_{i:06d}_leftImg8bit.jpg")
        Image.fromarray(ids).save(lab_dir / f"a_000000_{i:06d}_gtFine_labelIds.png")
    with pytest.raises(Exception, match="val fraction"):
        load_dataset(tmp_path, "cityscapes")
    (tx, ty), (vx, vy) = load_dataset(tmp_path, "cityscapes", val_fraction=0.4)
    assert len(tx) == 3 and len(vx) == 2
    # the held-out frames are the last ones (contiguous tail)
    assert [abs(int(v) - ref) <= 3 for v, ref in zip(vx[:, 0, 0, 0], (120, 160))] == [True, True]
    assert ty[0, 0, ::4].tolist() == [0, 1, 2, 255] and ty[0, 4, ::4].tolist() == [13, 18, 255, 255]


def test_phase_plan_and_lr_schedule():
    from gcodec.models.train_seg import _lr_at, phase_plan

    cfg = SegTrainConfig(lr=1.0, ft_lr_factor=0.1, phase1_frac=0.75)
    assert phase_plan(cfg) == [("baseline", 0.0, 0.75), ("ft_ce", 0.75, 0.875), ("ar", 0.875, 1.0)]
    assert phase_plan(SegTrainConfig(control_finetune=False))[1] == ("ar", 0.75, 1.0)
    assert phase_plan(SegTrainConfig(ar_weight=0)) == [("baseline", 0.0, 1.0)]
    assert _lr_at(cfg, 0.0, 0) == pytest.approx(0.1)  # warm-up starts at a tenth
    assert _lr_at(cfg, 0.75, 0) == pytest.approx(0.0)
    # both fine-tunes get the same schedule over their own spans
    assert _lr_at(cfg, 0.75, 1) == pytest.approx(0.1) == _lr_at(cfg, 0.875, 2)
    assert _lr_at(cfg, 0.8125, 1) == pytest.approx(_lr_at(cfg, 0.9375, 2))


@pytest.mark.parametrize("args,msg", [
    (["--batch", "-1"], "--batch must be >= 0"),
    (["--time-budget", "0"], "--time-budget must be positive"),
    (["--lr", "-1"], "--lr must be positive"),
    (["--val-fraction", "1"], "--val-fraction must be in [0, 1)"),
    (["--data-scale", "0"], "--data-scale must be in (0, 1]"),
    (["--max-steps", "-3"], "--max-steps must be >= 0"),
    (["--ar-weight", "-1"], "--ar-weight must be >= 0"),
    (["--device", "foo"], "unknown device"),
])
def test_impossible_seg_training_options_fail_before_any_work(tmp_path, args, msg):
    from .test_cli import run

    rng = np.random.default_rng(2)
    _write_camvid(tmp_path / "data", 2, "train", rng)
    r = run("train", "seg", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *args)
    assert r.exit_code == 1 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_dataset_that_cannot_train_leaves_no_run_folder(tmp_path):
    from .test_cli import run

    rng = np.random.default_rng(3)
    _write_camvid(tmp_path / "data", 2, "train", rng)  # no val split and no --val-fraction
    r = run("train", "seg", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--device", "cpu")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1 and "--val-fraction" in r.stderr, r.stderr
    assert not (tmp_path / "run").exists()
