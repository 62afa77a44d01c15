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
Temporal smoothing: noise averages out, jumps reset, motion is warped, ids and labels hold.

Unit tests run on small hand-made frames (a plane with a box on it, seen by a 64x48 camera);
one test runs the pipeline with the oracle over a short dolly of a rendered scene.
"""

from __future__ import annotations

from dataclasses import replace
import math

import numpy as np
import pytest
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.metrics.depth import depth_metrics
from vision_banana_ros.pipeline import (
    CameraFrame,
    InstanceMask,
    PerceptionResult,
    Pipeline,
    PipelineConfig,
    PipelineError,
    ReferringMask,
    SemanticLabels,
    TasksConfig,
)
from vision_banana_ros.smoothing import check_motion, SmoothingConfig, TemporalSmoother
from vision_banana_ros.synth.catalog import CLASS_NAMES, GRASPABLE
from vision_banana_ros.synth.layout import sample_scene
from vision_banana_ros.synth.splits import split_seeds
from vision_banana_ros.synth.trajectory import camera_dolly

H, W = 48, 64
K = CameraIntrinsics(60.0, 60.0, 31.5, 23.5, W, H)
COLOUR = np.zeros(3, dtype=np.uint8)


def _result(
    depth_m: np.ndarray | None = None,
    *,
    labels: np.ndarray | None = None,
    masks: tuple[tuple[str, np.ndarray], ...] = (),
    referring: np.ndarray | None = None,
    normals: np.ndarray | None = None,
) -> PerceptionResult:
    """Wrap arrays into a result the way the pipeline builds one (confidence 0.5)."""
    size = next(a.shape[:2] for a in (depth_m, labels, referring, normals) if a is not None)
    half = np.full(size, 0.5, dtype=np.float32)
    ids = None
    instances: list[InstanceMask] = []
    if masks:
        ids = np.zeros(size, dtype=np.uint16)
        for index, (name, mask) in enumerate(masks, start=1):
            ids[mask & (ids == 0)] = index
            instances.append(InstanceMask(name, index, ids == index, int(mask.sum()), COLOUR))
    return PerceptionResult(
        stamp_ns=0,
        frame_id='camera',
        size=(int(size[0]), int(size[1])),
        depth_m=None if depth_m is None else depth_m.astype(np.float32),
        depth_confidence=None if depth_m is None else half.copy(),
        normals=normals,
        normals_confidence=None if normals is None else half.copy(),
        semantic=None
        if labels is None
        else SemanticLabels(labels, ('a', 'b', 'c'), np.zeros((3, 3), np.uint8), half.copy()),
        instance_ids=ids,
        instances=tuple(instances),
        referring=()
        if referring is None
        else (ReferringMask('the box', referring, int(referring.sum()), half.copy()),),
    )


def _box_scene(shift_px: float = 0.0) -> np.ndarray:
    """Return (H, W) depth: a wall at 2 m with a box face at 1.5 m, moved ``shift_px`` left."""
    cols = np.arange(W) + shift_px
    depth = np.full((H, W), 2.0)
    depth[12:36, (cols >= 20) & (cols < 44)] = 1.5
    return depth


def _box() -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[12:36, 20:44] = True
    return mask


def test_the_first_frame_passes_through_and_disabled_changes_nothing() -> None:
    result = _result(_box_scene(), labels=np.ones((H, W), np.uint16), masks=(('box', _box()),))
    first = TemporalSmoother().update(result, K)
    assert first.depth_m is not None and result.depth_m is not None
    assert np.array_equal(first.depth_m, result.depth_m)
    assert first.instance_ids is not None and result.instance_ids is not None
    assert np.array_equal(first.instance_ids, result.instance_ids)
    assert first.depth_confidence is not None and np.all(first.depth_confidence == 0.5)
    assert TemporalSmoother(SmoothingConfig(enabled=False)).update(result) is result


def test_static_noise_averages_out_without_bias() -> None:
    rng = np.random.default_rng(0)
    truth = _box_scene()
    smoother = TemporalSmoother()
    raw, smoothed = [], []
    for _ in range(24):
        noisy = truth * (1 + 0.01 * rng.standard_normal(truth.shape))
        out = smoother.update(_result(noisy), K).depth_m
        assert out is not None
        raw.append(noisy)
        smoothed.append(out)
    raw_step = np.diff(np.array(raw[8:]), axis=0).std()
    smooth_step = np.diff(np.array(smoothed[8:]), axis=0).std()
    assert smooth_step <= 0.5 * raw_step, (smooth_step, raw_step)
    bias = np.mean(np.array(smoothed[8:]) / truth - 1)
    assert abs(bias) < 0.01
    assert smoother.restarted == ''


def test_a_jump_is_reset_not_blurred() -> None:
    smoother = TemporalSmoother()
    for _ in range(5):
        smoother.update(_result(np.full((H, W), 2.0)), K)
    moved = _box_scene()  # a box arrives at 1.5 m
    out = smoother.update(_result(moved), K).depth_m
    assert out is not None
    assert np.array_equal(out[_box()], moved[_box()].astype(np.float32)), 'reset, not blurred'
    assert np.allclose(out[~_box()], 2.0)


def test_with_the_image_a_jump_where_the_colour_held_is_flicker() -> None:
    """The box's depth jumps twice; only where the image changed too is it reset."""
    grey = np.full((H, W, 3), 100, dtype=np.uint8)
    smoother = TemporalSmoother()
    for _ in range(6):
        smoother.update(_result(np.full((H, W), 2.0)), K, rgb=grey)
    flicker = smoother.update(_result(_box_scene()), K, rgb=grey).depth_m
    assert flicker is not None
    assert np.allclose(flicker[_box()], 2.0 - 0.5 / 6), 'averaged in with weight 1/window'
    red = grey.copy()
    red[_box()] = (200, 40, 40)  # a red box really arrives
    arrived = smoother.update(_result(_box_scene()), K, rgb=red).depth_m
    assert arrived is not None and np.all(arrived[_box()] == 1.5)


def test_known_motion_keeps_a_moving_view_aligned() -> None:
    """A truck 2-3 px a frame: the view slides; warping follows it, the plain filter lags."""
    step_m = 2.0 * 2.0 / K.fx  # 2 px at 2 m
    motion = np.eye(4)
    motion[0, 3] = step_m  # T_prev_curr: the camera moved +x, so points move +x into prev
    rng = np.random.default_rng(1)
    errors: dict[bool, float] = {}
    for warp in (True, False):
        smoother = TemporalSmoother()
        worst = []
        for frame in range(8):
            truth = _scene_after(frame * step_m)
            noisy = truth * (1 + 0.005 * rng.standard_normal(truth.shape))
            given = motion if warp and frame else None
            out = smoother.update(_result(noisy), K, given).depth_m
            assert out is not None
            worst.append(float(np.mean(np.abs(out / truth - 1) > 0.02)))
        errors[warp] = max(worst)
    assert errors[True] < 0.01, 'warped: at most the column entering the view is off'
    assert errors[False] > errors[True]


def _scene_after(camera_x_m: float) -> np.ndarray:
    """Ray-cast a slanted wall (z = 2 + 0.5 x) and a box face at 1.5 m from a moved camera."""
    rows, cols = np.mgrid[0:H, 0:W]
    x_per_z = (cols - K.cx) / K.fx
    y_per_z = (rows - K.cy) / K.fy
    wall = (2.0 + 0.5 * camera_x_m) / (1.0 - 0.5 * x_per_z)
    box_x = 1.5 * x_per_z + camera_x_m
    on_box = (np.abs(box_x) < 0.4) & (np.abs(1.5 * y_per_z) < 0.3)
    depth: np.ndarray = np.where(on_box, 1.5, wall)
    return depth


def test_rotation_is_warped_without_bias() -> None:
    """A pan of 1 degree a frame over a slanted floor: smoothing adds no bias."""
    smoother = TemporalSmoother()
    rng = np.random.default_rng(2)
    errors = []
    for frame in range(8):
        truth = _slanted_plane(math.radians(frame))
        noisy = truth * (1 + 0.01 * rng.standard_normal(truth.shape))
        motion = _pan(math.radians(1.0)) if frame else None
        out = smoother.update(_result(noisy), K, motion).depth_m
        assert out is not None
        errors.append(np.nanmean(out / truth - 1))
    assert smoother.restarted == ''
    # Nearest-pixel warping of a slanted surface: a small bias, not a drift.
    assert max(abs(e) for e in errors) < 0.006


def _pan(angle: float) -> np.ndarray:
    """Return T_prev_curr for a camera turned by ``angle`` about its y axis since then."""
    cos, sin = math.cos(angle), math.sin(angle)
    motion = np.eye(4)
    motion[:3, :3] = [[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]]
    return motion


def _slanted_plane(yaw: float) -> np.ndarray:
    """Depth of the plane z = 2 + 0.5 x (world) seen from a camera panned by ``yaw``."""
    rows, cols = np.mgrid[0:H, 0:W]
    rays = np.stack([(cols - K.cx) / K.fx, (rows - K.cy) / K.fy, np.ones((H, W))])
    world = np.einsum('ij,jhw->ihw', _pan(yaw)[:3, :3], rays)  # camera -> world directions
    depth: np.ndarray = 2.0 / (world[2] - 0.5 * world[0])
    return depth


def test_ego_motion_without_a_motion_restarts() -> None:
    smoother = TemporalSmoother()
    for _ in range(3):
        smoother.update(_result(_box_scene()), K)
    elsewhere = np.full((H, W), 3.0)
    out = smoother.update(_result(elsewhere), K).depth_m
    assert smoother.restarted == 'ego-motion'
    assert out is not None and np.array_equal(out, elsewhere.astype(np.float32))
    rng = np.random.default_rng(5)
    for _ in range(3):  # with the image: most pixels changing colour is ego-motion
        smoother.update(_result(elsewhere), K, rgb=np.full((H, W, 3), 90, np.uint8))
    assert smoother.restarted == ''
    texture = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    smoother.update(_result(elsewhere), K, rgb=texture)
    assert smoother.restarted == 'ego-motion'


def test_a_new_size_restarts() -> None:
    smoother = TemporalSmoother()
    smoother.update(_result(_box_scene()), K)
    small = np.full((24, 32), 1.0)
    out = smoother.update(_result(small))
    assert smoother.restarted == 'size change'
    assert out.depth_m is not None and np.array_equal(out.depth_m, small.astype(np.float32))
    with pytest.raises(ValueError, match='intrinsics are for 64x48, the result is 32x24'):
        smoother.update(_result(small), K)


def test_label_voting_removes_one_frame_flicker_and_follows_jumps() -> None:
    smoother = TemporalSmoother()
    labels = np.ones((H, W), dtype=np.uint16)
    depth = np.full((H, W), 2.0)
    for _ in range(3):
        smoother.update(_result(depth, labels=labels), K)
    flicker = labels.copy()
    flicker[::2, ::3] = 2  # scattered one-frame flicker
    voted = smoother.update(_result(depth, labels=flicker), K).semantic
    assert voted is not None and np.all(voted.labels == 1)
    smoother.update(_result(depth, labels=labels), K)  # votes back to the full window
    changed = labels.copy()
    changed[_box()] = 3  # a lasting change with no depth change: one frame late
    first = smoother.update(_result(depth, labels=changed), K).semantic
    second = smoother.update(_result(depth, labels=changed), K).semantic
    assert first is not None and second is not None
    assert np.all(first.labels[_box()] == 1) and np.all(second.labels[_box()] == 3)
    immediate = TemporalSmoother()
    for _ in range(3):
        immediate.update(_result(depth, labels=labels), K)
    jumped = immediate.update(_result(_box_scene(), labels=changed), K).semantic
    assert jumped is not None and np.all(jumped.labels[_box()] == 3), 'depth jumped: at once'


def test_confidence_rises_with_agreement() -> None:
    smoother = TemporalSmoother()
    labels = np.ones((H, W), dtype=np.uint16)
    confidences = []
    for _ in range(6):
        out = smoother.update(_result(_box_scene(), labels=labels), K)
        assert out.depth_confidence is not None and out.semantic is not None
        confidences.append((out.depth_confidence.mean(), out.semantic.confidence.mean()))
    depth, semantic = np.array(confidences).T
    config = smoother.config
    assert depth[0] == 0.5 and np.all(np.diff(depth) > 0)
    assert depth[-1] == pytest.approx(1 - 0.5 / min(6, config.depth_window))
    assert semantic[0] == 0.5 and semantic[-1] == pytest.approx(1 - 0.5 / config.label_window)


def test_instance_ids_follow_objects_and_new_objects_get_new_ids() -> None:
    smoother = TemporalSmoother()
    depth = np.full((H, W), 2.0)

    def square(row: int, col: int) -> np.ndarray:
        mask = np.zeros((H, W), dtype=bool)
        bottom, right = row + 10, col + 10
        mask[row:bottom, col:right] = True
        return mask

    first = smoother.update(_result(depth, masks=(('mug', square(5, 5)), ('can', square(30, 40)))))
    assert [(m.class_name, m.instance_id) for m in first.instances] == [('mug', 1), ('can', 2)]
    # Both move a little, and the frame lists them the other way round.
    swapped = smoother.update(
        _result(depth, masks=(('can', square(31, 38)), ('mug', square(6, 7))))
    )
    assert {m.class_name: m.instance_id for m in swapped.instances} == {'mug': 1, 'can': 2}
    assert swapped.instance_ids is not None
    assert np.all(swapped.instance_ids[square(6, 7)] == 1)
    assert [m.instance_id for m in swapped.instances] == [1, 2], 'id order'
    # The can is hidden for two frames and a bowl appears where the mug was: a new id.
    for _ in range(2):
        hidden = smoother.update(_result(depth, masks=(('bowl', square(6, 7)),)))
        assert [(m.class_name, m.instance_id) for m in hidden.instances] == [('bowl', 3)]
    back = smoother.update(_result(depth, masks=(('can', square(31, 39)), ('bowl', square(6, 7)))))
    assert {m.class_name: m.instance_id for m in back.instances} == {'can': 2, 'bowl': 3}
    for instance in back.instances:
        assert back.instance_ids is not None
        assert np.array_equal(instance.mask, back.instance_ids == instance.instance_id)


def test_tracks_unseen_too_long_are_retired() -> None:
    smoother = TemporalSmoother(SmoothingConfig(instance_max_missed=1))
    depth = np.full((H, W), 2.0)
    smoother.update(_result(depth, masks=(('mug', _box()),)))
    for _ in range(2):
        smoother.update(_result(depth, masks=(('can', ~_box()),)))
    again = smoother.update(_result(depth, masks=(('mug', _box()), ('can', ~_box()))))
    assert {m.class_name: m.instance_id for m in again.instances} == {'can': 2, 'mug': 3}


def test_referring_masks_are_voted() -> None:
    smoother = TemporalSmoother()
    depth = np.full((H, W), 2.0)
    for _ in range(3):
        smoother.update(_result(depth, referring=_box()), K)
    empty = smoother.update(_result(depth, referring=np.zeros((H, W), dtype=bool)), K)
    (mask,) = empty.referring
    assert np.array_equal(mask.mask, _box()) and mask.area_px == int(_box().sum())


def test_normals_are_averaged_and_stay_unit() -> None:
    rng = np.random.default_rng(3)
    smoother = TemporalSmoother()
    spread = []
    for _ in range(10):
        noisy = np.zeros((3, H, W), dtype=np.float32)
        noisy[0] = 0.05 * rng.standard_normal((H, W))
        noisy[2] = -1.0
        noisy /= np.sqrt((noisy**2).sum(0))
        out = smoother.update(_result(np.full((H, W), 2.0), normals=noisy.transpose(1, 2, 0)), K)
        assert out.normals is not None and out.normals.shape == (H, W, 3)
        assert np.allclose(np.linalg.norm(out.normals, axis=-1), 1.0, atol=1e-5)
        spread.append(float(np.abs(out.normals[..., 0]).mean()))
    assert spread[-1] < 0.6 * spread[0]


def test_in_place_writes_into_the_result_and_the_default_does_not() -> None:
    rng = np.random.default_rng(4)
    for in_place in (False, True):
        smoother = TemporalSmoother()
        smoother.update(_result(_box_scene()), K)
        result = _result(_box_scene() * (1 + 0.01 * rng.standard_normal((H, W))))
        before = None if result.depth_m is None else result.depth_m.copy()
        out = smoother.update(result, K, in_place=in_place)
        assert out.depth_m is not None and before is not None and result.depth_m is not None
        assert (
            out.depth_m is result.depth_m or np.shares_memory(out.depth_m, result.depth_m)
        ) == (in_place)
        assert np.array_equal(result.depth_m, before) != in_place


@pytest.mark.parametrize(
    ('values', 'field'),
    [
        ({'depth_window': 0}, 'depth_window=0'),
        ({'depth_gate': 0.0}, 'depth_gate=0.0'),
        ({'depth_gate': 1.5}, 'depth_gate=1.5'),
        ({'motion_reset_fraction': 0.0}, 'motion_reset_fraction=0.0'),
        ({'normals_gate_deg': 90.0}, 'normals_gate_deg=90.0'),
        ({'colour_gate': -1.0}, 'colour_gate=-1.0'),
        ({'label_window': 0}, 'label_window=0'),
        ({'instance_iou': 0.0}, 'instance_iou=0.0'),
        ({'instance_max_missed': -1}, 'instance_max_missed=-1'),
        ({'instance_stride_px': 0}, 'instance_stride_px=0'),
        ({'enabled': 'yes'}, "enabled='yes'"),
        ({'depth_gate': math.nan, 'label_window': 2.5}, 'depth_gate=nan, label_window=2.5'),
    ],
)
def test_bad_configs_name_the_field(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f'smoothing: invalid {field}'):
        SmoothingConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('motion', 'message'),
    [
        (np.eye(3), 'finite 4x4'),
        (np.full((4, 4), np.nan), 'finite 4x4'),
        (np.diag([1.0, 1.0, -1.0, 1.0]), 'must be a rotation'),
        (np.diag([2.0, 1.0, 1.0, 1.0]), 'must be a rotation'),
        (np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]), r'motion\[3\]'),
        ('identity', '4x4 array'),
    ],
)
def test_bad_motions_are_refused(motion: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_motion(motion)
    with pytest.raises(ValueError, match=message):
        TemporalSmoother().update(_result(_box_scene()), K, motion)  # type: ignore[arg-type]


def test_pipeline_smooths_a_moving_camera_with_the_oracle() -> None:
    """A short dolly past a rendered tabletop: smoothed yet exact, ids stable, reset works."""
    scene = sample_scene(split_seeds('test', 1, offset=7)[0], 320, 240, 'tabletop')
    frames = camera_dolly(scene, 4, offset_m=(0.06, 0.0, 0.06))
    oracle = OracleBackend(frames)
    classes = sorted({CLASS_NAMES[i] for i in np.unique(oracle.frames[0].labels.numpy()) if i > 0})
    graspable = tuple(c for c in classes if c in GRASPABLE)[:2]
    tasks = TasksConfig(semantic_classes=tuple(classes), instance_classes=graspable)
    config = PipelineConfig(tasks=tasks, model_height=128, model_width=160)
    pipeline = Pipeline(config, backend=oracle)
    plain = Pipeline(replace(config, smoothing=SmoothingConfig(enabled=False)), backend=oracle)
    previous = None
    ids = []
    for index, (frame, scene_now) in enumerate(zip(oracle.frames, frames, strict=True)):
        motion = None
        if previous is not None:
            motion = (
                np.linalg.inv(previous.camera.T_world_camera) @ scene_now.camera.T_world_camera
            )
        previous = scene_now
        camera = CameraFrame(
            frame.rgb.numpy(), oracle.intrinsics[index], frame_id='a', motion=motion
        )
        result = pipeline.process(camera)
        assert 'smooth' in result.timings_ms and result.depth_m is not None
        assert result.cloud is not None
        assert np.allclose(result.cloud.xyz[..., 2], result.depth_m, equal_nan=True)
        metrics = depth_metrics(result.depth_m, frame.depth_m.numpy())
        assert metrics.delta1 >= 0.98, (index, metrics)
        ids.append({m.class_name: m.instance_id for m in result.instances})
        if index == 0:
            raw = plain.process(camera)
            assert raw.depth_m is not None and np.array_equal(raw.depth_m, result.depth_m)
    assert graspable and all(i == ids[0] for i in ids[1:]), ids
    pipeline.reset()
    again = pipeline.process(CameraFrame(oracle.frames[3].rgb.numpy(), oracle.intrinsics[3]))
    raw = plain.process(CameraFrame(oracle.frames[3].rgb.numpy(), oracle.intrinsics[3]))
    assert again.depth_m is not None and raw.depth_m is not None
    assert np.array_equal(again.depth_m, raw.depth_m), 'after reset the frame passes through'
    with pytest.raises(PipelineError, match=r'frame\.motion must be a finite 4x4'):
        pipeline.process(CameraFrame(frame.rgb.numpy(), motion=np.eye(3)))
