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

"""What the pipeline returns for one camera frame: numpy arrays at the camera's resolution."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from vision_banana_ros.geometry import CameraIntrinsics, OrganisedCloud

__all__ = [
    'CameraFrame',
    'GeneratedImage',
    'InstanceMask',
    'PerceptionResult',
    'ReferringMask',
    'SemanticLabels',
]


@dataclass(frozen=True, eq=False)
class CameraFrame:
    """
    One camera image and what is known about it.

    :ivar rgb: (H, W, 3) uint8 RGB (convert BGR camera images first).
    :ivar intrinsics: the image's pinhole intrinsics, or None (no point cloud then).
    :ivar stamp_ns: acquisition time in nanoseconds (ROS header stamp), passed through.
    :ivar frame_id: the camera's optical frame (REP 103: x right, y down, z forward); temporal
        smoothing keeps one history per frame id.
    :ivar motion: (4, 4) float T_prev_curr, the camera's rigid motion since the previous frame
        of this ``frame_id`` the pipeline processed: it maps points in this frame's optical
        frame into the previous one's, in metres (tf2: ``lookup_transform(frame_id at the
        previous stamp, frame_id at this stamp)`` through a fixed frame such as ``odom``).
        None when unknown: smoothing then detects ego-motion and restarts instead of warping.
    """

    rgb: np.ndarray
    intrinsics: CameraIntrinsics | None = None
    stamp_ns: int = 0
    frame_id: str = ''
    motion: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class GeneratedImage:
    """
    One image the generator drew, before decoding (for debugging and contact sheets).

    :ivar task: 'depth', 'normals', 'semantic', 'instance' or 'referring'.
    :ivar prompt: the prompt sent.
    :ivar rgb: (h, w, 3) uint8 at model resolution, padding included; the first sample.
    """

    task: str
    prompt: str
    rgb: np.ndarray


@dataclass(frozen=True, eq=False)
class SemanticLabels:
    """
    Semantic segmentation of one frame.

    :ivar labels: (H, W) uint16; 0 unlabelled, i >= 1 is ``class_names[i - 1]``.
    :ivar class_names: the classes in label order.
    :ivar colours: (N, 3) uint8, the colour each class was drawn in.
    :ivar confidence: (H, W) float32 in [0, 1].
    """

    labels: np.ndarray
    class_names: tuple[str, ...]
    colours: np.ndarray
    confidence: np.ndarray


@dataclass(frozen=True, eq=False)
class InstanceMask:
    """
    One object instance.

    :ivar class_name: the class the instance prompt named.
    :ivar instance_id: id in ``PerceptionResult.instance_ids``: 1..K within this frame, or with
        temporal smoothing a track id that stays with the object from frame to frame.
    :ivar mask: (H, W) bool.
    :ivar area_px: pixels in ``mask``.
    :ivar colour: (3,) uint8 the colour the generator drew it in.
    """

    class_name: str
    instance_id: int
    mask: np.ndarray
    area_px: int
    colour: np.ndarray


@dataclass(frozen=True, eq=False)
class ReferringMask:
    """
    The object a referring expression picks out (possibly nothing).

    :ivar expression: the expression.
    :ivar mask: (H, W) bool.
    :ivar area_px: pixels in ``mask``; 0 when the expression matched nothing.
    :ivar confidence: (H, W) float32 in [0, 1].
    """

    expression: str
    mask: np.ndarray
    area_px: int
    confidence: np.ndarray


@dataclass(frozen=True, eq=False)
class PerceptionResult:
    """
    Everything decoded for one frame, at the camera's resolution, in its optical frame.

    Confidences are in [0, 1]: the decoder's distance to the codebook, times the agreement of
    the samples when several were drawn, raised by agreement over recent frames when smoothing
    (``1 - (1 - c) / n`` for n agreeing frames). Spreads are None with one sample.

    :ivar stamp_ns: the input frame's stamp.
    :ivar frame_id: the input frame's id.
    :ivar size: (H, W).
    :ivar depth_m: (H, W) float32 z-depth in metres, NaN invalid; None if not asked.
    :ivar depth_confidence: (H, W) float32, or None.
    :ivar depth_spread: (H, W) float32 relative std of the depth samples, or None.
    :ivar normals: (H, W, 3) float32 unit normals, optical frame, NaN invalid; or None.
    :ivar normals_confidence: (H, W) float32, or None.
    :ivar normals_spread_deg: (H, W) float32 mean angle of the samples to their mean, or None.
    :ivar semantic: the semantic labels, or None.
    :ivar instance_ids: (H, W) uint16 instance ids over all instance classes, 0 none; or None.
        With temporal smoothing, track ids stable across frames.
    :ivar instances: the instances, id order.
    :ivar referring: one per configured expression, config order.
    :ivar cloud: organised labelled point cloud (when intrinsics were given and depth asked).
    :ivar generated: the raw generator images, one per prompt (first sample).
    :ivar timings_ms: stage -> milliseconds ('letterbox', 'generate', 'decode', 'cleanup',
        'resize', 'smooth', 'cloud', 'total').
    :ivar backend: the backend's one-line description.
    """

    stamp_ns: int
    frame_id: str
    size: tuple[int, int]
    depth_m: np.ndarray | None = None
    depth_confidence: np.ndarray | None = None
    depth_spread: np.ndarray | None = None
    normals: np.ndarray | None = None
    normals_confidence: np.ndarray | None = None
    normals_spread_deg: np.ndarray | None = None
    semantic: SemanticLabels | None = None
    instance_ids: np.ndarray | None = None
    instances: tuple[InstanceMask, ...] = ()
    referring: tuple[ReferringMask, ...] = ()
    cloud: OrganisedCloud | None = None
    generated: tuple[GeneratedImage, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    backend: str = ''
