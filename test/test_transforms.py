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
"""The transform tree the node and the bag command feed from /tf, and the camera's motion."""

from __future__ import annotations

import math
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from vision_banana_ros import messages
from vision_banana_ros.rosbag_types import typestore
from vision_banana_ros.smoothing import check_motion
from vision_banana_ros.transforms import (
    StampedTransform,
    TransformBuffer,
    TransformError,
    UnknownFrameError,
)

S = 1_000_000_000


def _edge(parent: str, child: str, stamp_s: float, matrix: np.ndarray) -> StampedTransform:
    return StampedTransform(
        parent,
        child,
        round(stamp_s * S),
        matrix[:3, 3],
        Rotation.from_matrix(matrix[:3, :3]).as_quat(),
    )


def _pose(rotvec: tuple[float, float, float], translation: tuple[float, float, float]):
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    out[:3, 3] = translation
    return out


# The camera's optical frame below base_link (static), base_link moving in odom.
T_BASE_CAMERA = _pose((-math.pi / 2, 0.0, -math.pi / 2), (0.2, 0.0, 1.1))


def _robot(buffer: TransformBuffer, poses: dict[float, np.ndarray]) -> None:
    buffer.add([_edge('base_link', 'camera_optical', 0.0, T_BASE_CAMERA)], static=True)
    for stamp_s, pose in poses.items():
        buffer.add([_edge('odom', 'base_link', stamp_s, pose)])


def test_chains_and_compose_through_the_common_ancestor() -> None:
    buffer = TransformBuffer()
    pose = _pose((0.0, 0.0, 0.3), (1.0, 2.0, 0.0))
    _robot(buffer, {1.0: pose})
    arm = _pose((0.1, 0.2, 0.0), (0.0, 0.5, 0.3))
    buffer.add([_edge('base_link', 'gripper', 1.0, arm)])
    assert np.allclose(buffer.lookup('odom', 'camera_optical', S), pose @ T_BASE_CAMERA)
    # gripper -> camera: up to base_link, down again; odom never enters.
    expected = np.linalg.inv(T_BASE_CAMERA) @ arm
    assert np.allclose(buffer.lookup('camera_optical', 'gripper', S), expected)
    assert np.allclose(buffer.lookup('odom', 'odom', 123), np.eye(4))


def test_interpolates_between_samples_by_lerp_and_slerp() -> None:
    buffer = TransformBuffer()
    _robot(
        buffer,
        {1.0: _pose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)), 2.0: _pose((0.0, 0.0, 1.0), (2.0, 0, 0))},
    )
    middle = buffer.lookup('odom', 'base_link', round(1.25 * S))
    assert np.allclose(middle[:3, 3], (0.5, 0.0, 0.0))
    assert np.allclose(Rotation.from_matrix(middle[:3, :3]).as_rotvec(), (0.0, 0.0, 0.25))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.tuples(*[st.floats(-1.5, 1.5)] * 3), st.tuples(*[st.floats(-5.0, 5.0)] * 3)),
        min_size=2,
        max_size=2,
    )
)
def test_camera_motion_is_the_relative_pose_the_smoother_expects(
    poses: list[tuple[tuple[float, float, float], tuple[float, float, float]]],
) -> None:
    """T_prev_curr maps current camera points to where the previous camera saw them."""
    first, second = (_pose(r, t) for r, t in poses)
    buffer = TransformBuffer()
    _robot(buffer, {10.0: first, 10.1: second})
    motion = buffer.camera_motion('camera_optical', 'odom', 10 * S, round(10.1 * S))
    check_motion(motion)  # a rigid transform the smoother accepts
    point = np.array([0.3, -0.2, 2.0, 1.0])  # in the current camera frame
    world = second @ T_BASE_CAMERA @ point
    assert np.allclose(motion @ point, np.linalg.inv(first @ T_BASE_CAMERA) @ world)


def test_times_outside_the_history_are_errors_not_extrapolations() -> None:
    buffer = TransformBuffer()
    _robot(buffer, {1.0: np.eye(4), 2.0: np.eye(4)})
    with pytest.raises(TransformError, match=r"'odom' -> 'base_link' is known for 1\.000"):
        buffer.lookup('odom', 'camera_optical', 3 * S)
    with pytest.raises(TransformError, match="no transform received names 'map'"):
        buffer.lookup('map', 'camera_optical', S)
    buffer.add([_edge('map', 'world', 1.0, np.eye(4))])
    with pytest.raises(TransformError, match='two trees'):
        buffer.lookup('map', 'camera_optical', S)
    # One sample holds at any time, as a static transform does.
    single = TransformBuffer()
    _robot(single, {1.0: np.eye(4)})
    assert np.allclose(single.lookup('odom', 'camera_optical', 50 * S), T_BASE_CAMERA)


def test_history_is_bounded_and_a_new_parent_replaces_the_old() -> None:
    buffer = TransformBuffer(cache_s=1.0)
    _robot(buffer, {float(t): _pose((0, 0, 0), (t, 0, 0)) for t in range(10)})
    with pytest.raises(TransformError, match=r'known for 8\.000 \.\. 9\.000'):
        buffer.lookup('odom', 'base_link', 5 * S)
    buffer.add([_edge('map', 'base_link', 9.0, np.eye(4))])
    with pytest.raises(TransformError, match="names 'odom'"):
        buffer.lookup('odom', 'base_link', 9 * S)
    assert np.allclose(buffer.lookup('map', 'camera_optical', 9 * S), T_BASE_CAMERA)
    buffer.clear()
    with pytest.raises(TransformError):
        buffer.lookup('map', 'camera_optical', 9 * S)


def test_a_loop_of_parents_is_reported() -> None:
    buffer = TransformBuffer()
    buffer.add([_edge('a', 'b', 1.0, np.eye(4)), _edge('b', 'a', 1.0, np.eye(4))])
    with pytest.raises(TransformError, match='loop'):
        buffer.lookup('a', 'b', S)


def test_waiting_returns_once_the_transform_arrives_or_times_out() -> None:
    buffer = TransformBuffer()
    _robot(buffer, {1.0: np.eye(4), 1.5: np.eye(4)})
    with pytest.raises(TransformError):  # 2 s lies beyond the history
        buffer.wait_camera_motion('camera_optical', 'odom', S, 2 * S, timeout_s=0.01)

    def later() -> None:
        time.sleep(0.05)
        _robot(buffer, {2.0: _pose((0, 0, 0), (1.0, 0, 0))})

    started = time.monotonic()
    with pytest.raises(UnknownFrameError):  # a frame no transform names is not waited for
        buffer.wait_camera_motion('wrist_camera', 'odom', S, 2 * S, timeout_s=5.0)
    assert time.monotonic() - started < 1.0
    thread = threading.Thread(target=later)
    thread.start()
    motion = buffer.wait_camera_motion('camera_optical', 'odom', S, 2 * S, timeout_s=10.0)
    thread.join()
    assert np.allclose(np.linalg.norm(motion[:3, 3]), 1.0)


@pytest.mark.parametrize(
    ('parent', 'child', 'translation', 'rotation', 'message'),
    [
        ('', 'b', (0, 0, 0), (0, 0, 0, 1), 'two distinct names'),
        ('a', 'a', (0, 0, 0), (0, 0, 0, 1), 'two distinct names'),
        ('a', 'b', (0, math.nan, 0), (0, 0, 0, 1), '3 finite metres'),
        ('a', 'b', (0, 0), (0, 0, 0, 1), '3 finite metres'),
        ('a', 'b', (0, 0, 0), (0, 0, 0, 0), 'unit quaternion'),
        ('a', 'b', (0, 0, 0), (0, 0, 0, 2), 'unit quaternion'),
    ],
)
def test_malformed_transforms_are_refused(
    parent: str, child: str, translation: tuple, rotation: tuple, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        StampedTransform(parent, child, 0, np.array(translation), np.array(rotation))


def test_reads_tf_messages_and_reports_the_bad_transforms() -> None:
    """Rosbags' tf2_msgs classes (CDR round trip) into the buffer."""
    store = typestore()
    classes = store.types
    Time, Header = classes['builtin_interfaces/msg/Time'], classes['std_msgs/msg/Header']
    Vector3 = classes['geometry_msgs/msg/Vector3']
    Quaternion = classes['geometry_msgs/msg/Quaternion']
    Transform = classes['geometry_msgs/msg/Transform']
    TransformStamped = classes['geometry_msgs/msg/TransformStamped']
    TFMessage = classes['tf2_msgs/msg/TFMessage']

    def stamped(parent: str, child: str, x: float, w: float) -> object:
        return TransformStamped(
            header=Header(stamp=Time(sec=3, nanosec=500), frame_id=parent),
            child_frame_id=child,
            transform=Transform(
                translation=Vector3(x=x, y=0.0, z=0.0),
                rotation=Quaternion(x=0.0, y=0.0, z=0.0, w=w),
            ),
        )

    msg = TFMessage(transforms=[stamped('/odom', 'base_link', 1.5, 1.0), stamped('a', 'b', 0, 0)])
    raw = store.serialize_cdr(msg, 'tf2_msgs/msg/TFMessage')
    good, problems = messages.transforms_from_tf(
        store.deserialize_cdr(raw, 'tf2_msgs/msg/TFMessage')
    )
    assert [(t.parent, t.child, t.stamp_ns) for t in good] == [('odom', 'base_link', 3 * S + 500)]
    assert len(problems) == 1 and 'transforms[1]' in problems[0] and 'quaternion' in problems[0]
    buffer = TransformBuffer()
    buffer.add(good)
    assert np.allclose(buffer.lookup('odom', 'base_link', 0)[:3, 3], (1.5, 0.0, 0.0))
