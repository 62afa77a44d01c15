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
Speed and memory of the perception stack beside its peers, stage by stage, without ROS.

``run_bench`` times one camera frame through the ``Pipeline`` (letterbox, generator, decoding,
clean-up, resizing back to the camera, smoothing, the labelled cloud: ``timings_ms``), then what
the node does with the result (``outputs.frame_messages`` with rosbags' message classes, then
CDR bytes), and the codecs plus cloud packing at the camera's size. In the same run, on the same
device and dtype, it times the peers' architectures with random weights built from their
configs (speed does not depend on weight values; nothing is downloaded): a Stable Diffusion 2
UNet and VAE doing one-step generative perception (encode, ONE UNet step, decode: the Lotus /
E2E-FT class) and Depth Anything V2 Small. Ratios are the peer's median time over ours.

Every figure carries the ``Machine`` it ran on. Timings: warm-up calls first, then ``repeats``
timed calls, CUDA synchronised inside each timed region (kornia's benchmark contract); p50 and
p99 are percentiles of those calls, frames/s is 1000 / mean ms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
import contextlib
from dataclasses import asdict, dataclass, field
import datetime
import importlib
import logging
import os
from pathlib import Path
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import torch
from vision_banana_ros.backends.base import Backend
from vision_banana_ros.codecs.depth import decode_depth
from vision_banana_ros.codecs.normals import decode_normals
from vision_banana_ros.codecs.segmentation import decode_semantic
from vision_banana_ros.geometry import organised_cloud, pack_pointcloud2
from vision_banana_ros.pipeline import CameraFrame, PerceptionResult, Pipeline

__all__ = [
    'PEERS',
    'BenchConfig',
    'BenchReport',
    'Machine',
    'PeerUnavailable',
    'Ratio',
    'ReplayBackend',
    'Row',
    'depth_anything_size',
    'describe_machine',
    'node_output_timer',
    'parse_size',
    'peak_memory',
    'run_bench',
    'summarise',
    'time_calls',
]

_LOG = logging.getLogger(__name__)

PEERS = ('sd2', 'depth-anything-v2-small')
"""Peer architectures ``--peers`` may name."""

BENCH_EXTRA = "pip install 'vision_banana_ros[bench]'"
"""How to install what the peers need."""

SD2_UNET_CONFIG: dict[str, Any] = {
    'sample_size': 96,
    'in_channels': 4,
    'out_channels': 4,
    'down_block_types': ('CrossAttnDownBlock2D',) * 3 + ('DownBlock2D',),
    'up_block_types': ('UpBlock2D',) + ('CrossAttnUpBlock2D',) * 3,
    'block_out_channels': (320, 640, 1280, 1280),
    'layers_per_block': 2,
    'attention_head_dim': (5, 10, 20, 20),
    'cross_attention_dim': 1024,
    'use_linear_projection': True,
    'act_fn': 'silu',
    'norm_num_groups': 32,
}
"""stabilityai/stable-diffusion-2's ``unet/config.json`` (865.9 M parameters)."""

SD2_VAE_CONFIG: dict[str, Any] = {
    'in_channels': 3,
    'out_channels': 3,
    'down_block_types': ('DownEncoderBlock2D',) * 4,
    'up_block_types': ('UpDecoderBlock2D',) * 4,
    'block_out_channels': (128, 256, 512, 512),
    'layers_per_block': 2,
    'latent_channels': 4,
    'sample_size': 768,
}
"""stabilityai/stable-diffusion-2's ``vae/config.json`` (83.7 M parameters, latent 1/8, 4 ch)."""

SD2_TEXT_TOKENS, SD2_TEXT_DIM = 77, 1024
"""The UNet's cross-attention context: one encoded (fixed) prompt of OpenCLIP ViT-H."""

DEPTH_ANYTHING_SMALL: dict[str, Any] = {
    'backbone': {
        'hidden_size': 384,
        'num_hidden_layers': 12,
        'num_attention_heads': 6,
        'patch_size': 14,
        'image_size': 518,
        'out_features': ['stage3', 'stage6', 'stage9', 'stage12'],
        'reshape_hidden_states': False,
        'apply_layernorm': True,
    },
    'reassemble_hidden_size': 384,
    'neck_hidden_sizes': [48, 96, 192, 384],
    'fusion_hidden_size': 64,
    'reassemble_factors': [4, 2, 1, 0.5],
    'depth_estimation_type': 'relative',
}
"""depth-anything/Depth-Anything-V2-Small-hf's config (24.8 M parameters, DINOv2-S backbone)."""

DEPTH_ANYTHING_SIDE = 518
"""Depth Anything V2's input short side in pixels (a multiple of its 14-pixel patches)."""


class PeerUnavailable(RuntimeError):
    """A peer's library is not installed."""


@dataclass(frozen=True)
class Machine:
    """
    What a figure was measured on.

    :ivar cpu: CPU model name.
    :ivar cpu_count: logical CPUs the process may use.
    :ivar torch_threads: torch's intra-op threads.
    :ivar device: 'cpu' or 'cuda'.
    :ivar gpu: the CUDA device's name; None on the CPU.
    :ivar torch: torch version.
    :ivar numpy: numpy version.
    :ivar python: Python version.
    :ivar system: OS and kernel.
    :ivar commit: the source's git commit (with '+dirty' for local changes); None if unknown.
    :ivar date: UTC time the run started, ISO 8601.
    :ivar load_average: the system's 1-minute load average at the start (other work on the
        machine slows every figure).
    """

    cpu: str
    cpu_count: int
    torch_threads: int
    device: str
    gpu: str | None
    torch: str
    numpy: str
    python: str
    system: str
    commit: str | None
    date: str
    load_average: float

    def line(self) -> str:
        """
        Describe the machine in one line.

        :return: e.g. 'AMD EPYC, 2 CPUs, 2 torch threads, cpu, torch 2.13.0+cpu, load 0.4'.
        """
        where = self.device if self.gpu is None else f'cuda ({self.gpu})'
        return (
            f'{self.cpu}, {self.cpu_count} CPUs, {self.torch_threads} torch threads, {where}, '
            f'torch {self.torch}, load {self.load_average:.1f}, {self.date}, '
            f'commit {self.commit or "unknown"}'
        )


def describe_machine(device: torch.device) -> Machine:
    """
    Describe this machine for a device.

    :param device: where the figures are taken.
    :return: the machine.
    """
    gpu = torch.cuda.get_device_name(device) if device.type == 'cuda' else None
    return Machine(
        cpu=_cpu_model(),
        cpu_count=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else 0,
        torch_threads=torch.get_num_threads(),
        device=device.type,
        gpu=gpu,
        torch=torch.__version__,
        numpy=np.__version__,
        python=platform.python_version(),
        system=f'{platform.system()} {platform.release()}',
        commit=_commit(),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        load_average=os.getloadavg()[0],
    )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path('/proc/cpuinfo').read_text(encoding='utf-8').splitlines():
            if line.startswith('model name'):
                return line.partition(':')[2].strip()
    return platform.processor() or platform.machine()


def _commit() -> str | None:
    """Return the git commit of this source tree, '+dirty' with local changes; None outside."""
    try:
        head = _git('rev-parse', '--short=12', 'HEAD')
        dirty = _git('status', '--porcelain', '--untracked-files=no')
    except (OSError, subprocess.SubprocessError):
        return None
    return f'{head}+dirty' if dirty else head or None


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ['git', *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class Row:
    """
    One timed thing.

    :ivar name: e.g. 'ours.generate', 'sd2.unet_step'.
    :ivar what: what was timed, in words.
    :ivar size: 'HxW' of the images it worked on.
    :ivar p50_ms: median time of one call.
    :ivar p99_ms: 99th percentile (the slowest call for fewer than 100 repeats).
    :ivar mean_ms: mean time of one call.
    :ivar fps: calls per second, 1000 / ``mean_ms``.
    :ivar repeats: timed calls.
    """

    name: str
    what: str
    size: str
    p50_ms: float
    p99_ms: float
    mean_ms: float
    fps: float
    repeats: int

    def to_dict(self) -> dict[str, Any]:
        """
        Give the row as JSON-ready values.

        :return: field -> value.
        """
        return asdict(self)


def summarise(name: str, samples_ms: Sequence[float], what: str = '', size: str = '') -> Row:
    """
    Reduce timed calls to a row.

    :param name: the row's name.
    :param samples_ms: one time per call, in ms (at least one).
    :param what: what was timed.
    :param size: 'HxW' worked on.
    :return: the row.
    :raises ValueError: without samples.
    """
    if not samples_ms:
        raise ValueError(f'{name}: no timed calls')
    values = np.asarray(samples_ms, dtype=np.float64)
    mean = float(values.mean())
    return Row(
        name=name,
        what=what,
        size=size,
        p50_ms=float(np.percentile(values, 50)),
        p99_ms=float(np.percentile(values, 99)),
        mean_ms=mean,
        fps=1e3 / mean if mean > 0 else float('inf'),
        repeats=len(values),
    )


def time_calls(
    call: Callable[[], object], repeats: int, warmup: int, device: torch.device
) -> list[float]:
    """
    Time a call: warm-up calls first, then ``repeats`` timed ones, the device synchronised.

    :param call: what to time.
    :param repeats: timed calls (>= 1).
    :param warmup: untimed calls before them.
    :param device: the device whose queued work each timing includes.
    :return: one time per timed call, in ms.
    """
    sync = _synchroniser(device)
    for _ in range(warmup):
        call()
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        sync()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def _synchroniser(device: torch.device) -> Callable[[], None]:
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def peak_memory(device: torch.device) -> dict[str, float]:
    """
    Report the process's peak memory so far.

    :param device: for CUDA, also the peak of tensors allocated on it.
    :return: 'peak_rss_mib' (the process's peak resident set, Linux ``ru_maxrss``) and, on
        CUDA, 'peak_cuda_mib' (``torch.cuda.max_memory_allocated``).
    """
    scale = 1024.0 if sys.platform != 'darwin' else 1024.0 * 1024.0  # KiB on Linux, B on macOS
    memory = {'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale}
    if device.type == 'cuda':
        memory['peak_cuda_mib'] = torch.cuda.max_memory_allocated(device) / 2**20
    return memory


def parse_size(text: str, flag: str) -> tuple[int, int]:
    """
    Read an image size written 'WxH' (as cameras state it: 640x480).

    :param text: e.g. '640x480'.
    :param flag: the flag's name, for the error message.
    :return: (H, W).
    :raises ValueError: if it is not two positive integers joined by 'x'.
    """
    width, sep, height = text.strip().lower().partition('x')
    if not (sep and width.isdigit() and height.isdigit() and int(width) and int(height)):
        raise ValueError(f'{flag} takes WIDTHxHEIGHT in pixels, e.g. 640x480; got {text!r}')
    return int(height), int(width)


def depth_anything_size(camera_size: tuple[int, int]) -> tuple[int, int]:
    """
    Give Depth Anything V2's input size for a camera: short side 518, the camera's aspect.

    :param camera_size: (H, W) of the camera.
    :return: (H, W), each a multiple of 14 (518x686 for a 480x640 camera).
    """
    height, width = camera_size
    patch = DEPTH_ANYTHING_SMALL['backbone']['patch_size']
    short, long_ = sorted((height, width))
    other = max(patch, int(DEPTH_ANYTHING_SIDE * long_ / short / patch + 0.5) * patch)
    return (DEPTH_ANYTHING_SIDE, other) if height <= width else (other, DEPTH_ANYTHING_SIDE)


class ReplayBackend(Backend):
    """
    Answers each call with the next of the generator outputs it was given, in turn.

    Everything but the network runs as with the real generator: the pipeline, the node's
    messages. For the pipeline's own cost, and for memory over thousands of frames.
    """

    name = 'replay'

    def __init__(
        self,
        outputs: Sequence[torch.Tensor],
        device: torch.device | str = 'cpu',
        resolution: tuple[int, int] | None = None,
    ) -> None:
        """
        Hold the outputs.

        :param outputs: (P, h, w, 3) uint8 images, one set per call (P: the prompts a call
            sends), played in turn and from the start again.
        :param device: where the images are handed out.
        :param resolution: the (h, w) the pipeline should letterbox to; None: the pipeline's
            ``model_height``/``model_width`` or the camera's size.
        :raises ValueError: without outputs.
        """
        if not outputs:
            raise ValueError('ReplayBackend needs at least one set of generator outputs')
        self._device = torch.device(device)
        self.outputs = [images.to(self._device) for images in outputs]
        self._resolution = resolution
        self.calls = 0

    @property
    def device(self) -> torch.device:
        """Return where the images are handed out."""
        return self._device

    @property
    def resolution(self) -> tuple[int, int] | None:
        """Return the (h, w) frames are letterboxed to, if fixed."""
        return self._resolution

    @property
    def description(self) -> str:
        """Describe it, e.g. 'replay (4 recorded outputs)'."""
        return f'replay ({len(self.outputs)} recorded outputs)'

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        out = self.outputs[self.calls % len(self.outputs)]
        self.calls += 1
        return out


@dataclass(frozen=True)
class BenchConfig:
    """
    What ``run_bench`` measures.

    :ivar repeats: timed frames through our stack.
    :ivar warmup: untimed frames before them.
    :ivar peers: peer architectures to time (``PEERS`` names); () for none.
    :ivar peer_repeats: timed calls per peer (the SD2 UNet takes seconds on a CPU).
    :ivar peer_warmup: untimed calls per peer.
    :ivar peer_size: (H, W) the SD2 peer runs at; None for our model's resolution.
    :ivar messages: also build the node's messages and their CDR bytes (needs rosbags).
    """

    repeats: int = 20
    warmup: int = 3
    peers: tuple[str, ...] = PEERS
    peer_repeats: int = 3
    peer_warmup: int = 1
    peer_size: tuple[int, int] | None = None
    messages: bool = True

    def __post_init__(self) -> None:
        for name in ('repeats', 'peer_repeats'):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be an integer >= 1, got {value!r}')
        for name in ('warmup', 'peer_warmup'):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'{name} must be an integer >= 0, got {value!r}')
        unknown = [p for p in self.peers if p not in PEERS]
        if unknown:
            raise ValueError(f'unknown peers {unknown}; known: {", ".join(PEERS)}')
        if self.peer_size is not None and (
            min(self.peer_size) < 8 or any(s % 8 for s in self.peer_size)
        ):
            raise ValueError(
                f'peer_size must be multiples of 8 (the VAE downsamples 8x), got {self.peer_size}'
            )


@dataclass(frozen=True)
class Ratio:
    """
    How much faster we are than a peer: the peer's median time over ours.

    :ivar name: e.g. 'sd2.unet_step / ours.generate'.
    :ivar what: the comparison, in words.
    :ivar value: peer p50 / our p50 (> 1: we are faster).
    :ivar target: the issue's target for it, or None.
    """

    name: str
    what: str
    value: float
    target: float | None = None

    @property
    def met(self) -> bool | None:
        """Say whether the target is reached; None without a target."""
        return None if self.target is None else self.value >= self.target

    def to_dict(self) -> dict[str, Any]:
        """
        Give the ratio as JSON-ready values.

        :return: field -> value, with 'met'.
        """
        return {**asdict(self), 'met': self.met}


@dataclass
class BenchReport:
    """
    Everything one run measured.

    :ivar machine: where it ran.
    :ivar setup: what ran: backend, tasks, prompts, sizes, dtype, repeats.
    :ivar rows: the timings, ours first.
    :ivar ratios: peers over ours.
    :ivar memory: peak memory after our stack ('ours.*') and after each peer (the process's
        resident peak only grows; the CUDA peak is each peer's own).
    :ivar notes: what was skipped and why, and other caveats.
    """

    machine: Machine
    setup: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def row(self, name: str) -> Row | None:
        """
        Find a row by name.

        :param name: e.g. 'ours.generate'.
        :return: the row, or None if it was not measured.
        """
        return next((row for row in self.rows if row.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """
        Give the report as one JSON object.

        :return: {'metadata': {machine, setup, memory, notes}, 'results': rows, 'ratios': ...}.
        """
        return {
            'metadata': {
                'machine': asdict(self.machine),
                'setup': self.setup,
                'memory': self.memory,
                'notes': list(self.notes),
            },
            'results': [row.to_dict() for row in self.rows],
            'ratios': [ratio.to_dict() for ratio in self.ratios],
        }

    def table(self) -> str:
        """
        Lay the report out as text: timings, ratios, memory, machine.

        :return: the lines, joined.
        """
        lines = [f'{"stage":<34} {"size":>9} {"p50 ms":>9} {"p99 ms":>9} {"frames/s":>9}  what']
        for row in self.rows:
            lines.append(
                f'{row.name:<34} {row.size:>9} {row.p50_ms:9.2f} {row.p99_ms:9.2f} '
                f'{row.fps:9.2f}  {row.what}'
            )
        if self.ratios:
            lines.append('')
            lines.append('ours vs peers (peer p50 / our p50; > 1: ours is faster):')
            for ratio in self.ratios:
                verdict = ''
                if ratio.target is not None:
                    verdict = f'  target >= {ratio.target:g}: {"met" if ratio.met else "MISSED"}'
                lines.append(f'  {ratio.value:8.2f}x  {ratio.what}{verdict}')
        if self.memory:
            lines.append('')
            lines.append(
                'peak memory: '
                + ', '.join(f'{key} {value:.0f} MiB' for key, value in self.memory.items())
            )
        lines += [f'note: {note}' for note in self.notes]
        lines.append(f'machine: {self.machine.line()}')
        return '\n'.join(lines)


def run_bench(
    pipeline: Pipeline,
    frame: CameraFrame,
    config: BenchConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """
    Time our stack on one camera frame, then the peers on the same device and dtype.

    :param pipeline: the pipeline to time (its backend is the generator timed).
    :param frame: the camera frame (with intrinsics, for the cloud).
    :param config: what to measure; None for the defaults.
    :param progress: called with a short message before each part (e.g. to print it).
    :return: the report.
    """
    config = config or BenchConfig()
    say = progress or _LOG.info
    device = pipeline.backend.device
    height, width = frame.rgb.shape[:2]
    model_size = pipeline.letterbox((height, width)).model_size
    dtype = getattr(getattr(pipeline.backend, 'generator', None), 'dtype', torch.float32)
    report = BenchReport(
        machine=describe_machine(device),
        setup={
            'backend': pipeline.backend.description,
            'camera_size': f'{height}x{width}',
            'model_size': f'{model_size[0]}x{model_size[1]}',
            'prompts': [p.text for p in pipeline.prompts],
            'tasks': [p.spec.task for p in pipeline.prompts],
            'samples': pipeline.config.uncertainty.samples,
            'smoothing': pipeline.config.smoothing.enabled,
            'dtype': str(dtype).removeprefix('torch.'),
            'repeats': config.repeats,
            'warmup': config.warmup,
            'peer_repeats': config.peer_repeats,
        },
    )
    say(f'timing our stack: {config.repeats} frames after {config.warmup} warm-up')
    report.rows += _time_ours(pipeline, frame, config, report)
    report.memory.update({f'ours.{k}': v for k, v in peak_memory(device).items()})
    run = _PeerRun(
        device,
        dtype,
        config.peer_size or model_size,
        (height, width),
        config.peer_repeats,
        config.peer_warmup,
    )
    for peer in config.peers:
        say(f'timing peer {peer}: {run.repeats} calls after {run.warmup} warm-up')
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)  # each peer's own CUDA peak
        try:
            rows = _PEER_TIMERS[peer](run)
        except PeerUnavailable as err:
            report.notes.append(f'{peer} skipped: {err}')
            continue
        report.rows += rows
        report.memory.update({f'{peer}.{k}': v for k, v in peak_memory(device).items()})
    report.ratios = _ratios(report)
    return report


_STAGES = {
    'letterbox': 'scale and pad the camera image to the model size',
    'generate': 'the generator: one batched call for every prompt',
    'decode': 'colours -> depth, normals, labels (model size)',
    'cleanup': 'median depth, normal smoothing, mask clean-up',
    'resize': 'back to the camera size (edge-aware)',
    'smooth': 'temporal smoothing at the model resolution (TemporalSmoother.update)',
    'cloud': 'labelled organised point cloud (arrays)',
    'other': 'the rest of Pipeline.process',
    'total': 'Pipeline.process, end to end',
}


def _time_ours(
    pipeline: Pipeline, frame: CameraFrame, config: BenchConfig, report: BenchReport
) -> list[Row]:
    """Time the pipeline stage by stage, the node's messages, and the codecs at camera size."""
    height, width = frame.rgb.shape[:2]
    camera = f'{height}x{width}'
    model = report.setup['model_size']
    messages = node_output_timer() if config.messages else None
    if messages is None and config.messages:
        report.notes.append(
            f'message stages skipped: rosbags is not installed ({BENCH_EXTRA} or the test extra)'
        )
    laps: dict[str, list[float]] = {}
    result: PerceptionResult | None = None
    for index in range(config.warmup + config.repeats):
        result = pipeline.process(frame)
        extra = messages(result, frame) if messages is not None else {}
        if index < config.warmup:
            continue
        stages = {**result.timings_ms, **extra}
        stages['frame'] = result.timings_ms['total'] + sum(extra.values())
        for stage, value in stages.items():
            laps.setdefault(stage, []).append(value)
    assert result is not None
    sizes = dict.fromkeys(('letterbox', 'generate', 'decode', 'cleanup', 'smooth'), model)
    whats = {
        **_STAGES,
        'messages': "the node's messages (outputs.frame_messages, rosbags classes)",
        'cdr': 'the messages serialised to CDR bytes',
        'frame': 'camera frame to message bytes: Pipeline.process + messages + CDR',
    }
    order = list(whats)
    rows = [
        summarise(f'ours.{stage}', laps[stage], whats.get(stage, stage), sizes.get(stage, camera))
        for stage in sorted(laps, key=lambda s: order.index(s) if s in order else len(order))
    ]
    codecs = _codecs_at_camera_size(pipeline, result, frame)
    if codecs is not None:
        samples = time_calls(codecs, config.repeats, min(config.warmup, 1), torch.device('cpu'))
        rows.append(
            summarise(
                'ours.decode_and_pack',
                samples,
                'depth + normals + semantic decoded at camera size, cloud built and packed '
                '(the PointCloud2 layout)',
                camera,
            )
        )
    return rows


def node_output_timer() -> Callable[[PerceptionResult, CameraFrame], dict[str, float]] | None:
    """
    Make what the node does with a result, timed: build its messages, serialise them to CDR.

    :return: a function of a result and its camera frame giving {'messages': ms, 'cdr': ms}
        (the node's default topics, rosbags' message classes); None without rosbags.
    """
    try:
        from vision_banana_ros import messages, outputs, rosbag_types
    except ImportError:
        return None
    from vision_banana_ros.settings import NodeConfig

    store = rosbag_types.typestore('jazzy')
    types = messages.MessageTypes.from_typestore(store)
    node = NodeConfig()

    def build(result: PerceptionResult, frame: CameraFrame) -> dict[str, float]:
        start = time.perf_counter()
        header = messages.make_header(types, frame.stamp_ns, frame.frame_id)
        built = list(
            outputs.frame_messages(types, header, result, frame.rgb, frame.intrinsics, node)
        )
        middle = time.perf_counter()
        size = sum(len(store.serialize_cdr(msg, msg.__msgtype__)) for _, msg in built)
        end = time.perf_counter()
        assert size > 0
        return {'messages': (middle - start) * 1e3, 'cdr': (end - middle) * 1e3}

    return build


def _codecs_at_camera_size(
    pipeline: Pipeline, result: PerceptionResult, frame: CameraFrame
) -> Callable[[], object] | None:
    """Decode this frame's generated depth, normals and semantic images at the camera size."""
    specs = {p.spec.task: p.spec for p in pipeline.prompts}
    if frame.intrinsics is None or 'depth' not in specs:
        return None
    height, width = frame.rgb.shape[:2]
    images = {g.task: _nearest(g.rgb, (height, width)) for g in result.generated}
    classes = specs['semantic'].class_colours if 'semantic' in specs else None
    intrinsics = frame.intrinsics

    def decode_and_pack() -> object:
        depth = decode_depth(images['depth'], specs['depth'].colormap)
        normals = decode_normals(images['normals']).normals if 'normals' in images else None
        labels = None
        if classes is not None:
            decoded = decode_semantic(images['semantic'], classes)
            labels = np.asarray(decoded.labels).astype(np.uint32)
        cloud = organised_cloud(
            np.asarray(depth.depth_m),
            intrinsics,
            rgb=frame.rgb,
            label=labels,
            normals=None if normals is None else np.asarray(normals),
            confidence=np.asarray(depth.confidence),
        )
        # The PointCloud2 layout the node's message takes as it is (messages.point_cloud); its
        # copy into the message is timed with the messages, the bytes on the wire with CDR.
        return pack_pointcloud2(cloud)

    return decode_and_pack


def _nearest(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (h, w, 3) uint8 to (H, W, 3), nearest neighbour: what a camera-sized model draws."""
    rows = np.minimum((np.arange(size[0]) + 0.5) * rgb.shape[0] / size[0], rgb.shape[0] - 1)
    cols = np.minimum((np.arange(size[1]) + 0.5) * rgb.shape[1] / size[1], rgb.shape[1] - 1)
    return np.ascontiguousarray(rgb[rows.astype(np.intp)][:, cols.astype(np.intp)])


# ---------------------------------------------------------------------------------------------
# Peers


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise PeerUnavailable(f'{name} is not installed ({BENCH_EXTRA})') from err


def _random_weights(module: torch.nn.Module, seed: int = 0) -> None:
    """Fill a module's parameters: norms' scales 1, biases 0, the rest N(0, 1 / fan_in)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if parameter.dim() == 1:
                parameter.fill_(1.0 if name.endswith('weight') else 0.0)
                continue
            values = (
                torch.randn(parameter.shape, generator=generator) * parameter[0].numel() ** -0.5
            )
            parameter.copy_(values)


def _build(
    factory: Callable[[], torch.nn.Module], device: torch.device, dtype: torch.dtype
) -> Any:
    """Build a model on no device, then allocate it once in ``dtype`` on ``device``, seeded."""
    quiet = logging.getLogger('diffusers')  # its to(dtype) warns about from_pretrained
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with torch.device('meta'):
            module = factory()
        module = module.to(dtype=dtype).to_empty(device=device)
    finally:
        quiet.setLevel(level)
    _random_weights(module)
    return module.eval().requires_grad_(False)


@contextlib.contextmanager
def _inference(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32),
    ):
        yield


@dataclass(frozen=True)
class _PeerRun:
    """Where and how a peer is timed: our device and dtype, the sizes, the repeats."""

    device: torch.device
    dtype: torch.dtype
    size: tuple[int, int]  # (H, W) of the SD2 peer's images
    camera: tuple[int, int]  # (H, W) of the camera (Depth Anything keeps its aspect)
    repeats: int
    warmup: int


def _time_sd2(run: _PeerRun) -> list[Row]:
    """Lotus-style one-step perception: VAE encode, one UNet step, VAE decode."""
    device, dtype, size = run.device, run.dtype, run.size
    diffusers = _import('diffusers')
    unet = _build(lambda: diffusers.UNet2DConditionModel(**SD2_UNET_CONFIG), device, dtype)
    vae = _build(lambda: diffusers.AutoencoderKL(**SD2_VAE_CONFIG), device, dtype)
    if device.type == 'cpu':
        unet.to(memory_format=torch.channels_last)
        vae.to(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(0)
    image = torch.rand((1, 3, *size), generator=generator).to(device, dtype) * 2 - 1
    context = torch.randn((1, SD2_TEXT_TOKENS, SD2_TEXT_DIM), generator=generator)
    context = context.to(device, dtype)
    timestep = torch.tensor([999], device=device)
    sync = _synchroniser(device)
    laps: dict[str, list[float]] = {
        'vae_encode': [],
        'unet_step': [],
        'vae_decode': [],
        'one_step': [],
    }

    def one_pass(record: bool) -> None:
        start = time.perf_counter()
        with _inference(device, dtype):
            latent = vae.encode(image).latent_dist.mode() * vae.config.scaling_factor
            sync()
            encoded = time.perf_counter()
            latent = unet(latent, timestep, encoder_hidden_states=context).sample
            sync()
            stepped = time.perf_counter()
            vae.decode(latent / vae.config.scaling_factor)
            sync()
        end = time.perf_counter()
        if record:
            for stage, lap in (
                ('vae_encode', encoded - start),
                ('unet_step', stepped - encoded),
                ('vae_decode', end - stepped),
                ('one_step', end - start),
            ):
                laps[stage].append(lap * 1e3)

    for index in range(run.warmup + run.repeats):
        one_pass(record=index >= run.warmup)
    pixels = f'{size[0]}x{size[1]}'
    whats = {
        'vae_encode': 'SD2 VAE encode (83.7 M parameters)',
        'unet_step': 'ONE SD2 UNet step (865.9 M parameters)',
        'vae_decode': 'SD2 VAE decode',
        'one_step': 'SD2 one-step perception, one task (Lotus / E2E-FT): encode + step + decode',
    }
    return [summarise(f'sd2.{k}', v, whats[k], pixels) for k, v in laps.items()]


def _time_depth_anything(run: _PeerRun) -> list[Row]:
    """Depth Anything V2 Small at its own input size for the camera (518 short side)."""
    device, dtype = run.device, run.dtype
    transformers = _import('transformers')
    settings = dict(DEPTH_ANYTHING_SMALL)
    backbone = transformers.Dinov2Config(**settings.pop('backbone'))
    model_config = transformers.DepthAnythingConfig(backbone_config=backbone, **settings)
    model = _build(
        lambda: transformers.DepthAnythingForDepthEstimation(model_config), device, dtype
    )
    input_size = depth_anything_size(run.camera)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand((1, 3, *input_size), generator=generator).to(device, dtype)

    def infer() -> None:
        with _inference(device, dtype):
            model(pixel_values=pixels)

    samples = time_calls(infer, run.repeats, run.warmup, device)
    what = 'Depth Anything V2 Small (24.8 M parameters), depth only'
    pixels_size = f'{input_size[0]}x{input_size[1]}'
    return [summarise('depth-anything-v2-small', samples, what, pixels_size)]


_PEER_TIMERS: Mapping[str, Callable[[_PeerRun], list[Row]]] = {
    'sd2': _time_sd2,
    'depth-anything-v2-small': _time_depth_anything,
}


def _ratios(report: BenchReport) -> list[Ratio]:
    """Compare as the issue does, for the rows that were measured."""
    ours_generate, ours_frame = report.row('ours.generate'), report.row('ours.frame')
    tasks = len(report.setup['prompts'])
    ratios = []
    comparisons = (
        (
            'sd2.unet_step',
            ours_generate,
            10.0,
            f'ONE SD2 UNet step vs our generator forward for {tasks} prompts',
        ),
        (
            'depth-anything-v2-small',
            ours_generate,
            1.0,
            f'Depth Anything V2 Small (depth) vs our generator forward for {tasks} prompts',
        ),
        (
            'sd2.one_step',
            ours_frame,
            None,
            f'SD2 one-step perception for ONE task vs our whole frame, {tasks} tasks',
        ),
        (
            'depth-anything-v2-small',
            ours_frame,
            None,
            f'Depth Anything V2 Small (depth) vs our whole frame, {tasks} tasks',
        ),
    )
    for peer_name, ours, target, what in comparisons:
        peer = report.row(peer_name)
        if peer is None or ours is None or ours.p50_ms <= 0:
            continue
        if peer_name == 'sd2.unet_step' and peer.size != ours.size:
            target = None  # the target is for the same resolution
        what = f'{what} ({peer.size} vs {ours.size})'
        ratios.append(Ratio(f'{peer_name} / {ours.name}', what, peer.p50_ms / ours.p50_ms, target))
    return ratios
