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

"""Device and dtype names of a backend config, resolved against the hardware present."""

from __future__ import annotations

import torch
from vision_banana_ros.model.generator import default_dtype

__all__ = ['resolve_device', 'resolve_dtype']

_DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}


def resolve_device(name: str) -> torch.device:
    """
    Turn 'auto', 'cpu' or 'cuda' into a device.

    :param name: the config's device name.
    :return: CUDA for 'auto' when present, else the CPU.
    :raises ValueError: for 'cuda' without CUDA, or an unknown name.
    """
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise ValueError('device cuda was asked for but torch sees no CUDA device')
    if name not in ('cpu', 'cuda'):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """
    Turn a dtype name into a dtype.

    :param name: 'auto' or one of 'float32', 'bfloat16', 'float16'.
    :param device: where the model runs ('auto' picks ``default_dtype(device)``).
    :return: the dtype.
    :raises ValueError: on an unknown name.
    """
    if name == 'auto':
        return default_dtype(device)
    if name not in _DTYPES:
        raise ValueError(f"dtype must be 'auto' or one of {', '.join(_DTYPES)}, got {name!r}")
    return _DTYPES[name]
