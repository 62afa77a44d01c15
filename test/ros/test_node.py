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
The perception node under real rclpy: lifecycle, outputs, headers, bad input, parameters.

A helper node plays the camera (best-effort, like drivers) and the listeners; the node runs the
embedded VB-Mini on the CPU with one torch thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import socket
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='no rclpy here: test/test_ros_jazzy.py runs this')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100 (after the skip)
from geometry_msgs.msg import TransformStamped  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    qos_profile_sensor_data,
    QoSProfile,
    ReliabilityPolicy,
)
from ros.rig import camera_info_message, Harness, image_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2  # noqa: E402
from sensor_msgs_py import point_cloud2  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
import torch  # noqa: E402
from vision_banana_ros.ros.node import PerceptionNode  # noqa: E402
from vision_banana_ros.ros.parameters import flatten  # noqa: E402
from vision_banana_ros.settings import Settings  # noqa: E402
from vision_msgs.msg import Detection2DArray, Detection3DArray, LabelInfo  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402
import yaml  # noqa: E402

HEIGHT, WIDTH = 96, 128
ROOT = Path(__file__).resolve().parents[2]
TASKS = [
    Parameter('tasks.semantic_classes', value=['wall', 'floor', 'table']),
    Parameter('tasks.instance_classes', value=['chair']),
    Parameter('tasks.referring', value=['the table']),
]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _rgb() -> np.ndarray:
    rows = np.linspace(0, 255, HEIGHT, dtype=np.float32)[:, None, None]
    cols = np.linspace(0, 255, WIDTH, dtype=np.float32)[None, :, None]
    image = np.concatenate(
        [
            np.broadcast_to(rows, (HEIGHT, WIDTH, 1)),
            np.broadcast_to(cols, (HEIGHT, WIDTH, 1)),
            np.full((HEIGHT, WIDTH, 1), 90.0),
        ],
        axis=-1,
    )
    return image.astype(np.uint8)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _unreachable_backend() -> list[Parameter]:
    """Point the node at a server nobody listens on, failing fast."""
    return [
        Parameter('backend.name', value='remote'),
        Parameter('backend.remote.url', value=f'http://127.0.0.1:{_closed_port()}'),
        Parameter('backend.remote.max_retries', value=0),
        Parameter('backend.remote.timeout_s', value=0.5),
    ]


@pytest.fixture
def harness(ros_context: Any, request: pytest.FixtureRequest) -> Iterator[Harness]:
    overrides = getattr(request, 'param', TASKS)
    node = PerceptionNode(context=ros_context, parameter_overrides=overrides)
    rig = Harness(ros_context, node)
    yield rig
    rig.close()


class Camera:
    """The helper's camera publishers."""

    def __init__(self, rig: Harness, prefix: str = '', compressed: bool = False) -> None:
        self.rig = rig
        kind, topic = (CompressedImage, 'image/compressed') if compressed else (Image, 'image')
        self.image = rig.helper.create_publisher(kind, f'{prefix}{topic}', qos_profile_sensor_data)
        self.info = rig.helper.create_publisher(
            CameraInfo, f'{prefix}camera_info', qos_profile_sensor_data
        )

    def stamp(self, age_s: float = 0.0) -> Any:
        now = self.rig.node.get_clock().now().nanoseconds - int(age_s * 1e9)
        return rclpy.time.Time(nanoseconds=now).to_msg()

    def send(
        self, image: Any = None, info: Any = None, age_s: float = 0.0, stamp: Any = None
    ) -> Any:
        stamp = stamp if stamp is not None else self.stamp(age_s)
        image = image if image is not None else image_message(_rgb(), stamp)
        image.header.stamp = stamp
        info = info if info is not None else camera_info_message(WIDTH, HEIGHT, stamp)
        info.header.stamp = stamp
        self.info.publish(info)
        self.image.publish(image)
        return stamp


def _activate(rig: Harness) -> None:
    assert rig.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert rig.node.trigger_activate() == TransitionCallbackReturn.SUCCESS


def _start(rig: Harness, topics: dict[str, Any]) -> Camera:
    """Listen to the topics (name -> type), bring the node up, and return a camera for it."""
    for topic, kind in topics.items():
        rig.listen(kind, topic)
    _activate(rig)
    return Camera(rig)


def _statuses(rig: Harness) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for array in rig.received.get('/diagnostics', []):
        for status in array.status:
            out[status.name] = status
    return out


def test_active_node_publishes_every_output_with_the_input_header(harness: Harness) -> None:
    rig = harness
    topics = {
        'depth/image': Image,
        'depth/camera_info': CameraInfo,
        'depth/confidence': Image,
        'normals/image': Image,
        'normals/visualization': Image,
        'semantic/labels': Image,
        'semantic/visualization': Image,
        'instances/labels': Image,
        'instances/detections': Detection2DArray,
        'referring/mask_0': Image,
        'points': PointCloud2,
        '/diagnostics': DiagnosticArray,
    }
    for topic, kind in topics.items():
        rig.listen(kind, topic)
    _activate(rig)
    camera = Camera(rig)
    sent: list[Any] = []
    assert rig.wait_for(
        lambda: all(rig.received[t] for t in topics), poke=lambda: sent.append(camera.send())
    ), {t: len(v) for t, v in rig.received.items()}
    # The first frames may beat their CameraInfo (no cloud then): check one that has a cloud.
    stamp = rig.received['points'][0].header.stamp
    (depth,) = [m for m in rig.received['depth/image'] if m.header.stamp == stamp]
    assert depth.encoding == '32FC1' and (depth.height, depth.width) == (HEIGHT, WIDTH)
    assert depth.header.frame_id == 'camera_optical' and depth.header.stamp in sent
    values = np.frombuffer(bytes(depth.data), np.float32)
    assert np.isfinite(values).mean() > 0.9 and np.nanmin(values) > 0
    for topic in topics:
        if topic != '/diagnostics':
            matching = [m for m in rig.received[topic] if m.header.stamp == stamp]
            assert matching, f'{topic} has no message with the stamp of the depth image'
    assert rig.received['normals/image'][0].encoding == '32FC3'
    assert rig.received['semantic/labels'][0].encoding == 'mono16'
    mask = rig.received['referring/mask_0'][0]
    assert mask.encoding == 'mono8' and set(
        np.unique(np.frombuffer(bytes(mask.data), np.uint8))
    ) <= {0, 255}
    (cloud,) = [m for m in rig.received['points'] if m.header.stamp == stamp]
    assert (cloud.height, cloud.width) == (HEIGHT, WIDTH) and not cloud.is_dense
    names = [f.name for f in cloud.fields]
    assert names[:3] == ['x', 'y', 'z'] and {'rgb', 'label', 'instance', 'confidence'} <= set(
        names
    )
    points = point_cloud2.read_points(cloud, field_names=['z'], skip_nans=False)
    assert np.allclose(
        points['z'].reshape(HEIGHT, WIDTH), values.reshape(HEIGHT, WIDTH), equal_nan=True
    )
    # A late subscriber still gets the label map (transient local).
    latched = QoSProfile(
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
    rig.listen(LabelInfo, 'semantic/label_info', latched)
    assert rig.wait_for(lambda: bool(rig.received['semantic/label_info']))
    names_by_id = {
        c.class_id: c.class_name for c in rig.received['semantic/label_info'][0].class_map
    }
    assert [names_by_id[i] for i in (1, 2, 3)] == ['wall', 'floor', 'table']
    statuses = _statuses(rig)
    assert statuses['perception_node: backend'].message == 'ok'
    keys = {v.key for v in statuses['perception_node: camera'].values}
    assert {'input_hz', 'output_hz', 'latency_p50_ms', 'latency_p95_ms', 'superseded'} <= keys


def test_lifecycle_subscribes_only_while_active(harness: Harness) -> None:
    rig = harness
    rig.listen(Image, 'depth/image')
    camera = Camera(rig)
    assert rig.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert camera.image.get_subscription_count() == 0, 'inactive: no subscriptions'
    rig.node.trigger_activate()
    assert rig.wait_for(lambda: camera.image.get_subscription_count() == 1)
    assert rig.wait_for(lambda: bool(rig.received['depth/image']), poke=camera.send)
    rig.node.trigger_deactivate()
    assert rig.wait_for(lambda: camera.image.get_subscription_count() == 0)
    count = len(rig.received['depth/image'])
    for _ in range(5):
        camera.send()
    rig.wait_for(lambda: False, timeout_s=1.0)
    assert len(rig.received['depth/image']) == count, 'nothing published while inactive'
    rig.node.trigger_activate()
    assert rig.wait_for(lambda: len(rig.received['depth/image']) > count, poke=camera.send)


def _bad_images() -> list[Any]:
    good = _rgb()
    short = image_message(good, None)
    short.data = bytes(short.data)[:-10]
    narrow = image_message(good, None)
    narrow.step = WIDTH * 2
    return [
        pytest.param(
            image_message(good[..., 0].astype(np.uint16), None, encoding='16UC1'), id='encoding'
        ),
        pytest.param(narrow, id='step'),
        pytest.param(short, id='short-data'),
    ]


@pytest.mark.parametrize('bad', _bad_images())
def test_bad_images_are_reported_and_the_node_keeps_going(harness: Harness, bad: Any) -> None:
    rig = harness
    rig.listen(Image, 'depth/image')
    rig.listen(DiagnosticArray, '/diagnostics')
    _activate(rig)
    camera = Camera(rig)
    rig.wait_for(lambda: camera.image.get_subscription_count() == 1)
    for _ in range(3):
        camera.send(image=bad)
        rig.wait_for(lambda: False, timeout_s=0.3)
    assert not rig.received['depth/image'], 'nothing published for a bad frame'
    assert rig.wait_for(
        lambda: (
            _statuses(rig).get('perception_node: camera') is not None
            and _statuses(rig)['perception_node: camera'].level == b'\x01'
        )
    )
    assert 'bad image' in _statuses(rig)['perception_node: camera'].message
    assert rig.wait_for(lambda: bool(rig.received['depth/image']), poke=camera.send)


@pytest.mark.parametrize('problem', ['size', 'non-finite'])
def test_bad_camera_info_gives_images_without_points(harness: Harness, problem: str) -> None:
    rig = harness
    rig.listen(Image, 'depth/image')
    rig.listen(PointCloud2, 'points')
    _activate(rig)
    camera = Camera(rig)
    info = camera_info_message(WIDTH * 2, HEIGHT * 2, None)
    if problem == 'non-finite':
        info = camera_info_message(WIDTH, HEIGHT, None)
        info.k = [float('nan'), *list(info.k[1:])]
    assert rig.wait_for(
        lambda: len(rig.received['depth/image']) >= 2, poke=lambda: camera.send(info=info)
    )
    assert not rig.received['points'], 'no cloud from intrinsics that do not fit'


@pytest.mark.parametrize('harness', [[Parameter('node.compressed', value=True)]], indirect=True)
def test_corrupt_compressed_images_are_rejected(harness: Harness) -> None:
    import cv2

    rig = harness
    rig.listen(Image, 'depth/image')
    _activate(rig)
    camera = Camera(rig, compressed=True)
    corrupt = CompressedImage(format='jpeg', data=b'\xff\xd8\xff\xe0 not a jpeg')
    for _ in range(3):
        camera.send(image=corrupt)
        rig.wait_for(lambda: False, timeout_s=0.3)
    assert not rig.received['depth/image']
    _ok, jpeg = cv2.imencode('.jpg', _rgb()[..., ::-1])
    good = CompressedImage(format='jpeg', data=jpeg.tobytes())
    assert rig.wait_for(
        lambda: bool(rig.received['depth/image']), poke=lambda: camera.send(image=good)
    )


@pytest.mark.parametrize(
    'harness', [[Parameter('node.max_input_age_s', value=0.5)]], indirect=True
)
def test_stale_frames_are_dropped_and_counted(harness: Harness) -> None:
    rig = harness
    rig.listen(Image, 'depth/image')
    rig.listen(DiagnosticArray, '/diagnostics')
    _activate(rig)
    camera = Camera(rig)
    rig.wait_for(lambda: camera.image.get_subscription_count() == 1)
    for _ in range(3):
        camera.send(age_s=10.0)
        rig.wait_for(lambda: False, timeout_s=0.3)
    assert not rig.received['depth/image']

    def stale() -> float:
        status = _statuses(rig).get('perception_node: camera')
        values = {v.key: v.value for v in status.values} if status else {}
        return float(values.get('stale', 0))

    assert rig.wait_for(lambda: stale() >= 1)


@pytest.mark.parametrize(
    'harness',
    [[*_unreachable_backend(), Parameter('node.warmup', value=False)]],
    indirect=True,
)
def test_backend_failure_is_an_error_in_diagnostics_not_a_crash(harness: Harness) -> None:
    rig = harness
    rig.listen(Image, 'depth/image')
    rig.listen(DiagnosticArray, '/diagnostics')
    _activate(rig)
    camera = Camera(rig)

    def backend_error() -> bool:
        status = _statuses(rig).get('perception_node: backend')
        return status is not None and status.level == b'\x02'

    assert rig.wait_for(backend_error, poke=camera.send)
    assert not rig.received['depth/image']
    assert rig.node.get_parameter('tasks.depth').value is True  # still answering


@pytest.mark.parametrize(
    'harness',
    [_unreachable_backend()],
    indirect=True,
)
def test_configure_fails_when_the_backend_cannot_draw(harness: Harness) -> None:
    assert harness.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert harness.node.pipeline is None


def test_parameters_change_at_run_time_and_bad_values_are_refused(harness: Harness) -> None:
    rig = harness
    rig.listen(Image, 'semantic/labels')
    _activate(rig)
    results = rig.node.set_parameters([Parameter('tasks.semantic_classes', value=['sofa'])])
    assert results[0].successful
    assert rig.node.pipeline is not None
    assert rig.node.pipeline.config.tasks.semantic_classes == ('sofa',)
    bad = rig.node.set_parameters([Parameter('cleanup.depth_median_px', value=4)])
    assert not bad[0].successful and 'depth_median_px=4' in bad[0].reason
    fixed = rig.node.set_parameters([Parameter('backend.name', value='gemini')])
    assert not fixed[0].successful  # read-only once declared
    assert rig.node.pipeline.config.cleanup.depth_median_px == 3


@pytest.mark.parametrize(
    'harness', [[Parameter('node.cameras', value=['front', 'wrist'])]], indirect=True
)
def test_one_node_serves_two_cameras(harness: Harness) -> None:
    rig = harness
    rig.listen(Image, 'front/depth/image')
    rig.listen(Image, 'wrist/depth/image')
    _activate(rig)
    front, wrist = Camera(rig, 'front/'), Camera(rig, 'wrist/')

    def both() -> None:
        front.send()
        wrist.send()

    assert rig.wait_for(
        lambda: (
            bool(rig.received['front/depth/image']) and bool(rig.received['wrist/depth/image'])
        ),
        poke=both,
    )


def test_declared_parameters_equal_the_yaml_keys_and_the_dataclass_fields(
    harness: Harness,
) -> None:
    document = yaml.safe_load((ROOT / 'config' / 'perception.yaml').read_text())
    keys = set(flatten(document['/**']['ros__parameters']))
    fields = set(flatten(Settings().parameters()))
    declared = {
        name
        for name in harness.node.list_parameters([], 0).names
        if not name.startswith(('qos_overrides.', 'use_sim_time', 'start_type_description'))
    }
    assert keys == fields == declared
    described = harness.node.describe_parameters(['tasks.semantic_classes', 'backend.name'])
    assert 'semantic segmentation' in described[0].description and not described[0].read_only
    assert described[1].read_only


def _transform(parent: str, child: str, stamp: Any, x: float, quaternion: tuple) -> Any:
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = parent
    msg.child_frame_id = child
    msg.transform.translation.x = x
    (
        msg.transform.rotation.x,
        msg.transform.rotation.y,
        msg.transform.rotation.z,
        msg.transform.rotation.w,
    ) = quaternion
    return msg


OPTICAL = (-0.5, 0.5, -0.5, 0.5)  # base_link (x forward, z up) -> optical (z forward, y down)


def test_camera_motion_comes_from_tf(harness: Harness) -> None:
    """The robot drives 10 cm forward a frame: the smoother is told so, in the optical frame."""
    rig = harness
    rig.listen(Image, 'depth/image')
    rig.listen(DiagnosticArray, '/diagnostics')
    _activate(rig)
    pipeline = rig.node.pipeline
    given: list[Any] = []
    real = pipeline.process_batch

    def spy(frames: list[Any]) -> Any:
        given.extend(frames)
        return real(frames)

    pipeline.process_batch = spy  # the real pipeline runs; the frames it got are kept
    static = rig.helper.create_publisher(
        TFMessage,
        '/tf_static',
        QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        ),
    )
    dynamic = rig.helper.create_publisher(TFMessage, '/tf', 100)
    camera = Camera(rig)
    rig.wait_for(lambda: camera.image.get_subscription_count() == 1)
    stamp = camera.stamp()
    static.publish(
        TFMessage(transforms=[_transform('base_link', 'camera_optical', stamp, 0.0, OPTICAL)])
    )
    for step in range(3):
        stamp = camera.stamp()
        dynamic.publish(
            TFMessage(
                transforms=[
                    _transform('odom', 'base_link', stamp, 0.1 * step, (0.0, 0.0, 0.0, 1.0))
                ]
            )
        )
        count = len(rig.received['depth/image'])
        camera.send(stamp=stamp)
        assert rig.wait_for(lambda c=count: len(rig.received['depth/image']) > c)
    motions = [frame.motion for frame in given]
    assert motions[0] is None and all(m is not None for m in motions[1:]), motions
    for motion in motions[1:]:
        assert np.allclose(motion[:3, 3], (0.0, 0.0, 0.1), atol=1e-6)  # forward is optical z
        assert np.allclose(motion[:3, :3], np.eye(3), atol=1e-6)

    def motion_ok() -> bool:
        status = _statuses(rig).get('perception_node: camera motion')
        return status is not None and status.level == b'\x00'

    assert rig.wait_for(motion_ok)


@pytest.mark.parametrize('harness', [[Parameter('node.tf_timeout_s', value=0.01)]], indirect=True)
def test_frames_without_tf_are_smoothed_without_motion_and_counted(harness: Harness) -> None:
    rig = harness
    camera = _start(rig, {'depth/image': Image, '/diagnostics': DiagnosticArray})
    assert rig.wait_for(lambda: len(rig.received['depth/image']) >= 2, poke=camera.send)

    def warned() -> bool:
        status = _statuses(rig).get('perception_node: camera motion')
        frames = _statuses(rig).get('perception_node: camera')
        values = {v.key: v.value for v in frames.values} if frames else {}
        return (
            status is not None
            and status.level == b'\x01'
            and "'camera_optical'" in status.message
            and float(values.get('no_motion', 0)) >= 1
        )

    assert rig.wait_for(warned, poke=camera.send)


def test_objects_are_published_with_the_input_header(harness: Harness) -> None:
    rig = harness
    camera = _start(
        rig,
        {
            'objects': Detection3DArray,
            'objects/markers': MarkerArray,
            '/diagnostics': DiagnosticArray,
        },
    )
    sent: list[Any] = []
    assert rig.wait_for(
        lambda: bool(rig.received['objects']) and bool(rig.received['objects/markers']),
        poke=lambda: sent.append(camera.send()),
    )
    detections = rig.received['objects'][0]
    assert detections.header.frame_id == 'camera_optical' and detections.header.stamp in sent
    markers = rig.received['objects/markers'][0].markers
    assert markers and markers[0].action == Marker.DELETEALL  # vanished objects are removed
    for detection in detections.detections:
        assert detection.bbox.size.x > 0 and detection.results[0].hypothesis.class_id

    def dropped_counted() -> bool:
        status = _statuses(rig).get('perception_node: camera')
        return status is not None and any(
            v.key.startswith('objects_dropped_') for v in status.values
        )

    assert rig.wait_for(dropped_counted)


def test_a_query_joins_the_prompts_until_cleared(harness: Harness) -> None:
    rig = harness
    camera = _start(
        rig,
        {
            'perception_node/query/mask': Image,
            'perception_node/query/objects': Detection3DArray,
            '/diagnostics': DiagnosticArray,
        },
    )
    query = rig.helper.create_publisher(String, 'perception_node/query', 10)
    rig.wait_for(lambda: query.get_subscription_count() == 1)
    query.publish(String(data='  the   red mug '))
    assert rig.wait_for(
        lambda: (
            bool(rig.received['perception_node/query/mask'])
            and bool(rig.received['perception_node/query/objects'])
        ),
        poke=camera.send,
    )
    assert rig.node.query == 'the red mug'
    assert any('the red mug' in p.text for p in rig.node.pipeline.prompts)
    mask = rig.received['perception_node/query/mask'][-1]
    assert mask.encoding == 'mono8' and (mask.height, mask.width) == (HEIGHT, WIDTH)
    assert mask.header.frame_id == 'camera_optical'

    def status_names_the_query() -> bool:
        status = _statuses(rig).get('perception_node: query')
        return status is not None and 'the red mug' in status.message

    assert rig.wait_for(status_names_the_query)
    query.publish(String(data=''))
    assert rig.wait_for(lambda: rig.node.query == '', poke=camera.send)
    assert not any('red mug' in p.text for p in rig.node.pipeline.prompts)


@pytest.mark.parametrize('text', ['x' * 500, 'the mug\x1b[31m', 'the mug; now depth'])
def test_bad_queries_are_refused_and_change_nothing(harness: Harness, text: str) -> None:
    rig = harness
    camera = _start(rig, {'depth/image': Image, '/diagnostics': DiagnosticArray})
    query = rig.helper.create_publisher(String, 'perception_node/query', 10)
    rig.wait_for(lambda: query.get_subscription_count() == 1)
    query.publish(String(data=text))

    def refused() -> bool:
        status = _statuses(rig).get('perception_node: query')
        return status is not None and status.level == b'\x01' and 'refused' in status.message

    assert rig.wait_for(refused, poke=camera.send)
    count = len(rig.received['depth/image'])
    assert rig.wait_for(lambda: len(rig.received['depth/image']) > count, poke=camera.send)
    assert rig.node.query == ''
