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
Evaluation metrics (pure functions, torch-first, numpy accepted) and the one harness.

- :mod:`.depth`: AbsRel, SqRel, RMSE, RMSE log, log10, delta1/2/3; crops, caps, alignment.
- :mod:`.normals`: angular error; mean, median, RMSE, % within 11.25 / 22.5 / 30 degrees.
- :mod:`.segmentation`: mIoU, pixel accuracy, cIoU / gIoU, instance F1.
- :mod:`.harness`: ``evaluate`` a predictor over ``datasets.Frame`` s; ``codec_sanity``.
"""

from vision_banana_ros.metrics.depth import (
    depth_metrics,
    DepthMetrics,
    DepthProtocol,
    KITTI_PROTOCOL,
    mean_depth_metrics,
    NYU_PROTOCOL,
)
from vision_banana_ros.metrics.errors import MetricError
from vision_banana_ros.metrics.harness import (
    codec_sanity,
    evaluate,
    EvaluationReport,
    Prediction,
)
from vision_banana_ros.metrics.normals import angular_error_deg, normal_metrics, NormalMetrics
from vision_banana_ros.metrics.segmentation import (
    confusion_matrix,
    instance_metrics,
    match_instances,
    referring_metrics,
    semantic_metrics,
)

__all__ = [
    'KITTI_PROTOCOL',
    'NYU_PROTOCOL',
    'DepthMetrics',
    'DepthProtocol',
    'EvaluationReport',
    'MetricError',
    'NormalMetrics',
    'Prediction',
    'angular_error_deg',
    'codec_sanity',
    'confusion_matrix',
    'depth_metrics',
    'evaluate',
    'instance_metrics',
    'match_instances',
    'mean_depth_metrics',
    'normal_metrics',
    'referring_metrics',
    'semantic_metrics',
]
