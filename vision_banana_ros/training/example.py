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
One training or evaluation example: input image, prompt, target image, and its ground truth.

The target is what the generator should draw for the prompt; the ground truth is what that
target encodes (perception tasks), kept so that a generated image can be decoded and scored
with ``metrics.harness`` through ``Example.frame``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from vision_banana_ros.codecs.segmentation import Rgb
from vision_banana_ros.datasets import Frame
from vision_banana_ros.prompts import TaskSpec
from vision_banana_ros.synth.catalog import CLASS_NAMES

__all__ = ['IGNORED_INSTANCE', 'Example']

IGNORED_INSTANCE = 0xFFFFFFFF
"""Instance id ``Example.frame`` gives instances too small to name (the harness ignores it)."""


@dataclass(frozen=True, eq=False)
class Example:
    """
    An (input, prompt, target) triple of one task, with what the target encodes.

    Images are CPU tensors, HWC uint8 as the renderer draws them; ``data.collate`` makes
    batches of them. Ground-truth fields not named for a task are None.

    :ivar rgb: (H, W, 3) uint8 input image.
    :ivar prompt: the instruction.
    :ivar target: (H, W, 3) uint8 image the generator should draw.
    :ivar task: one of ``config.MIXTURE_TASKS``.
    :ivar variant: the prompt's paraphrase: a ``prompts.prompt_variants`` name for perception
        tasks, '<template>/<k>' for generation tasks.
    :ivar detail: depth: the colormap; edit: the edit kind; reconstruct: the transform.
    :ivar spec: perception tasks: what the prompt asks, ``prompts.parse_prompt(prompt)``.
    :ivar index: position in its stream (or evaluation set).
    :ivar seed: the scene seed; -1 for photographs.
    :ivar name: unique within its stream or set, e.g. 'train/000000042/depth'.
    :ivar depth_m: depth: (H, W) float32 z-depth in metres, NaN where nothing was hit.
    :ivar normals: normals: (H, W, 3) float32 unit normals, optical frame, NaN invalid.
    :ivar labels: semantic: (H, W) int64 ``CLASS_NAMES`` ids of the classes the prompt lists,
        0 elsewhere (pixels of unlisted classes, drawn black or in the 'background' colour).
    :ivar instances: instance: (H, W) int64 ids 1..K of the prompt's class, 0 elsewhere.
    :ivar referring_mask: referring: (H, W) bool, True on the object the prompt names.
    :ivar min_visible_px: objects under this many pixels are never named (ids in
        ``instances`` smaller than it are ignored when scored).
    """

    rgb: torch.Tensor
    prompt: str
    target: torch.Tensor
    task: str
    variant: str = ''
    detail: str = ''
    spec: TaskSpec | None = None
    index: int = -1
    seed: int = -1
    name: str = ''
    depth_m: torch.Tensor | None = None
    normals: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    instances: torch.Tensor | None = None
    referring_mask: torch.Tensor | None = None
    min_visible_px: int = 16

    @property
    def class_colours(self) -> tuple[tuple[str, Rgb], ...]:
        """Return the semantic prompt's (class name, colour) pairs in order; () otherwise."""
        return () if self.spec is None else self.spec.class_colours

    def frame(self, dataset: str | None = None) -> Frame:
        """
        Return the example as a ``datasets.Frame`` for ``metrics.harness.evaluate``.

        Semantic labels keep ``CLASS_NAMES`` ids (class 0, unlisted or unlabelled, is scored
        too: the target draws it black or in the 'background' colour); instances smaller than
        ``min_visible_px`` get ``IGNORED_INSTANCE``, a region the harness leaves out.

        :param dataset: ``Frame.dataset`` (reports group by it); default: the part of ``name``
            before its first '/', e.g. 'train' or 'synth-test-v1'.
        :return: the frame, with the ground truth of this example's task only.
        """
        labels = instances = mask = None
        if self.labels is not None:
            labels = self.labels.numpy().astype(np.uint16)
        if self.instances is not None:
            ids = self.instances
            counts = torch.bincount(ids.reshape(-1))
            small = (counts < self.min_visible_px)[ids] & (ids > 0)
            instances = torch.where(small, IGNORED_INSTANCE, ids).numpy().astype(np.uint32)
        if self.referring_mask is not None:
            mask = self.referring_mask.numpy()
        return Frame(
            rgb=self.rgb.numpy(),
            name=self.name,
            dataset=self.name.split('/')[0] if dataset is None else dataset,
            depth_m=None if self.depth_m is None else self.depth_m.numpy(),
            normals=None if self.normals is None else self.normals.numpy(),
            labels=labels,
            instances=instances,
            referring_mask=mask,
            referring_text=self.spec.expression
            if self.task == 'referring' and self.spec
            else None,
            class_names=dict(enumerate(CLASS_NAMES)) if labels is not None else None,
            ignore_instance=IGNORED_INSTANCE if instances is not None else None,
        )
