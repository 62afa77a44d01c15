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
What every training run shares: its folder, batches from a stream position, the warm-up.

A run folder holds ``checkpoint.pt`` (rewritten atomically: a temporary file, then a rename, so
a run killed at any moment finds the previous checkpoint whole) and ``log.jsonl`` (one line per
logged step). SIGTERM (a scheduler's preemption, ``kill``, ``docker stop``) ends the budget at
the next step: the run checkpoints and finishes as at its deadline; Ctrl-C checkpoints and
stops. Both recipes use it: VB-Mini (``training.loop``) and the LoRA tuning of a diffusers
model (``training.lora``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
import json
import logging
import math
import os
from pathlib import Path
import signal
import threading
import time
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.data import Batch, collate, MixtureStream

__all__ = [
    'CHECKPOINT',
    'Progress',
    'StepSettings',
    'load_checkpoint',
    'log_step',
    'mean',
    'mixture_batches',
    'optimise',
    'save_checkpoint',
    'warmup_rate',
]

_LOG = logging.getLogger(__name__)
CHECKPOINT = 'checkpoint.pt'


def mixture_batches(
    mixture: MixtureConfig, position: int, batch_size: int, workers: int
) -> Iterator[Batch]:
    """
    Endless training batches of the mixture from a stream position.

    :param mixture: the data.
    :param position: the first example's position (a checkpoint's).
    :param batch_size: examples per batch.
    :param workers: data-loading processes (0: render in this process), one torch thread each.
    :return: the batches, uint8 images.
    """
    stream = MixtureStream(mixture, 'train', start_index=position, block_size=batch_size)
    loader = DataLoader(
        stream,
        batch_size=batch_size,
        collate_fn=collate,
        num_workers=workers,
        worker_init_fn=_one_thread if workers else None,
        persistent_workers=workers > 0,
    )
    return iter(loader)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def warmup_rate(peak: float, warmup_steps: int, steps_this_run: int) -> float:
    """Return the learning rate after a linear warm-up from 0 to ``peak`` over the steps."""
    if warmup_steps == 0:
        return peak
    return peak * min(1.0, (steps_this_run + 1) / warmup_steps)


def save_checkpoint(run: Path, state: dict[str, Any]) -> None:
    """Write ``run / CHECKPOINT`` atomically (a temporary file, then a rename)."""
    temporary = run / (CHECKPOINT + '.tmp')
    torch.save(state, temporary)
    os.replace(temporary, run / CHECKPOINT)


def load_checkpoint(run: Path) -> dict[str, Any] | None:
    """Return the run's checkpoint, or None if it has none (a local file this package wrote)."""
    path = run / CHECKPOINT
    if not path.exists():
        return None
    state: dict[str, Any] = torch.load(path, map_location='cpu', weights_only=False)
    return state


def log_step(run: Path, step: int, position: int, losses: list[float], seconds: float) -> None:
    """Append one line to ``run / 'log.jsonl'``: step, examples seen, mean recent loss, time."""
    line = {
        'step': step,
        'examples': position,
        'loss': mean(losses[-50:]),
        'seconds': round(seconds, 1),
    }
    with (run / 'log.jsonl').open('a') as log:
        log.write(json.dumps(line) + '\n')
    _LOG.info('step %d  examples %d  loss %.4f  %.0f s', step, position, line['loss'], seconds)


def mean(values: list[float]) -> float:
    """Return the mean, NaN for no values."""
    return sum(values) / len(values) if values else math.nan


class StepSettings(Protocol):
    """The optimisation settings both recipes' configs carry (``TrainConfig``, ``LoraConfig``)."""

    @property
    def learning_rate(self) -> float:
        """Return the peak learning rate."""

    @property
    def warmup_steps(self) -> int:
        """Return the steps of the linear warm-up."""

    @property
    def grad_clip(self) -> float:
        """Return the largest gradient norm."""

    @property
    def log_every_steps(self) -> int:
        """Return the steps between log lines."""

    @property
    def checkpoint_every_s(self) -> float:
        """Return the seconds between checkpoints."""

    @property
    def max_steps(self) -> int | None:
        """Return the steps to stop after in all, or None."""


@dataclass
class Progress:
    """
    Where a run is: what its checkpoint stores and resumes from.

    :ivar step: optimiser steps in all invocations.
    :ivar position: the data stream position (examples consumed).
    :ivar first_step: the step the run's warm-up counts from (0: the run's first).
    :ivar losses: this invocation's losses, one per step.
    """

    step: int = 0
    position: int = 0
    first_step: int = 0
    losses: list[float] = field(default_factory=list)


def optimise(
    run: Path,
    settings: StepSettings,
    optimiser: torch.optim.Optimizer,
    parameters: list[torch.nn.Parameter],
    batches: Iterator[Batch],
    loss_of: Callable[[Batch], torch.Tensor],
    progress: Progress,
    checkpoint: Callable[[], None],
    deadline: float,
) -> None:
    """
    Take optimiser steps until the deadline or ``settings.max_steps``; checkpoint as it goes.

    Each step: the warm-up learning rate, ``loss_of(batch)``, backward, gradient clipping,
    an optimiser step; a log line every ``log_every_steps``; ``checkpoint()`` every
    ``checkpoint_every_s`` and once more on the way out, whatever stops the loop.

    :param run: the run folder (for the log).
    :param settings: the recipe's optimisation settings.
    :param optimiser: over ``parameters``.
    :param parameters: the trained parameters (clipped together).
    :param batches: the training batches, from the progress's position.
    :param loss_of: a batch's scalar loss.
    :param progress: updated in place.
    :param checkpoint: writes the run's checkpoint from ``progress``.
    :param deadline: ``time.monotonic()`` at which to stop.
    """
    started = time.monotonic()
    last_checkpoint = started
    with _terminate_ends_the_budget() as terminated:
        try:
            while (
                time.monotonic() < deadline
                and not terminated.is_set()
                and (settings.max_steps is None or progress.step < settings.max_steps)
            ):
                batch = next(batches)
                for group in optimiser.param_groups:
                    since = progress.step - progress.first_step
                    group['lr'] = warmup_rate(settings.learning_rate, settings.warmup_steps, since)
                loss = loss_of(batch)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(parameters, settings.grad_clip)
                optimiser.step()
                progress.step += 1
                progress.position += len(batch.prompts)
                progress.losses.append(loss.item())
                if progress.step % settings.log_every_steps == 0:
                    seconds = time.monotonic() - started
                    log_step(run, progress.step, progress.position, progress.losses, seconds)
                if time.monotonic() - last_checkpoint > settings.checkpoint_every_s:
                    checkpoint()
                    last_checkpoint = time.monotonic()
        finally:
            checkpoint()  # whatever stops the loop, an exception too
    if terminated.is_set():
        _LOG.warning('SIGTERM: stopped at step %d, checkpointed', progress.step)


@contextlib.contextmanager
def _terminate_ends_the_budget() -> Iterator[threading.Event]:
    """
    Turn SIGTERM into an event the loop polls, while the loop runs (main thread only).

    :return: the event, set once SIGTERM arrives; the previous handler is restored on exit.
    """
    terminated = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield terminated  # signal handlers belong to the main thread: the default stays
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)
