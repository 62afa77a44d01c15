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
Instruction-tuning a pretrained diffusers image-editing model with LoRA on the task mixture.

For users who have such weights (InstructPix2Pix saved in a local folder) and a GPU: the same
synthetic mixture VB-Mini trains on (perception drawn as RGB images, plus image-editing
generation), with InstructPix2Pix's own objective (diffusers' ``train_instruct_pix2pix.py``).
The target image's VAE latents are noised at a random timestep; the UNet sees them
concatenated with the input image's latents (the posterior's mode, unscaled) and the prompt's
text-encoder states, and predicts the training scheduler's target (the noise, or the velocity
for a v-prediction model). Only LoRA adapters on the UNet's attention projections train (peft,
through diffusers' ``add_adapter``, in float32); the VAE, the text encoder and the UNet's own
weights stay frozen in the loading dtype.

A run folder (``training.runs``) holds the checkpoint (adapter, optimiser, step, stream
position) and the log; ``<run>/pipeline`` is the complete result: the base pipeline
(``save_pretrained``) with the adapter beside it (``pytorch_lora_weights.safetensors``), what
the ``diffusers`` backend loads (``backend.diffusers.path``). Killed at any moment, a run
resumes from its checkpoint where the data stream stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
import logging
from pathlib import Path
import time
from typing import Any

import torch
from torch.nn import functional
from vision_banana_ros.backends.config import DiffusersOptions
from vision_banana_ros.backends.diffusion import DiffusersBackend, LORA_WEIGHTS
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.data import Batch
from vision_banana_ros.training.runs import (
    load_checkpoint,
    mean,
    mixture_batches,
    optimise,
    Progress,
    save_checkpoint,
)

__all__ = ['LoraConfig', 'LoraResult', 'lora_loss', 'tune_lora']

_LOG = logging.getLogger(__name__)
PIPELINE_FOLDER = 'pipeline'
"""Where in the run folder the tuned pipeline (base + adapter) is written."""


@dataclass(frozen=True)
class LoraConfig:
    """
    LoRA instruction-tuning of a diffusers pipeline (``tune_lora``).

    :ivar rank: LoRA rank r of every adapted projection.
    :ivar alpha: LoRA scale numerator (the update is scaled by alpha / rank).
    :ivar target_modules: the UNet's module names that get adapters (attention projections).
    :ivar minutes: wall-clock budget of this invocation.
    :ivar max_steps: stop after this many optimiser steps in all (None: the budget only).
    :ivar batch_size: examples per step.
    :ivar learning_rate: AdamW peak learning rate of the adapters.
    :ivar warmup_steps: linear warm-up from 0 (counted from the run's first step).
    :ivar grad_clip: largest gradient norm.
    :ivar checkpoint_every_s: seconds between checkpoints (and adapter saves).
    :ivar log_every_steps: steps between log lines.
    :ivar workers: data-loading processes (0: render in this process).
    :ivar device: 'auto', 'cpu' or 'cuda'.
    :ivar dtype: the frozen weights' dtype, as ``backend.diffusers.dtype`` ('auto': bf16 or
        fp16 on CUDA, fp32 on the CPU); the adapters train in float32 whatever it is.
    :ivar seed: seed of the noise and timesteps.
    """

    rank: int = 8
    alpha: int = 8
    target_modules: tuple[str, ...] = ('to_q', 'to_k', 'to_v', 'to_out.0')
    minutes: float = 60.0
    max_steps: int | None = None
    batch_size: int = 4
    learning_rate: float = 1e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    checkpoint_every_s: float = 300.0
    log_every_steps: int = 10
    workers: int = 1
    device: str = 'auto'
    dtype: str = 'auto'
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            'rank': self.rank >= 1,
            'alpha': self.alpha >= 1,
            'target_modules': bool(self.target_modules) and all(self.target_modules),
            'minutes': self.minutes > 0,
            'max_steps': self.max_steps is None or self.max_steps >= 1,
            'batch_size': self.batch_size >= 1,
            'learning_rate': self.learning_rate > 0,
            'warmup_steps': self.warmup_steps >= 0,
            'grad_clip': self.grad_clip > 0,
            'checkpoint_every_s': self.checkpoint_every_s > 0,
            'log_every_steps': self.log_every_steps >= 1,
            'workers': self.workers >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ', '.join(f'{name}={getattr(self, name)!r}' for name in bad)
            raise ValueError(f'invalid LoRA config: {values}')
        DiffusersOptions(device=self.device, dtype=self.dtype)  # validates both


@dataclass
class LoraResult:
    """
    What a LoRA run did.

    :ivar step: optimiser steps in total (all invocations).
    :ivar examples_seen: training examples consumed in total.
    :ivar seconds: wall-clock seconds of this invocation.
    :ivar last_loss: mean loss over the last 50 steps.
    :ivar pipeline: the tuned pipeline's folder (for ``backend.diffusers.path``).
    """

    step: int
    examples_seen: int
    seconds: float
    last_loss: float
    pipeline: Path


class _Parts:
    """The pipeline's components the objective needs, with the training scheduler."""

    def __init__(self, pipeline: Any) -> None:
        diffusers: Any = importlib.import_module('diffusers')  # the backend imported it
        self.unet, self.vae = pipeline.unet, pipeline.vae
        self.text_encoder, self.tokenizer = pipeline.text_encoder, pipeline.tokenizer
        self.scheduler = diffusers.DDPMScheduler.from_config(pipeline.scheduler.config)
        latent = int(self.vae.config.latent_channels)
        if int(self.unet.config.in_channels) != 2 * latent:
            raise ValueError(
                f'the UNet takes {self.unet.config.in_channels} input channels; the recipe '
                f'needs an InstructPix2Pix-style UNet with 2 x {latent} (noisy latents and the '
                "input image's latents)"
            )
        self.downsample = 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def device(self) -> torch.device:
        return torch.device(self.unet.device)


def lora_loss(parts: _Parts, batch: Batch, generator: torch.Generator) -> torch.Tensor:
    """
    InstructPix2Pix's denoising loss on one batch (what the adapters are trained on).

    :param parts: the pipeline's components.
    :param batch: uint8 (B, 3, H, W) inputs and targets on the parts' device, B prompts.
    :param generator: noise and timesteps (on the parts' device).
    :return: the scalar mean squared error, float32.
    """
    device, weights = parts.device, parts.vae.dtype
    with torch.no_grad():
        target = batch.targets.to(weights) / 127.5 - 1.0  # [-1, 1]
        original = batch.inputs.to(weights) / 127.5 - 1.0
        posterior = parts.vae.encode(target).latent_dist
        latents = posterior.sample(generator=generator) * parts.vae.config.scaling_factor
        conditioning = parts.vae.encode(original).latent_dist.mode()
        tokens = parts.tokenizer(
            batch.prompts,
            padding='max_length',
            max_length=parts.tokenizer.model_max_length,
            truncation=True,
            return_tensors='pt',
        )
        states = parts.text_encoder(tokens.input_ids.to(device))[0]
    noise = torch.randn(latents.shape, generator=generator, device=device, dtype=weights)
    count = int(parts.scheduler.config.num_train_timesteps)
    timesteps = torch.randint(
        0, count, (latents.shape[0],), generator=generator, device=device
    ).long()
    noisy = parts.scheduler.add_noise(latents, noise, timesteps)
    predicted = parts.unet(torch.cat([noisy, conditioning], dim=1), timesteps, states).sample
    kind = parts.scheduler.config.prediction_type
    if kind == 'epsilon':
        wanted = noise
    elif kind == 'v_prediction':
        wanted = parts.scheduler.get_velocity(latents, noise, timesteps)
    else:
        raise ValueError(f'the scheduler predicts {kind!r}; the recipe knows epsilon and v')
    return functional.mse_loss(predicted.float(), wanted.float())


def tune_lora(
    base: Path | str,
    run_dir: Path | str,
    config: LoraConfig | None = None,
    mixture: MixtureConfig | None = None,
) -> LoraResult:
    """
    Train (or resume) LoRA adapters on a diffusers pipeline until the budget is spent.

    :param base: the base pipeline's folder (``save_pretrained``; without an adapter).
    :param run_dir: the run's folder (created if missing; resumed if it holds a checkpoint).
    :param config: the recipe's settings.
    :param mixture: the data (a resumed run keeps the one it started with); its resolution
        must be a multiple of the VAE's downsampling (8 for Stable Diffusion).
    :return: what the run did; the tuned pipeline is in ``result.pipeline``.
    :raises ValueError: on a base folder with an adapter already, a UNet that does not take
        the input image's latents, or a resolution the VAE cannot halve to latents.
    :raises BackendError: if the base pipeline does not load (see ``DiffusersBackend``).
    """
    peft: Any = importlib.import_module('peft')
    convert_state_dict_to_diffusers = importlib.import_module(
        'diffusers.utils'
    ).convert_state_dict_to_diffusers
    config = config or LoraConfig()
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    if (Path(base) / LORA_WEIGHTS).exists():
        raise ValueError(f'{base} already holds a LoRA adapter; tune from the base pipeline')
    started = time.monotonic()
    deadline = started + config.minutes * 60.0
    state = load_checkpoint(run)
    mixture = state['mixture'] if state is not None else (mixture or MixtureConfig())
    backend = DiffusersBackend(
        DiffusersOptions(path=str(base), device=config.device, dtype=config.dtype)
    )
    pipeline = backend.pipeline
    parts = _Parts(pipeline)
    if any(side % parts.downsample for side in mixture.resolution):
        raise ValueError(
            f'the mixture renders {mixture.resolution}; each side must be a multiple of the '
            f"VAE's downsampling, {parts.downsample}"
        )
    output = run / PIPELINE_FOLDER
    if not (output / 'model_index.json').exists():
        pipeline.save_pretrained(output)  # the base, once; the adapter is saved beside it
    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.requires_grad_(False)
    parts.unet.add_adapter(
        peft.LoraConfig(
            r=config.rank,
            lora_alpha=config.alpha,
            init_lora_weights='gaussian',
            target_modules=list(config.target_modules),
        )
    )
    adapters = [p for p in parts.unet.parameters() if p.requires_grad]
    for parameter in adapters:
        parameter.data = parameter.data.float()
    optimiser = torch.optim.AdamW(adapters, lr=config.learning_rate)
    progress = Progress()
    if state is not None:
        peft.set_peft_model_state_dict(parts.unet, state['adapter'])
        optimiser.load_state_dict(state['optimiser'])
        progress = Progress(state['step'], state['position'], state['first_step'])
    parts.unet.train()
    _LOG.info('LoRA tuning from step %d, example %d', progress.step, progress.position)

    def checkpoint() -> None:
        adapter = peft.get_peft_model_state_dict(parts.unet)
        state = {
            'adapter': adapter,
            'optimiser': optimiser.state_dict(),
            'step': progress.step,
            'position': progress.position,
            'first_step': progress.first_step,
            'mixture': mixture,  # pickled: local run state, never shipped
            'config': config,
        }
        save_checkpoint(run, state)
        type(pipeline).save_lora_weights(
            output,
            unet_lora_layers=convert_state_dict_to_diffusers(adapter),
            safe_serialization=True,
        )

    generator = torch.Generator(device=parts.device).manual_seed(config.seed + progress.step)
    batches = mixture_batches(mixture, progress.position, config.batch_size, config.workers)
    try:
        optimise(
            run,
            config,
            optimiser,
            adapters,
            batches,
            lambda batch: lora_loss(parts, batch.to(parts.device), generator),
            progress,
            checkpoint,
            deadline,
        )
    finally:
        backend.close()
    seconds = time.monotonic() - started
    return LoraResult(
        progress.step, progress.position, seconds, mean(progress.losses[-50:]), output
    )
