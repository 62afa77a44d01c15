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
Objects for grasp planners: one oriented 3D box per instance and per referring expression.

A grasp planner wants "the mug, where it is, how big, which way it faces", steady from frame to
frame. ``ObjectBuilder.update`` turns one ``PerceptionResult`` (depth, normals, instance and
referring masks, confidences) and the camera's intrinsics into ``DetectedObject``s, all in the
camera optical frame (REP 103: x right, y down, z forward), metres:

1. **Clean points.** Pixels behind a depth discontinuity (the farther of two 4-neighbours whose
   depths differ by more than ``edge_step`` of the nearer: flying pixels between foreground and
   background, background the mask bled onto, the invalid holes' rims; the object's own rim,
   the nearer side, is kept) are rejected; so are points whose depth lies further than
   ``depth_gate_mads`` scaled median absolute deviations from the object's median depth (mask
   that bled onto the background). Masks can also be eroded by ``erode_px`` (off by default).
2. **Drop what cannot make a box**, with the reason counted (``FrameObjects.dropped``): an empty
   mask, no valid depth under it, fewer than ``min_points`` points left, or fewer than
   ``min_fill`` of the mask's pixels.
3. **Fit the box** (``fit_box``): the axes are those the surface normals line up with (the
   eigenvectors of their scatter, each pixel weighted by the surface area it covers,
   ``z**2 / |cos|``, then refined as a Manhattan frame): exact for a box whatever faces are
   seen, and for a cylinder's axis. (The points' own principal axes, the textbook choice, are
   tilted 12-23 degrees by a box's three visible faces.) Normals come from the result, else
   from the depth. Extents reach the outermost points near the ``extent_percentile``-th and
   ``100 - extent_percentile``-th percentiles (stray points left out), grown back by the
   erosion's width.
4. **Fix the axes' order and signs**: x the longest extent, y the middle one, z the shortest
   and pointing towards the camera; x has a non-negative component along (1, -1, 1) (right, up,
   forward), y = z cross x. A track seen before (same stable instance id, from
   ``TemporalSmoother``) keeps its previous axes' order and signs instead, so its box never
   flips between frames.
5. **Hold still** (``box_smoothing``): a track's box is blended with its previous one, carried
   into this frame by the camera's motion (centre, centroid and extents averaged, the rotation
   turned part of the way), so a static object's box does not follow the generator's flicker;
   a centroid that jumped further than ``box_gate`` of its distance starts afresh.

The score is the mean over the object's points of the per-pixel confidences there: the depth
confidence, times the referring mask's own confidence for referring expressions. Only the visible
surface is measured: a box is the box of what the camera sees (a mug's hidden back half is not
in it). Everything is numpy, vectorised over points; the per-object work is a few (N, 3) passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation
from vision_banana_ros.geometry import CameraIntrinsics, normals_from_depth
from vision_banana_ros.pipeline.config import ObjectsConfig

if TYPE_CHECKING:  # the result module imports this one for its field types
    from vision_banana_ros.pipeline.result import CameraFrame, PerceptionResult

__all__ = [
    'DROP_REASONS',
    'Box',
    'DetectedObject',
    'FrameObjects',
    'ObjectBuilder',
    'ObjectsConfig',
    'find_objects',
    'fit_box',
    'rotation_to_quaternion',
]

DROP_REASONS = ('empty mask', 'no depth', 'too few points', 'too sparse')
"""Why an object was dropped, in the order the checks run (keys of ``FrameObjects.dropped``)."""

REFERRING_MARKER_BASE = 65536
"""Referring expression i gets marker id ``REFERRING_MARKER_BASE + i`` (track ids are uint16)."""

MAX_FIT_POINTS = 8192
"""A box is fitted to at most this many of an object's points (every n-th pixel beyond)."""
TAIL_MARGIN = 0.1
"""Points up to this fraction of an extent beyond its percentiles still count (``fit_box``)."""

_SIGN_REFERENCE = np.array([1.0, -1.0, 1.0]) / math.sqrt(3.0)
"""The longest axis points along this (right, up, forward) unless a track says otherwise."""
_MIN_COS = 0.3
"""Cosine between normal and ray below which a pixel's area weight stops growing (grazing)."""
_FRAME_ITERATIONS = 20
"""Most refinements of the normals' frame (it settles in a few)."""
_MAD_TO_SIGMA = 1.4826


def _real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------------------
# Boxes


@dataclass(frozen=True, eq=False)
class Box:
    """
    An oriented 3D box.

    :ivar center_m: (3,) float64 centre, metres, in the frame of the points it was fitted to.
    :ivar rotation: (3, 3) float64 rotation whose columns are the box's x, y, z axes in that
        frame (right-handed, ``det = +1``): a point ``p`` is at ``rotation.T @ (p - center_m)``
        in the box's own frame.
    :ivar size_m: (3,) float64 extents along the box's x, y, z axes, metres (>= 0).
    """

    center_m: np.ndarray
    rotation: np.ndarray
    size_m: np.ndarray

    @property
    def quaternion(self) -> np.ndarray:
        """(4,) float64 ``(x, y, z, w)`` of ``rotation``, w >= 0 (geometry_msgs order)."""
        return rotation_to_quaternion(self.rotation)

    def moved(self, rotation: np.ndarray, translation: np.ndarray) -> Box:
        """
        Return the same box in another frame.

        :param rotation: (3, 3) rotation of the rigid motion ``p -> rotation @ p + translation``
            taking this box's frame into the other.
        :param translation: (3,) its translation, metres.
        :return: the box with its centre and axes moved (extents unchanged).
        """
        turn = np.asarray(rotation, dtype=np.float64)
        center: np.ndarray = turn @ self.center_m + np.asarray(translation, dtype=np.float64)
        return Box(center, turn @ self.rotation, self.size_m)

    def corners(self) -> np.ndarray:
        """
        Return the box's eight corners.

        :return: (8, 3) float64; corner k has ``+half`` along axis i where bit i of k is set.
        """
        signs = np.array(list(itertools.product((-0.5, 0.5), repeat=3)))[:, ::-1]  # (8, 3)
        corners: np.ndarray = self.center_m + (signs * self.size_m) @ self.rotation.T
        return corners


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """
    Convert a rotation matrix to a unit quaternion.

    :param rotation: (3, 3) rotation matrix.
    :return: (4,) float64 ``(x, y, z, w)`` with ``w >= 0``.
    """
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    # Shepperd's method: divide by the largest of 4w^2, 4x^2, 4y^2, 4z^2.
    candidates = np.array([trace, m[0, 0], m[1, 1], m[2, 2]])
    k = int(np.argmax(candidates))
    if k == 0:
        s = math.sqrt(1.0 + trace) * 2.0
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    elif k == 1:
        s = math.sqrt(max(1.0 + m[0, 0] - m[1, 1] - m[2, 2], 0.0)) * 2.0
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif k == 2:
        s = math.sqrt(max(1.0 + m[1, 1] - m[0, 0] - m[2, 2], 0.0)) * 2.0
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = math.sqrt(max(1.0 + m[2, 2] - m[0, 0] - m[1, 1], 0.0)) * 2.0
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    quaternion = np.array(q)
    quaternion /= np.linalg.norm(quaternion)
    return -quaternion if quaternion[3] < 0 else quaternion


def fit_box(
    points_m: np.ndarray,
    normals: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    percentile: float = 0.0,
    toward: np.ndarray | None = None,
) -> Box:
    """
    Fit an oriented box to the visible surface points of one object.

    With normals, the axes are those of the surface's orientations: the eigenvectors of the
    weighted normal scatter ``sum w n n^T`` (exact for a box, whatever faces are seen, and for a
    cylinder's axis), refined as a Manhattan frame (each normal assigned to its nearest axis,
    the rotation re-solved by SVD, until it holds). Without normals, they are the principal axes
    of the weighted points (which a partial view biases: visible faces of a box tilt them).
    Extents reach the outermost points within ``TAIL_MARGIN`` (a tenth) of the span between
    the ``percentile``-th and ``100 - percentile``-th percentiles along each axis (a thin tail
    counts, a stray point does not); the centre is their midpoint. Order and signs are fixed
    (``canonical_axes``): x longest, z shortest and pointing along ``toward``. The result does
    not depend on the points' order or on the eigenvector signs the solver returns, and turns
    with the points and normals.

    Degenerate sets still get a box: one point a zero-size box at it, points on a line a box
    with zero width and depth, points on a plane a box with zero height.

    Example::

        box = fit_box(points, normals, percentile=1.0)
        box.center_m, box.size_m, box.quaternion

    :param points_m: (N, 3) finite points, metres, any frame, N >= 1.
    :param normals: (N, 3) unit surface normals at the points (either sign), NaN where
        unknown; None to use the points' principal axes.
    :param weights: (N,) finite non-negative weights (e.g. the surface area each point stands
        for), not all zero; None for equal weights.
    :param percentile: in [0, 50): the percentiles (percent) the stray-point margin is measured
        from; 0 for the plain minimum and maximum.
    :param toward: (3,) direction the shortest axis should point along (e.g. to the camera,
        ``-centroid``); None: minus the points' mean (their origin is the viewer).
    :return: the box, in the points' frame.
    :raises ValueError: on points that are not a non-empty finite (N, 3) array, normals of
        another shape, bad weights or a percentile outside [0, 50).
    """
    points = _check_points(points_m)
    w = _check_weights(weights, len(points))
    if not (_real(percentile) and 0.0 <= percentile < 50.0):
        raise ValueError(f'percentile must be in [0, 50), got {percentile!r}')
    mean = (w @ points) / w.sum()
    centred = points - mean  # (N, 3)
    rotation = None
    if normals is not None:
        rotation = _normal_frame(_check_normals(normals, len(points)), w)
    if rotation is None:
        rotation = _principal_axes(centred, w)
    low, high = _spans(centred @ rotation, percentile)  # (3,) each
    size = high - low
    center = mean + rotation @ ((low + high) / 2)
    direction = -mean if toward is None else np.asarray(toward, dtype=np.float64)
    rotation, size = canonical_axes(rotation, size, direction)
    return Box(center, rotation, size)


def canonical_axes(
    rotation: np.ndarray, size_m: np.ndarray, toward: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """
    Reorder and flip a box's axes into the canonical form (the box itself is unchanged).

    x is the longest extent and y the middle one (ties keep the given order); z points along
    ``toward`` (e.g. to the camera); x has a non-negative component along (1, -1, 1) / sqrt(3)
    (exactly perpendicular: its first non-zero component is positive); y = z cross x.

    :param rotation: (3, 3) columns are the box axes.
    :param size_m: (3,) extents along them.
    :param toward: (3,) direction for z; a zero vector leaves z's sign to the right hand.
    :return: the new (3, 3) rotation and (3,) extents.
    """
    order = np.argsort(-np.asarray(size_m), kind='stable')
    axes = np.asarray(rotation, dtype=np.float64)[:, order].copy()
    size = np.asarray(size_m, dtype=np.float64)[order].copy()
    x, z = axes[:, 0], axes[:, 2]
    if _flip(x, _SIGN_REFERENCE):
        x = -x
    if float(np.dot(z, toward)) < 0:
        z = -z
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1), size


def _flip(axis: np.ndarray, reference: np.ndarray) -> bool:
    along = float(np.dot(axis, reference))
    if along != 0.0:
        return along < 0.0
    first = axis[np.flatnonzero(axis)[:1]]
    return bool(first.size and first[0] < 0)


def _check_points(points_m: object) -> np.ndarray:
    try:
        points = np.asarray(points_m, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'points_m must be an (N, 3) array of metres, got {points_m!r}') from err
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(f'points_m must be a non-empty (N, 3) array, got shape {points.shape}')
    if not np.isfinite(points).all():
        raise ValueError('points_m must be finite (drop NaN points first)')
    return points


def _check_weights(weights: object, count: int) -> np.ndarray:
    if weights is None:
        return np.ones(count)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (count,) or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise ValueError(
            f'weights must be ({count},) finite, >= 0 and not all 0, got shape {w.shape}'
        )
    return w


def _right_handed(rotation: np.ndarray) -> np.ndarray:
    if np.linalg.det(rotation) < 0:
        rotation = rotation.copy()
        rotation[:, 2] = -rotation[:, 2]
    return rotation


def _check_normals(normals: object, count: int) -> np.ndarray:
    try:
        array = np.asarray(normals, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'normals must be an ({count}, 3) array, got {normals!r}') from err
    if array.shape != (count, 3):
        raise ValueError(f'normals must be ({count}, 3) like the points, got {array.shape}')
    return array


def _principal_axes(centred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the (3, 3) principal axes (columns, largest spread first) of centred points."""
    covariance = (centred * weights[:, None]).T @ centred / weights.sum()  # (3, 3)
    _, vectors = np.linalg.eigh(covariance)  # ascending eigenvalues
    return _right_handed(vectors[:, ::-1])


def _normal_frame(normals: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """
    Find the rotation whose axes the surface normals line up with (a Manhattan frame).

    :param normals: (N, 3) normals, NaN where unknown.
    :param weights: (N,) weights.
    :return: (3, 3) right-handed axes (columns), or None with fewer than 3 finite normals.
    """
    finite = np.isfinite(normals).all(axis=1)
    if np.count_nonzero(finite) < 3:
        return None
    n, w = normals[finite], weights[finite]
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    _, vectors = np.linalg.eigh((n * w[:, None]).T @ n)  # the normal scatter's axes
    rotation = _right_handed(vectors[:, ::-1])
    rows = np.arange(len(n))
    for _ in range(_FRAME_ITERATIONS):
        dots = n @ rotation  # (M, 3)
        nearest = np.argmax(np.abs(dots), axis=1)  # (M,)
        signed = w * np.sign(dots[rows, nearest])  # (M,)
        target = np.stack(  # column k: the sum of the normals assigned to axis k
            [np.bincount(nearest, weights=signed * n[:, c], minlength=3) for c in range(3)]
        )
        u, _, vt = np.linalg.svd(target)
        fixed = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt  # argmax trace(R^T target)
        if np.abs(fixed - rotation).max() < 1e-10:
            break
        rotation = fixed
    return rotation


def _spans(coords: np.ndarray, percentile: float) -> tuple[np.ndarray, np.ndarray]:
    """
    Return the low and high ends of points along three axes, stray points left out.

    The ends are the outermost points within ``TAIL_MARGIN`` of the percentile span beyond the
    ``percentile``-th and ``100 - percentile``-th percentiles: a sparse but continuous tail (a
    curved surface's rim, seen at a grazing angle) still counts; a point far out does not.

    :param coords: (N, 3) coordinates.
    :param percentile: in [0, 50); 0 for the plain minimum and maximum.
    :return: (3,) low ends and (3,) high ends.
    """
    low: np.ndarray = coords.min(axis=0)
    high: np.ndarray = coords.max(axis=0)
    if percentile <= 0.0:
        return low, high
    inner_low, inner_high = np.percentile(coords, [percentile, 100.0 - percentile], axis=0)
    margin = TAIL_MARGIN * (inner_high - inner_low)  # (3,)
    low = np.where(coords >= inner_low - margin, coords, np.inf).min(axis=0)
    high = np.where(coords <= inner_high + margin, coords, -np.inf).max(axis=0)
    return low, high


# ---------------------------------------------------------------------------------------------
# Objects of one frame


@dataclass(frozen=True, eq=False)
class DetectedObject:
    """
    One object a grasp planner can use, in the camera optical frame (REP 103), metres.

    :ivar name: the instance's class name, or the referring expression.
    :ivar kind: 'instance' or 'referring'.
    :ivar instance_id: the instance's id in ``PerceptionResult.instance_ids`` (a stable track id
        with temporal smoothing); for a referring expression its index in the configuration.
    :ivar score: mean per-pixel confidence over the object's points, in [0, 1].
    :ivar point_count: points the box was fitted to.
    :ivar mask_px: pixels of the object's mask before clean-up.
    :ivar centroid_m: (3,) float64 mean of the points.
    :ivar box: the oriented box of the visible points.
    :ivar normal: (3,) float64 mean visible surface normal (unit, towards the camera); NaN
        without normals.
    :ivar colour: (3,) uint8 the colour the object is drawn in (its instance colour; white for
        referring expressions).
    """

    name: str
    kind: str
    instance_id: int
    score: float
    point_count: int
    mask_px: int
    centroid_m: np.ndarray
    box: Box
    normal: np.ndarray
    colour: np.ndarray

    @property
    def key(self) -> str:
        """Return the id a message carries: ``str(instance_id)``, or ``'referring_<i>'``."""
        if self.kind == 'referring':
            return f'referring_{self.instance_id}'
        return str(self.instance_id)

    @property
    def marker_id(self) -> int:
        """Return an int id unique in the frame: the track id, or 65536 + i for expression i."""
        if self.kind == 'referring':
            return REFERRING_MARKER_BASE + self.instance_id
        return self.instance_id

    def to_dict(self) -> dict[str, object]:
        """
        Return the object as plain JSON values (lists of floats, metres, optical frame).

        :return: name, kind, id, score, points, centroid, box centre / size / quaternion
            (x, y, z, w) / axes (columns, row-major 3x3), normal (None without normals).
        """
        normal = None if not np.isfinite(self.normal).all() else _floats(self.normal)
        return {
            'name': self.name,
            'kind': self.kind,
            'id': self.key,
            'score': round(float(self.score), 4),
            'point_count': self.point_count,
            'mask_px': self.mask_px,
            'centroid_m': _floats(self.centroid_m),
            'box': {
                'center_m': _floats(self.box.center_m),
                'size_m': _floats(self.box.size_m),
                'quaternion_xyzw': _floats(self.box.quaternion, 6),
                'axes': [_floats(row, 6) for row in self.box.rotation],
            },
            'normal': normal,
        }


def _floats(values: np.ndarray, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values).reshape(-1)]


@dataclass(frozen=True, eq=False)
class FrameObjects:
    """
    The objects of one frame, and what was dropped.

    :ivar objects: instances (id order), then referring expressions (configuration order).
    :ivar dropped: reason (``DROP_REASONS``) -> how many objects were dropped for it this frame;
        every reason is present, 0 where none.
    """

    objects: tuple[DetectedObject, ...] = ()
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))

    def to_dict(self) -> dict[str, object]:
        """Return ``{'objects': [...], 'dropped': {...}}`` as plain JSON values."""
        return {'objects': [o.to_dict() for o in self.objects], 'dropped': dict(self.dropped)}


@dataclass(frozen=True, eq=False)
class _Candidate:
    """One mask to turn into an object."""

    name: str
    kind: str
    instance_id: int
    mask: np.ndarray  # (H, W) bool
    confidence: np.ndarray | None  # (H, W) float32 mask confidence, or None
    colour: np.ndarray


def find_objects(
    result: PerceptionResult,
    intrinsics: CameraIntrinsics,
    config: ObjectsConfig | None = None,
) -> FrameObjects:
    """
    Build the objects of one frame, with no history (``ObjectBuilder`` keeps boxes steady).

    :param result: the pipeline's result: depth and instance or referring masks at H x W.
    :param intrinsics: the camera's intrinsics for H x W.
    :param config: the settings; None for the defaults.
    :return: the objects and the drop counts.
    :raises ValueError: on intrinsics for another size, or a mask or array of another shape.
    """
    return ObjectBuilder(config).update(result, intrinsics)


class ObjectBuilder:
    """
    Builds each frame's objects for one camera, keeping every track's box steady.

    A track (an instance id and class; a referring expression by its text, so a new query is a
    new track) seen in the previous frame keeps that box's axis order and signs: each new axis
    is matched to the previous axis it is most parallel to (after the camera's rotation, when
    the motion is given), and its box is blended with the previous one
    (``ObjectsConfig.box_smoothing``). Tracks not seen for a frame are forgotten.

    Example::

        builder = ObjectBuilder(ObjectsConfig())
        for result in results:
            frame_objects = builder.update(result, intrinsics)
    """

    def __init__(self, config: ObjectsConfig | None = None) -> None:
        """
        Start with no history.

        :param config: the settings; None for the defaults.
        """
        self.config = config or ObjectsConfig()
        self._tracks: dict[tuple[str, int, str], _Track] = {}

    def reset(self) -> None:
        """Forget the previous boxes."""
        self._tracks = {}

    def for_frame(self, result: PerceptionResult, frame: CameraFrame) -> FrameObjects | None:
        """
        Build the objects of a pipeline result, if there are objects to build.

        What the node, ``vision-banana bag`` and ``vision-banana infer`` call per frame.

        :param result: the pipeline's result for ``frame``.
        :param frame: the camera frame (intrinsics and motion).
        :return: the objects (possibly none: an empty array clears the markers), or None when
            objects are off, or the frame has no intrinsics, depth, instance segmentation or
            referring expressions (nothing to publish).
        """
        asked = result.instance_ids is not None or bool(result.referring)
        if not (self.config.enabled and asked) or frame.intrinsics is None:
            return None
        if result.depth_m is None:
            return None
        return self.update(result, frame.intrinsics, frame.motion)

    def update(
        self,
        result: PerceptionResult,
        intrinsics: CameraIntrinsics,
        motion: np.ndarray | None = None,
    ) -> FrameObjects:
        """
        Build one frame's objects.

        :param result: the pipeline's result at H x W: ``depth_m`` (no depth: no objects),
            ``instances`` and ``referring`` masks, optional ``normals`` and confidences.
        :param intrinsics: the camera's intrinsics for H x W.
        :param motion: (4, 4) T_prev_curr, the camera's motion since the previous frame (points
            in this optical frame -> the previous one), or None (assumed still, for the axes
            only).
        :return: the objects and the drop counts.
        :raises ValueError: on intrinsics for another size, or a mask of another shape.
        """
        size = (int(result.size[0]), int(result.size[1]))
        if (intrinsics.height, intrinsics.width) != size:
            raise ValueError(
                f'intrinsics are for {intrinsics.width}x{intrinsics.height}, '
                f'the result is {size[1]}x{size[0]}'
            )
        dropped = dict.fromkeys(DROP_REASONS, 0)
        candidates = _candidates(result)
        if result.depth_m is None or not self.config.enabled or not candidates:
            self._tracks = {}
            return FrameObjects((), dropped)
        depth = np.asarray(result.depth_m, dtype=np.float32)
        if depth.shape != size:
            raise ValueError(f'depth_m must be {size}, got {depth.shape}')
        frame = _Frame(depth, intrinsics, result.normals, result.depth_confidence)
        objects, tracks = [], {}
        for candidate in candidates:
            if candidate.mask.shape != size:
                raise ValueError(
                    f'the mask of {candidate.name!r} is {candidate.mask.shape}, expected {size}'
                )
            built = _build(frame, candidate, self.config)
            if isinstance(built, str):
                dropped[built] += 1
                continue
            key = (candidate.kind, candidate.instance_id, candidate.name)
            previous = self._tracks.get(key)
            if previous is not None:
                previous = previous.moved(motion)
                built = _blend(_follow(built, previous.box.rotation), previous, self.config)
            tracks[key] = _Track(built.box, built.centroid_m)
            objects.append(built)
        self._tracks = tracks
        return FrameObjects(tuple(objects), dropped)


@dataclass(frozen=True, eq=False)
class _Track:
    """A track's last box and centroid, in the optical frame of the frame they came from."""

    box: Box
    centroid_m: np.ndarray

    def moved(self, motion: np.ndarray | None) -> _Track:
        """
        Return the track in the next frame's optical frame.

        :param motion: (4, 4) T_prev_curr (points in the next frame -> this one), or None for a
            still camera.
        """
        if motion is None:
            return self
        pose = np.asarray(motion, dtype=np.float64)
        turn = pose[:3, :3].T  # the inverse motion: previous frame -> this one
        shift = -turn @ pose[:3, 3]
        return _Track(self.box.moved(turn, shift), turn @ self.centroid_m + shift)


def _candidates(result: PerceptionResult) -> list[_Candidate]:
    white = np.array([255, 255, 255], dtype=np.uint8)
    found = [
        _Candidate(m.class_name, 'instance', int(m.instance_id), m.mask, None, m.colour)
        for m in sorted(result.instances, key=lambda m: m.instance_id)
    ]
    found += [
        _Candidate(m.expression, 'referring', index, m.mask, m.confidence, white)
        for index, m in enumerate(result.referring)
    ]
    return found


class _Frame:
    """One frame's per-pixel arrays, shared by its objects."""

    def __init__(
        self,
        depth_m: np.ndarray,
        intrinsics: CameraIntrinsics,
        normals: np.ndarray | None,
        confidence: np.ndarray | None,
    ) -> None:
        self.depth_m = depth_m  # (H, W) float32, NaN invalid
        self.intrinsics = intrinsics
        self.normals = normals  # (H, W, 3) or None
        self.confidence = confidence  # (H, W) or None

    def points(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Return the (N, 3) float64 points of pixels (rows, cols)."""
        k = self.intrinsics
        z = self.depth_m[rows, cols].astype(np.float64)
        x = (cols - k.cx) / k.fx * z
        y = (rows - k.cy) / k.fy * z
        return np.stack([x, y, z], axis=1)

    def normals_at(
        self, window: tuple[slice, slice], rows: np.ndarray, cols: np.ndarray
    ) -> np.ndarray:
        """
        Return the (N, 3) float64 normals at pixels (rows, cols) inside a window.

        The result's normals where it has them; else normals from the depth in the window
        (central differences, NaN on the window's rim and next to invalid depth).
        """
        if self.normals is not None:
            normals: np.ndarray = np.asarray(self.normals)[rows, cols].astype(np.float64)
            return normals
        top, left = window[0].start, window[1].start
        depth = self.depth_m[window]
        k = self.intrinsics
        crop = CameraIntrinsics(
            k.fx, k.fy, k.cx - left, k.cy - top, depth.shape[1], depth.shape[0]
        )
        estimated = np.asarray(normals_from_depth(depth, crop))  # (h, w, 3)
        picked: np.ndarray = estimated[rows - top, cols - left].astype(np.float64)
        return picked


def _build(frame: _Frame, candidate: _Candidate, config: ObjectsConfig) -> DetectedObject | str:
    """Build one object, or return the reason it is dropped."""
    mask = np.asarray(candidate.mask, dtype=bool)
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 'empty mask'
    window = _window(mask, pad=1)
    crop, depth = mask[window], frame.depth_m[window]
    valid = crop & np.isfinite(depth) & (depth > 0)
    if not valid.any():
        return 'no depth'
    keep = valid
    if config.erode_px:
        keep = keep & ndimage.binary_erosion(crop, iterations=config.erode_px, border_value=0)
    if config.edge_step:
        keep = keep & ~_discontinuities(depth, config.edge_step)
    rows, cols = np.nonzero(keep)  # row-major: a deterministic order
    rows, cols = rows + window[0].start, cols + window[1].start
    if config.depth_gate_mads and rows.size:
        z = frame.depth_m[rows, cols]
        median = float(np.median(z))
        spread = _MAD_TO_SIGMA * float(np.median(np.abs(z - median)))
        gate = max(config.depth_gate_mads * spread, config.edge_step * median)
        inside = np.abs(z - median) <= gate
        rows, cols = rows[inside], cols[inside]
    if rows.size < config.min_points:
        return 'too few points'
    if rows.size < config.min_fill * area:
        return 'too sparse'
    points = frame.points(rows, cols)  # (N, 3)
    normals = frame.normals_at(window, rows, cols)  # (N, 3), NaN where unknown
    step = -(-rows.size // MAX_FIT_POINTS)  # large objects: every step-th pixel, row-major
    box = fit_box(
        points[::step],
        normals[::step],
        weights=_area_weights(points[::step], normals[::step]),
        percentile=config.extent_percentile,
        toward=-points.mean(axis=0),
    )
    box = _grow(box, config.erode_px, frame.intrinsics)
    mean_normal = np.full(3, np.nan)
    if frame.normals is not None:
        total = np.nansum(normals, axis=0)
        length = float(np.linalg.norm(total))
        if length > 0:
            mean_normal = total / length
    return DetectedObject(
        name=candidate.name,
        kind=candidate.kind,
        instance_id=candidate.instance_id,
        score=_score(frame, candidate, rows, cols),
        point_count=int(rows.size),
        mask_px=area,
        centroid_m=points.mean(axis=0),
        box=box,
        normal=mean_normal,
        colour=np.asarray(candidate.colour, dtype=np.uint8).reshape(3),
    )


def _window(mask: np.ndarray, pad: int) -> tuple[slice, slice]:
    """Return the (rows, cols) slices of a mask's bounding box, padded, inside the image."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return (
        slice(max(int(rows[0]) - pad, 0), min(int(rows[-1]) + pad + 1, height)),
        slice(max(int(cols[0]) - pad, 0), min(int(cols[-1]) + pad + 1, width)),
    )


def _discontinuities(depth_m: np.ndarray, step: float) -> np.ndarray:
    """
    Mark pixels behind a depth discontinuity.

    Only the farther side of a jump is marked: a flying pixel is farther than the foreground
    next to it, and the foreground's own rim is kept (marking both sides would cut a curved
    object's rim, a sizeable part of its depth extent).

    :param depth_m: (h, w) depth, NaN invalid.
    :param step: relative difference to a 4-neighbour that counts as a discontinuity.
    :return: (h, w) bool; True where some 4-neighbour is nearer by more than ``step`` times
        its depth, or is invalid, or where the pixel itself is invalid next to any neighbour.
    """
    edge = np.zeros(depth_m.shape, dtype=bool)
    with np.errstate(invalid='ignore'):
        for axis in (0, 1):
            ahead = [slice(None), slice(None)]
            behind = [slice(None), slice(None)]
            ahead[axis], behind[axis] = slice(1, None), slice(None, -1)
            a, b = depth_m[tuple(ahead)], depth_m[tuple(behind)]
            jump = ~(np.abs(a - b) <= step * np.fmin(a, b))  # NaN on either side: a jump
            edge[tuple(ahead)] |= jump & ~(a < b)  # the farther side (or NaN) of each jump
            edge[tuple(behind)] |= jump & ~(b < a)
    return edge


def _area_weights(points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Return each point's surface area up to a constant: z**2 / max(|cos(normal, ray)|, 0.3)."""
    rays = points / np.linalg.norm(points, axis=1, keepdims=True)
    cos = np.abs(np.einsum('ij,ij->i', normals, rays))
    cos = np.where(np.isfinite(cos), np.maximum(cos, _MIN_COS), 1.0)
    weights: np.ndarray = points[:, 2] ** 2 / cos
    return weights


def _grow(box: Box, erode_px: int, intrinsics: CameraIntrinsics) -> Box:
    """
    Grow a box by what eroding its mask took off, to first order.

    Erosion moves the silhouette in by ``erode_px`` pixels on each side: ``erode_px * z / f``
    metres in the image plane at the box's depth. An axis gains twice that times the length of
    its projection on the image plane (x and y components).
    """
    if not erode_px:
        return box
    focal = (intrinsics.fx + intrinsics.fy) / 2
    band_m = erode_px * max(float(box.center_m[2]), 0.0) / focal
    in_plane = np.linalg.norm(box.rotation[:2, :], axis=0)  # (3,) per axis
    return Box(box.center_m, box.rotation, box.size_m + 2 * band_m * in_plane)


def _score(frame: _Frame, candidate: _Candidate, rows: np.ndarray, cols: np.ndarray) -> float:
    score = np.ones(rows.size)
    for confidence in (frame.confidence, candidate.confidence):
        if confidence is not None:
            score *= np.nan_to_num(np.asarray(confidence)[rows, cols], nan=0.0)
    return float(np.clip(score.mean(), 0.0, 1.0))


def _blend(built: DetectedObject, previous: _Track, config: ObjectsConfig) -> DetectedObject:
    """
    Blend a new object's box with its track's previous one (``ObjectsConfig.box_smoothing``).

    Centre, centroid and extents are averaged with weight ``w`` on the previous; the rotation
    turns from the previous one ``1 - w`` of the way to the new one (the axes already matched
    by ``_follow``). A centroid that jumped further than ``box_gate`` of its distance is a moved
    object: the new box is kept as it is.

    :param built: the new object, axes matched to ``previous``.
    :param previous: the track, in this frame's optical frame.
    :param config: the settings.
    :return: the blended object (score, points and normal are this frame's).
    """
    w = config.box_smoothing
    jump = float(np.linalg.norm(built.centroid_m - previous.centroid_m))
    if w == 0.0 or jump > config.box_gate * float(np.linalg.norm(previous.centroid_m)):
        return built
    new, old = built.box, previous.box
    turn = Rotation.from_matrix(old.rotation.T @ new.rotation).as_rotvec() * (1.0 - w)
    box = Box(
        w * old.center_m + (1.0 - w) * new.center_m,
        old.rotation @ Rotation.from_rotvec(turn).as_matrix(),
        w * old.size_m + (1.0 - w) * new.size_m,
    )
    centroid = w * previous.centroid_m + (1.0 - w) * built.centroid_m
    return replace(built, box=box, centroid_m=centroid)


def _follow(built: DetectedObject, previous: np.ndarray) -> DetectedObject:
    """
    Reorder and flip a new box's axes to match the previous box's of the same track.

    :param built: the new object.
    :param previous: (3, 3) the track's previous axes (columns), in this frame's optical frame.
    :return: the object with the same box, its axes matched to ``previous``.
    """
    rotation, size = built.box.rotation, built.box.size_m
    best: tuple[float, tuple[int, ...]] = (-1.0, (0, 1, 2))
    for order in itertools.permutations(range(3)):
        score = float(sum(abs(previous[:, i] @ rotation[:, j]) for i, j in enumerate(order)))
        if score > best[0] + 1e-9:
            best = (score, order)
    chosen = list(best[1])
    axes = rotation[:, chosen].copy()
    signs = np.sign(np.einsum('ij,ij->j', previous, axes))
    signs[signs == 0] = 1.0
    axes *= signs
    if np.linalg.det(axes) < 0:  # the least-matched axis yields
        weakest = int(np.argmin(np.abs(np.einsum('ij,ij->j', previous, axes))))
        axes[:, weakest] = -axes[:, weakest]
    return replace(built, box=Box(built.box.center_m, axes, size[chosen]))
