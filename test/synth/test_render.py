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
"""The renderer's geometry is exact: planes, spheres, labels, intrinsics; shading is sane."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from vision_banana_ros.geometry import backproject, CameraIntrinsics
from vision_banana_ros.synth.catalog import class_id
from vision_banana_ros.synth.render import render, RenderSettings
from vision_banana_ros.synth.scene import Kind, Lights, Primitives, SceneBatch, Sensor

# World z up; this camera sits at the origin looking along world +y (optical z = world y,
# optical x = world x, optical y = world -z).
LOOK_ALONG_Y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _scene(solids: list[dict[str, object]], height: int = 48, width: int = 64, fx: float = 50.0,
           device: torch.device | str = 'cpu') -> SceneBatch:  # fmt: skip
    count = len(solids)

    def column(name: str, default: object) -> torch.Tensor:
        return torch.tensor([[s.get(name, default) for s in solids]])

    primitives = Primitives(
        kind=column('kind', int(Kind.BOX)),
        centre=column('centre', (0.0, 0.0, 0.0)).float(),
        half_size=column('half_size', (0.5, 0.5, 0.5)).float(),
        yaw=column('yaw', 0.0).float(),
        colour=column('colour', (0.5, 0.5, 0.5)).float(),
        texture=column('texture', -1),
        texture_scale_m=torch.ones(1, count),
        texture_mix=torch.zeros(1, count),
        shininess=torch.zeros(1, count),
        class_id=column('class_id', 1),
        instance_id=column('instance_id', 1),
    )
    K = torch.tensor([[[fx, 0, (width - 1) / 2], [0, fx * 1.1, (height - 1) / 2 + 3], [0, 0, 1]]])
    pose = torch.eye(4)[None].clone()
    pose[0, :3, :3] = LOOK_ALONG_Y
    return SceneBatch(
        primitives=primitives,
        lights=Lights(
            position=torch.tensor([[[0.0, 0.0, 2.0]]]),
            intensity=torch.tensor([[[5.0, 5.0, 5.0]]]),
            casts_shadow=torch.tensor([[True]]),
            ambient=torch.tensor([[0.1, 0.1, 0.1]]),
        ),
        sensor=Sensor(
            torch.ones(1), torch.zeros(1), torch.zeros(1), torch.zeros(1, dtype=torch.long)
        ),
        K=K.float(),
        T_world_camera=pose,
        height=height,
        width=width,
    ).to(device)


TEXTURES = torch.ones(1, 4, 4, 3)


def test_wall_at_known_distance_has_that_depth_everywhere(device: torch.device) -> None:
    wall = {'centre': (0.0, 3.0 + 0.05, 0.0), 'half_size': (50.0, 0.05, 50.0)}
    out = render(_scene([wall], device=device), TEXTURES.to(device))
    torch.testing.assert_close(
        out.depth_m, torch.full_like(out.depth_m, 3.0), rtol=1e-5, atol=1e-5
    )
    expected = torch.tensor([0.0, 0.0, -1.0], device=device).expand_as(out.normals)
    torch.testing.assert_close(out.normals, expected, atol=1e-5, rtol=0)


def test_floor_plane_depth_and_normal_match_the_analytic_plane() -> None:
    # Floor 1 m below the camera: a pixel row v below the centre sees z = fy * 1 / (v - cy).
    floor = {'centre': (0.0, 20.0, -1.05), 'half_size': (50.0, 20.0, 0.05)}
    scene = _scene([floor])
    out = render(scene, TEXTURES)
    fy, cy = scene.K[0, 1, 1], scene.K[0, 1, 2]
    rows = torch.arange(scene.height, dtype=torch.float32)
    below = rows > cy + 1
    expected = fy / (rows[below] - cy)
    torch.testing.assert_close(out.depth_m[0, below, 10], expected, rtol=1e-4, atol=1e-4)
    assert torch.isnan(out.depth_m[0, rows < cy - 1]).all(), 'nothing above the horizon'
    up_in_optical = torch.tensor([0.0, -1.0, 0.0])
    torch.testing.assert_close(
        out.normals[0, below], up_in_optical.expand(int(below.sum()), 64, 3), atol=1e-5, rtol=0
    )


def test_sphere_normals_point_from_its_centre_to_the_surface() -> None:
    sphere = {'kind': int(Kind.SPHERE), 'centre': (0.2, 4.0, 0.1), 'half_size': (1.0, 1.0, 1.0)}
    scene = _scene([sphere], height=96, width=128, fx=80.0)
    out = render(scene, TEXTURES)
    hit = torch.isfinite(out.depth_m[0])
    assert hit.sum() > 500
    K = scene.K[0]
    intrinsics = CameraIntrinsics(
        fx=float(K[0, 0]),
        fy=float(K[1, 1]),
        cx=float(K[0, 2]),
        cy=float(K[1, 2]),
        width=128,
        height=96,
    )
    points = torch.as_tensor(backproject(out.depth_m[0].numpy(), intrinsics))  # optical frame
    centre_optical = LOOK_ALONG_Y.T @ torch.tensor([0.2, 4.0, 0.1])
    radial = points[hit] - centre_optical
    torch.testing.assert_close(radial.norm(dim=-1), torch.ones(int(hit.sum())), atol=2e-4, rtol=0)
    torch.testing.assert_close(
        out.normals[0][hit], radial / radial.norm(dim=-1, keepdim=True), atol=2e-3, rtol=0
    )


def test_a_point_projects_where_K_says() -> None:
    # A small cube centred on a known world point must cover the pixel K projects it to.
    point_world = torch.tensor([0.7, 5.0, -0.4])
    cube = {
        'centre': tuple(point_world.tolist()),
        'half_size': (0.04, 0.04, 0.04),
        'instance_id': 9,
    }
    scene = _scene([cube], height=96, width=128, fx=90.0)
    out = render(scene, TEXTURES)
    optical = LOOK_ALONG_Y.T @ point_world
    u, v, _ = (scene.K[0] @ optical) / optical[2]
    ys, xs = torch.nonzero(out.instances[0] == 9, as_tuple=True)
    assert xs.float().mean().item() == pytest.approx(u.item(), abs=0.6)
    assert ys.float().mean().item() == pytest.approx(v.item(), abs=0.6)


def test_labels_of_a_known_layout() -> None:
    # Room with a box in front of a ball: floor, walls, the box in front, the ball behind it.
    room = {
        'kind': int(Kind.ROOM),
        'centre': (0.0, 0.0, 0.5),
        'half_size': (3.0, 6.0, 2.0),
        'class_id': 99,
        'instance_id': 1,
    }
    box = {
        'centre': (0.0, 3.0, 0.0),
        'half_size': (0.3, 0.3, 0.3),
        'class_id': 7,
        'instance_id': 20,
    }
    ball = {
        'kind': int(Kind.SPHERE),
        'centre': (0.0, 4.5, 0.5),
        'half_size': (0.6, 0.6, 0.6),
        'class_id': 8,
        'instance_id': 21,
    }
    out = render(_scene([room, box, ball], height=96, width=128, fx=60.0), TEXTURES)
    labels, instances = out.labels[0], out.instances[0]
    settings = RenderSettings()
    floor, wall, ceiling = settings.room_classes
    assert (floor, wall, ceiling) == (class_id('floor'), class_id('wall'), class_id('ceiling'))
    centre_v = 48 + 3
    assert labels[centre_v, 64] == 7 and instances[centre_v, 64] == 20, 'the box is in front'
    assert labels[centre_v - 14, 64] == 8 and instances[centre_v - 14, 64] == 21, (
        'the ball peeks over'
    )
    assert labels[-1, 64] == floor and labels[0, 64] == ceiling and labels[centre_v, 0] == wall
    # The six room faces are distinct instances 1..6.
    assert {int(i) for i in instances[labels == wall].unique()} <= set(range(1, 7))
    assert len(instances[labels == wall].unique()) >= 2


def test_shadow_falls_behind_an_occluder() -> None:
    # A light right above a box on a floor: the floor under the box's edge is darker than far away.
    floor = {'centre': (0.0, 3.0, -1.05), 'half_size': (5.0, 5.0, 0.05), 'instance_id': 1}
    box = {'centre': (0.0, 3.0, -0.4), 'half_size': (0.3, 0.3, 0.3), 'instance_id': 2}
    scene = _scene([floor, box], height=96, width=128, fx=60.0)
    scene.lights.position[:] = torch.tensor([0.0, 3.0, 1.5])
    lit = render(scene, TEXTURES)
    scene.lights.casts_shadow[:] = False
    unshadowed = render(scene, TEXTURES)
    on_floor = lit.instances[0] == 1
    darker = (lit.rgb[0].float().mean(-1) < unshadowed.rgb[0].float().mean(-1) - 5) & on_floor
    assert darker.sum() > 20, 'some floor is in the box shadow'
    assert not darker[lit.instances[0] == 2].any()


def test_textures_change_colour_not_geometry() -> None:
    wall = {'centre': (0.0, 3.05, 0.0), 'half_size': (50.0, 0.05, 50.0), 'texture': 0}
    scene = _scene([wall])
    scene.primitives.texture_mix[:] = 1.0
    checker = torch.ones(1, 8, 8, 3) * 0.2
    checker[0, ::2, ::2] = 1.8
    plain = render(scene, torch.ones(1, 8, 8, 3))
    textured = render(scene, checker)
    assert torch.equal(plain.depth_m, textured.depth_m) and torch.equal(
        plain.labels, textured.labels
    )
    assert textured.rgb.float().std() > plain.rgb.float().std() + 5


def test_render_settings_validate() -> None:
    with pytest.raises(ValueError, match='shadow_map_px'):
        RenderSettings(shadow_map_px=2)
    with pytest.raises(ValueError, match='shadow_fov_deg'):
        RenderSettings(shadow_fov_deg=180.0)


def test_a_frame_renders_the_same_bits_alone_or_in_a_batch() -> None:
    from vision_banana_ros.synth.layout import batch_scenes, sample_scene
    from vision_banana_ros.synth.textures import texture_bank

    bank = texture_bank()
    scenes = [sample_scene(seed, 40, 32) for seed in (3, 4, 5)]
    together = render(batch_scenes(scenes), bank.images)
    alone = render(batch_scenes(scenes[1:2]), bank.images)
    torch.testing.assert_close(together.depth_m[1:2], alone.depth_m, equal_nan=True)
    assert torch.equal(together.labels[1:2], alone.labels)
    assert torch.equal(together.rgb[1:2], alone.rgb)
    assert math.isfinite(float(together.depth_m.nanmean()))
    assert np.isfinite(together.depth_m.numpy()).mean() > 0.5


def test_sampled_rooms_label_floor_walls_and_ceiling_with_room_ids() -> None:
    from vision_banana_ros.synth.layout import batch_scenes, ROOM_INSTANCE, sample_scene
    from vision_banana_ros.synth.textures import texture_bank

    scenes = [sample_scene(seed, 64, 48, 'room') for seed in (112, 113, 114)]
    out = render(batch_scenes(scenes), texture_bank().images)
    floor, wall, ceiling = RenderSettings().room_classes
    room_ids = set(range(ROOM_INSTANCE, ROOM_INSTANCE + 6))
    for labels, instances in zip(out.labels, out.instances, strict=True):
        assert set(instances[labels == floor].tolist()) <= {ROOM_INSTANCE + 5}
        assert set(instances[(labels == wall) | (labels == ceiling)].tolist()) <= room_ids
        objects = (labels != floor) & (labels != wall) & (labels != ceiling) & (labels > 0)
        assert not (set(instances[objects].tolist()) & room_ids), 'objects never reuse room ids'
