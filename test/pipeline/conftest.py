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

"""Pipeline fixtures: one torch thread, and an oracle of rendered 640x480 scenes."""

from __future__ import annotations

import pytest
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.synth.layout import sample_scene, SceneMode
from vision_banana_ros.synth.splits import split_seeds


@pytest.fixture(scope='package', autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Run this package's tests on one torch thread (``one_torch_thread`` in test/conftest.py)."""


@pytest.fixture(scope='package')
def oracle() -> OracleBackend:
    """Three held-out scenes (a room, a tabletop, an object soup) at 640x480, rendered once."""
    seeds = split_seeds('test', 3)
    modes: tuple[SceneMode, ...] = ('room', 'tabletop', 'soup')
    return OracleBackend([sample_scene(s, 640, 480, m) for s, m in zip(seeds, modes, strict=True)])
