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
"""
Message conversions against rosbags' real ROS 2 classes and CDR, Jazzy and Humble.

Outputs go through ``serialize_cdr`` / ``deserialize_cdr`` and come back equal; images are also
decoded by ``rosbags-image`` and clouds read field by field from their own PointFields, as
independent decoders; a rosbag2 MCAP file written by rosbags is read back by ``mcap-ros2-support``.
With rclpy importable (a ROS 2 environment) the same conversions run on rclpy's classes, whose
CDR must equal rosbags' byte for byte, and clouds are read with sensor_msgs_py.
"""

from __future__ import annotations

import array
from dataclasses import fields, is_dataclass, replace
import json
from pathlib import Path
from typing import Any

import cv2
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from vision_banana_ros import messages
from vision_banana_ros.geometry import (
    CameraIntrinsics,
    normals_from_depth,
    organised_cloud,
    pack_pointcloud2,
    PointFieldDatatype,
)
from vision_banana_ros.messages import Diagnostic, DiagnosticLevel, MessageError, MessageTypes
from vision_banana_ros.objects import DetectedObject, fit_box
from vision_banana_ros.pipeline.result import InstanceMask
from vision_banana_ros.rosbag_types import typestore, VISION_MSGS_DEFINITIONS

ROS_SRC = Path(__file__).resolve().parents[2] / 'shared' / 'ros_src'
VISION_MSGS_SRC = ROS_SRC / 'vision_msgs-4.1.1' / 'msg'

# RIHS01 of vision_msgs 4.1.1 as rosidl computes them (ROS_JAZZY_PYPI.md §3 lists the prefixes,
# checked there against a ROS Jazzy build); rosbags computes the same from the embedded text.
JAZZY_HASHES = {
    'vision_msgs/msg/LabelInfo': (
        'RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783'
    ),
    'vision_msgs/msg/VisionClass': (
        'RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a'
    ),
    'vision_msgs/msg/Detection2D': (
        'RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea'
    ),
    'vision_msgs/msg/Detection2DArray': (
        'RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968'
    ),
    'vision_msgs/msg/Detection3D': (
        'RIHS01_ddd703be132ab0b69d33121f1bb034132bfbb3b0ac5f9fb1516005ba1c8a265b'
    ),
    'vision_msgs/msg/Detection3DArray': (
        'RIHS01_793f5eab9595ac1c0da07873cc859db42eae51f0ee76056db8562515d830e018'
    ),
    'vision_msgs/msg/BoundingBox3D': (
        'RIHS01_bbb73a65c163d7f9bb29009c7bde9f7faa576bd2d23299c4511d19230dab4698'
    ),
}
DOCUMENTED_PREFIXES = {
    'vision_msgs/msg/LabelInfo': '3d37df40',
    'vision_msgs/msg/VisionClass': '1e4a11f0',
    'vision_msgs/msg/Detection2D': '0d12b69d',
    'vision_msgs/msg/Detection2DArray': '21427412',
    # Not in ROS_JAZZY_PYPI.md: read from the share/vision_msgs/msg/<T>.json files rosidl wrote
    # when scripts/setup-ros-venv built vision_msgs 4.1.1 into .venv-jazzy.
    'vision_msgs/msg/Detection3D': 'ddd703be',
    'vision_msgs/msg/Detection3DArray': '793f5eab',
    'vision_msgs/msg/BoundingBox3D': 'bbb73a65',
}

_NUMPY_OF_DATATYPE = {
    PointFieldDatatype.INT8: 'i1',
    PointFieldDatatype.UINT8: 'u1',
    PointFieldDatatype.INT16: '<i2',
    PointFieldDatatype.UINT16: '<u2',
    PointFieldDatatype.INT32: '<i4',
    PointFieldDatatype.UINT32: '<u4',
    PointFieldDatatype.FLOAT32: '<f4',
    PointFieldDatatype.FLOAT64: '<f8',
}


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope='module', params=['jazzy', 'humble'])
def store(request: pytest.FixtureRequest) -> Any:
    """Return a rosbags typestore with vision_msgs, for each distro."""
    return typestore(request.param)


@pytest.fixture(scope='module')
def types(store: Any) -> MessageTypes:
    """Return the store's message classes."""
    return MessageTypes.from_typestore(store)


@pytest.fixture
def header(types: MessageTypes) -> Any:
    """Return an input header with a stamp that needs all of sec and nanosec."""
    return messages.make_header(types, 1_712_345_678_901_234_567, 'camera_color_optical_frame')


@pytest.fixture(scope='module')
def nyu(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return NYU frame 00000: RGB, metric depth with NaN holes and its intrinsics."""
    folder = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'nyu_depth_v2_metric3d'
    if not folder.is_dir():
        pytest.skip(f'real data folder {folder} is absent (it sits beside the checkout)')
    frame = json.loads((folder / 'frames.json').read_text())['files'][0]
    bgr = cv2.imread(str(folder / frame['rgb']), cv2.IMREAD_COLOR)
    depth_mm = cv2.imread(str(folder / frame['depth']), cv2.IMREAD_UNCHANGED)
    depth_m = np.where(depth_mm > 0, depth_mm / frame['depth_scale'], np.nan).astype(np.float32)
    fx, fy, cx, cy = frame['cam_in']
    height, width = depth_m.shape
    return {
        'rgb': np.ascontiguousarray(bgr[..., ::-1]),
        'depth_m': depth_m,
        'intrinsics': CameraIntrinsics(fx, fy, cx, cy, width, height),
    }


def cdr_round_trip(store: Any, msg: Any) -> Any:
    """Serialise a message with the store's CDR and read it back."""
    name = msg.__msgtype__
    return store.deserialize_cdr(store.serialize_cdr(msg, name), name)


def assert_same(got: Any, want: Any, path: str = 'msg') -> None:
    """Compare messages field by field (numpy arrays with NaN equal to NaN)."""
    if is_dataclass(want):
        assert type(got).__name__ == type(want).__name__, path
        for item in fields(want):
            assert_same(getattr(got, item.name), getattr(want, item.name), f'{path}.{item.name}')
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), path
        assert got.dtype == want.dtype, path
        np.testing.assert_array_equal(got, want, err_msg=path)
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for index, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, f'{path}[{index}]')
    else:
        assert got == want, path


def raw_image(
    types: MessageTypes, header: Any, pixels: np.ndarray, encoding: str, pad: int = 0
) -> Any:
    """Build an Image by hand, rows padded with ``pad`` bytes of 0xEE."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)  # (H, W * C)
    row_bytes = rows.shape[1]
    padded = np.full((height, row_bytes + pad), 0xEE, dtype=np.uint8)
    padded[:, :row_bytes] = rows
    return types.Image(
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=padded.shape[1],
        data=padded.reshape(-1),
    )


def encode_as(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """Lay RGB pixels out in one of the input encodings: (H, W, C) uint8."""
    alpha = np.full((*rgb.shape[:2], 1), 7, dtype=np.uint8)
    return {
        'rgb8': rgb,
        'bgr8': rgb[..., ::-1],
        'rgba8': np.concatenate([rgb, alpha], axis=-1),
        'bgra8': np.concatenate([rgb[..., ::-1], alpha], axis=-1),
        'mono8': rgb[..., :1],
    }[encoding]


def expected_rgb(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """Return what image_to_rgb gives for ``encode_as(rgb, encoding)``."""
    return np.repeat(rgb[..., :1], 3, axis=-1) if encoding == 'mono8' else rgb


def camera_info_msg(types: MessageTypes, header: Any, **changes: Any) -> Any:
    """Build a calibrated 640x480 CameraInfo, with fields replaced by ``changes``."""
    values: dict[str, Any] = {
        'header': header,
        'height': 480,
        'width': 640,
        'distortion_model': 'plumb_bob',
        'd': np.zeros(5),
        'k': np.array([500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]),
        'r': np.eye(3).reshape(-1),
        'p': np.array([480.0, 0.0, 310.0, 0.0, 0.0, 490.0, 230.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
        'binning_x': 0,
        'binning_y': 0,
        'roi': types.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    }
    values.update(changes)
    return types.CameraInfo(**values)


def compressed_msg(types: MessageTypes, header: Any, data: bytes, fmt: str) -> Any:
    """Build a CompressedImage."""
    return types.CompressedImage(
        header=header, format=fmt, data=np.frombuffer(data, dtype=np.uint8).copy()
    )


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Return (H, W, 3) uint8 noise."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def cloud_records(msg: Any) -> np.ndarray:
    """Read a PointCloud2 with numpy from its own fields and offsets: (H, W) records."""
    dtype = np.dtype(
        {
            'names': [f.name for f in msg.fields],
            'formats': [_NUMPY_OF_DATATYPE[PointFieldDatatype(f.datatype)] for f in msg.fields],
            'offsets': [f.offset for f in msg.fields],
            'itemsize': msg.point_step,
        }
    )
    rows = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.row_step)
    return rows.view(dtype).reshape(msg.height, msg.width)


def nyu_cloud(nyu: dict[str, Any]) -> Any:
    """Pack an organised cloud of the NYU frame with every field."""
    depth_m, intrinsics = nyu['depth_m'], nyu['intrinsics']
    labels = (np.arange(depth_m.size, dtype=np.uint32) % 7).reshape(depth_m.shape)
    cloud = organised_cloud(
        depth_m,
        intrinsics,
        rgb=nyu['rgb'],
        label=labels,
        instance=labels * 3,
        normals=normals_from_depth(depth_m, intrinsics),
        confidence=np.full(depth_m.shape, 0.5, dtype=np.float32),
    )
    return cloud, pack_pointcloud2(cloud)


# ---------------------------------------------------------------------------------------------
# Typestore and message classes


def test_typestore_gives_vision_msgs_the_rosidl_hashes(store: Any) -> None:
    for name, rihs01 in JAZZY_HASHES.items():
        assert store.hash_rihs01(name) == rihs01
        assert rihs01.removeprefix('RIHS01_').startswith(DOCUMENTED_PREFIXES[name])


def test_embedded_definitions_equal_upstream_vision_msgs(store: Any) -> None:
    if not VISION_MSGS_SRC.is_dir():
        pytest.skip(f'{VISION_MSGS_SRC} is absent (it sits beside the checkout)')
    upstream = get_typestore(Stores.ROS2_JAZZY)
    parsed: dict[str, Any] = {}
    for path in sorted(VISION_MSGS_SRC.glob('*.msg')):
        parsed.update(get_types_from_msg(path.read_text(), f'vision_msgs/msg/{path.stem}'))
    upstream.register(parsed)
    for name in VISION_MSGS_DEFINITIONS:
        assert store.fielddefs[name] == upstream.fielddefs[name], name
        assert store.hash_rihs01(name) == upstream.hash_rihs01(name), name


def test_typestore_rejects_an_unknown_distro() -> None:
    with pytest.raises(ValueError, match="'rolling'"):
        typestore('rolling')  # type: ignore[arg-type]


def test_message_types_from_a_plain_store_lack_vision_msgs(header: Any) -> None:
    plain = MessageTypes.from_typestore(get_typestore(Stores.ROS2_JAZZY))
    assert not plain.has_vision_msgs
    assert plain.Image.__msgtype__ == 'sensor_msgs/msg/Image'
    with pytest.raises(MessageError, match='label_info needs vision_msgs'):
        messages.label_info(plain, header, ['cup'])
    with pytest.raises(MessageError, match='instance_detections needs vision_msgs'):
        messages.instance_detections(plain, header, [])


def test_message_types_need_the_core_types() -> None:
    class Empty:
        def __init__(self) -> None:
            self.types: dict[str, Any] = {}

    with pytest.raises(MessageError, match='sensor_msgs/msg/Image'):
        MessageTypes.from_typestore(Empty())


def test_typestore_classes_have_vision_msgs(types: MessageTypes) -> None:
    assert types.has_vision_msgs
    assert types.array_field is messages.numpy_field


# ---------------------------------------------------------------------------------------------
# Headers


def test_header_round_trips_nanoseconds(store: Any, types: MessageTypes, header: Any) -> None:
    back = cdr_round_trip(store, header)
    assert (back.stamp.sec, back.stamp.nanosec) == (1_712_345_678, 901_234_567)
    assert messages.stamp_ns(back) == 1_712_345_678_901_234_567
    assert back.frame_id == 'camera_color_optical_frame'


def test_make_header_rejects_stamps_beyond_int32_seconds(types: MessageTypes) -> None:
    with pytest.raises(MessageError, match='int32'):
        messages.make_header(types, 2**31 * 1_000_000_000, 'f')


def test_stamp_ns_rejects_nanoseconds_of_a_second_or_more(types: MessageTypes) -> None:
    bad = types.Header(stamp=types.Time(sec=1, nanosec=1_000_000_000), frame_id='')
    with pytest.raises(MessageError, match='nanosec'):
        messages.stamp_ns(bad)


# ---------------------------------------------------------------------------------------------
# Image in


@pytest.mark.parametrize('pad', [0, 5])
@pytest.mark.parametrize('encoding', messages.RGB_ENCODINGS)
def test_image_to_rgb_round_trips_every_encoding(
    store: Any, types: MessageTypes, header: Any, encoding: str, pad: int
) -> None:
    rgb = random_rgb(7, 11)
    msg = cdr_round_trip(store, raw_image(types, header, encode_as(rgb, encoding), encoding, pad))
    got = messages.image_to_rgb(msg)
    assert got.dtype == np.uint8 and got.flags.c_contiguous and got.flags.writeable
    np.testing.assert_array_equal(got, expected_rgb(rgb, encoding))
    if pad == 0:  # rosbags-image assumes tight rows; it is an independent decoder of those
        from rosbags.image import message_to_cvimage

        np.testing.assert_array_equal(got, message_to_cvimage(msg, 'rgb8'))


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    pad=st.integers(0, 7),
    encoding=st.sampled_from(messages.RGB_ENCODINGS),
    seed=st.integers(0, 2**16),
)
def test_image_to_rgb_recovers_any_padded_layout(
    height: int, width: int, pad: int, encoding: str, seed: int
) -> None:
    types = MessageTypes.from_typestore(get_typestore(Stores.ROS2_JAZZY))
    header = messages.make_header(types, 0, '')
    rgb = random_rgb(height, width, seed)
    msg = raw_image(types, header, encode_as(rgb, encoding), encoding, pad)
    np.testing.assert_array_equal(messages.image_to_rgb(msg), expected_rgb(rgb, encoding))


@pytest.mark.parametrize(
    'wrap',
    [bytes, lambda d: array.array('B', d), list, bytearray],
    ids=['bytes', 'array', 'list', 'bytearray'],
)
def test_image_to_rgb_reads_rclpy_style_data(types: MessageTypes, header: Any, wrap: Any) -> None:
    rgb = random_rgb(3, 4)
    msg = raw_image(types, header, rgb[..., ::-1], 'bgr8', pad=2)
    msg.data = wrap(bytes(msg.data))
    np.testing.assert_array_equal(messages.image_to_rgb(msg), rgb)


def test_image_to_rgb_reads_a_real_frame_with_padding(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any]
) -> None:
    rgb = nyu['rgb']
    for encoding in ('bgr8', 'rgba8'):
        msg = raw_image(types, header, encode_as(rgb, encoding), encoding, pad=64)
        np.testing.assert_array_equal(messages.image_to_rgb(cdr_round_trip(store, msg)), rgb)


def test_image_to_rgb_does_not_alias_the_message(types: MessageTypes, header: Any) -> None:
    msg = raw_image(types, header, random_rgb(2, 2), 'rgb8')
    got = messages.image_to_rgb(msg)
    got[...] = 0
    assert msg.data.any()


def _image_case(types: MessageTypes, header: Any, **changes: Any) -> Any:
    msg = raw_image(types, header, random_rgb(4, 6), 'rgb8', pad=2)  # step 20
    for name, value in changes.items():
        setattr(msg, name, value)
    return msg


@pytest.mark.parametrize(
    ('changes', 'match'),
    [
        ({'encoding': 'yuv422'}, r"'yuv422' is not supported; expected one of \['rgb8'"),
        ({'encoding': '16UC1'}, r"'16UC1' is not supported"),
        ({'encoding': '8UC3'}, r"'8UC3' is not supported"),
        ({'encoding': 'RGB8'}, r"'RGB8' is not supported"),
        ({'step': 17}, r'step 17 is less than width \* 3 = 18 bytes'),
        ({'step': 0}, r'step 0 is less than'),
        ({'width': 0}, r'Image.width must be a positive number of pixels, got 0'),
        ({'height': 0}, r'Image.height must be a positive'),
        ({'height': 5}, r'holds 80 bytes; expected step \* height = 20 \* 5 = 100'),
        ({'data': np.zeros(79, np.uint8)}, r'holds 79 bytes; expected .* = 80'),
        ({'data': np.zeros(81, np.uint8)}, r'holds 81 bytes'),
        ({'data': np.zeros(80, np.uint16)}, r'Image.data must be uint8'),
        ({'data': [300] * 80}, r'Image.data must be bytes 0-255'),
    ],
    ids=[
        'yuv422',
        '16UC1',
        '8UC3',
        'RGB8',
        'step-short',
        'step-zero',
        'width-zero',
        'height-zero',
        'data-short-for-height',
        'data-short',
        'data-long',
        'data-uint16',
        'data-over-255',
    ],
)
def test_image_to_rgb_rejects_bad_images(
    types: MessageTypes, header: Any, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(MessageError, match=match):
        messages.image_to_rgb(_image_case(types, header, **changes))


# ---------------------------------------------------------------------------------------------
# CompressedImage in


@pytest.mark.parametrize(
    ('fmt', 'suffix'),
    [
        ('png', '.png'),
        ('bgr8; png compressed bgr8', '.png'),
        ('jpeg', '.jpg'),
        ('rgb8; jpeg compressed bgr8', '.jpg'),
        ('', '.png'),
    ],
)
def test_compressed_to_rgb_decodes_jpeg_and_png(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any], fmt: str, suffix: str
) -> None:
    from rosbags.image import message_to_cvimage

    rgb = nyu['rgb']
    ok, encoded = cv2.imencode(suffix, rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    msg = cdr_round_trip(store, compressed_msg(types, header, encoded.tobytes(), fmt))
    got = messages.compressed_to_rgb(msg)
    assert got.shape == rgb.shape and got.dtype == np.uint8 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, message_to_cvimage(msg, 'rgb8'))
    if suffix == '.png':
        np.testing.assert_array_equal(got, rgb)
    else:
        assert np.abs(got.astype(np.int16) - rgb).mean() < 3.0


def test_compressed_to_rgb_repeats_grey(types: MessageTypes, header: Any) -> None:
    grey = random_rgb(5, 4)[..., 0]
    _, encoded = cv2.imencode('.png', grey)
    got = messages.compressed_to_rgb(compressed_msg(types, header, encoded.tobytes(), 'png'))
    np.testing.assert_array_equal(got, np.repeat(grey[..., None], 3, axis=-1))


def _corrupt_cases() -> list[tuple[bytes, str, str]]:
    ok, jpeg = cv2.imencode('.jpg', random_rgb(16, 16))
    assert ok
    data = jpeg.tobytes()
    half = len(data) // 2
    return [
        (b'', 'jpeg', r"CompressedImage.data is empty \(format 'jpeg'\)"),
        (bytes(range(200)), 'jpeg', r"\(200 bytes, format 'jpeg'\) is not a jpeg or png"),
        (data[:half], 'jpeg', r'is not a jpeg or png image OpenCV can decode'),
        (data[:20], 'png', r"format 'png'\) is not a jpeg or png"),
        (data, '16UC1; compressedDepth png', r'is compressed depth; expected a jpeg or png'),
    ]


@pytest.mark.parametrize(
    ('data', 'fmt', 'match'),
    _corrupt_cases(),
    ids=['empty', 'garbage', 'truncated-jpeg', 'header-only', 'compressed-depth'],
)
def test_compressed_to_rgb_rejects_corrupt_data(
    types: MessageTypes, header: Any, data: bytes, fmt: str, match: str
) -> None:
    with pytest.raises(MessageError, match=match):
        messages.compressed_to_rgb(compressed_msg(types, header, data, fmt))


# ---------------------------------------------------------------------------------------------
# CameraInfo in


def test_intrinsics_come_from_k(store: Any, types: MessageTypes, header: Any) -> None:
    got = messages.intrinsics_from_camera_info(
        cdr_round_trip(store, camera_info_msg(types, header))
    )
    assert got == CameraIntrinsics(500.0, 510.0, 320.0, 240.0, 640, 480)


def test_rectified_intrinsics_come_from_p(types: MessageTypes, header: Any) -> None:
    got = messages.intrinsics_from_camera_info(camera_info_msg(types, header), rectified=True)
    assert got == CameraIntrinsics(480.0, 490.0, 310.0, 230.0, 640, 480)


def test_intrinsics_apply_binning_and_roi(types: MessageTypes, header: Any) -> None:
    roi = types.RegionOfInterest(
        x_offset=100, y_offset=50, height=300, width=400, do_rectify=False
    )
    msg = camera_info_msg(types, header, binning_x=2, binning_y=2, roi=roi)
    got = messages.intrinsics_from_camera_info(msg)
    # cx' = (cx - x_offset + 0.5) / b - 0.5, fx' = fx / b, size = roi size // b
    assert got == CameraIntrinsics(250.0, 255.0, 109.75, 94.75, 200, 150)


def test_intrinsics_of_the_real_frame_round_trip(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any]
) -> None:
    msg = cdr_round_trip(store, messages.camera_info(types, header, nyu['intrinsics']))
    assert messages.intrinsics_from_camera_info(msg) == nyu['intrinsics']
    assert messages.intrinsics_from_camera_info(msg, rectified=True) == nyu['intrinsics']


def _k(*changes: tuple[int, float]) -> np.ndarray:
    k = np.array([500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0])
    for index, value in changes:
        k[index] = value
    return k


@pytest.mark.parametrize(
    ('changes', 'rectified', 'match'),
    [
        ({'k': np.zeros(9)}, False, r'CameraInfo.k is all zeros: the camera is uncalibrated'),
        ({'p': np.zeros(12)}, True, r'CameraInfo.p is all zeros: the camera is uncalibrated'),
        ({'width': 0, 'height': 0}, False, r'size is 0x0: the camera is uncalibrated'),
        ({'k': _k((0, np.nan))}, False, r'\(CameraInfo.k\): k\[0\] \(fx\) must be finite'),
        ({'k': _k((5, np.inf))}, False, r'k\[5\] \(cy\) must be finite, got inf'),
        ({'k': _k((0, -500.0))}, False, r'positive focal length'),
        ({'k': _k((1, 0.3))}, False, r'k\[1\] \(skew\) must be 0.0'),
        ({'k': np.zeros(4)}, False, r'CameraInfo.k must hold 9 numbers, got 4'),
        ({'binning_x': 1000}, False, r'binning \(1000, 1\) leaves no pixels'),
    ],
    ids=[
        'zero-k',
        'zero-p',
        'zero-size',
        'nan-fx',
        'inf-cy',
        'negative-fx',
        'skew',
        'short-k',
        'binning',
    ],
)
def test_intrinsics_reject_uncalibrated_and_bad_camera_info(
    types: MessageTypes, header: Any, changes: dict[str, Any], rectified: bool, match: str
) -> None:
    with pytest.raises(MessageError, match=match):
        messages.intrinsics_from_camera_info(
            camera_info_msg(types, header, **changes), rectified=rectified
        )


def test_intrinsics_reject_a_roi_outside_the_image(types: MessageTypes, header: Any) -> None:
    roi = types.RegionOfInterest(x_offset=600, y_offset=0, height=10, width=100, do_rectify=False)
    with pytest.raises(MessageError, match=r'roi .* must lie inside the 640x480 image'):
        messages.intrinsics_from_camera_info(camera_info_msg(types, header, roi=roi))


# ---------------------------------------------------------------------------------------------
# Frames


def test_frame_from_msgs_carries_rgb_intrinsics_and_header(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any]
) -> None:
    image = cdr_round_trip(store, raw_image(types, header, nyu['rgb'][..., ::-1], 'bgr8', 8))
    info = cdr_round_trip(store, messages.camera_info(types, header, nyu['intrinsics']))
    frame = messages.frame_from_msgs(image, info)
    np.testing.assert_array_equal(frame.rgb, nyu['rgb'])
    assert frame.intrinsics == nyu['intrinsics']
    assert frame.stamp_ns == 1_712_345_678_901_234_567
    assert frame.frame_id == 'camera_color_optical_frame'


def test_frame_from_msgs_decodes_compressed_images(types: MessageTypes, header: Any) -> None:
    rgb = random_rgb(6, 8)
    _, encoded = cv2.imencode('.png', rgb[..., ::-1])
    frame = messages.frame_from_msgs(compressed_msg(types, header, encoded.tobytes(), 'png'))
    np.testing.assert_array_equal(frame.rgb, rgb)
    assert frame.intrinsics is None


def test_frame_from_msgs_rejects_mismatched_sizes(types: MessageTypes, header: Any) -> None:
    image = raw_image(types, header, random_rgb(240, 320), 'rgb8')
    with pytest.raises(MessageError, match=r'image is 320x240 but its CameraInfo .* 640x480'):
        messages.frame_from_msgs(image, camera_info_msg(types, header))


# ---------------------------------------------------------------------------------------------
# Images out


def test_depth_image_round_trips_a_real_frame(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any]
) -> None:
    from rosbags.image import message_to_cvimage

    depth_m = nyu['depth_m']
    msg = messages.depth_image(types, header, depth_m)
    assert (msg.encoding, msg.is_bigendian, msg.step) == ('32FC1', 0, 4 * depth_m.shape[1])
    back = cdr_round_trip(store, msg)
    assert_same(back, msg)
    assert back.header.stamp.nanosec == 901_234_567
    decoded = message_to_cvimage(back)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, depth_m)  # NaN holes included
    assert np.isnan(decoded).any()


def test_depth_image_casts_float64_and_keeps_nan(types: MessageTypes, header: Any) -> None:
    depth = np.array([[1.25, np.nan], [np.inf, 0.5]])
    msg = messages.depth_image(types, header, depth)
    np.testing.assert_array_equal(msg.data.view('<f4').reshape(2, 2), depth.astype(np.float32))


def test_normals_image_round_trips(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any]
) -> None:
    from rosbags.image import message_to_cvimage

    normals = normals_from_depth(nyu['depth_m'], nyu['intrinsics'])
    msg = messages.normals_image(types, header, normals)
    back = cdr_round_trip(store, msg)
    assert_same(back, msg)
    assert (back.encoding, back.step) == ('32FC3', 12 * normals.shape[1])
    np.testing.assert_array_equal(message_to_cvimage(back), normals)


def test_rgb_image_round_trips_a_real_frame(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any]
) -> None:
    from rosbags.image import message_to_cvimage

    back = cdr_round_trip(store, messages.rgb_image(types, header, nyu['rgb']))
    assert back.encoding == 'rgb8'
    np.testing.assert_array_equal(message_to_cvimage(back), nyu['rgb'])
    np.testing.assert_array_equal(messages.image_to_rgb(back), nyu['rgb'])


def test_mono_images_round_trip_little_endian(
    store: Any, types: MessageTypes, header: Any
) -> None:
    from rosbags.image import message_to_cvimage

    labels = np.array([[0x0102, 7, 65535], [0, 1, 2]], dtype=np.uint16)
    msg16 = cdr_round_trip(store, messages.mono16_image(types, header, labels))
    assert (msg16.encoding, msg16.is_bigendian, msg16.step) == ('mono16', 0, 6)
    assert msg16.data[:2].tolist() == [0x02, 0x01]
    np.testing.assert_array_equal(message_to_cvimage(msg16), labels)
    mask = (labels > 1).astype(np.uint8) * 255
    msg8 = cdr_round_trip(store, messages.mono8_image(types, header, mask))
    assert (msg8.encoding, msg8.step) == ('mono8', 3)
    np.testing.assert_array_equal(message_to_cvimage(msg8), mask)


def test_float_image_takes_one_to_four_channels(
    store: Any, types: MessageTypes, header: Any
) -> None:
    from rosbags.image import message_to_cvimage

    values = np.linspace(0, 1, 2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    back = cdr_round_trip(store, messages.float_image(types, header, values))
    assert back.encoding == '32FC2'
    np.testing.assert_array_equal(message_to_cvimage(back), values)
    assert messages.float_image(types, header, values[..., 0]).encoding == '32FC1'


def test_output_images_do_not_alias_their_arrays(types: MessageTypes, header: Any) -> None:
    depth = np.ones((2, 2), dtype=np.float32)
    msg = messages.depth_image(types, header, depth)
    depth[...] = 5.0
    np.testing.assert_array_equal(msg.data.view('<f4'), np.ones(4, dtype=np.float32))


def test_outputs_reuse_the_input_header(types: MessageTypes, header: Any) -> None:
    built = [
        messages.depth_image(types, header, np.ones((2, 2))),
        messages.rgb_image(types, header, random_rgb(2, 2)),
        messages.camera_info(types, header, CameraIntrinsics(1.0, 1.0, 0.5, 0.5, 2, 2)),
        messages.label_info(types, header, ['cup']),
    ]
    assert all(msg.header is header for msg in built)


@pytest.mark.parametrize(
    ('build', 'values', 'match'),
    [
        ('depth_image', np.ones((2, 2), np.uint16), r'depth_m must be floating point, got uint16'),
        ('depth_image', np.ones((2, 2, 1), np.float32), r'depth_m must have shape \(H, W\)'),
        ('depth_image', np.ones((0, 2), np.float32), r'depth_m must have a non-zero height'),
        ('depth_image', [[1.0]], r'depth_m must be a numpy array, got list'),
        ('normals_image', np.ones((2, 2, 4), np.float32), r'normals must have shape \(H, W, 3\)'),
        ('rgb_image', np.ones((2, 2, 3), np.float32), r'rgb must be uint8, got float32'),
        ('rgb_image', np.ones((2, 2), np.uint8), r'rgb must have shape \(H, W, 3\)'),
        ('mono8_image', np.ones((2, 2), bool), r'values must be uint8, got bool'),
        ('mono16_image', np.ones((2, 2), np.uint8), r'values must be uint16, got uint8'),
        ('float_image', np.ones((2, 2, 5), np.float32), r'values must have 1 to 4 channels'),
    ],
    ids=[
        'depth-uint16',
        'depth-3d',
        'depth-empty',
        'depth-list',
        'normals-4',
        'rgb-float',
        'rgb-2d',
        'mono8-bool',
        'mono16-uint8',
        'float-5',
    ],
)
def test_output_images_reject_bad_arrays(
    types: MessageTypes, header: Any, build: str, values: Any, match: str
) -> None:
    with pytest.raises(MessageError, match=match):
        getattr(messages, build)(types, header, values)


# ---------------------------------------------------------------------------------------------
# CameraInfo and PointCloud2 out


def test_camera_info_round_trips(store: Any, types: MessageTypes, header: Any) -> None:
    intrinsics = CameraIntrinsics(525.5, 524.25, 319.75, 239.5, 640, 480)
    msg = messages.camera_info(types, header, intrinsics)
    back = cdr_round_trip(store, msg)
    assert_same(back, msg)
    assert (back.width, back.height, back.distortion_model) == (640, 480, 'plumb_bob')
    np.testing.assert_array_equal(back.k.reshape(3, 3), intrinsics.matrix().double().numpy())
    np.testing.assert_array_equal(back.p.reshape(3, 4)[:, :3], back.k.reshape(3, 3))
    np.testing.assert_array_equal(back.p.reshape(3, 4)[:, 3], np.zeros(3))
    np.testing.assert_array_equal(back.r, np.eye(3).reshape(-1))
    np.testing.assert_array_equal(back.d, np.zeros(5))


def test_point_cloud_round_trips_field_by_field(
    store: Any, types: MessageTypes, header: Any, nyu: dict[str, Any]
) -> None:
    cloud, packed = nyu_cloud(nyu)
    msg = messages.point_cloud(types, header, packed)
    back = cdr_round_trip(store, msg)
    assert_same(back, msg)
    height, width = nyu['depth_m'].shape
    assert (back.height, back.width, back.is_dense, back.is_bigendian) == (
        height,
        width,
        False,
        False,
    )
    assert (back.point_step, back.row_step) == (40, 40 * width)
    assert [(f.name, f.offset, f.datatype, f.count) for f in back.fields] == packed.fields
    records = cloud_records(back)  # (H, W), read from the message's own fields
    for axis, name in enumerate('xyz'):
        np.testing.assert_array_equal(records[name], cloud.xyz[..., axis])
    assert np.isnan(records['z'][np.isnan(nyu['depth_m'])]).all()
    np.testing.assert_array_equal(records['label'], cloud.label)
    np.testing.assert_array_equal(records['instance'], cloud.instance)
    np.testing.assert_array_equal(records['confidence'], cloud.confidence)
    for axis, name in enumerate(('normal_x', 'normal_y', 'normal_z')):
        np.testing.assert_array_equal(records[name], cloud.normals[..., axis])
    colour = records['rgb'].view('<u4')  # PCL packed 0x00RRGGBB
    rgb = np.stack([(colour >> 16) & 255, (colour >> 8) & 255, colour & 255], axis=-1)
    np.testing.assert_array_equal(rgb, cloud.rgb)


def test_point_cloud_of_xyz_only_has_three_fields(
    store: Any, types: MessageTypes, header: Any
) -> None:
    intrinsics = CameraIntrinsics(2.0, 2.0, 1.0, 0.5, 3, 2)
    depth = np.array([[1.0, np.nan, 2.0], [0.5, 1.0, 0.0]], dtype=np.float32)
    cloud = organised_cloud(depth, intrinsics)
    back = cdr_round_trip(store, messages.point_cloud(types, header, pack_pointcloud2(cloud)))
    assert [f.name for f in back.fields] == ['x', 'y', 'z']
    records = cloud_records(back)
    np.testing.assert_array_equal(records['x'][0], [-0.5, np.nan, 1.0])  # (u - cx) / fx * z
    assert np.isnan(records['z'][1, 2])


def test_point_cloud_rejects_a_non_packed_cloud(types: MessageTypes, header: Any) -> None:
    with pytest.raises(MessageError, match='packed must be a PackedCloud, got dict'):
        messages.point_cloud(types, header, {})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# vision_msgs out


def test_label_info_maps_zero_to_unlabelled(store: Any, types: MessageTypes, header: Any) -> None:
    msg = messages.label_info(types, header, ['wall', 'floor', 'mug'], threshold=0.25)
    back = cdr_round_trip(store, msg)
    assert_same(back, msg)
    assert [(c.class_id, c.class_name) for c in back.class_map] == [
        (0, 'unlabelled'),
        (1, 'wall'),
        (2, 'floor'),
        (3, 'mug'),
    ]
    assert back.threshold == 0.25


@pytest.mark.parametrize(
    ('names', 'threshold', 'match'),
    [
        (['a', 3], 0.0, r'class_names\[1\] must be a string, got 3'),
        (['a'], 1.5, r'threshold must be in \[0, 1\], got 1.5'),
        (['a'], float('nan'), r'threshold must be in \[0, 1\], got nan'),
        (['c'] * 65535, 0.0, r'class_names holds 65535 classes; at most 65534 fit'),
    ],
    ids=['non-string', 'threshold', 'nan', 'too-many'],
)
def test_label_info_rejects_bad_classes(
    types: MessageTypes, header: Any, names: list[Any], threshold: float, match: str
) -> None:
    with pytest.raises(MessageError, match=match):
        messages.label_info(types, header, names, threshold)


def _instance(class_name: str, instance_id: int, rows: slice, cols: slice) -> InstanceMask:
    mask = np.zeros((20, 30), dtype=bool)
    mask[rows, cols] = True
    return InstanceMask(
        class_name=class_name,
        instance_id=instance_id,
        mask=mask,
        area_px=int(mask.sum()),
        colour=np.zeros(3, dtype=np.uint8),
    )


def test_instance_detections_box_each_mask(store: Any, types: MessageTypes, header: Any) -> None:
    instances = [
        _instance('mug', 1, slice(2, 5), slice(10, 14)),  # rows 2..4, cols 10..13
        _instance('table', 2, slice(0, 0), slice(0, 0)),  # empty: no detection
        _instance('mug', 3, slice(19, 20), slice(0, 1)),  # one pixel in a corner
    ]
    msg = messages.instance_detections(types, header, instances, scores=[0.9, 0.5, 0.25])
    back = cdr_round_trip(store, msg)
    assert_same(back, msg)
    assert [d.id for d in back.detections] == ['1', '3']
    first, corner = back.detections
    assert first.header.frame_id == header.frame_id
    assert (first.results[0].hypothesis.class_id, first.results[0].hypothesis.score) == (
        'mug',
        0.9,
    )
    box = first.bbox
    assert (box.center.position.x, box.center.position.y, box.center.theta) == (11.5, 3.0, 0.0)
    assert (box.size_x, box.size_y) == (4.0, 3.0)
    assert corner.results[0].hypothesis.score == 0.25
    assert (corner.bbox.center.position.x, corner.bbox.center.position.y) == (0.0, 19.0)
    assert (corner.bbox.size_x, corner.bbox.size_y) == (1.0, 1.0)
    assert corner.results[0].pose.pose.orientation.w == 1.0


def test_instance_detections_default_to_score_one(types: MessageTypes, header: Any) -> None:
    msg = messages.instance_detections(
        types, header, [_instance('a', 4, slice(1, 2), slice(1, 2))]
    )
    assert msg.detections[0].results[0].hypothesis.score == 1.0


@pytest.mark.parametrize(
    ('scores', 'match'),
    [
        ([0.5, 0.5], r'scores holds 2 values for 1 instances'),
        ([np.nan], r'scores\[0\] must be finite'),
    ],
    ids=['count', 'nan'],
)
def test_instance_detections_reject_bad_scores(
    types: MessageTypes, header: Any, scores: list[float], match: str
) -> None:
    instances = [_instance('a', 1, slice(1, 2), slice(1, 2))]
    with pytest.raises(MessageError, match=match):
        messages.instance_detections(types, header, instances, scores)


# ---------------------------------------------------------------------------------------------
# diagnostic_msgs out


def _object(name: str, instance_id: int, kind: str = 'instance') -> DetectedObject:
    """Return an object whose box is 0.2 x 0.1 x 0.05 m at (0.1, -0.1, 1), turned 30 deg."""
    turn = np.array([[0.866, -0.5, 0.0], [0.5, 0.866, 0.0], [0.0, 0.0, 1.0]])
    corners = np.array(np.meshgrid([-0.1, 0.1], [-0.05, 0.05], [-0.025, 0.025])).reshape(3, -1)
    points = (turn @ corners).T + np.array([0.1, -0.1, 1.0])
    return DetectedObject(
        name=name,
        kind=kind,
        instance_id=instance_id,
        score=0.75,
        point_count=8,
        mask_px=8,
        centroid_m=points.mean(axis=0),
        box=fit_box(points),
        normal=np.array([0.0, 0.0, -1.0]),
        colour=np.array([255, 0, 51], dtype=np.uint8),
    )


def test_object_detections_carry_box_pose_size_and_stable_id(
    store: Any, types: MessageTypes, header: Any
) -> None:
    objects = [_object('mug', 12), _object('the red mug', 0, 'referring')]
    msg = cdr_round_trip(store, messages.object_detections(types, header, objects))
    assert msg.__msgtype__ == 'vision_msgs/msg/Detection3DArray'
    assert [d.id for d in msg.detections] == ['12', 'referring_0']
    first, box = msg.detections[0], objects[0].box
    assert first.header.frame_id == 'camera_color_optical_frame'
    (result,) = first.results
    assert (result.hypothesis.class_id, result.hypothesis.score) == ('mug', 0.75)
    centre, turn = first.bbox.center.position, first.bbox.center.orientation
    np.testing.assert_allclose([centre.x, centre.y, centre.z], box.center_m)
    np.testing.assert_allclose([turn.x, turn.y, turn.z, turn.w], box.quaternion)
    size = first.bbox.size
    np.testing.assert_allclose([size.x, size.y, size.z], [0.2, 0.1, 0.05], atol=1e-3)
    assert result.pose.pose.position.z == centre.z


def test_object_markers_clear_then_draw_a_box_and_a_label_per_object(
    store: Any, types: MessageTypes, header: Any
) -> None:
    objects = [_object('mug', 12), _object('the red mug', 1, 'referring')]
    msg = cdr_round_trip(store, messages.object_markers(types, header, objects))
    marker = types.Marker
    assert msg.markers[0].action == marker.DELETEALL
    cubes = [m for m in msg.markers if m.type == marker.CUBE]
    texts = [m for m in msg.markers if m.type == marker.TEXT_VIEW_FACING]
    assert [m.id for m in cubes] == [12, 65537] and [m.id for m in texts] == [12, 65537]
    assert {m.ns for m in cubes} == {'objects'} and {m.ns for m in texts} == {'objects/labels'}
    assert [t.text for t in texts] == ['mug 12', 'the red mug referring_1']
    colour = cubes[0].color
    np.testing.assert_allclose([colour.r, colour.g, colour.b], [1.0, 0.0, 0.2])
    assert colour.a == pytest.approx(messages.OBJECT_MARKER_ALPHA)
    np.testing.assert_allclose([cubes[0].scale.x, cubes[0].scale.y], [0.2, 0.1], atol=1e-3)
    assert texts[0].pose.position.y < cubes[0].pose.position.y  # above the box (y is down)
    assert all(m.header.stamp == header.stamp for m in msg.markers)


def test_object_messages_need_their_packages_and_finite_boxes(
    types: MessageTypes, header: Any
) -> None:
    plain = MessageTypes.from_typestore(get_typestore(Stores.ROS2_JAZZY))
    with pytest.raises(MessageError, match='object_detections needs vision_msgs'):
        messages.object_detections(plain, header, [])
    assert plain.has_markers  # visualization_msgs is a core package
    with pytest.raises(MessageError, match='object_markers needs visualization_msgs'):
        messages.object_markers(replace(types, Marker=None), header, [])
    broken = _object('mug', 1)
    broken.box.size_m[0] = np.nan
    with pytest.raises(MessageError, match=r'objects\[0\]\.box\.size_m'):
        messages.object_detections(types, header, [broken])


def test_diagnostic_array_round_trips(store: Any, types: MessageTypes, header: Any) -> None:
    statuses = [
        Diagnostic(DiagnosticLevel.OK, 'vision_banana: frames', 'ok', 'cam0', {'rate_hz': 9.5}),
        Diagnostic(2, 'vision_banana: backend', 'timeout', 'http://gpu:8000'),
    ]
    msg = messages.diagnostic_array(types, header, statuses)
    back = cdr_round_trip(store, msg)
    assert_same(back, msg)
    assert [s.level for s in back.status] == [0, 2]
    assert [(v.key, v.value) for v in back.status[0].values] == [('rate_hz', '9.5')]
    assert back.status[1].hardware_id == 'http://gpu:8000'


def test_diagnostic_rejects_an_unknown_level() -> None:
    with pytest.raises(
        MessageError, match=r'level must be OK, WARN, ERROR or STALE \(0-3\), got 7'
    ):
        Diagnostic(7, 'x')  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# A bag another library reads


def test_a_rosbag2_mcap_of_the_outputs_reads_back_with_mcap_ros2(
    types: MessageTypes, store: Any, header: Any, tmp_path: Path
) -> None:
    pytest.importorskip('mcap_ros2.reader', reason='mcap-ros2-support is not installed')
    from mcap_ros2.reader import read_ros2_messages
    from rosbags.rosbag2 import StoragePlugin, Writer

    intrinsics = CameraIntrinsics(2.0, 2.0, 1.0, 0.5, 3, 2)
    depth = np.array([[1.0, np.nan, 2.0], [0.5, 1.0, 3.0]], dtype=np.float32)
    outputs = {
        '/depth/image': messages.depth_image(types, header, depth),
        '/depth/camera_info': messages.camera_info(types, header, intrinsics),
        '/points': messages.point_cloud(
            types, header, pack_pointcloud2(organised_cloud(depth, intrinsics))
        ),
        '/segmentation/label_info': messages.label_info(types, header, ['mug']),
        '/detections': messages.instance_detections(
            types, header, [_instance('mug', 1, slice(2, 5), slice(10, 14))], [0.75]
        ),
        '/diagnostics': messages.diagnostic_array(types, header, [Diagnostic(1, 'x', 'slow')]),
    }
    path = tmp_path / 'bag'
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        for topic, msg in outputs.items():
            connection = writer.add_connection(topic, msg.__msgtype__, typestore=store)
            data = store.serialize_cdr(msg, msg.__msgtype__)
            writer.write(connection, messages.stamp_ns(header), data)
    (mcap_file,) = path.glob('*.mcap')
    read = {m.channel.topic: m.ros_msg for m in read_ros2_messages(str(mcap_file))}
    assert set(read) == set(outputs)
    image = read['/depth/image']
    np.testing.assert_array_equal(np.frombuffer(image.data, '<f4').reshape(2, 3), depth)
    assert (image.header.stamp.nanosec, image.header.frame_id) == (901_234_567, header.frame_id)
    assert list(read['/depth/camera_info'].k) == [2.0, 0.0, 1.0, 0.0, 2.0, 0.5, 0.0, 0.0, 1.0]
    assert read['/points'].row_step == 36 and len(read['/points'].data) == 72
    assert [c.class_name for c in read['/segmentation/label_info'].class_map] == [
        'unlabelled',
        'mug',
    ]
    detection = read['/detections'].detections[0]
    assert (detection.id, detection.results[0].hypothesis.class_id) == ('1', 'mug')
    assert detection.bbox.center.position.x == 11.5
    assert read['/diagnostics'].status[0].message == 'slow'


# ---------------------------------------------------------------------------------------------
# rclpy's classes (run where a ROS 2 environment is sourced)


@pytest.fixture(scope='module')
def rclpy_types() -> MessageTypes:
    """Return rclpy's message classes, skipping without ROS 2."""
    pytest.importorskip('rclpy', reason='rclpy is not importable (no ROS 2 environment)')
    pytest.importorskip('sensor_msgs.msg', reason='sensor_msgs is not importable')
    return MessageTypes.from_rclpy()


def test_rclpy_messages_decode_like_rosbags_messages(
    rclpy_types: MessageTypes, nyu: dict[str, Any]
) -> None:
    from rclpy.serialization import serialize_message

    store = typestore('jazzy')
    rosbags_types = MessageTypes.from_typestore(store)
    depth_m, intrinsics = nyu['depth_m'], nyu['intrinsics']
    built = {}
    for name, kinds in (('rclpy', rclpy_types), ('rosbags', rosbags_types)):
        head = messages.make_header(kinds, 1_712_345_678_901_234_567, 'cam')
        built[name] = [
            messages.depth_image(kinds, head, depth_m),
            messages.rgb_image(kinds, head, nyu['rgb']),
            messages.mono16_image(kinds, head, np.arange(6, dtype=np.uint16).reshape(2, 3)),
            messages.camera_info(kinds, head, intrinsics),
            messages.point_cloud(kinds, head, nyu_cloud(nyu)[1]),
            messages.diagnostic_array(kinds, head, [Diagnostic(1, 'x', 'y', 'z', {'k': 'v'})]),
        ]
        if rclpy_types.has_vision_msgs:
            instances = [_instance('mug', 1, slice(2, 5), slice(10, 14))]
            built[name] += [
                messages.label_info(kinds, head, ['wall', 'mug']),
                messages.instance_detections(kinds, head, instances, [0.5]),
                messages.object_detections(kinds, head, [_object('mug', 3)]),
            ]
        if rclpy_types.has_markers:
            built[name].append(messages.object_markers(kinds, head, [_object('mug', 3)]))
    assert isinstance(built['rclpy'][0].data, array.array)
    for ours, theirs in zip(built['rclpy'], built['rosbags'], strict=True):
        # CDR alignment padding is unspecified (rclpy leaves garbage), so compare decoded values
        assert_same(store.deserialize_cdr(serialize_message(ours), theirs.__msgtype__), theirs)


def test_rclpy_inputs_convert(rclpy_types: MessageTypes, nyu: dict[str, Any]) -> None:
    head = messages.make_header(rclpy_types, 5, 'cam')
    rgb = nyu['rgb']
    row_bytes = rgb.shape[1] * 3
    rows = np.zeros((rgb.shape[0], row_bytes + 4), dtype=np.uint8)
    rows[:, :row_bytes] = rgb[..., ::-1].reshape(rgb.shape[0], -1)
    image = rclpy_types.Image(
        header=head,
        height=rgb.shape[0],
        width=rgb.shape[1],
        encoding='bgr8',
        is_bigendian=0,
        step=rows.shape[1],
        data=rows.tobytes(),
    )
    info = messages.camera_info(rclpy_types, head, nyu['intrinsics'])
    frame = messages.frame_from_msgs(image, info)
    np.testing.assert_array_equal(frame.rgb, rgb)
    assert (frame.intrinsics, frame.stamp_ns) == (nyu['intrinsics'], 5)


def test_rclpy_cloud_reads_back_with_sensor_msgs_py(
    rclpy_types: MessageTypes, nyu: dict[str, Any]
) -> None:
    point_cloud2 = pytest.importorskip('sensor_msgs_py.point_cloud2')
    cloud, packed = nyu_cloud(nyu)
    msg = messages.point_cloud(rclpy_types, messages.make_header(rclpy_types, 0, 'cam'), packed)
    points = point_cloud2.read_points(msg, field_names=['x', 'y', 'z', 'label'])
    height, width = nyu['depth_m'].shape
    assert points.shape == (height * width,)
    np.testing.assert_array_equal(points['z'].reshape(height, width), cloud.xyz[..., 2])
    np.testing.assert_array_equal(points['label'].reshape(height, width), cloud.label)


def test_rclpy_vision_msgs_build(rclpy_types: MessageTypes) -> None:
    if not rclpy_types.has_vision_msgs:
        pytest.skip('vision_msgs is not importable in this ROS 2 environment')
    head = messages.make_header(rclpy_types, 0, 'cam')
    info = messages.label_info(rclpy_types, head, ['mug'])
    assert [c.class_name for c in info.class_map] == ['unlabelled', 'mug']
    boxes = messages.instance_detections(
        rclpy_types, head, [_instance('mug', 1, slice(2, 5), slice(10, 14))]
    )
    assert boxes.detections[0].bbox.size_x == 4.0
