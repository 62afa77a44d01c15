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
A rosbags typestore that knows every message this package reads or writes, without ROS.

rosbags ships the ROS 2 core types (sensor_msgs, std_msgs, geometry_msgs, diagnostic_msgs) per
distro (visualization_msgs included), but not vision_msgs. ``typestore`` registers the twelve
vision_msgs 4.1.1 types the package publishes from the definitions below, so ``vision-banana
bag`` reads and writes bags whose LabelInfo, Detection2DArray and Detection3DArray carry the
same RIHS01 type hashes as a ROS Jazzy build of vision_msgs (``../shared/ROS_JAZZY_PYPI.md``
§3). Needs ``rosbags`` (the ``test`` extra); the rest
of the package never imports this module.

The definitions are the field lines of ros-perception/vision_msgs tag 4.1.1, ``msg/*.msg``
(Copyright Adam Allevato and the vision_msgs contributors, Apache License 2.0), with the comments
left out: neither type hashes nor CDR depend on comments.
"""

from __future__ import annotations

from typing import Any, Literal

from rosbags.typesys import get_types_from_msg, get_typestore, Stores

__all__ = ['VISION_MSGS_DEFINITIONS', 'typestore']

VISION_MSGS_DEFINITIONS: dict[str, str] = {
    'vision_msgs/msg/Point2D': 'float64 x\nfloat64 y\n',
    'vision_msgs/msg/Pose2D': 'vision_msgs/Point2D position\nfloat64 theta\n',
    'vision_msgs/msg/BoundingBox2D': (
        'vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n'
    ),
    'vision_msgs/msg/ObjectHypothesis': 'string class_id\nfloat64 score\n',
    'vision_msgs/msg/ObjectHypothesisWithPose': (
        'ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n'
    ),
    'vision_msgs/msg/Detection2D': (
        'std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox2D bbox\n'
        'string id\n'
    ),
    'vision_msgs/msg/Detection2DArray': 'std_msgs/Header header\nDetection2D[] detections\n',
    'vision_msgs/msg/VisionClass': 'uint16 class_id\nstring class_name\n',
    'vision_msgs/msg/LabelInfo': (
        'std_msgs/Header header\nvision_msgs/VisionClass[] class_map\nfloat32 threshold\n'
    ),
    'vision_msgs/msg/BoundingBox3D': 'geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n',
    'vision_msgs/msg/Detection3D': (
        'std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox3D bbox\n'
        'string id\n'
    ),
    'vision_msgs/msg/Detection3DArray': 'std_msgs/Header header\nDetection3D[] detections\n',
}
"""Message type name -> .msg text (fields only) of the vision_msgs 4.1.1 types registered."""

_STORES = {'jazzy': Stores.ROS2_JAZZY, 'humble': Stores.ROS2_HUMBLE}


def typestore(distro: Literal['jazzy', 'humble'] = 'jazzy') -> Any:
    """
    Build a rosbags typestore for one ROS 2 distro, with the vision_msgs types registered.

    Each call returns a new typestore (rosbags' ``get_typestore`` does too), so registering more
    types on it changes no other caller's store.

    :param distro: 'jazzy' (``Stores.ROS2_JAZZY``) or 'humble' (``Stores.ROS2_HUMBLE``).
    :return: a ``rosbags.typesys.store.Typestore``; ``store.types['vision_msgs/msg/LabelInfo']``
        and the core types are its message classes, ``store.serialize_cdr(msg, name)`` writes CDR.
    :raises ValueError: on an unknown distro.
    """
    if distro not in _STORES:
        raise ValueError(f'distro must be one of {sorted(_STORES)}, got {distro!r}')
    store = get_typestore(_STORES[distro])
    types: dict[str, Any] = {}
    for name, text in VISION_MSGS_DEFINITIONS.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store
