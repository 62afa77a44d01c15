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
Training data for the instruction-tuned generator: the task mixture and the held-out test set.

- :mod:`.config`: ``MixtureConfig`` (task weights, colour variety, held-out prompts, batching).
- :mod:`.example`: ``Example``, an (input, prompt, target) triple with its ground truth.
- :mod:`.frames`: rendered frames, one render call per batch of scenes.
- :mod:`.tasks`: perception and editing examples from a rendered frame.
- :mod:`.photos`: reconstruction examples from photographs.
- :mod:`.data`: ``MixtureStream`` (deterministic, resumable) and ``collate``.
- :mod:`.evaluation`: the held-out synthetic test set and scoring of generated images.
"""

from vision_banana_ros.training.config import (
    GENERATION_TASKS,
    HeldOutPrompts,
    MIXTURE_TASKS,
    MixtureConfig,
    PERCEPTION_TASKS,
    TaskWeights,
)
from vision_banana_ros.training.data import Batch, collate, MixtureStream
from vision_banana_ros.training.evaluation import (
    decode_prediction,
    evaluate_outputs,
    held_out_examples,
)
from vision_banana_ros.training.example import Example

__all__ = [
    'GENERATION_TASKS',
    'MIXTURE_TASKS',
    'PERCEPTION_TASKS',
    'Batch',
    'Example',
    'HeldOutPrompts',
    'MixtureConfig',
    'MixtureStream',
    'TaskWeights',
    'collate',
    'decode_prediction',
    'evaluate_outputs',
    'held_out_examples',
]
