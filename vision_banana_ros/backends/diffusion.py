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
``diffusers``: an instruction-following diffusers image-to-image pipeline from a local folder.

The folder is one written by a pipeline's ``save_pretrained`` (``model_index.json`` and one
subfolder per component), e.g. InstructPix2Pix after the LoRA recipe. A LoRA adapter saved
beside it by ``save_lora_weights`` (``pytorch_lora_weights.safetensors``) is loaded on top.
Nothing is ever downloaded: the folder must hold every component.

Any diffusers pipeline whose ``__call__`` takes ``prompt=`` and ``image=`` works;
``image_guidance_scale`` (InstructPix2Pix) and ``height``/``width`` are passed only to
pipelines that take them. ``diffusers`` is imported only when this backend is built, so the
package runs without it.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import importlib
import importlib.util
import inspect
import json
import logging
from pathlib import Path
import threading
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch.nn import functional
from vision_banana_ros.backends.base import (
    Backend,
    BackendError,
    BackendOutputError,
    BackendUnavailable,
)
from vision_banana_ros.backends.config import DiffusersOptions
from vision_banana_ros.backends.devices import resolve_device, resolve_dtype

__all__ = ['LORA_WEIGHTS', 'DiffusersBackend']

_LOG = logging.getLogger(__name__)

INSTALL_HINT = 'pip install vision_banana_ros[diffusers]'

LORA_WEIGHTS = 'pytorch_lora_weights.safetensors'
"""File name ``save_lora_weights`` writes (diffusers' ``LORA_WEIGHT_NAME_SAFE``)."""

_PICKLED_LORA_WEIGHTS = 'pytorch_lora_weights.bin'


class DiffusersBackend(Backend):
    """
    A diffusers image-to-image pipeline (InstructPix2Pix or any ``image=``/``prompt=`` one).

    All prompts of a call run as one batch, each with its own seeded generator; inputs are
    resized to ``resolution`` for the model and its outputs back to the input size. The safety
    checker is off: the outputs are perception maps, not photographs for people.
    """

    name = 'diffusers'

    def __init__(self, options: DiffusersOptions | None = None) -> None:
        """
        Load the pipeline (and its LoRA adapter, if the folder holds one) onto the device.

        :param options: the backend's config section; None for the defaults (then ``path``
            is empty and loading fails).
        :raises BackendUnavailable: if diffusers (or peft, for a LoRA adapter) is not installed.
        :raises BackendError: if the folder is missing, lacks ``model_index.json`` or a
            component, names a pipeline that is not image-to-image, or does not load.
        :raises ValueError: if the config names CUDA and there is none.
        """
        self.options = options or DiffusersOptions()
        diffusers = _import('diffusers')
        folder, class_name = _check_folder(self.options.path)
        pipeline_class = getattr(diffusers, class_name, None)
        if not isinstance(pipeline_class, type):
            raise BackendError(
                f'{folder / "model_index.json"} names pipeline class {class_name!r}, which '
                f'diffusers {diffusers.__version__} does not have'
            )
        self._device = resolve_device(self.options.device)
        self._dtype = resolve_dtype(self.options.dtype, self._device)
        self._lock = threading.Lock()
        pipeline = _load_pipeline(diffusers, pipeline_class, folder, self._dtype)
        self._arguments = _call_arguments(pipeline, folder)
        self.lora = _load_lora(pipeline, folder)
        if getattr(pipeline, 'safety_checker', None) is not None:
            pipeline.safety_checker = None
        pipeline.to(self._device)
        pipeline.set_progress_bar_config(disable=True)
        self._pipeline: Any = pipeline
        self.folder = folder
        self.class_name = class_name
        _LOG.info('diffusers backend: %s', self.description)

    @property
    def pipeline(self) -> Any:
        """
        Return the diffusers pipeline.

        :raises BackendError: once the backend is closed.
        """
        if self._pipeline is None:
            raise BackendError('the diffusers backend is closed')
        return self._pipeline

    @property
    def device(self) -> torch.device:
        """Return the device the pipeline runs on."""
        return self._device

    @property
    def resolution(self) -> tuple[int, int]:
        """Return the configured (height, width) the pipeline draws at."""
        return self.options.height, self.options.width

    @property
    def stochastic(self) -> bool:
        """Return True: each seed starts denoising from different noise."""
        return True

    @property
    def description(self) -> str:
        """Say e.g. 'diffusers <pipeline class> from <folder> (cpu, float32, 4 steps, LoRA)'."""
        steps = self.options.steps
        dtype = str(self._dtype).removeprefix('torch.')
        lora = ', LoRA' if self.lora else ''
        return (
            f'diffusers {self.class_name} from {self.folder} ({self._device.type}, {dtype}, '
            f'{steps} step{"s" if steps > 1 else ""}{lora})'
        )

    def close(self) -> None:
        """Drop the pipeline and free its GPU memory; ``generate`` then raises BackendError."""
        with self._lock:
            self._pipeline = None
        if self._device.type == 'cuda':
            torch.cuda.empty_cache()

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        count = len(prompts)
        height, width = int(images.shape[1]), int(images.shape[2])
        batch = _resize(images.to(self._device).permute(0, 3, 1, 2).float() / 255, self.resolution)
        if batch.shape[0] != count:  # one image shared by all prompts
            batch = batch.expand(count, -1, -1, -1)
        seed_list = seeds if seeds is not None else [0] * count
        with self._lock:
            pipeline = self.pipeline
            kwargs = self._kwargs(prompts, batch.contiguous(), seed_list)
            try:
                with torch.no_grad():
                    result = pipeline(**kwargs)
            except BackendError:
                raise
            except Exception as err:
                raise BackendError(f'diffusers {self.class_name} failed: {err}') from err
        out = self._output(result, count)
        if not bool(torch.isfinite(out).all()):
            hint = ''
            if self._dtype == torch.float16:
                hint = ' (float16 often overflows in the VAE: try dtype float32 or bfloat16)'
            raise BackendOutputError(
                f'diffusers {self.class_name} returned NaN or infinite pixels{hint}'
            )
        out = _resize(out, (height, width)).clamp(0, 1)
        rgb = out.mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        return rgb.to(self._device)

    def _kwargs(self, prompts: list[str], batch: torch.Tensor, seeds: list[int]) -> dict[str, Any]:
        """Arguments of one pipeline call: the ones its ``__call__`` names, nothing else."""
        height, width = self.resolution
        wanted: dict[str, Any] = {
            'prompt': prompts,
            'image': batch,
            'num_inference_steps': self.options.steps,
            'guidance_scale': self.options.guidance_scale,
            'image_guidance_scale': self.options.image_guidance_scale,
            'height': height,
            'width': width,
            'generator': [torch.Generator(self._device).manual_seed(s) for s in seeds],
            'output_type': 'pt',
            'return_dict': True,
        }
        return {key: value for key, value in wanted.items() if key in self._arguments}

    def _output(self, result: Any, count: int) -> torch.Tensor:
        """Turn a pipeline's answer into (P, 3, h, w) float32 in [0, 1] on the device."""
        images = getattr(result, 'images', None)
        if images is None and isinstance(result, tuple) and result:  # return_dict=False style
            images = result[0]
        if isinstance(images, list) and images:
            if all(isinstance(image, torch.Tensor) for image in images):
                images = torch.stack(images)
            elif all(isinstance(image, np.ndarray) for image in images):
                images = np.stack(images)
        if isinstance(images, np.ndarray) and np.issubdtype(images.dtype, np.floating):
            images = torch.from_numpy(images)
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            got = type(images).__name__
            if isinstance(images, torch.Tensor):
                got = f'a tensor of shape {tuple(images.shape)}'
            raise BackendOutputError(
                f'diffusers {self.class_name} returned {got}, expected a batch of images'
            )
        if images.shape[1] != 3 and images.shape[-1] == 3:  # channels last (numpy output)
            images = images.permute(0, 3, 1, 2)
        if images.shape[0] != count or images.shape[1] != 3:
            raise BackendOutputError(
                f'diffusers {self.class_name} returned images of shape {tuple(images.shape)} '
                f'for {count} prompt(s); expected ({count}, 3, H, W)'
            )
        return images.to(self._device, torch.float32)


def _import(module: str) -> ModuleType:
    """Import an optional library, or raise BackendUnavailable with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise BackendUnavailable(
            f'the diffusers backend needs the {module} library ({err}); install it with: '
            f'{INSTALL_HINT}'
        ) from err


def _check_folder(path: str) -> tuple[Path, str]:
    """Check that ``path`` holds a saved pipeline; return the folder and its class name."""
    if not path:
        raise BackendError('backend.diffusers.path is empty; set it to a saved pipeline folder')
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise BackendError(f'diffusers pipeline folder {folder} does not exist')
    index_file = folder / 'model_index.json'
    if not index_file.is_file():
        raise BackendError(
            f'{folder} has no model_index.json: it is not a folder written by a diffusers '
            "pipeline's save_pretrained"
        )
    try:
        index = json.loads(index_file.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BackendError(f'cannot read {index_file}: {err}') from err
    class_name = index.get('_class_name') if isinstance(index, dict) else None
    if not isinstance(class_name, str) or not class_name:
        raise BackendError(f'{index_file} names no pipeline class (_class_name)')
    missing = [
        key
        for key, value in index.items()
        if not key.startswith('_')
        and isinstance(value, list)
        and any(part is not None for part in value)
        and not (folder / key).is_dir()
    ]
    if missing:
        raise BackendError(
            f'{folder} lacks the component folder(s) {", ".join(sorted(missing))} that '
            f'model_index.json lists; the pipeline cannot load without them'
        )
    return folder, class_name


def _load_pipeline(
    diffusers: ModuleType, pipeline_class: type, folder: Path, dtype: torch.dtype
) -> Any:
    """``DiffusionPipeline.from_pretrained`` from the folder only, safety checker off."""
    kwargs: dict[str, Any] = {'local_files_only': True, 'dtype': dtype}
    init = inspect.signature(pipeline_class).parameters
    if 'safety_checker' in init:
        kwargs['safety_checker'] = None
    if 'requires_safety_checker' in init:
        kwargs['requires_safety_checker'] = False
    try:
        with _quiet_loading():
            return diffusers.DiffusionPipeline.from_pretrained(str(folder), **kwargs)
    except ImportError as err:
        raise BackendUnavailable(
            f'cannot load the diffusers pipeline in {folder}: {err}; install with: {INSTALL_HINT}'
        ) from err
    except Exception as err:
        raise BackendError(f'cannot load the diffusers pipeline in {folder}: {err}') from err


def _call_arguments(pipeline: Any, folder: Path) -> frozenset[str]:
    """Names the pipeline's ``__call__`` takes; raise BackendError if not image-to-image."""
    parameters = inspect.signature(pipeline.__call__).parameters
    names = frozenset(
        name
        for name, parameter in parameters.items()
        if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    )
    lacking = [name for name in ('prompt', 'image', 'output_type') if name not in names]
    if lacking:
        raise BackendError(
            f'{type(pipeline).__name__} in {folder} does not take {", ".join(lacking)}; the '
            'diffusers backend needs an image-to-image pipeline (e.g. InstructPix2Pix)'
        )
    return names


def _load_lora(pipeline: Any, folder: Path) -> bool:
    """Load the folder's LoRA adapter into the pipeline; return whether there was one."""
    if not (folder / LORA_WEIGHTS).is_file():
        if (folder / _PICKLED_LORA_WEIGHTS).is_file():
            raise BackendError(
                f'{folder / _PICKLED_LORA_WEIGHTS} is a pickled LoRA adapter; only '
                f'{LORA_WEIGHTS} is loaded (save_lora_weights with safe_serialization=True)'
            )
        return False
    if not hasattr(pipeline, 'load_lora_weights'):
        raise BackendError(
            f'{folder} holds {LORA_WEIGHTS} but {type(pipeline).__name__} cannot load LoRA '
            'adapters'
        )
    if importlib.util.find_spec('peft') is None:
        raise BackendUnavailable(
            f'{folder / LORA_WEIGHTS} is a LoRA adapter, which needs the peft library; '
            f'install it with: {INSTALL_HINT}'
        )
    try:
        pipeline.load_lora_weights(str(folder), weight_name=LORA_WEIGHTS, local_files_only=True)
    except Exception as err:
        raise BackendError(f'cannot load the LoRA adapter {folder / LORA_WEIGHTS}: {err}') from err
    return True


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (N, C, H, W) float images to ``size`` (bilinear, antialiased when shrinking)."""
    if tuple(images.shape[-2:]) == size:
        return images
    return functional.interpolate(
        images, size=size, mode='bilinear', align_corners=False, antialias=True
    )


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide diffusers' and transformers' loading progress bars, then restore their setting."""
    loggers = []
    for module in ('diffusers.utils.logging', 'transformers.utils.logging'):
        with contextlib.suppress(ImportError):
            loggers.append(importlib.import_module(module))
    enabled = [bool(logger.is_progress_bar_enabled()) for logger in loggers]
    for logger in loggers:
        logger.disable_progress_bar()
    try:
        yield
    finally:
        for logger, was_enabled in zip(loggers, enabled, strict=True):
            if was_enabled:
                logger.enable_progress_bar()
