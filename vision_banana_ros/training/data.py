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
The task mixture as an endless, resumable stream of examples, and batches of them.

Default mixture (``config.MixtureConfig``): 80 % perception (depth 20 %, normals 14 %, semantic
18 %, instance 12 %, referring 16 %) and 20 % generation (edit 12 %, reconstruct 8 %).

Example ``i`` of a stream is a pure function of (``config``, split, ``i``):

1. its task is drawn by ``config.weights`` from a generator seeded with (seed, 0, i);
2. examples ``k * f .. k * f + k - 1`` (``k = examples_per_frame``) share frame ``f``, the
   scene of the split's seed number ``f`` (``synth.splits``), a room or tabletop when one of
   them names objects (semantic, instance, referring, edit), else any scene kind;
3. everything else it draws (colormap, classes, colours, expression, edit, photograph,
   wording) comes from a generator seeded with (seed, 1, i).

So a run that stored its stream position resumes exactly: ``MixtureStream(config, split,
start_index=position)`` yields the tail of the uninterrupted stream, bit for bit. Frames are
rendered ``scenes_per_batch`` at a time, once for all the examples that share them (the
renderer draws a frame to the same bits alone or in any batch). A task that finds nothing to
name in its frame (rare: no unambiguous expression) falls back, referring -> instance ->
semantic -> depth; ``Example.task`` says what was made.

With a ``torch.utils.data.DataLoader``, pass ``block_size`` = the loader's ``batch_size``
(1 for ``batch_size=None``): worker ``w`` of ``W`` then makes blocks ``w, w + W, ...`` and
the loader's round-robin returns them in stream order whatever the number of workers (keep
``block_size`` a multiple of ``examples_per_frame`` so that no two workers render one frame).
Workers run torch on one thread, as they should: on a busy CPU, intra-op threads slow the
renderer many times over (examples are the same bits on any number of threads)::

    stream = MixtureStream(config, 'train', start_index=position, block_size=32)
    loader = DataLoader(stream, batch_size=32, num_workers=4, collate_fn=collate)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
import itertools

import numpy as np
import torch
from torch.utils.data import get_worker_info, IterableDataset
from vision_banana_ros.synth.layout import sample_scene, Scene, SceneMode
from vision_banana_ros.synth.splits import Split, SPLIT_SEEDS
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.training.config import MIXTURE_TASKS, MixtureConfig, PERCEPTION_TASKS
from vision_banana_ros.training.example import Example
from vision_banana_ros.training.frames import render_frames, RenderedFrame
from vision_banana_ros.training.photos import reconstruct_example
from vision_banana_ros.training.tasks import (
    edit_example,
    perception_example,
    sample_frame_edit,
)

__all__ = ['Batch', 'MixtureStream', 'collate', 'example_rng']

_TASK_STREAM, _EXAMPLE_STREAM, _FRAME_STREAM = 0, 1, 2
_NAMES_OBJECTS = frozenset({'semantic', 'instance', 'referring', 'edit'})
_FALLBACK = {'referring': 'instance', 'instance': 'semantic', 'semantic': 'depth'}
_ROOM_SHARE = 0.45 / (0.45 + 0.35)  # sample_scene's room : tabletop odds


def example_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """
    Return the generator of one draw stream of one example (or frame).

    :param seed: ``MixtureConfig.seed``.
    :param stream: 0 task, 1 example contents, 2 frame.
    :param index: the example's (or frame's) index.
    :return: a fresh ``numpy.random.Generator``, the same for the same arguments.
    """
    return np.random.default_rng([seed, stream, index])


class MixtureStream(IterableDataset[Example]):
    """
    Endless, deterministic stream of mixture examples, resumable at any position.

    :param config: the mixture.
    :param split: whose scene seeds to use, 'train', 'val' or 'test' (``synth.splits``); a
        stream longer than the split's seeds times ``examples_per_frame`` wraps around.
    :param start_index: the position of the first example (a checkpoint's stream position).
    :param block_size: under DataLoader workers, consecutive examples each worker makes;
        the loader's ``batch_size`` (1 for ``batch_size=None``) keeps the stream order.
    """

    def __init__(
        self,
        config: MixtureConfig,
        split: Split = 'train',
        start_index: int = 0,
        *,
        block_size: int = 1,
    ) -> None:
        if split not in SPLIT_SEEDS:
            raise ValueError(f'split must be one of {", ".join(SPLIT_SEEDS)}, got {split!r}')
        if start_index < 0:
            raise ValueError(f'start_index must be >= 0, got {start_index}')
        if block_size < 1:
            raise ValueError(f'block_size must be >= 1, got {block_size}')
        self.config, self.split = config, split
        self.start_index, self.block_size = start_index, block_size
        probabilities = np.array(config.weights.probabilities())
        self._cumulative = np.cumsum(probabilities / probabilities.sum())
        self._variants = {t: config.held_out.training(t) for t in PERCEPTION_TASKS}

    def __iter__(self) -> Iterator[Example]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        indices = _worker_indices(self.start_index, worker, workers, self.block_size)
        group = self.config.scenes_per_batch * self.config.examples_per_frame
        while True:
            yield from self.examples(list(itertools.islice(indices, group)))

    def task(self, index: int) -> str:
        """
        Return the task drawn for a position (before any fallback).

        :param index: stream position, >= 0.
        :return: one of ``MIXTURE_TASKS``.
        """
        draw = example_rng(self.config.seed, _TASK_STREAM, index).random()
        position = int(np.searchsorted(self._cumulative, draw, side='right'))
        return MIXTURE_TASKS[min(position, len(MIXTURE_TASKS) - 1)]

    def scene(self, frame: int) -> Scene:
        """
        Return the scene of a frame: the split's seed number ``frame``.

        Its kind (room or tabletop, or any) follows the tasks of the examples sharing it.

        :param frame: frame number (example index // ``examples_per_frame``).
        :return: the scene, at the mixture's resolution.
        """
        per_frame = self.config.examples_per_frame
        tasks = {self.task(i) for i in range(frame * per_frame, (frame + 1) * per_frame)}
        mode: SceneMode | None = None
        if tasks & _NAMES_OBJECTS:
            draw = example_rng(self.config.seed, _FRAME_STREAM, frame).random()
            mode = 'room' if draw < _ROOM_SHARE else 'tabletop'
        seeds = SPLIT_SEEDS[self.split]
        height, width = self.config.resolution
        bank = texture_bank(self.config.texture_seed)
        return sample_scene(seeds[frame % len(seeds)], width, height, mode, bank)

    def examples(self, indices: Sequence[int]) -> list[Example]:
        """
        Make the examples at some stream positions, rendering each frame they share once.

        :param indices: stream positions, >= 0, in any order.
        :return: the examples, in the order of ``indices``.
        """
        if any(i < 0 for i in indices):
            raise ValueError(f'indices must be >= 0, got {min(indices)}')
        tasks = [self.task(i) for i in indices]
        per_frame = self.config.examples_per_frame
        needed = sorted(
            {i // per_frame for i, t in zip(indices, tasks, strict=True) if t != 'reconstruct'}
        )
        frames = dict(zip(needed, self._render([self.scene(f) for f in needed]), strict=True))

        made: list[Example | None] = []
        edits = []
        for slot, (index, task) in enumerate(zip(indices, tasks, strict=True)):
            rng = example_rng(self.config.seed, _EXAMPLE_STREAM, index)
            if task == 'reconstruct':
                made.append(reconstruct_example(rng, *self.config.resolution))
                continue
            frame = frames[index // per_frame]
            if task == 'edit':
                edits.append((slot, frame, sample_frame_edit(frame, rng, self.config), rng))
                made.append(None)
                continue
            made.append(self._perception(task, frame, rng))
        edited = self._render([edit.edited for _, _, edit, _ in edits])
        for (slot, frame, edit, rng), target in zip(edits, edited, strict=True):
            made[slot] = edit_example(frame, target, edit, rng)

        result = []
        for index, example in zip(indices, made, strict=True):
            assert example is not None
            name = f'{self.split}/{index:09d}/{example.task}'
            result.append(replace(example, index=index, name=name))
        return result

    def _perception(self, task: str, frame: RenderedFrame, rng: np.random.Generator) -> Example:
        current: str | None = task
        while current is not None:
            example = perception_example(current, frame, rng, self._variants[current], self.config)
            if example is not None:
                return example
            current = _FALLBACK.get(current)
        raise AssertionError('depth examples are always possible')

    def _render(self, scenes: Sequence[Scene]) -> list[RenderedFrame]:
        bank = texture_bank(self.config.texture_seed)
        size = self.config.scenes_per_batch
        frames: list[RenderedFrame] = []
        for start in range(0, len(scenes), size):
            stop = start + size
            frames += render_frames(scenes[start:stop], bank, self.config.render_settings)
        return frames


@dataclass(frozen=True)
class Batch:
    """
    Examples stacked for a model.

    :ivar inputs: (B, 3, H, W) input images, uint8 or float in [0, 1].
    :ivar targets: (B, 3, H, W) target images, same dtype.
    :ivar prompts: B prompts.
    :ivar tasks: B task names (``MIXTURE_TASKS``).
    :ivar indices: B stream positions; the next position to store is ``indices[-1] + 1``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    prompts: list[str]
    tasks: list[str]
    indices: list[int]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """
        Move the images to a device.

        :param device: where to.
        :param non_blocking: passed to ``Tensor.to``.
        :return: a new batch.
        """
        return replace(
            self,
            inputs=self.inputs.to(device, non_blocking=non_blocking),
            targets=self.targets.to(device, non_blocking=non_blocking),
        )


def collate(examples: Sequence[Example], dtype: torch.dtype = torch.uint8) -> Batch:
    """
    Stack examples of one size into a ``Batch`` (a DataLoader ``collate_fn``).

    :param examples: B >= 1 examples with (H, W, 3) uint8 images of one size.
    :param dtype: uint8 (as drawn) or a floating dtype (divided by 255).
    :return: the batch, images (B, 3, H, W).
    :raises ValueError: on no examples, mixed sizes or an unsupported dtype.
    """
    if not examples:
        raise ValueError('examples is empty')
    sizes = {tuple(e.rgb.shape) for e in examples} | {tuple(e.target.shape) for e in examples}
    if len(sizes) != 1:
        raise ValueError(f'examples must share one image size, got {sorted(sizes)}')
    if dtype != torch.uint8 and not dtype.is_floating_point:
        raise ValueError(f'dtype must be torch.uint8 or floating, got {dtype}')

    def stack(images: list[torch.Tensor]) -> torch.Tensor:
        batch = torch.stack(images).permute(0, 3, 1, 2).contiguous()  # (B, 3, H, W)
        return batch if dtype == torch.uint8 else batch.to(dtype) / 255.0

    return Batch(
        inputs=stack([e.rgb for e in examples]),
        targets=stack([e.target for e in examples]),
        prompts=[e.prompt for e in examples],
        tasks=[e.task for e in examples],
        indices=[e.index for e in examples],
    )


def _worker_indices(start: int, worker: int, workers: int, block: int) -> Iterator[int]:
    """Positions of one worker: blocks ``worker, worker + workers, ...`` of ``block``."""
    for round_ in itertools.count():
        first = start + (round_ * workers + worker) * block
        yield from range(first, first + block)
