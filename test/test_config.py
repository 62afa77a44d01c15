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
"""YAML <-> dataclass configs: exact key sets, round trips, errors that name the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from vision_banana_ros.config import ConfigError, from_mapping, load_yaml, to_mapping
from vision_banana_ros.model.net import NetConfig
from vision_banana_ros.pipeline import PipelineConfig, TasksConfig
from vision_banana_ros.settings import load_settings, NodeConfig, Settings
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.loop import TrainConfig
import yaml

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {'train': TrainConfig, 'mixture': MixtureConfig, 'net': NetConfig}


def _keys(cls: type, values: dict[str, object]) -> None:
    """Assert the YAML mapping has exactly the dataclass's fields, recursively."""
    assert set(values) == {f.name for f in dataclasses.fields(cls)}, cls.__name__
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    for name, value in values.items():
        nested = getattr(cls(), name) if name in hints else None
        if dataclasses.is_dataclass(nested):
            _keys(type(nested), value)  # type: ignore[arg-type]


def test_shipped_yaml_mirrors_the_dataclasses_one_to_one() -> None:
    document = yaml.safe_load((PACKAGE_ROOT / 'config' / 'train.yaml').read_text())
    assert set(document) == set(SECTIONS)
    for name, cls in SECTIONS.items():
        _keys(cls, document[name])
    loaded = load_yaml(PACKAGE_ROOT / 'config' / 'train.yaml', SECTIONS)
    assert loaded == {name: cls() for name, cls in SECTIONS.items()}, 'the file holds the defaults'


def test_perception_parameter_file_mirrors_the_settings_one_to_one() -> None:
    path = PACKAGE_ROOT / 'config' / 'perception.yaml'
    parameters = yaml.safe_load(path.read_text())['/**']['ros__parameters']
    node = parameters.pop('node')
    _keys(PipelineConfig, parameters)
    _keys(NodeConfig, node)
    assert load_settings(path) == Settings(), 'the file holds the defaults'


@pytest.mark.parametrize(
    'config',
    [
        TrainConfig(batch_size=3),
        MixtureConfig(resolution=(64, 96)),
        NetConfig(),
        RenderSettings(fused=True),
        PipelineConfig(tasks=TasksConfig(semantic_classes=('mug', 'table'), referring=('x',))),
    ],
)
def test_round_trip_through_yaml(config: object) -> None:
    text = yaml.safe_dump(to_mapping(config))
    assert from_mapping(type(config), yaml.safe_load(text)) == config


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r'mixture.weights: unknown key\(s\) colour'):
        from_mapping(MixtureConfig, {'weights': {'colour': 1.0}}, 'mixture')


def test_bad_value_is_reported_with_its_section(tmp_path: Path) -> None:
    path = tmp_path / 'bad.yaml'
    path.write_text('train:\n  batch_size: 0\n')
    with pytest.raises(ConfigError, match='train: invalid training config: batch_size=0'):
        load_yaml(path, SECTIONS)
    path.write_text('trian: {}\n')
    with pytest.raises(ConfigError, match='unknown section'):
        load_yaml(path, SECTIONS)
