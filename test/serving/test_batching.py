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
"""Merging requests into generator calls and splitting the answers back (no Ray needed)."""

from __future__ import annotations

import asyncio
import time

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch
from vision_banana_ros.backends.base import Backend, BackendRefused, BackendUnavailable
from vision_banana_ros.serving.batching import plan_calls, run_batch
from vision_banana_ros.serving.config import EchoOptions
from vision_banana_ros.serving.echo import EchoBackend, expected_echo
from vision_banana_ros.serving.limiter import RateLimiter
from vision_banana_ros.serving.protocol import GenerateRequest, ProtocolError


def _request(
    index: int, prompts: tuple[str, ...] = ('depth',), size: tuple[int, int] = (6, 8), **kw: object
) -> GenerateRequest:
    """Return a request whose image is filled with its index (so answers show whose they are)."""
    image = np.full((*size, 3), index, dtype=np.uint8)
    seeds = kw.get('seeds')
    return GenerateRequest(f'req-{index}', image, prompts, seeds)  # type: ignore[arg-type]


def _check(request: GenerateRequest, images: object) -> None:
    assert isinstance(images, np.ndarray), images
    seeds = request.seeds or (None,) * len(request.prompts)
    assert images.shape == (len(request.prompts), *request.image.shape)
    for image, prompt, seed in zip(images, request.prompts, seeds, strict=True):
        np.testing.assert_array_equal(image, expected_echo(request.image, prompt, seed))


class _Counting(EchoBackend):
    """The echo generator, recording the prompts of every call."""

    def __init__(self) -> None:
        super().__init__(EchoOptions())
        self.calls: list[list[str]] = []

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        self.calls.append(prompts)
        return super()._generate(images, prompts, seeds)


def test_requests_of_one_size_share_one_call_and_get_their_own_images() -> None:
    requests = [_request(i, ('depth', f'segment {i}')) for i in range(5)]
    backend = _Counting()
    outcomes = run_batch(backend, requests)
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 10
    for request, images in zip(requests, outcomes, strict=True):
        _check(request, images)


def test_calls_are_split_by_size_and_by_seeds() -> None:
    requests = [
        _request(0),
        _request(1, size=(4, 4)),
        _request(2, seeds=(7,)),
        _request(3),
        _request(4, ('a', 'b'), seeds=(1, 2)),
    ]
    calls = plan_calls(requests)
    members = sorted(tuple(m.index for m in call.members) for call in calls)
    assert members == [(0, 3), (1,), (2, 4)]
    seeded = next(c for c in calls if c.seeds is not None)
    assert seeded.seeds == (7, 1, 2) and seeded.images.shape == (3, 6, 8, 3)
    lone = next(c for c in calls if len(c.members) == 1)
    assert lone.images.shape == (1, 4, 4, 3), 'a lone request shares its image among prompts'
    for request, images in zip(requests, run_batch(EchoBackend(), requests), strict=True):
        _check(request, images)


def test_the_pixel_cap_splits_a_group_but_never_a_request() -> None:
    requests = [_request(i, ('a', 'b', 'c')) for i in range(4)]
    calls = plan_calls(requests, max_call_pixels=2 * 6 * 8)  # less than one request
    assert [len(c.members) for c in calls] == [1, 1, 1, 1]
    calls = plan_calls(requests, max_call_pixels=2 * 3 * 6 * 8)  # two requests
    assert [len(c.members) for c in calls] == [2, 2]


def test_one_refused_request_does_not_fail_the_others() -> None:
    requests = [_request(0), _request(1, ('please refuse',)), _request(2)]
    outcomes = run_batch(EchoBackend(), requests)
    assert isinstance(outcomes[1], BackendRefused)
    _check(requests[0], outcomes[0])
    _check(requests[2], outcomes[2])


class _Away(Backend):
    name = 'away'

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        raise BackendUnavailable('the upstream service is away')


def test_an_unavailable_generator_fails_every_member_once() -> None:
    outcomes = run_batch(_Away(), [_request(0), _request(1)])
    assert all(isinstance(o, BackendUnavailable) for o in outcomes)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([(2, 3), (3, 2), (4, 4)]),
            st.integers(1, 3),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_fuzz_any_mix_of_requests_gets_exactly_its_own_answers(
    shapes: list[tuple[tuple[int, int], int, bool]],
) -> None:
    requests = [
        _request(
            index,
            tuple(f'p{index}.{k}' for k in range(count)),
            size,
            seeds=tuple(range(index, index + count)) if seeded else None,
        )
        for index, (size, count, seeded) in enumerate(shapes)
    ]
    for request, images in zip(requests, run_batch(EchoBackend(), requests), strict=True):
        _check(request, images)


def test_echo_costs_are_in_seconds_and_one_replica_is_slow() -> None:
    options = EchoOptions(call_s=0.02, slow_replica=1, slow_factor=3.0)
    image = np.zeros((1, 2, 2, 3), np.uint8)
    fast, slow = EchoBackend(options, replica=0), EchoBackend(options, replica=1)
    start = time.perf_counter()
    fast.generate(image, ['a'])
    middle = time.perf_counter()
    slow.generate(image, ['a'])
    assert middle - start >= 0.02 and time.perf_counter() - middle >= 0.06


def test_the_rate_limiter_waits_within_the_deadline_and_refuses_beyond() -> None:
    async def scenario() -> tuple[float, int]:
        limiter = RateLimiter(per_minute=600.0)  # 10 a second, a burst of 100
        now = time.monotonic()
        await limiter.acquire(100, now + 1.0)  # the burst: no wait
        start = time.monotonic()
        await limiter.acquire(2, start + 1.0)  # 0.2 s for two more
        waited = time.monotonic() - start
        with pytest.raises(ProtocolError) as refused:
            await limiter.acquire(50, time.monotonic() + 1.0)  # 5 s away
        return waited, refused.value.status

    waited, status = asyncio.run(scenario())
    assert 0.15 <= waited < 1.0
    assert status == 429
    with pytest.raises(ValueError, match='per_minute'):
        RateLimiter(0.0)
