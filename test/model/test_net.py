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
"""Tests for vision_banana_ros.model.net: shapes, conditioning, trained parameters, config."""

from __future__ import annotations

from collections.abc import Callable
import copy
import dataclasses

import pytest
import torch
from vision_banana_ros.model import ModelError, NetConfig, TextEncoder, VBMini
from vision_banana_ros.model.net import FoldedUpsampleConv, timestep_embedding, UpsampleConv

Factory = Callable[..., VBMini]

SEMANTIC = (
    'Generate a semantic segmentation visualization image, using this color mapping: '
    '{{"cat": "{cat}", "background": "blue"}}.'
)


def _inputs(batch: int, size: tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    noisy = torch.randn(batch, 3, *size, generator=generator)
    image = torch.rand(batch, 3, *size, generator=generator)
    return noisy, torch.zeros(batch), image


@pytest.mark.parametrize('batch', [1, 3])
def test_output_is_one_rgb_image_per_prompt(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str], batch: int
) -> None:
    model = make_model()
    noisy, t, image = _inputs(batch, tiny_config.image_size)
    with torch.no_grad():
        out = model(noisy, t, image, prompts[:batch])
    assert out.shape == (batch, 3, *tiny_config.image_size)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_any_size_divisible_by_32_runs(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    config = dataclasses.replace(tiny_config, height=96, width=128)
    model = make_model(config)
    noisy, t, image = _inputs(2, (96, 128))
    with torch.no_grad():
        assert model(noisy, t, image, prompts[1:]).shape == (2, 3, 96, 128)
        # the trunk's static padding is the same at every size divisible by 32
        noisy, t, image = _inputs(2, (64, 64))
        assert model(noisy, t, image, prompts[1:]).shape == (2, 3, 64, 64)


def test_default_network_is_small_enough_for_a_robot_cpu(text_encoder: TextEncoder) -> None:
    model = VBMini(NetConfig(), text_encoder).eval()
    count = model.parameter_count()
    assert 4_000_000 <= count <= 8_000_000
    assert 2 * count <= 40e6  # fp16 bytes shipped
    noisy, t, image = _inputs(3, (128, 160))
    with torch.no_grad():
        out = model(noisy, t, image, ['Generate a depth map of this image.'] * 3)
    assert out.shape == (3, 3, 128, 160)


def test_one_image_is_shared_by_every_prompt(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model()
    noisy, t, image = _inputs(3, tiny_config.image_size)
    with torch.no_grad():
        shared = model(noisy, t, image[:1], prompts)
        repeated = model(noisy, t, image[:1].expand(3, -1, -1, -1), prompts)
    torch.testing.assert_close(shared, repeated)


@pytest.mark.parametrize('autocast', [False, True], ids=['float32', 'bfloat16'])
def test_one_noise_shared_by_every_row_runs_once_with_the_same_output(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str], autocast: bool
) -> None:
    # An expanded noise (a frame's prompts on the first step) takes the path that computes
    # the stem and the first convolution once; materialised rows take the per-row path.
    model = make_model().to(memory_format=torch.channels_last)
    noisy, t, image = _inputs(1, tiny_config.image_size)
    shared = noisy.contiguous(memory_format=torch.channels_last).expand(3, -1, -1, -1)
    assert shared.stride(0) == 0
    stem_batches: list[int] = []
    model.stem.register_forward_hook(lambda m, args, out: stem_batches.append(args[0].shape[0]))
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        once = model(shared, t.expand(3), image, prompts)
        per_row = model(
            shared.contiguous(memory_format=torch.channels_last), t.expand(3), image, prompts
        )
    assert stem_batches == [1, 3]
    if autocast:  # bf16 rounding may differ with the batch size: within one 8-bit level
        torch.testing.assert_close(once, per_row, atol=1 / 127.5, rtol=0)
    else:
        torch.testing.assert_close(once, per_row, atol=1e-5, rtol=1e-5)


def test_prompt_colour_mapping_changes_the_output(
    make_model: Factory, tiny_config: NetConfig
) -> None:
    model = make_model()
    noisy, t, image = _inputs(2, tiny_config.image_size)
    with torch.no_grad():
        out = model(noisy, t, image, [SEMANTIC.format(cat='red'), SEMANTIC.format(cat='green')])
    assert (out[0] - out[1]).abs().max() > 1e-4  # float32 noise is ~1e-6


def test_token_colours_alone_change_the_output(
    make_model: Factory, tiny_config: NetConfig
) -> None:
    model = make_model()
    encoded = model.encode_prompts([SEMANTIC.format(cat='red')] * 2)
    rgb = encoded.token_rgb.clone()
    rgb[1, 0] = torch.tensor([0.0, 1.0, 0.0])  # same sentence, cat drawn green in row 1
    encoded = dataclasses.replace(encoded, token_rgb=rgb)
    noisy, t, image = _inputs(1, tiny_config.image_size)
    with torch.no_grad():
        out = model(noisy.expand(2, -1, -1, -1), t.expand(2), image, encoded)
    assert (out[0] - out[1]).abs().max() > 1e-4  # float32 noise is ~1e-6


def test_sentence_and_time_change_the_output(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model()
    noisy, t, image = _inputs(1, tiny_config.image_size)
    with torch.no_grad():
        depth = model(noisy, t, image, prompts[:1])
        normals = model(noisy, t, image, prompts[1:2])
        later = model(noisy, t + 0.5, image, prompts[:1])
    assert (depth - normals).abs().max() > 1e-4
    assert (depth - later).abs().max() > 1e-4


def test_every_trained_parameter_gets_a_gradient(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model().train()
    instance = (
        'Generate an instance segmentation visualization of this image. '
        'Each cup is colored differently.'
    )
    noisy, t, image = _inputs(4, tiny_config.image_size)
    model(noisy, t + 0.3, image, [*prompts, instance]).square().mean().backward()
    named = dict(model.named_parameters())
    missing = [n for n in model.trained_parameter_names() if named[n].grad is None]
    assert missing == []
    frozen = [n for n, p in named.items() if n not in model.trained_parameter_names()]
    assert frozen and all(named[n].grad is None for n in frozen)


def test_trained_parameters_exclude_the_frozen_encoder_unless_its_last_stage_trains(
    make_model: Factory, tiny_config: NetConfig
) -> None:
    names = make_model(live=False).trained_parameter_names()
    assert names and not any(n.startswith('image_encoder.') for n in names)
    config = dataclasses.replace(tiny_config, train_encoder_last_stage=True)
    with_stage = make_model(config, live=False).trained_parameter_names()
    extra = [n for n in with_stage if n not in names]
    assert extra and all(n.startswith('image_encoder.blocks.1') for n in extra)


def test_fresh_network_output_does_not_depend_on_the_prompt_yet(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    # FiLM and attention outputs start at zero: conditioning is learnt, not random.
    model = make_model(live=False)
    noisy, t, image = _inputs(1, tiny_config.image_size)
    with torch.no_grad():
        torch.testing.assert_close(
            model(noisy, t, image, prompts[:1]), model(noisy, t, image, prompts[2:])
        )


@pytest.mark.parametrize(
    ('changes', 'message'),
    [
        ({'height': 100}, 'height must be a positive multiple of 32'),
        ({'width': 0}, 'width must be a positive multiple of 32'),
        ({'channels': (16, 32, 64)}, '4 levels'),
        ({'channels': (16, 30, 64, 64)}, 'multiples of groups'),
        ({'head_dim': 48}, 'head_dim'),
        ({'res_blocks': 0}, 'res_blocks'),
    ],
    ids=str,
)
def test_config_rejects_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        NetConfig(**changes)  # type: ignore[arg-type]


def test_config_round_trips_through_json_values() -> None:
    config = NetConfig(height=96, channels=(16, 32, 64, 64))
    assert NetConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()['channels'] == [16, 32, 64, 64]
    with pytest.raises(ModelError, match='unknown NetConfig fields'):
        NetConfig.from_dict({**config.to_dict(), 'depth': 3})


def test_forward_rejects_mismatched_inputs(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model(live=False)
    noisy, t, image = _inputs(2, tiny_config.image_size)
    with pytest.raises(ModelError, match='noisy must be'):
        model(noisy[:, :2], t, image, prompts[:2])
    with pytest.raises(ModelError, match='divisible by 32'):
        model(noisy[..., :40], t, image[..., :40], prompts[:2])
    with pytest.raises(ModelError, match='image must be'):
        model(noisy, t, image[..., :32], prompts[:2])
    with pytest.raises(ModelError, match='t must have shape'):
        model(noisy, t[:1], image, prompts[:2])
    with pytest.raises(ModelError, match='3 prompts for a batch of 2'):
        model(noisy, t, image, prompts)


def test_timestep_embedding_separates_nearby_times() -> None:
    embedding = timestep_embedding(torch.tensor([0.0, 0.25, 0.26, 1.0]))
    assert embedding.shape == (4, 128)
    assert torch.equal(embedding[0, :64], torch.zeros(64))
    assert (embedding[1] - embedding[2]).norm() > 1.0


def test_prompt_batch_moves_and_expands_only_a_single_prompt(make_model: Factory) -> None:
    model = make_model(live=False)
    encoded = model.encode_prompts(['Generate a surface normal visualization of this image.'] * 2)
    moved = encoded.to('cpu')
    assert torch.equal(moved.sentence, encoded.sentence) and len(moved) == 2
    with pytest.raises(ModelError, match='only a batch of one'):
        encoded.expand(3)


def test_a_deep_copy_trains_apart_but_shares_the_frozen_text_encoder(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model()
    ema = copy.deepcopy(model)
    assert ema.text_encoder is model.text_encoder
    with torch.no_grad():
        ema.stem.weight.zero_()
    assert model.stem.weight.abs().sum() > 0
    noisy, t, image = _inputs(1, tiny_config.image_size)
    with torch.no_grad():
        assert ema(noisy, t, image, prompts[:1]).shape == (1, 3, *tiny_config.image_size)


@pytest.mark.parametrize('size', [(4, 5), (1, 1), (6, 3)], ids=str)
def test_folded_upsampling_is_the_same_map_at_the_coarse_resolution(
    size: tuple[int, int],
) -> None:
    torch.manual_seed(0)
    layer = UpsampleConv(8, 5)
    with torch.no_grad():
        layer.bias.normal_()  # a bias, and zero padding at every border
    x = torch.randn(2, 8, *size)
    folded = layer.folded()
    assert isinstance(folded, FoldedUpsampleConv)
    with torch.no_grad():
        expected, got = layer(x), folded(x)
    assert got.shape == (2, 5, 2 * size[0], 2 * size[1])
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_folding_for_inference_keeps_the_output_and_leaves_the_original_alone(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model().eval()
    folded = copy.deepcopy(model)
    folded.fold_for_inference()
    assert all(isinstance(layer, FoldedUpsampleConv) for layer in folded.upsample)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.image_encoder.modules())
    assert all(isinstance(layer, UpsampleConv) for layer in model.upsample)
    noisy, t, image = _inputs(len(prompts), tiny_config.image_size)
    with torch.no_grad():
        expected, got = model(noisy, t, image, prompts), folded(noisy, t, image, prompts)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    folded.fold_for_inference()  # a second time: nothing left to fold
    with torch.no_grad():
        torch.testing.assert_close(folded(noisy, t, image, prompts), got)
