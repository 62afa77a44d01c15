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
``TemporalSmoother.update`` per frame (pytest-benchmark), in place as the pipeline calls it.

The pipeline smooths at the model's resolution: 120x160 for a 640x480 camera on the embedded
model (its 128x160 image less the letterbox's padding), the size that counts for a frame's cost;
640x480 is what smoothing full-resolution results (a camera-sized model) costs. Two frames of a
dolly past a rendered room go through the pipeline with the oracle and smoothing off; each round
then smooths a fresh copy of the second frame in place (the copy is not timed) after the first.
Tasks: depth + semantic labels (8 classes), or everything the pipeline makes by default plus
labels and instances (depth, normals, labels, 2 instance classes). Modes: no motion and no image
('plain'), the camera image ('image'), the camera's motion from TF ('tf'), both ('image+tf',
what the ROS node does with TF available).

Run: .venv/bin/python -m pytest benchmarks/test_bench_smoothing.py --benchmark-only
"""

from __future__ import annotations

from dataclasses import replace

from conftest import HEIGHT, WIDTH
import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
import torch
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.pipeline import (
    CameraFrame,
    PerceptionResult,
    Pipeline,
    PipelineConfig,
    TasksConfig,
)
from vision_banana_ros.smoothing import SmoothingConfig, TemporalSmoother
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.synth.layout import sample_scene
from vision_banana_ros.synth.trajectory import camera_dolly

TASKS = {
    'depth+labels': TasksConfig(normals=False, semantic_classes=CLASS_NAMES[1:9]),
    'all': TasksConfig(semantic_classes=CLASS_NAMES[1:9], instance_classes=('chair', 'table')),
}
MODES = ('plain', 'image', 'tf', 'image+tf')
SIZES = {'120x160': (120, 160), f'{HEIGHT}x{WIDTH}': (HEIGHT, WIDTH)}


@pytest.fixture(scope='module', params=list(SIZES))
def frames(request: pytest.FixtureRequest) -> tuple[OracleBackend, np.ndarray]:
    """Two frames of a 4 cm dolly through a room, and T_prev_curr between them."""
    torch.set_num_threads(1)
    height, width = SIZES[request.param]
    scene = sample_scene(5, width, height, 'room')
    first, second = camera_dolly(scene, 2, offset_m=(0.03, 0.0, 0.03))
    motion = np.linalg.inv(first.camera.T_world_camera) @ second.camera.T_world_camera
    return OracleBackend([first, second]), motion


def _copy(result: PerceptionResult) -> PerceptionResult:
    """Return the result with its own arrays (``update`` writes into them in place)."""
    semantic, normals = result.semantic, result.normals
    return replace(
        result,
        depth_m=None if result.depth_m is None else result.depth_m.copy(),
        depth_confidence=None
        if result.depth_confidence is None
        else result.depth_confidence.copy(),
        normals=None if normals is None else normals.transpose(2, 0, 1).copy().transpose(1, 2, 0),
        normals_confidence=None
        if result.normals_confidence is None
        else result.normals_confidence.copy(),
        semantic=None
        if semantic is None
        else replace(
            semantic, labels=semantic.labels.copy(), confidence=semantic.confidence.copy()
        ),
        instance_ids=None if result.instance_ids is None else result.instance_ids.copy(),
    )


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('tasks', list(TASKS))
def test_smoother_update(
    benchmark: BenchmarkFixture,
    frames: tuple[OracleBackend, np.ndarray],
    tasks: str,
    mode: str,
) -> None:
    oracle, motion = frames
    config = PipelineConfig(tasks=TASKS[tasks], smoothing=SmoothingConfig(enabled=False))
    pipeline = Pipeline(config, backend=oracle)
    intrinsics = oracle.intrinsics[1]
    raw = [
        pipeline.process(CameraFrame(f.rgb.numpy(), k))
        for f, k in zip(oracle.frames, oracle.intrinsics, strict=True)
    ]
    images = [np.ascontiguousarray(f.rgb) if 'image' in mode else None for f in oracle.frames]
    given = motion if 'tf' in mode else None
    smoother = TemporalSmoother()

    def setup() -> tuple[tuple[PerceptionResult], dict[str, object]]:
        """Step back to the first frame (untimed); the buffers stay allocated."""
        smoother.update(_copy(raw[0]), intrinsics, rgb=images[0], in_place=True)
        return (_copy(raw[1]),), {}

    def update(result: PerceptionResult) -> PerceptionResult:
        return smoother.update(result, intrinsics, given, rgb=images[1], in_place=True)

    smoothed = update(setup()[0][0])
    assert smoother.restarted == '', smoother.restarted
    assert smoothed.depth_m is not None
    pedantic = benchmark.pedantic  # untyped in pytest-benchmark
    pedantic(update, setup=setup, rounds=40, warmup_rounds=2)  # type: ignore[no-untyped-call]
