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
"""Shared fixtures: devices, one torch thread, and the path to ../shared/data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'

DEVICES = [
    'cpu',
    pytest.param(
        'cuda',
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA is not available'),
        ],
    ),
]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Yield each device the codecs must run on; CUDA skips with a reason where absent."""
    return torch.device(request.param)


@pytest.fixture
def shared_data() -> Path:
    """Return the project's real evaluation frames (read-only, never copied into the tree)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f'real data folder {SHARED_DATA} is absent (it sits beside the checkout)')
    return SHARED_DATA


@pytest.fixture(scope='package')
def one_torch_thread() -> Iterator[None]:
    """
    Run a test package on one torch thread (its conftest requests this with autouse).

    On a shared 2-core machine, two OpenMP threads per process spin against other processes
    and a test runs 10-20x slower; one thread keeps the suite's time predictable, and the
    results are the same bits on any number of threads.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
