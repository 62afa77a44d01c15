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
"""Tests for vision_banana_ros.metrics.segmentation: mIoU, cIoU / gIoU, instance F1."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from vision_banana_ros.metrics import MetricError
from vision_banana_ros.metrics.segmentation import (
    confusion_matrix,
    instance_metrics,
    InstanceMatch,
    mask_iou_counts,
    match_instances,
    referring_metrics,
    semantic_metrics,
)

# 5 counted pixels (255 is ignored): (gt, pred) = (0, 0), (0, 1), (1, 1), (1, 1), (2, 7 = none)
GT = np.array([[0, 0, 1], [1, 2, 255]], dtype=np.uint8)
PRED = np.array([[0, 1, 1], [1, 7, 0]], dtype=np.uint8)


def test_hand_computed_confusion_matrix_and_miou() -> None:
    # class 0: TP 1, FN 1, FP 0 -> 1/2;  class 1: TP 2, FP 1 -> 2/3;  class 2: TP 0, FN 1 -> 0
    # mIoU = (1/2 + 2/3 + 0) / 3 = 7/18;  pixel accuracy = 3 / 5
    matrix = confusion_matrix(PRED, GT, 3, ignore_index=255)
    expected = [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1]]  # last column: "no class"
    assert matrix.tolist() == expected
    m = semantic_metrics(matrix)
    assert m.per_class_iou == pytest.approx((0.5, 2 / 3, 0.0))
    assert (m.miou, m.pixel_accuracy, m.valid_pixels) == (pytest.approx(7 / 18), 0.6, 5)


def test_class_absent_from_both_is_excluded_from_the_mean() -> None:
    m = semantic_metrics(confusion_matrix(PRED, GT, 4, ignore_index=255))
    assert math.isnan(m.per_class_iou[3])
    assert m.miou == pytest.approx(7 / 18)


def test_class_only_predicted_counts_with_iou_zero() -> None:
    # gt all 0, pred (0, 1): class 0 IoU 1/2, class 1 IoU 0 (predicted, absent from GT) -> 1/4
    m = semantic_metrics(confusion_matrix(np.array([[0, 1]]), np.array([[0, 0]]), 2))
    assert m.per_class_iou == (0.5, 0.0) and m.miou == 0.25


def test_predicting_the_ignore_value_is_no_class() -> None:
    # ADE20K style: 0 is "other"; a prediction of 0 costs recall and adds no false positive.
    matrix = confusion_matrix(np.array([[0, 1]]), np.array([[1, 1]]), 2, ignore_index=0)
    assert matrix.tolist() == [[0, 0, 0], [0, 1, 1]]
    assert semantic_metrics(matrix).miou == 0.5


def test_dataset_confusion_matrices_add() -> None:
    total = confusion_matrix(PRED, GT, 3, ignore_index=255) + confusion_matrix(
        GT, GT, 3, ignore_index=255
    )
    assert semantic_metrics(total).valid_pixels == 10


def test_ground_truth_outside_the_classes_is_an_error() -> None:
    with pytest.raises(MetricError, match=r'gt_labels must lie in \[0, 3\)'):
        confusion_matrix(PRED, GT, 3)
    with pytest.raises(MetricError, match='num_classes must be a positive int'):
        confusion_matrix(PRED, GT, 0)
    with pytest.raises(MetricError, match=r'confusion must be a \(C, C \+ 1\) integer matrix'):
        semantic_metrics(np.zeros((3, 3), dtype=np.int64))


@settings(max_examples=30, deadline=None)
@given(
    labels=hnp.arrays(
        np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.integers(0, 4)
    )
)
def test_perfect_labels_give_iou_one(labels: np.ndarray) -> None:
    m = semantic_metrics(confusion_matrix(labels, labels, 5))
    assert (m.miou, m.pixel_accuracy) == (1.0, 1.0)


def test_hand_computed_referring_metrics() -> None:
    # samples (I, U) = (1, 2), (0, 0), (3, 4): cIoU = 4 / 6; gIoU = (1/2 + 1 + 3/4) / 3 = 0.75
    m = referring_metrics([(1, 2), (0, 0), (3, 4)])
    assert (m.ciou, m.giou, m.samples) == (pytest.approx(2 / 3), 0.75, 3)


def test_mask_iou_counts() -> None:
    pred = np.array([[True, True, False, False]])
    gt = np.array([[False, True, True, False]])
    assert mask_iou_counts(pred, gt) == (1, 3)
    assert mask_iou_counts(pred, gt, valid=np.array([[False, True, True, True]])) == (1, 2)
    assert mask_iou_counts(np.zeros((1, 2), bool), np.zeros((1, 2), bool)) == (0, 0)
    assert referring_metrics([(0, 0)]).giou == 1.0  # empty prediction of an empty target


def test_referring_counts_must_be_consistent() -> None:
    with pytest.raises(MetricError, match='0 <= intersection <= union'):
        referring_metrics([(3, 2)])


def test_instance_matching_at_iou_one_half_is_inclusive() -> None:
    # GT 1 = cols 0..3, GT 2 = cols 4..7 (row of 10); predictions: 5 = GT 1 exactly (IoU 1),
    # 6 = cols 4..5 (IoU 2/4 = 0.5, matches), 7 = cols 8..9 (no overlap): TP 2, FP 1, FN 0.
    gt = np.array([[1, 1, 1, 1, 2, 2, 2, 2, 0, 0]], dtype=np.uint16)
    pred = np.array([[5, 5, 5, 5, 6, 6, 0, 0, 7, 7]], dtype=np.uint32)
    for matching in ('hungarian', 'greedy'):
        match = match_instances(pred, gt, matching=matching)
        assert match == InstanceMatch(2, 1, 0, (1.0, 0.5))
    assert match_instances(pred, gt, iou_threshold=0.6).true_positives == 1


def test_hungarian_finds_more_matches_than_greedy() -> None:
    # 1 x 12 row. G0 = [0, 10), G1 = [2, 12). P0 = [0, 11): IoU 10/11 with G0, 9/12 with G1.
    # P1 = [0, 7): IoU 7/10 with G0, 5/12 with G1. Greedy takes P0-G0 (0.909) and stops at 1;
    # Hungarian pairs P0-G1 (0.75) and P1-G0 (0.7): 2 matches.
    cols = np.arange(12)
    gt = np.stack(((cols < 10), (cols >= 2)))[:, None, :]  # (2, 1, 12)
    pred = np.stack(((cols < 11), (cols < 7)))[:, None, :]
    assert match_instances(pred, gt, matching='greedy') == InstanceMatch(1, 1, 1, (10 / 11,))
    hungarian = match_instances(pred, gt, matching='hungarian')
    assert hungarian == InstanceMatch(2, 0, 0, (0.75, 0.7))


def test_predictions_mostly_in_the_ignore_region_are_dropped() -> None:
    # Crowd region cols 6..9. Prediction 3 (cols 7..9) lies all inside it: dropped, no FP.
    # Prediction 4 (cols 4..6) is 1/3 inside: kept, unmatched -> FP. Prediction 1 = GT 1: TP.
    gt = np.array([[1, 1, 1, 0, 0, 0, 0, 0, 0, 0]])
    crowd = np.array([[False] * 6 + [True] * 4])
    pred = np.array([[1, 1, 1, 0, 4, 4, 4, 3, 3, 3]])
    match = match_instances(pred, gt, ignore=crowd)
    assert (match.true_positives, match.false_positives, match.false_negatives) == (1, 1, 0)


def test_hand_computed_instance_f1() -> None:
    # summed TP 2, FP 1, FN 1: precision 2/3, recall 2/3, F1 = 4 / (4 + 1 + 1)
    m = instance_metrics([InstanceMatch(2, 1, 0, (1.0, 0.5)), InstanceMatch(0, 0, 1, ())])
    assert (m.precision, m.recall, m.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (m.true_positives, m.false_positives, m.false_negatives, m.images) == (2, 1, 1, 2)
    nothing = instance_metrics([InstanceMatch(0, 0, 0, ())])
    assert (nothing.precision, nothing.recall, nothing.f1) == (1.0, 1.0, 1.0)


@settings(max_examples=30, deadline=None)
@given(
    ids=hnp.arrays(
        np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.integers(0, 5)
    )
)
def test_perfect_instances_give_f1_one(ids: np.ndarray) -> None:
    match = match_instances(ids, ids)
    assert match.false_positives == match.false_negatives == 0
    assert instance_metrics([match]).f1 == 1.0


def test_torch_input_on_each_device(device: torch.device) -> None:
    gt = torch.tensor([[1, 1, 2, 2]], device=device)
    matrix = confusion_matrix(gt, gt, 3)
    assert matrix.device.type == device.type and semantic_metrics(matrix).miou == 1.0
    assert match_instances(gt, gt).true_positives == 2


def test_bad_instance_inputs_raise_metric_error() -> None:
    with pytest.raises(MetricError, match=r'pred_instances must be an \(H, W\) integer id map'):
        match_instances(np.zeros((2, 2), dtype=np.float32), np.zeros((2, 2), dtype=np.int32))
    with pytest.raises(MetricError, match='must cover the ground truth'):
        match_instances(np.zeros((2, 3), dtype=np.int32), np.zeros((2, 2), dtype=np.int32))
    with pytest.raises(MetricError, match='matching must be one of'):
        match_instances(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32), matching='best')
