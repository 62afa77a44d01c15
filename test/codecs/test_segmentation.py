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
"""Tests for vision_banana_ros.codecs.segmentation: colours, palette, exact and degraded decode."""

from __future__ import annotations

import inspect
import math

import cv2
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from scipy.spatial.distance import pdist
import torch
from vision_banana_ros.codecs import CodecError
from vision_banana_ros.codecs.segmentation import (
    class_colour_table,
    colour_name,
    decode_instances,
    decode_referring,
    decode_semantic,
    distinct_palette,
    encode_instances,
    encode_referring,
    encode_semantic,
    exact_colour_name,
    INSTANCE_GAMMA,
    INSTANCE_TAU_RGB,
    INSTANCE_THETA_EROSION,
    INSTANCE_THETA_SIZE,
    MAX_PALETTE_SIZE,
    parse_colour,
)

KINDS = ['numpy', 'torch']
DEGRADATIONS = ['noise', 'blur', 'jpeg', 'all']
PAPER_BACKGROUND = (88, 50, 82)  # "Background is RGB(88, 50, 82)." (paper Fig. 3)


def _as(kind: str, array: np.ndarray) -> np.ndarray | torch.Tensor:
    return torch.from_numpy(array) if kind == 'torch' else array


def _np(value: object) -> np.ndarray:
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _degrade(rgb: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Blur 5x5, JPEG at quality 75, Gaussian noise sigma 8, or all three in that order."""
    out = rgb
    if kind in ('blur', 'all'):
        out = cv2.GaussianBlur(out, (5, 5), 0)
    if kind in ('jpeg', 'all'):
        ok, jpeg = cv2.imencode('.jpg', out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
        assert ok
        out = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
    if kind in ('noise', 'all'):
        noise = np.random.default_rng(seed).normal(0.0, 8.0, out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out)


def _shapes(size: int = 128) -> np.ndarray:
    """Six separate shapes (ids 1..6) on background 0: circles, boxes, an ellipse, a triangle."""
    ids = np.zeros((size, size), dtype=np.uint8)
    cv2.circle(ids, (30, 30), 18, 1, -1)
    cv2.rectangle(ids, (60, 10), (110, 45), 2, -1)
    cv2.ellipse(ids, (40, 90), (25, 15), 30, 0, 360, 3, -1)
    cv2.fillPoly(ids, [np.array([[70, 120], [120, 120], [95, 60]])], 4)
    cv2.rectangle(ids, (5, 55), (25, 75), 5, -1)
    cv2.circle(ids, (112, 62), 10, 6, -1)
    return ids


def _grid(cells: int, gap: int, size: int = 128) -> np.ndarray:
    """Draw a cells x cells grid of instances, ``gap`` background pixels between neighbours."""
    ids = np.zeros((size, size), dtype=np.uint8)
    step, offset = (size - 8) // cells, 4
    for row in range(cells):
        for col in range(cells):
            y0, x0 = offset + row * step + gap, offset + col * step + gap
            y1, x1 = offset + (row + 1) * step, offset + (col + 1) * step
            ids[y0:y1, x0:x1] = row * cells + col + 1
    return ids


def _random_scene(seed: int, count: int = 8, size: int = 128) -> np.ndarray:
    """Up to ``count`` circles and boxes at random, at least 1 px apart."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((size, size), dtype=np.uint8)
    for _ in range(200):
        if ids.max() == count:
            break
        shape = np.zeros_like(ids)
        if rng.random() < 0.5:
            r = int(rng.integers(7, 18))
            cx, cy = (int(c) for c in rng.integers(r, size - r, 2))
            cv2.circle(shape, (cx, cy), r, 1, -1)
        else:
            w, h = (int(v) for v in rng.integers(12, 40, 2))
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            cv2.rectangle(shape, (x, y), (x + w - 1, y + h - 1), 1, -1)
        if not ids[cv2.dilate(shape, np.ones((3, 3), np.uint8)) > 0].any():
            ids[shape > 0] = ids.max() + 1
    return ids


def _best_ious(truth: np.ndarray, decoded: np.ndarray) -> list[float]:
    """For each true id, the IoU of the decoded instance overlapping it most."""
    ious = []
    for k in range(1, int(truth.max()) + 1):
        inside = truth == k
        best = np.bincount(decoded[inside].astype(np.int64))[1:]
        match = int(best.argmax()) + 1 if best.size and best.max() > 0 else -1
        ious.append(
            float((inside & (decoded == match)).sum() / (inside | (decoded == match)).sum())
        )
    return ious


def _raster_renumbered(ids: np.ndarray) -> np.ndarray:
    """Renumber ids 1..K by the raster order of each id's first pixel (decode_instances' order)."""
    flat = ids.reshape(-1).astype(np.int64)
    present, first = np.unique(flat, return_index=True)
    order = present[present > 0][np.argsort(first[present > 0])]
    lookup = np.zeros(flat.max() + 1, dtype=np.int64)
    lookup[order] = np.arange(1, len(order) + 1)
    return lookup[flat].reshape(ids.shape)


def _near_edges(labels: np.ndarray, width_px: int = 2) -> np.ndarray:
    edges = np.zeros(labels.shape, dtype=np.uint8)
    edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edges[1:, :] |= labels[1:, :] != labels[:-1, :]
    kernel = np.ones((2 * width_px + 1, 2 * width_px + 1), dtype=np.uint8)
    return cv2.dilate(edges, kernel) > 0


# ---------------------------------------------------------------------------------------------
# Colours and names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('text', 'rgb'),
    [
        ('(255, 0, 0)', (255, 0, 0)),
        ('<255, 165, 0>', (255, 165, 0)),
        ('RGB(88, 50, 82)', (88, 50, 82)),
        ('rgb(1,2,3)', (1, 2, 3)),
        ('[1, 2, 3]', (1, 2, 3)),
        (' 255, 255, 0 ', (255, 255, 0)),
        ('#80C000', (128, 192, 0)),
        ('80c000', (128, 192, 0)),
        ('#f00', (255, 0, 0)),
        ('red', (255, 0, 0)),
        ('Dark-Orange', (255, 140, 0)),
        ('light blue', (173, 216, 230)),  # CSS4 lightblue, not xkcd 'light blue'
        ('xkcd:light blue', (149, 208, 252)),
        ('light purple', (191, 119, 246)),  # xkcd only: the paper's "exit sign" colour
        ('Light-Purple', (191, 119, 246)),
        ('lightpurple', (191, 119, 246)),
        ('grey', (128, 128, 128)),
        ('gray', (128, 128, 128)),
        ('green', (0, 128, 0)),  # CSS4 wins over xkcd; pure green is 'lime'
        ('lime', (0, 255, 0)),
    ],
)
def test_parse_colour_reads_every_prompt_notation(text: str, rgb: tuple[int, int, int]) -> None:
    assert parse_colour(text) == rgb


@pytest.mark.parametrize(
    'value',
    [(255, 0, 0), [255, 0, 0], np.array([255, 0, 0], dtype=np.uint8), torch.tensor([255, 0, 0])],
)
def test_parse_colour_takes_three_ints_of_any_container(value: object) -> None:
    assert parse_colour(value) == (255, 0, 0)


@pytest.mark.parametrize(
    ('value', 'match'),
    [
        ('purplish blurple', "'purplish blurple'"),
        ('(256, 0, 0)', r'\[0, 255\]'),
        ('(1, 2)', r"'\(1, 2\)'"),
        ('(1, 2, 3', 'does not close'),
        ('#12345', "'#12345'"),
        ('f00', "'f00'"),  # bare 3-digit hex reads as a word: only '#f00' is hex
        ((1.5, 2, 3), 'integers'),
        ((True, 0, 0), 'integers'),
        (np.array([0.5, 0.0, 0.0]), 'integers'),
        (7, 'int 7'),
    ],
)
def test_parse_colour_rejects_non_colours_by_quoting_them(value: object, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        parse_colour(value)


def test_colour_name_is_the_nearest_css_name_with_preferred_aliases() -> None:
    assert colour_name((250, 5, 5)) == 'red'
    assert colour_name((0, 255, 255)) == 'cyan'
    assert colour_name((255, 0, 255)) == 'magenta'
    assert colour_name((128, 128, 128)) == 'grey'
    assert colour_name('light purple') == 'orchid'  # nearest CSS4 (42 levels off), not exact


def test_exact_colour_name_reads_back_or_is_none() -> None:
    assert exact_colour_name((191, 119, 246)) == 'light purple'
    assert exact_colour_name((0, 255, 0)) == 'lime'
    assert exact_colour_name((1, 2, 3)) is None


@settings(max_examples=200, deadline=None)
@given(st.tuples(*[st.integers(0, 255)] * 3) | st.sampled_from(distinct_palette(60).tolist()))
def test_an_exact_name_always_parses_back_to_its_colour(rgb: tuple[int, int, int]) -> None:
    name = exact_colour_name(tuple(rgb))
    assert name is None or parse_colour(name) == tuple(rgb)


# ---------------------------------------------------------------------------------------------
# Palette
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize('avoid', [(), [PAPER_BACKGROUND], ['white']])
@pytest.mark.parametrize('n', [2, 5, 8, 12, 20])
def test_small_palettes_are_far_apart_and_never_dark(n: int, avoid: list[object]) -> None:
    palette = distinct_palette(n, avoid=avoid).numpy().astype(np.float64)
    assert palette.shape == (n, 3)
    assert pdist(palette).min() >= (100.0 if not avoid else 80.0)
    for colour in [(0, 0, 0), *(parse_colour(c) for c in avoid)]:
        assert np.linalg.norm(palette - np.array(colour), axis=1).min() >= 64.0


def test_palette_never_holds_black_or_blends_of_background_and_palette() -> None:
    palette = distinct_palette(1000).numpy().astype(np.float64)
    assert len({tuple(c) for c in palette}) == 1000
    assert np.linalg.norm(palette, axis=1).min() >= 64.0  # not black, not near black
    assert pdist(palette).min() >= 10.0
    assert (128, 128, 128) not in {tuple(int(v) for v in c) for c in palette[:20]}  # white/black


def test_palette_is_deterministic_and_each_is_a_prefix_of_the_next() -> None:
    assert torch.equal(distinct_palette(20), distinct_palette(20))
    assert torch.equal(distinct_palette(20), distinct_palette(300)[:20])
    assert distinct_palette(7).tolist() == [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 0],
        [0, 255, 255],
        [255, 0, 255],
        [255, 255, 255],
    ]


def test_small_palettes_can_be_written_as_names() -> None:
    names = [exact_colour_name(c) for c in distinct_palette(18).tolist()]
    assert None not in names
    assert names[:7] == ['red', 'lime', 'blue', 'yellow', 'cyan', 'magenta', 'white']


def test_palette_lives_on_the_device(device: torch.device) -> None:
    palette = distinct_palette(4, device=device)
    assert palette.device.type == device.type and palette.dtype == torch.uint8


@pytest.mark.parametrize('n', [-1, MAX_PALETTE_SIZE + 1, 2.5, True])
def test_palette_rejects_a_bad_size(n: object) -> None:
    with pytest.raises(CodecError, match='n must'):
        distinct_palette(n)


# ---------------------------------------------------------------------------------------------
# Semantic
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    classes=st.integers(1, 24),
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_semantic_encode_then_decode_returns_the_labels(
    classes: int, height: int, width: int, seed: int
) -> None:
    labels = np.random.default_rng(seed).integers(0, classes + 1, (height, width))
    colours = distinct_palette(classes)
    decoded = decode_semantic(encode_semantic(labels, colours), colours)
    np.testing.assert_array_equal(decoded.labels, labels)
    assert decoded.labels.dtype == np.uint16
    labelled = labels > 0
    assert np.all(decoded.confidence[labelled] == 1.0) and np.all(
        decoded.distance_rgb[labelled] == 0
    )


def test_semantic_class_ids_follow_the_mapping_order_in_every_form() -> None:
    mapping = {'cat': 'red', 'lock': 'pink', 'exit sign': 'light purple'}
    rgb = np.array([[[255, 0, 0], [255, 192, 203], [191, 119, 246], [0, 0, 0]]], dtype=np.uint8)
    for form in (
        mapping,
        list(mapping.items()),
        list(mapping.values()),
        class_colour_table(mapping),
    ):
        np.testing.assert_array_equal(decode_semantic(rgb, form).labels, [[1, 2, 3, 0]])


def test_semantic_confidence_is_the_relative_margin() -> None:
    colours = [(255, 0, 0), (0, 0, 255)]
    rgb = np.array([[[255, 0, 0], [200, 0, 0], [128, 0, 127]]], dtype=np.uint8)
    decoded = decode_semantic(rgb, colours)
    d2 = math.hypot(200, 255)  # (200, 0, 0) to blue
    np.testing.assert_allclose(decoded.confidence[0], [1.0, 1 - 55 / d2, 0.0], atol=0.01)
    np.testing.assert_allclose(decoded.distance_rgb[0, :2], [0.0, 55.0], atol=1e-4)


def test_a_colour_far_from_every_class_is_unlabelled_unless_the_limit_is_lifted() -> None:
    rgb = np.array([[[0, 0, 0], [40, 0, 0]]], dtype=np.uint8)
    colours = {'cat': (255, 0, 0), 'sky': (0, 0, 255)}
    np.testing.assert_array_equal(decode_semantic(rgb, colours).labels, [[0, 0]])
    np.testing.assert_array_equal(decode_semantic(rgb, colours, math.inf).labels, [[1, 1]])
    np.testing.assert_array_equal(decode_semantic(rgb, colours, 220.0).labels, [[0, 1]])


def test_semantic_torch_in_torch_out_with_batch_axes(device: torch.device) -> None:
    labels = torch.randint(0, 4, (2, 3, 5, 7), device=device)
    colours = distinct_palette(3)
    rgb = encode_semantic(labels, colours)
    assert isinstance(rgb, torch.Tensor) and rgb.shape == (2, 3, 5, 7, 3)
    assert rgb.device.type == device.type
    decoded = decode_semantic(rgb, colours)
    assert decoded.labels.dtype == torch.uint16 and decoded.labels.device.type == device.type
    assert torch.equal(decoded.labels.to(torch.int64), labels)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('degradation', DEGRADATIONS)
def test_semantic_labels_survive_noise_blur_and_jpeg(kind: str, degradation: str) -> None:
    labels = _shapes().astype(np.int64)
    classes = {'a': 'red', 'b': 'lime', 'c': 'blue', 'd': 'yellow', 'e': 'cyan', 'f': 'magenta'}
    rgb = _degrade(encode_semantic(labels, classes), degradation)
    decoded = _np(decode_semantic(_as(kind, rgb), classes).labels)
    interior = ~_near_edges(labels)
    assert (decoded == labels)[interior].mean() >= 0.97  # measured 1.000 for every degradation
    assert (decoded == labels).mean() >= 0.93  # measured >= 0.95, edges included


def _nearest_two_reference(rgb: np.ndarray, colours: np.ndarray) -> tuple[np.ndarray, ...]:
    """Brute force in int64: index of the nearest colour (first of ties), d1^2 and d2^2."""
    offsets = rgb.reshape(-1, 1, 3).astype(np.int64) - colours.astype(np.int64)[None]
    distance_sq = (offsets**2).sum(-1)  # (P, N)
    ordered = np.sort(distance_sq, axis=1)
    second = ordered[:, 1] if colours.shape[0] > 1 else np.full(len(ordered), -1)
    return distance_sq.argmin(axis=1), ordered[:, 0], second


@settings(max_examples=40, deadline=None)
@given(
    classes=st.integers(1, 100),
    seed=st.integers(0, 2**32 - 1),
    ties=st.booleans(),
)
def test_semantic_decode_is_the_exact_nearest_and_second_nearest_colour(
    classes: int, seed: int, ties: bool
) -> None:
    # Up to 100 classes covers both the float32 (<= 64) and float64 scoring paths; midpoints of
    # two class colours put pixels exactly between classes, where the first class wins.
    rng = np.random.default_rng(seed)
    colours = distinct_palette(classes).numpy()
    rgb = rng.integers(0, 256, (6, 50, 3), dtype=np.uint8)
    if ties:
        pairs = colours[rng.integers(0, classes, (2, 300))].astype(np.int64)
        rgb = ((pairs[0] + pairs[1]) // 2).astype(np.uint8).reshape(6, 50, 3)
    decoded = decode_semantic(rgb, colours, math.inf)
    index, d1_sq, d2_sq = _nearest_two_reference(rgb, colours)
    np.testing.assert_array_equal(decoded.labels.reshape(-1), index + 1)
    distance = decoded.distance_rgb.reshape(-1).astype(np.float64)
    np.testing.assert_array_equal(np.round(distance**2), d1_sq)
    expected = 1.0 - np.sqrt(d1_sq) / np.sqrt(d2_sq) if classes > 1 else np.ones(len(d1_sq))
    np.testing.assert_allclose(decoded.confidence.reshape(-1), expected, atol=1e-6)


def test_semantic_decode_is_exact_with_reduced_precision_matmuls() -> None:
    # The scores are products of 8-bit levels and 2**k times 8-bit colours: TF32 and bf16
    # matmul inputs (set_float32_matmul_precision 'high' / 'medium') represent them exactly.
    rgb = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    colours = distinct_palette(30)
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision('highest')
    try:
        highest = decode_semantic(rgb, colours)
        mask = decode_referring(rgb, 'yellow', 'navy', ['red'])
        for precision in ('high', 'medium'):
            torch.set_float32_matmul_precision(precision)
            decoded = decode_semantic(rgb, colours)
            np.testing.assert_array_equal(decoded.labels, highest.labels)
            np.testing.assert_array_equal(decoded.distance_rgb, highest.distance_rgb)
            np.testing.assert_array_equal(decode_referring(rgb, 'yellow', 'navy', ['red']), mask)
    finally:
        torch.set_float32_matmul_precision(previous)


@pytest.mark.parametrize(
    ('call', 'match'),
    [
        (lambda: decode_semantic(np.zeros((2, 2, 3), np.uint8), ['red', (255, 0, 0)]), 'share'),
        (lambda: decode_semantic(np.zeros((2, 2, 3), np.uint8), []), '1 to 65535'),
        (lambda: decode_semantic(np.zeros((2, 2, 3), np.float32), ['red']), 'dtype uint8'),
        (lambda: decode_semantic(np.zeros((2, 2, 3), np.uint8), ['red'], 0.0), 'max_distance'),
        (lambda: encode_semantic(np.array([[0, 3]]), ['red', 'blue']), r'\[0, 2\]'),
        (lambda: encode_semantic(np.array([[0.0]]), ['red']), 'labels must have dtype'),
        (lambda: encode_semantic(np.array([[-1]]), ['red']), r'\[-1, -1\]'),
    ],
)
def test_semantic_rejects_bad_arguments_by_name(call: object, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# Referring
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    mask=st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=1, max_size=5),
    target=st.sampled_from(['white', 'yellow', (255, 0, 0), '#80C000']),
    background=st.sampled_from(['black', (88, 50, 82), 'navy']),
)
def test_referring_encode_then_decode_returns_the_mask(
    mask: list[list[bool]], target: object, background: object
) -> None:
    truth = np.array(mask, dtype=bool)
    rgb = encode_referring(truth, target, background)
    np.testing.assert_array_equal(decode_referring(rgb, target, background), truth)


def test_referring_excludes_the_other_named_objects() -> None:
    rgb = np.array([[[255, 255, 255], [0, 128, 0], [120, 200, 120], [0, 0, 0]]], dtype=np.uint8)
    np.testing.assert_array_equal(decode_referring(rgb), [[True, False, True, False]])
    np.testing.assert_array_equal(
        decode_referring(rgb, others=['green']), [[True, False, False, False]]
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), others=st.integers(0, 4))
def test_referring_mask_is_the_exact_nearest_colour_rule(seed: int, others: int) -> None:
    rng = np.random.default_rng(seed)
    colours = distinct_palette(2 + others, avoid=['black']).numpy()
    rgb = rng.integers(0, 256, (7, 40, 3), dtype=np.uint8)
    pairs = colours[rng.integers(0, len(colours), (2, 7 * 20))].astype(np.int64)
    rgb[:, :20] = ((pairs[0] + pairs[1]) // 2).reshape(7, 20, 3)  # midpoints: exact ties
    target, rest = colours[0], colours[1:]
    mask = decode_referring(rgb, tuple(target), tuple(rest[0]), [tuple(c) for c in rest[1:]])
    offsets = rgb.reshape(-1, 1, 3).astype(np.int64) - colours.astype(np.int64)[None]
    distance_sq = (offsets**2).sum(-1)  # (P, 2 + others)
    expected = distance_sq[:, 0] < distance_sq[:, 1:].min(axis=1)  # ties: not the target
    np.testing.assert_array_equal(mask.reshape(-1), expected)


def test_referring_ties_do_not_count_as_the_target() -> None:
    rgb = np.array([[[127, 0, 0], [128, 0, 0]]], dtype=np.uint8)
    np.testing.assert_array_equal(decode_referring(rgb, (254, 0, 0), 'black'), [[False, True]])


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('degradation', DEGRADATIONS)
@pytest.mark.parametrize(('target', 'background'), [('white', 'black'), ('yellow', 'black')])
def test_referring_mask_survives_noise_blur_and_jpeg(
    kind: str, degradation: str, target: str, background: str
) -> None:
    truth = np.isin(_shapes(), [1, 3, 4])
    rgb = _degrade(encode_referring(truth, target, background), degradation)
    mask = _np(decode_referring(_as(kind, rgb), target, background))
    assert (mask & truth).sum() / (mask | truth).sum() >= 0.95  # measured >= 0.996


def test_referring_torch_in_torch_out(device: torch.device) -> None:
    truth = torch.rand(2, 6, 6, device=device) > 0.5
    rgb = encode_referring(truth)
    assert isinstance(rgb, torch.Tensor) and rgb.device.type == device.type
    assert torch.equal(decode_referring(rgb), truth)


def test_referring_rejects_a_target_equal_to_the_background_or_a_non_bool_mask() -> None:
    with pytest.raises(CodecError, match='share the colour'):
        decode_referring(np.zeros((2, 2, 3), np.uint8), 'white', '#fff')
    with pytest.raises(CodecError, match='mask must have dtype bool'):
        encode_referring(np.zeros((2, 2), np.uint8))


# ---------------------------------------------------------------------------------------------
# Instance
# ---------------------------------------------------------------------------------------------


def test_instance_defaults_are_the_papers_appendix_a_thresholds() -> None:
    assert (INSTANCE_TAU_RGB, INSTANCE_THETA_SIZE, INSTANCE_THETA_EROSION, INSTANCE_GAMMA) == (
        14.0,
        2e-4,
        0.1,
        5.0,
    )
    defaults = inspect.signature(decode_instances).parameters
    assert defaults['tau_rgb'].default == 14.0 and defaults['gamma'].default == 5.0
    assert defaults['theta_size'].default == 2e-4 and defaults['theta_erosion'].default == 0.1


@st.composite
def _boxes(draw: st.DrawFn) -> np.ndarray:
    """Up to 6 non-overlapping boxes of at least 8x8 px in a 48x48 image (they may touch)."""
    ids = np.zeros((48, 48), dtype=np.int64)
    for _ in range(draw(st.integers(1, 6))):
        y, x = draw(st.integers(0, 40)), draw(st.integers(0, 40))
        bottom, right = draw(st.integers(y + 8, 48)), draw(st.integers(x + 8, 48))
        if not ids[y:bottom, x:right].any():
            ids[y:bottom, x:right] = ids.max() + 1
    return ids


@settings(max_examples=40, deadline=None)
@given(ids=_boxes(), background=st.sampled_from(['black', PAPER_BACKGROUND, 'white']))
def test_instance_encode_then_decode_returns_the_instances_in_raster_order(
    ids: np.ndarray, background: object
) -> None:
    decoded = decode_instances(encode_instances(ids, background), background)
    np.testing.assert_array_equal(decoded.instance_ids, _raster_renumbered(ids))
    np.testing.assert_array_equal(decoded.areas_px, np.bincount(decoded.instance_ids.ravel())[1:])


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('degradation', DEGRADATIONS)
@pytest.mark.parametrize('background', [(0, 0, 0), PAPER_BACKGROUND])
def test_instances_survive_noise_blur_and_jpeg(
    kind: str, degradation: str, background: tuple[int, int, int]
) -> None:
    ids = _shapes()
    rgb = _degrade(encode_instances(ids, background), degradation)
    decoded = _np(decode_instances(_as(kind, rgb), background).instance_ids)
    assert decoded.max() == ids.max()
    assert min(_best_ious(ids, decoded)) >= 0.9  # measured >= 0.95


@pytest.mark.parametrize(('cells', 'gap'), [(4, 0), (5, 0), (4, 3)])
@pytest.mark.parametrize('background', [(0, 0, 0), PAPER_BACKGROUND])
def test_touching_and_close_instances_stay_apart_when_degraded(
    cells: int, gap: int, background: tuple[int, int, int]
) -> None:
    ids = _grid(cells, gap)
    rgb = _degrade(encode_instances(ids, background), 'all')
    decoded = decode_instances(rgb, background).instance_ids
    assert decoded.max() == ids.max()
    assert min(_best_ious(ids, decoded)) >= 0.9  # measured >= 0.93


@pytest.mark.parametrize('seed', range(4))
def test_random_scenes_decode_under_every_degradation_at_once(seed: int) -> None:
    ids = _random_scene(seed)
    for background in [(0, 0, 0), PAPER_BACKGROUND, (255, 255, 255)]:
        rgb = _degrade(encode_instances(ids, background), 'all', seed)
        decoded = decode_instances(rgb, background).instance_ids
        assert decoded.max() == ids.max()
        assert min(_best_ious(ids, decoded)) >= 0.9


def test_an_instance_split_by_an_occluder_is_merged_but_far_twins_are_not() -> None:
    rgb = np.zeros((64, 160, 3), dtype=np.uint8)
    rgb[10:40, 5:45] = (255, 0, 0)  # one red object ...
    rgb[10:40, 22:28] = (0, 0, 255)  # ... cut in two by a blue pole
    rgb[50:60, 150:160] = (255, 0, 0)  # a small red object far away (union box > 5x the boxes)
    decoded = decode_instances(rgb)
    ids = decoded.instance_ids
    assert ids.max() == 3
    assert ids[20, 10] == ids[20, 40] != ids[55, 155]
    assert ids[20, 25] not in (0, ids[20, 10])
    np.testing.assert_array_equal(decoded.areas_px, [30 * 34, 30 * 6, 100])
    np.testing.assert_array_equal(decoded.colours, [[255, 0, 0], [0, 0, 255], [255, 0, 0]])


def test_speckle_lines_and_tiny_blobs_are_not_instances() -> None:
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[::7, ::5] = (255, 255, 0)  # speckle
    rgb[50, 10:90] = (0, 255, 255)  # a 1-px line
    rgb[60:62, 10:90] = (255, 0, 255)  # a 2-px line
    rgb[80:83, 80:83] = (0, 255, 0)  # 9 px < min_area_px
    assert decode_instances(rgb).instance_ids.max() == 0


def test_the_size_floor_is_a_fraction_of_the_image() -> None:
    blob = np.zeros((400, 400, 3), dtype=np.uint8)
    blob[10:15, 10:16] = (255, 0, 0)  # 30 px < 2e-4 * 400 * 400 = 32
    assert decode_instances(blob).instance_ids.max() == 0
    assert decode_instances(blob, theta_size=1e-4).instance_ids.max() == 1


@pytest.mark.parametrize('degradation', ['none', 'all'])
@pytest.mark.parametrize('offset', [(1, 0), (0, 1), (3, 5)], ids=str)
def test_instances_do_not_depend_on_where_the_scene_sits(
    degradation: str, offset: tuple[int, int]
) -> None:
    # Colours are split into components in crops around each colour, aligned to even pixels
    # so that OpenCV numbers components as in the whole image: a shifted scene decodes alike.
    rgb = encode_instances(_shapes(), PAPER_BACKGROUND)
    if degradation != 'none':
        rgb = _degrade(rgb, degradation)
    top, left = offset
    shifted = np.empty((128 + top, 128 + left, 3), dtype=np.uint8)
    shifted[...] = PAPER_BACKGROUND
    shifted[top:, left:] = rgb
    decoded = decode_instances(rgb, PAPER_BACKGROUND)
    moved = decode_instances(shifted, PAPER_BACKGROUND)
    np.testing.assert_array_equal(moved.instance_ids[top:, left:], decoded.instance_ids)
    np.testing.assert_array_equal(moved.areas_px, decoded.areas_px)
    np.testing.assert_array_equal(moved.colours, decoded.colours)


def test_instance_decode_is_torch_in_torch_out(device: torch.device) -> None:
    ids = torch.from_numpy(_shapes().astype(np.int64)).to(device)
    rgb = encode_instances(ids)
    assert isinstance(rgb, torch.Tensor) and rgb.device.type == device.type
    decoded = decode_instances(rgb)
    assert decoded.instance_ids.device.type == device.type
    assert decoded.instance_ids.dtype == torch.uint16 and decoded.areas_px.dtype == torch.int64
    assert int(decoded.instance_ids.to(torch.int64).max()) == 6


def test_encoded_instances_keep_away_from_the_background() -> None:
    rgb = encode_instances(np.arange(30).reshape(5, 6), PAPER_BACKGROUND)
    colours = rgb.reshape(-1, 3).astype(np.float64)
    assert tuple(colours[0]) == PAPER_BACKGROUND
    assert np.linalg.norm(colours[1:] - np.array(PAPER_BACKGROUND), axis=1).min() >= 64.0


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'tau_rgb': 0.0}, 'tau_rgb'),
        ({'theta_size': 1.5}, 'theta_size'),
        ({'min_area_px': 0}, 'min_area_px'),
        ({'theta_erosion': -0.1}, 'theta_erosion'),
        ({'gamma': 0.5}, 'gamma'),
        ({'max_distance_rgb': 10.0}, 'max_distance_rgb'),
        ({'median_px': 4}, 'median_px'),
        ({'fill_px': -1}, 'fill_px'),
    ],
)
def test_instance_decode_rejects_bad_thresholds_by_name(
    kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(CodecError, match=match):
        decode_instances(np.zeros((4, 4, 3), np.uint8), **kwargs)


def test_instance_decode_takes_one_image_not_a_batch() -> None:
    with pytest.raises(CodecError, match=r'one image \(H, W, 3\)'):
        decode_instances(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(CodecError, match=r'\[0, 4096\]'):
        encode_instances(np.array([[MAX_PALETTE_SIZE + 1]]))
