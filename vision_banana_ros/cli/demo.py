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
``vision-banana demo``: the whole system on the embedded model, offline, in a few seconds.

Without images, the scene engine renders a scene from a seed training never uses; the demo
asks for depth, normals, the scene's most visible classes, the instances of its most numerous
small object and one referring expression, writes every output (as ``infer`` does, plus the
input), and scores depth and normals against the scene's ground truth. With images, it is
``infer`` with the demo's output folder.
"""

from __future__ import annotations

from collections import Counter
from enum import Enum
from pathlib import Path
import time
from typing import Annotated, cast

import numpy as np
import typer
from vision_banana_ros.cli import options
from vision_banana_ros.cli.infer import describe, image_jobs, Job, run_jobs, Written
from vision_banana_ros.config import to_mapping
from vision_banana_ros.datasets import Frame
from vision_banana_ros.metrics.harness import evaluate, Prediction
from vision_banana_ros.pipeline import Pipeline, PipelineConfig, TasksConfig
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.synth.layout import sample_scene, Scene, SceneMode
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.synth.splits import SPLIT_SEEDS
from vision_banana_ros.synth.text import referring_targets
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.training.frames import namable_objects, render_frames, RenderedFrame
from vision_banana_ros.training.loop import headline_metrics

__all__ = ['DEFAULT_SEED', 'demo', 'scene_tasks']

DEFAULT_SEED = SPLIT_SEEDS['test'].start + 9019
"""A test-split seed past the held-out test set's frames: a scene no training run has seen."""

SCENE_SIZE = (640, 480)
"""(width, height) of the rendered camera image, a VGA camera's."""

_GUIDE = {
    'contact_sheet.png': 'everything on one sheet',
    'input.png': 'the camera image',
    'depth.png': 'depth in colour, bar in metres',
    'depth_m.npy': 'depth, float32 metres, NaN invalid',
    'depth_mm.png': 'depth, uint16 millimetres, 0 invalid',
    'normals.png': "normals in Vision Banana's colours",
    'normals.npy': 'normals, float32 unit vectors, optical frame',
    'semantic.png': 'classes over the image, with a legend',
    'labels.png': 'class ids (uint16; result.json names them)',
    'instances.png': 'instances over the image, with a legend',
    'instance_ids.png': 'instance ids (uint16, 0 none)',
    'masks/': 'one 0/255 mask per instance and referring expression',
    'cloud.ply': 'labelled point cloud, optical frame (x right, y down, z forward), metres',
    'objects.json': 'a 3D box per object, optical frame, metres (objects.png: drawn)',
    'result.json': 'prompts, timings, class and instance tables, file list',
}


class SceneKind(str, Enum):
    room = 'room'
    tabletop = 'tabletop'
    soup = 'soup'


def demo(
    images: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar='IMAGE',
            help='your own PNG or JPEG images (default: a scene the scene engine renders)',
            show_default=False,
        ),
    ] = None,
    out: Annotated[Path, typer.Option('--out', '-o', metavar='DIR', help='output folder')] = Path(
        'out/demo'
    ),
    seed: Annotated[
        int, typer.Option(help='scene seed (default: a test-split seed training never uses)')
    ] = DEFAULT_SEED,
    scene: Annotated[SceneKind, typer.Option(help='the kind of scene rendered')] = (
        SceneKind.tabletop
    ),
    intrinsics: options.IntrinsicsOption = None,
    config: options.ConfigOption = None,
    settings: options.SetOption = None,
    classes: options.ClassesOption = None,
    colours: options.ColoursOption = None,
    instances: options.InstancesOption = None,
    refer: options.ReferOption = None,
    depth: options.DepthOption = None,
    normals: options.NormalsOption = None,
    backend: options.BackendOption = None,
    device: options.DeviceOption = None,
    weights: options.WeightsOption = None,
    steps: options.StepsOption = None,
    samples: options.SamplesOption = None,
    threads: options.ThreadsOption = None,
) -> None:
    """
    Run the whole system once on the embedded model: no ROS, no network, no GPU needed.

    Renders a scene (or reads your images), asks VB-Mini for depth, normals, semantic and
    instance segmentation and a referring expression, and writes coloured depth with a scale
    in metres, normals, overlays with legends, masks, a PLY point cloud and one contact sheet
    (contact_sheet.png) of all of them, then says what it wrote.

    Typical use:

        vision-banana demo

        vision-banana demo --backend oracle    # the scene's ground truth as a perfect generator

        vision-banana demo --scene room --seed 2000009005 --classes floor,wall,sofa,table

        vision-banana demo photo.jpg --classes person,chair --intrinsics 525,525,319.5,239.5
    """
    started = time.perf_counter()
    flags = options.PipelineFlags(
        config=config,
        settings=tuple(settings or ()),
        classes=classes,
        colours=colours,
        instances=instances,
        refer=None if refer is None else tuple(refer),
        depth=depth,
        normals=normals,
        backend=backend,
        device=device,
        weights=weights,
        steps=steps,
        samples=samples,
        threads=threads,
    )
    if out.exists() and not out.is_dir():
        raise ValueError(f'--out {out}: exists and is not a folder')
    if images:
        _demo_images(images, out, flags, intrinsics, started)
        return
    if intrinsics is not None:
        raise ValueError('--intrinsics is for your images; a rendered scene brings its own')
    if seed < 0:
        raise ValueError(f'--seed must be >= 0, got {seed}')
    rendered, oracle_scenes = _render(seed, scene.value, flags.oracle)
    pipeline_config = options.build_config(
        flags, to_mapping(PipelineConfig(tasks=scene_tasks(rendered)))
    )
    source = f'a {scene.value} scene (seed {seed}, {SCENE_SIZE[0]}x{SCENE_SIZE[1]})'
    job = Job(
        name='scene',
        source=source,
        rgb=rendered.rgb.numpy(),
        intrinsics=rendered.scene.camera.intrinsics,
    )
    generator = options.open_backend(pipeline_config, flags, oracle_scenes)
    with Pipeline(pipeline_config, generator) as pipeline:
        written, stopped = run_jobs(pipeline, [job], out, subfolders=False, write_input=True)
    if stopped or not written:
        typer.echo('interrupted before the scene was written', err=True)
        raise typer.Exit(130)
    item = written[0]
    _summary(
        item, f'{source} rendered by the scene engine', pipeline_config, _scores(item, rendered)
    )
    typer.echo(f'in {time.perf_counter() - started:.1f} s')
    typer.echo(
        'next: vision-banana demo --backend oracle (the ground truth as a perfect generator); '
        'vision-banana infer your.jpg -o out/mine --classes mug,table'
    )


def scene_tasks(frame: RenderedFrame, classes: int = 5) -> TasksConfig:
    """
    Pick what to ask of a rendered scene: its largest classes, instances, one expression.

    :param frame: the rendered frame (ground truth included).
    :param classes: how many classes, largest visible area first (at least 0.5 % of pixels).
    :return: depth, normals, those semantic classes, the instances of the class with the most
        namable objects (two at least), and an unambiguous referring expression if there is one.
    """
    labels = frame.labels.reshape(-1).numpy()
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    order = [int(i) for i in np.argsort(-counts, kind='stable') if i > 0]
    large = [i for i in order if counts[i] >= 0.005 * labels.size]
    largest = large[:classes]
    semantic = tuple(CLASS_NAMES[i] for i in largest)
    namable = namable_objects(frame, 16)
    tally = Counter(namable.values())
    many = [name for name, count in tally.most_common() if count >= 2]
    references = referring_targets(
        frame.scene,
        namable.keys(),
        np.random.default_rng(frame.scene.seed),
        4,
        instances=frame.instances,
    )  # the oracle prepares the same four, so it can draw the first
    return TasksConfig(
        semantic_classes=semantic,
        instance_classes=tuple(many[:1]),
        referring=tuple(r.expression for r in references[:1]),
    )


def _render(seed: int, kind: str, oracle: bool) -> tuple[RenderedFrame, list[Scene] | None]:
    """Render the demo scene; with the oracle, let it render (it keeps the ground truth)."""
    scene = sample_scene(seed, *SCENE_SIZE, cast(SceneMode, kind), texture_bank())
    if oracle:
        from vision_banana_ros.backends.oracle import OracleBackend

        probe = OracleBackend([scene])
        return probe.frames[0], [scene]
    return render_frames([scene], texture_bank(), RenderSettings())[0], None


def _scores(item: Written, truth: RenderedFrame) -> dict[str, float]:
    """Depth and normals of one result against the scene's ground truth (headline metrics)."""
    result = item.result
    if result is None or (result.depth_m is None and result.normals is None):
        return {}
    frame = Frame(
        rgb=truth.rgb.numpy(),
        name='scene',
        dataset='scene',
        depth_m=truth.depth_m.numpy() if result.depth_m is not None else None,
        normals=truth.normals.numpy() if result.normals is not None else None,
    )
    prediction = Prediction(depth_m=result.depth_m, normals=result.normals)
    return headline_metrics(evaluate(lambda _: prediction, [frame]))


def _summary(item: Written, source: str, config: PipelineConfig, scores: dict[str, float]) -> None:
    """Print what the demo did and where it wrote it, on one screen."""
    result = item.result
    assert result is not None
    typer.echo(f'vision-banana demo: {source}')
    typer.echo(f'backend: {result.backend}')
    typer.echo(f'asked for: {_asked(config.tasks)}')
    typer.echo(f'got: {describe(item)}')
    if scores:
        parts = []
        if 'depth.absrel' in scores:
            parts.append(
                f'depth AbsRel {scores["depth.absrel"]:.3f}, delta1 {scores["depth.delta1"]:.3f}'
            )
        if 'normals.mean_deg' in scores:
            parts.append(f'normals mean error {scores["normals.mean_deg"]:.1f} deg')
        typer.echo(f'against the scene ground truth: {"; ".join(parts)}')
    generate_s = result.timings_ms.get('generate', 0.0) / 1e3
    typer.echo(
        f'perception took {result.timings_ms.get("total", 0.0) / 1e3:.2f} s '
        f'({generate_s:.2f} s generating {len(result.generated)} images)'
    )
    typer.echo(f'wrote {item.folder}/:')
    shown = []
    for name in item.files:
        key = 'masks/' if name.startswith('masks/') else name
        key = 'objects.json' if key == 'objects.png' else key
        if key not in shown:
            shown.append(key)
    for key in sorted(shown, key=lambda k: list(_GUIDE).index(k) if k in _GUIDE else 99):
        note = _GUIDE.get(key, '')
        if key == 'cloud.ply':
            note = f'{item.points:,} points; {note}'
        typer.echo(f'  {key:<18} {note}')


def _asked(tasks: TasksConfig) -> str:
    asked = [name for name, on in (('depth', tasks.depth), ('normals', tasks.normals)) if on]
    if tasks.semantic_classes:
        asked.append(f'semantic [{", ".join(tasks.semantic_classes)}]')
    if tasks.instance_classes:
        asked.append(f'instances of {", ".join(tasks.instance_classes)}')
    asked += [f'"{text}"' for text in tasks.referring]
    return ', '.join(asked)


def _demo_images(
    images: list[Path],
    out: Path,
    flags: options.PipelineFlags,
    intrinsics: str | None,
    started: float,
) -> None:
    """Run the demo on the user's images: infer, one folder each under ``out``."""
    config = options.build_config(flags)
    camera = None if intrinsics is None else options.parse_intrinsics(intrinsics)
    jobs = image_jobs(images, camera)
    with Pipeline(config, options.open_backend(config, flags)) as pipeline:
        written, stopped = run_jobs(pipeline, jobs, out, subfolders=True, write_input=True)
    for item in written:
        _summary(item, item.job.source, config, {})
    if camera is None and config.tasks.depth:
        typer.echo('no point cloud: pass --intrinsics fx,fy,cx,cy or a calibration YAML')
    typer.echo(f'in {time.perf_counter() - started:.1f} s')
    if stopped:
        left = len(jobs) - len(written)
        typer.echo(f'interrupted: {left} image{"" if left == 1 else "s"} not done', err=True)
        raise typer.Exit(130)
