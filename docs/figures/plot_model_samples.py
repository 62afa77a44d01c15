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
VB-Mini on the real NYU frames: input, generated depth and normals, decoded depth against truth.

Run: .venv/bin/python docs/figures/plot_model_samples.py  (writes model_samples_nyu.png here)
Never used for training or tuning: these frames only show what the shipped weights do.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from vision_banana_ros.codecs import decode_depth, encode_depth
from vision_banana_ros.datasets import read_nyu
from vision_banana_ros.metrics.depth import depth_metrics, NYU_PROTOCOL
from vision_banana_ros.model.generator import Generator
from vision_banana_ros.prompts import build_prompt, TaskSpec

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Generate depth and normals for each NYU frame and write one sheet."""
    generator = Generator.from_pretrained()
    prompts = [build_prompt(TaskSpec('depth')), build_prompt(TaskSpec('normals'))]
    rows = []
    for frame in read_nyu():
        depth_rgb, normals_rgb = np.asarray(generator.generate(frame.rgb[None], prompts))
        depth_m = np.asarray(decode_depth(depth_rgb).depth_m)
        truth = np.asarray(encode_depth(frame.depth_m))
        metric = depth_metrics(depth_m, frame.depth_m, NYU_PROTOCOL)
        aligned = depth_metrics(depth_m, frame.depth_m, replace(NYU_PROTOCOL, alignment='median'))
        print(
            f'{frame.name}: metric AbsRel {metric.abs_rel:.3f} delta1 {metric.delta1:.3f}; '
            f'median-aligned AbsRel {aligned.abs_rel:.3f} delta1 {aligned.delta1:.3f}'
        )
        rows.append(np.concatenate([frame.rgb, depth_rgb, truth, normals_rgb], 1))
    sheet = np.concatenate(rows, 0)
    small = cv2.resize(
        sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2), interpolation=cv2.INTER_AREA
    )
    cv2.imwrite(str(HERE / 'model_samples_nyu.png'), small[..., ::-1])


if __name__ == '__main__':
    main()
