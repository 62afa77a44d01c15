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
The echo generator: a model-free backend whose every answer can be checked by its client.

Each output is its input image XOR one byte made from its prompt and seed (``echo_key``), so a
client that knows what it sent computes what it must get back (``expected_echo``): a frame
delivered to the wrong request, a prompt swapped or a seed dropped all show. Its cost is set in
seconds per call and per image, like a GPU where one call carries a fixed overhead that batching
shares. ``vision-banana serve --backend echo`` serves it to test a deployment without a model.
"""

from __future__ import annotations

import logging
import time
import zlib

import numpy as np
import torch
from vision_banana_ros.backends.base import Backend, BackendRefused
from vision_banana_ros.serving.config import EchoOptions

__all__ = ['REFUSE_WORD', 'EchoBackend', 'echo_key', 'expected_echo']

_LOG = logging.getLogger(__name__)

REFUSE_WORD = 'refuse'
"""A prompt holding this word is refused (``BackendRefused``), to test per-request errors."""


def echo_key(prompt: str, seed: int | None) -> int:
    """
    Return the byte the echo generator XORs into the image for one prompt and seed.

    :param prompt: the prompt.
    :param seed: its seed, or None.
    :return: an int in [1, 251]: never 0, so an output never equals its input.
    """
    return (zlib.crc32(prompt.encode('utf-8', 'replace')) + (seed or 0)) % 251 + 1


def expected_echo(image: np.ndarray, prompt: str, seed: int | None = None) -> np.ndarray:
    """
    Return what the echo generator draws for one image and prompt.

    :param image: (H, W, 3) uint8 RGB.
    :param prompt: the prompt.
    :param seed: its seed, or None.
    :return: (H, W, 3) uint8 RGB.
    """
    return image ^ np.uint8(echo_key(prompt, seed))


class EchoBackend(Backend):
    """Deterministic generator: each output is its input XOR its prompt's key, at a set cost."""

    name = 'echo'

    def __init__(self, options: EchoOptions | None = None, replica: int | None = None):
        """
        Set the generator's cost.

        :param options: costs and the slow replica; None for the defaults (free).
        :param replica: this replica's rank, or None outside a server.
        """
        self.options = options or EchoOptions()
        slow = replica is not None and replica == self.options.slow_replica
        self._factor = self.options.slow_factor if slow else 1.0
        if slow:
            _LOG.warning('echo generator: replica %d runs %gx slower', replica, self._factor)

    @property
    def stochastic(self) -> bool:
        """Seeds change the answer, as for a sampling generator."""
        return True

    @property
    def description(self) -> str:
        """E.g. 'echo (0.02 s a call + 0.001 s an image)'."""
        return f'echo ({self.options.call_s:g} s a call + {self.options.image_s:g} s an image)'

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        delay_s = (self.options.call_s + self.options.image_s * len(prompts)) * self._factor
        if delay_s > 0:
            time.sleep(delay_s)
        keys = []
        for index, prompt in enumerate(prompts):
            if REFUSE_WORD in prompt:
                raise BackendRefused(f'the echo generator refuses prompt {index}: {prompt[:40]!r}')
            keys.append(echo_key(prompt, None if seeds is None else seeds[index]))
        key = torch.tensor(keys, dtype=torch.uint8, device=images.device)  # (P,)
        return images.expand(len(prompts), -1, -1, -1) ^ key[:, None, None, None]
