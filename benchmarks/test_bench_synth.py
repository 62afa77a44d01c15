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
Scene engine throughput: sample, batch and render frames with every output (pytest-benchmark).

Run: .venv/bin/python -m pytest benchmarks/test_bench_synth.py --benchmark-only
Each round samples fresh scenes (new seeds), batches them and renders RGB, depth, normals, labels
and instances; frames/s = batch size / round time. ``compiled`` rows use torch.compile for the
per-pixel arithmetic (warmed up before timing).
"""

from __future__ import annotations

import itertools

from conftest import synchronised
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
import torch
from vision_banana_ros.synth.layout import batch_scenes, sample_scene
from vision_banana_ros.synth.render import render, RenderSettings
from vision_banana_ros.synth.textures import texture_bank

BATCH = 32


@pytest.mark.parametrize('compiled', [False, True], ids=['eager', 'compiled'])
@pytest.mark.parametrize(('height', 'width'), [(128, 160), (256, 320)])
def test_render_frames(
    benchmark: BenchmarkFixture, device: torch.device, height: int, width: int, compiled: bool
) -> None:
    bank = texture_bank().to(device)
    settings = RenderSettings(fused=compiled)
    seeds = itertools.count()
    sync = synchronised(device)

    def frames() -> None:
        scenes = [sample_scene(next(seeds), width, height) for _ in range(BATCH)]
        render(batch_scenes(scenes, device), bank.images, settings)
        sync()

    frames()  # warm-up (and compilation)
    benchmark.extra_info['frames_per_round'] = BATCH
    benchmark.pedantic(frames, rounds=5, iterations=1)
    benchmark.extra_info['frames_per_s'] = BATCH / benchmark.stats.stats.median
