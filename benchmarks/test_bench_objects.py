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
Objects per frame (pytest-benchmark): ``ObjectBuilder.update`` at 640x480 with 10 objects.

A rendered tabletop (seed 7) gives exact depth, normals and instance masks; the 10 largest objects
in view become the frame's instances (what a pipeline result holds after decoding). Cases: with
the result's normals, and without them (normals then estimated from the depth in each object's
window). ``fit_box`` alone on 5,000 surface points shows the fitting's share.

Run: .venv/bin/python -m pytest benchmarks/test_bench_objects.py --benchmark-only
"""

from __future__ import annotations

from dataclasses import replace

from conftest import HEIGHT, WIDTH
import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
import torch
from vision_banana_ros.objects import fit_box, ObjectBuilder
from vision_banana_ros.pipeline import InstanceMask, PerceptionResult
from vision_banana_ros.synth.layout import ROOM_INSTANCE, sample_scene
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.training.frames import render_frames

OBJECTS = 10


@pytest.fixture(scope='module')
def frame() -> tuple[PerceptionResult, object]:
    """Return a 640x480 result whose instances are the 10 largest objects of a tabletop."""
    torch.set_num_threads(1)
    scene = sample_scene(7, WIDTH, HEIGHT, 'tabletop')
    rendered = render_frames([scene], texture_bank(), RenderSettings())[0]
    ids = rendered.instances.numpy()
    counts = np.bincount(ids.reshape(-1))
    counts[: ROOM_INSTANCE + 6] = 0  # the room's six faces are not objects
    largest = np.argsort(-counts)[:OBJECTS]
    assert counts[largest[-1]] > 300, 'the scene has 10 objects in view'
    instances = tuple(
        InstanceMask(
            scene.find(int(i)).class_name or 'object',
            int(i),
            ids == i,
            int(counts[i]),
            np.full(3, 200, np.uint8),
        )
        for i in sorted(largest)
    )
    result = PerceptionResult(
        stamp_ns=0,
        frame_id='camera',
        size=(HEIGHT, WIDTH),
        depth_m=rendered.depth_m.numpy(),
        depth_confidence=np.ones((HEIGHT, WIDTH), np.float32),
        normals=rendered.normals.numpy(),
        instance_ids=np.where(np.isin(ids, largest), ids, 0).astype(np.uint16),
        instances=instances,
    )
    return result, scene.camera.intrinsics


@pytest.mark.parametrize('normals', ['given', 'from depth'])
def test_objects_per_frame(
    benchmark: BenchmarkFixture, frame: tuple[PerceptionResult, object], normals: str
) -> None:
    result, intrinsics = frame
    if normals == 'from depth':
        result = replace(result, normals=None)
    builder = ObjectBuilder()
    found = builder.update(result, intrinsics)  # type: ignore[arg-type]
    assert len(found.objects) == OBJECTS
    benchmark.extra_info['points'] = sum(o.point_count for o in found.objects)
    benchmark(builder.update, result, intrinsics)


def test_fit_box_5000_points(benchmark: BenchmarkFixture) -> None:
    rng = np.random.default_rng(0)
    size = np.array([0.3, 0.18, 0.08])
    points = rng.uniform(-0.5, 0.5, (5000, 3)) * size
    face = rng.integers(0, 3, 5000)
    side = rng.choice([-0.5, 0.5], 5000)
    points[np.arange(5000), face] = side * size[face]
    normals = np.zeros((5000, 3))
    normals[np.arange(5000), face] = np.sign(side)
    points += np.array([0.0, 0.0, 1.0])
    benchmark(fit_box, points, normals, None, 0.5)
