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
"""Referring expressions single out their target, and left/right agree with the image."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch
from vision_banana_ros.synth import text
from vision_banana_ros.synth.catalog import CLASS_NAMES, CLASSES, COLOURS
from vision_banana_ros.synth.layout import (
    batch_scenes,
    Camera,
    Light,
    look_at,
    sample_scene,
    Scene,
    SceneObject,
)
from vision_banana_ros.synth.render import render, RenderedBatch, RenderSettings
from vision_banana_ros.synth.textures import texture_bank

TABLE = 7
FAST = RenderSettings(shadow_map_px=32, ambient_occlusion=0.0)


def make_object(
    instance_id: int,
    name: str,
    colour: str,
    x: float,
    y: float,
    *,
    on_table: bool = True,
    size: tuple[float, float, float] | None = None,
) -> SceneObject:
    """Build an object of a catalog class at (x, y) on the table (or the floor), mid-range size."""
    cls = next(c for c in CLASSES if c.name == name)
    dims = np.array(size if size is not None else [sum(r) / 2 for r in cls.size_m])
    return SceneObject(
        instance_id=instance_id,
        class_name=name,
        colour_name=colour,
        position_m=(x, y, 0.75 if on_table else 0.0),
        size_m=(float(dims[0]), float(dims[1]), float(dims[2])),
        yaw=0.0,
        parts=tuple(cls.build(dims)),
        colour=COLOURS[colour],
        support=TABLE if on_table else 0,
    )


def make_scene(*objects: SceneObject, width: int = 64, height: int = 48) -> Scene:
    """Build a 4 m room with a 1.2 x 0.8 m table at the origin, seen from 1.5 m in front (-y)."""
    table = make_object(TABLE, 'table', 'brown', 0.0, 0.0, on_table=False, size=(1.2, 0.8, 0.75))
    fx = 0.9 * width
    K = np.array([[fx, 0.0, (width - 1) / 2], [0.0, fx, (height - 1) / 2], [0.0, 0.0, 1.0]])
    pose = look_at(np.array([0.0, -1.5, 1.4]), np.array([0.0, 0.0, 0.75]))
    return Scene(
        seed=0,
        mode='tabletop',
        objects=(table, *objects),
        room_size_m=(4.0, 4.0, 2.6),
        room_colour=(0.8, 0.8, 0.8),
        room_texture=-1,
        camera=Camera(K, pose, width, height),
        lights=(Light((0.0, -0.5, 2.4), (6.0, 6.0, 6.0), True),),
        ambient=(0.1, 0.1, 0.1),
        exposure=1.0,
        blur_sigma_px=0.0,
        noise_std=0.0,
    )


def object_instances(rendered: RenderedBatch, index: int) -> torch.Tensor:
    """(H, W) instance ids of objects only: room surfaces (floor, walls, ceiling) set to 0."""
    structure = [CLASS_NAMES.index(name) for name in text.STRUCTURE_CLASSES]
    labels = rendered.labels[index]
    return torch.where(torch.isin(labels, torch.tensor(structure)), 0, rendered.instances[index])


def all_ids(scene: Scene) -> set[int]:
    return {o.instance_id for o in scene.objects}


def column_of(instances: torch.Tensor, instance_id: int) -> float:
    return float(torch.nonzero(instances == instance_id)[:, 1].float().mean())


def test_the_only_object_of_its_class_is_named_by_class_alone() -> None:
    scene = make_scene(
        make_object(8, 'mug', 'red', -0.2, 0.0), make_object(9, 'bowl', 'blue', 0.2, 0)
    )
    ids = all_ids(scene)
    assert text.describe(scene, 8, ids) == 'the mug'
    assert text.describe(scene, 9, ids) == 'the bowl'
    assert text.describe(scene, TABLE, ids) == 'the table'
    assert text.resolve(scene, 'the mug', ids) == {8}


def test_colour_tells_two_mugs_apart() -> None:
    scene = make_scene(
        make_object(8, 'mug', 'red', -0.2, 0.0), make_object(9, 'mug', 'blue', 0.2, 0)
    )
    ids = all_ids(scene)
    assert text.describe(scene, 8, ids) == 'the red mug'
    assert text.describe(scene, 9, ids) == 'the blue mug'
    assert text.resolve(scene, 'the mug', ids) == {8, 9}


def test_a_confusable_colour_does_not_tell_objects_apart() -> None:
    # Red and orange may be taken for one another: the expression must use something else.
    scene = make_scene(
        make_object(8, 'mug', 'red', -0.25, 0.0), make_object(9, 'mug', 'orange', 0.25, 0.0)
    )
    ids = all_ids(scene)
    assert text.resolve(scene, 'the red mug', ids) == {8, 9}
    assert text.describe(scene, 8, ids) == 'the left mug'
    assert text.describe(scene, 9, ids) == 'the right mug'


def test_a_photographic_print_has_no_nameable_colour() -> None:
    printed = replace(make_object(8, 'book', 'red', -0.25, 0.0), colour_is_named=False)
    scene = make_scene(printed, make_object(9, 'book', 'blue', 0.25, 0.0))
    ids = all_ids(scene)
    assert text.describe(scene, 8, ids) == 'the left book'
    assert text.describe(scene, 9, ids) == 'the right book', 'the print might look blue'
    assert text.resolve(scene, 'the blue book', ids) == {8, 9}


def test_left_and_right_agree_with_the_rendered_image() -> None:
    scene = make_scene(
        make_object(8, 'mug', 'white', 0.3, 0.1), make_object(9, 'mug', 'white', -0.3, -0.1)
    )
    ids = all_ids(scene)
    left, right = text.describe(scene, 9, ids), text.describe(scene, 8, ids)
    assert (left, right) == ('the left mug', 'the right mug')
    instances = object_instances(render(batch_scenes([scene]), texture_bank().images, FAST), 0)
    assert column_of(instances, 9) < column_of(instances, 8)
    # Judged from the pixels instead of the projected boxes: the same answer.
    assert text.describe(scene, 9, ids, instances=instances) == 'the left mug'


def test_the_middle_of_three_identical_mugs_has_no_unambiguous_expression() -> None:
    mugs = [make_object(8 + n, 'mug', 'white', x, 0.0) for n, x in enumerate((-0.3, 0.0, 0.3))]
    scene = make_scene(*mugs)
    ids = all_ids(scene)
    assert text.describe(scene, 8, ids) == 'the leftmost mug'
    assert text.describe(scene, 10, ids) == 'the rightmost mug'
    assert text.describe(scene, 9, ids) is None
    assert text.describe(scene, 9, ids, slack_words=10) is None
    assert text.resolve(scene, 'the mug left of the rightmost mug', ids) == {8, 9}


def test_size_superlatives_pick_the_largest_and_smallest() -> None:
    boxes = [
        make_object(8, 'box', 'brown', -0.35, 0.0, size=(0.12, 0.12, 0.12)),
        make_object(9, 'box', 'brown', 0.0, 0.0, size=(0.24, 0.2, 0.2)),
        make_object(10, 'box', 'brown', 0.35, 0.0, size=(0.16, 0.15, 0.15)),
    ]
    scene = make_scene(*boxes)
    ids = all_ids(scene)
    assert text.describe(scene, 9, ids) == 'the largest box'
    assert text.resolve(scene, 'the biggest box', ids) == {9}
    assert text.resolve(scene, 'the smallest box', ids) == {8}
    # Two boxes of nearly one size: neither is certainly the larger.
    close = make_scene(boxes[2], replace(boxes[1], size_m=(0.17, 0.15, 0.15)))
    assert text.resolve(close, 'the large box', all_ids(close)) == {9, 10}


def test_support_tells_a_ball_on_the_table_from_one_on_the_floor() -> None:
    scene = make_scene(
        make_object(8, 'ball', 'red', 0.2, 0.0),
        make_object(9, 'ball', 'red', -0.9, -0.6, on_table=False),
    )
    ids = all_ids(scene)
    assert text.resolve(scene, 'the ball on the table', ids) == {8}
    assert text.resolve(scene, 'the ball on the floor', ids) == {9}
    rng = np.random.default_rng(0)
    said = {text.describe(scene, 8, ids, rng, slack_words=3.5) for _ in range(30)}
    assert 'the ball on the table' in said
    assert all(text.resolve(scene, s, ids) == {8} for s in said if s is not None)


def test_relations_to_a_landmark_from_the_camera_viewpoint() -> None:
    scene = make_scene(
        make_object(8, 'mug', 'white', -0.3, 0.0),
        make_object(9, 'bowl', 'green', 0.0, 0.0),
        make_object(10, 'mug', 'white', 0.3, 0.0),
        make_object(11, 'apple', 'red', 0.0, -0.25),  # nearer the camera than the bowl
    )
    ids = all_ids(scene)
    assert text.resolve(scene, 'the mug to the left of the bowl', ids) == {8}
    assert text.resolve(scene, 'the mug right of the bowl', ids) == {10}
    assert text.resolve(scene, 'the apple in front of the bowl', ids) == {11}
    assert text.resolve(scene, 'the bowl behind the apple', ids) == {9}
    assert text.resolve(scene, 'the mug in front of the bowl', ids) == frozenset()
    rng = np.random.default_rng(1)
    said = {text.describe(scene, 8, ids, rng, slack_words=4) for _ in range(40)}
    relations = {text.parse_expression(s).relation for s in said if s is not None}
    assert 'left of' in relations
    assert all(text.resolve(scene, s, ids) == {8} for s in said if s is not None)


def test_unreferable_objects_get_no_expression() -> None:
    scene = make_scene(make_object(8, 'mug', 'red', 0.0, 0.0))
    assert text.describe(scene, 8, {TABLE}) is None, 'not visible'
    floor = replace(make_object(6, 'table', 'grey', 0.0, 0.0, on_table=False), class_name='floor')
    soup = replace(make_object(12, 'ball', 'red', 0.5, 0.0), class_name='')
    scene = make_scene(floor, soup)
    assert text.describe(scene, 6, all_ids(scene)) is None
    assert text.describe(scene, 12, all_ids(scene)) is None
    with pytest.raises(KeyError):
        text.describe(scene, 99, {99})


def test_visible_instances_counts_pixels() -> None:
    image = torch.zeros(4, 5, dtype=torch.long)
    image[0, :3] = 7
    image[3, 4] = 9
    assert text.visible_instances(image, 3) == {7}
    assert text.visible_instances(image.numpy(), 1) == {7, 9}
    with pytest.raises(ValueError, match='min_pixels'):
        text.visible_instances(image, 0)
    with pytest.raises(ValueError, match='integer'):
        text.visible_instances(image.float(), 1)


descriptions = st.builds(
    text.Description,
    class_name=st.sampled_from(CLASS_NAMES[1:]),
    colour_name=st.none() | st.sampled_from(list(COLOURS)),
    superlative=st.none() | st.sampled_from(get_args(text.Superlative)),
    pair=st.booleans(),
    support=st.none() | st.sampled_from(['table', 'shelf', 'floor']),
)


@settings(max_examples=60, deadline=None)
@given(
    target=descriptions,
    landmark=descriptions,
    relation=st.none() | st.sampled_from(get_args(text.Relation)),
    seed=st.integers(0, 1000),
)
def test_every_wording_parses_back_to_its_description(
    target: text.Description,
    landmark: text.Description,
    relation: text.Relation | None,
    seed: int,
) -> None:
    if target.superlative is None:
        target = replace(target, pair=False)
    if landmark.superlative is None:
        landmark = replace(landmark, pair=False)
    landmark = replace(landmark, support=None)
    description = replace(target, relation=relation, landmark=landmark if relation else None)
    wording = description.text(np.random.default_rng(seed))
    assert text.parse_expression(wording) == description


def test_text_outside_the_grammar_is_rejected() -> None:
    with pytest.raises(ValueError, match='grammar'):
        text.parse_expression('a red mug')
    with pytest.raises(ValueError, match='grammar'):
        text.parse_expression('the mug near the bowl')
    with pytest.raises(ValueError, match='landmark'):
        text.Description('mug', relation='left of')


@pytest.fixture(scope='module')
def sampled() -> tuple[list[Scene], RenderedBatch]:
    scenes = [sample_scene(seed, 64, 48, mode) for seed, mode in ((1, 'tabletop'), (2, 'room'))]
    scenes += [sample_scene(seed, 64, 48, 'tabletop') for seed in (5, 7)]
    return scenes, render(batch_scenes(scenes), texture_bank().images, FAST)


def test_expressions_in_sampled_scenes_are_unique_and_sided_like_the_pixels(
    sampled: tuple[list[Scene], RenderedBatch],
) -> None:
    scenes, rendered = sampled
    rng = np.random.default_rng(0)
    described = relations = 0
    for index, scene in enumerate(scenes):
        instances = object_instances(rendered, index)
        visible, present = (
            text.visible_instances(instances, 12),
            text.visible_instances(instances, 1),
        )
        for instance_id in sorted(visible):
            said = text.describe(
                scene, instance_id, visible, rng, instances=instances, slack_words=3
            )
            if said is None:
                continue
            described += 1
            assert text.resolve(scene, said, present, instances=instances) == {instance_id}, said
            description = text.parse_expression(said)
            if description.relation in ('left of', 'right of') and description.landmark:
                relations += 1
                (landmark,) = text.resolve(
                    scene, description.landmark, present, instances=instances
                )
                target_u, landmark_u = (
                    column_of(instances, instance_id),
                    column_of(instances, landmark),
                )
                assert (target_u < landmark_u) == (description.relation == 'left of'), said
    assert described >= 12 and relations >= 1


def test_referring_targets_are_distinct_and_unambiguous(
    sampled: tuple[list[Scene], RenderedBatch],
) -> None:
    scenes, rendered = sampled
    instances = object_instances(rendered, 0)
    visible = text.visible_instances(instances, 12)
    references = text.referring_targets(
        scenes[0], visible, np.random.default_rng(3), 4, instances=instances
    )
    assert len(references) == 4
    assert len({r.instance_id for r in references}) == 4
    present = text.visible_instances(instances, 1)
    for reference in references:
        assert reference.instance_id in visible
        resolved = text.resolve(scenes[0], reference.expression, present, instances=instances)
        assert resolved == {reference.instance_id}
    assert text.referring_targets(scenes[0], visible, np.random.default_rng(3), 0) == []
