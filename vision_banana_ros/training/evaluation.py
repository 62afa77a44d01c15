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
The held-out synthetic test set as perception examples, and scoring of generated images.

``held_out_examples`` renders ``synth.splits.HELD_OUT_TEST`` (256 frames of the test seeds at
256x192 and 320x180) and makes one example per frame and perception task: depth in the cube
colormap (the one the paper evaluates), normals, semantic with every class in view listed
(plus absent ones), instances of one class, one referring expression. Object-soup frames have
no classes, so they give depth and normals only. Prompts use the training paraphrases, or
with ``prompts='held_out'`` only those ``MixtureConfig.held_out`` kept out of training.

``decode_prediction`` reads a generated image back with the codecs, taking every colour from
the prompt text (``prompts.parse_prompt``: training = inference); ``evaluate_outputs`` scores a
list of generated images with ``metrics.harness.evaluate``::

    examples = held_out_examples()
    outputs = [generate(e.rgb, e.prompt) for e in examples]
    print(evaluate_outputs(examples, outputs).to_markdown())
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np
import torch
from vision_banana_ros.codecs.depth import decode_depth
from vision_banana_ros.codecs.normals import decode_normals
from vision_banana_ros.codecs.segmentation import (
    decode_instances,
    decode_referring,
    decode_semantic,
)
from vision_banana_ros.metrics.harness import evaluate, EvaluationReport, Prediction
from vision_banana_ros.prompts import parse_prompt, PromptError
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.synth.splits import HELD_OUT_TEST, HeldOutSet, test_set_scenes
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.tensors import ArrayLike, as_tensor
from vision_banana_ros.training.config import MixtureConfig, PERCEPTION_TASKS
from vision_banana_ros.training.example import Example
from vision_banana_ros.training.frames import render_frames, RenderedFrame
from vision_banana_ros.training.tasks import perception_example

__all__ = ['decode_prediction', 'evaluate_outputs', 'held_out_examples']

_EVALUATION_STREAM = 3  # generator stream, apart from data.py's 0, 1 and 2


def held_out_examples(
    config: MixtureConfig | None = None,
    held_out: HeldOutSet = HELD_OUT_TEST,
    *,
    indices: Iterable[int] | None = None,
    tasks: Sequence[str] = PERCEPTION_TASKS,
    prompts: Literal['training', 'held_out'] = 'training',
) -> list[Example]:
    """
    Render a held-out set and make its perception examples.

    The same arguments give the same examples, bit for bit. Frames keep the set's own
    resolutions (not ``config.resolution``); ``Example.index`` is the frame number and
    ``Example.name`` is '<set name>/<frame:04d>/<task>'.

    :param config: colours, palette and visibility threshold as in training (default:
        ``MixtureConfig()``); ``config.seed`` also seeds the draws here.
    :param held_out: the frame set.
    :param indices: frame numbers (default: every frame).
    :param tasks: the perception tasks to make, each of ``PERCEPTION_TASKS``.
    :param prompts: draw the paraphrases training uses, or only the held-out ones.
    :return: examples, frame by frame, in the order of ``tasks``; tasks a frame cannot give
        (nothing to name) are left out.
    :raises ValueError: on an unknown task or prompt set.
    """
    config = config or MixtureConfig()
    unknown = [t for t in tasks if t not in PERCEPTION_TASKS]
    if unknown or prompts not in ('training', 'held_out'):
        raise ValueError(
            f'tasks must be members of {PERCEPTION_TASKS} and prompts "training" or '
            f'"held_out", got {list(tasks)}, {prompts!r}'
        )
    choose = config.held_out.training if prompts == 'training' else config.held_out.held_out
    chosen = list(range(held_out.frames) if indices is None else indices)
    frames = _render_held_out(held_out, chosen, config)
    examples = []
    for number, frame in zip(chosen, frames, strict=True):
        for task in tasks:
            rng = np.random.default_rng(
                [config.seed, _EVALUATION_STREAM, number, PERCEPTION_TASKS.index(task)]
            )
            example = perception_example(
                task, frame, rng, choose(task), config, colormap='cube', list_all=True
            )
            if example is not None:
                name = f'{held_out.name}/{number:04d}/{task}'
                examples.append(replace(example, index=number, name=name))
    return examples


def decode_prediction(example: Example, rgb: ArrayLike) -> Prediction:
    """
    Decode a generated image for a perception example, with the colours its prompt names.

    Semantic labels come back as ``CLASS_NAMES`` ids (a 'background' entry and unlabelled
    pixels as 0), matching ``Example.labels``.

    :param example: the example the image was generated for.
    :param rgb: (H, W, 3) uint8 generated image, numpy or torch.
    :return: the ``Prediction`` of the example's task, torch tensors.
    :raises ValueError: if the example is not a perception task.
    """
    try:
        spec = parse_prompt(example.prompt)
    except PromptError as err:
        raise ValueError(f'{example.name!r} is not a perception example: {err}') from err
    image = as_tensor(rgb, 'rgb')
    if spec.task == 'depth':
        depth = decode_depth(image, spec.colormap).depth_m
        assert isinstance(depth, torch.Tensor)
        return Prediction(depth_m=depth)
    if spec.task == 'normals':
        return Prediction(normals=decode_normals(image).normals)
    if spec.task == 'semantic':
        ids = [CLASS_NAMES.index(n) if n in CLASS_NAMES else 0 for n, _ in spec.class_colours]
        lookup = torch.tensor([0, *ids])
        labels = decode_semantic(image, spec.class_colours).labels
        assert isinstance(labels, torch.Tensor)
        return Prediction(labels=lookup[labels.long()])
    if spec.task == 'instance':
        return Prediction(instances=decode_instances(image, spec.background).instance_ids)
    others = [colour for _, colour in spec.others]
    return Prediction(referring_mask=decode_referring(image, spec.target, spec.background, others))


def evaluate_outputs(
    examples: Sequence[Example],
    outputs: Sequence[ArrayLike],
    *,
    method: str = 'model',
) -> EvaluationReport:
    """
    Score generated images against the examples' ground truth with ``metrics.harness``.

    :param examples: perception examples (e.g. ``held_out_examples()``), unique names.
    :param outputs: one (H, W, 3) uint8 generated image per example, in the same order.
    :param method: the method's name in the report.
    :return: one row per dataset (the name's prefix, e.g. 'synth-test-v1') and task.
    :raises ValueError: on a length mismatch or duplicate names.
    """
    if len(examples) != len(outputs):
        raise ValueError(f'{len(examples)} examples but {len(outputs)} outputs')
    by_name = {e.name: (e, o) for e, o in zip(examples, outputs, strict=True)}
    if len(by_name) != len(examples):
        raise ValueError('example names must be unique')

    def predict(frame_name: str) -> Prediction:
        example, output = by_name[frame_name]
        return decode_prediction(example, output)

    return evaluate(
        lambda frame: predict(frame.name),
        [e.frame() for e in examples],
        method=method,
        num_classes=len(CLASS_NAMES),
    )


def _render_held_out(
    held_out: HeldOutSet, numbers: Sequence[int], config: MixtureConfig
) -> list[RenderedFrame]:
    """Render frames of a held-out set, batched by resolution; in the order of ``numbers``."""
    scenes = test_set_scenes(held_out, numbers)
    bank = texture_bank(held_out.texture_seed)
    groups: dict[tuple[int, int], list[int]] = {}
    for position, scene in enumerate(scenes):
        groups.setdefault((scene.camera.width, scene.camera.height), []).append(position)
    frames: list[RenderedFrame | None] = [None] * len(scenes)
    size = config.scenes_per_batch
    for positions in groups.values():
        for start in range(0, len(positions), size):
            stop = start + size
            batch = positions[start:stop]
            rendered = render_frames([scenes[p] for p in batch], bank, config.render_settings)
            for position, frame in zip(batch, rendered, strict=True):
                frames[position] = frame
    assert all(f is not None for f in frames)
    return [f for f in frames if f is not None]
