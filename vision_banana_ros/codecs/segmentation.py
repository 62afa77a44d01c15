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
Segmentation masks <-> RGB, as Vision Banana draws them (arXiv:2604.20329 §3.1, Appendix A).

Three ways a generator paints segmentation, three decoders:

- **semantic**: the prompt maps each class to a colour; a pixel takes the class whose colour is
  nearest in 8-bit RGB (the paper's rule), or 0 (unlabelled) when even the nearest colour is
  farther than ``max_distance_rgb``. Class ids are 1..N in the order of the mapping.
- **instance**: one class per prompt, a background colour, and a colour *the generator picks* per
  instance; decoded by the paper's Appendix A recipe (background test with tau = 14, colour
  clustering, 8-connected components, size and erosion filters, merge of split pieces) with its
  thresholds as defaults, plus steps that keep blurred, noisy and JPEG-compressed output apart
  (see ``decode_instances``).
- **referring**: one target colour (white by default) on a background (black by default), maybe
  with other named objects in other colours; a pixel is the target if its colour is nearer the
  target than every other named colour.

Colours are 8-bit ``(r, g, b)`` tuples everywhere; ``parse_colour`` reads what prompts write
(tuples, ``RGB(..)``, ``<..>``, hex, CSS4 and xkcd names) and ``distinct_palette`` picks
well-separated, mostly nameable colours for classes and instances. Black means "nothing" and is
never a palette colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import functools
import itertools
import math
import re
from typing import TypeAlias

import numpy as np
import torch
from vision_banana_ros.codecs.errors import CodecError
from vision_banana_ros.tensors import ArrayLike, as_tensor, check_image, like

__all__ = [
    'BLACK',
    'INSTANCE_GAMMA',
    'INSTANCE_TAU_RGB',
    'INSTANCE_THETA_EROSION',
    'INSTANCE_THETA_SIZE',
    'MAX_PALETTE_SIZE',
    'WHITE',
    'ClassColours',
    'ColourLike',
    'DecodedInstances',
    'DecodedSemantic',
    'Rgb',
    'class_colour_table',
    'colour_name',
    'decode_instances',
    'decode_referring',
    'decode_semantic',
    'distinct_palette',
    'encode_instances',
    'encode_referring',
    'encode_semantic',
    'exact_colour_name',
    'parse_colour',
]

Rgb: TypeAlias = tuple[int, int, int]
"""An 8-bit colour, each channel an int in [0, 255]."""
ColourLike: TypeAlias = str | Sequence[int] | np.ndarray | torch.Tensor
"""Anything ``parse_colour`` reads: a name, hex, a tuple string, or three ints."""
ClassColours: TypeAlias = (
    Mapping[str, ColourLike] | Sequence[ColourLike] | Sequence[tuple[str, ColourLike]]
)
"""Class colours in class-id order: a name -> colour mapping, (name, colour) pairs, or colours."""

BLACK: Rgb = (0, 0, 0)
WHITE: Rgb = (255, 255, 255)

INSTANCE_TAU_RGB = 14.0
"""Appendix A tau: background and same-colour distance, 8-bit RGB levels (Euclidean)."""
INSTANCE_THETA_SIZE = 2e-4
"""Appendix A theta_size: smallest component kept, as a fraction of H * W."""
INSTANCE_THETA_EROSION = 0.1
"""Appendix A theta_erosion: smallest |S eroded by a 3x3 square| / |S| kept."""
INSTANCE_GAMMA = 5.0
"""Appendix A gamma: merge two same-colour pieces if union box area <= gamma * sum of box areas."""

MAX_PALETTE_SIZE = 4096
"""Largest ``n`` ``distinct_palette`` serves (a 15-level RGB grid backs the named colours)."""

_NEAR_BLACK_RGB = 64.0  # palette colours keep at least this distance from every avoided colour
_PALETTE_GRID_STEP = 15  # levels 0, 15, ..., 255: 18 ** 3 candidate colours
_BLEND_WEIGHT = 2.0  # distance to a blend with an avoided colour counts double
_PREFER_NAMED = 0.8  # a named colour wins if its distance is >= 0.8 of the best candidate's
_PALETTE_SEEDS: tuple[Rgb, ...] = (
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (0, 255, 255),
    (255, 0, 255),
    (255, 255, 255),
)
_PREFERRED_ALIASES = frozenset({'cyan', 'magenta'})  # over 'aqua' / 'fuchsia'
_HISTOGRAM_BIN = 8  # instance colour clustering: 32 ** 3 bins of 8 levels
_MEAN_SHIFT_STEPS = 20
_CHUNK_SCORES = 1 << 20  # pixels x colours per block of scores (4 MiB of float32)


# ---------------------------------------------------------------------------------------------
# Colours and names
# ---------------------------------------------------------------------------------------------


def parse_colour(colour: ColourLike) -> Rgb:
    """
    Read one 8-bit colour from what a prompt or a caller writes.

    Accepted: three ints (tuple, list, array, tensor); strings ``'(255, 0, 0)'``,
    ``'<255, 165, 0>'``, ``'[1, 2, 3]'``, ``'RGB(88, 50, 82)'``, ``'255, 0, 0'``; hex
    ``'#80C000'``, ``'80c000'``, ``'#f00'``; CSS4 names (``'red'``, ``'light blue'`` ->
    lightblue), then xkcd names (``'light purple'``, ``'Light-Purple'``, ``'xkcd:light purple'``).
    Case, spaces, hyphens and underscores in names do not matter; CSS4 wins where both define a
    name (``'green'`` is CSS4 (0, 128, 0); pure green is ``'lime'``).

    :param colour: the colour to read.
    :return: ``(r, g, b)`` ints in [0, 255].
    :raises CodecError: if the value is not a colour (the message quotes it).
    """
    if isinstance(colour, str):
        return _parse_colour_text(colour)
    if isinstance(colour, torch.Tensor):
        values: list[object] = list(colour.detach().cpu().reshape(-1).tolist())
        integral = not (colour.is_floating_point() or colour.is_complex())
    elif isinstance(colour, np.ndarray):
        values = list(colour.reshape(-1).tolist())
        integral = bool(np.issubdtype(colour.dtype, np.integer))
    elif isinstance(colour, Sequence):
        values = list(colour)
        integral = all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
            for v in values
        )
    else:
        raise CodecError(
            f'colour must be a string or three ints, got {type(colour).__name__} {colour!r}'
        )
    if len(values) != 3 or not integral:
        raise CodecError(f'colour must be three integers in [0, 255], got {colour!r}')
    rgb = tuple(int(v) for v in values)  # type: ignore[call-overload]
    if not all(0 <= c <= 255 for c in rgb):
        raise CodecError(f'colour channels must be in [0, 255], got {rgb}')
    return rgb[0], rgb[1], rgb[2]


def colour_name(colour: ColourLike) -> str:
    """
    Name a colour by the nearest CSS4 colour (Euclidean in 8-bit RGB), e.g. for prompts or logs.

    :param colour: anything ``parse_colour`` reads.
    :return: a CSS4 name such as ``'red'`` or ``'darkorange'`` (``'cyan'``/``'magenta'`` and
        'grey' spellings preferred among aliases); exact only if ``exact_colour_name`` agrees.
    """
    rgb = np.array(parse_colour(colour), dtype=np.int64)
    names, table = _css_table()
    distance_sq = ((table - rgb) ** 2).sum(axis=1)
    return names[int(distance_sq.argmin())]


def exact_colour_name(colour: ColourLike) -> str | None:
    """
    Name a colour only if ``parse_colour`` reads that name back as exactly this colour.

    :param colour: anything ``parse_colour`` reads.
    :return: a CSS4 name, else an xkcd name (with spaces, e.g. ``'light purple'``) that CSS4 does
        not shadow, else None.
    """
    return _exact_names().get(parse_colour(colour))


def distinct_palette(
    n: int, *, avoid: Sequence[ColourLike] = (), device: torch.device | str = 'cpu'
) -> torch.Tensor:
    """
    Pick ``n`` maximally distinct colours, deterministically, never black nor near black.

    Greedy farthest-point selection in 8-bit RGB: the 7 non-black cube corners first (red, lime,
    blue, yellow, cyan, magenta, white; those near an avoided colour are skipped), then each
    next colour maximises its distance to the colours chosen so far, to the avoided colours,
    and (counted double) to the blends of each chosen colour with each avoided one, so that
    no palette colour looks like the anti-aliased rim of another against the background (grey
    is never picked beside white on black). Named CSS4 colours are preferred while one is at
    least 0.8 of the best distance, so small palettes can be written as names in prompts; a
    15-level RGB grid takes over for large ``n``. ``distinct_palette(n)`` is a prefix of
    ``distinct_palette(n + 1)`` for the same ``avoid``. With the default ``avoid``, the minimum
    pairwise distance is 180 levels for n <= 8, 101 for n <= 20, 41 for n = 100 and 12 for
    n = 1000, and every colour is at least 147 levels from black.

    :param n: number of colours, 0 <= n <= ``MAX_PALETTE_SIZE``.
    :param avoid: colours to keep away from besides black (e.g. an instance background); every
        palette colour is at least 64 levels from black and from each of them.
    :param device: where the result lives.
    :return: (n, 3) uint8 RGB.
    :raises CodecError: if ``n`` is out of range or an avoided colour does not parse.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise CodecError(f'n must be an int, got {type(n).__name__} {n!r}')
    if not 0 <= n <= MAX_PALETTE_SIZE:
        raise CodecError(f'n must be in [0, {MAX_PALETTE_SIZE}], got {n}')
    avoided = tuple(sorted({BLACK, *(parse_colour(c) for c in avoid)}))
    size = 32
    while size < n:
        size *= 2
    palette = _palette(min(size, MAX_PALETTE_SIZE), avoided)
    return torch.as_tensor(palette[:n], device=device)


def class_colour_table(class_colours: ClassColours) -> torch.Tensor:
    """
    Read class colours in class-id order and check that they are distinct.

    :param class_colours: a name -> colour mapping (class ids follow its order), a sequence of
        (name, colour) pairs, a sequence of colours, or an (N, 3) integer array/tensor.
    :return: (N, 3) uint8 on the CPU; row k - 1 is class id k.
    :raises CodecError: if it is empty, holds more than 65535 classes, a colour does not parse,
        or two classes share a colour (their pixels could not be told apart).
    """
    if isinstance(class_colours, (np.ndarray, torch.Tensor)):
        entries: list[object] = list(class_colours)
    elif isinstance(class_colours, Mapping):
        entries = list(class_colours.values())
    elif isinstance(class_colours, Sequence) and not isinstance(class_colours, str):
        entries = [_pair_colour(entry) for entry in class_colours]
    else:
        raise CodecError(
            'class_colours must be a mapping or sequence of colours, '
            f'got {type(class_colours).__name__}'
        )
    if not 1 <= len(entries) <= 65535:
        raise CodecError(f'class_colours must hold 1 to 65535 classes, got {len(entries)}')
    colours = [parse_colour(c) for c in entries]  # type: ignore[arg-type]
    first: dict[Rgb, int] = {}
    for index, rgb in enumerate(colours):
        if rgb in first:
            raise CodecError(
                f'class_colours: classes {first[rgb] + 1} and {index + 1} share the colour {rgb}'
            )
        first[rgb] = index
    return torch.tensor(colours, dtype=torch.uint8)


# ---------------------------------------------------------------------------------------------
# Semantic
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedSemantic:
    """
    What ``decode_semantic`` recovers from a semantic colour image.

    :ivar labels: (..., H, W) uint16 class ids 1..N in mapping order, 0 = unlabelled (torch's
        uint16 supports few operations: call ``.long()`` before arithmetic or ``max``).
    :ivar confidence: (..., H, W) float32 in [0, 1], ``1 - d1 / d2`` with d1, d2 the distances
        to the nearest and second nearest class colours: 1 on a class colour, 0 half way between
        two (1 everywhere with a single class).
    :ivar distance_rgb: (..., H, W) float32 d1, the distance in 8-bit levels to the nearest class
        colour.
    """

    labels: ArrayLike
    confidence: ArrayLike
    distance_rgb: ArrayLike


def decode_semantic(
    rgb: ArrayLike, class_colours: ClassColours, max_distance_rgb: float = 64.0
) -> DecodedSemantic:
    """
    Label each pixel with the class whose prompt colour is nearest (Euclidean, 8-bit RGB).

    :param rgb: (..., H, W, 3) uint8 RGB, e.g. a generator's output; any device.
    :param class_colours: the prompt's classes in id order (see ``class_colour_table``).
    :param max_distance_rgb: a pixel farther than this from every class colour is unlabelled
        (0); pass ``math.inf`` for the paper's plain nearest-colour rule. The default, 64 levels,
        keeps noise (sigma 8 per channel is ~14 levels) and JPEG damage, and rejects colours the
        prompt never asked for.
    :return: ``DecodedSemantic``, fields the same kind and device as ``rgb``.
    :raises CodecError: on a wrong dtype or shape, bad class colours or a non-positive distance.
    """
    if not max_distance_rgb > 0:
        raise CodecError(f'max_distance_rgb must be > 0, got {max_distance_rgb}')
    image = as_tensor(rgb, 'rgb', error=CodecError)
    check_image(image, 'rgb', channels=3, dtypes=(torch.uint8,), error=CodecError)
    table = class_colour_table(class_colours).to(image.device)
    index, d1, d2 = _nearest_two(image.reshape(-1, 3), table)  # (P,) each
    labels = torch.where(d1 <= max_distance_rgb, index + 1, 0)
    confidence = torch.ones_like(d1) if table.shape[0] == 1 else 1.0 - d1 / d2  # d2 > 0
    spatial = image.shape[:-1]
    return DecodedSemantic(
        labels=like(labels.to(torch.uint16).reshape(spatial), rgb),
        confidence=like(confidence.reshape(spatial), rgb),
        distance_rgb=like(d1.reshape(spatial), rgb),
    )


def encode_semantic(labels: ArrayLike, class_colours: ClassColours) -> ArrayLike:
    """
    Draw a label image in the prompt's class colours, e.g. as a training target.

    :param labels: (..., H, W) integer class ids, 0 = unlabelled, 1..N = ``class_colours`` order.
    :param class_colours: the classes in id order (see ``class_colour_table``).
    :return: (..., H, W, 3) uint8 RGB, unlabelled pixels black; same kind and device as
        ``labels``.
    :raises CodecError: on a non-integer dtype or a label outside [0, N].
    """
    ids = _integer_ids(labels, 'labels')
    table = class_colour_table(class_colours).to(ids.device)
    _check_id_range(ids, table.shape[0], 'labels')
    black = torch.zeros((1, 3), dtype=torch.uint8, device=ids.device)
    return like(torch.cat((black, table))[ids], labels)  # (..., H, W, 3)


# ---------------------------------------------------------------------------------------------
# Referring
# ---------------------------------------------------------------------------------------------


def decode_referring(
    rgb: ArrayLike,
    target: ColourLike = WHITE,
    background: ColourLike = BLACK,
    others: Sequence[ColourLike] = (),
) -> ArrayLike:
    """
    Mask the pixels drawn in the target colour of a referring-segmentation prompt.

    A pixel belongs to the target if its colour is strictly nearer ``target`` than
    ``background`` and every colour in ``others`` (e.g. "the other man is rendered in green").

    :param rgb: (..., H, W, 3) uint8 RGB; any device.
    :param target: the colour the prompt asked the referred object to be drawn in.
    :param background: the colour of everything else.
    :param others: colours of other objects the prompt named.
    :return: (..., H, W) bool, same kind and device as ``rgb``.
    :raises CodecError: on a wrong image, an unparseable colour, or two equal colours.
    """
    image = as_tensor(rgb, 'rgb', error=CodecError)
    check_image(image, 'rgb', channels=3, dtypes=(torch.uint8,), error=CodecError)
    colours = class_colour_table([target, background, *others]).to(image.device, torch.float32)
    # |p - t|^2 < |p - o|^2  <=>  2 (o - t) . p < |o|^2 - |t|^2: one product per other colour o,
    # exact in float32 (integers below 2**19; 2 (o - t) has 8 significant bits, so TF32 and
    # bf16 matmul inputs stay exact too).
    normal = 2.0 * (colours[1:] - colours[0])  # (M, 3)
    limit = (colours[1:] ** 2).sum(-1, keepdim=True) - (colours[0] ** 2).sum()  # (M, 1)
    pixels = image.reshape(-1, 3).to(torch.float32)  # (P, 3)
    mask = (torch.mm(normal, pixels.T) < limit).all(dim=0)  # (M, P) -> (P,); ties: not target
    return like(mask.reshape(image.shape[:-1]), rgb)


def encode_referring(
    mask: ArrayLike, target: ColourLike = WHITE, background: ColourLike = BLACK
) -> ArrayLike:
    """
    Draw a referring mask as the generator should: target colour on a background colour.

    :param mask: (..., H, W) bool, True on the referred object.
    :param target: the target colour.
    :param background: the background colour.
    :return: (..., H, W, 3) uint8 RGB, same kind and device as ``mask``.
    :raises CodecError: on a non-bool mask or equal colours.
    """
    selected = as_tensor(mask, 'mask', error=CodecError)
    check_image(selected, 'mask', channels=None, dtypes=(torch.bool,), error=CodecError)
    table = class_colour_table([background, target]).to(selected.device)
    return like(table[selected.to(torch.int64)], mask)


# ---------------------------------------------------------------------------------------------
# Instance
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedInstances:
    """
    What ``decode_instances`` recovers from an instance colour image.

    :ivar instance_ids: (H, W) uint16, 0 = background or no instance, 1..K numbered in raster
        order of each instance's first pixel.
    :ivar colours: (K, 3) uint8 mean input colour of each instance (row k - 1 is id k).
    :ivar areas_px: (K,) int64 pixel count of each instance.
    """

    instance_ids: ArrayLike
    colours: ArrayLike
    areas_px: ArrayLike


def decode_instances(
    rgb: ArrayLike,
    background: ColourLike = BLACK,
    *,
    tau_rgb: float = INSTANCE_TAU_RGB,
    theta_size: float = INSTANCE_THETA_SIZE,
    min_area_px: int = 16,
    theta_erosion: float = INSTANCE_THETA_EROSION,
    gamma: float = INSTANCE_GAMMA,
    max_distance_rgb: float = math.inf,
    median_px: int = 3,
    open_seams: bool = True,
    rim_px: int = 3,
    fill_px: int = 2,
) -> DecodedInstances:
    """
    Split one class's instance image into instances: the paper's Appendix A, made noise-proof.

    Distances are Euclidean in 8-bit RGB levels. Steps marked * are additions to the paper's
    recipe for blurred, noisy and JPEG-compressed output; ``median_px=1, open_seams=False,
    rim_px=0, fill_px=0`` turns them off.

    1. Background: a pixel within ``tau_rgb`` of the background colour (paper tau = 14).
    2. Colours (replaces the paper's seeded flood fill): peaks of a 3D histogram (8-level
       bins, 3x3x3 box sum, >= ``min_area_px / 4`` pixels) of the *flat* foreground pixels
       (colour gradient < ``tau_rgb`` per pixel after a ``median_px`` median filter*, so blended
       edges cast no votes), refined by mean shift (radius ``2 * tau_rgb``); peaks within
       ``tau_rgb`` of each other merge, peaks within ``tau_rgb`` of the background drop.
       Each non-background pixel joins the nearest colour, or the background where that is
       nearer (anti-aliased edges split at their midpoint), or nothing beyond
       ``max_distance_rgb``.
    3. Connected components per colour, 8-connectivity (the paper's "16-connectivity" is
       undefined; reimplementations use 8), after a 3x3 opening* (``open_seams``) that cuts
       blended seams and spurs off the bodies.
    4. Drop components under ``max(theta_size * H * W, min_area_px)`` pixels (paper 2e-4).
    5. Drop components whose 3x3 erosion keeps under ``theta_erosion`` of them (paper 0.1).
    6. Drop blended rims*: a component at most ``2 * rim_px + 1`` wide whose colour is a mix of
       two or three colours around it (the background counts); e.g. a thin gap between two
       objects after blur and JPEG.
    7. Merge components of one colour (cluster colours within ``tau_rgb``; the paper says mean
       colours, which a small piece's blended rim drags off) whose union bounding box is at
       most ``gamma`` times the sum of their box areas (paper 5.0), until none merge.
    8. Fill seams*: non-background pixels left over join, up to ``fill_px`` pixels deep, the
       neighbouring instance of nearest colour unless the background is nearer, or the nearer
       of two neighbouring instances whose mix they are.

    Runs on the CPU (cv2, scipy); tensors are moved there and the results moved back.

    :param rgb: (H, W, 3) uint8 RGB of one prompt's output.
    :param background: the background colour the prompt named.
    :param tau_rgb: background and same-colour distance, 8-bit levels.
    :param theta_size: smallest component as a fraction of H * W.
    :param min_area_px: smallest component (and colour peak) in pixels, whatever the size.
    :param theta_erosion: smallest eroded-area ratio kept.
    :param gamma: union-box growth allowed when merging pieces.
    :param max_distance_rgb: pixels farther than this from every colour belong to nothing.
    :param median_px: median filter size for finding colours, 1 (off), 3 or 5.
    :param open_seams: open each colour's mask with a 3x3 square before components.
    :param rim_px: half-width of the blended rims dropped; 0 keeps them.
    :param fill_px: how deep seams are filled; 0 leaves them empty.
    :return: ``DecodedInstances``, same kind (and device) as ``rgb``.
    :raises CodecError: on a wrong image, a bad threshold or more than 65535 instances.
    """
    _check_instance_thresholds(
        tau_rgb, theta_size, min_area_px, theta_erosion, gamma, max_distance_rgb, median_px
    )
    if rim_px < 0 or fill_px < 0:
        raise CodecError(f'rim_px and fill_px must be >= 0, got {rim_px} and {fill_px}')
    image = as_tensor(rgb, 'rgb', error=CodecError)
    check_image(image, 'rgb', channels=3, dtypes=(torch.uint8,), error=CodecError)
    if image.dim() != 3:
        raise CodecError(f'rgb must be one image (H, W, 3), got shape {tuple(image.shape)}')
    bg = np.array(parse_colour(background), dtype=np.float32)
    raw = np.ascontiguousarray(image.detach().cpu().numpy())  # (H, W, 3) uint8
    height, width = raw.shape[:2]

    # 1-2. background, colours, nearest-colour assignment
    foreground = _distance_sq(raw, bg) >= tau_rgb**2  # (H, W)
    modes = _find_colours(raw, foreground, bg, tau_rgb, min_area_px, median_px)  # (M, 3)
    cluster = _assign_colours(raw, foreground, bg, modes, max_distance_rgb)  # (H, W), -1 = none

    # 3-5. components per colour, size and erosion filters
    min_area = max(theta_size * height * width, float(min_area_px))
    piece_ids, boxes, piece_modes = _pieces(
        cluster, len(modes), min_area, theta_erosion, open_seams
    )
    piece_colours = modes[piece_modes]  # (N, 3)

    # 6-7. blended rims out, pieces of one object merged
    blends = _blend_pieces(piece_ids, boxes, piece_colours, bg, tau_rgb, rim_px)
    group = _merge_pieces(piece_colours, boxes, ~blends, tau_rgb, gamma)  # (N + 1,)
    labels = group[piece_ids]  # (H, W) 0 = none, else the group's smallest piece id

    # 8. seams
    label_colours = np.concatenate([bg[None], piece_colours])  # (N + 1, 3) by piece id
    labels = _fill_seams(labels, raw, label_colours, foreground & (labels == 0), fill_px, tau_rgb)
    return _instances_result(labels, raw, rgb)


def encode_instances(instance_ids: ArrayLike, background: ColourLike = BLACK) -> ArrayLike:
    """
    Draw an instance id image with ``distinct_palette`` colours, e.g. as a training target.

    :param instance_ids: (..., H, W) integer ids, 0 = background, k >= 1 drawn in
        ``distinct_palette(max_id, avoid=[background])[k - 1]``.
    :param background: colour of id 0; the palette keeps at least 64 levels away from it.
    :return: (..., H, W, 3) uint8 RGB, same kind and device as ``instance_ids``.
    :raises CodecError: on a non-integer dtype, a negative id or an id above
        ``MAX_PALETTE_SIZE``.
    """
    ids = _integer_ids(instance_ids, 'instance_ids')
    _check_id_range(ids, MAX_PALETTE_SIZE, 'instance_ids')
    count = int(ids.max())
    bg = torch.tensor([parse_colour(background)], dtype=torch.uint8, device=ids.device)
    palette = distinct_palette(count, avoid=[parse_colour(background)], device=ids.device)
    return like(torch.cat((bg, palette))[ids], instance_ids)  # (..., H, W, 3)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

_TUPLE_BRACKETS = {'(': ')', '<': '>', '[': ']'}
_HEX = re.compile(r'#?([0-9a-f]{6})|#([0-9a-f]{3})')


def _parse_colour_text(text: str) -> Rgb:
    stripped = text.strip()
    body = stripped
    if body[:3].lower() == 'rgb':
        body = body[3:].strip()
    if body and body[0] in _TUPLE_BRACKETS:
        if not body.endswith(_TUPLE_BRACKETS[body[0]]):
            raise CodecError(f'colour {text!r} opens {body[0]!r} but does not close it')
        body = body[1:-1]
    parts = [p for p in re.split(r'[\s,]+', body.strip()) if p]
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return parse_colour([int(p) for p in parts])
    key = _name_key(stripped)
    named = _lookup_name(key)
    if named is not None:
        return named
    hex_match = _HEX.fullmatch(stripped.lower())
    if hex_match is not None:
        digits = hex_match.group(1) or ''.join(2 * d for d in hex_match.group(2))
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    raise CodecError(f'colour {text!r} is not an RGB triple, hex code, CSS4 or xkcd colour name')


def _name_key(text: str) -> str:
    """Lower-case a name, hyphens and underscores to spaces, single spaces (keeps 'xkcd:')."""
    return ' '.join(re.sub(r'[-_]', ' ', text.strip().lower()).split())


def _to_rgb(hex_code: object) -> Rgb:
    """Read matplotlib's '#rrggbb' table entries."""
    digits = str(hex_code).lstrip('#')
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _lookup_name(key: str) -> Rgb | None:
    """
    Find a colour name: CSS4 (spaces ignored), then xkcd, then xkcd ignoring spaces.

    :param key: a name normalised by ``_name_key`` (lower case, single spaces); an ``xkcd:``
        prefix asks for the xkcd colour only.
    :return: the colour, or None for an unknown name.
    """
    css, xkcd, xkcd_compact = _name_tables()
    if key.startswith('xkcd:'):
        return xkcd.get(key.removeprefix('xkcd:').strip())
    compact = key.replace(' ', '')
    return css.get(compact) or xkcd.get(key) or xkcd_compact.get(compact)


@functools.cache
def _name_tables() -> tuple[dict[str, Rgb], dict[str, Rgb], dict[str, Rgb]]:
    """Return CSS4 by name, xkcd by normalised name, xkcd by space-free name where unique."""
    from matplotlib.colors import CSS4_COLORS, XKCD_COLORS

    css = {name: _to_rgb(code) for name, code in CSS4_COLORS.items()}
    xkcd = {
        _name_key(name.removeprefix('xkcd:')): _to_rgb(code) for name, code in XKCD_COLORS.items()
    }
    spellings: dict[str, list[str]] = {}
    for key in xkcd:
        spellings.setdefault(key.replace(' ', ''), []).append(key)
    compact = {short: xkcd[keys[0]] for short, keys in spellings.items() if len(keys) == 1}
    return css, xkcd, compact


@functools.cache
def _css_table() -> tuple[tuple[str, ...], np.ndarray]:
    """Return the unique CSS4 colours, one preferred name each, sorted by name."""
    from matplotlib.colors import CSS4_COLORS

    def preference(name: str) -> tuple[bool, str]:
        return (not ('grey' in name or name in _PREFERRED_ALIASES), name)

    chosen: dict[Rgb, str] = {}
    for name in sorted(CSS4_COLORS, key=preference):
        chosen.setdefault(_to_rgb(CSS4_COLORS[name]), name)
    ordered = sorted(chosen.items(), key=lambda item: item[1])
    names = tuple(name for _, name in ordered)
    return names, np.array([rgb for rgb, _ in ordered], dtype=np.int64)


@functools.cache
def _exact_names() -> dict[Rgb, str]:
    """Return colour -> a name that reads back exactly: CSS4, else the shortest plain xkcd."""
    from matplotlib.colors import XKCD_COLORS

    exact: dict[Rgb, str] = {}
    plain = (n.removeprefix('xkcd:') for n in XKCD_COLORS if re.fullmatch(r'xkcd:[a-z ]+', n))
    for name in sorted(plain, key=lambda n: (len(n), n)):
        rgb = _lookup_name(_name_key(name))
        if rgb == _to_rgb(XKCD_COLORS['xkcd:' + name]):  # not shadowed by a CSS4 name
            exact.setdefault(rgb, name)
    names, table = _css_table()
    for name, rgb in zip(names, table.tolist(), strict=True):
        exact[(rgb[0], rgb[1], rgb[2])] = name  # CSS4 wins
    return exact


@functools.cache
def _palette(n: int, avoided: tuple[Rgb, ...]) -> np.ndarray:
    """Greedy farthest-point palette of ``n`` colours; see ``distinct_palette``."""
    _, named = _css_table()
    levels = np.arange(0, 256, _PALETTE_GRID_STEP)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing='ij'), -1).reshape(-1, 3)
    candidates = np.concatenate([named, grid]).astype(np.float64)  # (C, 3)
    is_named = np.arange(len(candidates)) < len(named)
    avoid = np.array(avoided, dtype=np.float64)  # (A, 3)
    nearest_sq = ((candidates[:, None] - avoid[None]) ** 2).sum(-1).min(axis=1)  # (C,)
    usable = nearest_sq >= _NEAR_BLACK_RGB**2
    candidates, is_named, nearest_sq = candidates[usable], is_named[usable], nearest_sq[usable]
    for i, j in itertools.combinations(range(len(avoid)), 2):
        nearest_sq = np.minimum(nearest_sq, _blend_sq(candidates, avoid[i], avoid[j]))
    if n > len(candidates):
        raise CodecError(f'distinct_palette: only {len(candidates)} colours avoid {avoided}')
    seeds = [
        int(np.flatnonzero((candidates == s).all(axis=1))[0])
        for s in _PALETTE_SEEDS
        if ((candidates == s).all(axis=1)).any()
    ]
    chosen: list[int] = []
    for _ in range(n):
        if len(chosen) < len(seeds):
            pick = seeds[len(chosen)]
        else:
            best = nearest_sq.max()
            named_sq = np.where(is_named, nearest_sq, -1.0)
            prefer = named_sq.max() >= _PREFER_NAMED**2 * best
            pick = int(named_sq.argmax() if prefer else nearest_sq.argmax())
        chosen.append(pick)
        offset_sq = ((candidates - candidates[pick]) ** 2).sum(axis=1)
        nearest_sq = np.minimum(nearest_sq, offset_sq)
        for start in avoid:  # keep off the blends of this colour with an avoided one (rims)
            nearest_sq = np.minimum(nearest_sq, _blend_sq(candidates, start, candidates[pick]))
    palette: np.ndarray = candidates[chosen].astype(np.uint8)
    return palette


def _blend_sq(candidates: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """
    Weighted squared distance from each candidate to the mixes of two colours.

    :param candidates: (C, 3) float64 colours.
    :param start: (3,) float64 one end of the blend segment.
    :param end: (3,) float64 the other end.
    :return: (C,) ``(_BLEND_WEIGHT * distance to the segment) ** 2``.
    """
    direction = end - start
    t = np.clip((candidates - start) @ direction / max(float(direction @ direction), 1e-9), 0, 1)
    blend_sq: np.ndarray = ((start + t[:, None] * direction - candidates) ** 2).sum(axis=1)
    return _BLEND_WEIGHT**2 * blend_sq


def _pair_colour(entry: object) -> object:
    """Return the colour of a class entry, which is a colour or a (name, colour) pair."""
    if isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str):
        return entry[1]
    return entry


def _nearest_two(
    pixels: torch.Tensor, colours: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Nearest and second-nearest 8-bit colour of each pixel, exactly, in blocks.

    One matrix product scores all N colours: ``key = 2**b * (|c|^2 - 2 c . p) + k`` for colour
    k, with ``2**b >= N``. The smallest key names the nearest colour in its low b bits (the
    first of tied colours, as ``argmin``) and the next smallest is the second nearest; adding
    ``|p|^2`` to ``key >> b`` gives the squared distances. Keys are integers below 2**24 for
    N <= 64, so float32 is exact (float64 above); 2**(b+1) c and the pixel levels have at most
    8 significant bits, so TF32 or bf16 matmul inputs keep it exact (``|p|^2`` is summed
    without a matmul). Colours are scored in rows (N, B) so that the minima are taken down
    columns, which vectorises; reductions across a last axis of 3 or N do not.

    :param pixels: (P, 3) uint8 colours.
    :param colours: (N, 3) uint8 distinct reference colours, on the pixels' device.
    :return: index of the nearest (P,) int32 (int64 for N > 64), distances d1, d2 (P,)
        float32 in 8-bit levels; d2 is inf when N == 1.
    """
    count, device = colours.shape[0], pixels.device
    bits = max(1, (count - 1).bit_length())
    dtype, exact = (torch.float32, torch.int32) if count <= 64 else (torch.float64, torch.int64)
    entries = colours.to(dtype)  # (N, 3)
    weights = entries * -(2.0 ** (bits + 1))  # (N, 3)
    ids = torch.arange(count, dtype=dtype, device=device)
    bias = ((entries**2).sum(-1) * 2.0**bits + ids).unsqueeze(-1)  # (N, 1)
    first = torch.empty(pixels.shape[0], dtype=dtype, device=device)  # smallest key
    second = torch.empty_like(first)  # second smallest key
    square = torch.empty(pixels.shape[0], dtype=torch.float32, device=device)  # |p|^2
    chunk = max(1, _CHUNK_SCORES // count)
    for start in range(0, pixels.shape[0], chunk):
        stop = start + chunk
        block = pixels[start:stop].to(torch.float32)  # (B, 3)
        red, green, blue = block.unbind(-1)  # (B,) each
        torch.mul(red, red, out=square[start:stop]).addcmul_(green, green).addcmul_(blue, blue)
        keys = torch.addmm(bias, weights, block.T.to(dtype))  # (N, B)
        torch.amin(keys, dim=0, out=first[start:stop])
        if count > 1:
            nearest = first[start:stop].to(torch.int64).bitwise_and_(2**bits - 1)  # (B,)
            keys.scatter_(0, nearest.unsqueeze(0), math.inf)
            torch.amin(keys, dim=0, out=second[start:stop])
    key = first.to(exact)  # (P,)
    d1 = ((key >> bits).to(torch.float32) + square).sqrt_()
    d2 = torch.full_like(d1, math.inf)
    if count > 1:
        d2 = ((second.to(exact) >> bits).to(torch.float32) + square).sqrt_()
    return key.bitwise_and_(2**bits - 1), d1, d2


def _integer_ids(ids: ArrayLike, name: str) -> torch.Tensor:
    tensor = as_tensor(ids, name, error=CodecError)
    integers = (torch.uint8, torch.int8, torch.int16, torch.uint16, torch.int32, torch.int64)
    check_image(tensor, name, channels=None, dtypes=integers, error=CodecError)
    return tensor.to(torch.int64)


def _check_id_range(ids: torch.Tensor, largest: int, name: str) -> None:
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high > largest:
        raise CodecError(f'{name} must lie in [0, {largest}], got values in [{low}, {high}]')


def _check_instance_thresholds(
    tau_rgb: float,
    theta_size: float,
    min_area_px: int,
    theta_erosion: float,
    gamma: float,
    max_distance_rgb: float,
    median_px: int,
) -> None:
    if not (math.isfinite(tau_rgb) and tau_rgb > 0):
        raise CodecError(f'tau_rgb must be a positive number of 8-bit levels, got {tau_rgb}')
    if not 0 <= theta_size < 1:
        raise CodecError(f'theta_size must be a fraction of H * W in [0, 1), got {theta_size}')
    if min_area_px < 1:
        raise CodecError(f'min_area_px must be >= 1, got {min_area_px}')
    if not 0 <= theta_erosion <= 1:
        raise CodecError(f'theta_erosion must be in [0, 1], got {theta_erosion}')
    if not gamma >= 1:
        raise CodecError(f'gamma must be >= 1, got {gamma}')
    if not max_distance_rgb > tau_rgb:
        raise CodecError(
            f'max_distance_rgb must exceed tau_rgb = {tau_rgb}, got {max_distance_rgb}'
        )
    if median_px not in (1, 3, 5):
        raise CodecError(f'median_px must be 1 (off), 3 or 5, got {median_px}')


def _distance_sq(raw: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """
    Squared distance of every pixel to one colour, exactly, by per-channel tables.

    :param raw: (H, W, 3) uint8 image, C-contiguous.
    :param colour: (3,) integer-valued colour.
    :return: (H, W) float32 squared distances in 8-bit levels (integers, exact in float32).
    """
    import cv2

    levels = np.arange(256, dtype=np.float32)[:, None]  # (256, 1)
    table = ((levels - colour.astype(np.float32)) ** 2)[None]  # (1, 256, 3) per channel
    square: np.ndarray = cv2.transform(cv2.LUT(raw, table), np.ones((1, 3), np.float32))
    return square


def _find_colours(
    raw: np.ndarray,
    foreground: np.ndarray,
    background: np.ndarray,
    tau_rgb: float,
    min_area_px: int,
    median_px: int,
) -> np.ndarray:
    """
    Find the colours the instances were drawn in (Appendix A step 2, see ``decode_instances``).

    :param raw: (H, W, 3) uint8 image.
    :param foreground: (H, W) bool pixels beyond ``tau_rgb`` of the background.
    :param background: (3,) float32 background colour.
    :param tau_rgb: merge / background distance, 8-bit levels.
    :param min_area_px: smallest instance; a colour needs a quarter of it (at least 4) in flat
        pixels, since the rim of a small blob is not flat.
    :param median_px: median filter size, 1 for none.
    :return: (M, 3) float32 colours, most supported first.
    """
    import cv2

    smooth = cv2.medianBlur(raw, median_px) if median_px > 1 else raw
    votes = _flat_pixels(smooth, tau_rgb) & foreground  # (H, W)
    packed = cv2.cvtColor(smooth, cv2.COLOR_RGB2BGRA).view('<u4')[..., 0]  # (H, W) 0xAARRGGBB
    return _colour_modes(packed[votes], background, tau_rgb, max(min_area_px // 4, 4))


def _assign_colours(
    raw: np.ndarray,
    foreground: np.ndarray,
    background: np.ndarray,
    modes: np.ndarray,
    max_distance_rgb: float,
) -> np.ndarray:
    """
    Give each pixel the index of its nearest colour, -1 for the background or none.

    :param raw: (H, W, 3) uint8 image.
    :param foreground: (H, W) bool pixels beyond tau of the background.
    :param background: (3,) float32 background colour; it competes with the colours.
    :param modes: (M, 3) float32 instance colours.
    :param max_distance_rgb: farther than this from every colour: -1.
    :return: (H, W) int32 colour index or -1.
    """
    colours = np.concatenate([background[None], modes]).astype(np.float32)  # (K, 3)
    # |p - c|^2 = |p|^2 + (|c|^2 - 2 c . p): one product scores every colour of a block.
    weights = -2.0 * colours  # (K, 3)
    offsets = (colours * colours).sum(-1, keepdims=True)  # (K, 1)
    pixels = raw.reshape(-1, 3)  # (P, 3)
    index = np.zeros(len(pixels), dtype=np.int32)  # (P,) nearest colour, the first of ties
    least = np.empty(len(pixels), dtype=np.float32)  # (P,) its |c|^2 - 2 c . p
    chunk = max(1, _CHUNK_SCORES // len(colours))
    for start in range(0, len(pixels), chunk):
        stop = start + chunk
        scores = weights @ pixels[start:stop].T.astype(np.float32)  # (K, B)
        scores += offsets
        nearest, low = index[start:stop], least[start:stop]
        low[...] = scores[0]
        for k in range(1, len(colours)):
            nearest[scores[k] < low] = k
            np.minimum(low, scores[k], out=low)
    cluster = index.reshape(raw.shape[:2]) - 1  # background -> -1
    none = ~foreground
    if math.isfinite(max_distance_rgb):
        square = least.reshape(raw.shape[:2]) + _distance_sq(raw, np.zeros(3, np.float32))
        none |= square > max_distance_rgb**2
    cluster[none] = -1
    return cluster


def _pieces(
    cluster: np.ndarray, count: int, min_area: float, theta_erosion: float, open_seams: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Split each colour into 8-connected components and keep the solid ones (steps 3-5).

    Each colour is processed in its bounding box plus a margin of 2 pixels, the box's corner
    on even coordinates so that OpenCV's 2x2-block labelling numbers components as it would
    in the whole image.

    :param cluster: (H, W) integer colour index, -1 = none.
    :param count: number of colours.
    :param min_area: smallest component kept, pixels.
    :param theta_erosion: smallest share of a component surviving a 3x3 erosion.
    :param open_seams: open each colour's mask with a 3x3 square first.
    :return: piece ids (H, W) int64 (0 = none, 1..N), boxes (N, 4) int64 (x0, y0, x1, y1)
        end-exclusive, and the colour index (N,) int64 of each piece.
    """
    import cv2

    kernel = np.ones((3, 3), dtype=np.uint8)
    height, width = cluster.shape
    piece_ids = np.zeros(cluster.shape, dtype=np.int64)
    boxes: list[np.ndarray] = []
    colour_of: list[np.ndarray] = []
    total = 0
    for k in range(count):
        mask = (cluster == k).view(np.uint8)  # (H, W) 0 / 1
        left, top, box_w, box_h = cv2.boundingRect(mask)
        if box_w == 0:
            continue
        x0, y0 = max(left - 2, 0) & ~1, max(top - 2, 0) & ~1
        x1, y1 = min(left + box_w + 2, width), min(top + box_h + 2, height)
        mask = np.ascontiguousarray(mask[y0:y1, x0:x1])  # (h, w) crop
        if open_seams:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        found, components = cv2.connectedComponents(mask, connectivity=8)  # (h, w) int32
        area = np.bincount(components.reshape(-1), minlength=found)  # (found,)
        eroded = np.bincount(components[cv2.erode(mask, kernel) > 0], minlength=found)
        keep = np.flatnonzero((area >= min_area) & (eroded >= theta_erosion * area))
        keep = keep[keep > 0]  # component 0 is everything else
        lookup = np.zeros(found, dtype=np.int64)
        lookup[keep] = np.arange(total + 1, total + 1 + len(keep))
        piece_ids[y0:y1, x0:x1] += np.take(lookup, components)  # colours never overlap
        for j in keep:  # only the kept pieces need a box (cheaper than OpenCV's stats)
            x, y, w, h = cv2.boundingRect((components == j).view(np.uint8))
            boxes.append(np.array([x + x0, y + y0, x + x0 + w, y + y0 + h]))
        colour_of.append(np.full(len(keep), k, dtype=np.int64))
        total += len(keep)
    return (
        piece_ids,
        np.array(boxes, dtype=np.int64).reshape(-1, 4),
        np.concatenate(colour_of or [np.zeros(0)]).astype(np.int64),
    )


def _flat_pixels(smooth: np.ndarray, tau_rgb: float) -> np.ndarray:
    """
    Mark pixels inside flat colour regions, where instance colours can be read without blends.

    :param smooth: (H, W, 3) uint8 median-filtered image.
    :param tau_rgb: largest colour gradient, 8-bit levels per pixel (Euclidean), still flat.
    :return: (H, W) bool.
    """
    import cv2

    # Central differences, 2 px apart: (H, W, 3) integers each.
    gx: np.ndarray = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=1)
    gy: np.ndarray = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=1)
    np.multiply(gx, gx, out=gx)
    np.multiply(gy, gy, out=gy)
    np.add(gx, gy, out=gx)
    square = cv2.transform(gx, np.ones((1, 3), np.float32))  # (H, W) |gradient|^2, exact
    flat: np.ndarray = square < (2.0 * tau_rgb) ** 2  # |gradient| / 2 < tau
    return flat


def _colour_modes(
    pixels: np.ndarray, background: np.ndarray, tau_rgb: float, min_support: int
) -> np.ndarray:
    """
    Find the colours the instances were drawn in: histogram peaks refined by mean shift.

    :param pixels: (P,) uint32 foreground colours packed as ``0x..RRGGBB``.
    :param background: (3,) float32 background colour.
    :param tau_rgb: modes closer than this merge; modes this close to the background drop.
    :param min_support: fewest pixels near a mode for it to count.
    :return: (M, 3) float32 mode colours, most supported first.
    """
    from scipy import ndimage

    if len(pixels) < min_support:
        return np.zeros((0, 3), dtype=np.float32)
    bins = 256 // _HISTOGRAM_BIN
    channels = [(pixels >> shift) & 255 for shift in (16, 8, 0)]  # r, g, b (P,) uint32 each
    q = [channel // _HISTOGRAM_BIN for channel in channels]
    flat = ((q[0] * bins + q[1]) * bins + q[2]).astype(np.intp)  # (P,)
    counts = np.bincount(flat, minlength=bins**3)  # (bins ** 3,) int64
    sums = np.stack(
        [
            np.bincount(flat, weights=channel.astype(np.float64), minlength=bins**3)
            for channel in channels  # float64 weights: bincount casts others slowly
        ],
        axis=-1,
    )  # (bins ** 3, 3)
    cube = counts.reshape(bins, bins, bins)
    box = ndimage.convolve(cube, np.ones((3, 3, 3), dtype=np.int64), mode='constant')  # exact
    peaks = (box == ndimage.maximum_filter(box, 3, mode='constant')) & (box >= min_support)
    means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], _bin_centres())
    seeds = means[np.flatnonzero(peaks.reshape(-1))]  # (S, 3): a peak may be an empty bin
    occupied = counts > 0
    points = means[occupied]  # (B, 3) mean colour per occupied bin
    weights = counts[occupied].astype(np.float64)  # (B,)
    if len(seeds) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    radius_sq = (2.0 * tau_rgb) ** 2
    for _ in range(_MEAN_SHIFT_STEPS):
        near = ((seeds[:, None] - points[None]) ** 2).sum(-1) <= radius_sq  # (S, B)
        mass = near @ weights  # (S,)
        moved = (near * weights) @ points / np.maximum(mass, 1.0)[:, None]
        moved[mass == 0] = seeds[mass == 0]
        done = np.abs(moved - seeds).max() < 0.25
        seeds = moved
        if done:
            break
    near = ((seeds[:, None] - points[None]) ** 2).sum(-1) <= radius_sq
    support = near @ weights  # (S,)
    order = np.argsort(-support, kind='stable')
    candidates = seeds[order[support[order] >= min_support]]  # (C, 3) most supported first
    candidates = candidates[np.linalg.norm(candidates - background, axis=-1) >= tau_rgb]
    modes: list[np.ndarray] = []
    while len(candidates):  # keep the best, drop what lies within tau of it
        modes.append(candidates[0])
        candidates = candidates[np.linalg.norm(candidates - candidates[0], axis=-1) >= tau_rgb]
    return np.array(modes, dtype=np.float32).reshape(-1, 3)


@functools.cache
def _bin_centres() -> np.ndarray:
    """Return the (bins ** 3, 3) centre colour of each colour histogram bin, r-major."""
    bins = 256 // _HISTOGRAM_BIN
    index = np.arange(bins**3)[:, None] // bins ** np.arange(2, -1, -1) % bins  # (bins ** 3, 3)
    centres: np.ndarray = (index + 0.5) * _HISTOGRAM_BIN
    centres.flags.writeable = False
    return centres


def _blend_pieces(
    piece_ids: np.ndarray,
    boxes: np.ndarray,
    colours: np.ndarray,
    background: np.ndarray,
    tau_rgb: float,
    rim_px: int,
) -> np.ndarray:
    """
    Find pieces that are blended rims: a mix of two touching colours, with no core of their own.

    Blur and JPEG leave bands of mixed colour between an instance and the background or another
    instance (a 3-px gap between two objects becomes a flat band of their blend). Such a band is
    dropped if its colour lies within ``2 * tau_rgb`` of a mix of two or three colours found
    within ``rim_px`` of it (the background counts) and no pixel of it lies more than
    ``rim_px + 0.5`` pixels inside it (it is at most ``2 * rim_px + 1`` wide).

    :param piece_ids: (H, W) int64, 0 = no piece, 1..N pieces.
    :param boxes: (N, 4) int64 (x0, y0, x1, y1) end-exclusive box of each piece.
    :param colours: (N, 3) cluster colour of each piece.
    :param background: (3,) background colour.
    :param tau_rgb: distance from the blend segment, 8-bit levels.
    :param rim_px: width of a rim in pixels; 0 turns the test off.
    :return: (N,) bool, True for blended rims.
    """
    import cv2

    blends = np.zeros(len(boxes), dtype=bool)
    if rim_px <= 0:
        return blends
    height, width = piece_ids.shape
    kernel = np.ones((2 * rim_px + 1, 2 * rim_px + 1), dtype=np.uint8)
    for p, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        ya, yb = max(y0 - rim_px - 1, 0), min(y1 + rim_px + 1, height)
        xa, xb = max(x0 - rim_px - 1, 0), min(x1 + rim_px + 1, width)
        crop = piece_ids[ya:yb, xa:xb]
        mask = (crop == p + 1).astype(np.uint8)
        inset = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)  # (h, w) px
        if float(inset.max()) > rim_px + 0.5:  # some pixel deeper than a rim is wide
            continue
        ring = (cv2.dilate(mask, kernel) > 0) & (mask == 0)
        touching = np.unique(crop[ring])
        touching = touching[(touching > 0)] - 1
        partners = np.concatenate([background[None], colours[touching]]).astype(np.float64)
        blends[p] = _is_mix(colours[p].astype(np.float64), partners, 2.0 * tau_rgb)
    return blends


def _is_mix(colour: np.ndarray, partners: np.ndarray, tol_rgb: float) -> bool:
    """
    Tell whether ``colour`` is a mix of two or three of ``partners`` (within ``tol_rgb``).

    :param colour: (3,) float64.
    :param partners: (Q, 3) float64 colours around the piece, the background first.
    :param tol_rgb: largest distance from the mixing segment or triangle.
    :return: True for a 10-90 % mix of two partners, or a point of a triangle of three.
    """
    count = len(partners)
    if count < 2:
        return False
    pairs = np.array(list(itertools.combinations(range(count), 2)), dtype=np.int64)  # (M, 2)
    a, ab = partners[pairs[:, 0]], partners[pairs[:, 1]] - partners[pairs[:, 0]]  # (M, 3)
    t = ((colour - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9)  # (M,)
    gap = np.linalg.norm(a + t[:, None] * ab - colour, axis=-1)
    if np.any((t > 0.1) & (t < 0.9) & (gap < tol_rgb)):
        return True
    if count < 3:
        return False
    triples = np.array(list(itertools.combinations(range(count), 3)), dtype=np.int64)  # (T, 3)
    a = partners[triples[:, 0]]  # (T, 3)
    u, v, w = partners[triples[:, 1]] - a, partners[triples[:, 2]] - a, colour - a
    uu, uv, vv = (u * u).sum(-1), (u * v).sum(-1), (v * v).sum(-1)  # 2x2 normal equations
    wu, wv = (w * u).sum(-1), (w * v).sum(-1)
    det = np.maximum(uu * vv - uv * uv, 1e-9)
    s, q = (wu * vv - wv * uv) / det, (wv * uu - wu * uv) / det  # (T,) barycentric weights
    gap = np.linalg.norm(a + s[:, None] * u + q[:, None] * v - colour, axis=-1)
    return bool(np.any((s >= 0) & (q >= 0) & (s + q <= 1) & (gap < tol_rgb)))


def _merge_pieces(
    colours: np.ndarray, boxes: np.ndarray, alive: np.ndarray, tau_rgb: float, gamma: float
) -> np.ndarray:
    """
    Appendix A step 5: merge same-colour pieces whose union bounding box stays compact.

    :param colours: (N, 3) colour of each piece: its cluster colour, the mean of the flat pixels
        drawn in it (a small piece's own mean is dragged off by its blended rim).
    :param boxes: (N, 4) int64 (x0, y0, x1, y1) end-exclusive box of each piece.
    :param alive: (N,) bool pieces to keep; the others get group 0 (no instance).
    :param tau_rgb: pieces whose colours are nearer than this may merge.
    :param gamma: merge if union box area <= gamma * (box area a + box area b).
    :return: (N + 1,) int64 group of each piece id 1..N (entry 0: no piece), a group named by
        its smallest piece id.
    """
    count = len(boxes)
    group = np.arange(count + 1)
    group[1:][~alive] = 0
    alive = alive.copy()
    boxes = boxes.astype(np.float64)
    same_colour = np.linalg.norm(colours[:, None] - colours[None], axis=-1) < tau_rgb  # (N, N)
    np.fill_diagonal(same_colour, False)
    while True:
        lo = np.minimum(boxes[:, None, :2], boxes[None, :, :2])
        hi = np.maximum(boxes[:, None, 2:], boxes[None, :, 2:])
        union = np.prod(hi - lo, axis=-1)  # (N, N)
        own = np.prod(boxes[:, 2:] - boxes[:, :2], axis=-1)  # (N,)
        growth = union / (own[:, None] + own[None])  # (N, N)
        ok = same_colour & (growth <= gamma) & alive[:, None] & alive[None]
        if not ok.any():
            return group
        a, b = np.unravel_index(np.argmin(np.where(ok, growth, np.inf)), ok.shape)
        a, b = min(a, b), max(a, b)  # the smaller id names the group
        boxes[a, :2] = np.minimum(boxes[a, :2], boxes[b, :2])
        boxes[a, 2:] = np.maximum(boxes[a, 2:], boxes[b, 2:])
        same_colour[a] &= same_colour[b]  # a merged piece keeps partners close to both
        same_colour[:, a] &= same_colour[:, b]
        alive[b] = False
        group[group == b + 1] = a + 1


def _fill_seams(
    labels: np.ndarray,
    raw: np.ndarray,
    colours: np.ndarray,
    orphans: np.ndarray,
    steps: int,
    tau_rgb: float,
) -> np.ndarray:
    """
    Give orphan pixels to a neighbouring instance, one pixel deeper per step.

    An orphan joins the 8-neighbour instance whose colour is nearest unless the background
    colour is nearer still; but a pixel whose colour is within ``tau_rgb`` of a mix of two
    neighbouring instances' colours is a seam between them and joins the nearer of the two,
    even where that mix looks like the background.

    :param labels: (H, W) int64 instance labels, 0 = none.
    :param raw: (H, W, 3) uint8 input colours.
    :param colours: (L, 3) colour of each label value; row 0 is the background.
    :param orphans: (H, W) bool unlabelled pixels not within tau of the background.
    :param steps: how many pixels deep a seam is filled.
    :param tau_rgb: distance from a two-colour mix that still counts as a seam.
    :return: (H, W) int64 labels with the reachable orphans filled.
    """
    import cv2

    labels = labels.copy()
    height, width = labels.shape
    waiting = orphans.copy()
    shifts = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
    kernel = np.ones((3, 3), dtype=np.uint8)
    for _ in range(steps):
        # Only orphans next to an instance can join one; the others wait for a later step.
        near = cv2.dilate((labels > 0).view(np.uint8), kernel) > 0  # (H, W)
        ys, xs = np.nonzero(waiting & near)
        if len(ys) == 0:
            break
        pixel = raw[ys, xs].astype(np.float32)  # (Q, 3)
        around = np.stack(
            [
                labels[np.clip(ys + dy, 0, height - 1), np.clip(xs + dx, 0, width - 1)]
                for dy, dx in shifts
            ],
            axis=1,
        )  # (Q, 8) neighbour labels
        distance_sq = ((pixel[:, None] - colours[around]) ** 2).sum(-1)  # (Q, 8)
        distance_sq[around == 0] = np.inf
        nearest = distance_sq.argmin(axis=1)
        choice = around[np.arange(len(ys)), nearest]  # (Q,) 0 if no labelled neighbour
        beaten = ((pixel - colours[0]) ** 2).sum(-1) <= distance_sq.min(axis=1)
        beaten &= choice > 0
        seam = _seam_between(pixel[beaten], around[beaten], colours, tau_rgb)
        choice[np.flatnonzero(beaten)[~seam]] = 0
        labels[ys, xs] = choice  # decided on the labels before this step: fronts grow evenly
        waiting[ys, xs] = choice == 0  # a seam partner may be labelled by the next step
    return labels


def _seam_between(
    pixel: np.ndarray, around: np.ndarray, colours: np.ndarray, tau_rgb: float
) -> np.ndarray:
    """
    Tell which pixels are a mix of the colours of two different neighbouring instances.

    :param pixel: (Q, 3) float32 colours.
    :param around: (Q, 8) int64 neighbour labels, 0 = none.
    :param colours: (L, 3) colour of each label.
    :param tau_rgb: largest distance from the mixing segment.
    :return: (Q,) bool.
    """
    seam = np.zeros(len(pixel), dtype=bool)
    for i in range(around.shape[1]):
        for j in range(i + 1, around.shape[1]):
            a, b = around[:, i], around[:, j]
            pair = (a > 0) & (b > 0) & (a != b)
            if not pair.any():
                continue
            start, direction = colours[a], colours[b] - colours[a]  # (Q, 3) each
            length_sq = np.maximum((direction * direction).sum(-1), 1e-9)
            t = np.clip(((pixel - start) * direction).sum(-1) / length_sq, 0.0, 1.0)
            gap_sq = ((start + t[:, None] * direction - pixel) ** 2).sum(-1)
            seam |= pair & (gap_sq < tau_rgb**2)
    return seam


def _instances_result(
    labels_hw: np.ndarray, raw: np.ndarray, reference: object
) -> DecodedInstances:
    """Renumber instance labels 1..K in raster order of their first pixel; gather their stats."""
    labels = labels_hw.reshape(-1)  # (P,) label per pixel, 0 = none
    first = np.full(int(labels.max()) + 1, labels.size, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(labels.size))  # first pixel of each label
    present = np.flatnonzero(first[1:] < labels.size) + 1
    if len(present) > 65535:
        raise CodecError(f'rgb holds {len(present)} instances, more than uint16 ids allow')
    lookup = np.zeros(len(first), dtype=np.int64)
    lookup[present[np.argsort(first[present], kind='stable')]] = np.arange(1, len(present) + 1)
    ids = lookup[labels]  # (P,) 0..K
    count = len(present)
    areas = np.bincount(ids, minlength=count + 1)[1:]
    rows = ids * 256  # (P,) each pixel's row in a (K + 1, 256) histogram of levels
    levels = np.arange(256, dtype=np.float64)
    sums = np.stack(
        [
            np.bincount(rows + raw[..., c].reshape(-1), minlength=(count + 1) * 256)
            .reshape(count + 1, 256)[1:]
            .dot(levels)  # exact: integer sums below 2**53
            for c in range(3)
        ],
        axis=-1,
    )  # (K, 3)
    colours = np.round(sums / np.maximum(areas, 1)[:, None]).astype(np.uint8)
    device = reference.device if isinstance(reference, torch.Tensor) else torch.device('cpu')
    return DecodedInstances(
        instance_ids=like(
            torch.from_numpy(ids.reshape(labels_hw.shape).astype(np.uint16)).to(device), reference
        ),
        colours=like(torch.from_numpy(colours).to(device), reference),
        areas_px=like(torch.from_numpy(areas.astype(np.int64)).to(device), reference),
    )
