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
Input checking and the one numpy <-> torch crossing used by every public function.

Public functions take a numpy array or a torch tensor, compute in torch (on the input's device),
and hand back the same kind they were given: ``as_tensor`` on the way in, ``like`` on the way out.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import torch

ArrayLike: TypeAlias = np.ndarray | torch.Tensor

__all__ = ['ArrayLike', 'as_tensor', 'check_image', 'like']


def as_tensor(value: object, name: str, *, error: type[ValueError] = ValueError) -> torch.Tensor:
    """
    Take a numpy array or torch tensor without copying where possible.

    :param value: the caller's argument.
    :param name: the argument's name, used in the error message.
    :param error: the ValueError subclass to raise.
    :return: a tensor sharing memory with a numpy input where numpy allows it.
    :raises error: if ``value`` is neither an array nor a tensor, or is empty.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, np.ndarray):
        array = value if value.flags.writeable else value.copy()
        if array.dtype.byteorder not in ('=', '|'):
            array = array.astype(array.dtype.newbyteorder('='))
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    else:
        raise error(f'{name} must be a numpy array or a torch tensor, got {type(value).__name__}')
    if tensor.numel() == 0:
        raise error(f'{name} is empty (shape {tuple(tensor.shape)})')
    return tensor


def like(result: torch.Tensor, reference: object) -> ArrayLike:
    """
    Return ``result`` as the kind of array ``reference`` is: numpy for numpy, else the tensor.

    :param result: the computed tensor.
    :param reference: the caller's original argument.
    :return: ``result.cpu().numpy()`` if ``reference`` is a numpy array, else ``result``.
    """
    if isinstance(reference, np.ndarray):
        return result.detach().cpu().numpy()
    return result


def check_image(
    image: torch.Tensor,
    name: str,
    *,
    channels: int | None,
    dtypes: tuple[torch.dtype, ...],
    error: type[ValueError] = ValueError,
) -> None:
    """
    Check an image laid out (..., H, W) or (..., H, W, C) channels-last.

    :param image: the tensor to check.
    :param name: the argument's name, used in the error message.
    :param channels: the required size of the last axis, or None for a single-channel (..., H, W).
    :param dtypes: the accepted dtypes.
    :param error: the ValueError subclass to raise.
    :raises error: on a wrong dtype, too few axes, or a wrong channel count.
    """
    if image.dtype not in dtypes:
        accepted = ', '.join(str(d).removeprefix('torch.') for d in dtypes)
        raise error(
            f'{name} must have dtype {accepted}, got {str(image.dtype).removeprefix("torch.")}'
        )
    layout = '(..., H, W)' if channels is None else f'(..., H, W, {channels})'
    min_dims = 2 if channels is None else 3
    if image.dim() < min_dims or (channels is not None and image.shape[-1] != channels):
        raise error(f'{name} must be laid out {layout}, got shape {tuple(image.shape)}')
    spatial = image.shape[-2:] if channels is None else image.shape[-3:-1]
    if 0 in spatial:
        raise error(f'{name} is empty (shape {tuple(image.shape)})')
