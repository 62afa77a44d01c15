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
Every task's prompt, in the paper's style, and its inverse: one place for training and serving.

A ``TaskSpec`` says what to generate and how it is coloured (depth colormap, semantic class
colours, instance background, referring target / background / other objects). ``build_prompt``
writes it in one of several paraphrases per task (``prompt_variants``), including the paper's
published forms (arXiv:2604.20329 §3.1, Figs. 1-4); ``parse_prompt`` reads any of them back, and
the paper's own examples, into the same ``TaskSpec``, so a served prompt decodes with exactly the
colours it asked for.

Colours are written as a name only where ``parse_colour`` reads that name back as exactly the
colour (``exact_colour_name``); otherwise as hex or a tuple. Names in a prompt resolve through
``parse_colour`` (CSS4 first, then xkcd: "light purple" is xkcd's (191, 119, 246), "green" is
CSS4's (0, 128, 0)). Prompts that state no background mean black; the paper's instance and
referring examples leave it out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import json
import re
from typing import TypeAlias

import torch
from vision_banana_ros.codecs.depth import DEPTH_COLORMAPS
from vision_banana_ros.codecs.errors import CodecError
from vision_banana_ros.codecs.segmentation import (
    BLACK,
    ColourLike,
    exact_colour_name,
    parse_colour,
    Rgb,
    WHITE,
)

__all__ = [
    'COLOUR_NOTATIONS',
    'DEPTH_COLORMAP_WORDS',
    'MAX_EXPRESSION_CHARS',
    'TASKS',
    'PromptError',
    'TaskSpec',
    'build_prompt',
    'check_expression',
    'parse_prompt',
    'prompt_variants',
    'write_colour',
]

TASKS: tuple[str, ...] = ('depth', 'normals', 'semantic', 'instance', 'referring')
"""Every task a prompt can ask for."""

COLOUR_NOTATIONS: tuple[str, ...] = ('name', 'hex', 'tuple', 'angle', 'rgb')
"""How a colour is written: 'red' (hex where no exact name), '#FF0000', '(255, 0, 0)',
'<255, 0, 0>', 'RGB(255, 0, 0)'."""

DEPTH_COLORMAP_WORDS: dict[str, str] = {
    'cube': 'rainbow',
    'viridis': 'viridis',
    'plasma': 'plasma',
    'inferno': 'inferno',
    'magma': 'magma',
    'turbo': 'turbo',
    'grey': 'grayscale',
}
"""The word a depth prompt uses for each ``DEPTH_COLORMAPS`` entry (the cube path: 'rainbow')."""


class PromptError(ValueError):
    """A task spec is inconsistent, or a prompt does not say what to draw or in which colours."""


@dataclass(frozen=True)
class TaskSpec:
    """
    What a prompt asks the generator to draw, and in which colours.

    Colours may be given as anything ``parse_colour`` reads; they are stored as ``(r, g, b)``
    ints. Fields a task does not use must keep their defaults.

    :ivar task: one of ``TASKS``.
    :ivar colormap: depth only: one of ``DEPTH_COLORMAPS`` ('gray' is read as 'grey').
    :ivar class_colours: semantic only: ``(name, (r, g, b))`` pairs in class-id order, distinct
        names and colours (a mapping is accepted and kept in its order).
    :ivar class_name: instance only: the class whose instances are drawn, e.g. 'piece of garlic'.
    :ivar expression: referring only: the referring expression, e.g. 'the man in pink t shirt'
        (a leading 'The' / 'A' / 'An' is lower-cased).
    :ivar target: referring only: colour of the referred object.
    :ivar background: instance and referring: colour of everything else.
    :ivar others: referring only: ``(expression, colour)`` of other objects the prompt names.
    """

    task: str
    colormap: str = 'cube'
    class_colours: tuple[tuple[str, Rgb], ...] = ()
    class_name: str = ''
    expression: str = ''
    target: Rgb = WHITE
    background: Rgb = BLACK
    others: tuple[tuple[str, Rgb], ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise PromptError(f'task must be one of {", ".join(TASKS)}, got {self.task!r}')
        colormap = 'grey' if self.colormap == 'gray' else self.colormap
        if colormap not in DEPTH_COLORMAPS:
            raise PromptError(
                f'colormap must be one of {", ".join(DEPTH_COLORMAPS)}, got {self.colormap!r}'
            )
        object.__setattr__(self, 'colormap', colormap)
        object.__setattr__(
            self, 'class_colours', _named_colours(self.class_colours, 'class_colours')
        )
        others = tuple((_lower_article(e), c) for e, c in _named_colours(self.others, 'others'))
        object.__setattr__(self, 'others', others)
        object.__setattr__(self, 'class_name', _clean_text(self.class_name, 'class_name'))
        expression = _lower_article(_clean_text(self.expression, 'expression'))
        object.__setattr__(self, 'expression', expression)
        object.__setattr__(self, 'target', _colour(self.target, 'target'))
        object.__setattr__(self, 'background', _colour(self.background, 'background'))
        self._check_fields_used()

    def _check_fields_used(self) -> None:
        used = {
            'depth': {'colormap'},
            'normals': set(),
            'semantic': {'class_colours'},
            'instance': {'class_name', 'background'},
            'referring': {'expression', 'target', 'background', 'others'},
        }[self.task]
        defaults = TaskSpec.__dataclass_fields__
        for name, field in defaults.items():
            if name != 'task' and name not in used and getattr(self, name) != field.default:
                raise PromptError(
                    f'{name} does not apply to a {self.task} prompt, got {getattr(self, name)!r}'
                )
        required = {
            'semantic': 'class_colours',
            'instance': 'class_name',
            'referring': 'expression',
        }
        if self.task in required and not getattr(self, required[self.task]):
            raise PromptError(f'a {self.task} prompt needs {required[self.task]}, got none')
        if self.task == 'semantic':
            _check_distinct([rgb for _, rgb in self.class_colours], 'class_colours')
            _check_words([name for name, _ in self.class_colours], 'class_colours', _CLASS_BANNED)
        if self.task == 'referring':
            colours = [self.target, self.background, *(rgb for _, rgb in self.others)]
            _check_distinct(colours, 'target, background and others')
            _check_words([self.expression, *(e for e, _ in self.others)], 'expression', ';')


def prompt_variants(task: str) -> tuple[str, ...]:
    """
    Name the paraphrases ``build_prompt`` can write for a task, in variant-index order.

    :param task: one of ``TASKS``.
    :return: variant names such as 'json/name' or 'sentences/hex' (template / colour notation).
    :raises PromptError: on an unknown task.
    """
    if task not in TASKS:
        raise PromptError(f'task must be one of {", ".join(TASKS)}, got {task!r}')
    return tuple(name for name, _, _ in _VARIANTS[task])


def build_prompt(spec: TaskSpec, variant: int | str | torch.Generator = 0) -> str:
    """
    Write the prompt for a task in the paper's style.

    :param spec: what to generate.
    :param variant: an index or name from ``prompt_variants(spec.task)``, or a
        ``torch.Generator`` to draw one uniformly (training-data paraphrase).
    :return: the prompt, one line; ``parse_prompt`` of it gives ``spec`` back.
    :raises PromptError: on an unknown variant.
    """
    options = _VARIANTS[spec.task]
    if isinstance(variant, torch.Generator):
        index = int(torch.randint(len(options), (1,), generator=variant).item())
    elif isinstance(variant, str):
        names = [name for name, _, _ in options]
        if variant not in names:
            raise PromptError(f'variant must be one of {", ".join(names)}, got {variant!r}')
        index = names.index(variant)
    elif isinstance(variant, int) and not isinstance(variant, bool):
        if not 0 <= variant < len(options):
            raise PromptError(
                f'variant must be in [0, {len(options) - 1}] for {spec.task}, got {variant}'
            )
        index = variant
    else:
        raise PromptError(
            f'variant must be an int, a name or a torch.Generator, got {type(variant).__name__}'
        )
    _, template, notation = options[index]
    return template(spec, notation)


def write_colour(colour: ColourLike, notation: str) -> str:
    """
    Write a colour the way a prompt does.

    :param colour: anything ``parse_colour`` reads.
    :param notation: one of ``COLOUR_NOTATIONS``; 'name' falls back to hex where no name
        reads back as exactly this colour.
    :return: e.g. 'red', '#80C000', '(255, 255, 0)', '<255, 165, 0>' or 'RGB(88, 50, 82)'.
    :raises PromptError: on an unknown notation or an unreadable colour.
    """
    r, g, b = _colour(colour, 'colour')
    if notation == 'name':
        return exact_colour_name((r, g, b)) or f'#{r:02X}{g:02X}{b:02X}'
    if notation == 'hex':
        return f'#{r:02X}{g:02X}{b:02X}'
    if notation == 'tuple':
        return f'({r}, {g}, {b})'
    if notation == 'angle':
        return f'<{r}, {g}, {b}>'
    if notation == 'rgb':
        return f'RGB({r}, {g}, {b})'
    raise PromptError(f'notation must be one of {", ".join(COLOUR_NOTATIONS)}, got {notation!r}')


def parse_prompt(text: str) -> TaskSpec:
    """
    Read a prompt back into the task and colours it asks for.

    Reads every ``build_prompt`` variant and the paper's published prompts: JSON or natural-
    language colour maps, colours as names, hex or tuples; instance prompts with or without a
    background sentence; referring prompts with any target colour and other named objects.

    :param text: the prompt.
    :return: the ``TaskSpec`` it asks for; absent backgrounds are black.
    :raises PromptError: naming what is missing or unreadable (the task, a colormap, a class
        map, a colour).
    """
    if not isinstance(text, str):
        raise PromptError(f'text must be a string, got {type(text).__name__}')
    clean = ' '.join(text.split())
    task = _detect_task(clean)
    return _PARSERS[task](clean)


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------

_CLASS_BANNED = '"{}[]()<>:;,.#'


def _colour(colour: object, what: str) -> Rgb:
    try:
        return parse_colour(colour)  # type: ignore[arg-type]
    except CodecError as err:
        raise PromptError(f'{what}: {err}') from err


def _clean_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise PromptError(f'{what} must be a string, got {type(text).__name__}')
    clean = ' '.join(text.split())
    if '.' in clean:
        raise PromptError(f'{what} must not contain "." (it ends sentences), got {text!r}')
    return clean


def _lower_article(text: str) -> str:
    """Lower-case a leading article: 'The man' -> 'the man' (sentence-initial in some prompts)."""
    return re.sub(r'^(The|A|An) ', lambda m: m.group(1).lower() + ' ', text)


def _named_colours(pairs: object, what: str) -> tuple[tuple[str, Rgb], ...]:
    if isinstance(pairs, Mapping):
        items = list(pairs.items())
    elif isinstance(pairs, Sequence) and not isinstance(pairs, str):
        items = list(pairs)
    else:
        raise PromptError(f'{what} must be (name, colour) pairs, got {type(pairs).__name__}')
    result = []
    for entry in items:
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise PromptError(f'{what} entries must be (name, colour) pairs, got {entry!r}')
        name = _clean_text(entry[0], f'{what} name')
        if not name:
            raise PromptError(f'{what} names must not be empty, got {entry!r}')
        result.append((name, _colour(entry[1], f'{what} {name!r}')))
    names = [name for name, _ in result]
    if len(set(names)) != len(names):
        raise PromptError(f'{what} names must be distinct, got {names}')
    return tuple(result)


MAX_EXPRESSION_CHARS = 200
"""Longest referring expression accepted from outside (a query topic)."""


def check_expression(text: object) -> str:
    """
    Check a referring expression that arrives from outside (the node's ``~/query`` topic).

    :param text: the expression, e.g. 'the red mug left of the bowl'.
    :return: the expression with its whitespace collapsed to single spaces.
    :raises PromptError: if it is not a string, is empty, longer than ``MAX_EXPRESSION_CHARS``,
        holds control or other unprintable characters, or a ';' (which ends a prompt's clause).
    """
    if not isinstance(text, str):
        raise PromptError(f'a referring expression must be text, got {type(text).__name__}')
    collapsed = ' '.join(text.split())
    if not collapsed:
        raise PromptError('the referring expression is empty')
    if len(collapsed) > MAX_EXPRESSION_CHARS:
        raise PromptError(
            f'the referring expression has {len(collapsed)} characters; '
            f'at most {MAX_EXPRESSION_CHARS}'
        )
    if not collapsed.isprintable():
        bad = sorted({repr(c) for c in collapsed if not c.isprintable()})
        raise PromptError(f'the referring expression holds unprintable characters {bad}')
    _check_words([collapsed], 'expression', ';')
    return collapsed


def _check_distinct(colours: list[Rgb], what: str) -> None:
    seen: dict[Rgb, int] = {}
    for index, rgb in enumerate(colours):
        if rgb in seen:
            raise PromptError(f'{what}: entries {seen[rgb]} and {index} share the colour {rgb}')
        seen[rgb] = index


def _check_words(texts: list[str], what: str, banned: str) -> None:
    for text in texts:
        bad = sorted({c for c in text if c in banned})
        if bad:
            raise PromptError(f'{what}: {text!r} must not contain {"".join(bad)!r}')


# ---------------------------------------------------------------------------------------------
# Templates: (variant name, builder, colour notation) per task
# ---------------------------------------------------------------------------------------------

Builder: TypeAlias = Callable[[TaskSpec, str], str]


def _depth_predict(spec: TaskSpec, _: str) -> str:
    word = DEPTH_COLORMAP_WORDS[spec.colormap]
    return (
        f'Predict the metric depth of this scene as an image. Visualized in the {word} colormap.'
    )


def _depth_generate(spec: TaskSpec, _: str) -> str:
    word = DEPTH_COLORMAP_WORDS[spec.colormap]
    return f'Generate a depth visualization of this image, using the {word} colormap.'


def _depth_estimate(spec: TaskSpec, _: str) -> str:
    word = DEPTH_COLORMAP_WORDS[spec.colormap]
    return f'Estimate the metric depth of this image and render it with the {word} color map.'


def _depth_map(spec: TaskSpec, _: str) -> str:
    word = DEPTH_COLORMAP_WORDS[spec.colormap]
    return f'Generate a metric depth map of this image, colored with the {word} colormap.'


def _normals_generate(_: TaskSpec, __: str) -> str:
    return 'Generate a surface normal visualization of this image.'


def _normals_predict(_: TaskSpec, __: str) -> str:
    return 'Predict the surface normals of this scene as an image.'


def _normals_map(_: TaskSpec, __: str) -> str:
    return 'Generate a surface normal map of this image, in camera coordinates.'


def _semantic_json(spec: TaskSpec, notation: str) -> str:
    mapping = {name: write_colour(rgb, notation) for name, rgb in spec.class_colours}
    body = json.dumps(mapping, ensure_ascii=False)
    return (
        f'Generate a semantic segmentation visualization image, using this color mapping: {body}.'
    )


def _semantic_labeling(spec: TaskSpec, notation: str) -> str:
    sentences = ' '.join(
        f'The {name} {_be(name)} represented by {write_colour(rgb, notation)}.'
        for name, rgb in spec.class_colours
    )
    return f'This image is a per-pixel class labeling of the input. {sentences}'


def _semantic_sentences(spec: TaskSpec, notation: str) -> str:
    sentences = ' '.join(
        f'The {name} {_be(name)} {write_colour(rgb, notation)}.'
        for name, rgb in spec.class_colours
    )
    return f'Generate a semantic segmentation visualization of the input. {sentences}'


def _semantic_colour_map(spec: TaskSpec, notation: str) -> str:
    entries = '; '.join(
        f'{name}: {write_colour(rgb, notation)}' for name, rgb in spec.class_colours
    )
    return (
        'Generate a segmentation visualization of this image, using the following color map: '
        f'{entries}.'
    )


def _semantic_segment(spec: TaskSpec, _: str) -> str:
    clauses = ', '.join(f'the {name} category in {_pure(rgb)}' for name, rgb in spec.class_colours)
    return f'Segment {clauses}.'


def _instance_each(spec: TaskSpec, notation: str) -> str:
    prompt = (
        'Generate an instance segmentation visualization of this image. '
        f'Each {spec.class_name} is colored differently.'
    )
    if spec.background != BLACK:
        prompt += f' The background is {write_colour(spec.background, notation)}.'
    return prompt


def _instance_derived(spec: TaskSpec, notation: str) -> str:
    return (
        'This image is a segmentation task derived from the input. '
        f'The {spec.class_name} instances are each represented by a unique, solid color. '
        f'Background is {write_colour(spec.background, notation)}.'
    )


def _instance_paint(spec: TaskSpec, notation: str) -> str:
    colour = write_colour(spec.background, notation)
    article = 'an' if colour[0].lower() in 'aeiou' else 'a'
    return (
        'Generate an instance segmentation visualization of this image: paint every '
        f'{spec.class_name} in its own solid color on {article} {colour} background.'
    )


def _referring_area(spec: TaskSpec, notation: str) -> str:
    clauses = [
        f'The area that corresponds to {spec.expression} is rendered solid '
        f'{write_colour(spec.target, notation)}'
    ]
    clauses += [
        f'{other} is rendered in {write_colour(rgb, notation)}' for other, rgb in spec.others
    ]
    prompt = f'A segmentation map image. {"; ".join(clauses)}.'
    if spec.background != BLACK:
        prompt += f' The background is {write_colour(spec.background, notation)}.'
    return prompt


def _referring_masks(spec: TaskSpec, notation: str) -> str:
    background = write_colour(spec.background, notation)
    if notation == 'name' and exact_colour_name(spec.background):
        background += ' color'
    sentences = [
        f'{_upper_article(expr)} is represented by a solid {write_colour(rgb, notation)}.'
        for expr, rgb in ((spec.expression, spec.target), *spec.others)
    ]
    return (
        'This image shows segmentation masks from the given image. '
        f'The background is {background}. {" ".join(sentences)}'
    )


def _referring_render(spec: TaskSpec, notation: str) -> str:
    clauses = [f'Render {spec.expression} in solid {write_colour(spec.target, notation)}']
    clauses += [
        f'render {other} in solid {write_colour(rgb, notation)}' for other, rgb in spec.others
    ]
    clauses.append(f'render everything else in {write_colour(spec.background, notation)}')
    return f'Generate a referring segmentation visualization of this image. {"; ".join(clauses)}.'


def _be(name: str) -> str:
    """Agree the verb with a class name: 'The cakes are', 'The glass is'."""
    return 'are' if name.endswith('s') and not name.endswith('ss') else 'is'


def _pure(rgb: Rgb) -> str:
    """Write a colour as in "Segment the skateboard category in pure yellow (<255, 255, 0>)"."""
    name = exact_colour_name(rgb)
    angle = write_colour(rgb, 'angle')
    return f'pure {name} ({angle})' if name else angle


def _upper_article(text: str) -> str:
    """Capitalise a leading article, as a sentence starts: 'the man' -> 'The man'."""
    return text[0].upper() + text[1:] if re.match(r'(the|a|an) ', text) else text


def _with_notations(
    templates: Sequence[tuple[str, Builder]],
) -> tuple[tuple[str, Builder, str], ...]:
    return tuple(
        (f'{name}/{notation}', template, notation)
        for name, template in templates
        for notation in COLOUR_NOTATIONS
    )


_VARIANTS: dict[str, tuple[tuple[str, Builder, str], ...]] = {
    'depth': (
        ('predict', _depth_predict, 'name'),
        ('generate', _depth_generate, 'name'),
        ('estimate', _depth_estimate, 'name'),
        ('map', _depth_map, 'name'),
    ),
    'normals': (
        ('generate', _normals_generate, 'name'),
        ('predict', _normals_predict, 'name'),
        ('map', _normals_map, 'name'),
    ),
    'semantic': (
        *_with_notations(
            [
                ('json', _semantic_json),
                ('labeling', _semantic_labeling),
                ('sentences', _semantic_sentences),
                ('colour-map', _semantic_colour_map),
            ]
        ),
        ('segment/angle', _semantic_segment, 'angle'),
    ),
    'instance': _with_notations(
        [('each', _instance_each), ('derived', _instance_derived), ('paint', _instance_paint)]
    ),
    'referring': _with_notations(
        [('area', _referring_area), ('masks', _referring_masks), ('render', _referring_render)]
    ),
}


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

# A colour phrase: words, hex, or one bracketed triple (commas allowed inside brackets only).
_COLOUR = r'(?:[^,;.(<\[\]{}]|\([^)]*\)|<[^>]*>|\[[^\]]*\])+'
_TRIPLE = re.compile(r'[(<\[]\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*[)>\]]')
_FILLER_WORDS = frozenset({'a', 'an', 'the', 'solid', 'pure', 'in'})
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (task, re.compile(pattern, re.IGNORECASE))
    for task, pattern in (
        (
            'instance',
            r'\binstance segmentation\b|\binstances are each\b|\bcolou?red differently\b'
            r'|\bin its own solid colou?r\b',
        ),
        (
            'referring',
            r'\breferring segmentation\b|\bcorresponds to\b|\bsegmentation masks?\b'
            r'|\bsegmentation map image\b',
        ),
        (
            'semantic',
            r'\bsemantic segmentation\b|\bper-pixel class label|^segment the .+ category\b'
            r'|\bsegmentation\b.*\bcolou?r map',
        ),
        ('normals', r'\bsurface normals?\b|\bnormal map\b'),
        ('depth', r'\bdepth\b'),
    )
)
_COLORMAP_WORDS = re.compile(
    r'\b(rainbow|cube|viridis|plasma|inferno|magma|turbo|gr[ae]y(?:scale)?)\b', re.IGNORECASE
)


def _detect_task(text: str) -> str:
    """Find the task from the first sentence's cue words, else from the whole prompt's."""
    lead = re.split(r'(?<=[.:])\s', text, maxsplit=1)[0]
    for where in (lead, text):
        for task, cue in _CUES:
            if cue.search(where):
                return task
    raise PromptError(
        f'prompt names no task (depth, surface normals, semantic / instance / referring '
        f'segmentation): {text!r}'
    )


def _colour_from_phrase(phrase: str, what: str) -> Rgb:
    """
    Read a colour phrase: 'solid white', 'pure yellow (<255, 255, 0>)', 'black color', ...

    A bracketed triple wins over any name beside it. Otherwise the phrase is tried whole, then
    without a trailing 'color', then without leading 'a', 'solid', 'pure', ... one word at a
    time ('pure blue' is an xkcd colour; 'pure yellow' is yellow).

    :param phrase: the text a template or the paper puts where a colour goes.
    :param what: what the colour is for, used in the error message.
    :return: the colour.
    :raises PromptError: if no reading of the phrase is a colour.
    """
    clean = phrase.strip().strip('"\'').strip()
    if not clean:
        raise PromptError(f'{what} has no colour')
    triple = _TRIPLE.search(clean)
    if triple is not None:
        return _colour(tuple(int(v) for v in triple.groups()), what)
    words = clean.split()
    for start in range(len(words)):
        if start and words[start - 1].lower() not in _FILLER_WORDS:
            break
        rest = ' '.join(words[start:])
        for candidate in (rest, re.sub(r'\s+colou?r$', '', rest, flags=re.IGNORECASE)):
            try:
                return parse_colour(candidate)
            except CodecError:
                continue
    raise PromptError(f'{what}: {phrase.strip()!r} is not a colour')


def _parse_depth(text: str) -> TaskSpec:
    words = {m.group(1).lower() for m in _COLORMAP_WORDS.finditer(text)}
    names = {
        'cube' if w in ('rainbow', 'cube') else 'grey' if w.startswith('gr') else w for w in words
    }
    if len(names) != 1:
        found = 'none' if not names else ', '.join(sorted(names))
        raise PromptError(
            'a depth prompt must name one colormap (rainbow, viridis, plasma, inferno, magma, '
            f'turbo, grayscale), found {found}: {text!r}'
        )
    return TaskSpec('depth', colormap=names.pop())


def _parse_normals(_: str) -> TaskSpec:
    return TaskSpec('normals')


def _parse_semantic(text: str) -> TaskSpec:
    if '{' in text and '}' in text:
        start, stop = text.index('{'), text.rindex('}') + 1
        pairs = _json_pairs(text[start:stop])
    elif re.match(r'segment the ', text, re.IGNORECASE):
        pattern = rf'\bthe (.+?) category in ({_COLOUR})'
        pairs = [(m.group(1), m.group(2)) for m in re.finditer(pattern, text, re.IGNORECASE)]
    elif re.search(r'colou?r map(?:ping)?:', text, re.IGNORECASE):
        body = re.split(r'colou?r map(?:ping)?:', text, maxsplit=1, flags=re.IGNORECASE)[1]
        entries = [e.strip() for e in body.strip().rstrip('.').split(';') if e.strip()]
        pairs = [_split_entry(entry) for entry in entries]
    else:
        pairs = [_class_sentence(sentence) for sentence in _sentences(text)[1:]]
    if not pairs:
        raise PromptError(f'semantic prompt holds no class -> colour map: {text!r}')
    return TaskSpec(
        'semantic',
        class_colours=tuple(
            (name.strip(), _colour_from_phrase(colour, f'class {name.strip()!r}'))
            for name, colour in pairs
        ),
    )


def _split_entry(entry: str) -> tuple[str, str]:
    """Split 'cat: red' into ('cat', 'red')."""
    if ':' not in entry:
        raise PromptError(f'colour map entry {entry!r} is not "<class>: <colour>"')
    name, colour = entry.split(':', 1)
    return name, colour


def _class_sentence(sentence: str) -> tuple[str, str]:
    """Read 'The menu is #80C000' or 'The macaron cakes are represented by (255, 255, 0)'."""
    match = re.fullmatch(
        r'(?:The )?(.+) (?:is|are) (?:represented by |shown in |drawn in |colou?red )?'
        rf'({_COLOUR})',
        sentence,
    )
    if match is None:
        raise PromptError(f'sentence {sentence!r} is not "The <class> is <colour>"')
    return match.group(1), match.group(2)


def _parse_instance(text: str) -> TaskSpec:
    match = (
        re.search(r'\bEach (.+) is colou?red differently', text)
        or re.search(r'\bThe (.+) instances are each represented', text)
        or re.search(r'\bpaint every (.+) in its own solid colou?r', text)
    )
    if match is None:
        raise PromptError(f'instance prompt names no class ("Each <class> is ..."): {text!r}')
    return TaskSpec('instance', class_name=match.group(1), background=_background(text))


def _parse_referring(text: str) -> TaskSpec:
    if re.search(r'\bcorresponds to\b', text):
        body = re.split(r'\bcorresponds to ', text, maxsplit=1)[1]
        clauses = _sentences(body)[0].split(';')
        pattern = rf'(.+) is rendered (?:solid |in )?({_COLOUR})'
    elif re.search(r'\bRender ', text):
        clauses = [c for c in _sentences(text)[-1].split(';') if 'everything else' not in c]
        pattern = rf'[Rr]ender (.+) in solid ({_COLOUR})'
    else:
        background = re.compile(rf'the background is {_COLOUR}', re.IGNORECASE)
        clauses = [s for s in _sentences(text)[1:] if not background.fullmatch(s)]
        pattern = rf'(.+) is represented by ({_COLOUR})'
    targets = []
    for clause in clauses:
        match = re.fullmatch(pattern, clause.strip())
        if match is None:
            raise PromptError(f'referring prompt: {clause.strip()!r} names no object and colour')
        targets.append((match.group(1), match.group(2)))
    if not targets:
        raise PromptError(f'referring prompt names no target and its colour: {text!r}')
    (expression, target), others = targets[0], targets[1:]
    return TaskSpec(
        'referring',
        expression=expression,
        target=_colour_from_phrase(target, 'target'),
        background=_background(text),
        others=tuple(
            (other, _colour_from_phrase(colour, f'other object {other!r}'))
            for other, colour in others
        ),
    )


def _background(text: str) -> Rgb:
    match = (
        re.search(rf'\b[Bb]ackground is ({_COLOUR})', text)
        or re.search(rf'\brender everything else in ({_COLOUR})', text)
        or re.search(rf'\bon an? ({_COLOUR}) background\b', text)
    )
    return BLACK if match is None else _colour_from_phrase(match.group(1), 'background')


def _sentences(text: str) -> list[str]:
    """Split at '. ' (names never hold '.'; colours and JSON do not either)."""
    return [s.strip().rstrip('.') for s in re.split(r'(?<=\.)\s+', text) if s.strip()]


def _json_pairs(body: str) -> list[tuple[str, str]]:
    """
    Read a JSON-like class map, tolerating unquoted colours ("background": yellow).

    :param body: the text from '{' to '}'.
    :return: (name, colour phrase) pairs in order.
    :raises PromptError: if some '"name":' entry has no readable value.
    """
    value = r'"[^"]*"|\'[^\']*\'|<[^>]*>|\[[^\]]*\]|(?:RGB\s*)?\([^)]*\)|[^,{}]+'
    pairs = [
        (m.group(1), m.group(2).strip())
        for m in re.finditer(rf'"([^"]+)"\s*:\s*({value})', body, re.IGNORECASE)
    ]
    if len(pairs) != len(re.findall(r'"[^"]+"\s*:', body)):
        raise PromptError(f'semantic prompt has a colour map entry without a colour: {body!r}')
    return pairs


_PARSERS: dict[str, Callable[[str], TaskSpec]] = {
    'depth': _parse_depth,
    'normals': _parse_normals,
    'semantic': _parse_semantic,
    'instance': _parse_instance,
    'referring': _parse_referring,
}
