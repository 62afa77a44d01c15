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
The ``remote`` backend against a loopback server built only from the wire protocol's functions.

The server here is a faithful miniature of ``vision-banana serve``: a stdlib HTTP server whose
handler calls ``check_content_length``, ``check_token``, ``decode_request``,
``encode_response``, ``encode_health``, ``encode_error`` and ``error_for_exception`` in front of
a deterministic generator (each output is the input XOR a key made from its prompt and seed).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import logging
import socket
import struct
import threading
import time
import zlib

import cv2
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch
from vision_banana_ros.backends import (
    Backend,
    BackendConfig,
    BackendInputError,
    BackendOutputError,
    BackendRefused,
    BackendUnavailable,
    create_backend,
    RemoteOptions,
)
from vision_banana_ros.backends.base import MAX_PROMPT_CHARS
from vision_banana_ros.backends.remote import RemoteBackend
from vision_banana_ros.serving.protocol import (
    check_content_length,
    check_token,
    decode_error,
    decode_health,
    decode_png,
    decode_request,
    decode_response,
    encode_error,
    encode_health,
    encode_png,
    encode_request,
    encode_response,
    error_for_exception,
    GENERATE_PATH,
    GenerateRequest,
    HEALTH_PATH,
    Limits,
    new_request_id,
    ProtocolError,
)

TOKEN_ENV = 'VB_TEST_REMOTE_TOKEN'
TOKEN = 'correct-horse-battery-staple'
JSON = 'application/json'
MODEL = 'xor test generator'


def _key(prompt: str, seed: int | None) -> int:
    """Return the byte the test generator XORs into the image for a prompt and seed."""
    return (zlib.crc32(prompt.encode()) + (seed or 0)) % 251 + 1


def _expected(image: np.ndarray, prompt: str, seed: int | None = None) -> np.ndarray:
    """Return what the test generator draws for one (H, W, 3) uint8 image and prompt."""
    return image ^ np.uint8(_key(prompt, seed))


class _XorBackend(Backend):
    """Deterministic generator: (P, H, W, 3) uint8, each output the input XOR its prompt's key."""

    name = 'xor'

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        outputs = []
        for index, prompt in enumerate(prompts):
            if 'refuse' in prompt:
                raise BackendRefused('the generator declined this prompt')
            image = images[index if images.shape[0] > 1 else 0]
            seed = None if seeds is None else seeds[index]
            outputs.append(image ^ _key(prompt, seed))
        return torch.stack(outputs)


@dataclass
class _Behaviour:
    """How the test server behaves, and what it saw."""

    token: str = ''
    limits: Limits = field(default_factory=Limits)
    resolution: tuple[int, int] | None = (32, 40)
    fail_first: int = 0
    fail_status: int = 503
    wrong_id: bool = False
    wrong_size: bool = False
    delay_s: float = 0.0
    backend: Backend = field(default_factory=_XorBackend)
    seen: list[GenerateRequest] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: _Behaviour

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client hangs up (the timeout tests do)."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args: object) -> None:
        """Keep the test output clean."""

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header('Content-Type', JSON)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        if self.path != HEALTH_PATH:
            self._send(404, encode_error(404, 'no such endpoint'))
            return
        health = encode_health(
            MODEL, behaviour.resolution, stochastic=True, limits=behaviour.limits
        )
        self._send(200, health)

    def do_POST(self) -> None:
        behaviour = self.server.behaviour
        try:
            length = check_content_length(self.headers.get('Content-Length'), behaviour.limits)
            body = self.rfile.read(length or 0)
            if self.path != GENERATE_PATH:
                raise ProtocolError(404, 'no such endpoint')
            check_token(self.headers.get('Authorization'), behaviour.token)
            request = decode_request(body, self.headers.get('Content-Type'), behaviour.limits)
            with behaviour.lock:
                behaviour.attempts.append(request.request_id)
                attempt = len(behaviour.attempts)
            if attempt <= behaviour.fail_first:
                self._send(behaviour.fail_status, encode_error(behaviour.fail_status, 'busy'))
                return
            behaviour.release.wait(behaviour.delay_s)
            with behaviour.lock:
                behaviour.seen.append(request)
            start = time.perf_counter()
            seeds = None if request.seeds is None else list(request.seeds)
            images = behaviour.backend.generate(request.image[None], list(request.prompts), seeds)
            answered = request
            if behaviour.wrong_id:
                answered = replace(answered, request_id=new_request_id())
            if behaviour.wrong_size:
                answered = replace(answered, image=request.image[1:])
                images = images[:, 1:]
            elapsed_ms = (time.perf_counter() - start) * 1000
            self._send(200, encode_response(answered, images, MODEL, elapsed_ms))
        except Exception as err:  # every failure becomes an error answer, as in the server
            status, message, reason = error_for_exception(err)
            self.close_connection = status == 413
            self._send(status, encode_error(status, message, reason))


@contextlib.contextmanager
def _serve(behaviour: _Behaviour | None = None) -> Iterator[tuple[str, _Behaviour]]:
    """Run the test server on a free loopback port; yield its URL and behaviour."""
    behaviour = behaviour or _Behaviour()
    server = _Server(('127.0.0.1', 0), _Handler)
    server.behaviour = behaviour
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05})
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', behaviour
    finally:
        behaviour.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _remote(url: str, **options: object) -> RemoteBackend:
    """Return a remote backend with fast retries, reading its token from ``TOKEN_ENV``."""
    settings_ = {'timeout_s': 5.0, 'max_retries': 2, 'backoff_s': 0.01, 'token_env': TOKEN_ENV}
    settings_.update(options)
    return RemoteBackend(RemoteOptions(url=url, **settings_))  # type: ignore[arg-type]


def _image(seed: int = 0, height: int = 48, width: int = 64) -> np.ndarray:
    """Return a (H, W, 3) uint8 RGB image of noise."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _free_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without a token in the environment."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)


# --- the backend against the loopback server -------------------------------------------------


def test_three_prompts_on_one_image_make_one_request() -> None:
    image = _image()
    prompts = ['depth map', 'surface normals', 'segment the chairs']
    with _serve() as (url, behaviour), _remote(url) as backend:
        out = backend.generate(image[None], prompts)
        seeded = backend.generate(torch.from_numpy(image)[None], prompts, seeds=[1, 2, 3])
    assert out.dtype == torch.uint8 and out.device.type == 'cpu'
    assert tuple(out.shape) == (3, 48, 64, 3)
    for index, prompt in enumerate(prompts):
        np.testing.assert_array_equal(out[index].numpy(), _expected(image, prompt))
        np.testing.assert_array_equal(seeded[index].numpy(), _expected(image, prompt, index + 1))
    assert len(behaviour.seen) == 2
    assert behaviour.seen[0].prompts == tuple(prompts) and behaviour.seen[0].seeds is None
    assert behaviour.seen[1].seeds == (1, 2, 3)
    np.testing.assert_array_equal(behaviour.seen[0].image, image)


def test_one_image_per_prompt_makes_one_request_per_image() -> None:
    images = np.stack([_image(seed) for seed in range(3)])
    prompts = ['depth map', 'surface normals', 'segment the chairs']
    with _serve() as (url, behaviour), _remote(url) as backend:
        out = backend.generate(images, prompts, seeds=[7, 8, 9])
    for index, prompt in enumerate(prompts):
        np.testing.assert_array_equal(
            out[index].numpy(), _expected(images[index], prompt, index + 7)
        )
    assert sorted(len(r.prompts) for r in behaviour.seen) == [1, 1, 1]
    assert len({r.request_id for r in behaviour.seen}) == 3
    by_prompt = {r.prompts[0]: r for r in behaviour.seen}
    for index, prompt in enumerate(prompts):
        np.testing.assert_array_equal(by_prompt[prompt].image, images[index])


def test_prompts_beyond_the_servers_limit_are_split_into_requests() -> None:
    image = _image()
    prompts = [f'task {i}' for i in range(5)]
    with _serve(_Behaviour(limits=Limits(max_prompts=2))) as (url, behaviour):
        with _remote(url) as backend:
            out = backend.generate(image[None], prompts, seeds=list(range(5)))
    for index, prompt in enumerate(prompts):
        np.testing.assert_array_equal(out[index].numpy(), _expected(image, prompt, index))
    assert sorted(len(r.prompts) for r in behaviour.seen) == [1, 2, 2]


def test_health_gives_resolution_description_and_reachability() -> None:
    with _serve() as (url, _), _remote(url) as backend:
        assert backend.resolution == (32, 40)
        assert backend.stochastic
        assert backend.description == f'remote {url} ({MODEL})'
        assert backend.is_reachable()
        assert backend.health().max_prompts == Limits().max_prompts


def test_create_backend_builds_the_remote_backend() -> None:
    with _serve() as (url, _):
        config = BackendConfig(name='remote', remote=RemoteOptions(url=url, token_env=''))
        with create_backend(config) as backend:
            assert isinstance(backend, RemoteBackend)
            assert backend.resolution == (32, 40)
            out = backend.generate(_image()[None], ['depth map'])
    np.testing.assert_array_equal(out[0].numpy(), _expected(_image(), 'depth map'))


def test_the_token_is_sent_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _serve(_Behaviour(token=TOKEN)) as (url, behaviour):
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        with _remote(url) as backend:
            assert TOKEN not in repr(backend) and TOKEN not in repr(vars(backend))
            backend.generate(_image()[None], ['depth map'])
        assert len(behaviour.seen) == 1

        monkeypatch.setenv(TOKEN_ENV, 'wrong-token-42')
        with _remote(url) as backend, pytest.raises(BackendUnavailable) as wrong:
            backend.generate(_image()[None], ['depth map'])
        assert 'rejected the token' in str(wrong.value)

        monkeypatch.delenv(TOKEN_ENV)
        with _remote(url) as backend, pytest.raises(BackendUnavailable) as missing:
            backend.generate(_image()[None], ['depth map'])
        assert 'requires a token' in str(missing.value)
    for text in (str(wrong.value), str(missing.value), caplog.text):
        assert TOKEN not in text and 'wrong-token-42' not in text
    assert len(behaviour.seen) == 1, 'rejected requests never reach the generator'


def test_a_token_with_spaces_is_refused_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, 'two words')
    with pytest.raises(BackendUnavailable) as error:
        _remote('http://127.0.0.1:9')
    assert 'two words' not in str(error.value)


def test_an_answer_to_another_request_is_never_delivered() -> None:
    with _serve(_Behaviour(wrong_id=True)) as (url, behaviour), _remote(url) as backend:
        with pytest.raises(BackendOutputError, match='discarded'):
            backend.generate(_image()[None], ['depth map', 'surface normals'])
    assert len(behaviour.attempts) == 1, 'a mismatched answer is not retried'


def test_images_of_the_wrong_size_are_an_output_error() -> None:
    with _serve(_Behaviour(wrong_size=True)) as (url, _), _remote(url) as backend:
        with pytest.raises(BackendOutputError, match='expected 64x48'):
            backend.generate(_image()[None], ['depth map'])


def test_two_503s_then_success_retries_under_the_same_request_id() -> None:
    with _serve(_Behaviour(fail_first=2)) as (url, behaviour), _remote(url) as backend:
        out = backend.generate(_image()[None], ['depth map'])
    np.testing.assert_array_equal(out[0].numpy(), _expected(_image(), 'depth map'))
    assert len(behaviour.attempts) == 3 and len(set(behaviour.attempts)) == 1


@pytest.mark.parametrize('status', [502, 503, 504, 500])
def test_server_errors_after_retries_are_unavailable(status: int) -> None:
    behaviour = _Behaviour(fail_first=100, fail_status=status)
    with _serve(behaviour) as (url, _), _remote(url, max_retries=1) as backend:
        with pytest.raises(BackendUnavailable, match=f'HTTP {status}'):
            backend.generate(_image()[None], ['depth map'])
    assert len(behaviour.attempts) == (1 if status == 500 else 2)


@pytest.mark.parametrize(
    ('limits', 'status'),
    [(Limits(max_prompt_chars=8), 422), (Limits(max_image_pixels=100), 413)],
    ids=['long-prompt', 'large-image'],
)
def test_requests_the_server_rejects_are_input_errors(limits: Limits, status: int) -> None:
    with _serve(_Behaviour(limits=limits)) as (url, behaviour), _remote(url) as backend:
        with pytest.raises(BackendInputError, match=f'HTTP {status}'):
            backend.generate(_image()[None], ['a prompt of many words'])
    assert not behaviour.seen


def test_a_refusal_is_a_refusal() -> None:
    with _serve() as (url, _), _remote(url) as backend:
        with pytest.raises(BackendRefused, match='declined'):
            backend.generate(_image()[None], ['please refuse this'])


def test_a_server_that_is_down_is_unavailable_soon() -> None:
    url = f'http://127.0.0.1:{_free_port()}'
    start = time.monotonic()
    with _remote(url, timeout_s=1.0, max_retries=2, backoff_s=0.05) as backend:
        assert backend.resolution is None, 'construction and resolution do not fail'
        assert backend.description == f'remote {url} (unreachable)'
        assert not backend.is_reachable()
        with pytest.raises(BackendUnavailable, match='failed 3 time'):
            backend.generate(_image()[None], ['depth map'])
    assert time.monotonic() - start < 5.0


def test_a_slow_server_times_out() -> None:
    with _serve(_Behaviour(delay_s=3.0)) as (url, behaviour):
        with _remote(url, timeout_s=0.3, max_retries=0) as backend:
            start = time.monotonic()
            with pytest.raises(BackendUnavailable, match='timed out'):
                backend.generate(_image()[None], ['depth map'])
            assert time.monotonic() - start < 2.0
    assert len(behaviour.attempts) == 1


def test_a_url_without_the_server_is_unavailable() -> None:
    with _serve() as (url, _), _remote(url + '/elsewhere') as backend:
        with pytest.raises(BackendUnavailable, match='not a vision-banana server'):
            backend.generate(_image()[None], ['depth map'])


# --- the protocol functions directly ----------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def _png_header(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    """Return a PNG signature and IHDR chunk only: claims a size without holding any pixel."""
    ihdr = struct.pack('>IIBBBBB', width, height, depth, colour, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', ihdr)


def _document(**changes: object) -> dict[str, object]:
    """Return a valid request as a JSON document, with fields changed or (None-valued) removed."""
    body = encode_request(_image(0, 12, 16), ['depth map', 'normals'], [1, 2], new_request_id())
    document: dict[str, object] = json.loads(body)
    for name, value in changes.items():
        if value is None:
            document.pop(name)
        else:
            document[name] = value
    return document


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


_PNG = encode_png(_image(0, 12, 16))
_FLIPPED = bytearray(_PNG)
_FLIPPED[60] ^= 0xFF
_IDAT_END = len(_PNG) - 12  # the PNG without its IEND chunk
_HALF = len(_PNG) // 2
_ROWS = b''.join(b'\x00' + row.tobytes() for row in _image(0, 12, 16))  # filter byte + RGB
_HALF_ROWS = len(_ROWS) // 2
_SHORT = (  # intact chunks whose pixel data stops half way: only decoding can tell
    _png_header(16, 12)
    + _png_chunk(b'IDAT', zlib.compress(_ROWS[:_HALF_ROWS]))
    + _png_chunk(b'IEND', b'')
)

MALFORMED = {
    'not-json': (b'{"request_id": ', JSON, 400),
    'not-utf8': (b'\xff\xfe\x00{', JSON, 400),
    'json-array': (b'[]', JSON, 400),
    'deep-nesting': (b'[' * 100_000, JSON, 400),
    'huge-integer': (b'{"seeds": [' + b'9' * 5000 + b']}', JSON, 400),
    'no-request-id': (_document(request_id=None), JSON, 400),
    'bad-request-id': (_document(request_id='a b\nc'), JSON, 400),
    'no-image': (_document(image=None), JSON, 400),
    'bad-base64': (_document(image='iVBOR%%%not base64'), JSON, 400),
    'not-png': (_document(image=_b64(b'GIF89a' + b'\x00' * 64)), JSON, 400),
    'truncated-png': (_document(image=_b64(_PNG[:_HALF])), JSON, 400),
    'no-iend': (_document(image=_b64(_PNG[:_IDAT_END])), JSON, 400),
    'short-pixel-data': (_document(image=_b64(_SHORT)), JSON, 400),
    'corrupt-png': (_document(image=_b64(bytes(_FLIPPED))), JSON, 400),
    'grey-png': (_document(image=_b64(_png_header(16, 12, colour=0))), JSON, 400),
    'huge-png-header': (_document(image=_b64(_png_header(20000, 20000))), JSON, 413),
    'too-wide-png': (_document(image=_b64(_png_header(9000, 4))), JSON, 413),
    'wrong-content-type': (_document(), 'text/plain', 415),
    'no-content-type': (_document(), None, 415),
    'no-prompts': (_document(prompts=None, seeds=[]), JSON, 400),
    'prompts-not-list': (_document(prompts='depth map', seeds=[]), JSON, 400),
    'empty-prompts': (_document(prompts=[], seeds=[]), JSON, 422),
    'empty-prompt': (_document(prompts=['depth', '']), JSON, 422),
    'blank-prompt': (_document(prompts=['depth', ' \n ']), JSON, 422),
    'long-prompt': (_document(prompts=['depth', 'x' * 100_000]), JSON, 422),
    'too-many-prompts': (_document(prompts=['depth'] * 17, seeds=list(range(17))), JSON, 422),
    'seeds-mismatch': (_document(seeds=[1, 2, 3]), JSON, 422),
    'negative-seed': (_document(seeds=[1, -2]), JSON, 422),
    'seed-too-big': (_document(seeds=[1, 2**64]), JSON, 422),
    'seed-not-int': (_document(seeds=[1, '2']), JSON, 400),
    'seed-bool': (_document(seeds=[1, True]), JSON, 400),
}


@pytest.mark.parametrize(('body', 'content_type', 'status'), MALFORMED.values(), ids=MALFORMED)
def test_every_malformed_request_gets_its_status(
    body: bytes | dict[str, object], content_type: str | None, status: int
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ProtocolError) as error:
        decode_request(data, content_type, Limits())
    assert error.value.status == status, error.value.message


def test_a_body_over_the_limit_is_413() -> None:
    body = json.dumps(_document()).encode()
    with pytest.raises(ProtocolError) as error:
        decode_request(body, JSON, Limits(max_body_bytes=len(body) - 1))
    assert error.value.status == 413
    assert decode_request(body, JSON, Limits(max_body_bytes=len(body))).prompts


def test_a_valid_request_round_trips_exactly() -> None:
    image = _image(3)
    body = encode_request(image, ['depth map', 'normals'], [5, 2**64 - 1], 'abc-123')
    request = decode_request(body, 'Application/JSON; charset=utf-8', Limits())
    assert request.request_id == 'abc-123'
    assert request.prompts == ('depth map', 'normals') and request.seeds == (5, 2**64 - 1)
    assert request.image.dtype == np.uint8
    np.testing.assert_array_equal(request.image, image)
    unseeded = body.replace(b'"seeds":[5,18446744073709551615]', b'"seeds":null')
    assert decode_request(unseeded, JSON, Limits()).seeds is None


def test_png_channels_are_rgb_on_the_wire() -> None:
    red = np.zeros((2, 3, 3), np.uint8)
    red[..., 0] = 255
    bgr = cv2.imdecode(np.frombuffer(encode_png(red), np.uint8), cv2.IMREAD_COLOR)
    assert tuple(bgr[0, 0]) == (0, 0, 255), 'a standard PNG reader sees red'
    np.testing.assert_array_equal(decode_png(encode_png(torch.from_numpy(red))), red)


def test_responses_are_checked_against_their_request() -> None:
    image = _image(1, 12, 16)
    request = GenerateRequest('req-1', image, ('a', 'b'))
    images = np.stack([image, 255 - image])
    body = encode_response(request, torch.from_numpy(images), MODEL, 3.5)
    response = decode_response(body, request)
    np.testing.assert_array_equal(response.images, images)
    assert (response.model, response.elapsed_ms) == (MODEL, 3.5)
    for other in (
        replace(request, request_id='req-2'),
        replace(request, prompts=('a',)),
        replace(request, image=image[1:]),
    ):
        with pytest.raises(ProtocolError) as error:
            decode_response(body, other)
        assert error.value.status == 502
    with pytest.raises(ProtocolError) as refused:
        encode_response(request, images[:1], MODEL, 1.0)
    assert refused.value.status == 500


@pytest.mark.parametrize(
    ('header', 'expected', 'ok'),
    [
        (None, '', True),
        ('anything', '', True),
        (f'Bearer {TOKEN}', TOKEN, True),
        (f'bearer  {TOKEN} ', TOKEN, True),
        (None, TOKEN, False),
        ('', TOKEN, False),
        ('Bearer wrong', TOKEN, False),
        (f'Basic {TOKEN}', TOKEN, False),
        (TOKEN, TOKEN, False),
        ('Bearer caf\u00e9\udcff', TOKEN, False),
    ],
)
def test_check_token(header: str | None, expected: str, ok: bool) -> None:
    if ok:
        check_token(header, expected)
        return
    with pytest.raises(ProtocolError) as error:
        check_token(header, expected)
    assert error.value.status == 401 and TOKEN not in str(error.value)


def test_content_length_health_and_error_bodies() -> None:
    limits = Limits(max_body_bytes=100)
    assert check_content_length(None, limits) is None
    assert check_content_length(' 100 ', limits) == 100
    for value, status in (('101', 413), ('-1', 400), ('1e3', 400), ('\u0661', 400)):
        with pytest.raises(ProtocolError) as error:
            check_content_length(value, limits)
        assert error.value.status == status
    health = decode_health(encode_health('m', (128, 160), stochastic=True, limits=limits))
    assert (health.model, health.resolution, health.stochastic) == ('m', (128, 160), True)
    assert health.max_prompts == limits.max_prompts
    assert decode_health(encode_health('m', None)).resolution is None
    error = decode_error(422, encode_error(422, 'bad\nprompt' + 'x' * 5000, 'refused'))
    assert (error.status, error.reason) == (422, 'refused')
    assert error.message.startswith('bad prompt') and len(error.message) < 1100
    proxy = decode_error(502, b'<html>Bad Gateway</html>')
    assert (proxy.message, proxy.reason) == ('HTTP 502 Bad Gateway', 'unavailable')
    assert error_for_exception(KeyError('secret detail'))[1] == 'internal server error'
    assert error_for_exception(BackendUnavailable('x'))[0] == 503


def test_limits_are_validated() -> None:
    for bad in ({'max_prompts': 0}, {'max_prompt_chars': MAX_PROMPT_CHARS + 1}, {'max_side': -1}):
        with pytest.raises(ValueError, match='invalid'):
            Limits(**bad)  # type: ignore[arg-type]


# --- fuzzing ---------------------------------------------------------------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_VALID = json.dumps(_document()).encode()


def _decodes_or_refuses(body: bytes) -> None:
    """Decode ``body``; anything but a ProtocolError fails the test."""
    with contextlib.suppress(ProtocolError):
        decode_request(body, JSON, Limits(max_body_bytes=1 << 20))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_random_bytes_only_raise_protocol_errors(body: bytes) -> None:
    _decodes_or_refuses(body)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(['request_id', 'image', 'prompts', 'seeds']), _JSON_VALUES))
def test_fuzz_json_fields_only_raise_protocol_errors(changes: dict[str, object]) -> None:
    document = _document()
    document.update(changes)
    _decodes_or_refuses(json.dumps(document).encode())


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_fuzz_damaged_bodies_and_pngs_only_raise_protocol_errors(data: st.DataObject) -> None:
    png = bytearray(_PNG)
    for _ in range(data.draw(st.integers(1, 4))):
        png[data.draw(st.integers(0, len(png) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(png)))
    _decodes_or_refuses(json.dumps(_document(image=_b64(bytes(png[:cut])))).encode())
    body = bytearray(_VALID)
    position = data.draw(st.integers(0, len(body) - 1))
    body[position] = data.draw(st.integers(0, 255))
    _decodes_or_refuses(bytes(body))
