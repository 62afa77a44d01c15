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
the rectangles' rows), intersected per primitive kind, and the nearest hit per ray is kept with a
scatter-min of one int64 key per pair (depth bits above, primitive index below). A primitive
whose rectangle is the whole image (a room around the camera) skips the pair list: its rays are
a dense (H, W) grid. Rays are parametrised by z-depth: a camera-frame direction (x/z, y/z, 1)
makes the ray parameter equal to the optical-frame depth, so depth needs no conversion.

Layout, for speed on CPU: vectors are planar (x, y, z as separate tensors, ``Vec``), never
(..., 3) rows, and per-primitive quantities are the rows of one (C, B * N) table, each gathered
per pair as a 1-D column. Only elementwise arithmetic touches pixels (no BLAS, no reductions
across pixels), so a frame casts to the same bits alone or in any batch. ``torch.where`` is slow
on CPU; selections between finite values use ``torch.lerp`` with a 0/1 weight, which is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import functools

import torch
from vision_banana_ros.synth.scene import Kind, Primitives

__all__ = [
    'RayHits',
    'Vec',
    'as_float',
    'cast_rays',
    'dominant_axis',
    'local_normals',
    'local_normals_xyz',
    'normalize_xyz',
    'pixel_rays',
    'rotate',
    'select',
    'to_local',
]

Vec = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""A planar 3-vector field: x, y and z as three tensors of one shape."""

_NEAR_M = 1e-3
_TINY = 1e-12  # a direction component closer to 0 is replaced by this (slab divisions)
_INF_BITS = 0x7F800000  # float32 +inf as int32: the depth bits of a key that hit nothing
_LOW_BITS = 0xFFFFFFFF
_BOX_CORNERS = torch.tensor(
    [[sx, sy, sz] for sx in (-1.0, 1.0) for sy in (-1.0, 1.0) for sz in (-1.0, 1.0)]
)  # (8, 3)
_PAIRS = torch.combinations(torch.arange(8), 2).T  # (2, 28) every pair of box corners

# Rows of the per-primitive table (see _primitive_table).
_A, _B, _C = 0, 3, 6  # ray direction of pixel (u, v) in the primitive frame: u * a + v * b + c
_LO, _HI = 9, 12  # slab planes relative to the camera: -half - origin, half - origin
_ORIGIN = 15  # camera origin in the primitive frame
_HEIGHT, _RADIUS_SQ, _C_CYLINDER, _C_SPHERE = 18, 19, 20, 21
_ROWS = 22


@dataclass
class RayHits:
    """
    Nearest hit of every pixel's ray.

    :ivar depth_m: (B, H, W) float32 z-depth in the camera optical frame, inf where nothing is hit.
    :ivar primitive: (B, H, W) int64 index into the N primitives of the pixel's scene, -1 for none.
    :ivar direction: (B, H, W, 3) float32 world-frame ray direction scaled so its camera-frame z
        component is 1 (hit point = camera origin + depth_m * direction); a channels-last view of
        planar (3, B, H, W) storage, so ``direction.permute(3, 0, 1, 2)`` is contiguous.
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
    return _pixel_directions(K, rotation, height, width).permute(1, 2, 3, 0).contiguous()


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
    px, py, pz = point.unbind(-1)
    hx, hy, hz = half_size.unbind(-1)
    return torch.stack(local_normals_xyz(kind, (px, py, pz), (hx, hy, hz)), dim=-1)


def local_normals_xyz(kind: torch.Tensor, point: Vec, half_size: Vec) -> Vec:
    """
    Planar ``local_normals``: the same normals from x, y, z tensors of any one shape.

    :param kind: (...) Kind values.
    :param point: x, y, z (...) each, hit points in the primitive frame.
    :param half_size: x, y, z (...) each, half extents.
    :return: x, y, z (...) each, unit normals in the primitive frame.
    """
    px, py, pz = point
    hx, hy, hz = half_size
    # A box face: the axis where the point is furthest out in units of the half size (the first
    # such axis on ties, like argmax), with the sign of the coordinate; negated for a room.
    normal = [px / hx, py / hy, pz / hz]
    on_axis = dominant_axis(*normal)
    is_box, is_room, cylinder = kind == Kind.BOX, kind == Kind.ROOM, kind == Kind.CYLINDER
    box = as_float(is_box).sub_(as_float(is_room))  # 1 for a box, -1 for a room, else 0
    # A cylinder: radial on its side, +-z on a cap; spheres, bowls (and anything else): radial.
    cap = cylinder & (pz.abs() >= hz * (1 - 1e-4))
    round_ = ~(is_box | is_room | cylinder)
    radial = as_float(round_ | (cylinder & ~cap))
    for i, n in enumerate(normal):
        n.sign_().mul_(as_float(on_axis[i])).mul_(box)  # only one of the terms is nonzero
        n.add_((point[i] / hx).mul_(as_float(round_) if i == 2 else radial))
    normal[2].add_(torch.sign(pz).mul_(as_float(cap)))
    return normalize_xyz(normal[0], normal[1], normal[2], inplace=True)


def as_float(mask: torch.Tensor) -> torch.Tensor:
    """
    Convert a bool mask to float 0/1 (through uint8: many times faster than ``float()`` on CPU).

    :param mask: (...) bool.
    :return: (...) float32, 1 where ``mask``.
    """
    return mask.view(torch.uint8).float()


def select(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """
    Pick ``a`` where ``mask``, else ``b``: ``torch.where`` for finite values, exact and faster.

    ``torch.lerp`` with a 0/1 weight returns one end exactly when the ends are finite (an inf or
    NaN in either end leaks into the result: use ``torch.where`` for those).

    :param mask: bool, broadcastable with a and b.
    :param a: finite values taken where mask.
    :param b: finite values taken elsewhere.
    :return: the broadcast selection.
    """
    return torch.lerp(b, a, as_float(mask))


def normalize_xyz(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, inplace: bool = False) -> Vec:
    """
    Scale a planar vector field to unit length, like ``F.normalize`` on (..., 3).

    The squares are summed as ``torch.linalg.vector_norm`` sums them (fused multiply-adds); the
    length may differ from it in the last bit (``torch.sqrt`` on CPU is not correctly rounded).

    :param x: (...) x components.
    :param y: (...) y components.
    :param z: (...) z components.
    :param inplace: divide x, y and z in place (and return them).
    :return: x, y, z (...) each divided by the length, at least 1e-12.
    """
    length = (x * x).addcmul_(y, y).addcmul_(z, z).sqrt_().clamp_(min=1e-12)
    if inplace:
        return x.div_(length), y.div_(length), z.div_(length)
    return x / length, y / length, z / length


def dominant_axis(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> Vec:
    """
    Mark the axis where a vector field is longest: argmax of (|x|, |y|, |z|), first on ties.

    :param x: (...) x components.
    :param y: (...) y components.
    :param z: (...) z components.
    :return: bool masks (...) each: x, y, or z is the dominant axis (exactly one is set).
    """
    ax, ay, az = x.abs(), y.abs(), z.abs()
    on_x = (ax >= ay) & (ax >= az)
    on_y = (ay >= az) & ~on_x
    return on_x, on_y, ~(on_x | on_y)


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

    # 1. Per primitive: the table of everything a ray test needs, and the screen rectangle of its
    #    bounding box as pixel ranges [x0, x1) x [y0, y1); a room the camera is not in is culled.
    table = _primitive_table(primitives, K, rotation, origin)  # (C, B * N)
    x0, y0, x1, y1 = (
        r.reshape(-1) for r in _screen_rectangles(primitives, K, rotation, origin, height, width)
    )  # (B * N,) each
    kind = primitives.kind.reshape(-1)
    half = primitives.half_size.reshape(-1, 3).T
    inside = (table.narrow(0, _ORIGIN, 3).abs() < half).all(0)
    y1 = torch.where((kind == Kind.ROOM) & ~inside, y0, y1)
    # Keys order hits by depth, then by primitive index (ties go to the higher index).
    tiebreak = (count - 1 - torch.arange(count, device=device)).repeat(batch)  # (B * N,)
    keys = torch.full((batch * height * width,), _INF_BITS << 32 | _LOW_BITS, device=device)

    # 2. Whole-image rectangles as dense (m, H, W) grids, the others as (ray, primitive) pairs.
    whole = (x0 == 0) & (y0 == 0) & (x1 == width) & (y1 == height)
    order = torch.argsort(kind, stable=True)  # one contiguous run of pairs per kind
    sizes = (count, height, width)
    _cast_dense(keys, table, tiebreak, order[whole[order]], kind, sizes, compiled)
    rectangles = (x0, y0, x1, y1)
    _cast_pairs(keys, table, tiebreak, order[~whole[order]], kind, rectangles, sizes, compiled)

    # 3. Decode the nearest key per ray; misses keep depth bits of +inf and get primitive -1.
    bits = keys >> 32
    hit = (bits - _INF_BITS) >> 63  # -1 where something was hit, else 0
    primitive = (count - 1 - (keys & _LOW_BITS)) & hit | ~hit
    direction = _pixel_directions(K, rotation, height, width)  # (3, B, H, W)
    return RayHits(
        depth_m=bits.to(torch.int32).view(torch.float32).reshape(batch, height, width),
        primitive=primitive.reshape(batch, height, width),
        direction=direction.permute(1, 2, 3, 0),
    )


def _pixel_directions(
    K: torch.Tensor, rotation: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """Return (3, B, H, W) world directions (x, y, z planes) of every pixel's ray."""
    device = K.device
    u = torch.arange(width, device=device, dtype=torch.float32)[None, None, :]  # (1, 1, W)
    v = torch.arange(height, device=device, dtype=torch.float32)[None, :, None]  # (1, H, 1)
    fx, fy = K[:, 0, 0, None, None], K[:, 1, 1, None, None]
    cx, cy = K[:, 0, 2, None, None], K[:, 1, 2, None, None]
    x, y = (u - cx) / fx, (v - cy) / fy  # (B, 1, W), (B, H, 1)
    r = rotation[:, :, :, None, None]  # (B, 3, 3, 1, 1)
    return torch.stack([r[:, i, 0] * x + r[:, i, 1] * y + r[:, i, 2] for i in range(3)])


def _primitive_table(
    primitives: Primitives, K: torch.Tensor, rotation: torch.Tensor, origin: torch.Tensor
) -> torch.Tensor:
    """
    Per primitive, everything its ray tests read, as rows of one table.

    :return: (C, B * N): direction terms a, b, c (3 rows each), slab planes lo, hi (3 each),
        local camera origin (3), cylinder height, radius squared, and the constant terms of the
        cylinder's and the sphere's quadratics.
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
    o = to_local(origin[:, None, :], primitives.centre, yaw)  # (B, N, 3)
    half = primitives.half_size
    radius_sq = half[..., 0] ** 2
    rows = (
        a,
        b,
        c,
        -half - o,
        half - o,
        o,
        half[..., 2:],
        radius_sq[..., None],
        (o[..., 0] ** 2 + o[..., 1] ** 2 - radius_sq)[..., None],
        ((o * o).sum(-1) - radius_sq)[..., None],
    )
    return torch.cat(rows, dim=-1).reshape(-1, _ROWS).T.contiguous()  # (C, B * N)


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


def _cast_dense(
    keys: torch.Tensor,
    table: torch.Tensor,
    tiebreak: torch.Tensor,
    solids: torch.Tensor,
    kind: torch.Tensor,
    sizes: tuple[int, int, int],
    compiled: bool,
) -> None:
    """Test every pixel of its frame against each of ``solids`` (sorted by kind) into ``keys``."""
    if solids.numel() == 0:
        return
    count, height, width = sizes
    device = keys.device
    u = torch.arange(width, device=device, dtype=torch.float32)[None, None, :]  # (1, 1, W)
    v = torch.arange(height, device=device, dtype=torch.float32)[None, :, None]  # (1, H, 1)
    pixel = torch.arange(height * width, device=device)
    for solid, group in _by_kind(solids, kind):
        column = table[:, group, None, None]  # (C, m, 1, 1)
        d = _directions_of(column, u, v)  # (m, H, W) each
        depth = _intersect(solid, d, column, compiled)
        ray = (group // count * (height * width))[:, None] + pixel  # (m, H * W)
        key = _keys(depth, tiebreak[group, None, None])
        keys.scatter_reduce_(0, ray.reshape(-1), key.reshape(-1), 'amin')


def _cast_pairs(
    keys: torch.Tensor,
    table: torch.Tensor,
    tiebreak: torch.Tensor,
    solids: torch.Tensor,
    kind: torch.Tensor,
    rectangles: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    sizes: tuple[int, int, int],
    compiled: bool,
) -> None:
    """Test the pixels in each of ``solids``' rectangles (sorted by kind) into ``keys``."""
    x0, y0, x1, y1 = (r[solids] for r in rectangles)
    rows, columns = y1 - y0, x1 - x0  # (S,) each
    count, height, width = sizes
    device = keys.device
    per_kind = torch.zeros(len(Kind), dtype=torch.int64, device=device)
    per_kind.index_add_(0, kind[solids], rows * columns)
    ends = torch.cumsum(per_kind, 0).tolist()
    if ends[-1] == 0:
        return
    # Runs: one per (solid, rectangle row); each is a contiguous range of pixels in one image row.
    first_run = torch.cumsum(rows, 0) - rows
    run_solid = torch.repeat_interleave(solids, rows)  # (R,)
    run_y = torch.arange(run_solid.shape[0], device=device) + torch.repeat_interleave(
        y0 - first_run, rows
    )
    run_x0 = torch.repeat_interleave(x0, rows)
    run_length = torch.repeat_interleave(columns, rows)
    first_pair = torch.cumsum(run_length, 0) - run_length
    run_ray = (run_solid // count * height + run_y) * width + run_x0 - first_pair
    # Pairs: pair p of run r is pixel (run_x0[r] + p - first_pair[r], run_y[r]).
    run = torch.repeat_interleave(
        torch.arange(run_solid.shape[0], device=device, dtype=torch.int32), run_length
    )  # (P,)
    step = torch.arange(run.shape[0], device=device, dtype=torch.int32)
    u = (torch.index_select((run_x0 - first_pair).int(), 0, run) + step).float()
    v = torch.index_select(run_y.float(), 0, run)
    ray = torch.index_select(run_ray, 0, run) + step
    solid_of_pair = torch.index_select(run_solid, 0, run)
    # One kind at a time, each a contiguous slice of the pairs.
    table_rows = table.unbind(0)
    for solid in _INTERSECTORS:
        start, stop = ends[solid - 1], ends[solid]
        if stop > start:
            chosen = solid_of_pair[start:stop]
            column = _Gathered(table_rows, chosen)
            d = _directions_of(column, u[start:stop], v[start:stop])
            depth = _intersect(solid, d, column, compiled)
            key = _keys(depth, torch.index_select(tiebreak, 0, chosen))
            keys.scatter_reduce_(0, ray[start:stop], key, 'amin')


class _Gathered:
    """Rows of the primitive table gathered per pair on use (``column[row]``)."""

    def __init__(self, rows: Sequence[torch.Tensor], index: torch.Tensor) -> None:
        self.rows, self.index = rows, index

    def __getitem__(self, row: int) -> torch.Tensor:
        return torch.index_select(self.rows[row], 0, self.index)


def _by_kind(solids: torch.Tensor, kind: torch.Tensor) -> list[tuple[Kind, torch.Tensor]]:
    """Split primitive indices sorted by kind into (kind, indices) runs, in kind order."""
    kinds = kind[solids]
    groups = []
    for solid in _INTERSECTORS:
        group = solids[kinds == solid]
        if group.numel():
            groups.append((solid, group))
    return groups


def _directions_of(
    column: _Gathered | torch.Tensor, u: torch.Tensor, v: torch.Tensor
) -> list[torch.Tensor]:
    """Primitive-frame ray directions u * a + v * b + c, planar."""
    return [
        torch.add(u * column[_A + i], v * column[_B + i]).add_(column[_C + i]) for i in range(3)
    ]


def _intersect(
    solid: Kind, d: list[torch.Tensor], column: _Gathered | torch.Tensor, compiled: bool
) -> torch.Tensor:
    """Depth of the first hit of rays d with primitives of one kind, inf for a miss."""
    rows = _ROWS_OF[solid]
    if solid in (Kind.ROOM, Kind.BOX):  # slab tests divide by every component
        d = [_nonzero(x) for x in d]
    elif solid == Kind.CYLINDER:  # the caps divide by z
        d[2] = _nonzero(d[2])
    intersect = _INTERSECTORS[solid]
    run = _compiled(intersect) if compiled else intersect
    return run(tuple(d), tuple(column[r] for r in rows))


def _keys(depth: torch.Tensor, tiebreak: torch.Tensor) -> torch.Tensor:
    """Pack depth (> 0 or inf, so its bits sort like it) above a tie-break index: int64 keys."""
    return depth.view(torch.int32).long().bitwise_left_shift_(32).bitwise_or_(tiebreak)


def _nonzero(x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` with components closer to 0 than 1e-12 replaced by 1e-12 (rarely any)."""
    if x.numel() == 0 or float(x.abs().amin()) >= _TINY:
        return x
    return torch.where(x.abs() < _TINY, torch.full_like(x, _TINY), x)


def _inf_unless(valid: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Set ``t`` (finite or +inf) to inf where not valid, in place (cheaper than where)."""
    keep = as_float(valid)
    return t.add_(keep.neg_().add_(1).div_(as_float(valid)))  # + 0 / 1, or + 1 / 0


def _box(d: Sequence[torch.Tensor], p: Sequence[torch.Tensor]) -> torch.Tensor:
    enter, leave = _slabs(d, p)
    t = select(enter > _NEAR_M, enter, leave)
    return _inf_unless((leave >= enter) & (t > _NEAR_M), t)


def _room(d: Sequence[torch.Tensor], p: Sequence[torch.Tensor]) -> torch.Tensor:
    # Rooms the camera is not inside are culled before this: every ray leaves through a wall.
    leave = _slabs(d, p)[1]
    return _inf_unless(leave > _NEAR_M, leave)


def _slabs(
    d: Sequence[torch.Tensor], p: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray parameters where a ray enters and leaves a box's slabs (p: lo xyz, hi xyz)."""
    slabs = []
    for i in range(3):
        t1, t2 = p[i] / d[i], p[3 + i] / d[i]
        slabs.append((torch.minimum(t1, t2), torch.maximum(t1, t2, out=t1)))
    (enter, leave), *others = slabs
    for near, far in others:
        torch.maximum(enter, near, out=enter)
        torch.minimum(leave, far, out=leave)
    return enter, leave


def _quadratic_roots(
    a: torch.Tensor, half_b: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Roots of a t^2 + 2 half_b t + c (finite), and where they are real (a > 0, disc >= 0)."""
    disc = half_b * half_b
    disc -= a * c
    real = (disc >= 0) & (a > 0)
    root = disc.clamp_(min=0).sqrt_()
    a = a + as_float(a <= 0)  # a >= 0: a stand-in for 0 keeps the (unused) roots finite
    half_b = half_b.neg()
    return (half_b - root).div_(a), root.add_(half_b).div_(a), real


def _cylinder(d: Sequence[torch.Tensor], p: Sequence[torch.Tensor]) -> torch.Tensor:
    ox, oy, oz, h, radius_sq, c = p
    a = d[0] ** 2
    a += d[1] ** 2
    half_b = ox * d[0]
    half_b += oy * d[1]
    best, far, real = _quadratic_roots(a, half_b, c)
    for t in (best, far):
        side = real & ((t * d[2]).add_(oz).abs_() <= h) & (t > _NEAR_M)
        _inf_unless(side, t)
    torch.minimum(best, far, out=best)
    for sign in (-1.0, 1.0):
        t = (sign * h - oz) / d[2]
        x, y = (t * d[0]).add_(ox), (t * d[1]).add_(oy)
        inside = x.mul_(x).add_(y.mul_(y)) <= radius_sq
        torch.minimum(best, _inf_unless(inside & (t > _NEAR_M), t), out=best)
    return best


def _sphere_roots(
    d: Sequence[torch.Tensor], p: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ox, oy, oz, c = p
    a = d[0] * d[0]
    a += d[1] * d[1]
    a += d[2] * d[2]
    half_b = ox * d[0]
    half_b += oy * d[1]
    half_b += oz * d[2]
    return _quadratic_roots(a, half_b, c)


def _sphere(d: Sequence[torch.Tensor], p: Sequence[torch.Tensor]) -> torch.Tensor:
    near, far, real = _sphere_roots(d, p)
    near = _inf_unless(real & (near > _NEAR_M), near)
    return torch.minimum(near, _inf_unless(real & (far > _NEAR_M), far), out=near)


def _bowl(d: Sequence[torch.Tensor], p: Sequence[torch.Tensor]) -> torch.Tensor:
    near, far, real = _sphere_roots(d, p)
    oz = p[2]
    for t in (near, far):  # the lower half only
        _inf_unless(real & ((t * d[2]).add_(oz) <= 0) & (t > _NEAR_M), t)
    return torch.minimum(near, far, out=near)


@functools.cache
def _compiled(
    intersect: Callable[[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]], torch.Tensor],
) -> Callable[[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]], torch.Tensor]:
    return torch.compile(intersect, dynamic=True)


_INTERSECTORS = {
    Kind.ROOM: _room,
    Kind.BOX: _box,
    Kind.CYLINDER: _cylinder,
    Kind.SPHERE: _sphere,
    Kind.BOWL: _bowl,
}
_SPHERE_ROWS = (_ORIGIN, _ORIGIN + 1, _ORIGIN + 2, _C_SPHERE)
_ROWS_OF = {  # table rows each kind's test reads
    Kind.ROOM: tuple(range(_LO, _HI + 3)),
    Kind.BOX: tuple(range(_LO, _HI + 3)),
    Kind.CYLINDER: (_ORIGIN, _ORIGIN + 1, _ORIGIN + 2, _HEIGHT, _RADIUS_SQ, _C_CYLINDER),
    Kind.SPHERE: _SPHERE_ROWS,
    Kind.BOWL: _SPHERE_ROWS,
}
