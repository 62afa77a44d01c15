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
Batched ray casting of analytic primitives in PyTorch (CPU or CUDA), with screen-space culling.

Every pixel's ray is tested only against the primitives whose projected bounding box covers the
pixel: the (ray, primitive) pairs are enumerated in one flat tensor (``repeat_interleave`` over
the rectangles' areas), intersected per primitive kind, and the nearest hit per ray is kept with a
scatter-min. Rays are parametrised by z-depth: a camera-frame direction (x/z, y/z, 1) makes the
ray parameter equal to the optical-frame depth, so depth needs no conversion from ray length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import functools

import torch

from vision_banana_ros.synth.scene import Kind, Primitives

__all__ = ['RayHits', 'cast_rays', 'local_normals', 'pixel_rays', 'rotate', 'to_local']

_NEAR_M = 1e-3
_BOX_CORNERS = torch.tensor(
    [[sx, sy, sz] for sx in (-1.0, 1.0) for sy in (-1.0, 1.0) for sz in (-1.0, 1.0)]
)  # (8, 3)
_PAIRS = torch.combinations(torch.arange(8), 2).T  # (2, 28) every pair of box corners


@dataclass
class RayHits:
    """
    Nearest hit of every pixel's ray.

    :ivar depth_m: (B, H, W) float32 z-depth in the camera optical frame, inf where nothing is hit.
    :ivar primitive: (B, H, W) int64 index into the N primitives of the pixel's scene, -1 for none.
    :ivar direction: (B, H, W, 3) float32 world-frame ray direction scaled so its camera-frame z
        component is 1 (hit point = camera origin + depth_m * direction).
    """

    depth_m: torch.Tensor
    primitive: torch.Tensor
    direction: torch.Tensor


def rotate(matrix: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """
    Apply rotation matrices to vectors elementwise (no BLAS: the same bits in any batch size).

    :param matrix: (..., 3, 3), broadcastable against ``vectors``.
    :param vectors: (..., 3).
    :return: (..., 3) ``matrix @ vectors``.
    """
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    rows = [
        matrix[..., i, 0] * x + matrix[..., i, 1] * y + matrix[..., i, 2] * z for i in range(3)
    ]
    return torch.stack(rows, dim=-1)


def pixel_rays(K: torch.Tensor, rotation: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """
    World-frame directions of every pixel centre's ray, with unit camera-frame z.

    :param K: (B, 3, 3) intrinsics in pixels.
    :param rotation: (B, 3, 3) camera optical frame -> world rotation.
    :param height: image rows.
    :param width: image columns.
    :return: (B, H, W, 3) directions.
    """
    device = K.device
    v, u = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32),
        torch.arange(width, device=device, dtype=torch.float32),
        indexing='ij',
    )  # (H, W) each
    fx, fy = K[:, 0, 0, None, None], K[:, 1, 1, None, None]
    cx, cy = K[:, 0, 2, None, None], K[:, 1, 2, None, None]
    camera = torch.stack(((u - cx) / fx, (v - cy) / fy, torch.ones_like(u - cx)), dim=-1)
    return rotate(rotation[:, None, None], camera)  # (B, H, W, 3)


def to_local(points: torch.Tensor, centre: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """
    Express world points (or, with a zero centre, directions) in a primitive's own frame.

    :param points: (..., 3) world coordinates.
    :param centre: (..., 3) primitive centres.
    :param yaw: (...) rotation of the primitives about world z, radians.
    :return: (..., 3) coordinates in the primitive frame.
    """
    offset = points - centre
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    x = cos * offset[..., 0] + sin * offset[..., 1]
    y = -sin * offset[..., 0] + cos * offset[..., 1]
    return torch.stack((x, y, offset[..., 2]), dim=-1)


def local_normals(
    kind: torch.Tensor, point: torch.Tensor, half_size: torch.Tensor
) -> torch.Tensor:
    """
    Outward unit normals of primitives at surface points given in the primitive frame.

    A room's normals point inward, into the room; a bowl's are those of its sphere.

    :param kind: (P,) Kind values.
    :param point: (P, 3) hit points in the primitive frame.
    :param half_size: (P, 3) half extents.
    :return: (P, 3) unit normals in the primitive frame (outward; callers face them to the ray).
    """
    scaled = point / half_size
    axis = scaled.abs().argmax(dim=-1, keepdim=True)  # (P, 1) the face a box point lies on
    box = torch.zeros_like(point).scatter_(-1, axis, torch.sign(scaled.gather(-1, axis)))
    radial = torch.cat((point[:, :2] / half_size[:, :1], torch.zeros_like(point[:, :1])), -1)
    on_cap = point[:, 2].abs() >= half_size[:, 2] * (1 - 1e-4)
    cap = torch.zeros_like(point)
    cap[:, 2] = torch.sign(point[:, 2])
    cylinder = torch.where(on_cap[:, None], cap, radial)
    sphere = point / half_size[:, :1]
    normal = torch.where((kind == Kind.BOX)[:, None], box, sphere)
    normal = torch.where((kind == Kind.ROOM)[:, None], -box, normal)
    normal = torch.where((kind == Kind.CYLINDER)[:, None], cylinder, normal)
    return torch.nn.functional.normalize(normal, dim=-1)


def cast_rays(
    primitives: Primitives,
    K: torch.Tensor,
    T_world_camera: torch.Tensor,
    height: int,
    width: int,
    compiled: bool = False,
) -> RayHits:
    """
    Find the nearest primitive along every pixel's ray.

    :param primitives: the scenes' solids, (B, N) each.
    :param K: (B, 3, 3) intrinsics in pixels for (height, width).
    :param T_world_camera: (B, 4, 4) camera optical frame -> world.
    :param height: image rows.
    :param width: image columns.
    :param compiled: run the intersection arithmetic through ``torch.compile``.
    :return: the nearest hit per pixel.
    """
    batch, count = primitives.kind.shape
    device = K.device
    rotation, origin = T_world_camera[:, :3, :3], T_world_camera[:, :3, 3]

    # 1. Screen rectangle of each primitive's bounding box, as pixel ranges [x0, x1) x [y0, y1).
    x0, y0, x1, y1 = _screen_rectangles(primitives, K, rotation, origin, height, width)

    # 2. Per primitive, everything a pair needs, in one table gathered once per pair: the camera
    #    origin and the ray direction of pixel (u, v) = u * a + v * b + c, in the primitive frame.
    kind = primitives.kind.reshape(-1)
    order = torch.argsort(kind, stable=True)  # pairs of one kind become one contiguous run
    table = _pair_table(primitives, K, rotation, origin, x0, y0, x1).reshape(-1, 19)[order]
    area = ((x1 - x0) * (y1 - y0)).reshape(-1)[order]

    # 3. Every (pixel, primitive) pair inside a rectangle, as flat tensors.
    slot = torch.repeat_interleave(torch.arange(kind.numel(), device=device), area)
    step = torch.arange(slot.numel(), device=device) - (torch.cumsum(area, 0) - area)[slot]
    pair = torch.index_select(table, 0, slot)  # (P, 19)
    rect_x0, rect_y0, rect_width = pair[:, 16], pair[:, 17], pair[:, 18]
    u = rect_x0 + torch.remainder(step, rect_width.long())
    v = rect_y0 + torch.div(step, rect_width.long(), rounding_mode='floor')
    o = pair[:, 0:3]
    d = u[:, None] * pair[:, 3:6] + v[:, None] * pair[:, 6:9] + pair[:, 9:12]
    half = pair[:, 12:15]

    # 4. Intersections, one kind at a time, each kind a contiguous slice of the pairs.
    depth = torch.full((slot.numel(),), torch.inf, device=device)
    per_kind = torch.bincount(kind[order], weights=area.to(torch.float64), minlength=len(Kind))
    ends = torch.cumsum(per_kind, 0).long().tolist()
    for solid, intersect in _INTERSECTORS.items():
        lo, hi = ends[solid - 1], ends[solid]
        if hi > lo:
            run = _compiled(intersect) if compiled else intersect
            depth[lo:hi] = run(o[lo:hi], d[lo:hi], half[lo:hi])

    # 5. Nearest hit per ray; ties go to the higher primitive index.
    primitive_index = order[slot]
    ray = (primitive_index // count * height + v.long()) * width + u.long()
    nearest = torch.full((batch * height * width,), torch.inf, device=device)
    nearest = nearest.scatter_reduce(0, ray, depth, 'amin')
    wins = torch.isfinite(depth) & (depth == nearest[ray])
    winner = torch.full((batch * height * width,), -1, device=device, dtype=torch.int64)
    winner = winner.scatter_reduce(0, ray[wins], primitive_index[wins] % count, 'amax')
    return RayHits(
        depth_m=nearest.reshape(batch, height, width),
        primitive=winner.reshape(batch, height, width),
        direction=pixel_rays(K, rotation, height, width),
    )


def _pair_table(
    primitives: Primitives,
    K: torch.Tensor,
    rotation: torch.Tensor,
    origin: torch.Tensor,
    x0: torch.Tensor,
    y0: torch.Tensor,
    x1: torch.Tensor,
) -> torch.Tensor:
    """
    Per primitive: local camera origin, direction terms a, b, c, half size, rectangle.

    :return: (B, N, 19): origin (3), a (3), b (3), c (3), half size (3), kind (1), x0, y0, width.
    """
    yaw = primitives.yaw
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    zero, one = torch.zeros_like(yaw), torch.ones_like(yaw)
    world_to_local = torch.stack(
        (cos, sin, zero, -sin, cos, zero, zero, zero, one), dim=-1
    ).reshape(*yaw.shape, 3, 3)  # (B, N, 3, 3) = Rz(-yaw)
    camera_to_local = (world_to_local[..., :, :, None] * rotation[:, None, None]).sum(
        -2
    )  # (B, N, 3, 3)
    fx, fy = K[:, 0, 0, None, None], K[:, 1, 1, None, None]
    cx, cy = K[:, 0, 2, None, None], K[:, 1, 2, None, None]
    a = camera_to_local[..., 0] / fx
    b = camera_to_local[..., 1] / fy
    c = camera_to_local[..., 2] - cx * a - cy * b
    local_origin = to_local(origin[:, None, :], primitives.centre, yaw)
    return torch.cat(
        (
            local_origin,
            a,
            b,
            c,
            primitives.half_size,
            primitives.kind[..., None].float(),
            x0[..., None].float(),
            y0[..., None].float(),
            (x1 - x0).clamp(min=1)[..., None].float(),
        ),
        dim=-1,
    )


def _screen_rectangles(
    primitives: Primitives,
    K: torch.Tensor,
    rotation: torch.Tensor,
    origin: torch.Tensor,
    height: int,
    width: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return pixel rectangles (B, N) x0, y0, x1, y1 covering each primitive's projection."""
    corners = _BOX_CORNERS.to(K.device) * primitives.half_size[:, :, None, :]  # (B, N, 8, 3)
    cos, sin = torch.cos(primitives.yaw)[..., None], torch.sin(primitives.yaw)[..., None]
    world = (
        torch.stack(
            (
                cos * corners[..., 0] - sin * corners[..., 1],
                sin * corners[..., 0] + cos * corners[..., 1],
                corners[..., 2],
            ),
            dim=-1,
        )
        + primitives.centre[:, :, None, :]
    )
    camera = rotate(rotation.transpose(-1, -2)[:, None, None], world - origin[:, None, None, :])
    # Clip the box at the near plane: its visible part's projection is bounded by the corners in
    # front of the camera and the points where corner-to-corner segments cross the plane.
    a, b = camera[:, :, _PAIRS[0]], camera[:, :, _PAIRS[1]]  # (B, N, 28, 3) each
    za, zb = a[..., 2:], b[..., 2:]
    crosses = (za - _NEAR_M) * (zb - _NEAR_M) < 0
    fraction = ((_NEAR_M - za) / torch.where(crosses, zb - za, torch.ones_like(za))).clamp(0, 1)
    crossing = a + fraction * (b - a)
    points = torch.cat((camera, crossing), dim=2)  # (B, N, 36, 3)
    usable = torch.cat(((camera[..., 2] >= _NEAR_M), crosses[..., 0]), dim=2)  # (B, N, 36)
    z = points[..., 2].clamp(min=_NEAR_M)
    u = K[:, 0, 0, None, None] * points[..., 0] / z + K[:, 0, 2, None, None]
    v = K[:, 1, 1, None, None] * points[..., 1] / z + K[:, 1, 2, None, None]
    big = torch.tensor(1e6, device=K.device)
    u_min = torch.where(usable, u, big).amin(-1).clamp(-1e6, 1e6)
    u_max = torch.where(usable, u, -big).amax(-1).clamp(-1e6, 1e6)
    v_min = torch.where(usable, v, big).amin(-1).clamp(-1e6, 1e6)
    v_max = torch.where(usable, v, -big).amax(-1).clamp(-1e6, 1e6)
    behind = ~usable.any(-1)
    x0 = torch.floor(u_min).long().clamp(0, width)
    x1 = (torch.floor(u_max).long() + 2).clamp(0, width)
    y0 = torch.floor(v_min).long().clamp(0, height)
    y1 = (torch.floor(v_max).long() + 2).clamp(0, height)
    empty = behind | (primitives.kind == Kind.EMPTY)
    x1 = torch.where(empty, x0, x1)
    y1 = torch.where(empty | (x1 <= x0), y0, y1)
    x1 = torch.maximum(x1, x0)
    return x0, y0, x1, y1


def _box(o: torch.Tensor, d: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    safe = torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
    t1, t2 = (-half - o) / safe, (half - o) / safe
    enter = torch.minimum(t1, t2).amax(-1)
    leave = torch.maximum(t1, t2).amin(-1)
    t = torch.where(enter > _NEAR_M, enter, leave)
    return torch.where((leave >= enter) & (t > _NEAR_M), t, torch.inf)


def _quadratic_roots(
    a: torch.Tensor, half_b: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    disc = half_b * half_b - a * c
    root = torch.sqrt(disc.clamp(min=0))
    miss = (disc < 0) | (a <= 0)
    near = torch.where(miss, torch.inf, (-half_b - root) / a)
    far = torch.where(miss, torch.inf, (-half_b + root) / a)
    return near, far


def _first_valid(*candidates: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    best: torch.Tensor | None = None
    for t, ok in candidates:
        t = torch.where(ok & (t > _NEAR_M), t, torch.inf)
        best = t if best is None else torch.minimum(best, t)
    assert best is not None
    return best


def _room(o: torch.Tensor, d: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    safe = torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
    t1, t2 = (-half - o) / safe, (half - o) / safe
    leave = torch.maximum(t1, t2).amin(-1)
    inside = (o.abs() < half).all(-1)
    return torch.where(inside & (leave > _NEAR_M), leave, torch.inf)


def _cylinder(o: torch.Tensor, d: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    radius, h = half[:, 0], half[:, 2]
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    half_b = o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1]
    c = o[:, 0] ** 2 + o[:, 1] ** 2 - radius**2
    near, far = _quadratic_roots(a, half_b, c)
    safe_dz = torch.where(d[:, 2].abs() < 1e-12, torch.full_like(d[:, 2], 1e-12), d[:, 2])
    candidates = [(t, (o[:, 2] + t * d[:, 2]).abs() <= h) for t in (near, far)]
    for sign in (-1.0, 1.0):
        t = (sign * h - o[:, 2]) / safe_dz
        x, y = o[:, 0] + t * d[:, 0], o[:, 1] + t * d[:, 1]
        candidates.append((t, x * x + y * y <= radius**2))
    return _first_valid(*candidates)


def _sphere_roots(
    o: torch.Tensor, d: torch.Tensor, half: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    radius = half[:, 0]
    return _quadratic_roots((d * d).sum(-1), (o * d).sum(-1), (o * o).sum(-1) - radius**2)


def _sphere(o: torch.Tensor, d: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    near, far = _sphere_roots(o, d, half)
    ok = torch.ones_like(near, dtype=torch.bool)
    return _first_valid((near, ok), (far, ok))


def _bowl(o: torch.Tensor, d: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    near, far = _sphere_roots(o, d, half)
    return _first_valid(*[(t, o[:, 2] + t * d[:, 2] <= 0) for t in (near, far)])


@functools.cache
def _compiled(
    intersect: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    return torch.compile(intersect, dynamic=True)


_INTERSECTORS = {
    Kind.ROOM: _room,
    Kind.BOX: _box,
    Kind.CYLINDER: _cylinder,
    Kind.SPHERE: _sphere,
    Kind.BOWL: _bowl,
}
