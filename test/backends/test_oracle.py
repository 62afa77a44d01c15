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

"""The oracle: a perfect generator for scenes it rendered, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vision_banana_ros.backends import BackendInputError
from vision_banana_ros.backends.oracle import OracleBackend
from vision_banana_ros.codecs.depth import decode_depth
from vision_banana_ros.codecs.normals import decode_normals
from vision_banana_ros.codecs.segmentation import decode_instances, decode_referring
from vision_banana_ros.letterbox import Letterbox
from vision_banana_ros.pipeline.resample import resize_depth
from vision_banana_ros.prompts import build_prompt, TaskSpec


@pytest.fixture(scope='module')
def oracle() -> OracleBackend:
    return OracleBackend.from_seeds([11, 12], width=160, height=120, mode='tabletop')


def test_at_the_camera_size_it_draws_the_exact_ground_truth(oracle: OracleBackend) -> None:
    frame = oracle.frames[1]
    prompts = [build_prompt(TaskSpec('depth')), build_prompt(TaskSpec('normals'))]
    depth_rgb, normals_rgb = oracle.generate(frame.rgb[None], prompts)
    depth = decode_depth(depth_rgb).depth_m
    assert isinstance(depth, torch.Tensor)
    relative = ((depth - frame.depth_m).abs() / frame.depth_m).nan_to_num()
    assert float(relative.max()) < 0.005  # the codec's own quantisation, nothing else
    normals = decode_normals(normals_rgb).normals
    assert isinstance(normals, torch.Tensor)
    cos = (normals * frame.normals).sum(-1).nan_to_num(1.0)
    assert float(cos.min()) > 0.999


def test_at_model_size_it_renders_the_letterboxed_view(oracle: OracleBackend) -> None:
    frame = oracle.frames[0]
    box = Letterbox.fit((120, 160), (64, 64))
    request = box.to_model(frame.rgb[None])
    (drawn,) = oracle.generate(request, [build_prompt(TaskSpec('depth'))])
    depth = decode_depth(box.crop(drawn)).depth_m
    assert isinstance(depth, torch.Tensor) and depth.shape == box.content_size
    back = resize_depth(depth, (120, 160))
    close = ((back - frame.depth_m).abs() / frame.depth_m < 0.05).float().mean()
    assert float(close) > 0.9, 'the same scene, seen at the lower resolution'


def test_each_image_is_matched_to_its_own_scene(oracle: OracleBackend) -> None:
    images = torch.stack([oracle.frames[1].rgb, oracle.frames[0].rgb])
    prompt = build_prompt(TaskSpec('depth'))
    first, second = oracle.generate(images, [prompt, prompt])
    alone = oracle.generate(oracle.frames[0].rgb[None], [prompt])[0]
    assert torch.equal(second, alone) and not torch.equal(first, second)


def test_instances_and_referring_follow_the_prompt(oracle: OracleBackend) -> None:
    frame = oracle.frames[0]
    reference = oracle.references[0][0]
    class_name = frame.scene.find(reference.instance_id).class_name
    prompts = [
        build_prompt(TaskSpec('instance', class_name=class_name)),
        build_prompt(TaskSpec('referring', expression=reference.expression)),
        build_prompt(TaskSpec('referring', expression='the flying saucer')),
    ]
    instances, found, missing = oracle.generate(frame.rgb[None], prompts)
    members = {o.instance_id for o in frame.scene.objects if o.class_name == class_name}
    visible = {int(i) for i in torch.unique(frame.instances).tolist()} & members
    decoded = decode_instances(instances)
    assert len(np.asarray(decoded.areas_px)) == len(visible)
    mask = decode_referring(found)
    assert isinstance(mask, torch.Tensor)
    assert torch.equal(mask, frame.instances == reference.instance_id)
    assert not bool(decode_referring(missing).any())


def test_unknown_images_and_prompts_are_refused(oracle: OracleBackend) -> None:
    noise = torch.randint(0, 256, (1, 120, 160, 3), dtype=torch.uint8)
    with pytest.raises(BackendInputError, match='knows no scene'):
        oracle.generate(noise, [build_prompt(TaskSpec('depth'))])
    with pytest.raises(BackendInputError, match='cannot read the prompt'):
        oracle.generate(oracle.frames[0].rgb[None], ['Make the table red.'])
    with pytest.raises(ValueError, match='at least one scene'):
        OracleBackend([])
