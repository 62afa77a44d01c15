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
Requests from many clients merged into few ``Backend.generate`` calls, and split back.

No web framework and no Ray here: the server's batch handler hands a list of decoded requests
to ``run_batch`` and gets, per request and in the same order, either its (P, H, W, 3) images or
the error that request alone must answer with.

Requests are grouped by image size and by whether they carry seeds (a backend takes seeds for
all prompts of a call or for none); every prompt of a group gets its own request's image and
seed, so a merged call draws exactly what separate calls would. A call that fails for one
request's sake (a refusal, a malformed prompt) is rerun one request at a time, so one client's
bad input never costs another client its frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import logging

import numpy as np
import torch
from vision_banana_ros.backends.base import Backend, BackendUnavailable
from vision_banana_ros.serving.protocol import GenerateRequest

__all__ = ['MAX_CALL_PIXELS', 'Call', 'Member', 'Outcome', 'plan_calls', 'run_batch']

_LOG = logging.getLogger(__name__)

MAX_CALL_PIXELS = 2**26
"""Most output pixels (prompts x H x W) one merged call holds: 192 MB of uint8 RGB."""

Outcome = np.ndarray | BaseException
"""What one request gets: its (P, H, W, 3) uint8 images, or the error to answer with."""


@dataclass(frozen=True)
class Member:
    """
    One request's share of a call.

    :ivar index: the request's position in the batch.
    :ivar start: its first output in the call.
    :ivar stop: one past its last output.
    """

    index: int
    start: int
    stop: int


@dataclass(frozen=True, eq=False)
class Call:
    """
    One ``Backend.generate`` call serving one or more requests.

    :ivar images: (N, H, W, 3) uint8: N = 1 for a lone request (its image shared by its
        prompts), else one image per prompt.
    :ivar prompts: every member's prompts, in member order.
    :ivar seeds: one seed per prompt, or None when no member has seeds.
    :ivar members: which outputs belong to which request.
    """

    images: np.ndarray
    prompts: tuple[str, ...]
    seeds: tuple[int, ...] | None
    members: tuple[Member, ...]


def plan_calls(
    requests: Sequence[GenerateRequest], max_call_pixels: int = MAX_CALL_PIXELS
) -> list[Call]:
    """
    Group requests into as few generator calls as their sizes, seeds and the pixel cap allow.

    :param requests: the batch, decoded and checked (``protocol.decode_request``).
    :param max_call_pixels: most output pixels in one call; a request larger than that on its
        own still gets a call of its own.
    :return: the calls; every request is a member of exactly one.
    """
    groups: dict[tuple[int, int, bool], list[int]] = {}
    for index, request in enumerate(requests):
        height, width = request.image.shape[:2]
        groups.setdefault((height, width, request.seeds is not None), []).append(index)
    calls = []
    for (height, width, _), indices in groups.items():
        chunk: list[int] = []
        pixels = 0
        for index in indices:
            size = len(requests[index].prompts) * height * width
            if chunk and pixels + size > max_call_pixels:
                calls.append(_call(requests, chunk))
                chunk, pixels = [], 0
            chunk.append(index)
            pixels += size
        calls.append(_call(requests, chunk))
    return calls


def run_batch(backend: Backend, requests: Sequence[GenerateRequest]) -> list[Outcome]:
    """
    Draw every request's images with as few generator calls as possible.

    :param backend: the generator.
    :param requests: the batch.
    :return: per request, in order: its (P, H, W, 3) uint8 images (P its prompt count), or the
        exception it must be answered with (mapped by ``protocol.error_for_exception``).
    """
    outcomes: list[Outcome | None] = [None] * len(requests)
    for call in plan_calls(requests):
        try:
            out = _draw(backend, call)
        except BackendUnavailable as err:  # the generator is away: every member fails alike
            for member in call.members:
                outcomes[member.index] = err
            continue
        except Exception as err:  # each request is answered with its own error
            if len(call.members) == 1:
                outcomes[call.members[0].index] = err
                continue
            _LOG.info(
                'a merged call of %d requests failed (%s); drawing them one by one',
                len(call.members),
                type(err).__name__,
            )
            for member in call.members:
                outcomes[member.index] = _alone(backend, requests[member.index])
            continue
        for index, start, stop in ((m.index, m.start, m.stop) for m in call.members):
            outcomes[index] = out[start:stop]
    assert all(o is not None for o in outcomes), 'every request is a member of one call'
    return [o for o in outcomes if o is not None]


def _call(requests: Sequence[GenerateRequest], indices: list[int]) -> Call:
    members = []
    start = 0
    for index in indices:
        stop = start + len(requests[index].prompts)
        members.append(Member(index, start, stop))
        start = stop
    chosen = [requests[i] for i in indices]
    if len(chosen) == 1:
        images = chosen[0].image[None]  # (1, H, W, 3): shared by its prompts
    else:  # (P_total, H, W, 3): each prompt with its own request's image
        images = np.concatenate(
            [np.broadcast_to(r.image, (len(r.prompts), *r.image.shape)) for r in chosen]
        )
    prompts = tuple(p for r in chosen for p in r.prompts)
    seeds = None
    if chosen[0].seeds is not None:
        seeds = tuple(s for r in chosen for s in (r.seeds or ()))
    return Call(images, prompts, seeds, tuple(members))


def _draw(backend: Backend, call: Call) -> np.ndarray:
    """Run one call; return its (P, H, W, 3) uint8 outputs on the CPU."""
    seeds = None if call.seeds is None else list(call.seeds)
    out: torch.Tensor = backend.generate(call.images, list(call.prompts), seeds)
    return np.asarray(out.detach().cpu().numpy())


def _alone(backend: Backend, request: GenerateRequest) -> Outcome:
    try:
        return _draw(backend, _call([request], [0]))
    except Exception as err:  # returned: this request's answer
        return err
