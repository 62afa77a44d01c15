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
"""Benchmark fixtures: a seeded 640x480 camera-sized frame on every available device."""

from __future__ import annotations

import pytest
import torch

HEIGHT, WIDTH = 480, 640
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Yield each device present on this machine."""
    return torch.device(request.param)


def synchronised(device: torch.device):  # type: ignore[no-untyped-def]
    """Return a callable that waits for queued device work, so a timing includes it."""
    if device.type == 'cuda':
        return torch.cuda.synchronize
    return lambda: None
