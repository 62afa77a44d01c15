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
Surface-normal metrics: per-pixel angular error and its mean, median, RMSE and accuracies.

The angle between a predicted and a ground-truth normal is ``atan2(|p x g|, p . g)`` in degrees,
after normalising both (accurate near 0 and 180 degrees, where ``acos`` is not). A pixel is
scored where both vectors are finite and of non-zero length (and the optional mask holds);
elsewhere the error is NaN. Both must be in the same frame (this package: REP 103 optical).

Reported, as in Bae et al. (DSINE, 2024) and the Vision Banana paper's normal tables: mean,
median and RMSE of the angle in degrees, and the percentage of pixels with an angle strictly
below 11.25, 22.5 and 30 degrees.

**Datasets** pool pixels, not images (DSINE's evaluation concatenates every pixel's error):
``summarise_normal_errors`` turns each image's errors into a ``NormalErrorSummary`` (count, sums,
threshold counts and a histogram of 0.001-degree bins), summaries add with ``+``, and
``NormalErrorSummary.metrics()`` gives the pooled metrics. Mean, RMSE and the percentages are
exact; the pooled median is interpolated inside its histogram bin, within 0.001 degrees. The
per-image ``normal_metrics`` gives the exact median.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math

import torch
from vision_banana_ros.metrics._common import FLOATS, median, optional_mask, tensor_of
from vision_banana_ros.metrics.errors import MetricError
from vision_banana_ros.tensors import ArrayLike, as_tensor, check_image, like

__all__ = [
    'HISTOGRAM_BIN_DEG',
    'NORMAL_THRESHOLDS_DEG',
    'NormalErrorSummary',
    'NormalMetrics',
    'angular_error_deg',
    'normal_metrics',
    'summarise_normal_errors',
]

NORMAL_THRESHOLDS_DEG: tuple[float, float, float] = (11.25, 22.5, 30.0)
"""Angles for the accuracy percentages (strict ``<``)."""

HISTOGRAM_BIN_DEG = 0.001
"""Width of the pooled-median histogram bins, degrees."""

_BINS = 180_000  # 180 degrees / 0.001


@dataclass(frozen=True)
class NormalMetrics:
    """
    Angular errors of one image, or pooled over a dataset.

    :ivar mean_deg: mean angle, degrees.
    :ivar median_deg: median angle, degrees.
    :ivar rmse_deg: root mean squared angle, degrees.
    :ivar within_11_25_pct: percentage of pixels below 11.25 degrees, in [0, 100].
    :ivar within_22_5_pct: percentage below 22.5 degrees.
    :ivar within_30_pct: percentage below 30 degrees.
    :ivar valid_pixels: number of scored pixels.
    """

    mean_deg: float
    median_deg: float
    rmse_deg: float
    within_11_25_pct: float
    within_22_5_pct: float
    within_30_pct: float
    valid_pixels: int


@dataclass(frozen=True, eq=False)
class NormalErrorSummary:
    """
    Everything needed to pool angular errors over many images; add summaries with ``+``.

    :ivar count: number of scored pixels.
    :ivar sum_deg: sum of angles, degrees.
    :ivar sum_sq_deg2: sum of squared angles, degrees squared.
    :ivar within_counts: pixels below each of ``NORMAL_THRESHOLDS_DEG``.
    :ivar histogram: (180000,) int64 CPU tensor, pixels per 0.001-degree bin, 0 to 180.
    """

    count: int
    sum_deg: float
    sum_sq_deg2: float
    within_counts: tuple[int, int, int]
    histogram: torch.Tensor

    def __add__(self, other: object) -> NormalErrorSummary:
        if not isinstance(other, NormalErrorSummary):
            return NotImplemented
        first, second, third = (
            a + b for a, b in zip(self.within_counts, other.within_counts, strict=True)
        )
        return NormalErrorSummary(
            count=self.count + other.count,
            sum_deg=self.sum_deg + other.sum_deg,
            sum_sq_deg2=self.sum_sq_deg2 + other.sum_sq_deg2,
            within_counts=(first, second, third),
            histogram=self.histogram + other.histogram,
        )

    def metrics(self) -> NormalMetrics:
        """
        Pooled metrics of every pixel summarised; the median comes from the histogram.

        :return: the metrics; all NaN (and 0 pixels) if nothing was scored.
        """
        if self.count == 0:
            nan = math.nan
            return NormalMetrics(nan, nan, nan, nan, nan, nan, 0)
        first, second, third = (100.0 * n / self.count for n in self.within_counts)
        return NormalMetrics(
            mean_deg=self.sum_deg / self.count,
            median_deg=_histogram_median(self.histogram, self.count),
            rmse_deg=math.sqrt(self.sum_sq_deg2 / self.count),
            within_11_25_pct=first,
            within_22_5_pct=second,
            within_30_pct=third,
            valid_pixels=self.count,
        )


def angular_error_deg(pred_normals: ArrayLike, gt_normals: ArrayLike) -> ArrayLike:
    """
    Angle between predicted and ground-truth normals, per pixel.

    Example: (0, 0, -1) against (0, -1, 0) gives 90.0.

    :param pred_normals: (..., H, W, 3) floating normals, any positive length.
    :param gt_normals: (..., H, W, 3) floating normals, same shape and frame; NaN invalid.
    :return: (..., H, W) angle in degrees in [0, 180], NaN where either vector is non-finite or
        zero; float32 (float64 if both inputs are float64), same kind as ``gt_normals``, on the
        ground truth's device.
    :raises MetricError: on a wrong kind, dtype or shape.
    """
    gt = as_tensor(gt_normals, 'gt_normals', error=MetricError)
    check_image(gt, 'gt_normals', channels=3, dtypes=FLOATS, error=MetricError)
    pred = as_tensor(pred_normals, 'pred_normals', error=MetricError)
    check_image(pred, 'pred_normals', channels=3, dtypes=FLOATS, error=MetricError)
    if pred.shape != gt.shape:
        raise MetricError(
            f'pred_normals must have the shape of gt_normals {tuple(gt.shape)}, '
            f'got {tuple(pred.shape)}'
        )
    return like(_angles(pred.to(gt.device), gt), gt_normals)


def normal_metrics(
    pred_normals: ArrayLike, gt_normals: ArrayLike, *, mask: ArrayLike | None = None
) -> NormalMetrics:
    """
    Score one image's predicted normals against the ground truth (exact median).

    :param pred_normals: (H, W, 3) floating normals, any positive length.
    :param gt_normals: (H, W, 3) floating normals in the same frame, NaN where invalid.
    :param mask: optional (H, W) bool mask of pixels to score.
    :return: the metrics; all NaN (and 0 pixels) with no scored pixel.
    :raises MetricError: on a wrong kind, dtype or shape.
    """
    gt = tensor_of(gt_normals, 'gt_normals', channels=3, dtypes=FLOATS)
    pred = tensor_of(
        pred_normals,
        'pred_normals',
        channels=3,
        dtypes=FLOATS,
        shape=tuple(gt.shape),
        device=gt.device,
    )
    errors = _angles(pred, gt)  # (H, W)
    scored = optional_mask(mask, tuple(gt.shape[:2]), gt.device) & torch.isfinite(errors)
    values = errors[scored].to(torch.float64)  # (N,)
    pooled = _summarise(values).metrics()
    if values.numel() == 0:
        return pooled
    return replace(pooled, median_deg=float(median(values)))


def summarise_normal_errors(errors_deg: ArrayLike) -> NormalErrorSummary:
    """
    Summarise per-pixel angular errors for pooling over a dataset.

    :param errors_deg: angles in degrees, any shape (e.g. from ``angular_error_deg``); NaN
        entries are skipped.
    :return: the summary (its histogram on the CPU).
    :raises MetricError: on a non-floating input or values outside [0, 180].
    """
    errors = as_tensor(errors_deg, 'errors_deg', error=MetricError)
    if errors.dtype not in FLOATS:
        raise MetricError(f'errors_deg must be floating point, got {errors.dtype}')
    values = errors[~torch.isnan(errors)].to(torch.float64)  # (N,)
    if values.numel() and not bool(((values >= 0) & (values <= 180)).all()):
        raise MetricError(
            f'errors_deg must lie in [0, 180] degrees, got {float(values.min())} to '
            f'{float(values.max())}'
        )
    return _summarise(values)


def _angles(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """
    Angle in degrees between (..., 3) vectors, NaN where either is non-finite or zero.

    :param pred: (..., H, W, 3) floating.
    :param gt: (..., H, W, 3) floating, same shape and device.
    :return: (..., H, W) float32, or float64 when both are float64.
    """
    both64 = pred.dtype == torch.float64 and gt.dtype == torch.float64
    dtype = torch.float64 if both64 else torch.float32
    p, g = pred.to(dtype), gt.to(dtype)
    p_len = torch.linalg.vector_norm(p, dim=-1)  # (..., H, W)
    g_len = torch.linalg.vector_norm(g, dim=-1)
    valid = torch.isfinite(p_len) & torch.isfinite(g_len) & (p_len > 0) & (g_len > 0)
    cross = torch.linalg.vector_norm(torch.linalg.cross(p, g, dim=-1), dim=-1)
    dot = (p * g).sum(dim=-1)
    angle = torch.rad2deg(torch.atan2(cross, dot))  # lengths cancel in atan2
    return torch.where(valid, angle, math.nan)


def _summarise(values: torch.Tensor) -> NormalErrorSummary:
    """Summarise (N,) float64 angles in [0, 180]."""
    bins = (values / HISTOGRAM_BIN_DEG).floor().clamp_(0, _BINS - 1).to(torch.int64)
    histogram = torch.bincount(bins, minlength=_BINS).cpu()
    within = torch.stack([(values < t).sum() for t in NORMAL_THRESHOLDS_DEG]).tolist()
    sums = torch.stack((values.sum(), (values * values).sum())).tolist()
    return NormalErrorSummary(
        count=values.numel(),
        sum_deg=sums[0],
        sum_sq_deg2=sums[1],
        within_counts=(within[0], within[1], within[2]),
        histogram=histogram,
    )


def _histogram_median(histogram: torch.Tensor, count: int) -> float:
    """
    Median from 0.001-degree bin counts, numpy's convention, uniform within a bin.

    :param histogram: (180000,) int64 counts.
    :param count: their sum, > 0.
    :return: the median in degrees.
    """
    cumulative = torch.cumsum(histogram, dim=0)  # (180000,)

    def order_statistic(rank: int) -> float:  # the rank-th smallest value, 0-based
        bin_index = int(torch.searchsorted(cumulative, rank, right=True))
        before = int(cumulative[bin_index - 1]) if bin_index else 0
        inside = int(histogram[bin_index])
        return (bin_index + (rank - before + 0.5) / inside) * HISTOGRAM_BIN_DEG

    return 0.5 * (order_statistic((count - 1) // 2) + order_statistic(count // 2))
