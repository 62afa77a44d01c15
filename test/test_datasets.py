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
"""Tests for vision_banana_ros.datasets: the shared readers honour each README; the layout."""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from vision_banana_ros.datasets import (
    convert_to_layout,
    DATA_ENV,
    DatasetError,
    default_data_root,
    Frame,
    read_ade20k,
    read_arkit,
    read_coco,
    read_diode_normals,
    read_kitti,
    read_layout,
    read_nyu,
    read_shared,
    read_sunrgbd,
    SHARED_DATASETS,
)
from vision_banana_ros.geometry import CameraIntrinsics


def _assert_same_frame(read: Frame, written: Frame) -> None:
    """Every field equal, arrays bit for bit (NaN where NaN), dtypes included."""
    for field in dataclasses.fields(Frame):
        a, b = getattr(read, field.name), getattr(written, field.name)
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype, field.name
            np.testing.assert_array_equal(a, b, err_msg=field.name, strict=True)
        else:
            assert a == b, field.name


# ---------------------------------------------------------------------------------------------
# The shared folders


def test_nyu_depth_is_millimetres_over_1000_with_zero_invalid(shared_data: Path) -> None:
    frames = read_nyu(shared_data)
    index = json.loads((shared_data / 'nyu_depth_v2_metric3d' / 'frames.json').read_text())
    assert [f.name for f in frames] == ['rgb_00000', 'rgb_00050', 'rgb_00100']
    for frame, entry in zip(frames, index['files'], strict=True):
        raw = cv2.imread(str(shared_data / 'nyu_depth_v2_metric3d' / entry['depth']), -1)
        assert frame.rgb.shape == (480, 640, 3) and frame.depth_m is not None
        np.testing.assert_array_equal(np.isnan(frame.depth_m), raw == 0)
        assert np.isfinite(frame.depth_m).mean() == pytest.approx(entry['valid'], abs=1e-12)
        assert float(np.nanmedian(frame.depth_m)) == pytest.approx(entry['median_m'], abs=1e-6)
        assert float(np.nanmax(frame.depth_m)) == pytest.approx(entry['max_m'], abs=1e-6)
        assert frame.intrinsics == CameraIntrinsics(
            518.8579, 519.46961, 325.58245, 253.73617, 640, 480
        )
        assert frame.dataset == 'nyu_depth_v2'


def test_kitti_depth_is_over_256_and_intrinsics_follow_the_caveat(shared_data: Path) -> None:
    frames = read_kitti(shared_data)
    assert len(frames) == 2
    raw = cv2.imread(str(shared_data / 'kitti_depth_metric3d' / 'depth' / '0000000005.png'), -1)
    depth = frames[0].depth_m
    assert depth is not None and depth.shape == (375, 1242)
    valid = raw > 0
    np.testing.assert_array_equal(depth[valid], raw[valid] / np.float32(256))
    assert np.isnan(depth[~valid]).all() and valid.mean() == pytest.approx(0.19503811, abs=1e-8)
    assert frames[0].intrinsics is not None and frames[0].intrinsics.fx == 707.0493
    day = read_kitti(shared_data, intrinsics='2011_09_26')[0].intrinsics
    assert day is not None and (day.fx, day.cx, day.cy) == (721.5377, 609.5593, 172.854)
    assert read_kitti(shared_data, intrinsics='none')[0].intrinsics is None
    with pytest.raises(DatasetError, match=r"intrinsics must be one of .* got 'exact'"):
        read_kitti(shared_data, intrinsics='exact')


def test_sun_depth_is_the_bit_rotation_of_the_raw_file(shared_data: Path) -> None:
    (frame,) = read_sunrgbd(shared_data)
    raw = cv2.imread(str(shared_data / 'sunrgbd_open3d' / 'SUN_depth_raw_bitshifted.png'), -1)
    millimetres = ((raw >> 3) | (raw << 13)).astype(np.uint16)  # the README's 16-bit rotation
    expected = np.where(millimetres == 0, np.nan, millimetres / np.float32(1000))
    np.testing.assert_array_equal(frame.depth_m, expected.astype(np.float32))
    assert frame.intrinsics is None  # unknown; the PrimeSense placeholder is not calibration
    assert np.isfinite(frame.depth_m).mean() == pytest.approx(0.82, abs=0.005)


def test_arkit_depth_stays_at_its_native_lower_resolution(shared_data: Path) -> None:
    (frame,) = read_arkit(shared_data)
    assert frame.rgb.shape == (1440, 1920, 3)
    assert frame.depth_m is not None and frame.depth_m.shape == (192, 256)
    assert np.isfinite(frame.depth_m).all()  # dense
    assert (float(frame.depth_m.min()), float(frame.depth_m.max())) == pytest.approx(
        (1.566, 3.512)
    )
    assert frame.intrinsics is None


def test_diode_normals_decode_to_unit_vectors_facing_the_camera(shared_data: Path) -> None:
    (frame,) = read_diode_normals(shared_data)
    normals = frame.normals
    assert normals is not None and normals.shape == (768, 1024, 3) and frame.depth_m is None
    valid = np.isfinite(normals).all(axis=-1)
    assert valid.mean() == pytest.approx(0.9379, abs=1e-4)
    np.testing.assert_allclose(np.linalg.norm(normals[valid], axis=-1), 1.0, atol=1e-6)
    assert (normals[valid][:, 2] <= 1e-6).all()  # n_z <= 0: towards the camera
    floor = normals[600:760, 680:880][valid[600:760, 680:880]].mean(axis=0)
    floor /= np.linalg.norm(floor)  # the README's plane check: mean direction of the floor
    np.testing.assert_allclose(floor, (-0.006, -0.982, -0.191), atol=0.002)
    assert frame.intrinsics == CameraIntrinsics(886.81, 927.06, 512.0, 384.0, 1024, 768)


def test_coco_masks_keep_ids_ignore_values_and_categories(shared_data: Path) -> None:
    frames = read_coco(shared_data)
    assert len(frames) == 15
    first = frames[0]
    assert (
        first.name == '000000005001' and first.labels is not None and first.instances is not None
    )
    assert first.labels.dtype == np.uint16 and first.instances.dtype == np.uint32
    assert (first.ignore_label, first.ignore_instance) == (0, 65535)
    assert 65535 in first.instances  # a crowd region
    assert first.class_names is not None and len(first.class_names) == 80
    assert first.class_names[1] == 'person' and first.instance_labels is not None
    assert first.instance_labels[9] == 87
    present = set(np.unique(first.instances).tolist()) - {0, 65535}
    assert present <= set(first.instance_labels)


def test_ade20k_labels_and_first_synonym_class_names(shared_data: Path) -> None:
    frames = read_ade20k(shared_data)
    assert [f.name for f in frames] == ['ADE_val_00000001', 'ADE_val_00000002']
    assert frames[0].labels is not None and frames[0].labels.shape == (512, 683)
    assert int(frames[0].labels.max()) <= 150 and frames[0].ignore_label == 0
    names = frames[0].class_names
    assert names is not None and (names[1], names[2], names[150]) == ('wall', 'building', 'flag')


def test_every_shared_folder_reads_by_name(shared_data: Path) -> None:
    counts = {name: len(read_shared(name, shared_data)) for name in SHARED_DATASETS}
    assert sum(counts.values()) == 3 + 2 + 1 + 1 + 1 + 15 + 2
    with pytest.raises(DatasetError, match='folder must be one of'):
        read_shared('cityscapes', shared_data)


def test_data_root_comes_from_the_environment_or_beside_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert default_data_root() == Path(__file__).resolve().parents[2] / 'shared' / 'data'
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert default_data_root() == tmp_path
    with pytest.raises(FileNotFoundError, match=f'is absent .*\\${DATA_ENV}'):
        read_nyu()


# ---------------------------------------------------------------------------------------------
# The layout


def test_nyu_frames_convert_and_read_back_bit_exactly(shared_data: Path, tmp_path: Path) -> None:
    frames = read_nyu(shared_data)
    for depth_format in ('npy', 'png_mm'):
        out = convert_to_layout(frames, tmp_path / depth_format, depth_format=depth_format)
        folder = read_layout(out)
        assert folder.names == tuple(f.name for f in frames) and len(folder) == 3
        for read, written in zip(folder, frames, strict=True):
            _assert_same_frame(read, written)
        suffix = '.npy' if depth_format == 'npy' else '.png'
        assert (out / 'depth' / f'rgb_00000{suffix}').is_file()
    index = json.loads((tmp_path / 'npy' / 'frames.json').read_text())
    assert index['defaults']['dataset'] == 'nyu_depth_v2'  # shared values are written once
    assert index['frames'][0] == {'name': 'rgb_00000'}


def test_every_kind_of_ground_truth_round_trips(shared_data: Path, tmp_path: Path) -> None:
    frames = [
        read_coco(shared_data)[0],
        read_ade20k(shared_data)[1],
        read_diode_normals(shared_data)[0],
        read_arkit(shared_data)[0],
        read_kitti(shared_data)[0],
    ]
    referring = dataclasses.replace(
        frames[0],
        name='000000005001_ref',
        referring_mask=frames[0].instances == 1,
        referring_text='the person on the left',
    )
    out = convert_to_layout([*frames, referring], tmp_path / 'mixed')
    for read, written in zip(read_layout(out), [*frames, referring], strict=True):
        _assert_same_frame(read, written)


def test_large_instance_ids_are_kept_in_npy(tmp_path: Path) -> None:
    instances = np.array([[0, 70000]], dtype=np.uint32)
    frame = Frame(rgb=np.zeros((1, 2, 3), np.uint8), name='big', instances=instances)
    out = convert_to_layout([frame], tmp_path / 'ids')
    assert (out / 'instances' / 'big.npy').is_file()
    _assert_same_frame(read_layout(out)[0], frame)


def test_conversion_is_all_or_nothing(tmp_path: Path) -> None:
    good = Frame(rgb=np.zeros((2, 2, 3), np.uint8), name='a')

    def failing() -> Iterator[Frame]:
        yield good
        raise RuntimeError('camera unplugged')

    with pytest.raises(RuntimeError, match='camera unplugged'):
        convert_to_layout(failing(), tmp_path / 'out')
    with pytest.raises(DatasetError, match="frame name 'a' occurs twice"):
        convert_to_layout([good, good], tmp_path / 'out')
    with pytest.raises(DatasetError, match='must start with a letter or digit'):
        convert_to_layout([dataclasses.replace(good, name='../escape')], tmp_path / 'out')
    assert list(tmp_path.iterdir()) == []  # no output, no leftover temporary folder


def test_existing_output_is_replaced_only_when_asked(tmp_path: Path) -> None:
    first = Frame(rgb=np.zeros((2, 2, 3), np.uint8), name='a')
    second = dataclasses.replace(first, name='b')
    out = convert_to_layout([first], tmp_path / 'out')
    with pytest.raises(FileExistsError, match='pass overwrite=True'):
        convert_to_layout([second], out)
    convert_to_layout([second], out, overwrite=True)
    assert read_layout(out).names == ('b',)
    (tmp_path / 'precious').mkdir()
    with pytest.raises(FileExistsError, match='not a layout folder'):
        convert_to_layout([second], tmp_path / 'precious', overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out', 'precious']


def test_millimetre_png_refuses_depth_it_cannot_hold(shared_data: Path, tmp_path: Path) -> None:
    kitti = read_kitti(shared_data)[0]  # metres / 256: not whole millimetres
    with pytest.raises(DatasetError, match="depth_format='png_mm' holds whole millimetres"):
        convert_to_layout([kitti], tmp_path / 'kitti', depth_format='png_mm')
    with pytest.raises(DatasetError, match='depth_format must be one of'):
        convert_to_layout([kitti], tmp_path / 'kitti', depth_format='exr')


def test_a_hand_written_layout_with_defaults_reads(tmp_path: Path) -> None:
    # What a user writes by hand: JPEG colour, millimetre PNG depth, shared intrinsics.
    for name in ('rgb', 'depth'):
        (tmp_path / name).mkdir()
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / 'rgb' / '0001.png'), bgr)
    cv2.imwrite(str(tmp_path / 'depth' / '0001.png'), np.full((2, 3), 1500, np.uint16))
    index = {
        'format': 'vision_banana_ros.frames',
        'version': 1,
        'defaults': {'dataset': 'my_robot', 'intrinsics': [5, 5, 2.5, 1.5]},
        'frames': [{'name': '0001'}],
    }
    (tmp_path / 'frames.json').write_text(json.dumps(index))
    (frame,) = read_layout(tmp_path)
    assert frame.dataset == 'my_robot' and frame.rgb[0, 0].tolist() == [200, 0, 0]
    assert frame.depth_m is not None and frame.depth_m.shape == (2, 3)
    assert float(frame.depth_m[0, 0]) == pytest.approx(1.5)
    assert frame.intrinsics == CameraIntrinsics(5.0, 5.0, 2.5, 1.5, 6, 4)


@pytest.mark.parametrize(
    ('index', 'match'),
    [
        ({'format': 'other', 'version': 1, 'frames': []}, '"format" must be'),
        (
            {'format': 'vision_banana_ros.frames', 'version': 2, 'frames': []},
            '"version" must be 1',
        ),
        (
            {
                'format': 'vision_banana_ros.frames',
                'version': 1,
                'frames': [{'name': 'a', 'fx': 1}],
            },
            r"unknown keys \['fx'\]",
        ),
        (
            {'format': 'vision_banana_ros.frames', 'version': 1, 'frames': [{'name': 'a'}] * 2},
            r"frame names occur twice: \['a'\]",
        ),
        (
            {
                'format': 'vision_banana_ros.frames',
                'version': 1,
                'frames': [{'name': 'a', 'intrinsics': [1, 2]}],
            },
            r'intrinsics must be \[fx, fy, cx, cy\]',
        ),
    ],
)
def test_a_malformed_index_is_refused_naming_the_problem(
    tmp_path: Path, index: dict[str, object], match: str
) -> None:
    (tmp_path / 'frames.json').write_text(json.dumps(index))
    with pytest.raises(DatasetError, match=match):
        read_layout(tmp_path)


def test_missing_or_ambiguous_colour_files_are_errors(tmp_path: Path) -> None:
    index = {'format': 'vision_banana_ros.frames', 'version': 1, 'frames': [{'name': 'a'}]}
    (tmp_path / 'frames.json').write_text(json.dumps(index))
    with pytest.raises(FileNotFoundError, match=r"frame 'a' has no rgb/a\{\.png,\.jpg,\.jpeg\}"):
        read_layout(tmp_path)[0]
    (tmp_path / 'rgb').mkdir()
    for suffix in ('.png', '.jpg'):
        cv2.imwrite(str(tmp_path / 'rgb' / f'a{suffix}'), np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(DatasetError, match='has several rgb files'):
        read_layout(tmp_path)[0]


@pytest.mark.parametrize(
    ('fields', 'match'),
    [
        ({'rgb': np.zeros((2, 2, 3), np.float32)}, 'rgb must be uint8'),
        ({'rgb': np.zeros((2, 2), np.uint8)}, r'rgb must be laid out \(H, W, 3\)'),
        ({'depth_m': np.zeros((2, 3), np.float32)}, 'must have the aspect ratio of rgb'),
        ({'depth_m': np.zeros((4, 4), np.float64)}, 'depth_m must be float32'),
        ({'labels': np.zeros((4, 4), np.uint8)}, 'labels must be uint16'),
        ({'instances': np.zeros((2, 2), np.uint32)}, r'instances must be \(4, 4\) like rgb'),
        ({'intrinsics': CameraIntrinsics(1, 1, 0, 0, 8, 8)}, 'intrinsics are for 8x8, rgb is 4x4'),
    ],
)
def test_frames_check_their_arrays(fields: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {'rgb': np.zeros((4, 4, 3), np.uint8), 'name': 'x', **fields}
    with pytest.raises(DatasetError, match=match):
        Frame(**arguments)
