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
Encode / decode throughput of the codecs at 640x480 (pytest-benchmark; not part of the tests).

Run: .venv/bin/python -m pytest benchmarks --benchmark-only --benchmark-columns=median,iqr,ops
"""

from __future__ import annotations

from conftest import HEIGHT, synchronised, WIDTH
import cv2
import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
import torch
from vision_banana_ros.codecs.depth import decode_depth, encode_depth
from vision_banana_ros.codecs.normals import decode_normals, encode_normals
from vision_banana_ros.codecs.segmentation import (
    decode_instances,
    decode_referring,
    decode_semantic,
    distinct_palette,
    encode_instances,
    encode_semantic,
)
from vision_banana_ros.geometry import CameraIntrinsics, organised_cloud, pack_pointcloud2


def _depth_frame(device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    depth_m = 0.3 + 15.0 * torch.rand(HEIGHT, WIDTH, generator=generator)
    return depth_m.to(device)


def _generated_rgb(device: torch.device) -> torch.Tensor:
    """Encode depth and add noise: off-path colours, as a generator draws them."""
    generator = torch.Generator().manual_seed(1)
    rgb = encode_depth(_depth_frame(torch.device('cpu')))
    assert isinstance(rgb, torch.Tensor)
    noise = torch.randint(-6, 7, rgb.shape, generator=generator)
    return (rgb.to(torch.int16) + noise).clamp(0, 255).to(torch.uint8).to(device)


@pytest.mark.parametrize('colormap', ['cube', 'viridis'])
def test_encode_depth(benchmark: BenchmarkFixture, device: torch.device, colormap: str) -> None:
    depth_m = _depth_frame(device)
    _timed(benchmark, device, lambda: encode_depth(depth_m, colormap))


@pytest.mark.parametrize('colormap', ['cube', 'viridis'])
def test_decode_depth(benchmark: BenchmarkFixture, device: torch.device, colormap: str) -> None:
    rgb = _generated_rgb(device)
    _timed(benchmark, device, lambda: decode_depth(rgb, colormap))


def _timed(benchmark: BenchmarkFixture, device: torch.device, function: object) -> None:
    sync = synchronised(device)
    assert callable(function)
    function()

    def run() -> None:
        function()
        sync()

    benchmark.extra_info['pixels'] = HEIGHT * WIDTH
    benchmark(run)


def _normals(device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(2)
    normals = torch.nn.functional.normalize(
        torch.randn(HEIGHT, WIDTH, 3, generator=generator), dim=-1
    )
    normals[..., 2] = -normals[..., 2].abs()  # facing the camera
    return normals.to(device)


def test_encode_normals(benchmark: BenchmarkFixture, device: torch.device) -> None:
    normals = _normals(device)
    _timed(benchmark, device, lambda: encode_normals(normals))


def test_decode_normals(benchmark: BenchmarkFixture, device: torch.device) -> None:
    rgb = encode_normals(_normals(device))
    _timed(benchmark, device, lambda: decode_normals(rgb))


def _label_image(count: int) -> torch.Tensor:
    """Blocks of ``count`` ids (1..count) tiling the frame, like a segmentation."""
    rows = torch.arange(HEIGHT)[:, None] * 4 // HEIGHT
    cols = torch.arange(WIDTH)[None, :] * ((count + 3) // 4) // WIDTH
    return (rows * ((count + 3) // 4) + cols) % count + 1


def test_decode_semantic_20_classes(benchmark: BenchmarkFixture, device: torch.device) -> None:
    classes = [(f'class {i}', tuple(c)) for i, c in enumerate(distinct_palette(20).tolist())]
    rgb = encode_semantic(_label_image(20).to(device), classes)
    _timed(benchmark, device, lambda: decode_semantic(rgb, classes))


def test_decode_instances_10(benchmark: BenchmarkFixture, device: torch.device) -> None:
    ids = _label_image(10)
    ids[: HEIGHT // 8] = 0  # some background
    rgb = encode_instances(ids.numpy())
    _timed(benchmark, device, lambda: decode_instances(rgb))


def test_decode_instances_10_degraded(benchmark: BenchmarkFixture, device: torch.device) -> None:
    """Blurred 5x5 and noisy (sigma 8), as a generator draws: rims and seams to clean up."""
    ids = _label_image(10)
    ids[: HEIGHT // 8] = 0
    rgb = cv2.GaussianBlur(encode_instances(ids.numpy()), (5, 5), 0)
    noise = 8.0 * torch.randn(rgb.shape, generator=torch.Generator().manual_seed(3))
    noisy = (torch.from_numpy(rgb) + noise).round().clamp(0, 255).to(torch.uint8).to(device)
    _timed(benchmark, device, lambda: decode_instances(noisy))


def test_decode_referring(benchmark: BenchmarkFixture, device: torch.device) -> None:
    rgb = torch.zeros(HEIGHT, WIDTH, 3, dtype=torch.uint8, device=device)
    rgb[100:300, 200:400] = 255
    _timed(benchmark, device, lambda: decode_referring(rgb))


def test_organised_cloud_and_pack_pointcloud2(
    benchmark: BenchmarkFixture, device: torch.device
) -> None:
    intrinsics = CameraIntrinsics(
        fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=WIDTH, height=HEIGHT
    )
    depth_m = _depth_frame(torch.device('cpu')).numpy()
    rgb = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    labels = _label_image(20).numpy().astype(np.uint32)
    normals = _normals(torch.device('cpu')).numpy()
    confidence = np.ones((HEIGHT, WIDTH), np.float32)

    def pack() -> None:
        cloud = organised_cloud(depth_m, intrinsics, rgb, labels, labels, normals, confidence)
        pack_pointcloud2(cloud).to_bytes()

    _timed(benchmark, device, pack)
