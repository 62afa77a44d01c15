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
The gemini backend against a loopback stand-in for the Gemini API (no network).

The stand-in answers the requests the real ``google-genai`` SDK sends
(``POST /{version}/models/{model}:generateContent``) the way the service does: a
``GenerateContentResponse`` with an inline image, Google's error bodies, safety blocks,
text-only answers, slow answers; it records every request and the most in flight at once.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import logging
import re
import socket
import sys
import threading
import time
import traceback
from typing import Any, cast

import cv2
import numpy as np
import pytest
import torch
from vision_banana_ros.backends import (
    BackendConfig,
    BackendError,
    BackendOutputError,
    BackendRefused,
    BackendUnavailable,
    create_backend,
    GeminiOptions,
)
from vision_banana_ros.backends.gemini import GeminiBackend, GeminiRequestError, INSTALL_HINT

pytest.importorskip('google.genai', reason='google-genai is not installed (pip install .[gemini])')
torch.set_num_threads(1)

KEY = 'AIzaTEST-key-0123456789-never-shown'
KEY_ENV = 'VB_TEST_GEMINI_KEY'
MODEL = 'gemini-3-pro-image'
OUT_SIZE = (36, 20)  # (H, W) the stand-in draws at: neither the input's size nor its shape
PATH = re.compile(r'^/(v1|v1beta)/models/(?P<model>[^/:]+):generateContent$')


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def parts(self) -> list[dict[str, Any]]:
        return list(self.body['contents'][0]['parts'])

    @property
    def prompt(self) -> str:
        return ''.join(p['text'] for p in self.parts if 'text' in p)

    @property
    def image(self) -> tuple[str, np.ndarray]:
        (blob,) = [p['inlineData'] for p in self.parts if 'inlineData' in p]
        mime = blob.get('mimeType', blob.get('mime_type', ''))
        # Proto JSON takes standard or URL-safe base64, padded or not; the SDK sends URL-safe.
        text = blob['data'] + '=' * (-len(blob['data']) % 4)
        bgr = cv2.imdecode(np.frombuffer(base64.urlsafe_b64decode(text), np.uint8), -1)
        return mime, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Callable[[Request, int], Reply]


class FakeGemini:
    """The stand-in's state: what it answers, and what it saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.requests: list[Request] = []
        self.in_flight = 0
        self.peak = 0
        self.script: Script = draw
        self.url = ''

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get('Content-Length', '0')))
        request = Request(
            handler.path, {k.lower(): v for k, v in handler.headers.items()}, json.loads(raw)
        )
        with self.lock:
            index = len(self.requests)
            self.requests.append(request)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            reply = self.script(request, index)
            if reply.delay:
                self.stop.wait(reply.delay)
        finally:
            with self.lock:  # before answering: the client may send the next one at once
                self.in_flight -= 1
        data = json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        handler.send_header('Content-Type', 'application/json; charset=UTF-8')
        handler.send_header('Content-Length', str(len(data)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        fake = cast(_Server, self.server).fake
        if PATH.match(self.path) is None:
            self.send_error(404)
            return
        fake.serve(self)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGemini

    def handle_error(self, *args: Any) -> None:
        pass  # a client that timed out and hung up; nothing to report


# ---------------------------------------------------------------------------------------------
# Answers the service gives
# ---------------------------------------------------------------------------------------------


def encode(rgb: np.ndarray, ext: str = '.png') -> str:
    ok, buffer = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return base64.b64encode(buffer.tobytes()).decode()


def image_answer(
    rgb: np.ndarray, mime: str = 'image/png', thought: np.ndarray | None = None
) -> dict[str, Any]:
    parts = []
    if thought is not None:
        parts.append({'inlineData': {'mimeType': mime, 'data': encode(thought)}, 'thought': True})
    ext = '.jpg' if mime == 'image/jpeg' else '.png'
    parts.append({'inlineData': {'mimeType': mime, 'data': encode(rgb, ext)}})
    return {
        'candidates': [
            {'content': {'role': 'model', 'parts': parts}, 'finishReason': 'STOP', 'index': 0}
        ],
        'modelVersion': MODEL,
    }


def split_image() -> np.ndarray:
    """Left half red, right half blue: shows whether H and W survive the resize."""
    half = OUT_SIZE[1] // 2
    out = np.zeros((*OUT_SIZE, 3), np.uint8)
    out[:, :half] = (255, 0, 0)
    out[:, half:] = (0, 0, 255)
    return out


def draw(request: Request, _: int) -> Reply:
    """'fill R G B' -> a solid image of that colour; anything else -> the split image."""
    match = re.fullmatch(r'fill (\d+) (\d+) (\d+)', request.prompt)
    if match is None:
        return Reply(body=image_answer(split_image()))
    rgb = np.zeros((*OUT_SIZE, 3), np.uint8)
    rgb[:] = [int(v) for v in match.groups()]
    return Reply(body=image_answer(rgb))


def google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {'code': code, 'message': message, 'status': status}
    if details is not None:
        error['details'] = details
    return {'error': error}


def fail_then_draw(failures: int, reply: Reply) -> Script:
    def script(request: Request, index: int) -> Reply:
        return reply if index < failures else draw(request, index)

    return script


def always(reply: Reply) -> Script:
    return lambda request, index: reply


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGemini]:
    """Start the stand-in on 127.0.0.1; the environment holds the test key only."""
    for name in (
        'GOOGLE_API_KEY',
        'GOOGLE_GENAI_USE_VERTEXAI',
        'GOOGLE_GENAI_USE_ENTERPRISE',
        'GOOGLE_GENAI_API_VERSION',
        'GOOGLE_GENAI_HTTP_CLIENT',
        'HTTP_PROXY',
        'HTTPS_PROXY',
        'ALL_PROXY',
        'http_proxy',
        'https_proxy',
        'all_proxy',
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv('GEMINI_API_KEY', KEY)
    state = FakeGemini()
    server = _Server(('127.0.0.1', 0), _Handler)
    server.fake = state
    state.url = f'http://127.0.0.1:{server.server_address[1]}'
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def make(fake: FakeGemini) -> Iterator[Callable[..., GeminiBackend]]:
    """Build backends on the stand-in with test-sized delays; close them all afterwards."""
    made: list[GeminiBackend] = []

    def build(**changes: Any) -> GeminiBackend:
        options: dict[str, Any] = {
            'model': MODEL,
            'api_key_env': KEY_ENV,
            'base_url': fake.url,
            'timeout_s': 5.0,
            'max_retries': 2,
            'backoff_s': 0.01,
            'max_in_flight': 4,
        }
        options.update(changes)
        backend = GeminiBackend(GeminiOptions(**options))
        made.append(backend)
        return backend

    yield build
    for backend in made:
        backend.close()


def frame(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, height, width, 3), dtype=np.uint8)


def everything_said(error: BaseException) -> str:
    """Return the error's whole chain as a traceback prints it, plus each link's repr."""
    text = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
    link: BaseException | None = error
    while link is not None:
        text += repr(link)
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    return text


# ---------------------------------------------------------------------------------------------
# Requests and answers
# ---------------------------------------------------------------------------------------------


def test_generate_sends_the_frame_and_prompt_and_resizes_the_answer(fake: FakeGemini) -> None:
    options = GeminiOptions(model=MODEL, base_url=fake.url, backoff_s=0.01)
    backend = create_backend(BackendConfig(name='gemini', gemini=options))
    try:
        assert isinstance(backend, GeminiBackend)
        assert backend.stochastic
        assert backend.device == torch.device('cpu')
        assert backend.description.startswith(f'gemini {MODEL}')
        image = frame()
        seeds = [7, 2**40 + 5]
        out = backend.generate(image, ['fill 10 20 30', 'fill 200 100 0'], seeds)
    finally:
        backend.close()

    assert out.dtype == torch.uint8 and tuple(out.shape) == (2, 24, 32, 3)
    assert (out[0] == torch.tensor([10, 20, 30], dtype=torch.uint8)).all()
    assert (out[1] == torch.tensor([200, 100, 0], dtype=torch.uint8)).all()
    assert len(fake.requests) == 2
    by_prompt = {r.prompt: r for r in fake.requests}
    for prompt, seed in zip(['fill 10 20 30', 'fill 200 100 0'], seeds, strict=True):
        request = by_prompt[prompt]
        match = PATH.match(request.path)
        assert match is not None and match['model'] == MODEL
        assert request.headers['x-goog-api-key'] == KEY
        mime, sent = request.image
        assert mime == 'image/png'
        np.testing.assert_array_equal(sent, image[0])  # lossless, RGB order kept
        config = request.body['generationConfig']
        assert config['responseModalities'] == ['IMAGE']
        assert config['seed'] == seed % 2**31  # the API's seed is an int32
        assert config['imageConfig']['aspectRatio'] == '4:3'  # 32 x 24


def test_one_frame_per_prompt_goes_with_its_prompt(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    images = np.concatenate([frame(seed=1), frame(seed=2), frame(seed=3)])
    make().generate(images, ['fill 1 1 1', 'fill 2 2 2', 'fill 3 3 3'])
    assert len(fake.requests) == 3
    for request in fake.requests:
        index = int(request.prompt[-1]) - 1
        np.testing.assert_array_equal(request.image[1], images[index])


def test_resize_keeps_orientation_and_reads_png_and_jpeg(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    backend = make()
    out = backend.generate(frame(24, 48), ['split']).numpy()[0]
    assert out.shape == (24, 48, 3)
    assert (out[:, :20] == (255, 0, 0)).all() and (out[:, -20:] == (0, 0, 255)).all()
    assert fake.requests[0].body['generationConfig']['imageConfig']['aspectRatio'] == '16:9'

    colour = np.full((*OUT_SIZE, 3), (40, 160, 90), np.uint8)
    fake.script = always(Reply(body=image_answer(colour, 'image/jpeg')))
    out = backend.generate(frame(), ['jpeg please']).numpy()[0]
    assert np.abs(out.astype(int) - (40, 160, 90)).max() <= 4


def test_final_image_wins_over_thought_images(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    final = np.full((*OUT_SIZE, 3), (0, 255, 0), np.uint8)
    thought = np.full((*OUT_SIZE, 3), (255, 0, 255), np.uint8)
    fake.script = always(Reply(body=image_answer(final, thought=thought)))
    out = make().generate(frame(), ['anything'])
    assert (out == torch.tensor([0, 255, 0], dtype=torch.uint8)).all()


# ---------------------------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------------------------


def test_rate_limit_is_retried_then_succeeds(
    make: Callable[..., GeminiBackend], fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger='vision_banana_ros')
    limited = Reply(429, google_error(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted'))
    fake.script = fail_then_draw(2, limited)
    out = make(max_retries=3).generate(frame(), ['fill 5 6 7'])
    assert (out == torch.tensor([5, 6, 7], dtype=torch.uint8)).all()
    assert len(fake.requests) == 3  # the SDK did not retry on its own as well
    assert caplog.text.count('rate-limited') == 2


@pytest.mark.parametrize('code,status', [(500, 'INTERNAL'), (503, 'UNAVAILABLE'), (504, 'X')])
def test_unavailable_gives_up_after_max_retries(
    make: Callable[..., GeminiBackend], fake: FakeGemini, code: int, status: str
) -> None:
    fake.script = always(Reply(code, google_error(code, status, 'The model is overloaded.')))
    with pytest.raises(BackendUnavailable, match=r'gave up after 3 attempts') as caught:
        make(max_retries=2).generate(frame(), ['fill 1 2 3'])
    assert str(code) in str(caught.value)
    assert len(fake.requests) == 3


def test_rate_limit_exhausted_is_unavailable(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    fake.script = always(Reply(429, google_error(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded')))
    with pytest.raises(BackendUnavailable, match='rate-limited'):
        make(max_retries=0).generate(frame(), ['fill 1 2 3'])
    assert len(fake.requests) == 1


def test_retry_after_header_is_honoured(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    limited = Reply(
        429, google_error(429, 'RESOURCE_EXHAUSTED', 'Slow down'), headers={'Retry-After': '1'}
    )
    fake.script = fail_then_draw(1, limited)
    start = time.monotonic()
    make().generate(frame(), ['fill 1 2 3'])
    assert time.monotonic() - start >= 0.95
    assert len(fake.requests) == 2


def test_retry_info_delay_is_honoured(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    retry_info = {'@type': 'type.googleapis.com/google.rpc.RetryInfo', 'retryDelay': '0.4s'}
    limited = Reply(429, google_error(429, 'RESOURCE_EXHAUSTED', 'Quota', [retry_info]))
    fake.script = fail_then_draw(1, limited)
    start = time.monotonic()
    make().generate(frame(), ['fill 1 2 3'])
    assert time.monotonic() - start >= 0.38
    assert len(fake.requests) == 2


def test_slow_answer_times_out_without_retry(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    fake.script = always(Reply(body=image_answer(split_image()), delay=3.0))
    start = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r'no answer within 0\.3 s'):
        make(timeout_s=0.3, max_retries=2).generate(frame(), ['slow'])
    assert time.monotonic() - start < 2.0
    assert len(fake.requests) == 1


def test_unreachable_service_is_retried_then_unavailable(
    make: Callable[..., GeminiBackend],
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    backend = make(base_url=f'http://127.0.0.1:{port}', max_retries=1)
    with pytest.raises(BackendUnavailable, match='cannot reach the service'):
        backend.generate(frame(), ['fill 1 2 3'])


# ---------------------------------------------------------------------------------------------
# Errors that are not retried
# ---------------------------------------------------------------------------------------------


def test_bad_request_is_not_retried(make: Callable[..., GeminiBackend], fake: FakeGemini) -> None:
    body = google_error(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.')
    fake.script = always(Reply(400, body))
    with pytest.raises(GeminiRequestError, match='invalid argument') as caught:
        make().generate(frame(), ['fill 1 2 3'])
    assert not isinstance(caught.value, BackendUnavailable)
    assert isinstance(caught.value, BackendError)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    'code,status,message,details',
    [
        (401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.', None),
        (403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers.", None),
        (
            400,
            'INVALID_ARGUMENT',
            'API key not valid. Please pass a valid API key.',
            [
                {
                    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                    'reason': 'API_KEY_INVALID',
                    'domain': 'googleapis.com',
                }
            ],
        ),
    ],
    ids=['401', '403', '400-key'],
)
def test_refused_key_is_unavailable_and_not_retried(
    make: Callable[..., GeminiBackend],
    fake: FakeGemini,
    code: int,
    status: str,
    message: str,
    details: list[dict[str, Any]] | None,
) -> None:
    fake.script = always(Reply(code, google_error(code, status, message, details)))
    with pytest.raises(BackendUnavailable, match=KEY_ENV) as caught:
        make().generate(frame(), ['fill 1 2 3'])
    assert KEY not in everything_said(caught.value)
    assert len(fake.requests) == 1


def test_retired_model_is_unavailable_with_its_replacement(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    model = 'gemini-3-pro-image-preview'
    body = google_error(404, 'NOT_FOUND', f'models/{model} is not found for API version v1.')
    fake.script = always(Reply(404, body))
    with pytest.raises(BackendUnavailable, match='use gemini-3-pro-image;'):
        make(model=model).generate(frame(), ['fill 1 2 3'])
    assert len(fake.requests) == 1


# ---------------------------------------------------------------------------------------------
# Refusals and answers without an image
# ---------------------------------------------------------------------------------------------


def test_blocked_prompt_is_refused(make: Callable[..., GeminiBackend], fake: FakeGemini) -> None:
    body = {
        'promptFeedback': {'blockReason': 'SAFETY', 'safetyRatings': []},
        'modelVersion': MODEL,
    }
    fake.script = always(Reply(body=body))
    with pytest.raises(BackendRefused, match='blocked the prompt: SAFETY'):
        make().generate(frame(), ['fill 1 2 3'])
    assert len(fake.requests) == 1


def test_image_safety_stop_is_refused(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    body = {
        'candidates': [
            {
                'content': {'role': 'model'},
                'finishReason': 'IMAGE_SAFETY',
                'finishMessage': 'Unable to show the generated image.',
                'index': 0,
            }
        ]
    }
    fake.script = always(Reply(body=body))
    # (google-genai 3.3 drops the Gemini API's finishMessage; the reason alone must do.)
    with pytest.raises(BackendRefused, match='finish reason IMAGE_SAFETY'):
        make().generate(frame(), ['fill 1 2 3'])
    assert len(fake.requests) == 1


def test_text_only_answer_is_refused_quoting_its_start(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    text = 'I can not draw that. ' + 'x' * 300 + 'THE-END'
    body = {
        'candidates': [
            {'content': {'role': 'model', 'parts': [{'text': text}]}, 'finishReason': 'STOP'}
        ]
    }
    fake.script = always(Reply(body=body))
    with pytest.raises(BackendRefused, match='text only') as caught:
        make().generate(frame(), ['fill 1 2 3'])
    assert 'I can not draw that. xxx' in str(caught.value)
    assert 'THE-END' not in str(caught.value)


def test_empty_answer_is_refused(make: Callable[..., GeminiBackend], fake: FakeGemini) -> None:
    fake.script = always(Reply(body={'candidates': []}))
    with pytest.raises(BackendRefused, match='without any candidate'):
        make().generate(frame(), ['fill 1 2 3'])


def test_undecodable_image_is_an_output_error(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    junk = base64.b64encode(b'not a png at all').decode()
    body = {
        'candidates': [
            {
                'content': {'parts': [{'inlineData': {'mimeType': 'image/png', 'data': junk}}]},
                'finishReason': 'STOP',
            }
        ]
    }
    fake.script = always(Reply(body=body))
    with pytest.raises(BackendOutputError, match='could not decode'):
        make().generate(frame(), ['fill 1 2 3'])


# ---------------------------------------------------------------------------------------------
# Concurrency, lifecycle, setup
# ---------------------------------------------------------------------------------------------


def test_in_flight_requests_are_capped_and_order_kept(
    make: Callable[..., GeminiBackend], fake: FakeGemini
) -> None:
    def slow_draw(request: Request, index: int) -> Reply:
        reply = draw(request, index)
        reply.delay = 0.15
        return reply

    fake.script = slow_draw
    prompts = [f'fill {v} {v} {v}' for v in (10, 20, 30, 40, 50, 60)]
    backend = make(max_in_flight=2)
    results: list[torch.Tensor] = []
    # Two callers at once share the cap.
    other = threading.Thread(target=lambda: results.append(backend.generate(frame(), prompts)))
    other.start()
    out = backend.generate(frame(), prompts)
    other.join(10)
    assert fake.peak == 2  # concurrent, but never above max_in_flight
    assert len(fake.requests) == 12
    for tensor in (out, *results):
        assert [int(tensor[i, 0, 0, 0]) for i in range(6)] == [10, 20, 30, 40, 50, 60]


def test_close_is_idempotent_and_final(make: Callable[..., GeminiBackend]) -> None:
    backend = make()
    with backend:
        backend.generate(frame(), ['fill 1 2 3'])
    backend.close()
    with pytest.raises(BackendUnavailable, match='closed'):
        backend.generate(frame(), ['fill 1 2 3'])


def test_missing_key_names_the_variable(fake: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(BackendUnavailable, match=KEY_ENV):
        GeminiBackend(GeminiOptions(api_key_env=KEY_ENV, base_url=fake.url))
    monkeypatch.setenv(KEY_ENV, '  ')
    with pytest.raises(BackendUnavailable, match=KEY_ENV):
        GeminiBackend(GeminiOptions(api_key_env=KEY_ENV, base_url=fake.url))


def test_missing_sdk_says_how_to_install(
    fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google

    monkeypatch.setitem(sys.modules, 'google.genai', None)
    monkeypatch.delattr(google, 'genai', raising=False)
    with pytest.raises(BackendUnavailable) as caught:
        create_backend(BackendConfig(name='gemini', gemini=GeminiOptions(base_url=fake.url)))
    assert INSTALL_HINT in str(caught.value)
    assert INSTALL_HINT == 'pip install vision_banana_ros[gemini]'


def test_key_is_never_logged_or_shown(
    make: Callable[..., GeminiBackend], fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = make(max_retries=1, timeout_s=0.3)
    said = [repr(backend), backend.description, str(vars(backend))]
    backend.generate(frame(), ['fill 1 2 3'])
    replies = [
        Reply(429, google_error(429, 'RESOURCE_EXHAUSTED', f'quota for key {KEY}')),
        Reply(503, google_error(503, 'UNAVAILABLE', 'overloaded')),
        Reply(400, google_error(400, 'INVALID_ARGUMENT', f'bad key {KEY}')),
        Reply(403, google_error(403, 'PERMISSION_DENIED', 'denied')),
        Reply(body={'promptFeedback': {'blockReason': 'OTHER', 'blockReasonMessage': KEY}}),
        Reply(body={'candidates': [{'content': {'parts': [{'text': f'no; {KEY}'}]}}]}),
        Reply(body=image_answer(split_image()), delay=2.0),
    ]
    for reply in replies:
        fake.script = always(reply)
        with pytest.raises(BackendError) as caught:
            backend.generate(frame(), ['fill 1 2 3'])
        said.append(everything_said(caught.value))
        said.append(str(caught.value))
    for text in said:
        assert KEY not in text
    assert fake.requests and all(r.headers['x-goog-api-key'] == KEY for r in fake.requests)
    assert KEY not in caplog.text
    assert 'retry 1 of 1' in caplog.text  # the retry was logged, without the key
