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
Tiny randomly initialised Stable Diffusion parts, built here: nothing is downloaded.

For the ``diffusers`` backend's tests and the LoRA recipe's: a 2-level UNet (8 input channels
for InstructPix2Pix, 4 for img2img), a 2-level VAE (downsampling by 2), a one-layer CLIP text
encoder over single characters and a DDIM scheduler, seeded.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

diffusers = pytest.importorskip('diffusers', reason='diffusers is not installed')
transformers = pytest.importorskip('transformers', reason='transformers is not installed')


def tiny_tokenizer() -> Any:
    """Build a CLIP tokenizer over single printable characters (no merges, nothing read)."""
    vocab = {'<|startoftext|>': 0, '<|endoftext|>': 1}
    for code in range(33, 127):
        vocab[chr(code)] = len(vocab)
        vocab[f'{chr(code)}</w>'] = len(vocab)
    return transformers.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)


def tiny_components(in_channels: int = 8) -> dict[str, Any]:
    """Tiny UNet, VAE, CLIP text encoder, tokenizer and DDIM scheduler, seeded."""
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D'),
        up_block_types=('CrossAttnUpBlock2D', 'UpBlock2D'),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=('DownEncoderBlock2D', 'DownEncoderBlock2D'),
        up_block_types=('UpDecoderBlock2D', 'UpDecoderBlock2D'),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=32,
    )
    tokenizer = tiny_tokenizer()
    text_encoder = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=1,
            max_position_embeddings=16,
            vocab_size=len(tokenizer),
        )
    )
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule='scaled_linear',
        clip_sample=False,
        steps_offset=1,
    )
    return {
        'unet': unet,
        'vae': vae,
        'text_encoder': text_encoder,
        'tokenizer': tokenizer,
        'scheduler': scheduler,
        'safety_checker': None,
        'feature_extractor': None,
        'requires_safety_checker': False,
    }
