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
"""Pictures for people: colours, scales, overlays, legends, cloud views and contact sheets."""

from __future__ import annotations

import numpy as np
import pytest
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.objects import Box, DetectedObject
from vision_banana_ros.visualise import (
    BACKGROUND_RGB,
    box_overlay,
    cloud_view,
    colourise_depth,
    contact_sheet,
    depth_colour_bar,
    depth_range,
    depth_with_colour_bar,
    fit,
    label_overlay,
    mask_overlay,
    normals_image,
    Panel,
    titled,
    with_legend,
)


def test_near_depth_is_red_far_is_blue_and_invalid_is_black() -> None:
    depth_m = np.array([[1.0, 4.0, np.nan, -1.0]], np.float32)
    rgb = colourise_depth(depth_m, 1.0, 4.0)
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    near, far = rgb[0, 0].astype(int), rgb[0, 1].astype(int)
    assert near[0] > near[2] and far[2] > far[0], (near, far)
    assert (rgb[0, 2:] == 0).all()


def test_depth_beyond_the_range_is_clipped_to_its_ends() -> None:
    depth_m = np.array([[0.5, 1.0, 4.0, 9.0]], np.float32)
    rgb = colourise_depth(depth_m, 1.0, 4.0)
    assert (rgb[0, 0] == rgb[0, 1]).all() and (rgb[0, 2] == rgb[0, 3]).all()


@pytest.mark.parametrize(('near', 'far'), [(2.0, 2.0), (3.0, 1.0), (0.0, np.inf)])
def test_an_empty_or_infinite_depth_range_is_refused(near: float, far: float) -> None:
    with pytest.raises(ValueError, match='near_m < far_m'):
        colourise_depth(np.ones((2, 2), np.float32), near, far)


def test_depth_range_is_robust_and_never_empty() -> None:
    depth_m = np.linspace(1.0, 5.0, 101, dtype=np.float32).reshape(1, -1)
    depth_m[0, 0] = 1000.0  # one outlier
    near, far = depth_range(depth_m)
    assert 1.0 < near < 1.2 and 4.8 < far < 5.0
    assert depth_range(np.full((2, 2), np.nan, np.float32)) == (0.0, 1.0)
    flat_near, flat_far = depth_range(np.full((2, 2), 2.0, np.float32))
    assert flat_far > flat_near == 2.0


def test_colour_bar_fits_the_image_height_and_grows_with_it() -> None:
    small = depth_colour_bar(240, 0.5, 3.0)
    large = depth_colour_bar(960, 0.5, 3.0)
    assert small.shape[0] == 240 and large.shape[0] == 960
    assert large.shape[1] > small.shape[1]
    picture = depth_with_colour_bar(np.full((480, 640), 2.0, np.float32))
    assert picture.shape[0] == 480 and picture.shape[1] > 640


def test_a_wall_facing_the_camera_is_light_blue_and_invalid_normals_are_black() -> None:
    normals = np.zeros((2, 2, 3), np.float32)
    normals[..., 2] = -1.0
    normals[1, 1] = np.nan
    rgb = normals_image(normals)
    assert tuple(rgb[0, 0]) == (128, 128, 255)
    assert tuple(rgb[1, 1]) == (0, 0, 0)


def test_label_overlay_blends_labelled_pixels_and_leaves_the_rest() -> None:
    rgb = np.full((6, 6, 3), 100, np.uint8)
    labels = np.zeros((6, 6), np.uint16)
    labels[1:5, 1:5] = 2
    labels[0, 5] = 9  # beyond the colour table: left as the image
    colours = np.array([[0, 0, 0], [200, 0, 0]], np.uint8)
    out = label_overlay(rgb, labels, colours, alpha=0.5)
    assert tuple(out[0, 0]) == (100, 100, 100) and tuple(out[0, 5]) == (100, 100, 100)
    assert tuple(out[2, 2]) == (150, 50, 50)  # inside: blended
    assert tuple(out[1, 1]) == (200, 0, 0)  # the outline is the pure colour


def test_mask_overlay_dims_what_is_outside_the_mask() -> None:
    rgb = np.full((4, 4, 3), 200, np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    out = mask_overlay(rgb, mask)
    assert tuple(out[0, 0]) == (120, 120, 120)
    assert out[1:3, 1:3, 1].max() < 200  # magenta inside


def test_legend_lists_every_entry_it_has_room_for() -> None:
    image = np.zeros((60, 40, 3), np.uint8)
    entries = [(f'class {i}', (255, 0, 0)) for i in range(10)]
    keyed = with_legend(image, entries)
    assert keyed.shape[0] == 60 and keyed.shape[1] > 40
    assert (keyed[:, :40] == image).all()
    swatch_rows = np.flatnonzero((keyed[:, 40:] == (255, 0, 0)).all(-1).any(-1))
    assert 0 < swatch_rows.size < 60  # a few swatches, then '+ N more'


def _plane_cloud(height: int = 48, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Make an organised cloud of a wall 2 m ahead, seen by a 60 px focal pinhole."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    z = np.full((height, width), 2.0, np.float32)
    xyz = np.stack([(cols - width / 2) / 60.0 * z, (rows - height / 2) / 60.0 * z, z], -1)
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = 255
    return xyz, rgb


def test_cloud_view_draws_the_points_from_another_viewpoint() -> None:
    xyz, rgb = _plane_cloud()
    view = cloud_view(xyz, rgb, size=(60, 80))
    red = (view == (255, 0, 0)).all(-1)
    assert view.shape == (60, 80, 3)
    assert 0.05 < red.mean() < 0.9  # the wall is seen, smaller, obliquely


def test_cloud_view_draws_boxes_where_their_points_are() -> None:
    """A box around a white patch of the cloud is drawn around that patch in the second view."""
    rows, cols = np.mgrid[0:40, 0:40].astype(np.float64)
    depth = np.full((40, 40), 2.0)
    xyz = np.stack([(cols - 19.5) / 40.0 * depth, (rows - 19.5) / 40.0 * depth, depth], -1)
    rgb = np.full((40, 40, 3), 90, np.uint8)
    rgb[10:20, 10:20] = 255
    patch = xyz[10:20, 10:20].reshape(-1, 3)
    box = Box(patch.mean(0), np.eye(3), np.ptp(patch, axis=0) + 0.01)
    red = np.array([255, 0, 0], np.uint8)
    obj = DetectedObject(
        'mug', 'instance', 1, 1.0, len(patch), len(patch), patch.mean(0), box, -np.eye(3)[2], red
    )
    plain = cloud_view(xyz, rgb, size=(80, 80))
    drawn = cloud_view(xyz, rgb, size=(80, 80), objects=[obj])
    white = np.argwhere((plain == 255).all(-1))
    edges = np.argwhere((drawn[..., 0] > 150) & (drawn[..., 1] < 100) & (drawn[..., 2] < 100))
    assert len(white) > 20 and len(edges) > 20
    centre = white.mean(0)
    assert (edges.min(0) <= centre).all() and (centre <= edges.max(0)).all()
    assert np.array_equal(plain, cloud_view(xyz, rgb, size=(80, 80), objects=()))


def test_cloud_view_of_no_valid_point_is_background() -> None:
    xyz = np.full((8, 8, 3), np.nan, np.float32)
    view = cloud_view(xyz, np.zeros((8, 8, 3), np.uint8), size=(10, 12))
    assert (view == BACKGROUND_RGB).all()


def test_fit_keeps_the_aspect_ratio_and_pads() -> None:
    image = np.full((10, 40, 3), 255, np.uint8)
    cell = fit(image, (20, 20))
    assert cell.shape == (20, 20, 3)
    white_rows = np.flatnonzero((cell == 255).all(-1).all(-1))
    assert white_rows.size == 5  # 40 -> 20 wide, 10 -> 5 high


def test_contact_sheet_lays_panels_on_a_grid_with_titles() -> None:
    image = np.zeros((30, 40, 3), np.uint8)
    panels = [
        Panel('a', image),
        Panel('b', image, legend=(('mug', (255, 0, 0)),)),
        Panel('c', image, depth_range_m=(0.5, 2.0)),
        Panel('d', image),
        Panel('e', image),
    ]
    sheet = contact_sheet(panels, columns=3, cell=(60, 80), margin_px=4)
    title_px = titled(image, 'x').shape[0] - image.shape[0]
    assert sheet.shape == (2 * (60 + title_px) + 3 * 4, 3 * 80 + 4 * 4, 3)
    with pytest.raises(ValueError, match='at least one panel'):
        contact_sheet([])


def test_box_overlay_draws_the_projected_edges_in_the_object_colour() -> None:
    intrinsics = CameraIntrinsics(100.0, 100.0, 79.5, 59.5, 160, 120)
    box = Box(np.array([0.0, 0.0, 2.0]), np.eye(3), np.array([0.8, 0.4, 0.2]))
    obj = DetectedObject(
        name='box',
        kind='instance',
        instance_id=3,
        score=1.0,
        point_count=10,
        mask_px=10,
        centroid_m=box.center_m,
        box=box,
        normal=np.array([0.0, 0.0, -1.0]),
        colour=np.array([255, 0, 0], dtype=np.uint8),
    )
    rgb = np.zeros((120, 160, 3), dtype=np.uint8)
    drawn = box_overlay(rgb, [obj], intrinsics)
    assert rgb.max() == 0, 'the input is left alone'
    red = (drawn[..., 0] > 100) & (drawn[..., 1] < 60)
    # the front face (z = 1.9 m) spans u = 79.5 +- 100 * 0.4 / 1.9, v = 59.5 +- 100 * 0.2 / 1.9
    assert red[59, 61:98].sum() == 0  # inside the face: not drawn
    assert red[59, 58] or red[59, 57] or red[59, 59]  # its left edge
    assert box_overlay(rgb, [], intrinsics).max() == 0
