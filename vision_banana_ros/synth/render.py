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

Inside, per-pixel data is planar for speed on CPU: vectors as (3, B, H, W) or x, y, z tensors,
colours as (B, 3, H, W), per-primitive attributes as rows of small tables gathered per pixel as
1-D columns; most arithmetic is in place, and large batches are drawn in chunks of frames, since
paging in fresh memory costs more than the arithmetic. Only elementwise arithmetic and per-frame
reductions in a fixed order touch pixels, so a frame renders to the same bits alone or in any
batch, with any number of threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
import functools
import math

import torch
import torch.nn.functional as F
from vision_banana_ros.synth.catalog import class_id
from vision_banana_ros.synth.raycast import (
    as_float,
    cast_rays,
    dominant_axis,
    local_normals_xyz,
    normalize_xyz,
    RayHits,
    select,
    Vec,
)
from vision_banana_ros.synth.scene import Kind, Lights, Primitives, SceneBatch, Sensor

__all__ = ['RenderSettings', 'RenderedBatch', 'render']


@dataclass(frozen=True)
class RenderSettings:
    """
    Renderer quality knobs (the scene itself carries everything that varies per frame).

    :ivar shadow_map_px: side of each shadow map in pixels.
    :ivar shadow_fov_deg: field of view of a light's shadow camera.
    :ivar ambient_occlusion: strength of screen-space ambient occlusion; 0 disables it.
    :ivar room_classes: class ids given to a room's floor, walls and ceiling.
    :ivar fused: fuse the per-pixel arithmetic with ``torch.compile`` (needs a C++ compiler;
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
    fused: bool = False

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
    # 1. Camera rays, in chunks of whole frames (as even as can be): bounded temporaries are
    #    recycled by the memory allocator instead of being paged in afresh, which costs several
    #    times the arithmetic.
    chunks = max(1, -(-scene.batch_size * scene.height * scene.width // _CHUNK_PX))
    size = -(-scene.batch_size // chunks)
    parts = [
        (start, _frames(scene, slice(start, start + size)))
        for start in range(0, scene.batch_size, size)
    ]
    hits = [
        cast_rays(
            part.primitives, part.K, part.T_world_camera, part.height, part.width, settings.fused
        )
        for _, part in parts
    ]
    # 2. The shadow maps of every light that casts shadows, all in one batch.
    lights = scene.lights
    casts = lights.casts_shadow & (lights.intensity != 0).any(-1)  # (B, L)
    maps = None
    if bool(casts.any()):
        aim = [_mean_hit_point(part, h) for (_, part), h in zip(parts, hits, strict=True)]
        maps = _shadow_maps(scene, settings, torch.cat(aim), casts)
    # 3. Shading and geometry outputs, chunk by chunk.
    drawn = [
        _draw(part, h, textures, settings, maps, first)
        for (first, part), h in zip(parts, hits, strict=True)
    ]
    if len(drawn) == 1:
        return drawn[0]
    rgb = torch.cat([part.rgb.permute(0, 3, 1, 2) for part in drawn])  # (B, 3, H, W)
    return RenderedBatch(
        rgb=rgb.permute(0, 2, 3, 1),
        depth_m=torch.cat([part.depth_m for part in drawn]),
        normals=torch.cat([part.normals for part in drawn]),
        labels=torch.cat([part.labels for part in drawn]),
        instances=torch.cat([part.instances for part in drawn]),
    )


_CHUNK_PX = 1 << 18
"""Pixels rendered at once, at most (but one frame at least); the bits are the same in any."""


def _frames(scene: SceneBatch, frames: slice) -> SceneBatch:
    """Return some frames of a batch (views)."""

    def part(group: Primitives | Lights | Sensor) -> dict[str, torch.Tensor]:
        return {f.name: getattr(group, f.name)[frames] for f in fields(group)}

    return SceneBatch(
        primitives=Primitives(**part(scene.primitives)),
        lights=Lights(**part(scene.lights)),
        sensor=Sensor(**part(scene.sensor)),
        K=scene.K[frames],
        T_world_camera=scene.T_world_camera[frames],
        height=scene.height,
        width=scene.width,
    )


def _draw(
    scene: SceneBatch,
    hits: RayHits,
    textures: torch.Tensor,
    settings: RenderSettings,
    maps: _ShadowMaps | None,
    first: int,
) -> RenderedBatch:
    """Shade frames ``first`` on of the shadow maps' batch, from their camera rays' hits."""
    surface = _surface(scene, hits, settings.room_classes)

    # Shading in linear RGB, then the camera.
    albedo = _albedo(textures, surface)  # (B, 3, H, W)
    radiance = _shade(scene, settings, surface, albedo, maps, first)
    occlusion = _ambient_occlusion(surface.depth_m, settings.ambient_occlusion)
    rgb = _camera(radiance.mul_(occlusion[:, None]), scene, settings.fused)

    # Geometry in the optical frame; NaN or 0 where nothing was hit.
    hit = surface.hit
    one_or_nan = as_float(hit)
    one_or_nan.div_(as_float(hit))  # 1 / 1 or 0 / 0
    normals = _to_optical(surface.normal, scene.T_world_camera[:, :3, :3], one_or_nan)
    return RenderedBatch(
        rgb=rgb,
        depth_m=hits.depth_m * one_or_nan,
        normals=normals,
        labels=surface.labels.mul_(hit),
        instances=surface.instances.mul_(hit),
    )


_FLOOR_FACE = 5
# Rows of the geometry table: kind, centre (3), cos and sin of yaw, half size (3).
_KIND, _CENTRE, _COS, _SIN, _HALF = 0, 1, 4, 5, 6
# Rows of the material table: colour (3), texture index, tile size, texture mix (0 without a
# texture); then, gathered only if something is shiny: Blinn-Phong exponent (at least 1), its
# normalisation (exponent + 8), and 1 where shiny.
_COLOUR, _TEXTURE, _SCALE, _MIX, _EXPONENT, _LOBE_SCALE, _SHINY = 0, 3, 4, 5, 6, 7, 8


@dataclass
class _Surface:
    """Per-pixel surface data for the nearest hit; (B, H, W) per component."""

    hit: torch.Tensor  # bool: a primitive was hit
    depth_m: torch.Tensor  # z-depth, 0 where nothing was hit
    direction: torch.Tensor  # (3, B, H, W) world ray directions
    point: torch.Tensor  # (3, B, H, W) world
    local: Vec  # in the primitive frame
    normal: torch.Tensor  # (3, B, H, W) world, facing the camera
    on_x: torch.Tensor  # bool: the local normal's dominant axis is x
    on_z: torch.Tensor  # bool: ... is z
    material: list[torch.Tensor]  # material table rows (6, or 9 if shiny) of the drawn material
    labels: torch.Tensor  # int64 semantic class, not yet masked by hit
    instances: torch.Tensor  # int64 instance id, not yet masked by hit


def _surface(scene: SceneBatch, hits: RayHits, room_classes: tuple[int, int, int]) -> _Surface:
    """Gather the hit primitives' attributes and compute points, normals, faces and labels."""
    prims = scene.primitives
    batch, count = prims.kind.shape
    shape = hits.primitive.shape
    hit = hits.primitive >= 0
    depth = torch.nan_to_num(hits.depth_m, posinf=0.0)  # misses, and only they, have inf depth
    flat = hits.primitive.clamp(min=0)
    flat += torch.arange(batch, device=hit.device)[:, None, None] * count
    flat = flat.reshape(-1)  # (B * H * W,) index of the hit (or first) primitive
    geometry = _geometry_table(prims)  # (9, B * N)

    def gather(row: int) -> torch.Tensor:
        return torch.index_select(geometry[row], 0, flat).reshape(shape)

    direction = hits.direction.permute(3, 0, 1, 2)  # (3, B, H, W)
    point = direction * depth
    point += scene.T_world_camera[:, :3, 3].T[:, :, None, None]  # origin + depth * direction
    cos, sin = gather(_COS), gather(_SIN)
    ox, oy, oz = (torch.sub(point[i], gather(_CENTRE + i)) for i in range(3))
    local = ((cos * ox).add_(sin * oy), (cos * oy).sub_(sin * ox), oz)
    half = (gather(_HALF), gather(_HALF + 1), gather(_HALF + 2))
    nx, ny, nz = local_normals_xyz(gather(_KIND), local, half)
    on_x, on_y, on_z = dominant_axis(nx, ny, nz)

    # Per (primitive, face) tables give the material drawn, the label and the instance id: a
    # room's faces are floor, walls or ceiling by their inward normal, and its floor takes the
    # material and labels of the EMPTY primitive after the room.
    outward = (on_x & (nx > 0)) | (on_y & (ny > 0)) | (on_z & (nz > 0))
    face = on_y.view(torch.uint8) * 2
    face += on_z.view(torch.uint8) * 4
    face += outward.view(torch.uint8)
    # face 0..5: inward normal -x, +x, -y, +y, -z (ceiling), +z (floor)
    source, labels, instances = _face_tables(prims, room_classes)  # (B * N * 6,) each
    index = flat * 6
    index += face.reshape(-1)
    chosen = torch.index_select(source, 0, index)
    table = _material_table(prims)  # (9, B * N)
    rows = table.shape[0] if bool(table[_SHINY].any()) else _EXPONENT
    material = [torch.index_select(table[row], 0, chosen).reshape(shape) for row in range(rows)]

    # World normals, turned to face the camera.
    normal = torch.empty_like(point)
    torch.mul(cos, nx, out=normal[0]).sub_(sin * ny)
    torch.mul(sin, nx, out=normal[1]).add_(cos.mul_(ny))
    normal[2] = nz
    away = torch.mul(normal[0], direction[0], out=nx)
    away += torch.mul(normal[1], direction[1], out=ny)
    away += torch.mul(normal[2], direction[2], out=sin)
    normal *= as_float(away > 0).mul_(-2).add_(1)  # flip those facing away
    return _Surface(
        hit=hit,
        depth_m=depth,
        direction=direction,
        point=point,
        local=local,
        normal=normal,
        on_x=on_x,
        on_z=on_z,
        material=material,
        labels=torch.index_select(labels, 0, index).reshape(shape),
        instances=torch.index_select(instances, 0, index).reshape(shape),
    )


def _geometry_table(prims: Primitives) -> torch.Tensor:
    """Return (9, B * N): kind, centre (3), cos and sin of yaw, half size (3) per primitive."""
    yaw = prims.yaw.reshape(-1)
    return torch.cat(
        (
            prims.kind.reshape(1, -1).float(),
            prims.centre.reshape(-1, 3).T,
            torch.cos(yaw)[None],
            torch.sin(yaw)[None],
            prims.half_size.reshape(-1, 3).T,
        )
    )


def _material_table(prims: Primitives) -> torch.Tensor:
    """Return (9, B * N): material rows (see _COLOUR ... _SHINY) per primitive."""
    shininess = prims.shininess.reshape(-1)
    texture = prims.texture.reshape(-1)
    mix = torch.where(texture >= 0, prims.texture_mix.reshape(-1), 0.0)
    return torch.cat(
        (
            prims.colour.reshape(-1, 3).T,
            texture[None].float(),
            prims.texture_scale_m.reshape(1, -1),
            mix[None],
            shininess.clamp(min=1)[None],
            (shininess + 8)[None],
            (shininess > 0)[None].float(),
        )
    )


def _face_tables(
    prims: Primitives, room_classes: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Per (primitive, face 0..5): whose material is drawn, the semantic label, the instance id.

    :return: (B * N * 6,) int64 each: primitive index, class id, instance id.
    """
    count = prims.kind.shape[1]
    kind = prims.kind.reshape(-1)
    device = kind.device
    index = torch.arange(kind.shape[0], device=device)
    following = (index + 1).clamp(max=kind.shape[0] - 1)
    holder = (kind[following] == Kind.EMPTY) & ((index + 1) % count != 0)
    room = (kind == Kind.ROOM)[:, None]  # (B * N, 1)
    face = torch.arange(6, device=device)
    source = index[:, None] + (room & holder[:, None] & (face == _FLOOR_FACE)).long()
    floor_id, wall_id, ceiling_id = room_classes
    room_label = torch.full((6,), wall_id, device=device)
    room_label[4], room_label[5] = ceiling_id, floor_id
    labels = torch.where(room, room_label, prims.class_id.reshape(-1)[source])
    own_face = source == index[:, None]  # a borrowed floor keeps its holder's instance id
    instances = prims.instance_id.reshape(-1)[source] + room * own_face * face
    return source.reshape(-1), labels.reshape(-1), instances.reshape(-1)


def _albedo(textures: torch.Tensor, surface: _Surface) -> torch.Tensor:
    """Multiply base colours by the triplanar texture factor (1 without texture): (B, 3, H, W)."""
    material = surface.material
    count, size = textures.shape[0], textures.shape[1]
    lx, ly, lz = surface.local  # project along the dominant normal axis
    scale = material[_SCALE]
    u = select(surface.on_x, ly, lx).div_(scale)
    v = select(surface.on_z, ly, lz).neg_().div_(scale)
    u0, v0 = u.floor(), v.floor()
    u.sub_(u0).mul_(size - 1)  # remainder(., 1), exactly, then texels
    v.sub_(v0).mul_(size - 1)
    torch.floor(u, out=u0)
    torch.floor(v, out=v0)
    weight_u, weight_v = u.sub_(u0), v.sub_(v0)  # bilinear weights of the next column and row
    rest_u, rest_v = 1 - weight_u, 1 - weight_v
    # Channels-last texel index 3 * (first + row * size + column) of each 2x2 corner.
    first = material[_TEXTURE].clamp(0, count - 1).int().mul_(size * size)
    top_left = first.add_(v0.int().mul_(size)).add_(u0.int()).mul_(3).reshape(-1)
    next_column = (u0 < size - 1).int().mul_(3).reshape(-1)  # clamped at the texture's edge
    next_row = (v0 < size - 1).int().mul_(3 * size).reshape(-1)
    corners = [top_left, top_left + next_column, top_left + next_row]
    corners.append(corners[1] + next_row)
    texels = textures.contiguous().view(-1)
    mix = material[_MIX]
    albedo = torch.empty((u.shape[0], 3, *u.shape[1:]), device=u.device)
    tap = torch.empty_like(u)
    for channel in range(3):
        values = texels.narrow(0, channel, texels.shape[0] - channel)  # value i: channel of 3 i
        sample = albedo[:, channel]
        torch.index_select(values, 0, corners[0], out=tap.view(-1))
        torch.mul(tap, rest_u, out=sample).mul_(rest_v)
        for corner, along_u, along_v in zip(
            corners[1:],
            (weight_u, rest_u, weight_u),
            (rest_v, weight_v, weight_v),
            strict=True,
        ):
            torch.index_select(values, 0, corner, out=tap.view(-1))
            sample += tap.mul_(along_u).mul_(along_v)
        sample.mul_(mix).add_(1.0 - mix).mul_(material[_COLOUR + channel])
    return albedo


def _shade(
    scene: SceneBatch,
    settings: RenderSettings,
    surface: _Surface,
    albedo: torch.Tensor,
    maps: _ShadowMaps | None,
    first: int,
) -> torch.Tensor:
    """Linear radiance (B, 3, H, W): ambient plus every light, shadowed where it casts shadows."""
    lights = scene.lights
    light_term = _kernel(_light_term, settings.fused)
    view = surface.direction.neg()  # (3, B, H, W), normalised: unit vectors to the camera
    normalize_xyz(view[0], view[1], view[2], inplace=True)
    material = surface.material
    shine = torch.stack(material[_EXPONENT:]) if len(material) > _EXPONENT else None
    radiance = albedo * lights.ambient[:, :, None, None]
    present = (lights.intensity != 0).any(-1)  # (B, L) absent lights add exactly nothing
    casts = lights.casts_shadow & present
    for index in range(lights.position.shape[1]):
        frames = present[:, index].nonzero()[:, 0]  # the frames this light shines in
        if frames.numel() == 0:
            continue
        every = frames.numel() == present.shape[0]
        pick = functools.partial(_pick, None if every else frames)
        point = pick(surface.point, 1)
        visible = None
        shadowed = casts[frames, index]
        if bool(shadowed.any()):
            assert maps is not None
            shadow = _shadow(maps, settings, index, frames[shadowed] + first, point[:, shadowed])
            if bool(shadowed.all()):
                visible = shadow
            else:
                visible = torch.ones_like(point[0])
                visible[shadowed] = shadow
        term = light_term(
            point,
            pick(surface.normal, 1),
            pick(view, 1),
            pick(albedo, 0),
            None if shine is None else pick(shine, 1),
            lights.position[frames, index],
            lights.intensity[frames, index],
            visible,
        )
        if every:
            radiance += term
        else:
            radiance.index_add_(0, frames, term)
    return radiance


def _pick(frames: torch.Tensor | None, x: torch.Tensor, dim: int) -> torch.Tensor:
    """Return the frames (along ``dim``) of ``x``; all of them for None."""
    return x if frames is None else torch.index_select(x, dim, frames)


def _light_term(
    point: torch.Tensor,
    normal: torch.Tensor,
    view: torch.Tensor,
    albedo: torch.Tensor,
    shine: torch.Tensor | None,
    position: torch.Tensor,
    intensity: torch.Tensor,
    visible: torch.Tensor | None,
) -> torch.Tensor:
    """
    One point light's Lambert + Blinn-Phong radiance, inverse-square falloff, for F frames.

    :param point: (3, F, H, W) world points.
    :param normal: (3, F, H, W) unit normals facing the camera.
    :param view: (3, F, H, W) unit vectors towards the camera.
    :param albedo: (F, 3, H, W) linear colour.
    :param shine: (3, F, H, W) exponent, its normalisation, 1 if shiny; None: nothing is shiny.
    :param position: (F, 3) light positions.
    :param intensity: (F, 3) light intensities.
    :param visible: (F, H, W) fraction of the light reaching the point; None: all of it.
    :return: (F, 3, H, W) radiance.
    """
    to_light = position.T[:, :, None, None] - point  # (3, F, H, W)
    lx, ly, lz = to_light
    scratch = ly * ly
    distance_sq = (lx * lx).add_(scratch)
    distance_sq.add_(torch.mul(lz, lz, out=scratch)).clamp_(min=1e-4)
    to_light *= torch.rsqrt(distance_sq, out=scratch)  # unit direction to the light
    nx, ny, nz = normal
    lambert = nx * lx
    lambert.add_(torch.mul(ny, ly, out=scratch)).add_(torch.mul(nz, lz, out=scratch))
    lambert.clamp_(min=0)
    term: torch.Tensor = albedo * lambert[:, None]
    term *= 3 / math.pi
    if shine is not None:
        hx, hy, hz = to_light.add_(view)  # unit vectors to the light and the camera, summed
        halfway = normalize_xyz(hx, hy, hz, inplace=True)
        gloss = torch.mul(nx, halfway[0], out=lx)
        gloss.add_(torch.mul(ny, halfway[1], out=scratch))
        gloss.add_(torch.mul(nz, halfway[2], out=scratch)).clamp_(min=0)
        lobe = gloss.pow_(shine[0]).mul_(shine[1]).div_(8 * math.pi).mul_(0.04)
        lobe *= as_float(lambert > 0).mul_(shine[2])
        term += lobe[:, None]
    falloff = intensity[:, :, None, None] / distance_sq[:, None]  # (F, 3, H, W)
    if visible is not None:
        falloff *= visible[:, None]
    return term.mul_(falloff)


def _to_optical(normal: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Rotate (3, B, H, W) world normals into the optical frame, times scale: (B, H, W, 3)."""
    nx, ny, nz = normal
    r = rotation[:, :, :, None, None]  # (B, 3, 3, 1, 1); transposed: world -> optical
    out = torch.empty((*nx.shape, 3), device=nx.device)
    row, scratch = torch.empty_like(nx), torch.empty_like(nx)
    for i in range(3):
        torch.mul(r[:, 0, i], nx, out=row).add_(torch.mul(r[:, 1, i], ny, out=scratch))
        row.add_(torch.mul(r[:, 2, i], nz, out=scratch))
        torch.mul(row, scale, out=out[..., i])
    return out


def _kernel(function: Callable[..., torch.Tensor], compiled: bool) -> Callable[..., torch.Tensor]:
    """Return ``function``, or its ``torch.compile``d version (fused loops) when asked."""
    return _compiled(function) if compiled else function


@functools.cache
def _compiled(function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    return torch.compile(function, dynamic=True)


@dataclass
class _ShadowMaps:
    """Shadow maps of every (frame, light) that casts shadows, rendered in one batch."""

    frame: torch.Tensor  # (S,) the frame of each map, ascending
    light: torch.Tensor  # (S,) its light
    position: torch.Tensor  # (S, 3) the light's position
    rotation: torch.Tensor  # (S, 3, 3) shadow camera optical frame -> world
    depth_m: torch.Tensor  # (S, size, size) z-depth seen from the light


def _mean_hit_point(scene: SceneBatch, hits: RayHits) -> torch.Tensor:
    """
    Return (B, 3) the mean of the points the camera rays hit (shadow cameras look there).

    Summed row by row, then over the rows: a single reduction over a frame would be split
    between threads when there are fewer frames than threads, in another order (other bits).
    """
    weight = as_float(hits.primitive >= 0)
    depth = torch.nan_to_num(hits.depth_m, posinf=0.0)
    origin = scene.T_world_camera[:, :3, 3, None, None]
    point = torch.empty_like(depth)
    total = []
    for i, direction in enumerate(hits.direction.permute(3, 0, 1, 2)):  # same bits as _surface
        torch.mul(direction, depth, out=point).add_(origin[:, i]).mul_(weight)
        total.append(point.sum(2).sum(1))
    return torch.stack(total, -1) / weight.sum(2).sum(1).clamp(min=1)[:, None]


def _shadow_maps(
    scene: SceneBatch, settings: RenderSettings, target: torch.Tensor, casts: torch.Tensor
) -> _ShadowMaps:
    """
    Render the shadow maps of the lights that cast shadows.

    :param target: (B, 3) where each frame's shadow cameras look.
    :param casts: (B, L) which lights of which frames cast shadows.
    :return: the shadow maps.
    """
    frame, light = casts.nonzero().T  # (S,) each
    size = settings.shadow_map_px
    position = scene.lights.position[frame, light]
    rotation = _look_at(position, target[frame])
    focal = (size / 2) / math.tan(math.radians(settings.shadow_fov_deg) / 2)
    K = target.new_tensor([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1]])
    pose = torch.eye(4, device=target.device).repeat(frame.shape[0], 1, 1)
    pose[:, :3, :3], pose[:, :3, 3] = rotation, position
    primitives = Primitives(
        **{f.name: getattr(scene.primitives, f.name)[frame] for f in fields(Primitives)}
    )
    depth = cast_rays(
        primitives, K.expand(frame.shape[0], 3, 3), pose, size, size, settings.fused
    ).depth_m
    return _ShadowMaps(frame, light, position, rotation, depth)


def _shadow(
    maps: _ShadowMaps,
    settings: RenderSettings,
    index: int,
    frames: torch.Tensor,
    point: torch.Tensor,
) -> torch.Tensor:
    """
    Fraction of light ``index`` reaching points, from its shadow maps (2x2 PCF).

    :param maps: the shadow maps.
    :param frames: (F,) ascending frames (of the maps' batch) whose light ``index`` casts.
    :param point: (3, F, H, W) world points of those frames.
    :return: (F, H, W) in [0, 1].
    """
    size = settings.shadow_map_px
    mine = (maps.light == index) & (maps.frame >= frames[0]) & (maps.frame <= frames[-1])
    chosen = mine.nonzero()[:, 0]
    light, rotation, shadow_depth = (
        maps.position[chosen],
        maps.rotation[chosen],
        maps.depth_m[chosen],
    )
    focal = (size / 2) / math.tan(math.radians(settings.shadow_fov_deg) / 2)
    q = point - light.T[:, :, None, None]  # (3, F, H, W)
    r = rotation[:, :, :, None, None]  # (F, 3, 3, 1, 1); transposed: world -> light
    scratch = torch.empty_like(q[0])
    x, y, z = (
        torch.mul(r[:, 0, i], q[0])
        .add_(torch.mul(r[:, 1, i], q[1], out=scratch))
        .add_(torch.mul(r[:, 2, i], q[2], out=scratch))
        for i in range(3)
    )
    centre = (size - 1) / 2
    depth = z.clamp(min=1e-3)
    u = x.mul_(focal).div_(depth).add_(centre)
    v = y.mul_(focal).div_(depth).add_(centre)
    outside = (z <= 1e-3) | (u < -1) | (u > size) | (v < -1) | (v > size)
    bias = torch.mul(z, 0.02, out=depth).add_(0.03)
    first = (torch.arange(chosen.shape[0], device=point.device) * (size * size)).int()
    columns = [(u + du).round_().clamp_(0, size - 1).int() for du in (-0.5, 0.5)]
    rows = [(v + dv).round_().clamp_(0, size - 1).int().mul_(size) for dv in (-0.5, 0.5)]
    rows = [row.add_(first[:, None, None]) for row in rows]
    occluders = shadow_depth.reshape(-1)
    lit = torch.zeros_like(z, dtype=torch.uint8)
    texel = torch.empty_like(rows[0])
    for column in columns:  # 2x2 percentage-closer filtering
        for row in rows:
            torch.add(row, column, out=texel)
            torch.index_select(occluders, 0, texel.view(-1), out=scratch.view(-1))
            lit += (z <= scratch.add_(bias)).view(torch.uint8)  # z <= occluder + bias
    return torch.maximum(lit.float().div_(4), as_float(outside))


def _look_at(eye: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Optical-frame -> world rotations (B, 3, 3) of cameras at eye looking at target."""
    forward = F.normalize(target - eye, dim=-1)
    up = torch.tensor([0.0, 0.0, 1.0], device=eye.device).expand_as(forward)
    alternative = torch.tensor([1.0, 0.0, 0.0], device=eye.device).expand_as(forward)
    up = torch.where(((forward * up).sum(-1, keepdim=True).abs() > 0.99), alternative, up)
    right = F.normalize(torch.cross(forward, up, dim=-1), dim=-1)
    down = torch.cross(forward, right, dim=-1)
    return torch.stack((right, down, forward), dim=-1)


def _ambient_occlusion(depth_m: torch.Tensor, strength: float) -> torch.Tensor:
    """Screen-space occlusion factor (B, H, W) in (0, 1]: points behind their neighbours darken."""
    if strength == 0:
        return torch.ones_like(depth_m)
    size = max(3, (min(depth_m.shape[-2:]) // 16) | 1)
    neighbours = _box_mean(_box_mean(depth_m, size, -1), size, -2)
    occlusion = neighbours.neg_().add_(depth_m).div_(depth_m.clamp(min=1e-3)).clamp_(min=0)
    return occlusion.mul_(-strength).exp_()


def _box_mean(image: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """
    Mean over a centred window of odd ``size`` along ``dim`` of the pixels inside the image.

    The same bits as ``F.avg_pool2d(..., count_include_pad=False)``: in-image samples summed in
    order (adding zeros for the outside ones), divided by their count; a few times faster.
    """
    pad, length = size // 2, image.shape[dim]
    shape = list(image.shape)
    shape[dim] = length + 2 * pad
    padded = image.new_zeros(shape)
    padded.narrow(dim, pad, length).copy_(image)
    total = padded.narrow(dim, 0, length).clone()
    for offset in range(1, size):
        total += padded.narrow(dim, offset, length)
    inside = torch.zeros(length + 2 * pad, device=image.device)
    inside.narrow(0, pad, length).fill_(1)
    count = inside.unfold(0, size, 1).sum(-1)  # (length,) samples in the image
    return total.div_(count.reshape([-1] + [1] * (-dim - 1)))


def _camera(radiance: torch.Tensor, scene: SceneBatch, compiled: bool) -> torch.Tensor:
    """Auto exposure, tone curve, blur, read noise, sRGB gamma, 8-bit: (B, H, W, 3) uint8."""
    sensor = scene.sensor
    # Auto exposure puts the 90th percentile of luminance at 0.7, then the frame's own offset.
    luminance = radiance.mean(1).reshape(radiance.shape[0], -1)
    level = _quantile(luminance[:, :: max(1, luminance.shape[1] // 4096)], 0.9)
    gain = 0.7 / level.clamp(min=1e-4) * sensor.exposure
    image = _kernel(_tone, compiled)(radiance, gain[:, None, None, None])  # (B, 3, H, W)
    for frame, sigma in enumerate(sensor.blur_sigma_px.tolist()):
        if sigma > 0.05:
            image[frame] = _gaussian_blur(image[frame, None], float(sigma))[0]
    noise = torch.empty(image.shape)
    for frame, seed in enumerate(sensor.seed.tolist()):
        noise[frame].normal_(generator=torch.Generator().manual_seed(int(seed)))
    noise = noise.to(image.device)
    return _kernel(_to_srgb8, compiled)(image, noise, sensor.noise_std[:, None, None, None])


def _quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """
    ``torch.quantile(values, q, dim=1)`` (linear interpolation), the same bits, without a sort.

    :param values: (B, n) finite values.
    :param q: quantile in [0, 1].
    :return: (B,) the quantile of each row.
    """
    rank = torch.tensor(q, dtype=values.dtype) * (values.shape[1] - 1)
    below = int(rank.floor())
    largest = values.topk(values.shape[1] - below, dim=1).values  # descending
    above = largest[:, -2] if float(rank) > below else largest[:, -1]
    return torch.lerp(largest[:, -1], above, (rank - below).to(values.device))


def _tone(radiance: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Exposure then a soft shoulder instead of a hard clip: (B, 3, H, W) in [0, 1.6)."""
    image = radiance.mul_(gain)  # in place: the radiance is not needed after this
    return image.div_(image + 1).mul_(1.6)


def _to_srgb8(image: torch.Tensor, noise: torch.Tensor, noise_std: torch.Tensor) -> torch.Tensor:
    """Add read noise, clip, sRGB-like gamma, quantise: (B, 3, H, W) -> (B, H, W, 3) uint8."""
    noisy = noise.mul_(noise_std).add_(image).clamp_(0, 1).pow_(1 / 2.2)  # noise: owned
    return noisy.mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1)


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
