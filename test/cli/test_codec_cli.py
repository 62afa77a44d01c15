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
"""``vision-banana encode`` / ``decode``: real files in, correct files out, clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner
from vision_banana_ros.cli.main import app

RUNNER = CliRunner()


def test_depth_encode_then_decode_round_trips_a_real_frame(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / 'nyu_depth_v2_metric3d' / 'depth' / 'sync_depth_00050.png'
    image = tmp_path / 'depth_rgb.png'
    encoded = RUNNER.invoke(
        app, ['encode', 'depth', str(source), '--depth-scale', '0.001', '--out', str(image)]
    )
    assert encoded.exit_code == 0, encoded.output
    decoded = RUNNER.invoke(app, ['decode', 'depth', str(image), '--out', str(tmp_path / 'out')])
    assert decoded.exit_code == 0, decoded.output
    truth_mm = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
    depth_m = np.load(tmp_path / 'out' / 'depth_m.npy')
    depth_mm = cv2.imread(str(tmp_path / 'out' / 'depth_mm.png'), cv2.IMREAD_UNCHANGED)
    valid = truth_mm > 0
    assert np.array_equal(np.isfinite(depth_m), valid) and np.array_equal(depth_mm > 0, valid)
    relative = np.abs(depth_m[valid] - truth_mm[valid] / 1000.0) / (truth_mm[valid] / 1000.0)
    assert relative.max() < 0.005
    assert 'valid' in decoded.output and 'median confidence 1.000' in decoded.output


def test_normals_encode_then_decode(tmp_path: Path) -> None:
    normals = np.zeros((4, 5, 3), np.float32)
    normals[..., 2] = -1.0  # a wall facing the camera
    normals[0, 0] = np.nan
    np.save(tmp_path / 'n.npy', normals)
    assert (
        RUNNER.invoke(
            app, ['encode', 'normals', str(tmp_path / 'n.npy'), '--out', str(tmp_path / 'n.png')]
        ).exit_code
        == 0
    )
    rgb = cv2.imread(str(tmp_path / 'n.png'))[..., ::-1]
    assert tuple(rgb[1, 1]) == (128, 128, 255)
    result = RUNNER.invoke(
        app, ['decode', 'normals', str(tmp_path / 'n.png'), '--out', str(tmp_path / 'o')]
    )
    assert result.exit_code == 0, result.output
    decoded = np.load(tmp_path / 'o' / 'normals.npy')
    assert np.isnan(decoded[0, 0]).all()
    np.testing.assert_allclose(decoded[1:, 1:], normals[1:, 1:], atol=0.01)


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['decode', 'depth', 'missing.png'], 'no such file'),
        (['encode', 'normals', 'bad.npy'], 'expected (H, W, 3)'),
    ],
)
def test_bad_input_exits_2_with_one_clear_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    np.save(tmp_path / 'bad.npy', np.zeros((3, 3), np.float32))
    out = tmp_path / 'out'
    args = [str(tmp_path / a) if a.endswith(('.png', '.npy')) else a for a in args]
    result = RUNNER.invoke(app, [*args, '--out', str(out / 'x.png')])
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output
    assert not out.exists() or not any(out.iterdir())


def test_the_installed_command_reports_bad_input_as_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = [sys.executable, '-m', 'vision_banana_ros.cli.main', 'decode', 'depth']
    result = subprocess.run(
        [*command, str(tmp_path / 'missing.png'), '--out', str(tmp_path / 'o')],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().endswith('missing.png: no such file')
    assert 'Traceback' not in result.stderr


def test_train_command_reads_a_config_and_lets_options_override_it(tmp_path: Path) -> None:
    import yaml

    config = tmp_path / 'tiny.yaml'
    config.write_text(
        yaml.safe_dump(
            {
                'train': {'minutes': 5.0, 'batch_size': 2, 'workers': 0, 'eval_frames': 0},
                'mixture': {'resolution': [64, 96], 'scenes_per_batch': 2},
                'net': {
                    'height': 64,
                    'width': 96,
                    'channels': [8, 16, 32, 64],
                    'cond_dim': 64,
                    'token_dim': 64,
                    'head_dim': 32,
                    'refine_channels': 8,
                },
            }
        )
    )
    run = tmp_path / 'run'
    result = RUNNER.invoke(app, ['train', str(run), '--config', str(config), '--minutes', '0.02'])
    assert result.exit_code == 0, result.output
    assert result.output.startswith('step ') and (run / 'checkpoint.pt').exists()
    state = torch.load(run / 'checkpoint.pt', weights_only=False)
    assert state['position'] == 2 * state['step'], "the file's batch size, not the option default"
