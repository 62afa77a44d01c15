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
What the perception commands (``demo``, ``infer``, ``eval``) share.

Pipeline flags, intrinsics, the backend, a progress bar, and a Ctrl-C that finishes the current
frame before stopping.

Pipeline settings come in layers, each overriding the one before: the command's defaults, the
pipeline parameters of ``--config`` (a ROS 2 parameter file like ``config/perception.yaml``; its
``node`` section is ignored), the explicit flags
(``--classes mug,table`` is ``tasks.semantic_classes``), then ``--set key=value`` with the
dataclass's dotted names. ``config.from_mapping`` validates the result, so a bad key or value
fails before any work, naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
import contextlib
import copy
from dataclasses import dataclass
from pathlib import Path
import signal
import threading
from types import FrameType
from typing import Annotated, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
import typer
from vision_banana_ros.backends import Backend, create_backend
from vision_banana_ros.config import ConfigError, from_mapping, to_mapping
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.pipeline import PipelineConfig, plan_prompts
from vision_banana_ros.settings import merge_parameters, NODE_SECTION, read_parameter_file
from vision_banana_ros.synth.layout import Scene
import yaml

__all__ = [
    'BACKEND_CHOICES',
    'BackendOption',
    'ClassesOption',
    'ColoursOption',
    'ConfigOption',
    'DepthOption',
    'DeviceOption',
    'InstancesOption',
    'Intrinsics',
    'IntrinsicsOption',
    'NormalsOption',
    'PipelineFlags',
    'ReferOption',
    'SamplesOption',
    'SetOption',
    'StepsOption',
    'StopRequest',
    'ThreadsOption',
    'WeightsOption',
    'build_config',
    'graceful_stop',
    'open_backend',
    'parse_intrinsics',
    'progress',
    'split_list',
]

BACKEND_CHOICES = ('local', 'diffusers', 'gemini', 'remote', 'oracle')
"""What ``--backend`` takes: ``BackendConfig`` names, and the oracle for rendered scenes."""

_PIPELINE = 'Pipeline'
_TASKS = 'Tasks'

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        '--config',
        metavar='YAML',
        help='pipeline settings: a ROS 2 parameter file like config/perception.yaml',
        rich_help_panel=_PIPELINE,
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        '--set',
        metavar='KEY=VALUE',
        help='set one setting by its dotted name, value in YAML: '
        'tasks.semantic_classes=[mug,table], cleanup.depth_median_px=5 (repeatable; last wins)',
        rich_help_panel=_PIPELINE,
    ),
]
ClassesOption = Annotated[
    str | None,
    typer.Option(
        '--classes',
        metavar='LIST',
        help='semantic classes, comma separated: mug,table (tasks.semantic_classes)',
        rich_help_panel=_TASKS,
    ),
]
ColoursOption = Annotated[
    str | None,
    typer.Option(
        '--colours',
        metavar='LIST',
        help="one colour per class: red,'#00ff00' (tasks.semantic_colours; default: distinct)",
        rich_help_panel=_TASKS,
    ),
]
InstancesOption = Annotated[
    str | None,
    typer.Option(
        '--instances',
        metavar='LIST',
        help='classes whose instances are segmented: mug,bottle (tasks.instance_classes)',
        rich_help_panel=_TASKS,
    ),
]
ReferOption = Annotated[
    list[str] | None,
    typer.Option(
        '--refer',
        metavar='TEXT',
        help='a referring expression, e.g. "the red mug" (tasks.referring; repeatable)',
        rich_help_panel=_TASKS,
    ),
]
DepthOption = Annotated[
    bool | None,
    typer.Option('--depth/--no-depth', help='metric depth (tasks.depth)', rich_help_panel=_TASKS),
]
NormalsOption = Annotated[
    bool | None,
    typer.Option(
        '--normals/--no-normals', help='surface normals (tasks.normals)', rich_help_panel=_TASKS
    ),
]
BackendOption = Annotated[
    str | None,
    typer.Option(
        '--backend',
        metavar='NAME',
        help='generator: local (embedded VB-Mini), diffusers, gemini, remote, or oracle '
        '(ground truth of rendered scenes) (backend.name)',
        rich_help_panel=_PIPELINE,
    ),
]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        '--device',
        metavar='DEVICE',
        help='auto, cpu or cuda (backend.local.device, backend.diffusers.device)',
        rich_help_panel=_PIPELINE,
    ),
]
WeightsOption = Annotated[
    Path | None,
    typer.Option(
        '--weights',
        metavar='DIR',
        help='VB-Mini weights folder instead of the shipped ones (backend.local.weights)',
        rich_help_panel=_PIPELINE,
    ),
]
StepsOption = Annotated[
    int | None,
    typer.Option(
        '--steps', metavar='N', help='sampling steps, 1-4 (backend.local.steps)',
        rich_help_panel=_PIPELINE,
    ),
]  # fmt: skip
SamplesOption = Annotated[
    int | None,
    typer.Option(
        '--samples',
        metavar='K',
        help='samples per prompt for per-pixel spread (uncertainty.samples)',
        rich_help_panel=_PIPELINE,
    ),
]
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        '--threads',
        metavar='N',
        help='CPU threads for torch; 0 keeps its default (backend.local.threads)',
        rich_help_panel=_PIPELINE,
    ),
]
IntrinsicsOption = Annotated[
    str | None,
    typer.Option(
        '--intrinsics',
        metavar='FX,FY,CX,CY|YAML',
        help='pinhole intrinsics in pixels for the images, or a camera_calibration / CameraInfo '
        'YAML (image_width, image_height, camera_matrix.data); without them: no point cloud',
    ),
]


@dataclass(frozen=True)
class PipelineFlags:
    """
    The pipeline flags a perception command was given; None for a flag not given.

    :ivar config: ``--config`` YAML file.
    :ivar settings: ``--set`` items, 'dotted.key=value', in order.
    :ivar classes: ``--classes``, comma separated.
    :ivar colours: ``--colours``, comma separated.
    :ivar instances: ``--instances``, comma separated.
    :ivar refer: ``--refer`` expressions.
    :ivar depth: ``--depth`` / ``--no-depth``.
    :ivar normals: ``--normals`` / ``--no-normals``.
    :ivar backend: ``--backend``, one of ``BACKEND_CHOICES``.
    :ivar device: ``--device``.
    :ivar weights: ``--weights`` folder.
    :ivar steps: ``--steps``.
    :ivar samples: ``--samples``.
    :ivar threads: ``--threads``.
    """

    config: Path | None = None
    settings: tuple[str, ...] = ()
    classes: str | None = None
    colours: str | None = None
    instances: str | None = None
    refer: tuple[str, ...] | None = None
    depth: bool | None = None
    normals: bool | None = None
    backend: str | None = None
    device: str | None = None
    weights: Path | None = None
    steps: int | None = None
    samples: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.backend is not None and self.backend not in BACKEND_CHOICES:
            raise ValueError(
                f'--backend must be one of {", ".join(BACKEND_CHOICES)}, got {self.backend!r}'
            )
        if self.config is not None and not self.config.is_file():
            raise ValueError(f'--config {self.config}: no such file')
        if self.weights is not None and not self.weights.is_dir():
            raise ValueError(f'--weights {self.weights}: no such folder')

    @property
    def oracle(self) -> bool:
        """Tell whether ``--backend oracle`` was given."""
        return self.backend == 'oracle'

    @property
    def task_flags_given(self) -> bool:
        """Tell whether any flag that picks tasks was given (--classes, --depth, --set ...)."""
        task_flags = (self.classes, self.colours, self.instances, self.refer)
        return any(v is not None for v in (*task_flags, self.depth, self.normals, self.config))

    def assignments(self) -> list[tuple[str, object, str]]:
        """
        Turn the explicit flags into settings.

        :return: (dotted key, value, flag) for every flag given, in a fixed order.
        :raises ValueError: on an empty entry in a comma-separated list.
        """
        chosen: list[tuple[str, object, str]] = []
        weights = None if self.weights is None else str(self.weights)
        lists = (
            ('tasks.semantic_classes', self.classes, '--classes'),
            ('tasks.semantic_colours', self.colours, '--colours'),
            ('tasks.instance_classes', self.instances, '--instances'),
        )
        for key, text, flag in lists:
            if text is not None:
                chosen.append((key, list(split_list(text, flag)), flag))
        if self.refer is not None:
            chosen.append(('tasks.referring', list(self.refer), '--refer'))
        for key, value, flag in (
            ('tasks.depth', self.depth, '--depth'),
            ('tasks.normals', self.normals, '--normals'),
            ('backend.name', None if self.oracle else self.backend, '--backend'),
            ('backend.local.device', self.device, '--device'),
            ('backend.diffusers.device', self.device, '--device'),
            ('backend.local.weights', weights, '--weights'),
            ('backend.local.steps', self.steps, '--steps'),
            ('uncertainty.samples', self.samples, '--samples'),
            ('backend.local.threads', self.threads, '--threads'),
        ):  # fmt: skip
            if value is not None:
                chosen.append((key, value, flag))
        return chosen


@dataclass
class StopRequest:
    """
    Whether Ctrl-C asked a loop to stop after the item in hand.

    :ivar requested: set by the first Ctrl-C.
    """

    requested: bool = False


@contextlib.contextmanager
def graceful_stop(item: str = 'frame') -> Iterator[StopRequest]:
    """
    Turn the first Ctrl-C into a request to stop after the current item; the second aborts.

    The previous SIGINT handler is restored on exit. Off the main thread (where signals cannot
    be handled) the request is never set.

    :param item: what the loop works on, for the message ('image', 'frame').
    :return: a context manager yielding the ``StopRequest`` to poll.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True
        typer.echo(f'vision-banana: stopping after this {item} (Ctrl-C again to abort)', err=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def progress(total: int, verb: str, unit: str) -> Iterator[Callable[..., None]]:
    """
    Show a progress bar on stderr with the count, elapsed time and ETA.

    :param total: how many items the loop will do (0 if only known later).
    :param verb: what is being done, e.g. 'perceiving'.
    :param unit: what is counted, e.g. 'images'.
    :return: a context manager yielding ``advance(total=None)``, to call after each item
        (with the total, where it was not known at the start).
    """
    columns = (
        TextColumn(verb),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn('eta'),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(verb, total=total or None)

        def advance(new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, total=new_total)
            bar.advance(task)

        yield advance


def split_list(text: str, flag: str) -> tuple[str, ...]:
    """
    Split a comma-separated flag value; spaces around entries are dropped.

    :param text: e.g. 'mug, table'; '' gives ().
    :param flag: the flag's name, for the error message.
    :return: the entries.
    :raises ValueError: on an empty entry ('mug,,table').
    """
    if not text.strip():
        return ()
    entries = tuple(entry.strip() for entry in text.split(','))
    if not all(entries):
        raise ValueError(f'{flag}: empty entry in {text!r} (entries are separated by commas)')
    return entries


def build_config(flags: PipelineFlags, base: Mapping[str, Any] | None = None) -> PipelineConfig:
    """
    Layer the command's defaults, --config, the explicit flags and --set into one config.

    :param flags: the flags given.
    :param base: the command's defaults as a ``config.to_mapping`` of a ``PipelineConfig``;
        None for the dataclass defaults.
    :return: the validated config; its prompts are checked too.
    :raises ValueError: on an unreadable or ill-formed file, an unknown key, a bad value, or
        class names and expressions that cannot go into a prompt.
    """
    mapping = copy.deepcopy(dict(base) if base is not None else to_mapping(PipelineConfig()))
    if flags.config is not None:
        mapping = merge_parameters(mapping, _read_config(flags.config))
    for key, value, flag in flags.assignments():
        _assign(mapping, key, value, flag)
    for item in flags.settings:
        key, separator, text = item.partition('=')
        if not separator or not key.strip():
            raise ValueError(f'--set takes KEY=VALUE, e.g. tasks.depth=false; got {item!r}')
        _assign(mapping, key.strip(), _yaml_value(text, item), f'--set {key.strip()}')
    config = from_mapping(PipelineConfig, mapping, 'pipeline')
    plan_prompts(config.tasks)
    return config


def open_backend(
    config: PipelineConfig, flags: PipelineFlags, scenes: list[Scene] | None = None
) -> Backend:
    """
    Build the backend the flags and config name.

    :param config: the pipeline config (its backend section).
    :param flags: the flags (``--backend oracle`` picks the oracle).
    :param scenes: the rendered scenes the oracle may draw; None where there are none.
    :return: the backend.
    :raises ValueError: for the oracle without scenes.
    :raises BackendError: if the backend cannot be set up.
    """
    if flags.oracle:
        if not scenes:
            raise ValueError(
                '--backend oracle draws the ground truth of scenes the scene engine rendered; '
                'use it with demo (without images) or eval --synthetic'
            )
        from vision_banana_ros.backends.oracle import OracleBackend

        return OracleBackend(scenes)
    return create_backend(config.backend)


@dataclass(frozen=True)
class Intrinsics:
    """
    Intrinsics given on the command line, for images of one size or (from a file) scaled.

    :ivar fx: focal length along x in pixels.
    :ivar fy: focal length along y in pixels.
    :ivar cx: principal point column.
    :ivar cy: principal point row.
    :ivar size: (width, height) the file's calibration is for; None: any image.
    :ivar source: the flag's value, for messages.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    size: tuple[int, int] | None
    source: str

    def for_image(self, width: int, height: int, name: str) -> CameraIntrinsics:
        """
        Return the intrinsics of one image, scaling a calibration made at another resolution.

        :param width: image columns.
        :param height: image rows.
        :param name: the image, for the error message.
        :return: the intrinsics.
        :raises ValueError: if the calibration is for another aspect ratio.
        """
        if self.size is None:
            return CameraIntrinsics(self.fx, self.fy, self.cx, self.cy, width, height)
        calibrated = CameraIntrinsics(self.fx, self.fy, self.cx, self.cy, *self.size)
        if self.size == (width, height):
            return calibrated
        if self.size[0] * height != self.size[1] * width:
            raise ValueError(
                f'--intrinsics {self.source} is for {self.size[0]}x{self.size[1]} images; '
                f'{name} is {width}x{height}, another aspect ratio'
            )
        return calibrated.scaled_to(width, height)


def parse_intrinsics(text: str) -> Intrinsics:
    """
    Read --intrinsics: 'fx,fy,cx,cy' in pixels, or a calibration YAML file.

    The file may be camera_calibration's (``image_width``, ``image_height``,
    ``camera_matrix: {data: [9 numbers]}``) or a CameraInfo echo (``width``, ``height``,
    ``k``); distortion is not applied (give rectified images).

    :param text: the flag's value.
    :return: the intrinsics.
    :raises ValueError: naming what is wrong.
    """
    path = Path(text)
    if path.suffix.lower() in ('.yaml', '.yml', '.json') or path.is_file():
        return _intrinsics_file(path)
    parts = text.split(',')
    try:
        fx, fy, cx, cy = (float(p) for p in parts)
    except ValueError:
        raise ValueError(
            f'--intrinsics: expected fx,fy,cx,cy (4 numbers in pixels) or a calibration YAML '
            f'file, got {text!r}'
        ) from None
    try:
        CameraIntrinsics(fx, fy, cx, cy, 1, 1)
    except ValueError as err:
        raise ValueError(f'--intrinsics {text}: {err}') from err
    return Intrinsics(fx, fy, cx, cy, None, text)


def _read_config(path: Path) -> dict[str, Any]:
    """Read the pipeline's parameters from a ROS 2 parameter file (the node's are dropped)."""
    try:
        parameters = read_parameter_file(path)
    except ConfigError as err:
        raise ConfigError(f'--config {err}') from err
    parameters.pop(NODE_SECTION, None)
    return parameters


def _assign(mapping: dict[str, Any], dotted: str, value: object, flag: str) -> None:
    """Set a dotted key ('tasks.depth'; a leading 'pipeline.' is allowed) in nested mappings."""
    parts = dotted.split('.')
    if parts[0] == 'pipeline' and len(parts) > 1:
        parts = parts[1:]
    node = mapping
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None and part not in node:
            child = node[part] = {}  # from_mapping names the unknown key
        if not isinstance(child, dict):
            stop = depth + 1
            where = '.'.join(parts[:stop])
            raise ValueError(f'{flag}: {where} is a value, not a section')
        node = child
    last = parts[-1]
    if isinstance(node.get(last), dict):
        raise ValueError(f'{flag}: {dotted} is a section; set one of its keys ({dotted}.<key>)')
    if isinstance(node.get(last), list) and isinstance(value, str):
        value = list(split_list(value, flag))  # tasks.semantic_classes=mug,table
    node[last] = value


def _yaml_value(text: str, item: str) -> object:
    if not text.strip():
        return ''
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem = str(err).splitlines()[0]
        raise ValueError(f'--set {item!r}: the value is not YAML ({problem})') from err


def _intrinsics_file(path: Path) -> Intrinsics:
    if not path.is_file():
        raise ValueError(f'--intrinsics {path}: no such file')
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        problem = str(err).splitlines()[0]
        raise ValueError(f'--intrinsics {path}: not a readable YAML file ({problem})') from err
    if not isinstance(document, Mapping):
        raise ValueError(f'--intrinsics {path}: expected a mapping of calibration keys')
    if 'camera_matrix' in document:
        matrix = document['camera_matrix']
        k = matrix.get('data') if isinstance(matrix, Mapping) else None
        width, height = document.get('image_width'), document.get('image_height')
        names = 'image_width, image_height and camera_matrix.data'
    else:
        k, width, height = document.get('k'), document.get('width'), document.get('height')
        names = 'width, height and k'
    if k is None or width is None or height is None:
        raise ValueError(
            f'--intrinsics {path}: needs image_width, image_height and camera_matrix.data '
            f'(camera_calibration) or width, height and k (CameraInfo); missing some of {names}'
        )
    try:
        camera = CameraIntrinsics.from_camera_info(k, width, height)
    except ValueError as err:
        raise ValueError(f'--intrinsics {path}: {err}') from err
    size = (camera.width, camera.height)
    return Intrinsics(camera.fx, camera.fy, camera.cx, camera.cy, size, str(path))
