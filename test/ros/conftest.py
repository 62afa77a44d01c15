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
Fixtures for the node's tests under real rclpy (Jazzy wheels, see scripts/setup-ros-venv).

Each test process gets its own DDS domain, discovery stays on this host, and ROS logs go to a
temporary folder. The tests skip (with the reason) where rclpy is not installed: the main venv
runs them through test/test_ros_jazzy.py in the Jazzy venv.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import tempfile
from typing import Any

import pytest

os.environ['ROS_DOMAIN_ID'] = str(os.getpid() % 97 + 1)
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_HOME', tempfile.mkdtemp(prefix='vision_banana_ros_home_'))

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ros_context() -> Iterator[Any]:
    """Give each test its own rclpy context."""
    rclpy = pytest.importorskip('rclpy', reason='no rclpy here: test/test_ros_jazzy.py runs this')
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)
