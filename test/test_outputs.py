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

"""What the node publishes per frame: the objects topics, behind their setting."""

from __future__ import annotations

import numpy as np
from vision_banana_ros import messages
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.objects import ObjectBuilder
from vision_banana_ros.outputs import frame_messages, output_topics
from vision_banana_ros.pipeline.result import CameraFrame, InstanceMask, PerceptionResult
from vision_banana_ros.rosbag_types import typestore
from vision_banana_ros.settings import NodeConfig, Settings

K = CameraIntrinsics(200.0, 200.0, 79.5, 59.5, 160, 120)


def test_objects_topics_come_with_instances_or_referring_and_their_setting() -> None:
    def names(**values: object) -> set[str]:
        return {t.name for t in output_topics(Settings.from_parameters(values), True)}

    assert 'objects' not in names()
    instances = Settings.from_parameters({'tasks.instance_classes': ['mug']})
    assert 'objects' not in {t.name for t in output_topics(instances)}  # not asked for
    assert {'objects', 'objects/markers'} <= names(**{'tasks.instance_classes': ['mug']})
    assert {'objects', 'objects/markers'} <= names(**{'tasks.referring': ['the red mug']})
    assert 'objects' not in names(**{'tasks.instance_classes': ['mug'], 'objects.enabled': False})
    assert 'objects' not in names(**{'tasks.instance_classes': ['mug'], 'tasks.depth': False})


def test_frame_messages_carry_the_objects_with_the_input_header() -> None:
    store = typestore('jazzy')
    types = messages.MessageTypes.from_typestore(store)
    header = messages.make_header(types, 42, 'camera_optical')
    depth = np.full((120, 160), 2.0, dtype=np.float32)
    mask = np.zeros((120, 160), dtype=bool)
    mask[40:80, 50:110] = True
    depth[mask] = 1.0
    mug = InstanceMask('mug', 4, mask, int(mask.sum()), np.array([10, 200, 30], np.uint8))
    result = PerceptionResult(
        stamp_ns=42,
        frame_id='camera_optical',
        size=(120, 160),
        depth_m=depth,
        instance_ids=mask.astype(np.uint16) * 4,
        instances=(mug,),
    )
    rgb = np.zeros((120, 160, 3), dtype=np.uint8)
    objects = ObjectBuilder().for_frame(result, CameraFrame(rgb, K))
    assert objects is not None
    out = dict(frame_messages(types, header, result, rgb, K, NodeConfig(), objects=objects))
    detections, markers = out['objects'], out['objects/markers']
    assert [d.id for d in detections.detections] == ['4']
    assert detections.header is header and markers.markers[1].header is header
    assert [m.id for m in markers.markers] == [0, 4, 4]
    for topic in ('objects', 'objects/markers'):
        store.serialize_cdr(out[topic], out[topic].__msgtype__)
    assert 'objects' not in dict(frame_messages(types, header, result, rgb, K, NodeConfig()))
    assert ObjectBuilder().for_frame(result, CameraFrame(rgb)) is None  # no intrinsics
