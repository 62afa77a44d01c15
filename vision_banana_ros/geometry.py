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
Pinhole intrinsics, back-projection, normals from depth, and organised labelled point clouds.

Everything is in the REP 103 optical frame (x right, y down, z forward), metres, with depth as
z-depth along the optical axis (never ray length). Pixel (u, v) = (column, row) has its centre at
integer coordinates, as in ROS and OpenCV, so resizing by ``s`` maps ``u -> (u + 0.5) * s - 0.5``.

Clouds stay organised (H rows by W columns, NaN x/y/z where depth is invalid, ROS_NOTES §2.3):
``organised_cloud`` builds one, ``pack_pointcloud2`` lays it out byte for byte as a
sensor_msgs/PointCloud2 body (no rclpy), ``save_cloud`` writes PLY or PCD through open3d.
"""

from __future__ import annotations

from dataclasses import dataclass
import enum
import math
import numbers
import os
from pathlib import Path
from typing import TypeAlias

import numpy as np
import torch
from vision_banana_ros.tensors import ArrayLike, as_tensor, check_image, like

__all__ = [
    'CameraIntrinsics',
    'GeometryError',
    'OrganisedCloud',
    'PackedCloud',
    'PointFieldDatatype',
    'PointFieldSpec',
    'backproject',
    'normals_from_depth',
    'organised_cloud',
    'pack_pointcloud2',
    'save_cloud',
]


class GeometryError(ValueError):
    """An argument to a geometry function has the wrong type, shape, dtype or value."""


class PointFieldDatatype(enum.IntEnum):
    """The ``datatype`` constants of sensor_msgs/PointField."""

    INT8 = 1
    UINT8 = 2
    INT16 = 3
    UINT16 = 4
    INT32 = 5
    UINT32 = 6
    FLOAT32 = 7
    FLOAT64 = 8


PointFieldSpec: TypeAlias = tuple[str, int, int, int]
"""One sensor_msgs/PointField as ``(name, offset, datatype, count)``; offset in bytes."""


# ---------------------------------------------------------------------------------------------
# Intrinsics


@dataclass(frozen=True)
class CameraIntrinsics:
    """
    Pinhole intrinsics of one image size; no distortion (use rectified images).

    :ivar fx: focal length along x (columns), pixels, finite and > 0.
    :ivar fy: focal length along y (rows), pixels, finite and > 0.
    :ivar cx: principal point column, pixels (pixel centres at integers), finite.
    :ivar cy: principal point row, pixels, finite.
    :ivar width: image width W in pixels, > 0.
    :ivar height: image height H in pixels, > 0.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ('fx', 'fy', 'cx', 'cy'):
            value = getattr(self, name)
            if not _is_real(value):
                raise GeometryError(f'{name} must be a real number of pixels, got {value!r}')
            if not math.isfinite(value):
                raise GeometryError(f'{name} must be finite, got {value}')
            object.__setattr__(self, name, float(value))
        for name in ('fx', 'fy'):
            if getattr(self, name) <= 0.0:
                raise GeometryError(
                    f'{name} must be a positive focal length in pixels, got {getattr(self, name)}'
                )
        for name in ('width', 'height'):
            value = getattr(self, name)
            pixels = _as_int(value)
            if pixels is None or pixels <= 0:
                raise GeometryError(f'{name} must be a positive integer of pixels, got {value!r}')
            object.__setattr__(self, name, pixels)

    @classmethod
    def from_camera_info(
        cls,
        k: object,
        width: int,
        height: int,
        binning_x: int = 0,
        binning_y: int = 0,
        roi: tuple[int, int, int, int] | None = None,
    ) -> CameraIntrinsics:
        """
        Intrinsics of the image a camera actually publishes, from sensor_msgs/CameraInfo fields.

        CameraInfo's ``k``, ``width`` and ``height`` describe the full-resolution calibration; the
        published image is the ``roi`` window of it, then binned. The window shifts the principal
        point; binning by ``b`` scales pixel centres, ``cx' = (cx - x_offset + 0.5) / b - 0.5``
        and ``fx' = fx / b``. (image_geometry uses ``(cx - x_offset) / b``, which is off by
        ``(b - 1) / (2 b)`` pixels.) Sizes are floored: ``width' = roi_width // b``.

        ``k`` is the raw (distorted) image's matrix. For a rectified image (``image_rect``) pass
        the left 3x3 of P instead: ``[p[0], p[1], p[2], p[4], p[5], p[6], p[8], p[9], p[10]]``.

        Example: ``CameraIntrinsics.from_camera_info(msg.k, msg.width, msg.height,
        msg.binning_x, msg.binning_y, (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width,
        msg.roi.height))``.

        :param k: the 9 numbers of CameraInfo.k, row-major (a sequence or a (9,) / (3, 3) array).
        :param width: CameraInfo.width, calibrated full image width in pixels.
        :param height: CameraInfo.height, calibrated full image height in pixels.
        :param binning_x: CameraInfo.binning_x; 0 and 1 both mean no binning.
        :param binning_y: CameraInfo.binning_y; 0 and 1 both mean no binning.
        :param roi: (x_offset, y_offset, width, height) in full-resolution pixels; None or a
            zero size (0, 0, 0, 0) means the full image.
        :return: the intrinsics of the published (windowed, binned) image.
        :raises GeometryError: on a K that is not 9 finite numbers of the form
            [fx 0 cx; 0 fy cy; 0 0 1] with fx, fy > 0 (all zeros means uncalibrated), or on a
            binning or ROI that does not fit the image.
        """
        entries = _camera_info_k(k)
        full = cls(entries[0], entries[4], entries[2], entries[5], width, height)
        bx, by = _binning(binning_x, 'binning_x'), _binning(binning_y, 'binning_y')
        x_off, y_off, roi_w, roi_h = _roi(roi, full.width, full.height)
        if roi_w < bx or roi_h < by:
            raise GeometryError(
                f'binning ({bx}, {by}) leaves no pixels of the {roi_w}x{roi_h} image (roi {roi})'
            )
        return _resampled(
            full.fx,
            full.fy,
            full.cx - x_off,
            full.cy - y_off,
            scale_x=1.0 / bx,
            scale_y=1.0 / by,
            width=roi_w // bx,
            height=roi_h // by,
        )

    def scaled_to(self, width: int, height: int) -> CameraIntrinsics:
        """
        Intrinsics of this image resized (whole, no crop) to ``width`` x ``height``.

        With ``s = width / self.width``: ``fx' = fx * s`` and ``cx' = (cx + 0.5) * s - 0.5``
        (pixel centres, not corners, stay put); likewise for y with ``height``.

        :param width: new width in pixels, > 0.
        :param height: new height in pixels, > 0.
        :return: the intrinsics for the resized image.
        :raises GeometryError: on a non-positive or non-integer size.
        """
        for name, value in (('width', width), ('height', height)):
            pixels = _as_int(value)
            if pixels is None or pixels <= 0:
                raise GeometryError(f'{name} must be a positive integer of pixels, got {value!r}')
        return _resampled(
            self.fx,
            self.fy,
            self.cx,
            self.cy,
            scale_x=int(width) / self.width,
            scale_y=int(height) / self.height,
            width=int(width),
            height=int(height),
        )

    def matrix(
        self, device: torch.device | str = 'cpu', dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """
        Build the 3x3 pinhole matrix K = [fx 0 cx; 0 fy cy; 0 0 1].

        :param device: where the tensor lives.
        :param dtype: its floating dtype.
        :return: (3, 3) tensor in pixels.
        """
        return torch.tensor(
            [[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]],
            dtype=dtype,
            device=device,
        )


def _resampled(
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    *,
    scale_x: float,
    scale_y: float,
    width: int,
    height: int,
) -> CameraIntrinsics:
    """Scale intrinsics by the pixel-centre rule ``u' = (u + 0.5) * s - 0.5``."""
    return CameraIntrinsics(
        fx=fx * scale_x,
        fy=fy * scale_y,
        cx=(cx + 0.5) * scale_x - 0.5,
        cy=(cy + 0.5) * scale_y - 0.5,
        width=width,
        height=height,
    )


_K_NAMES = (
    'fx',
    'skew',
    'cx',
    'row 1 col 0',
    'fy',
    'cy',
    'row 2 col 0',
    'row 2 col 1',
    'row 2 col 2',
)


def _camera_info_k(k: object) -> list[float]:
    """Check CameraInfo.k: 9 finite numbers [fx 0 cx 0 fy cy 0 0 1] with fx, fy > 0."""
    try:
        entries = np.asarray(k, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise GeometryError(f'k must be 9 numbers (CameraInfo.k, row-major), got {k!r}') from err
    if entries.shape != (9,):
        raise GeometryError(f'k must hold 9 numbers (CameraInfo.k), got {entries.size}: {k!r}')
    for index, (value, role) in enumerate(zip(entries.tolist(), _K_NAMES, strict=True)):
        if not math.isfinite(value):
            raise GeometryError(f'k[{index}] ({role}) must be finite, got {value}')
    if not entries.any():
        raise GeometryError('k is all zeros: the camera is uncalibrated (CameraInfo.k)')
    for index in (0, 4):
        if entries[index] <= 0.0:
            raise GeometryError(
                f'k[{index}] ({_K_NAMES[index]}) must be a positive focal length in pixels, '
                f'got {entries[index]}'
            )
    for index, expected in ((1, 0.0), (3, 0.0), (6, 0.0), (7, 0.0), (8, 1.0)):
        if entries[index] != expected:
            raise GeometryError(
                f'k[{index}] ({_K_NAMES[index]}) must be {expected} for a pinhole K '
                f'[fx 0 cx; 0 fy cy; 0 0 1], got {entries[index]}'
            )
    return [float(value) for value in entries]


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _as_int(value: object) -> int | None:
    """Return ``value`` as an int if it is an integer (numpy's too, bool excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def _binning(value: object, name: str) -> int:
    factor = _as_int(value)
    if factor is None or factor < 0:
        raise GeometryError(f'{name} must be a non-negative integer (0 = 1 = none), got {value!r}')
    return max(1, factor)


def _roi(
    roi: tuple[int, int, int, int] | None, width: int, height: int
) -> tuple[int, int, int, int]:
    """Check a CameraInfo ROI against the full image; (0, 0, 0, 0) or None is the full image."""
    if roi is None:
        return 0, 0, width, height
    values = [_as_int(v) for v in roi]
    if len(values) != 4 or any(v is None or v < 0 for v in values):
        raise GeometryError(
            f'roi must be 4 non-negative integers (x_offset, y_offset, width, height), got {roi!r}'
        )
    x_off, y_off, roi_w, roi_h = (int(v or 0) for v in values)
    if roi_w == 0 and roi_h == 0:
        if x_off or y_off:
            raise GeometryError(f'roi with zero size must have zero offsets, got {roi!r}')
        return 0, 0, width, height
    if roi_w == 0 or roi_h == 0 or x_off + roi_w > width or y_off + roi_h > height:
        raise GeometryError(
            f'roi {roi!r} (x_offset, y_offset, width, height) must lie inside the '
            f'{width}x{height} image with a non-zero size'
        )
    return x_off, y_off, roi_w, roi_h


# ---------------------------------------------------------------------------------------------
# Back-projection and normals


def backproject(depth_m: ArrayLike, intrinsics: CameraIntrinsics) -> ArrayLike:
    """
    Lift z-depth to 3D points in the camera optical frame.

    ``x = (u - cx) / fx * z``, ``y = (v - cy) / fy * z`` for column u and row v.

    :param depth_m: (..., H, W) floating z-depth in metres; NaN, +-inf and <= 0 are invalid.
    :param intrinsics: intrinsics of this H x W image.
    :return: (..., H, W, 3) points [x right, y down, z forward] in metres, NaN (all three) where
        depth is invalid; float32 (float64 for float64 depth), same kind and device as
        ``depth_m``.
    :raises GeometryError: on a non-floating or empty depth, or a size that is not the
        intrinsics' H x W.
    """
    depth = _check_depth(depth_m, intrinsics)
    return like(_backproject(depth, intrinsics), depth_m)


def normals_from_depth(depth_m: ArrayLike, intrinsics: CameraIntrinsics) -> ArrayLike:
    """
    Estimate unit surface normals from z-depth by central differences of the 3D points.

    ``n = (P[v, u+1] - P[v, u-1]) x (P[v+1, u] - P[v-1, u])``, normalised and flipped to face
    the camera (``n . P[v, u] < 0``). Exact for planes. No one-sided differences: the result is
    NaN on the 1-pixel image border, at invalid pixels and next to them (any of the 4
    neighbours invalid), and where the surface is seen exactly edge-on. Central differences
    straddle depth edges, so normals on silhouettes are not meaningful.

    :param depth_m: (..., H, W) floating z-depth in metres; NaN, +-inf and <= 0 are invalid.
    :param intrinsics: intrinsics of this H x W image.
    :return: (..., H, W, 3) unit normals in the optical frame, NaN where undefined; float32
        (float64 for float64 depth), same kind and device as ``depth_m``.
    :raises GeometryError: on a non-floating or empty depth, or a size that is not the
        intrinsics' H x W.
    """
    depth = _check_depth(depth_m, intrinsics)
    points = _backproject(depth, intrinsics)  # (..., H, W, 3)
    centre = points[..., 1:-1, 1:-1, :]  # (..., H-2, W-2, 3)
    along_u = points[..., 1:-1, 2:, :] - points[..., 1:-1, :-2, :]
    along_v = points[..., 2:, 1:-1, :] - points[..., :-2, 1:-1, :]
    normal = torch.linalg.cross(along_u, along_v, dim=-1)  # (..., H-2, W-2, 3)
    facing = (normal * centre).sum(dim=-1, keepdim=True)  # < 0: faces the camera
    length = torch.linalg.vector_norm(normal, dim=-1, keepdim=True)
    finite = torch.isfinite(normal).all(dim=-1, keepdim=True)  # the 4 neighbours are valid
    valid = finite & torch.isfinite(centre).all(dim=-1, keepdim=True) & (length > 0)
    valid &= facing != 0  # a surface seen exactly edge-on cannot face the camera
    normal = torch.where(facing > 0, -normal, normal) / length
    out = torch.full_like(points, math.nan)
    out[..., 1:-1, 1:-1, :] = torch.where(valid, normal, math.nan)
    return like(out, depth_m)


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_depth(depth_m: object, intrinsics: object) -> torch.Tensor:
    if not isinstance(intrinsics, CameraIntrinsics):
        raise GeometryError(
            f'intrinsics must be a CameraIntrinsics, got {type(intrinsics).__name__}'
        )
    depth = as_tensor(depth_m, 'depth_m', error=GeometryError)
    check_image(depth, 'depth_m', channels=None, dtypes=_FLOATS, error=GeometryError)
    if tuple(depth.shape[-2:]) != (intrinsics.height, intrinsics.width):
        raise GeometryError(
            f'depth_m must be (..., {intrinsics.height}, {intrinsics.width}) to match the '
            f'intrinsics (height, width), got shape {tuple(depth.shape)}'
        )
    return depth


def _backproject(depth: torch.Tensor, intrinsics: CameraIntrinsics) -> torch.Tensor:
    """Back-project a checked (..., H, W) depth tensor to (..., H, W, 3) points."""
    dtype = torch.float64 if depth.dtype == torch.float64 else torch.float32
    z = depth.to(dtype)
    z = torch.where((z > 0) & (z < math.inf), z, math.nan)  # (..., H, W); NaN fails both
    rows = torch.arange(intrinsics.height, dtype=dtype, device=depth.device)
    cols = torch.arange(intrinsics.width, dtype=dtype, device=depth.device)
    x_per_z = (cols - intrinsics.cx) / intrinsics.fx  # (W,)
    y_per_z = ((rows - intrinsics.cy) / intrinsics.fy).unsqueeze(-1)  # (H, 1)
    # Filled channel by channel: stacking along a last axis of 3 is slow on the CPU.
    points = z.new_empty((*z.shape, 3))  # (..., H, W, 3)
    points[..., 0] = x_per_z * z
    points[..., 1] = y_per_z * z
    points[..., 2] = z
    return points


# ---------------------------------------------------------------------------------------------
# Organised clouds


@dataclass(frozen=True, eq=False)
class OrganisedCloud:
    """
    One organised point cloud: per-pixel arrays of one H x W image, all numpy.

    :ivar xyz: (H, W, 3) float32 points in the optical frame, metres, NaN where invalid.
    :ivar rgb: (H, W, 3) uint8 colour, or None.
    :ivar label: (H, W) uint32 semantic class id, or None.
    :ivar instance: (H, W) uint32 instance id, or None.
    :ivar normals: (H, W, 3) float32 unit normals in the optical frame (NaN invalid), or None.
    :ivar confidence: (H, W) float32 in [0, 1], or None.
    """

    xyz: np.ndarray
    rgb: np.ndarray | None = None
    label: np.ndarray | None = None
    instance: np.ndarray | None = None
    normals: np.ndarray | None = None
    confidence: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.xyz, np.ndarray):
            raise GeometryError(f'xyz must be a numpy array, got {type(self.xyz).__name__}')
        if self.xyz.dtype != np.float32 or self.xyz.ndim != 3 or self.xyz.shape[-1] != 3:
            raise GeometryError(
                f'xyz must be (H, W, 3) float32, got {self.xyz.shape} {self.xyz.dtype}'
            )
        if 0 in self.xyz.shape:
            raise GeometryError(f'xyz is empty (shape {self.xyz.shape})')
        size = self.xyz.shape[:2]
        for name, channels, dtype in _CLOUD_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            shape = (*size, channels) if channels else size
            if not isinstance(value, np.ndarray) or value.dtype != dtype or value.shape != shape:
                got = (
                    f'{value.shape} {value.dtype}'
                    if isinstance(value, np.ndarray)
                    else type(value).__name__
                )
                raise GeometryError(f'{name} must be a {shape} {dtype} numpy array, got {got}')

    @property
    def valid(self) -> np.ndarray:
        """(H, W) bool, True where all of x, y, z are finite."""
        valid: np.ndarray = np.isfinite(self.xyz).all(axis=-1)
        return valid


_CLOUD_FIELDS: tuple[tuple[str, int, type[np.generic]], ...] = (
    ('rgb', 3, np.uint8),
    ('label', 0, np.uint32),
    ('instance', 0, np.uint32),
    ('normals', 3, np.float32),
    ('confidence', 0, np.float32),
)


def organised_cloud(
    depth_m: ArrayLike,
    intrinsics: CameraIntrinsics,
    rgb: ArrayLike | None = None,
    label: ArrayLike | None = None,
    instance: ArrayLike | None = None,
    normals: ArrayLike | None = None,
    confidence: ArrayLike | None = None,
) -> OrganisedCloud:
    """
    Back-project one depth image and attach per-pixel attributes.

    :param depth_m: (H, W) floating z-depth in metres; NaN, +-inf and <= 0 give NaN points.
    :param intrinsics: intrinsics of this H x W image.
    :param rgb: (H, W, 3) uint8 colour, or None.
    :param label: (H, W) integer class ids in [0, 2**32 - 1], or None.
    :param instance: (H, W) integer instance ids in [0, 2**32 - 1], or None.
    :param normals: (H, W, 3) floating unit normals in the optical frame, or None.
    :param confidence: (H, W) floating confidence, or None.
    :return: an ``OrganisedCloud`` of numpy arrays (torch inputs are copied to the CPU).
    :raises GeometryError: on batched or mis-sized inputs, wrong dtypes, or ids out of range.
    """
    depth = _check_depth(depth_m, intrinsics)
    if depth.dim() != 2:
        raise GeometryError(f'depth_m must be one (H, W) image, got shape {tuple(depth.shape)}')
    xyz = _backproject(depth, intrinsics).to(torch.float32).detach().cpu().numpy()
    size = xyz.shape[:2]
    return OrganisedCloud(
        xyz=xyz,
        rgb=None if rgb is None else _attribute(rgb, 'rgb', size, 3, 'uint8'),
        label=None if label is None else _attribute(label, 'label', size, 0, 'id'),
        instance=None if instance is None else _attribute(instance, 'instance', size, 0, 'id'),
        normals=None if normals is None else _attribute(normals, 'normals', size, 3, 'float'),
        confidence=(
            None if confidence is None else _attribute(confidence, 'confidence', size, 0, 'float')
        ),
    )


def _attribute(
    value: object, name: str, size: tuple[int, ...], channels: int, kind: str
) -> np.ndarray:
    """
    Check one per-pixel attribute and copy it into the cloud's numpy dtype.

    :param value: the caller's array or tensor.
    :param name: the argument's name, used in error messages.
    :param size: (H, W) of the cloud.
    :param channels: required last-axis size, or 0 for an (H, W) attribute.
    :param kind: 'uint8' (colour), 'float' (to float32) or 'id' (integers to uint32).
    :return: a new C-contiguous numpy array, not sharing memory with ``value``.
    """
    tensor = as_tensor(value, name, error=GeometryError).detach().cpu()
    shape = (*size, channels) if channels else tuple(size)
    if tuple(tensor.shape) != shape:
        raise GeometryError(f'{name} must have shape {shape}, got {tuple(tensor.shape)}')
    dtype_name = str(tensor.dtype).removeprefix('torch.')
    if kind == 'uint8':
        if tensor.dtype != torch.uint8:
            raise GeometryError(f'{name} must be uint8 (0-255 per channel), got {dtype_name}')
        return np.array(tensor.numpy(), copy=True)
    if kind == 'float':
        if not tensor.is_floating_point():
            raise GeometryError(f'{name} must be floating point, got {dtype_name}')
        return np.array(tensor.to(torch.float32).numpy(), copy=True)
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise GeometryError(f'{name} must be integer ids, got {dtype_name}')
    array = tensor.numpy()
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > np.iinfo(np.uint32).max:
        raise GeometryError(f'{name} ids must lie in [0, 2**32 - 1], got [{low}, {high}]')
    return np.array(array, dtype=np.uint32, copy=True)


# ---------------------------------------------------------------------------------------------
# sensor_msgs/PointCloud2


@dataclass(frozen=True, eq=False)
class PackedCloud:
    """
    The body of a sensor_msgs/PointCloud2 for one organised cloud (header left to the caller).

    :ivar data: (height, width) little-endian numpy structured array, one record per pixel,
        fields at the offsets of ``fields``; ``data.tobytes()`` is the message's ``data``.
    :ivar fields: the PointFields, in offset order.
    :ivar height: rows H (organised: the image height).
    :ivar width: columns W.
    :ivar point_step: bytes per point.
    :ivar row_step: bytes per row, ``width * point_step``.
    :ivar is_dense: always False (invalid points are kept as NaN x/y/z).
    :ivar is_bigendian: always False.
    """

    data: np.ndarray
    fields: list[PointFieldSpec]
    height: int
    width: int
    point_step: int
    row_step: int
    is_dense: bool = False
    is_bigendian: bool = False

    def to_bytes(self) -> bytes:
        """
        Serialise the points as the message's ``data``.

        :return: ``height * row_step`` bytes, rows top to bottom.
        """
        return self.data.tobytes(order='C')


_F32 = PointFieldDatatype.FLOAT32
_U32 = PointFieldDatatype.UINT32
_NUMPY_OF_DATATYPE = {_F32: '<f4', _U32: '<u4'}
_POINT_FIELDS: tuple[tuple[str, str | None, PointFieldDatatype], ...] = (
    # (PointField name, OrganisedCloud attribute it needs (None: always), datatype)
    ('x', None, _F32),
    ('y', None, _F32),
    ('z', None, _F32),
    ('rgb', 'rgb', _F32),  # PCL's packed colour: uint32 0x00RRGGBB read as float32
    ('label', 'label', _U32),
    ('instance', 'instance', _U32),
    ('normal_x', 'normals', _F32),
    ('normal_y', 'normals', _F32),
    ('normal_z', 'normals', _F32),
    ('confidence', 'confidence', _F32),
)


def pack_pointcloud2(cloud: OrganisedCloud) -> PackedCloud:
    """
    Lay an organised cloud out as a sensor_msgs/PointCloud2 body, as ROS tools read it.

    Fields, 4 bytes each, packed in this order and omitted when the cloud lacks them: x y z
    (float32), rgb (PCL packed float: the uint32 0x00RRGGBB viewed as float32, bytes B G R 0),
    label, instance (uint32), normal_x normal_y normal_z, confidence (float32). With every
    field the offsets are 0, 4, ..., 36 and ``point_step`` is 40. Organised:
    ``height = H``, ``width = W``, row-major, no transposition (unlike ``create_cloud``,
    ROS_NOTES §4.7); invalid points keep NaN x/y/z and ``is_dense`` is False.

    :param cloud: the cloud to pack.
    :return: a ``PackedCloud``; build the message with ``data=packed.to_bytes()``.
    :raises GeometryError: if ``cloud`` is not an ``OrganisedCloud``.
    """
    if not isinstance(cloud, OrganisedCloud):
        raise GeometryError(f'cloud must be an OrganisedCloud, got {type(cloud).__name__}')
    fields = [
        (name, 4 * index, int(datatype), 1)
        for index, (name, _, datatype) in enumerate(
            f for f in _POINT_FIELDS if f[1] is None or getattr(cloud, f[1]) is not None
        )
    ]
    point_step = 4 * len(fields)
    dtype = np.dtype(
        {
            'names': [name for name, _, _, _ in fields],
            'formats': [_NUMPY_OF_DATATYPE[PointFieldDatatype(kind)] for _, _, kind, _ in fields],
            'offsets': [offset for _, offset, _, _ in fields],
            'itemsize': point_step,
        }
    )
    height, width = cloud.xyz.shape[:2]
    data = np.empty((height, width), dtype=dtype)  # the fields below cover every byte
    for axis, name in enumerate('xyz'):
        data[name] = cloud.xyz[..., axis]
    if cloud.rgb is not None:
        packed = np.zeros((height, width), dtype='<u4')  # 0x00RRGGBB: bytes B G R 0
        for byte, channel in enumerate((2, 1, 0)):
            packed.view(np.uint8)[..., byte::4] = cloud.rgb[..., channel]
        data['rgb'].view('<u4')[...] = packed  # integer bits, never float arithmetic
    for name in ('label', 'instance', 'confidence'):
        value = getattr(cloud, name)
        if value is not None:
            data[name] = value
    if cloud.normals is not None:
        for axis, name in enumerate(('normal_x', 'normal_y', 'normal_z')):
            data[name] = cloud.normals[..., axis]
    return PackedCloud(
        data=data,
        fields=fields,
        height=height,
        width=width,
        point_step=point_step,
        row_step=width * point_step,
    )


# ---------------------------------------------------------------------------------------------
# Files

_INT32_MAX = np.iinfo(np.int32).max


def save_cloud(path: str | os.PathLike[str], cloud: OrganisedCloud) -> int:
    """
    Write the valid points of a cloud to a .ply or .pcd file with open3d's tensor API.

    Positions, normals (float32) and colours (float in [0, 1]; PCD stores them as 8-bit) go in
    open3d's standard attributes; label, instance (uint32 in PCD, int32 in PLY, which has no
    uint32) and confidence (float32) as custom attributes of the same names. Points with a
    non-finite x, y or z are dropped, so the file is unorganised. Needs ``open3d``.

    :param path: destination; the suffix (.ply or .pcd, any case) picks the format.
    :param cloud: the cloud to write.
    :return: the number of points written.
    :raises GeometryError: on an unknown suffix, a cloud with no valid point, or PLY ids above
        2**31 - 1.
    :raises OSError: if open3d cannot write the file.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in ('.ply', '.pcd'):
        raise GeometryError(f'path must end in .ply or .pcd, got {str(path)!r}')
    if not isinstance(cloud, OrganisedCloud):
        raise GeometryError(f'cloud must be an OrganisedCloud, got {type(cloud).__name__}')
    valid = cloud.valid  # (H, W)
    count = int(valid.sum())
    if count == 0:
        raise GeometryError('cloud has no valid point (every x, y, z is NaN); nothing to save')
    attributes: dict[str, np.ndarray] = {'positions': cloud.xyz[valid]}  # (N, 3)
    if cloud.rgb is not None:
        attributes['colors'] = cloud.rgb[valid].astype(np.float32) / np.float32(255.0)
    if cloud.normals is not None:
        attributes['normals'] = cloud.normals[valid]
    for name in ('label', 'instance'):
        ids = getattr(cloud, name)
        if ids is None:
            continue
        ids = ids[valid][:, None]  # (N, 1) uint32
        if suffix == '.ply':
            if int(ids.max()) > _INT32_MAX:
                raise GeometryError(
                    f'{name} ids up to {int(ids.max())} do not fit PLY int32; save as .pcd'
                )
            ids = ids.astype(np.int32)
        attributes[name] = ids
    if cloud.confidence is not None:
        attributes['confidence'] = cloud.confidence[valid][:, None]

    import open3d

    points = open3d.t.geometry.PointCloud()
    for name, values in attributes.items():
        points.point[name] = open3d.core.Tensor.from_numpy(np.ascontiguousarray(values))
    if not open3d.t.io.write_point_cloud(target, points):
        raise OSError(f'open3d could not write {str(target)!r}')
    return count
