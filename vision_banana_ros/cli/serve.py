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

"""``vision-banana serve``: a generator backend over HTTP on Ray Serve, for robots to share."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import dataclasses
from ipaddress import ip_address
import os
from pathlib import Path
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from vision_banana_ros.backends import BackendUnavailable
from vision_banana_ros.serving.config import load_serve_config, ServeConfig

__all__ = ['SERVE_BACKENDS', 'serve', 'with_flags']

SERVE_BACKENDS = ('local', 'diffusers', 'gemini', 'echo')
"""What ``--backend`` takes: the generators a server can hold ('echo': the model-free test one)."""

_SERVER = 'Server'
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_GENERATOR = 'Generator'


def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            '--config', metavar='YAML', help='serving settings: the serve section of a YAML file'
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            '--backend',
            metavar='NAME',
            help='generator: local (VB-Mini), diffusers, gemini, or echo (no model, for tests)',
            rich_help_panel=_GENERATOR,
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            '--device', metavar='DEVICE', help='auto, cpu or cuda', rich_help_panel=_GENERATOR
        ),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            '--weights', metavar='DIR', help='VB-Mini weights folder', rich_help_panel=_GENERATOR
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            '--host',
            metavar='ADDR',
            help='address to bind (default 127.0.0.1)',
            rich_help_panel=_SERVER,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            '--port', metavar='N', help='TCP port (default 8000)', rich_help_panel=_SERVER
        ),
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(
            '--replicas',
            metavar='N',
            help='replicas, each with its own generator',
            rich_help_panel=_SERVER,
        ),
    ] = None,
    gpus: Annotated[
        float | None,
        typer.Option(
            '--gpus',
            metavar='G',
            help='GPUs per replica (0.5 packs two on one)',
            rich_help_panel=_SERVER,
        ),
    ] = None,
    max_batch_size: Annotated[
        int | None,
        typer.Option(
            '--max-batch-size',
            metavar='N',
            help='most requests merged into one generator call',
            rich_help_panel=_SERVER,
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            '--address',
            metavar='RAY',
            help="deploy to this Ray cluster ('auto', 'ray://head:10001') and return; "
            "stop it there with 'serve shutdown'",
            rich_help_panel=_SERVER,
        ),
    ] = None,
) -> None:
    """
    Serve a generator over HTTP for robots to share, on Ray Serve.

    Clients use the `remote` backend (`backend.name: remote`, `backend.remote.url`). The API:
    `POST /v1/generate` (one image and its prompts in, one image per prompt out) and
    `GET /v1/health`. Requests from all clients are batched into shared generator calls.

    The bearer token is read from the variable `token_env` names (`VISION_BANANA_TOKEN`);
    without one the server only binds a loopback address. Typical use:

        vision-banana serve --backend local --device cuda --replicas 2 --gpus 1

    Without `--address`, Ray starts on this machine and the server runs until Ctrl-C.
    """
    settings = load_serve_config(config) if config is not None else ServeConfig()
    settings = with_flags(
        settings,
        backend=backend,
        device=device,
        weights=weights,
        host=host,
        port=port,
        replicas=replicas,
        gpus=gpus,
        max_batch_size=max_batch_size,
    )
    _check_token(settings)
    try:
        from vision_banana_ros.serving import app
    except ImportError as err:
        raise BackendUnavailable(
            f'vision-banana serve needs Ray Serve: pip install "vision_banana_ros[serve]" ({err})'
        ) from err
    typer.echo(f'vision-banana: starting the {settings.generator_name} server ...', err=True)
    stop = threading.Event()
    try:
        url = app.start(settings, address)
        if address is not None:
            typer.echo(f'vision-banana: deployed to {address}, serving at {url}', err=True)
            return
        typer.echo(f'vision-banana: serving at {url} (Ctrl-C stops)', err=True)
        with _stop_on_signals(stop):
            while not stop.wait(1.0):
                pass
        typer.echo('vision-banana: stopping', err=True)
    finally:
        if address is None:
            app.shutdown()


def with_flags(
    config: ServeConfig,
    *,
    backend: str | None = None,
    device: str | None = None,
    weights: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    replicas: int | None = None,
    gpus: float | None = None,
    max_batch_size: int | None = None,
) -> ServeConfig:
    """
    Apply the command's flags over a config; a flag left None keeps the config's value.

    :param config: the config from ``--config`` or the defaults.
    :param backend: one of ``SERVE_BACKENDS``.
    :param device: the local and diffusers backends' device.
    :param weights: the local backend's weights folder.
    :param host: address to bind.
    :param port: TCP port.
    :param replicas: fixed replica count (turns autoscaling off).
    :param gpus: GPUs per replica.
    :param max_batch_size: most requests in one generator call.
    :return: the new, validated config.
    :raises ValueError: on a bad value, naming the flag.
    """
    if backend is not None and backend not in SERVE_BACKENDS:
        raise ValueError(f'--backend must be one of {", ".join(SERVE_BACKENDS)}, got {backend!r}')
    if weights is not None and not weights.is_dir():
        raise ValueError(f'--weights {weights}: no such folder')
    generator = config.backend
    echo = config.echo
    if backend is not None:
        echo = dataclasses.replace(echo, enabled=backend == 'echo')
        if backend != 'echo':
            generator = dataclasses.replace(generator, name=backend)
    if device is not None:
        generator = dataclasses.replace(
            generator,
            local=dataclasses.replace(generator.local, device=device),
            diffusers=dataclasses.replace(generator.diffusers, device=device),
        )
    if weights is not None:
        local = dataclasses.replace(generator.local, weights=str(weights))
        generator = dataclasses.replace(generator, local=local)
    changes: dict[str, object] = {'backend': generator, 'echo': echo}
    for name, value in (
        ('host', host), ('port', port), ('gpus_per_replica', gpus),
        ('max_batch_size', max_batch_size),
    ):  # fmt: skip
        if value is not None:
            changes[name] = value
    if replicas is not None:
        changes.update(replicas=replicas, max_replicas=0)
    if max_batch_size is not None:
        changes['max_ongoing_requests'] = max(config.max_ongoing_requests, max_batch_size)
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def _check_token(config: ServeConfig) -> None:
    """Refuse to serve beyond loopback without a token."""
    if config.token_env and os.environ.get(config.token_env, '').strip():
        return
    try:
        loopback = ip_address(config.host).is_loopback
    except ValueError:
        loopback = config.host == 'localhost'
    if not loopback:
        variable = f'${config.token_env}' if config.token_env else 'a token (serve.token_env)'
        raise ValueError(
            f'serving on {config.host} without a token lets anyone use the generator; set '
            f'{variable} or bind 127.0.0.1'
        )


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT (Ctrl-C) or SIGTERM instead of raising; restore handlers after."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {number: signal.signal(number, on_signal) for number in _SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
