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
"""The LoRA recipe on a tiny randomly initialised InstructPix2Pix pipeline built here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from tiny_diffusers import diffusers, tiny_components
import torch
from typer.testing import CliRunner
from vision_banana_ros.backends import DiffusersOptions
from vision_banana_ros.backends.diffusion import DiffusersBackend, LORA_WEIGHTS
from vision_banana_ros.cli.main import app
from vision_banana_ros.training import collate, MixtureConfig, MixtureStream
from vision_banana_ros.training.lora import _Parts, lora_loss, LoraConfig, tune_lora
from vision_banana_ros.training.runs import CHECKPOINT

peft = pytest.importorskip('peft', reason='peft is not installed')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
MIXTURE = MixtureConfig(resolution=(32, 32), scenes_per_batch=2)
QUICK = LoraConfig(
    rank=4,
    batch_size=2,
    workers=0,
    device='cpu',
    dtype='float32',
    warmup_steps=0,
    max_steps=2,
    log_every_steps=1,
)


pytestmark = pytest.mark.usefixtures('one_torch_thread')  # test/conftest.py


@pytest.fixture(scope='module')
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp('lora') / 'base'
    diffusers.StableDiffusionInstructPix2PixPipeline(**tiny_components(8)).save_pretrained(folder)
    return folder


def test_the_adapters_learn_a_batch(base: Path) -> None:
    """Overfitting one mixture batch: the denoising loss falls, the frozen weights hold."""
    backend = DiffusersBackend(DiffusersOptions(path=str(base), device='cpu', dtype='float32'))
    parts = _Parts(backend.pipeline)
    frozen = {k: v.clone() for k, v in parts.unet.state_dict().items()}
    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.requires_grad_(False)
    parts.unet.add_adapter(
        peft.LoraConfig(
            r=4,
            lora_alpha=4,
            init_lora_weights='gaussian',
            target_modules=list(LoraConfig().target_modules),
        )
    )
    adapters = [p for p in parts.unet.parameters() if p.requires_grad]
    assert adapters
    optimiser = torch.optim.AdamW(adapters, lr=3e-2)
    batch = collate(MixtureStream(MIXTURE).examples([0, 1]))

    def loss_at(seed: int) -> float:
        with torch.no_grad():
            return lora_loss(parts, batch, torch.Generator().manual_seed(seed)).item()

    before = np.mean([loss_at(s) for s in range(4)])
    for step in range(60):
        loss = lora_loss(parts, batch, torch.Generator().manual_seed(step % 4))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = np.mean([loss_at(s) for s in range(4)])
    assert after < 0.95 * before, (before, after)  # seeded: 1.14 -> 1.02 (a tiny UNet)
    for name, value in parts.unet.state_dict().items():
        if 'lora' not in name:
            assert torch.equal(value, frozen[name.replace('.base_layer', '')]), name


def test_a_run_writes_a_pipeline_the_backend_loads_and_resumes(base: Path, tmp_path: Path) -> None:
    run = tmp_path / 'run'
    first = tune_lora(base, run, QUICK, MIXTURE)
    assert (first.step, first.examples_seen) == (2, 4)
    assert (run / CHECKPOINT).is_file() and (first.pipeline / LORA_WEIGHTS).is_file()
    lines = [json.loads(line) for line in (run / 'log.jsonl').read_text().splitlines()]
    assert [line['step'] for line in lines] == [1, 2]
    assert all(np.isfinite(line['loss']) for line in lines)
    # Resumed: the same stream, further on.
    again = tune_lora(base, run, LoraConfig(**{**QUICK.__dict__, 'max_steps': 3}))
    assert (again.step, again.examples_seen) == (3, 6)
    tuned = DiffusersBackend(
        DiffusersOptions(
            path=str(again.pipeline), device='cpu', dtype='float32', height=32, width=32, steps=1
        )
    )
    plain = DiffusersBackend(
        DiffusersOptions(
            path=str(base), device='cpu', dtype='float32', height=32, width=32, steps=1
        )
    )
    assert tuned.lora and not plain.lora
    image = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    )
    prompt = ['Generate a depth visualization of this image.']
    drawn = tuned.generate(image, prompt, [0])
    assert drawn.shape == (1, 32, 32, 3) and drawn.dtype == torch.uint8
    assert not torch.equal(drawn, plain.generate(image, prompt, [0])), 'the adapter changes it'


def test_bad_bases_and_settings_are_refused(base: Path, tmp_path: Path) -> None:
    img2img = tmp_path / 'img2img'
    diffusers.StableDiffusionImg2ImgPipeline(**tiny_components(4)).save_pretrained(img2img)
    with pytest.raises(ValueError, match='InstructPix2Pix-style UNet'):
        tune_lora(img2img, tmp_path / 'a', QUICK, MIXTURE)
    with pytest.raises(ValueError, match="multiple of the VAE's downsampling"):
        tune_lora(base, tmp_path / 'b', QUICK, MixtureConfig(resolution=(33, 32)))
    with pytest.raises(ValueError, match='rank=0'):
        LoraConfig(rank=0)
    with pytest.raises(ValueError, match=r'backend\.diffusers'):
        LoraConfig(device='tpu')


def test_the_train_command_tunes_a_diffusers_pipeline(base: Path, tmp_path: Path) -> None:
    config = tmp_path / 'train.yaml'
    config.write_text('mixture:\n  resolution: [32, 32]\n  scenes_per_batch: 2\n')
    run = tmp_path / 'run'
    arguments = ['train', str(run), '--diffusers', str(base), '--config', str(config)]
    options = ['--minutes', '0.2', '--batch-size', '2', '--workers', '0', '--device', 'cpu']
    result = CliRunner().invoke(app, [*arguments, *options, '--lora-rank', '2'])
    assert result.exit_code == 0, result.output
    assert f'tuned pipeline: {run / "pipeline"}' in result.output
    assert (run / 'pipeline' / LORA_WEIGHTS).is_file()
    backend = DiffusersBackend(DiffusersOptions(path=str(run / 'pipeline'), device='cpu'))
    assert backend.lora
