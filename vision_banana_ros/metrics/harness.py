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
One evaluation harness: run a predictor over frames, score every task, report as Markdown.

``evaluate(predict, samples)`` calls ``predict(frame) -> Prediction`` once per ``Frame``
(``vision_banana_ros.datasets``) and scores each task the frame has ground truth for:

- ``'depth'``: ``metrics.depth`` per image with the frame's dataset protocol
  (``DATASET_DEPTH_PROTOCOLS``: NYU Eigen crop and 10 m, KITTI Garg crop and 80 m, ...; metric,
  no alignment, unless ``depth_protocol`` says otherwise), averaged over images;
- ``'normals'``: ``metrics.normals`` angular errors pooled over the dataset's pixels;
- ``'semantic'``: confusion matrices summed over the dataset, then mIoU and pixel accuracy
  (``num_classes`` from the argument or the frame's ``class_names``; ``ignore_label`` ignored);
- ``'referring'``: cIoU and gIoU of ``referring_mask``;
- ``'instances'``: instance F1 at IoU 0.5, the frame's ``ignore_instance`` region ignored.

Results are grouped by ``Frame.dataset`` (one row per method, dataset and task), never pooled
across datasets. With ``tasks=None`` a task is scored where both the ground truth and the
prediction are present; naming tasks makes a missing prediction an error. A prediction on a
different grid than its ground truth (same aspect ratio) is resized to the ground truth's grid,
never the reverse: depth bilinearly (antialiased when shrinking; NaN spreads to neighbours),
normals bilinearly then renormalised, labels, instances and masks by nearest pixel centre.

``codec_sanity(samples)`` scores the ground truth passed through the codecs alone (depth through
``encode_depth`` / ``decode_depth`` with every colormap, normals through ``encode_normals`` /
``decode_normals``): what the RGB round trip costs before any model error.
``write_codec_sanity(path)`` measures it on the shared real frames and writes the table into a
Markdown file between ``<!-- codec-sanity:begin -->`` and ``<!-- codec-sanity:end -->``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
from typing import get_args, Literal

import torch
import torch.nn.functional as F
from vision_banana_ros.codecs.depth import decode_depth, DEPTH_COLORMAPS, encode_depth
from vision_banana_ros.codecs.normals import decode_normals, encode_normals
from vision_banana_ros.datasets import (
    Frame,
    read_arkit,
    read_diode_normals,
    read_kitti,
    read_nyu,
    read_sunrgbd,
)
from vision_banana_ros.metrics.depth import (
    DEFAULT_DEPTH_PROTOCOL,
    depth_metrics,
    DepthMetrics,
    DepthProtocol,
    INDOOR_PROTOCOL,
    KITTI_PROTOCOL,
    mean_depth_metrics,
    NYU_PROTOCOL,
    SUNRGBD_PROTOCOL,
)
from vision_banana_ros.metrics.errors import MetricError
from vision_banana_ros.metrics.normals import (
    angular_error_deg,
    NormalErrorSummary,
    NormalMetrics,
    summarise_normal_errors,
)
from vision_banana_ros.metrics.segmentation import (
    confusion_matrix,
    instance_metrics,
    InstanceMatch,
    InstanceMetrics,
    mask_iou_counts,
    match_instances,
    referring_metrics,
    ReferringMetrics,
    semantic_metrics,
    SemanticMetrics,
)
from vision_banana_ros.tensors import ArrayLike, as_tensor

__all__ = [
    'CODEC_SANITY_BEGIN',
    'CODEC_SANITY_END',
    'DATASET_DEPTH_PROTOCOLS',
    'TASKS',
    'EvaluationReport',
    'Prediction',
    'ReportRow',
    'Task',
    'codec_sanity',
    'evaluate',
    'write_codec_sanity',
]

_LOG = logging.getLogger(__name__)

Task = Literal['depth', 'normals', 'semantic', 'referring', 'instances']
"""What ``evaluate`` can score."""
TASKS: tuple[str, ...] = get_args(Task)

DATASET_DEPTH_PROTOCOLS: dict[str, DepthProtocol] = {
    'nyu_depth_v2': NYU_PROTOCOL,
    'kitti': KITTI_PROTOCOL,
    'sunrgbd': SUNRGBD_PROTOCOL,
    'arkit': INDOOR_PROTOCOL,
    'diode': INDOOR_PROTOCOL,
}
"""Depth protocol of each ``Frame.dataset``; others get ``DEFAULT_DEPTH_PROTOCOL``."""

CODEC_SANITY_BEGIN = '<!-- codec-sanity:begin -->'
"""Marker after which ``write_codec_sanity`` writes its table."""
CODEC_SANITY_END = '<!-- codec-sanity:end -->'
"""Marker before which the table ends."""

Metrics = DepthMetrics | NormalMetrics | SemanticMetrics | ReferringMetrics | InstanceMetrics


@dataclass(frozen=True, eq=False)
class Prediction:
    """
    What a predictor returns for one frame; leave out what it does not predict.

    :ivar depth_m: (h, w) floating z-depth in metres, NaN / <= 0 invalid.
    :ivar normals: (h, w, 3) floating unit normals in the optical frame, NaN invalid.
    :ivar labels: (h, w) integer class ids (outside the classes = "no class").
    :ivar instances: (h, w) integer id map (0 = none) or (N, h, w) bool masks.
    :ivar referring_mask: (h, w) bool mask of the object the frame's expression names.
    """

    depth_m: ArrayLike | None = None
    normals: ArrayLike | None = None
    labels: ArrayLike | None = None
    instances: ArrayLike | None = None
    referring_mask: ArrayLike | None = None


@dataclass(frozen=True)
class ReportRow:
    """
    One method's score on one task of one dataset.

    :ivar method: what was evaluated, e.g. 'model' or 'depth codec (cube)'.
    :ivar dataset: ``Frame.dataset`` of the frames scored ('' shows as '-').
    :ivar task: one of ``TASKS``.
    :ivar frames: number of frames scored.
    :ivar metrics: the task's metrics dataclass.
    """

    method: str
    dataset: str
    task: str
    frames: int
    metrics: Metrics


@dataclass(frozen=True)
class EvaluationReport:
    """
    Rows of scores; ``to_markdown()`` renders one table per task, ``+`` concatenates reports.

    :ivar rows: in the order they were produced.
    """

    rows: tuple[ReportRow, ...] = field(default_factory=tuple)

    def __add__(self, other: object) -> EvaluationReport:
        if not isinstance(other, EvaluationReport):
            return NotImplemented
        return EvaluationReport(self.rows + other.rows)

    def find(self, task: str, dataset: str, method: str | None = None) -> ReportRow:
        """
        Look one row up.

        :param task: one of ``TASKS``.
        :param dataset: the ``Frame.dataset``.
        :param method: the method, or None if only one method scored that task and dataset.
        :return: the row.
        :raises KeyError: if no single row matches.
        """
        found = [
            row
            for row in self.rows
            if row.task == task
            and row.dataset == dataset
            and (method is None or row.method == method)
        ]
        if len(found) != 1:
            raise KeyError(f'{len(found)} rows for task {task!r}, dataset {dataset!r}, {method!r}')
        return found[0]

    def to_markdown(self) -> str:
        """
        Render every task as a Markdown table (GitHub pipe tables).

        :return: the tables, each under a ``### task`` heading; '' for an empty report.
        """
        parts = []
        for task in TASKS:
            rows = [row for row in self.rows if row.task == task]
            if not rows:
                continue
            columns = _COLUMNS[task]
            header = ['method', 'dataset', 'frames', *(title for title, _, _ in columns)]
            lines = [
                f'### {task}',
                '',
                '| ' + ' | '.join(header) + ' |',
                '|' + '---|' * 3 + '---:|' * len(columns),
            ]
            for row in rows:
                cells = [
                    row.method,
                    row.dataset or '-',
                    str(row.frames),
                    *(format(getattr(row.metrics, name), spec) for _, name, spec in columns),
                ]
                lines.append('| ' + ' | '.join(cells) + ' |')
            parts.append('\n'.join(lines))
        return '\n\n'.join(parts) + ('\n' if parts else '')


_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    'depth': [
        ('AbsRel', 'abs_rel', '.5f'),
        ('SqRel (m)', 'sq_rel', '.5f'),
        ('RMSE (m)', 'rmse_m', '.4f'),
        ('RMSE log', 'rmse_log', '.5f'),
        ('log10', 'log10', '.5f'),
        ('δ1', 'delta1', '.4f'),
        ('δ2', 'delta2', '.4f'),
        ('δ3', 'delta3', '.4f'),
        ('coverage', 'coverage', '.4f'),
        ('pixels', 'valid_pixels', 'd'),
    ],
    'normals': [
        ('mean (°)', 'mean_deg', '.3f'),
        ('median (°)', 'median_deg', '.3f'),
        ('RMSE (°)', 'rmse_deg', '.3f'),
        ('< 11.25° (%)', 'within_11_25_pct', '.2f'),
        ('< 22.5° (%)', 'within_22_5_pct', '.2f'),
        ('< 30° (%)', 'within_30_pct', '.2f'),
        ('pixels', 'valid_pixels', 'd'),
    ],
    'semantic': [
        ('mIoU', 'miou', '.4f'),
        ('pixel acc.', 'pixel_accuracy', '.4f'),
        ('pixels', 'valid_pixels', 'd'),
    ],
    'referring': [('cIoU', 'ciou', '.4f'), ('gIoU', 'giou', '.4f')],
    'instances': [
        ('precision', 'precision', '.4f'),
        ('recall', 'recall', '.4f'),
        ('F1', 'f1', '.4f'),
        ('TP', 'true_positives', 'd'),
        ('FP', 'false_positives', 'd'),
        ('FN', 'false_negatives', 'd'),
    ],
}


def evaluate(
    predict: Callable[[Frame], Prediction],
    samples: Iterable[Frame],
    tasks: Iterable[str] | None = None,
    *,
    method: str = 'model',
    depth_protocol: DepthProtocol | Mapping[str, DepthProtocol] | None = None,
    num_classes: int | None = None,
    iou_threshold: float = 0.5,
    matching: str = 'hungarian',
    device: torch.device | str = 'cpu',
) -> EvaluationReport:
    """
    Run ``predict`` on every frame and score every applicable task, per dataset.

    Example: ``print(evaluate(model, read_nyu(), ['depth']).to_markdown())``.

    :param predict: frame -> ``Prediction``; called once per frame.
    :param samples: the frames (a list, a reader's output, a ``FrameFolder``...).
    :param tasks: tasks to score (each a member of ``TASKS``), or None for every task with both
        ground truth and prediction.
    :param method: the name of the method in the report.
    :param depth_protocol: one protocol for every frame, a mapping ``Frame.dataset`` ->
        protocol, or None for ``DATASET_DEPTH_PROTOCOLS``.
    :param num_classes: semantic class count, or None to take max(class_names) + 1 per dataset.
    :param iou_threshold: instance match threshold.
    :param matching: 'hungarian' or 'greedy' instance matching.
    :param device: where the metrics are computed.
    :return: the report, one row per dataset and task scored.
    :raises MetricError: on an unknown task, a predictor that returns no ``Prediction`` or
        leaves out a named task, a prediction of the wrong shape, or semantic ground truth
        without ``num_classes`` or ``class_names``.
    """
    wanted = None if tasks is None else tuple(tasks)
    for task in wanted or ():
        if task not in TASKS:
            raise MetricError(f'tasks must be members of {TASKS}, got {task!r}')
    where = torch.device(device)
    state: dict[tuple[str, str], _Accumulator] = {}
    for frame in samples:
        if not isinstance(frame, Frame):
            raise MetricError(f'samples must hold datasets.Frame, got {type(frame).__name__}')
        prediction = predict(frame)
        if not isinstance(prediction, Prediction):
            raise MetricError(
                f'predict must return a Prediction, got {type(prediction).__name__} for frame '
                f'{frame.name!r}'
            )
        for task in TASKS:
            gt_present = getattr(frame, _FIELD[task]) is not None
            pred_present = getattr(prediction, _FIELD[task]) is not None
            if not gt_present or (wanted is not None and task not in wanted):
                continue
            if not pred_present:
                if wanted is None:
                    continue
                raise MetricError(
                    f'task {task!r} was asked for but the prediction for frame {frame.name!r} '
                    f'has no {_FIELD[task]}'
                )
            key = (frame.dataset, task)
            if key not in state:
                state[key] = _Accumulator()
            settings = (depth_protocol, num_classes, iou_threshold, matching)
            _score(task, frame, prediction, state[key], where, *settings)
        _LOG.debug('scored frame %s/%s', frame.dataset, frame.name)
    return EvaluationReport(
        tuple(
            ReportRow(method, dataset, task, acc.frames, acc.result(task))
            for (dataset, task), acc in sorted(state.items(), key=_row_order)
        )
    )


def codec_sanity(
    samples: Iterable[Frame],
    *,
    colormaps: Sequence[str] = DEPTH_COLORMAPS,
    depth_protocol: DepthProtocol | Mapping[str, DepthProtocol] | None = None,
    device: torch.device | str = 'cpu',
) -> EvaluationReport:
    """
    Score ground truth passed through encode -> decode: what the codecs alone cost.

    Depth goes through ``codecs.depth`` with each colormap, normals through ``codecs.normals``
    (optical frame); both are scored with ``evaluate``'s metrics and protocols.

    :param samples: frames with depth and/or normals ground truth (iterated once).
    :param colormaps: depth colormaps to try; 'cube' is the paper's.
    :param depth_protocol: as for ``evaluate``.
    :param device: where encoding, decoding and metrics run.
    :return: one row per codec, dataset and task; method 'depth codec (<colormap>)' or
        'normals codec'.
    """
    frames = list(samples)
    where = torch.device(device)
    report = EvaluationReport()
    depth_frames = [f for f in frames if f.depth_m is not None]
    for colormap in colormaps:

        def depth_round_trip(frame: Frame, colormap: str = colormap) -> Prediction:
            assert frame.depth_m is not None
            depth = as_tensor(frame.depth_m, 'depth_m').to(where)
            return Prediction(
                depth_m=decode_depth(encode_depth(depth, colormap), colormap).depth_m
            )

        report += evaluate(
            depth_round_trip,
            depth_frames,
            ['depth'],
            method=f'depth codec ({colormap})',
            depth_protocol=depth_protocol,
            device=where,
        )

    def normals_round_trip(frame: Frame) -> Prediction:
        assert frame.normals is not None
        normals = as_tensor(frame.normals, 'normals').to(where)
        return Prediction(normals=decode_normals(encode_normals(normals)).normals)

    normal_frames = [f for f in frames if f.normals is not None]
    return report + evaluate(
        normals_round_trip, normal_frames, ['normals'], method='normals codec', device=where
    )


def write_codec_sanity(
    path: str | os.PathLike[str],
    frames: Iterable[Frame] | None = None,
    *,
    colormaps: Sequence[str] = DEPTH_COLORMAPS,
) -> EvaluationReport:
    """
    Measure ``codec_sanity`` and write its tables into a Markdown file.

    Default frames: the shared real data (``datasets.default_data_root()``): NYU Depth V2,
    KITTI, SUN RGB-D and ARKit (depth), DIODE (normals). The text between
    ``CODEC_SANITY_BEGIN`` and ``CODEC_SANITY_END`` in ``path`` is replaced; the rest is kept.

    :param path: the Markdown file, e.g. 'docs/metrics.md'.
    :param frames: the frames to measure on, or None for the shared real data.
    :param colormaps: depth colormaps to try.
    :return: the report written.
    :raises MetricError: if the file lacks the two markers, in order.
    :raises FileNotFoundError: if the file or a data folder is missing.
    """
    target = Path(path)
    text = target.read_text(encoding='utf-8')
    begin, end = text.find(CODEC_SANITY_BEGIN), text.find(CODEC_SANITY_END)
    if begin < 0 or end < begin:
        raise MetricError(
            f'{str(target)!r} must contain {CODEC_SANITY_BEGIN!r} then {CODEC_SANITY_END!r}'
        )
    if frames is None:
        frames = [
            *read_nyu(),
            *read_kitti(),
            *read_sunrgbd(),
            *read_arkit(),
            *read_diode_normals(),
        ]
    report = codec_sanity(frames, colormaps=colormaps)
    table = report.to_markdown().replace('### ', '#### ')
    head = text[: begin + len(CODEC_SANITY_BEGIN)]
    target.write_text(f'{head}\n{table}{text[end:]}', encoding='utf-8')
    return report


# ---------------------------------------------------------------------------------------------
# Scoring one frame

_FIELD = {
    'depth': 'depth_m',
    'normals': 'normals',
    'semantic': 'labels',
    'referring': 'referring_mask',
    'instances': 'instances',
}
"""The Frame (ground truth) and Prediction field of each task: the same name in both."""


def _row_order(item: tuple[tuple[str, str], _Accumulator]) -> tuple[str, int]:
    (dataset, task), _ = item
    return dataset, TASKS.index(task)


@dataclass
class _Accumulator:
    """What one (dataset, task) has gathered so far; only the task's fields are used."""

    frames: int = 0
    depth: list[DepthMetrics] = field(default_factory=list)
    normals: NormalErrorSummary | None = None
    confusion: torch.Tensor | None = None
    referring: list[tuple[int, int]] = field(default_factory=list)
    instances: list[InstanceMatch] = field(default_factory=list)

    def result(self, task: str) -> Metrics:
        if task == 'depth':
            return mean_depth_metrics(self.depth)
        if task == 'normals':
            assert self.normals is not None
            return self.normals.metrics()
        if task == 'semantic':
            assert self.confusion is not None
            return semantic_metrics(self.confusion)
        if task == 'referring':
            return referring_metrics(self.referring)
        return instance_metrics(self.instances)


def _score(
    task: str,
    frame: Frame,
    prediction: Prediction,
    acc: _Accumulator,
    device: torch.device,
    depth_protocol: DepthProtocol | Mapping[str, DepthProtocol] | None,
    num_classes: int | None,
    iou_threshold: float,
    matching: str,
) -> None:
    """Score one task of one frame into its accumulator."""
    name = _FIELD[task]
    gt = as_tensor(getattr(frame, name), f'frame {name}', error=MetricError).to(device)
    pred = as_tensor(getattr(prediction, name), f'prediction {name}', error=MetricError)
    pred = _on_grid(pred.to(device), tuple(gt.shape[:2]), task, frame.name)
    if task in ('semantic', 'instances'):  # uint16 / uint32 support few torch ops
        gt = gt.to(torch.int64)
        pred = pred if pred.dtype == torch.bool else pred.to(torch.int64)
    acc.frames += 1
    if task == 'depth':
        acc.depth.append(depth_metrics(pred, gt, _protocol(frame, depth_protocol)))
    elif task == 'normals':
        errors = angular_error_deg(pred, gt)
        summary = summarise_normal_errors(errors)
        acc.normals = summary if acc.normals is None else acc.normals + summary
    elif task == 'semantic':
        classes = _num_classes(frame, num_classes)
        matrix = confusion_matrix(pred, gt, classes, ignore_index=frame.ignore_label)
        if acc.confusion is not None and acc.confusion.shape != matrix.shape:
            raise MetricError(
                f'frame {frame.name!r} of dataset {frame.dataset!r} has {classes} classes, '
                f'earlier frames {acc.confusion.shape[0]}; pass num_classes'
            )
        acc.confusion = matrix if acc.confusion is None else acc.confusion + matrix
    elif task == 'referring':
        acc.referring.append(mask_iou_counts(pred, gt))
    else:
        ignore = None
        if frame.ignore_instance is not None:
            ignore = gt == frame.ignore_instance
            gt = torch.where(ignore, torch.zeros_like(gt), gt)
        match = match_instances(
            pred, gt, iou_threshold=iou_threshold, matching=matching, ignore=ignore
        )
        acc.instances.append(match)


def _protocol(
    frame: Frame, chosen: DepthProtocol | Mapping[str, DepthProtocol] | None
) -> DepthProtocol:
    if isinstance(chosen, DepthProtocol):
        return chosen
    table = DATASET_DEPTH_PROTOCOLS if chosen is None else chosen
    return table.get(frame.dataset, DEFAULT_DEPTH_PROTOCOL)


def _num_classes(frame: Frame, num_classes: int | None) -> int:
    if num_classes is not None:
        return num_classes
    if not frame.class_names:
        raise MetricError(
            f'frame {frame.name!r} has labels but no class_names; pass num_classes to evaluate'
        )
    return max(frame.class_names) + 1


def _on_grid(pred: torch.Tensor, size: tuple[int, ...], task: str, name: str) -> torch.Tensor:
    """
    Resize a prediction to the ground truth's (h, w) grid if it is on another one.

    :param pred: (H, W), (H, W, 3) for normals, or (N, H, W) bool instance masks.
    :param size: the ground truth's (h, w).
    :param task: picks the interpolation; 'normals' predictions are (H, W, 3).
    :param name: the frame name, for errors.
    :return: the prediction on the (h, w) grid.
    :raises MetricError: on a different aspect ratio or too few axes.
    """
    if pred.dim() < 2:
        raise MetricError(f'prediction for {task} of frame {name!r} has shape {tuple(pred.shape)}')
    spatial = tuple(pred.shape[:2]) if task == 'normals' else tuple(pred.shape[-2:])
    if spatial == size:
        return pred
    height, width = size
    if spatial[0] * width != spatial[1] * height:
        raise MetricError(
            f'prediction for {task} of frame {name!r} is {spatial}, which is not a rescale of '
            f'the ground truth {size} (aspect ratios differ)'
        )
    if task == 'depth':
        shrink = spatial[0] > height
        image = pred.to(torch.float32)[None, None]  # (1, 1, H, W)
        resized = F.interpolate(image, size=size, mode='bilinear', antialias=shrink)
        return resized[0, 0]
    if task == 'normals':
        image = pred.to(torch.float32).permute(2, 0, 1)[None]  # (1, 3, H, W)
        resized = F.interpolate(image, size=size, mode='bilinear', antialias=spatial[0] > height)
        vectors = resized[0].permute(1, 2, 0)  # (h, w, 3)
        length: torch.Tensor = torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)
        return vectors / length
    # nearest pixel centre: source index floor((i + 0.5) * H / h)
    rows = ((torch.arange(height, device=pred.device) + 0.5) * (spatial[0] / height)).long()
    cols = ((torch.arange(width, device=pred.device) + 0.5) * (spatial[1] / width)).long()
    return pred.index_select(-2, rows).index_select(-1, cols)
