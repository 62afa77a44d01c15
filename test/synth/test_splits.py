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
"""Splits own disjoint seeds, and the held-out test set regenerates bit for bit."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations

import pytest
import torch

# The module, not its names: pytest would collect ``test_set_scenes`` as a test.
from vision_banana_ros.synth import splits
from vision_banana_ros.synth.layout import batch_scenes
from vision_banana_ros.synth.render import render
from vision_banana_ros.synth.textures import texture_bank


def test_split_ranges_are_disjoint() -> None:
    for (a, first), (b, second) in combinations(splits.SPLIT_SEEDS.items(), 2):
        assert first.stop <= second.start or second.stop <= first.start, (a, b)
    assert splits.SPLIT_SEEDS['train'].start == 0


def test_split_seeds_stay_inside_their_range() -> None:
    assert splits.split_seeds('val', 3) == range(1_000_000_000, 1_000_000_003)
    assert splits.split_seeds('test', 2, offset=9_998) == range(2_000_009_998, 2_000_010_000)
    assert splits.split_seeds('train', 0) == range(0, 0)
    for split, owned in splits.SPLIT_SEEDS.items():
        seeds = splits.split_seeds(split, 5, offset=len(owned) - 5)
        assert seeds.start in owned and seeds[-1] in owned


@pytest.mark.parametrize(
    ('split', 'count', 'offset', 'message'),
    [
        ('test', 10_001, 0, 'runs past'),
        ('test', 1, 10_000, 'runs past'),
        ('val', -1, 0, '>= 0'),
        ('train', 1, -5, '>= 0'),
        ('holdout', 1, 0, 'split must be'),
    ],
)
def test_split_seeds_refuse_requests_outside_the_split(
    split: str, count: int, offset: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        splits.split_seeds(split, count, offset)  # type: ignore[arg-type]


def test_held_out_test_set_is_fixed_and_inside_the_test_split() -> None:
    held_out = splits.HELD_OUT_TEST
    assert held_out.frames == 256 and held_out.split == 'test'
    frames = [held_out.frame(i) for i in range(held_out.frames)]
    assert all(seed in splits.SPLIT_SEEDS['test'] for seed, *_ in frames)
    assert len({seed for seed, *_ in frames}) == held_out.frames
    assert {(w, h) for _, w, h, _ in frames} == set(held_out.resolutions)
    assert [m for *_, m in frames].count('soup') == 51
    with pytest.raises(IndexError):
        held_out.frame(256)
    with pytest.raises(ValueError, match='runs past'):
        replace(held_out, frames=20_000)


def test_test_set_regenerates_bit_for_bit() -> None:
    indices = [0, 2, 4, 255]
    first = splits.test_set_scenes(indices=indices)
    again = splits.test_set_scenes(indices=indices)
    assert splits.fingerprint(first) == splits.fingerprint(again)
    assert [s.seed for s in first] == [splits.HELD_OUT_TEST.frame(i)[0] for i in indices]
    assert [s.mode for s in first] == ['room', 'room', 'soup', 'room']
    # Frames 0 and 2 share a resolution: render them twice and compare every array.
    bank = texture_bank(splits.HELD_OUT_TEST.texture_seed).images
    once, twice = (render(batch_scenes(scenes[:2]), bank) for scenes in (first, again))
    assert torch.equal(once.rgb, twice.rgb)
    assert torch.equal(once.labels, twice.labels) and torch.equal(once.instances, twice.instances)
    torch.testing.assert_close(once.depth_m, twice.depth_m, equal_nan=True, rtol=0, atol=0)
    torch.testing.assert_close(once.normals, twice.normals, equal_nan=True, rtol=0, atol=0)


def test_fingerprint_notices_any_change() -> None:
    (scene,) = splits.test_set_scenes(indices=[3])
    reference = splits.fingerprint([scene])
    assert reference != splits.fingerprint([replace(scene, exposure=scene.exposure + 1e-12)])
    moved = replace(scene.objects[1], position_m=(0.0, 0.0, 0.0))
    assert reference != splits.fingerprint([replace(scene, objects=(scene.objects[0], moved))])
    assert reference != splits.fingerprint([scene, scene])
