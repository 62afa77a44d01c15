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
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
import torch

from vision_banana_ros.codecs.depth import decode_depth, encode_depth


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
    depth_m, sync = _depth_frame(device), synchronised(device)
    encode_depth(depth_m, colormap)

    def run() -> None:
        encode_depth(depth_m, colormap)
        sync()

    benchmark.extra_info['pixels'] = HEIGHT * WIDTH
    benchmark(run)


@pytest.mark.parametrize('colormap', ['cube', 'viridis'])
def test_decode_depth(benchmark: BenchmarkFixture, device: torch.device, colormap: str) -> None:
    rgb, sync = _generated_rgb(device), synchronised(device)
    decode_depth(rgb, colormap)

    def run() -> None:
        decode_depth(rgb, colormap)
        sync()

    benchmark.extra_info['pixels'] = HEIGHT * WIDTH
    benchmark(run)
