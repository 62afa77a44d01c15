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
Flow matching with x0-prediction: the path, the training loss and the deterministic sampler.

**Time convention (stated here once for the package): t = 0 is noise, t = 1 is data.**

``x_t = (1 - t) * noise + t * data`` with ``noise ~ N(0, I)`` and data = the RGB target in
model space ``[-1, 1]`` (``rgb / 127.5 - 1``); the velocity is ``data - noise``. (diffusers'
flow-matching scheduler runs the other way: its sigma = 1 - t.)

The network predicts the clean target ``data_hat`` directly ("x0-prediction": x0 is diffusion's
name for the clean sample, which sits at t = 1 here), trained with the mean squared error to
the target. Its velocity is ``v_hat = (data_hat - x_t) / (1 - t)``, and the Euler step from
``t_i`` to ``t_{i+1}`` is ``x + (t_{i+1} - t_i) / (1 - t_i) * (data_hat - x)``; the last step
(to t = 1) lands on ``data_hat``. So one step returns ``data_hat(noise, t=0)``; more steps
refine it. Sampling is deterministic given the noise (a seeded ``torch.Generator``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from vision_banana_ros.model.encoder import PromptBatch
from vision_banana_ros.model.errors import ModelError
from vision_banana_ros.model.net import VBMini

__all__ = [
    'MAX_STEPS',
    'draw_noise',
    'flow_matching_loss',
    'interpolate',
    'sample',
    'sample_times',
]

MAX_STEPS = 4
"""Most sampling steps the generator supports (it is trained for 1; up to 4 refine)."""


def interpolate(noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """
    Point on the straight path from noise (t = 0) to data (t = 1).

    :param noise: (B, C, H, W) standard normal noise.
    :param data: (B, C, H, W) target in model space.
    :param t: (B,) times in [0, 1].
    :return: (B, C, H, W) ``(1 - t) * noise + t * data``.
    """
    t = t.to(data.dtype)[:, None, None, None]  # (B, 1, 1, 1)
    return (1.0 - t) * noise + t * data


def draw_noise(
    shape: Sequence[int], device: torch.device, generator: torch.Generator | None = None
) -> torch.Tensor:
    """
    Draw float32 standard normal noise.

    :param shape: the noise shape, e.g. (B, 3, H, W).
    :param device: where the noise goes.
    :param generator: randomness, drawn on its own device then moved (the same seed gives the
        same noise on every device). None: the global RNG of ``device``.
    :return: the noise.
    """
    draw_on = device if generator is None else generator.device
    return torch.randn(tuple(shape), generator=generator, device=draw_on).to(device)


def sample_times(
    batch: int,
    generator: torch.Generator | None = None,
    *,
    p_zero: float = 0.5,
    device: torch.device | str = 'cpu',
) -> torch.Tensor:
    """
    Draw training times, t = 0 (what one-step sampling sees) for a share ``p_zero``.

    The rest are uniform in [0, 1).

    :param batch: number of times.
    :param generator: randomness (drawn on its device). None: the global RNG.
    :param p_zero: probability of exactly t = 0.
    :param device: where the result goes.
    :return: (B,) float32 times.
    """
    if not 0.0 <= p_zero <= 1.0:
        raise ModelError(f'p_zero must be in [0, 1], got {p_zero}')
    draw_on = 'cpu' if generator is None else generator.device
    uniform = torch.rand(2, batch, generator=generator, device=draw_on)  # (2, B)
    t = torch.where(uniform[0] < p_zero, torch.zeros_like(uniform[1]), uniform[1])
    return t.to(device)


def flow_matching_loss(
    model: VBMini,
    image: torch.Tensor,
    target: torch.Tensor,
    prompts: Sequence[str] | PromptBatch,
    generator: torch.Generator | None = None,
    *,
    p_zero: float = 0.5,
) -> torch.Tensor:
    """
    Compute the training loss: x0-prediction MSE on the RGB target at a random path point.

    Example (one training step)::

        loss = flow_matching_loss(model, image, target, prompts, generator)
        loss.backward(); optimiser.step(); optimiser.zero_grad()

    :param model: the generator network.
    :param image: (B, 3, H, W) float input RGB in [0, 1], H and W divisible by 32.
    :param target: (B, 3, H, W) float target RGB in [0, 1] (a codec's uint8 RGB / 255).
    :param prompts: B prompt strings, or ``model.encode_prompts(prompts)`` done ahead.
    :param generator: randomness for noise and times (reproducible steps).
    :param p_zero: share of samples trained at t = 0 (pure noise in, as one-step sampling).
    :return: scalar float32 loss (mean over batch, channels and pixels; data range [-1, 1]).
    """
    if target.shape != image.shape or target.dim() != 4 or target.shape[1] != 3:
        raise ModelError(
            f'image and target must both be (B, 3, H, W), got {tuple(image.shape)} and '
            f'{tuple(target.shape)}'
        )
    if not (image.is_floating_point() and target.is_floating_point()):
        raise ModelError(
            f'image and target must be float in [0, 1], got {image.dtype} and {target.dtype}'
        )
    data = target.float() * 2.0 - 1.0  # (B, 3, H, W) in [-1, 1]
    noise = draw_noise(data.shape, data.device, generator)
    t = sample_times(data.shape[0], generator, p_zero=p_zero, device=data.device)
    prediction = model(interpolate(noise, data, t), t, image, prompts)
    return F.mse_loss(prediction.float(), data)


@torch.no_grad()
def sample(
    model: VBMini,
    image: torch.Tensor,
    prompts: Sequence[str] | PromptBatch,
    *,
    steps: int = 1,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """
    Generate the RGB target by Euler integration from noise (t = 0) to data (t = 1).

    The image features are computed once and shared by every step (and, for a single image,
    by every prompt).

    :param model: the generator network.
    :param image: (B, 3, H, W) or (1, 3, H, W) float input RGB in [0, 1].
    :param prompts: B prompts (or an encoded batch); one image is shared by all of them.
    :param steps: Euler steps, 1 to ``MAX_STEPS``.
    :param generator: randomness for the starting noise; a fixed seed gives a fixed output.
    :param noise: (B or 1, 3, H, W) starting noise instead of drawing it.
    :return: (B, 3, H, W) float32 in [-1, 1].
    """
    if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
        raise ModelError(f'steps must be an int in [1, {MAX_STEPS}], got {steps!r}')
    features = model.encode_image(image)
    encoded = model.encode_prompts(prompts)
    batch = max(len(encoded), image.shape[0])
    shape = (batch, 3, *image.shape[-2:])
    if noise is None:
        x = draw_noise(shape, image.device, generator)  # (B, 3, H, W)
    elif noise.shape in (shape, (1, *shape[1:])):
        x = noise.float().to(image.device)
    else:
        raise ModelError(f'noise must have shape {shape} or (1, ...), got {tuple(noise.shape)}')
    if image.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)
    x = x.expand(shape)  # one noise for every row stays one: the network computes it once
    for index in range(steps):
        t_now, t_next = index / steps, (index + 1) / steps
        t = torch.full((batch,), t_now, device=image.device)
        data_hat = model(x, t, image, encoded, features).float().clamp(-1.0, 1.0)
        x = x + (t_next - t_now) / (1.0 - t_now) * (data_hat - x)
    return x.clamp(-1.0, 1.0)
