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
The launch files and the RViz config: arguments, defaults, and what each launch would start.

launch/*.launch.py are loaded with launch's own loader and walked in a ``LaunchContext`` as
``ros2 launch`` would (argument declarations, includes, OpaqueFunctions), except that nothing is
started: each process action is collected, and the launch_ros ``Node`` actions are expanded into
the command line they would run (parameter files, overrides, remappings, ROS arguments). Two tests
start the node for real: ``PerceptionNode`` under that command line (rcl parses the files and the
rules), and perception.launch.py in a ``LaunchService`` from a fake install (an ament index entry
and ``lib/vision_banana_ros/perception_node``), asked for its parameters over ROS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
import os
from pathlib import Path
import shutil
import sys
import threading
import time
from typing import Any

import pytest
import yaml

launch_ros = pytest.importorskip(
    'launch_ros', reason='no launch_ros here: test/test_ros_jazzy.py runs this'
)

from launch.actions import (  # noqa: E402, I100 (after the skip)
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    TimerAction,
)
from launch.launch_context import LaunchContext  # noqa: E402
from launch.launch_description import LaunchDescription  # noqa: E402
from launch.launch_description_sources import (  # noqa: E402
    get_launch_description_from_python_launch_file,
    load_python_launch_file_as_module,
    PythonLaunchDescriptionSource,
)
from launch.launch_service import LaunchService  # noqa: E402
from launch.substitutions import LocalSubstitution  # noqa: E402
from launch.utilities import perform_substitutions  # noqa: E402
from launch_ros.actions import Node  # noqa: E402
from launch_ros.substitutions import ExecutableInPackage  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import parameter_value_to_python  # noqa: E402
from vision_banana_ros.outputs import output_topics  # noqa: E402
from vision_banana_ros.ros.node import PerceptionNode  # noqa: E402
from vision_banana_ros.settings import load_settings, Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PERCEPTION = ROOT / 'launch' / 'perception.launch.py'
REPLAY = ROOT / 'launch' / 'replay.launch.py'
RVIZ = ROOT / 'rviz' / 'perception.rviz'
PARAMS = ROOT / 'config' / 'perception.yaml'


_TEMPORARY: list[Path] = []  # the parameter files launch_ros wrote for dicts


@pytest.fixture(autouse=True)
def _remove_temporary_files() -> Iterator[None]:
    yield
    while _TEMPORARY:
        _TEMPORARY.pop().unlink(missing_ok=True)


@dataclass
class Started:
    """A process a launch file would start, as its command line."""

    action: ExecuteProcess
    command: list[str | None]  # None: a part only known when it runs (executable path, name)
    arguments: list[str] = field(default_factory=list)
    ros_arguments: dict[str, list[str]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    parameter_files: list[str] = field(default_factory=list)
    remappings: dict[str, str] = field(default_factory=dict)


def _declared(path: Path) -> dict[str, str | None]:
    """Map each declared argument of a launch file (includes too) to its default."""
    description = get_launch_description_from_python_launch_file(str(path))
    context = LaunchContext()
    out: dict[str, str | None] = {}
    for argument in description.get_launch_arguments():
        default = argument.default_value
        out.setdefault(
            argument.name, None if default is None else perform_substitutions(context, default)
        )
    return out


def _default(name: str) -> str:
    return str(_declared(PERCEPTION)[name])


def _command(action: ExecuteProcess, context: LaunchContext) -> list[str | None]:
    return [
        None
        if any(isinstance(s, LocalSubstitution | ExecutableInPackage) for s in part)
        else perform_substitutions(context, part)
        for part in action.cmd
    ]


def _expand(action: ExecuteProcess, context: LaunchContext) -> Started:
    """Read a process action's command line; a Node's as launch_ros would build it."""
    if not isinstance(action, Node):
        return Started(action, _command(action, context))
    action._perform_substitutions(context)  # what Node.execute does before starting
    command = _command(action, context)
    started = Started(action, command)
    first = command.index('--ros-args')
    started.arguments = [str(part) for part in command[1:first]]
    tokens = iter(command[first:])
    for token in tokens:
        if token in ('--params-file', '-p', '-r', '--log-level'):
            started.ros_arguments.setdefault(token, []).append(str(next(tokens)))
    for rule in started.ros_arguments.get('-r', []):
        if rule != 'None':
            source, target = rule.split(':=')
            started.remappings[source] = target
    for name in started.ros_arguments.get('--params-file', []):
        started.parameter_files.append(name)
        document = yaml.safe_load(Path(name).read_text())
        if Path(name).name.startswith('launch_params_'):  # a dict given to Node: a temp file
            _TEMPORARY.append(Path(name))
            ((_, section),) = document.items()  # '/**', or the node's name when it has one
            started.parameters.update(section['ros__parameters'])
    return started


def _resolve(path: Path, **arguments: str) -> list[Started]:
    """
    Walk a launch file as `ros2 launch <file> name:=value...` would, starting nothing.

    :param path: the launch file.
    :param arguments: the command line's ``name:=value`` pairs.
    :return: the processes it would start, in order.
    """
    context = LaunchContext()
    context.launch_configurations.update(arguments)
    started: list[Started] = []

    def walk(entities: Iterable[Any]) -> None:
        for entity in entities:
            if isinstance(entity, ExecuteProcess):  # Node included: collect, never run
                if entity.condition is None or entity.condition.evaluate(context):
                    started.append(_expand(entity, context))
            elif isinstance(entity, TimerAction):
                walk(entity.actions)
            else:
                walk(entity.visit(context) or [])

    walk([get_launch_description_from_python_launch_file(str(path))])
    return started


def _nodes(started: list[Started], executable: str) -> list[Started]:
    return [
        s for s in started if isinstance(s.action, Node) and s.action.node_executable == executable
    ]


# -- perception.launch.py -------------------------------------------------------------------------


def test_perception_launch_declares_its_arguments_with_their_defaults() -> None:
    declared = _declared(PERCEPTION)
    assert declared == {
        'image_topic': 'image',
        'camera_info_topic': 'camera_info',
        'namespace': '',
        'params_file': declared['params_file'],
        'backend': '',
        'device': '',
        'use_sim_time': 'false',
        'log_level': 'info',
        'autostart': 'true',
        'rviz': 'false',
        'rviz_config': declared['rviz_config'],
        'fixed_frame': '',
    }
    # The installed share folder's files (colcon), else the source tree's (this checkout).
    assert Path(str(declared['params_file'])).parts[-2:] == ('config', 'perception.yaml')
    assert Path(str(declared['params_file'])).is_file()
    assert Path(str(declared['rviz_config'])).parts[-2:] == ('rviz', 'perception.rviz')
    assert Path(str(declared['rviz_config'])).is_file()


def test_files_come_from_the_share_folder_when_installed_else_from_the_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_python_launch_file_as_module(str(PERCEPTION))
    index = tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))
    source = str(ROOT / 'config' / 'perception.yaml')
    assert module.share_path('config', 'perception.yaml') == source  # not in the index
    (index / 'vision_banana_ros').touch()
    (tmp_path / 'share' / 'vision_banana_ros').mkdir()
    installed = tmp_path / 'share' / 'vision_banana_ros' / 'config' / 'perception.yaml'
    assert module.share_path('config', 'perception.yaml') == str(installed)
    monkeypatch.delenv('AMENT_PREFIX_PATH')
    assert module.share_path('config', 'perception.yaml') == source  # no ROS environment


def test_default_params_file_is_the_packages_ros_parameter_file() -> None:
    default = Path(str(_declared(PERCEPTION)['params_file']))
    assert default.resolve() == PARAMS.resolve() or default.read_bytes() == PARAMS.read_bytes()
    settings = load_settings(PARAMS, 'perception_node')  # raises unless ros__parameters form
    assert settings.node.autostart


def test_defaults_start_only_the_node_with_the_file_and_no_backend_override() -> None:
    started = _resolve(PERCEPTION)
    assert len(started) == 1, 'rviz:=false must not start RViz'
    (node,) = _nodes(started, 'perception_node')
    assert node.action.node_package == 'vision_banana_ros'
    assert node.action.node_name.endswith('/perception_node')
    assert node.parameter_files[0] == _default('params_file')
    assert node.parameters == {'use_sim_time': False, 'node.autostart': True}
    assert node.remappings == {
        'image': 'image',
        'image/compressed': 'image/compressed',
        'camera_info': 'camera_info',
    }
    assert node.ros_arguments['--log-level'] == ['info']


def test_arguments_become_overrides_remappings_and_ros_arguments() -> None:
    started = _resolve(
        PERCEPTION,
        image_topic='/camera/color/image_raw',
        camera_info_topic='/camera/color/camera_info',
        namespace='robot',
        backend='remote',
        device='cpu',
        use_sim_time='True',
        autostart='false',
        log_level='debug',
    )
    (node,) = _nodes(started, 'perception_node')
    assert node.action.expanded_node_namespace == '/robot'
    assert node.parameters == {
        'use_sim_time': True,
        'node.autostart': False,
        'backend.name': 'remote',
        'backend.local.device': 'cpu',
    }
    assert node.parameter_files[0] == _default('params_file'), 'the file first: the overrides win'
    assert node.remappings == {
        'image': '/camera/color/image_raw',
        'image/compressed': '/camera/color/image_raw/compressed',
        'camera_info': '/camera/color/camera_info',
    }
    assert node.ros_arguments['--log-level'] == ['debug']


def test_the_node_started_with_that_command_line_has_those_values() -> None:
    """Start PerceptionNode with the launch's --ros-args: rcl parses the files and the rules."""
    (started,) = _nodes(
        _resolve(
            PERCEPTION,
            namespace='robot',
            image_topic='/camera/color/image_raw',
            backend='remote',
            device='cpu',
            autostart='false',
        ),
        'perception_node',
    )
    arguments = ['--ros-args']
    for name in started.parameter_files:
        arguments += ['--params-file', name]
    for source, target in started.remappings.items():
        arguments += ['-r', f'{source}:={target}']
    context = rclpy.Context()
    rclpy.init(args=arguments, context=context)
    try:
        node = PerceptionNode(namespace='robot', context=context)
        try:
            value = {
                p.name: p.value
                for p in node.get_parameters(
                    ['backend.name', 'backend.local.device', 'node.autostart', 'use_sim_time']
                )
            }
            assert value == {
                'backend.name': 'remote',
                'backend.local.device': 'cpu',
                'node.autostart': False,
                'use_sim_time': False,
            }
            assert node.settings.pipeline.backend.name == 'remote'
            assert node.resolve_topic_name('image') == '/camera/color/image_raw'
            assert node.resolve_topic_name('camera_info') == '/robot/camera_info'
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_launch_service_starts_the_node_from_an_install_with_those_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ros_context: Any
) -> None:
    """Run perception.launch.py in a LaunchService, as `ros2 launch` does, from a fake install."""
    index = tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    (index / 'vision_banana_ros').touch()
    (tmp_path / 'share' / 'vision_banana_ros' / 'config').mkdir(parents=True)
    shutil.copy(PARAMS, tmp_path / 'share' / 'vision_banana_ros' / 'config' / 'perception.yaml')
    executable = tmp_path / 'lib' / 'vision_banana_ros' / 'perception_node'  # setup.cfg's place
    executable.parent.mkdir(parents=True)
    executable.write_text(
        f'#!{sys.executable}\nfrom vision_banana_ros.ros.node import main\nmain()\n'
    )
    executable.chmod(0o755)
    prefixes = [str(tmp_path), *os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)]
    monkeypatch.setenv('AMENT_PREFIX_PATH', os.pathsep.join(p for p in prefixes if p))
    service = LaunchService(argv=[])
    arguments = {'namespace': 'robot', 'backend': 'remote', 'device': 'cpu', 'autostart': 'false'}
    service.include_launch_description(
        LaunchDescription(
            [
                IncludeLaunchDescription(
                    PythonLaunchDescriptionSource(str(PERCEPTION)),
                    launch_arguments=arguments.items(),
                )
            ]
        )
    )
    names = ['backend.name', 'backend.local.device', 'node.autostart', 'use_sim_time']
    found: dict[str, Any] = {}
    probed, ended = threading.Event(), threading.Event()

    def probe() -> None:
        """Ask the launched node for its parameters, from a ROS node of this test."""
        node = rclpy.create_node('launch_probe', context=ros_context)
        executor = SingleThreadedExecutor(context=ros_context)
        executor.add_node(node)
        try:
            client = node.create_client(GetParameters, '/robot/perception_node/get_parameters')
            deadline = time.monotonic() + 90.0
            while not ended.is_set() and time.monotonic() < deadline:
                if client.wait_for_service(timeout_sec=0.5):
                    future = client.call_async(GetParameters.Request(names=names))
                    executor.spin_until_future_complete(future, timeout_sec=30.0)
                    if future.done():
                        values = map(parameter_value_to_python, future.result().values)
                        found.update(zip(names, values, strict=True))
                    break
        finally:
            executor.shutdown()
            node.destroy_node()
            probed.set()

    async def launch() -> int:
        """Run the launch until the probe is done (or the launch ends by itself)."""
        running = asyncio.ensure_future(service.run_async())
        while not running.done() and not probed.is_set():
            await asyncio.sleep(0.1)
        if not running.done():
            pending = service.shutdown()  # in the loop's thread: a coroutine to await
            if pending is not None:
                await pending
        return await running

    loop = asyncio.new_event_loop()  # LaunchService.run() would leave its loop open
    thread = threading.Thread(target=probe)
    thread.start()
    try:
        assert loop.run_until_complete(launch()) == 0
    finally:
        ended.set()
        thread.join()
        loop.close()
    assert found == {
        'backend.name': 'remote',
        'backend.local.device': 'cpu',
        'node.autostart': False,
        'use_sim_time': False,
    }


def test_empty_params_file_leaves_only_the_overrides(tmp_path: Path) -> None:
    (node,) = _nodes(_resolve(PERCEPTION, params_file=''), 'perception_node')
    assert len(node.parameter_files) == 1
    assert node.parameters == {'use_sim_time': False, 'node.autostart': True}
    with pytest.raises(FileNotFoundError, match='params_file'):
        _resolve(PERCEPTION, params_file=str(tmp_path / 'missing.yaml'))


def test_a_boolean_argument_must_be_a_boolean() -> None:
    with pytest.raises(ValueError, match='autostart'):
        _resolve(PERCEPTION, autostart='maybe')


def test_rviz_true_starts_rviz_in_the_nodes_namespace_with_the_config() -> None:
    started = _resolve(PERCEPTION, rviz='true', namespace='arm', use_sim_time='true')
    (rviz,) = _nodes(started, 'rviz2')
    assert rviz.action.expanded_node_namespace == '/arm'
    assert rviz.arguments == ['-d', _default('rviz_config')]
    assert rviz.parameters == {'use_sim_time': True}
    (rviz,) = _nodes(_resolve(PERCEPTION, rviz='1', fixed_frame='cam_optical'), 'rviz2')
    assert rviz.arguments == ['-d', _default('rviz_config'), '-f', 'cam_optical']


# -- replay.launch.py ----------------------------------------------------------------------------


def test_replay_declares_the_bag_and_passes_the_perception_arguments_through() -> None:
    declared = _declared(REPLAY)
    assert declared['bag'] is None, 'bag is required'
    assert declared['rate'] == '1.0'
    assert declared['delay'] == '2.0'
    assert declared['rviz'] == 'true'
    assert set(_declared(PERCEPTION)) <= set(declared)


def test_replay_plays_the_bag_with_clock_and_runs_the_node_on_sim_time() -> None:
    started = _resolve(REPLAY, bag='/data/run1', rate='0.5', backend='remote')
    (play,) = [s for s in started if not isinstance(s.action, Node)]
    assert play.command == ['ros2', 'bag', 'play', '/data/run1', '--rate', '0.5', '--clock']
    (node,) = _nodes(started, 'perception_node')
    assert node.parameters['use_sim_time'] is True
    assert node.parameters['backend.name'] == 'remote'
    (rviz,) = _nodes(started, 'rviz2')
    assert rviz.parameters == {'use_sim_time': True}
    started = _resolve(REPLAY, bag='/data/run1', rviz='false', use_sim_time='false')
    assert _nodes(started, 'rviz2') == []
    (node,) = _nodes(started, 'perception_node')
    assert node.parameters['use_sim_time'] is True, 'replay always runs on the bag clock'


def test_replay_waits_before_playing() -> None:
    description = get_launch_description_from_python_launch_file(str(REPLAY))
    (timer,) = [e for e in description.entities if isinstance(e, TimerAction)]
    context = LaunchContext()
    context.launch_configurations['delay'] = '4.5'
    assert perform_substitutions(context, timer.period) == '4.5'


def test_every_argument_has_a_description() -> None:
    for path in (PERCEPTION, REPLAY):
        description = get_launch_description_from_python_launch_file(str(path))
        for argument in description.get_launch_arguments():
            assert isinstance(argument, DeclareLaunchArgument)
            assert argument.description and argument.description != 'no description given'


# -- rviz/perception.rviz ------------------------------------------------------------------------


def _displays(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config['Visualization Manager']['Displays'])


def test_rviz_config_shows_what_the_node_publishes() -> None:
    config = yaml.safe_load(RVIZ.read_text())
    displays = _displays(config)
    classes = {d['Class'] for d in displays}
    assert {
        'rviz_default_plugins/Grid',
        'rviz_default_plugins/Image',
        'rviz_default_plugins/PointCloud2',
        'rviz_default_plugins/MarkerArray',
    } <= classes
    topics = {d['Topic']['Value'] for d in displays if 'Topic' in d}
    assert {
        'points',
        'depth/image',
        'semantic/visualization',
        'normals/visualization',
        'objects/markers',
    } <= topics
    settings = Settings.from_parameters(
        {'tasks.semantic_classes': ['mug'], 'tasks.instance_classes': ['mug']}
    )
    published = {t.name for t in output_topics(settings, with_objects=True)}
    assert topics <= published, f'not published by the node: {topics - published}'
    assert all(not t.startswith('/') for t in topics), 'relative: RViz runs in the namespace'
    for display in displays:
        if 'Topic' in display:  # our publishers are reliable; reliable subscribers connect
            assert display['Topic']['Reliability Policy'] == 'Reliable', display['Name']
    assert config['Visualization Manager']['Global Options']['Fixed Frame'] == 'camera_optical'


def test_rviz_config_colours_the_cloud_by_its_label_field() -> None:
    displays = _displays(yaml.safe_load(RVIZ.read_text()))
    clouds = [d for d in displays if d['Class'] == 'rviz_default_plugins/PointCloud2']
    labelled = [d for d in clouds if d['Enabled']]
    assert len(labelled) == 1
    assert labelled[0]['Color Transformer'] == 'Intensity'
    assert labelled[0]['Channel Name'] == 'label'
    assert {d['Color Transformer'] for d in clouds} == {'Intensity', 'RGB8'}
    depth = next(d for d in displays if d.get('Topic', {}).get('Value') == 'depth/image')
    assert depth['Normalize Range'] is True, '32FC1 metres need normalising to be seen'
