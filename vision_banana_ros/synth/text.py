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
Referring expressions for scene objects, as seen from the scene's camera.

An expression is a ``Description``: a class name, optionally a colour, one superlative (size or
image position), the surface the object stands on, and one spatial relation to a landmark
object, e.g. "the red mug", "the largest box on the table", "the mug left of the blue bowl".
``describe`` returns the shortest one that picks out its target among the visible objects.

Every predicate is three-valued: an object certainly has it, certainly lacks it, or a listener
might see it either way (an orange mug might be called red; a mug a few pixels left of a bowl is
hardly "left of" it). An expression is unambiguous when its target certainly matches and every
other visible object certainly does not, so a listener with a looser eye than the thresholds here
still finds one object. Positions are judged in the image: object centres and box corners
projected with the camera's K and ``T_world_camera`` (REP 103 optical frame: x right, z forward).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
import re
from typing import get_args, Literal, TypeVar

import numpy as np
import torch
from vision_banana_ros.synth.catalog import CLASS_NAMES, COLOURS, GRASPABLE
from vision_banana_ros.synth.layout import Scene, SceneObject

__all__ = [
    'CONFUSABLE_COLOURS',
    'STRUCTURE_CLASSES',
    'Description',
    'Reference',
    'Relation',
    'Superlative',
    'confusable',
    'describe',
    'parse_expression',
    'referring_targets',
    'resolve',
    'visible_instances',
]

Superlative = Literal['largest', 'smallest', 'leftmost', 'rightmost', 'nearest', 'farthest']
Relation = Literal['left of', 'right of', 'in front of', 'behind']

STRUCTURE_CLASSES = ('floor', 'wall', 'ceiling')
"""Classes that are never referred to (they are surfaces, not things); the floor is a support."""

SIZE_RATIO = 1.25
"""One object is certainly larger than another when its size (cube root of w*d*h) is this many
times the other's."""
SIDE_MARGIN = 0.5
"""A is certainly left of B when B's image centre is this many of their mean image widths right
of A's; A is certainly not left of B when A's centre is not left of B's at all."""
DEPTH_MARGIN_M = 0.05
"""Minimum z-depth difference (also at least 10 % of the nearer depth) for 'in front of'."""
NEAR_M = 1.5
"""Largest distance between the centres of an object and a landmark it is described by."""

_SUPERLATIVES: tuple[Superlative, ...] = get_args(Superlative)
_RELATIONS: tuple[Relation, ...] = get_args(Relation)
_SUPERLATIVE_WORDS: dict[Superlative, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # (words among three or more, words between two); the first is the canonical one.
    'largest': (('largest', 'biggest'), ('large', 'big', 'larger', 'bigger')),
    'smallest': (('smallest',), ('small', 'smaller')),
    'leftmost': (('leftmost',), ('left',)),
    'rightmost': (('rightmost',), ('right',)),
    'nearest': (('nearest', 'closest'), ('nearer', 'closer')),
    'farthest': (('farthest', 'furthest'), ('farther', 'further')),
}
_RELATION_WORDS: dict[Relation, tuple[str, ...]] = {
    'left of': ('left of', 'to the left of'),
    'right of': ('right of', 'to the right of'),
    'in front of': ('in front of',),
    'behind': ('behind',),
}
CONFUSABLE_COLOURS = frozenset(
    frozenset(pair)
    for pair in (
        ('red', 'orange'),
        ('red', 'pink'),
        ('red', 'brown'),
        ('orange', 'yellow'),
        ('orange', 'brown'),
        ('yellow', 'beige'),
        ('beige', 'white'),
        ('beige', 'brown'),
        ('white', 'grey'),
        ('grey', 'black'),
        ('blue', 'cyan'),
        ('blue', 'purple'),
        ('green', 'cyan'),
        ('purple', 'pink'),
    )
)
"""Pairs of colour names a listener may take for one another under texture, shading, jitter."""
# Tie-breaking penalties (in words) so that at equal length intrinsic attributes win.
_PENALTY = {'superlative': 0.3, 'support': 0.2, 'relation': 0.5}


@dataclass(frozen=True)
class Description:
    """
    The constraints of a referring expression; ``text`` words it.

    :ivar class_name: the head noun, a class of ``CLASS_NAMES``.
    :ivar colour_name: a key of ``COLOURS``, or None.
    :ivar superlative: one superlative over the objects matching every other constraint.
    :ivar pair: whether exactly two objects compete for the superlative ("the small mug").
    :ivar support: class name of what the object stands on ('floor' for the floor), or None.
    :ivar relation: spatial relation to ``landmark`` from the camera's viewpoint, or None.
    :ivar landmark: the object the relation refers to (itself without relation or support).
    """

    class_name: str
    colour_name: str | None = None
    superlative: Superlative | None = None
    pair: bool = False
    support: str | None = None
    relation: Relation | None = None
    landmark: Description | None = None

    def __post_init__(self) -> None:
        if (self.relation is None) != (self.landmark is None):
            raise ValueError('a description needs both a relation and a landmark, or neither')
        if self.landmark is not None and (
            self.landmark.relation is not None or self.landmark.support is not None
        ):
            raise ValueError('a landmark is described without relation or support')

    def text(self, rng: np.random.Generator | None = None) -> str:
        """
        Word the description, e.g. 'the largest red box on the table left of the bowl'.

        :param rng: picks among synonyms ('biggest', 'to the left of'); None takes the first.
        :return: the expression, lower case, starting with 'the'.
        """
        words = ['the']
        if self.superlative is not None:
            words.append(_pick(_SUPERLATIVE_WORDS[self.superlative][self.pair], rng))
        if self.colour_name is not None:
            words.append(self.colour_name)
        words.append(self.class_name)
        if self.support is not None:
            words += ['on', 'the', self.support]
        if self.relation is not None and self.landmark is not None:
            words += [_pick(_RELATION_WORDS[self.relation], rng), self.landmark.text(rng)]
        return ' '.join(words)

    def cost(self) -> float:
        """Return the length of the canonical wording in words, plus small tie-breakers."""
        cost = float(len(self.text().split()))
        cost += _PENALTY['superlative'] * (self.superlative is not None)
        cost += _PENALTY['support'] * (self.support is not None)
        if self.landmark is not None:
            cost += _PENALTY['relation'] + self.landmark.cost() - len(self.landmark.text().split())
        return cost


@dataclass(frozen=True)
class Reference:
    """
    An object and an unambiguous expression for it.

    :ivar instance_id: the object's id in the instance image.
    :ivar expression: e.g. 'the red mug left of the bowl'.
    """

    instance_id: int
    expression: str


_T = TypeVar('_T')


def confusable(colour: str, other: str) -> bool:
    """
    Whether two colour names may be taken for one another (never a name for itself).

    :param colour: a key of ``COLOURS``.
    :param other: a key of ``COLOURS``.
    :return: True for pairs in ``CONFUSABLE_COLOURS``.
    """
    return frozenset((colour, other)) in CONFUSABLE_COLOURS


def _pick(options: Sequence[_T], rng: np.random.Generator | None) -> _T:
    return options[0] if rng is None else options[int(rng.integers(len(options)))]


def visible_instances(
    instances: torch.Tensor | np.ndarray, min_pixels: int = 16
) -> frozenset[int]:
    """
    Return the instance ids covering at least ``min_pixels`` pixels of one frame.

    :param instances: (H, W) integer instance image (``RenderedBatch.instances[b]``); 0 = none.
    :param min_pixels: fewest pixels an object must cover to count as visible.
    :return: the ids, 0 excluded.
    """
    tensor = torch.as_tensor(instances)
    if tensor.dim() != 2 or tensor.is_floating_point():
        raise ValueError(
            f'instances must be an (H, W) integer image, got {tensor.dtype} {tuple(tensor.shape)}'
        )
    if min_pixels < 1:
        raise ValueError(f'min_pixels must be >= 1, got {min_pixels}')
    counts = torch.bincount(tensor.reshape(-1).long().clamp(min=0))
    counts[0] = 0  # background
    return frozenset(int(i) for i in torch.nonzero(counts >= min_pixels).reshape(-1).tolist())


def _referable(obj: SceneObject) -> bool:
    return bool(obj.class_name) and obj.class_name not in STRUCTURE_CLASSES


def _support_name(scene: Scene, obj: SceneObject) -> str:
    """Class of what ``obj`` stands on: 'floor' for id 0 in a room, '' where unknown."""
    if obj.support == 0:
        return 'floor' if scene.room_size_m is not None and obj.position_m[2] <= 1e-6 else ''
    try:
        return scene.find(obj.support).class_name
    except KeyError:
        return ''


class _Pool:
    """
    The objects a listener sees, with every predicate precomputed as (N,) or (N, N) arrays.

    ``related[r][i, j]`` is (certainly, possibly) "object i is r object j"; ``better[s][i, j]``
    says object i certainly beats object j at superlative s.
    """

    def __init__(
        self,
        scene: Scene,
        ids: Collection[int],
        instances: torch.Tensor | np.ndarray | None = None,
    ) -> None:
        by_id = {o.instance_id: o for o in scene.objects}
        self.objects = [by_id[i] for i in sorted(ids) if i in by_id and _referable(by_id[i])]
        self.index = {o.instance_id: n for n, o in enumerate(self.objects)}
        self.classes = np.array([o.class_name for o in self.objects], dtype=object)
        self.colours = np.array([o.colour_name for o in self.objects], dtype=object)
        self.nameable = np.array([o.colour_is_named for o in self.objects])
        self.supports = np.array([_support_name(scene, o) for o in self.objects], dtype=object)
        self.graspable = np.array([o.class_name in GRASPABLE for o in self.objects])
        self.support_ids = np.array([o.support for o in self.objects], dtype=np.int64)
        self.instance_ids = np.array([o.instance_id for o in self.objects], dtype=np.int64)
        size = np.array([np.prod(o.size_m) for o in self.objects]).reshape(-1) ** (1 / 3)
        centres = np.array(
            [
                (o.position_m[0], o.position_m[1], o.position_m[2] + o.size_m[2] / 2)
                for o in self.objects
            ]
        ).reshape(-1, 3)
        self.centres_m = centres
        u, width_px, depth_m = _project(scene, self.objects)  # (N,) each
        if instances is not None:  # judge image positions by what is actually visible
            seen_u, seen_width = _visible_columns(instances, self.instance_ids)
            u = np.where(np.isnan(seen_u), u, seen_u)
            width_px = np.where(np.isnan(seen_width), width_px, seen_width)
        count = len(self.objects)
        eye = np.eye(count, dtype=bool)

        du = u[None, :] - u[:, None]  # (N, N): how far j's centre is right of i's
        mean_width = np.maximum((width_px[:, None] + width_px[None, :]) / 2, 1.0)
        dz = depth_m[None, :] - depth_m[:, None]  # (N, N): how much nearer i is than j
        margin = np.maximum(DEPTH_MARGIN_M, 0.1 * np.fmin(depth_m[:, None], depth_m[None, :]))
        lateral = np.abs(du) / mean_width
        with np.errstate(invalid='ignore'):  # NaN (behind the camera) compares False: 'possibly'
            left = (du >= SIDE_MARGIN * mean_width, ~(du <= 0))
            right = (-du >= SIDE_MARGIN * mean_width, ~(du >= 0))
            front = ((dz >= margin) & (lateral <= 1.0), ~((dz <= 0) | (lateral >= 2.0)))
            behind = ((-dz >= margin) & (lateral <= 1.0), ~((dz >= 0) | (lateral >= 2.0)))
            self.better: dict[Superlative, np.ndarray] = {
                'largest': size[:, None] >= SIZE_RATIO * size[None, :],
                'smallest': size[None, :] >= SIZE_RATIO * size[:, None],
                'leftmost': left[0],
                'rightmost': right[0],
                'nearest': dz >= margin,
                'farthest': -dz >= margin,
            }
        self.related: dict[Relation, tuple[np.ndarray, np.ndarray]] = {
            'left of': left,
            'right of': right,
            'in front of': front,
            'behind': behind,
        }
        for certain, possible in self.related.values():
            certain &= ~eye
            possible &= ~eye

    def __len__(self) -> int:
        return len(self.objects)

    def evaluate(self, description: Description) -> tuple[np.ndarray, np.ndarray]:
        """
        Match a description against every object.

        :return: (N,) bool each: objects that certainly match, objects that possibly match.
        """
        certain = self.classes == description.class_name
        possible = certain.copy()
        if description.colour_name is not None:
            colour = description.colour_name
            alike = np.array([confusable(c, colour) for c in self.colours])
            certain &= self.nameable & (self.colours == colour)
            possible &= ~self.nameable | (self.colours == colour) | alike.astype(bool)
        if description.support is not None:
            on_it = self.supports == description.support
            certain &= on_it
            possible &= on_it
        if description.relation is not None and description.landmark is not None:
            mark_certain, mark_possible = self.evaluate(description.landmark)
            related_certain, related_possible = self.related[description.relation]
            possible &= related_possible[:, mark_possible].any(1)
            if mark_possible.sum() == 1 and mark_certain.sum() == 1:
                certain &= related_certain[:, mark_certain].any(1)
            else:  # the landmark itself is ambiguous: nothing certainly relates to it
                certain = np.zeros_like(certain)
        if description.superlative is not None:
            better = self.better[description.superlative]
            rivals = possible.copy()  # what competes: anything possibly matching the rest
            beaten = better[rivals].any(0)  # some rival certainly beats it
            wins = (better | ~rivals[None, :] | np.eye(len(self), dtype=bool)).all(1)
            certain &= wins
            possible &= ~beaten
        return certain, possible


def _project(scene: Scene, objects: Sequence[SceneObject]) -> tuple[np.ndarray, ...]:
    """
    Image column and width of each object's box (clipped to the image) and its centre's z-depth.

    :return: (N,) each; u is the projected centre, or the middle of the box's part inside the
        image where the border cuts it; NaN where the centre is behind the camera.
    """
    if not objects:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    K, pose = scene.camera.K, scene.camera.T_world_camera
    signs = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (0, 1)])
    points = []
    for obj in objects:
        w, d, h = obj.size_m
        cos, sin = np.cos(obj.yaw), np.sin(obj.yaw)
        rotation = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        local = np.vstack([(0.0, 0.0, h / 2), signs * np.array([w, d, h])])  # centre, corners
        points.append(local @ rotation.T + np.array(obj.position_m))
    world = np.stack(points)  # (N, 9, 3)
    camera = (world - pose[:3, 3]) @ pose[:3, :3]  # world -> optical frame
    z = camera[..., 2]
    in_front = z > 1e-2
    u = K[0, 0] * camera[..., 0] / np.where(in_front, z, 1.0) + K[0, 2]  # (N, 9)
    last = scene.camera.width - 1.0
    corners = np.clip(u[:, 1:], 0.0, last)
    lo = np.where(in_front[:, 1:], corners, np.inf).min(1)
    hi = np.where(in_front[:, 1:], corners, -np.inf).max(1)
    seen = in_front[:, 1:].sum(1) >= 2
    lo, hi = np.where(seen, lo, 0.0), np.where(seen, hi, 0.0)  # no inf - inf for unseen boxes
    width = hi - lo
    cut = (u[:, 1:].min(1) < 0.0) | (u[:, 1:].max(1) > last)
    centre = np.where(cut & seen, (lo + hi) / 2, u[:, 0])
    valid = in_front[:, 0]
    return np.where(valid, centre, np.nan), width, np.where(valid, z[:, 0], np.nan)


def _visible_columns(
    instances: torch.Tensor | np.ndarray, instance_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """
    Mean column and column extent of each object's pixels; NaN for objects without pixels.

    :param instances: (H, W) instance image.
    :param instance_ids: (N,) ids.
    :return: (N,) each.
    """
    image = torch.as_tensor(instances)
    if image.dim() != 2:
        raise ValueError(f'instances must be one (H, W) frame, got shape {tuple(image.shape)}')
    ids = torch.as_tensor(instance_ids, dtype=image.dtype)
    masks = image[None] == ids[:, None, None]  # (N, H, W)
    columns = masks.any(1)  # (N, W): columns where each object shows
    counts = masks.sum((1, 2)).double()
    cols = torch.arange(image.shape[1], dtype=torch.float64)
    mean = (masks.sum(1).double() * cols).sum(1) / counts.clamp(min=1)
    lo = torch.where(columns, cols, torch.inf).amin(1)
    hi = torch.where(columns, cols, -torch.inf).amax(1)
    present = counts > 0
    nan = torch.tensor(torch.nan, dtype=torch.float64)
    mean, extent = torch.where(present, mean, nan), torch.where(present, hi - lo + 1, nan)
    return mean.numpy(), extent.numpy()


class _Referrer:
    """Finds the shortest unambiguous description of objects of one pool."""

    def __init__(self, scene: Scene, pool: _Pool) -> None:
        self.pool = pool
        self._landmarks: dict[int, Description | None] = {}

    def unique(self, index: int, description: Description) -> bool:
        certain, possible = self.pool.evaluate(description)
        return bool(certain[index]) and int(possible.sum()) == 1

    def best(self, index: int, relations: bool = True, slack: float = 0.0) -> list[Description]:
        """Unambiguous descriptions of object ``index`` within ``slack`` of the least cost."""
        candidates = sorted(self._candidates(index, relations), key=Description.cost)
        found: list[Description] = []
        for candidate in candidates:
            if found and candidate.cost() > found[0].cost() + slack + 1e-9:
                break
            if self.unique(index, candidate) and self._minimal(index, candidate):
                found.append(self._with_pair(candidate))
        return found

    def _minimal(self, index: int, description: Description) -> bool:
        """Whether every constraint is needed: dropping any one leaves the target ambiguous."""
        reduced = [
            replace(description, colour_name=None) if description.colour_name else None,
            replace(description, superlative=None) if description.superlative else None,
            replace(description, support=None) if description.support else None,
            replace(description, relation=None, landmark=None) if description.relation else None,
        ]
        return not any(r is not None and self.unique(index, r) for r in reduced)

    def _with_pair(self, description: Description) -> Description:
        if description.superlative is None:
            return description
        _, rivals = self.pool.evaluate(replace(description, superlative=None))
        return replace(description, pair=int(rivals.sum()) == 2)

    def landmark(self, index: int) -> Description | None:
        if index not in self._landmarks:
            found = self.best(index, relations=False)
            self._landmarks[index] = found[0] if found else None
        return self._landmarks[index]

    def _candidates(self, index: int, relations: bool) -> list[Description]:
        pool = self.pool
        colours: list[str | None] = [None]
        if pool.nameable[index]:
            colours.append(str(pool.colours[index]))
        supports: list[str | None] = [None]
        if relations and pool.graspable[index] and pool.supports[index]:
            supports.append(str(pool.supports[index]))
        related: list[tuple[Relation | None, Description | None]] = [(None, None)]
        if relations:
            for other in self._landmark_candidates(index):
                mark = self.landmark(other)
                if mark is None:
                    continue
                for relation in _RELATIONS:
                    if pool.related[relation][0][index, other]:
                        related.append((relation, mark))
        superlatives: list[Superlative | None] = [None, *_SUPERLATIVES]
        name = str(pool.classes[index])
        return [
            Description(name, colour, superlative, False, support, rel, mark)
            for colour in colours
            for superlative in superlatives
            for support in supports
            for rel, mark in related
            # Not 'the left mug right of the leftmost mug': a superlative over objects of the
            # landmark's own class reads as a riddle.
            if superlative is None or mark is None or mark.class_name != name
        ]

    def _landmark_candidates(self, index: int) -> list[int]:
        pool = self.pool
        distance = np.linalg.norm(pool.centres_m - pool.centres_m[index], axis=1)
        stacked = (pool.support_ids == pool.instance_ids[index]) | (
            pool.instance_ids == pool.support_ids[index]
        )
        near = (distance <= NEAR_M) & ~stacked
        near[index] = False
        return [int(i) for i in np.flatnonzero(near)]


def describe(
    scene: Scene,
    instance_id: int,
    visible_ids: Collection[int],
    rng: np.random.Generator | None = None,
    *,
    instances: torch.Tensor | np.ndarray | None = None,
    distractor_ids: Collection[int] | None = None,
    slack_words: float = 0.0,
) -> str | None:
    """
    Return the shortest expression that picks out one object among the visible ones.

    >>> describe(scene, 12, visible_instances(rendered.instances[0], 16))  # doctest: +SKIP
    'the red mug left of the bowl'

    :param scene: the scene, seen from its camera.
    :param instance_id: the target object.
    :param visible_ids: ids of the objects in view (``visible_instances``); the target must be one.
    :param rng: picks among equally short expressions and synonyms; None: the first, always.
    :param instances: (H, W) instance image of the frame, if rendered: left and right are then
        judged by the pixels each object shows, not by its projected box (occlusion, borders).
    :param distractor_ids: ids that might be confused with the target (default: every id in
        ``instances`` with a pixel, else ``visible_ids``), so barely visible look-alikes count.
    :param slack_words: also draw from expressions up to this many words longer than the
        shortest (variety for training: relations are rarely the shortest); 0: shortest only.
    :return: e.g. 'the red mug', or None when the target is not visible, has no class (object
        soup), is a room surface, or no expression of this grammar singles it out.
    :raises KeyError: if the scene has no such object.
    """
    target = scene.find(instance_id)
    if instance_id not in visible_ids or not _referable(target):
        return None
    referrer = _referrer(scene, visible_ids, instances, distractor_ids, slack_words)
    found = referrer.best(referrer.pool.index[instance_id], slack=slack_words)
    return _pick(found, rng).text(rng) if found else None


def referring_targets(
    scene: Scene,
    visible_ids: Collection[int],
    rng: np.random.Generator,
    count: int,
    *,
    instances: torch.Tensor | np.ndarray | None = None,
    distractor_ids: Collection[int] | None = None,
    slack_words: float = 0.0,
) -> list[Reference]:
    """
    Pick up to ``count`` distinct visible objects that can be referred to unambiguously.

    :param scene: the scene.
    :param visible_ids: ids of the objects in view; targets are drawn from these.
    :param rng: draws the targets and their wording.
    :param count: how many references at most.
    :param instances: see ``describe``.
    :param distractor_ids: see ``describe``.
    :param slack_words: see ``describe``.
    :return: references in random order; fewer than ``count`` (maybe none) when the scene has
        fewer describable objects.
    """
    if count < 0:
        raise ValueError(f'count must be >= 0, got {count}')
    referrer = _referrer(scene, visible_ids, instances, distractor_ids, slack_words)
    index = referrer.pool.index
    targets = [i for i in sorted(visible_ids) if i in index]
    references: list[Reference] = []
    for position in rng.permutation(len(targets)):
        if len(references) == count:
            break
        instance_id = targets[int(position)]
        found = referrer.best(index[instance_id], slack=slack_words)
        if found:
            references.append(Reference(instance_id, _pick(found, rng).text(rng)))
    return references


def resolve(
    scene: Scene,
    expression: str | Description,
    visible_ids: Collection[int],
    *,
    instances: torch.Tensor | np.ndarray | None = None,
) -> frozenset[int]:
    """
    Return the visible objects a listener might take an expression to mean.

    ``describe``'s expressions resolve to exactly their target, given the same ids (its
    ``distractor_ids``) and instance image; this is the check.

    :param scene: the scene.
    :param expression: text in ``describe``'s grammar, or a ``Description``.
    :param visible_ids: ids of the objects in view.
    :param instances: see ``describe``.
    :return: ids of every object that possibly matches.
    :raises ValueError: if text is outside the grammar.
    """
    description = parse_expression(expression) if isinstance(expression, str) else expression
    pool = _Pool(scene, visible_ids, instances)
    _, possible = pool.evaluate(description)
    return frozenset(int(i) for i in pool.instance_ids[possible])


def _referrer(
    scene: Scene,
    visible_ids: Collection[int],
    instances: torch.Tensor | np.ndarray | None,
    distractor_ids: Collection[int] | None,
    slack_words: float,
) -> _Referrer:
    if slack_words < 0:
        raise ValueError(f'slack_words must be >= 0, got {slack_words}')
    if distractor_ids is None:
        distractor_ids = visible_instances(instances, 1) if instances is not None else ()
    return _Referrer(scene, _Pool(scene, {*visible_ids, *distractor_ids}, instances))


def _alternation(words: Collection[str]) -> str:
    return '|'.join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_WORD_TO_SUPERLATIVE = {
    word: (superlative, pair == 1)
    for superlative, forms in _SUPERLATIVE_WORDS.items()
    for pair, words in enumerate(forms)
    for word in words
}
_PHRASE_TO_RELATION = {p: r for r, phrases in _RELATION_WORDS.items() for p in phrases}
_CLASS_WORDS = _alternation(CLASS_NAMES[1:])
_EXPRESSION = re.compile(
    rf'the (?:(?P<superlative>{_alternation(_WORD_TO_SUPERLATIVE)}) )?'
    rf'(?:(?P<colour>{_alternation(COLOURS)}) )?'
    rf'(?P<cls>{_CLASS_WORDS})'
    rf'(?: on the (?P<support>{_CLASS_WORDS}))?'
    rf'(?: (?P<relation>{_alternation(_PHRASE_TO_RELATION)}) (?P<landmark>the .+))?'
)


def parse_expression(text: str) -> Description:
    """
    Read an expression of ``describe``'s grammar back into its constraints.

    :param text: e.g. 'the biggest red box on the table to the left of the bowl'.
    :return: the description (canonical superlative and relation names).
    :raises ValueError: if the text is outside the grammar.
    """
    match = _EXPRESSION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f'not a referring expression of this grammar: {text!r}')
    superlative: Superlative | None = None
    pair = False
    if match['superlative']:
        superlative, pair = _WORD_TO_SUPERLATIVE[match['superlative']]
    relation = _PHRASE_TO_RELATION[match['relation']] if match['relation'] else None
    return Description(
        class_name=match['cls'],
        colour_name=match['colour'],
        superlative=superlative,
        pair=pair,
        support=match['support'],
        relation=relation,
        landmark=parse_expression(match['landmark']) if match['landmark'] else None,
    )
