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
The generator interface every backend implements, and the errors they raise.

The paper's universal interface: a batch of images and one prompt per output in, one RGB image
per prompt out. ``Backend.generate`` checks both sides once for every backend, so no
implementation can hand the pipeline a missing, extra or wrong-sized image unnoticed.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from types import TracebackType
from typing import TypeVar

import torch
from vision_banana_ros.tensors import ArrayLike, as_tensor, check_image

__all__ = [
    'MAX_PROMPT_CHARS',
    'Backend',
    'BackendError',
    'BackendInputError',
    'BackendOutputError',
    'BackendRefused',
    'BackendUnavailable',
]

_Self = TypeVar('_Self', bound='Closeable')

MAX_PROMPT_CHARS = 4096
"""Longest prompt any backend accepts; the paper's longest published prompt is under 600."""


class BackendError(RuntimeError):
    """A generator backend could not produce the images asked for."""


class BackendInputError(BackendError, ValueError):
    """The images, prompts or seeds given to ``Backend.generate`` are malformed."""


class BackendUnavailable(BackendError):
    """The generator cannot be reached: connection refused, timed out, or retries exhausted."""


class BackendRefused(BackendError):
    """The generator answered but declined: a refusal, a safety block, or no image at all."""


class BackendOutputError(BackendError):
    """The generator returned the wrong number, size or type of images."""


class Closeable:
    """Something that holds resources: ``close()`` them, or leave a ``with`` block."""

    def close(self) -> None:
        """Free what is held (connections, worker threads, GPU memory)."""

    def __enter__(self: _Self) -> _Self:
        """Return the object itself."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the object."""
        self.close()


class Backend(Closeable, abc.ABC):
    """
    A generator behind ``generate(images (N, H, W, 3) uint8, prompts) -> (P, H, W, 3) uint8``.

    Subclasses implement ``_generate``; ``generate`` validates what goes in and what comes out.
    Backends are context managers (``close`` frees connections, threads and GPU memory; most
    hold nothing and keep the no-op).
    """

    #: Short name used in configs ('local', 'diffusers', 'gemini', 'remote', 'oracle').
    name: str = ''

    @property
    def device(self) -> torch.device:
        """Return where ``generate`` puts its images, and so where decoding runs: the CPU here."""
        return torch.device('cpu')

    @property
    def resolution(self) -> tuple[int, int] | None:
        """Return the (H, W) the generator works at (frames are letterboxed to it); None: any."""
        return None

    @property
    def stochastic(self) -> bool:
        """Tell whether different seeds give different samples (False: seeds are ignored)."""
        return False

    @property
    def description(self) -> str:
        """Describe the backend in one line for logs, e.g. 'local VB-Mini (trained, cpu, ...)'."""
        return self.name

    def generate(
        self, images: ArrayLike, prompts: Sequence[str], seeds: Sequence[int] | None = None
    ) -> torch.Tensor:
        """
        Draw the RGB image each prompt asks for.

        :param images: (N, H, W, 3) uint8 RGB, numpy or torch; N = len(prompts), or N = 1 to
            share one image among all prompts.
        :param prompts: P >= 1 non-empty prompts, one per output image.
        :param seeds: P ints seeding each output's noise (stochastic backends draw K samples
            of one prompt by repeating it with K seeds); None for the backend's default.
        :return: (P, H, W, 3) uint8 tensor on ``device``, same H and W as ``images``.
        :raises BackendInputError: on malformed images, prompts or seeds.
        :raises BackendUnavailable: if the generator cannot be reached.
        :raises BackendRefused: if the generator declines to draw an image.
        :raises BackendOutputError: if the generator's answer has the wrong count, size or type.
        """
        tensor = _check_images(images)
        prompt_list = _check_prompts(prompts, tensor.shape[0])
        seed_list = _check_seeds(seeds, len(prompt_list))
        out = self._generate(tensor, prompt_list, seed_list)
        expected = (len(prompt_list), *tensor.shape[1:3], 3)
        if not isinstance(out, torch.Tensor) or out.dtype != torch.uint8:
            got = f'{out.dtype}' if isinstance(out, torch.Tensor) else type(out).__name__
            raise BackendOutputError(f'{self.name} backend returned {got}, expected uint8 images')
        if tuple(out.shape) != expected:
            raise BackendOutputError(
                f'{self.name} backend returned shape {tuple(out.shape)} for {len(prompt_list)} '
                f'prompt(s) on {tensor.shape[2]}x{tensor.shape[1]} images; expected {expected}'
            )
        return out

    @abc.abstractmethod
    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        """
        Generate, after ``generate`` checked the arguments.

        :param images: (N, H, W, 3) uint8, N = len(prompts) or 1, on any device.
        :param prompts: the prompts.
        :param seeds: one seed per prompt, or None.
        :return: (len(prompts), H, W, 3) uint8 tensor on ``device``.
        """


def _check_images(images: object) -> torch.Tensor:
    tensor = as_tensor(images, 'images', error=BackendInputError)
    check_image(tensor, 'images', channels=3, dtypes=(torch.uint8,), error=BackendInputError)
    if tensor.dim() != 4:
        raise BackendInputError(f'images must be (N, H, W, 3), got shape {tuple(tensor.shape)}')
    return tensor


def _check_prompts(prompts: object, images: int) -> list[str]:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts:
        raise BackendInputError(f'prompts must be a non-empty list of strings, got {prompts!r}')
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise BackendInputError(f'every prompt must be a non-empty string, got {prompt!r}')
        if len(prompt) > MAX_PROMPT_CHARS:
            raise BackendInputError(
                f'a prompt has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}'
            )
    if images not in (1, len(prompts)):
        raise BackendInputError(
            f'{images} images for {len(prompts)} prompts; give one image per prompt or one for all'
        )
    return list(prompts)


def _check_seeds(seeds: object, prompts: int) -> list[int] | None:
    if seeds is None:
        return None
    if not isinstance(seeds, Sequence) or len(seeds) != prompts:
        raise BackendInputError(f'seeds must be a list of {prompts} ints, got {seeds!r}')
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise BackendInputError(f'seeds must be non-negative ints, got {seeds!r}')
    return list(seeds)
