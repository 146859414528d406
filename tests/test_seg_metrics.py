import math

import torch

from gcodec.models.seg_metrics import ConfusionMeter, confusion, format_table, metrics_from_confusion


def test_confusion_excludes_void_and_sums_over_batches():
    t = torch.tensor([[0, 1, 255], [2, 2, 1]])
    p = torch.tensor([[0, 2, 1], [2, 0, 1]])
    c = confusion(p, t, 3)
    assert c.sum() == 5
    assert c.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 1]]
    m = ConfusionMeter(3)
    m.update(p[:1], t[:1])
    m.update(p[1:], t[1:])
    assert torch.equal(m.matrix(), c)


def test_metrics_on_hand_made_confusion():
    # rows: ground truth, cols: prediction
    mat = torch.tensor([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
    met = metrics_from_confusion(mat, ["a", "b", "c"])
    assert math.isclose(met["IoU"]["a"], 8 / (10 + 9 - 8))
    assert math.isclose(met["IoU"]["b"], 3 / (4 + 5 - 3))
    assert math.isnan(met["IoU"]["c"])  # absent everywhere: left out of the mean
    assert math.isclose(met["mIoU"], (8 / 11 + 3 / 6) / 2)
    assert math.isclose(met["Acc"]["a"], 0.8) and math.isclose(met["Acc"]["b"], 0.75)
    assert math.isclose(met["mAcc"], (0.8 + 0.75) / 2)
    assert math.isclose(met["aAcc"], 11 / 14)


def test_dataset_level_not_per_image_mean():
    # image 1: class 0 perfect (1 px); image 2: class 0 mostly wrong (9 of 10 px wrong)
    m = ConfusionMeter(2)
    m.update(torch.tensor([0]), torch.tensor([0]))
    m.update(torch.tensor([1] * 9 + [0]), torch.tensor([0] * 10))
    met = metrics_from_confusion(m.matrix())
    assert math.isclose(met["IoU"]["0"], 2 / 11)


def test_table_format():
    met = metrics_from_confusion(torch.tensor([[3, 1], [0, 4]]), ["Sky", "Road"])
    s = format_table(met)
    lines = s.splitlines()
    assert lines[0].split("|")[1].strip() == "Class"
    assert "| Sky   | 75.00 | 75.00 |" in s
    assert "| Road  | 80.00 | 100.00 |" in s or "| Road  | 80.00 |100.00 |" in s
    assert lines[-1] == "| 87.50 | 77.50 | 87.50 |"
