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
"""ament's flake8 check, as `colcon test` runs it (skips where ament_flake8 is absent)."""

from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CHECKED = ['vision_banana_ros', 'test', 'launch', 'benchmarks', 'setup.py']


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8() -> None:
    main = pytest.importorskip(
        'ament_flake8.main', reason='ament_flake8 is not installed (pip: ros-jazzy-ament-flake8)'
    )
    paths = [str(PACKAGE_ROOT / p) for p in CHECKED if (PACKAGE_ROOT / p).exists()]
    rc, errors = main.main_with_errors(argv=paths)
    assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)
