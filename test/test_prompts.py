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
"""Tests for vision_banana_ros.prompts: every template round-trips; the paper's prompts parse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
import torch
from vision_banana_ros.codecs.depth import DEPTH_COLORMAPS
from vision_banana_ros.codecs.segmentation import distinct_palette, parse_colour
from vision_banana_ros.prompts import (
    build_prompt,
    check_expression,
    COLOUR_NOTATIONS,
    MAX_EXPRESSION_CHARS,
    parse_prompt,
    prompt_variants,
    PromptError,
    TASKS,
    TaskSpec,
    write_colour,
)

# The paper's published prompts (PAPER_NOTES.md §4; v3 Figs. 2-4, v1 §1) and what they ask for.
PAPER_PROMPTS = [
    (
        'Generate a semantic segmentation visualization image, using this color mapping: '
        '{"cat": "red", "lock": "pink", "exit sign": "light purple", "background": yellow}.',
        TaskSpec(
            'semantic',
            class_colours=(
                ('cat', (255, 0, 0)),
                ('lock', (255, 192, 203)),
                ('exit sign', (191, 119, 246)),  # xkcd 'light purple'
                ('background', (255, 255, 0)),
            ),
        ),
    ),
    (
        'Generate a semantic segmentation visualization image, using this color mapping: '
        '{"cat": <255, 165, 0>, "lock": "<255, 255, 0>"}.',
        TaskSpec('semantic', class_colours=(('cat', (255, 165, 0)), ('lock', (255, 255, 0)))),
    ),
    (
        'This image is a per-pixel class labeling of the input. '
        'The macaron cakes are represented by (255, 255, 0).',
        TaskSpec('semantic', class_colours=(('macaron cakes', (255, 255, 0)),)),
    ),
    (
        'Generate a semantic segmentation visualization of the input. '
        'The menu is #80C000. The dessert is #800000.',
        TaskSpec('semantic', class_colours=(('menu', (128, 192, 0)), ('dessert', (128, 0, 0)))),
    ),
    (
        'Segment the skateboard category in pure yellow (<255, 255, 0>)',
        TaskSpec('semantic', class_colours=(('skateboard', (255, 255, 0)),)),
    ),
    (
        'Generate an instance segmentation visualization of this image. '
        'Each piece of garlic is colored differently.',
        TaskSpec('instance', class_name='piece of garlic'),
    ),
    (
        'This image is a segmentation task derived from the input. The "crescent"-shaped '
        'croissant instances are each represented by a unique, solid color. '
        'Background is RGB(88, 50, 82).',
        TaskSpec('instance', class_name='"crescent"-shaped croissant', background=(88, 50, 82)),
    ),
    (
        'A segmentation map image. The area that corresponds to the man in pink t shirt is '
        'rendered solid white; the other man is rendered in green.',
        TaskSpec(
            'referring',
            expression='the man in pink t shirt',
            others=(('the other man', (0, 128, 0)),),  # CSS4 green
        ),
    ),
    (
        'This image shows segmentation masks from the given image. The background is black '
        'color. The game control device is represented by a solid yellow.',
        TaskSpec('referring', expression='the game control device', target=(255, 255, 0)),
    ),
    (
        'Predict the metric depth of this scene as an image. Visualized in the rainbow colormap.',
        TaskSpec('depth'),
    ),
]

# Words for random names, including task words that must not confuse the task detector.
WORDS = [
    'cat', 'lock', 'exit', 'sign', 'road', 'sky', 'car', 'person', 'tree', 'building', 'big',
    'small', 'left', 'traffic', 'light', 'pole', 'dog', 'cup', 'table', 'chair', 'window',
    'door', 't-shirt', 'man', 'woman', 'pink', 'red', 'shirt', "dog's", 'macaron', 'cakes',
    'glass', 'depth', 'gauge', 'surface', 'normal', 'instance', 'x2', 'Obama', 'Ünal',
]  # fmt: skip


def _name() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(' '.join)


def _expression() -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(['', 'the ', 'The ', 'a ', 'An ']), _name()).map(''.join)


_COLOURS = st.one_of(
    st.sampled_from([tuple(c) for c in distinct_palette(40).tolist()]),  # named colours
    st.tuples(*[st.integers(0, 255)] * 3),  # mostly unnamed
)


@st.composite
def _specs(draw: st.DrawFn) -> TaskSpec:
    task = draw(st.sampled_from(TASKS))
    if task == 'depth':
        return TaskSpec('depth', colormap=draw(st.sampled_from(DEPTH_COLORMAPS)))
    if task == 'normals':
        return TaskSpec('normals')
    if task == 'semantic':
        names = draw(st.lists(_name(), min_size=1, max_size=6, unique=True))
        colours = draw(st.lists(_COLOURS, min_size=len(names), max_size=len(names), unique=True))
        return TaskSpec('semantic', class_colours=tuple(zip(names, colours, strict=True)))
    if task == 'instance':
        return TaskSpec('instance', class_name=draw(_name()), background=draw(_COLOURS))
    colours = draw(st.lists(_COLOURS, min_size=2, max_size=5, unique=True))
    count = len(colours) - 2
    unique = st.lists(_expression(), min_size=count, max_size=count, unique_by=str.lower)
    expressions = draw(unique)
    return TaskSpec(
        'referring',
        expression=draw(_expression()),
        target=colours[0],
        background=colours[1],
        others=tuple(zip(expressions, colours[2:], strict=True)),
    )


@settings(max_examples=200, deadline=None)
@given(spec=_specs())
def test_every_template_parses_back_to_its_spec(spec: TaskSpec) -> None:
    for variant in prompt_variants(spec.task):
        prompt = build_prompt(spec, variant)
        assert '\n' not in prompt
        assert parse_prompt(prompt) == spec, prompt


@pytest.mark.parametrize(('prompt', 'spec'), PAPER_PROMPTS, ids=[s.task for _, s in PAPER_PROMPTS])
def test_the_papers_published_prompts_parse(prompt: str, spec: TaskSpec) -> None:
    assert parse_prompt(prompt) == spec


@pytest.mark.parametrize(
    ('variant', 'index'),
    [
        ('labeling/tuple', 2),
        ('sentences/hex', 3),
        ('segment/angle', 4),
        ('each/name', 5),
        ('derived/rgb', 6),
        ('area/name', 7),
        ('masks/name', 8),
        ('predict', 9),
    ],
)
def test_the_papers_forms_are_written_word_for_word(variant: str, index: int) -> None:
    prompt, spec = PAPER_PROMPTS[index]
    assert build_prompt(spec, variant) == prompt.rstrip('.') + '.'


def test_the_papers_json_form_is_written_with_quoted_colours() -> None:
    _, spec = PAPER_PROMPTS[0]
    assert build_prompt(spec, 'json/name') == (
        'Generate a semantic segmentation visualization image, using this color mapping: '
        '{"cat": "red", "lock": "pink", "exit sign": "light purple", "background": "yellow"}.'
    )


@pytest.mark.parametrize(
    ('colormap', 'word'),
    [
        ('cube', 'rainbow'),
        ('viridis', 'viridis'),
        ('plasma', 'plasma'),
        ('inferno', 'inferno'),
        ('magma', 'magma'),
        ('turbo', 'turbo'),
        ('grey', 'grayscale'),
    ],
)
def test_depth_prompts_name_the_colormap(colormap: str, word: str) -> None:
    assert f' {word} color' in build_prompt(TaskSpec('depth', colormap=colormap), 'predict')
    for alias in (word, word.upper(), 'greyscale' if colormap == 'grey' else word):
        prompt = f'Generate a depth visualization of this image, using the {alias} colormap.'
        assert parse_prompt(prompt) == TaskSpec('depth', colormap=colormap)


def test_normals_prompts_are_the_papers_phrase_and_paraphrases() -> None:
    assert (
        build_prompt(TaskSpec('normals'))
        == 'Generate a surface normal visualization of this image.'
    )
    assert all(
        parse_prompt(build_prompt(TaskSpec('normals'), v)).task == 'normals'
        for v in prompt_variants('normals')
    )


def test_a_generator_draws_variants_reproducibly_and_covers_them() -> None:
    spec = TaskSpec('semantic', class_colours={'cat': 'red', 'sky': (1, 2, 3)})

    def draw(seed: int) -> list[str]:
        generator = torch.Generator().manual_seed(seed)
        return [build_prompt(spec, generator) for _ in range(200)]

    assert draw(0) == draw(0)
    assert len(set(draw(0))) == len(prompt_variants('semantic'))


@pytest.mark.parametrize('notation', COLOUR_NOTATIONS)
def test_colours_are_named_only_when_the_name_reads_back_exactly(notation: str) -> None:
    for rgb in [(255, 0, 0), (191, 119, 246), (128, 192, 0), (1, 2, 3)]:
        written = write_colour(rgb, notation)
        assert parse_colour(written) == rgb
    assert write_colour((128, 192, 0), 'name') == '#80C000'
    assert write_colour((191, 119, 246), 'name') == 'light purple'
    assert write_colour((88, 50, 82), 'rgb') == 'RGB(88, 50, 82)'


def test_spec_reads_colour_names_mappings_and_lower_cases_a_leading_article() -> None:
    spec = TaskSpec('referring', expression='The  cup', target='red', others={'A plate': '#00f'})
    assert spec.expression == 'the cup' and spec.target == (255, 0, 0)
    assert spec.others == (('a plate', (0, 0, 255)),)
    assert TaskSpec('depth', colormap='gray').colormap == 'grey'


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'task': 'optical flow'}, "got 'optical flow'"),
        ({'task': 'depth', 'colormap': 'jet'}, "got 'jet'"),
        ({'task': 'depth', 'class_name': 'cat'}, 'class_name does not apply to a depth prompt'),
        ({'task': 'semantic'}, 'needs class_colours'),
        ({'task': 'semantic', 'class_colours': {'a': 'red', 'b': '#f00'}}, 'share the colour'),
        ({'task': 'semantic', 'class_colours': {'a, b': 'red'}}, "must not contain ','"),
        ({'task': 'semantic', 'class_colours': {'st. bernard': 'red'}}, 'must not contain "."'),
        ({'task': 'semantic', 'class_colours': {'cat': 'blurple-ish'}}, "'blurple-ish'"),
        ({'task': 'instance'}, 'needs class_name'),
        ({'task': 'instance', 'class_name': 'cat', 'target': 'red'}, 'target does not apply'),
        ({'task': 'referring', 'expression': 'cup', 'target': 'black'}, 'share the colour'),
        ({'task': 'referring', 'expression': 'a; b'}, "must not contain ';'"),
    ],
)
def test_inconsistent_specs_are_rejected_by_field(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(PromptError, match=match):
        TaskSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('prompt', 'match'),
    [
        ('Hello there.', 'names no task'),
        ('Predict the metric depth of this scene as an image.', 'found none'),
        ('Predict metric depth in viridis or magma.', 'found magma, viridis'),
        ('Generate a semantic segmentation visualization of the input.', 'no class -> colour'),
        (
            'Generate a semantic segmentation visualization of the input. The menu is tasty.',
            "'tasty' is not a colour",
        ),
        (
            'Generate a semantic segmentation visualization of the input. Menus: #80C000.',
            'is not "The <class> is <colour>"',
        ),
        (
            'Generate a semantic segmentation visualization image, using this color mapping: '
            '{"cat": "red", "dog": }.',
            "class 'dog' has no colour",
        ),
        (
            'Generate a semantic segmentation visualization image, using this color mapping: '
            '{"cat": "red", "dog":}.',
            'entry without a colour',
        ),
        ('Generate an instance segmentation visualization of this image.', 'names no class'),
        ('This image shows segmentation masks from the given image.', 'names no target'),
    ],
)
def test_unparseable_prompts_say_what_is_missing(prompt: str, match: str) -> None:
    with pytest.raises(PromptError, match=match):
        parse_prompt(prompt)


def test_build_rejects_unknown_variants() -> None:
    with pytest.raises(PromptError, match=r'\[0, 2\]'):
        build_prompt(TaskSpec('normals'), 3)
    with pytest.raises(PromptError, match="got 'haiku'"):
        build_prompt(TaskSpec('normals'), 'haiku')
    with pytest.raises(PromptError, match='got bool'):
        build_prompt(TaskSpec('normals'), True)


def test_expressions_from_outside_are_collapsed_or_refused() -> None:
    assert check_expression('  the red\tmug\n left of the bowl ') == 'the red mug left of the bowl'
    for bad, message in [
        ('', 'empty'),
        ('   ', 'empty'),
        ('x' * (MAX_EXPRESSION_CHARS + 1), 'at most'),
        ('the mug\x1b[31m', 'unprintable'),
        ('the mug; now depth', "';'"),
        (42, 'must be text'),
    ]:
        with pytest.raises(PromptError, match=message):
            check_expression(bad)
