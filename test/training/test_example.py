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
"""Examples convert to the harness's frames: dtypes, names, ignored small instances."""

from __future__ import annotations

import numpy as np
import torch
from vision_banana_ros.prompts import TaskSpec
from vision_banana_ros.training import Example
from vision_banana_ros.training.example import IGNORED_INSTANCE


def blank(**fields: object) -> Example:
    image = torch.zeros((8, 8, 3), dtype=torch.uint8)
    return Example(rgb=image, prompt='p', target=image, **fields)  # type: ignore[arg-type]


def test_frame_carries_the_task_s_ground_truth_in_the_harness_dtypes() -> None:
    labels = torch.zeros((8, 8), dtype=torch.int64)
    labels[2:4] = 5
    spec = TaskSpec('semantic', class_colours=(('chair', 'red'),))
    frame = blank(task='semantic', spec=spec, labels=labels, name='train/000000007/semantic')
    converted = frame.frame()
    assert converted.dataset == 'train' and converted.name == 'train/000000007/semantic'
    assert converted.labels is not None and converted.labels.dtype == np.uint16
    assert converted.class_names is not None and converted.class_names[0] == 'unlabelled'
    assert converted.depth_m is None and converted.instances is None
    assert blank(task='semantic', labels=labels, name='a/b').frame('other').dataset == 'other'


def test_frame_ignores_instances_too_small_to_name() -> None:
    ids = torch.zeros((8, 8), dtype=torch.int64)
    ids[:4, :4] = 1  # 16 pixels: kept
    ids[6, 6] = 2  # 1 pixel: ignored
    frame = blank(task='instance', instances=ids, min_visible_px=16).frame()
    assert frame.instances is not None and frame.instances.dtype == np.uint32
    assert frame.ignore_instance == IGNORED_INSTANCE
    assert frame.instances[0, 0] == 1 and frame.instances[6, 6] == IGNORED_INSTANCE
    assert frame.instances[7, 7] == 0


def test_frame_names_the_referring_expression() -> None:
    spec = TaskSpec('referring', expression='the red mug')
    mask = torch.zeros((8, 8), dtype=torch.bool)
    frame = blank(task='referring', spec=spec, referring_mask=mask).frame()
    assert frame.referring_text == 'the red mug'
    assert frame.referring_mask is not None and frame.referring_mask.dtype == np.bool_
