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
``Generator``: the paper's universal interface on VB-Mini, ``generate(rgb, prompts) -> rgb``.

The backends wrap this. It resizes the input to the model resolution, samples (1 step by
default, deterministic: the starting noise is drawn from a fixed seed and shared by every row,
so a frame and prompt give the same output whatever else is in the batch), and resizes the
RGB result back to the input size.
"""

from __future__ import annotations

from collections.abc import Sequence
import copy
import logging
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F
from vision_banana_ros.model.encoder import TextEncoder
from vision_banana_ros.model.errors import ModelError
from vision_banana_ros.model.flow import draw_noise, MAX_STEPS, sample
from vision_banana_ros.model.net import FoldedUpsampleConv, NetConfig, VBMini
from vision_banana_ros.model.weights import load_model
from vision_banana_ros.tensors import ArrayLike, as_tensor, check_image, like

__all__ = ['Generator', 'default_dtype']

_LOG = logging.getLogger(__name__)


def default_dtype(device: torch.device) -> torch.dtype:
    """
    Pick the autocast dtype for a device: bf16 where the hardware runs it natively.

    :param device: where the model runs.
    :return: bfloat16 on CUDA with bf16 support and on CPUs with AVX512-BF16 or AMX; float16
        on older CUDA; else float32.
    """
    if device.type == 'cuda':
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == 'cpu':
        checks = ('_is_avx512_bf16_supported', '_is_amx_tile_supported')
        if any(getattr(torch.cpu, name, lambda: False)() for name in checks):
            return torch.bfloat16
    return torch.float32


class Generator:
    """
    VB-Mini behind ``generate(rgb (B, H, W, 3) uint8, prompts) -> (B, H, W, 3) uint8``.

    Example::

        generator = Generator.from_pretrained()
        out = generator.generate(rgb, ['Generate a surface normal visualization of this image.'])
    """

    def __init__(
        self,
        model: VBMini,
        *,
        trained: bool,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        steps: int = 1,
        seed: int = 0,
        compiled: bool = False,
    ) -> None:
        """
        Wrap a network.

        :param model: the network (moved to ``device``, eval mode, channels-last).
        :param trained: whether it holds trained weights (``is_trained``).
        :param device: where to run; None for CUDA if available, else the CPU.
        :param dtype: autocast dtype (float32 disables autocast); None for ``default_dtype``.
        :param steps: sampling steps, 1 to ``MAX_STEPS``.
        :param seed: seed of the starting noise.
        :param compiled: run the network through ``torch.compile`` (inductor, weights frozen
            into the graph): about 10 % faster on a CPU, after a compilation of 20 to 60 s on
            the first call for each prompt count (cached on disk by torch for later runs).
            Where it cannot compile (no C++ compiler), it says so once and runs eagerly.
        """
        if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
            raise ModelError(f'steps must be an int in [1, {MAX_STEPS}], got {steps!r}')
        if dtype not in (None, torch.float32, torch.bfloat16, torch.float16):
            raise ModelError(f'dtype must be float32, bfloat16 or float16, got {dtype}')
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.dtype = default_dtype(self.device) if dtype is None else dtype
        model.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.model = model.eval()
        self.steps = steps
        self.seed = seed
        self._trained = trained
        self.compiled = compiled
        self._inference: tuple[tuple[tuple[int, int], ...], VBMini] | None = None

    @classmethod
    def from_pretrained(
        cls,
        path: Path | str | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        steps: int = 1,
        *,
        config: NetConfig | None = None,
        text_encoder: TextEncoder | None = None,
        seed: int = 0,
        compiled: bool = False,
    ) -> Generator:
        """
        Load trained weights (``model/weights.py``) and wrap them.

        :param path: weights folder; None for the package's ``model/weights/``. A folder
            without weights gives a randomly initialised model and a logged warning.
        :param device: where to run; None for CUDA if available, else the CPU.
        :param dtype: autocast dtype; None for ``default_dtype(device)``.
        :param steps: sampling steps, 1 to ``MAX_STEPS``.
        :param config: the network config expected (checked against the saved one).
        :param text_encoder: MiniLM encoder; None for the process-wide shared one.
        :param seed: seed of the starting noise.
        :param compiled: run the network through ``torch.compile`` (see ``__init__``).
        :return: the generator.
        :raises WeightsError: if the weights do not match this package.
        """
        model, trained = load_model(path, config=config, text_encoder=text_encoder)
        return cls(
            model,
            trained=trained,
            device=device,
            dtype=dtype,
            steps=steps,
            seed=seed,
            compiled=compiled,
        )

    @property
    def is_trained(self) -> bool:
        """Tell whether trained weights were loaded (False: randomly initialised)."""
        return self._trained

    @property
    def config(self) -> NetConfig:
        """Return the network's ``NetConfig``; the model resolution is its ``image_size``."""
        return self.model.config

    def runnable(self) -> VBMini:
        """
        Return the network ``generate`` runs: an inference copy of ``model``, made once.

        The copy folds what inference can (``VBMini.fold_for_inference``: BatchNorm into the
        encoder's convolutions, the decoder's upsampling into the convolutions after it) and
        holds the weights autocast would cast on every call already in ``dtype`` (the float32
        layers, ``VBMini.FLOAT32_MODULES``, stay float32): what ``model`` draws under autocast
        up to float rounding, without the casts and the folded passes. With ``compiled`` the
        copy's forward is compiled. The copy is made again when ``model``'s weights change
        (training updates them in place), so the generator always runs the current weights.

        :return: the copy.
        """
        tensors = (*self.model.parameters(), *self.model.buffers())
        versions = tuple((id(t), t._version) for t in tensors)
        if self._inference is None or self._inference[0] != versions:
            network = _inference_copy(self.model, self.dtype)
            if self.compiled:
                network.compile(dynamic=False, options={'freezing': True})
            self._inference = (versions, network)
        return self._inference[1]

    def generate(
        self, rgb: ArrayLike, prompts: Sequence[str], seeds: Sequence[int] | None = None
    ) -> ArrayLike:
        """
        Draw the RGB image each prompt asks for.

        :param rgb: (B, H, W, 3) uint8 input images, numpy or torch; B = len(prompts), or 1
            to share one image among all prompts (it is then encoded once).
        :param prompts: the prompts, one per output.
        :param seeds: one seed of the starting noise per prompt (K samples of a prompt: repeat
            it with K seeds); None: every row starts from the noise of ``seed``.
        :return: (len(prompts), H, W, 3) uint8, numpy for numpy input, else a tensor on
            ``device``.
        :raises ModelError: on a wrong type, dtype, shape or prompt count.
        """
        # 1. Check.
        tensor = as_tensor(rgb, 'rgb', error=ModelError)
        check_image(tensor, 'rgb', channels=3, dtypes=(torch.uint8,), error=ModelError)
        if tensor.dim() != 4:
            raise ModelError(f'rgb must be (B, H, W, 3), got shape {tuple(tensor.shape)}')
        if isinstance(prompts, str) or not prompts:
            raise ModelError(f'prompts must be a non-empty list of strings, got {prompts!r}')
        if tensor.shape[0] not in (1, len(prompts)):
            raise ModelError(
                f'rgb holds {tensor.shape[0]} images for {len(prompts)} prompts; '
                'give one image per prompt or one for all'
            )
        if seeds is not None and len(seeds) != len(prompts):
            raise ModelError(f'{len(seeds)} seeds for {len(prompts)} prompts')
        height, width = tensor.shape[1:3]
        # 2. Resize to the model resolution.
        image = tensor.to(self.device).permute(0, 3, 1, 2).float() / 255.0  # (B, 3, H, W)
        image = _resize(image, self.config.image_size)  # (B, 3, h, w)
        image = image.contiguous(memory_format=torch.channels_last)
        # 3. Sample.
        shape = (1, 3, *self.config.image_size)
        noise = torch.cat(
            [
                draw_noise(shape, self.device, torch.Generator().manual_seed(seed))
                for seed in (seeds or [self.seed])
            ]
        )  # (len(seeds) or 1, 3, h, w)
        autocast = torch.autocast(
            self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32
        )
        with torch.inference_mode(), autocast:
            try:
                out = sample(self.runnable(), image, list(prompts), steps=self.steps, noise=noise)
            except torch._dynamo.exc.BackendCompilerFailed as err:
                if not self.compiled:
                    raise
                _LOG.warning('torch.compile failed, running eagerly from now on: %s', err)
                self.compiled, self._inference = False, None
                out = sample(self.runnable(), image, list(prompts), steps=self.steps, noise=noise)
        # 4. Back to the input size, uint8 HWC.
        out = _resize(out.float(), (height, width))  # (B, 3, H, W) in [-1, 1]
        out = ((out + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return like(out.permute(0, 2, 3, 1).contiguous(), rgb)  # (B, H, W, 3)


def _inference_copy(model: VBMini, dtype: torch.dtype) -> VBMini:
    """Copy a network for inference: folded, with the layers autocast runs in ``dtype`` cast."""
    network = copy.deepcopy(model).eval().requires_grad_(False)
    network.fold_for_inference()
    if dtype == torch.float32:
        return network
    for name, module in network.named_modules():
        if name.split('.')[0] in VBMini.FLOAT32_MODULES:
            continue
        if isinstance(module, (nn.Conv2d, nn.Linear, FoldedUpsampleConv)):
            module.to(dtype)
    return network


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (B, C, H, W), antialiased when shrinking; no-op at the same size."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode='bilinear', align_corners=False, antialias=True)
