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
Task examples from a rendered frame: the prompt, the target the codecs draw, the ground truth.

Every draw (colormap, class subset, colours, wording) comes from the ``numpy.random.Generator``
passed in (``synth.text`` and ``synth.edits`` take one too), so an example is a pure function
of its frame and generator state. Prompts are written by ``prompts.build_prompt`` in one of
the paraphrases a caller allows (training excludes ``HeldOutPrompts``).

- depth: ``encode_depth`` in the cube walk or an alternative colormap the prompt names.
- normals: ``encode_normals`` (optical frame in, the paper's colours out).
- semantic: a mapping drawn afresh per example: a random subset of the classes in view plus
  up to ``max_absent_classes`` absent ones, each in a colour drawn without replacement from
  ``distinct_palette(palette_size)``. Pixels of unlisted classes are drawn black (the
  unlabelled colour), or, with chance ``colour_variety``, in the colour of an extra
  'background' entry, as in the paper's ``{"cat": "red", ..., "background": yellow}``.
- instance: every object of one class with a visible member, each in its own
  ``distinct_palette`` colour (ids shuffled, so colours move between objects), on black or,
  with chance ``colour_variety``, on a random background colour the prompt names.
- referring: an unambiguous expression (``synth.text.referring_targets``); white on black, or
  with chance ``colour_variety`` other colours, sometimes with a second object named in a third
  colour ("the other man is rendered in green").
- edit: ``synth.edits.sample_edit``; the target is the edited scene, rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
import functools

import numpy as np
import torch
from vision_banana_ros.codecs.depth import encode_depth
from vision_banana_ros.codecs.normals import encode_normals
from vision_banana_ros.codecs.segmentation import (
    BLACK,
    distinct_palette,
    encode_instances,
    encode_referring,
    encode_semantic,
    Rgb,
    WHITE,
)
from vision_banana_ros.prompts import build_prompt, TaskSpec
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.synth.edits import Edit, sample_edit
from vision_banana_ros.synth.text import referring_targets, visible_instances
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.example import Example
from vision_banana_ros.training.frames import namable_objects, RenderedFrame

__all__ = [
    'EDIT_TEMPLATES',
    'depth_example',
    'draw_colormap',
    'edit_example',
    'instance_example',
    'normals_example',
    'perception_example',
    'referring_example',
    'sample_frame_edit',
    'semantic_example',
]

EDIT_TEMPLATES: tuple[str, ...] = ('{Instruction}.', 'Edit this image: {instruction}.')
"""How an instruction becomes a prompt, e.g. 'make the red mug blue' -> 'Make the red mug blue.'"""

_REFERRING_SLACK_WORDS = 1.0  # also draw expressions one word longer than the shortest
_REFERRING_COLOURS = 16  # referring colours come from black, white and distinct_palette(16)


def draw_colormap(rng: np.random.Generator, config: MixtureConfig) -> str:
    """
    Draw a depth colormap: 'cube' with chance ``cube_fraction``, else an alternative.

    :param rng: the example's generator.
    :param config: the mixture.
    :return: one of ``DEPTH_COLORMAPS``.
    """
    if rng.random() < config.cube_fraction or not config.depth_colormaps:
        return 'cube'
    return config.depth_colormaps[int(rng.integers(len(config.depth_colormaps)))]


def depth_example(
    frame: RenderedFrame, rng: np.random.Generator, variants: Sequence[str], colormap: str
) -> Example:
    """
    Make a depth example: the frame's z-depth in a colormap the prompt names.

    :param frame: the rendered frame.
    :param rng: draws the wording.
    :param variants: the ``prompt_variants('depth')`` names allowed.
    :param colormap: one of ``DEPTH_COLORMAPS``.
    :return: the example (ground truth ``depth_m``).
    """
    spec = TaskSpec('depth', colormap=colormap)
    variant = _pick(variants, rng)
    target = encode_depth(frame.depth_m, colormap)
    assert isinstance(target, torch.Tensor)
    return Example(
        rgb=frame.rgb,
        prompt=build_prompt(spec, variant),
        target=target,
        task='depth',
        variant=variant,
        detail=colormap,
        spec=spec,
        seed=frame.scene.seed,
        depth_m=frame.depth_m,
    )


def normals_example(
    frame: RenderedFrame, rng: np.random.Generator, variants: Sequence[str]
) -> Example:
    """
    Make a surface-normals example.

    :param frame: the rendered frame.
    :param rng: draws the wording.
    :param variants: the ``prompt_variants('normals')`` names allowed.
    :return: the example (ground truth ``normals``).
    """
    spec = TaskSpec('normals')
    variant = _pick(variants, rng)
    target = encode_normals(frame.normals)
    assert isinstance(target, torch.Tensor)
    return Example(
        rgb=frame.rgb,
        prompt=build_prompt(spec, variant),
        target=target,
        task='normals',
        variant=variant,
        spec=spec,
        seed=frame.scene.seed,
        normals=frame.normals,
    )


def semantic_example(
    frame: RenderedFrame,
    rng: np.random.Generator,
    variants: Sequence[str],
    config: MixtureConfig,
    *,
    list_all: bool = False,
) -> Example | None:
    """
    Make a semantic example with a class -> colour mapping drawn for this example alone.

    :param frame: the rendered frame.
    :param rng: draws the classes, their order, colours and wording.
    :param variants: the ``prompt_variants('semantic')`` names allowed.
    :param config: ``max_listed_classes``, ``max_absent_classes``, ``palette_size`` and
        ``colour_variety`` (chance of a 'background' entry).
    :param list_all: list every class in view (evaluation), not a random subset of them.
    :return: the example (ground truth ``labels``: class ids of listed classes, 0 elsewhere),
        or None if no class is in view (object soup).
    """
    present = [int(c) for c in torch.unique(frame.labels).tolist() if c > 0]
    if not present:
        return None
    spare = config.palette_size - 1  # keep one colour for a 'background' entry
    absent_pool = [c for c in range(1, len(CLASS_NAMES)) if c not in present]
    absent_count = min(int(rng.integers(config.max_absent_classes + 1)), len(absent_pool))
    most = min(len(present), spare - absent_count)
    count = most if list_all else int(rng.integers(1, min(most, config.max_listed_classes) + 1))
    listed = [present[int(i)] for i in rng.choice(len(present), count, replace=False)]
    picked = rng.choice(len(absent_pool), absent_count, replace=False)
    absent = [absent_pool[int(i)] for i in picked]
    classes = [(listed + absent)[int(i)] for i in rng.permutation(count + absent_count)]
    with_background = bool(rng.random() < config.colour_variety)
    names = [CLASS_NAMES[c] for c in classes] + ['background'] * with_background
    palette = _palette(config.palette_size)
    picks = rng.choice(len(palette), len(names), replace=False)
    colours = [palette[int(i)] for i in picks]
    spec = TaskSpec('semantic', class_colours=tuple(zip(names, colours, strict=True)))

    # Class ids -> prompt ids 1..N; unlisted classes -> the 'background' entry or 0 (black).
    lookup = torch.full((len(CLASS_NAMES),), len(names) if with_background else 0)
    lookup[torch.tensor(classes)] = torch.arange(1, len(classes) + 1)
    target = encode_semantic(lookup[frame.labels], spec.class_colours)
    assert isinstance(target, torch.Tensor)
    shown = torch.isin(frame.labels, torch.tensor(listed))
    variant = _pick(variants, rng)
    return Example(
        rgb=frame.rgb,
        prompt=build_prompt(spec, variant),
        target=target,
        task='semantic',
        variant=variant,
        spec=spec,
        seed=frame.scene.seed,
        labels=torch.where(shown, frame.labels, 0),
    )


def instance_example(
    frame: RenderedFrame,
    rng: np.random.Generator,
    variants: Sequence[str],
    config: MixtureConfig,
) -> Example | None:
    """
    Make an instance example: every object of one class, each in its own colour.

    :param frame: the rendered frame.
    :param rng: draws the class, the colour order, the background and the wording.
    :param variants: the ``prompt_variants('instance')`` names allowed.
    :param config: ``colour_variety`` (chance of a non-black background) and the visibility
        threshold.
    :return: the example (ground truth ``instances``, 1..K), or None if no class has an
        object in view.
    """
    height, width = frame.labels.shape
    min_px = config.min_visible_px(height, width)
    classes = sorted(set(namable_objects(frame, min_px).values()))
    if not classes:
        return None
    class_name = _pick(classes, rng)
    members = [o.instance_id for o in frame.scene.objects if o.class_name == class_name]
    drawn = visible_instances(frame.instances, 1)  # every object with a pixel
    shown = [i for i in members if i in drawn]
    order = rng.permutation(len(shown)) + 1  # colour order differs between examples
    lookup = torch.zeros(int(frame.instances.max()) + 1, dtype=torch.int64)
    lookup[torch.tensor(shown)] = torch.as_tensor(order, dtype=torch.int64)
    instances = lookup[frame.instances]
    background = BLACK
    if rng.random() < config.colour_variety:
        background = _random_colour(rng)
    spec = TaskSpec('instance', class_name=class_name, background=background)
    target = encode_instances(instances, background)
    assert isinstance(target, torch.Tensor)
    variant = _pick(variants, rng)
    return Example(
        rgb=frame.rgb,
        prompt=build_prompt(spec, variant),
        target=target,
        task='instance',
        variant=variant,
        spec=spec,
        seed=frame.scene.seed,
        instances=instances,
        min_visible_px=min_px,
    )


def referring_example(
    frame: RenderedFrame,
    rng: np.random.Generator,
    variants: Sequence[str],
    config: MixtureConfig,
) -> Example | None:
    """
    Make a referring example: one object named by an unambiguous expression.

    :param frame: the rendered frame.
    :param rng: draws the object, its wording, the colours and the prompt's wording.
    :param variants: the ``prompt_variants('referring')`` names allowed.
    :param config: ``colour_variety`` (chance of colours other than white on black, and half
        that of naming a second object) and the visibility threshold.
    :return: the example (ground truth ``referring_mask``), or None if no object in view can
        be named unambiguously.
    """
    height, width = frame.labels.shape
    min_px = config.min_visible_px(height, width)
    objects = namable_objects(frame, min_px)
    recoloured = bool(rng.random() < config.colour_variety)
    count = 2 if recoloured and rng.random() < 0.5 else 1
    references = referring_targets(
        frame.scene,
        objects.keys(),
        rng,
        count,
        instances=frame.instances,
        slack_words=_REFERRING_SLACK_WORDS,
    )
    if not references:
        return None
    colours: list[Rgb] = [WHITE, BLACK]
    if recoloured:
        pool = _referring_pool()
        picks = rng.choice(len(pool) - 1, len(references) + 1, replace=False) + 1  # no black
        colours = [pool[int(i)] for i in picks]
        if rng.random() < 0.5:
            colours[-1] = BLACK  # keep the usual black background half the time
    target_colour, background = colours[0], colours[-1]
    mask = frame.instances == references[0].instance_id
    target = encode_referring(mask, target_colour, background)
    assert isinstance(target, torch.Tensor)
    others = []
    for reference, colour in zip(references[1:], colours[1:-1], strict=True):
        target[frame.instances == reference.instance_id] = torch.tensor(colour, dtype=torch.uint8)
        others.append((reference.expression, colour))
    spec = TaskSpec(
        'referring',
        expression=references[0].expression,
        target=target_colour,
        background=background,
        others=tuple(others),
    )
    variant = _pick(variants, rng)
    return Example(
        rgb=frame.rgb,
        prompt=build_prompt(spec, variant),
        target=target,
        task='referring',
        variant=variant,
        spec=spec,
        seed=frame.scene.seed,
        referring_mask=mask,
    )


def sample_frame_edit(
    frame: RenderedFrame, rng: np.random.Generator, config: MixtureConfig
) -> Edit:
    """
    Draw an edit of a visible object, or of the light (``synth.edits.sample_edit``).

    :param frame: the rendered source frame.
    :param rng: draws the edit.
    :param config: the visibility threshold.
    :return: the edit; render ``edit.edited`` for the target.
    """
    height, width = frame.labels.shape
    visible = visible_instances(frame.instances, config.min_visible_px(height, width))
    return sample_edit(frame.scene, visible, rng, instances=frame.instances)


def edit_example(
    frame: RenderedFrame, edited: RenderedFrame, edit: Edit, rng: np.random.Generator
) -> Example:
    """
    Make an image-editing example: the source frame, the instruction, the edited frame.

    :param frame: the rendered source scene.
    :param edited: the rendered ``edit.edited``.
    :param edit: the edit.
    :param rng: draws the wording (``EDIT_TEMPLATES``).
    :return: the example (no ground truth beyond the target).
    """
    choice = int(rng.integers(len(EDIT_TEMPLATES)))
    instruction = edit.instruction
    prompt = EDIT_TEMPLATES[choice].format(
        Instruction=instruction[:1].upper() + instruction[1:], instruction=instruction
    )
    return Example(
        rgb=frame.rgb,
        prompt=prompt,
        target=edited.rgb,
        task='edit',
        variant=f'edit/{choice}',
        detail=edit.kind,
        seed=frame.scene.seed,
    )


def perception_example(
    task: str,
    frame: RenderedFrame,
    rng: np.random.Generator,
    variants: Sequence[str],
    config: MixtureConfig,
    *,
    colormap: str | None = None,
    list_all: bool = False,
) -> Example | None:
    """
    Make an example of one perception task.

    :param task: one of ``PERCEPTION_TASKS``.
    :param frame: the rendered frame.
    :param rng: the example's generator.
    :param variants: the task's ``prompt_variants`` names allowed.
    :param config: the mixture.
    :param colormap: depth: the colormap, or None to draw one (``draw_colormap``).
    :param list_all: semantic: list every class in view.
    :return: the example, or None where the frame has nothing the task can name.
    :raises ValueError: on an unknown task.
    """
    if task == 'depth':
        return depth_example(frame, rng, variants, colormap or draw_colormap(rng, config))
    if task == 'normals':
        return normals_example(frame, rng, variants)
    if task == 'semantic':
        return semantic_example(frame, rng, variants, config, list_all=list_all)
    if task == 'instance':
        return instance_example(frame, rng, variants, config)
    if task == 'referring':
        return referring_example(frame, rng, variants, config)
    raise ValueError(f'task must be a perception task, got {task!r}')


def _pick(options: Sequence[str], rng: np.random.Generator) -> str:
    if not options:
        raise ValueError('no prompt variant to draw from')
    return options[int(rng.integers(len(options)))]


def _random_colour(rng: np.random.Generator) -> Rgb:
    r, g, b = (int(v) for v in rng.integers(0, 256, 3))
    return r, g, b


@functools.cache
def _palette(size: int) -> tuple[Rgb, ...]:
    return tuple((int(r), int(g), int(b)) for r, g, b in distinct_palette(size).tolist())


@functools.cache
def _referring_pool() -> tuple[Rgb, ...]:
    """Black first, then white and the other ``distinct_palette`` colours."""
    return (BLACK, *_palette(_REFERRING_COLOURS))
