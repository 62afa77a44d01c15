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
``ServeConfig``: how ``vision-banana serve`` runs a generator backend on Ray Serve.

One frozen dataclass, validated on construction, read from the ``serve`` section of a YAML
file (``load_serve_config``) with the same names as the fields::

    serve:
      port: 8000
      replicas: 2              # or min_replicas / max_replicas for autoscaling
      gpus_per_replica: 1.0
      max_batch_size: 8
      backend: {name: local, local: {device: cuda}}

Secrets never live here: the bearer token (and a Gemini key) are read from the environment
variables the config names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from pathlib import Path

from vision_banana_ros.backends.config import _check, BackendConfig
from vision_banana_ros.config import load_yaml
from vision_banana_ros.serving.protocol import Limits

__all__ = ['SERVE_SECTION', 'EchoOptions', 'ServeConfig', 'load_serve_config']

SERVE_SECTION = 'serve'
"""The YAML section ``load_serve_config`` reads."""


def _number(value: object, low: float, *, integer: bool = False, open_low: bool = False) -> bool:
    """Tell whether ``value`` is a finite number >= ``low`` (> ``low`` if ``open_low``)."""
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        return False
    if not math.isfinite(value):
        return False
    return value > low if open_low else value >= low


@dataclass(frozen=True)
class EchoOptions:
    """
    The echo generator: a model-free stand-in for load, fault and deployment tests.

    Each output image is its input image XOR a byte made from its prompt and seed
    (``serving.echo.expected_echo``), so a client can check every answer is its own.

    :ivar enabled: serve the echo generator instead of ``ServeConfig.backend``.
    :ivar call_s: cost of one ``generate`` call in seconds (what batching amortises).
    :ivar image_s: extra cost per output image in seconds.
    :ivar slow_replica: rank of one replica that runs ``slow_factor`` times slower; -1: none.
    :ivar slow_factor: how many times slower that replica is.
    """

    enabled: bool = False
    call_s: float = 0.0
    image_s: float = 0.0
    slow_replica: int = -1
    slow_factor: float = 10.0

    def __post_init__(self) -> None:
        _check(
            'serve.echo',
            {
                'call_s': (_number(self.call_s, 0.0), self.call_s),
                'image_s': (_number(self.image_s, 0.0), self.image_s),
                'slow_replica': (_number(self.slow_replica, -1, integer=True), self.slow_replica),
                'slow_factor': (_number(self.slow_factor, 1.0), self.slow_factor),
            },
        )


@dataclass(frozen=True)
class ServeConfig:
    """
    A generator backend served over HTTP by Ray Serve.

    :ivar host: address the HTTP proxy binds; 127.0.0.1 keeps it on this machine.
    :ivar port: TCP port of the HTTP proxy.
    :ivar replicas: replicas (each loads the generator once) when not autoscaling.
    :ivar min_replicas: autoscaling floor (used when ``max_replicas`` > 0).
    :ivar max_replicas: autoscaling ceiling; 0 turns autoscaling off.
    :ivar target_ongoing_requests: requests in flight per replica autoscaling aims at.
    :ivar max_ongoing_requests: requests one replica holds at once (the batch is made from
        them); more wait in Serve's queue.
    :ivar max_queued_requests: requests waiting for a replica beyond which Serve answers 503
        (the client retries); -1: no limit.
    :ivar max_batch_size: most requests (from any clients) merged into one generator call; at
        most ``max_ongoing_requests``, since a batch is made of the requests a replica holds.
    :ivar batch_wait_timeout_s: how long a batch waits for more requests, in seconds.
    :ivar gpus_per_replica: GPUs each replica reserves (0.5 packs two on one GPU).
    :ivar cpus_per_replica: CPUs each replica reserves.
    :ivar token_env: environment variable holding the bearer token ('' for no authentication,
        refused beyond loopback by ``vision-banana serve``).
    :ivar request_timeout_s: longest a request may take inside a replica, in seconds (504
        beyond); the HTTP proxy's own limit is a little longer.
    :ivar requests_per_minute: generator calls per minute allowed across all replicas (each
        prompt counts once; for a fleet sharing one Gemini key); 0: no limit.
    :ivar limits: what one request may hold (body, image size, prompts, prompt length).
    :ivar backend: the generator every replica loads.
    :ivar echo: the echo test generator, served instead of ``backend`` when enabled.
    """

    host: str = '127.0.0.1'
    port: int = 8000
    replicas: int = 1
    min_replicas: int = 1
    max_replicas: int = 0
    target_ongoing_requests: float = 4.0
    max_ongoing_requests: int = 16
    max_queued_requests: int = 64
    max_batch_size: int = 8
    batch_wait_timeout_s: float = 0.01
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    token_env: str = 'VISION_BANANA_TOKEN'
    request_timeout_s: float = 30.0
    requests_per_minute: float = 0.0
    limits: Limits = field(default_factory=Limits)
    backend: BackendConfig = field(default_factory=BackendConfig)
    echo: EchoOptions = field(default_factory=EchoOptions)

    def __post_init__(self) -> None:
        _check(
            SERVE_SECTION,
            {
                'host': (isinstance(self.host, str) and bool(self.host.strip()), self.host),
                'port': (_number(self.port, 1, integer=True) and self.port < 65536, self.port),
                'replicas': (_number(self.replicas, 1, integer=True), self.replicas),
                'min_replicas': (_number(self.min_replicas, 0, integer=True), self.min_replicas),
                'max_replicas': (
                    _number(self.max_replicas, 0, integer=True)
                    and (self.max_replicas == 0 or self.max_replicas >= self.min_replicas),
                    self.max_replicas,
                ),
                'target_ongoing_requests': (
                    _number(self.target_ongoing_requests, 0.0, open_low=True),
                    self.target_ongoing_requests,
                ),
                'max_ongoing_requests': (
                    _number(self.max_ongoing_requests, 1, integer=True),
                    self.max_ongoing_requests,
                ),
                'max_queued_requests': (
                    _number(self.max_queued_requests, -1, integer=True)
                    and self.max_queued_requests != 0,
                    self.max_queued_requests,
                ),
                'max_batch_size': (
                    _number(self.max_batch_size, 1, integer=True)
                    and self.max_batch_size <= self.max_ongoing_requests,
                    self.max_batch_size,
                ),
                'batch_wait_timeout_s': (
                    _number(self.batch_wait_timeout_s, 0.0),
                    self.batch_wait_timeout_s,
                ),
                'gpus_per_replica': (_number(self.gpus_per_replica, 0.0), self.gpus_per_replica),
                'cpus_per_replica': (_number(self.cpus_per_replica, 0.0), self.cpus_per_replica),
                'request_timeout_s': (
                    _number(self.request_timeout_s, 0.0, open_low=True),
                    self.request_timeout_s,
                ),
                'requests_per_minute': (
                    _number(self.requests_per_minute, 0.0),
                    self.requests_per_minute,
                ),
            },
        )

    @property
    def autoscaling(self) -> bool:
        """Tell whether the replica count follows the load (``max_replicas`` > 0)."""
        return self.max_replicas > 0

    @property
    def most_replicas(self) -> int:
        """Return the most replicas that can run at once (the rate limit is split by it)."""
        return self.max_replicas if self.autoscaling else self.replicas

    @property
    def generator_name(self) -> str:
        """Name the generator served: 'echo' or the backend's name."""
        return 'echo' if self.echo.enabled else self.backend.name


def load_serve_config(path: Path | str) -> ServeConfig:
    """
    Read a ``ServeConfig`` from the ``serve`` section of a YAML file.

    :param path: the YAML file.
    :return: the validated config; fields the file leaves out keep their defaults.
    :raises ConfigError: on an unreadable file, an unknown key or a bad value (a ValueError).
    """
    config: ServeConfig = load_yaml(path, {SERVE_SECTION: ServeConfig})[SERVE_SECTION]
    return config
