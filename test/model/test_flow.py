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
"""Tests for vision_banana_ros.model.flow: the path, the loss, the sampler, a tiny overfit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from vision_banana_ros.model import flow_matching_loss, MAX_STEPS, ModelError, NetConfig, sample
from vision_banana_ros.model.flow import draw_noise, interpolate, sample_times
from vision_banana_ros.model.net import VBMini

Factory = Callable[..., VBMini]


def test_path_runs_from_noise_at_t0_to_data_at_t1() -> None:
    noise, data = torch.randn(3, 3, 4, 4), torch.rand(3, 3, 4, 4)
    path = interpolate(noise, data, torch.tensor([0.0, 1.0, 0.25]))
    assert torch.equal(path[0], noise[0])
    assert torch.equal(path[1], data[1])
    torch.testing.assert_close(path[2], 0.75 * noise[2] + 0.25 * data[2])


def test_training_times_put_the_asked_share_at_zero() -> None:
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(sample_times(8, generator, p_zero=1.0), torch.zeros(8))
    t = sample_times(4000, generator, p_zero=0.25)
    assert 0.2 < (t == 0).float().mean() < 0.3
    assert t.min() >= 0 and t.max() < 1
    again = sample_times(5, torch.Generator().manual_seed(3))
    assert torch.equal(again, sample_times(5, torch.Generator().manual_seed(3)))
    with pytest.raises(ModelError, match='p_zero'):
        sample_times(2, p_zero=1.5)


def test_noise_from_a_seed_is_the_same_on_every_call() -> None:
    first = draw_noise((2, 3, 4, 4), torch.device('cpu'), torch.Generator().manual_seed(7))
    second = draw_noise((2, 3, 4, 4), torch.device('cpu'), torch.Generator().manual_seed(7))
    assert torch.equal(first, second)


@pytest.mark.parametrize('steps', range(1, MAX_STEPS + 1))
def test_sampling_is_deterministic_and_in_range(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str], steps: int
) -> None:
    model = make_model()
    image = torch.rand(1, 3, *tiny_config.image_size)
    first = sample(model, image, prompts, steps=steps, generator=torch.Generator().manual_seed(1))
    second = sample(model, image, prompts, steps=steps, generator=torch.Generator().manual_seed(1))
    assert first.shape == (3, 3, *tiny_config.image_size)
    assert torch.equal(first, second)
    assert first.min() >= -1 and first.max() <= 1


def test_one_step_returns_the_prediction_from_pure_noise(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model()
    image = torch.rand(3, 3, *tiny_config.image_size)
    noise = torch.randn(3, 3, *tiny_config.image_size)
    with torch.no_grad():
        expected = model(noise, torch.zeros(3), image, prompts).clamp(-1, 1)
    torch.testing.assert_close(sample(model, image, prompts, noise=noise), expected)


def test_sampler_rejects_bad_steps_and_noise(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model(live=False)
    image = torch.rand(1, 3, *tiny_config.image_size)
    for steps in (0, MAX_STEPS + 1):
        with pytest.raises(ModelError, match='steps'):
            sample(model, image, prompts, steps=steps)
    with pytest.raises(ModelError, match='noise must have shape'):
        sample(model, image, prompts, noise=torch.zeros(2, 3, 8, 8))


def test_loss_is_a_differentiable_scalar(
    make_model: Factory, tiny_config: NetConfig, prompts: list[str]
) -> None:
    model = make_model().train()
    image = torch.rand(3, 3, *tiny_config.image_size)
    target = torch.rand(3, 3, *tiny_config.image_size)
    loss = flow_matching_loss(model, image, target, prompts, torch.Generator().manual_seed(0))
    assert loss.shape == () and loss.dtype == torch.float32 and loss > 0
    loss.backward()
    assert model.stem.weight.grad is not None
    with pytest.raises(ModelError, match='image and target'):
        flow_matching_loss(model, image, target[:2], prompts)
    with pytest.raises(ModelError, match='must be float'):
        flow_matching_loss(model, image, (target * 255).to(torch.uint8), prompts)


@pytest.mark.slow
def test_tiny_network_overfits_two_samples(make_model: Factory, prompts: list[str]) -> None:
    size = (64, 64)
    config = NetConfig(
        height=64,
        width=64,
        channels=(16, 32, 32, 64),
        cond_dim=64,
        token_dim=64,
        head_dim=32,
        refine_channels=8,
    )
    torch.manual_seed(0)
    model = make_model(config, live=False).train()
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, *size, generator=generator)
    y, x = torch.meshgrid(
        torch.linspace(0, 1, size[0]), torch.linspace(0, 1, size[1]), indexing='ij'
    )
    mask = (x > 0.5).float()
    target = torch.stack(
        [torch.stack([y, x, 1 - y]), torch.stack([mask, torch.zeros_like(mask), 1 - mask])]
    )  # (2, 3, 64, 64): a smooth ramp and a two-colour mask, in [0, 1]
    encoded = model.encode_prompts(prompts[1:])

    def one_step_error() -> float:
        out = sample(model.eval(), image, encoded, generator=torch.Generator().manual_seed(1))
        model.train()
        return float((out - (target * 2 - 1)).square().mean())

    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    before = one_step_error()
    for _ in range(120):
        loss = flow_matching_loss(model, image, target, encoded, generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert one_step_error() < before / 20
