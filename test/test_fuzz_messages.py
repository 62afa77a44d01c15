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
The inbound message conversions, fuzzed with what the wire can carry.

Every field holds a value of its ROS type (rclpy and the CDR decoders enforce the types), but
the values are arbitrary: sizes that disagree, non-finite numbers, random bytes for images. A
conversion either returns what it documents or raises ``MessageError``, which the node and the
bag command turn into a diagnostic; nothing else may escape.
"""

from __future__ import annotations

from types import SimpleNamespace

import cv2
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
from vision_banana_ros import messages
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.messages import MessageError

UINT32 = st.integers(0, 2**32 - 1)
SMALL = st.integers(0, 40)
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)
ENCODINGS = st.sampled_from([*messages.RGB_ENCODINGS, 'mono16', '32FC1', 'yuv422', '', 'RGB8'])


def _stamp() -> st.SearchStrategy[SimpleNamespace]:
    return st.builds(SimpleNamespace, sec=st.integers(-(2**31), 2**31 - 1), nanosec=UINT32)


@settings(max_examples=300, deadline=None)
@given(
    height=SMALL,
    width=SMALL,
    step=st.one_of(st.integers(0, 200), UINT32),
    encoding=ENCODINGS,
    data=st.binary(max_size=4000),
)
def test_any_image_message_converts_or_says_why(
    height: int, width: int, step: int, encoding: str, data: bytes
) -> None:
    msg = SimpleNamespace(height=height, width=width, step=step, encoding=encoding, data=data)
    try:
        rgb = messages.image_to_rgb(msg)
    except MessageError:
        return
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8


def _encoded(kind: str, seed: int, cut: float) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    _, encoded = cv2.imencode(kind, image)
    raw = encoded.tobytes()
    return raw[: int(len(raw) * cut)]


@settings(max_examples=200, deadline=None)
@given(
    fmt=st.sampled_from(['jpeg', 'png', 'rgb8; jpeg compressed bgr8', '', 'tiff']),
    data=st.one_of(
        st.binary(max_size=2000),
        st.builds(
            _encoded,
            st.sampled_from(['.jpg', '.png']),
            st.integers(0, 2**16),
            st.floats(0.0, 1.0),
        ),
    ),
)
def test_any_compressed_image_decodes_or_says_why(fmt: str, data: bytes) -> None:
    msg = SimpleNamespace(format=fmt, data=data)
    try:
        rgb = messages.compressed_to_rgb(msg)
    except MessageError:
        return
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8


@settings(max_examples=300, deadline=None)
@given(
    k=st.lists(ANY_FLOAT, min_size=9, max_size=9),
    p=st.lists(ANY_FLOAT, min_size=12, max_size=12),
    size=st.tuples(st.integers(0, 5000), st.integers(0, 5000)),
    binning=st.tuples(st.integers(0, 8), st.integers(0, 8)),
    roi=st.tuples(*[st.integers(0, 6000)] * 4),
    rectified=st.booleans(),
)
def test_any_camera_info_gives_intrinsics_or_says_why(
    k: list[float],
    p: list[float],
    size: tuple[int, int],
    binning: tuple[int, int],
    roi: tuple[int, int, int, int],
    rectified: bool,
) -> None:
    x, y, w, h = roi
    msg = SimpleNamespace(
        k=k,
        p=p,
        width=size[0],
        height=size[1],
        binning_x=binning[0],
        binning_y=binning[1],
        roi=SimpleNamespace(x_offset=x, y_offset=y, width=w, height=h),
    )
    try:
        intrinsics = messages.intrinsics_from_camera_info(msg, rectified)
    except MessageError:
        return
    assert isinstance(intrinsics, CameraIntrinsics)
    values = (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy)
    assert all(np.isfinite(values)) and intrinsics.fx > 0 and intrinsics.fy > 0
    assert intrinsics.width > 0 and intrinsics.height > 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=6),
            st.text(max_size=6),
            _stamp(),
            st.lists(ANY_FLOAT, min_size=3, max_size=3),
            st.lists(ANY_FLOAT, min_size=4, max_size=4),
        ),
        max_size=6,
    )
)
def test_any_tf_message_gives_valid_transforms_and_reasons(
    entries: list[tuple[str, str, SimpleNamespace, list[float], list[float]]],
) -> None:
    transforms = [
        SimpleNamespace(
            header=SimpleNamespace(frame_id=parent, stamp=stamp),
            child_frame_id=child,
            transform=SimpleNamespace(
                translation=SimpleNamespace(x=t[0], y=t[1], z=t[2]),
                rotation=SimpleNamespace(x=q[0], y=q[1], z=q[2], w=q[3]),
            ),
        )
        for parent, child, stamp, t, q in entries
    ]
    good, problems = messages.transforms_from_tf(SimpleNamespace(transforms=transforms))
    assert len(good) + len(problems) == len(entries)
    for transform in good:
        assert np.isfinite(transform.translation).all()
        assert abs(np.linalg.norm(transform.rotation) - 1.0) < 1e-9
        assert transform.parent and transform.child and transform.parent != transform.child
