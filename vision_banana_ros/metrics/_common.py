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
Checks and reductions shared by the metric modules (private: import the public modules).

Every metric takes numpy arrays or torch tensors, crosses into torch once with ``as_tensor`` and
computes on the ground truth's device; predictions are moved there.
"""

from __future__ import annotations

import torch
from vision_banana_ros.metrics.errors import MetricError
from vision_banana_ros.tensors import as_tensor, check_image

__all__ = ['FLOATS', 'INTEGERS', 'median', 'optional_mask', 'tensor_of']

FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INTEGER_NAMES = ('uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64')
INTEGERS: tuple[torch.dtype, ...] = tuple(
    getattr(torch, name)
    for name in _INTEGER_NAMES
    if hasattr(torch, name)  # uint16/32: 2.3+
)


def tensor_of(
    value: object,
    name: str,
    *,
    channels: int | None,
    dtypes: tuple[torch.dtype, ...],
    shape: tuple[int, ...] | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """
    Take one (H, W) or (H, W, C) image argument into torch and check it.

    :param value: the caller's numpy array or tensor.
    :param name: the argument's name, used in error messages.
    :param channels: C for an (H, W, C) image, None for an (H, W) image.
    :param dtypes: accepted dtypes.
    :param shape: the exact shape required (e.g. the ground truth's), or None.
    :param device: where to move the tensor, or None to leave it.
    :return: the tensor, on ``device`` if given.
    :raises MetricError: on a wrong kind, dtype, number of axes or shape.
    """
    tensor = as_tensor(value, name, error=MetricError)
    check_image(tensor, name, channels=channels, dtypes=dtypes, error=MetricError)
    axes = 2 if channels is None else 3
    if tensor.dim() != axes:
        layout = '(H, W)' if channels is None else f'(H, W, {channels})'
        raise MetricError(f'{name} must be one image {layout}, got shape {tuple(tensor.shape)}')
    if shape is not None and tuple(tensor.shape) != shape:
        raise MetricError(
            f'{name} must have the ground truth shape {shape}, got {tuple(tensor.shape)}'
        )
    return tensor if device is None else tensor.to(device)


def optional_mask(
    mask: object, shape: tuple[int, ...], device: torch.device, name: str = 'mask'
) -> torch.Tensor:
    """
    Take an optional (H, W) boolean mask of pixels to score; None means every pixel.

    :param mask: None or an (H, W) bool array or tensor.
    :param shape: the (H, W) it must have.
    :param device: where the result lives.
    :param name: the argument's name, used in error messages.
    :return: (H, W) bool tensor on ``device``.
    :raises MetricError: on a non-bool dtype or a wrong shape.
    """
    if mask is None:
        return torch.ones(shape, dtype=torch.bool, device=device)
    return tensor_of(mask, name, channels=None, dtypes=(torch.bool,), shape=shape, device=device)


def median(values: torch.Tensor) -> torch.Tensor:
    """
    Median of a non-empty 1-D tensor, numpy's way: the mean of the two middle values if even.

    (``torch.median`` returns the lower of the two; ``torch.quantile`` refuses > 2**24 values.)

    :param values: (N,) floating tensor, N >= 1, no NaN.
    :return: 0-d tensor of the same dtype and device.
    """
    ordered, _ = torch.sort(values)
    count = ordered.numel()
    return (ordered[(count - 1) // 2] + ordered[count // 2]) / 2
