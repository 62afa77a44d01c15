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
``BackendConfig``: which generator backend to use and its options.

One dataclass per backend, nested under ``BackendConfig`` so the YAML section and the ROS
parameters read ``backend.name``, ``backend.local.steps``, ``backend.gemini.model`` and so on.
Secrets never live in a config: the Gemini key and the server token are read from the
environment variables the config names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

__all__ = [
    'BACKEND_NAMES',
    'DTYPES',
    'BackendConfig',
    'DiffusersOptions',
    'GeminiOptions',
    'LocalOptions',
    'RemoteOptions',
]

BACKEND_NAMES = ('local', 'diffusers', 'gemini', 'remote')
"""Backends a config can name; the oracle is built in code from scenes (``OracleBackend``)."""

DTYPES = ('auto', 'float32', 'bfloat16', 'float16')
"""Compute dtypes; 'auto' is bfloat16 where the hardware runs it natively, else float32."""

DEVICES = ('auto', 'cpu', 'cuda')


def _check(section: str, checks: dict[str, tuple[bool, object]]) -> None:
    """Raise ValueError naming every field whose check failed, with its value."""
    bad = [f'{name}={value!r}' for name, (ok, value) in checks.items() if not ok]
    if bad:
        raise ValueError(f'{section}: invalid {", ".join(bad)}')


def _positive(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@dataclass(frozen=True)
class LocalOptions:
    """
    The embedded VB-Mini generator, in this process.

    :ivar weights: weights folder; '' for the weights shipped in the package.
    :ivar device: 'auto' (CUDA when present, else the CPU), 'cpu' or 'cuda'.
    :ivar dtype: one of ``DTYPES``.
    :ivar steps: sampling steps, 1 (default, deterministic) to 4.
    :ivar threads: CPU threads for torch; 0 keeps torch's default. Use 1 when the generator
        shares a small CPU with other processes (2 threads then stall badly).
    :ivar torch_compile: run the network through ``torch.compile`` with its weights frozen: about
        10 % faster on a CPU, after 20-60 s of compilation on the first frame (and on the
        first frame of every new prompt count); needs a C++ compiler, else it warns and runs
        eagerly.
    """

    weights: str = ''
    device: str = 'auto'
    dtype: str = 'auto'
    steps: int = 1
    threads: int = 0
    torch_compile: bool = False

    def __post_init__(self) -> None:
        _check(
            'backend.local',
            {
                'device': (self.device in DEVICES, self.device),
                'dtype': (self.dtype in DTYPES, self.dtype),
                'steps': (isinstance(self.steps, int) and 1 <= self.steps <= 4, self.steps),
                'threads': (isinstance(self.threads, int) and self.threads >= 0, self.threads),
                'torch_compile': (isinstance(self.torch_compile, bool), self.torch_compile),
            },
        )


@dataclass(frozen=True)
class DiffusersOptions:
    """
    An instruction-following diffusers image-to-image pipeline loaded from a local folder.

    :ivar path: folder written by ``save_pretrained`` (e.g. after the LoRA recipe); required.
    :ivar device: 'auto', 'cpu' or 'cuda'.
    :ivar dtype: one of ``DTYPES``.
    :ivar steps: denoising steps.
    :ivar height: model input height in pixels (a multiple of 8).
    :ivar width: model input width in pixels (a multiple of 8).
    :ivar guidance_scale: text guidance; 1.0 disables classifier-free guidance.
    :ivar image_guidance_scale: image guidance (InstructPix2Pix); 1.0 disables it.
    """

    path: str = ''
    device: str = 'auto'
    dtype: str = 'auto'
    steps: int = 4
    height: int = 256
    width: int = 320
    guidance_scale: float = 1.0
    image_guidance_scale: float = 1.0

    def __post_init__(self) -> None:
        _check(
            'backend.diffusers',
            {
                'device': (self.device in DEVICES, self.device),
                'dtype': (self.dtype in DTYPES, self.dtype),
                'steps': (isinstance(self.steps, int) and 1 <= self.steps <= 1000, self.steps),
                'height': (isinstance(self.height, int) and self.height % 8 == 0, self.height),
                'width': (isinstance(self.width, int) and self.width % 8 == 0, self.width),
                'guidance_scale': (self.guidance_scale >= 1.0, self.guidance_scale),
                'image_guidance_scale': (
                    self.image_guidance_scale >= 1.0,
                    self.image_guidance_scale,
                ),
            },
        )


@dataclass(frozen=True)
class GeminiOptions:
    """
    Google's Gemini image models (Nano Banana Pro, Nano Banana 2) through ``google-genai``.

    :ivar model: model id: 'gemini-3-pro-image' (Nano Banana Pro, the default) or
        'gemini-3.1-flash-image' (Nano Banana 2), as in Google's deprecations page (2026-06).
    :ivar api_key_env: environment variable holding the API key (never logged).
    :ivar base_url: API endpoint; '' for Google's. Tests point it at a loopback server.
    :ivar timeout_s: per-request timeout in seconds.
    :ivar max_retries: retries after a rate limit (429) or an unavailable service (5xx).
    :ivar backoff_s: first retry delay in seconds; doubles on each retry, with jitter.
    :ivar max_in_flight: requests in flight at once, across all callers of this backend.
    """

    model: str = 'gemini-3-pro-image'
    api_key_env: str = 'GEMINI_API_KEY'
    base_url: str = ''
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 2.0
    max_in_flight: int = 4

    def __post_init__(self) -> None:
        _check(
            'backend.gemini',
            {
                'model': (bool(self.model.strip()), self.model),
                'api_key_env': (bool(self.api_key_env.strip()), self.api_key_env),
                'timeout_s': (_positive(self.timeout_s), self.timeout_s),
                'max_retries': (
                    isinstance(self.max_retries, int) and self.max_retries >= 0,
                    self.max_retries,
                ),
                'backoff_s': (_positive(self.backoff_s), self.backoff_s),
                'max_in_flight': (
                    isinstance(self.max_in_flight, int) and self.max_in_flight >= 1,
                    self.max_in_flight,
                ),
            },
        )


@dataclass(frozen=True)
class RemoteOptions:
    """
    The project's own inference server (``vision-banana serve``).

    :ivar url: base URL of the server, e.g. 'http://gpu-box:8000'.
    :ivar token_env: environment variable holding the bearer token ('' for none).
    :ivar timeout_s: per-request timeout in seconds.
    :ivar max_retries: retries after a connection error, a timeout or a 5xx answer.
    :ivar backoff_s: first retry delay in seconds; doubles on each retry.
    """

    url: str = 'http://127.0.0.1:8000'
    token_env: str = 'VISION_BANANA_TOKEN'
    timeout_s: float = 10.0
    max_retries: int = 2
    backoff_s: float = 0.2

    def __post_init__(self) -> None:
        _check(
            'backend.remote',
            {
                'url': (self.url.startswith(('http://', 'https://')), self.url),
                'timeout_s': (_positive(self.timeout_s), self.timeout_s),
                'max_retries': (
                    isinstance(self.max_retries, int) and self.max_retries >= 0,
                    self.max_retries,
                ),
                'backoff_s': (_positive(self.backoff_s), self.backoff_s),
            },
        )


@dataclass(frozen=True)
class BackendConfig:
    """
    Which backend the pipeline uses, and every backend's options.

    :ivar name: one of ``BACKEND_NAMES``; 'local' (the embedded VB-Mini) by default.
    :ivar local: options of the 'local' backend.
    :ivar diffusers: options of the 'diffusers' backend.
    :ivar gemini: options of the 'gemini' backend.
    :ivar remote: options of the 'remote' backend.
    """

    name: str = 'local'
    local: LocalOptions = field(default_factory=LocalOptions)
    diffusers: DiffusersOptions = field(default_factory=DiffusersOptions)
    gemini: GeminiOptions = field(default_factory=GeminiOptions)
    remote: RemoteOptions = field(default_factory=RemoteOptions)

    def __post_init__(self) -> None:
        _check('backend', {'name': (self.name in BACKEND_NAMES, self.name)})
        if self.name == 'diffusers' and not self.diffusers.path:
            raise ValueError('backend.diffusers.path is required when backend.name is diffusers')
