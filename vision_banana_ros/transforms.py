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
A time-indexed transform tree (what ``/tf`` and ``/tf_static`` carry) and the camera's motion.

Temporal smoothing needs ``T_prev_curr``: the camera's motion between two frames, which tf2
gives as ``lookup_transform_full(camera, t_prev, camera, t_curr, fixed_frame)``. tf2's Python
buffer needs tf2_py, a C extension that no PyPI wheel carries, so the node and ``vision-banana
bag`` feed this buffer from ``tf2_msgs/TFMessage`` instead; it answers the same question the
same way for the subset of tf2 the smoother uses:

- each child frame has one parent (the latest one sent, as in tf2) and a history of stamped
  transforms kept for ``cache_s`` seconds behind the newest; static transforms hold at all times;
- a transform between two frames at a time chains the edges up to their nearest common ancestor,
  interpolating each dynamic edge between the two samples around that time (translation
  linearly, rotation by slerp); a time outside an edge's history is an error, not an
  extrapolation (tf2's ``ExtrapolationException``), except that a one-sample history (and a
  static edge) holds at any time.

Transforms are 4x4 float64 rigid transforms in metres: ``T_a_b`` maps points in frame b into
frame a (tf2's ``lookup_transform(target_frame=a, source_frame=b)``). Thread-safe: one thread
may add while another looks up or waits.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
import math
import threading
import time

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ['StampedTransform', 'TransformBuffer', 'TransformError', 'UnknownFrameError']

_NS_PER_S = 1_000_000_000
MAX_CHAIN = 1000
"""Longest chain of parents followed; a longer one is taken for a loop."""


class TransformError(LookupError):
    """A transform cannot be looked up: names the frames, the time and what is missing."""


class UnknownFrameError(TransformError):
    """No transform received names the frame at all (no TF for it, or not yet)."""


@dataclass(frozen=True)
class StampedTransform:
    """
    One edge of the tree at one time (a geometry_msgs/TransformStamped).

    :ivar parent: the parent frame (``header.frame_id``).
    :ivar child: the child frame (``child_frame_id``).
    :ivar stamp_ns: the time, integer nanoseconds.
    :ivar translation: (3,) float64 the child's origin in the parent frame, metres.
    :ivar rotation: (4,) float64 unit quaternion (x, y, z, w) rotating child axes into the
        parent's.
    """

    parent: str
    child: str
    stamp_ns: int
    translation: np.ndarray
    rotation: np.ndarray

    def __post_init__(self) -> None:
        translation = np.asarray(self.translation, dtype=np.float64)
        rotation = np.asarray(self.rotation, dtype=np.float64)
        problems = []
        if not self.parent or not self.child or self.parent == self.child:
            problems.append(f'frames {self.parent!r} -> {self.child!r} (two distinct names)')
        if translation.shape != (3,) or not np.isfinite(translation).all():
            problems.append(f'translation {translation.tolist()} (3 finite metres)')
        norm = math.nan
        if rotation.shape == (4,) and np.isfinite(rotation).all():
            with np.errstate(over='ignore'):  # a huge quaternion's norm is inf: refused below
                norm = float(np.linalg.norm(rotation))
        if not abs(norm - 1.0) <= 1e-3:
            problems.append(f'rotation {rotation.tolist()} (a unit quaternion x, y, z, w)')
        if problems:
            raise ValueError(
                f'bad transform {self.parent!r} -> {self.child!r}: ' + '; '.join(problems)
            )
        object.__setattr__(self, 'translation', translation)
        object.__setattr__(self, 'rotation', rotation / norm)

    def matrix(self) -> np.ndarray:
        """Return ``T_parent_child`` as a (4, 4) float64 array."""
        return _matrix(Rotation.from_quat(self.rotation), self.translation)


def _matrix(rotation: Rotation, translation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation.as_matrix()
    out[:3, 3] = translation
    return out


class _Edge:
    """One child's link to its parent: a sorted history, or one static transform."""

    def __init__(self, parent: str, static: bool) -> None:
        self.parent = parent
        self.static = static
        self.stamps: list[int] = []
        self.samples: list[StampedTransform] = []

    def add(self, transform: StampedTransform, cache_ns: int) -> None:
        if self.static:
            self.stamps, self.samples = [transform.stamp_ns], [transform]
            return
        index = bisect.bisect_left(self.stamps, transform.stamp_ns)
        if index < len(self.stamps) and self.stamps[index] == transform.stamp_ns:
            self.samples[index] = transform  # a resend replaces
        else:
            self.stamps.insert(index, transform.stamp_ns)
            self.samples.insert(index, transform)
        oldest = bisect.bisect_left(self.stamps, self.stamps[-1] - cache_ns)
        if oldest:
            del self.stamps[:oldest], self.samples[:oldest]

    def at(self, stamp_ns: int) -> np.ndarray | None:
        """Return T_parent_child at a time, or None outside the history."""
        if self.static or len(self.samples) == 1:
            return self.samples[0].matrix()
        index = bisect.bisect_left(self.stamps, stamp_ns)
        if index < len(self.stamps) and self.stamps[index] == stamp_ns:
            return self.samples[index].matrix()
        if index == 0 or index == len(self.stamps):
            return None
        before, after = self.samples[index - 1], self.samples[index]
        weight = (stamp_ns - before.stamp_ns) / (after.stamp_ns - before.stamp_ns)
        rotations = Rotation.from_quat(np.stack([before.rotation, after.rotation]))
        rotation = rotations[0] * Rotation.from_rotvec(
            weight * (rotations[0].inv() * rotations[1]).as_rotvec()
        )  # slerp
        translation = (1.0 - weight) * before.translation + weight * after.translation
        return _matrix(rotation, translation)

    def span(self) -> str:
        if self.static:
            return 'static'
        return f'{self.stamps[0] / _NS_PER_S:.3f} .. {self.stamps[-1] / _NS_PER_S:.3f} s'


class TransformBuffer:
    """
    The transform tree over the last ``cache_s`` seconds (see the module docstring).

    Example::

        buffer = TransformBuffer()
        buffer.add(transforms_from_tf(msg), static=False)   # from /tf
        motion = buffer.camera_motion('camera_optical', 'odom', previous_ns, stamp_ns)
    """

    def __init__(self, cache_s: float = 10.0) -> None:
        """
        Start empty.

        :param cache_s: seconds of history kept per edge behind its newest sample, > 0
            (``math.inf`` keeps everything, for a bag read up front).
        :raises ValueError: on a non-positive cache.
        """
        if not cache_s > 0:
            raise ValueError(f'cache_s must be > 0, got {cache_s!r}')
        self._cache_ns = int(min(cache_s, 1e9) * _NS_PER_S)
        self._edges: dict[str, _Edge] = {}
        self._changed = threading.Condition()

    def add(self, transforms: Iterable[StampedTransform], static: bool = False) -> None:
        """
        Add transforms (one ``/tf`` or ``/tf_static`` message's worth).

        :param transforms: the transforms; a child's parent becomes the latest one given.
        :param static: they hold at all times (``/tf_static``).
        """
        with self._changed:
            for transform in transforms:
                edge = self._edges.get(transform.child)
                if edge is None or edge.parent != transform.parent or edge.static != static:
                    edge = self._edges[transform.child] = _Edge(transform.parent, static)
                edge.add(transform, self._cache_ns)
            self._changed.notify_all()

    def clear(self) -> None:
        """Forget every transform (e.g. after the clock jumped back: a bag restarted)."""
        with self._changed:
            self._edges.clear()

    def lookup(self, target: str, source: str, stamp_ns: int) -> np.ndarray:
        """
        Return ``T_target_source`` at a time.

        :param target: the frame the result maps into.
        :param source: the frame it maps from.
        :param stamp_ns: the time, integer nanoseconds.
        :return: (4, 4) float64.
        :raises TransformError: if the frames are not connected, or a link has no sample
            around that time.
        """
        with self._changed:
            if target == source:
                return np.eye(4)
            known = self._edges.keys() | {edge.parent for edge in self._edges.values()}
            unknown = [frame for frame in (source, target) if frame not in known]
            if unknown:
                raise UnknownFrameError(
                    f'no transform from {source!r} to {target!r}: no transform received names '
                    f'{" or ".join(map(repr, unknown))}'
                )
            up_source, root_source = self._chain(source)
            up_target, root_target = self._chain(target)
            if root_source != root_target:
                raise TransformError(
                    f'no transform from {source!r} to {target!r}: they are in two trees '
                    f'(roots {root_source!r} and {root_target!r})'
                )
            # Drop the links the two chains share above their nearest common ancestor.
            while up_source and up_target and up_source[-1] == up_target[-1]:
                up_source.pop()
                up_target.pop()
            ancestor_source = self._to_ancestor(up_source, stamp_ns, source, target)
            ancestor_target = self._to_ancestor(up_target, stamp_ns, source, target)
            return np.linalg.solve(ancestor_target, ancestor_source)

    def camera_motion(
        self, camera: str, fixed: str, previous_ns: int, current_ns: int
    ) -> np.ndarray:
        """
        Return the camera's motion ``T_prev_curr`` between two of its frames' stamps.

        :param camera: the camera's (optical) frame, the images' ``header.frame_id``.
        :param fixed: a frame that does not move with the camera (``odom``, ``map``, ``world``).
        :param previous_ns: the earlier frame's stamp.
        :param current_ns: the later frame's stamp.
        :return: (4, 4) float64 mapping points in the camera frame at ``current_ns`` into the
            camera frame at ``previous_ns`` (``TemporalSmoother.update``'s ``motion``).
        :raises TransformError: if either lookup fails.
        """
        fixed_previous = self.lookup(fixed, camera, previous_ns)
        fixed_current = self.lookup(fixed, camera, current_ns)
        return np.linalg.solve(fixed_previous, fixed_current)

    def wait_camera_motion(
        self, camera: str, fixed: str, previous_ns: int, current_ns: int, timeout_s: float
    ) -> np.ndarray:
        """
        ``camera_motion``, waiting up to ``timeout_s`` for transforms still on their way.

        A frame no transform has named yet is not waited for (a camera without TF would
        otherwise pay the timeout on every frame).

        :return: as ``camera_motion``.
        :raises TransformError: if the lookup still fails after the timeout, or at once for an
            unknown frame (``UnknownFrameError``).
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._changed:
            while True:
                try:
                    return self.camera_motion(camera, fixed, previous_ns, current_ns)
                except UnknownFrameError:
                    raise
                except TransformError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    self._changed.wait(left)

    def _chain(self, frame: str) -> tuple[list[str], str]:
        """Return the frames from ``frame`` up to (not including) its root, and the root."""
        chain = []
        while frame in self._edges:
            chain.append(frame)
            if len(chain) > MAX_CHAIN:
                raise TransformError(f'the parents of {chain[0]!r} form a loop')
            frame = self._edges[frame].parent
        return chain, frame

    def _to_ancestor(
        self, chain: list[str], stamp_ns: int, source: str, target: str
    ) -> np.ndarray:
        """Return T_ancestor_frame for the chain's first frame (its links, bottom up)."""
        out = np.eye(4)
        for frame in chain:
            edge = self._edges[frame]
            link = edge.at(stamp_ns)
            if link is None:
                raise TransformError(
                    f'no transform from {source!r} to {target!r} at {stamp_ns / _NS_PER_S:.3f} s: '
                    f'{edge.parent!r} -> {frame!r} is known for {edge.span()}'
                )
            out = link @ out
        return out
