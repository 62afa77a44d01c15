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
The scene description the renderer draws: analytic primitives, materials, lights and a camera.

A scene is a handful of primitives in a world frame with z up, metres. Every primitive is an
oriented solid (rotated by ``yaw`` about world z): a box, a vertical cylinder, a sphere, or a
bowl (the lower half of a thin spherical shell, open at the top). Objects are made of one or more
primitives that share an instance id and a class id (a table is a top and four legs). Scenes are
batched by padding to the largest primitive count; padded slots have kind ``EMPTY``.

Cameras follow REP 103's optical frame (x right, y down, z forward); ``T_world_camera`` maps
camera-frame points into the world (tf2's target, source order).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import torch

__all__ = ['Kind', 'Lights', 'Primitives', 'SceneBatch', 'Sensor']


class Kind(IntEnum):
    """
    Primitive kinds.

    ``half_size`` means (hx, hy, hz) for boxes and rooms, (r, r, h/2) for cylinders, (r, r, r)
    for spheres and bowls. A ``ROOM`` is a box seen from inside (floor, walls and ceiling in one
    primitive, so a ray inside the room tests one solid instead of six). An ``EMPTY`` primitive
    right after a room holds the floor's material and labels (it is never hit itself).
    """

    EMPTY = 0
    ROOM = 1
    BOX = 2
    CYLINDER = 3
    SPHERE = 4
    BOWL = 5


@dataclass
class Primitives:
    """
    Solids of a batch of scenes, padded to N per scene.

    :ivar kind: (B, N) int64 ``Kind`` values.
    :ivar centre: (B, N, 3) float32 world position of the solid's centre, metres.
    :ivar half_size: (B, N, 3) float32 half extents in the solid's own frame, metres.
    :ivar yaw: (B, N) float32 rotation about world z, radians.
    :ivar colour: (B, N, 3) float32 linear base colour in [0, 1].
    :ivar texture: (B, N) int64 index into the texture bank, -1 for none.
    :ivar texture_scale_m: (B, N) float32 metres covered by one texture tile.
    :ivar texture_mix: (B, N) float32 in [0, 1], how much the texture modulates the colour.
    :ivar shininess: (B, N) float32 Blinn-Phong exponent; 0 = matte.
    :ivar class_id: (B, N) int64 semantic class (index into the scene's class list; 0 = none).
    :ivar instance_id: (B, N) int64 object id within its scene, 1..; 0 = none.
    """

    kind: torch.Tensor
    centre: torch.Tensor
    half_size: torch.Tensor
    yaw: torch.Tensor
    colour: torch.Tensor
    texture: torch.Tensor
    texture_scale_m: torch.Tensor
    texture_mix: torch.Tensor
    shininess: torch.Tensor
    class_id: torch.Tensor
    instance_id: torch.Tensor

    def __post_init__(self) -> None:
        batch, count = self.kind.shape
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value.shape[:2] != (batch, count):
                raise ValueError(
                    f'primitives.{spec.name} must start with (B, N) = {(batch, count)}, '
                    f'got {tuple(value.shape)}'
                )

    def to(self, device: torch.device | str) -> Primitives:
        """Return the same primitives on ``device``."""
        return Primitives(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


@dataclass
class Lights:
    """
    Point lights of a batch of scenes, padded to L per scene (zero intensity = absent).

    :ivar position: (B, L, 3) float32 world position, metres.
    :ivar intensity: (B, L, 3) float32 linear RGB radiant intensity (1 lights a white surface
        facing the light at 1 m to full brightness).
    :ivar casts_shadow: (B, L) bool, whether a shadow map is rendered for the light.
    :ivar ambient: (B, 3) float32 linear RGB ambient light.
    """

    position: torch.Tensor
    intensity: torch.Tensor
    casts_shadow: torch.Tensor
    ambient: torch.Tensor

    def to(self, device: torch.device | str) -> Lights:
        """Return the same lights on ``device``."""
        return Lights(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


@dataclass
class Sensor:
    """
    Per-frame camera response, sampled with the scene so a frame is the same in any batch.

    :ivar exposure: (B,) float32 multiplier on linear radiance before tone mapping.
    :ivar blur_sigma_px: (B,) float32 Gaussian blur (defocus, motion) in pixels; 0 = sharp.
    :ivar noise_std: (B,) float32 standard deviation of read noise on [0, 1] intensities.
    :ivar seed: (B,) int64 seed of the frame's noise.
    """

    exposure: torch.Tensor
    blur_sigma_px: torch.Tensor
    noise_std: torch.Tensor
    seed: torch.Tensor

    def to(self, device: torch.device | str) -> Sensor:
        """Return the same settings on ``device``."""
        return Sensor(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


@dataclass
class SceneBatch:
    """
    Everything the renderer needs for B frames of one resolution.

    :ivar primitives: the solids.
    :ivar lights: the lights.
    :ivar sensor: the camera response.
    :ivar K: (B, 3, 3) float32 pinhole intrinsics in pixels for (height, width).
    :ivar T_world_camera: (B, 4, 4) float32 camera optical frame -> world.
    :ivar height: image rows.
    :ivar width: image columns.
    """

    primitives: Primitives
    lights: Lights
    sensor: Sensor
    K: torch.Tensor
    T_world_camera: torch.Tensor
    height: int
    width: int

    @property
    def batch_size(self) -> int:
        """Return B."""
        return int(self.K.shape[0])

    def to(self, device: torch.device | str) -> SceneBatch:
        """Return the same scenes on ``device``."""
        return SceneBatch(
            self.primitives.to(device),
            self.lights.to(device),
            self.sensor.to(device),
            self.K.to(device),
            self.T_world_camera.to(device),
            self.height,
            self.width,
        )
