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
The pipeline end to end: the oracle measures its own loss; the shipped model runs through it.

With the oracle (a perfect generator at model resolution) every error left is the pipeline's:
letterboxing, decoding, clean-up and resizing to the camera.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from vision_banana_ros.backends import Backend, BackendUnavailable, LocalOptions
from vision_banana_ros.backends.local import LocalBackend
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.config import ConfigError, from_mapping
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.metrics.depth import depth_metrics
from vision_banana_ros.metrics.normals import normal_metrics
from vision_banana_ros.pipeline import (
    CameraFrame,
    Pipeline,
    PipelineConfig,
    PipelineError,
    TasksConfig,
    UncertaintyConfig,
)
from vision_banana_ros.synth.catalog import CLASS_NAMES


def _at_256x320(tasks: TasksConfig | None = None) -> PipelineConfig:
    """Return the config the pipeline's error budget is set at: model resolution 256x320."""
    return PipelineConfig(tasks=tasks or TasksConfig(), model_height=256, model_width=320)


def _frame(oracle: OracleBackend, index: int) -> CameraFrame:
    rgb = oracle.frames[index].rgb.numpy()
    return CameraFrame(rgb, oracle.intrinsics[index], stamp_ns=17 + index, frame_id='camera')


def _classes_in_view(oracle: OracleBackend, index: int) -> tuple[str, ...]:
    ids = torch.unique(oracle.frames[index].labels).tolist()
    return tuple(CLASS_NAMES[i] for i in ids if i > 0)


@pytest.mark.parametrize('index', [0, 1, 2])
def test_pipeline_loss_at_vga_from_256x320(oracle: OracleBackend, index: int) -> None:
    config = _at_256x320()
    result = Pipeline(config, backend=oracle).process(_frame(oracle, index))
    truth = oracle.frames[index]
    assert result.size == (480, 640) and result.depth_m is not None and result.normals is not None
    depth = depth_metrics(result.depth_m, truth.depth_m.numpy())
    normals = normal_metrics(result.normals, truth.normals.numpy())
    assert depth.delta1 >= 0.99, depth
    assert normals.mean_deg <= 2.0, normals
    assert depth.valid_pixels >= 0.99 * np.isfinite(truth.depth_m.numpy()).sum()


def test_segmentation_through_the_pipeline(oracle: OracleBackend) -> None:
    classes = _classes_in_view(oracle, 0)
    target = oracle.references[0][0]
    tasks = TasksConfig(
        semantic_classes=classes,
        instance_classes=('chair',) if 'chair' in classes else classes[-1:],
        referring=(target.expression, 'the purple elephant'),
    )
    result = Pipeline(_at_256x320(tasks), backend=oracle).process(_frame(oracle, 0))
    truth = oracle.frames[0]
    assert result.semantic is not None and result.semantic.class_names == classes
    expected = np.array([0, *(CLASS_NAMES.index(c) for c in classes)])[result.semantic.labels]
    agreement = (expected == truth.labels.numpy()).mean()
    assert agreement >= 0.97, agreement
    assert result.semantic.confidence.min() >= 0 and result.semantic.confidence.max() <= 1

    found, nothing = result.referring
    truth_mask = truth.instances.numpy() == target.instance_id
    iou = (found.mask & truth_mask).sum() / (found.mask | truth_mask).sum()
    assert found.expression == target.expression and iou >= 0.8, iou
    assert nothing.area_px == 0, 'an expression the scene does not hold matches nothing'

    assert result.instance_ids is not None and result.instances
    for instance in result.instances:
        assert instance.area_px == int((result.instance_ids == instance.instance_id).sum())
        assert np.array_equal(instance.mask, result.instance_ids == instance.instance_id)


def test_labelled_cloud_matches_depth_and_intrinsics(oracle: OracleBackend) -> None:
    tasks = TasksConfig(semantic_classes=_classes_in_view(oracle, 1))
    pipeline = Pipeline(_at_256x320(tasks), backend=oracle)
    frame = _frame(oracle, 1)
    result = pipeline.process(frame)
    cloud = result.cloud
    assert cloud is not None and result.depth_m is not None and result.semantic is not None
    assert np.allclose(cloud.xyz[..., 2], result.depth_m, equal_nan=True)
    intrinsics = frame.intrinsics
    assert intrinsics is not None
    u = (cloud.xyz[100, 300, 0] / cloud.xyz[100, 300, 2]) * intrinsics.fx + intrinsics.cx
    assert u == pytest.approx(300, abs=1e-3)
    assert cloud.label is not None and np.array_equal(cloud.label, result.semantic.labels)
    assert cloud.rgb is not None and np.array_equal(cloud.rgb, frame.rgb)
    assert result.stamp_ns == 18 and result.frame_id == 'camera'
    stages = {'letterbox', 'generate', 'decode', 'cleanup', 'resize', 'cloud', 'total'}
    assert stages <= set(result.timings_ms)
    assert [g.task for g in result.generated] == ['depth', 'normals', 'semantic']
    assert all(g.rgb.shape == (256, 320, 3) for g in result.generated)
    no_intrinsics = pipeline.process(CameraFrame(frame.rgb))
    assert no_intrinsics.cloud is None and no_intrinsics.depth_m is not None


def test_portrait_camera_is_letterboxed_not_stretched() -> None:
    from vision_banana_ros.synth.layout import sample_scene

    oracle = OracleBackend([sample_scene(7, 200, 300, 'tabletop')])
    result = Pipeline(_at_256x320(), backend=oracle).process(_frame(oracle, 0))
    assert result.size == (300, 200) and result.depth_m is not None
    assert depth_metrics(result.depth_m, oracle.frames[0].depth_m.numpy()).delta1 >= 0.98


@pytest.mark.parametrize(
    ('rgb', 'message'),
    [
        (np.zeros((48, 64, 3), dtype=np.float32), r'\(H, W, 3\) uint8'),
        (np.zeros((48, 64), dtype=np.uint8), r'\(H, W, 3\) uint8'),
        (np.zeros((48, 64, 4), dtype=np.uint8), r'\(H, W, 3\) uint8'),
        (np.zeros((4, 64, 3), dtype=np.uint8), 'each side must be >= 8'),
        (torch.zeros((48, 64, 3), dtype=torch.uint8), 'must be a numpy array'),
    ],
)
def test_bad_frames_raise_a_clear_error(oracle: OracleBackend, rgb: object, message: str) -> None:
    pipeline = Pipeline(_at_256x320(), backend=oracle)
    with pytest.raises(PipelineError, match=message):
        pipeline.process(CameraFrame(rgb))  # type: ignore[arg-type]


def test_intrinsics_for_another_size_are_refused(oracle: OracleBackend) -> None:
    pipeline = Pipeline(_at_256x320(), backend=oracle)
    wrong = CameraIntrinsics(500.0, 500.0, 160.0, 120.0, 320, 240)
    with pytest.raises(PipelineError, match='intrinsics are for 320x240, the image is 640x480'):
        pipeline.process(CameraFrame(oracle.frames[0].rgb.numpy(), wrong))
    with pytest.raises(PipelineError, match='expected a CameraFrame'):
        pipeline.process(oracle.frames[0].rgb.numpy())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('values', 'message'),
    [
        ({'tasks': {'depth': False, 'normals': False}}, 'no task enabled'),
        (
            {'tasks': {'semantic_classes': ['mug'], 'semantic_colours': ['red', 'blue']}},
            'semantic_colours',
        ),
        ({'tasks': {'referring_colour': 'not-a-colour'}}, 'referring_colour'),
        ({'uncertainty': {'samples': 0}}, 'samples=0'),
        ({'cleanup': {'depth_median_px': 4}}, 'depth_median_px=4'),
        ({'model_height': 128}, 'model_width=0'),
        ({'backend': {'name': 'gpt'}}, "name='gpt'"),
        ({'backend': {'local': {'steps': 9}}}, 'steps=9'),
        ({'tasks': {'colour': 1}}, r'unknown key\(s\) colour'),
    ],
)
def test_bad_configs_name_the_field(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_mapping(PipelineConfig, values, 'pipeline')


def test_class_names_that_cannot_go_into_a_prompt_are_refused(oracle: OracleBackend) -> None:
    with pytest.raises(ValueError, match='tasks:'):
        Pipeline(PipelineConfig(tasks=TasksConfig(semantic_classes=('a{b',))), backend=oracle)


def test_samples_need_a_stochastic_backend(oracle: OracleBackend) -> None:
    with pytest.raises(ValueError, match='needs a stochastic backend'):
        Pipeline(PipelineConfig(uncertainty=UncertaintyConfig(samples=2)), backend=oracle)


class _Down(Backend):
    name = 'down'

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        raise BackendUnavailable('connection refused')


def test_backend_failures_reach_the_caller_typed() -> None:
    frame = CameraFrame(np.zeros((48, 64, 3), dtype=np.uint8))
    with pytest.raises(BackendUnavailable, match='connection refused'):
        Pipeline(backend=_Down()).process(frame)


@pytest.fixture(scope='module')
def shipped() -> LocalBackend:
    return LocalBackend(LocalOptions(device='cpu'))


def test_shipped_model_through_the_pipeline(oracle: OracleBackend, shipped: LocalBackend) -> None:
    assert shipped.generator.is_trained, 'the package ships trained weights'
    classes = _classes_in_view(oracle, 0)
    tasks = TasksConfig(semantic_classes=classes, referring=(oracle.references[0][0].expression,))
    result = Pipeline(PipelineConfig(tasks=tasks), backend=shipped).process(_frame(oracle, 0))
    assert result.depth_m is not None and result.normals is not None
    assert result.semantic is not None and len(result.referring) == 1
    valid = np.isfinite(result.depth_m)
    assert valid.mean() > 0.95 and (result.depth_m[valid] > 0).all()
    metrics = depth_metrics(result.depth_m, oracle.frames[0].depth_m.numpy())
    # The weights are far from their targets (docs/MODEL_CARD.md); these bounds catch a model
    # that is broken or untrained (random weights score delta1 0.16 and AbsRel 2.6 on this frame).
    assert metrics.delta1 > 0.25 and metrics.abs_rel < 1.5, metrics
    length = np.linalg.norm(result.normals, axis=-1)
    assert np.allclose(length[np.isfinite(length)], 1.0, atol=1e-4)
    assert 'trained' in result.backend and 'UNTRAINED' not in result.backend


def test_samples_give_spread_and_lower_confidence(
    oracle: OracleBackend, shipped: LocalBackend
) -> None:
    frame = _frame(oracle, 0)
    single = Pipeline(backend=shipped).process(frame)
    config = PipelineConfig(uncertainty=UncertaintyConfig(samples=3))
    sampled = Pipeline(config, backend=shipped).process(frame)
    assert single.depth_spread is None and single.normals_spread_deg is None
    assert sampled.depth_spread is not None and sampled.normals_spread_deg is not None
    assert np.nanmin(sampled.depth_spread) >= 0 and np.nanmax(sampled.depth_spread) > 0
    assert np.nanmean(sampled.normals_spread_deg) > 0
    # The same samples (the seeds are fixed) with the spread's penalty switched off: the spread
    # is what lowers the confidence, wherever the samples disagree. (Against the single sample
    # the comparison depends on the weights: the mean of three decoder confidences can be higher.)
    unpenalised = UncertaintyConfig(samples=3, depth_spread_scale=1e9)
    loose = Pipeline(PipelineConfig(uncertainty=unpenalised), backend=shipped).process(frame)
    assert sampled.depth_confidence is not None and loose.depth_confidence is not None
    assert np.all(sampled.depth_confidence <= loose.depth_confidence + 1e-6)
    assert sampled.depth_confidence.mean() < loose.depth_confidence.mean()
    assert len(sampled.generated) == 2, 'one raw image per prompt, not per sample'
    assert math.isfinite(sampled.timings_ms['total'])


def test_several_cameras_share_one_generator_call(oracle: OracleBackend) -> None:
    calls: list[int] = []
    generate = oracle.generate

    def counted(images: object, prompts: list[str], seeds: object = None) -> torch.Tensor:
        calls.append(len(prompts))
        return generate(images, prompts, seeds)  # type: ignore[arg-type]

    pipeline = Pipeline(_at_256x320(), backend=oracle)
    frames = [
        CameraFrame(oracle.frames[i].rgb.numpy(), oracle.intrinsics[i], i, f'camera_{i}')
        for i in (0, 2)
    ]
    alone = [Pipeline(_at_256x320(), backend=oracle).process(frame) for frame in frames]
    try:
        oracle.generate = counted  # type: ignore[method-assign]
        together = pipeline.process_batch(frames)
    finally:
        del oracle.generate
    assert calls == [4], 'both cameras, two prompts each, in one call'
    for one, both in zip(alone, together, strict=True):
        assert both.frame_id == one.frame_id and both.stamp_ns == one.stamp_ns
        assert one.depth_m is not None and both.depth_m is not None
        assert np.array_equal(one.depth_m, both.depth_m, equal_nan=True)
