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
Short sequences of one scene for temporal tests: a moving camera, or objects sliding along.

Each function returns one ``Scene`` per frame, the first being the input scene itself. Camera
paths leave every object where it is (``camera_orbit``, ``camera_dolly``); ``moving_objects``
leaves the camera and all but a few graspable objects where they are. Frame k gets its own sensor
noise (``noise_seed`` = the scene's plus k), as a real camera's noise changes every frame.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
import math

import numpy as np
from vision_banana_ros.synth.catalog import GRASPABLE
from vision_banana_ros.synth.edits import fits, moved
from vision_banana_ros.synth.layout import Camera, Scene

__all__ = ['camera_dolly', 'camera_orbit', 'moving_objects', 'random_camera_path']

ROOM_MARGIN_M = 0.1
"""How close a camera may come to the room's walls, floor and ceiling."""
OBJECT_MARGIN_M = 0.05
"""How close a camera may come to an object's bounding box."""


def camera_orbit(
    scene: Scene, frames: int, *, angle_deg: float = 20.0, pivot_m: float | None = None
) -> list[Scene]:
    """
    Swing the camera about a vertical axis through a point it looks at, at constant speed.

    The point stays at the same pixel in every frame; the camera keeps its height and tilt.

    :param scene: the first frame.
    :param frames: how many frames (>= 2).
    :param angle_deg: total swing, positive counter-clockwise seen from above.
    :param pivot_m: distance along the optical axis of the point to orbit (default: the median
        z-depth of the object centres in view, 1.5 m if there are none).
    :return: ``frames`` scenes.
    :raises ValueError: if the camera would leave the room or enter an object.
    """
    _check_frames(frames)
    pose = scene.camera.T_world_camera
    distance = _default_pivot_m(scene) if pivot_m is None else pivot_m
    if distance <= 0:
        raise ValueError(f'pivot_m must be > 0, got {pivot_m}')
    pivot = pose[:3, 3] + distance * pose[:3, 2]
    poses = []
    for step in range(frames):
        angle = math.radians(angle_deg) * step / (frames - 1)
        cos, sin = math.cos(angle), math.sin(angle)
        turn = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        new = pose.copy()
        new[:3, :3] = turn @ pose[:3, :3]
        new[:3, 3] = pivot + turn @ (pose[:3, 3] - pivot)
        poses.append(new)
    return _with_poses(scene, poses)


def camera_dolly(
    scene: Scene, frames: int, *, offset_m: tuple[float, float, float] = (0.0, 0.0, 0.3)
) -> list[Scene]:
    """
    Slide the camera in a straight line at constant speed, keeping its orientation.

    :param scene: the first frame.
    :param frames: how many frames (>= 2).
    :param offset_m: total motion in the first frame's optical frame (x right, y down, z
        forward): (0, 0, 0.3) dollies 30 cm in, (0.2, 0, 0) trucks 20 cm right.
    :return: ``frames`` scenes.
    :raises ValueError: if the camera would leave the room or enter an object.
    """
    _check_frames(frames)
    pose = scene.camera.T_world_camera
    motion = pose[:3, :3] @ np.asarray(offset_m, dtype=float)  # world frame
    poses = []
    for step in range(frames):
        new = pose.copy()
        new[:3, 3] = pose[:3, 3] + motion * step / (frames - 1)
        poses.append(new)
    return _with_poses(scene, poses)


def random_camera_path(
    scene: Scene, frames: int, rng: np.random.Generator, *, attempts: int = 20
) -> list[Scene]:
    """
    Draw an orbit (5-30 degrees either way) or a dolly (10-40 cm any way) that stays valid.

    :param scene: the first frame.
    :param frames: how many frames (>= 2).
    :param rng: draws the path.
    :param attempts: how many paths to try.
    :return: ``frames`` scenes.
    :raises ValueError: if none of the attempts keeps the camera in the room and clear of objects.
    """
    _check_frames(frames)
    for _ in range(attempts):
        try:
            if rng.random() < 0.5:
                angle = float(rng.uniform(5.0, 30.0) * rng.choice([-1.0, 1.0]))
                return camera_orbit(scene, frames, angle_deg=angle)
            direction = rng.normal(size=3)
            direction *= rng.uniform(0.1, 0.4) / np.linalg.norm(direction)
            x, y, z = (float(v) for v in direction)
            return camera_dolly(scene, frames, offset_m=(x, y, z))
        except ValueError:
            continue
    raise ValueError(f'no camera path of {attempts} tried stays in scene {scene.seed}')


def moving_objects(
    scene: Scene,
    frames: int,
    rng: np.random.Generator,
    *,
    count: int = 1,
    distance_m: tuple[float, float] = (0.08, 0.25),
    candidate_ids: Collection[int] | None = None,
) -> list[Scene]:
    """
    Slide ``count`` graspable objects in straight lines along their surfaces, easing in and out.

    Every frame is checked: each moving object stays on its support and clear of every other
    object, moving or not (``edits.fits``).

    :param scene: the first frame.
    :param frames: how many frames (>= 2).
    :param rng: picks the objects, directions and distances.
    :param count: how many objects move (fewer where fewer can).
    :param distance_m: (low, high) of each object's total travel.
    :param candidate_ids: the objects that may move (e.g. the ones in view); default: any.
    :return: ``frames`` scenes.
    :raises ValueError: if no object can move.
    """
    _check_frames(frames)
    if count < 1 or not 0 < distance_m[0] <= distance_m[1]:
        raise ValueError(f'need count >= 1 and 0 < low <= high, got {count}, {distance_m}')
    supporting = {o.support for o in scene.objects}
    movable = [
        o.instance_id
        for o in scene.objects
        if o.class_name in GRASPABLE
        and o.instance_id not in supporting
        and (candidate_ids is None or o.instance_id in candidate_ids)
    ]
    ease = [_smoothstep(step / (frames - 1)) for step in range(frames)]
    paths: dict[int, np.ndarray] = {}  # instance id -> (2,) total xy travel
    for position in rng.permutation(len(movable)):
        if len(paths) == count:
            break
        instance_id = movable[int(position)]
        for _ in range(8):
            heading = rng.uniform(-math.pi, math.pi)
            travel = rng.uniform(*distance_m) * np.array([math.cos(heading), math.sin(heading)])
            trial = {**paths, instance_id: travel}
            if all(_fits_all(_frame(scene, trial, s, 0), trial) for s in ease[1:]):
                paths[instance_id] = travel
                break
    if not paths:
        raise ValueError(f'no graspable object of scene {scene.seed} can move')
    return [scene, *(_frame(scene, paths, s, k) for k, s in enumerate(ease[1:], start=1))]


def _smoothstep(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def _frame(scene: Scene, paths: dict[int, np.ndarray], progress: float, index: int) -> Scene:
    """Return frame ``index``, every moving object ``progress`` (0..1) along its path."""
    for instance_id, travel in paths.items():
        x, y, _ = scene.find(instance_id).position_m
        scene = moved(scene, instance_id, (x + progress * travel[0], y + progress * travel[1]))
    return replace(scene, noise_seed=scene.noise_seed + index)


def _fits_all(scene: Scene, paths: dict[int, np.ndarray]) -> bool:
    return all(fits(scene, instance_id) for instance_id in paths)


def _check_frames(frames: int) -> None:
    if frames < 2:
        raise ValueError(f'frames must be >= 2, got {frames}')


def _default_pivot_m(scene: Scene) -> float:
    """Return the median z-depth of the object centres in the image (1.5 m if none)."""
    camera = scene.camera
    pose = camera.T_world_camera
    depths = []
    for obj in scene.objects:
        x, y, z = obj.position_m
        local = (np.array([x, y, z + obj.size_m[2] / 2]) - pose[:3, 3]) @ pose[:3, :3]
        if local[2] > 0.1:
            u, v, _ = camera.K @ (local / local[2])
            if 0 <= u < camera.width and 0 <= v < camera.height:
                depths.append(local[2])
    return float(np.median(depths)) if depths else 1.5


def _with_poses(scene: Scene, poses: list[np.ndarray]) -> list[Scene]:
    """Return one scene per camera pose, each checked to keep the camera somewhere free."""
    for index, pose in enumerate(poses):
        problem = _camera_problem(scene, pose[:3, 3])
        if problem:
            raise ValueError(f'frame {index}: the camera would {problem}')
    camera = scene.camera
    return [
        scene
        if index == 0
        else replace(
            scene,
            camera=Camera(camera.K, pose, camera.width, camera.height),
            noise_seed=scene.noise_seed + index,
        )
        for index, pose in enumerate(poses)
    ]


def _camera_problem(scene: Scene, eye: np.ndarray) -> str:
    """Return why a camera cannot be at ``eye`` ('' if it can)."""
    if scene.room_size_m is not None:
        room_w, room_d, room_h = scene.room_size_m
        half = np.array([room_w / 2, room_d / 2]) - ROOM_MARGIN_M
        if np.any(np.abs(eye[:2]) > half) or not ROOM_MARGIN_M < eye[2] < room_h - ROOM_MARGIN_M:
            return 'leave the room'
    for obj in scene.objects:
        if obj.size_m[2] <= 0:
            continue  # the floor's material holder
        offset = eye - np.array(obj.position_m)
        cos, sin = math.cos(obj.yaw), math.sin(obj.yaw)
        along = np.array([cos * offset[0] + sin * offset[1], -sin * offset[0] + cos * offset[1]])
        half_w, half_d = obj.size_m[0] / 2, obj.size_m[1] / 2
        inside = (
            abs(along[0]) < half_w + OBJECT_MARGIN_M
            and abs(along[1]) < half_d + OBJECT_MARGIN_M
            and -OBJECT_MARGIN_M < offset[2] < obj.size_m[2] + OBJECT_MARGIN_M
        )
        if inside:
            return f'enter object {obj.instance_id} ({obj.class_name or "shape"})'
    return ''
