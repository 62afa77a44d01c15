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
ROS parameters mirroring ``Settings`` one to one: one declared parameter per leaf field.

Names are the dotted field paths (``tasks.depth``, ``backend.local.steps``,
``node.max_input_age_s``); descriptions come from the dataclasses' own ``:ivar:`` docs.
Structural parameters (the backend, the model size, the cameras and their topics) are read-only:
changing them needs a reconfigure. Tasks, classes, referring expressions, clean-up, uncertainty
and smoothing change at run time, validated by the same dataclasses before they are accepted.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter
from vision_banana_ros.pipeline.config import PipelineConfig
from vision_banana_ros.settings import NodeConfig, Settings

__all__ = [
    'READ_ONLY_PREFIXES',
    'SETTINGS_NAMES',
    'declare_settings',
    'flatten',
    'settings_from_node',
]

READ_ONLY_PREFIXES = (
    'backend.',
    'model_height',
    'model_width',
    'node.cameras',
    'node.compressed',
    'node.autostart',
    'node.tf_fixed_frame',
)
"""Parameters fixed once the node is configured (a prefix matches names that start with it)."""

SETTINGS_NAMES: dict[str, Any] = {}
"""Every settings parameter's dotted name -> its default (filled below)."""

_IVAR = re.compile(r':ivar (\w+): (.+?)(?=\n\s*:ivar |\n\s*$|\Z)', re.S)


def flatten(mapping: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    """
    Turn a nested mapping into dotted names.

    :param mapping: e.g. ``Settings().parameters()``.
    :param prefix: prepended to every name.
    :return: ``{'tasks.depth': True, ...}``, lists as lists.
    """
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, f'{name}.'))
        else:
            flat[name] = value
    return flat


SETTINGS_NAMES.update(flatten(Settings().parameters()))


def _descriptions(cls: type, prefix: str = '') -> dict[str, str]:
    """Map each dotted field name of a (nested) config dataclass to its ``:ivar:`` text."""
    docs = {
        f'{prefix}{name}': ' '.join(text.split())
        for name, text in _IVAR.findall(cls.__doc__ or '')
    }
    for name, hint in typing.get_type_hints(cls).items():
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            docs.update(_descriptions(hint, f'{prefix}{name}.'))
    return docs


def declare_settings(node: Node, settings: Settings) -> None:
    """
    Declare one parameter per settings field, with its description and read-only flag.

    Values from a parameters file or the command line override the defaults given here. A
    string-array field whose default is empty is declared with its type and no value (ROS
    parameter files cannot type an empty list); unset reads as empty.

    :param node: the node.
    :param settings: the defaults to declare.
    """
    docs = {**_descriptions(PipelineConfig), **_descriptions(NodeConfig, 'node.')}
    for name, value in flatten(settings.parameters()).items():
        descriptor = ParameterDescriptor(
            name=name,
            description=docs.get(name, ''),
            read_only=name.startswith(READ_ONLY_PREFIXES),
        )
        if isinstance(value, list) and not value:
            node.declare_parameter(name, Parameter.Type.STRING_ARRAY, descriptor)
        else:
            node.declare_parameter(name, value, descriptor)


def _value(node: Node, name: str) -> Any:
    """Return a parameter's value; None for a typed parameter declared without one."""
    try:
        return node.get_parameter(name).value
    except ParameterUninitializedException:
        return None


def settings_from_node(node: Node, changes: list[Parameter] | None = None) -> Settings:
    """
    Read the node's parameters back as ``Settings``, with pending changes applied on top.

    :param node: the node (parameters declared by ``declare_settings``).
    :param changes: parameters being set, not yet stored (a set-parameters callback's list);
        others than the settings' (``qos_overrides.*``, ``use_sim_time``) are ignored.
    :return: the settings.
    :raises ConfigError: if the values do not make valid settings (the message names them).
    """
    names = SETTINGS_NAMES
    values = {name: _value(node, name) for name in names}
    for parameter in changes or []:
        if parameter.name in names:
            values[parameter.name] = parameter.value
    for name, default in names.items():
        value = values[name]
        if isinstance(default, list) or isinstance(value, (list, tuple)):
            values[name] = [] if value is None else list(value)
    return Settings.from_parameters(values)
