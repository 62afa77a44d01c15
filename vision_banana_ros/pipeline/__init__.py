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
The perception pipeline: camera frames in, depth, normals, masks and labelled clouds out.

Shared by the ROS node, the command line and the server; nothing here imports ROS.
"""

from __future__ import annotations

from vision_banana_ros.pipeline.config import (
    CleanupConfig,
    ObjectsConfig,
    PipelineConfig,
    TasksConfig,
    UncertaintyConfig,
)
from vision_banana_ros.pipeline.perception import Pipeline, PipelineError, plan_prompts
from vision_banana_ros.pipeline.result import (
    CameraFrame,
    GeneratedImage,
    InstanceMask,
    PerceptionResult,
    ReferringMask,
    SemanticLabels,
)
from vision_banana_ros.smoothing import SmoothingConfig

__all__ = [
    'CameraFrame',
    'CleanupConfig',
    'GeneratedImage',
    'InstanceMask',
    'ObjectsConfig',
    'PerceptionResult',
    'Pipeline',
    'PipelineConfig',
    'PipelineError',
    'ReferringMask',
    'SemanticLabels',
    'SmoothingConfig',
    'TasksConfig',
    'UncertaintyConfig',
    'plan_prompts',
]
