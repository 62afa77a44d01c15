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
``gemini``: Google's image models (Nano Banana Pro, Nano Banana 2) through ``google-genai``.

Each prompt is one ``models.generate_content`` call carrying the input frame as a PNG part and
the prompt text, asking for an image only (``response_modalities=['IMAGE']``), with the prompt's
seed and the supported aspect ratio nearest the frame's. The answer's image (PNG or JPEG) is
decoded to RGB and resized back to the frame's H x W, since Gemini draws at its own sizes;
turning colours into quantities is the caller's job.

Model ids (Google's Gemini API deprecations page, checked November 2026): Nano Banana Pro is
``gemini-3-pro-image`` and Nano Banana 2 ``gemini-3.1-flash-image`` (both GA on 2026-05-28);
their previews ``gemini-3-pro-image-preview`` and ``gemini-3.1-flash-image-preview`` were shut
down on 2026-06-25. ``GeminiOptions.model`` picks one.

Failures map onto the backend errors:

- HTTP 408 / 429 / 500 / 502 / 503 / 504 and connection failures are retried up to
  ``max_retries`` times, waiting ``backoff_s * 2**retry`` seconds plus up to 25 % jitter, or
  longer when the service says so (a ``Retry-After`` header or a ``RetryInfo`` detail), at most
  60 s; then ``BackendUnavailable``. The SDK's own retry is switched off, so attempts are not
  multiplied.
- A request that outlives ``timeout_s`` is not retried (a retry would double the wait for a
  request the service may still be drawing): ``BackendUnavailable`` at once.
- A refused key (401, 403, 400 ``API_KEY_INVALID``), an unusable project (400
  ``FAILED_PRECONDITION``) or an unknown model (404): ``BackendUnavailable``, not retried, as no
  request can succeed until the configuration changes.
- Any other 4xx: ``GeminiRequestError``, not retried.
- A blocked prompt, a safety stop, or an answer without an image: ``BackendRefused``, quoting
  the reason and the start of any text the model wrote instead.

The API key is read from the environment variable ``api_key_env`` names. It is handed to the SDK
only; it is never logged, never part of ``repr`` or ``description``, and removed from every
message this module writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
import email.utils
import functools
import importlib
import logging
import math
import os
import random
import re
import threading
from typing import Any, TYPE_CHECKING

import cv2
import numpy as np
import torch
from vision_banana_ros.backends.base import (
    Backend,
    BackendError,
    BackendInputError,
    BackendOutputError,
    BackendRefused,
    BackendUnavailable,
)
from vision_banana_ros.backends.config import GeminiOptions

if TYPE_CHECKING:
    from google import genai
    from google.genai import types

__all__ = ['INSTALL_HINT', 'GeminiBackend', 'GeminiRequestError']

_LOG = logging.getLogger(__name__)

INSTALL_HINT = 'pip install vision_banana_ros[gemini]'
"""How to install the SDK this backend needs."""

_RETRY_CODES = frozenset({408, 429, 500, 502, 503, 504})
_CONFIG_STATUSES = frozenset({'UNAUTHENTICATED', 'PERMISSION_DENIED', 'FAILED_PRECONDITION'})
_MAX_DELAY_S = 60.0
_JITTER = 0.25
_TEXT_CHARS = 200
_MESSAGE_CHARS = 300
_SEED_MODULUS = 2**31
# The request travels as JSON with base64 data; the API takes about 20 MB inline in all.
_MAX_PNG_BYTES = 14 * 1024 * 1024
# Aspect ratios both Nano Banana Pro and Nano Banana 2 accept (``ImageConfig.aspect_ratio``).
_ASPECT_RATIOS = ('1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9')
# Preview ids Google shut down, and what replaced them.
_RETIRED = {
    'gemini-3-pro-image-preview': 'gemini-3-pro-image',
    'gemini-3.1-flash-image-preview': 'gemini-3.1-flash-image',
}
_NO_REASON = frozenset({'', 'STOP', 'FINISH_REASON_UNSPECIFIED'})
_REDACTED = '<redacted>'


class GeminiRequestError(BackendError):
    """The Gemini API rejected the request itself (HTTP 400 or another 4xx); not retried."""


class _Secret:
    """The API key: kept out of ``repr`` and scrubbed from messages."""

    __slots__ = ('_value',)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return _REDACTED

    def scrub(self, text: str) -> str:
        """Return ``text`` with every occurrence of the key replaced."""
        return text.replace(self._value, _REDACTED) if self._value else text


class _Failure:
    """What one failed attempt means: the error to raise, and whether and when to retry."""

    def __init__(
        self,
        error: BackendError,
        cause: BaseException | None,
        retry: bool,
        delay: float | None = None,
    ) -> None:
        self.error = error
        self.cause = cause
        self.retry = retry
        self.delay = delay


class GeminiBackend(Backend):
    """
    Nano Banana Pro or Nano Banana 2 through the Gemini API (``google-genai``).

    The P prompts of one ``generate`` call go out concurrently; at most ``max_in_flight``
    requests are in flight at once across every thread using this backend. Outputs keep the
    prompts' order. ``close`` shuts the worker threads and the HTTP client.
    """

    name = 'gemini'

    def __init__(self, options: GeminiOptions | None = None) -> None:
        """
        Build the client; nothing is sent until ``generate``.

        :param options: the backend's config section; None for the defaults.
        :raises BackendUnavailable: if ``google-genai`` is not installed, or the environment
            variable ``options.api_key_env`` is unset or empty.
        """
        self.options = options or GeminiOptions()
        sdk, sdk_types = _import_sdk()
        key = os.environ.get(self.options.api_key_env, '').strip()
        if not key:
            raise BackendUnavailable(
                f'gemini backend: no API key; set the environment variable '
                f'{self.options.api_key_env} (backend.gemini.api_key_env names it)'
            )
        self._secret = _Secret(key)
        http_options = sdk_types.HttpOptions(
            timeout=max(1, round(self.options.timeout_s * 1000)),
            # One attempt per SDK call: this backend owns retries, so they do not multiply.
            retry_options=sdk_types.HttpRetryOptions(attempts=1),
            base_url=self.options.base_url or None,
        )
        self._client: genai.Client = sdk.Client(
            api_key=key, vertexai=False, http_options=http_options
        )
        self._timeouts, self._transport_errors = _transport_error_types()
        self._slots = threading.BoundedSemaphore(self.options.max_in_flight)
        self._pool = ThreadPoolExecutor(
            max_workers=self.options.max_in_flight, thread_name_prefix='gemini'
        )
        self._random = random.Random()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._closed = False

    def __repr__(self) -> str:
        """Name the model and endpoint; never the key."""
        return (
            f'GeminiBackend(model={self.options.model!r}, base_url={self.options.base_url!r}, '
            f'max_in_flight={self.options.max_in_flight})'
        )

    @property
    def stochastic(self) -> bool:
        """Return True: each request carries its seed."""
        return True

    @property
    def description(self) -> str:
        """Return e.g. 'gemini gemini-3-pro-image', plus the endpoint when it is not Google's."""
        where = f' at {self.options.base_url}' if self.options.base_url else ''
        return f'gemini {self.options.model}{where}'

    def close(self) -> None:
        """Stop the worker threads and close the HTTP client; calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        frames = images.detach().cpu().numpy()
        height, width = int(frames.shape[1]), int(frames.shape[2])
        pngs = [_encode_png(frame) for frame in frames]
        ratio = _nearest_aspect_ratio(height, width)
        jobs = [
            functools.partial(
                self._draw,
                pngs[index if len(pngs) > 1 else 0],
                prompt,
                None if seeds is None else seeds[index],
                ratio,
                (height, width),
            )
            for index, prompt in enumerate(prompts)
        ]
        return torch.from_numpy(np.stack(self._run_all(jobs)))

    def _run_all(self, jobs: Sequence[Callable[[], np.ndarray]]) -> list[np.ndarray]:
        """Run the jobs on the pool; return their results in order or raise the first error."""
        closed = BackendUnavailable(f'{self.description}: the backend is closed')
        with self._lock:
            if self._closed:
                raise closed
            futures: list[Future[np.ndarray]] = [self._pool.submit(job) for job in jobs]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future not in done:
                continue
            if future.cancelled():
                raise closed
            error = future.exception()
            if error is not None:
                raise error
        return [future.result() for future in futures]

    def _draw(
        self,
        png: bytes,
        prompt: str,
        seed: int | None,
        ratio: str,
        size: tuple[int, int],
    ) -> np.ndarray:
        """Send one prompt, with retries; return its image at ``size`` (H, W)."""
        from google.genai import types

        config = types.GenerateContentConfig(
            response_modalities=['IMAGE'],
            seed=None if seed is None else seed % _SEED_MODULUS,
            image_config=types.ImageConfig(aspect_ratio=ratio),
        )
        contents = [
            types.Content(
                role='user',
                parts=[
                    types.Part.from_bytes(data=png, mime_type='image/png'),
                    types.Part.from_text(text=prompt),
                ],
            )
        ]
        response = self._call(contents, config)
        data = self._image_bytes(response)
        return _decode_to_size(data, size, self.description)

    def _call(
        self, contents: list[types.Content], config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse:
        """Call ``generate_content``, retrying rate limits and unavailability."""
        attempts = self.options.max_retries + 1
        for attempt in range(attempts):
            failure = self._attempt(contents, config)
            if isinstance(failure, _Failure):
                if not failure.retry:
                    raise failure.error from failure.cause
                if attempt + 1 == attempts:
                    raise BackendUnavailable(
                        f'{failure.error} (gave up after {attempts} attempts)'
                    ) from failure.cause
                delay = self._delay(attempt, failure.delay)
                _LOG.info(
                    '%s; retry %d of %d in %.2f s',
                    failure.error,
                    attempt + 1,
                    attempts - 1,
                    delay,
                )
                if self._closing.wait(delay):
                    raise BackendUnavailable(
                        f'{self.description}: the backend was closed while retrying'
                    ) from failure.cause
                continue
            return failure
        raise AssertionError('unreachable: the loop returns or raises')  # pragma: no cover

    def _attempt(
        self, contents: list[types.Content], config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse | _Failure:
        """Send the request once; return the answer or what the failure means."""
        from google.genai import errors

        try:
            with self._slots:
                return self._client.models.generate_content(
                    model=self.options.model, contents=contents, config=config
                )
        except errors.APIError as err:
            return self._classify(err)
        except errors.UnknownApiResponseError as err:
            raise BackendOutputError(
                self._message(f'{self.description}: the answer is not JSON: {err}')
            ) from self._safe_cause(err)
        except self._timeouts as err:
            raise BackendUnavailable(
                f'{self.description}: no answer within {self.options.timeout_s:g} s '
                '(backend.gemini.timeout_s); not retried'
            ) from err
        except self._transport_errors as err:
            return _Failure(
                BackendUnavailable(
                    self._message(
                        f'{self.description}: cannot reach the service: '
                        f'{type(err).__name__}: {err}'
                    )
                ),
                err,
                retry=True,
            )
        except Exception as err:
            if self._closing.is_set():
                raise BackendUnavailable(
                    f'{self.description}: the backend was closed during the request'
                ) from err
            raise

    def _classify(self, err: Any) -> _Failure:
        """Map an ``APIError`` to a backend error, retryable or not."""
        code = int(getattr(err, 'code', 0) or 0)
        status = str(getattr(err, 'status', '') or '')
        message = str(getattr(err, 'message', '') or '')
        what = self._message(f'HTTP {code}{" " + status if status else ""}: {message}'.strip())
        where = self.description
        cause = self._safe_cause(err)
        if code in _RETRY_CODES:
            reason = 'rate-limited' if code == 429 else 'service unavailable'
            return _Failure(
                BackendUnavailable(f'{where}: {reason} ({what})'),
                cause,
                retry=True,
                delay=_server_delay(err),
            )
        details = str(getattr(err, 'details', ''))
        if code in (401, 403) or status in _CONFIG_STATUSES or 'API_KEY_INVALID' in details:
            return _Failure(
                BackendUnavailable(
                    f'{where}: the service refused the key or project ({what}); check the key '
                    f'in the environment variable {self.options.api_key_env}; not retried'
                ),
                cause,
                retry=False,
            )
        if code == 404:
            hint = ''
            if self.options.model in _RETIRED:
                hint = f'; {self.options.model} was shut down, use {_RETIRED[self.options.model]}'
            return _Failure(
                BackendUnavailable(
                    f'{where}: model or endpoint not found ({what}); check backend.gemini.model '
                    f'and backend.gemini.base_url{hint}; not retried'
                ),
                cause,
                retry=False,
            )
        if 400 <= code < 500:
            return _Failure(
                GeminiRequestError(f'{where}: the service rejected the request ({what})'),
                cause,
                retry=False,
            )
        return _Failure(
            BackendUnavailable(f'{where}: unexpected answer ({what}); not retried'),
            cause,
            retry=False,
        )

    def _delay(self, retry: int, server: float | None) -> float:
        """Exponential backoff with jitter, or the service's own delay when it is longer."""
        backoff = self.options.backoff_s * 2.0**retry * (1.0 + self._random.uniform(0.0, _JITTER))
        return min(_MAX_DELAY_S, max(backoff, server or 0.0))

    def _image_bytes(self, response: types.GenerateContentResponse) -> bytes:
        """Find the answer's image, or say why there is none."""
        where = self.description
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            reason = _enum_name(feedback.block_reason)
            extra = f': {feedback.block_reason_message}' if feedback.block_reason_message else ''
            raise BackendRefused(self._message(f'{where} blocked the prompt: {reason}{extra}'))
        if not response.candidates:
            raise BackendRefused(f'{where} answered without any candidate image')
        candidate = response.candidates[0]
        parts = list(candidate.content.parts or []) if candidate.content is not None else []
        images = [
            part
            for part in parts
            if part.inline_data is not None
            and part.inline_data.data
            and (part.inline_data.mime_type or 'image/').startswith('image/')
        ]
        final = [part for part in images if not part.thought] or images
        if final:
            blob = final[-1].inline_data
            if blob is not None and blob.data:
                return blob.data
        reasons = []
        finish = _enum_name(candidate.finish_reason)
        if finish not in _NO_REASON:
            reasons.append(f'finish reason {finish}')
        if candidate.finish_message:
            reasons.append(candidate.finish_message)
        texts = [part.text for part in parts if part.text and not part.thought] or [
            part.text for part in parts if part.text
        ]
        text = ' '.join(t.strip() for t in texts if t).strip()
        if text:
            shown = text if len(text) <= _TEXT_CHARS else text[:_TEXT_CHARS] + '...'
            reasons.append(f'it answered with text only: {shown!r}')
        summary = '; '.join(reasons) or 'an empty answer'
        raise BackendRefused(self._message(f'{where} returned no image: {summary}', limit=0))

    def _safe_cause(self, err: BaseException) -> BaseException | None:
        """Keep an SDK error as the cause unless its text (the answer's body) holds the key."""
        return err if self._secret.scrub(str(err)) == str(err) else None

    def _message(self, text: str, limit: int = _MESSAGE_CHARS) -> str:
        """Scrub the key from ``text`` and cut it to ``limit`` characters (0: no cut)."""
        clean = self._secret.scrub(text)
        if limit and len(clean) > limit:
            clean = clean[:limit] + '...'
        return clean


def _import_sdk() -> tuple[Any, Any]:
    """
    Import ``google.genai`` and its ``types``.

    :return: the two modules.
    :raises BackendUnavailable: with the install hint, if the SDK is missing.
    """
    try:
        sdk = importlib.import_module('google.genai')
        sdk_types = importlib.import_module('google.genai.types')
    except ImportError as err:
        raise BackendUnavailable(
            f'the gemini backend needs the google-genai SDK: {INSTALL_HINT}'
        ) from err
    return sdk, sdk_types


def _transport_error_types() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """Return (timeouts, other transport errors) of whichever of httpx / httpx2 is installed."""
    timeouts: list[type[Exception]] = []
    transports: list[type[Exception]] = []
    for name in ('httpx', 'httpx2'):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transports.append(module.TransportError)
    return tuple(timeouts), (*transports, ConnectionError)


def _server_delay(err: Any) -> float | None:
    """
    Read how long the service asks us to wait: ``Retry-After`` or a ``RetryInfo`` detail.

    :param err: the SDK's ``APIError``.
    :return: seconds, the longer of the two where both are given; None if neither is.
    """
    delays = []
    headers = getattr(getattr(err, 'response', None), 'headers', None)
    getter = getattr(headers, 'get', None)
    value = getter('retry-after') if callable(getter) else None
    if value:
        delays.append(_parse_retry_after(str(value)))
    for detail in _error_details(getattr(err, 'details', None)):
        if str(detail.get('@type', '')).endswith('RetryInfo'):
            match = re.fullmatch(r'\s*(\d+(?:\.\d*)?)s\s*', str(detail.get('retryDelay', '')))
            if match is not None:
                delays.append(float(match.group(1)))
    found = [d for d in delays if d is not None and math.isfinite(d) and d >= 0]
    return max(found) if found else None


def _parse_retry_after(value: str) -> float | None:
    """Read a ``Retry-After`` value: seconds, or an HTTP date."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _error_details(body: Any) -> Iterator[dict[str, Any]]:
    """Yield the ``details`` entries of a Google error body ``{"error": {"details": [...]}}``."""
    if not isinstance(body, dict):
        return
    error = body.get('error', body)
    details = error.get('details') if isinstance(error, dict) else None
    if isinstance(details, list):
        yield from (d for d in details if isinstance(d, dict))


def _enum_name(value: Any) -> str:
    """'SAFETY' for ``FinishReason.SAFETY`` or 'SAFETY'; '' for None."""
    if value is None:
        return ''
    return str(getattr(value, 'value', value))


def _nearest_aspect_ratio(height: int, width: int) -> str:
    """Return the supported aspect ratio closest to W:H (compared in log space)."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        across, down = (int(v) for v in ratio.split(':'))
        return abs(math.log(across / down) - target)

    return min(_ASPECT_RATIOS, key=distance)


def _encode_png(frame: np.ndarray) -> bytes:
    """
    Encode one (H, W, 3) uint8 RGB frame as PNG.

    :param frame: the frame.
    :return: the PNG file's bytes.
    :raises BackendInputError: if the PNG is too large to send inline.
    """
    bgr = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode('.png', bgr)
    if not ok:
        raise BackendInputError('could not encode the input frame as PNG')
    data = buffer.tobytes()
    if len(data) > _MAX_PNG_BYTES:
        raise BackendInputError(
            f'the input frame is {len(data) / 2**20:.1f} MB as PNG; the Gemini API takes at most '
            f'{_MAX_PNG_BYTES / 2**20:.0f} MB per image inline: send smaller frames'
        )
    return data


def _decode_to_size(data: bytes, size: tuple[int, int], where: str) -> np.ndarray:
    """
    Decode a PNG / JPEG answer to RGB and resize it to ``size``.

    :param data: the image file's bytes.
    :param size: (H, W) of the input frame.
    :param where: the backend's description, for the error message.
    :return: (H, W, 3) uint8 RGB.
    :raises BackendOutputError: if the bytes are not an image OpenCV can read.
    """
    try:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None:
        raise BackendOutputError(f'{where}: could not decode the returned image ({len(data)} B)')
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    height, width = size
    if rgb.shape[:2] != (height, width):
        shrink = rgb.shape[0] >= height and rgb.shape[1] >= width
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (width, height), interpolation=interpolation)
    return np.ascontiguousarray(rgb, dtype=np.uint8)
