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

"""Resizing decoded quantities: smooth where smooth, never a flying pixel across an edge."""

from __future__ import annotations

import math

import pytest
import torch
from vision_banana_ros.pipeline.resample import (
    planar_length,
    resize_depth,
    resize_labels,
    resize_normals,
    resize_scalar,
)


def test_depth_is_interpolated_on_a_smooth_ramp() -> None:
    ramp = torch.linspace(1.0, 1.2, 40).repeat(30, 1)  # (30, 40), 0.5 % per column
    out = resize_depth(ramp, (120, 160))
    expected = torch.nn.functional.interpolate(
        ramp[None, None], size=(120, 160), mode='bilinear', align_corners=False
    )[0, 0]
    assert torch.allclose(out, expected)


def test_depth_edge_takes_one_side_never_a_value_between() -> None:
    step = torch.ones(30, 40)
    step[:, 20:] = 4.0  # an object edge: 1 m in front of 4 m
    out = resize_depth(step, (120, 160))
    values = set(torch.unique(out).tolist())
    assert values == {1.0, 4.0}, 'no point invented between foreground and background'
    # The edge lands where it was: source column 20 starts at output column 80.
    assert torch.all(out[:, :80] == 1.0) and torch.all(out[:, 80:] == 4.0)


def test_depth_nan_stays_nan_and_does_not_spread_beyond_the_nearest() -> None:
    depth = torch.full((10, 10), 2.0)
    depth[5, 5] = math.nan
    out = resize_depth(depth, (40, 40))
    assert int(out.isnan().sum()) == 16  # exactly the 4x4 block that maps to it
    assert torch.all(out[~out.isnan()] == 2.0)


def test_normals_keep_creases_and_unit_length() -> None:
    normals = torch.zeros(3, 20, 20)
    normals[2, :, :10] = -1.0  # facing the camera
    normals[1, :, 10:] = -1.0  # facing up (optical y down)
    out = resize_normals(normals, (80, 80))
    assert torch.allclose(planar_length(out), torch.ones(1, 80, 80))
    left, right = out[:, :, :40], out[:, :, 40:]
    assert torch.all(left[2] == -1.0) and torch.all(right[1] == -1.0), 'crease stays sharp'


def test_normals_on_a_curved_surface_are_interpolated() -> None:
    angles = torch.linspace(-0.3, 0.3, 16)  # 2 degrees per pixel
    normals = torch.stack([torch.sin(angles), torch.zeros(16), -torch.cos(angles)])[
        :, None, :
    ].repeat(1, 8, 1)  # (3, 8, 16)
    out = resize_normals(normals, (32, 64))
    distinct = torch.unique(out[0, 0]).numel()
    assert distinct > 32, 'smooth surfaces get new in-between normals'


def test_labels_and_masks_take_the_nearest() -> None:
    labels = torch.arange(12, dtype=torch.int64).reshape(3, 4)
    out = resize_labels(labels, (6, 8))
    assert torch.equal(out, labels.repeat_interleave(2, 0).repeat_interleave(2, 1))
    mask = torch.zeros(2, 3, 4, dtype=torch.bool)
    mask[1, 1, 2] = True
    assert resize_labels(mask, (6, 8))[1].sum() == 4
    assert resize_labels(labels, (3, 4)) is labels


@pytest.mark.parametrize('dtype', [torch.uint8, torch.uint16, torch.int32, torch.uint32])
def test_labels_of_every_id_dtype_keep_their_dtype_and_values(dtype: torch.dtype) -> None:
    top = 60_000 if dtype in (torch.uint16, torch.int32, torch.uint32) else 250
    labels = torch.tensor([[0, 1], [top, 7]]).to(dtype)  # ids above int16's range too
    out = resize_labels(labels, (4, 4))
    assert out.dtype == dtype
    assert torch.equal(out, labels.repeat_interleave(2, 0).repeat_interleave(2, 1))


def test_scalar_treats_nan_as_zero() -> None:
    values = torch.ones(4, 4)
    values[0, 0] = math.nan
    out = resize_scalar(values, (8, 8))
    assert not out.isnan().any() and out[0, 0] == pytest.approx(0.0)
    assert out[7, 7] == pytest.approx(1.0)
