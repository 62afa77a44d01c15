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
Contact sheet of rendered scenes for docs/scene_engine.md: RGB, depth, normals, labels, instances.

Run: .venv/bin/python docs/figures/plot_synth_sheet.py  (writes synth_contact_sheet.png here)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from vision_banana_ros.codecs import encode_depth, encode_normals
from vision_banana_ros.synth.layout import batch_scenes, sample_scene
from vision_banana_ros.synth.render import render
from vision_banana_ros.synth.textures import texture_bank

HERE = Path(__file__).resolve().parent
SEEDS = (11, 12, 13, 14, 15, 16, 17, 18)
HEIGHT, WIDTH = 240, 320


def _ids_to_rgb(ids: np.ndarray) -> np.ndarray:
    """Colour integer ids with a fixed random palette; 0 (nothing) stays black."""
    palette = np.random.default_rng(7).integers(40, 256, (4096, 3)).astype(np.uint8)
    palette[0] = 0
    return palette[ids % 4096]


def main() -> None:
    """Render the sheet."""
    modes = ['room', 'room', 'tabletop', 'tabletop', 'room', 'tabletop', 'soup', 'soup']
    scenes = [sample_scene(s, WIDTH, HEIGHT, m) for s, m in zip(SEEDS, modes, strict=True)]  # type: ignore[arg-type]
    out = render(batch_scenes(scenes), texture_bank().images)
    rows = []
    for i in range(len(scenes)):
        depth = np.asarray(encode_depth(out.depth_m[i].numpy()))
        normals = np.asarray(encode_normals(out.normals[i].numpy()))
        labels = _ids_to_rgb(out.labels[i].numpy())
        instances = _ids_to_rgb(out.instances[i].numpy() * 7919)
        rows.append(np.concatenate([out.rgb[i].numpy(), depth, normals, labels, instances], 1))
    sheet = np.concatenate(rows, 0)
    cv2.imwrite(
        str(HERE / 'synth_contact_sheet.jpg'), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85]
    )


if __name__ == '__main__':
    main()
