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
"""The mixture's configuration: default ratios, held-out prompts, validation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from vision_banana_ros.prompts import prompt_variants
from vision_banana_ros.training import (
    GENERATION_TASKS,
    HeldOutPrompts,
    MIXTURE_TASKS,
    MixtureConfig,
    PERCEPTION_TASKS,
    TaskWeights,
)


def test_default_mixture_is_80_percent_perception_and_20_percent_generation() -> None:
    config = MixtureConfig()
    share = dict(zip(MIXTURE_TASKS, config.weights.probabilities(), strict=True))
    assert sum(share[t] for t in PERCEPTION_TASKS) == pytest.approx(0.8)
    assert sum(share[t] for t in GENERATION_TASKS) == pytest.approx(0.2)
    assert config.resolution == (128, 160)
    assert config.cube_fraction == 0.7
    assert set(config.depth_colormaps) == {
        'viridis',
        'plasma',
        'inferno',
        'magma',
        'turbo',
        'grey',
    }


def test_weights_are_normalised() -> None:
    weights = TaskWeights(3.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert weights.probabilities() == (0.75, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_held_out_prompts_split_every_task_s_variants_in_two() -> None:
    held_out = HeldOutPrompts()
    for task in PERCEPTION_TASKS:
        training, kept = held_out.training(task), held_out.held_out(task)
        assert training and kept
        assert not set(training) & set(kept)
        assert set(training) | set(kept) == set(prompt_variants(task))


def test_min_visible_px_scales_with_the_image_but_never_drops_below_16() -> None:
    config = MixtureConfig()
    assert config.min_visible_px() == 41  # ceil(0.002 * 128 * 160)
    assert config.min_visible_px(64, 80) == 16


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'resolution': (4, 160)}, 'resolution'),
        ({'cube_fraction': 1.5}, 'cube_fraction'),
        ({'depth_colormaps': ('cube',)}, 'depth_colormaps'),
        ({'depth_colormaps': ('viridis', 'viridis')}, 'depth_colormaps'),
        ({'depth_colormaps': ()}, 'must not be empty'),
        ({'scenes_per_batch': 0}, 'scenes_per_batch'),
        ({'examples_per_frame': 0}, 'examples_per_frame'),
        ({'palette_size': 8}, 'palette_size'),
        ({'max_absent_classes': -1}, 'max_absent_classes'),
        ({'colour_variety': -0.1}, 'colour_variety'),
        ({'min_visible_fraction': 0.0}, 'min_visible_fraction'),
        ({'seed': -1}, 'seed'),
    ],
)
def test_config_rejects_bad_values(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(MixtureConfig(), **change)


@pytest.mark.parametrize(
    ('make', 'message'),
    [
        (lambda: TaskWeights(depth=-1.0), 'weights.depth'),
        (lambda: TaskWeights(depth=float('nan')), 'weights.depth'),
        (lambda: TaskWeights(*([0.0] * 7)), 'all be 0'),
        (lambda: HeldOutPrompts(depth=('nonsense',)), 'not variants'),
        (lambda: HeldOutPrompts(normals=prompt_variants('normals')), 'at least one'),
    ],
)
def test_weights_and_held_out_prompts_reject_bad_values(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
