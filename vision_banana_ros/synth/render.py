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
Render a batch of scenes: RGB, metric z-depth, normals, semantic labels and instance ids.

Shading is physically loose but photographically plausible: Lambert plus Blinn-Phong highlights
under point lights with inverse-square falloff, shadow maps for the lights that cast shadows
(percentage-closer filtered), screen-space ambient occlusion from the depth buffer, triplanar
texture mapping, then the camera: exposure, tone curve, sRGB gamma, blur and read noise.
Geometry outputs are exact (the analytic ray hits), never affected by the camera effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import functools
import math

import torch
import torch.nn.functional as F

from vision_banana_ros.synth.catalog import class_id
from vision_banana_ros.synth.raycast import cast_rays, local_normals, RayHits, rotate, to_local
from vision_banana_ros.synth.scene import Kind, SceneBatch

__all__ = ['RenderSettings', 'RenderedBatch', 'render']


@dataclass(frozen=True)
class RenderSettings:
    """
    Renderer quality knobs (the scene itself carries everything that varies per frame).

    :ivar shadow_map_px: side of each shadow map in pixels.
    :ivar shadow_fov_deg: field of view of a light's shadow camera.
    :ivar ambient_occlusion: strength of screen-space ambient occlusion; 0 disables it.
    :ivar room_classes: class ids given to a room's floor, walls and ceiling.
    :ivar compile: fuse the per-pixel arithmetic with ``torch.compile`` (needs a C++ compiler;
        the first frame of each new batch shape pays seconds of compilation).
    """

    shadow_map_px: int = 64
    shadow_fov_deg: float = 130.0
    ambient_occlusion: float = 6.0
    room_classes: tuple[int, int, int] = (
        class_id('floor'),
        class_id('wall'),
        class_id('ceiling'),
    )
    compile: bool = False

    def __post_init__(self) -> None:
        if self.shadow_map_px < 8:
            raise ValueError(f'shadow_map_px must be >= 8, got {self.shadow_map_px}')
        if not 10.0 <= self.shadow_fov_deg < 170.0:
            raise ValueError(f'shadow_fov_deg must be in [10, 170), got {self.shadow_fov_deg}')
        if self.ambient_occlusion < 0:
            raise ValueError(f'ambient_occlusion must be >= 0, got {self.ambient_occlusion}')


@dataclass
class RenderedBatch:
    """
    What the renderer draws for B frames; geometry in the camera optical frame.

    :ivar rgb: (B, H, W, 3) uint8 sRGB image.
    :ivar depth_m: (B, H, W) float32 z-depth in metres, NaN where no surface was hit.
    :ivar normals: (B, H, W, 3) float32 unit normals facing the camera, NaN where no hit.
    :ivar labels: (B, H, W) int64 semantic class ids, 0 where no hit.
    :ivar instances: (B, H, W) int64 instance ids, 0 where no hit.
    """

    rgb: torch.Tensor
    depth_m: torch.Tensor
    normals: torch.Tensor
    labels: torch.Tensor
    instances: torch.Tensor


def render(
    scene: SceneBatch, textures: torch.Tensor, settings: RenderSettings | None = None
) -> RenderedBatch:
    """
    Draw a batch of scenes.

    :param scene: B scenes of one resolution.
    :param textures: (T, S, S, 3) float32 texture bank, mean about 1 each (modulates colour).
    :param settings: renderer quality knobs.
    :return: images and exact geometry for every frame.
    """
    settings = settings or RenderSettings()
    hits = cast_rays(
        scene.primitives,
        scene.K,
        scene.T_world_camera,
        scene.height,
        scene.width,
        settings.compile,
    )
    hit = hits.primitive >= 0  # (B, H, W)
    surface = _surface(scene, hits)

    # Labels; a room's faces are floor, walls or ceiling by their inward normal.
    labels, instances = (
        surface.attribute('class_id').long(),
        surface.attribute('instance_id').long(),
    )
    room = surface.attribute('kind') == Kind.ROOM
    face = surface.axis * 2 + (
        surface.normal_local.gather(-1, surface.axis[..., None])[..., 0] > 0
    )
    # face 0..5: inward normal -x, +x, -y, +y, -z (ceiling), +z (floor)
    floor_id, wall_id, ceiling_id = settings.room_classes
    room_label = torch.where(face == 5, floor_id, torch.where(face == 4, ceiling_id, wall_id))
    labels = torch.where(room, room_label, labels)
    instances = torch.where(room, instances + face, instances)

    # Shading in linear RGB, then the camera.
    albedo = surface.attribute('colour') * _texture(textures, surface)
    radiance = _shade(scene, settings, surface, albedo, hits)
    occlusion = _ambient_occlusion(hits.depth_m, hit, settings.ambient_occlusion)
    rgb = _camera(radiance * occlusion[..., None], scene, settings.compile)

    rotation = scene.T_world_camera[:, None, None, :3, :3].transpose(-1, -2)
    normal_camera = rotate(rotation, surface.normal)
    nan = torch.tensor(torch.nan, device=hit.device)
    return RenderedBatch(
        rgb=rgb,
        depth_m=torch.where(hit, hits.depth_m, nan),
        normals=torch.where(hit[..., None], normal_camera, nan),
        labels=torch.where(hit, labels, 0),
        instances=torch.where(hit, instances, 0),
    )


_FLOOR_FACE = 5
_ATTRIBUTES = {  # per-primitive fields gathered for every pixel, and their columns
    'kind': (0, 1),
    'centre': (1, 4),
    'yaw': (4, 5),
    'half_size': (5, 8),
    'colour': (8, 11),
    'texture': (11, 12),
    'texture_scale_m': (12, 13),
    'texture_mix': (13, 14),
    'shininess': (14, 15),
    'class_id': (15, 16),
    'instance_id': (16, 17),
}


@dataclass
class _Surface:
    """Per-pixel surface data (B, H, W, ...) for the nearest hit."""

    table: torch.Tensor  # (B, H, W, 17) the hit primitive's attributes
    point: torch.Tensor  # (B, H, W, 3) world
    local: torch.Tensor  # (B, H, W, 3) in the primitive frame
    normal_local: torch.Tensor  # (B, H, W, 3) primitive frame, outward (inward for rooms)
    axis: torch.Tensor  # (B, H, W) dominant axis of normal_local
    normal: torch.Tensor  # (B, H, W, 3) world, facing the camera
    floor_material: torch.Tensor  # (B, H, W) room floor drawn with its material holder's

    def room_face(self) -> torch.Tensor:
        """Room face 0..5 by inward normal: -x, +x, -y, +y, -z (ceiling), +z (floor)."""
        side = self.normal_local.gather(-1, self.axis[..., None])[..., 0] > 0
        return self.axis * 2 + side

    def attribute(self, name: str) -> torch.Tensor:
        lo, hi = _ATTRIBUTES[name]
        column = self.table[..., lo:hi]
        return column[..., 0] if hi - lo == 1 else column


def _surface(scene: SceneBatch, hits: RayHits) -> _Surface:
    prims = scene.primitives
    batch, count = prims.kind.shape
    columns = [getattr(prims, name).float().reshape(batch * count, -1) for name in _ATTRIBUTES]
    table = torch.cat(columns, dim=-1)  # (B * N, 17)
    offset = torch.arange(batch, device=table.device)[:, None, None] * count
    flat = (offset + hits.primitive.clamp(min=0)).reshape(-1)
    pixels = torch.index_select(table, 0, flat).reshape(*hits.primitive.shape, -1)

    origin = scene.T_world_camera[:, None, None, :3, 3]
    depth = torch.where(hits.primitive >= 0, hits.depth_m, torch.zeros_like(hits.depth_m))
    point = origin + depth[..., None] * hits.direction  # (B, H, W, 3) world
    surface = _Surface(pixels, point, point, point, hits.primitive, point, hits.primitive >= 0)
    yaw = surface.attribute('yaw')
    local = to_local(point, surface.attribute('centre'), yaw)
    shape = local.shape
    normal_local = local_normals(
        surface.attribute('kind').long().reshape(-1),
        local.reshape(-1, 3),
        surface.attribute('half_size').reshape(-1, 3),
    ).reshape(shape)
    normal = _rotate_z(normal_local, yaw)
    facing_away = (normal * hits.direction).sum(-1, keepdim=True) > 0
    surface.local, surface.normal_local = local, normal_local
    surface.axis = normal_local.abs().argmax(-1)
    surface.normal = torch.where(facing_away, -normal, normal)
    # A room's floor takes its material and labels from the EMPTY primitive after the room.
    floor = (surface.attribute('kind') == Kind.ROOM) & (surface.room_face() == _FLOOR_FACE)
    following = flat.reshape(floor.shape) + 1
    holder_kind = table[:, 0][following.clamp(max=table.shape[0] - 1)]
    floor &= (holder_kind == Kind.EMPTY) & (following % count != 0)
    if bool(floor.any()):
        material = _ATTRIBUTES['colour'][0]
        pixels[..., material:][floor] = torch.index_select(table, 0, following[floor])[
            :, material:
        ]
    surface.floor_material = floor
    return surface


def _rotate_z(vectors: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    x = cos * vectors[..., 0] - sin * vectors[..., 1]
    y = sin * vectors[..., 0] + cos * vectors[..., 1]
    return torch.stack((x, y, vectors[..., 2]), dim=-1)


def _texture(textures: torch.Tensor, surface: _Surface) -> torch.Tensor:
    """Triplanar texture factor (B, H, W, 3): 1 where a primitive has no texture."""
    index = surface.attribute('texture').long()
    scale = surface.attribute('texture_scale_m')
    mix = surface.attribute('texture_mix')
    local, axis = surface.local, surface.axis  # project along the dominant normal axis
    s = torch.where(axis == 0, local[..., 1], local[..., 0])
    t = torch.where(axis == 2, local[..., 1], local[..., 2])
    count, size = textures.shape[0], textures.shape[1]
    u = torch.remainder(s / scale, 1.0) * (size - 1)
    v = torch.remainder(-t / scale, 1.0) * (size - 1)
    u0, v0 = u.floor().long(), v.floor().long()
    fu, fv = (u - u0)[..., None], (v - v0)[..., None]
    u1, v1 = (u0 + 1).clamp(max=size - 1), (v0 + 1).clamp(max=size - 1)
    base = index.clamp(0, count - 1) * size * size
    corners = torch.stack(
        (
            base + v0 * size + u0,
            base + v0 * size + u1,
            base + v1 * size + u0,
            base + v1 * size + u1,
        ),
        dim=-1,
    )  # (B, H, W, 4) texel indices, gathered at once
    texel = torch.index_select(textures.reshape(-1, 3), 0, corners.reshape(-1))
    texel = texel.reshape(*corners.shape, 3)
    sample = (
        texel[..., 0, :] * (1 - fu) * (1 - fv)
        + texel[..., 1, :] * fu * (1 - fv)
        + texel[..., 2, :] * (1 - fu) * fv
        + texel[..., 3, :] * fu * fv
    )
    mix = torch.where(index >= 0, mix, torch.zeros_like(mix))[..., None]
    return 1.0 - mix + mix * sample


def _shade(
    scene: SceneBatch,
    settings: RenderSettings,
    surface: _Surface,
    albedo: torch.Tensor,
    hits: RayHits,
) -> torch.Tensor:
    """Linear radiance (B, H, W, 3): ambient plus every light, shadowed where it casts shadows."""
    lights = scene.lights
    light_term = _kernel(_light_term, settings.compile)
    shininess = surface.attribute('shininess')[..., None]
    view = -F.normalize(hits.direction, dim=-1)
    radiance = albedo * lights.ambient[:, None, None, :]
    for index in range(lights.position.shape[1]):
        visible = torch.ones_like(shininess)
        casts = lights.casts_shadow[:, index]  # (B,) only these frames' lights cast shadows
        if bool(casts.any()):
            shadow = _shadow(scene, settings, index, surface.point, hits)
            visible = torch.where(casts[:, None, None, None], shadow, visible)
        radiance = radiance + light_term(
            surface.point,
            surface.normal,
            view,
            albedo,
            shininess,
            lights.position[:, index, None, None, :],
            lights.intensity[:, index, None, None, :],
            visible,
        )
    return radiance


def _light_term(
    point: torch.Tensor,
    normal: torch.Tensor,
    view: torch.Tensor,
    albedo: torch.Tensor,
    shininess: torch.Tensor,
    position: torch.Tensor,
    intensity: torch.Tensor,
    visible: torch.Tensor,
) -> torch.Tensor:
    """One point light's Lambert + Blinn-Phong radiance (B, H, W, 3), inverse-square falloff."""
    offset = position - point
    distance_sq = (offset * offset).sum(-1, keepdim=True).clamp(min=1e-4)
    direction = offset * torch.rsqrt(distance_sq)
    lambert = (normal * direction).sum(-1, keepdim=True).clamp(min=0)
    half = F.normalize(direction + view, dim=-1)
    gloss = (normal * half).sum(-1, keepdim=True).clamp(min=0)
    lobe = gloss.pow(shininess.clamp(min=1)) * (shininess + 8) / (8 * math.pi)
    specular = torch.where((shininess > 0) & (lambert > 0), lobe * 0.04, 0.0)
    return intensity / distance_sq * visible * (albedo * lambert * (3 / math.pi) + specular)


def _kernel(function: Callable[..., torch.Tensor], compiled: bool) -> Callable[..., torch.Tensor]:
    """Return ``function``, or its ``torch.compile``d version (fused loops) when asked."""
    return _compiled(function) if compiled else function


@functools.cache
def _compiled(function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    return torch.compile(function, dynamic=True)


def _shadow(
    scene: SceneBatch, settings: RenderSettings, index: int, point: torch.Tensor, hits: RayHits
) -> torch.Tensor:
    """Fraction (B, H, W, 1) of light index reaching each point, from a shadow map."""
    size = settings.shadow_map_px
    hit = hits.primitive >= 0
    light = scene.lights.position[:, index]  # (B, 3)
    # Aim the shadow camera at the middle of what the main camera sees.
    weight = hit[..., None].float()
    target = (point * weight).sum((1, 2)) / weight.sum((1, 2)).clamp(min=1)
    rotation = _look_at(light, target)  # (B, 3, 3) shadow optical frame -> world
    focal = (size / 2) / math.tan(math.radians(settings.shadow_fov_deg) / 2)
    K = point.new_tensor([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1]])
    K = K.expand(point.shape[0], 3, 3)
    pose = torch.eye(4, device=point.device).repeat(point.shape[0], 1, 1)
    pose[:, :3, :3], pose[:, :3, 3] = rotation, light
    shadow_depth = cast_rays(scene.primitives, K, pose, size, size, settings.compile).depth_m

    in_light = rotate(rotation.transpose(-1, -2)[:, None, None], point - light[:, None, None, :])
    z = in_light[..., 2]
    u = focal * in_light[..., 0] / z.clamp(min=1e-3) + (size - 1) / 2
    v = focal * in_light[..., 1] / z.clamp(min=1e-3) + (size - 1) / 2
    bias = 0.03 + 0.02 * z
    lit = torch.zeros_like(z)
    for du in (-0.5, 0.5):  # 2x2 percentage-closer filtering
        for dv in (-0.5, 0.5):
            col = (u + du).round().long().clamp(0, size - 1)
            row = (v + dv).round().long().clamp(0, size - 1)
            occluder = (
                shadow_depth.reshape(point.shape[0], -1)
                .gather(1, (row * size + col).reshape(point.shape[0], -1))
                .reshape(z.shape)
            )
            lit = lit + (z <= occluder + bias).float()
    outside = (z <= 1e-3) | (u < -1) | (u > size) | (v < -1) | (v > size)
    return torch.where(outside, torch.ones_like(lit), lit / 4)[..., None]


def _look_at(eye: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Optical-frame -> world rotations (B, 3, 3) of cameras at eye looking at target."""
    forward = F.normalize(target - eye, dim=-1)
    up = torch.tensor([0.0, 0.0, 1.0], device=eye.device).expand_as(forward)
    alternative = torch.tensor([1.0, 0.0, 0.0], device=eye.device).expand_as(forward)
    up = torch.where(((forward * up).sum(-1, keepdim=True).abs() > 0.99), alternative, up)
    right = F.normalize(torch.cross(forward, up, dim=-1), dim=-1)
    down = torch.cross(forward, right, dim=-1)
    return torch.stack((right, down, forward), dim=-1)


def _ambient_occlusion(depth_m: torch.Tensor, hit: torch.Tensor, strength: float) -> torch.Tensor:
    """Screen-space occlusion factor (B, H, W) in (0, 1]: points behind their neighbours darken."""
    if strength == 0:
        return torch.ones_like(depth_m)
    depth = torch.where(hit, depth_m, torch.zeros_like(depth_m))[:, None]
    size = max(3, (min(depth.shape[-2:]) // 16) | 1)
    pad = size // 2
    rows = F.avg_pool2d(depth, (1, size), stride=1, padding=(0, pad), count_include_pad=False)
    neighbours = F.avg_pool2d(rows, (size, 1), stride=1, padding=(pad, 0), count_include_pad=False)
    occlusion = ((depth - neighbours) / depth.clamp(min=1e-3)).clamp(min=0)[:, 0]
    return torch.exp(-strength * occlusion)


def _camera(radiance: torch.Tensor, scene: SceneBatch, compiled: bool) -> torch.Tensor:
    """Auto exposure, tone curve, blur, read noise, sRGB gamma, 8-bit: (B, H, W, 3) uint8."""
    sensor = scene.sensor
    # Auto exposure puts the 90th percentile of luminance at 0.7, then the frame's own offset.
    luminance = radiance.mean(-1).reshape(radiance.shape[0], -1)
    level = torch.quantile(luminance[:, :: max(1, luminance.shape[1] // 4096)], 0.9, dim=1)
    gain = 0.7 / level.clamp(min=1e-4) * sensor.exposure
    image = _kernel(_tone, compiled)(radiance, gain[:, None, None, None])
    image = image.permute(0, 3, 1, 2)  # (B, 3, H, W)
    blurred = [
        _gaussian_blur(frame[None], float(sigma))[0] if sigma > 0.05 else frame
        for frame, sigma in zip(image, sensor.blur_sigma_px.tolist(), strict=True)
    ]
    image = torch.stack(blurred)
    noise = torch.stack(
        [
            torch.randn(image.shape[1:], generator=torch.Generator().manual_seed(int(seed))).to(
                image.device
            )
            for seed in sensor.seed.tolist()
        ]
    )
    return _kernel(_to_srgb8, compiled)(image, noise, sensor.noise_std[:, None, None, None])


def _tone(radiance: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Exposure then a soft shoulder instead of a hard clip: (B, H, W, 3) in [0, 1.6)."""
    image = radiance * gain
    return image / (1 + image) * 1.6


def _to_srgb8(image: torch.Tensor, noise: torch.Tensor, noise_std: torch.Tensor) -> torch.Tensor:
    """Add read noise, clip, sRGB-like gamma, quantise: (B, 3, H, W) -> (B, H, W, 3) uint8."""
    noisy = (image + noise * noise_std).clamp(0, 1) ** (1 / 2.2)
    return (noisy * 255).round().to(torch.uint8).permute(0, 2, 3, 1)


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, device=image.device, dtype=image.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    horizontal = kernel.reshape(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = kernel.reshape(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    padded = F.pad(image, (radius, radius, radius, radius), mode='replicate')
    return F.conv2d(F.conv2d(padded, horizontal, groups=channels), vertical, groups=channels)
