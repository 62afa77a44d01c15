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
Reconstruction examples: reproduce or exactly transform a photograph.

Inputs are random crops of the scikit-image sample photographs that ``synth.textures`` reads
(``PHOTOS``: its wheel carries them), at the crop's own aspect ratio resized to the example's
size (area interpolation when shrinking; crops are never magnified beyond what the smallest
photo needs). Targets are exact pixel functions of the input, so the generator keeps drawing
photographs faithfully while it learns perception tasks:

- reproduce: the input itself;
- grayscale: BT.601 luma, ``(299 R + 587 G + 114 B + 500) // 1000``, in all three channels
  (colour photographs only);
- mirror (left-right), flip (top-bottom), rotate (180 degrees), invert (``255 - v``).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
from vision_banana_ros.synth.textures import PHOTOS, read_photo
from vision_banana_ros.training.example import Example

__all__ = ['RECONSTRUCT_PROMPTS', 'photo_crop', 'reconstruct_example', 'transform_photo']

RECONSTRUCT_PROMPTS: dict[str, tuple[str, ...]] = {
    'reproduce': (
        'Reproduce this image.',
        'Generate an exact copy of this image.',
        'Redraw this image without changing anything.',
    ),
    'grayscale': (
        'Make this image black and white.',
        'Convert this image to grayscale.',
        'Remove the colors from this image.',
    ),
    'mirror': ('Mirror this image horizontally.', 'Flip this image from left to right.'),
    'flip': ('Flip this image upside down.', 'Mirror this image vertically.'),
    'rotate': ('Rotate this image by 180 degrees.', 'Turn this image around by half a turn.'),
    'invert': ('Invert the colors of this image.', 'Make a color negative of this image.'),
}
"""The paraphrases of each transform's instruction."""

_TRANSFORM_WEIGHTS = (0.4, 0.2, 0.1, 0.1, 0.1, 0.1)  # in RECONSTRUCT_PROMPTS order
_MIN_CROP = 0.4  # smallest crop side, as a share of the largest crop of the same aspect


def reconstruct_example(rng: np.random.Generator, height: int, width: int) -> Example:
    """
    Make a reconstruction example from a random photograph crop.

    :param rng: draws the transform, the photograph, the crop and the wording.
    :param height: rows of the example.
    :param width: columns of the example.
    :return: the example; ``detail`` names the transform, ``variant`` is '<transform>/<k>'.
    """
    names = tuple(RECONSTRUCT_PROMPTS)
    transform = names[int(rng.choice(len(names), p=_TRANSFORM_WEIGHTS))]
    rgb = photo_crop(rng, height, width, colour_only=transform == 'grayscale')
    prompts = RECONSTRUCT_PROMPTS[transform]
    choice = int(rng.integers(len(prompts)))
    return Example(
        rgb=rgb,
        prompt=prompts[choice],
        target=transform_photo(rgb, transform),
        task='reconstruct',
        variant=f'{transform}/{choice}',
        detail=transform,
    )


def photo_crop(
    rng: np.random.Generator, height: int, width: int, *, colour_only: bool = False
) -> torch.Tensor:
    """
    Crop a random photograph at the example's aspect ratio and resize it.

    :param rng: draws the photograph, the crop size and position.
    :param height: rows of the result.
    :param width: columns of the result.
    :param colour_only: draw from the colour photographs only.
    :return: (height, width, 3) uint8 RGB.
    """
    photos = [photo for photo, colour in _photos() if colour or not colour_only]
    photo = photos[int(rng.integers(len(photos)))]
    rows, cols = photo.shape[:2]
    full_h = min(rows, cols * height / width)  # largest crop of the example's aspect ratio
    smallest = min(1.0, max(_MIN_CROP, height / full_h))  # magnify only if the photo must
    crop_h = full_h * rng.uniform(smallest, 1.0)
    crop_w = crop_h * width / height
    size_h, size_w = min(rows, max(1, round(crop_h))), min(cols, max(1, round(crop_w)))
    top = int(rng.integers(rows - size_h + 1))
    left = int(rng.integers(cols - size_w + 1))
    bottom, right = top + size_h, left + size_w
    patch = photo[top:bottom, left:right]
    shrink = size_h >= height
    resized = cv2.resize(
        patch, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )
    return torch.from_numpy(np.ascontiguousarray(resized))


def transform_photo(rgb: torch.Tensor, transform: str) -> torch.Tensor:
    """
    Apply one of the exact transforms of ``RECONSTRUCT_PROMPTS``.

    :param rgb: (H, W, 3) uint8.
    :param transform: 'reproduce', 'grayscale', 'mirror', 'flip', 'rotate' or 'invert'.
    :return: (H, W, 3) uint8, a new tensor.
    :raises ValueError: on an unknown transform.
    """
    if transform == 'reproduce':
        return rgb.clone()
    if transform == 'grayscale':
        weights = torch.tensor([299, 587, 114], dtype=torch.int32)
        luma = (rgb.to(torch.int32) * weights).sum(-1).add_(500).div_(1000, rounding_mode='floor')
        return luma.to(torch.uint8)[..., None].expand(rgb.shape).contiguous()
    if transform == 'mirror':
        return rgb.flip(1)
    if transform == 'flip':
        return rgb.flip(0)
    if transform == 'rotate':
        return rgb.flip(0, 1)
    if transform == 'invert':
        return 255 - rgb
    raise ValueError(
        f'transform must be one of {", ".join(RECONSTRUCT_PROMPTS)}, got {transform!r}'
    )


@functools.cache
def _photos() -> tuple[tuple[np.ndarray, bool], ...]:
    """Read the sample photographs once: (H, W, 3) uint8 RGB, and whether each has colour."""
    photos = []
    for name in PHOTOS:
        photo = np.round(read_photo(name) * 255.0).astype(np.uint8)  # it was read as v / 255
        colour = bool((photo[..., :1] != photo[..., 1:]).any())
        photos.append((photo, colour))
    return tuple(photos)
