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
"""Edited scenes render changed exactly where their instruction says, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch
from vision_banana_ros.synth import edits, text
from vision_banana_ros.synth.catalog import CLASS_NAMES, GRASPABLE
from vision_banana_ros.synth.layout import batch_scenes, sample_scene, Scene
from vision_banana_ros.synth.render import render, RenderedBatch, RenderSettings
from vision_banana_ros.synth.textures import texture_bank

FAST = RenderSettings(shadow_map_px=32, ambient_occlusion=0.0)
STRUCTURE = torch.tensor([CLASS_NAMES.index(name) for name in text.STRUCTURE_CLASSES])


def object_instances(rendered: RenderedBatch, index: int) -> torch.Tensor:
    """Return the (H, W) instance ids of objects only: room surfaces set to 0."""
    labels = rendered.labels[index]
    return torch.where(torch.isin(labels, STRUCTURE), 0, rendered.instances[index])


@dataclass
class Frame:
    """A rendered frame with what a caller of ``edits`` needs."""

    scene: Scene
    rendered: RenderedBatch
    index: int
    instances: torch.Tensor
    visible: frozenset[int]

    def first_edit(self, make: Callable[[int], edits.Edit | None]) -> edits.Edit:
        """Return the edit of the most visible small graspable object that allows one."""
        counts = torch.bincount(self.instances.reshape(-1))
        graspable = [
            o.instance_id
            for o in self.scene.objects
            if o.class_name in GRASPABLE and o.instance_id in self.visible
        ]
        # Small objects: auto exposure barely notices them (see test_recolour...).
        small = [i for i in graspable if counts[i] < 0.05 * self.instances.numel()]
        for instance_id in sorted(small, key=lambda i: -int(counts[i])):
            edit = make(instance_id)
            if edit is not None:
                return edit
        raise AssertionError('no object of the test scene allows this edit')


@pytest.fixture(scope='module')
def frame() -> Frame:
    scene = replace(sample_scene(12, 64, 48, 'tabletop'), blur_sigma_px=0.0)
    rendered = render(batch_scenes([scene]), texture_bank().images, FAST)
    instances = object_instances(rendered, 0)
    return Frame(scene, rendered, 0, instances, text.visible_instances(instances, 10))


@pytest.fixture(scope='module')
def pairs(frame: Frame) -> tuple[list[edits.Edit], RenderedBatch]:
    """One edit of each kind on the same frame, all rendered in one batch."""
    scene, visible, rng = frame.scene, frame.visible, np.random.default_rng(0)
    kw = {'instances': frame.instances}
    colour = edits.recolour
    chosen = [
        frame.first_edit(lambda i: colour(scene, i, _far_colour(scene, i), visible, rng, **kw)),
        frame.first_edit(lambda i: edits.remove(scene, i, visible, rng, **kw)),
        frame.first_edit(lambda i: edits.move(scene, i, 'left', visible, rng, **kw)),
        edits.relight(scene, 'darker', rng),
        edits.relight(scene, 'warmer', rng),
        edits.relight(scene, 'off', rng),
    ]
    assert all(chosen), 'every edit applies to the test scene'
    done = [e for e in chosen if e is not None]
    return done, render(batch_scenes([e.edited for e in done]), texture_bank().images, FAST)


def _far_colour(scene: Scene, instance_id: int) -> str:
    warm = ('red', 'orange', 'yellow', 'pink', 'brown', 'beige')
    return 'blue' if scene.find(instance_id).colour_name in warm else 'red'


def _difference(a: RenderedBatch, i: int, b: RenderedBatch, j: int) -> torch.Tensor:
    """Return the (H, W) mean absolute RGB difference of two frames."""
    return (a.rgb[i].float() - b.rgb[j].float()).abs().mean(-1)


def test_recolour_changes_only_the_pixels_of_that_object(
    frame: Frame, pairs: tuple[list[edits.Edit], RenderedBatch]
) -> None:
    (edit, *_), after = pairs
    assert edit.kind == 'recolour' and edit.instruction.split()[-1] in ('red', 'blue')
    assert edit.edited.find(edit.instance_id).colour_name == edit.instruction.split()[-1]
    before = frame.rendered
    assert torch.equal(before.instances, after.instances[:1])
    assert torch.equal(before.labels, after.labels[:1])
    torch.testing.assert_close(before.depth_m, after.depth_m[:1], equal_nan=True, rtol=0, atol=0)
    changed = _difference(before, 0, after, 0)
    mask = frame.instances == edit.instance_id
    assert changed[mask].mean() > 15
    # Elsewhere at most a level or two: the camera's auto exposure sees the new colour too.
    assert changed[~mask].mean() < 1.5


def test_remove_makes_its_instance_vanish(
    frame: Frame, pairs: tuple[list[edits.Edit], RenderedBatch]
) -> None:
    (_, edit, *_), after = pairs
    assert edit.kind == 'remove' and edit.instruction.split()[-1] in GRASPABLE
    before_ids = frame.rendered.instances[0]
    after_ids = after.instances[1]
    assert (before_ids == edit.instance_id).any() and not (after_ids == edit.instance_id).any()
    elsewhere = before_ids != edit.instance_id
    assert torch.equal(before_ids[elsewhere], after_ids[elsewhere])
    assert edit.instance_id not in {o.instance_id for o in edit.edited.objects}


def test_move_left_shifts_its_pixels_left_and_nothing_else(
    frame: Frame, pairs: tuple[list[edits.Edit], RenderedBatch]
) -> None:
    (_, _, edit, *_), after = pairs
    assert edit.kind == 'move' and 'left' in edit.instruction
    before_ids, after_ids = frame.rendered.instances[0], after.instances[2]
    old = torch.nonzero(before_ids == edit.instance_id)[:, 1].float().mean()
    new = torch.nonzero(after_ids == edit.instance_id)[:, 1].float().mean()
    assert new < old - 1.0
    untouched = (before_ids != edit.instance_id) & (after_ids != edit.instance_id)
    assert torch.equal(before_ids[untouched], after_ids[untouched])
    source, edited = edit.source.find(edit.instance_id), edit.edited.find(edit.instance_id)
    assert edited.position_m[2] == source.position_m[2] and edited.yaw == source.yaw
    assert edits.fits(edit.edited, edit.instance_id)


def test_light_changes_keep_the_geometry(
    frame: Frame, pairs: tuple[list[edits.Edit], RenderedBatch]
) -> None:
    (*_, darker, warmer, off), after = pairs
    assert darker.instruction and warmer.instruction and 'off' in off.instruction
    before = frame.rendered
    for index in (3, 4, 5):
        assert torch.equal(before.instances[0], after.instances[index])
        torch.testing.assert_close(
            before.depth_m[0], after.depth_m[index], equal_nan=True, rtol=0, atol=0
        )
    rgb, changed = before.rgb[0].float(), after.rgb.float()
    assert changed[3].mean() < rgb.mean() - 20, 'darker'
    warmth = (changed[4][..., 0] - changed[4][..., 2]).mean() - (rgb[..., 0] - rgb[..., 2]).mean()
    assert warmth > 5, 'warmer: more red than blue'
    assert _difference(before, 0, after, 5).mean() > 5, 'the ceiling light went out'
    assert not any(light.casts_shadow for light in off.edited.lights)


def test_sample_edit_always_gives_an_edit(frame: Frame) -> None:
    rng = np.random.default_rng(4)
    kinds = {edits.sample_edit(frame.scene, frame.visible, rng).kind for _ in range(30)}
    assert kinds == {'recolour', 'remove', 'move', 'relight'}
    only = edits.sample_edit(frame.scene, frame.visible, rng, kinds=('recolour',))
    assert only.kind == 'recolour' and only.instance_id in frame.visible
    soup = sample_scene(3, 64, 48, 'soup')  # no classes: nothing to name, the light changes
    assert edits.sample_edit(soup, {o.instance_id for o in soup.objects}, rng).kind == 'relight'
    assert edits.relight(soup, 'off') is None
    with pytest.raises(ValueError, match='kinds'):
        bad_kinds: tuple = ('paint',)
        edits.sample_edit(frame.scene, frame.visible, rng, kinds=bad_kinds)


def test_bad_requests_are_refused(frame: Frame) -> None:
    scene = frame.scene
    mug = next(o for o in scene.objects if o.class_name in GRASPABLE)
    with pytest.raises(ValueError, match='unknown colour'):
        edits.recolour(scene, mug.instance_id, 'mauve', frame.visible)
    with pytest.raises(ValueError, match='too close'):
        edits.recolour(scene, mug.instance_id, mug.colour_name, frame.visible)
    with pytest.raises(ValueError, match='direction'):
        edits.move(scene, mug.instance_id, 'up', frame.visible)  # type: ignore[arg-type]
    table = next(o for o in scene.objects if o.class_name == 'table')
    assert edits.remove(scene, table.instance_id, frame.visible) is None, 'things stand on it'


def test_fits_rejects_overlaps_and_falling_off_the_support(frame: Frame) -> None:
    scene = frame.scene
    on_table = [o for o in scene.objects if o.class_name in GRASPABLE and o.support]
    first, second = on_table[:2]
    assert edits.fits(scene, first.instance_id)
    on_top = edits.moved(scene, first.instance_id, second.position_m[:2])
    assert not edits.fits(on_top, first.instance_id)
    table = scene.find(first.support)
    far = (table.position_m[0] + table.size_m[0] + 1.0, table.position_m[1])
    assert not edits.fits(edits.moved(scene, first.instance_id, far), first.instance_id)
