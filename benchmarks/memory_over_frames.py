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
Resident memory of the pipeline and the ROS-free node path over many camera frames.

Two phases, one process, 640x480 frames (eight held-out rooms in turn, one camera, stamps
advancing 33 ms, so smoothing and instance ids run across frames):

1. ``model``: the ``Pipeline`` on the embedded VB-Mini (backend ``local``) for ``--model-frames``.
2. ``replay``: the same pipeline whose generator replays the outputs VB-Mini drew for each room
   in phase 1 (``bench.ReplayBackend``), for ``--frames``: everything but the network runs.

Each frame also goes the node's way without ROS: an Image message in (``messages.rgb_image``,
``messages.frame_from_msgs``), ``streaming.FrameSlots`` put/take, the node's messages
(``outputs.frame_messages``, rosbags classes) serialised to CDR, ``streaming.StreamStats``.
RSS (psutil) is sampled every ``--every`` frames into a CSV and a plot.

With ``--node`` (in the Jazzy venv, real rclpy) a third phase runs instead, into its own CSV:
3. ``node``: the ``PerceptionNode`` itself on VB-Mini, configured and activated through its
   lifecycle, for ``--frames`` camera frames published by a helper node in the same process
   (Image + CameraInfo over DDS; the next frame goes out when the node's point cloud for the
   last one has arrived, so no frame is dropped by design). RSS is the whole process's.

Run: .venv/bin/python benchmarks/memory_over_frames.py [--frames 10000] [--model-frames 300]
     .venv-jazzy/bin/python benchmarks/memory_over_frames.py --node [--frames 10000]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
import contextlib
import csv
import gc
from pathlib import Path
import time
from typing import TextIO

import matplotlib
import numpy as np
import psutil
import torch
from vision_banana_ros import messages, rosbag_types
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.bench import describe_machine, node_output_timer, ReplayBackend
from vision_banana_ros.pipeline import CameraFrame, Pipeline, PipelineConfig, TasksConfig
from vision_banana_ros.streaming import FrameSlots, StreamStats
from vision_banana_ros.synth.catalog import CLASS_NAMES

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (5, 11, 17, 23, 29, 31, 37, 41)  # held-out rooms
TASKS = TasksConfig(semantic_classes=CLASS_NAMES[1:9], instance_classes=('chair',))
FRAME_NS = 33_000_000


def main() -> None:
    """Run both phases and write the CSV and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=10_000, help='replay frames')
    parser.add_argument('--model-frames', type=int, default=300, help='frames on VB-Mini')
    parser.add_argument('--every', type=int, default=25, help='sample RSS every N frames')
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    parser.add_argument('--out', type=Path, default=ROOT / 'docs' / 'figures', help='folder')
    parser.add_argument('--plot-only', action='store_true', help='plot the CSV already in --out')
    parser.add_argument('--node', action='store_true', help='run the rclpy node phase alone')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / 'memory_over_frames.csv'
    node_table = args.out / 'memory_over_frames_node.csv'
    if not args.plot_only:
        oracle = OracleBackend.from_seeds(list(SEEDS), 640, 480, 'room')
        frames = [
            CameraFrame(f.rgb.numpy(), k, frame_id='camera_optical')
            for f, k in zip(oracle.frames, oracle.intrinsics, strict=True)
        ]
        if args.node:
            with _rss_table(node_table) as handle:
                _run_node(frames, args.frames, args.every, handle)
        else:
            node = _NodePath()
            with _rss_table(table) as handle:
                with Pipeline(PipelineConfig(tasks=TASKS)) as pipeline:
                    drawn = _record(pipeline, frames)
                    backend = pipeline.backend
                    print(f'phase model: {args.model_frames} frames on {backend.description}')
                    _run('model', pipeline, frames, node, args.model_frames, args.every, handle)
                replay = ReplayBackend(drawn, resolution=backend.resolution)
                with Pipeline(PipelineConfig(tasks=TASKS), backend=replay) as pipeline:
                    print(f'phase replay: {args.frames} frames on {replay.description}')
                    _run('replay', pipeline, frames, node, args.frames, args.every, handle)
    rows, machines = [], []
    for path in (table, node_table):
        if not path.exists():
            continue
        lines = path.read_text(encoding='utf-8').splitlines()
        machines += [line[2:] for line in lines if line.startswith('# ')]
        rows += [
            (r['phase'], int(r['frame']), float(r['rss_mib']), float(r['elapsed_s']))
            for r in csv.DictReader(line for line in lines if not line.startswith('#'))
        ]
    machine = machines[0] if machines else 'machine not recorded'
    _plot(rows, args.out, machine)


@contextlib.contextmanager
def _rss_table(path: Path) -> Iterator[TextIO]:
    """Open a CSV of RSS samples: the machine as a comment line, then the header."""
    with path.open('w', newline='', encoding='utf-8') as handle:
        handle.write(f'# {describe_machine(torch.device("cpu")).line()}\n')
        csv.writer(handle).writerow(['phase', 'frame', 'rss_mib', 'elapsed_s'])
        yield handle


def _sample_rss(
    log: TextIO, phase: str, index: int, count: int, every: int, start: float
) -> float | None:
    """Log the RSS after frame ``index`` when due (every ``every`` frames and the last)."""
    if index % every and index != count - 1:
        return None
    rss_mib = psutil.Process().memory_info().rss / 2**20
    log.write(f'{phase},{index + 1},{rss_mib:.2f},{time.perf_counter() - start:.1f}\n')
    log.flush()
    return rss_mib


def _record(pipeline: Pipeline, frames: list[CameraFrame]) -> list[torch.Tensor]:
    """Let the model draw every room once; return what it drew, in room order."""
    drawn = []
    for frame in frames:
        box = pipeline.letterbox(frame.rgb.shape[:2])
        image = box.to_model(torch.from_numpy(frame.rgb)[None])
        drawn.append(pipeline.backend.generate(image, [p.text for p in pipeline.prompts]))
    return drawn


class _NodePath:
    """What the node does around the pipeline, without ROS."""

    def __init__(self) -> None:
        self.types = messages.MessageTypes.from_typestore(rosbag_types.typestore('jazzy'))
        self.outputs = node_output_timer()
        self.slots: FrameSlots[CameraFrame] = FrameSlots()
        self.stats = StreamStats()

    def receive(self, frame: CameraFrame, stamp_ns: int) -> CameraFrame:
        header = messages.make_header(self.types, stamp_ns, frame.frame_id)
        image = messages.rgb_image(self.types, header, frame.rgb)
        received = messages.frame_from_msgs(image)
        received = CameraFrame(received.rgb, frame.intrinsics, stamp_ns, frame.frame_id)
        self.stats.arrived()
        self.slots.put('camera', received)
        return self.slots.take(0.0)['camera']

    def publish(self, result: object, frame: CameraFrame, started: float) -> None:
        assert self.outputs is not None
        self.outputs(result, frame)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        self.stats.processed(elapsed, elapsed)


def _run(
    phase: str,
    pipeline: Pipeline,
    frames: list[CameraFrame],
    node: _NodePath,
    count: int,
    every: int,
    log: TextIO,
) -> None:
    """Run frames through the node path and the pipeline, logging RSS every ``every``."""
    start = time.perf_counter()
    for index in range(count):
        started = time.perf_counter()
        frame = node.receive(frames[index % len(frames)], (index + 1) * FRAME_NS)
        result = pipeline.process(frame)
        node.publish(result, frame, started)
        rss_mib = _sample_rss(log, phase, index, count, every, start)
        if index % (every * 20) == 0:
            summary = node.stats.summary()
            print(
                f'{phase} {index + 1:6d}/{count}  rss {rss_mib:7.1f} MiB  '
                f'{summary["work_p50_ms"]:6.1f} ms/frame',
                flush=True,
            )
    gc.collect()


def _run_node(frames: list[CameraFrame], count: int, every: int, log: TextIO) -> None:
    """Run the rclpy node on VB-Mini for ``count`` frames, one at a time, logging RSS."""
    import threading

    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import qos_profile_sensor_data
    from vision_banana_ros.ros.node import PerceptionNode

    context = rclpy.Context()
    rclpy.init(context=context)
    overrides = [
        Parameter('tasks.semantic_classes', value=list(TASKS.semantic_classes)),
        Parameter('tasks.instance_classes', value=list(TASKS.instance_classes)),
    ]
    node = PerceptionNode(context=context, parameter_overrides=overrides)
    camera = Node('memory_camera', context=context)
    types = node.types
    image_out = camera.create_publisher(types.Image, 'image', qos_profile_sensor_data)
    info_out = camera.create_publisher(types.CameraInfo, 'camera_info', qos_profile_sensor_data)
    arrived = threading.Event()
    expected = [0]

    def on_points(msg: object) -> None:
        stamp = msg.header.stamp  # type: ignore[attr-defined]
        if stamp.sec * 1_000_000_000 + stamp.nanosec == expected[0]:
            arrived.set()

    camera.create_subscription(types.PointCloud2, 'points', on_points, 10)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    executor.add_node(camera)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    missed = 0
    try:
        node.trigger_configure()
        node.trigger_activate()
        assert node.pipeline is not None, 'the node did not configure (see its log)'
        print(f'phase node: {count} frames on {node.pipeline.backend.description}', flush=True)
        start = time.perf_counter()
        for index in range(count):
            frame = frames[index % len(frames)]
            stamp_ns = camera.get_clock().now().nanoseconds
            header = messages.make_header(types, stamp_ns, frame.frame_id)
            expected[0], sent = stamp_ns, time.perf_counter()
            arrived.clear()
            assert frame.intrinsics is not None
            info_out.publish(messages.camera_info(types, header, frame.intrinsics))
            image_out.publish(messages.rgb_image(types, header, frame.rgb))
            if not arrived.wait(timeout=30.0):
                missed += 1  # counted, and the next frame goes out
            rss_mib = _sample_rss(log, 'node', index, count, every, start)
            if index % (every * 20) == 0:
                print(
                    f'node {index + 1:6d}/{count}  rss {rss_mib:7.1f} MiB  '
                    f'{(time.perf_counter() - sent) * 1e3:6.1f} ms/frame  missed {missed}',
                    flush=True,
                )
    finally:
        executor.shutdown(timeout_sec=5)
        node.destroy_node()
        camera.destroy_node()
        rclpy.try_shutdown(context=context)
    print(f'node: {count - missed} of {count} frames answered with a point cloud')


def _plot(rows: list[tuple[str, int, float, float]], out: Path, machine: str) -> None:
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    titles = {
        'model': 'VB-Mini (backend local)',
        'replay': 'replayed generator outputs',
        'node': 'the rclpy node on VB-Mini (whole process)',
    }
    phases = [phase for phase in titles if any(p == phase for p, _, _, _ in rows)]
    widths = [1 if phase == 'model' else 2 for phase in phases]
    figure, axes = plt.subplots(
        1, len(phases), figsize=(6 * len(phases), 4), width_ratios=widths, squeeze=False
    )
    for axis, phase in zip(axes[0], phases, strict=True):
        frame_numbers, rss = np.array([(f, r) for p, f, r, _ in rows if p == phase]).T
        axis.plot(frame_numbers, rss, lw=1.2)
        axis.set_xlabel('frame')
        axis.set_ylabel('resident memory (MiB)')
        axis.set_title(f'{titles[phase]}\n{_summary(frame_numbers, rss)}', fontsize=8)
        axis.grid(alpha=0.3)
        axis.set_ylim(rss.min() - 50, rss.max() + 50)
        print(f'{phase}: {_summary(frame_numbers, rss)}')
    figure.suptitle(f'pipeline, node path and node at 640x480; {machine}', fontsize=8)
    figure.tight_layout()
    figure.savefig(out / 'memory_over_frames.png', dpi=110)
    print(f'wrote {out / "memory_over_frames.png"}')


def _summary(frame_numbers: np.ndarray, rss: np.ndarray) -> str:
    """RSS after the first tenth of the frames, at the end, its range, and the trend."""
    settled = rss[len(rss) // 10]
    text = (
        f'{settled:.0f} MiB -> {rss[-1]:.0f} MiB over {int(frame_numbers[-1])} frames '
        f'(range {rss.min():.0f}-{rss.max():.0f})'
    )
    half = len(rss) // 2
    if frame_numbers[-1] - frame_numbers[half] >= 2000:  # a trend needs many frames
        slope = np.polyfit(frame_numbers[half:], rss[half:], 1)[0] * 1000
        text += f', second half {slope:+.2f} MiB / 1000 frames'
    return text


if __name__ == '__main__':
    main()
