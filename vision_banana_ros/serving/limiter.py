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
A requests-per-minute limit for a server that proxies a rate-limited API (one Gemini key).

A token bucket in constant memory: each generator call (one prompt) takes a token; tokens come
back at the set rate, up to a burst of ten seconds' worth. A request waits for its tokens as
long as its deadline allows and is refused (HTTP 429, which clients retry later) beyond.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
import time

from vision_banana_ros.serving.protocol import ProtocolError

__all__ = ['BURST_S', 'RateLimiter']

BURST_S = 10.0
"""Seconds of calls the bucket holds when full: the largest burst after a quiet spell."""


class RateLimiter:
    """
    Token bucket over ``asyncio``: ``await acquire(n, deadline)`` before ``n`` generator calls.

    Not thread-safe: one per event loop (one per Serve replica).
    """

    def __init__(self, per_minute: float):
        """
        Start with a full bucket.

        :param per_minute: calls allowed per minute, > 0.
        :raises ValueError: if ``per_minute`` is not positive.
        """
        if not per_minute > 0:
            raise ValueError(f'per_minute must be > 0, got {per_minute!r}')
        self.rate_per_s = per_minute / 60.0
        self.capacity = max(1.0, self.rate_per_s * BURST_S)
        self._tokens = self.capacity
        self._updated = time.monotonic()

    async def acquire(self, count: int, deadline: float) -> None:
        """
        Take ``count`` tokens, waiting for them until ``deadline`` at most.

        :param count: tokens wanted (prompts in the request), >= 1; more than the bucket holds
            are taken as a full bucket.
        :param deadline: ``time.monotonic()`` by which the request must have started.
        :raises ProtocolError: 429 if the tokens would come after ``deadline``.
        """
        wanted = min(float(count), self.capacity)
        self._refill()
        wait_s = max(0.0, (wanted - self._tokens) / self.rate_per_s)
        if time.monotonic() + wait_s > deadline:
            raise ProtocolError(
                HTTPStatus.TOO_MANY_REQUESTS,
                f'rate limit of {self.rate_per_s * 60:g} calls a minute reached; '
                f'retry in {wait_s:.1f} s',
            )
        self._tokens -= wanted  # may go negative: later callers wait for the debt
        if wait_s > 0:
            await asyncio.sleep(wait_s)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now
