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
Pictures of perception results for people: coloured depth with a scale, overlays, legends.

Everything takes and returns numpy (H, W, 3) uint8 RGB images at the input's resolution, so the
command line writes them as PNGs and the ROS node can publish them as visualisation topics;
nothing here imports ROS or matplotlib (OpenCV draws the text, ASCII only).

- ``colourise_depth`` / ``depth_with_colour_bar``: depth in the turbo colormap (near red, far
  blue, invalid black) beside a bar labelled in metres;
- ``normals_image``: normals in Vision Banana's own colours (a wall facing the camera is light
  blue, a floor light green), invalid black;
- ``label_overlay`` / ``mask_overlay``: class, instance or referring masks blended over the
  camera image, outlined; ``with_legend`` adds the colour key;
- ``cloud_view``: an organised point cloud seen from a second viewpoint above and to the side;
- ``contact_sheet``: titled panels on one grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
import math

import cv2
import numpy as np
from vision_banana_ros.codecs.normals import encode_normals
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.objects import DetectedObject

__all__ = [
    'BACKGROUND_RGB',
    'TEXT_RGB',
    'Panel',
    'box_overlay',
    'cloud_view',
    'colourise_depth',
    'contact_sheet',
    'depth_colour_bar',
    'depth_range',
    'depth_with_colour_bar',
    'fit',
    'label_overlay',
    'mask_overlay',
    'normals_image',
    'titled',
    'with_legend',
]

BACKGROUND_RGB = (32, 32, 32)
"""Colour behind panels, legends and colour bars (dark grey)."""
TEXT_RGB = (235, 235, 235)
"""Colour of titles, legend entries and tick labels."""

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_INVALID_RGB = (0, 0, 0)


def depth_range(
    depth_m: np.ndarray, low_pct: float = 2.0, high_pct: float = 98.0
) -> tuple[float, float]:
    """
    Pick the depth range a colour scale should span: robust percentiles of the valid depth.

    :param depth_m: (H, W) float depth in metres, NaN or <= 0 invalid.
    :param low_pct: percentile mapped to the near end.
    :param high_pct: percentile mapped to the far end.
    :return: (near_m, far_m) with far_m > near_m; (0, 1) when nothing is valid.
    """
    valid = depth_m[np.isfinite(depth_m) & (depth_m > 0)]
    if valid.size == 0:
        return 0.0, 1.0
    near, far = (float(v) for v in np.percentile(valid, (low_pct, high_pct)))
    if far - near < 1e-3:
        far = near + max(1e-3, 0.05 * near)
    return near, far


def colourise_depth(depth_m: np.ndarray, near_m: float, far_m: float) -> np.ndarray:
    """
    Draw depth in the turbo colormap: near red through green to far blue; invalid black.

    :param depth_m: (H, W) float depth in metres, NaN or <= 0 invalid.
    :param near_m: depth drawn at the red end (closer is clipped to it).
    :param far_m: depth drawn at the blue end (> near_m; farther is clipped to it).
    :return: (H, W, 3) uint8 RGB.
    :raises ValueError: if the range is empty or not finite, or depth is not (H, W).
    """
    if depth_m.ndim != 2:
        raise ValueError(f'depth_m must be (H, W), got shape {depth_m.shape}')
    if not (math.isfinite(near_m) and math.isfinite(far_m) and far_m > near_m):
        raise ValueError(f'need finite near_m < far_m, got {near_m}, {far_m}')
    valid = np.isfinite(depth_m) & (depth_m > 0)
    scaled = (np.where(valid, depth_m, far_m) - near_m) / (far_m - near_m)  # 0 near, 1 far
    levels = np.round((1.0 - np.clip(scaled, 0.0, 1.0)) * 255.0).astype(np.uint8)
    rgb = _turbo(levels)
    rgb[~valid] = _INVALID_RGB
    return rgb


def depth_colour_bar(
    height: int, near_m: float, far_m: float, width: int | None = None
) -> np.ndarray:
    """
    Draw the scale of ``colourise_depth``: a vertical bar, near at the top, ticks in metres.

    Text and bar grow with ``height`` so they stay legible when the image is shrunk.

    :param height: rows of the bar image (>= 32).
    :param near_m: depth at the top.
    :param far_m: depth at the bottom.
    :param width: columns of the bar image, labels included; None to suit the height.
    :return: (height, width, 3) uint8 RGB.
    """
    size = _text_scale(height)
    width = width or round(84 * size)
    bar = _canvas(height, width)
    top, bottom = round(10 * size), height - round(10 * size)
    left, right = round(4 * size), round(18 * size)
    levels = np.linspace(255.0, 0.0, bottom - top).round().astype(np.uint8)  # near -> far
    bar[top:bottom, left:right] = _turbo(levels[:, None])  # (rows, 1, 3) broadcast
    for value in _ticks(near_m, far_m):
        row = top + round((value - near_m) / (far_m - near_m) * (bottom - top - 1))
        cv2.line(bar, (right, row), (right + round(5 * size), row), TEXT_RGB, max(1, round(size)))
        label = _metres(value, far_m - near_m)
        _text(bar, label, (right + round(8 * size), row + round(4 * size)), 0.4 * size)
    return bar


def depth_with_colour_bar(
    depth_m: np.ndarray, near_m: float | None = None, far_m: float | None = None
) -> np.ndarray:
    """
    Draw depth in colour with its scale in metres to the right.

    :param depth_m: (H, W) float depth in metres, NaN or <= 0 invalid.
    :param near_m: near end of the scale; None with far_m None for ``depth_range``.
    :param far_m: far end of the scale.
    :return: (H, W + bar, 3) uint8 RGB.
    """
    if near_m is None or far_m is None:
        near_m, far_m = depth_range(depth_m)
    coloured = colourise_depth(depth_m, near_m, far_m)
    bar = depth_colour_bar(depth_m.shape[0], near_m, far_m)
    return np.concatenate([coloured, bar], axis=1)


def normals_image(normals: np.ndarray) -> np.ndarray:
    """
    Draw unit normals (optical frame) in Vision Banana's colours; invalid pixels black.

    :param normals: (H, W, 3) float unit normals, NaN invalid.
    :return: (H, W, 3) uint8 RGB.
    """
    rgb = np.asarray(encode_normals(normals.astype(np.float32))).copy()
    # A sum is finite only where all three components are (NaN and inf propagate); three
    # strided adds are several times faster than a reduction across the last axis of 3.
    rgb[~np.isfinite(normals[..., 0] + normals[..., 1] + normals[..., 2])] = _INVALID_RGB
    return rgb


def label_overlay(
    rgb: np.ndarray, labels: np.ndarray, colours: np.ndarray, alpha: float = 0.55
) -> np.ndarray:
    """
    Blend integer labels over an image, each label in its colour, with outlines.

    :param rgb: (H, W, 3) uint8 camera image.
    :param labels: (H, W) integer labels; 0 is left as the image, i >= 1 gets ``colours[i - 1]``
        (labels beyond the table are left as the image).
    :param colours: (N, 3) uint8 colour of labels 1..N.
    :param alpha: weight of the label colour.
    :return: (H, W, 3) uint8 RGB.
    """
    palette = np.asarray(colours, np.uint8).reshape(-1, 3)
    table = np.concatenate([np.zeros((1, 3), np.uint8), palette])  # label 0 -> row 0, unused
    known = (labels > 0) & (labels <= len(palette))
    index = np.where(known, labels, 0).astype(np.intp)
    painted = np.take(table, index, axis=0)  # (H, W, 3) uint8
    image = np.ascontiguousarray(rgb, np.uint8)
    out = image.copy()
    blended = cv2.addWeighted(image, 1.0 - alpha, painted, alpha, 0.0)  # rounded, saturated
    cv2.copyTo(blended, known.view(np.uint8), out)  # OpenCV's masked copies: numpy's are slow
    cv2.copyTo(painted, (known & _edges(index)).view(np.uint8), out)  # outlines: pure colour
    return out


def mask_overlay(
    rgb: np.ndarray, mask: np.ndarray, colour: Sequence[int] = (255, 0, 255), alpha: float = 0.55
) -> np.ndarray:
    """
    Blend one boolean mask over an image and outline it; the rest is dimmed.

    :param rgb: (H, W, 3) uint8 camera image.
    :param mask: (H, W) bool.
    :param colour: RGB of the mask.
    :param alpha: weight of the mask colour.
    :return: (H, W, 3) uint8 RGB.
    """
    labels = mask.astype(np.int64)
    shaded = np.round(rgb.astype(np.float32) * np.where(mask, 1.0, 0.6)[..., None])
    return label_overlay(shaded.astype(np.uint8), labels, np.array([colour], np.uint8), alpha)


_BOX_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count('1') == 1]
"""The 12 edges of a box as pairs of ``Box.corners()`` indices (corners differing in one bit)."""


def box_overlay(
    rgb: np.ndarray, objects: Sequence[DetectedObject], intrinsics: CameraIntrinsics
) -> np.ndarray:
    """
    Draw objects' 3D boxes, projected into the image, with their names and ids.

    Each box's 12 edges are drawn in the object's colour (edges reaching behind the camera's
    image plane are left out); its label sits at the box's highest projected corner.

    :param rgb: (H, W, 3) uint8 camera image (intrinsics for its size).
    :param objects: the objects, boxes in the camera optical frame.
    :param intrinsics: the camera's intrinsics.
    :return: (H, W, 3) uint8 RGB, a new image.
    """
    out = np.ascontiguousarray(rgb).copy()
    thickness = max(1, round(rgb.shape[0] / 240))
    scale = _text_scale(rgb.shape[0]) * 0.8
    for obj in objects:
        corners = obj.box.corners()  # (8, 3)
        if not np.isfinite(corners).all():
            continue
        z = corners[:, 2]
        with np.errstate(divide='ignore', invalid='ignore'):
            u = intrinsics.fx * corners[:, 0] / z + intrinsics.cx
            v = intrinsics.fy * corners[:, 1] / z + intrinsics.cy
        colour = tuple(int(c) for c in obj.colour)
        for a, b in _BOX_EDGES:
            if min(z[a], z[b]) > 1e-3:
                start, end = (round(u[a]), round(v[a])), (round(u[b]), round(v[b]))
                cv2.line(out, start, end, colour, thickness, cv2.LINE_AA)
        front = z > 1e-3
        if front.any():
            top = int(np.argmin(np.where(front, v, np.inf)))
            origin = (round(u[top]), max(round(v[top]) - 4, 12))
            label = _shorten(f'{obj.name} {obj.key}', 40).encode('ascii', 'replace').decode()
            cv2.putText(out, label, origin, _FONT, scale, colour, thickness, cv2.LINE_AA)
    return out


def with_legend(
    image: np.ndarray, entries: Sequence[tuple[str, Sequence[int]]], width: int | None = None
) -> np.ndarray:
    """
    Put a colour key to the right of an image: one swatch and name per entry.

    Text grows with the image's height so it stays legible when the image is shrunk; entries
    that do not fit are summarised as '+ N more'.

    :param image: (H, W, 3) uint8.
    :param entries: (name, RGB colour) pairs, in the order to list them.
    :param width: columns of the key; None to suit the names and the height.
    :return: (H, W + width, 3) uint8 RGB.
    """
    key = _legend(image.shape[0], entries, width, _text_scale(image.shape[0]))
    return np.concatenate([image, key], axis=1)


def cloud_view(
    xyz: np.ndarray,
    rgb: np.ndarray,
    yaw_deg: float = 30.0,
    pitch_deg: float = -25.0,
    size: tuple[int, int] = (240, 320),
    objects: Sequence[DetectedObject] = (),
) -> np.ndarray:
    """
    Render an organised cloud from a second viewpoint: the camera orbits the scene's centre.

    The scene turns about its median point by ``yaw`` (about the camera's y axis) and ``pitch``
    (about its x axis) and is seen through the camera's own pinhole, recovered from the
    organised layout (so no intrinsics are needed), a step further back; the nearest point wins
    each pixel.

    :param xyz: (H, W, 3) float points in the optical frame (x right, y down, z forward), metres,
        NaN invalid.
    :param rgb: (H, W, 3) uint8 colour of each point.
    :param yaw_deg: orbit to the right (degrees).
    :param pitch_deg: orbit up (negative: the camera rises and looks down).
    :param size: (rows, columns) of the picture.
    :param objects: 3D boxes (optical frame) drawn in the same view, as RViz shows the node's
        ``objects/markers`` over its cloud.
    :return: (rows, columns, 3) uint8 RGB; background ``BACKGROUND_RGB``.
    """
    height, width = size
    view = _canvas(height, width)
    valid = np.isfinite(xyz).all(axis=-1) & (xyz[..., 2] > 0)
    if valid.sum() < 16:
        return view
    rows, cols = np.nonzero(valid)
    points = xyz[valid].astype(np.float64)  # (N, 3)
    # The pinhole of the organised layout: x / z = (u - cx) / fx, y / z = (v - cy) / fy.
    slope_u, offset_u = np.polyfit(cols.astype(np.float64), points[:, 0] / points[:, 2], 1)
    slope_v, offset_v = np.polyfit(rows.astype(np.float64), points[:, 1] / points[:, 2], 1)
    scale = min(width / xyz.shape[1], height / xyz.shape[0])
    fx, fy = scale / slope_u, scale / slope_v
    cx, cy = width / 2.0 - 0.5, height / 2.0 - 0.5
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    turn_y = np.array(
        [[np.cos(yaw), 0.0, -np.sin(yaw)], [0.0, 1.0, 0.0], [np.sin(yaw), 0.0, np.cos(yaw)]]
    )
    turn_x = np.array(
        [
            [1.0, 0.0, 0.0],
            [0.0, np.cos(pitch), np.sin(pitch)],
            [0.0, -np.sin(pitch), np.cos(pitch)],
        ]
    )
    centre = np.median(points, axis=0)
    back = np.array([0.0, 0.0, 0.6 * centre[2]])  # step back to see around the objects
    orbit = turn_x @ turn_y
    seen = (points - centre) @ orbit.T + centre + back  # (N, 3), orbiting camera
    ahead = seen[:, 2] > 0.05
    seen, colours = seen[ahead], rgb[valid][ahead]
    u = np.round(fx * seen[:, 0] / seen[:, 2] + cx).astype(np.int64)
    v = np.round(fy * seen[:, 1] / seen[:, 2] + cy).astype(np.int64)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    order = np.argsort(-seen[inside, 2])  # far first: the nearest point is written last
    view[v[inside][order], u[inside][order]] = colours[inside][order]
    del offset_u, offset_v
    if objects:
        shift = centre + back - orbit @ centre  # the orbit as p -> orbit @ p + shift
        moved = [replace(obj, box=obj.box.moved(orbit, shift)) for obj in objects]
        view = box_overlay(view, moved, CameraIntrinsics(fx, fy, cx, cy, width, height))
    return view


def fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """
    Scale an image to fit inside (rows, columns) keeping its aspect ratio; pad the rest.

    :param image: (H, W, 3) uint8.
    :param size: (rows, columns) of the result.
    :return: (rows, columns, 3) uint8, the image centred on ``BACKGROUND_RGB``.
    """
    rows, columns = size
    scale = min(rows / image.shape[0], columns / image.shape[1])
    new_w = max(1, round(image.shape[1] * scale))
    new_h = max(1, round(image.shape[0] * scale))
    shrink = scale < 1.0
    resized = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_NEAREST
    )
    cell = _canvas(rows, columns)
    top, left = (rows - new_h) // 2, (columns - new_w) // 2
    bottom, right = top + new_h, left + new_w
    cell[top:bottom, left:right] = resized
    return cell


def titled(image: np.ndarray, title: str, bar_px: int = 26) -> np.ndarray:
    """
    Put a one-line title above an image (cut with '...' if it is too long).

    :param image: (H, W, 3) uint8.
    :param title: the text (ASCII; other characters show as '?').
    :param bar_px: height of the title strip.
    :return: (H + bar_px, W, 3) uint8.
    """
    strip = _canvas(bar_px, image.shape[1])
    _text(strip, _shorten(title, max(4, (image.shape[1] - 12) // 9)), (6, bar_px - 8), 0.5)
    return np.concatenate([strip, image], axis=0)


@dataclass(frozen=True, eq=False)
class Panel:
    """
    One picture on a contact sheet, with what is drawn beside it at the sheet's own scale.

    :ivar title: one line shown above it.
    :ivar image: (H, W, 3) uint8 RGB.
    :ivar legend: (name, RGB colour) entries of a colour key drawn to its right, or ().
    :ivar depth_range_m: (near, far) of a ``colourise_depth`` image: its colour bar is drawn to
        its right; None for none.
    """

    title: str
    image: np.ndarray
    legend: tuple[tuple[str, tuple[int, int, int]], ...] = ()
    depth_range_m: tuple[float, float] | None = None


def contact_sheet(
    panels: Sequence[Panel],
    columns: int = 4,
    cell: tuple[int, int] = (270, 400),
    margin_px: int = 6,
) -> np.ndarray:
    """
    Lay titled panels out on one grid, row by row; keys and colour bars stay legible.

    :param panels: the panels; each is fitted into a cell, its key or bar drawn at cell scale.
    :param columns: panels per row (fewer if there are fewer panels).
    :param cell: (rows, columns) of each panel's area, title excluded.
    :param margin_px: gap between cells.
    :return: (rows, columns, 3) uint8 RGB.
    :raises ValueError: if there is no panel.
    """
    if not panels:
        raise ValueError('contact_sheet needs at least one panel')
    per_row = max(1, min(columns, len(panels)))
    cells = [titled(_cell(panel, cell), panel.title) for panel in panels]
    blank = np.zeros_like(cells[0])
    blank[:] = BACKGROUND_RGB
    cells += [blank] * (-len(cells) % per_row)
    gap_v = _canvas(cells[0].shape[0], margin_px)
    lines = []
    for start in range(0, len(cells), per_row):
        stop = start + per_row
        row = cells[start:stop]
        pieces = [gap_v]
        for item in row:
            pieces += [item, gap_v]
        lines.append(np.concatenate(pieces, axis=1))
    gap_h = _canvas(margin_px, lines[0].shape[1])
    stacked = [gap_h]
    for line in lines:
        stacked += [line, gap_h]
    return np.concatenate(stacked, axis=0)


def _cell(panel: Panel, cell: tuple[int, int]) -> np.ndarray:
    """Fit a panel's image into a cell with its key or colour bar beside it."""
    rows, columns = cell
    side = None
    if panel.depth_range_m is not None:
        side = depth_colour_bar(rows, *panel.depth_range_m)
    elif panel.legend:
        side = _legend(rows, panel.legend, None, 1.0)
    if side is None or side.shape[1] > columns // 2:  # no room for it in a tiny cell
        return fit(panel.image, cell)
    picture = fit(panel.image, (rows, columns - side.shape[1]))
    return fit(np.concatenate([picture, side], axis=1), cell)


def _turbo(levels: np.ndarray) -> np.ndarray:
    """Map uint8 levels (any shape) through OpenCV's turbo colormap: (..., 3) uint8 RGB."""
    flat = levels.reshape(-1, 1)
    coloured = cv2.applyColorMap(np.ascontiguousarray(flat), cv2.COLORMAP_TURBO)  # (n, 1, 3) BGR
    return coloured[:, 0, ::-1].reshape(*levels.shape, 3).copy()


def _edges(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose 4-neighbourhood holds another label."""
    edges = np.zeros(labels.shape, bool)
    edges[1:] |= labels[1:] != labels[:-1]
    edges[:-1] |= labels[:-1] != labels[1:]
    edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return edges


def _legend(
    height: int, entries: Sequence[tuple[str, Sequence[int]]], width: int | None, size: float
) -> np.ndarray:
    """Draw a colour key (height, width, 3) with text at ``size`` (1 = 0.45 Hershey scale)."""
    row_px, swatch_px, pad = round(22 * size), round(14 * size), round(8 * size)
    font = 0.45 * size
    if width is None:
        widest = max((_text_width(name, font) for name, _ in entries), default=40)
        width = min(2 * pad + swatch_px + widest + pad, round(190 * size))
    key = _canvas(height, width)
    rows = max(1, (height - pad) // row_px)
    fitting = rows - 1
    shown = list(entries) if len(entries) <= rows else list(entries)[:fitting]
    room = width - 3 * pad - swatch_px
    for index, (name, colour) in enumerate(shown):
        top = pad + index * row_px
        corner = (pad + swatch_px, top + swatch_px)
        cv2.rectangle(key, (pad, top), corner, tuple(int(c) for c in colour), -1)
        cv2.rectangle(key, (pad, top), corner, TEXT_RGB, 1)
        label = name
        while len(label) > 4 and _text_width(label, font) > room:
            label = label[:-4] + '...'
        _text(key, label, (2 * pad + swatch_px, top + swatch_px - 1), font)
    if len(shown) < len(entries):
        more = f'+ {len(entries) - len(shown)} more'
        _text(key, more, (pad, pad + len(shown) * row_px + swatch_px), font)
    return key


def _text_width(text: str, scale: float) -> int:
    (width, _), _ = cv2.getTextSize(text.encode('ascii', 'replace').decode(), _FONT, scale, 1)
    return int(width)


def _text_scale(height: int) -> float:
    """Grow text with the image: 1 up to 360 rows, proportional above."""
    return max(1.0, height / 360.0)


def _canvas(height: int, width: int) -> np.ndarray:
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = BACKGROUND_RGB
    return canvas


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    """Draw ASCII text in place (non-ASCII characters become '?')."""
    ascii_text = text.encode('ascii', 'replace').decode('ascii')
    cv2.putText(image, ascii_text, origin, _FONT, scale, TEXT_RGB, 1, cv2.LINE_AA)


def _shorten(text: str, limit: int) -> str:
    keep = max(1, limit - 3)
    return text if len(text) <= limit else text[:keep] + '...'


def _ticks(low: float, high: float) -> list[float]:
    """About five round values within [low, high], ends included."""
    span = high - low
    raw = span / 4.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = min((s * magnitude for s in (1.0, 2.0, 2.5, 5.0, 10.0)), key=lambda s: abs(s - raw))
    first = math.ceil(low / step) * step
    inner = [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]
    values = [low, *(v for v in inner if step * 0.3 < v - low and high - v > step * 0.3), high]
    return values


def _metres(value: float, span: float) -> str:
    digits = 2 if span < 2.0 else 1
    text = f'{value:.{digits}f}'
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    return f'{text} m'
