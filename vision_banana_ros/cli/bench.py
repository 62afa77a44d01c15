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
``vision-banana bench``: our speed and memory per camera frame, stage by stage, beside the peers.

The frame is a rendered held-out scene at the camera size, with its intrinsics; the generator is
the embedded VB-Mini (backend ``local``). The work itself is ``vision_banana_ros.bench``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from vision_banana_ros.bench import BenchConfig, parse_size, PEERS, run_bench
from vision_banana_ros.cli import options
from vision_banana_ros.config import to_mapping
from vision_banana_ros.pipeline import CameraFrame, Pipeline, PipelineConfig, TasksConfig
from vision_banana_ros.synth.catalog import CLASS_NAMES

__all__ = ['DEFAULT_CLASSES', 'bench']

DEFAULT_CLASSES = CLASS_NAMES[1:9]
"""Semantic classes timed when no task flag is given (8 room classes)."""

_SCENE_SEED = 5
_BENCH = 'Bench'


def bench(
    camera: Annotated[
        str,
        typer.Option('--camera', metavar='WxH', help='camera image size', rich_help_panel=_BENCH),
    ] = '640x480',
    repeats: Annotated[
        int,
        typer.Option('--repeats', metavar='N', help='timed frames', rich_help_panel=_BENCH),
    ] = 20,
    warmup: Annotated[
        int,
        typer.Option('--warmup', metavar='N', help='untimed frames first', rich_help_panel=_BENCH),
    ] = 3,
    peers: Annotated[
        str,
        typer.Option(
            '--peers',
            metavar='LIST',
            help=f'peer architectures to time, comma separated: {",".join(PEERS)}, or none',
            rich_help_panel=_BENCH,
        ),
    ] = ','.join(PEERS),
    peer_repeats: Annotated[
        int,
        typer.Option(
            '--peer-repeats',
            metavar='N',
            help='timed calls per peer (an SD2 UNet step takes seconds on a CPU)',
            rich_help_panel=_BENCH,
        ),
    ] = 3,
    peer_warmup: Annotated[
        int,
        typer.Option(
            '--peer-warmup', metavar='N', help='untimed calls per peer', rich_help_panel=_BENCH
        ),
    ] = 1,
    peer_size: Annotated[
        str,
        typer.Option(
            '--peer-size',
            metavar='model|camera|WxH',
            help='image size of the SD2 peer: our model resolution (the fair comparison), the '
            'camera size (minutes per repeat on a CPU), or WxH (multiples of 8)',
            rich_help_panel=_BENCH,
        ),
    ] = 'model',
    dtype: Annotated[
        str | None,
        typer.Option(
            '--dtype',
            metavar='DTYPE',
            help='auto, float32, bfloat16 or float16, for ours and the peers '
            '(backend.local.dtype; auto: bf16 where the hardware runs it)',
            rich_help_panel=_BENCH,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option('--json', help='print one JSON object instead of the table')
    ] = False,
    config: options.ConfigOption = None,
    settings: options.SetOption = None,
    classes: options.ClassesOption = None,
    colours: options.ColoursOption = None,
    instances: options.InstancesOption = None,
    refer: options.ReferOption = None,
    depth: options.DepthOption = None,
    normals: options.NormalsOption = None,
    device: options.DeviceOption = None,
    weights: options.WeightsOption = None,
    steps: options.StepsOption = None,
    samples: options.SamplesOption = None,
    threads: options.ThreadsOption = None,
) -> None:
    """
    Time one camera frame through the stack, stage by stage, and the peers beside it.

    Stages: letterbox, the generator (one batched call for every prompt), decoding, clean-up,
    resizing back to the camera, smoothing, the labelled cloud, the node's messages and their
    CDR bytes; p50 / p99 ms and frames/s each, peak memory, and the machine. Then, on the same
    device and dtype, with random weights built from their configs: one-step SD2 perception (VAE
    encode, ONE UNet step, VAE decode) and Depth Anything V2 Small, and our speed as a ratio to
    each (they need the bench extra: pip install 'vision_banana_ros[bench]').

    Without task flags: depth, normals and semantic segmentation of 8 classes.

    Typical use:

        vision-banana bench

        vision-banana bench --json --threads 1 --repeats 50 > bench.json

        vision-banana bench --peers none --classes mug,table --instances mug
    """
    camera_size = parse_size(camera, '--camera')
    bench_config = BenchConfig(
        repeats=repeats,
        warmup=warmup,
        peers=_peers(peers),
        peer_repeats=peer_repeats,
        peer_warmup=peer_warmup,
        peer_size=_peer_size(peer_size, camera_size),
    )
    flags = options.PipelineFlags(
        config=config, settings=(*_dtype_setting(dtype), *(settings or ())),
        classes=classes, colours=colours, instances=instances, depth=depth, normals=normals,
        refer=None if refer is None else tuple(refer), device=device, weights=weights,
        steps=steps, samples=samples, threads=threads,
    )  # fmt: skip
    base = PipelineConfig(tasks=TasksConfig(semantic_classes=DEFAULT_CLASSES))
    pipeline_config = options.build_config(flags, to_mapping(base))
    if pipeline_config.backend.name != 'local':
        raise ValueError(
            f'bench times the embedded generator (backend.name local), '
            f'got backend.name {pipeline_config.backend.name!r}'
        )
    frame = _frame(camera_size)
    with Pipeline(pipeline_config) as pipeline:
        report = run_bench(
            pipeline, frame, bench_config, progress=lambda text: typer.echo(text, err=True)
        )
    if json_output:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(report.table())


def _dtype_setting(dtype: str | None) -> tuple[str, ...]:
    """--dtype as a --set item, given before the user's own --set items (which win)."""
    return () if dtype is None else (f'backend.local.dtype={dtype}',)


def _peers(text: str) -> tuple[str, ...]:
    if text.strip().lower() == 'none':
        return ()
    names = options.split_list(text, '--peers')
    unknown = [name for name in names if name not in PEERS]
    if unknown:
        raise ValueError(f'--peers: unknown {", ".join(unknown)}; known: {", ".join(PEERS)}, none')
    return names


def _peer_size(text: str, camera_size: tuple[int, int]) -> tuple[int, int] | None:
    choice = text.strip().lower()
    if choice == 'model':
        return None
    size = camera_size if choice == 'camera' else parse_size(text, '--peer-size')
    if any(side % 8 for side in size):
        raise ValueError(
            f'--peer-size {text}: {size[1]}x{size[0]} is not a multiple of 8 (the SD2 VAE '
            'downsamples 8x)'
        )
    return size


def _frame(camera_size: tuple[int, int]) -> CameraFrame:
    """Render a held-out room at the camera size, with its intrinsics."""
    from vision_banana_ros.backends.oracle import OracleBackend

    height, width = camera_size
    scene = OracleBackend.from_seeds([_SCENE_SEED], width, height, 'room')
    return CameraFrame(scene.frames[0].rgb.numpy(), scene.intrinsics[0])
