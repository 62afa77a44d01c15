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
"""Command-line fixtures: one torch thread, and a rendered scene saved as a PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from vision_banana_ros.synth.layout import sample_scene
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.synth.splits import split_seeds
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.training.frames import render_frames, RenderedFrame


@pytest.fixture(scope='package', autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Run this package's tests on one torch thread (``one_torch_thread`` in test/conftest.py)."""


@pytest.fixture(scope='package')
def scene_frame() -> RenderedFrame:
    """Render a held-out tabletop scene at 320x240 once (ground truth included)."""
    scene = sample_scene(split_seeds('test', 1, offset=9019)[0], 320, 240, 'tabletop')
    return render_frames([scene], texture_bank(), RenderSettings())[0]


@pytest.fixture(scope='package')
def scene_png(scene_frame: RenderedFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the rendered scene's camera image as a PNG file."""
    path = tmp_path_factory.mktemp('scene') / 'scene.png'
    assert cv2.imwrite(str(path), scene_frame.rgb.numpy()[..., ::-1])
    return path
