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
``vision-banana serve`` for real: a local Ray Serve instance on 127.0.0.1, shared by the module.

The server holds the echo generator (each output is its input XOR a key from its prompt and
seed, 50 ms a call), so every answer is checked against the request that asked for it. Two
replicas, so one can be killed while the other answers.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
import json
import socket
import struct
import time
import zlib

from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import requests
from vision_banana_ros.backends import BackendError, BackendRefused, BackendUnavailable
from vision_banana_ros.backends.config import RemoteOptions
from vision_banana_ros.backends.remote import RemoteBackend
from vision_banana_ros.serving.config import EchoOptions, ServeConfig
from vision_banana_ros.serving.echo import expected_echo
from vision_banana_ros.serving.protocol import encode_png, encode_request, new_request_id

app = pytest.importorskip(
    'vision_banana_ros.serving.app', reason='vision-banana serve needs ray[serve] (.[serve])'
)
ray = pytest.importorskip('ray', reason='vision-banana serve needs ray[serve] (.[serve])')

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

TOKEN_ENV = 'VB_TEST_SERVE_TOKEN'
TOKEN = 'serve-test-token-1234'
JSON = 'application/json'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope='module')
def server() -> Iterator[str]:
    """Start Ray and the echo server once for the module; yield its URL."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    config = ServeConfig(
        port=_free_port(),
        replicas=2,
        cpus_per_replica=0.25,
        max_batch_size=8,
        batch_wait_timeout_s=0.02,
        token_env=TOKEN_ENV,
        request_timeout_s=20.0,
        echo=EchoOptions(enabled=True, call_s=0.05),
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield app.start(config)
    finally:
        app.shutdown()
        monkeypatch.undo()


@pytest.fixture
def client(server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteBackend]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    options = RemoteOptions(
        url=server, token_env=TOKEN_ENV, timeout_s=20.0, max_retries=4, backoff_s=0.2
    )
    with RemoteBackend(options) as backend:
        yield backend


def _frame(robot: int, frame: int, height: int = 24, width: int = 32) -> np.ndarray:
    """Return an image that carries its robot and frame number in every pixel."""
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = robot
    image[..., 1] = frame % 256
    image[..., 2] = frame // 256
    return image


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    sent = {'Authorization': f'Bearer {TOKEN}', 'Content-Type': JSON}
    sent.update(headers or {})
    return requests.post(url + '/v1/generate', data=body, headers=sent, timeout=30)


def _assert_healthy(url: str) -> None:
    answer = requests.get(url + '/v1/health', timeout=10)
    assert answer.status_code == 200 and answer.json()['status'] == 'ok'


# --- the API against the remote backend ------------------------------------------------------


def test_the_remote_backend_gets_its_images_from_the_server(
    server: str, client: RemoteBackend
) -> None:
    image = _frame(1, 2)
    prompts = ['depth map', 'surface normals', 'segment the mugs']
    out = client.generate(image[None], prompts, seeds=[5, 6, 7]).numpy()
    for index, prompt in enumerate(prompts):
        np.testing.assert_array_equal(out[index], expected_echo(image, prompt, index + 5))
    assert client.is_reachable() and client.stochastic and client.resolution is None
    assert client.description == f'remote {server} (echo (0.05 s a call + 0 s an image))'
    images = np.stack([_frame(1, 3), _frame(1, 4)])
    out = client.generate(images, ['depth map', 'normals']).numpy()
    np.testing.assert_array_equal(out[1], expected_echo(images[1], 'normals'))


def test_a_refusal_reaches_the_client_as_a_refusal(client: RemoteBackend) -> None:
    with pytest.raises(BackendRefused, match='refuses'):
        client.generate(_frame(1, 5)[None], ['please refuse this'])


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server: str) -> None:
    def one(frame: int) -> tuple[int, int]:
        image = _frame(2, frame)
        prompts = ['depth map', f'segment object {frame}']
        request_id = new_request_id()
        answer = _post(server, encode_request(image, prompts, [frame, frame + 1], request_id))
        assert answer.status_code == 200, answer.text
        document = answer.json()
        assert document['request_id'] == request_id
        for index, (encoded, prompt) in enumerate(zip(document['images'], prompts, strict=True)):
            png = np.frombuffer(base64.b64decode(encoded), np.uint8)
            got = app_decode(png)
            np.testing.assert_array_equal(got, expected_echo(image, prompt, frame + index))
        return frame, int(answer.headers[app.BATCH_HEADER])

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(48)))
    batch_sizes = [size for _, size in results]
    assert sorted(frame for frame, _ in results) == list(range(48))
    assert max(batch_sizes) > 1, f'no request shared a batch: {batch_sizes}'


def app_decode(png: np.ndarray) -> np.ndarray:
    """Decode a response PNG with the protocol's own reader."""
    from vision_banana_ros.serving.protocol import decode_png

    return decode_png(png.tobytes())


# --- bad input: a 4xx with a clear message, and the service answers afterwards ---------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def _huge_png() -> bytes:
    """Return a PNG header claiming 20000x20000 pixels, with no pixels behind it."""
    header = struct.pack('>IIBBBBB', 20000, 20000, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', header) + _png_chunk(b'IEND', b'')


def _body(image: bytes | None = None, prompts: list[str] | None = None) -> bytes:
    document = json.loads(encode_request(_frame(3, 1), ['depth map'], None, new_request_id()))
    if image is not None:
        document['image'] = base64.b64encode(image).decode('ascii')
    if prompts is not None:
        document['prompts'] = prompts
    return json.dumps(document).encode()


_PNG = encode_png(_frame(3, 1))
BAD_INPUT = {
    'truncated-png': (_body(_PNG[: len(_PNG) // 2]), {}, 400, 'truncated'),
    'huge-image': (_body(_huge_png()), {}, 413, '20000x20000'),
    'wrong-content-type': (_body(), {'Content-Type': 'text/plain'}, 415, 'content type'),
    'empty-prompt': (_body(prompts=['']), {}, 422, 'prompt 0 is empty'),
    '100kB-prompt': (_body(prompts=['x' * 100_000]), {}, 422, '100000 characters'),
    'no-token': (_body(), {'Authorization': ''}, 401, 'missing bearer token'),
    'wrong-token': (_body(), {'Authorization': 'Bearer nope'}, 401, 'invalid bearer token'),
    'not-json': (b'{"image": ', {}, 400, 'not JSON'),
}


@pytest.mark.parametrize(
    ('body', 'headers', 'status', 'message'), BAD_INPUT.values(), ids=BAD_INPUT
)
def test_bad_input_gets_its_4xx_and_the_service_stays_up(
    server: str, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    answer = _post(server, body, headers)
    assert answer.status_code == status, answer.text
    error = answer.json()['error']
    assert error['code'] == status and message in error['message']
    assert TOKEN not in answer.text
    _assert_healthy(server)


def test_unknown_paths_and_methods_are_refused(server: str) -> None:
    assert requests.get(server + '/v1/generate', timeout=10).status_code == 405
    assert requests.get(server + '/admin', timeout=10).status_code == 404
    answer = requests.post(
        server + '/v1/generate', data=b'x' * 100, headers={'Content-Length': 'lots'}, timeout=10
    )
    assert 400 <= answer.status_code < 500


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(['request_id', 'image', 'prompts', 'seeds']),
            st.one_of(
                st.none(), st.integers(), st.text(max_size=30), st.lists(st.text(), max_size=3)
            ),
        ).map(lambda d: json.dumps(d).encode()),
    )
)
def test_fuzz_the_live_server_answers_random_bodies_with_a_4xx(server: str, body: bytes) -> None:
    answer = _post(server, body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()['error']['code'] == answer.status_code


# --- faults ----------------------------------------------------------------------------------


def _replicas() -> list[str]:
    names = ray.util.list_named_actors(all_namespaces=True)
    return sorted(
        n['name']
        for n in names
        if 'SERVE_REPLICA' in n['name'] and app.DEPLOYMENT_NAME in n['name']
    )


def test_a_replica_killed_under_load_costs_no_wrong_frame_and_the_service_recovers(
    server: str, client: RemoteBackend
) -> None:
    before = _replicas()
    assert len(before) == 2

    def robot(index: int) -> tuple[int, int]:
        good = failed = 0
        for frame in range(12):
            image = _frame(10 + index, frame)
            try:
                out = client.generate(image[None], ['depth map']).numpy()
            except BackendError:
                failed += 1  # a clear error is allowed; a wrong frame is not
                continue
            np.testing.assert_array_equal(out[0], expected_echo(image, 'depth map'))
            good += 1
        return good, failed

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(robot, index) for index in range(4)]
        time.sleep(0.5)
        ray.kill(ray.get_actor(before[0], namespace='serve'), no_restart=True)
        counts = [future.result() for future in running]
    print('good, failed per robot:', counts)
    assert sum(good for good, _ in counts) >= 24, counts
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (len(_replicas()) < 2 or before[0] in _replicas()):
        time.sleep(0.5)
    after = _replicas()
    assert len(after) == 2 and before[0] not in after, 'Serve replaced the killed replica'
    _assert_healthy(server)
    out = client.generate(_frame(9, 9)[None], ['depth map']).numpy()
    np.testing.assert_array_equal(out[0], expected_echo(_frame(9, 9), 'depth map'))


def test_a_client_timeout_is_a_clear_error_never_a_late_frame(server: str) -> None:
    options = RemoteOptions(url=server, token_env=TOKEN_ENV, timeout_s=0.01, max_retries=1)
    with RemoteBackend(options) as impatient, pytest.raises(BackendUnavailable, match='timed out'):
        impatient.generate(_frame(4, 1)[None], ['depth map'] * 16)
    _assert_healthy(server)
