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

"""Letterboxing: aspect kept, pixels aligned with the intrinsics, crop inverts the padding."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
import pytest
import torch
from vision_banana_ros.geometry import backproject, CameraIntrinsics
from vision_banana_ros.letterbox import Letterbox


def test_vga_into_the_embedded_model() -> None:
    box = Letterbox.fit((480, 640), (128, 160))
    assert box.content_size == (120, 160)
    assert (box.top, box.left) == (4, 0)
    box = Letterbox.fit((480, 640), (256, 256))
    assert box.content_size == (192, 256)
    assert (box.top, box.left) == (32, 0)
    assert Letterbox.fit((128, 160), (128, 160)).identity


@given(st.integers(8, 2000), st.integers(8, 2000), st.integers(8, 512), st.integers(8, 512))
def test_content_fits_and_keeps_the_aspect(height: int, width: int, rows: int, cols: int) -> None:
    box = Letterbox.fit((height, width), (rows, cols))
    content_h, content_w = box.content_size
    assert 1 <= content_h <= rows and 1 <= content_w <= cols
    assert content_h == rows or content_w == cols  # one side fills the model image
    assert box.top + content_h <= rows and box.left + content_w <= cols
    # One scale for both axes: each side is the scaled side, rounded (at least one pixel).
    scale = min(rows / height, cols / width)
    assert abs(content_h - height * scale) <= 0.5 or content_h == 1
    assert abs(content_w - width * scale) <= 0.5 or content_w == 1


def test_to_model_pads_by_replicating_the_border_and_crop_undoes_it() -> None:
    rgb = torch.randint(0, 256, (2, 48, 64, 3), dtype=torch.uint8)
    box = Letterbox.fit((48, 64), (64, 64))
    model = box.to_model(rgb)
    assert model.shape == (2, 64, 64, 3) and model.dtype == torch.uint8
    assert torch.equal(box.crop(model), rgb)  # same scale: only padding added
    assert torch.equal(model[:, 0], model[:, box.top])  # replicated rows above
    labels = torch.arange(64 * 64).reshape(64, 64)
    assert box.crop(labels, channels_last=False).shape == (48, 64)


def test_model_intrinsics_project_points_to_the_same_content_pixels() -> None:
    camera = CameraIntrinsics(fx=500.0, fy=510.0, cx=321.0, cy=239.0, width=640, height=480)
    box = Letterbox.fit((480, 640), (256, 320))
    model = box.model_intrinsics(camera)
    depth = torch.full((256, 320), 2.0)
    points = backproject(depth, model)  # (256, 320, 3)
    # A content pixel and the camera pixel it samples see the same ray.
    row, col = 100, 200
    cam_row = (row - box.top + 0.5) * 480 / box.content_size[0] - 0.5
    cam_col = (col - box.left + 0.5) * 640 / box.content_size[1] - 0.5
    x, y, z = (float(v) for v in points[row, col])
    assert x / z == pytest.approx((cam_col - camera.cx) / camera.fx, rel=1e-5)
    assert y / z == pytest.approx((cam_row - camera.cy) / camera.fy, rel=1e-5)
    with pytest.raises(ValueError, match='intrinsics are for 320x240'):
        box.model_intrinsics(camera.scaled_to(320, 240))


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match='sizes must be positive'):
        Letterbox.fit((0, 640), (128, 160))
