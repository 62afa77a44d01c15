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
"""Reconstruction examples: photograph crops and exact pixel transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vision_banana_ros.training.photos import (
    photo_crop,
    reconstruct_example,
    RECONSTRUCT_PROMPTS,
    transform_photo,
)


@pytest.fixture
def image() -> torch.Tensor:
    return torch.tensor(
        [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], dtype=torch.uint8
    )  # (2, 2, 3)


def test_grayscale_is_bt601_luma_rounded(image: torch.Tensor) -> None:
    grey = transform_photo(image, 'grayscale')
    # 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, 0.114 * 255 = 29.1, 2.99 + 11.74 + 3.42 = 18.15
    assert grey[..., 0].tolist() == [[76, 150], [29, 18]]
    assert torch.equal(grey[..., 0], grey[..., 2])


def test_geometric_and_colour_transforms_are_exact(image: torch.Tensor) -> None:
    assert torch.equal(transform_photo(image, 'reproduce'), image)
    assert transform_photo(image, 'mirror')[0, 0].tolist() == [0, 255, 0]
    assert transform_photo(image, 'flip')[0, 0].tolist() == [0, 0, 255]
    assert transform_photo(image, 'rotate')[0, 0].tolist() == [10, 20, 30]
    assert transform_photo(image, 'invert')[1, 1].tolist() == [245, 235, 225]
    with pytest.raises(ValueError, match='transform must be'):
        transform_photo(image, 'sepia')


def test_crops_have_the_asked_size_and_repeat_per_seed() -> None:
    first = photo_crop(np.random.default_rng(3), 48, 80)
    assert first.shape == (48, 80, 3) and first.dtype == torch.uint8
    assert torch.equal(first, photo_crop(np.random.default_rng(3), 48, 80))
    assert not torch.equal(first, photo_crop(np.random.default_rng(4), 48, 80))
    colour = photo_crop(np.random.default_rng(5), 32, 32, colour_only=True)
    assert bool((colour[..., 0] != colour[..., 1]).any())


def test_reconstruction_targets_are_the_transformed_input() -> None:
    seen = set()
    for seed in range(40):
        example = reconstruct_example(np.random.default_rng(seed), 32, 40)
        seen.add(example.detail)
        assert example.task == 'reconstruct' and example.seed == -1
        assert example.prompt in RECONSTRUCT_PROMPTS[example.detail]
        assert torch.equal(example.target, transform_photo(example.rgb, example.detail))
    assert {'reproduce', 'grayscale'} <= seen and len(seen) >= 4
