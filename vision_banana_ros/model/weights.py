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
Save and load the generator's trained parameters: fp16 safetensors shards and a config.json.

Only the trained parts ship (decoder, prompt conditioning, time embedding; the image encoder's
last stage if it was trained); the frozen pretrained encoders come from their wheels. A folder
holds ``model-00001-of-0000N.safetensors`` shards (each at most ``MAX_SHARD_BYTES``) and
``config.json``::

    {"format": "vision_banana_ros.vb_mini", "format_version": 1,
     "model": {...NetConfig...}, "codec_version": 1, "prompt_version": 1,
     "image_encoder": "efficientnet-lite0", "text_encoder": "all-MiniLM-L6-v2",
     "dtype": "float16", "parameter_count": 6220771, "shards": ["model-00001-of-00001..."]}

Loading checks every field and names what differs. A folder without config.json gives a
randomly initialised model (seed 0) and a logged warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from vision_banana_ros.model.encoder import IMAGE_ENCODER_NAME, TEXT_ENCODER_NAME, TextEncoder
from vision_banana_ros.model.errors import ModelError, WeightsError
from vision_banana_ros.model.net import NetConfig, VBMini

__all__ = [
    'CODEC_VERSION',
    'CONFIG_NAME',
    'MAX_SHARD_BYTES',
    'PROMPT_VERSION',
    'WEIGHTS_DIR',
    'WEIGHTS_FORMAT',
    'load_model',
    'read_weights_config',
    'save_weights',
]

_LOG = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / 'weights'
"""Where the package's trained weights live (empty until training commits some)."""

CONFIG_NAME = 'config.json'
WEIGHTS_FORMAT = 'vision_banana_ros.vb_mini'
FORMAT_VERSION = 1
MAX_SHARD_BYTES = 16 * 2**20
"""Largest shard file (16 MiB)."""

CODEC_VERSION = 1
"""Version of the codecs' RGB targets the weights were trained on; bump on any codec change."""
PROMPT_VERSION = 1
"""Version of ``prompts.py``'s templates and parser the weights were trained on."""

_SHARD_PATTERN = 'model-*-of-*.safetensors'


def save_weights(
    model: VBMini, path: Path | str, *, max_shard_bytes: int = MAX_SHARD_BYTES
) -> list[Path]:
    """
    Write the trained parameters as fp16 safetensors shards plus config.json.

    Shards of an earlier save in the same folder that this save does not write are removed.

    :param model: the network.
    :param path: the folder (created if missing).
    :param max_shard_bytes: largest shard file, in bytes.
    :return: the files written, config.json last.
    :raises WeightsError: if a parameter is not finite in fp16 or alone exceeds a shard.
    """
    from safetensors.torch import save_file

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    named = dict(model.named_parameters())
    shards: list[dict[str, torch.Tensor]] = [{}]
    sizes = [0]
    for name in model.trained_parameter_names():
        tensor = named[name].detach().to('cpu', torch.float16).contiguous()
        if not torch.isfinite(tensor).all():
            raise WeightsError(f'parameter {name} is not finite in float16 (|x| > 65504?)')
        size = tensor.numel() * tensor.element_size()
        if size > max_shard_bytes - 2**16:  # leave room for the safetensors header
            raise WeightsError(
                f'parameter {name} ({size} bytes) exceeds a {max_shard_bytes} shard'
            )
        if sizes[-1] + size > max_shard_bytes - 2**16:
            shards.append({})
            sizes.append(0)
        shards[-1][name] = tensor
        sizes[-1] += size
    names = [f'model-{i + 1:05d}-of-{len(shards):05d}.safetensors' for i in range(len(shards))]
    written = []
    for name, shard in zip(names, shards, strict=True):
        save_file(shard, str(folder / name), metadata={'format': 'pt'})
        written.append(folder / name)
    for stale in sorted(folder.glob(_SHARD_PATTERN)):
        if stale.name not in names:
            stale.unlink()
    document = {
        'format': WEIGHTS_FORMAT,
        'format_version': FORMAT_VERSION,
        'model': model.config.to_dict(),
        'codec_version': CODEC_VERSION,
        'prompt_version': PROMPT_VERSION,
        'image_encoder': IMAGE_ENCODER_NAME,
        'text_encoder': TEXT_ENCODER_NAME,
        'dtype': 'float16',
        'parameter_count': model.parameter_count(),
        'shards': names,
    }
    config_path = folder / CONFIG_NAME
    config_path.write_text(json.dumps(document, indent=2) + '\n', encoding='utf-8')
    written.append(config_path)
    return written


def read_weights_config(path: Path | str | None = None) -> dict[str, Any] | None:
    """
    Read and check a weights folder's config.json.

    :param path: the folder; None for ``WEIGHTS_DIR``.
    :return: the document, or None if the folder holds no config.json.
    :raises WeightsError: if it is unreadable or was written for another format, codec or
        prompt version, or other pretrained encoders.
    """
    config_path = Path(WEIGHTS_DIR if path is None else path) / CONFIG_NAME
    if not config_path.is_file():
        return None
    try:
        document = json.loads(config_path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as err:
        raise WeightsError(f'{config_path}: cannot read it as JSON: {err}') from err
    if not isinstance(document, dict):
        raise WeightsError(f'{config_path}: expected a JSON object, got {type(document).__name__}')
    expected = {
        'format': WEIGHTS_FORMAT,
        'format_version': FORMAT_VERSION,
        'codec_version': CODEC_VERSION,
        'prompt_version': PROMPT_VERSION,
        'image_encoder': IMAGE_ENCODER_NAME,
        'text_encoder': TEXT_ENCODER_NAME,
        'dtype': 'float16',
    }
    for key, value in expected.items():
        if document.get(key) != value:
            raise WeightsError(
                f'{config_path}: "{key}" is {document.get(key)!r}, this package needs {value!r}'
            )
    for key, kind in (('model', dict), ('shards', list), ('parameter_count', int)):
        if not isinstance(document.get(key), kind):
            raise WeightsError(f'{config_path}: "{key}" must be a {kind.__name__}')
    return document


def load_model(
    path: Path | str | None = None,
    *,
    config: NetConfig | None = None,
    text_encoder: TextEncoder | None = None,
) -> tuple[VBMini, bool]:
    """
    Build the network and load its trained parameters.

    :param path: weights folder; None for ``WEIGHTS_DIR``.
    :param config: the config the caller expects; None accepts the saved one.
    :param text_encoder: MiniLM encoder for the network; None for the shared one.
    :return: (network in fp32 on the CPU, in eval mode; True if trained weights were loaded).
        Without config.json: a randomly initialised network (seed 0) and False, with a
        logged warning.
    :raises WeightsError: on a config or version mismatch, missing or extra parameters,
        wrong shapes or a missing shard.
    """
    folder = Path(WEIGHTS_DIR if path is None else path)
    document = read_weights_config(folder)
    if document is None:
        _LOG.warning(
            'no trained weights in %s (no %s): the generator is RANDOMLY INITIALISED and its '
            'outputs are meaningless until trained weights are installed',
            folder,
            CONFIG_NAME,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = VBMini(config, text_encoder)
        return model.eval(), False
    try:
        saved = NetConfig.from_dict(document['model'])
    except (ModelError, TypeError) as err:
        raise WeightsError(
            f'{folder / CONFIG_NAME}: "model" is not a valid NetConfig: {err}'
        ) from err
    if config is not None and config != saved:
        diff = {
            k: (v, getattr(saved, k))
            for k, v in config.to_dict().items()
            if v != saved.to_dict()[k]
        }
        raise WeightsError(
            f'{folder}: weights were saved for another config (asked, saved): {diff}'
        )
    model = VBMini(saved, text_encoder)
    _load_shards(model, folder, document)
    return model.eval(), True


def _load_shards(model: VBMini, folder: Path, document: dict[str, Any]) -> None:
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for name in document['shards']:
        shard = folder / str(name)
        if not shard.is_file():
            raise WeightsError(f'{folder}: shard {name} listed in {CONFIG_NAME} is missing')
        tensors.update(load_file(str(shard)))
    expected = model.trained_parameter_names()
    missing, extra = sorted(set(expected) - tensors.keys()), sorted(tensors.keys() - set(expected))
    if missing or extra:
        raise WeightsError(
            f'{folder}: weights do not match the network: missing {missing[:5]} '
            f'({len(missing)}), unexpected {extra[:5]} ({len(extra)})'
        )
    named = dict(model.named_parameters())
    count = 0
    with torch.no_grad():
        for name in expected:
            if tensors[name].shape != named[name].shape:
                raise WeightsError(
                    f'{folder}: {name} has shape {tuple(tensors[name].shape)}, the network '
                    f'needs {tuple(named[name].shape)}'
                )
            named[name].copy_(tensors[name])
            count += tensors[name].numel()
    if count != document['parameter_count']:
        raise WeightsError(
            f'{folder}: {CONFIG_NAME} says {document["parameter_count"]} parameters, '
            f'the shards hold {count}'
        )
