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
The texture bank: photographic patches from images scikit-image ships, plus procedural materials.

Photographs come from the sample images inside the scikit-image wheel (read from its install
folder, nothing downloaded; never the evaluation frames in ../shared/data), cropped at random
places and scales. Procedural materials are wood grain, fractal noise, marble, stripes and checks.
Every texture is normalised to mean 1 so that it modulates a primitive's colour without changing
its overall brightness; 'detail' textures are also desaturated so the colour they modulate keeps
its name (a red mug stays red).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import torch

__all__ = ['PHOTOS', 'TEXTURE_PX', 'TextureBank', 'read_photo', 'texture_bank']

TEXTURE_PX = 128
"""Side of every texture in the bank, pixels."""

PHOTOS = (
    'brick', 'grass', 'gravel', 'coffee', 'chelsea', 'astronaut', 'rocket', 'motorcycle_left',
    'color', 'hubble_deep_field', 'page', 'text', 'camera', 'moon', 'coins',
    'immunohistochemistry',
)  # fmt: skip
"""scikit-image sample images the bank crops from (the ones its wheel carries)."""

_FILES = {
    'immunohistochemistry': 'ihc.png',
    'hubble_deep_field': 'hubble_deep_field.jpg',
    'rocket': 'rocket.jpg',
}
_CROPS_PER_PHOTO = 3
_PROCEDURAL_PER_KIND = 4


class TextureBank:
    """
    Textures as one tensor, with index ranges per family.

    :ivar images: (T, S, S, 3) float32, mean 1 per texture.
    :ivar photo: indices of full-colour photographic crops (book covers, posters, backgrounds).
    :ivar detail: indices of desaturated textures that keep a colour's name (wood, noise, ...).
    """

    def __init__(self, images: torch.Tensor, photo: range, detail: range) -> None:
        self.images, self.photo, self.detail = images, photo, detail

    def to(self, device: torch.device | str) -> TextureBank:
        """Return the bank on ``device``."""
        return TextureBank(self.images.to(device), self.photo, self.detail)


@functools.cache
def texture_bank(seed: int = 0) -> TextureBank:
    """
    Build the bank (deterministic for a seed; cached).

    :param seed: which crops and procedural variations to draw.
    :return: about 90 textures of TEXTURE_PX x TEXTURE_PX.
    :raises FileNotFoundError: if scikit-image is not installed.
    """
    rng = np.random.default_rng(seed)
    photos = [crop for name in PHOTOS for crop in _crops(read_photo(name), rng)]
    details = [_desaturate(p) for p in photos[::2]]
    details += [_wood(rng) for _ in range(_PROCEDURAL_PER_KIND)]
    details += [_fractal(rng) for _ in range(_PROCEDURAL_PER_KIND)]
    details += [_marble(rng) for _ in range(_PROCEDURAL_PER_KIND)]
    details += [_stripes(rng, checks=False) for _ in range(_PROCEDURAL_PER_KIND)]
    details += [_stripes(rng, checks=True) for _ in range(_PROCEDURAL_PER_KIND)]
    images = np.stack([_normalise(t) for t in photos + details]).astype(np.float32)
    return TextureBank(
        torch.from_numpy(images),
        photo=range(len(photos)),
        detail=range(len(photos), len(photos) + len(details)),
    )


def read_photo(name: str) -> np.ndarray:
    """
    Read one of the scikit-image sample photographs from its installed wheel.

    :param name: one of ``PHOTOS``.
    :return: (H, W, 3) float32 RGB in [0, 1].
    :raises FileNotFoundError: if scikit-image or the image is missing.
    """
    spec = importlib.util.find_spec('skimage')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError('scikit-image is not installed; the texture bank needs its images')
    path = (
        Path(next(iter(spec.submodule_search_locations)))
        / 'data'
        / _FILES.get(name, f'{name}.png')
    )
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f'scikit-image sample image {path} is missing')
    return image[..., ::-1].astype(np.float32) / 255.0


def _crops(photo: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    height, width = photo.shape[:2]
    crops = []
    for _ in range(_CROPS_PER_PHOTO):
        side = int(rng.uniform(0.25, 0.8) * min(height, width))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        bottom, right = top + side, left + side
        patch = photo[top:bottom, left:right]
        crops.append(cv2.resize(patch, (TEXTURE_PX, TEXTURE_PX), interpolation=cv2.INTER_AREA))
    return crops


def _desaturate(image: np.ndarray) -> np.ndarray:
    grey = image.mean(-1, keepdims=True)
    return np.repeat(0.5 + 0.8 * (grey - grey.mean()), 3, axis=-1)


def _normalise(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0.02, None)
    normalised: np.ndarray = image / image.mean()
    return normalised


def _grid() -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(0.0, 1.0, TEXTURE_PX, endpoint=False)
    return np.meshgrid(axis, axis, indexing='xy')


def _noise(rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Tileable fractal value noise in [0, 1] (wrapping bilinear upsampling of random grids)."""
    total = np.zeros((TEXTURE_PX, TEXTURE_PX), np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = 4 * 2**octave
        grid = rng.random((cells, cells)).astype(np.float32)
        tiled = np.tile(grid, (2, 2))
        size = TEXTURE_PX * 2
        up = cv2.resize(tiled, (size, size), interpolation=cv2.INTER_CUBIC)
        offset = TEXTURE_PX // 2
        window = slice(offset, offset + TEXTURE_PX)
        total += amplitude * up[window, window]
        norm += amplitude
        amplitude *= 0.5
    total /= norm
    scaled: np.ndarray = (total - total.min()) / max(float(np.ptp(total)), 1e-6)
    return scaled


def _grey(value: np.ndarray) -> np.ndarray:
    return np.repeat(value[..., None], 3, axis=-1)


def _wood(rng: np.random.Generator) -> np.ndarray:
    x, _ = _grid()
    rings = rng.uniform(8, 20)
    warp = _noise(rng, 3)
    grain = np.sin(2 * np.pi * (rings * x + 2.0 * warp)) * 0.5 + 0.5
    value = 0.55 + 0.3 * grain**3 + 0.15 * _noise(rng)
    tint = np.array([1.0, 0.75, 0.5])  # warm brown, mostly hue-neutral after desaturation
    return _grey(value) * (0.6 + 0.4 * tint)


def _fractal(rng: np.random.Generator) -> np.ndarray:
    return _grey(0.6 + 0.4 * _noise(rng, 6))


def _marble(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    veins = np.abs(np.sin(2 * np.pi * (x + y + 3.0 * _noise(rng, 5))))
    return _grey(0.7 + 0.3 * veins**0.3)


def _stripes(rng: np.random.Generator, *, checks: bool) -> np.ndarray:
    x, y = _grid()
    count = int(rng.integers(2, 9))
    value = (np.floor(x * count) % 2).astype(np.float32)
    if checks:
        value = (value + np.floor(y * count) % 2) % 2
    return _grey(0.6 + 0.35 * value)
