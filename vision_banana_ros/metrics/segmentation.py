# Copyright 2026 The vision_banana_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Segmentation metrics: semantic mIoU, referring cIoU / gIoU, and instance F1.

**Semantic.** ``confusion_matrix`` counts (ground-truth class, predicted class) pixel pairs; sum
the matrices of a dataset, then ``semantic_metrics`` gives per-class IoU = TP / (TP + FP + FN),
their mean (mIoU) and pixel accuracy, as mmsegmentation does:

- ground-truth pixels equal to ``ignore_index`` are not counted at all;
- a predicted value outside ``[0, num_classes)`` or equal to ``ignore_index`` means "no class":
  it is a false negative of the ground-truth class and a false positive of none (column
  ``num_classes`` of the matrix);
- a class absent from both the ground truth and the prediction has IoU NaN and is left out of
  the mean; a class only predicted, or only in the ground truth, counts with IoU 0;
- pixel accuracy = correct pixels / counted ground-truth pixels.

**Referring** (one mask per expression): ``mask_iou_counts`` gives (intersection, union) pixel
counts; over a dataset ``referring_metrics`` reports cIoU = sum of intersections / sum of unions
(cumulative, as RefCOCO evaluations) and gIoU = mean of per-image IoU (ReasonSeg), where an
empty prediction of an empty ground truth scores 1.

**Instances.** ``match_instances`` matches predicted to ground-truth instance masks one-to-one
at IoU >= ``iou_threshold`` (0.5), by Hungarian assignment (``scipy.optimize``, maximising the
number of matches, then their summed IoU) or greedily by decreasing IoU. Instances are either an
(H, W) integer id map (0 = none; each other id one instance, possibly disconnected) or an (N, H,
W) bool stack (overlaps allowed). An optional ignore region (e.g. COCO crowd): its pixels are
left out of every IoU, and predictions lying more than half inside it are dropped before
matching (neither true nor false positives). Empty masks are dropped. Over a dataset
``instance_metrics`` sums TP, FP and FN (micro average): precision = TP / (TP + FP), recall =
TP / (TP + FN), F1 = 2 TP / (2 TP + FP + FN); a ratio with nothing to count is 1. Matching is
class-agnostic (one query at a time, as in SA-Co); run it per class for class-aware scores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import math
from typing import get_args, Literal

import torch
from vision_banana_ros.metrics._common import INTEGERS, optional_mask, tensor_of
from vision_banana_ros.metrics.errors import MetricError
from vision_banana_ros.tensors import ArrayLike, as_tensor

__all__ = [
    'INSTANCE_MATCHINGS',
    'InstanceMatch',
    'InstanceMatching',
    'InstanceMetrics',
    'ReferringMetrics',
    'SemanticMetrics',
    'confusion_matrix',
    'instance_metrics',
    'mask_iou_counts',
    'match_instances',
    'referring_metrics',
    'semantic_metrics',
]

InstanceMatching = Literal['hungarian', 'greedy']
"""How ``match_instances`` pairs predictions with ground truth."""
INSTANCE_MATCHINGS: tuple[str, ...] = get_args(InstanceMatching)


@dataclass(frozen=True)
class SemanticMetrics:
    """
    Semantic segmentation scores from a (summed) confusion matrix.

    :ivar miou: mean IoU over classes present in the ground truth or the prediction, in [0, 1].
    :ivar pixel_accuracy: correct / counted ground-truth pixels, in [0, 1].
    :ivar per_class_iou: IoU of each class 0 .. C-1, NaN for classes absent from both.
    :ivar valid_pixels: counted (non-ignored) ground-truth pixels.
    """

    miou: float
    pixel_accuracy: float
    per_class_iou: tuple[float, ...]
    valid_pixels: int


@dataclass(frozen=True)
class ReferringMetrics:
    """
    Referring segmentation scores over a dataset of (expression, mask) samples.

    :ivar ciou: cumulative IoU, sum of intersections / sum of unions, in [0, 1].
    :ivar giou: mean of per-sample IoU (empty vs empty = 1), in [0, 1].
    :ivar samples: number of samples.
    """

    ciou: float
    giou: float
    samples: int


@dataclass(frozen=True)
class InstanceMatch:
    """
    One image's instance matching.

    :ivar true_positives: matched pairs.
    :ivar false_positives: unmatched predictions (not counting those dropped in the ignore
        region).
    :ivar false_negatives: unmatched ground-truth instances.
    :ivar matched_iou: IoU of each matched pair, in decreasing order.
    """

    true_positives: int
    false_positives: int
    false_negatives: int
    matched_iou: tuple[float, ...]


@dataclass(frozen=True)
class InstanceMetrics:
    """
    Instance detection scores over a dataset (micro average of summed counts).

    :ivar precision: TP / (TP + FP), 1 with no prediction.
    :ivar recall: TP / (TP + FN), 1 with no ground-truth instance.
    :ivar f1: 2 TP / (2 TP + FP + FN), 1 with neither.
    :ivar true_positives: summed TP.
    :ivar false_positives: summed FP.
    :ivar false_negatives: summed FN.
    :ivar images: number of images.
    """

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    images: int


def confusion_matrix(
    pred_labels: ArrayLike,
    gt_labels: ArrayLike,
    num_classes: int,
    *,
    ignore_index: int | None = None,
) -> torch.Tensor:
    """
    Count (ground-truth class, predicted class) pixel pairs of one image.

    Example: ``semantic_metrics(sum(confusion_matrix(p, g, 151, ignore_index=0) for ...))``.

    :param pred_labels: (H, W) integer predicted class ids; values outside [0, num_classes) or
        equal to ``ignore_index`` mean "no class".
    :param gt_labels: (H, W) integer ground-truth class ids in [0, num_classes), or
        ``ignore_index``.
    :param num_classes: C, the number of class ids (ids run 0 .. C-1), > 0.
    :param ignore_index: ground-truth value left out of every count, or None.
    :return: (C, C + 1) int64 tensor on the ground truth's device; row = ground-truth class,
        column = predicted class, column C = "no class".
    :raises MetricError: on a wrong kind, dtype or shape, a non-positive ``num_classes``, or a
        ground-truth id outside [0, C) that is not ``ignore_index``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise MetricError(f'num_classes must be a positive int, got {num_classes!r}')
    gt = tensor_of(gt_labels, 'gt_labels', channels=None, dtypes=INTEGERS).to(torch.int64)
    pred = tensor_of(
        pred_labels,
        'pred_labels',
        channels=None,
        dtypes=INTEGERS,
        shape=tuple(gt.shape),
        device=gt.device,
    ).to(torch.int64)
    counted = torch.ones_like(gt, dtype=torch.bool) if ignore_index is None else gt != ignore_index
    gt, pred = gt[counted], pred[counted]  # (N,) each
    if gt.numel() and (int(gt.min()) < 0 or int(gt.max()) >= num_classes):
        raise MetricError(
            f'gt_labels must lie in [0, {num_classes}) or equal ignore_index={ignore_index}, '
            f'got values {int(gt.min())} to {int(gt.max())}'
        )
    no_class = (pred < 0) | (pred >= num_classes)
    if ignore_index is not None:
        no_class |= pred == ignore_index
    pred = torch.where(no_class, num_classes, pred)
    pairs = gt * (num_classes + 1) + pred
    counts = torch.bincount(pairs, minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1)


def semantic_metrics(confusion: ArrayLike) -> SemanticMetrics:
    """
    Per-class IoU, mIoU and pixel accuracy from a (dataset-summed) confusion matrix.

    :param confusion: (C, C + 1) integer counts from ``confusion_matrix`` (summed over images).
    :return: the metrics; mIoU is NaN if no class is present, pixel accuracy NaN if no pixel.
    :raises MetricError: on a wrong kind, dtype or shape, or negative counts.
    """
    matrix = as_tensor(confusion, 'confusion', error=MetricError)
    if matrix.dtype not in INTEGERS or matrix.dim() != 2 or matrix.shape[1] != matrix.shape[0] + 1:
        raise MetricError(
            'confusion must be a (C, C + 1) integer matrix from confusion_matrix, got '
            f'{str(matrix.dtype).removeprefix("torch.")} {tuple(matrix.shape)}'
        )
    counts = matrix.to(torch.int64)
    if bool((counts < 0).any()):
        raise MetricError('confusion must hold non-negative counts')
    classes = counts.shape[0]
    true_pos = counts[:, :classes].diagonal()  # (C,)
    gt_total = counts.sum(dim=1)  # (C,) TP + FN (FN includes "no class")
    pred_total = counts[:, :classes].sum(dim=0)  # (C,) TP + FP
    union = (gt_total + pred_total - true_pos).to(torch.float64)
    iou = torch.where(union > 0, true_pos.to(torch.float64) / union, math.nan)
    present = union > 0
    total = int(gt_total.sum())
    return SemanticMetrics(
        miou=float(iou[present].mean()) if bool(present.any()) else math.nan,
        pixel_accuracy=int(true_pos.sum()) / total if total else math.nan,
        per_class_iou=tuple(iou.tolist()),
        valid_pixels=total,
    )


def mask_iou_counts(
    pred_mask: ArrayLike, gt_mask: ArrayLike, *, valid: ArrayLike | None = None
) -> tuple[int, int]:
    """
    Intersection and union pixel counts of one predicted and one ground-truth mask.

    :param pred_mask: (H, W) bool predicted mask.
    :param gt_mask: (H, W) bool ground-truth mask.
    :param valid: optional (H, W) bool mask of pixels to count (e.g. not ignored).
    :return: (intersection, union); IoU = intersection / union, 1 when union is 0.
    :raises MetricError: on a wrong kind, dtype or shape.
    """
    gt = tensor_of(gt_mask, 'gt_mask', channels=None, dtypes=(torch.bool,))
    pred = tensor_of(
        pred_mask,
        'pred_mask',
        channels=None,
        dtypes=(torch.bool,),
        shape=tuple(gt.shape),
        device=gt.device,
    )
    counted = optional_mask(valid, tuple(gt.shape), gt.device, 'valid')
    counts = torch.stack(((pred & gt & counted).sum(), ((pred | gt) & counted).sum())).tolist()
    return int(counts[0]), int(counts[1])


def referring_metrics(counts: Iterable[tuple[int, int]]) -> ReferringMetrics:
    """
    Cumulative IoU and mean per-sample IoU over a dataset.

    :param counts: (intersection, union) per sample, from ``mask_iou_counts``.
    :return: the metrics; both 1 if every union is 0, NaN with no sample.
    :raises MetricError: on a count pair that is not 0 <= intersection <= union.
    """
    intersections = unions = samples = 0
    per_sample = 0.0
    for pair in counts:
        intersection, union = pair
        if not 0 <= intersection <= union:
            raise MetricError(
                f'counts must be (intersection, union) with 0 <= intersection <= union, '
                f'got {pair!r}'
            )
        intersections += intersection
        unions += union
        per_sample += intersection / union if union else 1.0
        samples += 1
    if samples == 0:
        return ReferringMetrics(math.nan, math.nan, 0)
    ciou = intersections / unions if unions else 1.0
    return ReferringMetrics(ciou=ciou, giou=per_sample / samples, samples=samples)


def match_instances(
    pred_instances: ArrayLike,
    gt_instances: ArrayLike,
    *,
    iou_threshold: float = 0.5,
    matching: str = 'hungarian',
    ignore: ArrayLike | None = None,
) -> InstanceMatch:
    """
    Match one image's predicted instances to its ground-truth instances one-to-one.

    :param pred_instances: (H, W) integer id map (0 = none) or (N, H, W) bool masks.
    :param gt_instances: (H, W) integer id map (0 = none) or (M, H, W) bool masks.
    :param iou_threshold: a pair matches at IoU >= this, in (0, 1].
    :param matching: one of ``INSTANCE_MATCHINGS``; 'hungarian' needs scipy.
    :param ignore: optional (H, W) bool region to ignore (e.g. COCO crowd).
    :return: TP, FP, FN and the matched IoUs.
    :raises MetricError: on a wrong kind, dtype or shape, a threshold outside (0, 1] or an
        unknown matching.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise MetricError(f'iou_threshold must be in (0, 1], got {iou_threshold}')
    if matching not in INSTANCE_MATCHINGS:
        raise MetricError(f'matching must be one of {INSTANCE_MATCHINGS}, got {matching!r}')
    gt = _instance_masks(gt_instances, 'gt_instances', None, None)  # (M, H, W)
    pred = _instance_masks(pred_instances, 'pred_instances', tuple(gt.shape[1:]), gt.device)
    if ignore is not None:
        ignored = tensor_of(
            ignore, 'ignore', channels=None, dtypes=(torch.bool,), shape=tuple(gt.shape[1:])
        ).to(gt.device)
        inside = (pred & ignored).flatten(1).sum(1) * 2 > pred.flatten(1).sum(1)  # (N,)
        pred, gt = pred[~inside] & ~ignored, gt & ~ignored
    pred, gt = pred[pred.flatten(1).any(1)], gt[gt.flatten(1).any(1)]  # empty masks are not there
    iou = _iou_matrix(pred, gt)  # (N, M) float64
    pairs = _match(iou, iou_threshold, matching)
    matched = sorted((float(iou[i, j]) for i, j in pairs), reverse=True)
    return InstanceMatch(
        true_positives=len(pairs),
        false_positives=pred.shape[0] - len(pairs),
        false_negatives=gt.shape[0] - len(pairs),
        matched_iou=tuple(matched),
    )


def instance_metrics(matches: Iterable[InstanceMatch]) -> InstanceMetrics:
    """
    Precision, recall and F1 over a dataset from summed per-image counts (micro average).

    :param matches: per-image results of ``match_instances``.
    :return: the metrics.
    :raises MetricError: if an item is not an ``InstanceMatch``.
    """
    tp = fp = fn = images = 0
    for item in matches:
        if not isinstance(item, InstanceMatch):
            raise MetricError(f'matches must hold InstanceMatch, got {type(item).__name__}')
        tp += item.true_positives
        fp += item.false_positives
        fn += item.false_negatives
        images += 1
    return InstanceMetrics(
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        images=images,
    )


def _instance_masks(
    value: object, name: str, shape: tuple[int, ...] | None, device: torch.device | None
) -> torch.Tensor:
    """
    Turn an (H, W) id map or an (N, H, W) bool stack into (N, H, W) bool masks.

    :param value: the caller's argument.
    :param name: its name, for errors.
    :param shape: the (H, W) required, or None.
    :param device: where to move the result, or None.
    :return: (N, H, W) bool, N >= 0; an id map gives one mask per non-zero id, ascending.
    """
    tensor = as_tensor(value, name, error=MetricError)
    if tensor.dtype == torch.bool and tensor.dim() == 3:
        masks = tensor
    elif tensor.dtype in INTEGERS and tensor.dim() == 2:
        ids = tensor.to(torch.int64)
        present = torch.unique(ids)
        present = present[present != 0]  # (N,)
        masks = ids.unsqueeze(0) == present.view(-1, 1, 1)  # (N, H, W)
    else:
        raise MetricError(
            f'{name} must be an (H, W) integer id map or (N, H, W) bool masks, got '
            f'{str(tensor.dtype).removeprefix("torch.")} {tuple(tensor.shape)}'
        )
    if shape is not None and tuple(masks.shape[1:]) != shape:
        raise MetricError(
            f'{name} must cover the ground truth (H, W) {shape}, got {tuple(masks.shape)}'
        )
    return masks if device is None else masks.to(device)


def _iou_matrix(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """
    Compute the IoU of every (prediction, ground truth) pair.

    :param pred: (N, H, W) bool.
    :param gt: (M, H, W) bool.
    :return: (N, M) float64 on the CPU; 0 where the union is empty.
    """
    pixels = pred.shape[1] * pred.shape[2]
    dtype = torch.float32 if pixels <= 1 << 24 else torch.float64  # exact integer sums
    p = pred.flatten(1).to(dtype)  # (N, HW)
    g = gt.flatten(1).to(dtype)  # (M, HW)
    intersection = (p @ g.T).to(torch.float64)  # (N, M)
    union = p.sum(1, dtype=torch.float64)[:, None] + g.sum(1, dtype=torch.float64)[None]
    union = union - intersection
    return torch.where(union > 0, intersection / union.clamp(min=1), 0.0).cpu()


def _match(iou: torch.Tensor, threshold: float, matching: str) -> list[tuple[int, int]]:
    """
    One-to-one pairs with IoU >= threshold.

    :param iou: (N, M) float64 CPU.
    :param threshold: the IoU a pair needs.
    :param matching: 'hungarian' or 'greedy'.
    :return: (prediction index, ground-truth index) pairs.
    """
    if iou.numel() == 0:
        return []
    eligible = iou >= threshold
    if matching == 'greedy':
        order = torch.argsort(torch.where(eligible, iou, -1.0).flatten(), descending=True)
        used_pred: set[int] = set()
        used_gt: set[int] = set()
        pairs = []
        for flat in order.tolist():
            i, j = divmod(flat, iou.shape[1])
            if not bool(eligible[i, j]):
                break
            if i not in used_pred and j not in used_gt:
                used_pred.add(i)
                used_gt.add(j)
                pairs.append((i, j))
        return pairs
    from scipy.optimize import linear_sum_assignment

    # Maximise the number of matches first, then their IoU: a match is worth more than the IoUs
    # of all possible matches together (at most min(N, M)).
    weight = float(min(iou.shape)) + 1.0
    benefit = torch.where(eligible, weight + iou, 0.0).numpy()
    rows, cols = linear_sum_assignment(benefit, maximize=True)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if bool(eligible[i, j])]
