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
The pipeline's own cost per 640x480 frame, apart from the generator (pytest-benchmark).

A replay backend hands back the oracle's images instantly, so the time measured is the
pipeline's: letterbox, decoding, clean-up, resizing to the camera and the labelled cloud, for
depth, normals and semantic segmentation (8 classes).

Run: .venv/bin/python -m pytest benchmarks/test_bench_pipeline.py --benchmark-only
"""

from __future__ import annotations

from conftest import HEIGHT, WIDTH
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
import torch
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.bench import ReplayBackend
from vision_banana_ros.pipeline import (
    CameraFrame,
    CleanupConfig,
    Pipeline,
    PipelineConfig,
    TasksConfig,
)
from vision_banana_ros.synth.catalog import CLASS_NAMES

TASKS = TasksConfig(semantic_classes=CLASS_NAMES[1:9])


@pytest.fixture(scope='module')
def oracle() -> OracleBackend:
    torch.set_num_threads(1)
    return OracleBackend.from_seeds([5], WIDTH, HEIGHT, 'room')


@pytest.mark.parametrize('model_size', [(128, 160), (256, 320)], ids=['128x160', '256x320'])
@pytest.mark.parametrize('cleanup', [True, False], ids=['cleanup', 'no-cleanup'])
def test_pipeline_overhead(
    benchmark: BenchmarkFixture,
    device: torch.device,
    oracle: OracleBackend,
    model_size: tuple[int, int],
    cleanup: bool,
) -> None:
    config = PipelineConfig(
        tasks=TASKS,
        model_height=model_size[0],
        model_width=model_size[1],
        cleanup=CleanupConfig()
        if cleanup
        else CleanupConfig(0, 0, depth_median_px=1, normals_smooth_px=1),
    )
    frame = CameraFrame(oracle.frames[0].rgb.numpy(), oracle.intrinsics[0])
    truth = Pipeline(config, backend=oracle)
    drawn = oracle.generate(
        truth.letterbox((HEIGHT, WIDTH)).to_model(torch.from_numpy(frame.rgb)[None]),
        [p.text for p in truth.prompts],
    )
    pipeline = Pipeline(config, backend=ReplayBackend([drawn], device))
    result = pipeline.process(frame)
    benchmark.extra_info['stages_ms'] = {k: round(v, 2) for k, v in result.timings_ms.items()}
    benchmark(pipeline.process, frame)
