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
VB-Mini's training curves: the loss over examples seen, and the held-out scores at each run's end.

The run folder's ``log.jsonl`` (a line every 10 steps) and ``eval.jsonl`` (a line per run) are
not committed (run folders never are); ``--run`` condenses them into two small CSVs beside this
script, which are, and the plot is drawn from those:

Run: .venv/bin/python docs/figures/plot_training_curves.py [--run runs/vbmini-1]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib
import numpy as np

HERE = Path(__file__).resolve().parent
LOSS_CSV = HERE / 'training_loss.csv'
EVAL_CSV = HERE / 'training_eval.csv'
STEPS_PER_ROW = 100  # logged steps averaged into one CSV row
EVAL_COLUMNS = (
    'depth.delta1',
    'depth.absrel',
    'normals.mean_deg',
    'semantic.miou',
    'referring.ciou',
    'instances.f1',
)


def main() -> None:
    """Condense a run's logs if asked, then plot the CSVs."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--run', type=Path, help='a run folder to condense into the CSVs first')
    args = parser.parse_args()
    if args.run is not None:
        _condense(args.run)
    _plot()


def _condense(run: Path) -> None:
    """Write the loss averaged over every STEPS_PER_ROW steps, and the evaluations."""
    logged = [json.loads(line) for line in (run / 'log.jsonl').read_text().splitlines()]
    with LOSS_CSV.open('w', newline='', encoding='utf-8') as handle:
        writer = csv.writer(handle)
        writer.writerow(['step', 'examples', 'loss'])
        per_row = max(1, STEPS_PER_ROW // max(1, logged[1]['step'] - logged[0]['step']))
        for start in range(0, len(logged), per_row):
            chunk = logged[start : start + per_row]
            loss = float(np.mean([entry['loss'] for entry in chunk]))
            writer.writerow([chunk[-1]['step'], chunk[-1]['examples'], f'{loss:.5f}'])
    evaluated = [json.loads(line) for line in (run / 'eval.jsonl').read_text().splitlines()]
    with EVAL_CSV.open('w', newline='', encoding='utf-8') as handle:
        writer = csv.writer(handle)
        writer.writerow(['step', 'examples', *EVAL_COLUMNS])
        for entry in evaluated:
            scores = [f'{entry[name]:.4f}' for name in EVAL_COLUMNS]
            writer.writerow([entry['step'], entry['examples'], *scores])
    print(f'wrote {LOSS_CSV.name} ({len(logged)} logged steps) and {EVAL_CSV.name}')


def _plot() -> None:
    """Draw the loss and the held-out scores against examples seen."""
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    loss = _read(LOSS_CSV)
    scores = _read(EVAL_CSV)
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4))
    left.plot(loss['examples'] / 1e3, loss['loss'], lw=1)
    left.set_yscale('log')
    left.set_title(f'training loss (x0 MSE, mean of {STEPS_PER_ROW} steps)', fontsize=9)
    kilo = scores['examples'] / 1e3
    for name, marker in (
        ('depth.delta1', 'o'),
        ('semantic.miou', 's'),
        ('instances.f1', '^'),
        ('referring.ciou', 'v'),
    ):
        middle.plot(kilo, scores[name], marker=marker, label=name)
    middle.plot(kilo, 1.0 / (1.0 + scores['depth.absrel']), marker='x', label='1 / (1 + AbsRel)')
    middle.set_ylim(0, 1)
    middle.set_title('held-out synthetic scores, 16 frames (higher is better)', fontsize=9)
    middle.legend(fontsize=7)
    right.plot(kilo, scores['normals.mean_deg'], marker='o', color='tab:purple')
    right.axhline(15.0, color='grey', ls='--', lw=1, label='target 15 deg')
    right.set_title('held-out normals, mean angular error (deg)', fontsize=9)
    right.legend(fontsize=7)
    for axis in (left, middle, right):
        axis.set_xlabel('examples seen (thousands)')
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(HERE / 'training_curves.png', dpi=100)
    print(f'wrote {HERE / "training_curves.png"}')


def _read(path: Path) -> dict[str, np.ndarray]:
    with path.open(encoding='utf-8') as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


if __name__ == '__main__':
    main()
