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
What scenes are made of: object classes with realistic sizes, and how each is built from solids.

Sizes are in metres, ranges from which each instance draws its own (a mug is 7-10 cm wide and
8-12 cm tall). Every builder returns its solids relative to the object's footprint centre on its
support surface, before the object's yaw; ``layout`` places and rotates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math

import numpy as np
from vision_banana_ros.synth.scene import Kind

__all__ = [
    'CLASSES',
    'CLASS_NAMES',
    'COLOURS',
    'GRASPABLE',
    'ObjectClass',
    'Part',
    'class_id',
]


@dataclass(frozen=True)
class Part:
    """
    One solid of an object, relative to the object's footprint centre (z = 0 on its support).

    :ivar kind: the solid.
    :ivar centre: (x, y, z) metres in the object frame.
    :ivar half_size: half extents, metres (see ``Kind``).
    :ivar yaw: extra rotation about z relative to the object, radians.
    :ivar shade: multiplier on the object's colour (a darker handle, a black screen).
    """

    kind: Kind
    centre: tuple[float, float, float]
    half_size: tuple[float, float, float]
    yaw: float = 0.0
    shade: float = 1.0


Builder = Callable[[np.ndarray], list[Part]]


@dataclass(frozen=True)
class ObjectClass:
    """
    A class of object: its name, size ranges and solids.

    :ivar name: class name as prompts and labels use it.
    :ivar size_m: ((w_min, w_max), (d_min, d_max), (h_min, h_max)) footprint width, depth, height.
    :ivar build: solids of one instance of size (w, d, h).
    :ivar graspable: small enough for a robot hand; placed on tables and shelves.
    :ivar colours: colour names typical of the class (keys of ``COLOURS``).
    :ivar textured: 'photo', 'detail' or '' for the texture family instances use.
    """

    name: str
    size_m: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    build: Builder
    graspable: bool
    colours: tuple[str, ...]
    textured: str = 'detail'


COLOURS: dict[str, tuple[float, float, float]] = {
    'red': (0.75, 0.06, 0.05),
    'orange': (0.9, 0.35, 0.05),
    'yellow': (0.85, 0.75, 0.08),
    'green': (0.1, 0.55, 0.12),
    'blue': (0.07, 0.2, 0.75),
    'purple': (0.42, 0.12, 0.6),
    'pink': (0.9, 0.45, 0.6),
    'white': (0.85, 0.85, 0.83),
    'grey': (0.4, 0.4, 0.42),
    'black': (0.05, 0.05, 0.05),
    'brown': (0.4, 0.22, 0.1),
    'beige': (0.78, 0.7, 0.55),
    'cyan': (0.1, 0.6, 0.7),
}
"""Linear base colours an object may be painted in; the names feed referring expressions."""


def _box(size: np.ndarray) -> list[Part]:
    w, d, h = size
    return [Part(Kind.BOX, (0, 0, h / 2), (w / 2, d / 2, h / 2))]


def _cylinder(size: np.ndarray) -> list[Part]:
    w, _, h = size
    return [Part(Kind.CYLINDER, (0, 0, h / 2), (w / 2, w / 2, h / 2))]


def _sphere(size: np.ndarray) -> list[Part]:
    r = size[0] / 2
    return [Part(Kind.SPHERE, (0, 0, r), (r, r, r))]


def _mug(size: np.ndarray) -> list[Part]:
    w, _, h = size
    handle = (0.012, 0.008, h * 0.3)
    return [
        Part(Kind.CYLINDER, (0, 0, h / 2), (w / 2, w / 2, h / 2)),
        Part(Kind.BOX, (w / 2 + handle[0] * 0.8, 0, h * 0.55), handle),
    ]


def _bottle(size: np.ndarray) -> list[Part]:
    w, _, h = size
    body, neck = h * 0.68, h * 0.32
    return [
        Part(Kind.CYLINDER, (0, 0, body / 2), (w / 2, w / 2, body / 2)),
        Part(Kind.SPHERE, (0, 0, body), (w / 2, w / 2, w / 2)),
        Part(Kind.CYLINDER, (0, 0, body + neck / 2), (w / 6, w / 6, neck / 2)),
    ]


def _bowl(size: np.ndarray) -> list[Part]:
    r = size[0] / 2
    return [Part(Kind.BOWL, (0, 0, r), (r, r, r))]


def _plate(size: np.ndarray) -> list[Part]:
    w, _, h = size
    return [Part(Kind.CYLINDER, (0, 0, h / 2), (w / 2, w / 2, h / 2))]


def _laptop(size: np.ndarray) -> list[Part]:
    w, d, h = size
    return [
        Part(Kind.BOX, (0, 0, 0.01), (w / 2, d / 2, 0.01)),
        Part(Kind.BOX, (0, d / 2, h / 2), (w / 2, 0.006, h / 2 - 0.01), shade=0.35),
    ]


def _vase(size: np.ndarray) -> list[Part]:
    w, _, h = size
    return [
        Part(Kind.SPHERE, (0, 0, w / 2), (w / 2, w / 2, w / 2)),
        Part(Kind.CYLINDER, (0, 0, (h + w / 2) / 2), (w / 4, w / 4, (h - w / 2) / 2)),
    ]


def _monitor(size: np.ndarray) -> list[Part]:
    w, d, h = size
    return [
        Part(Kind.BOX, (0, 0, 0.01), (0.1, d / 2, 0.01), shade=0.5),
        Part(Kind.BOX, (0, 0, h * 0.25), (0.02, 0.02, h * 0.25), shade=0.5),
        Part(Kind.BOX, (0, 0, h * 0.65), (w / 2, 0.015, h * 0.35), shade=0.25),
    ]


def _table(size: np.ndarray) -> list[Part]:
    w, d, h = size
    leg = 0.03
    parts = [Part(Kind.BOX, (0, 0, h - 0.02), (w / 2, d / 2, 0.02))]
    for sx in (-1, 1):
        for sy in (-1, 1):
            centre = (sx * (w / 2 - 2 * leg), sy * (d / 2 - 2 * leg), (h - 0.04) / 2)
            parts.append(Part(Kind.BOX, centre, (leg, leg, (h - 0.04) / 2), shade=0.8))
    return parts


def _chair(size: np.ndarray) -> list[Part]:
    w, d, h = size
    seat = 0.45
    leg = 0.02
    parts = [
        Part(Kind.BOX, (0, 0, seat), (w / 2, d / 2, 0.025)),
        Part(Kind.BOX, (0, d / 2 - 0.02, (seat + h) / 2), (w / 2, 0.02, (h - seat) / 2)),
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            centre = (sx * (w / 2 - leg), sy * (d / 2 - leg), seat / 2)
            parts.append(Part(Kind.BOX, centre, (leg, leg, seat / 2), shade=0.7))
    return parts


def _shelf(size: np.ndarray) -> list[Part]:
    w, d, h = size
    board = 0.015
    parts = [
        Part(Kind.BOX, (-w / 2 + board, 0, h / 2), (board, d / 2, h / 2)),
        Part(Kind.BOX, (w / 2 - board, 0, h / 2), (board, d / 2, h / 2)),
        Part(Kind.BOX, (0, d / 2 - 0.005, h / 2), (w / 2, 0.005, h / 2), shade=0.8),
    ]
    levels = max(2, round(h / 0.35))
    for level in range(levels + 1):
        z = board + level * (h - 2 * board) / levels
        parts.append(Part(Kind.BOX, (0, 0, z), (w / 2 - 2 * board, d / 2, board)))
    return parts


def shelf_levels_m(height_m: float) -> list[float]:
    """
    Heights of a shelf's boards above the floor (the surfaces objects stand on).

    :param height_m: the shelf's height.
    :return: board top heights, lowest first.
    """
    levels = max(2, round(height_m / 0.35))
    return [0.03 + level * (height_m - 0.03) / levels for level in range(levels)]


def _cabinet(size: np.ndarray) -> list[Part]:
    w, d, h = size
    return [
        Part(Kind.BOX, (0, 0, h / 2), (w / 2, d / 2, h / 2)),
        Part(Kind.BOX, (w / 4, -d / 2 - 0.01, h * 0.6), (0.01, 0.01, 0.06), shade=0.3),
        Part(Kind.BOX, (-w / 4, -d / 2 - 0.01, h * 0.6), (0.01, 0.01, 0.06), shade=0.3),
    ]


def _sofa(size: np.ndarray) -> list[Part]:
    w, d, h = size
    seat = 0.42
    return [
        Part(Kind.BOX, (0, 0, seat / 2), (w / 2, d / 2, seat / 2)),
        Part(Kind.BOX, (0, d / 2 - 0.1, (seat + h) / 2), (w / 2, 0.1, (h - seat) / 2)),
        Part(Kind.BOX, (-w / 2 + 0.1, 0, seat + 0.1), (0.1, d / 2, 0.1)),
        Part(Kind.BOX, (w / 2 - 0.1, 0, seat + 0.1), (0.1, d / 2, 0.1)),
    ]


def _door(size: np.ndarray) -> list[Part]:
    w, d, h = size
    return [
        Part(Kind.BOX, (0, 0, h / 2), (w / 2, d / 2, h / 2)),
        Part(Kind.SPHERE, (w / 2 - 0.08, -d / 2 - 0.02, h * 0.47), (0.025,) * 3, shade=0.4),
    ]


def _bin(size: np.ndarray) -> list[Part]:
    return _cylinder(size)


def _apple(size: np.ndarray) -> list[Part]:
    return _sphere(size)


CLASSES: tuple[ObjectClass, ...] = (
    # Room faces (the renderer labels a room's floor, walls and ceiling itself).
    ObjectClass('floor', ((0, 0),) * 3, _box, False, ('beige', 'brown', 'grey')),
    ObjectClass('wall', ((0, 0),) * 3, _box, False, ('white', 'beige', 'grey')),
    ObjectClass('ceiling', ((0, 0),) * 3, _box, False, ('white',)),
    # Furniture.
    ObjectClass(
        'table',
        ((0.8, 1.8), (0.6, 1.0), (0.7, 0.78)),
        _table,
        False,
        ('brown', 'white', 'black', 'grey'),
    ),
    ObjectClass(
        'chair',
        ((0.42, 0.5), (0.42, 0.5), (0.8, 1.0)),
        _chair,
        False,
        ('brown', 'black', 'white', 'red', 'blue'),
    ),
    ObjectClass(
        'shelf', ((0.6, 1.2), (0.3, 0.4), (1.0, 2.0)), _shelf, False, ('brown', 'white', 'black')
    ),
    ObjectClass(
        'cabinet',
        ((0.5, 1.2), (0.4, 0.6), (0.7, 1.2)),
        _cabinet,
        False,
        ('white', 'grey', 'brown'),
    ),
    ObjectClass(
        'sofa',
        ((1.5, 2.2), (0.8, 0.95), (0.75, 0.9)),
        _sofa,
        False,
        ('grey', 'blue', 'brown', 'green'),
        'detail',
    ),
    ObjectClass('door', ((0.8, 0.95), (0.04, 0.05), (2.0, 2.1)), _door, False, ('white', 'brown')),
    ObjectClass(
        'bin',
        ((0.25, 0.35), (0.25, 0.35), (0.3, 0.5)),
        _bin,
        False,
        ('grey', 'black', 'blue', 'green'),
    ),
    # Graspable objects.
    ObjectClass(
        'mug',
        ((0.07, 0.1), (0.07, 0.1), (0.08, 0.12)),
        _mug,
        True,
        ('red', 'white', 'blue', 'yellow', 'green', 'black'),
    ),
    ObjectClass(
        'bottle',
        ((0.06, 0.09), (0.06, 0.09), (0.2, 0.32)),
        _bottle,
        True,
        ('green', 'blue', 'white', 'cyan', 'orange'),
    ),
    ObjectClass(
        'can',
        ((0.065, 0.068), (0.065, 0.068), (0.11, 0.125)),
        _cylinder,
        True,
        ('red', 'grey', 'blue', 'yellow', 'green'),
        'photo',
    ),
    ObjectClass(
        'box',
        ((0.08, 0.3), (0.06, 0.25), (0.05, 0.25)),
        _box,
        True,
        ('brown', 'beige', 'white', 'red', 'blue'),
        'photo',
    ),
    ObjectClass(
        'bowl',
        ((0.12, 0.2), (0.12, 0.2), (0.06, 0.1)),
        _bowl,
        True,
        ('white', 'red', 'blue', 'green', 'yellow'),
    ),
    ObjectClass(
        'ball',
        ((0.06, 0.22), (0.06, 0.22), (0.06, 0.22)),
        _sphere,
        True,
        ('red', 'orange', 'yellow', 'blue', 'green', 'white', 'purple'),
    ),
    ObjectClass(
        'book',
        ((0.13, 0.22), (0.18, 0.3), (0.02, 0.05)),
        _box,
        True,
        ('red', 'blue', 'green', 'black', 'yellow', 'white'),
        'photo',
    ),
    ObjectClass(
        'plate',
        ((0.18, 0.27), (0.18, 0.27), (0.015, 0.025)),
        _plate,
        True,
        ('white', 'blue', 'beige'),
    ),
    ObjectClass(
        'laptop',
        ((0.3, 0.38), (0.22, 0.26), (0.2, 0.25)),
        _laptop,
        True,
        ('grey', 'black', 'white'),
    ),
    ObjectClass(
        'vase',
        ((0.1, 0.18), (0.1, 0.18), (0.2, 0.4)),
        _vase,
        True,
        ('white', 'blue', 'green', 'purple', 'red'),
    ),
    ObjectClass(
        'apple',
        ((0.07, 0.09), (0.07, 0.09), (0.07, 0.09)),
        _apple,
        True,
        ('red', 'green', 'yellow'),
    ),
    ObjectClass(
        'monitor',
        ((0.45, 0.65), (0.15, 0.2), (0.35, 0.5)),
        _monitor,
        True,
        ('black', 'grey', 'white'),
    ),
)
"""Every class; ids are positions in CLASS_NAMES (0 is 'unlabelled')."""

CLASS_NAMES: tuple[str, ...] = ('unlabelled', *(c.name for c in CLASSES))
"""Semantic class names by id; 0 means no class."""

GRASPABLE: tuple[str, ...] = tuple(c.name for c in CLASSES if c.graspable)
"""Names of the classes a robot hand can pick up."""


def class_id(name: str) -> int:
    """
    Return the semantic id of a class name.

    :param name: one of CLASS_NAMES.
    :raises ValueError: for an unknown name.
    """
    try:
        return CLASS_NAMES.index(name)
    except ValueError:
        raise ValueError(f'unknown class {name!r}; known: {", ".join(CLASS_NAMES[1:])}') from None


def footprint_radius_m(size: np.ndarray) -> float:
    """
    Radius of the circle that holds an object's footprint, for non-overlapping placement.

    :param size: (w, d, h) metres.
    """
    return float(math.hypot(size[0], size[1]) / 2)
