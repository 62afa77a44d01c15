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
The one place that knows Humble from Jazzy.

- Event callbacks live in ``rclpy.event_handler`` on Jazzy and ``rclpy.qos_event`` on Humble.
- Jazzy splits parameter changes into validation (on-set) and side effects (post-set); Humble
  has only on-set, so there the change is applied right after it validated.
"""

from __future__ import annotations

from collections.abc import Callable
import importlib
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_policy_name_from_kind

__all__ = ['event_callbacks', 'incompatible_qos_message', 'on_parameters_change']

ParameterList = list[Parameter]


def _event_module() -> Any:
    try:
        return importlib.import_module('rclpy.event_handler')  # Jazzy
    except ImportError:
        return importlib.import_module('rclpy.qos_event')  # Humble


def event_callbacks(publisher: bool, incompatible_qos: Callable[[Any], None]) -> Any:
    """
    Build the event callbacks of a publisher or subscription.

    :param publisher: True for a publisher, False for a subscription.
    :param incompatible_qos: called with the event's status when a peer's QoS cannot match.
    :return: a ``PublisherEventCallbacks`` or ``SubscriptionEventCallbacks``.
    """
    module = _event_module()
    kind = module.PublisherEventCallbacks if publisher else module.SubscriptionEventCallbacks
    return kind(incompatible_qos=incompatible_qos)


def incompatible_qos_message(topic: str, status: Any, publisher: bool) -> str:
    """
    Say which QoS policy stopped a peer from matching.

    :param topic: the local endpoint's topic.
    :param status: the incompatible-QoS event status (``last_policy_kind``, ``total_count``).
    :param publisher: whether the local endpoint is a publisher.
    :return: one line for the log.
    """
    policy = qos_policy_name_from_kind(status.last_policy_kind)
    role, peer = ('publisher', 'subscriber') if publisher else ('subscription', 'publisher')
    return (
        f'{role} on {topic}: a {peer} with an incompatible {policy} QoS policy cannot connect '
        f'({status.total_count} so far); set qos_overrides.{topic}.'
        f'{"publisher" if publisher else "subscription"}.{policy.lower()} to match it'
    )


def on_parameters_change(
    node: Node,
    validate: Callable[[ParameterList], str],
    apply: Callable[[ParameterList], None],
) -> None:
    """
    Register a validator and an applier of parameter changes, the way each distro wants it.

    :param node: the node.
    :param validate: returns '' to accept the changed parameters, else the reason to refuse.
    :param apply: makes an accepted change take effect.
    """
    post_set = getattr(node, 'add_post_set_parameters_callback', None)

    def on_set(parameters: ParameterList) -> SetParametersResult:
        reason = validate(parameters)
        if not reason and post_set is None:
            apply(parameters)  # Humble: no post-set callback
        return SetParametersResult(successful=not reason, reason=reason)

    node.add_on_set_parameters_callback(on_set)
    if post_set is not None:
        post_set(apply)
