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
One readable, resumable training loop for VB-Mini, with a wall-clock budget.

A run lives in a folder: ``checkpoint.pt`` (trained parameters, optimiser, step, stream position
and configs, rewritten atomically every few minutes and on exit), ``log.jsonl`` (one line per
logged step) and ``eval.jsonl`` (held-out metrics). Killed at any moment, a run resumes from
its last checkpoint and sees the data stream exactly where it stopped. A new run starts from the
package's published weights when they exist, so training carries across sessions through the
committed weights, never through optimiser states in the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import logging
import math
from pathlib import Path
import time
from typing import Any

import torch
from vision_banana_ros.model.flow import flow_matching_loss
from vision_banana_ros.model.generator import default_dtype, Generator
from vision_banana_ros.model.net import NetConfig, VBMini
from vision_banana_ros.model.weights import (
    load_model,
    read_weights_config,
    save_weights,
    WEIGHTS_DIR,
)
from vision_banana_ros.synth.splits import HELD_OUT_TEST, HeldOutSet
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.data import Batch
from vision_banana_ros.training.evaluation import evaluate_outputs, held_out_examples
from vision_banana_ros.training.runs import (
    load_checkpoint,
    mean,
    mixture_batches,
    optimise,
    Progress,
    save_checkpoint,
)

__all__ = ['TrainConfig', 'TrainResult', 'evaluate_model', 'headline_metrics', 'train']

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """
    How long and how to train; the data and the network have their own configs.

    :ivar minutes: wall-clock budget of this invocation (a resumed run gets a fresh budget).
    :ivar max_steps: stop after this many optimiser steps in all invocations (None: the
        wall-clock budget alone): a budget in examples, which ablations compare at.
    :ivar from_published: a new run starts from the package's published weights when their
        network config matches; False starts from fresh weights (ablations).
    :ivar batch_size: examples per optimiser step.
    :ivar learning_rate: AdamW peak learning rate.
    :ivar weight_decay: AdamW weight decay.
    :ivar warmup_steps: linear warm-up from 0 to the peak (counted from the run's first step).
    :ivar grad_clip: largest gradient norm.
    :ivar checkpoint_every_s: seconds between checkpoints.
    :ivar log_every_steps: steps between log lines.
    :ivar eval_frames: held-out frames scored at the end of the run (0 disables).
    :ivar workers: data-loading processes (0: render in the training process).
    :ivar threads: torch threads for the training process (None: torch's default).
    :ivar device: 'auto', 'cpu' or 'cuda'.
    :ivar seed: seed of noise and times in the loss.
    """

    minutes: float = 60.0
    max_steps: int | None = None
    from_published: bool = True
    batch_size: int = 8
    learning_rate: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 200
    grad_clip: float = 1.0
    checkpoint_every_s: float = 300.0
    log_every_steps: int = 10
    eval_frames: int = 16
    workers: int = 1
    threads: int | None = None
    device: str = 'auto'
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            'minutes': self.minutes > 0,
            'max_steps': self.max_steps is None or self.max_steps >= 1,
            'batch_size': self.batch_size >= 1,
            'learning_rate': self.learning_rate > 0,
            'weight_decay': self.weight_decay >= 0,
            'warmup_steps': self.warmup_steps >= 0,
            'grad_clip': self.grad_clip > 0,
            'checkpoint_every_s': self.checkpoint_every_s > 0,
            'log_every_steps': self.log_every_steps >= 1,
            'eval_frames': self.eval_frames >= 0,
            'workers': self.workers >= 0,
            'threads': self.threads is None or self.threads >= 1,
            'device': self.device in ('auto', 'cpu', 'cuda'),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ', '.join(f'{name}={getattr(self, name)!r}' for name in bad)
            raise ValueError(f'invalid training config: {values}')


@dataclass
class TrainResult:
    """
    What a run did.

    :ivar step: optimiser steps taken in total (all invocations).
    :ivar examples_seen: training examples consumed in total.
    :ivar seconds: wall-clock seconds of this invocation.
    :ivar last_loss: mean loss over the last logged window.
    :ivar metrics: held-out metrics at the end ({} if not evaluated).
    :ivar published: whether the weights were written to the publish folder.
    """

    step: int
    examples_seen: int
    seconds: float
    last_loss: float
    metrics: dict[str, float] = field(default_factory=dict)
    published: bool = False


def train(
    run_dir: Path | str,
    config: TrainConfig | None = None,
    mixture: MixtureConfig | None = None,
    net: NetConfig | None = None,
    *,
    publish_to: Path | str | None = None,
) -> TrainResult:
    """
    Train (or resume) until the wall-clock budget is spent, then checkpoint and evaluate.

    :param run_dir: the run's folder (created if missing; resumed if it holds a checkpoint).
    :param config: loop settings.
    :param mixture: the data mixture (a resumed run keeps the one it started with).
    :param net: the network config for a new run (default: NetConfig()).
    :param publish_to: folder to publish the weights to (e.g. WEIGHTS_DIR) if the run's
        held-out score beats the weights already there.
    :return: what the run did.
    """
    config = config or TrainConfig()
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _device(config.device)
    started = time.monotonic()
    deadline = started + config.minutes * 60.0

    # 1. Model, optimiser and position: from the checkpoint, else the published weights.
    state = load_checkpoint(run)
    if state is not None:
        mixture = state['mixture'] if mixture is None else mixture
        model = VBMini(NetConfig.from_dict(state['net']))
        model.load_state_dict(state['model'], strict=False)
    else:
        mixture = mixture or MixtureConfig()
        model = _initial_model(net) if config.from_published else VBMini(net or NetConfig())
    if tuple(mixture.resolution) != model.config.image_size:
        raise ValueError(
            f'the mixture renders {mixture.resolution} but the network is built for '
            f'{model.config.image_size}; make them equal'
        )
    model.to(device).train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        parameters, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    progress = Progress()
    if state is not None:
        optimiser.load_state_dict(state['optimiser'])
        progress = Progress(state['step'], state['position'], state['first_step'])
    _LOG.info('training from step %d, example %d, on %s', progress.step, progress.position, device)

    # 2. Loop until the budget is spent.
    autocast_dtype = default_dtype(device)
    noise = torch.Generator(device=device).manual_seed(config.seed + progress.step)

    def loss_of(batch: Batch) -> torch.Tensor:
        on_device = batch.to(device)
        with torch.autocast(
            device.type, dtype=autocast_dtype, enabled=autocast_dtype != torch.float32
        ):
            return flow_matching_loss(model, *_images(on_device), on_device.prompts, noise)

    def checkpoint() -> None:
        state = {
            'model': _trained_state(model),
            'optimiser': optimiser.state_dict(),
            'step': progress.step,
            'position': progress.position,
            'first_step': progress.first_step,
            'net': model.config.to_dict(),
            'mixture': mixture,  # pickled: local run state, never shipped
        }
        save_checkpoint(run, state)

    batches = mixture_batches(mixture, progress.position, config.batch_size, config.workers)
    optimise(run, config, optimiser, parameters, batches, loss_of, progress, checkpoint, deadline)

    # 3. Evaluate and publish.
    step, position = progress.step, progress.position
    result = TrainResult(step, position, time.monotonic() - started, mean(progress.losses[-50:]))
    if config.eval_frames:
        result.metrics = headline_metrics(evaluate_model(model, mixture, config.eval_frames))
        with (run / 'eval.jsonl').open('a') as log:
            log.write(json.dumps({'step': step, 'examples': position, **result.metrics}) + '\n')
    if publish_to is not None and result.metrics:
        result.published = _publish(model, Path(publish_to), result)
    return result


def evaluate_model(
    model: VBMini, mixture: MixtureConfig, frames: int, held_out: HeldOutSet | None = None
) -> Any:
    """
    Score a network on the first frames of the held-out synthetic test set.

    :param model: the network (left in train mode afterwards if it was).
    :param mixture: colours and visibility thresholds of the examples.
    :param frames: how many held-out frames.
    :param held_out: the frame set (default: the fixed test set).
    :return: the harness's EvaluationReport.
    """
    examples = held_out_examples(mixture, held_out or HELD_OUT_TEST, indices=range(frames))
    was_training = model.training
    generator = Generator(model, trained=True, device=model.device)
    outputs = [generator.generate(e.rgb[None], [e.prompt])[0] for e in examples]
    model.train(was_training)
    return evaluate_outputs(examples, outputs)


def headline_metrics(report: Any) -> dict[str, float]:
    """
    Pick the figures the model card and the publish decision use, keyed 'task.metric'.

    :param report: an EvaluationReport.
    :return: e.g. {'depth.delta1': 0.91, 'depth.absrel': 0.1, 'normals.mean_deg': 14.0, ...}.
    """
    wanted = {
        'depth': ('delta1', 'abs_rel'),
        'normals': ('mean_deg', 'median_deg'),
        'semantic': ('miou',),
        'referring': ('ciou', 'giou'),
        'instances': ('f1',),
    }
    metrics: dict[str, float] = {}
    for row in report.rows:
        for name in wanted.get(row.task, ()):
            metrics[f'{row.task}.{name.replace("abs_rel", "absrel")}'] = float(
                getattr(row.metrics, name)
            )
    return metrics


def score(metrics: dict[str, float]) -> float:
    """
    One number to compare runs: the mean of the headline accuracies (higher is better).

    :param metrics: headline_metrics output.
    :return: mean of depth delta1, 1 / (1 + depth AbsRel), 1 - normals mean / 90 deg, semantic
        mIoU, referring cIoU and instance F1, over those present.
    """
    parts = [
        metrics.get('depth.delta1'),
        None if 'depth.absrel' not in metrics else 1.0 / (1.0 + metrics['depth.absrel']),
        None if 'normals.mean_deg' not in metrics else 1.0 - metrics['normals.mean_deg'] / 90.0,
        metrics.get('semantic.miou'),
        metrics.get('referring.ciou'),
        metrics.get('instances.f1'),
    ]
    present = [p for p in parts if p is not None and math.isfinite(p)]
    return sum(present) / len(present) if present else -math.inf


def _device(name: str) -> torch.device:
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(name)


def _initial_model(net: NetConfig | None) -> VBMini:
    published = read_weights_config(WEIGHTS_DIR)
    if published is not None and (net is None or NetConfig.from_dict(published['model']) == net):
        model, _ = load_model(WEIGHTS_DIR)
        _LOG.info('starting from the published weights in %s', WEIGHTS_DIR)
        return model
    return VBMini(net or NetConfig())


def _images(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Return inputs and targets as (B, 3, H, W) float in [0, 1], channels-last."""
    image = (batch.inputs.float() / 255.0).contiguous(memory_format=torch.channels_last)
    target = (batch.targets.float() / 255.0).contiguous(memory_format=torch.channels_last)
    return image, target


def _trained_state(model: VBMini) -> dict[str, torch.Tensor]:
    names = set(model.trained_parameter_names())
    return {k: v for k, v in model.state_dict().items() if k in names}


def _publish(model: VBMini, folder: Path, result: TrainResult) -> bool:
    """Write the weights if their held-out score beats the ones already there."""
    record = folder / 'metrics.json'
    previous = json.loads(record.read_text())['metrics'] if record.exists() else {}
    if previous and score(result.metrics) <= score(previous):
        _LOG.info(
            'not publishing: score %.4f <= published %.4f', score(result.metrics), score(previous)
        )
        return False
    save_weights(model, folder)
    document = {
        'metrics': result.metrics,
        'step': result.step,
        'examples_seen': result.examples_seen,
    }
    record.write_text(json.dumps(document, indent=2) + '\n')
    return True
