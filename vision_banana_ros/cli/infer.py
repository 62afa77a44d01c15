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
``vision-banana infer``: the perception pipeline on image files, every output written to disk.

Each image gets a folder (named after the file) holding what was asked for: ``depth.png``
(colour, bar in metres), ``depth_m.npy`` (float32 metres, NaN invalid), ``depth_mm.png``
(uint16 millimetres, 0 invalid), ``normals.png`` / ``normals.npy``, ``semantic.png`` (overlay
with legend) and ``labels.png`` (uint16 class ids), ``instances.png`` and ``instance_ids.png``,
``masks/`` (one 0/255 PNG per instance and referring expression), ``cloud.ply`` (with
intrinsics), ``objects.json`` and ``objects.png`` (with intrinsics and instances or referring
expressions: one oriented 3D box per object, camera optical frame, metres, drawn projected),
``contact_sheet.png`` (all of them) and ``result.json`` (what each file holds).
Every file is written whole or not at all (``files.atomic_path``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
import time
from typing import Annotated

import cv2
import numpy as np
import typer
from vision_banana_ros.cli import options
from vision_banana_ros.cli.files import (
    atomic_path,
    depth_mm_u16,
    InputFileError,
    read_rgb,
    write_npy,
    write_png,
)
from vision_banana_ros.geometry import CameraIntrinsics, save_cloud
from vision_banana_ros.objects import FrameObjects, ObjectBuilder
from vision_banana_ros.pipeline import CameraFrame, PerceptionResult, Pipeline
from vision_banana_ros.visualise import (
    box_overlay,
    cloud_view,
    colourise_depth,
    contact_sheet,
    depth_range,
    depth_with_colour_bar,
    label_overlay,
    mask_overlay,
    normals_image,
    Panel,
    with_legend,
)

__all__ = ['Job', 'Written', 'image_jobs', 'infer', 'run_jobs', 'write_outputs']

_SAFE = re.compile(r'[^A-Za-z0-9._-]+')
_INSTANCE_PALETTE_SEED = 7


@dataclass(frozen=True, eq=False)
class Job:
    """
    One frame to perceive.

    :ivar name: the output folder's name.
    :ivar source: where it came from, for messages (a path, or a rendered scene).
    :ivar path: the image file, read when the job runs; None if ``rgb`` is given.
    :ivar rgb: (H, W, 3) uint8, or None to read ``path``.
    :ivar intrinsics: intrinsics of the frame, or how to make them for its size, or None.
    """

    name: str
    source: str
    path: Path | None = None
    rgb: np.ndarray | None = None
    intrinsics: CameraIntrinsics | options.Intrinsics | None = None

    def frame(self) -> CameraFrame:
        """
        Read the image and attach its intrinsics.

        :return: the camera frame.
        :raises InputFileError: if the image cannot be read.
        :raises ValueError: if the intrinsics do not fit the image.
        """
        rgb = self.rgb if self.rgb is not None else read_rgb(self.path or Path(self.source))
        height, width = rgb.shape[:2]
        intrinsics = self.intrinsics
        if isinstance(intrinsics, options.Intrinsics):
            intrinsics = intrinsics.for_image(width, height, self.source)
        return CameraFrame(rgb, intrinsics, frame_id='camera_optical_frame')


@dataclass
class Written:
    """
    What one job wrote.

    :ivar job: the job.
    :ivar folder: its output folder.
    :ivar files: file names relative to ``folder``, in the order written.
    :ivar result: the pipeline's result.
    :ivar points: points in ``cloud.ply`` (0 without a cloud).
    :ivar seconds: wall time of the job, writing included.
    """

    job: Job
    folder: Path
    files: list[str] = field(default_factory=list)
    result: PerceptionResult | None = None
    points: int = 0
    seconds: float = 0.0


def infer(
    images: Annotated[
        list[Path], typer.Argument(metavar='IMAGE', help='PNG or JPEG images (8-bit colour)')
    ],
    out: Annotated[
        Path,
        typer.Option('--out', '-o', metavar='DIR', help='output folder; one per image inside'),
    ],
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
    Perceive images: depth, normals, segmentation and a point cloud, written per image.

    Each IMAGE gets a folder DIR/NAME (NAME: the file name without suffix) with depth
    (depth.png in colour with a bar in metres, depth_m.npy float32 metres, depth_mm.png uint16
    millimetres), normals (normals.png, normals.npy, optical frame), segmentation (semantic.png,
    labels.png, instances.png, instance_ids.png, masks/), cloud.ply when --intrinsics are given,
    contact_sheet.png, and result.json describing them. Depth and normals run by default; name
    classes to segment.

    Typical use:

        vision-banana infer kitchen.jpg --out out/kitchen --classes mug,table,floor

        vision-banana infer frames/*.png -o out --intrinsics 525,525,319.5,239.5 --instances mug

        vision-banana infer img.png -o out --intrinsics camera.yaml --refer "the red mug"
    """
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
    pipeline_config = options.build_config(flags)
    camera = None if intrinsics is None else options.parse_intrinsics(intrinsics)
    jobs = image_jobs(images, camera)
    _check_out(out)
    started = time.perf_counter()
    with Pipeline(pipeline_config, options.open_backend(pipeline_config, flags)) as pipeline:
        written, stopped = run_jobs(pipeline, jobs, out, subfolders=True)
    for item in written:
        typer.echo(f'{item.job.source} -> {item.folder}/: {describe(item)}')
    if written:
        typer.echo(f'each folder holds: {", ".join(_kinds(written[0].files))}')
    if camera is None and pipeline_config.tasks.depth:
        typer.echo('no point cloud: pass --intrinsics fx,fy,cx,cy or a calibration YAML')
    elapsed = time.perf_counter() - started
    done = f'{len(written)} of {len(jobs)} images'
    typer.echo(f'{done} in {elapsed:.1f} s on {pipeline.backend.description}')
    if stopped:
        left = len(jobs) - len(written)
        typer.echo(f'interrupted: {left} image{"" if left == 1 else "s"} not done', err=True)
        raise typer.Exit(130)


def image_jobs(
    images: Sequence[Path], intrinsics: options.Intrinsics | CameraIntrinsics | None
) -> list[Job]:
    """
    Check image paths up front and name an output folder for each.

    :param images: the files.
    :param intrinsics: for every image, or None.
    :return: one job per image; folder names are the file stems, made unique with '-2', '-3'.
    :raises InputFileError: if a path is missing, not a file, or not an image format OpenCV
        reads.
    """
    if not images:
        raise InputFileError('no image given')
    jobs = []
    taken: set[str] = set()
    for path in images:
        if not path.is_file():
            raise InputFileError(f'{path}: no such file')
        if not cv2.haveImageReader(str(path)):
            raise InputFileError(f'{path}: not an image OpenCV can read')
        stem = _SAFE.sub('_', path.stem) or 'image'
        name, count = stem, 1
        while name in taken:
            count += 1
            name = f'{stem}-{count}'
        taken.add(name)
        jobs.append(Job(name=name, source=str(path), path=path, intrinsics=intrinsics))
    return jobs


def run_jobs(
    pipeline: Pipeline,
    jobs: Sequence[Job],
    out: Path,
    *,
    subfolders: bool,
    write_input: bool = False,
) -> tuple[list[Written], bool]:
    """
    Run the pipeline on each job and write its outputs, with a progress bar.

    The first Ctrl-C stops after the current job (its files complete); the second aborts.

    :param pipeline: the pipeline.
    :param jobs: the frames.
    :param out: output folder.
    :param subfolders: write each job into ``out/<job.name>``, else straight into ``out``.
    :param write_input: also write the input image as ``input.png``.
    :return: what was written, and whether Ctrl-C stopped the loop early.
    """
    written: list[Written] = []
    with (
        options.graceful_stop('image') as stop,
        options.progress(len(jobs), 'perceiving', 'images') as advance,
    ):
        for job in jobs:
            if stop.requested:
                break
            started = time.perf_counter()
            frame = job.frame()
            result = pipeline.process(frame)
            objects = ObjectBuilder(pipeline.config.objects).for_frame(result, frame)
            folder = out / job.name if subfolders else out
            item = write_outputs(
                folder, frame, result, job, write_input=write_input, objects=objects
            )
            item.seconds = time.perf_counter() - started
            written.append(item)
            advance()
    return written, stop.requested


def write_outputs(
    folder: Path,
    frame: CameraFrame,
    result: PerceptionResult,
    job: Job,
    write_input: bool,
    objects: FrameObjects | None = None,
) -> Written:
    """
    Write every output of one frame into a folder.

    :param folder: the folder (created if needed).
    :param frame: the camera frame the result is for.
    :param result: the pipeline's result.
    :param job: the job, for result.json.
    :param write_input: also write the camera image as ``input.png``.
    :param objects: the frame's objects (``ObjectBuilder.for_frame``): written to
        ``objects.json`` and drawn as boxes; None for none.
    :return: what was written.
    """
    item = Written(job=job, folder=folder, result=result)
    rgb = frame.rgb
    panels = [Panel('input', rgb)]
    summary: dict[str, object] = {
        'source': job.source,
        'size': [int(rgb.shape[1]), int(rgb.shape[0])],
        'backend': result.backend,
        'prompts': [g.prompt for g in result.generated],
        'timings_ms': {k: round(v, 2) for k, v in result.timings_ms.items()},
        'intrinsics': None
        if frame.intrinsics is None
        else [frame.intrinsics.fx, frame.intrinsics.fy, frame.intrinsics.cx, frame.intrinsics.cy],
    }

    def png(name: str, image: np.ndarray) -> None:
        write_png(folder / name, image)
        item.files.append(name)

    if write_input:
        png('input.png', rgb)
    if result.depth_m is not None:
        depth_m = result.depth_m
        near_m, far_m = depth_range(depth_m)
        png('depth.png', depth_with_colour_bar(depth_m, near_m, far_m))
        write_npy(folder / 'depth_m.npy', depth_m)
        item.files.append('depth_m.npy')
        png('depth_mm.png', depth_mm_u16(depth_m))
        panels.append(
            Panel('depth', colourise_depth(depth_m, near_m, far_m), depth_range_m=(near_m, far_m))
        )
        summary['depth'] = _depth_stats(depth_m)
    if result.normals is not None:
        coloured = normals_image(result.normals)
        png('normals.png', coloured)
        write_npy(folder / 'normals.npy', result.normals)
        item.files.append('normals.npy')
        panels.append(Panel('normals', coloured))
    if result.semantic is not None:
        semantic = result.semantic
        entries = _entries(semantic.class_names, semantic.colours)
        overlay = label_overlay(rgb, semantic.labels, semantic.colours)
        png('semantic.png', with_legend(overlay, entries))
        png('labels.png', semantic.labels.astype(np.uint16))
        panels.append(Panel('semantic', overlay, legend=entries))
        counts = np.bincount(semantic.labels.reshape(-1), minlength=len(entries) + 1)
        summary['semantic'] = {
            'labels': {str(i + 1): name for i, name in enumerate(semantic.class_names)},
            'colours': {name: list(colour) for name, colour in entries},
            'pixels': {name: int(counts[i + 1]) for i, name in enumerate(semantic.class_names)},
        }
    if result.instance_ids is not None:
        palette = _instance_palette(len(result.instances))
        overlay = label_overlay(rgb, result.instance_ids, palette)
        names = [f'{m.instance_id} {m.class_name}' for m in result.instances]
        entries = _entries(names, palette[[m.instance_id - 1 for m in result.instances]])
        png('instances.png', with_legend(overlay, entries))
        png('instance_ids.png', result.instance_ids.astype(np.uint16))
        panels.append(Panel(f'instances ({len(result.instances)})', overlay, legend=entries))
        instance_rows = []
        for mask in result.instances:
            name = f'masks/instance_{mask.instance_id}_{_SAFE.sub("_", mask.class_name)}.png'
            png(name, mask.mask.astype(np.uint8) * 255)
            instance_rows.append(
                {
                    'id': mask.instance_id,
                    'class': mask.class_name,
                    'area_px': mask.area_px,
                    'mask': name,
                }
            )
        summary['instances'] = instance_rows
    referring_rows = []
    for number, referring in enumerate(result.referring, start=1):
        name = f'masks/referring_{number}.png'
        png(name, referring.mask.astype(np.uint8) * 255)
        referring_rows.append(
            {'expression': referring.expression, 'area_px': referring.area_px, 'mask': name}
        )
        panels.append(Panel(f'"{referring.expression}"', mask_overlay(rgb, referring.mask)))
    if referring_rows:
        summary['referring'] = referring_rows
    if result.cloud is not None and result.cloud.valid.any():
        with atomic_path(folder / 'cloud.ply') as temporary:
            item.points = save_cloud(temporary, result.cloud)
        item.files.append('cloud.ply')
        summary['cloud'] = {'file': 'cloud.ply', 'points': item.points, 'frame': 'optical'}
        assert result.cloud.rgb is not None
        boxes_3d = objects.objects if objects is not None else ()
        view = cloud_view(result.cloud.xyz, result.cloud.rgb, objects=boxes_3d)
        panels.append(Panel('point cloud (another view)', view))
    if objects is not None and frame.intrinsics is not None:
        with atomic_path(folder / 'objects.json') as temporary:
            document: dict[str, object] = {
                'frame': 'camera optical (REP 103: x right, y down, z forward), metres',
                **objects.to_dict(),
            }
            temporary.write_text(json.dumps(document, indent=1) + '\n', encoding='utf-8')
        item.files.append('objects.json')
        summary['objects'] = {
            'file': 'objects.json',
            'count': len(objects.objects),
            'dropped': {k: v for k, v in objects.dropped.items() if v},
        }
        boxes = box_overlay(rgb, objects.objects, frame.intrinsics)
        png('objects.png', boxes)
        panels.append(Panel(f'3D boxes ({len(objects.objects)})', boxes))
    if result.depth_confidence is not None:
        grey = np.round(np.clip(result.depth_confidence, 0.0, 1.0) * 255.0).astype(np.uint8)
        panels.append(Panel('depth confidence', np.repeat(grey[..., None], 3, axis=-1)))
    png('contact_sheet.png', contact_sheet(panels))
    item.files.append('result.json')
    summary['files'] = item.files
    with atomic_path(folder / 'result.json') as temporary:
        temporary.write_text(json.dumps(summary, indent=1) + '\n', encoding='utf-8')
    return item


def describe(item: Written) -> str:
    """
    Summarise one job's result on one line.

    :param item: what the job wrote.
    :return: e.g. 'depth 0.62-3.41 m (98% valid), normals, 3 instances, cloud 301,220 points'.
    """
    result = item.result
    if result is None:
        return 'nothing written'
    parts = []
    if result.depth_m is not None:
        stats = _depth_stats(result.depth_m)
        if stats['valid_fraction']:
            parts.append(
                f'depth {stats["min_m"]:.2f}-{stats["max_m"]:.2f} m, median '
                f'{stats["median_m"]:.2f} m ({stats["valid_fraction"]:.0%} valid)'
            )
        else:
            parts.append('depth: no valid pixel')
    if result.normals is not None:
        parts.append(f'normals ({np.isfinite(result.normals).all(-1).mean():.0%} valid)')
    if result.semantic is not None:
        labels = result.semantic.labels
        shares = [
            (name, float((labels == i + 1).mean()))
            for i, name in enumerate(result.semantic.class_names)
        ]
        top = ', '.join(f'{name} {share:.0%}' for name, share in shares if share >= 0.005)
        parts.append(f'semantic: {top or "no class found"}')
    if result.instance_ids is not None:
        count = len(result.instances)
        parts.append(f'{count} instance{"" if count == 1 else "s"}')
    for referring in result.referring:
        parts.append(f'"{referring.expression}": {referring.area_px:,} px')
    if item.points:
        parts.append(f'cloud {item.points:,} points')
    parts.append(f'{item.seconds:.1f} s')
    return '; '.join(parts)


def _depth_stats(depth_m: np.ndarray) -> dict[str, float]:
    valid = depth_m[np.isfinite(depth_m) & (depth_m > 0)]
    if valid.size == 0:
        return {'valid_fraction': 0.0}
    return {
        'min_m': float(valid.min()),
        'median_m': float(np.median(valid)),
        'max_m': float(valid.max()),
        'valid_fraction': float(valid.size / depth_m.size),
    }


def _instance_palette(count: int) -> np.ndarray:
    """(count, 3) uint8 bright colours, the same for the same count."""
    rng = np.random.default_rng(_INSTANCE_PALETTE_SEED)
    hues = (np.arange(count) * 0.618034 + rng.random()) % 1.0
    hsv = np.stack([hues * 180.0, np.full(count, 200.0), np.full(count, 255.0)], -1)
    rgb = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    return np.asarray(rgb, np.uint8).reshape(-1, 3)


def _entries(
    names: Sequence[str], colours: np.ndarray
) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """Legend entries: (name, (r, g, b)) pairs."""
    rows = np.asarray(colours, np.uint8).reshape(-1, 3).tolist()
    return tuple(
        (name, (int(r), int(g), int(b))) for name, (r, g, b) in zip(names, rows, strict=True)
    )


def _kinds(files: Sequence[str]) -> list[str]:
    """File names with per-object masks folded into 'masks/'."""
    kinds: list[str] = []
    for name in files:
        kind = 'masks/' if name.startswith('masks/') else name
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f'--out {out}: exists and is not a folder')
