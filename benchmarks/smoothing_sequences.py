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
Temporal smoothing on moving-camera sequences from the scene engine, with the shipped model.

Each sequence is a held-out scene (test split) at 640x480 seen along a random camera path
(``synth.trajectory.random_camera_path``: an orbit of 5-30 degrees or a dolly of 10-40 cm,
spread over ``--frames`` frames) while one or two graspable objects in view slide along their
supports (``moving_objects``). The pipeline (depth, normals, the classes in view, instances of
up to 3 graspable ones) runs every frame with smoothing off, then on: given the camera's motion
(T_prev_curr from the scene's poses, as TF would give it), and without it. Figures:

- **static-surface flicker**: for each static pixel of frame t (no moving object, 2 px clear of
  depth edges) its point in frame t-1 is found from the true geometry (and must be visible
  there); the frame-to-frame change of the relative depth error at that point,
  ``d_t / gt_t - d_(t-1) / gt_(t-1)``, has a standard deviation over all pixels and frames;
  smoothing should cut it by >= 50 %. **Bias**: ``sum(smoothed) / sum(raw) - 1`` over the same
  pixels (< 1 %).
- **instance id persistence**: for each object in view in consecutive frames (>= 200 px), the
  id covering most (at least half) of its true mask in each; the fraction of such pairs where
  it stays the same (>= 95 %).
- **lag**: on the pixels a moving object entered or left (true depth changed by > 5 %), the
  least-squares ``L`` in ``smoothed_t - raw_t = L (raw_(t-1) - raw_t)``, projected on the true
  change: 0 follows the newest frame, 1 is one frame behind (<= 1). Label lag: of those pixels
  whose raw label changed, the fraction still showing the previous label.
- **time**: the pipeline's 'smooth' stage per frame (median; every task above): the whole cost
  smoothing adds to a frame, since the pipeline smooths at the model's resolution (the image's
  crop included) and resizes to the camera whether it smooths or not.

Run: ``.venv/bin/python benchmarks/smoothing_sequences.py`` (``--frames 48`` for a camera twice as
slow, ``--backend oracle`` for the ground truth drawn through the codecs, ``--json`` for one JSON
object). It takes a few minutes on one CPU thread.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
import itertools
import json
import math
import platform
import time

import numpy as np
from scipy import ndimage
import torch
from vision_banana_ros.backends import Backend, LocalOptions
from vision_banana_ros.backends.local import LocalBackend
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.model.weights import WEIGHTS_DIR
from vision_banana_ros.pipeline import (
    CameraFrame,
    PerceptionResult,
    Pipeline,
    PipelineConfig,
    TasksConfig,
)
from vision_banana_ros.smoothing import SmoothingConfig
from vision_banana_ros.synth.catalog import CLASS_NAMES, GRASPABLE
from vision_banana_ros.synth.layout import sample_scene, Scene, SceneMode
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.synth.splits import split_seeds
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.synth.trajectory import moving_objects, random_camera_path
from vision_banana_ros.training.frames import render_frames, RenderedFrame

MODES: tuple[SceneMode, ...] = ('tabletop', 'room')
EDGE_STEP = 0.02
"""Relative depth step between neighbours that marks a depth edge (excluded, with 2 px)."""
VISIBLE_TOLERANCE = 0.01
"""A point is visible in the previous frame if its depth there is within 1 % of the truth."""
MIN_OBJECT_PX = 200
"""Objects smaller than this in a frame do not count for id persistence."""
SWEPT_STEP = 0.05
"""A moving object's pixels count for lag where the true depth changed by more than 5 %."""
SEED_OFFSET = 100
"""Where in the test split the sequences' seeds start."""


@dataclass
class Sequence_:
    """One rendered sequence: frames, moving object ids, camera motions T_prev_curr."""

    frames: list[RenderedFrame]
    moving: set[int]
    motions: list[np.ndarray | None]


def build_sequence(seed: int, mode: SceneMode, frames: int, size: tuple[int, int]) -> Sequence_:
    """
    Render one sequence: a camera path with one or two objects sliding.

    :param seed: scene seed.
    :param mode: scene mode.
    :param frames: frames in the sequence.
    :param size: (H, W).
    :return: the sequence.
    """
    height, width = size
    scene = sample_scene(seed, width, height, mode)
    rng = np.random.default_rng(seed)
    path = random_camera_path(scene, frames, rng)
    first = render_frames([scene], texture_bank(), RenderSettings())[0]
    in_view = {int(i) for i in torch.unique(first.instances).tolist() if i > 0}
    try:
        sliding = moving_objects(scene, frames, rng, count=2, candidate_ids=in_view)
    except ValueError:
        sliding = [scene] * frames
    scenes: list[Scene] = [
        replace(objects, camera=camera.camera, noise_seed=camera.noise_seed)
        for objects, camera in zip(sliding, path, strict=True)
    ]
    moving = {
        o.instance_id
        for o in scene.objects
        if o.position_m != sliding[-1].find(o.instance_id).position_m
    }
    rendered = render_frames(scenes, texture_bank(), RenderSettings())
    motions: list[np.ndarray | None] = [None]
    for before, after in itertools.pairwise(scenes):
        T_world_prev = before.camera.T_world_camera
        T_world_curr = after.camera.T_world_camera
        motions.append(np.linalg.inv(T_world_prev) @ T_world_curr)
    return Sequence_(rendered, moving, motions)


def tasks_for(sequence: Sequence_) -> TasksConfig:
    """Ask for depth, normals, the classes in view and instances of the graspable ones."""
    labels = torch.unique(sequence.frames[0].labels).tolist()
    classes = tuple(CLASS_NAMES[i] for i in labels if i > 0)
    graspable = tuple(c for c in classes if c in GRASPABLE)[:3]
    return TasksConfig(semantic_classes=classes, instance_classes=graspable)


def intrinsics_of(frame: RenderedFrame) -> CameraIntrinsics:
    """Return the frame's camera intrinsics."""
    K = frame.scene.camera.K
    return CameraIntrinsics(
        float(K[0, 0]),
        float(K[1, 1]),
        float(K[0, 2]),
        float(K[1, 2]),
        frame.scene.camera.width,
        frame.scene.camera.height,
    )


def run(
    sequence: Sequence_, backend: Backend, tasks: TasksConfig, smoothing: SmoothingConfig, tf: bool
) -> list[PerceptionResult]:
    """Run one pipeline over a sequence; return its results."""
    pipeline = Pipeline(PipelineConfig(tasks=tasks, smoothing=smoothing), backend=backend)
    results = []
    for frame, motion in zip(sequence.frames, sequence.motions, strict=True):
        camera = CameraFrame(
            np.ascontiguousarray(frame.rgb.numpy()),  # (H, W, 3) rows, as a camera sends them
            intrinsics_of(frame),
            frame_id='camera',
            motion=motion if tf else None,
        )
        results.append(pipeline.process(camera))
    return results


def correspondences(sequence: Sequence_, t: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Find the static, edge-free pixels of frame t visible in frame t-1, and where (true geometry).

    :return: (N,) flat indices in frame t and (N,) the same points' flat indices in frame t-1.
    """
    now, before = sequence.frames[t], sequence.frames[t - 1]
    motion = sequence.motions[t]
    assert motion is not None
    depth = now.depth_m.numpy().astype(np.float64)
    height, width = depth.shape
    K = now.scene.camera.K
    rows, cols = np.mgrid[0:height, 0:width]
    x = (cols - K[0, 2]) / K[0, 0] * depth
    y = (rows - K[1, 2]) / K[1, 1] * depth
    points = np.stack([x, y, depth], axis=0).reshape(3, -1)
    moved = motion[:3, :3] @ points + motion[:3, 3:4]
    with np.errstate(invalid='ignore', divide='ignore'):
        u = np.rint(K[0, 0] * moved[0] / moved[2] + K[0, 2])
        v = np.rint(K[1, 1] * moved[1] / moved[2] + K[1, 2])
        inside = (moved[2] > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    source = np.flatnonzero(inside)
    target = (v[source] * width + u[source]).astype(np.int64)
    depth_before = before.depth_m.numpy().reshape(-1)[target]
    visible = np.abs(depth_before / moved[2, source] - 1) < VISIBLE_TOLERANCE
    good_now = _static(now, sequence.moving).reshape(-1)
    good_before = _static(before, sequence.moving).reshape(-1)
    keep = visible & good_now[source] & good_before[target]
    return source[keep], target[keep]


def _static(frame: RenderedFrame, moving: set[int]) -> np.ndarray:
    """Return (H, W) bool: a valid static surface, 2 px clear of depth edges."""
    depth = frame.depth_m.numpy()
    valid = np.isfinite(depth)
    filled = np.where(valid, depth, 0.0)
    high = ndimage.maximum_filter(filled, size=3)
    low = ndimage.minimum_filter(np.where(valid, depth, np.inf), size=3)
    edge = (high - low) > EDGE_STEP * np.where(valid, depth, 1.0)
    edge = ndimage.binary_dilation(edge | ~valid, iterations=2)
    instances = frame.instances.numpy()
    still = ~np.isin(instances, list(moving))
    static: np.ndarray = valid & ~edge & still
    return static


@dataclass
class Figures:
    """The figures of one smoothing run against the raw run."""

    flicker_raw: float
    flicker_smooth: float
    bias: float
    persistence_raw: float
    persistence_smooth: float
    pairs: int
    lag_depth: float
    lag_labels: float
    smooth_ms: float

    @property
    def reduction(self) -> float:
        """Return the fraction by which smoothing cut the static-surface flicker."""
        return 1.0 - self.flicker_smooth / self.flicker_raw


def measure(
    sequences: Sequence[Sequence_],
    raw: Sequence[list[PerceptionResult]],
    smoothed: Sequence[list[PerceptionResult]],
) -> Figures:
    """Compute the figures over all sequences."""
    change_raw: list[np.ndarray] = []
    change_smooth: list[np.ndarray] = []
    offsets: list[np.ndarray] = []  # (2, N) smoothed and raw depth on static pixels
    same_raw = same_smooth = pairs_raw = pairs = 0
    lag_num = lag_den = 0.0
    label_lagged = label_changed = 0
    times: list[float] = []
    for sequence, plain, smooth in zip(sequences, raw, smoothed, strict=True):
        truth = [f.depth_m.numpy().reshape(-1) for f in sequence.frames]
        for t in range(1, len(sequence.frames)):
            times.append(smooth[t].timings_ms.get('smooth', math.nan))
            now, before = correspondences(sequence, t)
            for results, out in ((plain, change_raw), (smooth, change_smooth)):
                error_now = _depth(results[t])[now] / truth[t][now]
                error_before = _depth(results[t - 1])[before] / truth[t - 1][before]
                out.append(error_now - error_before)
            offsets.append(np.stack([_depth(smooth[t])[now], _depth(plain[t])[now]]))
            same, total = _persistence(sequence, plain, t)
            same_raw, pairs_raw = same_raw + same, pairs_raw + total
            same, total = _persistence(sequence, smooth, t)
            same_smooth, pairs = same_smooth + same, pairs + total
            region = _swept(sequence, t)
            r_now, r_before = _depth(plain[t])[region], _depth(plain[t - 1])[region]
            s_now = _depth(smooth[t])[region]
            g_step = truth[t - 1][region] - truth[t][region]
            ok = np.isfinite(r_now) & np.isfinite(r_before) & np.isfinite(s_now)
            lag_num += float(((s_now - r_now) * g_step)[ok].sum())
            lag_den += float(((r_before - r_now) * g_step)[ok].sum())
            semantic_now, semantic_before = plain[t].semantic, plain[t - 1].semantic
            voted = smooth[t].semantic
            if semantic_now is not None and semantic_before is not None and voted is not None:
                l_now = semantic_now.labels.reshape(-1)[region]
                l_before = semantic_before.labels.reshape(-1)[region]
                changed = l_now != l_before
                label_changed += int(changed.sum())
                label_lagged += int(
                    (voted.labels.reshape(-1)[region][changed] == l_before[changed]).sum()
                )
    flat_raw, flat_smooth = np.concatenate(change_raw), np.concatenate(change_smooth)
    ok = np.isfinite(flat_raw) & np.isfinite(flat_smooth)
    pairs_of_depths = np.concatenate(offsets, axis=1)
    both = np.isfinite(pairs_of_depths).all(axis=0)
    smoothed_sum, raw_sum = pairs_of_depths[:, both].sum(axis=1)
    return Figures(
        flicker_raw=float(flat_raw[ok].std()),
        flicker_smooth=float(flat_smooth[ok].std()),
        bias=float(smoothed_sum / raw_sum - 1.0),
        persistence_raw=same_raw / pairs_raw if pairs_raw else math.nan,
        persistence_smooth=same_smooth / pairs if pairs else math.nan,
        pairs=pairs,
        lag_depth=lag_num / lag_den if lag_den else math.nan,
        lag_labels=label_lagged / label_changed if label_changed else math.nan,
        smooth_ms=float(np.nanmedian(times)),
    )


def _depth(result: PerceptionResult) -> np.ndarray:
    assert result.depth_m is not None
    flat: np.ndarray = result.depth_m.reshape(-1).astype(np.float64)
    return flat


def _swept(sequence: Sequence_, t: int) -> np.ndarray:
    """Return flat indices of the pixels a moving object entered or left between t-1 and t."""
    moving = list(sequence.moving)
    ids_now = sequence.frames[t].instances.numpy()
    ids_before = sequence.frames[t - 1].instances.numpy()
    depth_now = sequence.frames[t].depth_m.numpy()
    depth_before = sequence.frames[t - 1].depth_m.numpy()
    involved = np.isin(ids_now, moving) | np.isin(ids_before, moving)
    with np.errstate(invalid='ignore'):
        stepped = np.abs(depth_before / depth_now - 1) > SWEPT_STEP
    region: np.ndarray = np.flatnonzero(involved & (ids_now != ids_before) & stepped)
    return region


def _persistence(sequence: Sequence_, results: list[PerceptionResult], t: int) -> tuple[int, int]:
    """Count objects whose dominant predicted id is the same in frames t-1 and t."""
    same = total = 0
    truth_now = sequence.frames[t].instances.numpy()
    truth_before = sequence.frames[t - 1].instances.numpy()
    ids_now, ids_before = results[t].instance_ids, results[t - 1].instance_ids
    if ids_now is None or ids_before is None:
        return 0, 0
    for obj in set(np.unique(truth_now).tolist()) & set(np.unique(truth_before).tolist()):
        if obj == 0:
            continue
        a = _dominant(ids_before, truth_before == obj)
        b = _dominant(ids_now, truth_now == obj)
        if a and b:
            total += 1
            same += a == b
    return same, total


def _dominant(ids: np.ndarray, mask: np.ndarray) -> int:
    """Return the id covering most of a true mask (half of it at least), or 0."""
    if mask.sum() < MIN_OBJECT_PX:
        return 0
    values = ids[mask]
    counts = np.bincount(values.astype(np.int64))
    counts[0] = 0
    best = int(counts.argmax())
    return best if counts[best] >= 0.5 * mask.sum() else 0


def _weights_step() -> int | None:
    """Return the training step of the shipped weights (they are republished as training goes)."""
    try:
        info = json.loads((WEIGHTS_DIR / 'metrics.json').read_text())
    except (OSError, ValueError):
        return None
    step = info.get('step')
    return step if isinstance(step, int) else None


def _motion_per_frame(sequences: Sequence[Sequence_]) -> str:
    """Describe the mean camera rotation and translation between consecutive frames."""
    turns, shifts = [], []
    for sequence in sequences:
        for motion in sequence.motions[1:]:
            assert motion is not None
            cosine = np.clip((np.trace(motion[:3, :3]) - 1) / 2, -1.0, 1.0)
            turns.append(math.degrees(math.acos(cosine)))
            shifts.append(float(np.linalg.norm(motion[:3, 3])) * 100)
    return f'{np.mean(turns):.2f} deg, {np.mean(shifts):.2f} cm (means)'


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the benchmark and print its figures.

    :param argv: command-line arguments (default: ``sys.argv[1:]``).
    :return: the exit status.
    """
    parser = argparse.ArgumentParser(description=(__doc__ or '').strip().split('\n')[0])
    parser.add_argument('--sequences', type=int, default=4, help='sequences (default 4)')
    parser.add_argument('--frames', type=int, default=24, help='frames each (default 24)')
    parser.add_argument('--width', type=int, default=640, help='camera width (default 640)')
    parser.add_argument('--height', type=int, default=480, help='camera height (default 480)')
    parser.add_argument(
        '--backend', choices=('local', 'oracle'), default='local', help='default: local'
    )
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    size = (args.height, args.width)
    seeds = split_seeds('test', args.sequences, offset=SEED_OFFSET)
    sequences = [
        build_sequence(seed, MODES[i % len(MODES)], args.frames, size)
        for i, seed in enumerate(seeds)
    ]
    backend: Backend
    if args.backend == 'oracle':
        backend = OracleBackend([f.scene for s in sequences for f in s.frames])
    else:
        backend = LocalBackend(LocalOptions(device='cpu', threads=args.threads))
    raw, with_tf, without_tf = [], [], []
    for sequence in sequences:
        tasks = tasks_for(sequence)
        raw.append(run(sequence, backend, tasks, SmoothingConfig(enabled=False), tf=False))
        with_tf.append(run(sequence, backend, tasks, SmoothingConfig(), tf=True))
        without_tf.append(run(sequence, backend, tasks, SmoothingConfig(), tf=False))
    figures = {
        'tf': measure(sequences, raw, with_tf),
        'no_tf': measure(sequences, raw, without_tf),
    }
    metadata = {
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'weights_step': _weights_step() if args.backend == 'local' else None,
        'camera_motion_per_frame': _motion_per_frame(sequences),
        'machine': platform.processor() or platform.machine(),
        'torch': torch.__version__,
        'numpy': np.__version__,
        'threads': args.threads,
        'backend': backend.description,
        'sequences': [
            {'seed': int(seed), 'frames': args.frames, 'moving': sorted(s.moving)}
            for seed, s in zip(seeds, sequences, strict=True)
        ],
    }
    if args.json:
        results = {name: {**asdict(f), 'reduction': f.reduction} for name, f in figures.items()}
        print(json.dumps({'metadata': metadata, 'results': results}, indent=2))
        return 0
    print(
        f'{backend.description} (weights step {metadata["weights_step"]}); '
        f'{len(sequences)} sequences x {args.frames} frames at {args.width}x{args.height}, '
        f'{args.threads} torch thread(s); camera per frame: {metadata["camera_motion_per_frame"]}'
    )
    print(f'{"figure":<52} {"with TF motion":>16} {"without motion":>16}')
    rows = [
        ('static-surface flicker, raw (std of rel. change)', 'flicker_raw', '{:.4f}'),
        ('static-surface flicker, smoothed', 'flicker_smooth', '{:.4f}'),
        ('  reduction (target >= 50 %)', 'reduction', '{:.1%}'),
        ('  bias of smoothed vs raw (target < 1 %)', 'bias', '{:+.2%}'),
        ('instance id persistence, raw', 'persistence_raw', '{:.1%}'),
        ('instance id persistence, smoothed (target >= 95 %)', 'persistence_smooth', '{:.1%}'),
        ('  object pairs counted', 'pairs', '{}'),
        ('lag of moving objects, depth (frames, target <= 1)', 'lag_depth', '{:.2f}'),
        ('lag of moving objects, labels (frames)', 'lag_labels', '{:.2f}'),
        ('pipeline smooth stage, all tasks (ms, median)', 'smooth_ms', '{:.2f}'),
    ]
    for label, name, pattern in rows:
        cells = [pattern.format(getattr(figures[k], name)) for k in ('tf', 'no_tf')]
        print(f'{label:<52} {cells[0]:>16} {cells[1]:>16}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
