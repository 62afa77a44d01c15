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
Metric depth <-> RGB, exactly as Vision Banana draws it (arXiv:2604.20329 §3.2, Eq. 1, Fig. 5).

Depth ``d`` in metres goes through Barron's power transform with lambda = -3, c = 10/3:
``t = 1 - (1 + d / 10) ** -2`` (so 10 m gives t = 0.75), and ``t`` walks the RGB cube from black
to white along 7 unit edges, 1/7 of ``t`` per edge, in the order of ``CUBE_PATH_VERTICES`` (the
order of the paper's Fig. 5, as the MIT package ``hilbertmap`` implements it). With 8-bit
colours the path holds ``7 * 255 + 1 = 1786`` colours; every one of them decodes back to itself.
Colours off the path (what a generator really draws) decode by projection onto the nearest edge,
and the distance to the path is returned as a per-pixel confidence.

Alternative colormaps (viridis, plasma, inferno, magma, turbo, grey) share the power transform and
decode by nearest table entry; with 256 entries they are about 7x coarser than the cube path.

Invalid depth (NaN, +-inf, <= 0) encodes as "infinitely far", ``t = 1`` (white on the cube path,
the colormap's last entry); both ends of the path (``t = 0`` and ``t = 1``) decode to NaN, the
invalid value of REP 118 float depth images. Finite positive depths are clamped into the
representable range ``[DEPTH_MIN_M, DEPTH_MAX_M]`` of the colormap, never to the invalid ends.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import math
from typing import get_args, Literal

import numpy as np
import torch
from vision_banana_ros.codecs.errors import CodecError
from vision_banana_ros.tensors import ArrayLike, as_tensor, check_image, like

__all__ = [
    'CUBE_PATH_COLOURS',
    'CUBE_PATH_VERTICES',
    'DEPTH_COLORMAPS',
    'POWER_C',
    'POWER_LAMBDA',
    'DecodedDepth',
    'DepthColormap',
    'colormap_table',
    'decode_depth',
    'depth_range_m',
    'depth_to_t',
    'encode_depth',
    't_to_depth',
]

POWER_LAMBDA = -3.0
"""Barron power-transform shape used by every Vision Banana experiment."""
POWER_C = 10.0 / 3.0
"""Barron power-transform scale; lambda * c = -10 m."""

CUBE_PATH_VERTICES: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),  # black    t = 0/7   0 m
    (255, 0, 0),  # red      t = 1/7   0.801 m
    (255, 255, 0),  # yellow   t = 2/7   1.832 m
    (0, 255, 0),  # green    t = 3/7   3.229 m
    (0, 255, 255),  # cyan     t = 4/7   5.275 m
    (0, 0, 255),  # blue     t = 5/7   8.708 m
    (255, 0, 255),  # magenta  t = 6/7   16.458 m
    (255, 255, 255),  # white    t = 7/7   infinitely far (and invalid)
)
"""The 8 RGB-cube vertices the depth path visits, in order; 7 unit edges between them."""

CUBE_PATH_COLOURS = 7 * 255 + 1
"""Number of distinct 8-bit colours on the cube path (index 0 = black ... 1785 = white)."""

DepthColormap = Literal['cube', 'viridis', 'plasma', 'inferno', 'magma', 'turbo', 'grey']
"""Colormap names accepted by ``encode_depth`` / ``decode_depth``; 'cube' is the paper's."""
DEPTH_COLORMAPS: tuple[str, ...] = get_args(DepthColormap)

_MATPLOTLIB_NAMES = {'grey': 'gray'}
_DISTANCE_CHUNK = 1 << 15  # pixels per nearest-entry search block (32768 x 256 float32 = 32 MiB)


@dataclass(frozen=True)
class DecodedDepth:
    """
    What ``decode_depth`` recovers from a depth colour image.

    :ivar depth_m: (..., H, W) float32 z-depth in metres, NaN where the colour means invalid.
    :ivar off_path_rgb: (..., H, W) float32 Euclidean distance, in 8-bit levels, from the pixel's
        colour to the nearest colour of the colormap (0 on the path).
    :ivar confidence: (..., H, W) float32 in (0, 1], ``exp(-0.5 * (off_path_rgb / sigma) ** 2)``.
    """

    depth_m: ArrayLike
    off_path_rgb: ArrayLike
    confidence: ArrayLike


def depth_to_t(depth_m: ArrayLike) -> ArrayLike:
    """
    Apply the power transform ``t = 1 - (1 + d / 10) ** -2`` (lambda = -3, c = 10/3).

    :param depth_m: depth in metres, any shape, floating point; 0 -> 0, 10 -> 0.75, inf -> 1.
    :return: ``t`` in [0, 1], same shape, kind and dtype.
    """
    depth = _floating(as_tensor(depth_m, 'depth_m', error=CodecError), 'depth_m')
    lambda_c = POWER_LAMBDA * POWER_C
    t = 1.0 - torch.pow(1.0 - depth / lambda_c, POWER_LAMBDA + 1.0)
    return like(t, depth_m)


def t_to_depth(t: ArrayLike) -> ArrayLike:
    """
    Invert the power transform: ``d = 10 * ((1 - t) ** -0.5 - 1)``.

    :param t: values in [0, 1], any shape, floating point; 1 -> inf.
    :return: depth in metres, same shape, kind and dtype.
    """
    values = _floating(as_tensor(t, 't', error=CodecError), 't')
    lambda_c = POWER_LAMBDA * POWER_C
    depth = lambda_c * (1.0 - torch.pow(1.0 - values, 1.0 / (POWER_LAMBDA + 1.0)))
    return like(depth, t)


def depth_range_m(colormap: str = 'cube') -> tuple[float, float]:
    """
    Smallest and largest depth a colormap represents (the first and last valid entries).

    :param colormap: one of ``DEPTH_COLORMAPS``.
    :return: (min, max) in metres; 'cube' gives about (0.0028, 412).
    """
    last = _last_index(_check_colormap(colormap))
    lo, hi = t_to_depth(np.array([1.0 / last, (last - 1.0) / last]))
    return float(lo), float(hi)


def colormap_table(colormap: str = 'cube', device: torch.device | str = 'cpu') -> torch.Tensor:
    """
    Every 8-bit colour of a depth colormap, in order of increasing depth.

    :param colormap: one of ``DEPTH_COLORMAPS``.
    :param device: where the table lives.
    :return: (N, 3) uint8; N = 1786 for 'cube' (black ... white), 256 for the others
        (matplotlib's table rounded to 8 bits).
    """
    return _table(_check_colormap(colormap), str(torch.device(device)))


def encode_depth(depth_m: ArrayLike, colormap: str = 'cube') -> ArrayLike:
    """
    Draw metric depth as an RGB image.

    :param depth_m: (..., H, W) z-depth in metres, floating point; NaN, +-inf and <= 0 are invalid.
    :param colormap: one of ``DEPTH_COLORMAPS``; 'cube' is Vision Banana's black-to-white walk.
    :return: (..., H, W, 3) uint8 RGB on the input's device; invalid pixels get the colormap's
        last colour (white for 'cube'), which ``decode_depth`` turns into NaN.
    :raises CodecError: on a non-floating dtype, an empty image or an unknown colormap.
    """
    name = _check_colormap(colormap)
    depth = as_tensor(depth_m, 'depth_m', error=CodecError)
    check_image(depth, 'depth_m', channels=None, dtypes=_FLOATS, error=CodecError)
    last = _last_index(name)
    t = depth_to_t(depth.to(torch.float64 if depth.device.type == 'cpu' else torch.float32))
    assert isinstance(t, torch.Tensor)
    index = torch.round(t * last).clamp_(1, last - 1).to(torch.int64)
    valid = torch.isfinite(depth) & (depth > 0)
    index = torch.where(valid, index, torch.full_like(index, last))
    rgb = _table(name, str(depth.device))[index]  # (..., H, W, 3)
    return like(rgb, depth_m)


def decode_depth(rgb: ArrayLike, colormap: str = 'cube', sigma_rgb: float = 12.0) -> DecodedDepth:
    """
    Read metric depth back from an RGB image drawn with ``colormap``.

    Colours on the path decode exactly; others are projected onto the nearest edge of the cube
    path (or the nearest table entry of another colormap), and that distance becomes confidence.

    :param rgb: (..., H, W, 3) uint8 RGB, e.g. a generator's output.
    :param colormap: the colormap the image was drawn with, one of ``DEPTH_COLORMAPS``.
    :param sigma_rgb: distance from the path, in 8-bit levels, at which confidence is exp(-0.5).
    :return: ``DecodedDepth`` with (..., H, W) float32 fields, same kind and device as ``rgb``.
    :raises CodecError: on a wrong dtype or shape, an unknown colormap or a non-positive sigma.
    """
    name = _check_colormap(colormap)
    if not (math.isfinite(sigma_rgb) and sigma_rgb > 0):
        raise CodecError(f'sigma_rgb must be a positive number of 8-bit levels, got {sigma_rgb}')
    image = as_tensor(rgb, 'rgb', error=CodecError)
    check_image(image, 'rgb', channels=3, dtypes=(torch.uint8,), error=CodecError)
    if name == 'cube':
        index, distance_sq = _project_on_cube_path(image)
    else:
        index, distance_sq = _nearest_table_entry(image, _table(name, str(image.device)))
    depth = _index_depth(name, str(image.device)).index_select(0, index.reshape(-1))
    depth = depth.reshape(index.shape)  # (..., H, W) float32, NaN at the ends
    confidence = torch.exp(distance_sq * (-0.5 / sigma_rgb**2))
    return DecodedDepth(
        depth_m=like(depth, rgb),
        off_path_rgb=like(torch.sqrt(distance_sq), rgb),
        confidence=like(confidence, rgb),
    )


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _floating(values: torch.Tensor, name: str) -> torch.Tensor:
    if not values.is_floating_point():
        raise CodecError(f'{name} must be floating point, got {values.dtype}')
    return values


def _check_colormap(colormap: str) -> str:
    name = 'grey' if colormap == 'gray' else colormap
    if name not in DEPTH_COLORMAPS:
        raise CodecError(f'colormap must be one of {", ".join(DEPTH_COLORMAPS)}, got {colormap!r}')
    return name


def _last_index(colormap: str) -> int:
    return CUBE_PATH_COLOURS - 1 if colormap == 'cube' else 255


@functools.cache
def _table(colormap: str, device: str) -> torch.Tensor:
    if colormap == 'cube':
        vertices = np.array(CUBE_PATH_VERTICES, dtype=np.int64)  # (8, 3)
        step = np.arange(CUBE_PATH_COLOURS)
        edge = np.minimum(step // 255, 6)
        along = (step - 255 * edge)[:, None]  # (1786, 1) levels along the edge
        colours = vertices[edge] + along * (vertices[edge + 1] - vertices[edge]) // 255
    else:
        import matplotlib

        cmap = matplotlib.colormaps[_MATPLOTLIB_NAMES.get(colormap, colormap)]
        colours = np.round(cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0)
    return torch.as_tensor(colours.astype(np.uint8), device=device)


@functools.cache
def _index_depth(colormap: str, device: str) -> torch.Tensor:
    last = _last_index(colormap)
    t = np.arange(last + 1, dtype=np.float64) / last
    # 8-bit rounding makes a few neighbouring entries identical (viridis has 254 distinct colours):
    # such a colour decodes to the middle of its run of entries, not to the run's first entry.
    colours = _table(colormap, 'cpu').numpy()
    _, run, count = np.unique(colours, axis=0, return_inverse=True, return_counts=True)
    t = np.bincount(run, weights=t)[run] / count[run]
    depth = t_to_depth(t)
    depth[0] = depth[last] = np.nan  # black / the last colour: invalid (0 m and infinitely far)
    return torch.as_tensor(np.asarray(depth, dtype=np.float32), device=device)


def _project_on_cube_path(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Project 8-bit colours onto the 7-edge cube path, exactly, with three table lookups a pixel.

    Each edge varies one channel with the other two pinned at 0 or 255, so the squared distance
    to an edge is the sum of the two pinned channels' squared offsets, and the position along it
    is the free channel (or 255 minus it on a falling edge). Blue is pinned to 0 on edges 0-2,
    free on edge 3 and pinned to 255 on edges 4-6, so the nearest of edges 0-2 (and of 4-6)
    depends on red and green alone, with blue adding the same term to all three: three tables
    over the 65,536 (red, green) pairs, built once (see ``_cube_path_tables``), then two minima.
    Each candidate is the integer key ``distance_sq * 2048 + path index``, so the smallest key
    is the nearest edge, the first in path order on ties (edge k's indices lie below edge k+1's),
    and names both the index and the distance.

    :param rgb: (..., H, W, 3) uint8.
    :return: path index (..., H, W) int64 in [0, 1785] and squared distance (..., H, W) float32
        in 8-bit levels squared.
    """
    low, middle, high, blue_low, blue_high = _cube_path_tables(str(rgb.device))
    red, green, blue = rgb.reshape(-1, 3).T.to(torch.int32)  # (P,) each
    red_green = (red << 8).bitwise_or_(green)
    best = low.index_select(0, red_green).add_(blue_low.index_select(0, blue))
    torch.minimum(best, middle.index_select(0, red_green).add_(blue), out=best)
    torch.minimum(
        best, high.index_select(0, red_green).add_(blue_high.index_select(0, blue)), out=best
    )
    spatial = rgb.shape[:-1]
    index = best.bitwise_and(_KEY_INDEX_MASK).to(torch.int64).reshape(spatial)
    return index, (best >> _KEY_SHIFT).to(torch.float32).reshape(spatial)


_KEY_SHIFT = 11  # 2**11 > 1785, the last path index
_KEY_INDEX_MASK = (1 << _KEY_SHIFT) - 1


@functools.cache
def _cube_path_tables(device: str) -> tuple[torch.Tensor, ...]:
    """
    Build the lookup tables of ``_project_on_cube_path``: keys ``distance_sq * 2048 + index``.

    :return: int32 tables ``low``, ``middle``, ``high`` (65,536,) indexed by ``red * 256 +
        green``: the nearest of edges 0-2 without blue's term, edge 3 without blue's position
        along it, the nearest of edges 4-6 without blue's term; and ``blue_low``, ``blue_high``
        (256,) indexed by blue: ``blue**2`` and ``(255 - blue)**2``, shifted into key units.
        Keys stay below 2**31: distances are at most 2 * 255**2.
    """
    level = torch.arange(256, dtype=torch.int32)
    red, green = level.view(256, 1).expand(256, 256), level.view(1, 256).expand(256, 256)

    def key(distance_sq: torch.Tensor, edge: int, along: torch.Tensor | int) -> torch.Tensor:
        return (distance_sq << _KEY_SHIFT) + edge * 255 + along

    def near(channel: torch.Tensor) -> torch.Tensor:  # squared offset from 0
        return channel * channel

    def far(channel: torch.Tensor) -> torch.Tensor:  # squared offset from 255
        return (255 - channel) * (255 - channel)

    low = torch.minimum(
        torch.minimum(key(near(green), 0, red), key(far(red), 1, green)),
        key(far(green), 2, 255 - red),
    )
    middle = key(near(red) + far(green), 3, 0)
    high = torch.minimum(
        torch.minimum(key(near(red), 4, 255 - green), key(near(green), 5, red)),
        key(far(red), 6, green),
    )
    tables = (low, middle, high, near(level) << _KEY_SHIFT, far(level) << _KEY_SHIFT)
    return tuple(table.reshape(-1).contiguous().to(device) for table in tables)


def _nearest_table_entry(
    rgb: torch.Tensor, table: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Find the nearest colormap entry for every pixel, in blocks to bound memory.

    :param rgb: (..., H, W, 3) uint8.
    :param table: (N, 3) uint8 colormap.
    :return: entry index (..., H, W) int64 and squared distance (..., H, W) float32.
    """
    pixels = rgb.reshape(-1, 3).to(torch.float32)  # (P, 3)
    entries = table.to(torch.float32)  # (N, 3)
    minus_two_entries_t = -2.0 * entries.T  # (3, N)
    entry_norm_sq = (entries * entries).sum(-1)  # (N,)
    index = torch.empty(pixels.shape[0], dtype=torch.int64, device=rgb.device)
    for start in range(0, pixels.shape[0], _DISTANCE_CHUNK):
        stop = start + _DISTANCE_CHUNK
        block = pixels[start:stop]
        # argmin_e |p - e|^2 = argmin_e (|e|^2 - 2 p.e): one matrix product per block, (P_block, N)
        scores = torch.addmm(entry_norm_sq, block, minus_two_entries_t)
        index[start:stop] = scores.argmin(dim=-1)
    offset = pixels - entries[index]  # (P, 3)
    distance_sq = (offset * offset).sum(-1)
    return index.reshape(rgb.shape[:-1]), distance_sq.reshape(rgb.shape[:-1])
