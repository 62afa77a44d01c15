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
"""``vision-banana eval``: real and held-out synthetic frames scored; tables, CSV and plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner
from vision_banana_ros.cli.main import app
from vision_banana_ros.datasets import convert_to_layout, Frame
from vision_banana_ros.model.generator import Generator
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.frames import RenderedFrame
from vision_banana_ros.training.loop import evaluate_model, headline_metrics

RUNNER = CliRunner()
HEADLINE = {
    'depth.delta1',
    'depth.absrel',
    'normals.mean_deg',
    'normals.median_deg',
    'semantic.miou',
    'referring.ciou',
    'referring.giou',
    'instances.f1',
}


def test_synthetic_scores_match_trainings_own_evaluation(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ['eval', '--synthetic', '2', '--json', '-o', str(tmp_path)])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores) == HEADLINE
    expected = headline_metrics(
        evaluate_model(Generator.from_pretrained().model, MixtureConfig(), 2)
    )
    assert scores == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert json.loads((tmp_path / 'summary.json').read_text()) == scores


def test_synthetic_oracle_is_near_perfect(tmp_path: Path) -> None:
    args = ['eval', '--synthetic', '2', '--backend', 'oracle', '--json', '-o', str(tmp_path)]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores['depth.delta1'] == 1.0 and scores['depth.absrel'] < 0.002
    assert scores['normals.mean_deg'] < 0.5
    assert scores['semantic.miou'] == scores['referring.ciou'] == scores['instances.f1'] == 1.0
    with (tmp_path / 'per_frame.csv').open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row['frame'] for row in rows} == {'synth-test-v1/0000', 'synth-test-v1/0001'}
    assert {row['task'] for row in rows} == {
        'depth',
        'normals',
        'semantic',
        'instances',
        'referring',
    }


def test_real_frames_give_a_table_csv_and_plots(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / 'nyu_depth_v2_metric3d'
    args = [
        'eval',
        '--data',
        str(data),
        '--tasks',
        'depth',
        '--error-maps',
        '2',
        '-o',
        str(tmp_path),
    ]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert '### depth' in result.output and '| local | nyu_depth_v2 | 3 |' in result.output
    with (tmp_path / 'per_frame.csv').open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row['frame'] for row in rows] == ['rgb_00000', 'rgb_00050', 'rgb_00100']
    assert all(0.0 <= float(row['delta1']) <= 1.0 and float(row['abs_rel']) > 0 for row in rows)
    summary = json.loads((tmp_path / 'summary.json').read_text())
    mean_absrel = np.mean([float(row['abs_rel']) for row in rows])
    assert summary['depth.absrel'] == pytest.approx(mean_absrel, rel=1e-4)  # depth: mean per image
    scatter = cv2.imread(str(tmp_path / 'depth_scatter.png'))
    assert scatter is not None and scatter.shape[0] > 300
    maps = sorted(p.name for p in (tmp_path / 'error_maps').iterdir())
    assert maps == ['nyu_depth_v2_rgb_00000_depth.png', 'nyu_depth_v2_rgb_00050_depth.png']
    assert '# Evaluation' in (tmp_path / 'summary.md').read_text()


def _layout(frame: RenderedFrame, folder: Path) -> Path:
    """Write a rendered scene with every kind of ground truth in the datasets layout."""
    labels = frame.labels.numpy().astype(np.uint16)
    instances = frame.instances.numpy().astype(np.uint32)
    shown = [i for i in np.unique(labels) if i > 0]
    table = next(o for o in frame.scene.objects if o.class_name == 'table')
    truth = Frame(
        rgb=frame.rgb.numpy(),
        name='scene',
        dataset='mine',
        depth_m=frame.depth_m.numpy(),
        normals=frame.normals.numpy(),
        labels=labels,
        instances=instances,
        referring_mask=instances == table.instance_id,
        referring_text='the table',
        class_names={int(i): CLASS_NAMES[i] for i in shown},
        instance_labels={
            o.instance_id: CLASS_NAMES.index(o.class_name) for o in frame.scene.objects
        },
    )
    return convert_to_layout([truth], folder)


def test_depth_alignment_rescales_each_frame(shared_data: Path, tmp_path: Path) -> None:
    """Median alignment: the same predictions, each scaled to its frame's true median."""
    data = str(shared_data / 'nyu_depth_v2_metric3d')
    scores = {}
    for alignment in ('none', 'median'):
        args = ['eval', '--data', data, '--tasks', 'depth', '--json', '--error-maps', '0']
        out = ['-o', str(tmp_path / alignment), '--depth-alignment', alignment]
        result = RUNNER.invoke(app, [*args, *out])
        assert result.exit_code == 0, result.output
        scores[alignment] = json.loads(result.stdout)
    assert scores['none'] != scores['median']
    frames = (tmp_path / 'median' / 'per_frame.csv').read_text()
    assert frames.count('nyu_depth_v2') == 3


def test_a_layout_folder_is_scored_on_every_task_it_has(
    scene_frame: RenderedFrame, tmp_path: Path
) -> None:
    data = _layout(scene_frame, tmp_path / 'mine')
    result = RUNNER.invoke(app, ['eval', '--data', str(data), '--json', '-o', str(tmp_path / 'o')])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores) == HEADLINE
    with (tmp_path / 'o' / 'per_frame.csv').open() as handle:
        tasks = [row['task'] for row in csv.DictReader(handle)]
    assert tasks == ['depth', 'normals', 'semantic', 'referring', 'instances']


def test_several_datasets_give_one_json_object_per_dataset(
    shared_data: Path, scene_frame: RenderedFrame, tmp_path: Path
) -> None:
    data = _layout(scene_frame, tmp_path / 'mine')
    args = ['eval', '--data', 'sunrgbd_open3d', '--data', str(data), '--tasks', 'depth', '--json']
    result = RUNNER.invoke(app, [*args, '-o', str(tmp_path / 'o')])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores) == {'sunrgbd', 'mine'}
    assert set(scores['mine']) == {'depth.delta1', 'depth.absrel'}


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        ([], 'give either --data DIR or --synthetic N'),
        (['--synthetic', '1', '--data', 'nyu_depth_v2_metric3d'], 'give either'),
        (['--synthetic', '0'], '--synthetic must be 1-256'),
        (['--synthetic', '300'], '--synthetic must be 1-256'),
        (['--data', 'no_such_folder'], 'not a shared folder name'),
        (['--data', 'EMPTY_DIR'], 'no frames.json'),
        (['--data', 'nyu_depth_v2_metric3d', '--tasks', 'depth,colour'], 'unknown colour'),
        (['--data', 'nyu_depth_v2_metric3d', '--backend', 'oracle'], 'eval --synthetic'),
        (['--synthetic', '1', '--error-maps', '-1'], '--error-maps must be >= 0'),
        (['--synthetic', '1', '--set', 'backend.local.steps=9'], 'steps=9'),
        (['--data', 'nyu_depth_v2_metric3d', '--depth-alignment', 'mean'], "'mean'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / 'empty').mkdir()
    args = [str(tmp_path / 'empty') if a == 'EMPTY_DIR' else a for a in args]
    out = tmp_path / 'out'
    result = RUNNER.invoke(app, ['eval', *args, '--out', str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('vision-banana: error: '), result.output
    assert message in lines[0]
    assert not out.exists()
