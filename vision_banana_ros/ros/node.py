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
``perception_node``: camera images in; depth, normals, masks and labelled clouds out.

A lifecycle node. ``on_configure`` loads (or connects to) the generator backend and runs one
frame through it, failing the transition with the reason if it cannot; ``on_activate`` makes
the subscriptions and starts the worker; ``on_deactivate`` undoes that. Subscription callbacks
only store the newest message of each camera; one worker thread takes the newest frame of every
camera, runs the pipeline (all cameras in one generator call) and publishes with each input's
header. Bad frames, bad CameraInfo and backend failures are logged (throttled) and reported on
``/diagnostics``; the node keeps running and publishes nothing false.

Temporal smoothing is told the camera's motion between consecutive frames from ``/tf`` and
``/tf_static`` (through ``node.tf_fixed_frame``, e.g. ``odom``; see
``vision_banana_ros.transforms``): each frame waits up to ``node.tf_timeout_s`` for the
transforms at its stamp, and is smoothed without the motion (ego-motion detected from the
images) when they do not come, counted as ``no_motion`` in diagnostics.

Objects (``vision_banana_ros.objects``): an oriented 3D box per instance and referring
expression on ``objects`` (vision_msgs/Detection3DArray) and ``objects/markers``
(visualization_msgs/MarkerArray), steady per camera; drops are counted in diagnostics.

On-demand queries: a referring expression published on ``~/query`` (std_msgs/String) joins the
prompts of the following frames (smoothing starts afresh, as after any change of the prompts)
until replaced, or cleared by an empty string. Its mask goes to ``~/query/mask`` (mono8) and its
object to ``~/query/objects`` (vision_msgs/Detection3DArray), each with the header of the frame
it was found in; the diagnostics say when it matches nothing. A bad query (too long,
unprintable) is refused with a warning and changes nothing.

Topics (relative, per camera namespace; see ``vision_banana_ros.outputs`` for the outputs):
``image`` (sensor_msgs/Image: rgb8, bgr8, rgba8, bgra8, mono8) or ``image/compressed``, and
``camera_info``; ``/tf`` and ``/tf_static`` (tf2_msgs/TFMessage, with tf2's QoS). Camera
subscriptions use sensor-data QoS at depth 1, publishers the system default; every endpoint
takes ``qos_overrides`` parameters.
"""

from __future__ import annotations

from dataclasses import replace
import functools
import importlib
import threading
import time
import traceback
from typing import Any

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import (
    DurabilityPolicy,
    qos_profile_sensor_data,
    qos_profile_system_default,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.utilities import try_shutdown
from std_msgs.msg import String
from vision_banana_ros import messages
from vision_banana_ros.backends import BackendError
from vision_banana_ros.config import ConfigError
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.objects import FrameObjects, ObjectBuilder
from vision_banana_ros.outputs import frame_messages, output_topics, RELIABLE_LATCHED
from vision_banana_ros.pipeline import (
    CameraFrame,
    PerceptionResult,
    Pipeline,
    PipelineConfig,
    PipelineError,
)
from vision_banana_ros.prompts import check_expression, PromptError
from vision_banana_ros.ros.compat import (
    event_callbacks,
    incompatible_qos_message,
    on_parameters_change,
)
from vision_banana_ros.ros.parameters import (
    declare_settings,
    settings_from_node,
    SETTINGS_NAMES,
)
from vision_banana_ros.settings import Settings
from vision_banana_ros.streaming import FrameSlots, StreamStats
from vision_banana_ros.transforms import TransformBuffer, TransformError

__all__ = ['PerceptionNode', 'main']

_THROTTLE_S = 5.0
_TYPE_MODULES = {
    'sensor_msgs/msg/Image': 'Image',
    'sensor_msgs/msg/CameraInfo': 'CameraInfo',
    'sensor_msgs/msg/PointCloud2': 'PointCloud2',
    'vision_msgs/msg/LabelInfo': 'LabelInfo',
    'vision_msgs/msg/Detection2DArray': 'Detection2DArray',
    'vision_msgs/msg/Detection3DArray': 'Detection3DArray',
    'visualization_msgs/msg/MarkerArray': 'MarkerArray',
}


class _Camera:
    """One camera's endpoints, newest CameraInfo and statistics."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.prefix = f'{namespace}/' if namespace else ''
        self.subscriptions: list[Any] = []
        self.publishers: dict[str, Any] = {}
        self.camera_info: Any = None
        self.previous_stamp_ns: int | None = None  # of the last frame the pipeline smoothed
        self.objects = ObjectBuilder()
        self.dropped: dict[str, int] = {}  # objects dropped in the latest frame, by reason
        self.stats = StreamStats()
        self.problem = ''  # the latest input problem, for diagnostics ('' = none)

    @property
    def label(self) -> str:
        return self.namespace or 'camera'


class PerceptionNode(LifecycleNode):
    """The perception lifecycle node (see the module docstring for topics and behaviour)."""

    def __init__(self, node_name: str = 'perception_node', **kwargs: Any) -> None:
        """
        Declare the parameters (``config/perception.yaml`` mirrors them) and wait for configure.

        :param node_name: the node's name.
        :param kwargs: passed to ``LifecycleNode`` (namespace, context, parameter_overrides...).
        """
        super().__init__(node_name, **kwargs)
        declare_settings(self, Settings())
        self.settings = settings_from_node(self)
        self.types = messages.MessageTypes.from_rclpy()
        self.pipeline: Pipeline | None = None
        self.cameras: dict[str, _Camera] = {}
        self._slots: FrameSlots[Any] = FrameSlots()
        self._lock = threading.Lock()  # guards self.pipeline and publishers against reconfig
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._backend_problem = ''
        self._diagnostics: Any = None
        self._diagnostics_timer: Any = None
        self.transforms = TransformBuffer()
        self._tf_subscriptions: list[Any] = []
        self._tf_problem = ''  # why the latest frame had no camera motion ('' = it had one)
        self.query = ''  # the referring expression asked on ~/query ('' = none)
        self._pending_query: str | None = None  # from the callback, applied by the worker
        self._query_state = (messages.DiagnosticLevel.OK, 'no query')
        self._query_subscription: Any = None
        self._query_publishers: dict[str, Any] = {}
        on_parameters_change(self, self._validate_parameters, self._apply_parameters)

    # -- lifecycle ------------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the backend, run one frame through it, and create the publishers."""
        try:
            self.settings = settings_from_node(self)
            pipeline = Pipeline(self._pipeline_config(self.settings))
        except (ConfigError, ValueError, BackendError) as err:
            self.get_logger().error(f'cannot configure: {err}')
            return TransitionCallbackReturn.FAILURE
        if self.settings.node.warmup:
            try:
                size = pipeline.model_size or (480, 640)
                pipeline.process(CameraFrame(np.zeros((*size, 3), np.uint8), frame_id='warmup'))
                pipeline.reset()
            except BackendError as err:
                pipeline.close()
                self.get_logger().error(f'the backend failed its first frame: {err}')
                return TransitionCallbackReturn.FAILURE
        self.pipeline = pipeline
        self.get_logger().info(f'backend: {pipeline.backend.description}')
        namespaces = self.settings.node.cameras or ('',)
        self.cameras = {name: _Camera(name) for name in namespaces}
        for camera in self.cameras.values():
            camera.objects = ObjectBuilder(self.settings.pipeline.objects)
        self._slots = FrameSlots()
        self._create_publishers()
        self._diagnostics = self.create_publisher(
            self.types.DiagnosticArray, '/diagnostics', qos_profile_system_default
        )
        self._diagnostics_timer = self.create_timer(
            self.settings.node.diagnostics_period_s, self._publish_diagnostics
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to every camera and start the worker."""
        for camera in self.cameras.values():
            self._subscribe(camera)
        self._subscribe_tf()
        self._query_subscription = self.create_subscription(String, '~/query', self._on_query, 10)
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name='perception_worker', daemon=True)
        self._worker.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe and stop the worker (it finishes the frame in hand)."""
        self._stop_worker()
        for camera in self.cameras.values():
            for subscription in camera.subscriptions:
                self.destroy_subscription(subscription)
            camera.subscriptions = []
            camera.previous_stamp_ns = None
        for subscription in [*self._tf_subscriptions, self._query_subscription]:
            if subscription is not None:
                self.destroy_subscription(subscription)
        self._tf_subscriptions, self._query_subscription = [], None
        self.transforms.clear()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the publishers and release the backend."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop everything, from any state."""
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release what is held; the node can be configured again."""
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        """Stop the worker before the publishers it uses go away, then destroy the node."""
        self._stop_worker()
        self._release()
        super().destroy_node()

    # -- endpoints ------------------------------------------------------------------------------

    def _subscribe(self, camera: _Camera) -> None:
        qos = QoSProfile(depth=1, reliability=qos_profile_sensor_data.reliability)
        qos.durability = qos_profile_sensor_data.durability
        overrides = QoSOverridingOptions.with_default_policies()
        if self.settings.node.compressed:
            image_type, image_topic = (
                self.types.CompressedImage,
                f'{camera.prefix}image/compressed',
            )
        else:
            image_type, image_topic = self.types.Image, f'{camera.prefix}image'
        info_topic = f'{camera.prefix}camera_info'
        camera.subscriptions = [
            self.create_subscription(
                image_type,
                image_topic,
                functools.partial(self._on_image, camera),
                qos,
                qos_overriding_options=overrides,
                event_callbacks=self._qos_events(image_topic, publisher=False),
            ),
            self.create_subscription(
                self.types.CameraInfo,
                info_topic,
                functools.partial(self._on_camera_info, camera),
                qos,
                qos_overriding_options=overrides,
                event_callbacks=self._qos_events(info_topic, publisher=False),
            ),
        ]

    def _subscribe_tf(self) -> None:
        """Listen to /tf and /tf_static, as tf2's TransformListener does, if asked to."""
        if not self.settings.node.tf_fixed_frame:
            return
        try:
            tf_message = importlib.import_module('tf2_msgs.msg').TFMessage
        except ImportError:
            self._tf_problem = 'tf2_msgs is not installed: no camera motion from TF'
            self.get_logger().warn(
                f'{self._tf_problem}; smoothing detects ego-motion from the images instead'
            )
            return
        dynamic = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        static = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self._tf_subscriptions = [
            self.create_subscription(
                tf_message, topic, functools.partial(self._on_tf, is_static), qos
            )
            for topic, qos, is_static in (('/tf', dynamic, False), ('/tf_static', static, True))
        ]

    def _create_publishers(self) -> None:
        """Create the publishers the current settings need (existing ones are kept)."""
        for camera in self.cameras.values():
            for topic in output_topics(self.settings, with_objects=True):
                if topic.name in camera.publishers or not self._can_build(topic.msg_type):
                    continue
                if topic.qos == RELIABLE_LATCHED:
                    qos = QoSProfile(
                        depth=1,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL,
                    )
                else:
                    qos = qos_profile_system_default
                name = f'{camera.prefix}{topic.name}'
                camera.publishers[topic.name] = self.create_publisher(
                    getattr(self.types, _TYPE_MODULES[topic.msg_type]),
                    name,
                    qos,
                    qos_overriding_options=QoSOverridingOptions.with_default_policies(),
                    event_callbacks=self._qos_events(name, publisher=True),
                )

        queries = {
            '~/query/mask': self.types.Image,
            '~/query/objects': self.types.Detection3DArray,
        }
        for name, msg_class in queries.items():
            if name not in self._query_publishers and msg_class is not None:
                self._query_publishers[name] = self.create_publisher(
                    msg_class, name, qos_profile_system_default
                )

    def _can_build(self, msg_type: str) -> bool:
        """Tell whether the message classes for a topic's type are here (vision_msgs, markers)."""
        if msg_type.startswith('vision_msgs/'):
            return bool(self.types.has_vision_msgs)
        if msg_type.startswith('visualization_msgs/'):
            return bool(self.types.has_markers)
        return True

    def _qos_events(self, topic: str, publisher: bool) -> Any:
        def warn(status: Any) -> None:
            self.get_logger().warn(
                incompatible_qos_message(topic, status, publisher),
                throttle_duration_sec=_THROTTLE_S,
            )

        return event_callbacks(publisher, warn)

    def _release(self) -> None:
        for camera in self.cameras.values():
            for publisher in camera.publishers.values():
                self.destroy_publisher(publisher)
            camera.publishers = {}
        for publisher in self._query_publishers.values():
            self.destroy_publisher(publisher)
        self._query_publishers = {}
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        if self._diagnostics is not None:
            self.destroy_publisher(self._diagnostics)
            self._diagnostics = None
        with self._lock:
            if self.pipeline is not None:
                self.pipeline.close()
                self.pipeline = None

    # -- callbacks: store, never process ---------------------------------------------------------

    def _on_image(self, camera: _Camera, msg: Any) -> None:
        camera.stats.arrived()
        self._slots.put(camera.namespace, msg)

    def _on_camera_info(self, camera: _Camera, msg: Any) -> None:
        camera.camera_info = msg

    def _on_query(self, msg: Any) -> None:
        text = str(msg.data)
        if not text.strip():
            self._pending_query = ''
            return
        try:
            self._pending_query = check_expression(text)
        except PromptError as err:
            self._refuse_query(err)

    def _refuse_query(self, err: Exception) -> None:
        self._query_state = (messages.DiagnosticLevel.WARN, f'query refused: {err}')
        self.get_logger().warn(f'query refused: {err}', throttle_duration_sec=_THROTTLE_S)

    def _on_tf(self, static: bool, msg: Any) -> None:
        transforms, problems = messages.transforms_from_tf(msg)
        self.transforms.add(transforms, static)
        if problems:
            self.get_logger().warn(
                f'ignored {len(problems)} bad transform(s): {problems[0]}',
                throttle_duration_sec=_THROTTLE_S,
            )

    # -- the worker -----------------------------------------------------------------------------

    def _stop_worker(self) -> None:
        self._stop.set()
        self._slots.close()
        if self._worker is not None:
            self._worker.join(timeout=30.0)
            self._worker = None
        self._slots = FrameSlots()

    def _work(self) -> None:
        slots = self._slots
        while not self._stop.is_set():
            batch = slots.take(timeout_s=0.2)
            if batch:
                try:
                    self._process(batch)
                except Exception as err:
                    self._backend_problem = f'unexpected {type(err).__name__}: {err}'
                    self.get_logger().error(
                        f'frame failed: {traceback.format_exc(limit=4)}',
                        throttle_duration_sec=_THROTTLE_S,
                    )

    def _process(self, batch: dict[Any, Any]) -> None:
        self._apply_query()
        frames: list[tuple[_Camera, Any, CameraFrame]] = []
        for namespace, msg in batch.items():
            camera = self.cameras[namespace]
            frame = self._frame(camera, msg)
            if frame is not None:
                frames.append((camera, msg, replace(frame, motion=self._motion(camera, frame))))
        if not frames:
            return
        with self._lock:
            pipeline = self.pipeline
            if pipeline is None:
                return
            started = time.monotonic()
            try:
                results = pipeline.process_batch([frame for _, _, frame in frames])
            except (BackendError, PipelineError) as err:
                self._backend_problem = str(err)
                for camera, _, _ in frames:
                    camera.stats.failed += 1
                self.get_logger().warn(
                    f'no output for this frame: {err}', throttle_duration_sec=_THROTTLE_S
                )
                return
            self._backend_problem = ''
            work_s = time.monotonic() - started
            for (camera, msg, frame), result in zip(frames, results, strict=True):
                camera.previous_stamp_ns = frame.stamp_ns
                objects = camera.objects.for_frame(result, frame)
                for topic, out in frame_messages(
                    self.types,
                    msg.header,
                    result,
                    frame.rgb,
                    frame.intrinsics,
                    self.settings.node,
                    objects,
                ):
                    publisher = camera.publishers.get(topic)
                    if publisher is not None:
                        publisher.publish(out)
                if objects is not None:
                    camera.dropped = dict(objects.dropped)
                if self.query:
                    self._answer_query(msg.header, result, objects)
                now_ns = self.get_clock().now().nanoseconds
                camera.stats.processed((now_ns - frame.stamp_ns) * 1e-9, work_s)

    def _frame(self, camera: _Camera, msg: Any) -> CameraFrame | None:
        """Turn one message into a frame, or count and report why not."""
        try:
            if self.settings.node.compressed:
                rgb = messages.compressed_to_rgb(msg)
            else:
                rgb = messages.image_to_rgb(msg)
        except messages.MessageError as err:
            self._reject(camera, f'bad image on {camera.prefix}image: {err}')
            return None
        stamp_ns = messages.stamp_ns(msg.header)
        max_age = self.settings.node.max_input_age_s
        age_s = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        if max_age and age_s > max_age:
            camera.stats.stale += 1
            camera.problem = f'frames arrive {age_s:.2f} s old (max_input_age_s {max_age})'
            return None
        intrinsics = self._intrinsics(camera, rgb.shape[:2])
        camera.problem = '' if intrinsics is not None or not camera.problem else camera.problem
        return CameraFrame(rgb, intrinsics, stamp_ns, msg.header.frame_id)

    def _pipeline_config(self, settings: Settings) -> PipelineConfig:
        """Return the settings' pipeline with the query (if any) among its referring prompts."""
        config = settings.pipeline
        if not self.query or self.query in config.tasks.referring:
            return config
        tasks = replace(config.tasks, referring=(*config.tasks.referring, self.query))
        return replace(config, tasks=tasks)

    def _apply_query(self) -> None:
        """Take a new query from the callback: rebuild the pipeline's prompts with it."""
        query, self._pending_query = self._pending_query, None
        if query is None or query == self.query:
            return
        previous, self.query = self.query, query
        try:
            self._rebuild(self.settings)
        except (ConfigError, ValueError) as err:  # a prompt the templates cannot take
            self.query = previous
            self._refuse_query(err)
            return
        self._query_state = (
            messages.DiagnosticLevel.OK,
            f'asked: {query!r}' if query else 'no query',
        )
        self.get_logger().info(f'query: {query!r}' if query else 'query cleared')

    def _rebuild(self, settings: Settings) -> None:
        """Rebuild the pipeline (same backend) for new settings or a new query."""
        with self._lock:
            if self.pipeline is not None:
                backend = self.pipeline.backend
                self.pipeline = Pipeline(self._pipeline_config(settings), backend=backend)
            self.settings = settings
            for camera in self.cameras.values():
                camera.objects = ObjectBuilder(settings.pipeline.objects)
                camera.previous_stamp_ns = None
            self._create_publishers()

    def _answer_query(
        self, header: Any, result: PerceptionResult, objects: FrameObjects | None
    ) -> None:
        """Publish the query's mask and object for one frame; note when it matches nothing."""
        found = [m for m in result.referring if m.expression == self.query]
        if not found:
            return
        mask = found[0].mask
        publisher = self._query_publishers.get('~/query/mask')
        if publisher is not None:
            pixels = mask.astype(np.uint8) * np.uint8(255)
            publisher.publish(messages.mono8_image(self.types, header, pixels))
        matched = [
            o
            for o in (objects.objects if objects is not None else ())
            if o.kind == 'referring' and o.name == self.query
        ]
        publisher = self._query_publishers.get('~/query/objects')
        if publisher is not None and objects is not None:
            publisher.publish(messages.object_detections(self.types, header, matched))
        if not found[0].area_px:
            self._query_state = (
                messages.DiagnosticLevel.WARN,
                f'the query {self.query!r} matches nothing',
            )
        else:
            self._query_state = (
                messages.DiagnosticLevel.OK,
                f'{self.query!r}: {found[0].area_px} px, {len(matched)} object(s)',
            )

    def _motion(self, camera: _Camera, frame: CameraFrame) -> np.ndarray | None:
        """Return the camera's motion since its previous frame from TF, or None if unknown."""
        fixed, previous = self.settings.node.tf_fixed_frame, camera.previous_stamp_ns
        if not fixed or not self._tf_subscriptions or previous is None:
            return None
        if frame.stamp_ns < previous:  # the clock went back (a bag restarted): old TF is stale
            self.transforms.clear()
            return None
        try:
            motion = self.transforms.wait_camera_motion(
                frame.frame_id, fixed, previous, frame.stamp_ns, self.settings.node.tf_timeout_s
            )
        except TransformError as err:
            camera.stats.no_motion += 1
            self._tf_problem = f'smoothing without camera motion: {err}'
            self.get_logger().warn(self._tf_problem, throttle_duration_sec=_THROTTLE_S)
            return None
        self._tf_problem = ''
        return motion

    def _intrinsics(self, camera: _Camera, size: tuple[int, ...]) -> CameraIntrinsics | None:
        info = camera.camera_info
        if info is None:
            self.get_logger().warn(
                f'no CameraInfo on {camera.prefix}camera_info yet: publishing no point cloud',
                throttle_duration_sec=_THROTTLE_S,
            )
            return None
        try:
            intrinsics = messages.intrinsics_from_camera_info(info, self.settings.node.rectified)
        except messages.MessageError as err:
            self._reject(camera, f'bad CameraInfo: {err}; publishing no point cloud')
            return None
        if (intrinsics.height, intrinsics.width) != tuple(size):
            self._reject(
                camera,
                f'CameraInfo is for {intrinsics.width}x{intrinsics.height}, the image is '
                f'{size[1]}x{size[0]}; publishing no point cloud',
            )
            return None
        return intrinsics

    def _reject(self, camera: _Camera, problem: str) -> None:
        camera.problem = problem
        camera.stats.failed += 1
        self.get_logger().warn(problem, throttle_duration_sec=_THROTTLE_S)

    # -- parameters -----------------------------------------------------------------------------

    def _validate_parameters(self, changes: list[Parameter]) -> str:
        if not any(p.name in SETTINGS_NAMES for p in changes):
            return ''  # qos_overrides.*, use_sim_time: rclpy's own
        try:
            settings_from_node(self, changes)
        except (ConfigError, ValueError) as err:
            return str(err)
        return ''

    def _apply_parameters(self, changes: list[Parameter]) -> None:
        changes = [p for p in changes if p.name in SETTINGS_NAMES]
        if not changes:
            return
        self._rebuild(settings_from_node(self, changes))
        self.get_logger().info(f'applied {", ".join(p.name for p in changes)}')

    # -- diagnostics ----------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        if self._diagnostics is None:
            return
        pipeline = self.pipeline
        backend = pipeline.backend.description if pipeline is not None else 'not configured'
        statuses = [
            messages.Diagnostic(
                messages.DiagnosticLevel.ERROR
                if self._backend_problem
                else messages.DiagnosticLevel.OK,
                f'{self.get_name()}: backend',
                self._backend_problem or 'ok',
                backend,
            )
        ]
        if self.settings.node.tf_fixed_frame:
            statuses.append(
                messages.Diagnostic(
                    messages.DiagnosticLevel.WARN
                    if self._tf_problem
                    else messages.DiagnosticLevel.OK,
                    f'{self.get_name()}: camera motion',
                    self._tf_problem or f'from TF through {self.settings.node.tf_fixed_frame!r}',
                    backend,
                )
            )
        level, message = self._query_state
        statuses.append(messages.Diagnostic(level, f'{self.get_name()}: query', message, backend))
        for camera in self.cameras.values():
            figures = camera.stats.summary()
            figures.update({f'objects_dropped_{k}': float(v) for k, v in camera.dropped.items()})
            figures['superseded'] = float(self._slots.superseded(camera.namespace))
            level = (
                messages.DiagnosticLevel.WARN if camera.problem else messages.DiagnosticLevel.OK
            )
            statuses.append(
                messages.Diagnostic(
                    level,
                    f'{self.get_name()}: {camera.label}',
                    camera.problem or 'ok',
                    backend,
                    {key: f'{value:.3g}' for key, value in figures.items()},
                )
            )
        header = messages.make_header(self.types, self.get_clock().now().nanoseconds, '')
        self._diagnostics.publish(messages.diagnostic_array(self.types, header, statuses))


def main(args: list[str] | None = None) -> None:
    """
    Run the node: configure and activate it (unless ``node.autostart`` is false), then spin.

    :param args: command-line arguments for rclpy (``--ros-args ...``); None for sys.argv.
    """
    rclpy.init(args=args)
    node = PerceptionNode()
    try:
        if node.settings.node.autostart:
            node.trigger_configure()
            node.trigger_activate()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        try_shutdown()


if __name__ == '__main__':
    main()
