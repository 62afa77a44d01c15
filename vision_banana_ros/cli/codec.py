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

``encode`` draws real depth or normals the way the generator is trained to draw them; ``decode``
reads a generator's output (ours, or an image that Gemini returned) back into metres or unit
normals with a confidence.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from vision_banana_ros.cli.files import (
    depth_mm_u16,
    read_depth_m,
    read_normals,
    read_rgb,
    write_npy,
    write_png,
)
from vision_banana_ros.codecs.depth import decode_depth, DepthColormap, encode_depth
from vision_banana_ros.codecs.normals import decode_normals, encode_normals

__all__ = ['decode', 'encode']


class Task(str, Enum):
    depth = 'depth'
    normals = 'normals'


_COLORMAP = typer.Option(help="depth colormap the image is drawn in (cube = the paper's)")


def encode(
    task: Annotated[Task, typer.Argument(help='what the input holds')],
    source: Annotated[
        Path,
        typer.Argument(help='depth: .npy (metres) or 16-bit PNG; normals: (H, W, 3) .npy'),
    ],
    out: Annotated[Path, typer.Option('--out', help='RGB PNG to write')],
    depth_scale: Annotated[
        float, typer.Option(help='metres per stored unit (0.001 for millimetre PNGs)')
    ] = 1.0,
    colormap: Annotated[DepthColormap, _COLORMAP] = 'cube',
) -> None:
    """Draw depth or normals as the RGB image Vision Banana would generate for them."""
    if task is Task.normals:
        normals = read_normals(source)
        write_png(out, np.asarray(encode_normals(normals)))
        valid = np.isfinite(normals).all(-1)
        typer.echo(f'normals: {source} ({valid.mean():.0%} valid) -> {out} [optical frame]')
        return
    depth_m = read_depth_m(source, depth_scale)
    write_png(out, np.asarray(encode_depth(depth_m, colormap)))
    valid = np.isfinite(depth_m)
    typer.echo(
        f'depth: {source} ({depth_m.shape[1]}x{depth_m.shape[0]}, '
        f'{valid.mean():.0%} valid, {_range(depth_m)}) -> {out} [{colormap}]'
    )


def decode(
    task: Annotated[Task, typer.Argument(help='what the image shows')],
    source: Annotated[Path, typer.Argument(help='generated RGB image (PNG or JPEG)')],
    out: Annotated[Path, typer.Option('--out', help='folder for the decoded files')],
    colormap: Annotated[DepthColormap, _COLORMAP] = 'cube',
) -> None:
    """
    Decode a generated image: depth to metres, normals to unit vectors, each with confidence.

    Depth gives depth_m.npy (float32 metres, NaN invalid), depth_mm.png (uint16, 0 invalid) and
    confidence.png; normals give normals.npy ((H, W, 3) float32, optical frame x right, y down,
    z forward, NaN invalid) and confidence.png.
    """
    rgb = read_rgb(source)
    if task is Task.normals:
        normals_decoded = decode_normals(rgb)
        normals = np.asarray(normals_decoded.normals)
        confidence = np.asarray(normals_decoded.confidence)
        write_npy(out / 'normals.npy', normals)
        summary = f'{np.isfinite(normals).all(-1).mean():.0%} valid'
        written = 'normals.npy'
    else:
        depth_decoded = decode_depth(rgb, colormap)
        depth_m = np.asarray(depth_decoded.depth_m)
        confidence = np.asarray(depth_decoded.confidence)
        write_npy(out / 'depth_m.npy', depth_m)
        write_png(out / 'depth_mm.png', depth_mm_u16(depth_m))
        summary = f'{np.isfinite(depth_m).mean():.0%} valid, {_range(depth_m)}'
        written = 'depth_m.npy, depth_mm.png'
    write_png(out / 'confidence.png', np.round(confidence * 255.0).astype(np.uint8))
    typer.echo(
        f'{task.value}: {source} -> {out}/{{{written}, confidence.png}}: {summary}, '
        f'median confidence {np.median(confidence):.3f}'
    )


def _range(depth_m: np.ndarray) -> str:
    valid = depth_m[np.isfinite(depth_m)]
    if valid.size == 0:
        return 'no valid depth'
    return f'{valid.min():.3f}-{valid.max():.3f} m'
