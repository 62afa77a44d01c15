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

"""Clean-up of generation artefacts: speckles, pinholes, depth outliers, normal grain."""

from __future__ import annotations

import math

import numpy as np
import torch
from vision_banana_ros.pipeline.cleanup import clean_labels, median_depth, smooth_normals
from vision_banana_ros.pipeline.resample import planar_length


def test_speckles_are_dropped_and_pinholes_filled() -> None:
    labels = np.zeros((40, 40), dtype=np.int64)
    labels[5:25, 5:25] = 2
    labels[12, 12] = 0  # a pinhole in the object
    labels[30, 30] = 3  # a speckle of another class
    out = clean_labels(labels, min_component_px=4, max_hole_px=4)
    assert out[12, 12] == 2 and out[30, 30] == 0
    assert (out == 2).sum() == 400 and out.dtype == labels.dtype


def test_large_holes_and_the_border_background_stay() -> None:
    labels = np.zeros((40, 40), dtype=np.uint8)
    labels[5:35, 5:35] = 1
    labels[10:20, 10:20] = 0  # a 100-pixel hole: real, e.g. a handle's opening
    out = clean_labels(labels, min_component_px=4, max_hole_px=16)
    assert (out[10:20, 10:20] == 0).all() and (out[0] == 0).all()
    assert np.array_equal(clean_labels(labels, 0, 0), labels), 'both steps can be switched off'


def test_median_removes_an_outlier_and_keeps_nan() -> None:
    depth = torch.full((9, 9), 2.0)
    depth[4, 4] = 9.0
    depth[0, 0] = math.nan
    out = median_depth(depth, 3)
    assert out[4, 4] == 2.0 and math.isnan(out[0, 0]) and out[0, 1] == 2.0
    assert median_depth(depth, 1) is depth  # switched off: the input itself


def test_normal_smoothing_removes_grain_but_keeps_a_crease() -> None:
    generator = torch.Generator().manual_seed(0)
    normals = torch.zeros(3, 16, 16)
    normals[2, :, :8] = -1.0
    normals[1, :, 8:] = -1.0
    noisy = normals + 0.05 * torch.randn(3, 16, 16, generator=generator)
    noisy = noisy / planar_length(noisy)
    noisy[:, 0, 0] = math.nan
    out = smooth_normals(noisy, 3, 12.0)

    def error_deg(pred: torch.Tensor) -> torch.Tensor:
        cos = (pred * normals).sum(0).clamp(-1, 1)
        return torch.rad2deg(torch.arccos(cos))[1:, :]  # row 0 has the NaN

    assert error_deg(out).nanmean() < 0.6 * error_deg(noisy).nanmean()
    assert error_deg(out)[:, 7:9].max() < 10.0, 'the crease is not blurred'
    assert out[:, 0, 0].isnan().all()
    assert torch.allclose(planar_length(out[:, 1:]), torch.ones(1, 15, 16), atol=1e-5)
