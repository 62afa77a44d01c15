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
The perception settings file: ``config/perception.yaml``, in ROS 2 parameter-file form.

One file, one set of names, for the node, the command line and the code::

    /**:
      ros__parameters:
        tasks: {depth: true, semantic_classes: [mug, table], ...}   # PipelineConfig fields
        cleanup: {...}
        backend: {name: local, local: {steps: 1, ...}, ...}
        node: {max_input_age_s: 0.5, ...}                          # NodeConfig fields

Every key below ``ros__parameters`` is a field of ``PipelineConfig``, except ``node``, which is
``NodeConfig`` (what only the ROS node and the bag command use). The ROS node declares one
parameter per leaf with the same dotted name (``tasks.depth``, ``backend.local.steps``,
``node.max_input_age_s``). ROS parameter files cannot hold an empty list with a type, so ``[]``
and an unset string-array parameter both mean "none".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Any

from vision_banana_ros.config import ConfigError, from_mapping, to_mapping
from vision_banana_ros.pipeline.config import PipelineConfig
import yaml

__all__ = [
    'NODE_SECTION',
    'NodeConfig',
    'Settings',
    'load_settings',
    'merge_parameters',
    'read_parameter_file',
    'settings_document',
]

NODE_SECTION = 'node'


@dataclass(frozen=True)
class NodeConfig:
    """
    What only the ROS node (and the bag command, which writes what the node would publish) uses.

    :ivar cameras: camera namespaces served by this one node, sharing one backend and batched
        into one generator call per round, e.g. ['front', 'wrist'] subscribes to
        'front/image' and 'wrist/image' and publishes under 'front/...' and 'wrist/...';
        empty: one camera on the relative topics 'image' and 'camera_info'.
    :ivar compressed: subscribe to sensor_msgs/CompressedImage on 'image/compressed' instead of
        raw 'image'.
    :ivar rectified: read intrinsics from CameraInfo's P (rectified images) instead of K.
    :ivar max_input_age_s: frames older than this (node clock minus header stamp) when the
        worker takes them are dropped and counted; 0 disables the check.
    :ivar publish_visualization: also publish rgb8 views (normals, semantic overlay).
    :ivar publish_points: publish the organised labelled point cloud (needs CameraInfo).
    :ivar diagnostics_period_s: period of the /diagnostics status.
    :ivar warmup: run one frame through the backend while configuring, so the first real frame
        is not slow and a broken backend fails the transition.
    :ivar autostart: the ``perception_node`` executable configures and activates the node by
        itself; false leaves it unconfigured for a lifecycle manager.
    :ivar tf_fixed_frame: a frame that does not move with the camera (``odom``, ``map``): the
        camera's motion between two frames is looked up through it on ``/tf`` and
        ``/tf_static`` for temporal smoothing (the images' ``frame_id`` is the camera's
        frame); empty: no TF, ego-motion is detected from the images instead.
    :ivar tf_timeout_s: how long a frame waits for the transforms at its stamp to arrive
        before it is smoothed without the motion (counted in diagnostics).
    """

    cameras: tuple[str, ...] = ()
    compressed: bool = False
    rectified: bool = False
    max_input_age_s: float = 1.0
    publish_visualization: bool = True
    publish_points: bool = True
    diagnostics_period_s: float = 1.0
    warmup: bool = True
    autostart: bool = True
    tf_fixed_frame: str = 'odom'
    tf_timeout_s: float = 0.05

    def __post_init__(self) -> None:
        bad = []
        if len(set(self.cameras)) != len(self.cameras) or any(
            not c or c.startswith('/') or not all(p.isidentifier() for p in c.split('/'))
            for c in self.cameras
        ):
            bad.append(f'cameras={self.cameras!r} (distinct relative namespaces)')
        if not (math.isfinite(self.max_input_age_s) and self.max_input_age_s >= 0):
            bad.append(f'max_input_age_s={self.max_input_age_s!r}')
        if not (math.isfinite(self.diagnostics_period_s) and self.diagnostics_period_s > 0):
            bad.append(f'diagnostics_period_s={self.diagnostics_period_s!r}')
        if self.tf_fixed_frame.startswith('/') or any(c.isspace() for c in self.tf_fixed_frame):
            bad.append(f'tf_fixed_frame={self.tf_fixed_frame!r} (a frame name, or empty)')
        if not (math.isfinite(self.tf_timeout_s) and 0 <= self.tf_timeout_s <= 10):
            bad.append(f'tf_timeout_s={self.tf_timeout_s!r} (0 to 10 s)')
        if bad:
            raise ValueError(f'node: invalid {", ".join(bad)}')


@dataclass(frozen=True)
class Settings:
    """
    Everything ``config/perception.yaml`` holds.

    :ivar pipeline: the perception pipeline.
    :ivar node: the ROS node's own settings.
    """

    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    node: NodeConfig = field(default_factory=NodeConfig)

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any]) -> Settings:
        """
        Build settings from a nested mapping of parameter values.

        :param values: the ``ros__parameters`` mapping (nested), or dotted names flattened
            (``{'tasks.depth': True}``) as a node's parameters are; None values (unset string
            arrays) are dropped, so their fields keep their defaults.
        :return: the settings.
        :raises ConfigError: on an unknown name or a value the dataclasses reject.
        """
        nested = _nest(values)
        node = nested.pop(NODE_SECTION, {})
        return cls(
            pipeline=from_mapping(PipelineConfig, nested, 'pipeline'),
            node=from_mapping(NodeConfig, node, NODE_SECTION),
        )

    def parameters(self) -> dict[str, Any]:
        """
        Return the settings as one nested mapping, the form of ``ros__parameters``.

        :return: PipelineConfig's fields plus the ``node`` section.
        """
        return {**to_mapping(self.pipeline), NODE_SECTION: to_mapping(self.node)}


def read_parameter_file(path: Path | str, node_name: str = '') -> dict[str, Any]:
    """
    Read a ROS 2 parameter file's parameters as one nested mapping.

    Sections apply in ROS's order: ``/**`` first, then the node's own name (with or without a
    leading slash), later keys replacing earlier ones.

    :param path: the YAML file.
    :param node_name: the node whose section to merge after the wildcard; '' for ``/**`` only.
    :return: the merged ``ros__parameters``, dotted keys nested.
    :raises ConfigError: on an unreadable file or one without ``ros__parameters``.
    """
    try:
        document = yaml.safe_load(Path(path).read_text(encoding='utf-8')) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f'{path}: {err}') from err
    if not isinstance(document, Mapping):
        raise ConfigError(
            f'{path}: expected a ROS 2 parameter file, got {type(document).__name__}'
        )
    merged: dict[str, Any] = {}
    names = ['/**'] + ([node_name.lstrip('/'), '/' + node_name.lstrip('/')] if node_name else [])
    found = False
    for name in names:
        section = document.get(name)
        if section is None:
            continue
        if not isinstance(section, Mapping) or 'ros__parameters' not in section:
            raise ConfigError(f'{path}: section {name!r} has no ros__parameters')
        merged = merge_parameters(merged, _nest(section['ros__parameters'] or {}))
        found = True
    if not found:
        raise ConfigError(
            f'{path}: expected a ROS 2 parameter file with ros__parameters under '
            f'{" or ".join(names)} (as config/perception.yaml), got {sorted(document)}'
        )
    return merged


def load_settings(path: Path | str, node_name: str = '') -> Settings:
    """
    Read a ROS 2 parameter file as ``Settings``.

    :param path: the YAML file.
    :param node_name: see ``read_parameter_file``.
    :return: the settings.
    :raises ConfigError: on an unreadable file, a file without ``ros__parameters``, or a bad
        or unknown key (named).
    """
    parameters = read_parameter_file(path, node_name)
    try:
        return Settings.from_parameters(parameters)
    except ConfigError as err:
        raise ConfigError(f'{path}: {err}') from err


def settings_document(settings: Settings | None = None) -> dict[str, Any]:
    """
    Return a ROS 2 parameter file's contents for settings (defaults when None).

    :param settings: the settings.
    :return: ``{'/**': {'ros__parameters': ...}}``, ready for ``yaml.safe_dump``.
    """
    return {'/**': {'ros__parameters': (settings or Settings()).parameters()}}


def _nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn dotted names into nested mappings; drop None (unset) values."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            value = _nest(value)
        parts = str(key).split('.')
        target = nested
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f'{key}: {part} is both a value and a section')
        leaf = parts[-1]
        if isinstance(value, dict) and isinstance(target.get(leaf), dict):
            target[leaf] = merge_parameters(target[leaf], value)
        else:
            target[leaf] = value
    return nested


def merge_parameters(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """
    Merge nested parameter mappings: sections merge key by key, other values replace.

    :param base: the earlier parameters.
    :param update: the later ones, which win.
    :return: a new mapping (neither argument is changed).
    """
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_parameters(merged[key], value)
        else:
            merged[key] = value
    return merged
