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
"""One small mixture stream, made once and shared by the training tests; one torch thread."""

from __future__ import annotations

import itertools

import pytest
import torch
from vision_banana_ros.training import Example, MixtureConfig, MixtureStream

STREAM_LENGTH = 200


@pytest.fixture(scope='package', autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Run this package's tests on one torch thread (``one_torch_thread`` in test/conftest.py)."""


@pytest.fixture(scope='package')
def small_config() -> MixtureConfig:
    """Return the default mixture at 64x80, small enough for many frames in a test."""
    return MixtureConfig(resolution=(64, 80))


@pytest.fixture(scope='package')
def stream_examples(one_torch_thread: None, small_config: MixtureConfig) -> list[Example]:
    """Return the first ``STREAM_LENGTH`` examples of the training stream, made by iterating."""
    return list(itertools.islice(MixtureStream(small_config, 'train'), STREAM_LENGTH))


def same_bits(first: torch.Tensor | None, second: torch.Tensor | None) -> bool:
    """Tell whether two optional tensors hold identical bits (NaN included)."""
    if first is None or second is None:
        return first is second
    if first.dtype != second.dtype or first.shape != second.shape:
        return False
    if first.is_floating_point():
        return torch.equal(first.view(torch.int32), second.view(torch.int32))
    return torch.equal(first, second)


def same_example(first: Example, second: Example) -> bool:
    """Tell whether two examples are identical: texts, images and ground truth, bit for bit."""
    texts = ('prompt', 'task', 'variant', 'detail', 'index', 'seed', 'name', 'spec')
    tensors = ('rgb', 'target', 'depth_m', 'normals', 'labels', 'instances', 'referring_mask')
    return all(getattr(first, a) == getattr(second, a) for a in texts) and all(
        same_bits(getattr(first, a), getattr(second, a)) for a in tensors
    )
