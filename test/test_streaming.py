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

"""Newest-frame slots and stream statistics: no backlog, drops counted, figures right."""

from __future__ import annotations

import math
import threading

from vision_banana_ros.streaming import FrameSlots, StreamStats


def test_only_the_newest_frame_per_camera_is_kept() -> None:
    slots: FrameSlots[int] = FrameSlots()
    assert slots.put('front', 1) is False
    assert slots.put('front', 2) is True  # 1 was never processed: dropped
    slots.put('wrist', 10)
    assert slots.take(timeout_s=0.0) == {'front': 2, 'wrist': 10}
    assert slots.take(timeout_s=0.0) == {}
    assert slots.superseded('front') == 1 and slots.superseded('wrist') == 0


def test_take_waits_for_a_frame_and_close_wakes_it() -> None:
    slots: FrameSlots[str] = FrameSlots()
    got: list[dict[object, str]] = []
    waiter = threading.Thread(target=lambda: got.append(slots.take(timeout_s=10.0)))
    waiter.start()
    slots.put('cam', 'frame')
    waiter.join(timeout=5.0)
    assert got == [{'cam': 'frame'}]
    closer = threading.Thread(target=lambda: got.append(slots.take(timeout_s=10.0)))
    closer.start()
    slots.close()
    closer.join(timeout=5.0)
    assert not closer.is_alive() and got[-1] == {}


def test_rates_and_percentiles_over_the_window() -> None:
    stats = StreamStats(window_s=10.0)
    for second in range(20):
        stats.arrived(now_s=float(second))
    for second, latency in zip(range(10, 20), range(10), strict=True):
        stats.processed(latency_s=latency / 100, work_s=0.05, now_s=float(second))
    stats.stale += 2
    summary = stats.summary(now_s=19.5)
    assert summary['input_hz'] == 1.0  # arrivals at 10..19 are inside the window
    assert summary['output_hz'] == 1.0
    assert math.isclose(summary['latency_p50_ms'], 45.0)
    assert math.isclose(summary['work_p50_ms'], 50.0)
    assert summary['received'] == 20 and summary['published'] == 10 and summary['stale'] == 2
    assert math.isnan(StreamStats().summary()['latency_p95_ms'])
