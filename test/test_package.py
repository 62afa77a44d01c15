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
"""The package as ROS and pip see it: manifest, versions, and a core that imports without ROS."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import xml.etree.ElementTree as ET

import vision_banana_ros

PACKAGE_ROOT = Path(__file__).resolve().parents[1]

EXEC_DEPENDS = {
    'rclpy', 'sensor_msgs', 'std_msgs', 'vision_msgs', 'cv_bridge', 'sensor_msgs_py',
    'message_filters', 'launch', 'launch_ros', 'diagnostic_msgs', 'diagnostic_updater',
    'tf2_msgs', 'geometry_msgs',
    'python3-numpy', 'python3-yaml', 'python3-opencv', 'python3-requests',
}  # fmt: skip


def test_manifest_is_format_3_ament_python_with_the_runtime_dependencies() -> None:
    root = ET.parse(PACKAGE_ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'vision_banana_ros'
    assert root.findtext('export/build_type') == 'ament_python'
    assert {e.text for e in root.findall('exec_depend')} == EXEC_DEPENDS
    assert root.findtext('version') == vision_banana_ros.__version__
    assert (PACKAGE_ROOT / 'resource' / 'vision_banana_ros').is_file()


def test_every_core_module_imports_without_ros() -> None:
    # A fresh interpreter, so that nothing this test session imported can hide a dependency.
    script = """
import importlib, pkgutil, sys
import vision_banana_ros
names = [m.name for m in pkgutil.walk_packages(vision_banana_ros.__path__, 'vision_banana_ros.')
         if not m.name.startswith('vision_banana_ros.ros')]
for name in names:
    importlib.import_module(name)
ros_roots = {'rclpy', 'rosidl_runtime_py', 'sensor_msgs'}
ros = sorted(m for m in sys.modules if m.split('.')[0] in ros_roots)
assert not ros, f'core modules imported ROS: {ros}'
assert 'open3d' not in sys.modules, 'open3d must be imported lazily, where it is used'
print(len(names))
"""
    result = subprocess.run(
        [sys.executable, '-c', script], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 5
