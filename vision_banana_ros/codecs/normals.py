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
Unit surface normals <-> RGB, exactly as Vision Banana draws them (arXiv:2604.20329 v3 §3.2).

The paper works in its own camera frame (x right, y up, z toward the camera) and draws a unit
normal ``p`` as ``R = (1 - p_x) / 2``, ``G = (1 + p_y) / 2``, ``B = (1 + p_z) / 2``, each clamped
to [0, 1] and scaled by 255. This package works in the REP 103 optical frame (x right, y down, z
forward), which is the paper frame with y and z flipped: ``p = (n_x, -n_y, -n_z)``
(``OPTICAL_TO_PAPER``, the only place the flip is written). In the optical frame the map is
therefore ``RGB = (1 - n) / 2 * 255`` on every channel. Levels are rounded to nearest, ties up.

Golden colours (optical frame):

- wall facing the camera, (0, 0, -1) -> (128, 128, 255), light blue;
- surface facing left, (-1, 0, 0) -> (255, 128, 128), pinkish red;
- floor facing up, (0, -1, 0) -> (128, 255, 128), light green.

Decoding inverts the affine map to a raw vector ``n_raw = 1 - 2 * RGB / 255`` (optical frame) and
normalises it. The raw length of an encoded unit normal is within ``1 +- sqrt(3) / 255``; colours a
generator draws away from the unit sphere give a shorter or longer raw vector, which becomes a
per-pixel confidence ``exp(-0.5 * ((|n_raw| - 1) / sigma_length) ** 2)``.

Invalid normals (any NaN or +-inf component, or zero length) encode as mid-grey
``INVALID_NORMAL_RGB = (128, 128, 128)``, whose raw vector has length 0.0068; decoding gives NaN
(and confidence 0) wherever ``|n_raw| < min_length`` (default ``MIN_DECODED_LENGTH = 0.5``).

Precision: rounding moves each raw component by at most 1/255, so the round-trip angle is at most
``asin(sqrt(3) / 255) = 0.389`` degrees. Measured max over 4,000,000 random unit normals (encoded
from float32 and from float64, both frames; seed 0): 0.387 degrees, ``ROUND_TRIP_MAX_DEG``; the
26 axis and diagonal directions: 0.318 degrees. ``test/codecs/test_normals.py`` re-measures it.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import torch
from vision_banana_ros.codecs.errors import CodecError
from vision_banana_ros.tensors import ArrayLike, as_tensor, check_image, like

__all__ = [
    'INVALID_NORMAL_RGB',
    'MIN_DECODED_LENGTH',
    'NORMAL_FRAMES',
    'OPTICAL_TO_PAPER',
    'PAPER_RGB_SIGN',
    'ROUND_TRIP_MAX_DEG',
    'SIGMA_LENGTH',
    'DecodedNormals',
    'decode_normals',
    'encode_normals',
]

NORMAL_FRAMES: tuple[str, ...] = ('optical', 'paper')
"""Frames ``encode_normals`` / ``decode_normals`` accept; 'optical' is REP 103, the default."""

OPTICAL_TO_PAPER: tuple[float, float, float] = (1.0, -1.0, -1.0)
"""Per-axis sign from the optical frame (x right, y down, z forward) to the paper's camera frame
(x right, y up, z toward the camera); the flip is its own inverse."""

PAPER_RGB_SIGN: tuple[float, float, float] = (-1.0, 1.0, 1.0)
"""Sign of each paper axis in the paper's map: R = (1 - x)/2, G = (1 + y)/2, B = (1 + z)/2."""

INVALID_NORMAL_RGB: tuple[int, int, int] = (128, 128, 128)
"""Colour drawn for NaN, infinite or zero-length normals (mid-grey, far from the unit sphere)."""

MIN_DECODED_LENGTH = 0.5
"""Default raw decoded length below which a pixel decodes to NaN (encoded normals: >= 0.993)."""

SIGMA_LENGTH = 0.1
"""Default deviation of the raw decoded length from 1 at which confidence is exp(-0.5)."""

ROUND_TRIP_MAX_DEG = 0.387
"""Measured max angle (degrees) between a unit normal and ``decode(encode(n))``, 8-bit levels."""


@dataclass(frozen=True, eq=False)
class DecodedNormals:
    """
    What ``decode_normals`` recovers from a normal colour image.

    :ivar normals: (..., H, W, 3) float32 unit vectors in the requested frame, NaN where the raw
        decoded vector is shorter than ``min_length``.
    :ivar confidence: (..., H, W) float32 in [0, 1],
        ``exp(-0.5 * ((|n_raw| - 1) / sigma_length) ** 2)``, 0 where ``normals`` is NaN.
    """

    normals: ArrayLike
    confidence: ArrayLike


def encode_normals(normals: ArrayLike, frame: str = 'optical') -> ArrayLike:
    """
    Draw unit surface normals as an RGB image.

    Example: ``encode_normals(np.array([[[0.0, 0.0, -1.0]]]))`` -> ``[[[128, 128, 255]]]``.

    :param normals: (..., H, W, 3) floating-point normals in ``frame``; they are normalised first,
        so any positive length works. NaN, +-inf or zero-length vectors are invalid.
    :param frame: 'optical' (REP 103: x right, y down, z forward) or 'paper' (x right, y up, z
        toward the camera).
    :return: (..., H, W, 3) uint8 RGB, same kind and device as ``normals``; invalid pixels get
        ``INVALID_NORMAL_RGB``.
    :raises CodecError: on a non-floating dtype, a last axis other than 3, an empty image or an
        unknown frame.
    """
    signs = _channel_signs(frame)
    vectors = as_tensor(normals, 'normals', error=CodecError)
    check_image(vectors, 'normals', channels=3, dtypes=_FLOATS, error=CodecError)
    work = vectors.to(torch.float64 if vectors.dtype == torch.float64 else torch.float32)
    # Channel by channel: arithmetic across a last axis of 3 does not vectorise on the CPU.
    magnitude = work.abs()  # (..., H, W, 3)
    largest = torch.maximum(torch.maximum(magnitude[..., 0], magnitude[..., 1]), magnitude[..., 2])
    valid = (largest > 0) & (largest < math.inf)  # (..., H, W); NaN fails both
    # Divide by the largest component first: tiny or huge vectors normalise without under/overflow.
    scaled = [work[..., axis] / largest for axis in range(3)]  # (..., H, W) each
    length = _length(scaled)
    rgb = torch.empty(work.shape, dtype=torch.uint8, device=work.device)
    for axis, (sign, invalid) in enumerate(zip(signs, INVALID_NORMAL_RGB, strict=True)):
        unit = scaled[axis] / (length if sign > 0 else -length)  # sign * n, exact
        level = unit.add_(1.0).mul_(0.5).clamp_(0.0, 1.0).mul_(255.0)
        level = level.add_(0.5).floor_()  # round to nearest, ties up: 127.5 -> 128
        rgb[..., axis] = torch.where(valid, level, float(invalid))
    return like(rgb, normals)


def decode_normals(
    rgb: ArrayLike,
    frame: str = 'optical',
    *,
    min_length: float = MIN_DECODED_LENGTH,
    sigma_length: float = SIGMA_LENGTH,
) -> DecodedNormals:
    """
    Read unit surface normals back from an RGB image drawn by ``encode_normals`` or a generator.

    :param rgb: (..., H, W, 3) uint8 RGB.
    :param frame: the frame to return normals in, 'optical' (default) or 'paper'.
    :param min_length: raw decoded length below which a pixel is invalid (NaN), in (0, 1).
    :param sigma_length: deviation of the raw length from 1 at which confidence is exp(-0.5).
    :return: ``DecodedNormals`` (normals (..., H, W, 3), confidence (..., H, W), both float32),
        same kind and device as ``rgb``.
    :raises CodecError: on a wrong dtype or shape, an unknown frame, or a ``min_length`` /
        ``sigma_length`` out of range.
    """
    signs = _channel_signs(frame)
    if not (math.isfinite(min_length) and 0.0 < min_length < 1.0):
        raise CodecError(f'min_length must be in (0, 1), got {min_length}')
    if not (math.isfinite(sigma_length) and sigma_length > 0.0):
        raise CodecError(f'sigma_length must be a positive length, got {sigma_length}')
    image = as_tensor(rgb, 'rgb', error=CodecError)
    check_image(image, 'rgb', channels=3, dtypes=(torch.uint8,), error=CodecError)
    raw = image.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)  # (..., H, W, 3), before signs
    if all(sign < 0 for sign in signs):
        raw.neg_()
    else:
        for axis, sign in enumerate(signs):
            if sign < 0:
                raw[..., axis].neg_()
    length = _length([raw[..., axis] for axis in range(3)])  # (..., H, W)
    valid = length >= min_length
    divisor = torch.where(valid, length, math.nan)  # NaN normals where invalid
    normals = torch.empty_like(raw)
    for axis in range(3):
        torch.div(raw[..., axis], divisor, out=normals[..., axis])
    confidence = torch.exp(torch.square((length - 1.0) / sigma_length) * -0.5)
    confidence = torch.where(valid, confidence, 0.0)
    return DecodedNormals(normals=like(normals, rgb), confidence=like(confidence, rgb))


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _length(components: list[torch.Tensor]) -> torch.Tensor:
    """
    Euclidean length of vectors given as three component tensors.

    :param components: x, y, z, (..., H, W) each (views of a channels-last tensor are fine).
    :return: (..., H, W) ``sqrt((x * x + y * y) + z * z)``.
    """
    x, y, z = components
    return (x * x).addcmul_(y, y).addcmul_(z, z).sqrt_()


def _channel_signs(frame: str) -> tuple[float, float, float]:
    """
    Sign of each axis of ``frame`` in its RGB channel: ``RGB = (1 + sign * n) / 2 * 255``.

    :param frame: one of ``NORMAL_FRAMES``.
    :return: (-1, 1, 1) for 'paper'; (-1, -1, -1) for 'optical', i.e. ``RGB = (1 - n) / 2``.
    :raises CodecError: on an unknown frame.
    """
    if frame == 'paper':
        return PAPER_RGB_SIGN
    if frame == 'optical':
        x, y, z = (s * f for s, f in zip(PAPER_RGB_SIGN, OPTICAL_TO_PAPER, strict=True))
        return x, y, z
    raise CodecError(f'frame must be one of {", ".join(NORMAL_FRAMES)}, got {frame!r}')
