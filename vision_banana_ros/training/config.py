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
What the training mixture holds: task weights, colour variety, held-out prompts, batching.

Defaults: 80 % perception (depth 20 %, normals 14 %, semantic 18 %, instance 12 %, referring
16 %) and 20 % generation (image editing 12 %, photograph reconstruction 8 %), at 128x160.
The paper mixes its vision data into the generator's own mixture "at a very low ratio"
(arXiv:2604.20329 §2); here the generation share stands in for that mixture and keeps the
model a generator. Depth targets use the paper's cube walk 70 % of the time and the six
alternative colormaps (viridis, plasma, inferno, magma, turbo, grey) the other 30 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
import math

from vision_banana_ros.codecs.depth import DEPTH_COLORMAPS
from vision_banana_ros.codecs.segmentation import MAX_PALETTE_SIZE
from vision_banana_ros.prompts import prompt_variants, TASKS
from vision_banana_ros.synth.render import RenderSettings

__all__ = [
    'GENERATION_TASKS',
    'MIXTURE_TASKS',
    'PERCEPTION_TASKS',
    'HeldOutPrompts',
    'MixtureConfig',
    'TaskWeights',
]

PERCEPTION_TASKS: tuple[str, ...] = TASKS
"""Tasks whose target encodes a quantity a codec decodes: prompts.TASKS."""
GENERATION_TASKS: tuple[str, ...] = ('edit', 'reconstruct')
"""Tasks whose target is a photograph-like image: scene edits and photograph transforms."""
MIXTURE_TASKS: tuple[str, ...] = PERCEPTION_TASKS + GENERATION_TASKS
"""Every task of the mixture, in the order of ``TaskWeights``."""


@dataclass(frozen=True)
class TaskWeights:
    """
    Relative frequency of each task; normalised by their sum.

    Defaults: 80 % perception, 20 % generation.
    """

    depth: float = field(default=0.20, metadata={'help': 'metric depth, colormapped'})
    normals: float = field(default=0.14, metadata={'help': 'surface normals'})
    semantic: float = field(default=0.18, metadata={'help': 'semantic segmentation'})
    instance: float = field(default=0.12, metadata={'help': 'instances of one class'})
    referring: float = field(default=0.16, metadata={'help': 'one object named in words'})
    edit: float = field(default=0.12, metadata={'help': 'image editing pairs (synth.edits)'})
    reconstruct: float = field(
        default=0.08, metadata={'help': 'reproduce or transform a photograph'}
    )

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f'weights.{spec.name} must be finite and >= 0, got {value}')
        if not sum(self.as_tuple()) > 0.0:
            raise ValueError('weights must not all be 0')

    def as_tuple(self) -> tuple[float, ...]:
        """
        Return the weights in ``MIXTURE_TASKS`` order.

        :return: one weight per task, as given (not normalised).
        """
        return tuple(float(getattr(self, task)) for task in MIXTURE_TASKS)

    def probabilities(self) -> tuple[float, ...]:
        """
        Return the weights normalised to sum to 1, in ``MIXTURE_TASKS`` order.

        :return: one probability per task.
        """
        weights = self.as_tuple()
        total = sum(weights)
        return tuple(w / total for w in weights)


@dataclass(frozen=True)
class HeldOutPrompts:
    """
    Prompt paraphrases (``prompts.prompt_variants`` names) never used in training.

    The defaults hold out one depth and one normals wording, and for the segmentation tasks one
    (template, colour notation) pair each whose template and notation both appear in training
    with other partners, so the held-out prompts test generalisation to unseen combinations.
    """

    depth: tuple[str, ...] = field(default=('map',), metadata={'help': 'depth variants'})
    normals: tuple[str, ...] = field(default=('map',), metadata={'help': 'normals variants'})
    semantic: tuple[str, ...] = field(
        default=('colour-map/rgb',), metadata={'help': 'semantic variants'}
    )
    instance: tuple[str, ...] = field(
        default=('paint/rgb',), metadata={'help': 'instance variants'}
    )
    referring: tuple[str, ...] = field(
        default=('render/rgb',), metadata={'help': 'referring variants'}
    )

    def __post_init__(self) -> None:
        for task in PERCEPTION_TASKS:
            names = tuple(getattr(self, task))
            known = prompt_variants(task)
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(
                    f'held_out.{task}: {unknown} are not variants of {task} prompts '
                    f'({", ".join(known)})'
                )
            if len(set(names)) >= len(known):
                raise ValueError(f'held_out.{task} must leave at least one variant for training')
            object.__setattr__(self, task, names)

    def held_out(self, task: str) -> tuple[str, ...]:
        """
        Return the variants of a task kept out of training.

        :param task: one of ``PERCEPTION_TASKS``.
        :return: variant names, in ``prompt_variants`` order.
        """
        names = set(getattr(self, task))
        return tuple(name for name in prompt_variants(task) if name in names)

    def training(self, task: str) -> tuple[str, ...]:
        """
        Return the variants of a task training may use.

        :param task: one of ``PERCEPTION_TASKS``.
        :return: variant names, in ``prompt_variants`` order.
        """
        names = set(getattr(self, task))
        return tuple(name for name in prompt_variants(task) if name not in names)


@dataclass(frozen=True)
class MixtureConfig:
    """
    The training data mixture: which tasks, how often, at what size, with how much variety.

    Defaults: 128x160 frames; 80 % perception / 20 % generation (see ``TaskWeights``); depth
    in the cube colormap 70 %, else one of six alternatives; two examples per rendered frame,
    eight frames per render call.
    """

    resolution: tuple[int, int] = field(
        default=(128, 160), metadata={'help': '(height, width) of every example, pixels'}
    )
    weights: TaskWeights = field(default_factory=TaskWeights, metadata={'help': 'task mix'})
    cube_fraction: float = field(
        default=0.7,
        metadata={'help': 'share of depth targets in the cube colormap', 'range': (0.0, 1.0)},
    )
    depth_colormaps: tuple[str, ...] = field(
        default=('viridis', 'plasma', 'inferno', 'magma', 'turbo', 'grey'),
        metadata={'help': 'alternative depth colormaps, drawn uniformly'},
    )
    held_out: HeldOutPrompts = field(
        default_factory=HeldOutPrompts, metadata={'help': 'prompt variants kept for testing'}
    )
    scenes_per_batch: int = field(default=8, metadata={'help': 'frames per render call'})
    examples_per_frame: int = field(
        default=2, metadata={'help': 'consecutive examples that share one rendered frame'}
    )
    palette_size: int = field(
        default=32,
        metadata={'help': 'semantic colours are drawn from distinct_palette(palette_size)'},
    )
    max_listed_classes: int = field(
        default=8, metadata={'help': 'most classes present in a frame a semantic prompt lists'}
    )
    max_absent_classes: int = field(
        default=3, metadata={'help': 'most absent classes a semantic prompt adds'}
    )
    colour_variety: float = field(
        default=0.3,
        metadata={
            'help': 'chance of a non-default colour: instance background, referring colours, '
            'a semantic "background" entry',
            'range': (0.0, 1.0),
        },
    )
    min_visible_fraction: float = field(
        default=0.002,
        metadata={'help': 'share of the image an object must cover to be named (>= 16 px)'},
    )
    seed: int = field(
        default=0, metadata={'help': 'redraws tasks, colours and wording (not the scenes)'}
    )
    texture_seed: int = field(default=0, metadata={'help': 'seed of synth.texture_bank'})
    render_settings: RenderSettings = field(
        default_factory=RenderSettings, metadata={'help': 'renderer quality knobs'}
    )

    def __post_init__(self) -> None:
        height, width = self.resolution
        if not (isinstance(height, int) and isinstance(width, int) and min(height, width) >= 8):
            raise ValueError(
                f'resolution must be (height, width) >= 8 each, got {self.resolution}'
            )
        object.__setattr__(self, 'resolution', (height, width))
        if not 0.0 <= self.cube_fraction <= 1.0:
            raise ValueError(f'cube_fraction must be in [0, 1], got {self.cube_fraction}')
        colormaps = tuple(self.depth_colormaps)
        wrong = [c for c in colormaps if c not in DEPTH_COLORMAPS or c == 'cube']
        if wrong or len(set(colormaps)) != len(colormaps):
            raise ValueError(
                'depth_colormaps must be distinct members of '
                f'{[c for c in DEPTH_COLORMAPS if c != "cube"]}, got {list(colormaps)}'
            )
        if self.cube_fraction < 1.0 and not colormaps:
            raise ValueError('depth_colormaps must not be empty when cube_fraction < 1')
        object.__setattr__(self, 'depth_colormaps', colormaps)
        for name in ('scenes_per_batch', 'examples_per_frame', 'max_listed_classes'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.max_absent_classes < 0:
            raise ValueError(f'max_absent_classes must be >= 0, got {self.max_absent_classes}')
        needed = self.max_listed_classes + self.max_absent_classes + 1  # + 'background'
        if not needed <= self.palette_size <= MAX_PALETTE_SIZE:
            raise ValueError(
                f'palette_size must be in [{needed}, {MAX_PALETTE_SIZE}] (listed + absent + '
                f'background classes), got {self.palette_size}'
            )
        if not 0.0 <= self.colour_variety <= 1.0:
            raise ValueError(f'colour_variety must be in [0, 1], got {self.colour_variety}')
        if not 0.0 < self.min_visible_fraction <= 0.1:
            raise ValueError(
                f'min_visible_fraction must be in (0, 0.1], got {self.min_visible_fraction}'
            )
        if self.seed < 0 or self.texture_seed < 0:
            raise ValueError(
                f'seed and texture_seed must be >= 0, got {self.seed}, {self.texture_seed}'
            )

    def min_visible_px(self, height: int | None = None, width: int | None = None) -> int:
        """
        Return the fewest pixels an object must cover to be named in a prompt.

        :param height: image rows (default: the mixture's).
        :param width: image columns (default: the mixture's).
        :return: ``max(16, ceil(min_visible_fraction * height * width))``; 16 pixels is the
            smallest instance ``codecs.decode_instances`` keeps.
        """
        rows = self.resolution[0] if height is None else height
        cols = self.resolution[1] if width is None else width
        return max(16, math.ceil(self.min_visible_fraction * rows * cols))
