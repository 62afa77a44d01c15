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
The wire protocol between ``vision-banana serve`` and the ``remote`` backend.

Pure functions and frozen dataclasses, no web framework: a server calls ``check_token``,
``decode_request``, ``encode_response`` and ``encode_error``; the client calls
``encode_request``, ``decode_response``, ``decode_health`` and ``decode_error``.

Endpoints (JSON bodies, UTF-8, ``Content-Type: application/json``):

- ``POST /v1/generate`` with ``{"request_id": str, "image": base64 PNG, "prompts": [str, ...],
  "seeds": [int, ...] | null}`` answers 200 with ``{"request_id": str, "images": [base64 PNG,
  ...], "model": str, "elapsed_ms": float}``: one image per prompt, in the prompts' order,
  each the size of the request's image. The client makes the request id (a uuid4) and keeps it
  on retries, so a server may deduplicate; a response whose id differs is never delivered.
- ``GET /v1/health`` answers 200 with ``{"status": "ok", "model": str, "resolution": [H, W] |
  null, "stochastic": bool, "max_prompts": int}`` (the last two optional for a client).

Every error answers ``{"error": {"code": int, "message": str, "reason": str}}`` with:

- 400: malformed JSON or fields, bad base64, not an 8-bit RGB PNG, a truncated or corrupt PNG;
- 401: missing or wrong token (``Authorization: Bearer <token>``);
- 413: body or image too large (the image's size is read from its PNG header, before decoding);
- 415: a content type other than ``application/json``;
- 422: no prompts, an empty or too long prompt, too many prompts, seeds that do not match, and
  a generator's refusal (``reason`` 'refused');
- 500: the server failed; 503: the generator behind it is unavailable.

Images travel as 8-bit RGB PNGs (colour type 2), written with a low compression level: the
lossless codecs' colours must arrive exactly, and speed matters more than size on a LAN.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
import hashlib
import hmac
from http import HTTPStatus
import json
import math
import re
import struct
from typing import Any
import uuid
import zlib

import cv2
import numpy as np
import torch
from vision_banana_ros.backends.base import (
    BackendError,
    BackendInputError,
    BackendRefused,
    BackendUnavailable,
    MAX_PROMPT_CHARS,
)
from vision_banana_ros.tensors import ArrayLike

__all__ = [
    'CONTENT_TYPE',
    'GENERATE_PATH',
    'HEALTH_PATH',
    'MAX_SEED',
    'GenerateRequest',
    'GenerateResponse',
    'Health',
    'Limits',
    'ProtocolError',
    'RemoteError',
    'check_content_length',
    'check_content_type',
    'check_token',
    'decode_error',
    'decode_health',
    'decode_png',
    'decode_request',
    'decode_response',
    'encode_error',
    'encode_health',
    'encode_png',
    'encode_request',
    'encode_response',
    'error_for_exception',
    'new_request_id',
]

GENERATE_PATH = '/v1/generate'
"""Where a client POSTs a ``GenerateRequest``."""

HEALTH_PATH = '/v1/health'
"""Where a client GETs the server's ``Health``."""

CONTENT_TYPE = 'application/json'
"""The one content type of every request and response body."""

MAX_SEED = 2**64 - 1
"""Largest seed on the wire (torch generators take 64-bit seeds)."""

PNG_COMPRESSION = 1
"""zlib level of the PNGs written (1: fast, about 3x the speed of the default 3 on photos)."""

MAX_REQUEST_ID_CHARS = 128
"""Longest request id; ids are uuid4 strings (36 characters) in practice."""

MAX_ERROR_CHARS = 1000
"""Longest error message sent or reported (longer ones are cut)."""

MAX_MODEL_CHARS = 200
"""Longest model description a client takes from a server (longer ones are cut)."""

MAX_PNG_CHUNKS = 100_000
"""Most chunks a PNG may have: bounds the header walk of a hostile file of empty chunks."""

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_IHDR_END = 33  # signature (8) + length (4) + 'IHDR' (4) + 13 data bytes + CRC (4)
_REQUEST_ID = re.compile(r'[A-Za-z0-9._:-]+')
_REASONS = ('input', 'refused', 'unavailable', 'auth', 'internal')


class ProtocolError(ValueError):
    """
    A body broke the protocol; ``status`` is the HTTP status a server answers it with.

    :ivar status: HTTP status code (400, 401, 413, 415, 422 for requests; 500 for a server's own
        answer that breaks the protocol; 502 for a server answer the client cannot accept).
    :ivar message: what was wrong, safe to send back (never holds a token or image bytes).
    """

    def __init__(self, status: int, message: str):
        """
        Make the error.

        :param status: HTTP status code.
        :param message: what was wrong.
        """
        super().__init__(f'{int(status)}: {message}')
        self.status = int(status)
        self.message = message


@dataclass(frozen=True)
class Limits:
    """
    What a server accepts in one request; anything beyond is refused before any work is done.

    :ivar max_body_bytes: largest request body (413 beyond). The default holds a 4096x4096
        photo of noise as base64 PNG (67 MB) and 16 of the longest prompts.
    :ivar max_image_pixels: most pixels (H * W) in the request's image (413 beyond).
    :ivar max_side: longest image side in pixels (413 beyond).
    :ivar max_prompts: most prompts in one request (422 beyond).
    :ivar max_prompt_chars: longest prompt in characters, at most ``MAX_PROMPT_CHARS`` (422).
    """

    max_body_bytes: int = 72 * 2**20
    max_image_pixels: int = 4096 * 4096
    max_side: int = 8192
    max_prompts: int = 16
    max_prompt_chars: int = MAX_PROMPT_CHARS

    def __post_init__(self) -> None:
        checks = {
            'max_body_bytes': self.max_body_bytes,
            'max_image_pixels': self.max_image_pixels,
            'max_side': self.max_side,
            'max_prompts': self.max_prompts,
            'max_prompt_chars': self.max_prompt_chars,
        }
        bad = [
            f'{name}={value!r}'
            for name, value in checks.items()
            if not (isinstance(value, int) and not isinstance(value, bool) and value > 0)
        ]
        if self.max_prompt_chars > MAX_PROMPT_CHARS:
            bad.append(f'max_prompt_chars={self.max_prompt_chars!r} > {MAX_PROMPT_CHARS}')
        if bad:
            raise ValueError(f'serving limits: invalid {", ".join(bad)}')


@dataclass(frozen=True, eq=False)
class GenerateRequest:
    """
    One ``POST /v1/generate``: one image, the prompts to draw from it, and their seeds.

    :ivar request_id: the client's id for the request (a uuid4 string), echoed in the response.
    :ivar image: (H, W, 3) uint8 RGB numpy array.
    :ivar prompts: P >= 1 non-empty prompts, one per output image.
    :ivar seeds: P seeds in [0, ``MAX_SEED``], or None for the generator's default.
    """

    request_id: str
    image: np.ndarray
    prompts: tuple[str, ...]
    seeds: tuple[int, ...] | None = None


@dataclass(frozen=True, eq=False)
class GenerateResponse:
    """
    The answer to one ``GenerateRequest``.

    :ivar request_id: the request's id.
    :ivar images: (P, H, W, 3) uint8 RGB numpy array, one image per prompt, the request's size.
    :ivar model: the server's one-line description of its generator.
    :ivar elapsed_ms: server-side time spent on the request, in milliseconds.
    """

    request_id: str
    images: np.ndarray
    model: str
    elapsed_ms: float


@dataclass(frozen=True)
class Health:
    """
    The answer to ``GET /v1/health``.

    :ivar status: 'ok'.
    :ivar model: the server's one-line description of its generator.
    :ivar resolution: (H, W) the generator works at, or None if it takes any size.
    :ivar stochastic: whether different seeds give different samples.
    :ivar max_prompts: most prompts the server takes in one request; None if not said.
    """

    status: str
    model: str
    resolution: tuple[int, int] | None = None
    stochastic: bool = False
    max_prompts: int | None = None


@dataclass(frozen=True)
class RemoteError:
    """
    An error body, as a client reads it.

    :ivar status: the HTTP status of the answer.
    :ivar message: the server's message, cut to ``MAX_ERROR_CHARS``, or a stand-in if the body
        was not a protocol error (e.g. a proxy's HTML page).
    :ivar reason: 'input', 'refused', 'unavailable', 'auth', 'internal', or '' if not given.
    """

    status: int
    message: str
    reason: str = ''


def new_request_id() -> str:
    """
    Make a fresh request id.

    :return: a random uuid4 as its 36-character string.
    """
    return str(uuid.uuid4())


def check_content_type(content_type: str | None) -> None:
    """
    Check a request's ``Content-Type`` header names JSON (parameters like charset allowed).

    :param content_type: the header's value, or None when absent.
    :raises ProtocolError: 415 if it is absent or not ``application/json``.
    """
    media = (content_type or '').split(';', 1)[0].strip().lower()
    if media != CONTENT_TYPE:
        shown = _clip(content_type or '', 80) if content_type else 'none'
        raise ProtocolError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f'content type must be {CONTENT_TYPE}, got {shown}'
        )


def check_content_length(value: str | None, limits: Limits) -> int | None:
    """
    Check a request's ``Content-Length`` header before reading the body.

    :param value: the header's value, or None when absent (a chunked body: then the server must
        stop reading at ``limits.max_body_bytes`` and pass what it read to ``decode_request``).
    :param limits: the server's limits.
    :return: the length in bytes, or None when absent.
    :raises ProtocolError: 400 if it is not a non-negative integer, 413 if it is too large.
    """
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or not text.isascii() or len(text) > 20:
        raise ProtocolError(HTTPStatus.BAD_REQUEST, 'Content-Length is not a byte count')
    length = int(text)
    if length > limits.max_body_bytes:
        raise ProtocolError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f'body of {length} bytes is over the limit of {limits.max_body_bytes}',
        )
    return length


def check_token(header: str | None, expected: str) -> None:
    """
    Check an ``Authorization: Bearer <token>`` header in constant time.

    Both tokens are hashed before ``hmac.compare_digest``, so not even their lengths leak
    through timing. Neither token ever appears in the error.

    :param header: the ``Authorization`` header's value, or None when absent.
    :param expected: the server's token; '' disables authentication (every request passes).
    :raises ProtocolError: 401 if the header is absent, not a bearer token, or the wrong token.
    """
    if not expected:
        return
    if not header:
        raise ProtocolError(HTTPStatus.UNAUTHORIZED, 'missing bearer token')
    scheme, _, credentials = header.strip().partition(' ')
    given = hashlib.sha256(credentials.strip().encode('utf-8', 'replace')).digest()
    wanted = hashlib.sha256(expected.encode('utf-8', 'replace')).digest()
    if not hmac.compare_digest(given, wanted) or scheme.lower() != 'bearer':
        raise ProtocolError(HTTPStatus.UNAUTHORIZED, 'invalid bearer token')


def encode_png(image: ArrayLike) -> bytes:
    """
    Write one RGB image as an 8-bit RGB PNG at compression level ``PNG_COMPRESSION``.

    :param image: (H, W, 3) uint8 RGB, numpy or torch (any device).
    :return: the PNG file's bytes.
    :raises ValueError: if the image is not (H, W, 3) uint8 or OpenCV cannot write it.
    """
    array = _numpy(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or array.size == 0:
        raise ValueError(f'image must be (H, W, 3) uint8, got {array.dtype} {array.shape}')
    bgr = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode('.png', bgr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise ValueError(f'OpenCV could not write a {array.shape} image as PNG')
    return bytes(buffer.tobytes())


def decode_png(
    data: bytes,
    *,
    limits: Limits | None = None,
    size: tuple[int, int] | None = None,
    status: int = HTTPStatus.BAD_REQUEST,
) -> np.ndarray:
    """
    Read one 8-bit RGB PNG, refusing oversized or malformed files before decoding any pixel.

    The image's size is read from the IHDR header and checked first, then every chunk's length
    and CRC, up to an IEND that ends the file; only then does OpenCV decode the pixels, and the
    decoded image must have the header's size.

    :param data: the PNG file's bytes.
    :param limits: pixel and side limits (413 beyond); None for no limit beyond ``size``.
    :param size: the (H, W) the image must have; None for any.
    :param status: the status of a malformed file (400 for a request, 502 for a response).
    :return: (H, W, 3) uint8 RGB numpy array.
    :raises ProtocolError: ``status`` if the file is not a complete, intact 8-bit RGB PNG or has
        the wrong size; 413 if it is larger than ``limits`` allow.
    """
    height, width = _png_size(data, status)
    if limits is not None and (
        height > limits.max_side
        or width > limits.max_side
        or height * width > limits.max_image_pixels
    ):
        raise ProtocolError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f'image of {width}x{height} pixels is over the limits '
            f'({limits.max_image_pixels} pixels, {limits.max_side} per side)',
        )
    if size is not None and (height, width) != size:
        raise ProtocolError(
            status, f'image is {width}x{height}, expected {size[1]}x{size[0]} (width x height)'
        )
    _check_png_chunks(data, status)
    try:
        flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as err:
        raise ProtocolError(status, f'PNG image data is corrupt: {_clip(str(err), 200)}') from err
    if bgr is None or bgr.shape != (height, width, 3) or bgr.dtype != np.uint8:
        raise ProtocolError(status, 'PNG image data is corrupt or truncated')
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def encode_request(
    image: ArrayLike,
    prompts: list[str] | tuple[str, ...],
    seeds: list[int] | tuple[int, ...] | None,
    request_id: str,
) -> bytes:
    """
    Write the body of a ``POST /v1/generate``.

    :param image: (H, W, 3) uint8 RGB, numpy or torch (any device).
    :param prompts: P >= 1 non-empty prompts.
    :param seeds: P seeds in [0, ``MAX_SEED``], or None.
    :param request_id: the request's id (``new_request_id``), kept the same on retries.
    :return: the UTF-8 JSON body.
    :raises ValueError: if an argument would be refused by a server with no limits.
    """
    if not isinstance(request_id, str) or not _valid_request_id(request_id):
        raise ValueError(f'request_id must match {_REQUEST_ID.pattern}, got {request_id!r}')
    prompt_list = list(prompts)
    if not prompt_list or not all(isinstance(p, str) and p.strip() for p in prompt_list):
        raise ValueError(f'prompts must be a non-empty list of non-empty strings, got {prompts!r}')
    seed_list = None if seeds is None else [int(s) for s in seeds]
    if seed_list is not None and (
        len(seed_list) != len(prompt_list) or not all(0 <= s <= MAX_SEED for s in seed_list)
    ):
        raise ValueError(f'seeds must be {len(prompt_list)} ints in [0, 2**64), got {seeds!r}')
    document = {
        'request_id': request_id,
        'image': base64.b64encode(encode_png(image)).decode('ascii'),
        'prompts': prompt_list,
        'seeds': seed_list,
    }
    return json.dumps(document, separators=(',', ':')).encode('utf-8')


def decode_request(body: bytes, content_type: str | None, limits: Limits) -> GenerateRequest:
    """
    Read and check the body of a ``POST /v1/generate``, cheapest checks first.

    Order: content type (415), body size (413), JSON and field types (400), prompts and seeds
    (422), then the image: base64 (400), PNG header size (413) and only then the pixels (400).
    Fields beyond the four known ones are ignored.

    :param body: the request body.
    :param content_type: the request's ``Content-Type`` header, or None when absent.
    :param limits: the server's limits.
    :return: the request, its image (H, W, 3) uint8 RGB.
    :raises ProtocolError: with the status above for every malformed or oversized request.
    """
    check_content_type(content_type)
    if len(body) > limits.max_body_bytes:
        raise ProtocolError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f'body of {len(body)} bytes is over the limit of {limits.max_body_bytes}',
        )
    document = _load_object(body, HTTPStatus.BAD_REQUEST, 'request')
    request_id = document.get('request_id')
    if not isinstance(request_id, str) or not _valid_request_id(request_id):
        raise ProtocolError(
            HTTPStatus.BAD_REQUEST,
            f'request_id must be a string of 1 to {MAX_REQUEST_ID_CHARS} characters from '
            '[A-Za-z0-9._:-]',
        )
    prompts = _check_prompts(document.get('prompts'), limits)
    seeds = _check_seeds(document.get('seeds'), len(prompts))
    encoded = document.get('image')
    if not isinstance(encoded, str) or not encoded:
        raise ProtocolError(HTTPStatus.BAD_REQUEST, 'image must be a base64 PNG string')
    image = decode_png(_b64decode(encoded, HTTPStatus.BAD_REQUEST, 'image'), limits=limits)
    return GenerateRequest(request_id=request_id, image=image, prompts=prompts, seeds=seeds)


def encode_response(
    request: GenerateRequest, images: ArrayLike, model: str, elapsed_ms: float
) -> bytes:
    """
    Write the 200 body answering a request, after checking the images fit it.

    :param request: the request answered.
    :param images: (P, H, W, 3) uint8 RGB, numpy or torch (any device): one image per prompt,
        the request image's size (a server working at another size resizes back first).
    :param model: the server's one-line description of its generator.
    :param elapsed_ms: server-side time spent on the request, in milliseconds.
    :return: the UTF-8 JSON body.
    :raises ProtocolError: 500 if the images do not fit the request (never send them).
    """
    array = _numpy(images)
    expected = (len(request.prompts), *request.image.shape[:2], 3)
    if array.shape != expected or array.dtype != np.uint8:
        raise ProtocolError(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            f'generator returned {array.dtype} images of shape {array.shape}, expected uint8 '
            f'{expected}',
        )
    document = {
        'request_id': request.request_id,
        'images': [base64.b64encode(encode_png(one)).decode('ascii') for one in array],
        'model': str(model),
        'elapsed_ms': float(elapsed_ms) if math.isfinite(elapsed_ms) else 0.0,
    }
    return json.dumps(document, separators=(',', ':')).encode('utf-8')


def decode_response(body: bytes, request: GenerateRequest) -> GenerateResponse:
    """
    Read a 200 answer to ``request``, accepting it only if it is the answer to that request.

    The request id must match (a result is never delivered to the wrong frame), there must be
    one image per prompt, and every image must have the request image's size: checked on each
    PNG's header before its pixels are decoded.

    :param body: the response body.
    :param request: the request it answers.
    :return: the response, its images (P, H, W, 3) uint8 RGB.
    :raises ProtocolError: 502 if the body is malformed or does not answer ``request``.
    """
    bad = HTTPStatus.BAD_GATEWAY
    document = _load_object(body, bad, 'response')
    answered = document.get('request_id')
    if answered != request.request_id:
        shown = _clip(answered, 40) if isinstance(answered, str) else repr(type(answered))
        raise ProtocolError(
            bad, f'response answers request {shown}, not {request.request_id}; discarded'
        )
    encoded = document.get('images')
    if not isinstance(encoded, list) or len(encoded) != len(request.prompts):
        count = len(encoded) if isinstance(encoded, list) else 'no'
        raise ProtocolError(
            bad, f'response has {count} images for {len(request.prompts)} prompts; discarded'
        )
    model = document.get('model')
    elapsed = document.get('elapsed_ms')
    if (
        not isinstance(model, str)
        or not isinstance(elapsed, (int, float))
        or isinstance(elapsed, bool)
    ):
        raise ProtocolError(bad, 'response lacks a model string or an elapsed_ms number')
    size = (int(request.image.shape[0]), int(request.image.shape[1]))
    images = []
    for index, item in enumerate(encoded):
        if not isinstance(item, str):
            raise ProtocolError(bad, f'response image {index} is not a base64 string')
        png = _b64decode(item, bad, f'response image {index}')
        images.append(decode_png(png, size=size, status=bad))
    return GenerateResponse(
        request_id=request.request_id,
        images=np.stack(images),
        model=_clip(model, MAX_MODEL_CHARS),
        elapsed_ms=float(elapsed),
    )


def encode_health(
    model: str,
    resolution: tuple[int, int] | None,
    *,
    stochastic: bool = False,
    limits: Limits | None = None,
) -> bytes:
    """
    Write the 200 body of ``GET /v1/health``.

    :param model: the server's one-line description of its generator.
    :param resolution: (H, W) the generator works at, or None if it takes any size.
    :param stochastic: whether different seeds give different samples.
    :param limits: the server's limits, to tell clients ``max_prompts``; None to not say.
    :return: the UTF-8 JSON body.
    """
    document: dict[str, Any] = {
        'status': 'ok',
        'model': str(model),
        'resolution': None if resolution is None else [int(resolution[0]), int(resolution[1])],
        'stochastic': bool(stochastic),
    }
    if limits is not None:
        document['max_prompts'] = limits.max_prompts
    return json.dumps(document, separators=(',', ':')).encode('utf-8')


def decode_health(body: bytes) -> Health:
    """
    Read the body of ``GET /v1/health``.

    :param body: the response body.
    :return: the server's health.
    :raises ProtocolError: 502 if the body is malformed or its status is not 'ok'.
    """
    bad = HTTPStatus.BAD_GATEWAY
    document = _load_object(body, bad, 'health response')
    status = document.get('status')
    model = document.get('model')
    if status != 'ok' or not isinstance(model, str):
        raise ProtocolError(bad, 'health response lacks status "ok" or a model string')
    resolution = document.get('resolution')
    size: tuple[int, int] | None = None
    if resolution is not None:
        if (
            not isinstance(resolution, list)
            or len(resolution) != 2
            or not all(_is_int(v) and v > 0 for v in resolution)
        ):
            raise ProtocolError(bad, 'health resolution must be [H, W] positive ints or null')
        size = (resolution[0], resolution[1])
    stochastic = document.get('stochastic', False)
    max_prompts = document.get('max_prompts')
    if not isinstance(stochastic, bool) or not (
        max_prompts is None or (_is_int(max_prompts) and max_prompts > 0)
    ):
        raise ProtocolError(bad, 'health stochastic must be a bool, max_prompts a positive int')
    return Health(
        status=status,
        model=_clip(model, MAX_MODEL_CHARS),
        resolution=size,
        stochastic=stochastic,
        max_prompts=max_prompts,
    )


def encode_error(status: int, message: str, reason: str = '') -> bytes:
    """
    Write an error body.

    :param status: the HTTP status answered (4xx or 5xx).
    :param message: what went wrong, cut to ``MAX_ERROR_CHARS``; never put a token in it.
    :param reason: 'input', 'refused', 'unavailable', 'auth', 'internal', or '' for the
        status's default.
    :return: the UTF-8 JSON body ``{"error": {"code", "message", "reason"}}``.
    """
    error = {'code': int(status), 'message': _clip(str(message), MAX_ERROR_CHARS)}
    error['reason'] = reason if reason in _REASONS else _default_reason(int(status))
    return json.dumps({'error': error}, separators=(',', ':')).encode('utf-8')


def decode_error(status: int, body: bytes) -> RemoteError:
    """
    Read an error answer, whatever its body holds (a proxy may answer with HTML).

    :param status: the HTTP status of the answer.
    :param body: the response body.
    :return: the error; its message is a stand-in if the body is not a protocol error.
    """
    fallback = RemoteError(status, f'HTTP {status} {_phrase(status)}', _default_reason(status))
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return fallback
    error = document.get('error') if isinstance(document, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get('message'), str):
        return fallback
    reason = error.get('reason')
    return RemoteError(
        status,
        _clip(_printable(error['message']), MAX_ERROR_CHARS),
        reason if reason in _REASONS else _default_reason(status),
    )


def error_for_exception(error: BaseException) -> tuple[int, str, str]:
    """
    Map what a server caught to the answer it sends, never leaking an unexpected error's text.

    :param error: the exception caught while answering.
    :return: (HTTP status, message, reason) for ``encode_error``.
    """
    if isinstance(error, ProtocolError):
        return error.status, error.message, _default_reason(error.status)
    if isinstance(error, BackendInputError):
        return HTTPStatus.UNPROCESSABLE_ENTITY, str(error), 'input'
    if isinstance(error, BackendRefused):
        return HTTPStatus.UNPROCESSABLE_ENTITY, str(error), 'refused'
    if isinstance(error, BackendUnavailable):
        return HTTPStatus.SERVICE_UNAVAILABLE, str(error), 'unavailable'
    if isinstance(error, BackendError):
        return HTTPStatus.INTERNAL_SERVER_ERROR, str(error), 'internal'
    return HTTPStatus.INTERNAL_SERVER_ERROR, 'internal server error', 'internal'


def _numpy(images: ArrayLike) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        return np.asarray(images.detach().cpu().numpy())
    return np.asarray(images)


def _valid_request_id(request_id: str) -> bool:
    return (
        len(request_id) <= MAX_REQUEST_ID_CHARS and _REQUEST_ID.fullmatch(request_id) is not None
    )


def _load_object(body: bytes, status: int, what: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except RecursionError as err:
        raise ProtocolError(status, f'{what} body nests too deeply') from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, too many integer digits
        raise ProtocolError(status, f'{what} body is not JSON: {_clip(str(err), 200)}') from err
    if not isinstance(document, dict):
        raise ProtocolError(status, f'{what} body must be a JSON object')
    return document


def _check_prompts(prompts: object, limits: Limits) -> tuple[str, ...]:
    if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
        raise ProtocolError(HTTPStatus.BAD_REQUEST, 'prompts must be a list of strings')
    unprocessable = HTTPStatus.UNPROCESSABLE_ENTITY
    if not prompts:
        raise ProtocolError(unprocessable, 'prompts is empty; give at least one')
    if len(prompts) > limits.max_prompts:
        raise ProtocolError(
            unprocessable, f'{len(prompts)} prompts; the limit is {limits.max_prompts} a request'
        )
    for index, prompt in enumerate(prompts):
        if not prompt.strip():
            raise ProtocolError(unprocessable, f'prompt {index} is empty')
        if len(prompt) > limits.max_prompt_chars:
            raise ProtocolError(
                unprocessable,
                f'prompt {index} has {len(prompt)} characters; the limit is '
                f'{limits.max_prompt_chars}',
            )
    return tuple(prompts)


def _check_seeds(seeds: object, prompts: int) -> tuple[int, ...] | None:
    if seeds is None:
        return None
    if not isinstance(seeds, list) or not all(_is_int(s) for s in seeds):
        raise ProtocolError(HTTPStatus.BAD_REQUEST, 'seeds must be a list of ints or null')
    if len(seeds) != prompts:
        raise ProtocolError(
            HTTPStatus.UNPROCESSABLE_ENTITY, f'{len(seeds)} seeds for {prompts} prompts'
        )
    if not all(0 <= s <= MAX_SEED for s in seeds):
        raise ProtocolError(HTTPStatus.UNPROCESSABLE_ENTITY, 'seeds must be in [0, 2**64)')
    return tuple(seeds)


def _b64decode(text: str, status: int, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ProtocolError(status, f'{what} is not valid base64') from err


def _png_size(data: bytes, status: int) -> tuple[int, int]:
    """Return (H, W) from a PNG's IHDR, which must describe an 8-bit RGB image."""
    if len(data) < _IHDR_END or not data.startswith(_PNG_SIGNATURE):
        raise ProtocolError(status, 'image is not a PNG file')
    length, kind, width, height, depth, colour, compression, filtering, interlace = (
        struct.unpack_from('>I4sIIBBBBB', data, len(_PNG_SIGNATURE))
    )
    if length != 13 or kind != b'IHDR':
        raise ProtocolError(status, 'PNG file does not start with an IHDR chunk')
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise ProtocolError(status, f'PNG header has an invalid size {width}x{height}')
    if depth != 8 or colour != 2 or compression != 0 or filtering != 0 or interlace > 1:
        raise ProtocolError(
            status,
            f'image must be an 8-bit RGB PNG (bit depth 8, colour type 2), got bit depth '
            f'{depth}, colour type {colour}',
        )
    return height, width


def _check_png_chunks(data: bytes, status: int) -> None:
    """Walk every chunk: lengths within the file, CRCs right, IDAT present, IEND last."""
    view = memoryview(data)
    end = len(data)
    offset = len(_PNG_SIGNATURE)
    has_data = False
    for _ in range(MAX_PNG_CHUNKS):
        kind_start = offset + 4
        data_start = offset + 8
        if data_start > end:
            raise ProtocolError(status, 'PNG file is truncated (no IEND chunk)')
        (length,) = struct.unpack_from('>I', data, offset)
        data_end = data_start + length
        crc_end = data_end + 4
        if length >= 2**31 or crc_end > end:
            raise ProtocolError(status, 'PNG file is truncated (a chunk runs past its end)')
        (crc,) = struct.unpack_from('>I', data, data_end)
        if zlib.crc32(view[kind_start:data_end]) != crc:
            raise ProtocolError(status, 'PNG file is corrupt (a chunk fails its CRC)')
        kind = bytes(view[kind_start:data_start])
        has_data = has_data or kind == b'IDAT'
        if kind == b'IEND':
            if crc_end != end:
                raise ProtocolError(status, 'PNG file has data after its IEND chunk')
            if not has_data:
                raise ProtocolError(status, 'PNG file has no image data (no IDAT chunk)')
            return
        offset = crc_end
    raise ProtocolError(status, f'PNG file has more than {MAX_PNG_CHUNKS} chunks')


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _default_reason(status: int) -> str:
    if status == HTTPStatus.UNAUTHORIZED or status == HTTPStatus.FORBIDDEN:
        return 'auth'
    if status in (HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE):
        return 'unavailable'
    if status == HTTPStatus.GATEWAY_TIMEOUT:
        return 'unavailable'
    return 'input' if 400 <= status < 500 else 'internal'


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return 'error'


def _printable(text: str) -> str:
    return ''.join(c if c.isprintable() else ' ' for c in text)


def _clip(text: str, limit: int) -> str:
    text = _printable(text)
    return text if len(text) <= limit else text[:limit] + '...'
