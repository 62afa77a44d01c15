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

"""``local``: the embedded VB-Mini generator in this process, the default backend."""

from __future__ import annotations

import logging
from typing import cast

import torch
from vision_banana_ros.backends.base import Backend, BackendInputError
from vision_banana_ros.backends.config import LocalOptions
from vision_banana_ros.backends.devices import resolve_device, resolve_dtype
from vision_banana_ros.model.errors import ModelError
from vision_banana_ros.model.generator import Generator

__all__ = ['LocalBackend']

_LOG = logging.getLogger(__name__)


class LocalBackend(Backend):
    """
    VB-Mini on CUDA when present, else the CPU; weights shipped in the package by default.

    Without trained weights (an empty weights folder) it runs a randomly initialised model and
    says so in a warning and in ``description``: its images are noise-like, not perception.
    """

    name = 'local'

    def __init__(self, options: LocalOptions | None = None, generator: Generator | None = None):
        """
        Load the generator.

        :param options: the backend's config section; None for the defaults.
        :param generator: an already built generator (then ``options`` only sets threads).
        :raises ValueError: if the config names CUDA and there is none.
        :raises WeightsError: if the weights folder holds weights that do not match this code.
        """
        self.options = options or LocalOptions()
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        if generator is None:
            device = resolve_device(self.options.device)
            generator = Generator.from_pretrained(
                self.options.weights or None,
                device=device,
                dtype=resolve_dtype(self.options.dtype, device),
                steps=self.options.steps,
                compiled=self.options.torch_compile,
            )
        self.generator = generator
        if not generator.is_trained:
            _LOG.warning(
                'local backend: no trained weights in %s; running a randomly initialised '
                'VB-Mini, whose outputs are not perception',
                self.options.weights or 'the package',
            )

    @property
    def device(self) -> torch.device:
        """Return the generator's device."""
        return self.generator.device

    @property
    def resolution(self) -> tuple[int, int]:
        """Return the network's (H, W) image size."""
        height, width = self.generator.config.image_size
        return height, width

    @property
    def stochastic(self) -> bool:
        """Return True: each seed starts sampling from different noise."""
        return True

    @property
    def description(self) -> str:
        """Describe it, e.g. 'local VB-Mini 128x160 (trained, cpu, torch.bfloat16, 1 step)'."""
        height, width = self.resolution
        state = 'trained' if self.generator.is_trained else 'UNTRAINED, random weights'
        steps = self.generator.steps
        return (
            f'local VB-Mini {height}x{width} ({state}, {self.device.type}, '
            f'{self.generator.dtype}, {steps} step{"s" if steps > 1 else ""}'
            f'{", compiled" if self.generator.compiled else ""})'
        )

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        try:
            out = self.generator.generate(images.to(self.device), prompts, seeds)
        except ModelError as err:
            raise BackendInputError(str(err)) from err
        return cast(torch.Tensor, out)  # a tensor in gives a tensor out
