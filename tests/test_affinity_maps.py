"""`gcodec eval-seg --affinity-maps`: heat maps of the shipped segmentation network on a fixture."""

import json
import shutil

import pytest
from PIL import Image

from .conftest import FIXTURES
from .test_cli import run


@pytest.fixture
def camvid_dir(tmp_path):
    """A CamVid-layout folder holding the one fixture pair in train/ and val/."""
    root = tmp_path / "camvid"
    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir()
        shutil.copy(FIXTURES / "camvid_0016E5_07959.jpg", root / split / "images" / "f.jpg")
        shutil.copy(FIXTURES / "labelmap_camvid_0016E5_07959.png", root / split / "labels" / "f.png")
    return root


def test_affinity_maps_written_with_ar_terms(camvid_dir, tmp_path):
    out = tmp_path / "maps"
    r = run("eval-seg", "--data", str(camvid_dir), "--affinity-maps", str(out), "--pixels", "240,40",
            "--pixels", "240,330")
    assert r.exit_code == 0, r.output
    with Image.open(out / "f_affinity.png") as im:
        assert im.width > 400 and im.height > 300
    rows = json.loads((out / "ar_terms.json").read_text())
    assert rows[0]["pixels"] == [[240, 40], [240, 330]] and 0 < rows[0]["ar_term"] < 0.5
    assert "records no training log" in r.stdout  # the shipped card has none: said, not invented


def test_affinity_maps_of_sky_and_road_pixels():
    """Sky and road pixels: the network's sqrt-kernel affinity agrees with the label affinity on
    most of the image (the AR loss's target)."""
    import numpy as np

    from gcodec.codec.affinity_maps import affinities
    from gcodec.codec.registry import resolve_model
    from gcodec.codec.segment import load_segmenter
    from gcodec.models.train_seg_data import label_lut

    image = np.asarray(Image.open(FIXTURES / "camvid_0016E5_07959.jpg").convert("RGB"))
    labels = label_lut("camvid")[np.asarray(Image.open(FIXTURES / "labelmap_camvid_0016E5_07959.png"))]
    net = load_segmenter(resolve_model("seg-camvid").path)
    res = affinities(net, image, labels, [(240, 40), (240, 330)])
    for m in res["maps"]:
        lab, out = m["label"], m["output"]
        valid = ~np.isnan(lab)
        assert out.shape == lab.shape and 0 <= out.min() and out.max() <= 1.0001
        assert np.mean(np.abs(out[valid] - lab[valid]) < 0.5) > 0.9


def test_training_log_plot(camvid_dir, tmp_path):
    log = tmp_path / "log.jsonl"
    recs = [{"step": 10, "phase": "baseline", "loss": 1.0, "ar_term": 0.2, "val_mIoU": 0.3},
            {"step": 20, "phase": "ar", "loss": 0.8, "ar_term": 0.1, "val_mIoU": 0.4}]
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    r = run("eval-seg", "--data", str(camvid_dir), "--affinity-maps", str(tmp_path / "m"), "--log", str(log))
    assert r.exit_code == 0, r.output
    assert "plotted the AR term" in r.stdout and (tmp_path / "m" / "ar_training.png").is_file()
    log.write_text("".join(json.dumps({k: v for k, v in rec.items() if k != "ar_term"}) + "\n" for rec in recs))
    r = run("eval-seg", "--data", str(camvid_dir), "--affinity-maps", str(tmp_path / "m2"), "--log", str(log))
    assert r.exit_code == 0 and "no AR term in this log" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--pixels", "9999,5"], "outside"),
    (["--pixels", "a,b"], "x,y"),
    (["--count", "0"], "--count must be at least 1"),
])
def test_affinity_maps_bad_input(camvid_dir, tmp_path, args, message):
    r = run("eval-seg", "--data", str(camvid_dir), "--affinity-maps", str(tmp_path / "m"), *args)
    assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()
