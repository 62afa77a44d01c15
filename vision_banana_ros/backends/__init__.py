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
Generator backends: the paper's universal interface, images and prompts in, RGB images out.

- ``local``: the embedded VB-Mini generator in this process (the default).
- ``diffusers``: an instruction-following diffusers image-to-image pipeline from a local folder.
- ``gemini``: Google's Gemini image models (Nano Banana Pro / 2) through ``google-genai``.
- ``remote``: the project's own inference server (``vision-banana serve``).
- ``oracle``: the scene engine's ground truth drawn through the encoders (tests, benchmarks).

``create_backend(config)`` builds the one a ``BackendConfig`` names; backends whose libraries
are optional are imported only when asked for.
"""

from __future__ import annotations

from vision_banana_ros.backends.base import (
    Backend,
    BackendError,
    BackendInputError,
    BackendOutputError,
    BackendRefused,
    BackendUnavailable,
)
from vision_banana_ros.backends.config import (
    BACKEND_NAMES,
    BackendConfig,
    DiffusersOptions,
    GeminiOptions,
    LocalOptions,
    RemoteOptions,
)

__all__ = [
    'BACKEND_NAMES',
    'Backend',
    'BackendConfig',
    'BackendError',
    'BackendInputError',
    'BackendOutputError',
    'BackendRefused',
    'BackendUnavailable',
    'DiffusersOptions',
    'GeminiOptions',
    'LocalOptions',
    'RemoteOptions',
    'create_backend',
]


def create_backend(config: BackendConfig | None = None) -> Backend:
    """
    Build the backend a config names.

    :param config: the backend config; None for the default (the embedded VB-Mini).
    :return: the backend, ready to ``generate``.
    :raises BackendError: if it cannot be set up (missing library, weights, key or folder).
    """
    config = config or BackendConfig()
    if config.name == 'local':
        from vision_banana_ros.backends.local import LocalBackend

        return LocalBackend(config.local)
    if config.name == 'diffusers':
        from vision_banana_ros.backends.diffusion import DiffusersBackend

        return DiffusersBackend(config.diffusers)
    if config.name == 'gemini':
        from vision_banana_ros.backends.gemini import GeminiBackend

        return GeminiBackend(config.gemini)
    from vision_banana_ros.backends.remote import RemoteBackend

    return RemoteBackend(config.remote)
