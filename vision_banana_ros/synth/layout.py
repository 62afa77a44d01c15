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
Sample scenes: rooms, tabletops and FlyingThings-style object soup, deterministic per seed.

A ``Scene`` is plain data (objects with their attributes, camera, lights, sensor), so it can be
inspected, edited (``edits``) and described in words (``text``) before ``batch_scenes``
turns a list of scenes into the tensors the renderer draws. World frame: z up, metres, the
room's floor at z = 0 and its centre at the origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import math
from typing import Literal

import numpy as np
import torch
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.synth.catalog import (
    class_id,
    CLASSES,
    COLOURS,
    footprint_radius_m,
    GRASPABLE,
    ObjectClass,
    Part,
    shelf_levels_m,
)
from vision_banana_ros.synth.scene import Kind, Lights, Primitives, SceneBatch, Sensor
from vision_banana_ros.synth.textures import TextureBank

__all__ = ['Camera', 'Light', 'Scene', 'SceneMode', 'SceneObject', 'batch_scenes', 'sample_scene']

SceneMode = Literal['room', 'tabletop', 'soup']

ROOM_INSTANCE = 1
"""Instance id of the room's first face; its six faces take ids 1..6, objects start at 7."""
_FIRST_OBJECT_INSTANCE = 7
_BY_NAME = {c.name: c for c in CLASSES}

Vec3 = tuple[float, float, float]


def _vec3(values: Sequence[float] | np.ndarray) -> Vec3:
    """Three plain floats from any 3-sequence (numpy scalars would leak into dataclasses)."""
    x, y, z = (float(v) for v in values)
    return x, y, z


@dataclass(frozen=True)
class SceneObject:
    """
    One object: what it is, where, and how it looks.

    :ivar instance_id: id in the instance image.
    :ivar class_name: semantic class ('' for object-soup shapes, which have no class).
    :ivar colour_name: key of ``COLOURS`` describing its base colour.
    :ivar position_m: (x, y, z) world position of its footprint centre (z = its support height).
    :ivar size_m: (w, d, h) footprint width, depth and height.
    :ivar yaw: rotation about world z, radians.
    :ivar parts: its solids in the object frame.
    :ivar colour: linear RGB base colour.
    :ivar texture: texture bank index, -1 for none.
    :ivar texture_scale_m: metres per texture tile.
    :ivar texture_mix: how strongly the texture modulates the colour.
    :ivar shininess: Blinn-Phong exponent, 0 for matte.
    :ivar support: instance id of what it stands on; 0 for the floor or nothing.
    :ivar colour_is_named: whether ``colour_name`` describes what a person sees (False for
        objects wrapped in a photographic print, whose colour is the print's).
    """

    instance_id: int
    class_name: str
    colour_name: str
    position_m: tuple[float, float, float]
    size_m: tuple[float, float, float]
    yaw: float
    parts: tuple[Part, ...]
    colour: tuple[float, float, float]
    texture: int = -1
    texture_scale_m: float = 0.5
    texture_mix: float = 0.0
    shininess: float = 0.0
    support: int = 0
    colour_is_named: bool = True


@dataclass(frozen=True)
class Camera:
    """
    A pinhole camera.

    :ivar K: (3, 3) intrinsics in pixels for (height, width).
    :ivar T_world_camera: (4, 4) optical frame -> world.
    :ivar width: columns.
    :ivar height: rows.
    """

    K: np.ndarray
    T_world_camera: np.ndarray
    width: int
    height: int

    @property
    def intrinsics(self) -> CameraIntrinsics:
        """Return the camera's pinhole intrinsics at its image size."""
        K = self.K
        fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
        return CameraIntrinsics(fx, fy, cx, cy, self.width, self.height)


@dataclass(frozen=True)
class Light:
    """
    A point light.

    :ivar position_m: world position.
    :ivar intensity: linear RGB intensity.
    :ivar casts_shadow: whether it gets a shadow map.
    """

    position_m: tuple[float, float, float]
    intensity: tuple[float, float, float]
    casts_shadow: bool


@dataclass(frozen=True)
class Scene:
    """
    One frame's scene, fully determined by its seed.

    :ivar seed: the seed it was sampled from.
    :ivar mode: 'room', 'tabletop' or 'soup'.
    :ivar objects: every object, the room's own surfaces excepted.
    :ivar room_size_m: (w, d, h) of the room, or None (object soup).
    :ivar room_colour: linear RGB of the walls and ceiling.
    :ivar room_texture: texture index of the walls, -1 for none.
    :ivar camera: the camera.
    :ivar lights: point lights.
    :ivar ambient: linear RGB ambient light.
    :ivar exposure: exposure multiplier on top of auto exposure.
    :ivar blur_sigma_px: camera blur.
    :ivar noise_std: read noise on [0, 1] intensities.
    :ivar noise_seed: seed of the frame's sensor noise (the scene seed unless a sequence of
        frames of one scene sets its own per frame).
    :ivar tags: free-form numbers a caller attaches (e.g. a trajectory's frame index).
    """

    seed: int
    mode: SceneMode
    objects: tuple[SceneObject, ...]
    room_size_m: tuple[float, float, float] | None
    room_colour: tuple[float, float, float]
    room_texture: int
    camera: Camera
    lights: tuple[Light, ...]
    ambient: tuple[float, float, float]
    exposure: float
    blur_sigma_px: float
    noise_std: float
    noise_seed: int = -1
    tags: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.noise_seed < 0:
            object.__setattr__(self, 'noise_seed', self.seed)

    def find(self, instance_id: int) -> SceneObject:
        """
        Return the object with an instance id.

        :raises KeyError: if there is none.
        """
        for obj in self.objects:
            if obj.instance_id == instance_id:
                return obj
        raise KeyError(f'scene {self.seed} has no object with instance id {instance_id}')


def sample_scene(
    seed: int,
    width: int,
    height: int,
    mode: SceneMode | None = None,
    bank: TextureBank | None = None,
) -> Scene:
    """
    Sample a scene; the same seed always gives the same scene.

    :param seed: non-negative integer.
    :param width: image columns (any aspect; intrinsics follow).
    :param height: image rows.
    :param mode: 'room', 'tabletop', 'soup', or None to draw one (45 %, 35 %, 20 %).
    :param bank: the texture bank whose indices the scene uses (default: ``texture_bank()``).
    :return: the scene.
    """
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    if width < 8 or height < 8:
        raise ValueError(f'image must be at least 8x8, got {width}x{height}')
    from vision_banana_ros.synth.textures import texture_bank

    bank = bank or texture_bank()
    rng = np.random.default_rng(seed)
    chosen: SceneMode = mode or rng.choice(['room', 'tabletop', 'soup'], p=[0.45, 0.35, 0.2])
    if chosen == 'soup':
        return _soup(seed, rng, width, height, bank)
    return _room(seed, rng, width, height, bank, tabletop=chosen == 'tabletop')


def _texture_choice(
    rng: np.random.Generator, cls: ObjectClass, bank: TextureBank
) -> tuple[int, float]:
    if cls.textured == 'photo' and rng.random() < 0.7:
        return int(rng.choice(bank.photo)), float(rng.uniform(0.6, 0.9))
    if rng.random() < 0.6:
        return int(rng.choice(bank.detail)), float(rng.uniform(0.2, 0.6))
    return -1, 0.0


def _make_object(
    rng: np.random.Generator,
    cls: ObjectClass,
    instance_id: int,
    position: tuple[float, float, float],
    yaw: float,
    bank: TextureBank,
    size: np.ndarray | None = None,
    support: int = 0,
) -> SceneObject:
    if size is None:
        size = np.array([rng.uniform(lo, hi) for lo, hi in cls.size_m])
    if cls.build(size)[0].kind in (Kind.CYLINDER, Kind.SPHERE, Kind.BOWL) and cls.name != 'laptop':
        size[1] = size[0]  # round things have a round footprint
    colour_name = str(rng.choice(cls.colours))
    texture, mix = _texture_choice(rng, cls, bank)
    jitter = rng.uniform(0.85, 1.15, 3)
    colour = _vec3(np.clip(np.array(COLOURS[colour_name]) * jitter, 0, 1))
    scale = float(max(size[:2].max(), 0.1) if texture in bank.photo else rng.uniform(0.2, 1.0))
    return SceneObject(
        instance_id=instance_id,
        class_name=cls.name,
        colour_name=colour_name,
        position_m=position,
        size_m=(float(size[0]), float(size[1]), float(size[2])),
        yaw=yaw,
        parts=tuple(cls.build(size)),
        colour=colour,
        texture=texture,
        texture_scale_m=scale,
        texture_mix=mix,
        shininess=float(rng.choice([0.0, 8.0, 32.0, 96.0])),
        support=support,
        colour_is_named=texture not in bank.photo,
    )


def _room(
    seed: int,
    rng: np.random.Generator,
    width: int,
    height: int,
    bank: TextureBank,
    *,
    tabletop: bool,
) -> Scene:
    room_w, room_d, room_h = rng.uniform(3.0, 7.0), rng.uniform(3.0, 8.0), rng.uniform(2.4, 3.0)
    objects: list[SceneObject] = []
    next_id = _FIRST_OBJECT_INSTANCE
    floor_taken: list[tuple[float, float, float]] = []  # (x, y, radius) on the floor

    def place_on_floor(radius: float, near_wall: bool) -> tuple[float, float, float] | None:
        for _ in range(40):
            if near_wall:
                side = int(rng.integers(4))
                along = rng.uniform(-0.5, 0.5)
                half_w, half_d = room_w / 2 - radius - 0.02, room_d / 2 - radius - 0.02
                x, y, yaw = [
                    (along * 2 * half_w, half_d, 0.0),
                    (along * 2 * half_w, -half_d, math.pi),
                    (half_w, along * 2 * half_d, -math.pi / 2),
                    (-half_w, along * 2 * half_d, math.pi / 2),
                ][side]
            else:
                # Keep 0.6 m free around it where the room allows, else whatever the room has.
                free_x = max(room_w / 2 - radius - 0.6, room_w / 2 - radius - 0.05, 0.0)
                free_y = max(room_d / 2 - radius - 0.6, room_d / 2 - radius - 0.05, 0.0)
                x, y = rng.uniform(-free_x, free_x), rng.uniform(-free_y, free_y)
                yaw = rng.uniform(-math.pi, math.pi)
            if all(math.hypot(x - ox, y - oy) > radius + r for ox, oy, r in floor_taken):
                floor_taken.append((x, y, radius))
                return x, y, yaw
        return None

    def add(cls_name: str, near_wall: bool, size: np.ndarray | None = None) -> SceneObject | None:
        nonlocal next_id
        cls = _BY_NAME[cls_name]
        size = (
            size if size is not None else np.array([rng.uniform(lo, hi) for lo, hi in cls.size_m])
        )
        spot = place_on_floor(footprint_radius_m(size) * (0.75 if near_wall else 1.0), near_wall)
        if spot is None:
            return None
        x, y, yaw = spot
        if near_wall:  # back against the wall: pull the footprint flush with it
            inward = np.array([-math.sin(yaw), math.cos(yaw)])
            x, y = np.array([x, y]) + inward * (footprint_radius_m(size) * 0.75 - size[1] / 2)
        obj = _make_object(rng, cls, next_id, (float(x), float(y), 0.0), yaw, bank, size)
        next_id += 1
        objects.append(obj)
        return obj

    # The floor's material: an EMPTY part right after the room (see scene.Kind).
    floor_texture = int(rng.choice(bank.detail))
    floor_colour = str(rng.choice(_BY_NAME['floor'].colours))
    tables = [
        t
        for t in (add('table', False) for _ in range(1 if tabletop else int(rng.integers(1, 3))))
        if t
    ]
    for _ in range(int(rng.integers(1, 5))):
        add(str(rng.choice(['shelf', 'cabinet', 'sofa', 'door', 'bin', 'shelf'])), True)
    for table in tables:
        for _ in range(int(rng.integers(0, 4))):
            _chair_at(rng, table, objects, bank, next_id)
            next_id += 1
    supports = [(t, t.size_m[2]) for t in tables]
    for shelf in (o for o in objects if o.class_name == 'shelf'):
        supports += [(shelf, level) for level in shelf_levels_m(shelf.size_m[2])]
    for support, top in supports:
        on_table = support in tables
        fewest = 5 if tabletop and on_table else 2 if on_table else 0
        count = int(rng.integers(fewest, 12 if tabletop and on_table else 6))
        for obj in _scatter_on(rng, support, top, count, next_id, bank):
            objects.append(obj)
            next_id += 1
    for _ in range(int(rng.integers(0, 3))):
        add(str(rng.choice(['ball', 'box', 'bin'])), False)

    target_obj = (
        tables[0]
        if tables and (tabletop or rng.random() < 0.7)
        else objects[int(rng.integers(len(objects)))]
    )
    camera = _room_camera(rng, width, height, (room_w, room_d, room_h), target_obj, tabletop)
    lights = _room_lights(rng, (room_w, room_d, room_h), camera)
    floor = SceneObject(
        instance_id=ROOM_INSTANCE + 5,  # the room's floor face id: one floor instance
        class_name='floor',
        colour_name=floor_colour,
        position_m=(0.0, 0.0, 0.0),
        size_m=(room_w, room_d, 0.0),
        yaw=0.0,
        parts=(Part(Kind.EMPTY, (0.0, 0.0, 0.0), (room_w / 2, room_d / 2, 0.0)),),
        colour=_vec3(np.array(COLOURS[floor_colour]) * rng.uniform(0.8, 1.1)),
        texture=floor_texture,
        texture_scale_m=float(rng.uniform(0.4, 1.5)),
        texture_mix=float(rng.uniform(0.5, 1.0)),
        shininess=float(rng.choice([0.0, 16.0])),
    )
    wall_colour = np.array(COLOURS[str(rng.choice(_BY_NAME['wall'].colours))]) * rng.uniform(
        0.8, 1.1, 3
    )
    return Scene(
        seed=seed,
        mode='tabletop' if tabletop else 'room',
        objects=(floor, *objects),
        room_size_m=(room_w, room_d, room_h),
        room_colour=_vec3(np.clip(wall_colour, 0, 1)),
        room_texture=int(rng.choice(bank.detail)) if rng.random() < 0.6 else -1,
        camera=camera,
        lights=lights,
        ambient=_vec3(rng.uniform(0.05, 0.15) * rng.uniform(0.85, 1.0, 3)),
        exposure=float(rng.uniform(0.6, 1.4)),
        blur_sigma_px=float(rng.choice([0.0, 0.0, rng.uniform(0.3, 1.5)])),
        noise_std=float(rng.uniform(0.002, 0.02)),
    )


def _chair_at(
    rng: np.random.Generator,
    table: SceneObject,
    objects: list[SceneObject],
    bank: TextureBank,
    instance_id: int,
) -> None:
    w, d, _ = table.size_m
    side = int(rng.integers(4))
    offset = [(0, -d / 2 - 0.3), (0, d / 2 + 0.3), (-w / 2 - 0.3, 0), (w / 2 + 0.3, 0)][side]
    facing = [0.0, math.pi, -math.pi / 2, math.pi / 2][
        side
    ]  # chair's front (-y) towards the table
    cos, sin = math.cos(table.yaw), math.sin(table.yaw)
    x = table.position_m[0] + cos * offset[0] - sin * offset[1] + rng.uniform(-0.15, 0.15)
    y = table.position_m[1] + sin * offset[0] + cos * offset[1] + rng.uniform(-0.15, 0.15)
    yaw = table.yaw + facing + math.pi + rng.uniform(-0.3, 0.3)
    objects.append(_make_object(rng, _BY_NAME['chair'], instance_id, (x, y, 0.0), yaw, bank))


def _scatter_on(
    rng: np.random.Generator,
    support: SceneObject,
    top_m: float,
    count: int,
    first_id: int,
    bank: TextureBank,
) -> list[SceneObject]:
    """Place up to ``count`` graspable objects on a support's surface at height ``top_m``."""
    w, d, _ = support.size_m
    margin = 0.04
    placed: list[SceneObject] = []
    taken: list[tuple[float, float, float]] = []
    for _ in range(count * 6):
        if len(placed) == count:
            break
        cls = _BY_NAME[str(rng.choice(GRASPABLE))]
        size = np.array([rng.uniform(lo, hi) for lo, hi in cls.size_m])
        if support.class_name == 'shelf':
            size = np.minimum(size, [w, d * 0.9, 0.3])
        radius = footprint_radius_m(size)
        if 2 * (radius + margin) >= min(w, d):
            continue
        lx = rng.uniform(-w / 2 + radius + margin, w / 2 - radius - margin)
        ly = rng.uniform(-d / 2 + radius + margin, d / 2 - radius - margin)
        if any(math.hypot(lx - x, ly - y) < radius + r for x, y, r in taken):
            continue
        taken.append((lx, ly, radius))
        cos, sin = math.cos(support.yaw), math.sin(support.yaw)
        x = support.position_m[0] + cos * lx - sin * ly
        y = support.position_m[1] + sin * lx + cos * ly
        yaw = float(rng.uniform(-math.pi, math.pi))
        placed.append(
            _make_object(
                rng,
                cls,
                first_id + len(placed),
                (x, y, top_m),
                yaw,
                bank,
                size,
                support.instance_id,
            )
        )
    return placed


def look_at(eye: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """
    Camera pose looking from ``eye`` at ``target`` with image up roughly world +z.

    :param eye: (3,) world position.
    :param target: (3,) world point on the optical axis.
    :param roll: rotation about the optical axis, radians.
    :return: (4, 4) T_world_camera for the REP 103 optical frame.
    """
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    up = np.array([0.0, 0.0, 1.0]) if abs(forward[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    cos, sin = math.cos(roll), math.sin(roll)
    right, down = cos * right + sin * down, -sin * right + cos * down
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


def intrinsics_for(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """
    Random pinhole intrinsics with a horizontal field of view of 45-100 degrees.

    :return: (3, 3) K for (height, width).
    """
    hfov = math.radians(rng.uniform(45.0, 100.0))
    fx = width / 2 / math.tan(hfov / 2)
    fy = fx * rng.uniform(0.98, 1.02)
    cx = (width - 1) / 2 + rng.uniform(-0.02, 0.02) * width
    cy = (height - 1) / 2 + rng.uniform(-0.02, 0.02) * height
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _room_camera(
    rng: np.random.Generator,
    width: int,
    height: int,
    room: tuple[float, float, float],
    target_obj: SceneObject,
    tabletop: bool,
) -> Camera:
    room_w, room_d, room_h = room
    tx, ty, tz = target_obj.position_m
    target = np.array(
        [tx, ty, tz + (target_obj.size_m[2] if tabletop else target_obj.size_m[2] * 0.6)]
    )
    target[:2] += rng.uniform(-0.2, 0.2, 2)
    limit = np.array([room_w / 2 - 0.3, room_d / 2 - 0.3])
    for _ in range(50):
        if tabletop:
            distance = rng.uniform(0.5, 1.3)
            angle = rng.uniform(-math.pi, math.pi)
            eye = np.array(
                [
                    tx + distance * math.cos(angle),
                    ty + distance * math.sin(angle),
                    target[2] + rng.uniform(0.25, 0.8),
                ]
            )
        else:
            eye = np.array([*rng.uniform(-limit, limit), rng.uniform(0.5, 1.7)])
        if np.all(np.abs(eye[:2]) < limit) and np.linalg.norm(eye[:2] - target[:2]) > 0.4:
            break
    eye[2] = min(eye[2], room_h - 0.2)
    pose = look_at(eye, target, roll=float(rng.uniform(-0.08, 0.08)))
    return Camera(intrinsics_for(rng, width, height), pose, width, height)


def _room_lights(
    rng: np.random.Generator, room: tuple[float, float, float], camera: Camera
) -> tuple[Light, ...]:
    room_w, room_d, room_h = room
    warmth = rng.uniform(0.0, 0.25)
    tint = np.array([1.0, 1.0 - warmth * 0.5, 1.0 - warmth])
    # One or two ceiling lights that cast shadows, and a weaker fill light near the camera.
    lights = []
    for _ in range(1 if rng.random() < 0.7 else 2):
        corner = rng.uniform([-room_w / 3, -room_d / 3], [room_w / 3, room_d / 3])
        position = (*corner, room_h - 0.15)
        lights.append(Light(_vec3(position), _vec3(rng.uniform(3.0, 9.0) * tint), True))
    eye = camera.T_world_camera[:3, 3]
    fill = eye + rng.uniform(-1.0, 1.0, 3) + np.array([0.0, 0.0, 0.5])
    fill[2] = min(fill[2], room_h - 0.1)
    power = rng.uniform(0.3, 1.5)
    lights.append(Light(_vec3(fill), _vec3(power * tint), False))
    return tuple(lights)


_SOUP_SHAPES = (Kind.BOX, Kind.BOX, Kind.CYLINDER, Kind.SPHERE, Kind.BOWL)


def _soup(
    seed: int, rng: np.random.Generator, width: int, height: int, bank: TextureBank
) -> Scene:
    K = intrinsics_for(rng, width, height)
    pose = look_at(
        np.zeros(3), np.array([0.0, 1.0, rng.uniform(-0.3, 0.3)]), float(rng.uniform(-0.2, 0.2))
    )
    rotation = pose[:3, :3]
    objects = []
    # Photographic backdrop: a wall-sized box far away, facing the camera.
    far = float(rng.uniform(6.0, 40.0))
    half_w = far * width / K[0, 0] * 0.6 + 1.0
    half_h = far * height / K[1, 1] * 0.6 + 1.0
    centre = rotation @ np.array([0.0, 0.0, far + 0.5])
    backdrop_yaw = math.atan2(-rotation[0, 2], rotation[1, 2])
    objects.append(
        SceneObject(
            instance_id=_FIRST_OBJECT_INSTANCE,
            class_name='',
            colour_name='white',
            position_m=(float(centre[0]), float(centre[1]), float(centre[2] - half_h)),
            size_m=(2 * half_w, 1.0, 2 * half_h),
            yaw=backdrop_yaw,
            parts=(Part(Kind.BOX, (0.0, 0.0, half_h), (half_w, 0.5, half_h)),),
            colour=(0.8, 0.8, 0.8),
            texture=int(rng.choice(bank.photo)),
            texture_scale_m=float(2 * max(half_w, half_h) / rng.uniform(1.0, 4.0)),
            texture_mix=1.0,
        )
    )
    for index in range(int(rng.integers(8, 30))):
        depth = float(np.exp(rng.uniform(math.log(0.4), math.log(min(far - 1.0, 15.0)))))
        u, v = rng.uniform(-0.1, 1.1) * width, rng.uniform(-0.1, 1.1) * height
        ray = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
        centre = rotation @ (ray * depth)
        kind = _SOUP_SHAPES[int(rng.integers(len(_SOUP_SHAPES)))]
        size = depth * rng.uniform(0.04, 0.4) * np.array([1.0, *rng.uniform(0.3, 1.5, 2)])
        if kind != Kind.BOX:
            size[1] = size[0]
            size[2] = size[0] if kind != Kind.CYLINDER else size[2]
        colour_name = str(rng.choice(list(COLOURS)))
        photo = rng.random() < 0.5
        texture = int(rng.choice(bank.photo if photo else bank.detail))
        objects.append(
            SceneObject(
                instance_id=_FIRST_OBJECT_INSTANCE + 1 + index,
                class_name='',
                colour_name=colour_name,
                position_m=(float(centre[0]), float(centre[1]), float(centre[2] - size[2] / 2)),
                size_m=(float(size[0]), float(size[1]), float(size[2])),
                yaw=float(rng.uniform(-math.pi, math.pi)),
                parts=(Part(kind, (0.0, 0.0, float(size[2] / 2)), _vec3(size / 2)),),
                colour=_vec3(
                    np.clip(np.array(COLOURS[colour_name]) * rng.uniform(0.8, 1.2, 3), 0, 1)
                ),
                texture=texture,
                texture_scale_m=float(size.max() * rng.uniform(0.5, 2.0)),
                texture_mix=float(rng.uniform(0.7, 1.0) if photo else rng.uniform(0.2, 0.8)),
                shininess=float(rng.choice([0.0, 16.0, 64.0])),
            )
        )
    light_dir = rotation @ np.array([rng.uniform(-2, 2), rng.uniform(-3, -1), 0.0])
    lights = (
        Light(_vec3(light_dir), (6.0, 6.0, 6.0), True),
        Light(_vec3(rotation @ np.array([0.0, 0.0, -1.0])), (2.0, 2.0, 2.0), False),
    )
    return Scene(
        seed=seed,
        mode='soup',
        objects=tuple(objects),
        room_size_m=None,
        room_colour=(0.0, 0.0, 0.0),
        room_texture=-1,
        camera=Camera(K, pose, width, height),
        lights=lights,
        ambient=(0.25, 0.25, 0.25),
        exposure=float(rng.uniform(0.6, 1.4)),
        blur_sigma_px=float(rng.choice([0.0, rng.uniform(0.3, 1.2)])),
        noise_std=float(rng.uniform(0.002, 0.02)),
    )


def batch_scenes(scenes: Sequence[Scene], device: torch.device | str = 'cpu') -> SceneBatch:
    """
    Turn scenes of one resolution into the padded tensors the renderer draws.

    :param scenes: B scenes, all with the same camera resolution.
    :param device: where the tensors live.
    :return: the batch.
    :raises ValueError: if the scenes are empty or differ in resolution.
    """
    if not scenes:
        raise ValueError('scenes is empty')
    sizes = {(s.camera.width, s.camera.height) for s in scenes}
    if len(sizes) != 1:
        raise ValueError(f'scenes must share one resolution, got {sorted(sizes)}')

    def tensor(rows: Sequence[Sequence[object]], fill: object, dtype: type) -> torch.Tensor:
        """Pad per-scene lists to the longest with ``fill`` and stack them: (B, N, ...)."""
        longest = max(len(r) for r in rows)
        padded = [list(r) + [fill] * (longest - len(r)) for r in rows]
        return torch.as_tensor(np.array(padded, dtype=dtype), device=device)

    parts = [_primitive_rows(scene) for scene in scenes]
    column = {name: [[row[name] for row in rows] for rows in parts] for name in _ROW_FILL}
    primitives = Primitives(
        **{name: tensor(column[name], fill, _ROW_DTYPE[name]) for name, fill in _ROW_FILL.items()}
    )
    lights = [scene.lights for scene in scenes]
    return SceneBatch(
        primitives=primitives,
        lights=Lights(
            position=tensor([[x.position_m for x in ls] for ls in lights], (0.0,) * 3, np.float32),
            intensity=tensor([[x.intensity for x in ls] for ls in lights], (0.0,) * 3, np.float32),
            casts_shadow=tensor([[x.casts_shadow for x in ls] for ls in lights], False, np.bool_),
            ambient=torch.tensor([s.ambient for s in scenes], device=device),
        ),
        sensor=Sensor(
            exposure=torch.tensor([s.exposure for s in scenes], device=device),
            blur_sigma_px=torch.tensor([s.blur_sigma_px for s in scenes], device=device),
            noise_std=torch.tensor([s.noise_std for s in scenes], device=device),
            seed=torch.tensor([s.noise_seed for s in scenes], device=device),
        ),
        K=torch.tensor(np.stack([s.camera.K for s in scenes]), dtype=torch.float32, device=device),
        T_world_camera=torch.tensor(
            np.stack([s.camera.T_world_camera for s in scenes]), dtype=torch.float32, device=device
        ),
        height=scenes[0].camera.height,
        width=scenes[0].camera.width,
    )


_ROW_FILL: dict[str, object] = {
    'kind': int(Kind.EMPTY),
    'centre': (0.0, 0.0, 0.0),
    'half_size': (1.0, 1.0, 1.0),
    'yaw': 0.0,
    'colour': (0.0, 0.0, 0.0),
    'texture': -1,
    'texture_scale_m': 1.0,
    'texture_mix': 0.0,
    'shininess': 0.0,
    'class_id': 0,
    'instance_id': 0,
}
_ROW_DTYPE: dict[str, type] = {
    name: np.int64 if isinstance(fill, int) else np.float32 for name, fill in _ROW_FILL.items()
}


def _primitive_rows(scene: Scene) -> list[dict[str, object]]:
    """One dict per solid, keyed like ``Primitives``' fields; the room first."""
    rows: list[dict[str, object]] = []
    if scene.room_size_m is not None:
        w, d, h = scene.room_size_m
        rows.append(
            {
                'kind': int(Kind.ROOM),
                'centre': (0.0, 0.0, h / 2),
                'half_size': (w / 2, d / 2, h / 2),
                'yaw': 0.0,
                'colour': scene.room_colour,
                'texture': scene.room_texture,
                'texture_scale_m': 1.0,
                'texture_mix': 0.5 if scene.room_texture >= 0 else 0.0,
                'shininess': 0.0,
                'class_id': class_id('wall'),
                'instance_id': ROOM_INSTANCE,
            }
        )
    for obj in scene.objects:
        cos, sin = math.cos(obj.yaw), math.sin(obj.yaw)
        for part in obj.parts:
            px, py, pz = part.centre
            rows.append(
                {
                    'kind': int(part.kind),
                    'centre': (
                        obj.position_m[0] + cos * px - sin * py,
                        obj.position_m[1] + sin * px + cos * py,
                        obj.position_m[2] + pz,
                    ),
                    'half_size': part.half_size,
                    'yaw': obj.yaw + part.yaw,
                    'colour': tuple(min(1.0, c * part.shade) for c in obj.colour),
                    'texture': obj.texture,
                    'texture_scale_m': obj.texture_scale_m,
                    'texture_mix': obj.texture_mix,
                    'shininess': obj.shininess,
                    'class_id': class_id(obj.class_name) if obj.class_name else 0,
                    'instance_id': obj.instance_id,
                }
            )
    return rows
