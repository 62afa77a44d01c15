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
Dataclass configs from and to YAML, with one set of names for code, YAML and ROS parameters.

Configs are frozen dataclasses that validate themselves in ``__post_init__``; this module only
translates. Nested dataclasses become nested mappings, tuples become lists, and a key the
dataclass does not have is an error that names it, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from pathlib import Path
import types
import typing
from typing import Any, TypeVar

import yaml

__all__ = ['ConfigError', 'from_mapping', 'load_yaml', 'to_mapping']

T = TypeVar('T')


class ConfigError(ValueError):
    """A configuration mapping or file does not fit its dataclass."""


def from_mapping(cls: type[T], values: Mapping[str, Any], where: str = '') -> T:
    """
    Build a (nested) config dataclass from plain values, e.g. a parsed YAML section.

    :param cls: the dataclass type.
    :param values: field name -> value; nested dataclasses as mappings, tuples as lists.
        Missing fields keep their defaults.
    :param where: the path of this section, for error messages.
    :return: the config, validated by its own ``__post_init__``.
    :raises ConfigError: on an unknown key, a mapping where a value is expected, or a value
        the dataclass rejects.
    """
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f'{cls!r} is not a dataclass')
    if not isinstance(values, Mapping):
        raise ConfigError(f'{where or cls.__name__} must be a mapping, got {values!r}')
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f'{where or cls.__name__}: unknown key(s) {", ".join(unknown)}; '
            f'expected some of {", ".join(sorted(names))}'
        )
    kwargs = {
        name: _value(hints[name], value, f'{where}.{name}' if where else name)
        for name, value in values.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f'{where or cls.__name__}: {err}') from err


def to_mapping(config: object) -> dict[str, Any]:
    """
    Turn a (nested) config dataclass into plain YAML-ready values.

    :param config: a dataclass instance.
    :return: field name -> value; nested dataclasses as dicts, tuples as lists.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ConfigError(f'expected a dataclass instance, got {config!r}')
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def load_yaml(path: Path | str, sections: Mapping[str, type[Any]]) -> dict[str, Any]:
    """
    Read a YAML file whose top-level keys are config sections.

    :param path: the file.
    :param sections: section name -> dataclass type; absent sections get the defaults.
    :return: section name -> config.
    :raises ConfigError: on an unreadable file, an unknown section or a bad value.
    """
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f'{path}: {err}') from err
    if not isinstance(document, Mapping):
        raise ConfigError(f'{path}: expected a mapping of sections, got {type(document).__name__}')
    unknown = sorted(set(document) - set(sections))
    if unknown:
        raise ConfigError(f'{path}: unknown section(s) {", ".join(unknown)}')
    return {
        name: from_mapping(cls, document.get(name) or {}, name) for name, cls in sections.items()
    }


def _value(hint: Any, value: Any, where: str) -> Any:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for candidate in typing.get_args(hint) if union else (hint,):
        is_config = isinstance(candidate, type) and dataclasses.is_dataclass(candidate)
        if is_config and isinstance(value, Mapping):
            return from_mapping(candidate, value, where)
        if typing.get_origin(candidate) is tuple and isinstance(value, list):
            return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if isinstance(value, Mapping):
        raise ConfigError(f'{where}: expected a value, got a mapping')
    return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_mapping(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
