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
"""Tests for vision_banana_ros.metrics.normals: angles, hand-computed metrics, pooling."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from vision_banana_ros.metrics import MetricError
from vision_banana_ros.metrics.normals import (
    angular_error_deg,
    HISTOGRAM_BIN_DEG,
    normal_metrics,
    summarise_normal_errors,
)


def _tilted(angles_deg: list[float]) -> np.ndarray:
    """(1, N, 3) unit normals tilted from (0, 0, -1) towards +x by each angle."""
    rad = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    return np.stack((np.sin(rad), np.zeros_like(rad), -np.cos(rad)), axis=-1)[None]


def test_right_angle_zero_and_opposite() -> None:
    gt = np.array([[[0.0, 0.0, -1.0]] * 4])
    pred = np.array([[[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [0.0, -3.0, -3.0]]])
    np.testing.assert_allclose(angular_error_deg(pred, gt), [[90.0, 0.0, 180.0, 45.0]], atol=1e-12)


def test_non_finite_or_zero_vectors_give_nan() -> None:
    gt = np.array([[[0.0, 0.0, -1.0], [np.nan, 0.0, -1.0], [0.0, 0.0, -1.0]]], dtype=np.float32)
    pred = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 0.0, -2.0]]], dtype=np.float32)
    errors = angular_error_deg(pred, gt)
    assert errors.dtype == np.float32
    assert np.isnan(errors[0, :2]).all() and errors[0, 2] == 0.0


def test_hand_computed_metrics_of_four_pixels() -> None:
    # errors 0, 10, 20, 40 deg: mean 17.5, median 15, rmse sqrt((100 + 400 + 1600) / 4) = sqrt(525)
    # below 11.25: 2 of 4 = 50 %; below 22.5: 75 %; below 30: 75 %
    gt = _tilted([0.0, 0.0, 0.0, 0.0])
    m = normal_metrics(_tilted([0.0, 10.0, 20.0, 40.0]), gt)
    assert (m.mean_deg, m.median_deg, m.rmse_deg) == pytest.approx((17.5, 15.0, math.sqrt(525)))
    assert (m.within_11_25_pct, m.within_22_5_pct, m.within_30_pct) == (50.0, 75.0, 75.0)
    assert m.valid_pixels == 4


def test_mask_limits_the_scored_pixels() -> None:
    gt = _tilted([0.0, 0.0, 0.0])
    m = normal_metrics(_tilted([0.0, 10.0, 50.0]), gt, mask=np.array([[True, True, False]]))
    assert (m.valid_pixels, m.mean_deg) == (2, pytest.approx(5.0))


def test_pooled_summary_equals_the_summary_of_all_pixels() -> None:
    first = summarise_normal_errors(np.array([0.0, 10.0, np.nan]))
    second = summarise_normal_errors(np.array([20.0, 40.0]))
    pooled = (first + second).metrics()
    assert (pooled.mean_deg, pooled.rmse_deg) == pytest.approx((17.5, math.sqrt(525)))
    assert pooled.median_deg == pytest.approx(15.0, abs=HISTOGRAM_BIN_DEG)
    assert (pooled.within_11_25_pct, pooled.valid_pixels) == (50.0, 4)


def test_empty_summary_gives_nan() -> None:
    metrics = summarise_normal_errors(np.array([np.nan])).metrics()
    assert metrics.valid_pixels == 0 and math.isnan(metrics.mean_deg)


@settings(max_examples=30, deadline=None)
@given(
    errors=hnp.arrays(
        np.float64, st.integers(1, 300), elements=st.floats(0.0, 180.0, allow_subnormal=False)
    )
)
def test_pooled_median_is_within_one_bin_of_the_exact_median(errors: np.ndarray) -> None:
    pooled = summarise_normal_errors(errors).metrics()
    assert pooled.median_deg == pytest.approx(float(np.median(errors)), abs=HISTOGRAM_BIN_DEG)
    assert pooled.mean_deg == pytest.approx(float(np.mean(errors)))


@settings(max_examples=30, deadline=None)
@given(
    normals=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(1, 5), st.just(3)),
        elements=st.floats(-1.0, 1.0),
    )
)
def test_perfect_prediction_has_zero_error(normals: np.ndarray) -> None:
    m = normal_metrics(normals * 2.0, normals)  # any positive length is the same direction
    valid = int((np.linalg.norm(normals, axis=-1) > 0).sum())
    assert m.valid_pixels == valid
    if valid:
        assert m.mean_deg == pytest.approx(0.0, abs=1e-5)
        assert m.within_11_25_pct == 100.0


def test_torch_input_on_each_device(device: torch.device) -> None:
    gt = torch.tensor([[[0.0, 0.0, -1.0]]], device=device)
    pred = torch.tensor([[[0.0, -1.0, 0.0]]], device=device)
    errors = angular_error_deg(pred, gt)
    assert isinstance(errors, torch.Tensor) and errors.device.type == device.type
    assert normal_metrics(pred, gt).mean_deg == pytest.approx(90.0)


def test_bad_inputs_raise_metric_error_naming_the_argument() -> None:
    with pytest.raises(MetricError, match=r'pred_normals must have the shape of gt_normals'):
        angular_error_deg(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)))
    with pytest.raises(MetricError, match=r'gt_normals must be laid out \(\.\.\., H, W, 3\)'):
        normal_metrics(np.zeros((2, 2, 3)), np.zeros((2, 2)))
    with pytest.raises(MetricError, match='gt_normals must have dtype'):
        normal_metrics(np.zeros((2, 2, 3)), np.zeros((2, 2, 3), dtype=np.int64))
    with pytest.raises(MetricError, match=r'errors_deg must lie in \[0, 180\]'):
        summarise_normal_errors(np.array([-1.0]))
