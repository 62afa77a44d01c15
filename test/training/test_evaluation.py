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
"""The held-out synthetic test set as examples, and scoring generated images with the harness."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from vision_banana_ros.metrics import DepthMetrics, EvaluationReport, NormalMetrics
from vision_banana_ros.synth.splits import HELD_OUT_TEST
from vision_banana_ros.training import (
    decode_prediction,
    evaluate_outputs,
    Example,
    held_out_examples,
    MixtureConfig,
)

from .conftest import same_example

FRAMES = [0, 1, 4]  # a room at 256x192, a tabletop at 320x180, object soup at 256x192


@pytest.fixture(scope='module')
def examples() -> list[Example]:
    return held_out_examples(indices=FRAMES)


def test_held_out_frames_keep_their_resolution_and_give_what_they_can(
    examples: list[Example],
) -> None:
    names = [e.name for e in examples]
    assert names[:5] == [
        f'synth-test-v1/0000/{task}'
        for task in ('depth', 'normals', 'semantic', 'instance', 'referring')
    ]
    assert {e.name.split('/')[-1] for e in examples if e.index == 4} == {'depth', 'normals'}
    for example in examples:
        seed, width, height, _ = HELD_OUT_TEST.frame(example.index)
        assert example.seed == seed and example.rgb.shape == (height, width, 3)
        assert example.detail in ('', 'cube')  # depth is evaluated in the cube colormap
    semantic = next(e for e in examples if e.task == 'semantic')
    assert semantic.labels is not None
    listed = {name for name, _ in semantic.class_colours}
    assert {'floor', 'wall'} <= listed  # every class in view is listed


def test_held_out_examples_regenerate_bit_for_bit(examples: list[Example]) -> None:
    again = held_out_examples(indices=[1])
    first = [e for e in examples if e.index == 1]
    assert len(again) == len(first) == 5
    assert all(same_example(a, b) for a, b in zip(first, again, strict=True))


def test_held_out_prompts_use_only_the_held_out_paraphrases() -> None:
    config = MixtureConfig()
    unseen = held_out_examples(config, indices=[1], prompts='held_out')
    for example in unseen:
        assert example.variant in config.held_out.held_out(example.task)


def scores(report: EvaluationReport, task: str) -> Any:
    """Return one task's metrics on the held-out set."""
    return report.find(task, HELD_OUT_TEST.name).metrics


def test_targets_score_perfectly_through_the_harness(examples: list[Example]) -> None:
    report = evaluate_outputs(examples, [e.target for e in examples], method='targets')
    depth, normals = scores(report, 'depth'), scores(report, 'normals')
    assert isinstance(depth, DepthMetrics) and isinstance(normals, NormalMetrics)
    assert depth.delta1 == 1.0 and depth.abs_rel < 0.002
    assert normals.mean_deg < 0.4
    assert scores(report, 'semantic').miou == 1.0
    assert scores(report, 'referring').ciou == 1.0
    assert scores(report, 'instances').f1 == 1.0


def test_wrong_outputs_score_worse(examples: list[Example]) -> None:
    report = evaluate_outputs(examples, [e.target.flip(1) for e in examples])
    assert scores(report, 'depth').abs_rel > 0.01
    assert scores(report, 'semantic').miou < 1.0


def test_decoding_needs_a_perception_example_and_one_output_each(
    examples: list[Example], stream_examples: list[Example]
) -> None:
    generation = next(e for e in stream_examples if e.task == 'reconstruct')
    with pytest.raises(ValueError, match='not a perception example'):
        decode_prediction(generation, generation.target)
    with pytest.raises(ValueError, match='outputs'):
        evaluate_outputs(examples, [])
    with pytest.raises(ValueError, match='tasks must be'):
        held_out_examples(indices=[0], tasks=['edit'])
    depth = decode_prediction(examples[0], examples[0].target.numpy())
    assert isinstance(depth.depth_m, torch.Tensor) and not math.isnan(float(depth.depth_m[0, 0]))
