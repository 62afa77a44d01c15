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
"""``ServeConfig``: validation, the YAML file, the command's flags and its token rule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner
from vision_banana_ros.cli.main import app
from vision_banana_ros.cli.serve import with_flags
from vision_banana_ros.config import ConfigError, to_mapping
from vision_banana_ros.serving.config import load_serve_config, ServeConfig
from vision_banana_ros.serving.protocol import Limits
import yaml


def test_defaults_are_loopback_one_replica_and_the_protocols_limits() -> None:
    config = ServeConfig()
    assert (config.host, config.port, config.replicas, config.autoscaling) == (
        '127.0.0.1', 8000, 1, False,
    )  # fmt: skip
    assert config.limits == Limits() and config.generator_name == 'local'


@pytest.mark.parametrize(
    'changes',
    [
        {'port': 0},
        {'replicas': 0},
        {'max_replicas': 2, 'min_replicas': 3},
        {'max_batch_size': 0},
        {'max_batch_size': 32, 'max_ongoing_requests': 16},
        {'batch_wait_timeout_s': -0.1},
        {'request_timeout_s': float('nan')},
        {'gpus_per_replica': -1.0},
        {'max_queued_requests': 0},
        {'host': ' '},
    ],
)
def test_bad_values_are_refused_by_name(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        ServeConfig(**changes)  # type: ignore[arg-type]


def test_the_yaml_serve_section_round_trips(tmp_path: Path) -> None:
    config = ServeConfig(port=9000, min_replicas=1, max_replicas=4, limits=Limits(max_prompts=4))
    path = tmp_path / 'serve.yaml'
    path.write_text(yaml.safe_dump({'serve': to_mapping(config)}))
    assert load_serve_config(path) == config
    path.write_text('serve:\n  port: 9001\n  backend: {name: gemini}\n  echo: {call_s: 0.1}\n')
    loaded = load_serve_config(path)
    assert (loaded.port, loaded.backend.name, loaded.echo.call_s) == (9001, 'gemini', 0.1)
    assert loaded.autoscaling is False and loaded.most_replicas == 1
    path.write_text('serve:\n  replica: 2\n')
    with pytest.raises(ConfigError, match='replica'):
        load_serve_config(path)


def test_flags_override_the_file() -> None:
    base = ServeConfig(max_replicas=4)
    config = with_flags(base, backend='echo', replicas=3, port=8100, max_batch_size=32, gpus=0.5)
    assert config.echo.enabled and config.generator_name == 'echo'
    assert (config.replicas, config.autoscaling, config.port) == (3, False, 8100)
    assert (config.max_batch_size, config.max_ongoing_requests) == (32, 32)
    local = with_flags(config, backend='local', device='cpu')
    assert not local.echo.enabled and local.backend.local.device == 'cpu'
    assert dataclasses.replace(local, echo=config.echo) is not None
    with pytest.raises(ValueError, match='--backend'):
        with_flags(base, backend='remote')


def test_serving_beyond_loopback_without_a_token_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv('VISION_BANANA_TOKEN', raising=False)
    result = CliRunner().invoke(app, ['serve', '--backend', 'echo', '--host', '0.0.0.0'])
    assert result.exit_code == 2
    assert 'without a token' in result.output and 'VISION_BANANA_TOKEN' in result.output


def test_the_shipped_example_is_the_default_config() -> None:
    path = Path(__file__).resolve().parents[2] / 'config' / 'serve.yaml'
    assert load_serve_config(path) == ServeConfig()
