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
Start ``perception_node`` on one camera, optionally with RViz.

::

    ros2 launch vision_banana_ros perception.launch.py \
        image_topic:=/camera/color/image_raw camera_info_topic:=/camera/color/camera_info

The node reads ``params_file`` (``config/perception.yaml`` by default), then the overrides given
here: ``backend`` (``backend.name``) and ``device`` (``backend.local.device``) only when not
empty, ``autostart`` (``node.autostart``) and ``use_sim_time`` always. ``image_topic`` remaps the
relative ``image`` (and ``image/compressed`` to ``<image_topic>/compressed``); ``namespace``
puts the node, its outputs and RViz under one namespace. ``rviz:=true`` opens
``rviz/perception.rviz`` in the same namespace; its fixed frame is ``camera_optical`` unless
``fixed_frame`` names the camera's optical frame (the ``frame_id`` of the input images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ament_index_python.packages import get_package_share_directory
from launch.action import Action
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'vision_banana_ros'
_TRUE, _FALSE = ('true', '1', 'yes', 'on'), ('false', '0', 'no', 'off')


def share_path(*parts: str) -> str:
    """
    Return a file of the package's share folder, or of the source tree if it is not installed.

    :param parts: the path inside the package, e.g. ('config', 'perception.yaml').
    :return: the absolute path (the source tree's when the ament index does not know the
        package, as when the launch file is loaded from a checkout).
    """
    try:
        share = Path(get_package_share_directory(PACKAGE))
    except (LookupError, OSError):  # PackageNotFoundError, or no AMENT_PREFIX_PATH at all
        share = Path(__file__).resolve().parents[1]
    return str(share.joinpath(*parts))


def launch_arguments() -> list[DeclareLaunchArgument]:
    """
    Declare the arguments of this launch file (replay.launch.py passes them through).

    :return: one DeclareLaunchArgument per argument, with its default and description.
    """
    return [
        DeclareLaunchArgument(
            'image_topic', default_value='image', description='sensor_msgs/Image input topic'
        ),
        DeclareLaunchArgument(
            'camera_info_topic',
            default_value='camera_info',
            description='sensor_msgs/CameraInfo of the input images',
        ),
        DeclareLaunchArgument(
            'namespace', default_value='', description='namespace of the node and its outputs'
        ),
        DeclareLaunchArgument(
            'params_file',
            default_value=share_path('config', 'perception.yaml'),
            description='ROS 2 parameter file of the node ("" for the built-in defaults)',
        ),
        DeclareLaunchArgument(
            'backend',
            default_value='',
            description='backend.name override: local, diffusers, gemini, remote ("" = file)',
        ),
        DeclareLaunchArgument(
            'device',
            default_value='',
            description='backend.local.device override: auto, cpu or cuda ("" = file)',
        ),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false', description='follow /clock (bag replay)'
        ),
        DeclareLaunchArgument(
            'log_level',
            default_value='info',
            description='ROS log level: debug, info, warn, error, fatal',
        ),
        DeclareLaunchArgument(
            'autostart',
            default_value='true',
            description='configure and activate the lifecycle node by itself (node.autostart)',
        ),
        DeclareLaunchArgument('rviz', default_value='false', description='also start RViz'),
        DeclareLaunchArgument(
            'rviz_config',
            default_value=share_path('rviz', 'perception.rviz'),
            description='RViz display configuration',
        ),
        DeclareLaunchArgument(
            'fixed_frame',
            default_value='',
            description="RViz fixed frame, e.g. the camera's optical frame ('' = camera_optical)",
        ),
    ]


def flag(context: LaunchContext, name: str) -> bool:
    """
    Read a boolean launch argument the way launch's conditions do (true/false, 1/0).

    :param context: the launch context holding the argument.
    :param name: the argument's name.
    :return: its value.
    :raises ValueError: if the value is not a boolean word.
    """
    value = LaunchConfiguration(name).perform(context).strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f'launch argument {name}:={value!r} is not true or false')
    return value in _TRUE


def _nodes(context: LaunchContext) -> list[Action]:
    """Build the perception node (and RViz) from the resolved arguments."""

    def text(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    sim_time = flag(context, 'use_sim_time')
    overrides: dict[str, Any] = {
        'use_sim_time': sim_time,
        'node.autostart': flag(context, 'autostart'),
    }
    if text('backend'):
        overrides['backend.name'] = text('backend')
    if text('device'):
        overrides['backend.local.device'] = text('device')
    params_file = text('params_file')
    if params_file and not Path(params_file).is_file():
        raise FileNotFoundError(f'params_file:={params_file} is not a file')
    image_topic = text('image_topic')
    namespace = text('namespace')
    actions: list[Action] = [
        Node(
            package=PACKAGE,
            executable='perception_node',
            name='perception_node',
            namespace=namespace,
            output='screen',
            parameters=[*([params_file] if params_file else []), overrides],
            remappings=[
                ('image', image_topic),
                ('image/compressed', f'{image_topic}/compressed'),
                ('camera_info', text('camera_info_topic')),
            ],
            ros_arguments=['--log-level', text('log_level')],
        )
    ]
    if flag(context, 'rviz'):
        arguments = ['-d', text('rviz_config')]
        if text('fixed_frame'):
            arguments += ['-f', text('fixed_frame')]
        actions.append(
            Node(
                package='rviz2',
                executable='rviz2',
                name='rviz2',
                namespace=namespace,  # the config's topics are relative: the node's outputs
                output='screen',
                arguments=arguments,
                parameters=[{'use_sim_time': sim_time}],
            )
        )
    return actions


def generate_launch_description() -> LaunchDescription:
    """
    Describe the launch: the arguments, then the nodes built from their values.

    :return: the launch description.
    """
    return LaunchDescription([*launch_arguments(), OpaqueFunction(function=_nodes)])
