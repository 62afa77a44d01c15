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
Temporal smoothing of one camera's perception: depth, normals, labels, masks, instance ids.

A grasp planner needs a cloud that does not flicker. ``TemporalSmoother`` keeps a little state
per camera and, for each new ``PerceptionResult``:

1. **Finds each pixel in the previous frame.** With the camera's motion (``T_prev_curr``, from
   TF) and intrinsics, each current pixel is lifted with its new depth, moved into the previous
   optical frame and projected there; the previous state is read at that pixel (nearest). This
   backward warp is a gather, so it needs no z-buffer: where the previous frame saw another
   surface (occlusion, disocclusion) the depths disagree and the gate below resets the pixel.
   Without a motion, a pixel's previous state is the same pixel's.
2. **Tells change from flicker.** Given the camera image, a pixel whose colour (warped) moved by
   more than ``colour_gate`` shows another surface than before; where the colour held, the
   surface is the same, and any jump of its depth is the generator's flicker. Without an image
   every depth jump counts as a change. The cost: where an object's border is warped onto what
   is behind it and both share a colour, the two depths are averaged (with the oracle, up to a
   fifth of a thin bottle's pixels at 120x160 while the camera orbits). Letting depth edges
   reset anyway mended that but took VB-Mini's flicker reduction from 54 % to 23-42 %: its
   depth has edges everywhere.
3. **Depth**: a per-pixel running mean of the frames since the pixel's last reset, at most
   ``depth_window`` of them (afterwards an exponential average with weight 1/depth_window: a
   Kalman filter whose process noise keeps the gain at or above 1/depth_window). A pixel that
   changed and whose depth moved by more than ``depth_gate`` (relative) is reset to the new
   depth, not blurred: an object that moves in is there at once. Without a known motion, a frame
   where more than ``motion_reset_fraction`` of the pixels changed means the camera moved:
   everything but the instance tracks restarts from that frame (slower camera motion goes
   undetected and lags; give the motion when the camera moves).
4. **Normals** likewise, rotated with the camera: with depth's weights and resets, or gated
   by angle when there is no depth.
5. **Labels** (semantic labels and referring masks): a running vote per pixel. A label banks up
   to ``label_window`` agreeing frames; each disagreeing frame takes one vote away and the label
   yields when none are left. One-frame flicker is voted away; a pixel whose depth was reset
   takes its new label at once.
6. **Instance ids**: stable track ids by mask overlap (IoU on a ``instance_stride_px`` grid,
   optimal one-to-one assignment within each class); a track survives
   ``instance_max_missed`` frames unseen.
7. **Confidences rise with agreement**: ``1 - (1 - c) / n`` for a decoder confidence ``c`` and
   ``n`` agreeing frames, so one frame (n = 1) passes through unchanged.

The first frame, and every frame after a restart, passes through unchanged apart from the
instance ids. ``Pipeline`` smooths at the model's resolution (the letterboxed window, e.g. 120x160
for a 640x480 camera), before resizing to the camera: the decoded values hold all there is to
smooth, at a fraction of the pixels. The ROS node and ``vision-banana bag`` take the motion from
TF (``vision_banana_ros.transforms``). Everything is numpy, vectorised over pixels, with work
buffers allocated once per image size; REP 103 optical frames throughout (x right, y down, z
forward), depth as z-depth in metres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment
from vision_banana_ros.geometry import CameraIntrinsics

if TYPE_CHECKING:  # the pipeline imports this module for its config: no import cycle at runtime
    from vision_banana_ros.pipeline.result import (
        InstanceMask,
        PerceptionResult,
        ReferringMask,
    )

__all__ = ['SmoothingConfig', 'TemporalSmoother', 'check_motion']

MIN_WARP_DEPTH_M = 1e-3
"""Points closer than this to the previous camera's image plane get no previous state."""
ROTATION_TOLERANCE = 1e-3
"""Largest deviation of R^T R from the identity accepted in a motion."""
FRACTION_STRIDE = 7
"""Ego-motion is detected on every n-th pixel (row-major); the fraction hardly changes."""
MAX_TRACK_ID = 65535
"""Track ids are uint16 like ``PerceptionResult.instance_ids``; they wrap around to 1 after."""


@dataclass(frozen=True)
class SmoothingConfig:
    """
    Temporal smoothing of consecutive frames of one camera (``TemporalSmoother``).

    :ivar enabled: smooth at all; False passes every result through untouched.
    :ivar depth_window: frames of agreeing depth a pixel averages at most (the filter's gain
        never falls below 1/depth_window); also the window of normals. 1 turns the averaging
        off (the gate still drives label resets and ego-motion detection).
    :ivar depth_gate: relative innovation ``|depth - estimate| / depth`` above which a pixel
        that changed colour (or any pixel, without an image) is reset to the new depth instead
        of averaged (0.05: 5 cm at 1 m). In (0, 1).
    :ivar colour_gate: change of R, G or B (8-bit levels, the largest of the three) between a
        pixel now and where it was, above which it shows another surface; below, depth jumps
        are taken for flicker and averaged. 0 ignores the image (every depth jump resets).
        In [0, 255].
    :ivar motion_reset_fraction: without a known camera motion, the fraction of the pixels that
        must change at once (colour, with an image; else a depth jump) for a frame to count as
        ego-motion, restarting every filter from it (instance tracks are kept). In (0, 1]; 1
        never restarts. Slower ego-motion goes undetected and is averaged, lagging the geometry:
        a moving camera should give its motion (TF).
    :ivar normals: smooth normals too, with depth's weights and resets (when depth is asked).
    :ivar normals_gate_deg: without depth, the angle between a new normal and the estimate
        above which the pixel's normal is reset (where its colour changed). In (0, 90).
    :ivar label_window: votes a pixel's label can bank: a settled label survives
        ``label_window - 1`` disagreeing frames and yields to the next one. Applies to semantic
        labels and referring masks; 1 turns voting off.
    :ivar instance_iou: least mask overlap (intersection over union) for an instance to keep a
        track's id; in (0, 1].
    :ivar instance_max_missed: frames a track may go unseen before its id is retired.
    :ivar instance_stride_px: the overlap is counted on every n-th row and column (pixels);
        instances smaller than about n x n pixels may then get a new id each frame. 1 suits
        the model's resolution, where the pipeline smooths; 4 saves time on camera-sized
        results.
    """

    enabled: bool = True
    depth_window: int = 6
    depth_gate: float = 0.05
    colour_gate: float = 30.0
    motion_reset_fraction: float = 0.3
    normals: bool = True
    normals_gate_deg: float = 20.0
    label_window: int = 2
    instance_iou: float = 0.3
    instance_max_missed: int = 5
    instance_stride_px: int = 1

    def __post_init__(self) -> None:
        checks = {
            'enabled': isinstance(self.enabled, bool),
            'depth_window': _count(self.depth_window, 1, 1000),
            'depth_gate': _real(self.depth_gate) and 0.0 < self.depth_gate < 1.0,
            'colour_gate': _real(self.colour_gate) and 0.0 <= self.colour_gate <= 255.0,
            'motion_reset_fraction': _real(self.motion_reset_fraction)
            and 0.0 < self.motion_reset_fraction <= 1.0,
            'normals': isinstance(self.normals, bool),
            'normals_gate_deg': _real(self.normals_gate_deg)
            and 0.0 < self.normals_gate_deg < 90.0,
            'label_window': _count(self.label_window, 1, 100),
            'instance_iou': _real(self.instance_iou) and 0.0 < self.instance_iou <= 1.0,
            'instance_max_missed': _count(self.instance_max_missed, 0, 1_000_000),
            'instance_stride_px': _count(self.instance_stride_px, 1, 64),
        }
        bad = [f'{name}={getattr(self, name)!r}' for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f'smoothing: invalid {", ".join(bad)}')


def _count(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _real(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def check_motion(motion: object) -> np.ndarray | None:
    """
    Check a camera motion ``T_prev_curr`` and return it as a float64 array.

    :param motion: None, or a 4x4 rigid transform mapping points in the current optical frame
        into the previous one (tf2's ``lookup_transform(previous, current)`` between the two
        frames' stamps; metres): ``[R t; 0 0 0 1]`` with R a rotation.
    :return: the (4, 4) float64 transform, or None.
    :raises ValueError: if it is not a finite 4x4 array with a rotation block and a
        [0, 0, 0, 1] last row.
    """
    if motion is None:
        return None
    try:
        matrix = np.asarray(motion, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'motion must be a 4x4 array (T_prev_curr), got {motion!r}') from err
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise ValueError(f'motion must be a finite 4x4 array (T_prev_curr), got {matrix!r}')
    rotation = matrix[:3, :3]
    orthonormal = np.abs(rotation.T @ rotation - np.eye(3)).max() <= ROTATION_TOLERANCE
    if not (orthonormal and np.linalg.det(rotation) > 0):
        raise ValueError(f'motion[:3, :3] must be a rotation, got {rotation.tolist()}')
    if np.abs(matrix[3] - (0.0, 0.0, 0.0, 1.0)).max() > 1e-9:
        raise ValueError(f'motion[3] must be [0, 0, 0, 1], got {matrix[3].tolist()}')
    return matrix


# ---------------------------------------------------------------------------------------------
# Correspondence with the previous frame


@dataclass(frozen=True)
class _Warp:
    """
    Where each current pixel was in the previous frame (views of a ``_Warper``'s buffers).

    :ivar index: (P,) intp row-major index of the previous pixel; P (the state's spare slot,
        which holds "nothing") where the point falls outside the previous image or behind it.
    :ivar scale: (P,) float32 the point's z-depth now over its z-depth then.
    :ivar rotation: (3, 3) float32 rotation from the previous optical frame into the current.
    """

    index: np.ndarray
    scale: np.ndarray
    rotation: np.ndarray


class _Warper:
    """
    Project each current pixel, lifted with its depth, into the previous image.

    Work buffers are allocated once per image size: fresh 1 MB arrays cost page faults on every
    frame (glibc hands freed large blocks back to the system), which would dominate the time.
    """

    def __init__(self, size: tuple[int, int]) -> None:
        height, width = size
        self.planes = np.empty((3, height, width), dtype=np.float32)  # u z, v z, z then
        self.inverse = np.empty((height, width), dtype=np.float32)
        self.inside = np.empty((height, width), dtype=bool)
        self.test = np.empty((height, width), dtype=bool)
        self.index = np.empty(height * width, dtype=np.intp)
        self.scale = np.empty(height * width, dtype=np.float32)

    def warp(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics, motion: np.ndarray) -> _Warp:
        """
        Find each current pixel's previous pixel.

        :param depth_m: (H, W) float32 current depth in metres, NaN invalid.
        :param intrinsics: intrinsics of this H x W image (the same camera in both frames).
        :param motion: (4, 4) T_prev_curr.
        :return: the correspondence (valid until the next call); invalid depth gets none.
        """
        height, width = depth_m.shape
        fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
        x_per_z = ((np.arange(width) - cx) / fx).astype(np.float32)  # (W,)
        y_per_z = ((np.arange(height) - cy) / fy).astype(np.float32)  # (H,)
        # Projection into the previous image, + 0.5 so that floor rounds to the nearest pixel:
        # (u c, v c, c) = P (z x_per_z, z y_per_z, z, 1) with P = K' T_prev_curr[:3].
        lens = np.array([[fx, 0.0, cx + 0.5], [0.0, fy, cy + 0.5], [0.0, 0.0, 1.0]])
        projection = (lens @ motion[:3]).astype(np.float32)  # (3, 4)
        for row, plane in zip(projection, self.planes, strict=True):
            np.add.outer(row[1] * y_per_z, row[0] * x_per_z + row[2], out=plane)
            plane *= depth_m
            plane += row[3]
        u, v, z_prev = self.planes
        inside, test = self.inside, self.test
        np.divide(np.float32(1.0), z_prev, out=self.inverse)
        u *= self.inverse
        v *= self.inverse
        np.greater(z_prev, MIN_WARP_DEPTH_M, out=inside)  # NaN compares False throughout
        for coordinate, size in ((u, width), (v, height)):
            inside &= np.greater_equal(coordinate, 0.0, out=test)
            inside &= np.less(coordinate, size, out=test)
        np.floor(u, out=u)
        np.floor(v, out=v)
        v *= np.float32(width)
        v += u  # the row-major index, exact in float32 up to 2**24 pixels
        np.copyto(v, np.float32(height * width), where=np.logical_not(inside, out=test))
        np.copyto(self.index, v.reshape(-1), casting='unsafe')
        np.multiply(depth_m.reshape(-1), self.inverse.reshape(-1), out=self.scale)
        return _Warp(self.index, self.scale, motion[:3, :3].T.astype(np.float32))


def _gather(state: np.ndarray, warp: _Warp | None, buffer: np.ndarray) -> np.ndarray:
    """Read a (..., P + 1) state at the current pixels' previous positions into (..., P)."""
    if warp is None:
        return state[..., : buffer.shape[-1]]
    return np.take(state, warp.index, axis=-1, out=buffer, mode='clip')


def _output(array: np.ndarray, dtype: type[np.generic], in_place: bool) -> np.ndarray:
    """Return a flat array for a result: ``array``'s own memory if allowed and possible."""
    if in_place and array.dtype == dtype and array.flags.c_contiguous and array.flags.writeable:
        return array.reshape(-1)
    return np.empty(array.size, dtype=dtype)


def _agreement(confidence: np.ndarray, count: np.ndarray, in_place: bool) -> np.ndarray:
    """Return ``1 - (1 - c) / n``: the decoder's doubt shared among n agreeing frames."""
    doubt = _output(confidence, np.float32, in_place)
    np.subtract(np.float32(1.0), confidence.reshape(-1), out=doubt)
    doubt /= count
    np.subtract(np.float32(1.0), doubt, out=doubt)
    return doubt.reshape(confidence.shape)


def _counted(
    count: np.ndarray, jump: np.ndarray, cap: np.ndarray, counted: np.ndarray, keep: np.ndarray
) -> None:
    """
    Count one more agreeing frame.

    :param count: (P,) float32 frames averaged so far.
    :param jump: (P,) bool pixels that restart.
    :param cap: (P,) float32 the window.
    :param counted: (P,) float32 out: the new counts (1 after a jump, else one more, at most
        the window).
    :param keep: (P,) float32 out: the weight of the old estimate, ``1 - 1 / counted``.
    """
    np.add(count, np.float32(1.0), out=counted)
    np.copyto(counted, np.float32(1.0), where=jump)
    np.minimum(counted, cap, out=counted)  # with an array: several times faster than a scalar
    np.divide(np.float32(1.0), counted, out=keep)
    np.subtract(np.float32(1.0), keep, out=keep)


# ---------------------------------------------------------------------------------------------
# Per-pixel filters
#
# Each keeps its state with one spare slot at the end that holds "nothing" (the warp points
# pixels without a previous position there), and allocates its work buffers once: on this
# class of machine a fresh 1 MB array costs more in page faults than the arithmetic on it.
# ``step`` computes a frame without touching the state; ``commit`` stores it.


class _DepthFilter:
    """
    Gated running mean of z-depth per pixel.

    State: ``estimate`` (P + 1,) float32 metres, 0 where none, and ``count`` (P + 1,) float32
    agreeing frames averaged. After ``step``: ``jump`` (P,) bool pixels reset (the new depth
    disagrees with the estimate and the colour changed, or there was no estimate; never where
    the new depth is invalid), ``counted`` (P,) their new counts, ``keep`` (P,) the weight of
    the old estimate (0 after a reset).
    """

    def __init__(self, depth_m: np.ndarray, window: int) -> None:
        pixels = depth_m.size
        self.estimate = np.zeros(pixels + 1, dtype=np.float32)
        self.count = np.zeros(pixels + 1, dtype=np.float32)
        self.cap = np.full(pixels, window, dtype=np.float32)
        self.zeros = np.zeros(pixels, dtype=np.float32)
        self.ones = np.ones(pixels, dtype=np.float32)
        self.prior, self.prior_count, self.counted, self.keep, self.change, self.work = (
            np.empty(pixels, dtype=np.float32) for _ in range(6)
        )
        self.jump = np.empty(pixels, dtype=bool)
        self.restart(depth_m)

    def restart(self, depth_m: np.ndarray) -> None:
        """Start afresh from one (H, W) frame."""
        self.commit(depth_m.reshape(-1), self.ones)

    def step(
        self,
        depth_m: np.ndarray,
        warp: _Warp | None,
        gate: float,
        changed: np.ndarray | None,
    ) -> float:
        """
        Filter one frame into the work buffers.

        :param depth_m: (H, W) float32 new depth, NaN invalid.
        :param warp: the correspondence, or None for the same pixels.
        :param gate: relative innovation that resets a pixel.
        :param changed: (P,) bool where the image shows another surface than before; only
            there may depth reset (None: anywhere).
        :return: the fraction of the pixels with an estimate and a new depth that jumped.
        """
        new = depth_m.reshape(-1)
        prior = _gather(self.estimate, warp, self.prior)
        if warp is not None:
            prior *= warp.scale  # the estimate's z-depth seen from the current camera
            np.fmax(prior, self.zeros, out=prior)  # no correspondence: NaN or 0 -> 0
        change = np.subtract(prior, new, out=self.change)  # the innovation; NaN: new invalid
        np.abs(change, out=self.work)
        np.multiply(new, np.float32(gate), out=self.keep)  # the bound, for now
        jump = np.greater(self.work, self.keep, out=self.jump)  # NaN compares False
        if changed is not None:
            jump &= changed
        sample = slice(None, None, FRACTION_STRIDE)
        has_prior = prior[sample] > 0
        compared = int(np.count_nonzero(has_prior & (new[sample] == new[sample])))
        jumped = int(np.count_nonzero(jump[sample] & has_prior))
        count = _gather(self.count, warp, self.prior_count)
        _counted(count, jump, self.cap, self.counted, self.keep)
        change *= self.keep  # keep * (prior - new): 0 after a jump
        return jumped / compared if compared else 0.0

    def smoothed(self, depth_m: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write new + keep (estimate - new) into ``out`` (P,): exactly new after a jump."""
        np.add(depth_m.reshape(-1), self.change, out=out)
        return out

    def commit(self, smoothed: np.ndarray, count: np.ndarray) -> None:
        """Store a frame's (P,) depth as the estimate (invalid pixels: none) and counts."""
        pixels = smoothed.size
        np.fmax(smoothed, self.zeros, out=self.estimate[:pixels])  # NaN -> 0
        self.count[:pixels] = count


class _NormalFilter:
    """
    Running mean of unit normals per pixel, renormalised.

    With depth smoothed too, normals take depth's weights and resets; on their own they are
    gated by angle. State: ``estimate`` (3, P + 1) float32 planar unit vectors in the optical
    frame, zero where none, and ``count`` (P + 1,) float32. After ``step``: ``counted`` (P,).
    """

    def __init__(self, normals: np.ndarray, window: int) -> None:
        pixels = normals.shape[0] * normals.shape[1]
        self.estimate = np.zeros((3, pixels + 1), dtype=np.float32)
        self.count = np.zeros(pixels + 1, dtype=np.float32)
        self.cap = np.full(pixels, window, dtype=np.float32)
        self.ones = np.ones(pixels, dtype=np.float32)
        self.prior, self.rotated, self.change = (
            np.empty((3, pixels), dtype=np.float32) for _ in range(3)
        )
        self.invalid = np.empty((3, pixels), dtype=bool)
        self.prior_count, self.counted, self.keep, self.cosine, self.term = (
            np.empty(pixels, dtype=np.float32) for _ in range(5)
        )
        self.jump = np.empty(pixels, dtype=bool)
        self.restart(normals)

    def restart(self, normals: np.ndarray) -> None:
        """Start afresh from one (H, W, 3) frame."""
        self.commit(_planes(normals), self.ones)

    def step(
        self,
        normals: np.ndarray,
        warp: _Warp | None,
        cos_gate: float,
        depth: _DepthFilter | None,
        changed: np.ndarray | None,
    ) -> None:
        """
        Filter one frame of (H, W, 3) normals into the work buffers.

        With ``depth`` (stepped on this frame) a pixel takes its weight and resets; without,
        it resets where the angle to the estimate exceeds the gate (if ``changed``, (P,) bool,
        says its colour changed too) or where there was no estimate.
        """
        new = _planes(normals)  # (3, P)
        prior = _gather(self.estimate, warp, self.prior)  # (3, P)
        if warp is not None:
            rotation, rotated = warp.rotation, self.rotated  # previous frame -> current
            for row in range(3):
                np.multiply(prior[0], rotation[row, 0], out=rotated[row])
                rotated[row] += np.multiply(prior[1], rotation[row, 1], out=self.term)
                rotated[row] += np.multiply(prior[2], rotation[row, 2], out=self.term)
            prior = rotated
        if depth is not None:
            self.counted[...] = depth.counted
            self.keep[...] = depth.keep
        else:
            cosine = np.multiply(prior[0], new[0], out=self.cosine)
            cosine += np.multiply(prior[1], new[1], out=self.term)
            cosine += np.multiply(prior[2], new[2], out=self.term)
            jump = np.less(cosine, np.float32(cos_gate), out=self.jump)  # also: no estimate
            if changed is not None:
                jump &= changed
            count = _gather(self.count, warp, self.prior_count)
            _counted(count, jump, self.cap, self.counted, self.keep)
        np.subtract(prior, new, out=self.change)
        self.change *= self.keep

    def smoothed(self, normals: np.ndarray, in_place: bool) -> np.ndarray:
        """Return (3, P) unit new + keep (estimate - new); NaN where the new normal is."""
        new = _planes(normals)
        planes = new if in_place and new.flags.writeable else np.empty_like(new)
        np.add(new, self.change, out=planes)
        length = np.multiply(planes[0], planes[0], out=self.cosine)
        length += np.multiply(planes[1], planes[1], out=self.term)
        length += np.multiply(planes[2], planes[2], out=self.term)
        np.sqrt(length, out=length)
        planes /= length
        return planes

    def commit(self, planes: np.ndarray, count: np.ndarray) -> None:
        """Store a frame's (3, P) normals (NaN: no estimate) and (P,) counts."""
        pixels = count.size
        estimate = self.estimate[:, :pixels]
        estimate[...] = planes
        np.copyto(estimate, np.float32(0.0), where=np.isnan(planes, out=self.invalid))
        self.count[:pixels] = count


def _planes(normals: np.ndarray) -> np.ndarray:
    """Return (H, W, 3) normals as (3, P) float32 planes (no copy for planar memory)."""
    height, width = normals.shape[:2]
    planes: np.ndarray = np.moveaxis(np.asarray(normals, dtype=np.float32), -1, 0)
    return planes.reshape(3, height * width)


class _Appearance:
    """
    Whether each pixel still shows the surface it showed: its colour, warped, then and now.

    State: ``colours`` (P + 1,) uint32, each pixel's ``R + G << 8 + B << 16``: one byte per
    channel and a top byte that is 0, except in the spare slot (0xff000000), so a pixel without
    a previous position always changed. After ``step``: ``changed`` (P,) bool.
    """

    def __init__(self, rgb: np.ndarray) -> None:
        pixels = rgb.shape[0] * rgb.shape[1]
        self.colours = np.zeros(pixels + 1, dtype=np.uint32)
        self.colours[-1] = 0xFF000000
        self.bytes = np.zeros(3 * pixels + 1, dtype=np.uint8)  # R G B R G B ... and one spare
        self.now = np.empty(pixels, dtype=np.uint32)
        self.prior = np.empty(pixels, dtype=np.uint32)
        self.high, self.low = (np.empty(4 * pixels, dtype=np.uint8) for _ in range(2))
        self.over = np.empty(4 * pixels, dtype=bool)
        self.changed = np.empty(pixels, dtype=bool)
        self.restart(rgb)

    def _pack(self, rgb: np.ndarray) -> np.ndarray:
        """Pack an (H, W, 3) uint8 image into ``now``, (P,) uint32 ``R + G << 8 + B << 16``."""
        np.copyto(self.bytes[:-1].reshape(rgb.shape), rgb)  # one pass, whatever the layout
        # Read 4 bytes at every third byte (unaligned little-endian words) and drop the 4th:
        # 6x faster than copying into an (H, W, 4) array.
        words = np.ndarray((self.now.size,), dtype='<u4', buffer=self.bytes, strides=(3,))
        np.bitwise_and(words, np.uint32(0xFFFFFF), out=self.now)
        return self.now

    def restart(self, rgb: np.ndarray) -> None:
        """Start afresh from one (H, W, 3) uint8 image."""
        self.colours[:-1] = self._pack(rgb)

    def step(self, rgb: np.ndarray, warp: _Warp | None, gate: float) -> float:
        """
        Compare one (H, W, 3) uint8 image with the last; return the fraction that changed.

        :param gate: change of R, G or B (8-bit levels) above which a pixel shows another
            surface.
        """
        now = self._pack(rgb).view(np.uint8)  # (4 P,) bytes
        prior = _gather(self.colours, warp, self.prior).view(np.uint8)
        np.maximum(now, prior, out=self.high)
        np.minimum(now, prior, out=self.low)
        self.high -= self.low  # |now - prior| per byte, no overflow
        np.greater(self.high, np.uint8(min(int(gate), 255)), out=self.over)
        changed: np.ndarray = np.not_equal(self.over.view(np.uint32), 0, out=self.changed)
        sample = changed[::FRACTION_STRIDE]
        return int(np.count_nonzero(sample)) / max(sample.size, 1)

    def commit(self) -> None:
        """Store the image of the last ``step``."""
        self.colours[:-1] = self.now


class _Vote:
    """
    Running vote of unsigned integer labels per pixel.

    State: ``labels`` (P + 1,) of the labels' dtype, and ``votes`` (P + 1,) int16, 0 in the
    spare slot. After ``step``: ``counted`` (P,) int16 the new votes.
    """

    def __init__(self, labels: np.ndarray, window: int) -> None:
        pixels = labels.size
        self.labels = np.zeros(pixels + 1, dtype=labels.dtype)
        self.votes = np.zeros(pixels + 1, dtype=np.int16)
        self.cap = np.full(pixels, window, dtype=np.int16)
        self.ones = np.ones(pixels, dtype=np.int16)
        self.prior_labels = np.empty(pixels, dtype=labels.dtype)
        self.prior_votes = np.empty(pixels, dtype=np.int16)
        self.counted = np.empty(pixels, dtype=np.int16)
        self.same = np.empty(pixels, dtype=bool)
        self.switch = np.empty(pixels, dtype=bool)
        self.restart(labels)

    def restart(self, labels: np.ndarray) -> None:
        """Start afresh from one (H, W) frame."""
        self.commit(labels.reshape(-1), self.ones)

    def step(
        self, labels: np.ndarray, warp: _Warp | None, reset: np.ndarray | None, in_place: bool
    ) -> np.ndarray:
        """
        Vote one frame of (H, W) labels in; return the (P,) voted labels.

        An agreeing frame adds a vote (up to the window), a disagreeing one takes one away; at
        none the new label takes over with one vote, as it does where ``reset`` ((P,) bool).
        """
        new = labels.reshape(-1)
        prior = _gather(self.labels, warp, self.prior_labels)
        same = np.equal(prior, new, out=self.same).view(np.int8)
        votes = np.subtract(_gather(self.votes, warp, self.prior_votes), 1, out=self.counted)
        votes += same
        votes += same
        np.minimum(votes, self.cap, out=votes)
        switch = np.less_equal(votes, 0, out=self.switch)
        if reset is not None:
            switch |= reset
        np.copyto(votes, np.int16(1), where=switch)
        voted = _output(labels, labels.dtype.type, in_place)
        if not np.may_share_memory(voted, new):
            np.copyto(voted, new)
        np.copyto(voted, prior, where=np.logical_not(switch, out=self.same))
        return voted

    def commit(self, labels: np.ndarray, votes: np.ndarray) -> None:
        """Store a frame's (P,) labels and votes."""
        pixels = labels.size
        self.labels[:pixels] = labels
        self.votes[:pixels] = votes


# ---------------------------------------------------------------------------------------------
# Instance tracks


@dataclass
class _Track:
    class_name: str
    missed: int = 0


class _Tracker:
    """
    Stable instance ids across frames by mask overlap.

    ``memory`` is the (hs * ws + 1,) uint16 track id image on the stride grid, where each live
    track was last seen (0 nothing; the spare last slot is 0).
    """

    def __init__(self, config: SmoothingConfig) -> None:
        self.config = config
        self.tracks: dict[int, _Track] = {}
        self.memory: np.ndarray | None = None
        self.remapped: np.ndarray | None = None
        self.next_id = 1

    def step(
        self,
        ids: np.ndarray,
        instances: tuple[InstanceMask, ...],
        warp: _Warp | None,
        in_place: bool,
    ) -> tuple[np.ndarray, tuple[InstanceMask, ...]]:
        """
        Give this frame's instances track ids.

        :param ids: (H, W) uint16 this frame's instance ids, 0 none.
        :param instances: the instances those ids index.
        :param warp: the correspondence with the previous frame, or None.
        :param in_place: write the track ids into ``ids``.
        :return: (H, W) uint16 track ids, and the instances renumbered, in id order.
        """
        stride = self.config.instance_stride_px
        grid = np.ascontiguousarray(ids[::stride, ::stride]).reshape(-1)  # (G,)
        cells = grid.size
        if self.memory is None or self.memory.size != cells + 1:
            self.memory = np.zeros(cells + 1, dtype=np.uint16)
        prior = self._previous(ids.shape, warp)  # (G,) track ids then
        frame_ids = [m.instance_id for m in instances]
        to_row = np.zeros(max([int(ids.max()), *frame_ids]) + 1, dtype=np.int64)
        to_row[frame_ids] = np.arange(1, len(frame_ids) + 1)
        current = to_row[grid]  # (G,) 1 + index into instances, 0 none
        live = list(self.tracks)
        track_row = np.zeros(max(live, default=0) + 1, dtype=np.int64)
        track_row[live] = np.arange(1, len(live) + 1)
        before = track_row[prior]
        cols = len(instances) + 1
        joint = np.bincount(before * cols + current, minlength=(len(live) + 1) * cols)
        joint = joint.reshape(len(live) + 1, cols)  # (T + 1, K + 1) cells
        matches = self._match(joint, live, instances)
        assigned = np.zeros(cols, dtype=np.uint16)  # row of an instance -> its track id
        for row, instance in enumerate(instances, start=1):
            if row in matches:
                track_id = matches[row]
                self.tracks[track_id].missed = 0
            else:
                track_id = self._new_id()
                self.tracks[track_id] = _Track(instance.class_name)
            assigned[row] = track_id
        seen = set(assigned[1:].tolist())
        for track_id in live:
            if track_id not in seen:
                self.tracks[track_id].missed += 1
                if self.tracks[track_id].missed > self.config.instance_max_missed:
                    del self.tracks[track_id]
        self._remember(assigned[current], prior, seen)
        by_value = assigned[to_row]  # instance id value -> track id
        renumbered = sorted(
            (replace(m, instance_id=int(by_value[m.instance_id])) for m in instances),
            key=lambda m: m.instance_id,
        )
        if np.array_equal(by_value, np.arange(by_value.size)):
            return ids, tuple(renumbered)  # the ids are the track ids already
        if not (in_place and ids.flags.writeable):
            return np.take(by_value, ids), tuple(renumbered)
        if self.remapped is None or self.remapped.shape != ids.shape:
            self.remapped = np.empty(ids.shape, dtype=np.uint16)
        np.copyto(ids, np.take(by_value, ids, out=self.remapped, mode='clip'))
        return ids, tuple(renumbered)

    def _previous(self, size: tuple[int, ...], warp: _Warp | None) -> np.ndarray:
        """Return the (G,) memory at the grid cells' previous positions."""
        assert self.memory is not None
        if warp is None:
            return self.memory[:-1]
        stride = self.config.instance_stride_px
        height, width = size
        rows, cols = -(-height // stride), -(-width // stride)
        source = warp.index.reshape(height, width)[::stride, ::stride].reshape(-1)
        row, col = np.divmod(source, width)
        cell = np.minimum((row + stride // 2) // stride, rows - 1) * cols
        cell += np.minimum((col + stride // 2) // stride, cols - 1)
        cell[source == height * width] = rows * cols  # the spare slot: nothing
        previous: np.ndarray = self.memory[cell]
        return previous

    def _match(
        self, joint: np.ndarray, live: list[int], instances: tuple[InstanceMask, ...]
    ) -> dict[int, int]:
        """Return instance row (1..K) -> track id, for pairs of one class overlapping enough."""
        if not live or not instances:
            return {}
        inter = joint[1:, 1:].astype(np.float64)  # (T, K)
        union = joint[1:, :].sum(1)[:, None] + joint[:, 1:].sum(0)[None, :] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        same_class = np.array(
            [[self.tracks[t].class_name == m.class_name for m in instances] for t in live]
        )
        iou *= same_class
        rows, cols = linear_sum_assignment(iou, maximize=True)
        return {
            int(k) + 1: live[int(t)]
            for t, k in zip(rows, cols, strict=True)
            if iou[t, k] >= self.config.instance_iou
        }

    def _remember(self, now: np.ndarray, prior: np.ndarray, seen: set[int]) -> None:
        """Keep where tracks are now; unseen live tracks keep where they were, if uncovered."""
        assert self.memory is not None
        keep = np.zeros(max(int(prior.max(initial=0)), 0) + 1, dtype=np.uint16)
        for track_id in self.tracks:
            if track_id not in seen and track_id < keep.size:
                keep[track_id] = 1
        held = prior * keep[prior]
        self.memory[:-1] = np.where(now > 0, now, held)

    def _new_id(self) -> int:
        while self.next_id in self.tracks:
            self.next_id = self.next_id % MAX_TRACK_ID + 1
        track_id = self.next_id
        self.next_id = self.next_id % MAX_TRACK_ID + 1
        return track_id


# ---------------------------------------------------------------------------------------------
# The smoother


class TemporalSmoother:
    """
    Smooths the results of one camera, frame after frame (one smoother per camera).

    Example::

        smoother = TemporalSmoother(SmoothingConfig())
        for frame in frames:
            result = smoother.update(pipeline_result, frame.intrinsics, T_prev_curr)

    :ivar config: the settings.
    :ivar restarted: why the last ``update`` started the filters afresh ('first frame',
        'size change', 'ego-motion'), or '' if it smoothed.
    """

    def __init__(self, config: SmoothingConfig | None = None) -> None:
        """
        Start with no history.

        :param config: the settings; None for the defaults.
        """
        self.config = config or SmoothingConfig()
        self.restarted = ''
        self.reset()

    def reset(self) -> None:
        """Forget every frame: the next one passes through, and instance ids start at 1."""
        self._size: tuple[int, int] | None = None
        self._warper: _Warper | None = None
        self._appearance: _Appearance | None = None
        self._depth: _DepthFilter | None = None
        self._normals: _NormalFilter | None = None
        self._semantic: _Vote | None = None
        self._semantic_classes: tuple[str, ...] = ()
        self._referring: dict[str, _Vote] = {}
        self._tracker = _Tracker(self.config)

    def update(
        self,
        result: PerceptionResult,
        intrinsics: CameraIntrinsics | None = None,
        motion: np.ndarray | None = None,
        *,
        rgb: np.ndarray | None = None,
        in_place: bool = False,
    ) -> PerceptionResult:
        """
        Smooth one frame with the ones before it.

        :param result: this frame's perception, at the camera's resolution (H, W).
        :param intrinsics: the camera's intrinsics for H x W, or None (no warp then).
        :param motion: (4, 4) T_prev_curr, the camera's motion since the previous frame given
            to this smoother: points in the current optical frame -> the previous one, metres
            (from TF). None when unknown: ego-motion is then detected and restarts the filters.
            Used only with intrinsics and depth.
        :param rgb: (H, W, 3) uint8 the camera image the result came from: where its colour
            holds, depth jumps are flicker and get averaged; None: every depth jump resets.
        :param in_place: write the smoothed values into ``result``'s own arrays where their
            dtype allows, instead of new ones: faster (no fresh memory to fault in), for callers
            that drop the raw result, as ``Pipeline`` does.
        :return: a new result: smoothed ``depth_m`` and ``normals``, voted semantic labels and
            referring masks, confidences raised by agreement, instance ids replaced by stable
            track ids (in ``instance_ids`` and every ``InstanceMask``), and ``cloud`` None
            (build it from the smoothed arrays). Other fields are passed through.
        :raises ValueError: on a malformed motion, or intrinsics for another size.
        """
        if not self.config.enabled:
            return result
        transform = check_motion(motion)
        size = (int(result.size[0]), int(result.size[1]))
        if intrinsics is not None and (intrinsics.height, intrinsics.width) != size:
            raise ValueError(
                f'intrinsics are for {intrinsics.width}x{intrinsics.height}, '
                f'the result is {size[1]}x{size[0]}'
            )
        with np.errstate(divide='ignore', invalid='ignore'):  # NaN and inf are handled
            if size != self._size:
                reason = 'first frame' if self._size is None else 'size change'
                self.reset()
                self._size = size
                return self._start(result, reason, rgb, in_place)
            warp = None
            if transform is not None and intrinsics is not None and result.depth_m is not None:
                if self._warper is None:
                    self._warper = _Warper(size)
                depth = np.asarray(result.depth_m, dtype=np.float32)
                warp = self._warper.warp(depth, intrinsics, transform)
            return self._smooth(result, warp, rgb, in_place)

    def _start(
        self, result: PerceptionResult, reason: str, rgb: np.ndarray | None, in_place: bool
    ) -> PerceptionResult:
        """Restart every per-pixel filter from this frame; pass it through (ids tracked)."""
        self.restarted = reason
        window, votes = self.config.depth_window, self.config.label_window
        if rgb is None or self.config.colour_gate <= 0:
            self._appearance = None
        elif self._appearance is None:
            self._appearance = _Appearance(rgb)
        else:
            self._appearance.restart(rgb)
        if result.depth_m is None:
            self._depth = None
        elif self._depth is None:
            self._depth = _DepthFilter(np.asarray(result.depth_m, np.float32), window)
        else:
            self._depth.restart(np.asarray(result.depth_m, np.float32))
        if result.normals is None or not self.config.normals:
            self._normals = None
        elif self._normals is None:
            self._normals = _NormalFilter(result.normals, window)
        else:
            self._normals.restart(result.normals)
        semantic = result.semantic
        if semantic is None:
            self._semantic = None
        elif self._semantic is None or self._semantic.labels.dtype != semantic.labels.dtype:
            self._semantic = _Vote(semantic.labels, votes)
        else:
            self._semantic.restart(semantic.labels)
        self._semantic_classes = () if semantic is None else semantic.class_names
        referring = {}
        for mask in result.referring:
            vote = self._referring.get(mask.expression)
            if vote is None:
                vote = _Vote(mask.mask.view(np.uint8), votes)
            else:
                vote.restart(mask.mask.view(np.uint8))
            referring[mask.expression] = vote
        self._referring = referring
        return self._track(result, None, {'cloud': None}, in_place)

    def _smooth(
        self,
        result: PerceptionResult,
        warp: _Warp | None,
        rgb: np.ndarray | None,
        in_place: bool,
    ) -> PerceptionResult:
        config = self.config
        with_colour = rgb is not None and config.colour_gate > 0
        if self._tasks(result) != self._tasks_kept() or with_colour != (
            self._appearance is not None
        ):
            return self._start(result, 'new task', rgb, in_place)
        changes: dict[str, object] = {'cloud': None}
        changed = None
        guessing = warp is None  # no known motion: a frame that changed a lot is ego-motion
        if rgb is not None and self._appearance is not None:
            fraction = self._appearance.step(rgb, warp, config.colour_gate)
            if guessing and fraction > config.motion_reset_fraction:
                return self._start(result, 'ego-motion', rgb, in_place)
            changed = self._appearance.changed
        jump = None
        depth_filter = self._depth
        if result.depth_m is not None and depth_filter is not None:
            depth = np.asarray(result.depth_m, dtype=np.float32)
            fraction = depth_filter.step(depth, warp, config.depth_gate, changed)
            if guessing and changed is None and fraction > config.motion_reset_fraction:
                return self._start(result, 'ego-motion', rgb, in_place)
            jump = depth_filter.jump
            smoothed = depth_filter.smoothed(depth, _output(depth, np.float32, in_place))
            depth_filter.commit(smoothed, depth_filter.counted)
            changes['depth_m'] = smoothed.reshape(depth.shape)
            if result.depth_confidence is not None:
                changes['depth_confidence'] = _agreement(
                    result.depth_confidence, depth_filter.counted, in_place
                )
        normal_filter = self._normals
        if result.normals is not None and normal_filter is not None:
            cos_gate = math.cos(math.radians(config.normals_gate_deg))
            normal_filter.step(result.normals, warp, cos_gate, depth_filter, changed)
            planes = normal_filter.smoothed(result.normals, in_place)
            normal_filter.commit(planes, normal_filter.counted)
            changes['normals'] = planes.reshape(3, *result.size).transpose(1, 2, 0)
            if result.normals_confidence is not None:
                changes['normals_confidence'] = _agreement(
                    result.normals_confidence, normal_filter.counted, in_place
                )
        semantic, vote = result.semantic, self._semantic
        if semantic is not None and vote is not None:
            labels = vote.step(semantic.labels, warp, jump, in_place)
            vote.commit(labels, vote.counted)
            changes['semantic'] = replace(
                semantic,
                labels=labels.reshape(semantic.labels.shape),
                confidence=_agreement(semantic.confidence, vote.counted, in_place),
            )
        changes['referring'] = tuple(
            self._vote_referring(m, warp, jump, in_place) for m in result.referring
        )
        if self._appearance is not None:
            self._appearance.commit()
        self.restarted = ''
        return self._track(result, warp, changes, in_place)

    def _tasks(self, result: PerceptionResult) -> tuple[object, ...]:
        """Return what a result holds that the filters keep state for."""
        return (
            result.depth_m is not None,
            result.normals is not None and self.config.normals,
            None if result.semantic is None else result.semantic.class_names,
            tuple(m.expression for m in result.referring),
        )

    def _tasks_kept(self) -> tuple[object, ...]:
        """Return what the filters keep state for, as ``_tasks`` puts it."""
        return (
            self._depth is not None,
            self._normals is not None,
            None if self._semantic is None else self._semantic_classes,
            tuple(self._referring),
        )

    def _vote_referring(
        self, mask: ReferringMask, warp: _Warp | None, jump: np.ndarray | None, in_place: bool
    ) -> ReferringMask:
        vote = self._referring[mask.expression]
        voted = vote.step(mask.mask.view(np.uint8), warp, jump, in_place)
        vote.commit(voted, vote.counted)
        inside = voted.reshape(mask.mask.shape).view(bool)
        return replace(
            mask,
            mask=inside,
            area_px=int(np.count_nonzero(inside)),
            confidence=_agreement(mask.confidence, vote.counted, in_place),
        )

    def _track(
        self,
        result: PerceptionResult,
        warp: _Warp | None,
        changes: dict[str, object],
        in_place: bool,
    ) -> PerceptionResult:
        if result.instance_ids is not None:
            ids, instances = self._tracker.step(
                result.instance_ids, result.instances, warp, in_place
            )
            changes['instance_ids'] = ids
            changes['instances'] = instances
        return replace(result, **changes)  # type: ignore[arg-type]
