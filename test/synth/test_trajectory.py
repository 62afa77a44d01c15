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
"""Camera paths move in small even steps; the world stays put; moving objects glide."""

from __future__ import annotations

from dataclasses import fields
import itertools
import math

import numpy as np
import pytest
import torch
from vision_banana_ros.synth import edits, text, trajectory
from vision_banana_ros.synth.layout import batch_scenes, sample_scene, Scene
from vision_banana_ros.synth.render import render, RenderedBatch, RenderSettings
from vision_banana_ros.synth.textures import texture_bank

FAST = RenderSettings(shadow_map_px=32, ambient_occlusion=0.0)


@pytest.fixture(scope='module')
def scene() -> Scene:
    return sample_scene(1, 64, 48, 'tabletop')


def _eyes(scenes: list[Scene]) -> np.ndarray:
    return np.stack([s.camera.T_world_camera[:3, 3] for s in scenes])


def _turn_deg(a: Scene, b: Scene) -> float:
    relative = a.camera.T_world_camera[:3, :3].T @ b.camera.T_world_camera[:3, :3]
    return math.degrees(math.acos(np.clip((np.trace(relative) - 1) / 2, -1.0, 1.0)))


def _project(scene: Scene, point: np.ndarray) -> np.ndarray:
    pose = scene.camera.T_world_camera
    local = (point - pose[:3, 3]) @ pose[:3, :3]
    uv1: np.ndarray = scene.camera.K @ (local / local[2])
    return uv1[:2]


def test_orbit_turns_the_camera_in_equal_small_steps_about_a_fixed_point(scene: Scene) -> None:
    frames = trajectory.camera_orbit(scene, 5, angle_deg=20.0, pivot_m=1.2)
    assert len(frames) == 5 and frames[0] is scene
    steps = np.linalg.norm(np.diff(_eyes(frames), axis=0), axis=1)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    assert 0.01 < steps[0] < 0.15
    for before, after in itertools.pairwise(frames):
        assert _turn_deg(before, after) == pytest.approx(5.0, abs=1e-6)
        assert after.objects is scene.objects and after.lights is scene.lights
    pose = scene.camera.T_world_camera
    pivot = pose[:3, 3] + 1.2 * pose[:3, 2]
    pixels = np.stack([_project(f, pivot) for f in frames])
    np.testing.assert_allclose(pixels, pixels[:1].repeat(5, 0), atol=1e-9)
    heights = _eyes(frames)[:, 2]
    np.testing.assert_allclose(heights, heights[0], atol=1e-12)


def test_dolly_slides_the_camera_without_turning_it(scene: Scene) -> None:
    frames = trajectory.camera_dolly(scene, 4, offset_m=(0.0, 0.0, 0.3))
    forward = scene.camera.T_world_camera[:3, 2]
    np.testing.assert_allclose(np.diff(_eyes(frames), axis=0), np.tile(0.1 * forward, (3, 1)))
    for frame in frames:
        assert np.array_equal(
            frame.camera.T_world_camera[:3, :3], scene.camera.T_world_camera[:3, :3]
        )
        assert frame.objects is scene.objects


def test_camera_paths_stay_in_the_room_and_out_of_objects(scene: Scene) -> None:
    with pytest.raises(ValueError, match='leave the room'):
        trajectory.camera_dolly(scene, 3, offset_m=(0.0, 0.0, -20.0))
    table = next(o for o in scene.objects if o.class_name == 'table')
    pose = scene.camera.T_world_camera
    inside = np.array(table.position_m) + np.array([0.0, 0.0, 0.4])
    into_table = (inside - pose[:3, 3]) @ pose[:3, :3]
    with pytest.raises(ValueError, match='enter object'):
        trajectory.camera_dolly(scene, 3, offset_m=tuple(into_table))
    with pytest.raises(ValueError, match='frames'):
        trajectory.camera_orbit(scene, 1)
    frames = trajectory.random_camera_path(scene, 4, np.random.default_rng(0))
    assert len(frames) == 4
    assert all(np.linalg.norm(np.diff(_eyes(frames), axis=0), axis=1) > 0)


def test_moving_objects_glide_along_their_support_and_nothing_else_moves(scene: Scene) -> None:
    frames = trajectory.moving_objects(scene, 6, np.random.default_rng(2), count=2)
    assert len(frames) == 6 and frames[0] is scene
    ids = [o.instance_id for o in scene.objects]
    moving = {i for i in ids if frames[-1].find(i).position_m != scene.find(i).position_m}
    assert len(moving) == 2
    for frame in frames:
        assert frame.camera is scene.camera and frame.lights is scene.lights
        for instance_id in ids:
            if instance_id not in moving:
                assert frame.find(instance_id) == scene.find(instance_id)
        assert all(edits.fits(frame, i) for i in moving)
    for instance_id in moving:
        path = np.array([f.find(instance_id).position_m for f in frames])
        steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
        total = np.linalg.norm(path[-1] - path[0])
        assert 0.08 - 1e-9 <= total <= 0.25 + 1e-9
        assert steps.max() <= 1.5 * total / 5 + 1e-9, 'eases: at most 1.5x the mean speed'
        assert steps[0] < steps[2] and steps[-1] < steps[2]
        assert np.all(path[:, 2] == path[0, 2])
    soup = sample_scene(4, 64, 48, 'soup')
    with pytest.raises(ValueError, match='can move'):
        trajectory.moving_objects(soup, 3, np.random.default_rng(0))


@pytest.fixture(scope='module')
def rendered(scene: Scene) -> tuple[list[Scene], RenderedBatch, set[int]]:
    orbit = trajectory.camera_orbit(scene, 3, angle_deg=16.0)
    bank = texture_bank().images
    out = render(batch_scenes(orbit), bank, FAST)
    in_view = text.visible_instances(out.instances[0], 8)
    rng = np.random.default_rng(2)
    movie = trajectory.moving_objects(scene, 3, rng, count=2, candidate_ids=in_view)
    moving = {
        o.instance_id for o, m in zip(scene.objects, movie[-1].objects, strict=True) if o != m
    }
    last = render(batch_scenes(movie[-1:]), bank, FAST)
    joined = RenderedBatch(
        *(torch.cat([getattr(out, f.name), getattr(last, f.name)]) for f in fields(RenderedBatch))
    )
    return [*orbit, movie[-1]], joined, moving


def test_static_geometry_stays_put_in_the_world_as_the_camera_orbits(
    rendered: tuple[list[Scene], RenderedBatch, set[int]],
) -> None:
    scenes, out, _ = rendered
    first = scenes[0].camera
    for index in (1, 2):
        camera = scenes[index].camera
        hit = torch.isfinite(out.depth_m[index])  # room and objects: all of it is static
        v, u = torch.nonzero(hit, as_tuple=True)
        depth = out.depth_m[index][v, u].double().numpy()
        rays = np.linalg.inv(camera.K) @ np.stack([u.numpy(), v.numpy(), np.ones(len(u))])
        world = camera.T_world_camera[:3, :3] @ (rays * depth) + camera.T_world_camera[:3, 3:]
        local = first.T_world_camera[:3, :3].T @ (world - first.T_world_camera[:3, 3:])
        u0, v0, _ = np.rint(first.K @ (local / local[2])).astype(int)
        inside = (u0 >= 1) & (u0 < first.width - 1) & (v0 >= 1) & (v0 < first.height - 1)
        ids = out.instances[index][v, u].numpy()[inside]
        z = local[2][inside]
        # A point lands on itself (same object, same depth) at its pixel or, rounding and depth
        # edges aside, at a neighbour; only what the first frame cannot see fails.
        found, hidden = np.zeros((2, int(inside.sum())), dtype=bool)
        for dv, du in itertools.product((-1, 0, 1), repeat=2):
            rows, cols = v0[inside] + dv, u0[inside] + du
            seen_depth = out.depth_m[0].double().numpy()[rows, cols]
            same_id = out.instances[0].numpy()[rows, cols] == ids
            found |= same_id & (np.abs(seen_depth - z) < 0.02 + 0.02 * z)
            hidden |= seen_depth < z - 0.05  # something in front of it in the first frame
        assert inside.sum() > 1000 and found.mean() > 0.9
        for instance_id in np.unique(ids):  # every surface, however small, stays put
            mine = ids == instance_id
            if mine.sum() >= 15:
                assert (found | hidden)[mine].mean() > 0.95, (index, instance_id)


def test_moving_objects_change_only_their_own_pixels(
    rendered: tuple[list[Scene], RenderedBatch, set[int]],
) -> None:
    _, out, moving = rendered
    first, last = out.instances[0], out.instances[3]
    movers = torch.tensor(sorted(moving))
    untouched = ~torch.isin(first, movers) & ~torch.isin(last, movers)
    assert torch.equal(first[untouched], last[untouched])
    assert torch.equal(
        out.depth_m[0][untouched].nan_to_num(), out.depth_m[3][untouched].nan_to_num()
    )
    assert not torch.equal(first, last), 'something visibly moved'
