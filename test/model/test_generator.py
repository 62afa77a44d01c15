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
"""Tests for vision_banana_ros.model.generator: the generate(rgb, prompts) -> rgb facade."""

from __future__ import annotations

from collections.abc import Callable
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from vision_banana_ros.model import (
    default_dtype,
    Generator,
    ModelError,
    save_weights,
    TextEncoder,
    VBMini,
)
from vision_banana_ros.model.flow import draw_noise, sample
from vision_banana_ros.model.weights import read_weights_config

Factory = Callable[..., VBMini]


@pytest.fixture
def generator(make_model: Factory) -> Generator:
    return Generator(make_model(), trained=False, device='cpu', dtype=torch.float32)


def _frames(batch: int, height: int = 100, width: int = 130, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (batch, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize('batch', [1, 3])
def test_generate_returns_one_uint8_frame_per_prompt_at_the_input_size(
    generator: Generator, prompts: list[str], batch: int
) -> None:
    out = generator.generate(_frames(batch), prompts)
    assert isinstance(out, np.ndarray)
    assert out.shape == (3, 100, 130, 3) and out.dtype == np.uint8


def test_generate_keeps_torch_in_torch(generator: Generator, prompts: list[str]) -> None:
    out = generator.generate(torch.from_numpy(_frames(1, 64, 96)), prompts[:2])
    assert isinstance(out, torch.Tensor)
    assert out.shape == (2, 64, 96, 3) and out.dtype == torch.uint8


def test_generate_is_deterministic_and_independent_of_the_rest_of_the_batch(
    generator: Generator, prompts: list[str]
) -> None:
    frame = _frames(1)
    together = generator.generate(frame, prompts)
    alone = generator.generate(frame, prompts[2:])
    assert np.array_equal(together, generator.generate(frame, prompts))
    difference = np.abs(together[2].astype(int) - alone[0].astype(int))
    assert difference.max() <= 1  # float rounding may move a colour by one level


def test_one_frame_per_prompt_equals_one_shared_frame(
    generator: Generator, prompts: list[str]
) -> None:
    frame = _frames(1)
    shared = generator.generate(frame, prompts)
    per_prompt = generator.generate(np.repeat(frame, 3, axis=0), prompts)
    assert np.abs(shared.astype(int) - per_prompt.astype(int)).max() <= 1


@pytest.mark.parametrize('steps', [2, 4])
def test_more_steps_still_give_frames(make_model: Factory, prompts: list[str], steps: int) -> None:
    generator = Generator(
        make_model(), trained=False, device='cpu', dtype=torch.float32, steps=steps
    )
    assert generator.generate(_frames(1), prompts).shape == (3, 100, 130, 3)


def test_bfloat16_autocast_stays_close_to_float32(make_model: Factory, prompts: list[str]) -> None:
    model = make_model()
    full = Generator(model, trained=False, device='cpu', dtype=torch.float32).generate(
        _frames(1), prompts
    )
    half = Generator(model, trained=False, device='cpu', dtype=torch.bfloat16).generate(
        _frames(1), prompts
    )
    assert half.shape == full.shape and half.dtype == np.uint8
    assert np.abs(half.astype(int) - full.astype(int)).mean() < 4


def test_the_inference_copy_draws_what_autocast_draws_and_follows_training(
    make_model: Factory, prompts: list[str]
) -> None:
    model = make_model()
    generator = Generator(model, trained=False, device='cpu', dtype=torch.bfloat16)
    image = torch.rand(1, 3, *model.config.image_size, generator=torch.Generator().manual_seed(0))
    noise = draw_noise(image.shape, torch.device('cpu'), torch.Generator())

    def run(network: VBMini, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
        autocast = torch.autocast('cpu', dtype=dtype, enabled=dtype != torch.float32)
        with torch.inference_mode(), autocast:
            return sample(network, image, prompts, noise=noise)

    copied = generator.runnable()
    assert copied is not model and copied.stem.weight.dtype == torch.bfloat16
    assert copied.refine[0].weight.dtype == torch.float32  # VBMini.FLOAT32_MODULES
    assert model.stem.weight.dtype == torch.float32  # the caller's network is untouched
    # Folded and cast once: what autocast draws from the model, up to bf16 rounding (a colour
    # level is 2 / 255 in model space), and in float32 up to float32 rounding.
    assert (run(copied) - run(model)).abs().mean() < 2 / 255
    exact = Generator(model, trained=False, device='cpu', dtype=torch.float32).runnable()
    torch.testing.assert_close(run(exact, torch.float32), run(model, torch.float32))
    assert generator.runnable() is copied  # cached while the weights stay
    with torch.no_grad():
        model.stem.weight.add_(0.1)  # training changes the weights in place
    recopied = generator.runnable()
    assert recopied is not copied and (run(recopied) - run(model)).abs().mean() < 2 / 255


@pytest.mark.parametrize(
    ('rgb', 'prompt_count', 'message'),
    [
        (np.zeros((1, 8, 8, 3), np.float32), 1, 'dtype uint8'),
        (np.zeros((1, 8, 8, 4), np.uint8), 1, r'\(\.\.\., H, W, 3\)'),
        (np.zeros((8, 8, 3), np.uint8), 1, r'\(B, H, W, 3\)'),
        (np.zeros((2, 8, 8, 3), np.uint8), 3, '2 images for 3 prompts'),
        (np.zeros((1, 8, 8, 3), np.uint8), 0, 'non-empty list'),
        ([[1, 2, 3]], 1, 'numpy array or a torch tensor'),
    ],
    ids=['float', 'rgba', 'unbatched', 'count', 'no-prompts', 'list'],
)
def test_generate_rejects_bad_input(
    generator: Generator, prompts: list[str], rgb: object, prompt_count: int, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        generator.generate(rgb, prompts[:prompt_count])  # type: ignore[arg-type]


def test_generate_rejects_a_bare_string_prompt(generator: Generator) -> None:
    with pytest.raises(ModelError, match='non-empty list'):
        generator.generate(_frames(1), 'Generate a surface normal visualization of this image.')


def test_from_pretrained_loads_saved_weights(
    make_model: Factory, prompts: list[str], tmp_path: Path
) -> None:
    model = make_model()
    named = dict(model.named_parameters())
    with torch.no_grad():
        for name in model.trained_parameter_names():
            named[name].copy_(named[name].half().float())  # what fp16 weights hold
    save_weights(model, tmp_path)
    loaded = Generator.from_pretrained(
        tmp_path, device='cpu', dtype=torch.float32, text_encoder=model.text_encoder
    )
    assert loaded.is_trained and loaded.config == model.config
    direct = Generator(model, trained=True, device='cpu', dtype=torch.float32)
    assert np.array_equal(
        loaded.generate(_frames(1), prompts), direct.generate(_frames(1), prompts)
    )


def test_from_pretrained_without_weights_is_untrained_and_says_so(
    text_encoder: TextEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        generator = Generator.from_pretrained(device='cpu', text_encoder=text_encoder)
    shipped = read_weights_config() is not None
    assert generator.is_trained == shipped
    assert ('RANDOMLY INITIALISED' in caplog.text) != shipped
    assert generator.config.image_size == (128, 160)
    assert generator.dtype == default_dtype(torch.device('cpu'))


def test_generator_rejects_bad_settings(make_model: Factory) -> None:
    with pytest.raises(ModelError, match='steps'):
        Generator(make_model(live=False), trained=False, device='cpu', steps=5)
    with pytest.raises(ModelError, match='dtype'):
        Generator(make_model(live=False), trained=False, device='cpu', dtype=torch.int8)


def test_default_dtype_is_bfloat16_only_where_the_cpu_runs_it() -> None:
    assert default_dtype(torch.device('cpu')) in (torch.bfloat16, torch.float32)
    assert default_dtype(torch.device('meta')) == torch.float32


@pytest.mark.gpu
def test_generate_on_cuda(make_model: Factory, prompts: list[str]) -> None:
    if not torch.cuda.is_available():
        pytest.skip('CUDA is not available')
    generator = Generator(make_model(), trained=False, device='cuda')
    out = generator.generate(torch.from_numpy(_frames(1)).cuda(), prompts)
    assert out.device.type == 'cuda' and out.shape == (3, 100, 130, 3)


TORCH_COMPILE_IMPORT = pytest.mark.filterwarnings(
    'ignore:`torch.jit.script_method` is deprecated:DeprecationWarning'
)  # inductor imports torch.utils.mkldnn, which warns


@TORCH_COMPILE_IMPORT
def test_a_compiled_generator_draws_what_the_eager_one_draws(
    make_model: Factory, prompts: list[str]
) -> None:
    model = make_model()
    eager = Generator(model, trained=False, device='cpu', dtype=torch.float32)
    compiled = Generator(model, trained=False, device='cpu', dtype=torch.float32, compiled=True)
    frame = _frames(1, 64, 96)
    expected = eager.generate(frame, prompts)
    drawn = compiled.generate(frame, prompts)
    assert compiled.compiled  # it compiled, and runs compiled
    assert np.abs(drawn.astype(int) - expected.astype(int)).max() <= 1  # fused float rounding


@TORCH_COMPILE_IMPORT
def test_a_generator_that_cannot_compile_says_so_and_runs_eagerly(
    make_model: Factory,
    prompts: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import torch._inductor.config as inductor

    monkeypatch.setattr(inductor.cpp, 'cxx', ('/nonexistent/c++',))  # a robot with no compiler
    model = make_model()
    compiled = Generator(model, trained=False, device='cpu', dtype=torch.float32, compiled=True)
    frame = _frames(1, 64, 96)
    with caplog.at_level(logging.WARNING):
        drawn = compiled.generate(frame, prompts[:1])
    assert not compiled.compiled
    assert 'torch.compile failed' in caplog.text
    eager = Generator(model, trained=False, device='cpu', dtype=torch.float32)
    assert np.array_equal(drawn, eager.generate(frame, prompts[:1]))
