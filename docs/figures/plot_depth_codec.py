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
Draw the depth codec's figures for docs/depth_codec.md (measured, not sketched).

Run: .venv/bin/python docs/figures/plot_depth_codec.py  (writes the PNGs beside this file)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from vision_banana_ros.codecs.depth import (
    colormap_table,
    CUBE_PATH_COLOURS,
    decode_depth,
    DEPTH_COLORMAPS,
    depth_to_t,
    encode_depth,
    t_to_depth,
)

HERE = Path(__file__).resolve().parent


def plot_path() -> None:
    """Colour bar of the cube path against depth, vertices labelled."""
    table = colormap_table('cube').numpy()  # (1786, 3)
    fig, ax = plt.subplots(figsize=(9, 1.8))
    ax.imshow(table[None].repeat(60, axis=0), aspect='auto', extent=(0, 1, 0, 1))
    names = ['black', 'red', 'yellow', 'green', 'cyan', 'blue', 'magenta', 'white']
    ticks = np.arange(8) / 7
    depths = t_to_depth(ticks)
    labels = [
        f'{n}\n{abs(d):.3f} m' if np.isfinite(d) else f'{n}\ninf'
        for n, d in zip(names, depths, strict=True)
    ]
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_yticks([])
    ax.set_title('Depth colour path: t = 1 - (1 + d/10)^-2, 1786 8-bit colours, black to white')
    fig.tight_layout()
    fig.savefig(HERE / 'depth_path.png', dpi=110)
    plt.close(fig)


def plot_precision() -> None:
    """Measured 8-bit round-trip relative error per colormap, with the cube path's bound."""
    depth_m = np.geomspace(0.1, 100.0, 20000)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for colormap in DEPTH_COLORMAPS:
        decoded = decode_depth(encode_depth(depth_m[None], colormap), colormap).depth_m[0]
        error = np.abs(decoded - depth_m) / depth_m
        # Upper envelope over windows of 200 samples, so the sawtooth of rounding reads clearly.
        envelope = error.reshape(-1, 200).max(axis=1)
        centres = depth_m.reshape(-1, 200).mean(axis=1)
        ax.loglog(centres, envelope * 100, label=f'{colormap} (measured)', lw=1.2)
    half_step = 0.5 / (CUBE_PATH_COLOURS - 1)
    t = depth_to_t(depth_m)
    bound = (t_to_depth(np.minimum(t + half_step, 1 - 1e-12)) - depth_m) / depth_m
    ax.loglog(depth_m, bound * 100, 'k--', lw=1, label='cube bound: half a colour step')
    ax.axvspan(0.35, 40, color='0.9', zorder=0, label='0.35-40 m')
    ax.axhline(0.5, color='r', lw=0.8, ls=':', label='0.5 % target')
    ax.set_xlabel('depth (m)')
    ax.set_ylabel('max relative error (%)')
    ax.set_title('8-bit round trip: encode_depth -> decode_depth')
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(HERE / 'depth_precision.png', dpi=110)
    plt.close(fig)


if __name__ == '__main__':
    plot_path()
    plot_precision()
