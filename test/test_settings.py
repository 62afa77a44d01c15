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

"""The perception parameter file: ROS 2's form, one set of names for node, CLI and code."""

from __future__ import annotations

from pathlib import Path

import pytest
from vision_banana_ros.config import ConfigError
from vision_banana_ros.settings import (
    load_settings,
    NodeConfig,
    read_parameter_file,
    Settings,
    settings_document,
)
import yaml


def test_node_section_overrides_the_wildcard_and_dotted_names_nest(tmp_path: Path) -> None:
    path = tmp_path / 'params.yaml'
    path.write_text(
        yaml.safe_dump(
            {
                '/**': {
                    'ros__parameters': {'tasks': {'semantic_classes': ['mug']}, 'cloud': False}
                },
                'perception_node': {
                    'ros__parameters': {
                        'tasks.semantic_classes': ['bowl'],
                        'node.compressed': True,
                    }
                },
            }
        )
    )
    shared = load_settings(path)
    assert shared.pipeline.tasks.semantic_classes == ('mug',) and not shared.pipeline.cloud
    own = load_settings(path, 'perception_node')
    assert own.pipeline.tasks.semantic_classes == ('bowl',) and own.node.compressed
    assert not own.pipeline.cloud, 'the wildcard still applies'


def test_round_trip_through_the_document(tmp_path: Path) -> None:
    settings = Settings.from_parameters(
        {
            'tasks.referring': ['the red mug'],
            'node.cameras': ['front', 'wrist'],
            'model_height': 128,
            'model_width': 160,
        }
    )
    path = tmp_path / 'params.yaml'
    path.write_text(yaml.safe_dump(settings_document(settings)))
    assert load_settings(path) == settings
    assert Settings.from_parameters({'tasks.semantic_classes': None}) == Settings()


@pytest.mark.parametrize(
    ('content', 'message'),
    [
        ({'pipeline': {'tasks': {}}}, r'expected a ROS 2 parameter file .* got \[.pipeline.\]'),
        ({'/**': {'tasks': {}}}, 'has no ros__parameters'),
        ({'/**': {'ros__parameters': {'tasks': {'colour': 1}}}}, r'unknown key\(s\) colour'),
        ({'/**': {'ros__parameters': {'node': {'cameras': ['/abs']}}}}, 'distinct relative'),
        ({'/**': {'ros__parameters': {'node': {'max_input_age_s': -1.0}}}}, 'max_input_age_s'),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / 'params.yaml'
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'missing\.yaml'):
        read_parameter_file(tmp_path / 'missing.yaml')
    assert NodeConfig().autostart and NodeConfig().max_input_age_s == 1.0
