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
"""``vision-banana bench``: a tiny run's JSON and table, and one-line errors (never times)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from vision_banana_ros.cli.main import app

RUNNER = CliRunner()
TINY = ['bench', '--camera', '80x64', '--repeats', '2', '--warmup', '1', '--peers', 'none']


def test_json_is_one_object_with_the_machine_every_stage_and_the_tasks_asked() -> None:
    pytest.importorskip('rosbags')
    result = RUNNER.invoke(app, [*TINY, '--json', '--classes', 'floor,table', '--no-normals'])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {'metadata', 'results', 'ratios'}
    machine = document['metadata']['machine']
    assert {'cpu', 'cpu_count', 'torch_threads', 'torch', 'device', 'gpu', 'date'} <= set(machine)
    setup = document['metadata']['setup']
    assert setup['tasks'] == ['depth', 'semantic'] and setup['camera_size'] == '64x80'
    assert setup['backend'].startswith('local VB-Mini')
    rows = {row['name']: row for row in document['results']}
    for stage in ('generate', 'decode', 'resize', 'smooth', 'cloud', 'messages', 'cdr', 'frame'):
        row = rows[f'ours.{stage}']
        assert row['repeats'] == 2 and row['p50_ms'] <= row['p99_ms'] and row['fps'] > 0
    assert rows['ours.generate']['size'] == setup['model_size']
    assert document['ratios'] == []
    assert document['metadata']['memory']['ours.peak_rss_mib'] > 0


def test_table_names_the_stages_and_the_machine() -> None:
    result = RUNNER.invoke(app, [*TINY, '--no-normals', '--no-depth', '--classes', 'floor'])
    assert result.exit_code == 0, result.output
    assert 'ours.generate' in result.stdout and 'frames/s' in result.stdout
    assert 'machine: ' in result.stdout and 'torch threads' in result.stdout


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--camera', '640'], '--camera takes WIDTHxHEIGHT'),
        (['--camera', '0x480'], '--camera takes WIDTHxHEIGHT'),
        (['--repeats', '0'], 'repeats must be an integer >= 1'),
        (['--peer-warmup', '-1'], 'peer_warmup must be an integer >= 0'),
        (['--peers', 'sd3'], '--peers: unknown sd3'),
        (['--peers', 'sd2,,'], '--peers: empty entry'),
        (['--peer-size', '100x75'], 'not a multiple of 8'),
        (['--peer-size', 'big'], '--peer-size takes WIDTHxHEIGHT'),
        (['--dtype', 'int8'], 'dtype'),
        (['--set', 'backend.name=remote'], 'bench times the embedded generator'),
        (['--classes', 'mug,,table'], '--classes: empty entry'),
        (['--samples', '0'], 'samples=0'),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = RUNNER.invoke(app, ['bench', *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('vision-banana: error: '), result.output
    assert message in lines[0]
