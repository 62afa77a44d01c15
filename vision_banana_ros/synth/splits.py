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
Scene seeds for training, validation and test: the one place that keeps them apart.

A scene is a pure function of its seed (``layout.sample_scene``), so disjoint seed ranges give
disjoint data. Training draws from the first billion seeds, validation from a million after
1e9, test from ten thousand after 2e9; nothing else may sample scenes from the latter two.
``HELD_OUT_TEST`` fixes the synthetic test set (its frames, resolutions and scene kinds), and
``test_set_scenes`` regenerates it bit for bit; ``fingerprint`` tells whether code changes have
changed it (record it beside every evaluation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, is_dataclass
import hashlib
from typing import get_args, Literal

import numpy as np
from vision_banana_ros.synth.layout import sample_scene, Scene, SceneMode
from vision_banana_ros.synth.textures import texture_bank

__all__ = [
    'HELD_OUT_TEST',
    'SPLIT_SEEDS',
    'HeldOutSet',
    'Split',
    'fingerprint',
    'split_seeds',
    'test_set_scenes',
]

Split = Literal['train', 'val', 'test']

SPLIT_SEEDS: dict[Split, range] = {
    'train': range(0, 1_000_000_000),
    'val': range(1_000_000_000, 1_001_000_000),
    'test': range(2_000_000_000, 2_000_010_000),
}
"""The seeds each split owns; the ranges are disjoint."""


def split_seeds(split: Split, count: int, offset: int = 0) -> range:
    """
    Return ``count`` consecutive seeds of a split, starting ``offset`` seeds into it.

    >>> split_seeds('val', 3)
    range(1000000000, 1000000003)

    :param split: 'train', 'val' or 'test'.
    :param count: how many seeds (>= 0).
    :param offset: where to start within the split (>= 0), e.g. a data-loader worker's shard.
    :return: the seeds.
    :raises ValueError: for an unknown split, a negative count or offset, or a request that
        would run past the end of the split's range.
    """
    if split not in SPLIT_SEEDS:
        raise ValueError(f'split must be one of {get_args(Split)}, got {split!r}')
    if count < 0 or offset < 0:
        raise ValueError(f'count and offset must be >= 0, got count={count}, offset={offset}')
    owned = SPLIT_SEEDS[split]
    if offset + count > len(owned):
        raise ValueError(
            f'{split} owns {len(owned)} seeds; offset {offset} + count {count} runs past them'
        )
    start = owned.start + offset
    return range(start, start + count)


@dataclass(frozen=True)
class HeldOutSet:
    """
    A fixed synthetic evaluation set: frame i is ``sample_scene`` of the i-th seed of a split.

    :ivar name: its name in results (bump the version when the definition changes).
    :ivar split: the split whose first ``frames`` seeds it uses.
    :ivar frames: how many frames.
    :ivar resolutions: (width, height) per frame, cycled: frame i uses ``i % len``.
    :ivar modes: scene kind per frame, cycled the same way (independently of resolutions).
    :ivar texture_seed: seed of the texture bank the scenes index.
    """

    name: str
    split: Split
    frames: int
    resolutions: tuple[tuple[int, int], ...]
    modes: tuple[SceneMode, ...]
    texture_seed: int = 0

    def __post_init__(self) -> None:
        if self.frames < 1 or not self.resolutions or not self.modes:
            raise ValueError(f'{self.name}: frames, resolutions and modes must be non-empty')
        split_seeds(self.split, self.frames)  # raises if the split is too small

    def frame(self, index: int) -> tuple[int, int, int, SceneMode]:
        """
        Return what defines one frame.

        :param index: 0 <= index < frames.
        :return: (seed, width, height, mode).
        """
        if not 0 <= index < self.frames:
            raise IndexError(f'{self.name} has frames 0..{self.frames - 1}, not {index}')
        width, height = self.resolutions[index % len(self.resolutions)]
        seed = SPLIT_SEEDS[self.split].start + index
        return seed, width, height, self.modes[index % len(self.modes)]


HELD_OUT_TEST = HeldOutSet(
    name='synth-test-v1',
    split='test',
    frames=256,
    resolutions=((256, 192), (320, 180)),  # 4:3 and 16:9
    modes=('room', 'tabletop', 'room', 'tabletop', 'soup'),  # 40 % / 40 % / 20 %
)
"""The synthetic test set: 256 frames, half 256x192 and half 320x180, every fifth object soup."""


def test_set_scenes(
    held_out: HeldOutSet = HELD_OUT_TEST, indices: Iterable[int] | None = None
) -> list[Scene]:
    """
    Regenerate a held-out set's scenes; the same code gives the same scenes, bit for bit.

    Render them grouped by resolution (``batch_scenes`` takes one resolution per batch); a frame
    renders the same alone or in any batch.

    :param held_out: the set.
    :param indices: which frames (default: all, in order).
    :return: the scenes, in the order of ``indices``.
    """
    bank = texture_bank(held_out.texture_seed)
    chosen = range(held_out.frames) if indices is None else indices
    scenes = []
    for index in chosen:
        seed, width, height, mode = held_out.frame(index)
        scenes.append(sample_scene(seed, width, height, mode, bank))
    return scenes


def fingerprint(scenes: Sequence[Scene]) -> str:
    """
    Return a SHA-256 over every field of every scene (objects, camera, lights, sensor).

    :param scenes: the scenes, in order.
    :return: 64 hex digits; equal fingerprints mean identical scenes.
    """
    digest = hashlib.sha256()
    for scene in scenes:
        for chunk in _contents(scene):
            digest.update(chunk)
    return digest.hexdigest()


def _contents(value: object) -> Iterator[bytes]:
    """Yield a value's exact contents: floats by their bits, arrays by their bytes."""
    if isinstance(value, np.ndarray):
        yield f'ndarray{value.dtype.str}{value.shape}'.encode()
        yield np.ascontiguousarray(value).tobytes()
    elif is_dataclass(value) and not isinstance(value, type):
        yield type(value).__name__.encode()
        for spec in fields(value):
            yield spec.name.encode()
            yield from _contents(getattr(value, spec.name))
    elif isinstance(value, tuple | list):
        yield f'seq{len(value)}'.encode()
        for item in value:
            yield from _contents(item)
    elif isinstance(value, dict):
        yield f'map{len(value)}'.encode()
        for key in sorted(value):
            yield from _contents(key)
            yield from _contents(value[key])
    elif isinstance(value, float):
        yield np.float64(value).tobytes()
    else:
        yield f'{type(value).__name__}:{value!r}'.encode()
