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

"""Box fitting and objects from masks: known boxes, invariances, degenerate sets, drop reasons."""

from __future__ import annotations

from dataclasses import replace
import json

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.objects import (
    Box,
    canonical_axes,
    DROP_REASONS,
    find_objects,
    fit_box,
    ObjectBuilder,
    ObjectsConfig,
    rotation_to_quaternion,
)
from vision_banana_ros.pipeline.result import InstanceMask, PerceptionResult, ReferringMask

SIZE = np.array([0.30, 0.18, 0.08])


def box_surface(size: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (count, 3) points on the six faces of an axis-aligned box at 0, and normals."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.5, 0.5, (count, 3)) * size
    face = rng.integers(0, 3, count)
    side = rng.choice([-0.5, 0.5], count)
    points[np.arange(count), face] = side * size[face]
    normals = np.zeros((count, 3))
    normals[np.arange(count), face] = np.sign(side)
    return points, normals


def seen_faces(
    size: np.ndarray, turn: np.ndarray, centre: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the points and normals of a turned box's faces a camera at 0 sees."""
    points, normals = box_surface(size, 8000, seed)
    points, normals = points @ turn.T + centre, normals @ turn.T
    seen = (normals * points).sum(axis=1) < 0
    return points[seen], normals[seen]


def same_axes(a: np.ndarray, b: np.ndarray, atol: float) -> bool:
    """Tell whether two sets of axes (columns) agree up to each axis's sign."""
    return bool(np.allclose(np.abs(np.einsum('ij,ij->j', a, b)), 1.0, atol=atol))


rotations = st.builds(
    lambda q: Rotation.from_quat(q).as_matrix(),
    st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda q: np.linalg.norm(q) > 0.3),
)


# ---------------------------------------------------------------------------------------------
# fit_box


def test_a_rotated_box_gives_its_centre_extents_and_axes() -> None:
    turn = Rotation.from_euler('xyz', [0.3, -0.5, 0.9]).as_matrix()
    centre = np.array([0.1, -0.05, 1.2])
    points = box_surface(SIZE, 5000, 0)[0] @ turn.T + centre
    box = fit_box(points)
    np.testing.assert_allclose(box.size_m, SIZE, atol=2e-3)
    np.testing.assert_allclose(box.center_m, centre, atol=1e-3)
    assert same_axes(box.rotation, turn, atol=1e-3)
    np.testing.assert_allclose(box.rotation.T @ box.rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(box.rotation) == pytest.approx(1.0)


@pytest.mark.parametrize('seed', range(4))
def test_three_visible_faces_give_the_whole_box_with_normals(seed: int) -> None:
    turn = Rotation.random(random_state=seed).as_matrix()
    points, normals = seen_faces(SIZE, turn, np.array([0.0, 0.0, 1.0]), seed)
    box = fit_box(points, normals)
    np.testing.assert_allclose(box.size_m, SIZE, atol=3e-3)
    assert same_axes(box.rotation, turn, atol=1e-6)
    noisy = normals + np.random.default_rng(seed).normal(0, 0.2, normals.shape)  # ~16 deg
    assert same_axes(fit_box(points, noisy).rotation, turn, atol=1e-3)


def test_points_alone_are_tilted_by_the_visible_faces() -> None:
    turn = Rotation.random(random_state=0).as_matrix()
    points, _ = seen_faces(SIZE, turn, np.array([0.0, 0.0, 1.0]), 0)
    assert not same_axes(fit_box(points).rotation, turn, atol=0.01)


def test_a_cylinder_axis_comes_from_its_side_and_top_normals() -> None:
    rng = np.random.default_rng(8)
    angle, height = rng.uniform(0, 2 * np.pi, 4000), rng.uniform(0.0, 0.12, 4000)
    side = np.stack([0.04 * np.cos(angle), 0.04 * np.sin(angle), height], axis=1)
    side_normals = np.stack([np.cos(angle), np.sin(angle), np.zeros(4000)], axis=1)
    turn = Rotation.from_euler('x', -2.0).as_matrix()  # axis up and towards the camera
    points, normals = side @ turn.T + (0.0, 0.0, 0.8), side_normals @ turn.T
    seen = (normals * points).sum(axis=1) < 0
    box = fit_box(points[seen], normals[seen])
    assert abs(box.rotation[:, 0] @ turn[:, 2]) == pytest.approx(1.0, abs=1e-6)
    assert box.size_m[0] == pytest.approx(0.12, abs=1e-3)


def test_percentiles_ignore_stray_points() -> None:
    points = box_surface(SIZE, 4000, 2)[0] + (0.0, 0.0, 1.0)
    strays = np.array([[2.0, 0.0, 1.0], [0.0, -3.0, 1.0]])
    box = fit_box(np.concatenate([points, strays]), percentile=1.0)
    np.testing.assert_allclose(box.size_m, SIZE, rtol=0.03)  # not metres off


def test_axes_are_ordered_longest_first_with_z_towards_the_camera() -> None:
    turn = Rotation.from_euler('yx', [1.2, 0.4]).as_matrix()
    points, normals = seen_faces(SIZE[::-1].copy(), turn, np.array([0.1, 0.0, 2.0]), 3)
    box = fit_box(points, normals)
    assert box.size_m[0] >= box.size_m[1] >= box.size_m[2]
    assert box.rotation[:, 2] @ -box.center_m > 0
    assert box.rotation[:, 0] @ np.array([1.0, -1.0, 1.0]) >= 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), turn=rotations, with_normals=st.booleans())
def test_the_box_does_not_depend_on_point_order(
    seed: int, turn: np.ndarray, with_normals: bool
) -> None:
    points, normals = seen_faces(SIZE, turn, np.array([0.0, 0.0, 1.5]), seed)
    order = np.random.default_rng(seed).permutation(len(points))
    given_normals = normals if with_normals else None
    a = fit_box(points, given_normals, percentile=1.0)
    b = fit_box(points[order], None if given_normals is None else normals[order], percentile=1.0)
    np.testing.assert_allclose(a.center_m, b.center_m, atol=1e-9)
    np.testing.assert_allclose(a.size_m, b.size_m, atol=1e-9)
    np.testing.assert_allclose(a.rotation, b.rotation, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), turn=rotations, with_normals=st.booleans())
def test_the_box_turns_with_the_points(seed: int, turn: np.ndarray, with_normals: bool) -> None:
    points, normals = box_surface(SIZE, 800, seed)
    plain = fit_box(points, normals if with_normals else None, toward=np.array([0.0, 0.0, -1.0]))
    turned = fit_box(
        points @ turn.T,
        normals @ turn.T if with_normals else None,
        toward=turn @ np.array([0.0, 0.0, -1.0]),
    )
    np.testing.assert_allclose(turned.center_m, turn @ plain.center_m, atol=1e-6)
    np.testing.assert_allclose(turned.size_m, plain.size_m, atol=1e-6)
    assert same_axes(turned.rotation, turn @ plain.rotation, atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(turn=rotations, flips=st.lists(st.booleans(), min_size=3, max_size=3))
def test_axis_signs_are_fixed_whatever_the_solver_returns(
    turn: np.ndarray, flips: list[bool]
) -> None:
    signs = np.where(flips, -1.0, 1.0)
    toward = np.array([0.2, -0.1, -1.0])
    a, size_a = canonical_axes(turn, SIZE, toward)
    b, size_b = canonical_axes(turn * signs, SIZE, toward)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(size_a, size_b)
    assert np.linalg.det(a) == pytest.approx(1.0)
    assert a[:, 2] @ toward >= 0


def test_one_point_gives_a_zero_box_at_it() -> None:
    box = fit_box(np.array([[0.1, 0.2, 1.0]]))
    np.testing.assert_allclose(box.center_m, [0.1, 0.2, 1.0])
    np.testing.assert_array_equal(box.size_m, np.zeros(3))
    assert np.linalg.det(box.rotation) == pytest.approx(1.0)


def test_three_points_span_a_flat_box() -> None:
    points = np.array([[0.0, 0.0, 1.0], [0.2, 0.0, 1.0], [0.0, 0.1, 1.0]])
    box = fit_box(points)
    assert box.size_m[2] == pytest.approx(0.0, abs=1e-9)
    assert np.abs(box.rotation[:, 2]) @ (0.0, 0.0, 1.0) == pytest.approx(1.0)
    inside = (points - box.center_m) @ box.rotation
    assert np.all(np.abs(inside) <= box.size_m / 2 + 1e-9)


def test_a_flat_plate_has_zero_height_and_its_normal_as_z() -> None:
    rng = np.random.default_rng(4)
    radius, angle = np.sqrt(rng.uniform(0, 1, 3000)) * 0.12, rng.uniform(0, 2 * np.pi, 3000)
    plate = np.stack([radius * np.cos(angle), radius * np.sin(angle), np.zeros(3000)], axis=1)
    tilt = Rotation.from_euler('x', 0.7).as_matrix()
    box = fit_box(plate @ tilt.T + (0.0, 0.0, 1.0))
    assert box.size_m[2] == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(box.size_m[:2], 0.24, atol=0.01)
    np.testing.assert_allclose(np.abs(box.rotation[:, 2] @ tilt[:, 2]), 1.0, atol=1e-9)


def test_a_sphere_gets_a_cube() -> None:
    rng = np.random.default_rng(5)
    points = rng.normal(size=(4000, 3))
    points = 0.05 * points / np.linalg.norm(points, axis=1, keepdims=True) + (0.0, 0.0, 1.0)
    box = fit_box(points)
    np.testing.assert_allclose(box.size_m, 0.1, atol=0.004)
    np.testing.assert_allclose(box.center_m, [0.0, 0.0, 1.0], atol=0.002)


def test_quaternions_match_scipy_with_w_non_negative() -> None:
    for turn in Rotation.random(50, random_state=6).as_matrix():
        got = rotation_to_quaternion(turn)
        want = Rotation.from_matrix(turn).as_quat()
        want = -want if want[3] < 0 else want
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_corners_lie_at_the_half_extents() -> None:
    box = fit_box(box_surface(SIZE, 3000, 7)[0] + (0.0, 0.0, 1.0))
    local = (box.corners() - box.center_m) @ box.rotation
    np.testing.assert_allclose(np.abs(local), np.tile(box.size_m / 2, (8, 1)), atol=1e-12)


@pytest.mark.parametrize(
    ('points', 'kwargs', 'message'),
    [
        (np.zeros((0, 3)), {}, 'non-empty'),
        (np.zeros((4, 2)), {}, r'\(N, 3\)'),
        (np.array([[0.0, np.nan, 1.0]]), {}, 'finite'),
        (np.zeros((2, 3)), {'weights': np.zeros(2)}, 'weights'),
        (np.zeros((2, 3)), {'weights': np.ones(3)}, 'weights'),
        (np.zeros((2, 3)), {'percentile': 50.0}, 'percentile'),
        (np.zeros((2, 3)), {'normals': np.zeros((3, 3))}, 'normals'),
        ('points', {}, 'points_m'),
    ],
)
def test_bad_input_is_a_clear_value_error(points: object, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_box(points, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Objects from a result

K = CameraIntrinsics(500.0, 500.0, 159.5, 119.5, 320, 240)


def card_result(
    card_m: tuple[float, float] = (0.20, 0.10),
    depth_card_m: float = 1.0,
    depth_back_m: float = 2.0,
    **changes: object,
) -> tuple[PerceptionResult, np.ndarray]:
    """Render a fronto-parallel card at 1 m before a wall at 2 m; return result and mask."""
    rows, cols = np.mgrid[0:240, 0:320]
    x = (cols - K.cx) / K.fx * depth_card_m
    y = (rows - K.cy) / K.fy * depth_card_m
    mask = (np.abs(x) <= card_m[0] / 2) & (np.abs(y) <= card_m[1] / 2)
    depth = np.where(mask, depth_card_m, depth_back_m).astype(np.float32)
    normals = np.zeros((240, 320, 3), dtype=np.float32)
    normals[..., 2] = -1.0
    instance = InstanceMask('card', 7, mask, int(mask.sum()), np.array([200, 30, 30], np.uint8))
    values: dict[str, object] = {
        'stamp_ns': 0,
        'frame_id': 'camera',
        'size': (240, 320),
        'depth_m': depth,
        'depth_confidence': np.full((240, 320), 0.8, dtype=np.float32),
        'normals': normals,
        'instances': (instance,),
    }
    values.update(changes)
    return PerceptionResult(**values), mask  # type: ignore[arg-type]


def test_a_card_gives_its_centre_size_normal_and_score() -> None:
    result, _ = card_result()
    found = find_objects(result, K)
    assert found.dropped == dict.fromkeys(DROP_REASONS, 0)
    (card,) = found.objects
    assert (card.name, card.kind, card.key, card.marker_id) == ('card', 'instance', '7', 7)
    np.testing.assert_allclose(card.centroid_m, [0.0, 0.0, 1.0], atol=2e-3)
    np.testing.assert_allclose(card.box.size_m, [0.20, 0.10, 0.0], atol=4e-3)
    np.testing.assert_allclose(card.normal, [0.0, 0.0, -1.0])
    assert card.score == pytest.approx(0.8)
    assert abs(card.box.rotation[:, 0] @ (1.0, 0.0, 0.0)) == pytest.approx(1.0)
    json.dumps(found.to_dict())


def test_flying_pixels_and_a_bled_mask_are_rejected() -> None:
    result, mask = card_result()
    depth = result.depth_m.copy()  # type: ignore[union-attr]
    bigger = np.zeros_like(mask)
    bigger[mask.any(axis=1)] = mask.any(axis=0) | np.roll(mask.any(axis=0), 4)
    ring = bigger & ~mask
    depth[ring] = 1.5  # halfway between card and wall: flying pixels
    wall = np.zeros_like(mask)
    wall[100:140, 60:70] = True  # mask bled onto the wall
    instance = InstanceMask('card', 7, bigger | wall, 0, np.zeros(3, np.uint8))
    dirty = PerceptionResult(
        stamp_ns=0, frame_id='', size=(240, 320), depth_m=depth, instances=(instance,)
    )
    (card,) = find_objects(dirty, K).objects
    np.testing.assert_allclose(card.box.size_m, [0.20, 0.10, 0.0], atol=5e-3)
    assert card.box.center_m[2] == pytest.approx(1.0, abs=1e-3)


def cylinder_result(radius_m: float = 0.05, distance_m: float = 1.0) -> PerceptionResult:
    """Render an upright cylinder (axis along y) whose axis is ``distance_m`` away, wall at 2 m."""
    rows, cols = np.mgrid[0:240, 0:320]
    ray_x = (cols - K.cx) / K.fx  # x / z along each pixel's ray
    # The ray z * (ray_x, ., 1) meets x^2 + (z - d)^2 = r^2 at its nearer root.
    a, b, c = ray_x**2 + 1, -2 * distance_m, distance_m**2 - radius_m**2
    disc = b * b - 4 * a * c
    z = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
    y = (rows - K.cy) / K.fy * z
    mask = (disc > 0) & (np.abs(y) <= 0.1)
    depth = np.where(mask, z, 2.0).astype(np.float32)
    instance = InstanceMask('can', 3, mask, int(mask.sum()), np.zeros(3, np.uint8))
    return PerceptionResult(
        stamp_ns=0, frame_id='', size=(240, 320), depth_m=depth, instances=(instance,)
    )


def test_a_round_objects_rim_is_kept() -> None:
    # The rim's last pixels hold a sizeable part of the visible depth extent: eroding the mask
    # (or rejecting both sides of the silhouette's depth jump) cuts it by a fifth.
    result = cylinder_result()
    mask = result.instances[0].mask
    visible = result.depth_m[mask]  # type: ignore[index]
    for config, share in ((ObjectsConfig(), 1.0), (ObjectsConfig(erode_px=1), 0.82)):
        (can,) = find_objects(result, K, config).objects
        extents = np.abs(can.box.rotation) @ can.box.size_m  # along the camera's x, y, z
        depth_extent = visible.max() - visible.min()
        assert extents[2] == pytest.approx(share * depth_extent, rel=0.02)
        assert extents[0] == pytest.approx(0.10, rel=0.05)
    assert find_objects(result, K).objects[0].point_count == mask.sum()


@pytest.mark.parametrize(
    ('change', 'reason'),
    [
        ('empty', 'empty mask'),
        ('nan', 'no depth'),
        ('tiny', 'too few points'),
        ('sparse', 'too sparse'),
    ],
)
def test_unusable_objects_are_dropped_with_their_reason(change: str, reason: str) -> None:
    result, mask = card_result()
    depth = result.depth_m.copy()  # type: ignore[union-attr]
    if change == 'empty':
        mask = np.zeros_like(mask)
    elif change == 'nan':
        depth[:] = np.nan
    elif change == 'tiny':
        mask = np.zeros_like(mask)
        mask[119:122, 159:162] = True
    else:
        band = np.zeros_like(mask)
        band[116:124] = True  # 8 of the card's 50 rows keep their depth
        depth[mask & ~band] = np.nan
    instance = InstanceMask('card', 7, mask, int(mask.sum()), np.zeros(3, np.uint8))
    broken = PerceptionResult(
        stamp_ns=0, frame_id='', size=(240, 320), depth_m=depth, instances=(instance,)
    )
    found = find_objects(broken, K)
    assert found.objects == ()
    assert found.dropped == {**dict.fromkeys(DROP_REASONS, 0), reason: 1}


def test_referring_objects_follow_the_instances_with_their_mask_confidence() -> None:
    result, mask = card_result()
    referring = ReferringMask(
        'the red card', mask, int(mask.sum()), np.full((240, 320), 0.5, np.float32)
    )
    empty = ReferringMask('the blue mug', np.zeros_like(mask), 0, np.zeros((240, 320), np.float32))
    result = PerceptionResult(
        stamp_ns=0,
        frame_id='',
        size=(240, 320),
        depth_m=result.depth_m,
        depth_confidence=result.depth_confidence,
        instances=result.instances,
        referring=(referring, empty),
    )
    found = find_objects(result, K)
    assert [o.key for o in found.objects] == ['7', 'referring_0']
    referred = found.objects[1]
    assert (referred.name, referred.marker_id) == ('the red card', 65536)
    assert referred.score == pytest.approx(0.4)
    assert np.isnan(referred.normal).all()  # no normals in this result
    assert found.dropped['empty mask'] == 1


def test_no_depth_or_disabled_gives_no_objects() -> None:
    result, _ = card_result(depth_m=None)
    assert find_objects(result, K).objects == ()
    result, _ = card_result()
    assert find_objects(result, K, ObjectsConfig(enabled=False)).objects == ()


def test_a_track_keeps_its_axes_when_its_extents_swap() -> None:
    builder = ObjectBuilder(ObjectsConfig(box_smoothing=0.0))
    first = None
    for frame, card in enumerate([(0.20, 0.19), (0.19, 0.20), (0.20, 0.19), (0.19, 0.20)]):
        result, _ = card_result(card_m=card)
        (obj,) = builder.update(result, K).objects
        fresh = find_objects(result, K).objects[0]
        if first is None:
            first = obj.box.rotation
        np.testing.assert_allclose(obj.box.rotation, first, atol=1e-9)
        if frame % 2:  # without the history the long axis, and so the box's x, swaps
            assert abs(fresh.box.rotation[:, 0] @ first[:, 0]) < 0.1
        np.testing.assert_allclose(np.sort(obj.box.size_m), np.sort(fresh.box.size_m))


def shifted_card(depth_m: float) -> PerceptionResult:
    """Draw the card at ``depth_m`` (the same pixels), as a flickering generator would."""
    result, mask = card_result()
    depth = np.where(mask, depth_m, 2.0).astype(np.float32)
    return PerceptionResult(
        stamp_ns=0, frame_id='', size=(240, 320), depth_m=depth, instances=result.instances
    )


def test_a_static_box_holds_still_through_flicker() -> None:
    flicker = [1.00, 1.04, 0.96, 1.04, 0.96, 1.04]
    smoothed, raw = (
        ObjectBuilder(ObjectsConfig(box_smoothing=0.5)),
        ObjectBuilder(ObjectsConfig(box_smoothing=0.0)),
    )
    steps = {'smoothed': [], 'raw': []}
    last: dict[str, float] = {}
    for depth in flicker:
        for name, builder in (('smoothed', smoothed), ('raw', raw)):
            (card,) = builder.update(shifted_card(depth), K).objects
            z = float(card.box.center_m[2])
            assert card.centroid_m[2] == pytest.approx(z, abs=1e-6)
            if name in last:
                steps[name].append(abs(z - last[name]))
            last[name] = z
    # Raw steps are 8 cm; blended with weight 0.5 they settle at a third of that.
    assert np.mean(steps['raw']) == pytest.approx(0.08 * 0.9, abs=0.01)
    assert max(steps['smoothed'][2:]) < 0.4 * min(steps['raw'][2:])


def test_a_box_seen_from_a_moving_camera_is_carried_by_the_motion() -> None:
    # The card stays put in the world while the camera drives 5 cm a frame towards it: with the
    # motion given the blended box is the true one; without it, it would lag behind.
    builder = ObjectBuilder(ObjectsConfig(box_smoothing=0.8))
    for frame in range(4):
        motion = np.eye(4)
        motion[2, 3] = 0.05  # T_prev_curr: this camera sits 5 cm ahead of the previous one
        result = shifted_card(1.2 - 0.05 * frame)
        (card,) = builder.update(result, K, motion if frame else None).objects
        assert card.box.center_m[2] == pytest.approx(1.2 - 0.05 * frame, abs=1e-4)
        rotation = card.box.rotation
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)


@pytest.mark.parametrize('weight', [0.5, 0.75])
def test_a_box_follows_a_moving_object_with_the_documented_lag(weight: float) -> None:
    # Receding 1 cm a frame (well inside the gate): the blended box settles w / (1 - w)
    # frames of motion behind.
    builder = ObjectBuilder(ObjectsConfig(box_smoothing=weight))
    for frame in range(40):
        (card,) = builder.update(shifted_card(1.0 + 0.01 * frame), K).objects
    lag_frames = (1.0 + 0.01 * 39 - card.box.center_m[2]) / 0.01
    assert lag_frames == pytest.approx(weight / (1 - weight), abs=0.01)


def test_a_new_referring_expression_is_a_new_track() -> None:
    builder = ObjectBuilder(ObjectsConfig(box_smoothing=0.9))
    for depth, expression in ((1.0, 'the red card'), (1.05, 'the blue card')):
        _, mask = card_result()
        referring = ReferringMask(
            expression, mask, int(mask.sum()), np.ones(mask.shape, np.float32)
        )
        shifted = shifted_card(depth)
        (card,) = builder.update(replace(shifted, instances=(), referring=(referring,)), K).objects
    assert card.box.center_m[2] == pytest.approx(1.05, abs=1e-4)  # not blended with the red one


def test_a_moved_object_starts_afresh() -> None:
    builder = ObjectBuilder(ObjectsConfig(box_smoothing=0.9, box_gate=0.2))
    builder.update(shifted_card(1.0), K)
    (card,) = builder.update(shifted_card(1.3), K).objects  # 30 % of its distance: moved
    assert card.box.center_m[2] == pytest.approx(1.3, abs=1e-4)
    (card,) = builder.update(shifted_card(1.35), K).objects  # 4 %: blended
    assert card.box.center_m[2] == pytest.approx(0.9 * 1.3 + 0.1 * 1.35, abs=1e-4)


def test_mismatched_sizes_are_value_errors() -> None:
    result, _ = card_result()
    with pytest.raises(ValueError, match='intrinsics are for'):
        find_objects(result, CameraIntrinsics(500.0, 500.0, 319.5, 239.5, 640, 480))
    bad = InstanceMask('card', 1, np.ones((10, 10), bool), 100, np.zeros(3, np.uint8))
    result, _ = card_result(instances=(bad,))
    with pytest.raises(ValueError, match='mask of'):
        find_objects(result, K)


@pytest.mark.parametrize(
    'field',
    [
        {'erode_px': -1},
        {'edge_step': 1.0},
        {'depth_gate_mads': float('nan')},
        {'min_points': 0},
        {'min_fill': 1.5},
        {'extent_percentile': 11.0},
        {'box_smoothing': 1.0},
        {'box_gate': 0.0},
        {'enabled': 1},
    ],
)
def test_config_rejects_bad_values_by_name(field: dict) -> None:
    (name,) = field
    with pytest.raises(ValueError, match=f'objects: invalid {name}='):
        ObjectsConfig(**field)


def test_a_moved_box_keeps_its_shape_and_moves_back() -> None:
    upright = Rotation.from_euler('z', 30, degrees=True).as_matrix()
    box = Box(np.array([0.1, -0.2, 1.0]), upright, np.array([0.3, 0.2, 0.1]))
    turn = Rotation.from_euler('xy', [10, -40], degrees=True).as_matrix()
    shift = np.array([0.5, 0.0, -0.3])
    there = box.moved(turn, shift)
    np.testing.assert_allclose(there.corners(), box.corners() @ turn.T + shift, atol=1e-12)
    back = there.moved(turn.T, -turn.T @ shift)
    np.testing.assert_allclose(back.center_m, box.center_m, atol=1e-12)
    np.testing.assert_allclose(back.rotation, box.rotation, atol=1e-12)
    np.testing.assert_array_equal(back.size_m, box.size_m)
