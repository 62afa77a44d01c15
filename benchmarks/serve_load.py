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
Load and faults for ``vision-banana serve``: simulated robots on loopback, every answer checked.

Each robot is a thread with its own ``remote`` backend (one kept-alive connection pool) that
sends one frame at camera rate (``--rate-hz``; a frame that comes late is sent at once, never
queued) with two prompts. Every frame's image carries its robot and frame number in every pixel,
and the echo generator answers each prompt with the image XOR a key from the prompt and seed,
so each answer is checked against its own frame: **mismatched** (another frame's or wrong
pixels), **duplicated** (a frame's identity answered twice), **lost** (neither an answer nor an
error), **errors** (a clear ``BackendError``: allowed during faults, never silently wrong).

Scenarios (all on one local Ray instance, the server on 127.0.0.1):

- ``scaling``: echo generator costing ``--call-ms`` a call + ``--image-ms`` an image (a GPU-like
  cost: a fixed overhead per call that batching shares), one replica, N robots.
- ``batching``: the same at the largest N with ``max_batch_size`` 1 against 8.
- ``vbmini``: the shipped VB-Mini on this CPU (one torch thread), one replica, batch 1 and 8.
- ``faults``: two echo replicas under 8 robots: a replica killed (``ray.kill``), the
  application restarted (deleted and deployed again), one replica 10x slower, 64 clients that
  hang up mid-request, and 300 malformed requests; replica memory (RSS) before and after.

Run: ``.venv/bin/python benchmarks/serve_load.py`` (``--quick`` for shorter runs, ``--json`` for
one JSON object ``{metadata, results}``, ``--out FILE`` to write it to a file, away from Ray's
own messages); about 6 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import base64
from dataclasses import dataclass, field, replace
import datetime
import json
import os
import platform
import socket
import subprocess
import threading
import time
from typing import Any
import warnings

import numpy as np
import psutil
import requests
import torch
from vision_banana_ros.backends import BackendConfig, BackendError, LocalOptions, RemoteOptions
from vision_banana_ros.backends.remote import RemoteBackend
from vision_banana_ros.serving.config import EchoOptions, ServeConfig
from vision_banana_ros.serving.echo import expected_echo
from vision_banana_ros.serving.protocol import encode_png, encode_request, new_request_id

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import ray
    from ray import serve
    from vision_banana_ros.serving import app

PROMPTS = ('depth map', 'surface normals')
TOKEN_ENV = 'VB_BENCH_TOKEN'


@dataclass
class Tally:
    """What the robots of one run saw."""

    sent: int = 0
    ok: int = 0
    mismatched: int = 0
    duplicated: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)
    seen: set[tuple[int, int]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def frame_image(robot: int, frame: int, height: int, width: int) -> np.ndarray:
    """Return an (H, W, 3) uint8 image carrying its robot and frame number in every pixel."""
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = robot
    image[..., 1] = frame % 256
    image[..., 2] = (frame // 256) % 256
    return image


def robot_loop(
    url: str, robot: int, rate_hz: float, stop: threading.Event, tally: Tally,
    size: tuple[int, int], check: bool, timeout_s: float,
) -> None:  # fmt: skip
    """Send frames at camera rate until ``stop``; tally every answer."""
    options = RemoteOptions(url=url, token_env=TOKEN_ENV, timeout_s=timeout_s, max_retries=3)
    period = 1.0 / rate_hz
    with RemoteBackend(options) as backend:
        frame = 0
        next_at = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            next_at = max(next_at + period, time.monotonic())
            image = frame_image(robot, frame, *size)
            seeds = [frame, frame + 1]
            start = time.perf_counter()
            with tally.lock:
                tally.sent += 1
            try:
                out = backend.generate(image[None], list(PROMPTS), seeds).numpy()
            except BackendError as err:
                kind = type(err).__name__
                with tally.lock:
                    tally.errors += 1
                    tally.error_kinds[kind] = tally.error_kinds.get(kind, 0) + 1
                frame += 1
                continue
            latency_ms = (time.perf_counter() - start) * 1000
            good = not check or all(
                np.array_equal(out[k], expected_echo(image, p, s))
                for k, (p, s) in enumerate(zip(PROMPTS, seeds, strict=True))
            )
            answered = (robot, frame)
            with tally.lock:
                tally.latencies_ms.append(latency_ms)
                if not good:
                    tally.mismatched += 1
                elif answered in tally.seen:
                    tally.duplicated += 1
                else:
                    tally.ok += 1
                    tally.seen.add(answered)
            frame += 1


def run_load(
    url: str, robots: int, seconds: float, rate_hz: float, size: tuple[int, int] = (96, 128),
    check: bool = True, during: Any = None, timeout_s: float = 10.0,
) -> dict[str, Any]:  # fmt: skip
    """Run N robots for ``seconds`` (calling ``during()`` half way); return the figures."""
    tally = Tally()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=robot_loop,
            args=(url, index, rate_hz, stop, tally, size, check, timeout_s),
            daemon=True,
        )
        for index in range(robots)
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    note = None
    if during is not None:
        time.sleep(seconds / 3)
        note = during()
    time.sleep(max(0.0, start + seconds - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.monotonic() - start
    latencies = np.array(tally.latencies_ms) if tally.latencies_ms else np.array([np.nan])
    answered = tally.ok + tally.mismatched + tally.duplicated
    return {
        'robots': robots,
        'rate_hz': rate_hz,
        'seconds': round(elapsed, 1),
        'sent': tally.sent,
        'answered_per_s': round(answered / elapsed, 1),
        'p50_ms': round(float(np.percentile(latencies, 50)), 1),
        'p99_ms': round(float(np.percentile(latencies, 99)), 1),
        'ok': tally.ok,
        'mismatched': tally.mismatched,
        'duplicated': tally.duplicated,
        'lost': tally.sent - answered - tally.errors,
        'errors': tally.errors,
        'error_kinds': tally.error_kinds,
        'note': note,
    }


def replica_rss_mb() -> list[float]:
    """Return the resident memory of every replica process, in MB."""
    sizes = []
    for process in psutil.process_iter(['cmdline']):
        command = ' '.join(process.info['cmdline'] or [])
        if 'ServeReplica:vision-banana' in command:
            sizes.append(round(process.memory_info().rss / 2**20, 1))
    return sorted(sizes)


def kill_one_replica() -> str:
    """Kill one replica actor, as a crash would; return which."""
    names = [
        n['name'] for n in ray.util.list_named_actors(all_namespaces=True)
        if 'SERVE_REPLICA' in n['name']
    ]  # fmt: skip
    ray.kill(ray.get_actor(sorted(names)[0], namespace='serve'), no_restart=True)
    return f'killed {sorted(names)[0].rsplit("#", 1)[-1]}'


def hang_ups(url: str, count: int) -> str:
    """Open ``count`` requests and close each socket before its answer."""
    host, port = url.removeprefix('http://').split(':')
    image = frame_image(250, 0, 96, 128)
    body = encode_request(image, list(PROMPTS), None, new_request_id())
    head = (
        f'POST /v1/generate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n'
        f'Authorization: Bearer {os.environ[TOKEN_ENV]}\r\nContent-Length: {len(body)}\r\n\r\n'
    ).encode()
    for index in range(count):
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(head + (body if index % 2 else body[: len(body) // 2]))
    return f'{count} clients hung up mid-request'


def bad_input_flood(url: str, count: int) -> dict[str, Any]:
    """Send malformed requests; return the statuses seen and the replicas' RSS around them."""
    png = encode_png(frame_image(251, 0, 96, 128))
    header = png[:33]
    huge = bytearray(header)
    huge[16:24] = (20000).to_bytes(4, 'big') * 2
    document = json.loads(encode_request(frame_image(251, 0, 96, 128), ['depth'], None, 'x'))
    bodies = []
    for index in range(count):
        kind = index % 3
        changed = dict(document)
        if kind == 0:
            changed['image'] = base64.b64encode(png[: len(png) // 2]).decode()
        elif kind == 1:
            changed['image'] = base64.b64encode(bytes(huge) + png[33:]).decode()
        else:
            changed['prompts'] = ['x' * 100_000]
        bodies.append(json.dumps(changed).encode())
    before = replica_rss_mb()
    headers = {
        'Authorization': f'Bearer {os.environ[TOKEN_ENV]}',
        'Content-Type': 'application/json',
    }
    statuses: dict[int, int] = {}
    with requests.Session() as session:
        for body in bodies:
            status = session.post(url + '/v1/generate', data=body, headers=headers).status_code
            statuses[status] = statuses.get(status, 0) + 1
    healthy = requests.get(url + '/v1/health', timeout=10).status_code == 200
    return {'statuses': statuses, 'rss_mb_before': before, 'rss_mb_after': replica_rss_mb(),
            'healthy_after': healthy}  # fmt: skip


def restart_app(config: ServeConfig) -> Any:
    """Return a callable that deletes the application and deploys it again."""

    def restart() -> str:
        start = time.monotonic()
        serve.delete(app.APP_NAME)
        app.start(config)
        return f'restarted in {time.monotonic() - start:.1f} s'

    return restart


def metadata() -> dict[str, Any]:
    """Date, commit, machine and versions."""
    commit = subprocess.run(
        ['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        'date': datetime.datetime.now().isoformat(timespec='seconds'),
        'commit': commit,
        'machine': f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores',
        'python': platform.python_version(),
        'ray': ray.__version__,
        'torch': torch.__version__,
    }


def main() -> None:
    """Run the scenarios and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='shorter runs')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--out', default='', help='also write the JSON object to this file')
    parser.add_argument('--rate-hz', type=float, default=10.0, help='camera rate per robot')
    parser.add_argument('--call-ms', type=float, default=40.0, help='echo cost per call')
    parser.add_argument('--image-ms', type=float, default=2.0, help='echo cost per image')
    parser.add_argument('--robots', default='1,4,16,32', help='robot counts for scaling')
    parser.add_argument('--only', default='scaling,batching,vbmini,faults')
    args = parser.parse_args()
    seconds = 5.0 if args.quick else 12.0
    counts = [int(n) for n in args.robots.split(',')]
    scenarios = set(args.only.split(','))
    os.environ.setdefault(TOKEN_ENV, 'bench-token-' + new_request_id())
    port = 18200
    echo = EchoOptions(enabled=True, call_s=args.call_ms / 1000, image_s=args.image_ms / 1000)
    base = ServeConfig(
        port=port, token_env=TOKEN_ENV, cpus_per_replica=0.25, max_batch_size=8,
        max_ongoing_requests=16, batch_wait_timeout_s=0.005, echo=echo,
    )  # fmt: skip
    ray.init(include_dashboard=False, log_to_driver=False)
    results: dict[str, Any] = {}
    try:
        url = app.start(base)
        if 'scaling' in scenarios:
            results['scaling'] = [run_load(url, n, seconds, args.rate_hz) for n in counts]
        if 'batching' in scenarios:
            most = max(counts)
            unbatched = replace(base, max_batch_size=1)
            app.start(unbatched)
            results['batching'] = {'batch_1': run_load(url, most, seconds, args.rate_hz)}
            app.start(base)
            results['batching']['batch_8'] = run_load(url, most, seconds, args.rate_hz)
        if 'vbmini' in scenarios:
            model = replace(
                base, echo=EchoOptions(), cpus_per_replica=1.0,
                backend=BackendConfig(local=LocalOptions(device='cpu', threads=1)),
            )  # fmt: skip
            results['vbmini'] = {}
            for batch in (1, 8):
                app.start(replace(model, max_batch_size=batch))
                results['vbmini'][f'batch_{batch}'] = run_load(
                    url, 8, seconds * 2, args.rate_hz, size=(128, 160), check=False,
                    timeout_s=30.0,
                )  # fmt: skip
        if 'faults' in scenarios:
            two = replace(base, replicas=2)
            app.start(two)
            faults: dict[str, Any] = {}
            faults['replica_killed'] = run_load(
                url, 8, seconds, args.rate_hz, during=kill_one_replica
            )
            time.sleep(5)
            faults['app_restarted'] = run_load(
                url, 8, seconds * 2, args.rate_hz, during=restart_app(two)
            )
            slow = replace(two, echo=replace(echo, slow_replica=0, slow_factor=10.0))
            app.start(slow)
            faults['slow_replica'] = run_load(url, 8, seconds, args.rate_hz)
            app.start(two)
            faults['hang_ups'] = run_load(
                url, 8, seconds, args.rate_hz, during=lambda: hang_ups(url, 64)
            )
            faults['rss_mb_after_hang_ups'] = replica_rss_mb()
            faults['bad_input'] = bad_input_flood(url, 300)
            results['faults'] = faults
    finally:
        app.shutdown()
    report = {'metadata': metadata(), 'results': results}
    print(json.dumps(report, indent=None if args.json else 1))
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as file:
            json.dump(report, file, indent=1)


if __name__ == '__main__':
    main()
