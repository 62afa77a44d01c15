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
What the node publishes for one frame, as (topic, message) pairs, without ROS.

The ROS node and the ``vision-banana bag`` command both call ``frame_messages``, with rclpy's or
rosbags' message classes, so a processed bag holds exactly what the node would publish. Topics
are relative to the camera's namespace (image_pipeline's names where they exist); every message
carries the input image's header, so outputs line up in TF and with sim time on bag replay.

| topic | type | content |
|---|---|---|
| ``depth/image`` | sensor_msgs/Image 32FC1 | z-depth in metres, NaN invalid (REP 118) |
| ``depth/camera_info`` | sensor_msgs/CameraInfo | intrinsics of the depth image |
| ``depth/confidence`` | sensor_msgs/Image 32FC1 | per-pixel confidence in [0, 1] |
| ``normals/image`` | sensor_msgs/Image 32FC3 | unit normals, optical frame, NaN invalid |
| ``normals/visualization`` | sensor_msgs/Image rgb8 | normals in Vision Banana's colours |
| ``semantic/labels`` | sensor_msgs/Image mono16 | class ids, 0 unlabelled |
| ``semantic/label_info`` | vision_msgs/LabelInfo | id -> class name (transient local) |
| ``semantic/visualization`` | sensor_msgs/Image rgb8 | labels over the image |
| ``instances/labels`` | sensor_msgs/Image mono16 | instance ids (stable across frames), 0 none |
| ``instances/detections`` | vision_msgs/Detection2DArray | class, box and score per instance |
| ``referring/mask_<i>`` | sensor_msgs/Image mono8 | 255 on what expression i refers to |
| ``points`` | sensor_msgs/PointCloud2 | organised: x y z rgb label instance normals confidence |
| ``objects`` | vision_msgs/Detection3DArray | a 3D box per instance and referring expression |
| ``objects/markers`` | visualization_msgs/MarkerArray | those boxes and their names for RViz |

The objects topics exist with ``objects.enabled``, depth and instance classes or referring
expressions; their messages come from an ``objects.ObjectBuilder`` the caller keeps per camera
(``frame_messages(..., objects=builder.for_frame(result, frame))``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from vision_banana_ros import messages
from vision_banana_ros.geometry import CameraIntrinsics, pack_pointcloud2
from vision_banana_ros.objects import FrameObjects
from vision_banana_ros.pipeline.result import PerceptionResult
from vision_banana_ros.settings import NodeConfig, Settings
from vision_banana_ros.visualise import label_overlay, normals_image

__all__ = ['OutputTopic', 'frame_messages', 'output_topics']

RELIABLE_LATCHED = 'transient_local'
"""QoS kind of topics a late subscriber must still receive (the label map)."""

SYSTEM_DEFAULT = 'system_default'
"""QoS kind of every other output: talks to both reliable and best-effort subscribers."""


@dataclass(frozen=True)
class OutputTopic:
    """
    One output topic of the node.

    :ivar name: topic relative to the camera's namespace, e.g. 'depth/image'.
    :ivar msg_type: ROS type name, e.g. 'sensor_msgs/msg/Image'.
    :ivar qos: ``SYSTEM_DEFAULT`` or ``RELIABLE_LATCHED``.
    """

    name: str
    msg_type: str
    qos: str = SYSTEM_DEFAULT


_IMAGE = 'sensor_msgs/msg/Image'


def output_topics(settings: Settings, with_objects: bool = False) -> tuple[OutputTopic, ...]:
    """
    List the topics the node publishes for its settings, per camera.

    :param settings: the tasks asked for, and whether views and points are published.
    :param with_objects: list the objects topics too (where the settings make objects): for a
        caller that passes ``objects`` to ``frame_messages``.
    :return: the topics, in a fixed order.
    """
    tasks, node = settings.pipeline.tasks, settings.node
    depth, normals = tasks.depth, tasks.normals
    semantic, instances, referring = (
        bool(tasks.semantic_classes),
        bool(tasks.instance_classes),
        len(tasks.referring),
    )
    visualization, points = node.publish_visualization, node.publish_points
    topics: list[OutputTopic] = []
    if depth:
        topics += [
            OutputTopic('depth/image', _IMAGE),
            OutputTopic('depth/camera_info', 'sensor_msgs/msg/CameraInfo'),
            OutputTopic('depth/confidence', _IMAGE),
        ]
    if normals:
        topics.append(OutputTopic('normals/image', _IMAGE))
        if visualization:
            topics.append(OutputTopic('normals/visualization', _IMAGE))
    if semantic:
        topics += [
            OutputTopic('semantic/labels', _IMAGE),
            OutputTopic('semantic/label_info', 'vision_msgs/msg/LabelInfo', RELIABLE_LATCHED),
        ]
        if visualization:
            topics.append(OutputTopic('semantic/visualization', _IMAGE))
    if instances:
        topics += [
            OutputTopic('instances/labels', _IMAGE),
            OutputTopic('instances/detections', 'vision_msgs/msg/Detection2DArray'),
        ]
    topics += [OutputTopic(f'referring/mask_{i}', _IMAGE) for i in range(referring)]
    if depth and points:
        topics.append(OutputTopic('points', 'sensor_msgs/msg/PointCloud2'))
    if with_objects and depth and settings.pipeline.objects.enabled and (instances or referring):
        topics += [
            OutputTopic('objects', 'vision_msgs/msg/Detection3DArray'),
            OutputTopic('objects/markers', 'visualization_msgs/msg/MarkerArray'),
        ]
    return tuple(topics)


def frame_messages(
    types: messages.MessageTypes,
    header: Any,
    result: PerceptionResult,
    rgb: np.ndarray,
    intrinsics: CameraIntrinsics | None,
    node: NodeConfig,
    objects: FrameObjects | None = None,
) -> Iterator[tuple[str, Any]]:
    """
    Build every output message of one processed frame.

    :param types: the message classes (rclpy's or a rosbags typestore's).
    :param header: the input image's header, reused in every message.
    :param result: the pipeline's result for that image.
    :param rgb: (H, W, 3) uint8 input image (for the visualizations).
    :param intrinsics: the input image's intrinsics, or None (then no camera_info, no points).
    :param node: whether the rgb8 views and the point cloud are built.
    :param objects: the frame's objects (``ObjectBuilder.for_frame``), or None for none.
    :return: (topic, message) pairs, topics as in ``output_topics``; label_info, detections and
        objects only with vision_msgs classes available, markers with visualization_msgs.
    """
    visualization, points = node.publish_visualization, node.publish_points
    if result.depth_m is not None:
        yield 'depth/image', messages.depth_image(types, header, result.depth_m)
        if intrinsics is not None:
            yield 'depth/camera_info', messages.camera_info(types, header, intrinsics)
        if result.depth_confidence is not None:
            yield 'depth/confidence', messages.float_image(types, header, result.depth_confidence)
    if result.normals is not None:
        yield 'normals/image', messages.normals_image(types, header, result.normals)
        if visualization:
            view = normals_image(result.normals)
            yield 'normals/visualization', messages.rgb_image(types, header, view)
    semantic = result.semantic
    if semantic is not None:
        yield 'semantic/labels', messages.mono16_image(types, header, semantic.labels)
        if types.has_vision_msgs:
            yield 'semantic/label_info', messages.label_info(types, header, semantic.class_names)
        if visualization:
            overlay = label_overlay(rgb, semantic.labels, semantic.colours)
            yield 'semantic/visualization', messages.rgb_image(types, header, overlay)
    if result.instance_ids is not None:
        yield 'instances/labels', messages.mono16_image(types, header, result.instance_ids)
        if types.has_vision_msgs:
            yield (
                'instances/detections',
                messages.instance_detections(types, header, result.instances),
            )
    for index, referred in enumerate(result.referring):
        mask = referred.mask.astype(np.uint8) * np.uint8(255)
        yield f'referring/mask_{index}', messages.mono8_image(types, header, mask)
    if points and result.cloud is not None:
        yield 'points', messages.point_cloud(types, header, pack_pointcloud2(result.cloud))
    if objects is not None:
        if types.has_vision_msgs:
            yield 'objects', messages.object_detections(types, header, objects.objects)
        if types.has_markers:
            yield 'objects/markers', messages.object_markers(types, header, objects.objects)
