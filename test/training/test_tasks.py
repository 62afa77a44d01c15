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
"""Every task's target decodes back to its ground truth, in the colours its prompt names."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from vision_banana_ros.codecs import decode_depth, decode_normals
from vision_banana_ros.codecs.normals import ROUND_TRIP_MAX_DEG
from vision_banana_ros.codecs.segmentation import BLACK, WHITE
from vision_banana_ros.metrics.segmentation import instance_metrics, match_instances
from vision_banana_ros.prompts import parse_prompt
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.training import decode_prediction, Example, MixtureConfig
from vision_banana_ros.training.example import IGNORED_INSTANCE
from vision_banana_ros.training.tasks import draw_colormap


def of_task(examples: list[Example], task: str) -> list[Example]:
    found = [e for e in examples if e.task == task]
    assert len(found) >= 10, f'too few {task} examples in the stream to test'
    return found


def test_every_perception_prompt_parses_back_to_its_spec(stream_examples: list[Example]) -> None:
    perception = [e for e in stream_examples if e.spec is not None]
    assert len(perception) >= 120
    for example in perception:
        assert parse_prompt(example.prompt) == example.spec, example.prompt


def test_depth_targets_decode_within_the_codec_precision(stream_examples: list[Example]) -> None:
    colormaps = set()
    for example in of_task(stream_examples, 'depth'):
        assert example.depth_m is not None and example.spec is not None
        colormaps.add(example.detail)
        decoded = decode_depth(example.target, example.spec.colormap).depth_m
        assert isinstance(decoded, torch.Tensor)
        valid = ~torch.isnan(example.depth_m)
        assert torch.equal(torch.isnan(decoded), ~valid)  # no hit <-> the invalid colour
        depth = example.depth_m[valid].double()
        # Half a colour step in t, times dd/dt = 5 (1 + d / 10)^3: 1785 steps on the cube path,
        # 255 in a table (doubled: a few tables repeat colours, decoded to their run's middle).
        steps, slack = (1785, 1.01) if example.detail == 'cube' else (255, 2.1)
        bound = 5.0 * (1.0 + depth / 10.0) ** 3 / (2 * steps) * slack
        assert bool(((decoded[valid].double() - depth).abs() <= bound).all()), example.detail
    assert 'cube' in colormaps and len(colormaps) >= 3


def test_depth_colormaps_are_mostly_the_cube_walk() -> None:
    rng, config = np.random.default_rng(0), MixtureConfig()
    drawn = Counter(draw_colormap(rng, config) for _ in range(3000))
    assert drawn['cube'] / 3000 == pytest.approx(0.7, abs=0.03)
    assert set(drawn) == {'cube', *config.depth_colormaps}


def test_normal_targets_decode_within_the_codec_precision(stream_examples: list[Example]) -> None:
    for example in of_task(stream_examples, 'normals'):
        assert example.normals is not None
        decoded = decode_normals(example.target).normals
        assert isinstance(decoded, torch.Tensor)
        valid = ~torch.isnan(example.normals[..., 0])
        assert torch.equal(torch.isnan(decoded[..., 0]), ~valid)
        cosine = (decoded[valid].double() * example.normals[valid].double()).sum(-1)
        angle = torch.rad2deg(torch.acos(cosine.clamp(-1.0, 1.0)))
        assert float(angle.max()) <= ROUND_TRIP_MAX_DEG + 0.01


def test_semantic_targets_decode_to_the_labels_exactly(stream_examples: list[Example]) -> None:
    for example in of_task(stream_examples, 'semantic'):
        prediction = decode_prediction(example, example.target)
        assert torch.equal(prediction.labels, example.labels)


def test_semantic_targets_draw_unlisted_classes_black_or_in_the_background_colour(
    stream_examples: list[Example],
) -> None:
    for example in of_task(stream_examples, 'semantic'):
        assert example.labels is not None
        colours = dict(example.class_colours)
        unlisted = example.labels == 0
        expected = colours.get('background', BLACK)
        assert bool((example.target[unlisted] == torch.tensor(expected, dtype=torch.uint8)).all())
        listed = [CLASS_NAMES.index(n) for n in colours if n != 'background']
        shown = set(torch.unique(example.labels).tolist()) - {0}
        assert shown <= set(listed)  # listed classes may be absent; shown ones are listed


def test_referring_targets_decode_to_the_mask_exactly(stream_examples: list[Example]) -> None:
    recoloured = 0
    for example in of_task(stream_examples, 'referring'):
        assert example.spec is not None and example.referring_mask is not None
        assert bool(example.referring_mask.any())
        prediction = decode_prediction(example, example.target)
        assert torch.equal(prediction.referring_mask, example.referring_mask)
        recoloured += (example.spec.target, example.spec.background) != (WHITE, BLACK)
    assert recoloured >= 1  # colour variety: not always white on black


def test_instance_targets_decode_to_their_instances(stream_examples: list[Example]) -> None:
    matches, backgrounds = [], set()
    for example in of_task(stream_examples, 'instance'):
        assert example.spec is not None
        backgrounds.add(example.spec.background)
        frame = example.frame()
        assert frame.instances is not None
        truth = torch.from_numpy(frame.instances.astype(np.int64))
        ignore = truth == IGNORED_INSTANCE
        prediction = decode_prediction(example, example.target)
        matches.append(
            match_instances(prediction.instances, truth.masked_fill(ignore, 0), ignore=ignore)
        )
    # Clean targets; the decoder still drops slivers that a 3x3 erosion wipes out at 64x80.
    assert instance_metrics(matches).f1 >= 0.85
    assert len(backgrounds) >= 2  # colour variety: not always on black


def test_edit_targets_change_the_input(stream_examples: list[Example]) -> None:
    kinds = Counter()
    for example in of_task(stream_examples, 'edit'):
        kinds[example.detail] += 1
        assert example.prompt.endswith('.') and example.prompt[0].isupper()
        assert not torch.equal(example.rgb, example.target)
    assert len(kinds) >= 3
