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
``vision-banana train``: train or resume VB-Mini for a wall-clock budget.

With ``--diffusers PATH`` it instruction-tunes that pretrained diffusers pipeline with LoRA on
the same mixture instead (``training.lora``); the tuned pipeline lands in ``RUN/pipeline``.
"""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from vision_banana_ros.config import load_yaml
from vision_banana_ros.model.net import NetConfig
from vision_banana_ros.model.weights import WEIGHTS_DIR
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.loop import train as train_loop
from vision_banana_ros.training.loop import TrainConfig
from vision_banana_ros.training.lora import LoraConfig, tune_lora

SECTIONS = {'train': TrainConfig, 'mixture': MixtureConfig, 'net': NetConfig}

__all__ = ['train']


def train(
    context: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help='run folder; resumed if it holds a checkpoint')],
    minutes: Annotated[float, typer.Option(help='wall-clock budget of this invocation')] = 60.0,
    batch_size: Annotated[int, typer.Option(help='examples per step')] = 8,
    learning_rate: Annotated[float, typer.Option(help='AdamW peak learning rate')] = 3e-4,
    workers: Annotated[int, typer.Option(help='data-loading processes')] = 1,
    threads: Annotated[int, typer.Option(help='torch threads (0: default)')] = 0,
    eval_frames: Annotated[int, typer.Option(help='held-out frames scored at the end')] = 16,
    device: Annotated[str, typer.Option(help='auto, cpu or cuda')] = 'auto',
    config: Annotated[
        Path | None,
        typer.Option(help='YAML with train / mixture / net sections (see config/train.yaml)'),
    ] = None,
    publish: Annotated[
        bool, typer.Option(help=f'write the weights to {WEIGHTS_DIR} if they score better')
    ] = False,
    diffusers: Annotated[
        Path | None,
        typer.Option(
            help='LoRA-tune this saved diffusers pipeline (InstructPix2Pix) instead of VB-Mini'
        ),
    ] = None,
    lora_rank: Annotated[int, typer.Option(help='LoRA rank (with --diffusers)')] = 8,
) -> None:
    """
    Train VB-Mini on the synthetic task mixture; checkpoints let a killed run resume.

    SIGTERM ends the budget early (checkpoint, then the evaluation as at the deadline); Ctrl-C
    checkpoints and stops. With --config, the file's train section is the base and options
    given on the command line override it.
    """
    sections = load_yaml(config, SECTIONS) if config else {k: v() for k, v in SECTIONS.items()}
    overrides = {
        'minutes': minutes,
        'batch_size': batch_size,
        'learning_rate': learning_rate,
        'workers': workers,
        'threads': threads or None,
        'eval_frames': eval_frames,
        'device': device,
    }

    def given(name: str) -> bool:
        source = context.get_parameter_source(name)
        return source is not None and source.name != 'DEFAULT'

    chosen = {k: v for k, v in overrides.items() if config is None or given(k)}
    if diffusers is not None:
        fields: dict[str, Any] = {k: overrides[k] for k in ('minutes', 'batch_size', 'workers')}
        fields.update(device=device, rank=lora_rank)
        if given('learning_rate'):  # else the recipe's own default, lower than VB-Mini's
            fields['learning_rate'] = learning_rate
        _tune(run_dir, diffusers, sections['mixture'], fields, threads)
        return
    settings = replace(sections['train'], **chosen)
    result = train_loop(
        run_dir,
        settings,
        sections['mixture'],
        sections['net'],
        publish_to=WEIGHTS_DIR if publish else None,
    )
    typer.echo(
        f'step {result.step}, {result.examples_seen} examples, {result.seconds:.0f} s, '
        f'loss {result.last_loss:.4f}, published: {result.published}'
    )
    typer.echo(json.dumps(result.metrics, indent=2))


def _tune(
    run_dir: Path, base: Path, mixture: MixtureConfig, fields: dict[str, Any], threads: int
) -> None:
    """Run the LoRA recipe with the options that apply to it."""
    if threads:
        torch.set_num_threads(threads)
    result = tune_lora(base, run_dir, LoraConfig(**fields), mixture)
    typer.echo(
        f'step {result.step}, {result.examples_seen} examples, {result.seconds:.0f} s, '
        f'loss {result.last_loss:.4f}; tuned pipeline: {result.pipeline} '
        f'(backend.diffusers.path)'
    )
