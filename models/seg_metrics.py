"""Segmentation metrics from a confusion matrix summed over a whole dataset.

Intersections and unions are accumulated over every image before dividing
(the mmsegmentation / Cityscapes convention), and void pixels are excluded.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch


def confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts, rows = ground truth, cols = prediction."""
    t = target.reshape(-1).long()
    p = pred.reshape(-1).long()
    keep = (t != ignore_index) & (t >= 0) & (t < num_classes)
    idx = t[keep] * num_classes + p[keep].clamp(0, num_classes - 1)
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


class ConfusionMeter:
    """Accumulates a confusion matrix on the device of the first batch."""

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.mat: torch.Tensor | None = None

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self.add(confusion(pred, target, self.num_classes, self.ignore_index))

    def add(self, mat: torch.Tensor) -> None:
        """Add a confusion matrix counted elsewhere (e.g. read back from a cache)."""
        self.mat = mat if self.mat is None else self.mat + mat.to(self.mat.device)

    def matrix(self) -> torch.Tensor:
        if self.mat is None:
            return torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)
        return self.mat.cpu()


def metrics_from_confusion(mat: torch.Tensor, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """IoU and Acc per class, aAcc, mIoU, mAcc (all in [0, 1]). Classes absent from both the
    ground truth and the predictions have IoU NaN and are left out of the means."""
    m = mat.double()
    tp = m.diag()
    gt = m.sum(1)
    pr = m.sum(0)
    union = gt + pr - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    acc = torch.where(gt > 0, tp / gt.clamp(min=1), torch.full_like(tp, float("nan")))
    total = m.sum()
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(tp))]
    return {
        "aAcc": float(tp.sum() / total) if total > 0 else float("nan"),
        "mIoU": float(iou.nanmean()) if bool((~iou.isnan()).any()) else float("nan"),
        "mAcc": float(acc.nanmean()) if bool((~acc.isnan()).any()) else float("nan"),
        "IoU": {n: float(v) for n, v in zip(names, iou)},
        "Acc": {n: float(v) for n, v in zip(names, acc)},
    }


def format_table(metrics: dict[str, Any]) -> str:
    """mmsegmentation-style table: per-class IoU and Acc (percent), then aAcc, mIoU, mAcc."""
    names = list(metrics["IoU"])
    w = max([len("Class")] + [len(n) for n in names])
    lines = [f"| {'Class':<{w}} |   IoU |   Acc |", f"|{'-' * (w + 2)}|-------|-------|"]
    for n in names:
        lines.append(f"| {n:<{w}} | {100 * metrics['IoU'][n]:5.2f} | {100 * metrics['Acc'][n]:5.2f} |")
    lines += [
        "",
        "|  aAcc |  mIoU |  mAcc |",
        "|-------|-------|-------|",
        f"| {100 * metrics['aAcc']:5.2f} | {100 * metrics['mIoU']:5.2f} | {100 * metrics['mAcc']:5.2f} |",
    ]
    return "\n".join(lines)
