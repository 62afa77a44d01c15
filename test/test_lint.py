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
"""Ruff (format and lint) and strict mypy over the ROS-free core, run by the test command."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.linter
@pytest.mark.parametrize('args', [('format', '--check', '--diff'), ('check',)], ids=str)
def test_ruff(args: tuple[str, ...]) -> None:
    pytest.importorskip('ruff', reason='ruff is not installed (pip install -e .[test])')
    result = _run(sys.executable, '-m', 'ruff', *args, '.')
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.linter
def test_mypy_strict_on_the_core() -> None:
    pytest.importorskip('mypy', reason='mypy is not installed (pip install -e .[test])')
    result = _run(sys.executable, '-m', 'mypy')
    assert result.returncode == 0, result.stdout + result.stderr
