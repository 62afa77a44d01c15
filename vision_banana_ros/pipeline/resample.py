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
Bringing decoded quantities from the generator's resolution to the camera's.

Colours are never interpolated: the pipeline decodes at model resolution, then resamples the
decoded quantity. Each output pixel centre maps to a source position (pixel centres aligned,
``u_src = (u + 0.5) * W_src / W - 0.5``) with four source neighbours:

- depth: bilinear where the four neighbours are valid and within ``max_step`` of each other
  (relative), else the nearest neighbour, so no point is invented between a foreground edge
  and the background behind it (the "flying pixels" of naive interpolation);
- normals: bilinear and renormalised where the four are valid and their weighted mean is
  at least ``cos(max_angle_deg / 2)`` long (they agree), else the nearest;
- labels and masks: nearest;
- confidences and spreads: bilinear, invalid (NaN) neighbours counting as 0.

All functions work on any device, planar (channels first), float32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ['planar_length', 'resize_depth', 'resize_labels', 'resize_normals', 'resize_scalar']


def planar_length(vectors: torch.Tensor) -> torch.Tensor:
    """
    Length of planar vectors, channel by channel (``Tensor.norm(dim=0)`` is ~20x slower on CPU).

    :param vectors: (3, ...) float.
    :return: (1, ...) float.
    """
    return (vectors[0] * vectors[0] + vectors[1] * vectors[1] + vectors[2] * vectors[2]).sqrt()[
        None
    ]


def _flat_index(
    source: tuple[int, ...], target: tuple[int, int], device: torch.device, nearest: bool
) -> torch.Tensor:
    """
    Row-major source index of each output pixel's nearest or top-left neighbour.

    :return: (H, W) int64 indices into a flattened (h, w) image.
    """
    picks = []
    for src, dst in zip(source, target, strict=True):
        position = (torch.arange(dst, device=device, dtype=torch.float32) + 0.5) * (src / dst)
        index = position.floor() if nearest else (position - 0.5).floor()
        picks.append(index.long().clamp_(0, src - 1))
    rows, cols = picks
    return rows[:, None] * source[1] + cols[None, :]


def _gather(image: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Pick pixels of (..., h, w) at flat (H, W) indices: (..., H, W)."""
    flat = image.reshape(*image.shape[:-2], -1)
    # index_select is ~4x faster than flat[..., index] on the CPU, but has no unsigned kernels
    # wider than a byte: those are picked through the signed view of the same bits.
    bits = _SIGNED_VIEW.get(flat.dtype, flat.dtype)
    picked = flat.view(bits).index_select(-1, index.reshape(-1)).view(flat.dtype)
    return picked.reshape(*image.shape[:-2], *index.shape)


_SIGNED_VIEW = {torch.uint16: torch.int16, torch.uint32: torch.int32, torch.uint64: torch.int64}


def _bilinear(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (C, h, w), pixel centres aligned (NaN spreads to its neighbours)."""
    return F.interpolate(image[None], size=size, mode='bilinear', align_corners=False)[0]


def resize_depth(
    depth_m: torch.Tensor, size: tuple[int, int], max_step: float = 0.05
) -> torch.Tensor:
    """
    Resize a depth image without interpolating across depth discontinuities.

    :param depth_m: (h, w) float depth in metres, NaN invalid.
    :param size: (H, W) output size.
    :param max_step: largest relative spread ``max / min - 1`` of the four neighbours that is
        still interpolated (default 5 %: smooth surfaces at grazing angles stay smooth).
    :return: (H, W) float32, NaN where the chosen source is invalid.
    """
    depth = depth_m.float()
    if tuple(depth.shape) == tuple(size):
        return depth
    # Min and max of each 2x2 block, read at every output pixel's top-left neighbour.
    padded = F.pad(depth[None, None], (0, 1, 0, 1), mode='replicate')
    high = F.max_pool2d(padded, 2, stride=1)[0, 0]  # (h, w); NaN where the block has one
    low = -F.max_pool2d(-padded, 2, stride=1)[0, 0]
    corner = _flat_index(tuple(depth.shape), size, depth.device, nearest=False)
    smooth = _gather(high, corner) <= _gather(low, corner) * (1.0 + max_step)  # NaN: False
    nearest = _gather(depth, _flat_index(tuple(depth.shape), size, depth.device, nearest=True))
    return torch.where(smooth, _bilinear(depth[None], size)[0], nearest)


def resize_normals(
    normals: torch.Tensor, size: tuple[int, int], max_angle_deg: float = 20.0
) -> torch.Tensor:
    """
    Resize unit normals without blending across creases.

    :param normals: (3, h, w) float unit normals (planar), NaN invalid.
    :param size: (H, W) output size.
    :param max_angle_deg: two equally weighted neighbours this far apart are still
        interpolated; beyond it (a crease) the nearest neighbour is taken.
    :return: (3, H, W) float32 unit normals, NaN where the nearest source is invalid.
    """
    vectors = normals.float()
    if tuple(vectors.shape[-2:]) == tuple(size):
        return vectors
    blended = _bilinear(vectors, size)  # (3, H, W); shorter where the neighbours disagree
    length = planar_length(blended)
    smooth = length >= math.cos(math.radians(max_angle_deg) / 2)  # NaN: False
    index = _flat_index(tuple(vectors.shape[-2:]), size, vectors.device, nearest=True)
    return torch.where(smooth, blended / length.clamp_min(1e-6), _gather(vectors, index))


def resize_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """
    Resize integer labels or boolean masks by the nearest neighbour.

    :param labels: (..., h, w) any dtype.
    :param size: (H, W) output size.
    :return: (..., H, W), same dtype.
    """
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    index = _flat_index(tuple(labels.shape[-2:]), size, labels.device, nearest=True)
    return _gather(labels, index)


def resize_scalar(values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """
    Resize a per-pixel score (confidence, spread) bilinearly; NaN counts as 0.

    :param values: (h, w) float.
    :param size: (H, W) output size.
    :return: (H, W) float32.
    """
    if tuple(values.shape) == tuple(size):
        return values.float()
    return _bilinear(torch.nan_to_num(values.float())[None], size)[0]
