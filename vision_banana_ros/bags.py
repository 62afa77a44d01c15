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
Processing a recorded rosbag2 off the robot: what the node would have published, into a new bag.

``process_bag`` reads a rosbag2 (sqlite3 or MCAP, recorded on Humble or Jazzy) with ``rosbags``,
copies every input message, runs the pipeline (with temporal smoothing) on the chosen image topic
in recording order, and writes the node's outputs (``vision_banana_ros.outputs``, the same
builder the node uses, with rosbags' message classes) under the image topic's namespace, each at
its input image's recording time and with its header. ``ros2 bag play OUT`` then shows the
results in RViz as the live node would.

Where the bag has ``/tf`` and ``/tf_static`` and ``node.tf_fixed_frame`` is set, the camera's
motion between frames comes from them, as in the node: they are read up front (the whole bag's
tree, so a transform recorded just after its image still counts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
import math
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import StoragePlugin, Writer
from vision_banana_ros import messages
from vision_banana_ros.objects import ObjectBuilder
from vision_banana_ros.outputs import frame_messages
from vision_banana_ros.pipeline import CameraFrame, Pipeline
from vision_banana_ros.rosbag_types import typestore
from vision_banana_ros.settings import Settings
from vision_banana_ros.transforms import TransformBuffer, TransformError

__all__ = ['BagError', 'BagReport', 'process_bag']

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
TF_TOPICS = {'/tf': False, '/tf_static': True}
"""The transform topics read for the camera's motion, and whether each is static."""
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}


class BagError(ValueError):
    """The bag cannot be processed as asked (missing file, topic, or wrong message type)."""


@dataclass
class BagReport:
    """
    What ``process_bag`` did.

    :ivar frames: images processed and published.
    :ivar skipped: images that could not be converted (with the first reason in ``problems``).
    :ivar no_motion: frames after the first smoothed without the camera's motion (no TF in the
        bag, ``node.tf_fixed_frame`` empty, or no transform at their stamp: see ``problems``).
    :ivar copied: input messages copied.
    :ivar topics: output topic -> messages written.
    :ivar problems: one line per kind of problem met.
    :ivar complete: False if the run was interrupted (the bag holds what was written so far).
    """

    frames: int = 0
    skipped: int = 0
    no_motion: int = 0
    copied: int = 0
    topics: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    complete: bool = True


def process_bag(
    source: Path | str,
    destination: Path | str,
    image_topic: str,
    camera_info_topic: str | None = None,
    settings: Settings | None = None,
    *,
    storage: str = 'mcap',
    namespace: str | None = None,
    pipeline: Pipeline | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BagReport:
    """
    Run the pipeline over a bag's images and write a new bag with the inputs and the outputs.

    :param source: the input rosbag2 folder.
    :param destination: the output folder (must not exist).
    :param image_topic: sensor_msgs/Image or CompressedImage topic to process.
    :param camera_info_topic: its CameraInfo topic; None for ``<image namespace>/camera_info``
        when the bag has it, else no intrinsics (no point cloud).
    :param settings: pipeline and node settings (``config/perception.yaml``); None: defaults.
    :param storage: 'mcap' or 'sqlite3' for the output.
    :param namespace: where the outputs go; None for the image topic's namespace (e.g.
        '/camera/color' for '/camera/color/image_raw').
    :param pipeline: a pipeline to use instead of building one from ``settings.pipeline``.
    :param progress: called with (images done, images in the bag) after each image.
    :return: the report; on KeyboardInterrupt the bag is closed properly and the report says
        ``complete=False`` (the interrupt is not re-raised).
    :raises BagError: for a missing input, an existing output, an unknown storage, or a topic
        the bag does not hold with an image type.
    """
    source, destination = Path(source), Path(destination)
    settings = settings or Settings()
    if storage not in STORAGES:
        raise BagError(f'storage must be one of {", ".join(STORAGES)}, got {storage!r}')
    if destination.exists():
        raise BagError(f'{destination} exists; choose a new output folder')
    try:
        reader = AnyReader([source], default_typestore=typestore('jazzy'))
        reader.open()
    except (AnyReaderError, FileNotFoundError) as err:
        raise BagError(f'cannot read {source} as a rosbag2: {err}') from err
    report = BagReport()
    try:
        info = _camera_info_topic(reader, image_topic, camera_info_topic)
        base = namespace if namespace is not None else image_topic.rsplit('/', 1)[0]
        pipeline = pipeline or Pipeline(settings.pipeline)
        with Writer(destination, version=9, storage_plugin=STORAGES[storage]) as writer:
            _run(reader, writer, image_topic, info, base, pipeline, settings, report, progress)
    finally:
        reader.close()
    return report


def _camera_info_topic(reader: AnyReader, image_topic: str, info_topic: str | None) -> str:
    """Check the image topic; pick the CameraInfo topic ('' for none)."""
    by_topic = {c.topic: c.msgtype for c in reader.connections}
    if image_topic not in by_topic:
        listed = ', '.join(f'{t} ({m})' for t, m in sorted(by_topic.items()))
        raise BagError(f'the bag has no topic {image_topic}; it has: {listed}')
    if by_topic[image_topic] not in IMAGE_TYPES:
        raise BagError(f'{image_topic} holds {by_topic[image_topic]}, not an image')
    if info_topic is None:
        guess = f'{image_topic.rsplit("/", 1)[0]}/camera_info'
        info_topic = guess if by_topic.get(guess) == 'sensor_msgs/msg/CameraInfo' else ''
    elif by_topic.get(info_topic) != 'sensor_msgs/msg/CameraInfo':
        raise BagError(f'the bag has no sensor_msgs/CameraInfo topic {info_topic}')
    return info_topic


def _run(
    reader: AnyReader,
    writer: Writer,
    image_topic: str,
    info_topic: str,
    base: str,
    pipeline: Pipeline,
    settings: Settings,
    report: BagReport,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Copy every message, process the images, write the outputs; stop cleanly on Ctrl-C."""
    store = typestore('jazzy')
    types = messages.MessageTypes.from_typestore(store)
    total = sum(c.msgcount for c in reader.connections if c.topic == image_topic)
    inputs = {
        c.id: writer.add_connection(
            c.topic,
            c.msgtype,
            typestore=reader.typestore,
            offered_qos_profiles=getattr(c.ext, 'offered_qos_profiles', ()),
        )
        for c in reader.connections
    }
    outputs: dict[str, Any] = {}
    camera_info: Any = None
    seen = 0
    transforms = _transforms(reader, report) if settings.node.tf_fixed_frame else None
    previous: int | None = None
    builder = ObjectBuilder(settings.pipeline.objects)
    try:
        for connection, timestamp, raw in reader.messages():
            writer.write(inputs[connection.id], timestamp, raw)
            report.copied += 1
            if connection.topic == info_topic:
                camera_info = reader.deserialize(raw, connection.msgtype)
            if connection.topic != image_topic:
                continue
            seen += 1
            msg: Any = reader.deserialize(raw, connection.msgtype)
            frame = _frame(msg, camera_info, settings.node.rectified, report)
            if frame is not None:
                if previous is not None:
                    motion = _motion(transforms, frame, previous, settings, report)
                    frame = replace(frame, motion=motion)
                result = pipeline.process(frame)
                previous = frame.stamp_ns
                for topic, out in frame_messages(
                    types,
                    msg.header,
                    result,
                    frame.rgb,
                    frame.intrinsics,
                    settings.node,
                    objects=builder.for_frame(result, frame),
                ):
                    name = f'{base}/{topic}'
                    if name not in outputs:
                        outputs[name] = writer.add_connection(
                            name, out.__msgtype__, typestore=store
                        )
                    writer.write(
                        outputs[name], timestamp, store.serialize_cdr(out, out.__msgtype__)
                    )
                    report.topics[name] = report.topics.get(name, 0) + 1
                report.frames += 1
            if progress is not None:
                progress(seen, total)
    except KeyboardInterrupt:
        report.complete = False


def _transforms(reader: AnyReader, report: BagReport) -> TransformBuffer | None:
    """Read the bag's whole transform tree; None if it has none."""
    connections = [
        c
        for c in reader.connections
        if c.topic in TF_TOPICS and c.msgtype == 'tf2_msgs/msg/TFMessage'
    ]
    if not connections:
        return None
    buffer = TransformBuffer(cache_s=math.inf)
    for connection, _, raw in reader.messages(connections=connections):
        transforms, problems = messages.transforms_from_tf(
            reader.deserialize(raw, connection.msgtype)
        )
        buffer.add(transforms, static=TF_TOPICS[connection.topic])
        for problem in problems:
            _note(report, f'bad transform ignored: {problem}')
    return buffer


def _motion(
    transforms: TransformBuffer | None,
    frame: CameraFrame,
    previous_ns: int,
    settings: Settings,
    report: BagReport,
) -> np.ndarray | None:
    """Return the camera's motion since the previous frame, or None (counted, with why)."""
    fixed = settings.node.tf_fixed_frame
    if transforms is None:
        reason = 'no /tf in the bag' if fixed else 'node.tf_fixed_frame is empty'
        _note(report, f'smoothing without camera motion: {reason}')
    else:
        try:
            return transforms.camera_motion(frame.frame_id, fixed, previous_ns, frame.stamp_ns)
        except TransformError as err:
            _note(report, f'smoothing without camera motion: {err}')
    report.no_motion += 1
    return None


def _frame(msg: Any, info: Any, rectified: bool, report: BagReport) -> CameraFrame | None:
    """Convert one image (and its CameraInfo where it fits), or note why not."""
    try:
        return messages.frame_from_msgs(msg, info, rectified)
    except messages.MessageError as err:
        if info is None:
            report.skipped += 1
            _note(report, f'image skipped: {err}')
            return None
    try:
        frame = messages.frame_from_msgs(msg, None)
    except messages.MessageError as err:
        report.skipped += 1
        _note(report, f'image skipped: {err}')
        return None
    _note(report, 'CameraInfo does not fit the images: no point cloud')
    return frame


def _note(report: BagReport, problem: str) -> None:
    if problem not in report.problems:
        report.problems.append(problem)
