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
Monocular depth metrics (AbsRel, SqRel, RMSE, RMSE log, log10, delta1/2/3) and their protocols.

Definitions (Eigen et al. 2014, as computed by BTS, AdaBins, ZoeDepth and Depth Anything), over
the N scored pixels of one image with ground truth ``g`` and prediction ``p`` in metres:

- ``abs_rel = mean(|g - p| / g)``; ``sq_rel = mean((g - p)^2 / g)`` (metres);
- ``rmse_m = sqrt(mean((g - p)^2))``; ``rmse_log = sqrt(mean((ln g - ln p)^2))``;
  ``log10 = mean(|log10 g - log10 p|)``;
- ``delta1/2/3`` = fraction of pixels with ``max(g / p, p / g) < 1.25, 1.25^2, 1.25^3``.

**Scored pixels.** Ground truth must be finite, ``> min_depth_m`` and ``<= max_depth_m``, inside
the protocol's crop and the optional caller mask ("GT-valid"); the prediction must be finite and
``> 0`` there (after alignment and optional clamping). GT-valid pixels with an invalid prediction
are *not scored*; ``coverage`` (scored / GT-valid) reports them, so a predictor cannot hide its
holes. With no scored pixel every metric is NaN and ``valid_pixels`` is 0.

**Alignment** (``DepthProtocol.alignment``), fitted on the scored pixels before the metrics:

- ``'none'``: metric depth as predicted, the default and what Vision Banana reports (the paper
  stresses metric depth without intrinsics; it does not state crops, caps or alignment, see
  PAPER_NOTES §6);
- ``'median'``: ``p * median(g) / median(p)`` (median scaling, Zhou et al. 2017);
- ``'least_squares'``: ``s * p`` with ``s = sum(g p) / sum(p p)`` in depth space, or with
  ``shift=True`` ``s * p + t`` by ordinary least squares (as MiDaS-style affine-invariant
  evaluations do, here in depth rather than disparity space). A constant prediction gets
  ``s = 0, t = mean(g)``. Pixels the fit drives to ``<= 0`` are not scored.

**Clamping** (``clamp_prediction``): BTS / AdaBins / ZoeDepth clamp the prediction into
``[min_depth_m, max_depth_m]`` after alignment; off by default, NaN stays NaN.

**Protocols** (literature presets, ``DEPTH_PROTOCOLS``): NYU Depth V2, Eigen crop, 1e-3 to 10 m;
KITTI, Garg crop, 1e-3 to 80 m; SUN RGB-D, Eigen crop, 1e-3 to 8 m (ZoeDepth's zero-shot
configuration); 'indoor' 1e-3 to 10 m, no crop; 'default' 1e-3 m, no cap, no crop.

**Datasets**: score each image with ``depth_metrics``, then ``mean_depth_metrics`` averages every
metric over images (the standard way in the codebases above, so large and small images weigh the
same); images with no scored pixel are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
import math
from typing import get_args, Literal

import torch
from vision_banana_ros.metrics._common import FLOATS, median, optional_mask, tensor_of
from vision_banana_ros.metrics.errors import MetricError
from vision_banana_ros.tensors import ArrayLike, like

__all__ = [
    'DEFAULT_DEPTH_PROTOCOL',
    'DELTA_THRESHOLDS',
    'DEPTH_ALIGNMENTS',
    'DEPTH_CROPS',
    'DEPTH_PROTOCOLS',
    'EIGEN_CROP_480X640',
    'GARG_CROP_FRACTIONS',
    'INDOOR_PROTOCOL',
    'KITTI_PROTOCOL',
    'MIN_DEPTH_M',
    'NYU_PROTOCOL',
    'SUNRGBD_PROTOCOL',
    'DepthAlignment',
    'DepthCrop',
    'DepthMetrics',
    'DepthProtocol',
    'align_depth',
    'crop_mask',
    'depth_metrics',
    'mean_depth_metrics',
]

MIN_DEPTH_M = 1e-3
"""Smallest ground-truth depth scored by every preset (BTS, AdaBins, ZoeDepth use 1e-3 m)."""

DELTA_THRESHOLDS: tuple[float, float, float] = (1.25, 1.25**2, 1.25**3)
"""Ratio thresholds of delta1, delta2, delta3 (strict ``<``)."""

EIGEN_CROP_480X640: tuple[int, int, int, int] = (45, 471, 41, 601)
"""NYU Eigen crop at 480x640: rows 45:471, columns 41:601 (row start, stop, col start, stop)."""

GARG_CROP_FRACTIONS: tuple[float, float, float, float] = (
    0.40810811,
    0.99189189,
    0.03594771,
    0.96405229,
)
"""KITTI Garg crop as fractions of H and W: rows int(f0 H):int(f1 H), cols int(f2 W):int(f3 W)."""

DepthCrop = Literal['eigen', 'garg']
"""Named evaluation crops; ``crop_mask`` builds them."""
DEPTH_CROPS: tuple[str, ...] = get_args(DepthCrop)

DepthAlignment = Literal['none', 'median', 'least_squares']
"""How a prediction is aligned to the ground truth before scoring; 'none' is metric."""
DEPTH_ALIGNMENTS: tuple[str, ...] = get_args(DepthAlignment)


@dataclass(frozen=True)
class DepthProtocol:
    """
    How a benchmark scores depth: valid range, crop, alignment and clamping.

    :ivar name: a label for reports.
    :ivar min_depth_m: ground truth must be greater than this, metres, >= 0.
    :ivar max_depth_m: ground truth must be at most this (the cap), metres; inf for none.
    :ivar crop: one of ``DEPTH_CROPS`` or None for the whole image.
    :ivar alignment: one of ``DEPTH_ALIGNMENTS``; 'none' scores metric depth.
    :ivar shift: with 'least_squares', fit scale and shift instead of scale only.
    :ivar clamp_prediction: clamp the (aligned) prediction into [min_depth_m, max_depth_m].
    """

    name: str = 'default'
    min_depth_m: float = MIN_DEPTH_M
    max_depth_m: float = math.inf
    crop: str | None = None
    alignment: str = 'none'
    shift: bool = False
    clamp_prediction: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_depth_m) and self.min_depth_m >= 0.0):
            raise MetricError(f'min_depth_m must be finite and >= 0, got {self.min_depth_m}')
        if not self.max_depth_m > self.min_depth_m:
            raise MetricError(
                f'max_depth_m must exceed min_depth_m ({self.min_depth_m}), got {self.max_depth_m}'
            )
        if self.crop is not None and self.crop not in DEPTH_CROPS:
            raise MetricError(f'crop must be None or one of {DEPTH_CROPS}, got {self.crop!r}')
        if self.alignment not in DEPTH_ALIGNMENTS:
            raise MetricError(
                f'alignment must be one of {DEPTH_ALIGNMENTS}, got {self.alignment!r}'
            )
        if self.shift and self.alignment != 'least_squares':
            raise MetricError(
                f"shift=True needs alignment='least_squares', got {self.alignment!r}"
            )


DEFAULT_DEPTH_PROTOCOL = DepthProtocol()
"""Metric depth, GT > 1e-3 m, no cap, no crop, no alignment."""
NYU_PROTOCOL = DepthProtocol('nyu', MIN_DEPTH_M, 10.0, 'eigen')
"""NYU Depth V2: Eigen crop, 1e-3 m < GT <= 10 m (Eigen et al. 2014; BTS, AdaBins, ZoeDepth)."""
KITTI_PROTOCOL = DepthProtocol('kitti', MIN_DEPTH_M, 80.0, 'garg')
"""KITTI: Garg crop, 1e-3 m < GT <= 80 m (Garg et al. 2016; BTS, AdaBins, ZoeDepth)."""
SUNRGBD_PROTOCOL = DepthProtocol('sunrgbd', MIN_DEPTH_M, 8.0, 'eigen')
"""SUN RGB-D zero-shot: Eigen crop, GT <= 8 m (ZoeDepth's evaluation configuration)."""
INDOOR_PROTOCOL = DepthProtocol('indoor', MIN_DEPTH_M, 10.0)
"""Generic indoor: 1e-3 m < GT <= 10 m, no crop (DIODE-indoor, iBims-1 style caps)."""

DEPTH_PROTOCOLS: dict[str, DepthProtocol] = {
    p.name: p
    for p in (
        DEFAULT_DEPTH_PROTOCOL,
        NYU_PROTOCOL,
        KITTI_PROTOCOL,
        SUNRGBD_PROTOCOL,
        INDOOR_PROTOCOL,
    )
}
"""The presets by name."""


@dataclass(frozen=True)
class DepthMetrics:
    """
    Depth errors of one image, or their mean over images (``mean_depth_metrics``).

    :ivar abs_rel: mean absolute relative error, unitless.
    :ivar sq_rel: mean squared error over ground truth, metres.
    :ivar rmse_m: root mean squared error, metres.
    :ivar rmse_log: root mean squared error of natural logs, unitless.
    :ivar log10: mean absolute error of base-10 logs, unitless.
    :ivar delta1: fraction with max(g/p, p/g) < 1.25, in [0, 1].
    :ivar delta2: fraction with ratio < 1.25^2.
    :ivar delta3: fraction with ratio < 1.25^3.
    :ivar coverage: scored pixels / GT-valid pixels, in [0, 1].
    :ivar valid_pixels: number of scored pixels (summed over images for a mean).
    """

    abs_rel: float
    sq_rel: float
    rmse_m: float
    rmse_log: float
    log10: float
    delta1: float
    delta2: float
    delta3: float
    coverage: float
    valid_pixels: int


def crop_mask(
    crop: str | None, height: int, width: int, device: torch.device | str = 'cpu'
) -> torch.Tensor:
    """
    Build the boolean mask of a named evaluation crop for an H x W ground truth.

    'eigen' is rows 45:471, cols 41:601 at 480x640, scaled proportionally (and rounded) at other
    sizes; 'garg' truncates ``GARG_CROP_FRACTIONS`` of H and W as BTS does.

    :param crop: one of ``DEPTH_CROPS``, or None for every pixel.
    :param height: H in pixels, > 0.
    :param width: W in pixels, > 0.
    :param device: where the mask lives.
    :return: (H, W) bool tensor, True inside the crop.
    :raises MetricError: on an unknown crop or a non-positive size.
    """
    if height <= 0 or width <= 0:
        raise MetricError(f'height and width must be positive, got {height} x {width}')
    mask = torch.zeros((height, width), dtype=torch.bool, device=device)
    if crop is None:
        return mask.fill_(True)
    if crop == 'eigen':
        top, bottom, left, right = EIGEN_CROP_480X640
        rows = slice(round(top * height / 480), round(bottom * height / 480))
        cols = slice(round(left * width / 640), round(right * width / 640))
    elif crop == 'garg':
        f_top, f_bottom, f_left, f_right = GARG_CROP_FRACTIONS
        rows = slice(int(f_top * height), int(f_bottom * height))
        cols = slice(int(f_left * width), int(f_right * width))
    else:
        raise MetricError(f'crop must be None or one of {DEPTH_CROPS}, got {crop!r}')
    mask[rows, cols] = True
    return mask


def align_depth(
    pred_depth_m: ArrayLike,
    gt_depth_m: ArrayLike,
    alignment: str = 'median',
    *,
    shift: bool = False,
    mask: ArrayLike | None = None,
) -> ArrayLike:
    """
    Scale (and optionally shift) a predicted depth map to the ground truth.

    The fit uses pixels where both are finite and > 0 (and ``mask`` holds); see the module
    docstring for each alignment.

    :param pred_depth_m: (H, W) floating predicted depth, metres (or any scale).
    :param gt_depth_m: (H, W) floating ground truth, metres, NaN / <= 0 invalid.
    :param alignment: one of ``DEPTH_ALIGNMENTS``.
    :param shift: with 'least_squares', fit scale and shift.
    :param mask: optional (H, W) bool mask of pixels to fit on.
    :return: the aligned prediction, float64, same kind as ``pred_depth_m`` (on the ground
        truth's device); unchanged (as float64) when no pixel can be fitted.
    :raises MetricError: on wrong shapes or dtypes, or an unknown alignment.
    """
    protocol = DepthProtocol(alignment=alignment, shift=shift, min_depth_m=0.0)
    gt = tensor_of(gt_depth_m, 'gt_depth_m', channels=None, dtypes=FLOATS)
    pred = tensor_of(
        pred_depth_m,
        'pred_depth_m',
        channels=None,
        dtypes=FLOATS,
        shape=tuple(gt.shape),
        device=gt.device,
    ).to(torch.float64)
    target = gt.to(torch.float64)
    fit = optional_mask(mask, tuple(gt.shape), gt.device) & _positive(target) & _positive(pred)
    return like(_align(pred, target, fit, protocol), pred_depth_m)


def depth_metrics(
    pred_depth_m: ArrayLike,
    gt_depth_m: ArrayLike,
    protocol: DepthProtocol = DEFAULT_DEPTH_PROTOCOL,
    *,
    mask: ArrayLike | None = None,
) -> DepthMetrics:
    """
    Score one predicted depth map against its ground truth.

    Example: ``depth_metrics(pred, gt, NYU_PROTOCOL).delta1``.

    :param pred_depth_m: (H, W) floating z-depth in metres; NaN, +-inf and <= 0 are invalid.
    :param gt_depth_m: (H, W) floating z-depth in metres, NaN (or <= min_depth_m) invalid.
    :param protocol: range, crop, alignment and clamping; ``DEPTH_PROTOCOLS`` has the presets.
    :param mask: optional (H, W) bool mask of pixels to score (ANDed with the rest).
    :return: the metrics, computed in float64 on the ground truth's device.
    :raises MetricError: on a wrong kind, dtype or shape, or a protocol that is not a
        ``DepthProtocol``.
    """
    if not isinstance(protocol, DepthProtocol):
        raise MetricError(f'protocol must be a DepthProtocol, got {type(protocol).__name__}')
    gt = tensor_of(gt_depth_m, 'gt_depth_m', channels=None, dtypes=FLOATS).to(torch.float64)
    pred = tensor_of(
        pred_depth_m,
        'pred_depth_m',
        channels=None,
        dtypes=FLOATS,
        shape=tuple(gt.shape),
        device=gt.device,
    ).to(torch.float64)
    height, width = gt.shape
    gt_valid = torch.isfinite(gt) & (gt > protocol.min_depth_m) & (gt <= protocol.max_depth_m)
    gt_valid &= crop_mask(protocol.crop, height, width, gt.device)
    gt_valid &= optional_mask(mask, (height, width), gt.device)
    pred = _align(pred, gt, gt_valid & _positive(pred), protocol)
    if protocol.clamp_prediction:
        pred = pred.clamp(protocol.min_depth_m, protocol.max_depth_m)
    scored = gt_valid & _positive(pred)
    return _errors(pred[scored], gt[scored], int(gt_valid.sum()))


def mean_depth_metrics(per_image: Iterable[DepthMetrics]) -> DepthMetrics:
    """
    Average per-image metrics over a dataset, the standard way (each image weighs the same).

    :param per_image: metrics of each image; those with ``valid_pixels == 0`` are skipped.
    :return: the mean of every float field; ``valid_pixels`` is the total. All NaN (and 0
        pixels) if no image has a scored pixel.
    :raises MetricError: if an item is not a ``DepthMetrics``.
    """
    scored = []
    for item in per_image:
        if not isinstance(item, DepthMetrics):
            raise MetricError(f'per_image must hold DepthMetrics, got {type(item).__name__}')
        if item.valid_pixels > 0:
            scored.append(item)
    values: dict[str, float | int] = {}
    for field in fields(DepthMetrics):
        column = [getattr(item, field.name) for item in scored]
        if field.name == 'valid_pixels':
            values[field.name] = sum(column)
        else:
            values[field.name] = math.fsum(column) / len(column) if column else math.nan
    return DepthMetrics(**values)  # type: ignore[arg-type]


def _positive(depth: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(depth) & (depth > 0)


def _align(
    pred: torch.Tensor, gt: torch.Tensor, fit: torch.Tensor, protocol: DepthProtocol
) -> torch.Tensor:
    """
    Align a float64 prediction to float64 ground truth on the pixels ``fit``.

    :param pred: (H, W) float64 prediction.
    :param gt: (H, W) float64 ground truth.
    :param fit: (H, W) bool, pixels where both are usable.
    :param protocol: says which alignment.
    :return: (H, W) float64 aligned prediction; ``pred`` itself with no fit pixel or 'none'.
    """
    if protocol.alignment == 'none' or not bool(fit.any()):
        return pred
    p, g = pred[fit], gt[fit]  # (N,) each
    if protocol.alignment == 'median':
        return pred * (median(g) / median(p))
    if not protocol.shift:
        return pred * ((p * g).sum() / (p * p).sum())
    p_mean, g_mean = p.mean(), g.mean()
    p_var = ((p - p_mean) ** 2).sum()
    scale = ((p - p_mean) * (g - g_mean)).sum() / p_var if p_var > 0 else torch.zeros_like(p_var)
    return pred * scale + (g_mean - scale * p_mean)


def _errors(pred: torch.Tensor, gt: torch.Tensor, gt_valid: int) -> DepthMetrics:
    """
    Compute every metric from the scored values.

    :param pred: (N,) float64 predictions, finite and > 0.
    :param gt: (N,) float64 ground truth, finite and > 0.
    :param gt_valid: number of GT-valid pixels (the coverage denominator).
    :return: the metrics; NaN with N = 0.
    """
    count = pred.numel()
    coverage = count / gt_valid if gt_valid else math.nan
    if count == 0:
        nan = math.nan
        return DepthMetrics(nan, nan, nan, nan, nan, nan, nan, nan, coverage, 0)
    diff = gt - pred
    log_diff = torch.log(gt) - torch.log(pred)
    ratio = torch.maximum(gt / pred, pred / gt)
    stats = torch.stack(
        (
            (diff.abs() / gt).mean(),
            (diff * diff / gt).mean(),
            (diff * diff).mean().sqrt(),
            (log_diff * log_diff).mean().sqrt(),
            (log_diff.abs() / math.log(10.0)).mean(),
            *((ratio < threshold).to(torch.float64).mean() for threshold in DELTA_THRESHOLDS),
        )
    ).tolist()  # one device sync
    abs_rel, sq_rel, rmse_m, rmse_log, log10, delta1, delta2, delta3 = stats
    return DepthMetrics(
        abs_rel, sq_rel, rmse_m, rmse_log, log10, delta1, delta2, delta3, coverage, count
    )
