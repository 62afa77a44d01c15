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
"""The training loop trains, checkpoints, resumes where it stopped and publishes only gains."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
import itertools
import json
import os
from pathlib import Path
import signal

import pytest
import torch
from vision_banana_ros.model.net import NetConfig
from vision_banana_ros.model.weights import read_weights_config
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.data import Batch
from vision_banana_ros.training.loop import score, train, TrainConfig
from vision_banana_ros.training.runs import CHECKPOINT, optimise, Progress

TINY_NET = NetConfig(
    height=64,
    width=96,
    channels=(8, 16, 32, 64),
    cond_dim=64,
    token_dim=64,
    head_dim=32,
    refine_channels=8,
)
TINY_DATA = MixtureConfig(resolution=(64, 96), scenes_per_batch=2)
QUICK = TrainConfig(
    minutes=0.05, batch_size=2, warmup_steps=2, workers=0, eval_frames=0, log_every_steps=1
)


pytestmark = pytest.mark.usefixtures('one_torch_thread')  # test/conftest.py


def test_a_run_checkpoints_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    first = train(tmp_path, QUICK, TINY_DATA, TINY_NET)
    assert first.step >= 1 and first.examples_seen == 2 * first.step
    state = torch.load(tmp_path / CHECKPOINT, weights_only=False)
    assert state['step'] == first.step and state['position'] == first.examples_seen
    second = train(tmp_path, QUICK)  # resumes with the run's own mixture and network
    assert second.step > first.step
    assert second.examples_seen == 2 * second.step, 'the stream continued, nothing repeated'
    log = [json.loads(line) for line in (tmp_path / 'log.jsonl').read_text().splitlines()]
    assert [entry['step'] for entry in log] == list(range(1, second.step + 1))
    assert all(entry['loss'] == entry['loss'] for entry in log), 'losses are finite numbers'


def test_a_step_budget_stops_the_run_from_fresh_weights(tmp_path: Path) -> None:
    """What ablations compare at: the same examples for each arm, no published start."""
    scratch = replace(TINY_NET, pretrained_encoder=False)
    config = replace(QUICK, minutes=5.0, max_steps=3, from_published=False)
    result = train(tmp_path, config, TINY_DATA, scratch)
    assert (result.step, result.examples_seen) == (3, 6)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=False)
    assert any(name.startswith('image_encoder.') for name in state['model'])


def test_sigterm_ends_the_budget_at_the_next_step_and_checkpoints(tmp_path: Path) -> None:
    """A scheduler's preemption (SIGTERM) stops the loop cleanly instead of killing it."""
    weight = torch.nn.Parameter(torch.ones(3))
    optimiser = torch.optim.SGD([weight], lr=0.1)
    batch = Batch(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), ['p'], ['depth'], [0])
    batches: Iterator[Batch] = itertools.repeat(batch)
    checkpoints: list[int] = []
    progress = Progress()

    def loss_of(_: Batch) -> torch.Tensor:
        if progress.step == 2:  # during the third step
            os.kill(os.getpid(), signal.SIGTERM)
        return (weight * weight).sum()

    before = signal.getsignal(signal.SIGTERM)
    config = replace(QUICK, checkpoint_every_s=3600.0)
    deadline = float('inf')  # only SIGTERM can stop it
    optimise(
        tmp_path,
        config,
        optimiser,
        [weight],
        batches,
        loss_of,
        progress,
        lambda: checkpoints.append(progress.step),
        deadline,
    )
    assert progress.step == 3, 'the step under way finishes, no other starts'
    assert checkpoints == [3]
    assert signal.getsignal(signal.SIGTERM) is before, 'the handler is put back'


def test_mismatched_resolution_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='make them equal'):
        train(tmp_path, QUICK, MixtureConfig(resolution=(64, 64)), TINY_NET)


def test_weights_are_published_only_when_they_score_better(tmp_path: Path) -> None:
    publish = tmp_path / 'weights'
    config = TrainConfig(minutes=0.02, batch_size=2, workers=0, eval_frames=1)
    result = train(tmp_path / 'run', config, TINY_DATA, TINY_NET, publish_to=publish)
    assert result.metrics and result.published
    assert read_weights_config(publish) is not None
    record = json.loads((publish / 'metrics.json').read_text())
    record['metrics'] = {'depth.delta1': 1.0, 'semantic.miou': 1.0}  # an unbeatable record
    (publish / 'metrics.json').write_text(json.dumps(record))
    again = train(tmp_path / 'run', config, publish_to=publish)
    assert not again.published


def test_score_prefers_better_accuracies() -> None:
    good = {'depth.delta1': 0.9, 'normals.mean_deg': 15.0, 'semantic.miou': 0.8}
    bad = {'depth.delta1': 0.5, 'normals.mean_deg': 40.0, 'semantic.miou': 0.2}
    assert score(good) > score(bad)
    assert score({}) == float('-inf')


def test_score_weighs_depth_absrel() -> None:
    same = {'depth.delta1': 0.4, 'normals.mean_deg': 26.0}
    assert score({**same, 'depth.absrel': 0.3}) > score({**same, 'depth.absrel': 0.9})


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match='batch_size=0'):
        TrainConfig(batch_size=0)
