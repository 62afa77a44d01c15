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


"""Tests for codecs/normals.py: golden colours, round trip, invalid pixels, errors."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch
from vision_banana_ros.codecs import CodecError
from vision_banana_ros.codecs.normals import (
    decode_normals,
    DecodedNormals,
    encode_normals,
    INVALID_NORMAL_RGB,
    MIN_DECODED_LENGTH,
    OPTICAL_TO_PAPER,
    ROUND_TRIP_MAX_DEG,
)

QUANTISATION_BOUND_DEG = math.degrees(math.asin(math.sqrt(3.0) / 255.0))  # 0.389


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0)))


def _pixel(vector: tuple[float, ...], dtype: type[np.floating] = np.float32) -> np.ndarray:
    return np.array(vector, dtype=dtype).reshape(1, 1, 3)


# Golden colours (PAPER_NOTES §3): optical-frame normal -> RGB.
WALL = ((0.0, 0.0, -1.0), (128, 128, 255))
FACING_LEFT = ((-1.0, 0.0, 0.0), (255, 128, 128))
FLOOR = ((0.0, -1.0, 0.0), (128, 255, 128))


def test_wall_facing_camera_encodes_light_blue() -> None:
    assert encode_normals(_pixel(WALL[0])).tolist() == [[list(WALL[1])]]


def test_surface_facing_left_encodes_pinkish_red() -> None:
    assert encode_normals(_pixel(FACING_LEFT[0])).tolist() == [[list(FACING_LEFT[1])]]


def test_floor_facing_up_encodes_light_green() -> None:
    assert encode_normals(_pixel(FLOOR[0])).tolist() == [[list(FLOOR[1])]]


@pytest.mark.parametrize('golden', [WALL, FACING_LEFT, FLOOR], ids=['wall', 'left', 'floor'])
def test_golden_colours_decode_to_their_normals_within_half_degree(
    golden: tuple[tuple[float, ...], tuple[int, ...]],
) -> None:
    normal, colour = golden
    decoded = decode_normals(np.array(colour, dtype=np.uint8).reshape(1, 1, 3))
    assert _angle_deg(decoded.normals, _pixel(normal)).max() < 0.5
    assert decoded.confidence[0, 0] > 0.99


@pytest.mark.parametrize('golden', [WALL, FACING_LEFT, FLOOR], ids=['wall', 'left', 'floor'])
def test_paper_frame_is_optical_with_y_and_z_flipped(
    golden: tuple[tuple[float, ...], tuple[int, ...]],
) -> None:
    normal, colour = golden
    paper = tuple(n * s for n, s in zip(normal, OPTICAL_TO_PAPER, strict=True))
    assert encode_normals(_pixel(paper), frame='paper').tolist() == [[list(colour)]]
    decoded = decode_normals(np.array(colour, dtype=np.uint8).reshape(1, 1, 3), frame='paper')
    assert _angle_deg(decoded.normals, _pixel(paper)).max() < 0.5


def test_paper_wall_facing_camera_is_plus_z() -> None:
    # The paper's frame: z toward the camera, so a wall facing the camera is (0, 0, +1).
    assert encode_normals(_pixel((0.0, 0.0, 1.0)), frame='paper').tolist() == [[[128, 128, 255]]]


@pytest.mark.parametrize('dtype', [np.float16, np.float32, np.float64])
def test_golden_colours_hold_for_every_float_dtype(dtype: type[np.floating]) -> None:
    normals = np.array([[WALL[0], FACING_LEFT[0], FLOOR[0]]], dtype=dtype)  # (1, 3, 3)
    assert encode_normals(normals).tolist() == [
        [list(WALL[1]), list(FACING_LEFT[1]), list(FLOOR[1])]
    ]


def test_bfloat16_tensor_is_accepted() -> None:
    normals = torch.tensor([[WALL[0]]], dtype=torch.bfloat16)
    assert encode_normals(normals).tolist() == [[list(WALL[1])]]


@pytest.mark.parametrize('shape', [(4, 5), (2, 4, 5), (2, 3, 4, 5)], ids=str)
def test_torch_in_torch_out_on_the_same_device(
    shape: tuple[int, ...], device: torch.device
) -> None:
    normals = torch.randn(*shape, 3, generator=torch.Generator().manual_seed(0)).to(device)
    rgb = encode_normals(normals)
    assert isinstance(rgb, torch.Tensor)
    assert rgb.dtype == torch.uint8 and rgb.shape == (*shape, 3) and rgb.device == normals.device
    decoded = decode_normals(rgb)
    assert isinstance(decoded, DecodedNormals)
    assert isinstance(decoded.normals, torch.Tensor) and isinstance(
        decoded.confidence, torch.Tensor
    )
    assert decoded.normals.shape == (*shape, 3) and decoded.confidence.shape == shape
    assert decoded.normals.dtype == decoded.confidence.dtype == torch.float32
    assert decoded.normals.device == decoded.confidence.device == normals.device
    angle = _angle_deg(decoded.normals.cpu().double().numpy(), normals.cpu().double().numpy())
    assert angle.max() <= QUANTISATION_BOUND_DEG


@pytest.mark.parametrize('shape', [(4, 5), (2, 4, 5), (2, 3, 4, 5)], ids=str)
def test_numpy_in_numpy_out(shape: tuple[int, ...]) -> None:
    normals = np.random.default_rng(0).normal(size=(*shape, 3)).astype(np.float32)
    rgb = encode_normals(normals)
    assert isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.shape == (*shape, 3)
    decoded = decode_normals(rgb)
    assert isinstance(decoded.normals, np.ndarray) and isinstance(decoded.confidence, np.ndarray)
    assert decoded.normals.dtype == decoded.confidence.dtype == np.float32
    assert decoded.confidence.shape == shape


def test_numpy_and_torch_encode_identically() -> None:
    normals = np.random.default_rng(1).normal(size=(16, 16, 3)).astype(np.float32)
    from_numpy = encode_normals(normals)
    from_torch = encode_normals(torch.from_numpy(normals))
    assert isinstance(from_torch, torch.Tensor)
    np.testing.assert_array_equal(from_numpy, from_torch.numpy())


unit_components = st.floats(-1.0, 1.0, allow_nan=False, width=64)


@settings(max_examples=300, deadline=None)
@given(
    vector=st.tuples(unit_components, unit_components, unit_components).filter(
        lambda v: math.hypot(*v) > 1e-3
    ),
    frame=st.sampled_from(['optical', 'paper']),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_round_trip_angle_is_within_half_a_degree(
    vector: tuple[float, float, float], frame: str, dtype: type[np.floating]
) -> None:
    normal = _pixel(vector, dtype)
    decoded = decode_normals(encode_normals(normal, frame), frame)
    angle = _angle_deg(decoded.normals.astype(np.float64), normal.astype(np.float64))
    assert angle.max() <= QUANTISATION_BOUND_DEG < 0.5
    assert decoded.confidence.min() > 0.99


def test_dense_sweep_max_round_trip_error_matches_the_documented_figure() -> None:
    # 500k random unit normals per frame; the module docstring's 0.387 deg used 4M (seed 0).
    generator = torch.Generator().manual_seed(0)
    normals = torch.randn(500, 1000, 3, generator=generator, dtype=torch.float64)
    normals = normals / torch.linalg.vector_norm(normals, dim=-1, keepdim=True)
    worst = 0.0
    for frame in ('optical', 'paper'):
        decoded = decode_normals(encode_normals(normals, frame), frame)
        assert isinstance(decoded.normals, torch.Tensor)
        cosine = (decoded.normals.double() * normals).sum(-1).clamp(-1.0, 1.0)
        worst = max(worst, math.degrees(torch.acos(cosine).max().item()))
    assert worst <= QUANTISATION_BOUND_DEG < 0.5
    assert worst == pytest.approx(ROUND_TRIP_MAX_DEG, abs=0.01)  # the documented figure holds


@pytest.mark.parametrize('scale', [2.0**-100, 2.0**-3, 8.0, 2.0**100], ids=str)
def test_encoding_ignores_vector_length(scale: float) -> None:
    normals = np.random.default_rng(2).normal(size=(8, 8, 3))
    np.testing.assert_array_equal(encode_normals(normals * scale), encode_normals(normals))


@pytest.mark.parametrize('scale', [1e-40, 1e30], ids=['subnormal', 'huge'])
def test_tiny_and_huge_float32_vectors_encode_their_direction(scale: float) -> None:
    direction = np.array([0.3, -0.5, -0.8])
    normal = (direction * scale).astype(np.float32).reshape(1, 1, 3)
    assert np.all(np.isfinite(normal)) and np.all(normal != 0)
    decoded = decode_normals(encode_normals(normal))
    assert _angle_deg(decoded.normals.astype(np.float64), direction).max() < 0.5


@pytest.mark.parametrize(
    'vector',
    [(math.nan, 0.0, -1.0), (0.0, math.inf, 0.0), (-math.inf, 0.0, 0.0), (0.0, 0.0, 0.0)],
    ids=['nan', 'inf', 'minus_inf', 'zero'],
)
@pytest.mark.parametrize('frame', ['optical', 'paper'])
def test_invalid_normal_encodes_mid_grey_and_decodes_to_nan(
    vector: tuple[float, float, float], frame: str
) -> None:
    normals = np.array([[vector, WALL[0]]], dtype=np.float32)  # (1, 2, 3): invalid, then valid
    rgb = encode_normals(normals, frame)
    assert tuple(rgb[0, 0]) == INVALID_NORMAL_RGB == (128, 128, 128)
    decoded = decode_normals(rgb, frame)
    assert np.isnan(decoded.normals[0, 0]).all() and decoded.confidence[0, 0] == 0.0
    assert np.isfinite(decoded.normals[0, 1]).all() and decoded.confidence[0, 1] > 0.99


def test_decoded_length_below_threshold_is_nan() -> None:
    # Raw optical vector of grey level g is (1 - 2 g / 255) on every axis, length sqrt(3) * |.|.
    levels = np.arange(256)
    raw_length = np.sqrt(3.0) * np.abs(1.0 - 2.0 * levels / 255.0)
    rgb = np.repeat(levels.astype(np.uint8)[None, :, None], 3, axis=-1)  # (1, 256, 3) greys
    decoded = decode_normals(rgb)
    invalid = np.isnan(decoded.normals).all(-1)[0]
    np.testing.assert_array_equal(invalid, raw_length < MIN_DECODED_LENGTH)
    assert np.all(decoded.confidence[0][invalid] == 0.0)
    stricter = decode_normals(rgb, min_length=0.9)
    np.testing.assert_array_equal(np.isnan(stricter.normals).all(-1)[0], raw_length < 0.9)


@pytest.mark.parametrize('frame', ['optical', 'paper'])
def test_decoding_matches_the_float64_formula_on_a_colour_cube(frame: str) -> None:
    levels = np.arange(0, 256, 3, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing='ij'), axis=-1)  # (86,) * 3
    decoded = decode_normals(rgb, frame)
    sign = np.array([-1.0, -1.0, -1.0] if frame == 'optical' else [-1.0, 1.0, 1.0])
    raw = sign * (rgb.astype(np.float64) * 2.0 / 255.0 - 1.0)
    length = np.linalg.norm(raw, axis=-1)
    valid = length >= MIN_DECODED_LENGTH
    np.testing.assert_array_equal(np.isfinite(decoded.normals).all(-1), valid)
    unit = raw[valid] / length[valid, None]
    np.testing.assert_allclose(decoded.normals[valid], unit, atol=3e-7)
    confidence = np.where(valid, np.exp(-0.5 * ((length - 1.0) / 0.1) ** 2), 0.0)
    np.testing.assert_allclose(decoded.confidence, confidence, atol=1e-5)  # float32 length


@pytest.mark.parametrize('frame', ['optical', 'paper'])
def test_encoding_matches_the_float64_formula(frame: str) -> None:
    # Rounding to nearest, ties up; float32 arithmetic may move a level sitting within an ulp
    # of a tie, so allow one level on a handful of channels.
    normals = np.random.default_rng(4).normal(size=(200, 300, 3)).astype(np.float32)
    rgb = encode_normals(normals, frame).astype(np.int64)
    sign = np.array([-1.0, -1.0, -1.0] if frame == 'optical' else [-1.0, 1.0, 1.0])
    unit = (
        normals.astype(np.float64) / np.linalg.norm(normals.astype(np.float64), axis=-1)[..., None]
    )
    expected = np.floor(np.clip((1.0 + sign * unit) * 0.5, 0.0, 1.0) * 255.0 + 0.5)
    difference = np.abs(rgb - expected)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-4


def test_off_sphere_colour_gets_low_confidence() -> None:
    # Black decodes to raw (1, 1, 1): a direction, but length sqrt(3), far off the unit sphere.
    rgb = np.array([[[0, 0, 0], [128, 128, 255], [40, 128, 200]]], dtype=np.uint8)
    decoded = decode_normals(rgb)
    assert np.isfinite(decoded.normals).all()
    np.testing.assert_allclose(np.linalg.norm(decoded.normals, axis=-1), 1.0, atol=1e-6)
    confidence = decoded.confidence[0]
    assert confidence[0] < 1e-6 and confidence[1] > 0.99 and 0.0 < confidence[2] < 0.99


def test_sigma_length_sets_where_confidence_is_exp_minus_half() -> None:
    # (255, 128, 128) -> raw (-1, -0.0039, -0.0039), length 1.0000153: confidence ~ 1.
    # Level 230 on R alone -> raw x = -0.804, length 0.804: |1 - L| = 0.196.
    rgb = np.array([[[230, 128, 128]]], dtype=np.uint8)
    length = np.linalg.norm(1.0 - 2.0 * rgb.astype(np.float64) / 255.0)
    sigma = abs(length - 1.0)
    decoded = decode_normals(rgb, sigma_length=sigma)
    np.testing.assert_allclose(decoded.confidence[0, 0], math.exp(-0.5), rtol=1e-4)


def test_decoded_valid_normals_are_unit_and_confidence_in_unit_interval() -> None:
    levels = np.arange(0, 256, 5, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing='ij'), axis=-1)  # (52, 52, 52, 3)
    decoded = decode_normals(rgb)
    valid = np.isfinite(decoded.normals).all(-1)
    assert valid.any() and (~valid).any()
    assert np.isnan(decoded.normals[~valid]).all()
    np.testing.assert_allclose(np.linalg.norm(decoded.normals[valid], axis=-1), 1.0, atol=1e-6)
    assert decoded.confidence.min() >= 0.0 and decoded.confidence.max() <= 1.0


@pytest.mark.parametrize(
    ('normals', 'match'),
    [
        (np.zeros((2, 2, 3), dtype=np.int32), 'normals must have dtype'),
        (np.zeros((2, 2, 3), dtype=np.uint8), 'normals must have dtype'),
        (np.zeros((2, 2, 4), dtype=np.float32), r'normals must be laid out \(\.\.\., H, W, 3\)'),
        (np.zeros((2, 3), dtype=np.float32), r'normals must be laid out'),
        (np.zeros((0, 2, 3), dtype=np.float32), 'normals is empty'),
        ([[[0.0, 0.0, -1.0]]], 'normals must be a numpy array or a torch tensor'),
    ],
    ids=['int32', 'uint8', 'four_channels', 'no_channel_axis', 'empty', 'list'],
)
def test_bad_normals_raise_codec_error_naming_the_argument(normals: object, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        encode_normals(normals)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('rgb', 'match'),
    [
        (np.zeros((2, 2, 3), dtype=np.float32), 'rgb must have dtype uint8'),
        (np.zeros((2, 2, 3), dtype=np.uint16), 'rgb must have dtype uint8'),
        (np.zeros((2, 2, 4), dtype=np.uint8), r'rgb must be laid out \(\.\.\., H, W, 3\)'),
        (np.zeros((2, 0, 3), dtype=np.uint8), 'rgb is empty'),
    ],
    ids=['float32', 'uint16', 'rgba', 'empty'],
)
def test_bad_rgb_raises_codec_error_naming_the_argument(rgb: np.ndarray, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        decode_normals(rgb)


def test_unknown_frame_raises_codec_error() -> None:
    with pytest.raises(CodecError, match="frame must be one of optical, paper, got 'camera'"):
        encode_normals(_pixel(WALL[0]), frame='camera')
    with pytest.raises(CodecError, match='frame must be one of'):
        decode_normals(np.zeros((1, 1, 3), dtype=np.uint8), frame='OPTICAL')


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'min_length': 0.0}, 'min_length must be in'),
        ({'min_length': 1.0}, 'min_length must be in'),
        ({'min_length': math.nan}, 'min_length must be in'),
        ({'sigma_length': 0.0}, 'sigma_length must be a positive'),
        ({'sigma_length': math.inf}, 'sigma_length must be a positive'),
    ],
    ids=['min_zero', 'min_one', 'min_nan', 'sigma_zero', 'sigma_inf'],
)
def test_bad_decode_settings_raise_codec_error(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(CodecError, match=match):
        decode_normals(np.zeros((1, 1, 3), dtype=np.uint8), **kwargs)  # type: ignore[arg-type]
