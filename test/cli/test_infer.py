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
"""``vision-banana infer``: user images in, every output written, read back and checked."""

from __future__ import annotations

import json
from pathlib import Path
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner
from vision_banana_ros.cli.files import depth_mm_u16, read_rgb
from vision_banana_ros.cli.main import app
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.objects import ObjectBuilder
from vision_banana_ros.pipeline import CameraFrame, Pipeline, PipelineConfig, TasksConfig
import yaml

RUNNER = CliRunner()
NYU_K = (518.8579, 519.46961, 325.58245, 253.73617)  # nyu_depth_v2_metric3d/frames.json
TASKS = TasksConfig(
    semantic_classes=('floor', 'wall', 'table'),
    instance_classes=('can',),
    referring=('the red can',),
)
TASK_FLAGS = ['--classes', 'floor,wall,table', '--instances', 'can', '--refer', 'the red can']


def test_infer_writes_one_folder_per_image_matching_the_pipeline(
    shared_data: Path, scene_png: Path, tmp_path: Path
) -> None:
    nyu = shared_data / 'nyu_depth_v2_metric3d' / 'rgb' / 'rgb_00000.jpg'
    out = tmp_path / 'out'
    intrinsics = ','.join(str(v) for v in NYU_K)
    args = ['infer', str(nyu), '--out', str(out), '--intrinsics', intrinsics, *TASK_FLAGS]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    folder = out / 'rgb_00000'
    rgb = read_rgb(nyu)
    camera = CameraIntrinsics(*NYU_K, width=640, height=480)
    with Pipeline(PipelineConfig(tasks=TASKS)) as pipeline:
        expected = pipeline.process(CameraFrame(rgb, camera))
    assert expected.depth_m is not None and expected.semantic is not None
    depth_m = np.load(folder / 'depth_m.npy')
    assert depth_m.dtype == np.float32
    np.testing.assert_array_equal(depth_m, expected.depth_m)
    depth_mm = cv2.imread(str(folder / 'depth_mm.png'), cv2.IMREAD_UNCHANGED)
    assert depth_mm.dtype == np.uint16 and depth_mm.shape == (480, 640)
    np.testing.assert_array_equal(depth_mm, depth_mm_u16(expected.depth_m))
    valid = np.isfinite(expected.depth_m)
    error_mm = np.abs(depth_mm[valid] - expected.depth_m[valid] * 1000.0)
    assert error_mm.max() <= 0.5 + 1e-3
    labels = cv2.imread(str(folder / 'labels.png'), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16
    np.testing.assert_array_equal(labels, expected.semantic.labels)
    referring = cv2.imread(str(folder / 'masks' / 'referring_1.png'), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(referring)) <= {0, 255}
    np.testing.assert_array_equal(referring > 0, expected.referring[0].mask)
    summary = json.loads((folder / 'result.json').read_text())
    assert summary['intrinsics'] == pytest.approx(list(NYU_K))
    assert summary['cloud']['points'] == int(valid.sum())
    assert summary['referring'][0]['expression'] == 'the red can'
    assert len(summary['instances']) == len(expected.instances)
    objects = ObjectBuilder().for_frame(expected, CameraFrame(rgb, camera))
    assert objects is not None
    written = json.loads((folder / 'objects.json').read_text())
    assert written['frame'].startswith('camera optical')
    assert [o['id'] for o in written['objects']] == [o.key for o in objects.objects]
    for got, want in zip(written['objects'], objects.objects, strict=True):
        np.testing.assert_allclose(got['box']['center_m'], want.box.center_m, atol=1e-5)
        np.testing.assert_allclose(got['box']['size_m'], want.box.size_m, atol=1e-5)
    assert written['dropped'] == objects.dropped
    assert summary['objects']['count'] == len(objects.objects)
    for name in summary['files']:
        assert (folder / name).is_file(), name
    assert f'-> {folder}/' in result.output


def test_point_cloud_reads_back_with_open3d(scene_png: Path, tmp_path: Path) -> None:
    open3d = pytest.importorskip('open3d')
    out = tmp_path / 'out'
    args = ['infer', str(scene_png), '-o', str(out), '--intrinsics', '300,300,159.5,119.5']
    result = RUNNER.invoke(app, [*args, '--classes', 'table'])
    assert result.exit_code == 0, result.output
    depth_m = np.load(out / 'scene' / 'depth_m.npy')
    points = open3d.t.io.read_point_cloud(str(out / 'scene' / 'cloud.ply'))
    xyz = points.point['positions'].numpy()
    rows, cols = np.nonzero(np.isfinite(depth_m))
    z = depth_m[rows, cols]
    np.testing.assert_allclose(xyz[:, 2], z, rtol=1e-6)
    np.testing.assert_allclose(xyz[:, 0], (cols - 159.5) / 300.0 * z, rtol=1e-5, atol=1e-6)
    labels = cv2.imread(str(out / 'scene' / 'labels.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(points.point['label'].numpy()[:, 0], labels[rows, cols])


def test_without_intrinsics_there_is_no_cloud_and_it_says_so(
    scene_png: Path, tmp_path: Path
) -> None:
    result = RUNNER.invoke(app, ['infer', str(scene_png), '-o', str(tmp_path), '--no-normals'])
    assert result.exit_code == 0, result.output
    assert (tmp_path / 'scene' / 'depth.png').is_file()
    assert not (tmp_path / 'scene' / 'cloud.ply').exists()
    assert not (tmp_path / 'scene' / 'normals.png').exists()
    assert 'no point cloud: pass --intrinsics' in result.output


def test_a_calibration_yaml_for_a_larger_image_is_scaled(scene_png: Path, tmp_path: Path) -> None:
    calibration = {
        'image_width': 640,
        'image_height': 480,
        'camera_name': 'test',
        'camera_matrix': {'rows': 3, 'cols': 3, 'data': [600, 0, 319.5, 0, 600, 239.5, 0, 0, 1]},
        'distortion_model': 'plumb_bob',
        'distortion_coefficients': {'rows': 1, 'cols': 5, 'data': [0, 0, 0, 0, 0]},
    }
    path = tmp_path / 'camera.yaml'
    path.write_text(yaml.safe_dump(calibration))
    out = tmp_path / 'out'
    result = RUNNER.invoke(
        app, ['infer', str(scene_png), '-o', str(out), '--intrinsics', str(path), '--no-normals']
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / 'scene' / 'result.json').read_text())
    assert summary['intrinsics'] == pytest.approx([300.0, 300.0, 159.5, 119.5])
    assert (out / 'scene' / 'cloud.ply').is_file()


def test_config_then_flags_then_set(scene_png: Path, tmp_path: Path) -> None:
    config = Path(__file__).resolve().parents[2] / 'config' / 'perception.yaml'
    out = tmp_path / 'out'
    args = ['infer', str(scene_png), '-o', str(out), '--config', str(config)]
    args += ['--no-depth', '--classes', 'table', '--set', 'tasks.normals=false']
    args += ['--set', 'tasks.semantic_classes=[table, wall]']
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    folder = out / 'scene'
    assert (folder / 'semantic.png').is_file()
    assert not (folder / 'depth.png').exists() and not (folder / 'normals.png').exists()
    summary = json.loads((folder / 'result.json').read_text())
    assert list(summary['semantic']['labels'].values()) == ['table', 'wall'], '--set wins'


def test_two_images_with_one_name_get_two_folders(scene_png: Path, tmp_path: Path) -> None:
    other = tmp_path / 'copy' / scene_png.name
    other.parent.mkdir()
    shutil.copy(scene_png, other)
    out = tmp_path / 'out'
    result = RUNNER.invoke(
        app, ['infer', str(scene_png), str(other), '-o', str(out), '--no-normals']
    )
    assert result.exit_code == 0, result.output
    assert (out / 'scene' / 'depth_m.npy').is_file() and (
        out / 'scene-2' / 'depth_m.npy'
    ).is_file()
    assert '2 of 2 images' in result.output


def test_ctrl_c_finishes_the_current_image_and_says_what_was_written(
    scene_png: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = Pipeline.process

    def process_then_interrupt(self: Pipeline, frame: CameraFrame) -> object:
        result = process(self, frame)
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the first image is being done
        return result

    monkeypatch.setattr(Pipeline, 'process', process_then_interrupt)
    second = tmp_path / 'second.png'
    shutil.copy(scene_png, second)
    out = tmp_path / 'out'
    result = RUNNER.invoke(
        app, ['infer', str(scene_png), str(second), '-o', str(out), '--no-normals']
    )
    assert result.exit_code == 130, result.output
    assert 'stopping after this image' in result.output
    assert 'interrupted: 1 image not done' in result.output
    summary = json.loads((out / 'scene' / 'result.json').read_text())
    assert all((out / 'scene' / name).is_file() for name in summary['files'])
    assert not (out / 'second').exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['missing.png'], 'missing.png: no such file'),
        (['NOT_AN_IMAGE'], 'not an image OpenCV can read'),
        (['IMAGE', '--intrinsics', '500,500,320'], 'expected fx,fy,cx,cy'),
        (['IMAGE', '--intrinsics', '-5,500,320,240'], 'fx must be a positive focal length'),
        (['IMAGE', '--intrinsics', 'BAD_YAML'], 'needs image_width, image_height'),
        (['IMAGE', '--intrinsics', 'WIDE_YAML'], 'another aspect ratio'),
        (['IMAGE', '--classes', 'mug.'], 'must not contain "."'),
        (['IMAGE', '--classes', 'mug,,table'], '--classes: empty entry'),
        (['IMAGE', '--instances', 'mug,mug'], 'instance_classes'),
        (['IMAGE', '--set', 'tasks.colour=red'], 'unknown key(s) colour'),
        (['IMAGE', '--set', 'depth'], '--set takes KEY=VALUE'),
        (['IMAGE', '--samples', '0'], 'samples=0'),
        (['IMAGE', '--backend', 'oracle'], 'use it with demo'),
        (['IMAGE', '--weights', 'missing_dir'], '--weights missing_dir: no such folder'),
        (['IMAGE', '--config', 'missing.yaml'], 'missing.yaml: no such file'),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    scene_png: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / 'NOT_AN_IMAGE.png').write_text('hello')
    (tmp_path / 'bad.yaml').write_text('width: 640\n')
    wide = {'image_width': 640, 'image_height': 360, 'camera_matrix': {'data': [1] * 9}}
    wide['camera_matrix']['data'] = [500, 0, 320, 0, 500, 180, 0, 0, 1]
    (tmp_path / 'wide.yaml').write_text(yaml.safe_dump(wide))
    names = {
        'IMAGE': str(scene_png),
        'NOT_AN_IMAGE': str(tmp_path / 'NOT_AN_IMAGE.png'),
        'BAD_YAML': str(tmp_path / 'bad.yaml'),
        'WIDE_YAML': str(tmp_path / 'wide.yaml'),
    }
    out = tmp_path / 'out'
    result = RUNNER.invoke(app, ['infer', *(names.get(a, a) for a in args), '--out', str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('vision-banana: error: '), result.output
    assert message in lines[0]
    assert not out.exists() or not any(out.rglob('*.*'))


def test_an_unknown_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    command = [sys.executable, '-m', 'vision_banana_ros.cli.main', 'infer', 'x.png', '--colour']
    result = subprocess.run(
        [*command, 'red', '--out', str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith('vision-banana')]
    assert lines == [line for line in result.stderr.splitlines() if line.strip()][-1:]
    assert 'No such option: --colour' in lines[0] and 'Traceback' not in result.stderr
