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

"""The ``local`` backend: the shipped VB-Mini, seeds, and an honest untrained fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from vision_banana_ros.backends import LocalOptions
from vision_banana_ros.backends.local import LocalBackend

PROMPTS = [
    'Generate a surface normal visualization of this image.',
    'Generate a surface normal visualization of this image.',
]


@pytest.fixture(scope='module')
def backend() -> LocalBackend:
    return LocalBackend(LocalOptions(device='cpu'))


def test_describes_the_shipped_model(backend: LocalBackend) -> None:
    assert backend.resolution == (128, 160) and backend.stochastic
    assert backend.device == torch.device('cpu')
    assert backend.description.startswith('local VB-Mini 128x160 (trained, cpu')


def test_any_input_size_comes_back_at_that_size(backend: LocalBackend) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 60, 90, 3), dtype=np.uint8)
    out = backend.generate(image, PROMPTS[:1])
    assert out.shape == (1, 60, 90, 3) and out.dtype == torch.uint8


def test_seeds_choose_the_noise(backend: LocalBackend) -> None:
    image = np.full((1, 64, 80, 3), 120, dtype=np.uint8)
    same = backend.generate(image, PROMPTS, seeds=[5, 5])
    assert torch.equal(same[0], same[1])
    different = backend.generate(image, PROMPTS, seeds=[5, 6])
    assert not torch.equal(different[0], different[1])
    assert torch.equal(backend.generate(image, PROMPTS)[0], backend.generate(image, PROMPTS)[1])


def test_untrained_weights_are_announced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        untrained = LocalBackend(LocalOptions(weights=str(tmp_path), device='cpu'))
    assert 'UNTRAINED' in untrained.description
    assert any('randomly initialised' in r.getMessage() for r in caplog.records)


def test_cuda_asked_for_without_cuda_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    with pytest.raises(ValueError, match='no CUDA device'):
        LocalBackend(LocalOptions(device='cuda'))


def test_tiny_images_are_resized_up_and_back(backend: LocalBackend) -> None:
    out = backend.generate(np.zeros((1, 2, 2, 3), dtype=np.uint8), PROMPTS[:1])
    assert out.shape == (1, 2, 2, 3)


def test_free_text_prompts_are_generation_requests(backend: LocalBackend) -> None:
    out = backend.generate(np.zeros((1, 16, 16, 3), np.uint8), ['Make the wall red.'])
    assert out.shape == (1, 16, 16, 3)
