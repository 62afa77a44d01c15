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
Conversions between ROS 2 messages and numpy arrays, for rclpy's classes and rosbags' alike.

Nothing here imports ROS. Inputs are read duck-typed (any object with the message's fields);
outputs are built from the classes in a ``MessageTypes``: ``MessageTypes.from_rclpy()`` in the
node, ``MessageTypes.from_typestore(rosbag_types.typestore())`` in ``vision-banana bag`` and the
tests. Every message is constructed with all of its fields as keywords and nested messages built
explicitly, which rosbags' dataclasses require and rclpy's classes accept.

Array fields (``uint8[] data``, ``float64[] d``) go through ``MessageTypes.array_field``:

- rosbags: a 1-D numpy array of the field's dtype (what its CDR serialiser reads), a copy, so a
  message never aliases an array the caller may change later;
- rclpy: an ``array.array`` ('B' or 'd') filled by one ``frombytes`` memcpy. rclpy's generated
  classes store such fields as ``array.array``; their constructors wrap the value in
  ``array.array(code, value)``, which is a memcpy for an ``array.array`` of the same code and for
  ``bytes`` (0.3 ms for 2.7 MB on Jazzy), but iterates element by element over a numpy array or
  a memoryview (160 ms and 90 ms). The property setters keep an ``array.array`` as is and check
  anything else element by element when ``ROS_PYTHON_CHECK_FIELDS=1`` (Jazzy) or under
  ``__debug__`` (Humble), so ``array.array`` is the one form that is fast everywhere.

Fixed-size arrays (CameraInfo ``k``, ``r``, ``p``; a covariance) are float64 numpy arrays for both.

Conventions: images are little-endian (``is_bigendian = 0``) with tight rows; depth is 32FC1
metres along the optical axis, NaN invalid (REP 118); normals 32FC3 unit vectors in the optical
frame; every output reuses the input's header object, so stamp and frame_id line up. LabelInfo
maps class id 0 to 'unlabelled' and ``class_names[i - 1]`` to id i, matching
``SemanticLabels.labels`` (vision_msgs reserves 65535 for its own "UNLABELED", which this package
never writes).
"""

from __future__ import annotations

import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
import enum
import importlib
import math
import numbers
from typing import Any

import cv2
import numpy as np
from vision_banana_ros.geometry import CameraIntrinsics, GeometryError, PackedCloud
from vision_banana_ros.objects import DetectedObject
from vision_banana_ros.pipeline.result import CameraFrame, InstanceMask
from vision_banana_ros.transforms import StampedTransform

__all__ = [
    'RGB_ENCODINGS',
    'UNLABELLED_CLASS',
    'Diagnostic',
    'DiagnosticLevel',
    'MessageError',
    'MessageTypes',
    'array_array_field',
    'camera_info',
    'compressed_to_rgb',
    'depth_image',
    'diagnostic_array',
    'float_image',
    'frame_from_msgs',
    'image_to_rgb',
    'instance_detections',
    'intrinsics_from_camera_info',
    'label_info',
    'make_header',
    'mono8_image',
    'mono16_image',
    'normals_image',
    'numpy_field',
    'object_detections',
    'object_markers',
    'point_cloud',
    'rgb_image',
    'stamp_ns',
    'transforms_from_tf',
]


class MessageError(ValueError):
    """A message cannot be converted: names the field, its value and what was expected."""


# ---------------------------------------------------------------------------------------------
# Message classes

_CORE_TYPES = {
    'Time': 'builtin_interfaces/msg/Time',
    'Header': 'std_msgs/msg/Header',
    'Image': 'sensor_msgs/msg/Image',
    'CompressedImage': 'sensor_msgs/msg/CompressedImage',
    'CameraInfo': 'sensor_msgs/msg/CameraInfo',
    'RegionOfInterest': 'sensor_msgs/msg/RegionOfInterest',
    'PointCloud2': 'sensor_msgs/msg/PointCloud2',
    'PointField': 'sensor_msgs/msg/PointField',
    'DiagnosticArray': 'diagnostic_msgs/msg/DiagnosticArray',
    'DiagnosticStatus': 'diagnostic_msgs/msg/DiagnosticStatus',
    'KeyValue': 'diagnostic_msgs/msg/KeyValue',
    'Point': 'geometry_msgs/msg/Point',
    'Quaternion': 'geometry_msgs/msg/Quaternion',
    'Pose': 'geometry_msgs/msg/Pose',
    'PoseWithCovariance': 'geometry_msgs/msg/PoseWithCovariance',
    'Vector3': 'geometry_msgs/msg/Vector3',
    'ColorRGBA': 'std_msgs/msg/ColorRGBA',
    'Duration': 'builtin_interfaces/msg/Duration',
}
_VISION_TYPES = {
    'LabelInfo': 'vision_msgs/msg/LabelInfo',
    'VisionClass': 'vision_msgs/msg/VisionClass',
    'Detection2DArray': 'vision_msgs/msg/Detection2DArray',
    'Detection2D': 'vision_msgs/msg/Detection2D',
    'ObjectHypothesisWithPose': 'vision_msgs/msg/ObjectHypothesisWithPose',
    'ObjectHypothesis': 'vision_msgs/msg/ObjectHypothesis',
    'BoundingBox2D': 'vision_msgs/msg/BoundingBox2D',
    'Pose2D': 'vision_msgs/msg/Pose2D',
    'Point2D': 'vision_msgs/msg/Point2D',
    'Detection3DArray': 'vision_msgs/msg/Detection3DArray',
    'Detection3D': 'vision_msgs/msg/Detection3D',
    'BoundingBox3D': 'vision_msgs/msg/BoundingBox3D',
}
_MARKER_TYPES = {
    'MarkerArray': 'visualization_msgs/msg/MarkerArray',
    'Marker': 'visualization_msgs/msg/Marker',
    'MeshFile': 'visualization_msgs/msg/MeshFile',
}
_TYPECODES = {np.dtype(np.uint8): 'B', np.dtype(np.float64): 'd'}


def numpy_field(values: np.ndarray) -> np.ndarray:
    """
    Copy an array into the form rosbags' message classes take for ``T[]`` fields.

    :param values: uint8 or float64 array, any shape.
    :return: a new 1-D C-contiguous array of the same dtype.
    """
    return np.array(values, copy=True, order='C').reshape(-1)


def array_array_field(values: np.ndarray) -> array.array:
    """
    Copy an array into the form rclpy's message classes store ``T[]`` fields in.

    :param values: uint8 (typecode 'B') or native float64 (typecode 'd') array, any shape.
    :return: an ``array.array`` holding ``values.size`` items, filled by one memcpy.
    :raises MessageError: on another dtype.
    """
    code = _TYPECODES.get(values.dtype)
    if code is None:
        raise MessageError(f'array fields must be uint8 or float64, got {values.dtype}')
    out = array.array(code)
    out.frombytes(np.ascontiguousarray(values).reshape(-1).view(np.uint8).data)
    return out


@dataclass(frozen=True)
class MessageTypes:
    """
    The message classes the conversions construct, from rclpy or from a rosbags typestore.

    Every ``:ivar:`` below but ``array_field`` is a message class; the vision_msgs ones are None
    where vision_msgs is not available (then ``label_info`` and ``instance_detections`` raise).

    :ivar Time: builtin_interfaces/Time.
    :ivar Header: std_msgs/Header.
    :ivar Image: sensor_msgs/Image.
    :ivar CompressedImage: sensor_msgs/CompressedImage.
    :ivar CameraInfo: sensor_msgs/CameraInfo.
    :ivar RegionOfInterest: sensor_msgs/RegionOfInterest.
    :ivar PointCloud2: sensor_msgs/PointCloud2.
    :ivar PointField: sensor_msgs/PointField.
    :ivar DiagnosticArray: diagnostic_msgs/DiagnosticArray.
    :ivar DiagnosticStatus: diagnostic_msgs/DiagnosticStatus.
    :ivar KeyValue: diagnostic_msgs/KeyValue.
    :ivar Point: geometry_msgs/Point (in ObjectHypothesisWithPose's pose).
    :ivar Quaternion: geometry_msgs/Quaternion.
    :ivar Pose: geometry_msgs/Pose.
    :ivar PoseWithCovariance: geometry_msgs/PoseWithCovariance.
    :ivar Vector3: geometry_msgs/Vector3 (box sizes, marker scales).
    :ivar ColorRGBA: std_msgs/ColorRGBA.
    :ivar Duration: builtin_interfaces/Duration (marker lifetimes).
    :ivar array_field: turns a uint8 or float64 numpy array into the value a ``uint8[]`` or
        ``float64[]`` field takes: ``numpy_field`` for rosbags, ``array_array_field`` for rclpy.
    :ivar LabelInfo: vision_msgs/LabelInfo, or None.
    :ivar VisionClass: vision_msgs/VisionClass, or None.
    :ivar Detection2DArray: vision_msgs/Detection2DArray, or None.
    :ivar Detection2D: vision_msgs/Detection2D, or None.
    :ivar ObjectHypothesisWithPose: vision_msgs/ObjectHypothesisWithPose, or None.
    :ivar ObjectHypothesis: vision_msgs/ObjectHypothesis, or None.
    :ivar BoundingBox2D: vision_msgs/BoundingBox2D, or None.
    :ivar Pose2D: vision_msgs/Pose2D, or None.
    :ivar Point2D: vision_msgs/Point2D, or None.
    :ivar Detection3DArray: vision_msgs/Detection3DArray, or None.
    :ivar Detection3D: vision_msgs/Detection3D, or None.
    :ivar BoundingBox3D: vision_msgs/BoundingBox3D, or None.
    :ivar MarkerArray: visualization_msgs/MarkerArray, or None where visualization_msgs is absent
        (then ``object_markers`` raises).
    :ivar Marker: visualization_msgs/Marker, or None.
    :ivar MeshFile: visualization_msgs/MeshFile (a Marker field), or None.
    """

    Time: Any
    Header: Any
    Image: Any
    CompressedImage: Any
    CameraInfo: Any
    RegionOfInterest: Any
    PointCloud2: Any
    PointField: Any
    DiagnosticArray: Any
    DiagnosticStatus: Any
    KeyValue: Any
    Point: Any
    Quaternion: Any
    Pose: Any
    PoseWithCovariance: Any
    Vector3: Any
    ColorRGBA: Any
    Duration: Any
    array_field: Callable[[np.ndarray], Any]
    LabelInfo: Any = None
    VisionClass: Any = None
    Detection2DArray: Any = None
    Detection2D: Any = None
    ObjectHypothesisWithPose: Any = None
    ObjectHypothesis: Any = None
    BoundingBox2D: Any = None
    Pose2D: Any = None
    Point2D: Any = None
    Detection3DArray: Any = None
    Detection3D: Any = None
    BoundingBox3D: Any = None
    MarkerArray: Any = None
    Marker: Any = None
    MeshFile: Any = None

    @property
    def has_vision_msgs(self) -> bool:
        """
        Tell whether every vision_msgs class is available.

        :return: True when LabelInfo and Detection2DArray messages can be built.
        """
        return all(getattr(self, name) is not None for name in _VISION_TYPES)

    @property
    def has_markers(self) -> bool:
        """
        Tell whether the visualization_msgs classes are available.

        :return: True when MarkerArray messages can be built.
        """
        return all(getattr(self, name) is not None for name in _MARKER_TYPES)

    @classmethod
    def from_rclpy(cls) -> MessageTypes:
        """
        Collect rclpy's generated message classes (needs a sourced ROS 2 environment).

        vision_msgs and visualization_msgs are optional: without them their classes are None.

        :return: the classes, with ``array_field = array_array_field``.
        :raises ImportError: if a core message package (sensor_msgs, std_msgs, geometry_msgs,
            builtin_interfaces, diagnostic_msgs) is missing.
        """
        classes = {name: _rclpy_class(full) for name, full in _CORE_TYPES.items()}
        for optional in (_VISION_TYPES, _MARKER_TYPES):
            try:
                classes.update({name: _rclpy_class(full) for name, full in optional.items()})
            except ImportError:
                pass  # optional packages: their classes stay None
        return cls(array_field=array_array_field, **classes)

    @classmethod
    def from_typestore(cls, typestore: Any) -> MessageTypes:
        """
        Collect the message classes of a rosbags typestore.

        :param typestore: a ``rosbags.typesys`` typestore, e.g. ``rosbag_types.typestore()``
            (which registers vision_msgs; a plain ``get_typestore`` store has None for them).
        :return: the classes, with ``array_field = numpy_field``.
        :raises MessageError: if the store lacks a core type.
        """
        known = typestore.types
        missing = [full for full in _CORE_TYPES.values() if full not in known]
        if missing:
            raise MessageError(f'typestore lacks the message types {missing}')
        classes = {name: known[full] for name, full in _CORE_TYPES.items()}
        for optional in (_VISION_TYPES, _MARKER_TYPES):
            classes.update({name: known.get(full) for name, full in optional.items()})
        return cls(array_field=numpy_field, **classes)


def _rclpy_class(full_name: str) -> Any:
    """Import ``pkg/msg/Name`` as ``pkg.msg.Name``."""
    package, _, name = full_name.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


# ---------------------------------------------------------------------------------------------
# Headers

_NS_PER_S = 1_000_000_000
_INT32 = np.iinfo(np.int32)


def stamp_ns(header: Any) -> int:
    """
    Read a std_msgs/Header's stamp as integer nanoseconds.

    :param header: a Header (or anything with ``stamp.sec`` and ``stamp.nanosec``).
    :return: ``sec * 10**9 + nanosec``.
    :raises MessageError: if ``nanosec`` is not in [0, 10**9).
    """
    sec, nanosec = int(header.stamp.sec), int(header.stamp.nanosec)
    if not 0 <= nanosec < _NS_PER_S:
        raise MessageError(f'Header.stamp.nanosec must be in [0, 1e9), got {nanosec}')
    return sec * _NS_PER_S + nanosec


def make_header(types: MessageTypes, stamp_ns: int, frame_id: str) -> Any:
    """
    Build a std_msgs/Header, for outputs that have no input header (diagnostics, bag tools).

    :param types: the message classes.
    :param stamp_ns: time in integer nanoseconds (the clock's, or an input stamp).
    :param frame_id: the frame, e.g. the camera's optical frame.
    :return: a ``types.Header`` with ``stamp = (stamp_ns // 1e9, stamp_ns % 1e9)``.
    :raises MessageError: if the seconds do not fit builtin_interfaces/Time's int32.
    """
    sec, nanosec = divmod(int(stamp_ns), _NS_PER_S)
    if not _INT32.min <= sec <= _INT32.max:
        raise MessageError(f'stamp_ns {stamp_ns} does not fit Time.sec (int32 seconds)')
    return types.Header(stamp=types.Time(sec=sec, nanosec=nanosec), frame_id=str(frame_id))


# ---------------------------------------------------------------------------------------------
# Inputs

# encoding -> (bytes per pixel, the source channel of R, G, B)
_RGB_SOURCES = {
    'rgb8': (3, (0, 1, 2)),
    'bgr8': (3, (2, 1, 0)),
    'rgba8': (4, (0, 1, 2)),
    'bgra8': (4, (2, 1, 0)),
    'mono8': (1, (0, 0, 0)),
}
RGB_ENCODINGS = tuple(_RGB_SOURCES)
"""The sensor_msgs/Image encodings ``image_to_rgb`` reads."""


def image_to_rgb(msg: Any) -> np.ndarray:
    """
    Convert a sensor_msgs/Image to RGB, honouring ``step`` (rows may be padded).

    mono8 is repeated into the three channels; the alpha of rgba8 and bgra8 is dropped.

    :param msg: an Image with encoding rgb8, bgr8, rgba8, bgra8 or mono8.
    :return: (H, W, 3) uint8 RGB, a new C-contiguous array (never a view of ``msg.data``).
    :raises MessageError: on another encoding, a zero width or height, ``step`` below
        ``width * bytes per pixel``, or ``data`` not holding exactly ``step * height`` bytes.
    """
    encoding = str(msg.encoding)
    if encoding not in _RGB_SOURCES:
        raise MessageError(
            f'Image.encoding {encoding!r} is not supported; expected one of {list(RGB_ENCODINGS)}'
        )
    channels, sources = _RGB_SOURCES[encoding]
    height = _size(msg.height, 'Image.height')
    width = _size(msg.width, 'Image.width')
    row_bytes = width * channels
    step = int(msg.step)
    if step < row_bytes:
        raise MessageError(
            f'Image.step {step} is less than width * {channels} = {row_bytes} bytes '
            f'({width} pixels of {encoding})'
        )
    data = _uint8_buffer(msg.data, 'Image.data')
    if data.size != step * height:
        raise MessageError(
            f'Image.data holds {data.size} bytes; expected step * height = '
            f'{step} * {height} = {step * height}'
        )
    rows = data.reshape(height, step)[:, :row_bytes]  # (H, W * C): drops row padding
    pixels = rows.reshape(height, width, channels)
    return np.take(pixels, sources, axis=2)  # (H, W, 3), a C-contiguous copy


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """
    Decode a sensor_msgs/CompressedImage (JPEG or PNG) to RGB with OpenCV.

    ``format`` may be image_transport's 'rgb8; jpeg compressed bgr8' or a bare 'jpeg' or 'png':
    the bytes themselves say which codec it is. Grey images come back with three equal channels.

    :param msg: a CompressedImage.
    :return: (H, W, 3) uint8 RGB.
    :raises MessageError: on empty or undecodable data, or a 'compressedDepth' format (16-bit
        depth, not colour).
    """
    fmt = str(msg.format)
    if 'compresseddepth' in fmt.lower():
        raise MessageError(
            f'CompressedImage.format {fmt!r} is compressed depth; '
            'expected a jpeg or png colour image'
        )
    data = _uint8_buffer(msg.data, 'CompressedImage.data')
    if data.size == 0:
        raise MessageError(f'CompressedImage.data is empty (format {fmt!r})')
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise MessageError(
            f'CompressedImage.data ({data.size} bytes, format {fmt!r}) is not a jpeg or png '
            'image OpenCV can decode'
        )
    return np.ascontiguousarray(bgr[..., ::-1])  # (H, W, 3) BGR -> RGB


def intrinsics_from_camera_info(msg: Any, rectified: bool = False) -> CameraIntrinsics:
    """
    Read the pinhole intrinsics of the image a sensor_msgs/CameraInfo describes.

    Binning and the region of interest are applied, so the result matches the published image
    (see ``CameraIntrinsics.from_camera_info``). Distortion is ignored: pass ``rectified=True``
    for an ``image_rect`` topic, which uses the left 3x3 of the projection matrix P instead of K.

    :param msg: a CameraInfo.
    :param rectified: read P (rectified image) instead of K (raw image).
    :return: the intrinsics, in pixels of the published image.
    :raises MessageError: on an uncalibrated camera (all-zero K or P, or zero width or height),
        non-finite or non-pinhole entries, or a binning or ROI that does not fit.
    """
    name = 'p' if rectified else 'k'
    values = np.asarray(getattr(msg, name), dtype=np.float64).reshape(-1)
    expected = 12 if rectified else 9
    if values.size != expected:
        raise MessageError(f'CameraInfo.{name} must hold {expected} numbers, got {values.size}')
    if not values.any():
        raise MessageError(f'CameraInfo.{name} is all zeros: the camera is uncalibrated')
    if int(msg.width) <= 0 or int(msg.height) <= 0:
        raise MessageError(
            f'CameraInfo size is {msg.width}x{msg.height}: the camera is uncalibrated'
        )
    k = values[[0, 1, 2, 4, 5, 6, 8, 9, 10]] if rectified else values
    roi = msg.roi
    try:
        return CameraIntrinsics.from_camera_info(
            k,
            int(msg.width),
            int(msg.height),
            int(msg.binning_x),
            int(msg.binning_y),
            (int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)),
        )
    except GeometryError as err:
        source = 'left 3x3 of CameraInfo.p' if rectified else 'CameraInfo.k'
        raise MessageError(f'CameraInfo gives no intrinsics ({source}): {err}') from err


def frame_from_msgs(image_msg: Any, info_msg: Any = None, rectified: bool = False) -> CameraFrame:
    """
    Turn one Image or CompressedImage (and its CameraInfo) into the pipeline's input frame.

    :param image_msg: a sensor_msgs/Image (see ``image_to_rgb``) or CompressedImage (see
        ``compressed_to_rgb``; told apart by its ``format`` field).
    :param info_msg: the matching CameraInfo, or None (then the frame has no intrinsics).
    :param rectified: read P instead of K (see ``intrinsics_from_camera_info``).
    :return: the frame: RGB, intrinsics, and the image header's stamp and frame_id.
    :raises MessageError: on a bad image or CameraInfo, or intrinsics (after binning and ROI)
        for another size than the image's.
    """
    if hasattr(image_msg, 'format') and not hasattr(image_msg, 'encoding'):
        rgb = compressed_to_rgb(image_msg)
    else:
        rgb = image_to_rgb(image_msg)
    intrinsics = None
    if info_msg is not None:
        intrinsics = intrinsics_from_camera_info(info_msg, rectified)
        height, width = rgb.shape[:2]
        if (intrinsics.width, intrinsics.height) != (width, height):
            raise MessageError(
                f'the image is {width}x{height} but its CameraInfo (after binning and ROI) '
                f'describes {intrinsics.width}x{intrinsics.height}'
            )
    header = image_msg.header
    return CameraFrame(
        rgb=rgb, intrinsics=intrinsics, stamp_ns=stamp_ns(header), frame_id=str(header.frame_id)
    )


def transforms_from_tf(msg: Any) -> tuple[list[StampedTransform], list[str]]:
    """
    Read a tf2_msgs/TFMessage (``/tf`` or ``/tf_static``) for a ``TransformBuffer``.

    :param msg: a TFMessage (anything with ``transforms``, each a geometry_msgs/TransformStamped).
    :return: the well-formed transforms (frame names without a leading '/', as tf2 strips it),
        and one line per malformed one saying what is wrong (they are left out).
    """
    good, problems = [], []
    for index, stamped in enumerate(msg.transforms):
        try:
            moved, turned = stamped.transform.translation, stamped.transform.rotation
            good.append(
                StampedTransform(
                    parent=str(stamped.header.frame_id).lstrip('/'),
                    child=str(stamped.child_frame_id).lstrip('/'),
                    stamp_ns=stamp_ns(stamped.header),
                    translation=np.array([moved.x, moved.y, moved.z], dtype=np.float64),
                    rotation=np.array([turned.x, turned.y, turned.z, turned.w], dtype=np.float64),
                )
            )
        except (ValueError, TypeError, AttributeError) as err:  # MessageError is a ValueError
            problems.append(f'TFMessage.transforms[{index}]: {err}')
    return good, problems


def _size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise MessageError(f'{name} must be a positive number of pixels, got {value!r}')
    return int(value)


def _uint8_buffer(data: Any, name: str) -> np.ndarray:
    """View a ``uint8[]`` field (numpy array, array.array, bytes, or a list) as 1-D uint8."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise MessageError(f'{name} must be uint8 bytes, got a {data.dtype} array')
        return data.reshape(-1)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        pass  # not a buffer: a sequence of ints
    try:
        return np.asarray(data, dtype=np.uint8).reshape(-1)
    except (TypeError, ValueError, OverflowError) as err:
        raise MessageError(f'{name} must be bytes 0-255, got {type(data).__name__}') from err


# ---------------------------------------------------------------------------------------------
# Images out


def float_image(types: MessageTypes, header: Any, values: np.ndarray) -> Any:
    """
    Build a 32FC1 (H, W) or 32FCn (H, W, n) sensor_msgs/Image, e.g. a confidence map.

    :param types: the message classes.
    :param header: the input's header, reused as is.
    :param values: (H, W) or (H, W, n) floating array, n in 1..4; cast to float32.
    :return: the Image: little-endian, ``step = W * 4 * n``.
    :raises MessageError: on another shape or dtype, or a zero size.
    """
    array_ = _checked(values, 'values', (2, 3), 'floating')
    channels = 1 if array_.ndim == 2 else array_.shape[2]
    if not 1 <= channels <= 4:
        raise MessageError(f'values must have 1 to 4 channels, got shape {array_.shape}')
    return _image(types, header, array_.astype('<f4', copy=False), f'32FC{channels}')


def depth_image(types: MessageTypes, header: Any, depth_m: np.ndarray) -> Any:
    """
    Build a REP 118 depth image: 32FC1, metres along the optical axis, NaN invalid.

    :param types: the message classes.
    :param header: the input's header, reused as is.
    :param depth_m: (H, W) floating z-depth in metres, NaN where invalid; cast to float32.
    :return: the Image (encoding 32FC1, ``step = 4 W``).
    :raises MessageError: on another shape or dtype (integer millimetres included), or a zero
        size.
    """
    depth = _checked(depth_m, 'depth_m', (2,), 'floating')
    return _image(types, header, depth.astype('<f4', copy=False), '32FC1')


def normals_image(types: MessageTypes, header: Any, normals: np.ndarray) -> Any:
    """
    Build a 32FC3 normals image: unit (x, y, z) in the optical frame, NaN invalid.

    :param types: the message classes.
    :param header: the input's header, reused as is.
    :param normals: (H, W, 3) floating unit normals; cast to float32.
    :return: the Image (encoding 32FC3, ``step = 12 W``).
    :raises MessageError: on another shape or dtype, or a zero size.
    """
    array_ = _checked(normals, 'normals', (3,), 'floating', channels=3)
    return _image(types, header, array_.astype('<f4', copy=False), '32FC3')


def rgb_image(types: MessageTypes, header: Any, rgb: np.ndarray) -> Any:
    """
    Build an rgb8 sensor_msgs/Image.

    :param types: the message classes.
    :param header: the input's header, reused as is.
    :param rgb: (H, W, 3) uint8 RGB.
    :return: the Image (encoding rgb8, ``step = 3 W``).
    :raises MessageError: on another shape or dtype, or a zero size.
    """
    return _image(types, header, _checked(rgb, 'rgb', (3,), 'uint8', channels=3), 'rgb8')


def mono8_image(types: MessageTypes, header: Any, values: np.ndarray) -> Any:
    """
    Build a mono8 sensor_msgs/Image (a mask or ids below 256).

    :param types: the message classes.
    :param header: the input's header, reused as is.
    :param values: (H, W) uint8 (convert a bool mask with ``mask.astype(np.uint8) * 255``).
    :return: the Image (encoding mono8, ``step = W``).
    :raises MessageError: on another shape or dtype, or a zero size.
    """
    return _image(types, header, _checked(values, 'values', (2,), 'uint8'), 'mono8')


def mono16_image(types: MessageTypes, header: Any, values: np.ndarray) -> Any:
    """
    Build a mono16 sensor_msgs/Image, little-endian (e.g. semantic labels or instance ids).

    :param types: the message classes.
    :param header: the input's header, reused as is.
    :param values: (H, W) uint16.
    :return: the Image (encoding mono16, ``is_bigendian = 0``, ``step = 2 W``).
    :raises MessageError: on another shape or dtype, or a zero size.
    """
    array_ = _checked(values, 'values', (2,), 'uint16')
    return _image(types, header, array_.astype('<u2', copy=False), 'mono16')


def _checked(
    values: Any, name: str, ndims: tuple[int, ...], kind: str, channels: int = 0
) -> np.ndarray:
    """Check an output array's rank, channel count, dtype kind and size; return it as numpy."""
    if not isinstance(values, np.ndarray):
        raise MessageError(f'{name} must be a numpy array, got {type(values).__name__}')
    if values.ndim not in ndims or (channels and values.shape[-1] != channels):
        wanted = ' or '.join('(H, W)' if n == 2 else f'(H, W, {channels or "n"})' for n in ndims)
        raise MessageError(f'{name} must have shape {wanted}, got {values.shape}')
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise MessageError(f'{name} must have a non-zero height and width, got {values.shape}')
    if kind == 'floating':
        if not np.issubdtype(values.dtype, np.floating):
            raise MessageError(f'{name} must be floating point, got {values.dtype}')
    elif values.dtype != np.dtype(kind):
        raise MessageError(f'{name} must be {kind}, got {values.dtype}')
    return values


def _image(types: MessageTypes, header: Any, pixels: np.ndarray, encoding: str) -> Any:
    """Lay out (H, W[, C]) little-endian pixels with tight rows as an Image."""
    height, width = pixels.shape[:2]
    data = np.ascontiguousarray(pixels).reshape(-1).view(np.uint8)  # H * step bytes
    return types.Image(
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=data.size // height,
        data=types.array_field(data),
    )


# ---------------------------------------------------------------------------------------------
# CameraInfo and PointCloud2 out


def camera_info(types: MessageTypes, header: Any, intrinsics: CameraIntrinsics) -> Any:
    """
    Build the sensor_msgs/CameraInfo of an undistorted image with these intrinsics.

    ``k = [fx 0 cx; 0 fy cy; 0 0 1]``, ``p = [K | 0]``, ``r`` the identity, ``d`` five zeros
    with 'plumb_bob', no binning, full-image ROI: what depth_image_proc and RViz need beside a
    depth image of this size.

    :param types: the message classes.
    :param header: the input's header, reused as is.
    :param intrinsics: intrinsics of the image published beside it.
    :return: the CameraInfo.
    """
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    k = np.array([fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0], dtype=np.float64)
    p = np.array([fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0], dtype=np.float64)
    roi = types.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types.CameraInfo(
        header=header,
        height=intrinsics.height,
        width=intrinsics.width,
        distortion_model='plumb_bob',
        d=types.array_field(np.zeros(5, dtype=np.float64)),
        k=k,
        r=np.eye(3, dtype=np.float64).reshape(-1),
        p=p,
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def point_cloud(types: MessageTypes, header: Any, packed: PackedCloud) -> Any:
    """
    Build an organised sensor_msgs/PointCloud2 from ``geometry.pack_pointcloud2``'s layout.

    :param types: the message classes.
    :param header: the input's header (its optical frame), reused as is.
    :param packed: the cloud body: fields, steps and the (H, W) structured points.
    :return: the PointCloud2: ``height = H``, ``width = W``, ``is_dense = False``,
        little-endian, ``data`` of ``H * row_step`` bytes.
    :raises MessageError: if ``packed`` is not a ``PackedCloud`` or its sizes disagree.
    """
    if not isinstance(packed, PackedCloud):
        raise MessageError(f'packed must be a PackedCloud, got {type(packed).__name__}')
    data = np.ascontiguousarray(packed.data).reshape(-1).view(np.uint8)
    if data.size != packed.height * packed.row_step:
        raise MessageError(
            f'packed.data holds {data.size} bytes; expected height * row_step = '
            f'{packed.height} * {packed.row_step}'
        )
    fields = [
        types.PointField(name=name, offset=offset, datatype=datatype, count=count)
        for name, offset, datatype, count in packed.fields
    ]
    return types.PointCloud2(
        header=header,
        height=packed.height,
        width=packed.width,
        fields=fields,
        is_bigendian=False,
        point_step=packed.point_step,
        row_step=packed.row_step,
        data=types.array_field(data),
        is_dense=bool(packed.is_dense),
    )


# ---------------------------------------------------------------------------------------------
# vision_msgs out

UNLABELLED_CLASS = 'unlabelled'
"""The LabelInfo name of class id 0, the pixels no class claimed."""

_MAX_CLASSES = 65534  # ids 1..65534; vision_msgs keeps 65535 for its "UNLABELED"


def label_info(
    types: MessageTypes, header: Any, class_names: Sequence[str], threshold: float = 0.0
) -> Any:
    """
    Build the vision_msgs/LabelInfo that names the ids of a semantic label image.

    ``class_map`` is id 0 = ``UNLABELLED_CLASS``, then id i = ``class_names[i - 1]``, the
    convention of ``SemanticLabels.labels``. Publish it transient-local beside the labels.

    :param types: the message classes (with vision_msgs).
    :param header: the input's header, reused as is.
    :param class_names: the classes in label order, at most 65534.
    :param threshold: LabelInfo's confidence threshold in [0, 1]; 0.0 (every pixel labelled).
    :return: the LabelInfo.
    :raises MessageError: without vision_msgs, on too many classes, a name that is not a
        string, or a threshold outside [0, 1].
    """
    _need_vision_msgs(types, 'label_info')
    names = list(class_names)
    if len(names) > _MAX_CLASSES:
        raise MessageError(f'class_names holds {len(names)} classes; at most {_MAX_CLASSES} fit')
    for index, name in enumerate(names):
        if not isinstance(name, str):
            raise MessageError(f'class_names[{index}] must be a string, got {name!r}')
    if not 0.0 <= threshold <= 1.0:
        raise MessageError(f'threshold must be in [0, 1], got {threshold}')
    class_map = [
        types.VisionClass(class_id=class_id, class_name=name)
        for class_id, name in enumerate([UNLABELLED_CLASS, *names])
    ]
    return types.LabelInfo(header=header, class_map=class_map, threshold=float(threshold))


def instance_detections(
    types: MessageTypes,
    header: Any,
    instances: Sequence[InstanceMask],
    scores: Sequence[float] | None = None,
) -> Any:
    """
    Build a vision_msgs/Detection2DArray with one Detection2D per non-empty instance mask.

    Each detection: ``id = str(instance_id)`` (the value in the instance id image), one result
    with ``class_id`` the class name (vision_msgs 4 ids are strings) and the score, an identity
    pose, and the mask's axis-aligned box in pixels: a mask over columns u0..u1 and rows v0..v1
    has ``center = ((u0 + u1) / 2, (v0 + v1) / 2)``, ``size = (u1 - u0 + 1, v1 - v0 + 1)``,
    ``theta = 0``. Empty masks give no detection.

    :param types: the message classes (with vision_msgs).
    :param header: the input's header, reused as is (also in each Detection2D).
    :param instances: the instances, each with an (H, W) mask.
    :param scores: one score in [0, 1] per instance, or None for 1.0 each.
    :return: the Detection2DArray.
    :raises MessageError: without vision_msgs, on a mask that is not 2-D, a non-finite score,
        or a number of scores other than the number of instances.
    """
    _need_vision_msgs(types, 'instance_detections')
    if scores is not None and len(scores) != len(instances):
        raise MessageError(
            f'scores holds {len(scores)} values for {len(instances)} instances; one each'
        )
    detections = []
    for index, instance in enumerate(instances):
        mask = np.asarray(instance.mask)
        if mask.ndim != 2:
            raise MessageError(f'instances[{index}].mask must have shape (H, W), got {mask.shape}')
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            continue
        score = 1.0 if scores is None else _finite(float(scores[index]), f'scores[{index}]')
        detections.append(
            _detection(types, header, instance, score, (cols[0], cols[-1]), (rows[0], rows[-1]))
        )
    return types.Detection2DArray(header=header, detections=detections)


def _detection(
    types: MessageTypes,
    header: Any,
    instance: InstanceMask,
    score: float,
    span_u: tuple[int, int],
    span_v: tuple[int, int],
) -> Any:
    """Build one Detection2D from an instance's column and row spans (inclusive)."""
    hypothesis = types.ObjectHypothesis(class_id=str(instance.class_name), score=score)
    pose = types.PoseWithCovariance(
        pose=_pose(types, np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0])),
        covariance=np.zeros(36, dtype=np.float64),
    )
    (u0, u1), (v0, v1) = span_u, span_v
    bbox = types.BoundingBox2D(
        center=types.Pose2D(
            position=types.Point2D(x=(float(u0) + float(u1)) / 2, y=(float(v0) + float(v1)) / 2),
            theta=0.0,
        ),
        size_x=float(u1 - u0 + 1),
        size_y=float(v1 - v0 + 1),
    )
    return types.Detection2D(
        header=header,
        results=[types.ObjectHypothesisWithPose(hypothesis=hypothesis, pose=pose)],
        bbox=bbox,
        id=str(instance.instance_id),
    )


def _pose(types: MessageTypes, position: np.ndarray, quaternion: np.ndarray) -> Any:
    """Build a geometry_msgs/Pose from a (3,) position and an (x, y, z, w) quaternion."""
    x, y, z = (float(v) for v in position)
    qx, qy, qz, qw = (float(v) for v in quaternion)
    return types.Pose(
        position=types.Point(x=x, y=y, z=z),
        orientation=types.Quaternion(x=qx, y=qy, z=qz, w=qw),
    )


# ---------------------------------------------------------------------------------------------
# Objects out (vision_msgs/Detection3DArray, visualization_msgs/MarkerArray)

OBJECT_MARKER_ALPHA = 0.4
"""Opacity of the object boxes in RViz (their labels are opaque)."""


def object_detections(types: MessageTypes, header: Any, objects: Sequence[DetectedObject]) -> Any:
    """
    Build a vision_msgs/Detection3DArray with one Detection3D per object.

    Each detection: ``id`` the object's key (``str(instance_id)``, the stable track id and the
    value in ``instances/labels``; ``'referring_<i>'`` for referring expression i), one result
    with ``class_id`` the class name or expression and the score, whose pose and the bbox's
    centre are the box's centre and orientation (box axes in the optical frame of ``header``),
    and ``bbox.size`` the box's extents along its own x, y, z, metres.

    :param types: the message classes (with vision_msgs).
    :param header: the input's header, reused as is (also in each Detection3D).
    :param objects: the objects (``ObjectBuilder.update(...).objects``).
    :return: the Detection3DArray.
    :raises MessageError: without vision_msgs, or on a non-finite box or score.
    """
    _need_vision_msgs(types, 'object_detections')
    detections = []
    for index, obj in enumerate(objects):
        box = _finite_box(obj, index)
        pose = _pose(types, box.center_m, box.quaternion)
        hypothesis = types.ObjectHypothesis(
            class_id=str(obj.name), score=_finite(float(obj.score), f'objects[{index}].score')
        )
        detections.append(
            types.Detection3D(
                header=header,
                results=[
                    types.ObjectHypothesisWithPose(
                        hypothesis=hypothesis,
                        pose=types.PoseWithCovariance(
                            pose=pose, covariance=np.zeros(36, dtype=np.float64)
                        ),
                    )
                ],
                bbox=types.BoundingBox3D(
                    center=_pose(types, box.center_m, box.quaternion),
                    size=_vector3(types, box.size_m),
                ),
                id=obj.key,
            )
        )
    return types.Detection3DArray(header=header, detections=detections)


def object_markers(
    types: MessageTypes,
    header: Any,
    objects: Sequence[DetectedObject],
    text_height_m: float = 0.03,
) -> Any:
    """
    Build a visualization_msgs/MarkerArray drawing each object's box and its name and id.

    The first marker is a DELETEALL, so the boxes of objects that vanished since the last array
    disappear; then per object a CUBE in namespace 'objects' (the box, in the object's colour,
    the instance's as in the label overlay, at ``OBJECT_MARKER_ALPHA``) and a TEXT_VIEW_FACING in
    'objects/labels' ('mug 3' above the box, white), both with ``id = marker_id``.

    :param types: the message classes (with visualization_msgs).
    :param header: the input's header, reused as is (also in each Marker).
    :param objects: the objects.
    :param text_height_m: height of the labels' letters, metres.
    :return: the MarkerArray.
    :raises MessageError: without visualization_msgs, or on a non-finite box.
    """
    if not types.has_markers:
        raise MessageError(
            'object_markers needs visualization_msgs, which these message types lack '
            '(install ros-<distro>-visualization-msgs, or use rosbag_types.typestore())'
        )
    cls = types.Marker
    markers = [_marker(types, header, '', 0, cls.DELETEALL, cls.DELETEALL)]
    white = (1.0, 1.0, 1.0, 1.0)
    for index, obj in enumerate(objects):
        box = _finite_box(obj, index)
        red, green, blue = (float(c) / 255 for c in obj.colour)
        rgba = (red, green, blue, OBJECT_MARKER_ALPHA)
        markers.append(
            _marker(
                types,
                header,
                'objects',
                obj.marker_id,
                cls.CUBE,
                cls.ADD,
                _pose(types, box.center_m, box.quaternion),
                np.maximum(box.size_m, 1e-3),  # RViz hides zero-size cubes
                rgba,
            )
        )
        top = box.corners()[:, 1].min() - text_height_m  # y points down: above the box
        label_at = np.array([box.center_m[0], top, box.center_m[2]])
        markers.append(
            _marker(
                types,
                header,
                'objects/labels',
                obj.marker_id,
                cls.TEXT_VIEW_FACING,
                cls.ADD,
                _pose(types, label_at, np.array([0.0, 0.0, 0.0, 1.0])),
                np.array([0.0, 0.0, text_height_m]),
                white,
                text=f'{obj.name} {obj.key}',
            )
        )
    return types.MarkerArray(markers=markers)


def _marker(
    types: MessageTypes,
    header: Any,
    namespace: str,
    marker_id: int,
    kind: int,
    action: int,
    pose: Any = None,
    scale: np.ndarray | None = None,
    rgba: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    text: str = '',
) -> Any:
    """Build one visualization_msgs/Marker with every field given (rosbags needs them all)."""
    r, g, b, a = (float(np.float32(c)) for c in rgba)  # ColorRGBA holds float32
    empty = np.zeros(0, dtype=np.uint8)
    return types.Marker(
        header=header,
        ns=namespace,
        id=int(marker_id),
        type=int(kind),
        action=int(action),
        pose=pose if pose is not None else _pose(types, np.zeros(3), np.array([0, 0, 0, 1.0])),
        scale=_vector3(types, np.zeros(3) if scale is None else scale),
        color=types.ColorRGBA(r=r, g=g, b=b, a=a),
        lifetime=types.Duration(sec=0, nanosec=0),
        frame_locked=False,
        points=[],
        colors=[],
        texture_resource='',
        texture=types.CompressedImage(header=header, format='', data=types.array_field(empty)),
        uv_coordinates=[],
        text=text,
        mesh_resource='',
        mesh_file=types.MeshFile(filename='', data=types.array_field(empty)),
        mesh_use_embedded_materials=False,
    )


def _vector3(types: MessageTypes, values: np.ndarray) -> Any:
    x, y, z = (float(v) for v in values)
    return types.Vector3(x=x, y=y, z=z)


def _finite_box(obj: DetectedObject, index: int) -> Any:
    box = obj.box
    for name, values in (('center_m', box.center_m), ('size_m', box.size_m)):
        if not np.isfinite(values).all():
            raise MessageError(f'objects[{index}].box.{name} must be finite, got {values}')
    return box


def _need_vision_msgs(types: MessageTypes, what: str) -> None:
    if not types.has_vision_msgs:
        raise MessageError(
            f'{what} needs vision_msgs, which these message types lack (install '
            'ros-<distro>-vision-msgs, or use rosbag_types.typestore())'
        )


# ---------------------------------------------------------------------------------------------
# diagnostic_msgs out


class DiagnosticLevel(enum.IntEnum):
    """The levels of diagnostic_msgs/DiagnosticStatus."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True)
class Diagnostic:
    """
    One diagnostic_msgs/DiagnosticStatus to publish.

    :ivar level: OK, WARN, ERROR or STALE (an int 0-3 is accepted).
    :ivar name: what is reported on, e.g. 'vision_banana: backend'.
    :ivar message: one line of human-readable state.
    :ivar hardware_id: the device or backend, e.g. its URL.
    :ivar values: key -> value pairs; values are written with ``str()``.
    """

    level: DiagnosticLevel
    name: str
    message: str = ''
    hardware_id: str = ''
    values: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, 'level', DiagnosticLevel(self.level))
        except ValueError as err:
            raise MessageError(
                f'level must be OK, WARN, ERROR or STALE (0-3), got {self.level!r}'
            ) from err


def diagnostic_array(types: MessageTypes, header: Any, statuses: Sequence[Diagnostic]) -> Any:
    """
    Build a diagnostic_msgs/DiagnosticArray.

    The level is the message class's own constant (``DiagnosticStatus.OK`` etc.), which rclpy
    holds as a 1-byte ``bytes`` and rosbags as an int.

    :param types: the message classes.
    :param header: the header to send (diagnostics carry the clock's time, see ``make_header``).
    :param statuses: the statuses, in order.
    :return: the DiagnosticArray.
    """
    status = [
        types.DiagnosticStatus(
            level=getattr(types.DiagnosticStatus, item.level.name),
            name=str(item.name),
            message=str(item.message),
            hardware_id=str(item.hardware_id),
            values=[
                types.KeyValue(key=str(key), value=str(value))
                for key, value in item.values.items()
            ],
        )
        for item in statuses
    ]
    return types.DiagnosticArray(header=header, status=status)


def _finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise MessageError(f'{name} must be finite, got {value}')
    return value
