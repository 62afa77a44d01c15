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
Clean-up of generation artefacts, at model resolution, before resizing to the camera.

Deployment guides for Vision Banana advise post-processing its outputs: speckles and pinholes
in masks, isolated outliers in depth, and grain in normals. Each step is switchable in
``CleanupConfig`` and leaves invalid pixels invalid (nothing is invented where the decoder
said NaN).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
import torch
import torch.nn.functional as F
from vision_banana_ros.pipeline.resample import planar_length

__all__ = ['clean_labels', 'median_depth', 'smooth_normals']


def median_depth(depth_m: torch.Tensor, size: int) -> torch.Tensor:
    """
    Replace each valid depth by the median of the valid depths in its window.

    :param depth_m: (h, w) float depth in metres, NaN invalid.
    :param size: odd window side in pixels (3 or 5 typical); 1 returns the input.
    :return: (h, w) float32; NaN stays NaN.
    """
    if size <= 1:
        return depth_m.float()
    half = size // 2
    padded = F.pad(depth_m.float()[None, None], (half, half, half, half), value=float('nan'))
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)  # (1, 1, h, w, k, k)
    median = windows.reshape(*depth_m.shape, size * size).nanmedian(-1).values
    return torch.where(depth_m.isnan(), depth_m.float(), median)


def smooth_normals(normals: torch.Tensor, size: int, sigma_deg: float) -> torch.Tensor:
    """
    Edge-preserving smoothing of unit normals: a window mean weighted by angular similarity.

    Each neighbour's weight is ``exp(-0.5 * (angle to the centre / sigma) ** 2)``: grain within
    a surface averages out, while a crease (a larger angle) is kept sharp.

    :param normals: (3, h, w) float unit normals (planar), NaN invalid.
    :param size: odd window side in pixels; 1 returns the input.
    :param sigma_deg: angular scale of the weights in degrees.
    :return: (3, h, w) float32 unit normals; NaN stays NaN.
    """
    if size <= 1:
        return normals.float()
    half = size // 2
    height, width = normals.shape[-2:]
    valid = ~normals.isnan().any(0)  # (h, w)
    clean = torch.nan_to_num(normals.float())  # invalid neighbours: zero vectors, zero weight
    padded = F.pad(clean[None], (half, half, half, half))  # (1, 3, h + 2 half, w + 2 half)
    total = torch.zeros_like(clean)
    scale = 1.0 / np.radians(sigma_deg) ** 2
    for dy in range(size):
        for dx in range(size):
            neighbour = padded[0, :, dy:, dx:][:, :height, :width]  # (3, h, w)
            cos = (neighbour * clean).sum(0).clamp(-1.0, 1.0)
            angle = torch.arccos(cos)
            weight = torch.exp(-0.5 * angle * angle * scale) * (neighbour.abs().sum(0) > 0)
            total += neighbour * weight
    smoothed = total / planar_length(total).clamp_min(1e-6)
    return torch.where(valid[None], smoothed, float('nan'))


def clean_labels(labels: np.ndarray, min_component_px: int, max_hole_px: int) -> np.ndarray:
    """
    Drop speckles of every label, then fill small unlabelled holes from the nearest label.

    :param labels: (h, w) integer labels (class or instance ids), 0 = none; a bool mask works.
    :param min_component_px: 8-connected pieces of one label smaller than this become 0
        (0 disables).
    :param max_hole_px: 4-connected pieces of 0 up to this size, not touching the border, take
        the nearest label (0 disables).
    :return: (h, w) labels of the input dtype.
    """
    out = labels.copy()
    if min_component_px > 0:
        for label in np.unique(out):
            if label == 0:
                continue
            _, pieces, stats, _ = cv2.connectedComponentsWithStats(
                (out == label).astype(np.uint8), connectivity=8
            )
            small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_component_px)
            small = small[small > 0]
            if small.size:
                out[np.isin(pieces, small)] = 0
    if max_hole_px > 0 and out.any():
        _, pieces, stats, _ = cv2.connectedComponentsWithStats(
            (out == 0).astype(np.uint8), connectivity=4
        )
        border = np.unique(np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]]))
        holes = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= max_hole_px)
        holes = holes[(holes > 0) & ~np.isin(holes, border)]
        if holes.size:
            fill = np.isin(pieces, holes)
            _, (rows, cols) = ndimage.distance_transform_edt(out == 0, return_indices=True)
            out[fill] = out[rows[fill], cols[fill]]
    return out
