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
``vision-banana encode`` / ``decode``: between perception outputs and Vision Banana's RGB images.

``encode`` draws a real depth map the way the generator is trained to draw it; ``decode`` reads a
generator's output (ours, or an image that Gemini returned) back into metres with a confidence.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from vision_banana_ros.cli.files import read_depth_m, read_rgb, write_npy, write_png
from vision_banana_ros.codecs.depth import decode_depth, DepthColormap, encode_depth

__all__ = ['decode', 'encode']


class Task(str, Enum):
    depth = 'depth'


_COLORMAP = typer.Option(help="depth colormap the image is drawn in (cube = the paper's)")


def encode(
    task: Annotated[Task, typer.Argument(help='what the input holds')],
    source: Annotated[Path, typer.Argument(help='depth map: .npy (metres) or 16-bit PNG')],
    out: Annotated[Path, typer.Option('--out', help='RGB PNG to write')],
    depth_scale: Annotated[
        float, typer.Option(help='metres per stored unit (0.001 for millimetre PNGs)')
    ] = 1.0,
    colormap: Annotated[DepthColormap, _COLORMAP] = 'cube',
) -> None:
    """Draw a depth map as the RGB image Vision Banana would generate for it."""
    depth_m = read_depth_m(source, depth_scale)
    rgb = encode_depth(depth_m, colormap)
    assert isinstance(rgb, np.ndarray)
    write_png(out, rgb)
    valid = np.isfinite(depth_m)
    typer.echo(
        f'{task.value}: {source} ({depth_m.shape[1]}x{depth_m.shape[0]}, '
        f'{valid.mean():.0%} valid, {_range(depth_m)}) -> {out} [{colormap}]'
    )


def decode(
    task: Annotated[Task, typer.Argument(help='what the image shows')],
    source: Annotated[Path, typer.Argument(help='generated RGB image (PNG or JPEG)')],
    out: Annotated[Path, typer.Option('--out', help='folder for the decoded files')],
    colormap: Annotated[DepthColormap, _COLORMAP] = 'cube',
) -> None:
    """Decode a generated depth image into metres (.npy, 16-bit mm PNG) and a confidence map."""
    decoded = decode_depth(read_rgb(source), colormap)
    depth_m = np.asarray(decoded.depth_m)
    confidence = np.asarray(decoded.confidence)
    depth_mm = np.where(np.isfinite(depth_m), np.clip(np.round(depth_m * 1000.0), 1, 65535), 0)
    write_npy(out / 'depth_m.npy', depth_m)
    write_png(out / 'depth_mm.png', depth_mm.astype(np.uint16))
    write_png(out / 'confidence.png', np.round(confidence * 255.0).astype(np.uint8))
    typer.echo(
        f'{task.value}: {source} -> {out}/{{depth_m.npy, depth_mm.png, confidence.png}}: '
        f'{np.isfinite(depth_m).mean():.0%} valid, {_range(depth_m)}, '
        f'median confidence {np.median(confidence):.3f}'
    )


def _range(depth_m: np.ndarray) -> str:
    valid = depth_m[np.isfinite(depth_m)]
    if valid.size == 0:
        return 'no valid depth'
    return f'{valid.min():.3f}-{valid.max():.3f} m'
