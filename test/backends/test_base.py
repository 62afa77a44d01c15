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

"""The interface every backend shares: inputs checked once, wrong outputs never pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vision_banana_ros.backends import (
    Backend,
    BackendConfig,
    BackendInputError,
    BackendOutputError,
    create_backend,
)
from vision_banana_ros.backends.base import MAX_PROMPT_CHARS


class _Scripted(Backend):
    """Answers with whatever ``answer`` builds from the checked arguments."""

    name = 'scripted'

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls: list[tuple[tuple[int, ...], list[str], list[int] | None]] = []

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        self.calls.append((tuple(images.shape), prompts, seeds))
        return self.answer(images, prompts)  # type: ignore[operator, no-any-return]


def _echo(images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
    return images.expand(len(prompts), -1, -1, -1).clone()


IMAGE = np.zeros((1, 24, 32, 3), dtype=np.uint8)


def test_checked_call_reaches_the_implementation() -> None:
    backend = _Scripted(_echo)
    out = backend.generate(IMAGE, ['a', 'b'], seeds=[3, 4])
    assert out.shape == (2, 24, 32, 3) and out.dtype == torch.uint8
    assert backend.calls == [((1, 24, 32, 3), ['a', 'b'], [3, 4])]
    with backend as same:
        assert same is backend


@pytest.mark.parametrize(
    ('images', 'prompts', 'seeds', 'message'),
    [
        (IMAGE.astype(np.float32), ['a'], None, 'images'),
        (IMAGE[0], ['a'], None, r'\(N, H, W, 3\)'),
        ([[0]], ['a'], None, 'numpy array or a torch tensor'),
        (IMAGE, [], None, 'non-empty list'),
        (IMAGE, 'a prompt', None, 'non-empty list'),
        (IMAGE, ['a', ' '], None, 'non-empty string'),
        (IMAGE, ['x' * (MAX_PROMPT_CHARS + 1)], None, 'the limit is'),
        (np.zeros((2, 24, 32, 3), np.uint8), ['a', 'b', 'c'], None, '2 images for 3 prompts'),
        (IMAGE, ['a', 'b'], [1], 'list of 2 ints'),
        (IMAGE, ['a'], [-1], 'non-negative'),
        (IMAGE, ['a'], [True], 'non-negative ints'),
    ],
)
def test_malformed_calls_are_refused_before_generating(
    images: object, prompts: object, seeds: object, message: str
) -> None:
    backend = _Scripted(_echo)
    with pytest.raises(BackendInputError, match=message):
        backend.generate(images, prompts, seeds)  # type: ignore[arg-type]
    assert backend.calls == []


@pytest.mark.parametrize(
    ('answer', 'message'),
    [
        (lambda images, prompts: _echo(images, prompts)[:1], r'shape \(1, 24, 32, 3\) for 2'),
        (lambda images, prompts: _echo(images, prompts)[:, :12], r'shape \(2, 12, 32, 3\)'),
        (lambda images, prompts: _echo(images, prompts).float(), 'torch.float32'),
        (lambda images, prompts: _echo(images, prompts).numpy(), 'ndarray'),
    ],
)
def test_wrong_answers_never_reach_the_caller(answer: object, message: str) -> None:
    with pytest.raises(BackendOutputError, match=message):
        _Scripted(answer).generate(IMAGE, ['a', 'b'])


def test_config_names_only_known_backends() -> None:
    with pytest.raises(ValueError, match="name='oracle'"):
        BackendConfig(name='oracle')  # built in code from scenes, never from a config
    with pytest.raises(ValueError, match=r'backend\.diffusers\.path is required'):
        BackendConfig(name='diffusers')


def test_default_config_builds_the_embedded_model() -> None:
    backend = create_backend()
    assert backend.name == 'local' and backend.resolution == (128, 160)
