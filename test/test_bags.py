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
Bags in, bags out: recordings built with rosbags from the real NYU frames, both storages.

No real camera bag could be found to ship, so each test records one: the three NYU Depth V2
frames (../shared/data, read-only) as sensor_msgs/Image or CompressedImage at 5 Hz with their
CameraInfo. The output is read back with rosbags and, for MCAP, with the independent mcap and
mcap-ros2-support readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import SHARED_DATA
import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
import torch
from vision_banana_ros import messages
from vision_banana_ros.bags import BagError, process_bag
from vision_banana_ros.datasets import Frame, read_nyu
from vision_banana_ros.pipeline import CameraFrame, PerceptionResult, Pipeline
from vision_banana_ros.rosbag_types import typestore
from vision_banana_ros.settings import NodeConfig, Settings

IMAGE_TOPIC = '/camera/color/image_raw'
INFO_TOPIC = '/camera/color/camera_info'
OPTICAL_FRAME = 'camera_color_optical_frame'
OUTPUTS = {
    '/camera/color/depth/image',
    '/camera/color/depth/camera_info',
    '/camera/color/depth/confidence',
    '/camera/color/normals/image',
    '/camera/color/normals/visualization',
    '/camera/color/points',
}


@pytest.fixture(scope='module')
def frames() -> list[Frame]:
    if not SHARED_DATA.is_dir():
        pytest.skip(f'real data folder {SHARED_DATA} is absent (it sits beside the checkout)')
    return read_nyu(SHARED_DATA)


@pytest.fixture(scope='module')
def pipeline() -> Iterator[Pipeline]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with Pipeline(Settings().pipeline) as shared:
        yield shared
    torch.set_num_threads(threads)


def record(
    path: Path,
    frames: list[Frame],
    storage: str,
    compressed: bool,
    distro: str = 'jazzy',
    forward_m: float | None = None,
) -> None:
    """
    Write the frames as a camera driver would record them (Humble's types: bag version 8).

    With ``forward_m``, also /tf_static (base_link -> the optical frame) and /tf (odom ->
    base_link, the robot ``forward_m`` further along its x axis at each frame's stamp).
    """
    store = typestore(distro)
    types = messages.MessageTypes.from_typestore(store)
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    kind = 'sensor_msgs/msg/CompressedImage' if compressed else 'sensor_msgs/msg/Image'
    topic = f'{IMAGE_TOPIC}/compressed' if compressed else IMAGE_TOPIC
    with Writer(path, version=9 if distro == 'jazzy' else 8, storage_plugin=plugin) as writer:
        image = writer.add_connection(topic, kind, typestore=store)
        info = writer.add_connection(INFO_TOPIC, 'sensor_msgs/msg/CameraInfo', typestore=store)
        if forward_m is not None:
            tf = writer.add_connection('/tf', 'tf2_msgs/msg/TFMessage', typestore=store)
            static = writer.add_connection('/tf_static', 'tf2_msgs/msg/TFMessage', typestore=store)
            start = 1_700_000_000_000_000_000
            mount = _tf(store, start, 'base_link', OPTICAL_FRAME, 0.0, (-0.5, 0.5, -0.5, 0.5))
            writer.write(static, start, _serialise(store, mount))
        for index, frame in enumerate(frames):
            stamp = 1_700_000_000_000_000_000 + index * 200_000_000
            header = messages.make_header(types, stamp, OPTICAL_FRAME)
            if forward_m is not None:
                odometry = _tf(store, stamp, 'odom', 'base_link', forward_m * index, (0, 0, 0, 1))
                writer.write(tf, stamp, _serialise(store, odometry))
            assert frame.intrinsics is not None
            writer.write(
                info,
                stamp,
                _serialise(store, messages.camera_info(types, header, frame.intrinsics)),
            )
            if compressed:
                _, jpeg = cv2.imencode(
                    '.jpg', frame.rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95]
                )
                msg: Any = types.CompressedImage(
                    header=header, format='jpeg', data=jpeg.reshape(-1)
                )
            else:
                msg = messages.rgb_image(types, header, frame.rgb)
            writer.write(image, stamp + 1000, _serialise(store, msg))


def _tf(
    store: Any, stamp: int, parent: str, child: str, x: float, rotation: tuple[float, ...]
) -> Any:
    """One transform as a tf2_msgs/TFMessage (rosbags' classes)."""
    classes = store.types
    types = messages.MessageTypes.from_typestore(store)
    qx, qy, qz, qw = (float(v) for v in rotation)
    return classes['tf2_msgs/msg/TFMessage'](
        transforms=[
            classes['geometry_msgs/msg/TransformStamped'](
                header=messages.make_header(types, stamp, parent),
                child_frame_id=child,
                transform=classes['geometry_msgs/msg/Transform'](
                    translation=classes['geometry_msgs/msg/Vector3'](x=x, y=0.0, z=0.0),
                    rotation=classes['geometry_msgs/msg/Quaternion'](x=qx, y=qy, z=qz, w=qw),
                ),
            )
        ]
    )


def _serialise(store: Any, msg: Any) -> bytes:
    return bytes(store.serialize_cdr(msg, msg.__msgtype__))


def _read(path: Path) -> dict[str, list[tuple[int, Any]]]:
    out: dict[str, list[tuple[int, Any]]] = {}
    with AnyReader([path], default_typestore=typestore('jazzy')) as reader:
        for connection, timestamp, raw in reader.messages():
            msg = reader.deserialize(raw, connection.msgtype)
            out.setdefault(connection.topic, []).append((timestamp, msg))
    return out


@pytest.mark.parametrize(('storage', 'distro'), [('mcap', 'jazzy'), ('sqlite3', 'humble')])
def test_processed_bag_holds_inputs_and_every_output(
    tmp_path: Path, frames: list[Frame], pipeline: Pipeline, storage: str, distro: str
) -> None:
    source, destination = tmp_path / 'in', tmp_path / 'out'
    record(source, frames, storage, compressed=False, distro=distro)
    steps: list[tuple[int, int]] = []
    report = process_bag(
        source,
        destination,
        IMAGE_TOPIC,
        storage=storage,
        pipeline=pipeline,
        progress=lambda done, total: steps.append((done, total)),
    )
    assert report.complete and report.frames == 3 and report.skipped == 0
    assert steps[-1] == (3, 3)
    written = _read(destination)
    assert set(written) == {IMAGE_TOPIC, INFO_TOPIC} | OUTPUTS
    assert all(len(written[topic]) == 3 for topic in OUTPUTS)
    inputs = written[IMAGE_TOPIC]
    for (in_time, image), (out_time, depth) in zip(
        inputs, written['/camera/color/depth/image'], strict=True
    ):
        assert out_time == in_time, 'outputs at their image recording time'
        assert depth.header.stamp.sec == image.header.stamp.sec
        assert depth.header.stamp.nanosec == image.header.stamp.nanosec
        assert depth.header.frame_id == 'camera_color_optical_frame'
        assert depth.encoding == '32FC1' and (depth.height, depth.width) == (480, 640)
    depth = np.frombuffer(written['/camera/color/depth/image'][0][1].data.tobytes(), np.float32)
    cloud = written['/camera/color/points'][0][1]
    assert (cloud.height, cloud.width) == (480, 640)
    fields = {f.name: f.offset for f in cloud.fields}
    z = np.frombuffer(cloud.data.tobytes(), np.uint8).reshape(-1, cloud.point_step)
    start = fields['z']
    end = start + 4
    z = z[:, start:end].copy().view(np.float32).reshape(-1)
    assert np.allclose(z, depth, equal_nan=True)


def test_mcap_output_reads_with_the_independent_mcap_readers(
    tmp_path: Path, frames: list[Frame], pipeline: Pipeline
) -> None:
    mcap_reader = pytest.importorskip('mcap_ros2.reader', reason='mcap-ros2-support is absent')
    source, destination = tmp_path / 'in', tmp_path / 'out'
    record(source, frames[:2], 'mcap', compressed=False)
    process_bag(source, destination, IMAGE_TOPIC, pipeline=pipeline)
    (mcap_file,) = destination.glob('*.mcap')
    seen: dict[str, list[Any]] = {}
    for decoded in mcap_reader.read_ros2_messages(str(mcap_file)):
        seen.setdefault(decoded.channel.topic, []).append(decoded.ros_msg)
    assert OUTPUTS <= set(seen)
    depth = seen['/camera/color/depth/image'][0]
    assert depth.encoding == '32FC1' and depth.height == 480 and depth.width == 640


def test_compressed_images_and_an_explicit_namespace(
    tmp_path: Path, frames: list[Frame], pipeline: Pipeline
) -> None:
    source, destination = tmp_path / 'in', tmp_path / 'out'
    record(source, frames[:1], 'sqlite3', compressed=True)
    report = process_bag(
        source,
        destination,
        f'{IMAGE_TOPIC}/compressed',
        INFO_TOPIC,
        storage='sqlite3',
        namespace='/perception',
        pipeline=pipeline,
    )
    assert report.frames == 1
    written = _read(destination)
    assert '/perception/depth/image' in written and '/perception/points' in written


def test_bad_requests_are_refused_with_the_reason(tmp_path: Path, frames: list[Frame]) -> None:
    source = tmp_path / 'in'
    record(source, frames[:1], 'mcap', compressed=False)
    with pytest.raises(BagError, match='has no topic /nope; it has: /camera/color/camera_info'):
        process_bag(source, tmp_path / 'out', '/nope')
    with pytest.raises(BagError, match='holds sensor_msgs/msg/CameraInfo, not an image'):
        process_bag(source, tmp_path / 'out', INFO_TOPIC)
    with pytest.raises(BagError, match='exists'):
        process_bag(source, source, IMAGE_TOPIC)
    with pytest.raises(BagError, match='cannot read'):
        process_bag(tmp_path / 'missing', tmp_path / 'out2', IMAGE_TOPIC)
    with pytest.raises(BagError, match='storage must be one of'):
        process_bag(source, tmp_path / 'out3', IMAGE_TOPIC, storage='zip')


def test_bag_command_reports_what_it_wrote(tmp_path: Path, frames: list[Frame]) -> None:
    from typer.testing import CliRunner
    from vision_banana_ros.cli.main import app

    source, destination = tmp_path / 'in', tmp_path / 'out'
    record(source, frames[:1], 'mcap', compressed=False)
    runner = CliRunner()
    args = ['bag', str(source), str(destination), '--image-topic', IMAGE_TOPIC]
    result = runner.invoke(app, [*args, '--storage', 'sqlite3'])
    assert result.exit_code == 0, result.output
    assert '1 images processed, 0 skipped' in result.output
    assert '/camera/color/depth/image: 1' in result.output
    assert set(_read(destination)) == {IMAGE_TOPIC, INFO_TOPIC} | OUTPUTS
    again = runner.invoke(app, ['bag', str(source), str(tmp_path / 'o2'), '--image-topic', '/x'])
    assert again.exit_code == 2
    assert again.output.strip().startswith('vision-banana: error: the bag has no topic /x')


def test_camera_motion_comes_from_the_bags_tf(
    tmp_path: Path, frames: list[Frame], pipeline: Pipeline
) -> None:
    """The robot drives 5 cm forward a frame: the pipeline is told so, in the optical frame."""
    source = tmp_path / 'in'
    record(source, frames, 'mcap', compressed=False, forward_m=0.05)
    given: list[CameraFrame] = []

    class Recorder:
        """The shared pipeline, keeping the frames it is given."""

        def process(self, frame: CameraFrame) -> PerceptionResult:
            given.append(frame)
            return pipeline.process(frame)

    recorder: Any = Recorder()  # duck-types Pipeline.process
    report = process_bag(source, tmp_path / 'out', IMAGE_TOPIC, pipeline=recorder)
    assert report.frames == 3 and report.no_motion == 0, report.problems
    assert given[0].motion is None
    for frame in given[1:]:
        assert frame.motion is not None
        assert np.allclose(frame.motion[:3, 3], (0.0, 0.0, 0.05), atol=1e-9)
        assert np.allclose(frame.motion[:3, :3], np.eye(3), atol=1e-9)
    assert {'/tf', '/tf_static'} <= set(_read(tmp_path / 'out'))  # copied through
    off = Settings(node=NodeConfig(tf_fixed_frame=''))
    report = process_bag(source, tmp_path / 'off', IMAGE_TOPIC, settings=off, pipeline=pipeline)
    assert report.no_motion == 2
    assert report.problems == ['smoothing without camera motion: node.tf_fixed_frame is empty']
    elsewhere = Settings(node=NodeConfig(tf_fixed_frame='map'))
    report = process_bag(
        source, tmp_path / 'map', IMAGE_TOPIC, settings=elsewhere, pipeline=pipeline
    )
    assert report.no_motion == 2 and "no transform received names 'map'" in report.problems[0]
