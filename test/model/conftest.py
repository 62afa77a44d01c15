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
"""Shared pieces for the model tests: one MiniLM per session, tiny networks built per test."""

from __future__ import annotations

from collections.abc import Callable
import functools

import pytest
import torch
from vision_banana_ros.model import default_text_encoder, NetConfig, TextEncoder, VBMini

TINY = NetConfig(
    height=64,
    width=96,
    channels=(16, 32, 32, 64),
    cond_dim=64,
    token_dim=64,
    head_dim=32,
    refine_channels=8,
)
"""A network small enough for fast tests (about 0.5 M trained parameters)."""

PROMPTS = [
    'Generate a depth visualization of this image, using the rainbow colormap.',
    'Generate a surface normal visualization of this image.',
    'Generate a semantic segmentation visualization image, using this color mapping: '
    '{"cat": "red", "table": "blue", "background": "black"}.',
]


def perturb(model: VBMini, seed: int = 0, scale: float = 0.05) -> VBMini:
    """
    Nudge every trained parameter so zero-initialised branches (FiLM, attention) are live.

    :param model: the network, changed in place.
    :param seed: randomness.
    :param scale: standard deviation of the nudge.
    :return: the same network.
    """
    generator = torch.Generator().manual_seed(seed)
    named = dict(model.named_parameters())
    with torch.no_grad():
        for name in model.trained_parameter_names():
            parameter = named[name]
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return model


def build_tiny(
    text_encoder: TextEncoder, config: NetConfig = TINY, *, live: bool = True
) -> VBMini:
    """
    Build a tiny network with a fixed seed.

    :param text_encoder: the shared MiniLM.
    :param config: the network shape.
    :param live: perturb it (see ``perturb``).
    :return: the network in eval mode.
    """
    torch.manual_seed(0)
    model = VBMini(config, text_encoder)
    return (perturb(model) if live else model).eval()


@pytest.fixture(scope='package', autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Run this package's tests on one torch thread (``one_torch_thread`` in test/conftest.py)."""


@pytest.fixture(scope='session')
def text_encoder() -> TextEncoder:
    """Return the process-wide MiniLM encoder (loaded once)."""
    return default_text_encoder()


@pytest.fixture
def tiny_config() -> NetConfig:
    """Return the tiny network shape."""
    return TINY


@pytest.fixture
def prompts() -> list[str]:
    """Return a depth, a normals and a semantic prompt."""
    return list(PROMPTS)


@pytest.fixture
def make_model(text_encoder: TextEncoder) -> Callable[..., VBMini]:
    """Return ``build_tiny`` bound to the shared MiniLM; call it with (config, live=True)."""
    return functools.partial(build_tiny, text_encoder)
