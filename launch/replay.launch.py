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
Replay a rosbag2 recording through ``perception_node`` on sim time, with RViz.

::

    ros2 launch vision_banana_ros replay.launch.py bag:=recording/ \
        image_topic:=/camera/color/image_raw camera_info_topic:=/camera/color/camera_info

``ros2 bag play <bag> --rate <rate> --clock`` starts ``delay`` seconds after the node, so the
node (which loads and warms up its backend while configuring) misses fewer of the first frames.
The bag publishes /clock, and the node and RViz run with ``use_sim_time:=true``, so the
``node.max_input_age_s`` check and RViz's TF lookups follow the bag's time, not the wall clock.
Every argument of perception.launch.py applies (``use_sim_time`` is always true here);
``rviz`` defaults to true.
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    TimerAction,
)
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

PERCEPTION_LAUNCH = Path(__file__).resolve().with_name('perception.launch.py')


def generate_launch_description() -> LaunchDescription:
    """
    Describe the replay: the bag player (with /clock) and perception.launch.py on sim time.

    :return: the launch description.
    """
    return LaunchDescription(
        [
            DeclareLaunchArgument('bag', description='rosbag2 folder (or file) to play'),
            DeclareLaunchArgument('rate', default_value='1.0', description='playback rate'),
            DeclareLaunchArgument(
                'delay',
                default_value='2.0',
                description='seconds between starting the node and playing the bag',
            ),
            DeclareLaunchArgument('rviz', default_value='true', description='also start RViz'),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(PERCEPTION_LAUNCH)),
                launch_arguments={'use_sim_time': 'true'}.items(),
            ),
            TimerAction(
                period=LaunchConfiguration('delay'),
                actions=[
                    ExecuteProcess(
                        cmd=[
                            'ros2',
                            'bag',
                            'play',
                            LaunchConfiguration('bag'),
                            '--rate',
                            LaunchConfiguration('rate'),
                            '--clock',  # last: it takes an optional frequency
                        ],
                        name='bag_play',
                        output='screen',
                    )
                ],
            ),
        ]
    )
