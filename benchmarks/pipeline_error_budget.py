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
The pipeline's own error budget: a perfect generator (the oracle) through the whole pipeline.

Renders held-out scenes at the camera resolution, sends them through ``Pipeline`` with the
oracle backend at each model resolution, and scores the camera-resolution outputs against the
renderer's exact geometry. Whatever error is left was added by letterboxing, decoding,
clean-up and resizing.

Run: .venv/bin/python benchmarks/pipeline_error_budget.py --frames 12
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.metrics.depth import depth_metrics
from vision_banana_ros.metrics.normals import normal_metrics
from vision_banana_ros.pipeline import CameraFrame, Pipeline, PipelineConfig, TasksConfig
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.synth.splits import split_seeds


def main() -> None:
    """Print one table row per model resolution."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=12, help='held-out scenes to render')
    parser.add_argument('--width', type=int, default=640, help='camera width in pixels')
    parser.add_argument('--height', type=int, default=480, help='camera height in pixels')
    args = parser.parse_args()
    torch.set_num_threads(1)
    oracle = OracleBackend.from_seeds(split_seeds('test', args.frames), args.width, args.height)
    print('| model resolution | depth delta1 | depth AbsRel | normals mean (deg) | semantic acc |')
    print('|---|---|---|---|---|')
    for size in ((128, 160), (256, 320), (480, 640)):
        rows = []
        for frame, intrinsics in zip(oracle.frames, oracle.intrinsics, strict=True):
            classes = tuple(CLASS_NAMES[i] for i in torch.unique(frame.labels).tolist() if i)
            tasks = TasksConfig(semantic_classes=classes)
            config = PipelineConfig(tasks=tasks, model_height=size[0], model_width=size[1])
            result = Pipeline(config, backend=oracle).process(
                CameraFrame(frame.rgb.numpy(), intrinsics)
            )
            assert result.depth_m is not None and result.normals is not None
            depth = depth_metrics(result.depth_m, frame.depth_m.numpy())
            normals = normal_metrics(result.normals, frame.normals.numpy())
            accuracy = float('nan')
            if result.semantic is not None:
                ids = np.array([0, *(CLASS_NAMES.index(c) for c in classes)])
                accuracy = float((ids[result.semantic.labels] == frame.labels.numpy()).mean())
            rows.append((depth.delta1, depth.abs_rel, normals.mean_deg, accuracy))
        mean = np.nanmean(np.array(rows), axis=0)
        print(
            f'| {size[0]}x{size[1]} | {mean[0]:.4f} | {mean[1]:.4f} | {mean[2]:.2f} | '
            f'{mean[3]:.4f} |'
        )


if __name__ == '__main__':
    main()
