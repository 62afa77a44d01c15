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
Rendered frames as the task makers read them: one render call per batch of scenes.

``render_frames`` draws scenes of one resolution in a single ``synth.render`` call and splits
the batch into ``RenderedFrame`` s that own their tensors (a view would keep the whole batch
alive, and send it whole to another process). ``namable_objects`` is what a prompt may name:
visible objects of a class that is not a room surface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from vision_banana_ros.synth.layout import batch_scenes, Scene
from vision_banana_ros.synth.render import render, RenderSettings
from vision_banana_ros.synth.text import STRUCTURE_CLASSES, visible_instances
from vision_banana_ros.synth.textures import TextureBank

__all__ = ['RenderedFrame', 'namable_objects', 'render_frames']


@dataclass(frozen=True, eq=False)
class RenderedFrame:
    """
    One rendered scene, geometry in the camera optical frame.

    :ivar scene: the scene drawn.
    :ivar rgb: (H, W, 3) uint8.
    :ivar depth_m: (H, W) float32 z-depth, NaN where nothing was hit.
    :ivar normals: (H, W, 3) float32 unit normals, NaN where nothing was hit.
    :ivar labels: (H, W) int64 ``CLASS_NAMES`` ids, 0 where nothing was hit.
    :ivar instances: (H, W) int64 instance ids, 0 where nothing was hit.
    """

    scene: Scene
    rgb: torch.Tensor
    depth_m: torch.Tensor
    normals: torch.Tensor
    labels: torch.Tensor
    instances: torch.Tensor


def render_frames(
    scenes: Sequence[Scene], bank: TextureBank, settings: RenderSettings
) -> list[RenderedFrame]:
    """
    Render scenes of one resolution in one call, on the CPU.

    :param scenes: B >= 1 scenes sharing a camera resolution.
    :param bank: the texture bank the scenes index.
    :param settings: renderer quality knobs.
    :return: B frames in the order of ``scenes``, each owning its tensors.
    """
    rendered = render(batch_scenes(scenes), bank.images, settings)
    return [
        RenderedFrame(
            scene=scene,
            rgb=rendered.rgb[b].clone(),
            depth_m=rendered.depth_m[b].clone(),
            normals=rendered.normals[b].clone(),
            labels=rendered.labels[b].clone(),
            instances=rendered.instances[b].clone(),
        )
        for b, scene in enumerate(scenes)
    ]


def namable_objects(frame: RenderedFrame, min_pixels: int) -> dict[int, str]:
    """
    Return the objects a prompt may name: visible, with a class, not a floor, wall or ceiling.

    :param frame: the rendered frame.
    :param min_pixels: fewest pixels an object must show.
    :return: instance id -> class name, ids ascending.
    """
    visible = visible_instances(frame.instances, min_pixels)
    return {
        obj.instance_id: obj.class_name
        for obj in sorted(frame.scene.objects, key=lambda o: o.instance_id)
        if obj.instance_id in visible
        and obj.class_name
        and obj.class_name not in STRUCTURE_CLASSES
    }
