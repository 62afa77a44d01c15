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


"""Tests for geometry.py: intrinsics, back-projection, normals, organised clouds, PointCloud2."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch
from vision_banana_ros.geometry import (
    backproject,
    CameraIntrinsics,
    GeometryError,
    normals_from_depth,
    organised_cloud,
    OrganisedCloud,
    pack_pointcloud2,
    PointFieldDatatype,
    save_cloud,
)

K_VGA = CameraIntrinsics(fx=525.0, fy=520.0, cx=319.5, cy=239.5, width=640, height=480)
K_SMALL = CameraIntrinsics(fx=40.0, fy=42.0, cx=7.3, cy=4.6, width=16, height=10)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cosine = (a.astype(np.float64) * np.asarray(b, dtype=np.float64)).sum(-1)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _plane_depth(normal: np.ndarray, offset: float, k: CameraIntrinsics) -> np.ndarray:
    """Z-depth of the plane ``normal . X = -offset`` (normal facing the camera), NaN if unseen."""
    height, width = k.height, k.width
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], axis=-1)
    denominator = rays @ normal  # (H, W)
    with np.errstate(divide='ignore'):
        return np.where(denominator < 0, -offset / denominator, np.nan)


# ---------------------------------------------------------------------------------------------
# CameraIntrinsics


def test_intrinsics_store_plain_python_numbers() -> None:
    k = CameraIntrinsics(np.float32(500.0), 500, 319.5, 239.5, np.int64(640), 480)
    assert type(k.fx) is float and type(k.fy) is float and type(k.width) is int
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (500.0, 500.0, 319.5, 239.5, 640, 480)


@pytest.mark.parametrize(
    ('field', 'value', 'match'),
    [
        ('fx', 0.0, 'fx must be a positive focal length'),
        ('fy', -1.0, 'fy must be a positive focal length'),
        ('fx', math.nan, 'fx must be finite, got nan'),
        ('cx', math.inf, 'cx must be finite, got inf'),
        ('cy', '239.5', 'cy must be a real number'),
        ('fx', True, 'fx must be a real number'),
        ('width', 0, 'width must be a positive integer'),
        ('height', 480.0, 'height must be a positive integer'),
        ('width', True, 'width must be a positive integer'),
    ],
)
def test_bad_intrinsics_raise_geometry_error_naming_the_field(
    field: str, value: object, match: str
) -> None:
    fields: dict[str, object] = {
        'fx': 500.0,
        'fy': 500.0,
        'cx': 319.5,
        'cy': 239.5,
        'width': 640,
        'height': 480,
    }
    fields[field] = value
    with pytest.raises(GeometryError, match=match):
        CameraIntrinsics(**fields)  # type: ignore[arg-type]


def test_geometry_error_is_a_value_error() -> None:
    assert issubclass(GeometryError, ValueError)


def test_intrinsics_are_frozen() -> None:
    with pytest.raises(AttributeError):
        K_VGA.fx = 1.0  # type: ignore[misc]


def test_matrix_is_the_pinhole_k() -> None:
    expected = [[525.0, 0.0, 319.5], [0.0, 520.0, 239.5], [0.0, 0.0, 1.0]]
    matrix = K_VGA.matrix()
    assert matrix.dtype == torch.float32 and matrix.shape == (3, 3)
    assert matrix.tolist() == expected
    assert K_VGA.matrix(dtype=torch.float64).dtype == torch.float64


def test_matrix_lives_on_the_requested_device(device: torch.device) -> None:
    assert K_VGA.matrix(device).device.type == device.type


CAMERA_INFO_K = [525.0, 0.0, 319.5, 0.0, 520.0, 239.5, 0.0, 0.0, 1.0]


def test_from_camera_info_without_roi_or_binning_is_k_itself() -> None:
    k = CameraIntrinsics.from_camera_info(CAMERA_INFO_K, 640, 480)
    assert k == K_VGA
    assert CameraIntrinsics.from_camera_info(CAMERA_INFO_K, 640, 480, 1, 1, (0, 0, 0, 0)) == k


def test_from_camera_info_roi_shifts_the_principal_point() -> None:
    k = CameraIntrinsics.from_camera_info(CAMERA_INFO_K, 640, 480, roi=(100, 40, 320, 240))
    assert k == CameraIntrinsics(525.0, 520.0, 219.5, 199.5, 320, 240)


def test_from_camera_info_binning_scales_pixel_centres() -> None:
    k = CameraIntrinsics.from_camera_info(CAMERA_INFO_K, 640, 480, binning_x=2, binning_y=4)
    # cx' = (319.5 + 0.5) / 2 - 0.5 = 159.5 (the image centre stays the centre).
    assert k == CameraIntrinsics(262.5, 130.0, 159.5, 59.5, 320, 120)


def test_from_camera_info_floors_the_binned_size() -> None:
    k = CameraIntrinsics.from_camera_info(CAMERA_INFO_K, 641, 481, binning_x=2, binning_y=2)
    assert (k.width, k.height) == (320, 240)


def test_from_camera_info_accepts_a_rosbags_camera_info_message() -> None:
    typesys = pytest.importorskip('rosbags.typesys', reason='rosbags is not installed')
    types = typesys.get_typestore(typesys.Stores.ROS2_JAZZY).types
    header = types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=1, nanosec=2), frame_id='camera_optical'
    )
    roi = types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    msg = types['sensor_msgs/msg/CameraInfo'](
        header=header,
        height=480,
        width=640,
        distortion_model='plumb_bob',
        d=np.zeros(5),
        k=np.array(CAMERA_INFO_K),
        r=np.eye(3).ravel(),
        p=np.array([525.0, 0.0, 319.5, 0.0, 0.0, 520.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0]),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )
    k = CameraIntrinsics.from_camera_info(
        msg.k,
        msg.width,
        msg.height,
        msg.binning_x,
        msg.binning_y,
        (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height),
    )
    assert k == K_VGA


@settings(max_examples=60, deadline=None)
@given(
    binning=st.integers(1, 8),
    x_offset=st.integers(0, 40),
    u_binned=st.integers(0, 20),
    fx=st.floats(100.0, 2000.0),
    cx=st.floats(0.0, 400.0),
)
def test_binned_pixel_centre_sees_the_mean_ray_of_its_block(
    binning: int, x_offset: int, u_binned: int, fx: float, cx: float
) -> None:
    k = [fx, 0.0, cx, 0.0, fx, 240.0, 0.0, 0.0, 1.0]
    binned = CameraIntrinsics.from_camera_info(
        k, 640, 480, binning_x=binning, roi=(x_offset, 0, 640 - x_offset, 480)
    )
    # The binned pixel covers full-resolution columns x_offset + binning * u_binned + [0, b).
    block = x_offset + binning * u_binned + np.arange(binning)
    mean_ray = float(((block - cx) / fx).mean())
    assert (u_binned - binned.cx) / binned.fx == pytest.approx(mean_ray, abs=1e-12)


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'k': [0.0] * 9}, 'uncalibrated'),
        ({'k': [525.0, 0.0, math.nan, 0.0, 520.0, 239.5, 0.0, 0.0, 1.0]}, r'k\[2\] \(cx\)'),
        ({'k': [0.0, 0.0, 319.5, 0.0, 520.0, 239.5, 0.0, 0.0, 1.0]}, r'k\[0\] \(fx\) must be'),
        ({'k': [525.0, 0.0, 319.5, 0.0, -5.0, 239.5, 0.0, 0.0, 1.0]}, r'k\[4\] \(fy\)'),
        ({'k': [525.0, 1.0, 319.5, 0.0, 520.0, 239.5, 0.0, 0.0, 1.0]}, r'k\[1\] \(skew\)'),
        ({'k': [525.0, 0.0, 319.5, 0.0, 520.0, 239.5, 0.0, 0.0, 2.0]}, r'k\[8\]'),
        ({'k': CAMERA_INFO_K[:8]}, 'k must hold 9 numbers'),
        ({'k': 'abc'}, 'k must be 9 numbers'),
        ({'width': 0}, 'width must be a positive integer'),
        ({'binning_x': -1}, 'binning_x must be a non-negative integer'),
        ({'binning_y': 1.5}, 'binning_y must be a non-negative integer'),
        ({'binning_x': 1000}, 'leaves no pixels'),
        ({'roi': (600, 0, 100, 480)}, 'roi .* must lie inside the 640x480 image'),
        ({'roi': (0, 0, 100, 0)}, 'must lie inside'),
        ({'roi': (10, 0, 0, 0)}, 'roi with zero size must have zero offsets'),
        ({'roi': (0, 0, 640)}, 'roi must be 4 non-negative integers'),
        ({'roi': (-1, 0, 640, 480)}, 'roi must be 4 non-negative integers'),
    ],
)
def test_bad_camera_info_raises_geometry_error_naming_the_field(
    kwargs: dict[str, object], match: str
) -> None:
    arguments: dict[str, object] = {'k': CAMERA_INFO_K, 'width': 640, 'height': 480}
    arguments.update(kwargs)
    with pytest.raises(GeometryError, match=match):
        CameraIntrinsics.from_camera_info(**arguments)  # type: ignore[arg-type]


def test_scaled_to_keeps_the_image_centre_and_scales_focal_lengths() -> None:
    half = K_VGA.scaled_to(320, 240)
    assert half == CameraIntrinsics(262.5, 260.0, 159.5, 119.5, 320, 240)
    assert K_VGA.scaled_to(640, 480) == K_VGA


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
    u=st.floats(-0.5, 1.0),
    v=st.floats(-0.5, 1.0),
)
def test_scaled_to_maps_pixel_centres_to_the_same_rays(
    width: int, height: int, u: float, v: float
) -> None:
    scaled = K_VGA.scaled_to(width, height)
    # A point at fraction (u, v) of the image, in pixel-edge units, lies at the same fraction.
    u_old, v_old = u * K_VGA.width - 0.5, v * K_VGA.height - 0.5
    u_new, v_new = u * width - 0.5, v * height - 0.5
    assert (u_new - scaled.cx) / scaled.fx == pytest.approx((u_old - K_VGA.cx) / K_VGA.fx)
    assert (v_new - scaled.cy) / scaled.fy == pytest.approx((v_old - K_VGA.cy) / K_VGA.fy)


@pytest.mark.parametrize('size', [(0, 480), (640, -1), (320.0, 240)], ids=str)
def test_scaled_to_rejects_bad_sizes(size: tuple[int, int]) -> None:
    with pytest.raises(GeometryError, match='must be a positive integer'):
        K_VGA.scaled_to(*size)


# ---------------------------------------------------------------------------------------------
# backproject


def test_backproject_hand_computed_point() -> None:
    depth = np.full((10, 16), 2.0, dtype=np.float32)
    points = backproject(depth, K_SMALL)
    # u = 9, v = 3: x = (9 - 7.3) / 40 * 2 = 0.085, y = (3 - 4.6) / 42 * 2 = -0.07619.
    np.testing.assert_allclose(points[3, 9], [0.085, -1.6 / 42 * 2, 2.0], rtol=1e-6)


def test_backproject_keeps_z_depth_not_ray_length() -> None:
    depth = np.random.default_rng(0).uniform(0.5, 5.0, size=(10, 16)).astype(np.float32)
    points = backproject(depth, K_SMALL)
    np.testing.assert_array_equal(points[..., 2], depth)
    assert np.all(np.linalg.norm(points, axis=-1) >= depth)


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf, 0.0, -1.0])
def test_backproject_invalid_depth_gives_nan_point(value: float) -> None:
    depth = np.full((10, 16), 1.5, dtype=np.float32)
    depth[4, 5] = value
    points = backproject(depth, K_SMALL)
    assert np.isnan(points[4, 5]).all()
    assert np.isfinite(np.delete(points.reshape(-1, 3), 4 * 16 + 5, axis=0)).all()


def test_backproject_is_differentiable_in_depth() -> None:
    depth = torch.rand(2, 10, 16, dtype=torch.float64) + 0.5
    depth.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda d: backproject(d, K_SMALL), (depth,))


@pytest.mark.parametrize('batch', [(), (2,), (2, 3)], ids=str)
def test_backproject_torch_batches_stay_on_device(
    batch: tuple[int, ...], device: torch.device
) -> None:
    depth = torch.rand(*batch, 10, 16, generator=torch.Generator().manual_seed(0)) + 0.5
    points = backproject(depth.to(device), K_SMALL)
    assert isinstance(points, torch.Tensor)
    assert points.shape == (*batch, 10, 16, 3) and points.dtype == torch.float32
    assert points.device.type == device.type
    single = backproject(depth.reshape(-1, 10, 16)[0].numpy(), K_SMALL)
    np.testing.assert_allclose(points.reshape(-1, 10, 16, 3)[0].cpu().numpy(), single)


@pytest.mark.parametrize(
    ('dtype', 'expected'),
    [(np.float16, np.float32), (np.float32, np.float32), (np.float64, np.float64)],
)
def test_backproject_numpy_dtypes(dtype: type[np.floating], expected: type[np.floating]) -> None:
    points = backproject(np.ones((10, 16), dtype=dtype), K_SMALL)
    assert isinstance(points, np.ndarray) and points.dtype == expected


@settings(max_examples=80, deadline=None)
@given(
    fx=st.floats(50.0, 2000.0),
    fy=st.floats(50.0, 2000.0),
    cx=st.floats(-10.0, 30.0),
    cy=st.floats(-10.0, 30.0),
    depth=st.lists(st.floats(0.05, 200.0), min_size=12, max_size=12),
)
def test_backproject_then_project_gives_back_the_pixel(
    fx: float, fy: float, cx: float, cy: float, depth: list[float]
) -> None:
    k = CameraIntrinsics(fx, fy, cx, cy, width=4, height=3)
    points = backproject(np.array(depth).reshape(3, 4), k)
    homogeneous = points @ k.matrix(dtype=torch.float64).numpy().T  # K @ p per pixel, (3, 4, 3)
    projected = homogeneous[..., :2] / homogeneous[..., 2:]
    v, u = np.mgrid[0:3, 0:4]
    np.testing.assert_allclose(projected, np.stack([u, v], axis=-1), atol=1e-9)
    np.testing.assert_allclose(points[..., 2], np.reshape(depth, (3, 4)))


@pytest.mark.parametrize(
    ('depth', 'match'),
    [
        (np.ones((10, 16), dtype=np.uint16), 'depth_m must have dtype'),
        (np.ones((16, 10), dtype=np.float32), r'depth_m must be \(\.\.\., 10, 16\)'),
        (np.ones((10, 16, 1), dtype=np.float32), r'depth_m must be \(\.\.\., 10, 16\)'),
        (np.ones((16,), dtype=np.float32), r'depth_m must be laid out'),
        (np.ones((0, 16), dtype=np.float32), 'depth_m is empty'),
        ([[1.0]], 'depth_m must be a numpy array or a torch tensor'),
    ],
    ids=['uint16', 'transposed', 'channel_axis', 'one_dim', 'empty', 'list'],
)
def test_bad_depth_raises_geometry_error_naming_the_argument(depth: object, match: str) -> None:
    with pytest.raises(GeometryError, match=match):
        backproject(depth, K_SMALL)  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match=match):
        normals_from_depth(depth, K_SMALL)  # type: ignore[arg-type]


def test_backproject_rejects_a_plain_k_matrix() -> None:
    k_matrix = K_SMALL.matrix()
    with pytest.raises(GeometryError, match='intrinsics must be a CameraIntrinsics'):
        backproject(np.ones((10, 16), dtype=np.float32), k_matrix)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# normals_from_depth


def test_fronto_parallel_wall_faces_the_camera() -> None:
    normals = normals_from_depth(np.full((480, 640), 2.5, dtype=np.float32), K_VGA)
    inner = normals[1:-1, 1:-1]
    assert np.isfinite(inner).all()
    assert _angle_deg(inner, [0.0, 0.0, -1.0]).max() < 0.5


def test_floor_plane_normal_points_up() -> None:
    # Floor 1.2 m below the camera: y = +1.2 (y down), normal facing the camera is (0, -1, 0).
    depth = _plane_depth(np.array([0.0, -1.0, 0.0]), 1.2, K_VGA).astype(np.float32)
    normals = normals_from_depth(depth, K_VGA)
    valid = np.isfinite(normals).all(-1)
    assert valid[260:-1, 1:-1].all() and not valid[:240].any()  # the floor is below the horizon
    assert _angle_deg(normals[valid], [0.0, -1.0, 0.0]).max() < 0.5


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_tilted_plane_gives_the_analytic_normal(dtype: type[np.floating]) -> None:
    normal = np.array([0.4, -0.3, -0.8])
    normal /= np.linalg.norm(normal)
    depth = _plane_depth(normal, 1.5, K_VGA).astype(dtype)
    normals = normals_from_depth(depth, K_VGA)
    valid = np.isfinite(normals).all(-1)
    assert valid[1:-1, 1:-1].all()
    assert _angle_deg(normals[valid], normal).max() < 0.5


@settings(max_examples=40, deadline=None)
@given(
    normal=st.tuples(st.floats(-0.6, 0.6), st.floats(-0.6, 0.6), st.floats(-1.0, -0.4)),
    offset=st.floats(0.1, 20.0),
)
def test_random_planes_give_unit_normals_facing_the_camera(
    normal: tuple[float, float, float], offset: float
) -> None:
    unit = np.array(normal) / np.linalg.norm(normal)
    depth = _plane_depth(unit, offset, K_SMALL)
    assume(np.isfinite(depth).all() and np.nanmax(depth) < 1e3)
    normals = normals_from_depth(depth.astype(np.float32), K_SMALL)
    inner = normals[1:-1, 1:-1]
    assert np.isfinite(inner).all()
    np.testing.assert_allclose(np.linalg.norm(inner, axis=-1), 1.0, atol=1e-5)
    points = backproject(depth, K_SMALL)[1:-1, 1:-1]
    assert np.all((inner * points).sum(-1) < 0)
    assert _angle_deg(inner, unit).max() < 0.5


def test_normals_are_nan_on_the_border_and_next_to_invalid_pixels() -> None:
    depth = np.full((10, 16), 3.0, dtype=np.float32)
    depth[5, 8] = math.nan
    normals = normals_from_depth(depth, K_SMALL)
    invalid = np.isnan(normals).any(-1)
    assert np.isnan(normals[invalid]).all()
    expected = np.zeros((10, 16), dtype=bool)
    expected[[0, -1], :] = expected[:, [0, -1]] = True
    expected[5, 7:10] = expected[4:7, 8] = True  # the hole and its 4 neighbours
    np.testing.assert_array_equal(invalid, expected)


def test_tiny_images_give_all_nan_normals() -> None:
    k = CameraIntrinsics(10.0, 10.0, 0.5, 0.5, width=2, height=2)
    normals = normals_from_depth(np.ones((2, 2), dtype=np.float32), k)
    assert normals.shape == (2, 2, 3) and np.isnan(normals).all()


@pytest.mark.parametrize('batch', [(), (3,), (2, 2)], ids=str)
def test_normals_torch_batches_stay_on_device(
    batch: tuple[int, ...], device: torch.device
) -> None:
    depth = torch.full((*batch, 10, 16), 2.0, device=device)
    normals = normals_from_depth(depth, K_SMALL)
    assert isinstance(normals, torch.Tensor)
    assert normals.shape == (*batch, 10, 16, 3) and normals.device.type == device.type
    inner = normals[..., 1:-1, 1:-1, :].cpu().numpy()
    assert _angle_deg(inner, [0.0, 0.0, -1.0]).max() < 0.5


# ---------------------------------------------------------------------------------------------
# OrganisedCloud and organised_cloud


def _full_cloud(height: int = 4, width: int = 6) -> OrganisedCloud:
    rng = np.random.default_rng(3)
    k = CameraIntrinsics(50.0, 50.0, (width - 1) / 2, (height - 1) / 2, width, height)
    depth = rng.uniform(0.5, 3.0, size=(height, width)).astype(np.float32)
    depth[1, 2] = math.nan
    return organised_cloud(
        depth,
        k,
        rgb=rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8),
        label=rng.integers(0, 20, size=(height, width)),
        instance=torch.arange(height * width, dtype=torch.int32).reshape(height, width) + 70000,
        normals=normals_from_depth(depth, k),
        confidence=torch.rand(height, width, dtype=torch.float64),
    )


def test_organised_cloud_converts_attributes_to_the_cloud_dtypes() -> None:
    cloud = _full_cloud()
    assert cloud.xyz.dtype == np.float32 and cloud.xyz.shape == (4, 6, 3)
    assert cloud.rgb is not None and cloud.rgb.dtype == np.uint8
    assert cloud.label is not None and cloud.label.dtype == np.uint32
    assert cloud.instance is not None and cloud.instance.dtype == np.uint32
    assert cloud.instance[0, 0] == 70000
    assert cloud.normals is not None and cloud.normals.dtype == np.float32
    assert cloud.confidence is not None and cloud.confidence.dtype == np.float32
    assert np.isnan(cloud.xyz[1, 2]).all() and cloud.valid.sum() == 23


def test_organised_cloud_with_depth_only_has_no_attributes() -> None:
    cloud = organised_cloud(torch.ones(10, 16), K_SMALL)
    assert isinstance(cloud.xyz, np.ndarray)
    assert cloud.rgb is cloud.label is cloud.instance is cloud.normals is cloud.confidence is None


def test_organised_cloud_copies_the_callers_arrays() -> None:
    rgb = np.zeros((10, 16, 3), dtype=np.uint8)
    cloud = organised_cloud(np.ones((10, 16), dtype=np.float32), K_SMALL, rgb=rgb)
    rgb[...] = 255
    assert cloud.rgb is not None and cloud.rgb.max() == 0


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'rgb': np.zeros((10, 16, 3), dtype=np.float32)}, 'rgb must be uint8'),
        ({'rgb': np.zeros((10, 16), dtype=np.uint8)}, r'rgb must have shape \(10, 16, 3\)'),
        ({'label': np.full((10, 16), -1)}, r'label ids must lie in \[0, 2\*\*32 - 1\]'),
        ({'label': np.full((10, 16), 2**32, dtype=np.int64)}, 'label ids must lie in'),
        ({'label': np.zeros((10, 16), dtype=np.float32)}, 'label must be integer ids'),
        ({'instance': np.zeros((10, 16), dtype=bool)}, 'instance must be integer ids'),
        ({'instance': np.zeros((16, 10), dtype=np.uint32)}, r'instance must have shape'),
        ({'normals': np.zeros((10, 16, 3), dtype=np.int32)}, 'normals must be floating'),
        ({'confidence': np.zeros((10, 16, 1), dtype=np.float32)}, 'confidence must have shape'),
    ],
)
def test_bad_cloud_attributes_raise_geometry_error_naming_them(
    kwargs: dict[str, np.ndarray], match: str
) -> None:
    with pytest.raises(GeometryError, match=match):
        organised_cloud(np.ones((10, 16), dtype=np.float32), K_SMALL, **kwargs)


def test_organised_cloud_rejects_a_batch_of_depth_images() -> None:
    with pytest.raises(GeometryError, match=r'one \(H, W\) image, got shape \(2, 10, 16\)'):
        organised_cloud(np.ones((2, 10, 16), dtype=np.float32), K_SMALL)


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'xyz': np.zeros((4, 6, 3), dtype=np.float64)}, r'xyz must be \(H, W, 3\) float32'),
        ({'xyz': np.zeros((4, 6), dtype=np.float32)}, r'xyz must be \(H, W, 3\) float32'),
        ({'xyz': np.zeros((0, 6, 3), dtype=np.float32)}, 'xyz is empty'),
        ({'xyz': torch.zeros(4, 6, 3)}, 'xyz must be a numpy array'),
        ({'label': np.zeros((4, 6), dtype=np.int32)}, r'label must be a \(4, 6\) .*uint32'),
        ({'rgb': np.zeros((4, 5, 3), dtype=np.uint8)}, r'rgb must be a \(4, 6, 3\)'),
        ({'confidence': [0.5]}, 'confidence must be .* got list'),
    ],
)
def test_organised_cloud_dataclass_validates_shapes_and_dtypes(
    kwargs: dict[str, object], match: str
) -> None:
    fields: dict[str, object] = {'xyz': np.zeros((4, 6, 3), dtype=np.float32)}
    fields.update(kwargs)
    with pytest.raises(GeometryError, match=match):
        OrganisedCloud(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# pack_pointcloud2

F32, U32 = int(PointFieldDatatype.FLOAT32), int(PointFieldDatatype.UINT32)


def test_point_field_datatypes_match_sensor_msgs() -> None:
    assert [(d.name, int(d)) for d in PointFieldDatatype] == [
        ('INT8', 1),
        ('UINT8', 2),
        ('INT16', 3),
        ('UINT16', 4),
        ('INT32', 5),
        ('UINT32', 6),
        ('FLOAT32', 7),
        ('FLOAT64', 8),
    ]


def test_full_cloud_field_table() -> None:
    packed = pack_pointcloud2(_full_cloud())
    assert packed.fields == [
        ('x', 0, F32, 1),
        ('y', 4, F32, 1),
        ('z', 8, F32, 1),
        ('rgb', 12, F32, 1),
        ('label', 16, U32, 1),
        ('instance', 20, U32, 1),
        ('normal_x', 24, F32, 1),
        ('normal_y', 28, F32, 1),
        ('normal_z', 32, F32, 1),
        ('confidence', 36, F32, 1),
    ]
    assert (packed.height, packed.width, packed.point_step, packed.row_step) == (4, 6, 40, 240)
    assert packed.is_dense is False and packed.is_bigendian is False
    assert len(packed.to_bytes()) == packed.height * packed.row_step


def test_missing_attributes_are_omitted_and_offsets_stay_packed() -> None:
    cloud = organised_cloud(
        np.ones((10, 16), dtype=np.float32), K_SMALL, label=np.ones((10, 16), dtype=np.uint8)
    )
    packed = pack_pointcloud2(cloud)
    assert packed.fields == [
        ('x', 0, F32, 1),
        ('y', 4, F32, 1),
        ('z', 8, F32, 1),
        ('label', 12, U32, 1),
    ]
    assert packed.point_step == 16 and packed.row_step == 16 * 16


def test_packed_cloud_is_organised_row_major_without_transposition() -> None:
    cloud = _full_cloud(height=4, width=6)
    packed = pack_pointcloud2(cloud)
    assert packed.data.shape == (4, 6)
    raw = np.frombuffer(packed.to_bytes(), dtype=np.uint8).reshape(4, 6, 40)
    xyz = raw[..., 0:12].copy().view('<f4')  # (4, 6, 3)
    np.testing.assert_array_equal(xyz, cloud.xyz)  # NaN positions compare equal too


def test_rgb_is_pcl_packed_bytes_b_g_r_zero() -> None:
    rgb = np.array([[[0x12, 0x34, 0x56], [255, 0, 128]]], dtype=np.uint8)  # (1, 2, 3)
    k = CameraIntrinsics(10.0, 10.0, 0.5, 0.0, width=2, height=1)
    packed = pack_pointcloud2(organised_cloud(np.ones((1, 2), dtype=np.float32), k, rgb=rgb))
    raw = np.frombuffer(packed.to_bytes(), dtype=np.uint8).reshape(1, 2, packed.point_step)
    assert raw[0, 0, 12:16].tolist() == [0x56, 0x34, 0x12, 0]
    assert raw[0, 1, 12:16].tolist() == [128, 0, 255, 0]
    assert packed.data['rgb'].view('<u4').tolist() == [[0x00123456, 0x00FF0080]]


def test_every_packed_field_holds_the_clouds_bits() -> None:
    cloud = _full_cloud(height=7, width=5)
    packed = pack_pointcloud2(cloud)
    assert cloud.rgb is not None and cloud.normals is not None
    r, g, b = (cloud.rgb[..., c].astype(np.uint32) for c in range(3))
    expected = {
        'x': cloud.xyz[..., 0].view('<u4'),
        'y': cloud.xyz[..., 1].view('<u4'),
        'z': cloud.xyz[..., 2].view('<u4'),
        'rgb': (r << 16) | (g << 8) | b,
        'label': cloud.label,
        'instance': cloud.instance,
        'normal_x': cloud.normals[..., 0].view('<u4'),
        'normal_y': cloud.normals[..., 1].view('<u4'),
        'normal_z': cloud.normals[..., 2].view('<u4'),
        'confidence': cloud.confidence.view('<u4') if cloud.confidence is not None else None,
    }
    raw = np.frombuffer(packed.to_bytes(), dtype=np.uint8).reshape(7, 5, packed.point_step)
    for name, offset, _, _ in packed.fields:
        end = offset + 4
        bits = np.ascontiguousarray(raw[..., offset:end]).view('<u4')[..., 0]
        np.testing.assert_array_equal(bits, expected[name], err_msg=name)  # NaN bits too


def test_pack_rejects_anything_but_an_organised_cloud() -> None:
    with pytest.raises(GeometryError, match='cloud must be an OrganisedCloud, got ndarray'):
        pack_pointcloud2(np.zeros((4, 6, 3), dtype=np.float32))  # type: ignore[arg-type]


_NUMPY_OF_DATATYPE = {1: 'i1', 2: 'u1', 3: '<i2', 4: '<u2', 5: '<i4', 6: '<u4', 7: '<f4', 8: '<f8'}


def _read_field(msg: object, name: str) -> np.ndarray:
    """Read one field of a PointCloud2 message from its bytes alone (not our dtype)."""
    (field,) = [f for f in msg.fields if f.name == name]  # type: ignore[attr-defined]
    dtype = np.dtype(_NUMPY_OF_DATATYPE[field.datatype])
    raw = np.frombuffer(bytes(msg.data), dtype=np.uint8)  # type: ignore[attr-defined]
    raw = raw.reshape(msg.height, msg.width, msg.point_step)  # type: ignore[attr-defined]
    start, stop = field.offset, field.offset + dtype.itemsize * field.count
    window = np.ascontiguousarray(raw[..., start:stop])
    return window.view(dtype).reshape(*raw.shape[:2], field.count)


def test_packed_cloud_survives_a_real_pointcloud2_cdr_round_trip() -> None:
    typesys = pytest.importorskip('rosbags.typesys', reason='rosbags is not installed')
    typestore = typesys.get_typestore(typesys.Stores.ROS2_JAZZY)
    types = typestore.types
    cloud = _full_cloud(height=4, width=6)
    packed = pack_pointcloud2(cloud)
    msgtype = 'sensor_msgs/msg/PointCloud2'
    msg = types[msgtype](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=5, nanosec=6),
            frame_id='camera_color_optical_frame',
        ),
        height=packed.height,
        width=packed.width,
        fields=[
            types['sensor_msgs/msg/PointField'](name=n, offset=o, datatype=d, count=c)
            for n, o, d, c in packed.fields
        ],
        is_bigendian=packed.is_bigendian,
        point_step=packed.point_step,
        row_step=packed.row_step,
        data=np.frombuffer(packed.to_bytes(), dtype=np.uint8),
        is_dense=packed.is_dense,
    )
    back = typestore.deserialize_cdr(typestore.serialize_cdr(msg, msgtype), msgtype)
    assert (back.height, back.width, back.point_step, back.row_step) == (4, 6, 40, 240)
    assert back.is_dense is False and back.is_bigendian is False
    assert back.header.frame_id == 'camera_color_optical_frame'
    assert types['sensor_msgs/msg/PointField'].FLOAT32 == F32
    xyz = np.concatenate([_read_field(back, axis) for axis in 'xyz'], axis=-1)
    np.testing.assert_array_equal(xyz, cloud.xyz)
    assert np.isnan(xyz[1, 2]).all() and np.isfinite(np.delete(xyz.reshape(-1, 3), 8, 0)).all()
    rgb_bits = _read_field(back, 'rgb').view('<u4')[..., 0]  # the float32 field's raw bits
    assert cloud.rgb is not None
    np.testing.assert_array_equal((rgb_bits >> 16) & 0xFF, cloud.rgb[..., 0])
    np.testing.assert_array_equal((rgb_bits >> 8) & 0xFF, cloud.rgb[..., 1])
    np.testing.assert_array_equal(rgb_bits & 0xFF, cloud.rgb[..., 2])
    assert np.all(rgb_bits >> 24 == 0)
    np.testing.assert_array_equal(_read_field(back, 'label')[..., 0], cloud.label)
    np.testing.assert_array_equal(_read_field(back, 'instance')[..., 0], cloud.instance)
    normals = np.concatenate([_read_field(back, f'normal_{a}') for a in 'xyz'], axis=-1)
    np.testing.assert_array_equal(normals, cloud.normals)
    np.testing.assert_array_equal(_read_field(back, 'confidence')[..., 0], cloud.confidence)


# ---------------------------------------------------------------------------------------------
# save_cloud


@pytest.mark.parametrize('suffix', ['.ply', '.pcd', '.PLY'])
def test_save_cloud_writes_valid_points_that_open3d_reads_back(
    tmp_path: Path, suffix: str
) -> None:
    open3d = pytest.importorskip('open3d', reason='open3d is not installed (pip install open3d)')
    cloud = _full_cloud(height=4, width=6)
    path = tmp_path / f'cloud{suffix}'
    assert save_cloud(path, cloud) == 23
    read = open3d.t.io.read_point_cloud(str(path))
    valid = cloud.valid
    assert cloud.rgb is not None and cloud.label is not None and cloud.instance is not None
    assert cloud.normals is not None and cloud.confidence is not None
    positions = read.point.positions.numpy()
    assert positions.shape == (23, 3)
    np.testing.assert_array_equal(positions, cloud.xyz[valid])
    colours = read.point.colors.numpy()
    if colours.dtype == np.uint8:  # PCD stores 8-bit colour
        np.testing.assert_array_equal(colours, cloud.rgb[valid])
    else:  # PLY keeps float [0, 1]
        np.testing.assert_allclose(colours * 255.0, cloud.rgb[valid], atol=1e-3)
    np.testing.assert_array_equal(read.point.normals.numpy(), cloud.normals[valid])
    np.testing.assert_array_equal(read.point.label.numpy()[:, 0], cloud.label[valid])
    np.testing.assert_array_equal(read.point.instance.numpy()[:, 0], cloud.instance[valid])
    np.testing.assert_array_equal(read.point.confidence.numpy()[:, 0], cloud.confidence[valid])


def test_save_cloud_with_xyz_only(tmp_path: Path) -> None:
    open3d = pytest.importorskip('open3d', reason='open3d is not installed (pip install open3d)')
    cloud = organised_cloud(np.full((10, 16), 2.0, dtype=np.float32), K_SMALL)
    assert save_cloud(str(tmp_path / 'plain.pcd'), cloud) == 160
    read = open3d.t.io.read_point_cloud(str(tmp_path / 'plain.pcd'))
    np.testing.assert_array_equal(read.point.positions.numpy(), cloud.xyz.reshape(-1, 3))


def test_save_cloud_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(
        GeometryError, match=r"path must end in \.ply or \.pcd, got '.*cloud\.xyz'"
    ):
        save_cloud(tmp_path / 'cloud.xyz', _full_cloud())


def test_save_cloud_rejects_a_cloud_without_valid_points(tmp_path: Path) -> None:
    cloud = organised_cloud(np.full((10, 16), math.nan, dtype=np.float32), K_SMALL)
    with pytest.raises(GeometryError, match='no valid point'):
        save_cloud(tmp_path / 'empty.ply', cloud)


def test_save_cloud_refuses_ids_that_ply_int32_cannot_hold(tmp_path: Path) -> None:
    label = np.full((10, 16), 2**31, dtype=np.uint32)
    cloud = organised_cloud(np.ones((10, 16), dtype=np.float32), K_SMALL, label=label)
    with pytest.raises(GeometryError, match='label ids up to 2147483648 do not fit PLY int32'):
        save_cloud(tmp_path / 'big.ply', cloud)
    pytest.importorskip('open3d', reason='open3d is not installed (pip install open3d)')
    assert save_cloud(tmp_path / 'big.pcd', cloud) == 160  # PCD has uint32
