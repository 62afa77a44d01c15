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
``remote``: the project's own inference server (``vision-banana serve``) over HTTP.

Each input image goes out as one ``POST /v1/generate`` (the wire format is
``vision_banana_ros.serving.protocol``): one image shared by all prompts makes one request with
every prompt (split into several if the server says it takes fewer), one image per prompt makes
one request per image, a few in flight at once. Connection errors, timeouts, 408/429/502/503/504
answers and a proxy's plain-text 500 (Ray Serve's, when the replica holding the request died)
are retried with exponential backoff under the same request id, so the server may deduplicate;
an answer to any other request id is discarded, never delivered.

The bearer token is read from the environment variable the config names; it is sent only in the
``Authorization`` header and never appears in logs, ``repr`` or error messages.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import json
import logging
import math
import os
import re
import threading
import time
from urllib.parse import urlsplit

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
import torch
from vision_banana_ros.backends.base import (
    Backend,
    BackendError,
    BackendInputError,
    BackendOutputError,
    BackendRefused,
    BackendUnavailable,
)
from vision_banana_ros.backends.config import RemoteOptions
from vision_banana_ros.serving.protocol import (
    CONTENT_TYPE,
    decode_error,
    decode_health,
    decode_response,
    encode_request,
    GENERATE_PATH,
    GenerateRequest,
    Health,
    HEALTH_PATH,
    new_request_id,
    ProtocolError,
    RemoteError,
)

__all__ = ['RemoteBackend']

_LOG = logging.getLogger(__name__)

MAX_IN_FLIGHT = 4
"""Requests in flight at once when each prompt has its own image (the server batches them)."""

HEALTH_TIMEOUT_S = 2.0
"""Longest wait for ``GET /v1/health`` (capped by the config's timeout)."""

HEALTH_RETRY_S = 5.0
"""After a failed health check, how long ``resolution`` and ``description`` wait to ask again."""

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
"""Answers worth retrying: the server or a proxy in front of it is busy or restarting."""

_TOKEN = re.compile(r'[\x21-\x7e]+')
_LOOPBACK = ('localhost', '127.0.0.1', '::1')


class _BearerAuth(AuthBase):
    """Sets ``Authorization: Bearer <token>``; also keeps requests from reading ~/.netrc."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token:
            request.headers['Authorization'] = f'Bearer {self._token}'
        return request

    def __repr__(self) -> str:
        return f'<bearer token {"set" if self._token else "none"}>'

    def scrub(self, text: str) -> str:
        """Return ``text`` with the token, should a server have echoed it, blanked out."""
        return text.replace(self._token, '<token>') if self._token else text


class _Transient(Exception):  # an internal signal that never leaves the module
    """A failure worth retrying: connection error, timeout, or a busy or restarting server."""


class RemoteBackend(Backend):
    """
    A generator behind ``vision-banana serve``, reached over HTTP(S) with a bearer token.

    Construction contacts nothing: a server that is down then is reported by ``generate``
    (``BackendUnavailable``) and by ``is_reachable``. ``resolution``, ``stochastic`` and
    ``description`` come from ``GET /v1/health``, asked once and cached; while the server cannot
    be reached they read None, False and '(unreachable)', asking again at most every
    ``HEALTH_RETRY_S`` seconds.
    """

    name = 'remote'

    def __init__(self, options: RemoteOptions | None = None):
        """
        Set up the HTTP session; the server is first contacted on use.

        :param options: the backend's config section; None for the defaults.
        :raises BackendUnavailable: if the token variable holds something that cannot be a
            bearer token (whitespace or non-ASCII inside).
        """
        self.options = options or RemoteOptions()
        self._base = self.options.url.rstrip('/')
        variable = self.options.token_env
        token = os.environ.get(variable, '').strip() if variable else ''
        if token and not _TOKEN.fullmatch(token):
            raise BackendUnavailable(
                f'the token in ${variable} is not a bearer token (visible ASCII, no spaces)'
            )
        self._auth = _BearerAuth(token)
        self._has_token = bool(token)
        host = urlsplit(self._base).hostname or ''
        if token and self._base.startswith('http://') and host not in _LOOPBACK:
            _LOG.warning(
                'remote backend: the bearer token goes to %s over plain http; use https '
                'beyond a trusted network',
                host,
            )
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_IN_FLIGHT, max_retries=0)
        self._session.mount('http://', adapter)
        self._session.mount('https://', adapter)
        self._lock = threading.Lock()
        self._health: Health | None = None
        self._health_failed_at = -math.inf
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        """Show the URL and whether a token is set, never the token."""
        return f'RemoteBackend(url={self._base!r}, token={"set" if self._has_token else "none"})'

    @property
    def resolution(self) -> tuple[int, int] | None:
        """Return the server generator's (H, W); None: it takes any size, or is unreachable."""
        health = self._cached_health()
        return None if health is None else health.resolution

    @property
    def stochastic(self) -> bool:
        """Whether the server's generator samples (False while it cannot be reached)."""
        health = self._cached_health()
        return health is not None and health.stochastic

    @property
    def description(self) -> str:
        """E.g. 'remote http://gpu-box:8000 (local VB-Mini 128x160 (trained, cuda, ...))'."""
        health = self._cached_health()
        return f'remote {self._base} ({"unreachable" if health is None else health.model})'

    def health(self, timeout_s: float | None = None) -> Health:
        """
        Ask the server how it is (``GET /v1/health``, no retries) and cache the answer.

        :param timeout_s: longest wait in seconds; None for ``HEALTH_TIMEOUT_S`` (capped by
            the config's timeout).
        :return: the server's health.
        :raises BackendUnavailable: if the server cannot be reached, rejects the token, or
            does not answer like a vision-banana server.
        """
        wait = (
            timeout_s if timeout_s is not None else min(HEALTH_TIMEOUT_S, self.options.timeout_s)
        )
        url = self._base + HEALTH_PATH
        try:
            status, payload = self._exchange('GET', url, None, wait, 1 << 20)
        except _Transient as err:
            raise BackendUnavailable(f'remote server at {self._base}: {err}') from None
        except BackendOutputError as err:
            raise BackendUnavailable(str(err)) from None
        if status != 200:
            raise self._error(decode_error(status, payload), HEALTH_PATH)
        try:
            health = decode_health(payload)
        except ProtocolError as err:
            raise BackendUnavailable(
                f'{url} does not answer like a vision-banana server: {err.message}'
            ) from None
        with self._lock:
            self._health = health
        return health

    def is_reachable(self, timeout_s: float | None = None) -> bool:
        """
        Say whether the server answers its health check now; cheap enough for diagnostics.

        :param timeout_s: longest wait in seconds; None for ``HEALTH_TIMEOUT_S``.
        :return: True if ``GET /v1/health`` answered 'ok' (with the token accepted).
        """
        try:
            self.health(timeout_s)
        except BackendError as err:
            _LOG.debug('remote backend: health check failed: %s', err)
            with self._lock:
                self._health_failed_at = time.monotonic()
            return False
        return True

    def close(self) -> None:
        """Close the HTTP connections and the request threads."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        array = images.detach().cpu().numpy()
        count = len(prompts)
        jobs: list[tuple[int, GenerateRequest]] = []
        if array.shape[0] == 1:
            health = self._cached_health()
            step = health.max_prompts if health and health.max_prompts else count
            for start in range(0, count, step):
                stop = min(start + step, count)
                chunk = None if seeds is None else tuple(seeds[start:stop])
                request = GenerateRequest(
                    new_request_id(), array[0], tuple(prompts[start:stop]), chunk
                )
                jobs.append((start, request))
        else:
            for index, prompt in enumerate(prompts):
                seed = None if seeds is None else (seeds[index],)
                jobs.append(
                    (index, GenerateRequest(new_request_id(), array[index], (prompt,), seed))
                )
        if len(jobs) == 1:
            results = [self._post(jobs[0][1])]
        else:
            results = list(self._executor().map(self._post, [job for _, job in jobs]))
        out = np.empty((count, *array.shape[1:3], 3), dtype=np.uint8)
        for (start, request), result in zip(jobs, results, strict=True):
            stop = start + len(request.prompts)
            out[start:stop] = result
        return torch.from_numpy(out)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix='remote-backend')
            return self._pool

    def _cached_health(self) -> Health | None:
        with self._lock:
            if self._health is not None:
                return self._health
            if time.monotonic() - self._health_failed_at < HEALTH_RETRY_S:
                return None
        return self._health if self.is_reachable() else None

    def _post(self, request: GenerateRequest) -> np.ndarray:
        """Send one request, retrying transient failures; return its (P, H, W, 3) uint8 images."""
        try:
            body = encode_request(
                request.image, request.prompts, request.seeds, request.request_id
            )
        except ValueError as err:
            raise BackendInputError(f'remote backend cannot send this request: {err}') from None
        url = self._base + GENERATE_PATH
        height, width = request.image.shape[:2]
        # Base64 PNGs of noise are 4/3 the raw size, plus JSON and PNG overheads.
        cap = int(len(request.prompts) * (height * (width * 3 + 1) + 4096) * 1.4) + (1 << 20)
        attempts = self.options.max_retries + 1
        problem = ''
        for attempt in range(attempts):
            if attempt:
                delay = self.options.backoff_s * 2 ** (attempt - 1)
                _LOG.warning(
                    'remote backend: %s; retry %d of %d in %.2f s',
                    problem,
                    attempt,
                    attempts - 1,
                    delay,
                )
                time.sleep(delay)
            try:
                status, payload = self._exchange('POST', url, body, self.options.timeout_s, cap)
            except _Transient as err:
                problem = str(err)
                continue
            if status == 200:
                try:
                    return decode_response(payload, request).images
                except ProtocolError as err:
                    raise BackendOutputError(
                        f'remote server at {self._base}: {self._auth.scrub(err.message)}'
                    ) from None
            error = decode_error(status, payload)
            if status not in RETRY_STATUSES and not _from_proxy(status, payload):
                raise self._error(error, GENERATE_PATH)
            problem = f'HTTP {status}: {self._auth.scrub(error.message)}'
        raise BackendUnavailable(
            f'remote server at {self._base} failed {attempts} time(s); last: {problem}'
        )

    def _exchange(
        self, method: str, url: str, body: bytes | None, timeout_s: float, cap: int
    ) -> tuple[int, bytes]:
        """
        Make one HTTP exchange and read the whole answer within ``timeout_s``.

        :return: (HTTP status, body bytes).
        :raises _Transient: on a connection error or a timeout.
        :raises BackendUnavailable: on any other failure to make the request.
        :raises BackendOutputError: if the answer is larger than ``cap`` bytes.
        """
        deadline = time.monotonic() + timeout_s
        headers = {'Accept': CONTENT_TYPE}
        if body is not None:
            headers['Content-Type'] = CONTENT_TYPE
        try:
            with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                auth=self._auth,
                timeout=(timeout_s, timeout_s),
                stream=True,
                allow_redirects=False,
            ) as response:
                chunks = []
                size = 0
                for chunk in response.iter_content(1 << 16):
                    size += len(chunk)
                    if size > cap:
                        raise BackendOutputError(
                            f'remote server at {self._base} answered more than {cap} bytes'
                        )
                    if time.monotonic() > deadline:
                        raise _Transient(f'{method} {url} timed out after {timeout_s:g} s')
                    chunks.append(chunk)
                return response.status_code, b''.join(chunks)
        except requests.Timeout:
            raise _Transient(f'{method} {url} timed out after {timeout_s:g} s') from None
        except requests.ConnectionError as err:
            reason = self._auth.scrub(_clip(str(err), 300))
            raise _Transient(f'{method} {url} failed to connect: {reason}') from None
        except requests.RequestException as err:
            reason = self._auth.scrub(_clip(str(err), 300))
            raise BackendUnavailable(f'{method} {url} failed: {reason}') from None

    def _error(self, error: RemoteError, path: str) -> BackendError:
        """Turn an error answer to a request for ``path`` into the backend error it stands for."""
        message = self._auth.scrub(error.message)
        where = f'remote server at {self._base}'
        variable = f'${self.options.token_env}' if self.options.token_env else 'a token variable'
        if error.status in (401, 403):
            if self._has_token:
                return BackendUnavailable(
                    f'{where} rejected the token (HTTP {error.status}); check {variable}'
                )
            return BackendUnavailable(
                f'{where} requires a token (HTTP {error.status}); set {variable}'
            )
        if error.status in (404, 405) or 300 <= error.status < 400:
            return BackendUnavailable(
                f'{where} is not a vision-banana server (HTTP {error.status} for {GENERATE_PATH})'
            )
        if error.reason == 'refused':
            return BackendRefused(f'{where} refused: {message}')
        if 400 <= error.status < 500:
            return BackendInputError(
                f'{where} rejected the request (HTTP {error.status}): {message}'
            )
        return BackendUnavailable(f'{where} failed (HTTP {error.status}): {message}')


def _from_proxy(status: int, payload: bytes) -> bool:
    """
    Tell whether a 500 came from a proxy in front of the server, not from the server itself.

    Ray Serve's HTTP proxy answers a plain-text 500 when the replica holding the request died
    (the request was never answered, so it is safe to send again); the server's own 500s are
    protocol error bodies.
    """
    if status != 500:
        return False
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return True
    return not (isinstance(document, dict) and isinstance(document.get('error'), dict))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + '...'
