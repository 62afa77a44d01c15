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
"""Tests for vision_banana_ros.metrics.harness: evaluate, reports, codec sanity on real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from vision_banana_ros.codecs.normals import ROUND_TRIP_MAX_DEG
from vision_banana_ros.datasets import Frame, read_ade20k, read_coco, read_diode_normals, read_nyu
from vision_banana_ros.metrics import MetricError
from vision_banana_ros.metrics.depth import DEFAULT_DEPTH_PROTOCOL
from vision_banana_ros.metrics.harness import (
    codec_sanity,
    CODEC_SANITY_BEGIN,
    CODEC_SANITY_END,
    evaluate,
    EvaluationReport,
    Prediction,
    TASKS,
    write_codec_sanity,
)


def _frame(dataset: str = 'toy', name: str = 'f0', size: int = 4) -> Frame:
    """Build a frame with every kind of ground truth on a size x size grid."""
    half = size // 2
    depth = np.linspace(1.0, 5.0, size * size, dtype=np.float32).reshape(size, size)
    depth[0, 0] = np.nan
    normals = np.zeros((size, size, 3), dtype=np.float32)
    normals[..., 2] = -1.0
    labels = np.zeros((size, size), dtype=np.uint16)
    labels[:, half:] = 2
    instances = np.zeros((size, size), dtype=np.uint32)
    instances[:half, :half] = 1
    instances[half:, half:] = 7
    return Frame(
        rgb=np.zeros((size, size, 3), dtype=np.uint8),
        name=name,
        dataset=dataset,
        depth_m=depth,
        normals=normals,
        labels=labels,
        instances=instances,
        referring_mask=instances == 7,
        referring_text='the bottom right block',
        class_names={0: 'floor', 1: 'wall', 2: 'door'},
    )


def _oracle(frame: Frame) -> Prediction:
    return Prediction(
        depth_m=frame.depth_m,
        normals=frame.normals,
        labels=frame.labels,
        instances=frame.instances,
        referring_mask=frame.referring_mask,
    )


def test_oracle_scores_perfectly_on_every_task() -> None:
    report = evaluate(_oracle, [_frame(), _frame(name='f1')])
    assert [row.task for row in report.rows] == list(TASKS)
    depth = report.find('depth', 'toy').metrics
    assert (depth.abs_rel, depth.delta1, depth.valid_pixels) == (0.0, 1.0, 30)
    assert report.find('normals', 'toy').metrics.mean_deg == 0.0
    assert report.find('semantic', 'toy').metrics.miou == 1.0
    assert report.find('referring', 'toy').metrics.ciou == 1.0
    instances = report.find('instances', 'toy')
    assert (instances.frames, instances.metrics.f1) == (2, 1.0)


def test_rows_are_grouped_by_dataset_never_pooled() -> None:
    report = evaluate(_oracle, [_frame('b'), _frame('a'), _frame('b', 'f1')], ['depth'])
    assert [(row.dataset, row.frames) for row in report.rows] == [('a', 1), ('b', 2)]


def test_unrequested_and_unpredicted_tasks_are_skipped() -> None:
    report = evaluate(lambda f: Prediction(depth_m=f.depth_m), [_frame()])
    assert [row.task for row in report.rows] == ['depth']


def test_a_named_task_without_prediction_is_an_error() -> None:
    with pytest.raises(MetricError, match="task 'normals' was asked for but the prediction"):
        evaluate(lambda f: Prediction(depth_m=f.depth_m), [_frame()], ['depth', 'normals'])
    with pytest.raises(MetricError, match='tasks must be members of'):
        evaluate(_oracle, [_frame()], ['optical_flow'])
    with pytest.raises(MetricError, match='predict must return a Prediction, got dict'):
        evaluate(lambda f: {'depth_m': f.depth_m}, [_frame()])


def test_dataset_protocol_applies_the_eigen_crop_to_nyu_frames() -> None:
    depth = np.full((480, 640), 2.0, dtype=np.float32)
    frame = Frame(rgb=np.zeros((480, 640, 3), np.uint8), dataset='nyu_depth_v2', depth_m=depth)
    predict = lambda f: Prediction(depth_m=f.depth_m)  # noqa: E731
    cropped = evaluate(predict, [frame]).find('depth', 'nyu_depth_v2').metrics
    whole = evaluate(predict, [frame], depth_protocol=DEFAULT_DEPTH_PROTOCOL)
    assert cropped.valid_pixels == 426 * 560
    assert whole.find('depth', 'nyu_depth_v2').metrics.valid_pixels == 480 * 640


def test_a_finer_prediction_is_resized_to_the_ground_truth_grid() -> None:
    frame = _frame(size=4)

    def twice_as_fine(f: Frame) -> Prediction:
        up = _oracle(f)
        fine = {
            name: np.repeat(np.repeat(getattr(up, name), 2, axis=0), 2, axis=1)
            for name in ('normals', 'labels', 'instances', 'referring_mask')
        }
        return Prediction(depth_m=np.full((8, 8), 3.0, dtype=np.float32), **fine)

    report = evaluate(twice_as_fine, [frame])
    assert report.find('depth', 'toy').metrics.valid_pixels == 15
    assert report.find('normals', 'toy').metrics.mean_deg == 0.0
    assert report.find('semantic', 'toy').metrics.miou == 1.0
    assert report.find('instances', 'toy').metrics.f1 == 1.0
    assert report.find('referring', 'toy').metrics.giou == 1.0


def test_depth_smaller_than_rgb_is_scored_on_its_own_grid() -> None:
    # ARKit style: 2x2 depth under a 4x4 RGB; the 4x4 prediction is shrunk to 2x2.
    frame = Frame(
        rgb=np.zeros((4, 4, 3), np.uint8),
        dataset='arkit',
        depth_m=np.full((2, 2), 2.0, np.float32),
    )
    report = evaluate(lambda f: Prediction(depth_m=np.full((4, 4), 2.0, np.float32)), [frame])
    metrics = report.find('depth', 'arkit').metrics
    assert (metrics.valid_pixels, metrics.abs_rel) == (4, pytest.approx(0.0))


def test_a_prediction_with_another_aspect_ratio_is_an_error() -> None:
    with pytest.raises(MetricError, match='not a rescale of the ground truth'):
        evaluate(lambda f: Prediction(depth_m=np.ones((4, 5), np.float32)), [_frame()])


def test_semantic_needs_a_class_count() -> None:
    frame = Frame(rgb=np.zeros((2, 2, 3), np.uint8), labels=np.zeros((2, 2), np.uint16))
    with pytest.raises(MetricError, match='has labels but no class_names; pass num_classes'):
        evaluate(lambda f: Prediction(labels=f.labels), [frame])
    report = evaluate(lambda f: Prediction(labels=f.labels), [frame], num_classes=3)
    assert report.find('semantic', '').metrics.pixel_accuracy == 1.0


def test_crowd_regions_are_ignored_in_instance_scores() -> None:
    # The oracle returns the crowd id as if it were an instance: it lies in the ignore region.
    base = _frame()
    instances = base.instances.copy()
    instances[0, 3] = 65535
    frame = Frame(rgb=base.rgb, instances=instances, ignore_instance=65535)
    metrics = evaluate(_oracle, [frame]).find('instances', '').metrics
    assert (metrics.true_positives, metrics.false_positives) == (2, 0)


def test_markdown_has_one_table_per_task() -> None:
    text = evaluate(_oracle, [_frame()], ['depth', 'semantic'], method='oracle').to_markdown()
    lines = text.splitlines()
    assert lines[0] == '### depth' and '### semantic' in lines
    assert lines[2].startswith('| method | dataset | frames | AbsRel |')
    assert lines[4].startswith('| oracle | toy | 1 | 0.00000 |')
    assert EvaluationReport().to_markdown() == ''


def test_evaluate_on_each_device(device: torch.device) -> None:
    report = evaluate(_oracle, [_frame()], device=device)
    assert report.find('depth', 'toy').metrics.delta1 == 1.0


def test_write_codec_sanity_replaces_only_the_marked_section(tmp_path: Path) -> None:
    doc = tmp_path / 'metrics.md'
    doc.write_text(f'# Title\n{CODEC_SANITY_BEGIN}\nold table\n{CODEC_SANITY_END}\ntail\n')
    report = write_codec_sanity(doc, [_frame()], colormaps=('cube',))
    text = doc.read_text()
    assert text.startswith(f'# Title\n{CODEC_SANITY_BEGIN}\n#### depth\n')
    assert text.endswith(f'{CODEC_SANITY_END}\ntail\n') and 'old table' not in text
    assert [row.method for row in report.rows] == ['depth codec (cube)', 'normals codec']
    doc.write_text('no markers')
    with pytest.raises(MetricError, match='must contain'):
        write_codec_sanity(doc, [_frame()], colormaps=('cube',))


def test_codec_sanity_on_real_nyu_frames_keeps_delta1_above_0_999(shared_data: Path) -> None:
    report = codec_sanity(read_nyu(shared_data), colormaps=('cube', 'viridis'))
    for colormap in ('cube', 'viridis'):
        row = report.find('depth', 'nyu_depth_v2', f'depth codec ({colormap})')
        assert row.frames == 3
        assert row.metrics.delta1 >= 0.999
        assert row.metrics.coverage == 1.0
    cube = report.find('depth', 'nyu_depth_v2', 'depth codec (cube)').metrics
    assert cube.abs_rel < 0.001  # the cube path's 0.44 % bound


def test_codec_sanity_on_real_diode_normals_is_below_the_codec_bound(shared_data: Path) -> None:
    row = codec_sanity(read_diode_normals(shared_data), colormaps=()).find('normals', 'diode')
    assert row.metrics.mean_deg < ROUND_TRIP_MAX_DEG
    assert row.metrics.within_11_25_pct == 100.0


def test_oracle_on_real_segmentation_frames_scores_one(shared_data: Path) -> None:
    frames = [*read_coco(shared_data), *read_ade20k(shared_data)]
    report = evaluate(_oracle, frames, ['semantic', 'instances'])
    assert report.find('semantic', 'coco').metrics.miou == 1.0
    assert report.find('semantic', 'ade20k').metrics.miou == 1.0
    coco = report.find('instances', 'coco').metrics
    assert (coco.f1, coco.false_positives, coco.images) == (1.0, 0, 15)
