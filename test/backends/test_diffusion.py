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
"""The ``diffusers`` backend on tiny randomly initialised pipelines built and saved here."""

from __future__ import annotations

from collections.abc import Iterator
import functools
import json
import os
from pathlib import Path
import sys
from typing import Any

import pytest
from tiny_diffusers import tiny_components
import torch
from vision_banana_ros.backends import (
    Backend,
    BackendConfig,
    BackendError,
    BackendOutputError,
    BackendUnavailable,
    create_backend,
    DiffusersOptions,
)
from vision_banana_ros.backends.diffusion import DiffusersBackend, LORA_WEIGHTS

os.environ.setdefault('HF_HUB_OFFLINE', '1')
diffusers = pytest.importorskip('diffusers', reason='diffusers is not installed')
transformers = pytest.importorskip('transformers', reason='transformers is not installed')

PROMPTS = [
    'Generate a depth visualization of this image.',
    'Generate a surface normal visualization of this image.',
    'Generate a semantic segmentation visualization image.',
]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Save an InstructPix2Pix pipeline, one with a LoRA adapter, and an img2img pipeline."""
    root = tmp_path_factory.mktemp('diffusers')
    pix2pix = root / 'pix2pix'
    diffusers.StableDiffusionInstructPix2PixPipeline(**tiny_components(8)).save_pretrained(pix2pix)
    img2img = root / 'img2img'
    diffusers.StableDiffusionImg2ImgPipeline(**tiny_components(4)).save_pretrained(img2img)
    lora = root / 'lora'
    components = tiny_components(8)
    diffusers.StableDiffusionInstructPix2PixPipeline(**components).save_pretrained(lora)
    # What the LoRA recipe writes: a peft adapter on the UNet, saved by save_lora_weights.
    peft = pytest.importorskip('peft')
    unet = components['unet']
    unet.add_adapter(
        peft.LoraConfig(
            r=4,
            lora_alpha=4,
            init_lora_weights=False,  # random B, so the adapter changes the outputs
            target_modules=['to_k', 'to_q', 'to_v', 'to_out.0'],
        )
    )
    layers = diffusers.utils.convert_state_dict_to_diffusers(
        peft.utils.get_peft_model_state_dict(unet)
    )
    diffusers.StableDiffusionInstructPix2PixPipeline.save_lora_weights(
        lora, unet_lora_layers=layers, safe_serialization=True
    )
    return {'pix2pix': pix2pix, 'img2img': img2img, 'lora': lora}


def _options(path: Path, **overrides: Any) -> DiffusersOptions:
    fields: dict[str, Any] = {
        'path': str(path),
        'device': 'cpu',
        'dtype': 'float32',
        'height': 32,
        'width': 32,
        'steps': 2,
    }
    fields.update(overrides)
    return DiffusersOptions(**fields)


@pytest.fixture(scope='module')
def backend(folders: dict[str, Path]) -> Backend:
    """Load the InstructPix2Pix pipeline through ``create_backend``, as a config names it."""
    config = BackendConfig(name='diffusers', diffusers=_options(folders['pix2pix']))
    return create_backend(config)


def _images(count: int = 1, height: int = 48, width: int = 64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(count)
    return torch.randint(0, 256, (count, height, width, 3), dtype=torch.uint8, generator=generator)


def test_loads_through_create_backend(backend: Backend, folders: dict[str, Path]) -> None:
    assert isinstance(backend, DiffusersBackend)
    assert backend.name == 'diffusers'
    assert backend.stochastic
    assert backend.resolution == (32, 32)
    assert backend.device == torch.device('cpu')
    assert backend.description == (
        f'diffusers StableDiffusionInstructPix2PixPipeline from {folders["pix2pix"]} '
        '(cpu, float32, 2 steps)'
    )
    assert not backend.lora
    assert getattr(backend.pipeline, 'safety_checker', None) is None


def test_output_has_the_input_size(backend: Backend) -> None:
    out = backend.generate(_images(1, 48, 64), PROMPTS[:1], [0])
    assert out.shape == (1, 48, 64, 3)
    assert out.dtype == torch.uint8
    assert out.device == torch.device('cpu')
    assert int(out.max()) > int(out.min())  # an image, not a flat fill


def test_same_seeds_give_the_same_images(backend: Backend) -> None:
    images = _images(2)
    first = backend.generate(images, PROMPTS[:2], [3, 4])
    second = backend.generate(images, PROMPTS[:2], [3, 4])
    assert torch.equal(first, second)


def test_seeds_default_to_zero(backend: Backend) -> None:
    images = _images(1)
    assert torch.equal(
        backend.generate(images, PROMPTS[:2]), backend.generate(images, PROMPTS[:2], [0, 0])
    )


def test_different_seeds_give_different_images(backend: Backend) -> None:
    out = backend.generate(_images(1), [PROMPTS[0]] * 2, [0, 1])
    assert not torch.equal(out[0], out[1])


def test_all_prompts_run_as_one_batch(backend: Backend) -> None:
    assert isinstance(backend, DiffusersBackend)
    batches: dict[str, list[int]] = {'unet': [], 'text_encoder': [], 'vae': []}

    def record(name: str, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        batches[name].append(int(args[0].shape[0]))

    pipeline = backend.pipeline
    handles = [
        pipeline.unet.register_forward_pre_hook(functools.partial(record, 'unet')),
        pipeline.text_encoder.register_forward_pre_hook(functools.partial(record, 'text_encoder')),
        pipeline.vae.decoder.register_forward_pre_hook(functools.partial(record, 'vae')),
    ]
    try:
        out = backend.generate(_images(1), PROMPTS, [0, 1, 2])  # one image shared by 3 prompts
    finally:
        for handle in handles:
            handle.remove()
    assert out.shape == (3, 48, 64, 3)
    assert batches == {'unet': [3, 3], 'text_encoder': [3], 'vae': [3]}  # 2 steps, batch 3


def test_one_image_per_prompt(backend: Backend) -> None:
    images = _images(3)
    together = backend.generate(images, PROMPTS, [5, 6, 7])
    alone = backend.generate(images[1:2], PROMPTS[1:2], [6])
    # Same seed, same image: batching changes nothing beyond a rounding step.
    assert int((together[1].int() - alone[0].int()).abs().max()) <= 1


def test_guidance_scales_reach_the_pipeline(folders: dict[str, Path]) -> None:
    options = _options(folders['pix2pix'], guidance_scale=3.0, image_guidance_scale=1.5)
    backend = DiffusersBackend(options)
    batches: list[int] = []
    backend.pipeline.unet.register_forward_pre_hook(
        lambda module, args: batches.append(int(args[0].shape[0]))
    )
    backend.generate(_images(1), PROMPTS[:2], [0, 1])
    assert batches == [6, 6]  # text, image and unconditional branches: 3 x 2 prompts


def test_generic_img2img_pipeline(
    folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = DiffusersBackend(_options(folders['img2img'], steps=4))
    assert 'StableDiffusionImg2ImgPipeline' in backend.description
    calls: list[dict[str, Any]] = []
    pipeline_class = type(backend.pipeline)
    original = pipeline_class.__call__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pipeline_class, '__call__', spy)
    out = backend.generate(_images(1), PROMPTS[:2], [0, 1])
    assert out.shape == (2, 48, 64, 3)
    assert out.dtype == torch.uint8
    assert not torch.equal(out[0], out[1])
    (kwargs,) = calls
    assert 'image_guidance_scale' not in kwargs  # the img2img pipeline does not take it
    assert kwargs['prompt'] == PROMPTS[:2]
    assert kwargs['num_inference_steps'] == 4
    assert tuple(kwargs['image'].shape) == (2, 3, 32, 32)
    assert len(kwargs['generator']) == 2


def test_lora_adapter_is_loaded(folders: dict[str, Path], backend: Backend) -> None:
    lora = DiffusersBackend(_options(folders['lora']))
    assert lora.lora
    assert lora.description.endswith('2 steps, LoRA)')
    assert lora.pipeline.get_list_adapters() == {'unet': ['default_0']}
    saved = diffusers.StableDiffusionInstructPix2PixPipeline.lora_state_dict(
        str(folders['lora']), weight_name=LORA_WEIGHTS
    )[0]
    loaded = {
        name: value
        for name, value in lora.pipeline.unet.state_dict().items()
        if 'lora_A' in name or 'lora_B' in name
    }
    assert len(loaded) == len(saved) > 0
    images = _images(1)
    with_lora = lora.generate(images, PROMPTS[:1], [0])
    without = backend.generate(images, PROMPTS[:1], [0])
    assert not torch.equal(with_lora, without)  # same base weights, the adapter changes them


def test_nan_output_is_an_error(folders: dict[str, Path]) -> None:
    backend = DiffusersBackend(_options(folders['pix2pix']))
    with torch.no_grad():
        backend.pipeline.unet.conv_out.bias.fill_(float('nan'))
    with pytest.raises(BackendOutputError, match='NaN'):
        backend.generate(_images(1), PROMPTS[:1], [0])


def test_closed_backend_refuses(folders: dict[str, Path]) -> None:
    with DiffusersBackend(_options(folders['pix2pix'])) as backend:
        pass
    with pytest.raises(BackendError, match='closed'):
        backend.generate(_images(1), PROMPTS[:1])


def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / 'nowhere'
    with pytest.raises(BackendError, match=f'{missing}.*does not exist'):
        create_backend(BackendConfig(name='diffusers', diffusers=_options(missing)))
    with pytest.raises(BackendError, match='path is empty'):
        DiffusersBackend(DiffusersOptions())


def test_folder_without_model_index(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r'no model_index\.json'):
        DiffusersBackend(_options(tmp_path))


def test_folder_missing_a_component(tmp_path: Path, folders: dict[str, Path]) -> None:
    index = json.loads((folders['pix2pix'] / 'model_index.json').read_text(encoding='utf-8'))
    (tmp_path / 'model_index.json').write_text(json.dumps(index), encoding='utf-8')
    for name in ('scheduler', 'tokenizer', 'text_encoder', 'vae'):
        (tmp_path / name).mkdir()
    with pytest.raises(BackendError, match=r'lacks the component folder\(s\) unet'):
        DiffusersBackend(_options(tmp_path))


def test_folder_with_broken_weights(tmp_path: Path, folders: dict[str, Path]) -> None:
    for source in folders['pix2pix'].rglob('*'):
        target = tmp_path / source.relative_to(folders['pix2pix'])
        if source.is_dir():
            target.mkdir()
        else:
            target.write_bytes(source.read_bytes())
    (tmp_path / 'unet' / 'diffusion_pytorch_model.safetensors').write_bytes(b'not weights')
    with pytest.raises(BackendError, match='cannot load the diffusers pipeline'):
        DiffusersBackend(_options(tmp_path))


def test_pipeline_that_is_not_image_to_image(tmp_path: Path) -> None:
    (tmp_path / 'model_index.json').write_text(
        json.dumps({'_class_name': 'NoSuchPipeline'}), encoding='utf-8'
    )
    with pytest.raises(BackendError, match='NoSuchPipeline'):
        DiffusersBackend(_options(tmp_path))


def test_missing_library(folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'diffusers', None)  # import diffusers now fails
    config = BackendConfig(name='diffusers', diffusers=_options(folders['pix2pix']))
    with pytest.raises(BackendUnavailable, match=r'pip install vision_banana_ros\[diffusers\]'):
        create_backend(config)
