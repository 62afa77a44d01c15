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
``vision-banana serve``: a generator backend as a Ray Serve application.

One deployment, ``GeneratorServer``: each replica loads the generator once (a GPU each with
``gpus_per_replica: 1``) and answers the wire protocol of ``serving.protocol`` itself:

1. check the path, method, token (401), content type (415) and length (413), cheapest first;
2. read the body up to ``limits.max_body_bytes`` and decode it off the event loop (400, 413,
   422: the image's size is checked from its PNG header before any pixel is decoded);
3. wait for the rate limit, if one is set (429 once the wait would pass the deadline);
4. join the replica's dynamic batch (``serve.batch``): requests from any clients that arrive
   within ``batch_wait_timeout_s`` go into as few ``Backend.generate`` calls as their sizes allow
   (``serving.batching``); each answer holds only its own request's images and id;
5. encode the answer off the event loop, or the error its exception maps to; 504 after
   ``request_timeout_s``.

Serve itself sheds load (``max_ongoing_requests`` per replica, 503 beyond
``max_queued_requests``), restarts a replica whose ``check_health`` raises or whose process
died, and scales replicas between ``min_replicas`` and ``max_replicas`` when autoscaling.
``start`` runs it on this machine (or an existing Ray cluster) and ``shutdown`` stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from http import HTTPStatus
import logging
import os
import time
from typing import Any
import warnings

from starlette.requests import Request
from starlette.responses import Response
from vision_banana_ros.backends import Backend, BackendInputError, create_backend
from vision_banana_ros.backends.base import BackendRefused, BackendUnavailable
from vision_banana_ros.serving.batching import Outcome, run_batch
from vision_banana_ros.serving.config import ServeConfig
from vision_banana_ros.serving.echo import EchoBackend
from vision_banana_ros.serving.limiter import RateLimiter
from vision_banana_ros.serving.protocol import (
    check_content_length,
    check_content_type,
    check_token,
    CONTENT_TYPE,
    decode_request,
    encode_error,
    encode_health,
    encode_response,
    error_for_exception,
    GENERATE_PATH,
    GenerateRequest,
    HEALTH_PATH,
    ProtocolError,
)

with warnings.catch_warnings():  # Ray's pydantic models warn on import under pydantic 2
    warnings.simplefilter('ignore', DeprecationWarning)
    import ray
    from ray import serve

__all__ = [
    'APP_NAME',
    'BATCH_HEADER',
    'DEPLOYMENT_NAME',
    'GeneratorServer',
    'build_app',
    'open_generator',
    'shutdown',
    'start',
]

_LOG = logging.getLogger(__name__)

APP_NAME = 'vision-banana'
"""The Serve application's name (``serve status`` lists it)."""

DEPLOYMENT_NAME = 'generator'
"""The deployment's name; its replicas are Ray actors named after it."""

BATCH_HEADER = 'X-Batch-Requests'
"""Response header: how many requests shared the batch that answered this one."""

PROXY_MARGIN_S = 5.0
"""How much longer the HTTP proxy waits than a replica's own ``request_timeout_s``."""

UNHEALTHY_AFTER = 3
"""Consecutive batches failed by the generator itself after which a replica reports unhealthy."""


def open_generator(config: ServeConfig, replica: int | None = None) -> Backend:
    """
    Build the generator a config serves: its backend, or the echo generator.

    :param config: the serving config.
    :param replica: this replica's rank (the echo generator's slow replica); None outside Serve.
    :return: the backend, loaded.
    :raises BackendError: if it cannot be set up.
    """
    if config.echo.enabled:
        return EchoBackend(config.echo, replica)
    return create_backend(config.backend)


class GeneratorServer:
    """
    One Serve replica: the generator, loaded once, behind the wire protocol.

    Serve calls ``__call__`` with each HTTP request (a Starlette ``Request``) and
    ``check_health`` periodically; ``GeneratorServer`` holds no per-request state beyond the
    batch in progress, so its memory is flat whatever clients send.
    """

    def __init__(self, config: ServeConfig, secrets: Mapping[str, str] | None = None):
        """
        Load the generator and set up batching and the rate limit.

        :param config: the serving config.
        :param secrets: environment variables (token, API keys) passed from the process that
            deployed the application; variables already set on this node win.
        :raises BackendError: if the generator cannot be loaded (Serve reports the deployment
            as failed).
        """
        for name, value in (secrets or {}).items():
            os.environ.setdefault(name, value)
        self._config = config
        self._token = os.environ.get(config.token_env, '').strip() if config.token_env else ''
        self._backend = open_generator(config, _replica_rank())
        self._model = self._backend.description
        self._health = encode_health(
            self._model,
            self._backend.resolution,
            stochastic=self._backend.stochastic,
            limits=config.limits,
        )
        self._limiter = None
        if config.requests_per_minute > 0:
            self._limiter = RateLimiter(config.requests_per_minute / config.most_replicas)
        self._failures = 0
        self._batched = serve.batch(
            max_batch_size=config.max_batch_size,
            batch_wait_timeout_s=config.batch_wait_timeout_s,
        )(self._run_batch)
        _LOG.info('serving %s', self._model)

    async def __call__(self, request: Request) -> Response:
        """
        Answer one HTTP request: ``GET /v1/health`` or ``POST /v1/generate``.

        :param request: the request, as Serve's proxy passes it.
        :return: the JSON answer; every failure is an error body with its status.
        """
        start = time.monotonic()
        path = request.url.path
        try:
            if path == HEALTH_PATH:
                _check_method(request, 'GET')
                return Response(self._health, media_type=CONTENT_TYPE)
            if path != GENERATE_PATH:
                raise ProtocolError(
                    HTTPStatus.NOT_FOUND, f'no endpoint {path[:80]}; use {GENERATE_PATH}'
                )
            _check_method(request, 'POST')
            return await asyncio.wait_for(
                self._generate(request, start), timeout=self._config.request_timeout_s
            )
        except asyncio.TimeoutError:
            return _error(
                HTTPStatus.GATEWAY_TIMEOUT,
                f'the request took longer than {self._config.request_timeout_s:g} s',
                'unavailable',
            )
        except Exception as err:  # every failure becomes its error answer
            status, message, reason = error_for_exception(err)
            if status >= 500:
                _LOG.warning('answering %d: %s', status, message, exc_info=status == 500)
            return _error(status, message, reason)

    def check_health(self) -> None:
        """
        Tell Serve whether this replica works; it restarts a replica that raises here.

        :raises RuntimeError: after ``UNHEALTHY_AFTER`` consecutive batches the generator
            itself failed (not bad input, a refusal, or an upstream service being away).
        """
        if self._failures >= UNHEALTHY_AFTER:
            raise RuntimeError(f'the generator failed {self._failures} batches in a row')

    async def _generate(self, request: Request, start: float) -> Response:
        limits = self._config.limits
        check_token(request.headers.get('authorization'), self._token)
        content_type = request.headers.get('content-type')
        check_content_type(content_type)
        check_content_length(request.headers.get('content-length'), limits)
        body = await _read_body(request, limits.max_body_bytes)
        decoded = await asyncio.to_thread(decode_request, body, content_type, limits)
        del body
        if self._limiter is not None:
            await self._limiter.acquire(
                len(decoded.prompts), start + self._config.request_timeout_s
            )
        outcome, merged = await self._batched(decoded)
        if isinstance(outcome, BaseException):
            raise outcome
        elapsed_ms = (time.monotonic() - start) * 1000.0
        payload = await asyncio.to_thread(
            encode_response, decoded, outcome, self._model, elapsed_ms
        )
        return Response(payload, media_type=CONTENT_TYPE, headers={BATCH_HEADER: str(merged)})

    async def _run_batch(self, requests: list[GenerateRequest]) -> list[tuple[Outcome, int]]:
        """Draw one batch of requests in a worker thread; return (outcome, batch size) each."""
        outcomes = await asyncio.to_thread(run_batch, self._backend, requests)
        expected = (BackendInputError, BackendRefused, BackendUnavailable, ProtocolError)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed and all(not isinstance(o, expected) for o in failed):
            self._failures += 1
        else:
            self._failures = 0
        return [(outcome, len(requests)) for outcome in outcomes]


def build_app(config: ServeConfig, secrets: Mapping[str, str] | None = None) -> Any:
    """
    Make the Serve application: ``GeneratorServer`` with the config's replicas and resources.

    :param config: the serving config.
    :param secrets: environment variables for the replicas (``forwarded_secrets``).
    :return: the bound ``serve.Application``, for ``serve.run``.
    """
    options: dict[str, Any] = {
        'name': DEPLOYMENT_NAME,
        'max_ongoing_requests': config.max_ongoing_requests,
        'max_queued_requests': config.max_queued_requests,
        'ray_actor_options': {
            'num_cpus': config.cpus_per_replica,
            'num_gpus': config.gpus_per_replica,
        },
        'health_check_period_s': 2.0,
        'health_check_timeout_s': 30.0,
        'graceful_shutdown_timeout_s': config.request_timeout_s,
    }
    if config.autoscaling:
        options['autoscaling_config'] = {
            'min_replicas': config.min_replicas,
            'max_replicas': config.max_replicas,
            'target_ongoing_requests': config.target_ongoing_requests,
        }
    else:
        options['num_replicas'] = config.replicas
    deployment = serve.deployment(**options)(GeneratorServer)
    return deployment.bind(config, dict(secrets or {}))


def forwarded_secrets(config: ServeConfig) -> dict[str, str]:
    """
    Collect the secrets the replicas need from this process's environment.

    They travel as the replicas' constructor arguments, never in the deployment's options
    (which ``serve status`` shows).

    :param config: the serving config.
    :return: variable name -> value for the token and the served backend's key, where set.
    """
    names = [config.token_env]
    if not config.echo.enabled and config.backend.name == 'gemini':
        names.append(config.backend.gemini.api_key_env)
    if not config.echo.enabled and config.backend.name == 'remote':
        names.append(config.backend.remote.token_env)
    return {name: os.environ[name] for name in names if name and os.environ.get(name)}


def start(config: ServeConfig, address: str | None = None) -> str:
    """
    Run the application: on a new local Ray instance, or on an existing cluster.

    Returns once every replica has loaded its generator and answers.

    :param config: the serving config.
    :param address: a Ray cluster's address ('auto', 'ray://head:10001'); None starts Ray on
        this machine.
    :return: the base URL clients use, e.g. 'http://127.0.0.1:8000'.
    :raises BackendUnavailable: if Ray or the replicas cannot start (the reason in one line).
    """
    try:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
        serve.start(
            http_options={
                'host': config.host,
                'port': config.port,
                'request_timeout_s': config.request_timeout_s + PROXY_MARGIN_S,
            },
        )
        serve.run(
            build_app(config, forwarded_secrets(config)),
            name=APP_NAME,
            route_prefix='/',
            blocking=False,
        )
    except (RuntimeError, ConnectionError, ValueError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = lines[-1] if lines else type(err).__name__
        raise BackendUnavailable(
            f'the {config.generator_name} server did not start: {reason}'
        ) from err
    host = f'[{config.host}]' if ':' in config.host else config.host
    return f'http://{host}:{config.port}'


def shutdown() -> None:
    """Stop the application, Serve and this process's connection to Ray."""
    if ray.is_initialized():
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()


async def _read_body(request: Request, limit: int) -> bytes:
    """Read a body of at most ``limit`` bytes; 413 as soon as it passes the limit."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProtocolError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f'body is over the limit of {limit} bytes'
            )
        chunks.append(chunk)
    return b''.join(chunks)


def _check_method(request: Request, allowed: str) -> None:
    if request.method != allowed:
        raise ProtocolError(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f'{request.url.path} takes {allowed}, not {request.method[:10]}',
        )


def _error(status: int, message: str, reason: str = '') -> Response:
    return Response(encode_error(status, message, reason), status, media_type=CONTENT_TYPE)


def _replica_rank() -> int | None:
    try:
        rank = serve.get_replica_context().rank
    except (RuntimeError, AttributeError):
        return None
    value = getattr(rank, 'rank', rank)
    return value if isinstance(value, int) else None
