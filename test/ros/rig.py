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

"""Test rig of the node's tests: a harness around the node, and message builders."""

from __future__ import annotations

from collections.abc import Callable
import threading
import time
from typing import Any

import numpy as np


class Harness:
    """A node under test, a helper node that plays camera and listener, and an executor."""

    def __init__(self, context: Any, node: Any) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.node import Node

        self.rclpy = rclpy
        self.context = context
        self.node = node
        self.helper = Node('test_helper', context=context)
        self.received: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self.executor = MultiThreadedExecutor(num_threads=2, context=context)
        self.executor.add_node(node)
        self.executor.add_node(self.helper)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def listen(self, msg_type: Any, topic: str, qos: Any = 10) -> None:
        """Record every message on a topic."""
        self.received.setdefault(topic, [])

        def store(msg: Any) -> None:
            with self._lock:
                self.received[topic].append(msg)

        self.helper.create_subscription(msg_type, topic, store, qos)

    def wait_for(
        self,
        condition: Callable[[], bool],
        timeout_s: float = 30.0,
        poke: Callable[[], None] = lambda: None,
    ) -> bool:
        """Poll a condition, calling ``poke`` (e.g. republish) between polls."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            poke()
            time.sleep(0.1)
        return condition()

    def close(self) -> None:
        """Tear down in the order rclpy wants."""
        self.executor.shutdown(timeout_sec=5)
        self._thread.join(timeout=5)
        self.node.destroy_node()
        self.helper.destroy_node()


def image_message(
    rgb: np.ndarray, stamp: Any, frame_id: str = 'camera_optical', encoding: str = 'rgb8'
) -> Any:
    """Build a sensor_msgs/Image from an (H, W, C) uint8 array."""
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = rgb.shape[:2]
    msg.encoding = encoding
    msg.step = rgb.shape[1] * (rgb.shape[2] if rgb.ndim == 3 else 1) * rgb.itemsize
    msg.data = rgb.tobytes()
    return msg


def camera_info_message(
    width: int, height: int, stamp: Any, frame_id: str = 'camera_optical', focal: float = 500.0
) -> Any:
    """Build a calibrated sensor_msgs/CameraInfo."""
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = width, height
    cx, cy = (width - 1) / 2, (height - 1) / 2
    msg.k = [focal, 0.0, cx, 0.0, focal, cy, 0.0, 0.0, 1.0]
    msg.p = [focal, 0.0, cx, 0.0, 0.0, focal, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg
