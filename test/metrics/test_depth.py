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
"""Tests for vision_banana_ros.metrics.depth: hand-computed values, protocols, properties."""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given, settings
from hypothesis import strategies as st
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from vision_banana_ros.metrics import MetricError
from vision_banana_ros.metrics.depth import (
    align_depth,
    crop_mask,
    DEFAULT_DEPTH_PROTOCOL,
    depth_metrics,
    DepthMetrics,
    DepthProtocol,
    KITTI_PROTOCOL,
    mean_depth_metrics,
    NYU_PROTOCOL,
)

NAN = math.nan


def test_hand_computed_metrics_on_three_pixels() -> None:
    # (g, p) = (1, 1), (2, 1), (4, 6); the NaN ground truth is not scored.
    # abs_rel = (0 + 1/2 + 2/4) / 3 = 1/3;  sq_rel = (0 + 1/2 + 4/4) / 3 = 0.5
    # rmse = sqrt((0 + 1 + 4) / 3);  rmse_log = sqrt((ln 2)^2 + (ln 1.5)^2) / sqrt(3)
    # ratios 1, 2, 1.5: delta1 (< 1.25) = 1/3, delta2 (< 1.5625) = 2/3, delta3 (< 1.953) = 2/3
    gt = np.array([[1.0, 2.0], [4.0, NAN]], dtype=np.float32)
    pred = np.array([[1.0, 1.0], [6.0, 3.0]], dtype=np.float32)
    m = depth_metrics(pred, gt)
    assert m.abs_rel == pytest.approx(1 / 3)
    assert m.sq_rel == pytest.approx(0.5)
    assert m.rmse_m == pytest.approx(math.sqrt(5 / 3))
    assert m.rmse_log == pytest.approx(math.sqrt((math.log(2) ** 2 + math.log(1.5) ** 2) / 3))
    assert m.log10 == pytest.approx((math.log10(2) + math.log10(1.5)) / 3)
    assert (m.delta1, m.delta2, m.delta3) == pytest.approx((1 / 3, 2 / 3, 2 / 3))
    assert (m.coverage, m.valid_pixels) == (1.0, 3)


def test_invalid_predictions_are_not_scored_but_lower_coverage() -> None:
    # 4 GT-valid pixels; the prediction is NaN, 0 and -inf on three of them: 1 scored, exact.
    gt = np.array([[1.0, 2.0, 3.0, 4.0]])
    pred = np.array([[1.0, NAN, 0.0, -np.inf]])
    m = depth_metrics(pred, gt)
    assert (m.valid_pixels, m.coverage, m.abs_rel, m.delta1) == (1, 0.25, 0.0, 1.0)


def test_ground_truth_outside_min_and_cap_is_not_scored() -> None:
    # 0.0005 m <= 1e-3 m and 12 m > 10 m are out; 10 m (== cap) is in: 2 scored pixels.
    gt = np.array([[0.0005, 12.0, 10.0, 5.0]])
    pred = np.array([[9.0, 9.0, 10.0, 5.0]])
    m = depth_metrics(pred, gt, DepthProtocol(max_depth_m=10.0))
    assert (m.valid_pixels, m.abs_rel) == (2, 0.0)


def test_eigen_crop_is_rows_45_to_471_cols_41_to_601_at_480x640() -> None:
    mask = crop_mask('eigen', 480, 640)
    assert int(mask.sum()) == (471 - 45) * (601 - 41)
    assert bool(mask[45, 41]) and bool(mask[470, 600])
    assert not bool(mask[44, 41]) and not bool(mask[471, 41]) and not bool(mask[45, 601])


def test_garg_crop_truncates_the_fractions_like_bts() -> None:
    # 375 x 1242: rows int(153.04):int(371.96) = 153:371, cols int(44.65):int(1197.35) = 44:1197
    mask = crop_mask('garg', 375, 1242)
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    assert (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1) == (
        153,
        371,
        44,
        1197,
    )
    assert int(mask.sum()) == (371 - 153) * (1197 - 44)


def test_presets_carry_the_literature_caps() -> None:
    assert (NYU_PROTOCOL.max_depth_m, NYU_PROTOCOL.crop) == (10.0, 'eigen')
    assert (KITTI_PROTOCOL.max_depth_m, KITTI_PROTOCOL.crop) == (80.0, 'garg')
    assert NYU_PROTOCOL.min_depth_m == KITTI_PROTOCOL.min_depth_m == 1e-3
    assert DEFAULT_DEPTH_PROTOCOL.alignment == 'none'


def test_nyu_protocol_scores_only_inside_the_eigen_crop() -> None:
    gt = np.full((480, 640), 2.0, dtype=np.float32)
    m = depth_metrics(gt.copy(), gt, NYU_PROTOCOL)
    assert m.valid_pixels == 426 * 560


def test_median_alignment_scales_by_the_median_ratio() -> None:
    # medians: gt 2.5, pred 5 -> scale 0.5 -> pred (1, 2, 3, 4.5): abs_rel = (0.5 / 4) / 4
    gt = np.array([[1.0, 2.0, 3.0, 4.0]])
    pred = np.array([[2.0, 4.0, 6.0, 9.0]])
    m = depth_metrics(pred, gt, DepthProtocol(alignment='median'))
    assert m.abs_rel == pytest.approx(0.03125)


def test_least_squares_scale_only() -> None:
    # s = (1*1 + 2*1) / (1 + 1) = 1.5 -> pred (1.5, 1.5): abs_rel = (0.5 / 1 + 0.5 / 2) / 2
    gt = np.array([[1.0, 2.0]])
    m = depth_metrics(np.array([[1.0, 1.0]]), gt, DepthProtocol(alignment='least_squares'))
    assert m.abs_rel == pytest.approx(0.375)


def test_least_squares_with_shift_recovers_an_affine_prediction() -> None:
    gt = np.array([[1.0, 2.0, 3.0, 5.0]])
    pred = (gt - 1.0) / 2.0 + 0.25  # gt = 2 * pred + 0.5
    protocol = DepthProtocol(alignment='least_squares', shift=True)
    aligned = align_depth(pred, gt, 'least_squares', shift=True)
    np.testing.assert_allclose(aligned, gt, atol=1e-12)
    assert depth_metrics(pred, gt, protocol).abs_rel == pytest.approx(0.0, abs=1e-12)


def test_least_squares_with_shift_of_a_constant_prediction_is_the_mean() -> None:
    gt = np.array([[1.0, 2.0, 6.0]])
    aligned = align_depth(np.full((1, 3), 7.0), gt, 'least_squares', shift=True)
    np.testing.assert_allclose(aligned, np.full((1, 3), 3.0))


def test_clamping_moves_far_predictions_to_the_cap() -> None:
    gt = np.array([[10.0, 1.0]])
    pred = np.array([[25.0, 1.0]])
    clamped = DepthProtocol(max_depth_m=10.0, clamp_prediction=True)
    assert depth_metrics(pred, gt, clamped).abs_rel == 0.0
    assert depth_metrics(pred, gt, DepthProtocol(max_depth_m=10.0)).abs_rel == pytest.approx(0.75)


def test_no_scored_pixel_gives_nan_and_zero_pixels() -> None:
    m = depth_metrics(np.ones((2, 2)), np.full((2, 2), NAN))
    assert m.valid_pixels == 0 and math.isnan(m.abs_rel) and math.isnan(m.coverage)


def test_dataset_mean_is_over_images_and_skips_empty_ones() -> None:
    one = DepthMetrics(0.1, 0.2, 1.0, 0.1, 0.05, 0.9, 1.0, 1.0, 1.0, 10)
    two = dataclasses.replace(one, abs_rel=0.3, delta1=0.7, valid_pixels=1000)
    empty = DepthMetrics(NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0)
    mean = mean_depth_metrics([one, two, empty])
    assert (mean.abs_rel, mean.delta1, mean.valid_pixels) == pytest.approx((0.2, 0.8, 1010))
    assert math.isnan(mean_depth_metrics([empty]).abs_rel)


def test_torch_input_on_each_device(device: torch.device) -> None:
    gt = torch.tensor([[1.0, 2.0], [4.0, NAN]], device=device)
    pred = torch.tensor([[1.0, 1.0], [6.0, 3.0]], device=device)
    assert depth_metrics(pred, gt).abs_rel == pytest.approx(1 / 3)
    aligned = align_depth(pred, gt)
    assert isinstance(aligned, torch.Tensor) and aligned.device.type == device.type


@pytest.mark.parametrize(
    ('pred', 'gt', 'match'),
    [
        (np.ones((2, 3)), np.ones((3, 2)), r'pred_depth_m must have the ground truth shape'),
        (np.ones((2, 2), dtype=np.int32), np.ones((2, 2)), r'pred_depth_m must have dtype'),
        (np.ones((1, 2, 2)), np.ones((1, 2, 2)), r'gt_depth_m must be one image \(H, W\)'),
        ([[1.0]], np.ones((1, 1)), r'pred_depth_m must be a numpy array or a torch tensor'),
    ],
)
def test_bad_inputs_raise_metric_error_naming_the_argument(
    pred: object, gt: object, match: str
) -> None:
    with pytest.raises(MetricError, match=match):
        depth_metrics(pred, gt)


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'max_depth_m': 0.0}, 'max_depth_m must exceed'),
        ({'min_depth_m': -1.0}, 'min_depth_m must be finite'),
        ({'crop': 'kitti'}, 'crop must be None or one of'),
        ({'alignment': 'mean'}, 'alignment must be one of'),
        ({'shift': True}, "shift=True needs alignment='least_squares'"),
    ],
)
def test_bad_protocols_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(MetricError, match=match):
        DepthProtocol(**kwargs)


_depths = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 6), st.integers(1, 6)),
    elements=st.floats(0.01, 100.0),
)


@settings(max_examples=40, deadline=None)
@given(gt=_depths)
def test_perfect_prediction_has_zero_error_and_full_accuracy(gt: np.ndarray) -> None:
    m = depth_metrics(gt.copy(), gt)
    assert (m.abs_rel, m.sq_rel, m.rmse_m, m.rmse_log, m.log10) == (0, 0, 0, 0, 0)
    assert (m.delta1, m.delta2, m.delta3, m.coverage) == (1, 1, 1, 1)
    assert m.valid_pixels == gt.size


@settings(max_examples=40, deadline=None)
@given(
    gt=_depths,
    noise=st.floats(0.5, 2.0),
    scale=st.floats(0.01, 100.0),
    alignment=st.sampled_from(['median', 'least_squares']),
)
def test_aligned_metrics_do_not_depend_on_the_prediction_scale(
    gt: np.ndarray, noise: float, scale: float, alignment: str
) -> None:
    pred = gt * np.linspace(1.0, noise, gt.size).reshape(gt.shape)
    protocol = DepthProtocol(alignment=alignment)
    base = depth_metrics(pred, gt, protocol)
    scaled = depth_metrics(pred * scale, gt, protocol)
    errors = ('abs_rel', 'sq_rel', 'rmse_m', 'rmse_log', 'log10')
    for name in errors:
        assert getattr(scaled, name) == pytest.approx(getattr(base, name), rel=1e-9, abs=1e-12)
    # A ratio sitting exactly on 1.25^k may flip by one rounding: at most one pixel per delta.
    for name in ('delta1', 'delta2', 'delta3'):
        assert abs(getattr(scaled, name) - getattr(base, name)) <= 1.0 / gt.size + 1e-12
