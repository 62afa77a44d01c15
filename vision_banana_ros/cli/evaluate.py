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
``vision-banana eval``: score a generator backend with the metrics harness.

Two kinds of frames:

- ``--data DIR``: real frames in ``datasets``' layout, or a shared folder by name
  (``nyu_depth_v2_metric3d``, ``coco_val2017``, ...). Every frame goes through the perception
  pipeline at the camera's resolution; a task is scored where the frame has its ground truth:
  depth with the dataset's protocol (NYU: Eigen crop, 10 m), normals, semantic (one prompt
  naming all of the dataset's classes, absent ones included), instances (one prompt per class
  present in the frame, as SA-Co/Gold asks only about present classes) and referring.
- ``--synthetic N``: the first N frames of the held-out synthetic test set (``synth-test-v1``,
  scene seeds training never uses) at the set's resolution, prompted and decoded exactly as
  training's periodic evaluation does (``training.evaluation``), so the numbers match
  ``docs/MODEL_CARD.md``. ``--backend oracle`` answers each prompt with its own ground truth
  drawn through the encoders: what the codecs and the scoring alone lose.

Writes ``summary.md`` (the harness's tables), ``summary.json`` (headline metrics named
'task.metric' as ``training.loop.headline_metrics``), ``per_frame.csv`` (one row per frame and
task), ``depth_scatter.png`` and ``error_maps/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import csv
from dataclasses import dataclass, field, fields, replace
import json
import math
from pathlib import Path
import re
import sys
import time
from typing import Annotated, Any

import numpy as np
import typer
from vision_banana_ros.backends import Backend
from vision_banana_ros.cli import options
from vision_banana_ros.cli.files import atomic_path, write_png
from vision_banana_ros.datasets import (
    Frame,
    FrameFolder,
    read_layout,
    read_shared,
    SHARED_DATASETS,
)
from vision_banana_ros.metrics.depth import DEFAULT_DEPTH_PROTOCOL, DEPTH_ALIGNMENTS
from vision_banana_ros.metrics.harness import (
    DATASET_DEPTH_PROTOCOLS,
    EvaluationReport,
    Prediction,
    TASKS,
)
from vision_banana_ros.metrics.harness import evaluate as harness_evaluate
from vision_banana_ros.pipeline import CameraFrame, Pipeline, PipelineConfig, TasksConfig
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.synth.splits import HELD_OUT_TEST
from vision_banana_ros.tensors import as_tensor
from vision_banana_ros.training.config import MixtureConfig
from vision_banana_ros.training.evaluation import decode_prediction, held_out_examples
from vision_banana_ros.training.example import Example
from vision_banana_ros.training.loop import headline_metrics

__all__ = ['evaluate', 'summary_json']

_Frames = Sequence[Frame] | FrameFolder

_CHUNK_FRAMES = 4  # held-out frames rendered at once
_SCATTER_PER_FRAME = 3000  # depth pixels each frame adds to the scatter plot
_BANNED = re.compile(r'["{}\[\]()<>:;,.#]+')  # characters a class name in a prompt cannot hold


def evaluate(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            '--data',
            metavar='DIR',
            help='a folder in the datasets layout (frames.json, rgb/, depth/, ...) or a shared '
            'folder by path or name, e.g. nyu_depth_v2_metric3d (repeatable)',
        ),
    ] = None,
    synthetic: Annotated[
        int | None,
        typer.Option(
            '--synthetic',
            metavar='N',
            help=f'the first N frames (1-{HELD_OUT_TEST.frames}) of the held-out synthetic test '
            'set, scored as training scores it',
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option('--out', '-o', metavar='DIR', help='where the tables and plots go')
    ] = Path('out/eval'),
    as_json: Annotated[
        bool,
        typer.Option(
            '--json',
            help="print only the summary, as one JSON object ('depth.delta1', ...; one object "
            'per dataset when there are several)',
        ),
    ] = False,
    tasks: Annotated[
        str | None,
        typer.Option(
            '--tasks', metavar='LIST', help=f'score only these, of {",".join(TASKS)} (--data)'
        ),
    ] = None,
    error_maps: Annotated[
        int,
        typer.Option('--error-maps', metavar='N', help='draw error maps of the first N frames'),
    ] = 8,
    depth_alignment: Annotated[
        str,
        typer.Option(
            '--depth-alignment',
            metavar='HOW',
            help=f'align depth to the ground truth before scoring real frames: '
            f'{", ".join(DEPTH_ALIGNMENTS)} (each dataset keeps its crop and range)',
        ),
    ] = 'none',
    config: options.ConfigOption = None,
    settings: options.SetOption = None,
    backend: options.BackendOption = None,
    device: options.DeviceOption = None,
    weights: options.WeightsOption = None,
    steps: options.StepsOption = None,
    samples: options.SamplesOption = None,
    threads: options.ThreadsOption = None,
) -> None:
    """
    Score a generator on real frames or the held-out synthetic set; write tables and plots.

    Prints the harness's tables (one per task, a row per dataset) and writes summary.md,
    summary.json, per_frame.csv, depth_scatter.png (prediction against ground truth) and
    error_maps/ into --out. Real frames go through the whole pipeline; --synthetic frames go
    straight to the generator at the held-out set's resolution, as during training, so the
    figures match docs/MODEL_CARD.md (of the pipeline settings, only the backend's apply
    there). The first Ctrl-C stops after the current frame and scores what was done.

    Typical use:

        vision-banana eval --data nyu_depth_v2_metric3d

        vision-banana eval --data ../shared/data/coco_val2017 --tasks semantic

        vision-banana eval --synthetic 16 --json

        vision-banana eval --synthetic 16 --backend oracle    # sanity: near-perfect scores
    """
    started = time.perf_counter()
    if (data is None) == (synthetic is None):
        raise ValueError('give either --data DIR or --synthetic N')
    if synthetic is not None and not 1 <= synthetic <= HELD_OUT_TEST.frames:
        raise ValueError(f'--synthetic must be 1-{HELD_OUT_TEST.frames}, got {synthetic}')
    if error_maps < 0:
        raise ValueError(f'--error-maps must be >= 0, got {error_maps}')
    wanted = TASKS if tasks is None else options.split_list(tasks, '--tasks')
    unknown = [t for t in wanted if t not in TASKS]
    if unknown:
        raise ValueError(f'--tasks: unknown {", ".join(unknown)}; choose from {", ".join(TASKS)}')
    flags = options.PipelineFlags(
        config=config,
        settings=tuple(settings or ()),
        backend=backend,
        device=device,
        weights=weights,
        steps=steps,
        samples=samples,
        threads=threads,
    )
    if depth_alignment not in DEPTH_ALIGNMENTS:
        raise ValueError(
            f'--depth-alignment: {depth_alignment!r}; choose from {", ".join(DEPTH_ALIGNMENTS)}'
        )
    pipeline_config = options.build_config(flags)
    if out.exists() and not out.is_dir():
        raise ValueError(f'--out {out}: exists and is not a folder')
    if data is not None and flags.oracle:
        options.open_backend(pipeline_config, flags)  # raises: the oracle needs rendered scenes
    sources = [] if data is None else [_open_data(path) for path in data]
    recorder = _Recorder(error_maps)
    if synthetic is not None:
        method, report, stopped = _synthetic(synthetic, flags, pipeline_config, recorder)
        frames_total = synthetic
    else:
        method, report, stopped = _real(
            sources, wanted, pipeline_config, recorder, depth_alignment
        )
        frames_total = sum(len(frames) for _, frames in sources)
    summary = summary_json(report)
    written = _write(out, report, summary, recorder, method)
    elapsed = time.perf_counter() - started
    note = f'{recorder.frames} of {frames_total} frames scored in {elapsed:.1f} s; {method}'
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
        typer.echo(note, err=True)
    else:
        typer.echo(report.to_markdown() or 'nothing was scored (no frame has ground truth)')
        typer.echo(note)
        typer.echo(f'wrote {out}/: {", ".join(written)}')
    if stopped:
        typer.echo(f'interrupted: scored {recorder.frames} of {frames_total} frames', err=True)
        raise typer.Exit(130)


def summary_json(report: EvaluationReport) -> dict[str, Any]:
    """
    Headline metrics of a report, named 'task.metric' as training's ``headline_metrics``.

    :param report: the harness's report.
    :return: {'depth.delta1': ..., ...} for one dataset; {dataset: {...}} for several.
    """
    datasets = sorted({row.dataset for row in report.rows})
    per_dataset = {
        name: headline_metrics(
            EvaluationReport(tuple(r for r in report.rows if r.dataset == name))
        )
        for name in datasets
    }
    if len(per_dataset) == 1:
        return next(iter(per_dataset.values()))
    return per_dataset


# ---------------------------------------------------------------------------------------------
# Real frames


def _open_data(path: Path) -> tuple[str, _Frames]:
    """Open a --data folder: a shared folder (by path or bare name) or the user layout."""
    name = path.name
    if name in SHARED_DATASETS and (path.is_dir() or not path.exists()):
        root = path.parent if path.is_dir() else None
        return name, read_shared(name, root)
    if path.is_dir() and (path / 'frames.json').is_file():
        return str(path), read_layout(path)
    if path.is_dir():
        raise ValueError(
            f'--data {path}: no frames.json; expected the layout of vision_banana_ros.datasets '
            f'(frames.json, rgb/, depth/, ...) or a shared folder ({", ".join(SHARED_DATASETS)})'
        )
    raise ValueError(
        f'--data {path}: no such folder, and not a shared folder name '
        f'({", ".join(SHARED_DATASETS)})'
    )


def _real(
    sources: list[tuple[str, _Frames]],
    wanted: Sequence[str],
    config: PipelineConfig,
    recorder: _Recorder,
    depth_alignment: str,
) -> tuple[str, EvaluationReport, bool]:
    """Run the pipeline on every frame (independent frames: no smoothing) and score it."""
    protocols = {
        dataset: replace(protocol, alignment=depth_alignment)
        for dataset, protocol in DATASET_DEPTH_PROTOCOLS.items()
    }
    generator = options.open_backend(config, options.PipelineFlags())
    pipelines: dict[TasksConfig, Pipeline] = {}
    total = sum(len(frames) for _, frames in sources)
    method = generator.name or 'backend'
    lookups: dict[str, np.ndarray] = {}

    def predict(frame: Frame) -> Prediction:
        tasks, lookup = _frame_tasks(frame, config.tasks, wanted)
        lookups[frame.name] = lookup
        if tasks not in pipelines:
            still = replace(config.smoothing, enabled=False)
            independent = replace(config, tasks=tasks, cloud=False, smoothing=still)
            pipelines[tasks] = Pipeline(independent, generator)
        result = pipelines[tasks].process(CameraFrame(frame.rgb, frame.intrinsics))
        labels = None
        if result.semantic is not None:
            labels = lookup[result.semantic.labels.astype(np.int64)]
        prediction = Prediction(
            depth_m=result.depth_m,
            normals=result.normals,
            labels=labels,
            instances=result.instance_ids if tasks.instance_classes else None,
            referring_mask=result.referring[0].mask if result.referring else None,
        )
        recorder.record(frame, prediction, method, None)
        return prediction

    default = replace(DEFAULT_DEPTH_PROTOCOL, alignment=depth_alignment)  # unlisted datasets

    with options.graceful_stop() as stop, options.progress(total, 'scoring', 'frames') as advance:

        def frames() -> Iterator[Frame]:
            for _, source in sources:
                for frame in source:
                    if stop.requested:
                        return
                    if _has_task(frame, wanted):
                        protocols.setdefault(frame.dataset, default)
                        yield frame
                    advance()

        try:
            report = harness_evaluate(predict, frames(), method=method, depth_protocol=protocols)
        finally:
            generator.close()
    return generator.description, report, stop.requested


def _has_task(frame: Frame, wanted: Sequence[str]) -> bool:
    present = {
        'depth': frame.depth_m is not None,
        'normals': frame.normals is not None,
        'semantic': frame.labels is not None and bool(frame.class_names),
        'instances': frame.instances is not None and bool(frame.instance_labels),
        'referring': frame.referring_mask is not None and bool(frame.referring_text),
    }
    return any(present[task] for task in wanted)


def _frame_tasks(
    frame: Frame, base: TasksConfig, wanted: Sequence[str]
) -> tuple[TasksConfig, np.ndarray]:
    """Ask for one frame's ground truth; map pipeline labels to the dataset's class ids."""
    semantic: tuple[str, ...] = ()
    lookup = np.zeros(1, np.int64)
    if 'semantic' in wanted and frame.labels is not None and frame.class_names:
        ids = sorted(i for i in frame.class_names if i != frame.ignore_label)
        semantic = _prompt_names([(i, frame.class_names[i]) for i in ids])
        lookup = np.array([0, *ids], np.int64)
    instance_classes: tuple[str, ...] = ()
    if 'instances' in wanted and frame.instances is not None and frame.instance_labels:
        present = {int(i) for i in np.unique(frame.instances)} - {0, frame.ignore_instance}
        class_ids = sorted(
            {frame.instance_labels[i] for i in present if i in frame.instance_labels}
        )
        names = frame.class_names or {}
        instance_classes = _prompt_names([(c, names.get(c, f'class {c}')) for c in class_ids])
    referring: tuple[str, ...] = ()
    if 'referring' in wanted and frame.referring_mask is not None and frame.referring_text:
        referring = (frame.referring_text,)
    tasks = replace(
        base,
        depth='depth' in wanted and frame.depth_m is not None,
        normals='normals' in wanted and frame.normals is not None,
        semantic_classes=semantic,
        semantic_colours=(),
        instance_classes=instance_classes,
        referring=referring,
    )
    return tasks, lookup


def _prompt_names(classes: Sequence[tuple[int, str]]) -> tuple[str, ...]:
    """Class names a prompt can hold: banned characters dropped, repeats told apart by id."""
    cleaned = [
        (i, ' '.join(_BANNED.sub(' ', name).split()) or f'class {i}') for i, name in classes
    ]
    counts: dict[str, int] = {}
    for _, name in cleaned:
        counts[name] = counts.get(name, 0) + 1
    return tuple(name if counts[name] == 1 else f'{name} {i}' for i, name in cleaned)


# ---------------------------------------------------------------------------------------------
# The held-out synthetic set


def _synthetic(
    count: int, flags: options.PipelineFlags, config: PipelineConfig, recorder: _Recorder
) -> tuple[str, EvaluationReport, bool]:
    """Score the first ``count`` held-out frames as ``training.loop.evaluate_model`` does."""
    mixture = MixtureConfig()
    generator: Backend | None = None if flags.oracle else options.open_backend(config, flags)
    method = 'oracle' if generator is None else generator.name
    current: dict[str, Example] = {}

    def predict(frame: Frame) -> Prediction:
        example = current[frame.name]
        if generator is None:
            output = example.target  # the ground truth drawn through the encoders
        else:
            output = generator.generate(example.rgb[None], [example.prompt])[0].cpu()
        prediction = decode_prediction(example, output)
        recorder.record(frame, prediction, method, example.task)
        return prediction

    with options.graceful_stop() as stop, options.progress(count, 'scoring', 'frames') as advance:

        def frames() -> Iterator[Frame]:
            for start in range(0, count, _CHUNK_FRAMES):
                stop_at = min(count, start + _CHUNK_FRAMES)
                examples = held_out_examples(mixture, HELD_OUT_TEST, indices=range(start, stop_at))
                for number in range(start, stop_at):
                    if stop.requested:
                        return
                    for example in (e for e in examples if e.index == number):
                        current[example.name] = example
                        yield example.frame()
                    advance()

        try:
            report = harness_evaluate(
                predict, frames(), method=method, num_classes=len(CLASS_NAMES)
            )
        finally:
            if generator is not None:
                generator.close()
    description = (
        'oracle (each example answered with its ground truth through the encoders)'
        if generator is None
        else generator.description
    )
    return description, report, stop.requested


# ---------------------------------------------------------------------------------------------
# Per-frame rows and plots


@dataclass
class _Recorder:
    """Per-frame scores, depth samples for the scatter plot, and error maps to draw."""

    error_maps: int
    rows: list[dict[str, object]] = field(default_factory=list)
    scatter: dict[str, list[np.ndarray]] = field(default_factory=dict)
    maps: list[tuple[str, Frame, Prediction]] = field(default_factory=list)
    names: set[tuple[str, str]] = field(default_factory=set)

    @property
    def frames(self) -> int:
        """Return the number of distinct frames scored."""
        return len(self.names)

    def record(self, frame: Frame, prediction: Prediction, method: str, task: str | None) -> None:
        """Score one frame on its own, keep depth samples, and queue its error maps."""
        base = frame.name.rsplit('/', 1)[0] if task else frame.name  # synthetic: per task
        self.names.add((frame.dataset, base))
        classes = len(CLASS_NAMES) if task else None
        report = harness_evaluate(
            lambda _: prediction, [frame], method=method, num_classes=classes
        )
        for row in report.rows:
            values = {
                f.name: getattr(row.metrics, f.name)
                for f in fields(row.metrics)
                if isinstance(getattr(row.metrics, f.name), int | float)
            }
            self.rows.append({'dataset': row.dataset, 'frame': base, 'task': row.task, **values})
        depth = _depth_pair(frame, prediction)
        if depth is not None:
            pred, truth = depth
            valid = np.isfinite(pred) & np.isfinite(truth) & (pred > 0) & (truth > 0)
            picks = np.flatnonzero(valid)
            rng = np.random.default_rng(len(self.rows))
            if picks.size > _SCATTER_PER_FRAME:
                picks = rng.choice(picks, _SCATTER_PER_FRAME, replace=False)
            pairs = np.stack([pred.reshape(-1)[picks], truth.reshape(-1)[picks]], axis=1)
            self.scatter.setdefault(frame.dataset or '-', []).append(pairs)
        drawable = depth is not None or (
            frame.normals is not None and prediction.normals is not None
        )
        bases = {b for _, b in self.names}
        if drawable and len(bases) <= self.error_maps:
            self.maps.append((base, frame, prediction))


def _depth_pair(frame: Frame, prediction: Prediction) -> tuple[np.ndarray, np.ndarray] | None:
    """Predicted and true depth on the ground truth's grid (nearest pixel), or None."""
    if frame.depth_m is None or prediction.depth_m is None:
        return None
    pred = _numpy(prediction.depth_m)
    return _nearest(pred, frame.depth_m.shape), frame.depth_m


def _numpy(values: object) -> np.ndarray:
    tensor = as_tensor(values, 'prediction')
    array: np.ndarray = tensor.detach().float().cpu().numpy()
    return array


def _nearest(image: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Resize (H, W, ...) to size[:2] by the nearest pixel centre."""
    rows = ((np.arange(size[0]) + 0.5) * image.shape[0] / size[0]).astype(np.int64)
    cols = ((np.arange(size[1]) + 0.5) * image.shape[1] / size[1]).astype(np.int64)
    resized: np.ndarray = image[rows][:, cols]
    return resized


def _write(
    out: Path,
    report: EvaluationReport,
    summary: dict[str, Any],
    recorder: _Recorder,
    method: str,
) -> list[str]:
    """Write the tables, CSV and plots; return the names written."""
    written = []
    command = 'vision-banana ' + ' '.join(sys.argv[1:]) if sys.argv else 'vision-banana eval'
    with atomic_path(out / 'summary.md') as temporary:
        temporary.write_text(
            f'# Evaluation\n\n`{command}`\n\nBackend: {method}\n\n{report.to_markdown()}',
            encoding='utf-8',
        )
    written.append('summary.md')
    with atomic_path(out / 'summary.json') as temporary:
        temporary.write_text(json.dumps(summary, indent=1, sort_keys=True) + '\n', 'utf-8')
    written.append('summary.json')
    columns: list[str] = []
    for row in recorder.rows:
        columns += [key for key in row if key not in columns]
    with atomic_path(out / 'per_frame.csv') as temporary:
        with temporary.open('w', newline='', encoding='utf-8') as handle:
            table = csv.DictWriter(handle, fieldnames=columns or ['dataset', 'frame', 'task'])
            table.writeheader()
            for row in recorder.rows:
                table.writerow({k: _cell(v) for k, v in row.items()})
    written.append(f'per_frame.csv ({len(recorder.rows)} rows)')
    if recorder.scatter:
        write_png(out / 'depth_scatter.png', _scatter_plot(recorder.scatter))
        written.append('depth_scatter.png')
    for base, frame, prediction in recorder.maps:
        stem = base if base.startswith(frame.dataset) else f'{frame.dataset}_{base}'
        name = re.sub(r'[^A-Za-z0-9._-]+', '_', stem)
        if frame.depth_m is not None and prediction.depth_m is not None:
            write_png(out / 'error_maps' / f'{name}_depth.png', _depth_map(frame, prediction))
        if frame.normals is not None and prediction.normals is not None:
            write_png(out / 'error_maps' / f'{name}_normals.png', _normals_map(frame, prediction))
    if recorder.maps:
        drawn = len({(frame.dataset, base) for base, frame, _ in recorder.maps})
        written.append(f'error_maps/ ({drawn} frames)')
    return written


def _cell(value: object) -> object:
    if isinstance(value, float):
        return '' if math.isnan(value) else f'{value:.6g}'
    return value


def _figure(columns: int, title: str) -> tuple[Any, list[Any]]:
    """Make a matplotlib figure (Agg, no pyplot state) with one row of axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.4 * columns, 3.0), dpi=100, layout='constrained')
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(1, columns))
    figure.suptitle(title, fontsize=10)
    for ax in axes:
        ax.set_axis_off()
    return figure, axes


def _render(figure: Any) -> np.ndarray:
    """Draw a figure to (H, W, 3) uint8 RGB."""
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., :3])


def _depth_map(frame: Frame, prediction: Prediction) -> np.ndarray:
    """Input, predicted depth, true depth and relative error of one frame."""
    pair = _depth_pair(frame, prediction)
    assert pair is not None
    pred, truth = pair
    valid = np.isfinite(pred) & np.isfinite(truth) & (truth > 0)
    error = np.where(valid, np.abs(pred - truth) / np.where(valid, truth, 1.0), np.nan)
    absrel = float(np.nanmean(error)) if valid.any() else math.nan
    figure, axes = _figure(4, f'{frame.dataset} {frame.name}: mean |pred - gt| / gt {absrel:.3f}')
    shown = truth[np.isfinite(truth) & (truth > 0)]
    low, high = np.percentile(shown, (2, 98)) if shown.size else (0.0, 1.0)
    axes[0].imshow(frame.rgb)
    axes[0].set_title('input', fontsize=9)
    for ax, image, title in ((axes[1], pred, 'prediction (m)'), (axes[2], truth, 'truth (m)')):
        picture = ax.imshow(
            np.where(image > 0, image, np.nan), cmap='turbo_r', vmin=low, vmax=high
        )
        ax.set_title(title, fontsize=9)
        figure.colorbar(picture, ax=ax, shrink=0.8)
    picture = axes[3].imshow(error, cmap='magma', vmin=0.0, vmax=0.5)
    axes[3].set_title('|pred - gt| / gt', fontsize=9)
    figure.colorbar(picture, ax=axes[3], shrink=0.8)
    return _render(figure)


def _normals_map(frame: Frame, prediction: Prediction) -> np.ndarray:
    """Input, predicted normals, true normals and angular error of one frame."""
    from vision_banana_ros.visualise import normals_image

    assert frame.normals is not None and prediction.normals is not None
    pred = _nearest(_numpy(prediction.normals), frame.normals.shape)
    pred = pred / np.linalg.norm(pred, axis=-1, keepdims=True)
    cos = np.clip((pred * frame.normals).sum(-1), -1.0, 1.0)
    error = np.degrees(np.arccos(cos))
    mean = float(np.nanmean(error)) if np.isfinite(error).any() else math.nan
    figure, axes = _figure(4, f'{frame.dataset} {frame.name}: mean angular error {mean:.1f} deg')
    axes[0].imshow(frame.rgb)
    axes[0].set_title('input', fontsize=9)
    axes[1].imshow(normals_image(pred.astype(np.float32)))
    axes[1].set_title('prediction', fontsize=9)
    axes[2].imshow(normals_image(frame.normals))
    axes[2].set_title('truth', fontsize=9)
    picture = axes[3].imshow(error, cmap='magma', vmin=0.0, vmax=60.0)
    axes[3].set_title('angular error (deg)', fontsize=9)
    figure.colorbar(picture, ax=axes[3], shrink=0.8)
    return _render(figure)


def _scatter_plot(samples: dict[str, list[np.ndarray]]) -> np.ndarray:
    """Predicted against true depth, log-log, per dataset, with the delta1 band."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 5.0), dpi=100, layout='constrained')
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    everything = np.concatenate([np.concatenate(v) for v in samples.values()])
    low = max(0.05, float(everything.min()) * 0.8)
    high = float(everything.max()) * 1.25
    for dataset, pairs in sorted(samples.items()):
        stacked = np.concatenate(pairs)
        ax.scatter(stacked[:, 1], stacked[:, 0], s=2, alpha=0.25, label=dataset, linewidths=0)
    line = np.array([low, high])
    ax.plot(line, line, color='black', linewidth=1, label='prediction = truth')
    ax.plot(
        line, line * 1.25, color='grey', linewidth=0.8, linestyle='--', label='x 1.25 (delta1)'
    )
    ax.plot(line, line / 1.25, color='grey', linewidth=0.8, linestyle='--')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel('true depth (m)')
    ax.set_ylabel('predicted depth (m)')
    ax.set_title(f'depth: prediction against truth ({len(everything):,} pixels)', fontsize=10)
    ax.legend(fontsize=8, markerscale=4, loc='upper left')
    return _render(figure)
