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
Objects (3D boxes) against the scene engine's ground truth, on moving-camera sequences.

Each sequence is a held-out tabletop scene (test split) at 640x480 seen along a random camera
path (``synth.trajectory.random_camera_path``: an orbit of 5-30 degrees or a dolly of 10-40 cm
over ``--frames`` frames); the objects stand still. The pipeline asks for depth, normals and
instances of the graspable classes in view (up to ``--classes``); ``objects.ObjectBuilder``
turns every result into boxes. The pipeline runs twice: smoothing off (and the boxes' own
blending, ``box_smoothing=0``), and on (given the camera's motion, as TF would give it; boxes
blended with ``--box-smoothing``, by default the setting's default).

Ground truth, per view, in that view's optical frame: an object's **visible points** are the
exact rendered depth on its exact instance mask (at least ``MIN_OBJECT_PX`` pixels). A box is
only ever fitted to what the camera sees, so it is scored against the visible part: the
**centroid** is the visible points' mean; the **extents** are the visible points' ranges along
the object's true axes (the scene's yaw about world z; the object frame of its parts). The full
geometric extents are reported too (a mug's hidden back half is not in any box).

Figures, over the objects within ``--max-distance`` (1.5 m) matched to a prediction (the
predicted instance covering most of the true mask, IoU >= 0.5):

- **centroid error**: ``|predicted centroid - visible centroid|``, median and 90th percentile
  (target <= 1 cm with the oracle);
- **extent error**: per axis ``|predicted - visible| / visible`` (axes of at least 2 cm;
  predicted axes matched to true ones by direction), median and 90th percentile (<= 5 %);
  against the full geometry as well;
- **orientation of elongated objects** (longest true extent >= 1.5 x the next): angle between
  the true long axis and the nearest predicted box axis (<= 5 degrees);
- **jitter** of static objects: the frame-to-frame change of the centroid error, in the world
  frame (so the view's own change cancels), RMS, raw vs smoothed (cut >= 50 %);
- **id persistence**: the fraction of consecutive frame pairs in which an object keeps its id
  (>= 95 %);
- **time**: ``ObjectBuilder.update`` per frame (median).

Run: ``.venv/bin/python benchmarks/objects_accuracy.py --backend oracle`` (``--backend local``
for the shipped VB-Mini, ``--json PATH`` to write one JSON object). Torch runs on one thread.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
import itertools
import json
import math
from pathlib import Path
import platform
import time

import numpy as np
import torch
from vision_banana_ros.backends import Backend, LocalOptions
from vision_banana_ros.backends.local import LocalBackend
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.objects import DetectedObject, ObjectBuilder
from vision_banana_ros.pipeline import (
    CameraFrame,
    InstanceMask,
    ObjectsConfig,
    PerceptionResult,
    Pipeline,
    PipelineConfig,
    SmoothingConfig,
    TasksConfig,
)
from vision_banana_ros.synth.catalog import CLASS_NAMES, GRASPABLE
from vision_banana_ros.synth.layout import sample_scene, SceneObject
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.synth.scene import Kind
from vision_banana_ros.synth.splits import split_seeds
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.synth.trajectory import random_camera_path
from vision_banana_ros.training.frames import render_frames, RenderedFrame

SEED_OFFSET = 300
"""Where in the test split the sequences' seeds start (the smoothing benchmark uses 100+)."""
MIN_OBJECT_PX = 200
"""Objects with fewer true pixels in a view are not scored."""
MIN_AXIS_M = 0.02
"""Extents shorter than this are left out of the relative extent error."""
ELONGATED = 1.5
"""An object is elongated when its longest true extent is this many times the next."""


@dataclass
class Truth:
    """One object's ground truth in one view (optical frame)."""

    instance_id: int
    class_name: str
    mask: np.ndarray  # (H, W) bool
    points_m: np.ndarray  # (N, 3) the visible points
    centroid_m: np.ndarray  # (3,) their mean
    axes: np.ndarray  # (3, 3) the object's axes (columns); z is world up
    full_m: np.ndarray  # (3,) extents of the whole object along ``axes``
    symmetry: str  # 'none', 'axial' (round about z) or 'sphere'

    def axes_for(self, rotation: np.ndarray) -> np.ndarray:
        """
        Return the true axes, turned where the shape allows to meet a predicted box's.

        A round object's axes about its own z, and a sphere's in any way, are not defined by
        its shape: they are taken from the prediction (z kept for round objects).
        """
        if self.symmetry == 'sphere':
            return rotation
        if self.symmetry == 'none':
            return self.axes
        up = self.axes[:, 2]
        others = [rotation[:, k] for k in np.argsort(np.abs(up @ rotation))[:2]]
        across = others[0] - (others[0] @ up) * up
        across /= np.linalg.norm(across)
        return np.stack([across, np.cross(up, across), up], axis=1)

    def visible_m(self, axes: np.ndarray) -> np.ndarray:
        """Return the (3,) extents of the visible points along some axes (columns)."""
        along = self.points_m @ axes
        extents: np.ndarray = along.max(axis=0) - along.min(axis=0)
        return extents


@dataclass
class Sequence_:
    """One rendered sequence and its camera motions T_prev_curr."""

    frames: list[RenderedFrame]
    motions: list[np.ndarray | None]
    classes: tuple[str, ...]


def build_sequence(seed: int, frames: int, size: tuple[int, int], classes: int) -> Sequence_:
    """Render one tabletop sequence along a random camera path, objects still."""
    height, width = size
    scene = sample_scene(seed, width, height, 'tabletop')
    path = random_camera_path(scene, frames, np.random.default_rng(seed))
    rendered = render_frames(path, texture_bank(), RenderSettings())
    motions: list[np.ndarray | None] = [None]
    for before, after in itertools.pairwise(path):
        motions.append(np.linalg.inv(before.camera.T_world_camera) @ after.camera.T_world_camera)
    labels = torch.unique(rendered[0].labels).tolist()
    graspable = tuple(CLASS_NAMES[i] for i in labels if CLASS_NAMES[i] in GRASPABLE)
    return Sequence_(rendered, motions, graspable[:classes])


def object_extent_m(obj: SceneObject) -> tuple[np.ndarray, np.ndarray]:
    """Return the (3,) low and high corners of an object's parts in its own frame."""
    lows, highs = [], []
    for part in obj.parts:
        centre, half = np.array(part.centre), np.array(part.half_size)
        if part.kind == Kind.BOX:
            cos, sin = abs(math.cos(part.yaw)), abs(math.sin(part.yaw))
            reach = np.array([cos * half[0] + sin * half[1], sin * half[0] + cos * half[1]])
            low = centre - np.array([*reach, half[2]])
            high = centre + np.array([*reach, half[2]])
        elif part.kind == Kind.BOWL:  # the lower half of a shell
            low = centre - half
            high = centre + np.array([half[0], half[1], 0.0])
        else:  # cylinder (r, r, h/2), sphere (r, r, r)
            low, high = centre - half, centre + half
        lows.append(low)
        highs.append(high)
    return np.min(lows, axis=0), np.max(highs, axis=0)


def symmetry(obj: SceneObject) -> str:
    """Return 'sphere' for one sphere, 'axial' for round solids on the z axis, else 'none'."""
    round_kinds = (Kind.CYLINDER, Kind.SPHERE, Kind.BOWL)
    if len(obj.parts) == 1 and obj.parts[0].kind == Kind.SPHERE:
        return 'sphere'
    if all(p.kind in round_kinds and p.centre[:2] == (0, 0) for p in obj.parts):
        return 'axial'
    return 'none'


def truths(frame: RenderedFrame, classes: Sequence[str]) -> list[Truth]:
    """Return the ground truth of every object of the given classes visible in a frame."""
    scene = frame.scene
    depth = frame.depth_m.numpy().astype(np.float64)
    ids = frame.instances.numpy()
    K, pose = scene.camera.K, scene.camera.T_world_camera
    found = []
    for obj in scene.objects:
        if obj.class_name not in classes:
            continue
        mask = (ids == obj.instance_id) & np.isfinite(depth)
        if mask.sum() < MIN_OBJECT_PX:
            continue
        rows, cols = np.nonzero(mask)
        z = depth[rows, cols]
        points = np.stack(
            [(cols - K[0, 2]) / K[0, 0] * z, (rows - K[1, 2]) / K[1, 1] * z, z], axis=1
        )
        cos, sin = math.cos(obj.yaw), math.sin(obj.yaw)
        world_axes = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        axes = pose[:3, :3].T @ world_axes  # object axes in the optical frame
        low, high = object_extent_m(obj)
        found.append(
            Truth(
                instance_id=obj.instance_id,
                class_name=obj.class_name,
                mask=mask,
                points_m=points,
                centroid_m=points.mean(axis=0),
                axes=axes,
                full_m=high - low,
                symmetry=symmetry(obj),
            )
        )
    return found


def intrinsics_of(frame: RenderedFrame) -> CameraFrame:
    """Return the camera frame (image and intrinsics) the pipeline gets for a rendered view."""
    return CameraFrame(
        np.ascontiguousarray(frame.rgb.numpy()), frame.scene.camera.intrinsics, frame_id='camera'
    )


def run(sequence: Sequence_, backend: Backend, smoothing: bool) -> list[PerceptionResult]:
    """Run the pipeline over a sequence, smoothing with the camera's motion or not at all."""
    tasks = TasksConfig(instance_classes=sequence.classes)
    config = PipelineConfig(tasks=tasks, smoothing=SmoothingConfig(enabled=smoothing))
    pipeline = Pipeline(config, backend=backend)
    return [
        pipeline.process(replace(intrinsics_of(frame), motion=motion if smoothing else None))
        for frame, motion in zip(sequence.frames, sequence.motions, strict=True)
    ]


def with_true_masks(
    sequence: Sequence_, raw: Sequence[PerceptionResult]
) -> list[PerceptionResult]:
    """Replace the predicted instances by the true ones (the backend's depth and normals kept)."""
    out = []
    for frame, result in zip(sequence.frames, raw, strict=True):
        ids = frame.instances.numpy()
        keep = [o.instance_id for o in frame.scene.objects if o.class_name in sequence.classes]
        masks = tuple(
            InstanceMask(
                o.class_name, o.instance_id, ids == o.instance_id, 0, np.zeros(3, np.uint8)
            )
            for o in frame.scene.objects
            if o.instance_id in keep and (ids == o.instance_id).any()
        )
        instance_ids = np.where(np.isin(ids, keep), ids, 0).astype(np.uint16)
        out.append(replace(result, instances=masks, instance_ids=instance_ids))
    return out


def boxes(
    sequence: Sequence_, results: Sequence[PerceptionResult], box_smoothing: float
) -> tuple[list[tuple[DetectedObject, ...]], list[float]]:
    """
    Build every frame's objects with one builder; return them and the times (ms).

    ``box_smoothing``: the weight of each track's previous box (``ObjectsConfig``; 0: none).
    """
    builder = ObjectBuilder(ObjectsConfig(box_smoothing=box_smoothing))
    objects, times = [], []
    for frame, motion, result in zip(sequence.frames, sequence.motions, results, strict=True):
        start = time.perf_counter()
        built = builder.update(result, frame.scene.camera.intrinsics, motion)
        times.append((time.perf_counter() - start) * 1e3)
        objects.append(built.objects)
    return objects, times


def match(truth: Truth, result: PerceptionResult, objects: Sequence[DetectedObject]) -> int:
    """Return the id of the predicted instance covering most of a true mask (IoU >= 0.5), or 0."""
    best, best_iou = 0, 0.5
    by_id = {o.instance_id: o for o in objects if o.kind == 'instance'}
    for instance in result.instances:
        if instance.instance_id not in by_id:
            continue
        inter = np.count_nonzero(instance.mask & truth.mask)
        union = np.count_nonzero(instance.mask | truth.mask)
        if union and inter / union >= best_iou:
            best, best_iou = instance.instance_id, inter / union
    return best


@dataclass
class Scores:
    """Per-object errors pooled over a run."""

    centroid_m: list[float] = field(default_factory=list)
    extent_visible: list[float] = field(default_factory=list)
    extent_full: list[float] = field(default_factory=list)
    long_axis_deg: list[float] = field(default_factory=list)
    jitter_m: list[float] = field(default_factory=list)
    same_id: int = 0
    pairs: int = 0
    scored: int = 0
    missed: int = 0
    times_ms: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        """Return the summary figures."""

        def pct(values: list[float], q: float) -> float:
            return float(np.percentile(values, q)) if values else math.nan

        return {
            'objects_scored': self.scored,
            'objects_missed': self.missed,
            'centroid_error_cm_median': 100 * pct(self.centroid_m, 50),
            'centroid_error_cm_p90': 100 * pct(self.centroid_m, 90),
            'extent_error_visible_median': pct(self.extent_visible, 50),
            'extent_error_visible_p90': pct(self.extent_visible, 90),
            'extent_error_full_median': pct(self.extent_full, 50),
            'extent_error_full_p90': pct(self.extent_full, 90),
            'elongated_views': len(self.long_axis_deg),
            'long_axis_error_deg_median': pct(self.long_axis_deg, 50),
            'long_axis_error_deg_p90': pct(self.long_axis_deg, 90),
            'jitter_cm_rms': 100 * math.sqrt(np.mean(np.square(self.jitter_m)))
            if self.jitter_m
            else math.nan,
            'id_persistence': self.same_id / self.pairs if self.pairs else math.nan,
            'id_pairs': self.pairs,
            'objects_ms_median': pct(self.times_ms, 50),
        }


def score(
    sequence: Sequence_,
    results: Sequence[PerceptionResult],
    objects: Sequence[tuple[DetectedObject, ...]],
    max_distance_m: float,
    out: Scores,
) -> None:
    """Score one run of a sequence into ``out``."""
    previous: dict[int, tuple[int, np.ndarray]] = {}  # true id -> (predicted id, world error)
    for frame, result, found in zip(sequence.frames, results, objects, strict=True):
        pose = frame.scene.camera.T_world_camera
        by_id = {o.instance_id: o for o in found if o.kind == 'instance'}
        seen: dict[int, tuple[int, np.ndarray]] = {}
        for truth in truths(frame, sequence.classes):
            if np.linalg.norm(truth.centroid_m) > max_distance_m:
                continue
            predicted = match(truth, result, found)
            if not predicted:
                out.missed += 1
                continue
            obj = by_id[predicted]
            out.scored += 1
            error = obj.centroid_m - truth.centroid_m
            out.centroid_m.append(float(np.linalg.norm(error)))
            axes = truth.axes_for(obj.box.rotation)
            nearest = np.abs(axes.T @ obj.box.rotation).argmax(axis=1)  # true -> predicted
            size = obj.box.size_m[nearest]
            full = truth.full_m if truth.symmetry == 'none' else truth.full_m[[0, 0, 2]]
            for reference, pooled in ((truth.visible_m(axes), out.extent_visible),
                                      (full, out.extent_full)):  # fmt: skip
                usable = reference >= MIN_AXIS_M
                pooled += (np.abs(size - reference) / reference)[usable].tolist()
            ordered = np.sort(truth.full_m)[::-1]
            if truth.symmetry != 'sphere' and ordered[0] >= ELONGATED * ordered[1]:
                long_axis = truth.axes[:, int(np.argmax(truth.full_m))]
                cosine = float(np.abs(long_axis @ obj.box.rotation).max())
                out.long_axis_deg.append(math.degrees(math.acos(min(cosine, 1.0))))
            world_error = pose[:3, :3] @ error
            seen[truth.instance_id] = (predicted, world_error)
            if truth.instance_id in previous:
                before_id, before_error = previous[truth.instance_id]
                out.pairs += 1
                out.same_id += before_id == predicted
                out.jitter_m.append(float(np.linalg.norm(world_error - before_error)))
        previous = seen


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the benchmark and print its figures.

    :param argv: command-line arguments (default: ``sys.argv[1:]``).
    :return: the exit status.
    """
    parser = argparse.ArgumentParser(description=(__doc__ or '').strip().split('\n')[0])
    parser.add_argument('--sequences', type=int, default=6, help='sequences (default 6)')
    parser.add_argument('--frames', type=int, default=8, help='frames each (default 8)')
    parser.add_argument('--classes', type=int, default=4, help='instance classes (default 4)')
    parser.add_argument('--width', type=int, default=640, help='camera width (default 640)')
    parser.add_argument('--height', type=int, default=480, help='camera height (default 480)')
    parser.add_argument('--max-distance', type=float, default=1.5, help='metres (default 1.5)')
    parser.add_argument(
        '--backend', choices=('local', 'oracle'), default='oracle', help='default: oracle'
    )
    parser.add_argument(
        '--masks',
        choices=('predicted', 'truth'),
        default='predicted',
        help="instances: the backend's, or the true ones with the backend's depth and normals",
    )
    parser.add_argument(
        '--box-smoothing',
        type=float,
        default=ObjectsConfig().box_smoothing,
        help='objects.box_smoothing of the smoothed run (default: the default setting)',
    )
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument('--json', type=Path, help='also write the figures to this JSON file')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = split_seeds('test', args.sequences, offset=SEED_OFFSET)
    size = (args.height, args.width)
    sequences = [build_sequence(seed, args.frames, size, args.classes) for seed in seeds]
    sequences = [s for s in sequences if s.classes]
    backend: Backend
    if args.backend == 'oracle':
        backend = OracleBackend([f.scene for s in sequences for f in s.frames])
    else:
        backend = LocalBackend(LocalOptions(device='cpu', threads=args.threads))
    runs = {'raw': Scores(), 'smoothed': Scores()}
    for sequence in sequences:
        for name in runs:
            results = run(sequence, backend, smoothing=name == 'smoothed')
            if args.masks == 'truth':
                results = with_true_masks(sequence, results)
            weight = args.box_smoothing if name == 'smoothed' else 0.0
            objects, times = boxes(sequence, results, weight)
            runs[name].times_ms += times[1:]
            score(sequence, results, objects, args.max_distance, runs[name])
    figures = {name: scores.figures() for name, scores in runs.items()}
    raw_jitter = figures['raw']['jitter_cm_rms']
    figures['smoothed']['jitter_reduction'] = 1 - figures['smoothed']['jitter_cm_rms'] / raw_jitter
    metadata = {
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'backend': backend.description,
        'machine': platform.processor() or platform.machine(),
        'torch': torch.__version__,
        'numpy': np.__version__,
        'threads': args.threads,
        'size': f'{args.width}x{args.height}',
        'masks': args.masks,
        'box_smoothing': args.box_smoothing,
        'sequences': [
            {'seed': int(seed), 'frames': args.frames, 'classes': list(s.classes)}
            for seed, s in zip(seeds, sequences, strict=False)
        ],
    }
    if args.json:
        args.json.write_text(json.dumps({'metadata': metadata, 'results': figures}, indent=2))
    print(
        f'{backend.description}, {args.masks} masks; {len(sequences)} tabletop sequences x '
        f'{args.frames} frames at {args.width}x{args.height}, objects within '
        f'{args.max_distance} m, {args.threads} torch thread(s)'
    )
    print(f'{"figure":<44} {"raw":>16} {"smoothed":>16}')
    rows = [
        ('objects scored (missed)', '{objects_scored} ({objects_missed})'),
        ('centroid error, median / p90 (cm)', '{centroid_error_cm_median:.2f} / {0:.2f}'),
        ('extent error vs visible, median / p90', '{extent_error_visible_median:.1%} / {1:.1%}'),
        ('extent error vs full object, median / p90', '{extent_error_full_median:.1%} / {2:.1%}'),
        ('long axis, elongated, median / p90 (deg)', '{long_axis_error_deg_median:.1f} / {3:.1f}'),
        ('  elongated views', '{elongated_views}'),
        ('centroid jitter, RMS (cm)', '{jitter_cm_rms:.3f}'),
        ('id persistence (pairs)', '{id_persistence:.1%} ({id_pairs})'),
        ('ObjectBuilder.update, median (ms)', '{objects_ms_median:.1f}'),
    ]
    tails = (
        'centroid_error_cm_p90',
        'extent_error_visible_p90',
        'extent_error_full_p90',
        'long_axis_error_deg_p90',
    )
    for label, pattern in rows:
        cells = [
            pattern.format(*(figures[k][t] for t in tails), **figures[k])
            for k in ('raw', 'smoothed')
        ]
        print(f'{label:<44} {cells[0]:>16} {cells[1]:>16}')
    print(f'jitter reduction by smoothing: {figures["smoothed"]["jitter_reduction"]:.1%}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
