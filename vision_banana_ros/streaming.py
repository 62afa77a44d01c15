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
Keeping up with cameras: newest-frame slots and the figures diagnostics report.

A camera driver publishes faster than a generator draws. Subscription callbacks only ``put``
the newest message into its camera's slot (replacing and counting an unprocessed older one); a
worker ``take``s the newest frame of every camera that has one, so nothing queues up and the
latency stays one frame. ``StreamStats`` keeps the rates, drop counts and latency percentiles.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
import threading
import time
from typing import Generic, TypeVar

import numpy as np

__all__ = ['FrameSlots', 'StreamStats']

T = TypeVar('T')


class FrameSlots(Generic[T]):
    """
    One slot per camera holding its newest unprocessed item; thread-safe.

    Example::

        slots.put('front', msg)           # in the subscription callback
        batch = slots.take(timeout_s=0.1)  # in the worker: {'front': msg, ...}
    """

    def __init__(self) -> None:
        """Create empty slots."""
        self._items: dict[Hashable, T] = {}
        self._superseded: dict[Hashable, int] = {}
        self._ready = threading.Condition()
        self._closed = False

    def put(self, camera: Hashable, item: T) -> bool:
        """
        Store a camera's newest item, replacing an unprocessed older one.

        :param camera: the camera's key.
        :param item: the item (e.g. the image message).
        :return: True if an older unprocessed item was replaced (dropped).
        """
        with self._ready:
            dropped = camera in self._items
            if dropped:
                self._superseded[camera] = self._superseded.get(camera, 0) + 1
            self._items[camera] = item
            self._ready.notify()
        return dropped

    def take(self, timeout_s: float) -> dict[Hashable, T]:
        """
        Take the newest item of every camera that has one, waiting for the first.

        :param timeout_s: longest wait in seconds.
        :return: camera -> item; empty on timeout or after ``close``.
        """
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(timeout_s)
            items, self._items = self._items, {}
        return items

    def superseded(self, camera: Hashable) -> int:
        """
        Count a camera's items replaced before the worker took them.

        :param camera: the camera's key.
        :return: the count since the slots were made.
        """
        with self._ready:
            return self._superseded.get(camera, 0)

    def close(self) -> None:
        """Wake a waiting ``take`` and drop what is held."""
        with self._ready:
            self._closed = True
            self._items.clear()
            self._ready.notify_all()


@dataclass
class StreamStats:
    """
    Counts, rates and latency percentiles of one stream over a sliding time window.

    :ivar window_s: how far back rates and percentiles look, in seconds.
    """

    window_s: float = 10.0
    received: int = 0
    published: int = 0
    stale: int = 0
    failed: int = 0
    no_motion: int = 0
    _arrivals: deque[float] = field(default_factory=deque, repr=False)
    _outputs: deque[tuple[float, float, float]] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def arrived(self, now_s: float | None = None) -> None:
        """
        Count one input frame.

        :param now_s: monotonic time in seconds; None for now.
        """
        with self._lock:
            self.received += 1
            self._arrivals.append(time.monotonic() if now_s is None else now_s)

    def processed(self, latency_s: float, work_s: float, now_s: float | None = None) -> None:
        """
        Count one published frame.

        :param latency_s: input stamp to publication, in seconds (on the node's clock).
        :param work_s: time the pipeline spent on it, in seconds.
        :param now_s: monotonic time in seconds; None for now.
        """
        with self._lock:
            self.published += 1
            self._outputs.append((time.monotonic() if now_s is None else now_s, latency_s, work_s))

    def summary(self, now_s: float | None = None) -> dict[str, float]:
        """
        Report the window's figures.

        :param now_s: monotonic time in seconds; None for now.
        :return: input_hz, output_hz, latency_p50_ms, latency_p95_ms, work_p50_ms (NaN when no
            frame was published in the window) and the running counts (``no_motion``: frames
            smoothed without the camera's motion because TF had none for them).
        """
        now = time.monotonic() if now_s is None else now_s
        with self._lock:
            start = now - self.window_s
            while self._arrivals and self._arrivals[0] < start:
                self._arrivals.popleft()
            while self._outputs and self._outputs[0][0] < start:
                self._outputs.popleft()
            latencies = [1e3 * o[1] for o in self._outputs]
            work = [1e3 * o[2] for o in self._outputs]
            return {
                'input_hz': len(self._arrivals) / self.window_s,
                'output_hz': len(self._outputs) / self.window_s,
                'latency_p50_ms': _percentile(latencies, 50),
                'latency_p95_ms': _percentile(latencies, 95),
                'work_p50_ms': _percentile(work, 50),
                'received': float(self.received),
                'published': float(self.published),
                'stale': float(self.stale),
                'failed': float(self.failed),
                'no_motion': float(self.no_motion),
            }


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float('nan')
