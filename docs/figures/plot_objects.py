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
Objects' 3D boxes, projected into the image and over the cloud seen from the side.

Top row: a held-out rendered tabletop through the pipeline with the oracle backend (exact
geometry and masks: the box fitting alone). Bottom row: the real NYU Depth V2 frame rgb_00000
through the shipped VB-Mini (instances of chair and table, and "the table"), as it stands. The
side views are what RViz shows of ``points`` with ``objects/markers`` over them (RViz itself has
no display here; ``visualise.cloud_view`` renders the same geometry).

Run: .venv/bin/python docs/figures/plot_objects.py  (writes objects_views.png here)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.datasets import read_nyu
from vision_banana_ros.objects import FrameObjects, ObjectBuilder
from vision_banana_ros.pipeline import (
    CameraFrame,
    PerceptionResult,
    Pipeline,
    PipelineConfig,
    TasksConfig,
)
from vision_banana_ros.synth.catalog import CLASS_NAMES, GRASPABLE
from vision_banana_ros.synth.layout import sample_scene
from vision_banana_ros.synth.splits import split_seeds
from vision_banana_ros.visualise import box_overlay, cloud_view, contact_sheet, Panel

HERE = Path(__file__).resolve().parent


def panels(
    title: str, pipeline: Pipeline, frame: CameraFrame
) -> tuple[Panel, Panel, PerceptionResult, FrameObjects]:
    """Run one frame; return the image with its boxes and the side view with them."""
    result = pipeline.process(frame)
    objects = ObjectBuilder(pipeline.config.objects).for_frame(result, frame)
    assert objects is not None and result.cloud is not None and frame.intrinsics is not None
    assert result.cloud.rgb is not None
    boxes = box_overlay(frame.rgb, objects.objects, frame.intrinsics)
    side = cloud_view(result.cloud.xyz, result.cloud.rgb, objects=objects.objects)
    count = len(objects.objects)
    return (
        Panel(f'{title}: {count} boxes', boxes),
        Panel(f'{title}: cloud and boxes, side view', side),
        result,
        objects,
    )


def main() -> None:
    """Draw the oracle's and VB-Mini's boxes on one sheet."""
    torch.set_num_threads(1)
    scene = sample_scene(split_seeds('test', 1, offset=300)[0], 640, 480, 'tabletop')
    oracle = OracleBackend([scene])
    rendered = oracle.frames[0]
    present = {CLASS_NAMES[i] for i in np.unique(rendered.labels.numpy())}
    graspable = tuple(c for c in GRASPABLE if c in present)[:3]
    tasks = TasksConfig(normals=True, instance_classes=graspable)
    synthetic = Pipeline(PipelineConfig(tasks=tasks), backend=oracle)
    top = panels(
        'rendered, oracle',
        synthetic,
        CameraFrame(np.ascontiguousarray(rendered.rgb.numpy()), oracle.intrinsics[0]),
    )
    nyu = read_nyu()[0]
    tasks = TasksConfig(instance_classes=('chair', 'table'), referring=('the table',))
    real = Pipeline(PipelineConfig(tasks=tasks))
    bottom = panels('NYU rgb_00000, VB-Mini', real, CameraFrame(nyu.rgb, nyu.intrinsics))
    sheet = contact_sheet([top[0], top[1], bottom[0], bottom[1]], columns=2)
    cv2.imwrite(str(HERE / 'objects_views.png'), sheet[..., ::-1])
    for name, (_, _, _, objects) in (('oracle', top), ('VB-Mini', bottom)):
        sizes = [np.round(o.box.size_m, 2).tolist() for o in objects.objects]
        print(f'{name}: {len(objects.objects)} objects, sizes (m) {sizes}')


if __name__ == '__main__':
    main()
