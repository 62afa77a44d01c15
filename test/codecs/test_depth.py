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
"""Tests for vision_banana_ros.codecs.depth: golden values, exactness, precision, robustness."""

from __future__ import annotations

import cv2
import hilbertmap
from hypothesis import given, settings
from hypothesis import strategies as st
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from vision_banana_ros.codecs import CodecError, decode_depth, encode_depth
from vision_banana_ros.codecs.depth import (
    colormap_table,
    CUBE_PATH_COLOURS,
    CUBE_PATH_VERTICES,
    DEPTH_COLORMAPS,
    depth_range_m,
    depth_to_t,
    t_to_depth,
)

# The paper notes' worked table: depth (m) -> 8-bit colour on the cube path (round to nearest).
GOLDEN = [
    (0.5, (166, 0, 0)),
    (1.0, (255, 55, 0)),
    (2.0, (220, 255, 0)),
    (3.14, (14, 255, 0)),
    (5.0, (0, 255, 227)),
    (10.0, (64, 0, 255)),
    (20.0, (255, 57, 255)),
    (50.0, (255, 205, 255)),
    (100.0, (255, 240, 255)),
]


def test_ten_metres_gives_three_quarters() -> None:
    assert depth_to_t(np.array([10.0]))[0] == pytest.approx(0.75, abs=1e-12)
    assert t_to_depth(np.array([0.75]))[0] == pytest.approx(10.0, abs=1e-9)


def test_vertex_depths_match_the_paper() -> None:
    t = np.arange(1, 7) / 7.0
    expected = [0.801, 1.832, 3.229, 5.275, 8.708, 16.458]
    np.testing.assert_allclose(t_to_depth(t), expected, atol=1e-3)


@pytest.mark.parametrize(('depth_m', 'rgb'), GOLDEN)
def test_golden_colours(depth_m: float, rgb: tuple[int, int, int]) -> None:
    encoded = encode_depth(np.full((1, 1), depth_m, dtype=np.float32))
    assert tuple(int(c) for c in encoded[0, 0]) == rgb


def test_path_starts_black_ends_white_and_visits_the_fig5_order() -> None:
    table = colormap_table('cube').numpy()
    assert table.shape == (CUBE_PATH_COLOURS, 3)
    np.testing.assert_array_equal(table[::255], np.array(CUBE_PATH_VERTICES))
    steps = np.abs(np.diff(table.astype(int), axis=0)).sum(axis=1)
    assert np.all(steps == 1), 'consecutive path colours differ by one level in one channel'
    assert len({tuple(c) for c in table}) == CUBE_PATH_COLOURS


def test_every_path_colour_decodes_back_to_itself(device: torch.device) -> None:
    table = colormap_table('cube', device)  # (1786, 3)
    decoded = decode_depth(table[None])  # (1, 1786)
    depth = decoded.depth_m[0]
    assert torch.isnan(depth[0]) and torch.isnan(depth[-1]), 'black and white mean invalid'
    reencoded = encode_depth(depth[1:-1][None])[0]
    assert torch.equal(reencoded, table[1:-1])
    assert torch.all(decoded.off_path_rgb == 0) and torch.all(decoded.confidence == 1)


def test_round_trip_precision_is_the_quantisation_bound() -> None:
    depth_m = np.geomspace(0.35, 40.0, 200_000).astype(np.float64)
    decoded = decode_depth(encode_depth(depth_m[None])).depth_m[0]
    relative = np.abs(decoded - depth_m) / depth_m
    # Rounding to the nearest of 1786 colours moves t by at most half a step, 1/3570.
    t = depth_to_t(depth_m)
    half_step = 0.5 / (CUBE_PATH_COLOURS - 1)
    bound = (
        np.maximum(
            t_to_depth(np.minimum(t + half_step, 1.0)) - depth_m,
            depth_m - t_to_depth(t - half_step),
        )
        / depth_m
    )
    assert relative.max() <= 0.005
    assert np.all(relative <= bound + 1e-6)  # + float32 storage of the decoded depth


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=8),
        elements=st.floats(0.015625, 256.0, width=32),
    )
)
def test_round_trip_of_any_valid_depth_is_within_half_a_step(depth_m: np.ndarray) -> None:
    decoded = decode_depth(encode_depth(depth_m)).depth_m
    assert decoded.shape == depth_m.shape
    t_in = depth_to_t(depth_m.astype(np.float64))
    t_out = depth_to_t(decoded.astype(np.float64))
    assert np.all(np.abs(t_out - t_in) <= 0.5 / (CUBE_PATH_COLOURS - 1) + 1e-6)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.uint8, (4, 5, 3)))
def test_any_colour_decodes_to_a_path_colour_or_invalid(rgb: np.ndarray) -> None:
    decoded = decode_depth(rgb)
    valid = np.isfinite(decoded.depth_m)
    assert np.all(decoded.depth_m[valid] > 0)
    reencoded = encode_depth(np.where(valid, decoded.depth_m, np.nan))
    # Re-encoding lands on the projection of the colour, which is within off_path_rgb of it.
    gap = np.linalg.norm(reencoded.astype(float) - rgb.astype(float), axis=-1)
    assert np.all(gap[valid] <= decoded.off_path_rgb[valid] + 1e-3)


def test_off_path_colours_project_on_the_nearest_path_colour_first_in_path_order() -> None:
    # Brute force over the 1786 path colours: the projection's table lookups are exact, ties go
    # to the first colour along the path (the nearer end, as a generator's black-to-white walk).
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(0, 256, 17)] * 3, indexing='ij'), -1).reshape(-1, 3)
    colours = np.concatenate((grid, rng.integers(0, 256, (4_000, 3)))).astype(np.uint8)
    path = colormap_table('cube').numpy().astype(np.int64)  # (1786, 3)
    # |c - p|^2 = |c|^2 - 2 c.p + |p|^2, in blocks of colours to keep memory small.
    blocks = np.array_split(colours.astype(np.int64), 8)
    distance_sq = np.concatenate(
        [(b * b).sum(-1, keepdims=True) - 2 * b @ path.T + (path * path).sum(-1) for b in blocks]
    )  # (P, 1786)
    nearest = distance_sq.argmin(-1)  # the first of tied colours
    decoded = decode_depth(colours[None])
    expected = decode_depth(path[nearest].astype(np.uint8)[None])
    np.testing.assert_array_equal(decoded.depth_m, expected.depth_m)
    np.testing.assert_allclose(decoded.off_path_rgb[0], np.sqrt(distance_sq.min(-1)), rtol=1e-6)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf, 0.0, -1.5])
def test_invalid_depth_encodes_white_and_decodes_nan(bad: float) -> None:
    depth_m = np.array([[bad, 2.0]], dtype=np.float32)
    rgb = encode_depth(depth_m)
    assert tuple(rgb[0, 0]) == (255, 255, 255)
    decoded = decode_depth(rgb).depth_m
    assert np.isnan(decoded[0, 0]) and decoded[0, 1] == pytest.approx(2.0, rel=0.005)


def test_extreme_valid_depths_clamp_into_range_instead_of_turning_invalid() -> None:
    lo, hi = depth_range_m()
    rgb = encode_depth(np.array([[1e-6, 1e6]], dtype=np.float32))
    decoded = decode_depth(rgb).depth_m[0]
    assert decoded[0] == pytest.approx(lo, rel=1e-4) and decoded[1] == pytest.approx(hi, rel=1e-4)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, (64,), elements=st.floats(0.05, 150.0)))
def test_encoding_agrees_with_hilbertmap(depth_m: np.ndarray) -> None:
    ours = encode_depth(depth_m[None])[0].astype(int)
    theirs = hilbertmap.depth_to_rgb(depth_m) * 255.0
    # Identical up to the 8-bit rounding of hilbertmap's float colours.
    assert np.all(np.abs(ours - theirs) <= 0.5 + 1e-6)


def test_decoding_agrees_with_hilbertmap_on_and_off_the_path() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    ours = decode_depth(rgb).depth_m
    with np.errstate(divide='ignore'):  # hilbertmap: white -> division by zero -> inf
        theirs = hilbertmap.rgb_to_depth(rgb.astype(np.float64) / 255.0)
    valid = np.isfinite(ours)
    # Equidistant colours (cube-interior points) may pick a different but equally near edge.
    agree = np.isclose(ours[valid], theirs[valid], rtol=1e-4)
    assert agree.mean() > 0.99


def test_off_path_colour_gets_low_confidence() -> None:
    on_path = encode_depth(np.array([[3.0]], dtype=np.float32))
    grey = np.array([[[128, 128, 128]]], dtype=np.uint8)
    nudged = np.clip(on_path.astype(int) + np.array([0, 0, 10]), 0, 255).astype(np.uint8)
    c_on = decode_depth(on_path).confidence[0, 0]
    c_nudged = decode_depth(nudged).confidence[0, 0]
    c_grey = decode_depth(grey).confidence[0, 0]
    assert c_on == 1.0 > c_nudged > c_grey
    assert decode_depth(nudged).off_path_rgb[0, 0] == pytest.approx(10.0)


@pytest.mark.parametrize('colormap', DEPTH_COLORMAPS)
def test_every_colormap_round_trips_within_its_table_resolution(colormap: str) -> None:
    depth_m = np.geomspace(0.35, 40.0, 5000).astype(np.float32)
    decoded = decode_depth(encode_depth(depth_m[None], colormap), colormap).depth_m[0]
    relative = np.abs(decoded - depth_m) / depth_m
    limit = 0.005 if colormap == 'cube' else 0.032  # 1786 vs 256 colours
    assert relative.max() <= limit


def test_colormap_tables_come_from_matplotlib() -> None:
    import matplotlib

    viridis = np.round(matplotlib.colormaps['viridis'](np.linspace(0, 1, 256))[:, :3] * 255)
    np.testing.assert_array_equal(colormap_table('viridis').numpy(), viridis.astype(np.uint8))
    assert torch.equal(colormap_table('gray'), colormap_table('grey'))


def test_torch_in_torch_out_on_the_same_device(device: torch.device) -> None:
    depth_m = torch.linspace(0.5, 20.0, 12, device=device).reshape(2, 2, 3)
    rgb = encode_depth(depth_m)
    assert isinstance(rgb, torch.Tensor) and rgb.device.type == device.type
    assert rgb.shape == (2, 2, 3, 3) and rgb.dtype == torch.uint8
    decoded = decode_depth(rgb)
    assert decoded.depth_m.dtype == torch.float32 and decoded.depth_m.device.type == device.type
    torch.testing.assert_close(decoded.depth_m, depth_m, rtol=0.005, atol=0.0)


def _degrade(rgb: np.ndarray, kind: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind == 'noise':
        return np.clip(rgb + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)
    if kind == 'blur':
        return cv2.GaussianBlur(rgb, (5, 5), 1.0)
    ok, jpeg = cv2.imencode('.jpg', rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]


@pytest.mark.parametrize('kind', ['noise', 'blur', 'jpeg'])
def test_degraded_real_depth_decodes_close_and_flags_doubt(shared_data, kind: str) -> None:
    path = shared_data / 'nyu_depth_v2_metric3d' / 'depth' / 'sync_depth_00000.png'
    depth_m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    depth_m[depth_m == 0] = np.nan
    clean = encode_depth(depth_m)
    decoded = decode_depth(_degrade(clean, kind))
    valid = np.isfinite(depth_m) & np.isfinite(decoded.depth_m)
    assert valid.sum() > 0.6 * np.isfinite(depth_m).sum()
    relative = np.abs(decoded.depth_m[valid] - depth_m[valid]) / depth_m[valid]
    assert np.median(relative) < 0.02
    assert np.mean(decoded.confidence[valid]) < 1.0  # the damage is visible in confidence


@pytest.mark.parametrize(
    ('value', 'match'),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), 'dtype uint8'),
        (np.zeros((4, 4), dtype=np.uint8), r'\(\.\.\., H, W, 3\)'),
        (np.zeros((4, 4, 4), dtype=np.uint8), r'\(\.\.\., H, W, 3\)'),
        (np.zeros((0, 4, 3), dtype=np.uint8), 'empty'),
        ([[0, 0, 0]], 'numpy array or a torch tensor'),
    ],
)
def test_decode_rejects_bad_images_by_name(value: object, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        decode_depth(value)  # type: ignore[arg-type]


def test_encode_rejects_integer_depth_and_unknown_colormap() -> None:
    with pytest.raises(CodecError, match='depth_m must have dtype'):
        encode_depth(np.ones((2, 2), dtype=np.uint16))
    with pytest.raises(CodecError, match="got 'jet'"):
        encode_depth(np.ones((2, 2), dtype=np.float32), colormap='jet')
    with pytest.raises(CodecError, match='sigma_rgb'):
        decode_depth(np.zeros((2, 2, 3), dtype=np.uint8), sigma_rgb=0.0)
