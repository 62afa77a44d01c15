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
"""Tests for vision_banana_ros.model.weights: fp16 shards, config.json checks, no weights."""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import json
import logging
from pathlib import Path

import pytest
import torch
from vision_banana_ros.model import (
    load_model,
    NetConfig,
    save_weights,
    TextEncoder,
    VBMini,
    WEIGHTS_DIR,
)
from vision_banana_ros.model.weights import (
    CONFIG_NAME,
    MAX_SHARD_BYTES,
    read_weights_config,
    WeightsError,
)

Factory = Callable[..., VBMini]


def _trained(model: VBMini) -> dict[str, torch.Tensor]:
    named = dict(model.named_parameters())
    return {n: named[n].detach() for n in model.trained_parameter_names()}


def _edit_config(folder: Path, **changes: object) -> None:
    path = folder / CONFIG_NAME
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


def test_round_trip_is_bit_exact_in_fp16_across_shards(
    make_model: Factory, tmp_path: Path
) -> None:
    model = make_model()
    limit = 256 * 1024
    files = save_weights(model, tmp_path, max_shard_bytes=limit)
    shards = [f for f in files if f.suffix == '.safetensors']
    assert len(shards) > 1 and files[-1].name == CONFIG_NAME
    assert all(f.stat().st_size <= limit for f in shards)
    loaded, trained = load_model(tmp_path, config=model.config, text_encoder=model.text_encoder)
    assert trained
    original, restored = _trained(model), _trained(loaded)
    assert original.keys() == restored.keys()
    for name, value in original.items():
        assert torch.equal(restored[name], value.half().float()), name
    again = save_weights(loaded, tmp_path / 'again', max_shard_bytes=limit)
    for first, second in zip(shards, again[:-1], strict=True):
        assert first.read_bytes() == second.read_bytes()


def test_default_network_ships_in_16_mib_shards_under_40_mb(
    text_encoder: TextEncoder, tmp_path: Path
) -> None:
    # With the encoder's last stage trained the network passes 16 MiB: two shards.
    model = VBMini(NetConfig(train_encoder_last_stage=True), text_encoder)
    files = save_weights(model, tmp_path)
    shards = [f for f in files if f.suffix == '.safetensors']
    sizes = [f.stat().st_size for f in shards]
    assert len(shards) == 2 and max(sizes) <= MAX_SHARD_BYTES and sum(sizes) <= 40e6
    document = read_weights_config(tmp_path)
    assert document is not None
    assert document['parameter_count'] == model.parameter_count()
    assert document['model'] == model.config.to_dict()
    assert document['shards'] == [f.name for f in shards]
    loaded, _ = load_model(tmp_path, text_encoder=model.text_encoder)
    assert loaded.config == model.config
    stage = 'image_encoder.blocks.15._project_conv.weight'
    assert torch.equal(_trained(loaded)[stage], _trained(model)[stage].half().float())


def test_no_weights_give_a_seeded_random_network_and_a_warning(
    text_encoder: TextEncoder,
    tiny_config: NetConfig,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger='vision_banana_ros.model.weights'):
        first, trained = load_model(tmp_path, config=tiny_config, text_encoder=text_encoder)
    assert not trained
    assert 'RANDOMLY INITIALISED' in caplog.text and str(tmp_path) in caplog.text
    second, _ = load_model(tmp_path / 'absent', config=tiny_config, text_encoder=text_encoder)
    for name, value in _trained(first).items():
        assert torch.equal(value, _trained(second)[name])
    assert not first.training


def test_config_mismatch_raises_naming_the_field(make_model: Factory, tmp_path: Path) -> None:
    model = make_model()
    save_weights(model, tmp_path)
    other = dataclasses.replace(model.config, cond_dim=32)
    with pytest.raises(WeightsError, match="'cond_dim': \\(32, 64\\)"):
        load_model(tmp_path, config=other, text_encoder=model.text_encoder)


@pytest.mark.parametrize(
    ('key', 'value'),
    [
        ('codec_version', 99),
        ('prompt_version', 99),
        ('format', 'something.else'),
        ('format_version', 2),
        ('text_encoder', 'bert-base'),
        ('image_encoder', 'efficientnet-b0'),
        ('dtype', 'float32'),
    ],
)
def test_version_or_encoder_mismatch_raises(
    make_model: Factory, tmp_path: Path, key: str, value: object
) -> None:
    model = make_model(live=False)
    save_weights(model, tmp_path)
    _edit_config(tmp_path, **{key: value})
    with pytest.raises(WeightsError, match=f'"{key}" is {value!r}'):
        load_model(tmp_path, text_encoder=model.text_encoder)


def test_broken_folders_raise_clear_errors(make_model: Factory, tmp_path: Path) -> None:
    model = make_model(live=False)
    files = save_weights(model, tmp_path, max_shard_bytes=256 * 1024)
    _edit_config(tmp_path, parameter_count=1)
    with pytest.raises(WeightsError, match='says 1 parameters'):
        load_model(tmp_path, text_encoder=model.text_encoder)
    _edit_config(tmp_path, model={**model.config.to_dict(), 'depth': 2})
    with pytest.raises(WeightsError, match='not a valid NetConfig'):
        load_model(tmp_path, text_encoder=model.text_encoder)
    save_weights(model, tmp_path, max_shard_bytes=256 * 1024)
    files[0].unlink()
    with pytest.raises(WeightsError, match='missing'):
        load_model(tmp_path, text_encoder=model.text_encoder)
    (tmp_path / CONFIG_NAME).write_text('{not json')
    with pytest.raises(WeightsError, match='cannot read it as JSON'):
        load_model(tmp_path, text_encoder=model.text_encoder)


def test_weights_for_another_shape_raise(make_model: Factory, tmp_path: Path) -> None:
    model = make_model(live=False)
    save_weights(model, tmp_path)
    bigger = dataclasses.replace(model.config, refine_channels=16)
    _edit_config(tmp_path, model=bigger.to_dict())
    with pytest.raises(WeightsError, match=r'head.weight has shape \(32, 16, 3, 3\)'):
        load_model(tmp_path, text_encoder=model.text_encoder)


def test_saving_again_removes_stale_shards(make_model: Factory, tmp_path: Path) -> None:
    model = make_model(live=False)
    save_weights(model, tmp_path, max_shard_bytes=256 * 1024)
    save_weights(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        CONFIG_NAME,
        'model-00001-of-00001.safetensors',
    ]


def test_non_finite_fp16_parameters_are_refused(make_model: Factory, tmp_path: Path) -> None:
    model = make_model(live=False)
    with torch.no_grad():
        model.stem.weight[0, 0, 0, 0] = 1e6
    with pytest.raises(WeightsError, match=r'stem\.weight is not finite'):
        save_weights(model, tmp_path)


def test_package_weights_folder_is_inside_the_package() -> None:
    import vision_banana_ros.model

    assert WEIGHTS_DIR == Path(vision_banana_ros.model.__file__).resolve().parent / 'weights'
