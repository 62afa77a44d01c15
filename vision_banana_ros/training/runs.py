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
logged step). Both recipes use it: VB-Mini (``training.loop``) and the LoRA tuning of a
diffusers model (``training.lora``).
"""

from __future__ import annotations

from collections.abc import Iterator
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.data import Batch, collate, MixtureStream

__all__ = [
    'CHECKPOINT',
    'load_checkpoint',
    'log_step',
    'mean',
    'mixture_batches',
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
