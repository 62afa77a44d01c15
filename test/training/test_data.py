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
"""The mixture stream: deterministic per position, resumable, in proportion, batched."""

from __future__ import annotations

from collections import Counter
import itertools
import time

import pytest
import torch
from torch.utils.data import DataLoader
from vision_banana_ros.training import (
    collate,
    Example,
    MIXTURE_TASKS,
    MixtureConfig,
    MixtureStream,
    PERCEPTION_TASKS,
)

from .conftest import same_example, STREAM_LENGTH


def test_the_same_positions_give_the_same_examples_bit_for_bit(
    small_config: MixtureConfig, stream_examples: list[Example]
) -> None:
    positions = [41, 3, 17, 120, 4]
    again = MixtureStream(small_config, 'train').examples(positions)
    assert all(same_example(stream_examples[p], e) for p, e in zip(positions, again, strict=True))
    assert [e.index for e in again] == positions


def test_resuming_at_k_yields_the_tail_of_the_uninterrupted_run(
    small_config: MixtureConfig, stream_examples: list[Example]
) -> None:
    start, stop = 37, 61  # mid-frame and mid-group: frames render in other company than before
    resumed = list(itertools.islice(MixtureStream(small_config, 'train', start), stop - start))
    expected = stream_examples[start:stop]
    assert all(same_example(a, b) for a, b in zip(resumed, expected, strict=True))


def test_splits_and_seeds_give_other_examples(small_config: MixtureConfig) -> None:
    train = MixtureStream(small_config, 'train').examples([0, 1])
    val = MixtureStream(small_config, 'val').examples([0, 1])
    assert {e.seed for e in train}.isdisjoint(e.seed for e in val)
    assert all(e.name.startswith('val/') for e in val)
    reseeded = MixtureStream(MixtureConfig(resolution=(64, 80), seed=1), 'train')
    draws = [reseeded.task(i) for i in range(50)]
    assert draws != [MixtureStream(small_config).task(i) for i in range(50)]


def test_task_draws_follow_the_weights(small_config: MixtureConfig) -> None:
    stream = MixtureStream(small_config, 'train')
    counts = Counter(stream.task(i) for i in range(5000))
    for task, probability in zip(MIXTURE_TASKS, small_config.weights.probabilities(), strict=True):
        assert counts[task] / 5000 == pytest.approx(probability, abs=0.02), task


def test_made_examples_keep_the_mixture_proportions(
    small_config: MixtureConfig, stream_examples: list[Example]
) -> None:
    stream = MixtureStream(small_config, 'train')
    made = Counter(e.task for e in stream_examples)
    # 200 draws: a binomial standard deviation of at most 0.035; allow about 2.5 of them.
    for task, probability in zip(MIXTURE_TASKS, small_config.weights.probabilities(), strict=True):
        assert made[task] / STREAM_LENGTH == pytest.approx(probability, abs=0.09), task
    perception = sum(made[t] for t in PERCEPTION_TASKS) / STREAM_LENGTH
    assert perception == pytest.approx(0.8, abs=0.08)
    fallbacks = sum(e.task != stream.task(e.index) for e in stream_examples)
    assert fallbacks <= 0.03 * STREAM_LENGTH


def test_held_out_variants_never_appear_in_training_prompts(
    small_config: MixtureConfig, stream_examples: list[Example]
) -> None:
    from vision_banana_ros.prompts import build_prompt

    seen: dict[str, set[str]] = {task: set() for task in PERCEPTION_TASKS}
    for example in stream_examples:
        if example.task not in PERCEPTION_TASKS:
            continue
        assert example.spec is not None
        held_out = small_config.held_out.held_out(example.task)
        assert example.variant not in held_out
        assert example.prompt == build_prompt(example.spec, example.variant)
        assert all(example.prompt != build_prompt(example.spec, v) for v in held_out)
        seen[example.task].add(example.variant)
    assert all(len(variants) >= 2 for variants in seen.values())  # paraphrases do vary


def test_semantic_mappings_are_drawn_afresh_for_every_example(
    stream_examples: list[Example],
) -> None:
    mappings = [e.class_colours for e in stream_examples if e.task == 'semantic']
    assert len(mappings) >= 20
    assert len(set(mappings)) == len(mappings)
    colours_of: dict[str, set[tuple[int, int, int]]] = {}
    for mapping in mappings:
        for name, colour in mapping:
            colours_of.setdefault(name, set()).add(colour)
    assert len(colours_of['floor']) >= 5  # one class, many colours: no fixed legend
    sizes = Counter(len(m) for m in mappings)
    assert len(sizes) >= 4  # listed class counts vary too
    assert any(name == 'background' for m in mappings for name, _ in m)


def test_dataloader_workers_keep_the_stream_order(small_config: MixtureConfig) -> None:
    config = MixtureConfig(resolution=(32, 40), scenes_per_batch=4)
    stream = MixtureStream(config, 'train', start_index=5, block_size=3)
    loader = DataLoader(stream, batch_size=3, num_workers=2, collate_fn=collate)
    batches = list(itertools.islice(iter(loader), 4))
    assert [b.indices for b in batches] == [[5, 6, 7], [8, 9, 10], [11, 12, 13], [14, 15, 16]]
    expected = collate(MixtureStream(config).examples(list(range(5, 17))))
    assert torch.equal(torch.cat([b.targets for b in batches]), expected.targets)
    assert [p for b in batches for p in b.prompts] == expected.prompts


def test_collate_stacks_images_channels_first(stream_examples: list[Example]) -> None:
    batch = collate(stream_examples[:6])
    assert batch.inputs.shape == batch.targets.shape == (6, 3, 64, 80)
    assert batch.inputs.dtype == torch.uint8
    assert torch.equal(batch.targets[2], stream_examples[2].target.permute(2, 0, 1))
    assert batch.prompts[3] == stream_examples[3].prompt
    assert batch.tasks == [e.task for e in stream_examples[:6]]
    assert batch.indices == list(range(6))
    floats = collate(stream_examples[:2], dtype=torch.float32)
    assert floats.inputs.dtype == torch.float32 and float(floats.inputs.max()) <= 1.0
    assert torch.equal((floats.inputs * 255).round().to(torch.uint8), batch.inputs[:2])


def test_collate_and_stream_reject_bad_arguments(
    small_config: MixtureConfig, stream_examples: list[Example]
) -> None:
    big = MixtureStream(MixtureConfig(resolution=(32, 40))).examples([150])
    with pytest.raises(ValueError, match='one image size'):
        collate([stream_examples[0], *big])
    with pytest.raises(ValueError, match='empty'):
        collate([])
    with pytest.raises(ValueError, match='dtype'):
        collate(stream_examples[:1], dtype=torch.int32)
    with pytest.raises(ValueError, match='split'):
        MixtureStream(small_config, 'holdout')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='start_index'):
        MixtureStream(small_config, 'train', -1)
    with pytest.raises(ValueError, match='block_size'):
        MixtureStream(small_config, 'train', block_size=0)


def test_throughput_at_128x160_on_one_thread(capsys: pytest.CaptureFixture[str]) -> None:
    assert torch.get_num_threads() == 1  # the package's one-thread fixture
    stream = iter(MixtureStream(MixtureConfig(), 'train', start_index=10_000))
    list(itertools.islice(stream, 16))  # warm-up: texture bank, photographs, palettes
    start = time.perf_counter()
    count = len(list(itertools.islice(stream, 64)))
    rate = count / (time.perf_counter() - start)
    with capsys.disabled():
        print(f'\nmixture stream, 128x160, 1 thread: {rate:.1f} examples/s')
    assert rate > 0  # measured, not asserted: timings depend on the machine
