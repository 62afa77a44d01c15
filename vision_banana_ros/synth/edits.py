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
Image-editing pairs: a scene, an instruction, and the scene the instruction asks for.

An edit changes the scene graph, never pixels: recolour an object ("make the red mug blue"),
remove one ("remove the bowl"), move one along the surface it stands on ("move the bottle to the
left"), or change the light ("make the room warmer", "turn off the lamp"). Both scenes render
with the same renderer, so the pair differs exactly where the instruction says, up to the
camera's auto exposure (render.py) and, for removals and moves, the shadows the object cast.
Objects are named with ``text.describe``, so every instruction picks out one object.

Placement is judged on footprints: rectangles of an object's (w, d) turned by its yaw, padded by
``FOOTPRINT_PAD_M`` (a mug's handle). An object fits where its footprint lies on its support's
surface and overlaps no other footprint on that surface. ``trajectory`` moves objects with the
same test.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
import math
from typing import get_args, Literal, TypeVar

import numpy as np
import torch
from vision_banana_ros.synth.catalog import COLOURS, GRASPABLE
from vision_banana_ros.synth.layout import Scene, SceneObject
from vision_banana_ros.synth.text import confusable, describe, STRUCTURE_CLASSES

__all__ = [
    'Direction',
    'Edit',
    'EditKind',
    'LightChange',
    'fits',
    'move',
    'moved',
    'recolour',
    'relight',
    'remove',
    'sample_edit',
]

EditKind = Literal['recolour', 'remove', 'move', 'relight']
Direction = Literal['left', 'right', 'closer', 'farther']
LightChange = Literal['darker', 'brighter', 'warmer', 'cooler', 'off']

FOOTPRINT_PAD_M = 0.025
"""Padding around every footprint: handles and rims reach beyond (w, d)."""
EDGE_MARGIN_M = 0.03
"""How far inside its support's edge (or the room's walls) a footprint must stay."""
MIN_SHIFT = 0.03
"""A move must shift the object's image centre by this fraction of the image width (or, towards
or away from the camera, its depth by 10 %)."""

_KINDS: tuple[EditKind, ...] = get_args(EditKind)
_KIND_WEIGHTS = (0.3, 0.25, 0.25, 0.2)
_DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
_LIGHT_CHANGES: tuple[LightChange, ...] = get_args(LightChange)
_WARM = (1.0, 0.8, 0.58)
_COOL = (0.62, 0.8, 1.0)
_RECOLOUR = ('make {} {}', 'paint {} {}', 'turn {} {}', 'change the colour of {} to {}')
_REMOVE = ('remove {}', 'take away {}', 'get rid of {}', 'delete {}')
_MOVE: dict[Direction, tuple[str, ...]] = {
    'left': ('move {} to the left', 'slide {} to the left', 'push {} a bit to the left'),
    'right': ('move {} to the right', 'slide {} to the right', 'push {} a bit to the right'),
    'closer': ('move {} closer', 'bring {} closer to the camera', 'pull {} towards the camera'),
    'farther': ('move {} further away', 'push {} away from the camera', 'move {} back'),
}
_RELIGHT: dict[LightChange, tuple[str, ...]] = {
    'darker': ('make the {} darker', 'darken the {}', 'dim the lights'),
    'brighter': ('make the {} brighter', 'brighten the {}', 'make the {} lighter'),
    'warmer': ('make the light warmer', 'give the {} a warmer light', 'make the {} look warmer'),
    'cooler': ('make the light cooler', 'give the {} a colder light', 'make the {} look cooler'),
    'off': ('turn off the {}', 'switch off the {}'),
}
_T = TypeVar('_T')


@dataclass(frozen=True)
class Edit:
    """
    An image-editing pair.

    :ivar kind: 'recolour', 'remove', 'move' or 'relight'.
    :ivar instruction: what to do, e.g. 'make the red mug blue'.
    :ivar source: the scene before.
    :ivar edited: the scene after (same camera, same sensor noise).
    :ivar instance_id: the object edited; 0 for a change of light.
    """

    kind: EditKind
    instruction: str
    source: Scene
    edited: Scene
    instance_id: int = 0


def _pick(options: Sequence[_T], rng: np.random.Generator | None) -> _T:
    return options[0] if rng is None else options[int(rng.integers(len(options)))]


def _uniform(low: float, high: float, rng: np.random.Generator | None) -> float:
    return (low + high) / 2 if rng is None else float(rng.uniform(low, high))


def _replace_object(scene: Scene, obj: SceneObject) -> Scene:
    objects = tuple(obj if o.instance_id == obj.instance_id else o for o in scene.objects)
    return replace(scene, objects=objects)


def recolour(
    scene: Scene,
    instance_id: int,
    colour_name: str,
    visible_ids: Collection[int],
    rng: np.random.Generator | None = None,
    *,
    instances: torch.Tensor | np.ndarray | None = None,
) -> Edit | None:
    """
    Paint an object in another colour of ``COLOURS``.

    :param scene: the source scene.
    :param instance_id: the object.
    :param colour_name: its new colour; must differ clearly from its colour now.
    :param visible_ids: ids in view (``text.visible_instances``).
    :param rng: picks the wording; None: the first.
    :param instances: the source frame's instance image, if rendered (see ``text.describe``).
    :return: the edit, or None if the object cannot be named unambiguously.
    :raises ValueError: for an unknown colour or one too close to the object's own.
    """
    if colour_name not in COLOURS:
        raise ValueError(f'unknown colour {colour_name!r}; known: {", ".join(COLOURS)}')
    obj = scene.find(instance_id)
    if colour_name == obj.colour_name or confusable(colour_name, obj.colour_name):
        raise ValueError(f'{colour_name} is too close to the object colour {obj.colour_name}')
    name = describe(scene, instance_id, visible_ids, rng, instances=instances)
    if name is None:
        return None
    painted = replace(obj, colour_name=colour_name, colour=COLOURS[colour_name])
    instruction = _pick(_RECOLOUR, rng).format(name, colour_name)
    return Edit('recolour', instruction, scene, _replace_object(scene, painted), instance_id)


def remove(
    scene: Scene,
    instance_id: int,
    visible_ids: Collection[int],
    rng: np.random.Generator | None = None,
    *,
    instances: torch.Tensor | np.ndarray | None = None,
) -> Edit | None:
    """
    Take an object out of the scene.

    :param scene: the source scene.
    :param instance_id: the object; nothing may stand on it.
    :param visible_ids: ids in view.
    :param rng: picks the wording.
    :param instances: see ``recolour``.
    :return: the edit, or None if something stands on the object or it cannot be named.
    """
    scene.find(instance_id)
    if any(o.support == instance_id for o in scene.objects):
        return None
    name = describe(scene, instance_id, visible_ids, rng, instances=instances)
    if name is None:
        return None
    kept = tuple(o for o in scene.objects if o.instance_id != instance_id)
    instruction = _pick(_REMOVE, rng).format(name)
    return Edit('remove', instruction, scene, replace(scene, objects=kept), instance_id)


def move(
    scene: Scene,
    instance_id: int,
    direction: Direction,
    visible_ids: Collection[int],
    rng: np.random.Generator | None = None,
    *,
    distance_m: float | None = None,
    instances: torch.Tensor | np.ndarray | None = None,
) -> Edit | None:
    """
    Slide an object along its support surface, as seen from the camera.

    'left' and 'right' follow the image's x axis, 'closer' and 'farther' the optical axis, both
    laid flat on the surface. The object must still fit there, stay in view and visibly move.

    :param scene: the source scene.
    :param instance_id: the object; nothing may stand on it.
    :param direction: 'left', 'right', 'closer' or 'farther'.
    :param visible_ids: ids in view.
    :param rng: picks the distance (0.1-0.3 m for graspable objects, 0.3-0.8 m for furniture,
        shortened down to half where the first does not fit) and the wording.
    :param distance_m: the distance instead.
    :param instances: see ``recolour``.
    :return: the edit, or None where no such move fits or the object cannot be named.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f'direction must be one of {_DIRECTIONS}, got {direction!r}')
    obj = scene.find(instance_id)
    if any(o.support == instance_id for o in scene.objects):
        return None
    axis = _image_axis(scene, direction)
    if axis is None:
        return None
    if distance_m is None:
        low, high = (0.1, 0.3) if obj.class_name in GRASPABLE else (0.3, 0.8)
        distance_m = _uniform(low, high, rng)
    x, y, _ = obj.position_m
    for fraction in (1.0, 0.75, 0.5):
        step = axis * distance_m * fraction
        edited = moved(scene, instance_id, (x + float(step[0]), y + float(step[1])))
        if fits(edited, instance_id) and _shows_move(scene, edited, instance_id, direction):
            name = describe(scene, instance_id, visible_ids, rng, instances=instances)
            if name is None:
                return None
            instruction = _pick(_MOVE[direction], rng).format(name)
            return Edit('move', instruction, scene, edited, instance_id)
    return None


def relight(
    scene: Scene, change: LightChange, rng: np.random.Generator | None = None
) -> Edit | None:
    """
    Change the light; the geometry stays exactly as it was.

    'darker' and 'brighter' scale the camera's exposure (auto exposure would undo dimmer
    lights), 'warmer' and 'cooler' tint every light, 'off' turns off the ceiling lights (the
    fill light near the camera stays).

    :param scene: the source scene.
    :param change: 'darker', 'brighter', 'warmer', 'cooler' or 'off'.
    :param rng: picks the strength and the wording.
    :return: the edit; None for 'off' outside rooms or without a ceiling light to spare.
    """
    if change not in _LIGHT_CHANGES:
        raise ValueError(f'change must be one of {_LIGHT_CHANGES}, got {change!r}')
    place = 'room' if scene.room_size_m is not None else 'scene'
    if change in ('darker', 'brighter'):
        factor = _uniform(0.35, 0.55, rng) if change == 'darker' else _uniform(1.6, 2.2, rng)
        edited = replace(scene, exposure=scene.exposure * factor)
    elif change in ('warmer', 'cooler'):
        tint = np.array(_WARM if change == 'warmer' else _COOL)
        lights = tuple(
            replace(light, intensity=_tinted(light.intensity, tint)) for light in scene.lights
        )
        edited = replace(scene, lights=lights, ambient=_tinted(scene.ambient, tint))
    else:
        ceiling = [light for light in scene.lights if light.casts_shadow]
        kept = tuple(light for light in scene.lights if not light.casts_shadow)
        if scene.room_size_m is None or not ceiling or not kept:
            return None
        place = 'lamp' if len(ceiling) == 1 else 'ceiling lights'
        # Auto exposure would brighten what the fill light still shows: dim the camera too.
        edited = replace(scene, lights=kept, exposure=scene.exposure * _uniform(0.4, 0.6, rng))
    instruction = _pick(_RELIGHT[change], rng).format(place)
    return Edit('relight', instruction, scene, edited)


def _tinted(rgb: Sequence[float], tint: np.ndarray) -> tuple[float, float, float]:
    r, g, b = (float(v) for v in np.asarray(rgb) * tint)
    return r, g, b


def sample_edit(
    scene: Scene,
    visible_ids: Collection[int],
    rng: np.random.Generator,
    *,
    instances: torch.Tensor | np.ndarray | None = None,
    kinds: Collection[EditKind] = _KINDS,
) -> Edit:
    """
    Draw an edit of a visible object, or of the light where no object edit works.

    :param scene: the source scene.
    :param visible_ids: ids in view; the edited object is one of them.
    :param rng: draws the kind (30 % recolour, 25 % remove, 25 % move, 20 % relight), the target,
        its new colour or direction, and the wording.
    :param instances: see ``recolour``.
    :param kinds: the kinds to draw from; a light change is the fallback whatever they are.
    :return: the edit.
    """
    unknown = set(kinds) - set(_KINDS)
    if unknown or not kinds:
        raise ValueError(f'kinds must be a non-empty subset of {_KINDS}, got {sorted(kinds)}')
    weights = np.array(
        [w if k in kinds else 0.0 for k, w in zip(_KINDS, _KIND_WEIGHTS, strict=True)]
    )
    order = rng.choice(len(_KINDS), size=len(set(kinds)), replace=False, p=weights / weights.sum())
    targets = [
        o.instance_id
        for o in scene.objects
        if o.instance_id in visible_ids and o.class_name and o.class_name not in STRUCTURE_CLASSES
    ]
    for kind in (_KINDS[int(k)] for k in order):
        if kind == 'relight':
            edit = _sample_relight(scene, rng)
            if edit is not None:
                return edit
            continue
        for position in rng.permutation(len(targets))[:6]:
            edit = _sample_object_edit(
                scene, kind, targets[int(position)], visible_ids, rng, instances
            )
            if edit is not None:
                return edit
    edit = _sample_relight(scene, rng)
    assert edit is not None, 'darker, brighter, warmer and cooler always apply'
    return edit


def _sample_relight(scene: Scene, rng: np.random.Generator) -> Edit | None:
    for change in rng.permutation(_LIGHT_CHANGES):
        edit = relight(scene, change, rng)
        if edit is not None:
            return edit
    return None


def _sample_object_edit(
    scene: Scene,
    kind: EditKind,
    instance_id: int,
    visible_ids: Collection[int],
    rng: np.random.Generator,
    instances: torch.Tensor | np.ndarray | None,
) -> Edit | None:
    if kind == 'recolour':
        current = scene.find(instance_id).colour_name
        options = [c for c in COLOURS if c != current and not confusable(c, current)]
        return recolour(
            scene, instance_id, _pick(options, rng), visible_ids, rng, instances=instances
        )
    if kind == 'remove':
        return remove(scene, instance_id, visible_ids, rng, instances=instances)
    direction = _pick(_DIRECTIONS, rng)
    return move(scene, instance_id, direction, visible_ids, rng, instances=instances)


def moved(scene: Scene, instance_id: int, xy: tuple[float, float]) -> Scene:
    """
    Return the scene with one object's footprint centre at ``xy`` (same height, same yaw).

    :param scene: the scene.
    :param instance_id: the object.
    :param xy: world (x, y), metres.
    :return: the new scene; nothing is checked (see ``fits``).
    """
    obj = scene.find(instance_id)
    position = (float(xy[0]), float(xy[1]), obj.position_m[2])
    return _replace_object(scene, replace(obj, position_m=position))


def fits(scene: Scene, instance_id: int) -> bool:
    """
    Whether an object stands where it may: on its support surface, clear of everything else.

    Its footprint must lie ``EDGE_MARGIN_M`` inside its support's top (the room's floor for
    support 0), overlap no other object's footprint on that surface (same support, same height),
    and keep clear of the camera.

    :param scene: the scene, with the object where it is to be judged.
    :param instance_id: the object.
    :return: True if it fits.
    """
    obj = scene.find(instance_id)
    surface = _surface_corners(scene, obj)
    if surface is None or not _inside(_corners(obj, 0.0), surface):
        return False
    mine = _corners(obj, FOOTPRINT_PAD_M)
    for other in scene.objects:
        same_surface = (
            other.support == obj.support
            and abs(other.position_m[2] - obj.position_m[2]) < 1e-6
            and other.class_name not in STRUCTURE_CLASSES
        )
        if other.instance_id != instance_id and same_surface:
            if _overlap(mine, _corners(other, FOOTPRINT_PAD_M)):
                return False
    eye = scene.camera.T_world_camera[:3, 3]
    clear = _corners(obj, 0.2)
    top_m = obj.position_m[2] + obj.size_m[2] + 0.2
    return not (eye[2] < top_m and _inside(np.array([eye[:2]]), clear))


def _corners(obj: SceneObject, pad_m: float) -> np.ndarray:
    """(4, 2) world xy corners of an object's footprint, counter-clockwise, padded."""
    half_w, half_d = obj.size_m[0] / 2 + pad_m, obj.size_m[1] / 2 + pad_m
    local = np.array([[-half_w, -half_d], [half_w, -half_d], [half_w, half_d], [-half_w, half_d]])
    cos, sin = math.cos(obj.yaw), math.sin(obj.yaw)
    rotation = np.array([[cos, -sin], [sin, cos]])
    corners: np.ndarray = local @ rotation.T + np.array(obj.position_m[:2])
    return corners


def _surface_corners(scene: Scene, obj: SceneObject) -> np.ndarray | None:
    """(4, 2) corners of the surface ``obj`` stands on, shrunk by ``EDGE_MARGIN_M``."""
    if obj.support == 0:
        if scene.room_size_m is None or obj.position_m[2] > 1e-6:
            return None
        room_w, room_d, _ = scene.room_size_m
        floor = replace(obj, position_m=(0.0, 0.0, 0.0), size_m=(room_w, room_d, 0.0), yaw=0.0)
        return _corners(floor, -EDGE_MARGIN_M)
    try:
        support = scene.find(obj.support)
    except KeyError:
        return None
    return _corners(support, -EDGE_MARGIN_M)


def _inside(points: np.ndarray, polygon: np.ndarray) -> bool:
    """Whether every point lies inside a convex counter-clockwise polygon."""
    edges = np.roll(polygon, -1, axis=0) - polygon  # (4, 2)
    offsets = points[:, None, :] - polygon[None, :, :]  # (P, 4, 2)
    cross = edges[None, :, 0] * offsets[..., 1] - edges[None, :, 1] * offsets[..., 0]
    return bool((cross >= 0).all())


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two convex polygons overlap (separating axis test)."""
    for polygon in (a, b):
        edges = np.roll(polygon, -1, axis=0) - polygon
        for normal in np.stack([-edges[:, 1], edges[:, 0]], axis=1):
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def _image_axis(scene: Scene, direction: Direction) -> np.ndarray | None:
    """Return the world xy unit vector of an image direction laid flat (None: looking down)."""
    pose = scene.camera.T_world_camera
    column = 0 if direction in ('left', 'right') else 2
    axis = pose[:2, column].astype(float)
    norm = float(np.linalg.norm(axis))
    if norm < 0.2:
        return None
    sign = -1.0 if direction in ('left', 'closer') else 1.0
    return sign * axis / norm


def _shows_move(before: Scene, after: Scene, instance_id: int, direction: Direction) -> bool:
    """Whether the object stays in view and its image centre (or depth) moved as asked."""
    old, new = _image_point(before, instance_id), _image_point(after, instance_id)
    camera = after.camera
    if not (0 <= new[0] <= camera.width - 1 and 0 <= new[1] <= camera.height - 1 and new[2] > 0):
        return False
    shift = new - old
    if direction in ('left', 'right'):
        wanted = -1.0 if direction == 'left' else 1.0
        return bool(shift[0] * wanted >= MIN_SHIFT * camera.width)
    wanted = -1.0 if direction == 'closer' else 1.0
    return bool(shift[2] * wanted >= 0.1 * old[2])


def _image_point(scene: Scene, instance_id: int) -> np.ndarray:
    """(u, v, z): where an object's centre projects, and its z-depth."""
    obj = scene.find(instance_id)
    x, y, z = obj.position_m
    centre = np.array([x, y, z + obj.size_m[2] / 2])
    pose = scene.camera.T_world_camera
    camera = (centre - pose[:3, 3]) @ pose[:3, :3]
    depth = float(camera[2])
    if depth <= 1e-3:
        return np.array([np.nan, np.nan, depth])
    u, v, _ = scene.camera.K @ (camera / depth)
    return np.array([u, v, depth])
