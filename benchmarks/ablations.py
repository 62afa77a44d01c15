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
VB-Mini's two ablations, each arm trained from fresh weights on the same number of examples.

Arms:

- ``pretrained``: the shipped recipe (frozen ImageNet EfficientNet-Lite0, 80 % perception and
  20 % generation examples);
- ``scratch_encoder``: the same generator with the encoder trained from random weights
  (``NetConfig.pretrained_encoder=False``);
- ``no_generation``: the shipped recipe without the generation tasks (edit and reconstruct
  weights 0: perception only).

Each arm trains ``--steps`` optimiser steps of ``--batch-size`` examples (a budget in examples,
so arms compare fairly whatever else the machine runs; wall time is reported beside), one torch
thread, then is scored on the held-out synthetic frames (as in training, no scale alignment) and
on the real NYU Depth V2 frames in ../shared/data through the pipeline (``vision-banana eval
--weights``, metric and median-aligned). Run one arm per process (they can run side by side),
then ``--report``:

    .venv/bin/python benchmarks/ablations.py --arm pretrained --steps 800 --out runs/ablations
    .venv/bin/python benchmarks/ablations.py --report --out runs/ablations
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
import json
from pathlib import Path
import subprocess
import sys
import time

import torch
from vision_banana_ros.model.net import NetConfig
from vision_banana_ros.training.config import MixtureConfig, TaskWeights
from vision_banana_ros.training.loop import train, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
NYU = ROOT.parent / 'shared' / 'data' / 'nyu_depth_v2_metric3d'
ARMS = {
    'pretrained': (NetConfig(), MixtureConfig()),
    'scratch_encoder': (NetConfig(pretrained_encoder=False), MixtureConfig()),
    'no_generation': (
        NetConfig(),
        MixtureConfig(weights=replace(TaskWeights(), edit=0.0, reconstruct=0.0)),
    ),
}
SYNTHETIC = ('depth.delta1', 'depth.absrel', 'normals.mean_deg', 'semantic.miou', 'referring.ciou')
REAL = ('depth.absrel', 'depth.delta1')


def run_arm(name: str, out: Path, steps: int, batch_size: int, eval_frames: int) -> dict:
    """Train one arm for ``steps`` steps from fresh weights; score it; write its JSON."""
    torch.set_num_threads(1)
    net, mixture = ARMS[name]
    folder = out / name
    config = TrainConfig(
        minutes=24 * 60.0,
        max_steps=steps,
        from_published=False,
        batch_size=batch_size,
        workers=0,
        threads=1,
        eval_frames=eval_frames,
    )
    started = time.monotonic()
    result = train(folder / 'run', config, mixture, net, publish_to=folder / 'weights')
    record = {
        'arm': name,
        'steps': result.step,
        'examples': result.examples_seen,
        'train_minutes': round((time.monotonic() - started) / 60.0, 1),
        'last_loss': result.last_loss,
        'synthetic': result.metrics,
        'nyu': _real(folder / 'weights', folder / 'eval_nyu'),
    }
    (folder / 'ablation.json').write_text(json.dumps(record, indent=2) + '\n')
    return record


def _real(weights: Path, out: Path) -> dict[str, dict[str, float]]:
    """Score the arm's weights on the NYU frames through the pipeline: raw and median-aligned."""
    return {align: _nyu(weights, out / align, align) for align in ('none', 'median')}


def _nyu(weights: Path, out: Path, alignment: str) -> dict[str, float]:
    command = [
        str(Path(sys.executable).with_name('vision-banana')),
        'eval',
        '--data',
        str(NYU),
        '--tasks',
        'depth',
        '--weights',
        str(weights),
        '--json',
        '--depth-alignment',
        alignment,
        '-o',
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    summary: dict[str, float] = json.loads(done.stdout)
    return summary


def rescore(out: Path, arm: str) -> dict:
    """Score an arm's published weights on NYU again (e.g. after the scoring changed)."""
    path = out / arm / 'ablation.json'
    record = json.loads(path.read_text())
    record['nyu'] = _real(out / arm / 'weights', out / arm / 'eval_nyu')
    path.write_text(json.dumps(record, indent=2) + '\n')
    return record


def report(out: Path) -> str:
    """Return the arms' results as a markdown table."""
    records = [json.loads(p.read_text()) for p in sorted(out.glob('*/ablation.json'))]
    columns = [f'synthetic {k}' for k in SYNTHETIC]
    columns += [f'NYU {k}, {align}' for align in ('none', 'median') for k in REAL]
    lines = [
        '| arm | examples | train min | ' + ' | '.join(columns) + ' |\n',
        '|' + ' --- |' * (len(columns) + 3) + '\n',
    ]
    for record in records:
        cells = [record['synthetic'].get(k, float('nan')) for k in SYNTHETIC]
        cells += [record['nyu'][align][k] for align in ('none', 'median') for k in REAL]
        lines.append(
            f'| {record["arm"]} | {record["examples"]} | {record["train_minutes"]} | '
            + ' | '.join(f'{value:.3f}' for value in cells)
            + ' |\n'
        )
    return ''.join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one arm, or report them all."""
    parser = argparse.ArgumentParser(description=(__doc__ or '').strip().split('\n')[0])
    parser.add_argument('--arm', choices=sorted(ARMS))
    parser.add_argument('--report', action='store_true', help='print the table of the arms')
    parser.add_argument('--rescore', action='store_true', help="score --arm's weights on NYU")
    parser.add_argument('--steps', type=int, default=800, help='optimiser steps (default 800)')
    parser.add_argument('--batch-size', type=int, default=8, help='examples a step (8)')
    parser.add_argument('--eval-frames', type=int, default=16, help='held-out frames (16)')
    parser.add_argument('--out', type=Path, default=Path('runs/ablations'))
    args = parser.parse_args(argv)
    if args.report:
        print(report(args.out), end='')
        return 0
    if args.arm is None:
        parser.error('give --arm or --report')
    if args.rescore:
        print(json.dumps(rescore(args.out, args.arm), indent=2))
        return 0
    record = run_arm(args.arm, args.out, args.steps, args.batch_size, args.eval_frames)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
