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
Synthetic scenes in metric units, rendered with PyTorch on the CPU or CUDA.

- :mod:`.catalog`: object classes, realistic sizes, how each is built from solids.
- :mod:`.layout`: rooms, tabletops and object soup sampled per seed (``Scene``), and batching.
- :mod:`.scene`: the tensors the renderer reads.
- :mod:`.raycast`: batched ray casting with screen-space culling.
- :mod:`.render`: RGB, z-depth, normals, semantic labels and instance ids.
- :mod:`.textures`: photographic and procedural textures.
"""

from vision_banana_ros.synth.catalog import CLASS_NAMES, GRASPABLE
from vision_banana_ros.synth.layout import batch_scenes, sample_scene, Scene, SceneObject
from vision_banana_ros.synth.render import render, RenderedBatch, RenderSettings
from vision_banana_ros.synth.textures import texture_bank

__all__ = [
    'CLASS_NAMES',
    'GRASPABLE',
    'RenderSettings',
    'RenderedBatch',
    'Scene',
    'SceneObject',
    'batch_scenes',
    'render',
    'sample_scene',
    'texture_bank',
]
