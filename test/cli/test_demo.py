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
"""``vision-banana demo``: the whole system on a rendered scene; every output read back."""

from __future__ import annotations

import json
from pathlib import Path
import re

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner, Result
from vision_banana_ros.cli.demo import DEFAULT_SEED, SCENE_SIZE, scene_tasks
from vision_banana_ros.cli.files import depth_mm_u16
from vision_banana_ros.cli.main import app
from vision_banana_ros.pipeline import CameraFrame, PerceptionResult, Pipeline, PipelineConfig
from vision_banana_ros.synth.layout import sample_scene
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.training.frames import render_frames

RUNNER = CliRunner()
OUTPUTS = (
    'contact_sheet.png',
    'input.png',
    'depth.png',
    'depth_m.npy',
    'depth_mm.png',
    'normals.png',
    'normals.npy',
    'semantic.png',
    'labels.png',
    'instances.png',
    'instance_ids.png',
    'cloud.ply',
    'result.json',
)


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    """Run the demo once with its defaults."""
    out = tmp_path_factory.mktemp('demo') / 'out'
    return RUNNER.invoke(app, ['demo', '--out', str(out)]), out


@pytest.fixture(scope='module')
def pipeline_result() -> PerceptionResult:
    """Run the pipeline itself on the demo's scene and tasks."""
    scene = sample_scene(DEFAULT_SEED, *SCENE_SIZE, 'tabletop', texture_bank())
    frame = render_frames([scene], texture_bank(), RenderSettings())[0]
    with Pipeline(PipelineConfig(tasks=scene_tasks(frame))) as pipeline:
        return pipeline.process(CameraFrame(frame.rgb.numpy(), scene.camera.intrinsics))


def test_demo_writes_every_output_and_says_where(demo_run: tuple[Result, Path]) -> None:
    result, out = demo_run
    assert result.exit_code == 0, result.output
    missing = [name for name in OUTPUTS if not (out / name).is_file()]
    assert not missing, result.output
    assert list((out / 'masks').glob('instance_*.png')) or 'instances of' not in result.output
    assert f'wrote {out}/' in result.output and 'contact_sheet.png' in result.output
    assert 'against the scene ground truth: depth AbsRel' in result.output
    assert len(result.output.splitlines()) <= 25, 'the summary fits on one screen'
    assert not list(out.glob('.*')), 'no temporary file is left behind'


def test_demo_arrays_are_the_pipelines(
    demo_run: tuple[Result, Path], pipeline_result: PerceptionResult
) -> None:
    _, out = demo_run
    expected = pipeline_result
    assert expected.depth_m is not None and expected.normals is not None
    np.testing.assert_array_equal(np.load(out / 'depth_m.npy'), expected.depth_m)
    np.testing.assert_array_equal(np.load(out / 'normals.npy'), expected.normals)
    depth_mm = cv2.imread(str(out / 'depth_mm.png'), cv2.IMREAD_UNCHANGED)
    assert depth_mm.dtype == np.uint16
    np.testing.assert_array_equal(depth_mm, depth_mm_u16(expected.depth_m))
    assert expected.semantic is not None
    labels = cv2.imread(str(out / 'labels.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(labels, expected.semantic.labels)
    summary = json.loads((out / 'result.json').read_text())
    names = {int(k): v for k, v in summary['semantic']['labels'].items()}
    assert names == dict(enumerate(expected.semantic.class_names, start=1))
    assert summary['size'] == [640, 480] and summary['cloud']['points'] > 0


def test_demo_pictures_have_the_cameras_size(demo_run: tuple[Result, Path]) -> None:
    _, out = demo_run
    for name in ('input.png', 'normals.png'):
        assert cv2.imread(str(out / name)).shape == (480, 640, 3)
    depth = cv2.imread(str(out / 'depth.png'))
    assert depth.shape[0] == 480 and depth.shape[1] > 640  # the colour bar beside it
    sheet = cv2.imread(str(out / 'contact_sheet.png'))
    assert sheet.shape[1] > 1000 and sheet.shape[0] > 400


def test_demo_point_cloud_reads_back_with_open3d(
    demo_run: tuple[Result, Path], pipeline_result: PerceptionResult
) -> None:
    open3d = pytest.importorskip('open3d')
    _, out = demo_run
    cloud = pipeline_result.cloud
    assert cloud is not None
    points = open3d.t.io.read_point_cloud(str(out / 'cloud.ply'))
    positions = points.point['positions'].numpy()
    np.testing.assert_allclose(positions, cloud.xyz[cloud.valid], rtol=0, atol=1e-6)
    assert {'colors', 'normals', 'label', 'instance', 'confidence'} <= set(points.point)


def test_demo_with_the_oracle_is_near_perfect(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ['demo', '--backend', 'oracle', '--out', str(tmp_path)])
    assert result.exit_code == 0, result.output
    found = re.search(r'depth AbsRel ([0-9.]+)', result.output)
    assert found is not None, result.output
    absrel = float(found.group(1))
    assert absrel < 0.02, result.output
    summary = json.loads((tmp_path / 'result.json').read_text())
    assert summary['referring'][0]['area_px'] > 0, 'the oracle draws the expression it prepared'
    assert len(summary['instances']) >= 2


def test_demo_on_an_image_writes_a_folder_for_it(scene_png: Path, tmp_path: Path) -> None:
    args = ['demo', str(scene_png), '--out', str(tmp_path), '--classes', 'table,wall']
    result = RUNNER.invoke(app, [*args, '--no-normals'])
    assert result.exit_code == 0, result.output
    folder = tmp_path / 'scene'
    assert (folder / 'input.png').is_file() and (folder / 'semantic.png').is_file()
    assert not (folder / 'normals.png').exists() and not (folder / 'cloud.ply').exists()
    assert 'no point cloud' in result.output


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--intrinsics', '500,500,320,240'], 'a rendered scene brings its own'),
        (['--seed', '-1'], '--seed must be >= 0'),
        (['missing.png'], 'missing.png: no such file'),
        (['--classes', 'mug,mug'], 'semantic_classes'),
        (['--backend', 'gpt'], '--backend must be one of'),
    ],
)
def test_demo_bad_input_exits_2_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / 'out'
    result = RUNNER.invoke(app, ['demo', *args, '--out', str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('vision-banana: error: '), result.output
    assert message in lines[0]
    assert not out.exists()
