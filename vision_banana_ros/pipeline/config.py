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
``PipelineConfig``: what the perception pipeline asks the generator for, and how it cleans up.

Sections mirror the YAML file and the ROS parameters one to one (``tasks.depth``,
``cleanup.depth_median_px``, ``uncertainty.samples``, ``smoothing.depth_window``,
``backend.local.steps``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

from vision_banana_ros.backends.config import BackendConfig
from vision_banana_ros.codecs.depth import DEPTH_COLORMAPS
from vision_banana_ros.codecs.errors import CodecError
from vision_banana_ros.codecs.segmentation import parse_colour
from vision_banana_ros.smoothing import SmoothingConfig

__all__ = [
    'CleanupConfig',
    'ObjectsConfig',
    'PipelineConfig',
    'SmoothingConfig',
    'TasksConfig',
    'UncertaintyConfig',
]


def _check(section: str, checks: dict[str, tuple[bool, object]]) -> None:
    bad = [f'{name}={value!r}' for name, (ok, value) in checks.items() if not ok]
    if bad:
        raise ValueError(f'{section}: invalid {", ".join(bad)}')


def _count(value: object, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _colour_ok(text: str) -> bool:
    try:
        parse_colour(text)
    except CodecError:
        return False
    return True


@dataclass(frozen=True)
class TasksConfig:
    """
    Which perception tasks run on every frame; each becomes one prompt (times the samples).

    :ivar depth: metric depth.
    :ivar depth_colormap: the colormap the depth prompt names: 'cube' (the paper's walk) or
        one of ``DEPTH_COLORMAPS``.
    :ivar normals: surface normals.
    :ivar semantic_classes: class names for semantic segmentation, in label-id order (label
        i is ``semantic_classes[i - 1]``, 0 unlabelled); empty: no semantic prompt.
    :ivar semantic_colours: one colour per class as a prompt writes it ('red', '#ff0000',
        '(255, 0, 0)'); empty: an automatic palette of maximally distinct colours.
    :ivar instance_classes: classes whose instances are segmented, one prompt each.
    :ivar instance_background: the background colour of instance prompts.
    :ivar referring: referring expressions, one prompt each ('the red mug left of the bowl').
    :ivar referring_colour: the colour a referring prompt paints the object in.
    :ivar referring_background: the colour of everything else.
    :ivar prompt_variant: index of the paraphrase ``build_prompt`` writes; 0 is the paper's
        wording (what Gemini-based Vision Banana was tuned on).
    """

    depth: bool = True
    depth_colormap: str = 'cube'
    normals: bool = True
    semantic_classes: tuple[str, ...] = ()
    semantic_colours: tuple[str, ...] = ()
    instance_classes: tuple[str, ...] = ()
    instance_background: str = 'black'
    referring: tuple[str, ...] = ()
    referring_colour: str = 'white'
    referring_background: str = 'black'
    prompt_variant: int = 0

    def __post_init__(self) -> None:
        colours_match = not self.semantic_colours or len(self.semantic_colours) == len(
            self.semantic_classes
        )
        _check(
            'tasks',
            {
                'depth_colormap': (self.depth_colormap in DEPTH_COLORMAPS, self.depth_colormap),
                'semantic_classes': (
                    len(set(self.semantic_classes)) == len(self.semantic_classes),
                    self.semantic_classes,
                ),
                'semantic_colours': (
                    colours_match and all(_colour_ok(c) for c in self.semantic_colours),
                    self.semantic_colours,
                ),
                'instance_classes': (
                    len(set(self.instance_classes)) == len(self.instance_classes),
                    self.instance_classes,
                ),
                'instance_background': (
                    _colour_ok(self.instance_background),
                    self.instance_background,
                ),
                'referring_colour': (_colour_ok(self.referring_colour), self.referring_colour),
                'referring_background': (
                    _colour_ok(self.referring_background),
                    self.referring_background,
                ),
                'prompt_variant': (_count(self.prompt_variant), self.prompt_variant),
            },
        )
        if not self.any_task:
            raise ValueError('tasks: no task enabled; enable depth, normals or name some classes')

    @property
    def any_task(self) -> bool:
        """Whether at least one prompt would be sent."""
        return bool(
            self.depth
            or self.normals
            or self.semantic_classes
            or self.instance_classes
            or self.referring
        )


@dataclass(frozen=True)
class CleanupConfig:
    """
    Clean-up of generation artefacts at model resolution; 0 turns a step off.

    :ivar mask_min_component_px: pieces of a label, instance or referring mask smaller than
        this (model pixels) are dropped.
    :ivar mask_max_hole_px: unlabelled holes up to this size (model pixels) inside masks are
        filled from the nearest label.
    :ivar depth_median_px: window of the NaN-aware median filter on depth (odd; 0 or 1 off).
    :ivar normals_smooth_px: window of the edge-preserving normal smoothing (odd; 0 or 1 off).
    :ivar normals_sigma_deg: angular scale of that smoothing.
    :ivar depth_max_step: relative depth step above which resizing to the camera does not
        interpolate (no flying pixels across edges).
    """

    mask_min_component_px: int = 6
    mask_max_hole_px: int = 6
    depth_median_px: int = 3
    normals_smooth_px: int = 3
    normals_sigma_deg: float = 12.0
    depth_max_step: float = 0.05

    def __post_init__(self) -> None:
        def odd_window(value: int) -> bool:
            return _count(value) and (value <= 1 or value % 2 == 1)

        _check(
            'cleanup',
            {
                'mask_min_component_px': (
                    _count(self.mask_min_component_px),
                    self.mask_min_component_px,
                ),
                'mask_max_hole_px': (_count(self.mask_max_hole_px), self.mask_max_hole_px),
                'depth_median_px': (odd_window(self.depth_median_px), self.depth_median_px),
                'normals_smooth_px': (odd_window(self.normals_smooth_px), self.normals_smooth_px),
                'normals_sigma_deg': (
                    math.isfinite(self.normals_sigma_deg) and self.normals_sigma_deg > 0,
                    self.normals_sigma_deg,
                ),
                'depth_max_step': (
                    math.isfinite(self.depth_max_step) and self.depth_max_step >= 0,
                    self.depth_max_step,
                ),
            },
        )


@dataclass(frozen=True)
class UncertaintyConfig:
    """
    Per-pixel uncertainty from several samples of each prompt (stochastic backends only).

    :ivar samples: K samples per prompt with different noise, all in the one batch; 1 off.
    :ivar depth_spread_scale: relative spread (std / mean) of the depth samples at which the
        published depth confidence is multiplied by exp(-0.5).
    :ivar normals_spread_scale_deg: mean angle of the normal samples to their mean at which
        the normal confidence is multiplied by exp(-0.5).
    """

    samples: int = 1
    depth_spread_scale: float = 0.05
    normals_spread_scale_deg: float = 10.0

    def __post_init__(self) -> None:
        _check(
            'uncertainty',
            {
                'samples': (_count(self.samples, 1) and self.samples <= 16, self.samples),
                'depth_spread_scale': (
                    math.isfinite(self.depth_spread_scale) and self.depth_spread_scale > 0,
                    self.depth_spread_scale,
                ),
                'normals_spread_scale_deg': (
                    math.isfinite(self.normals_spread_scale_deg)
                    and self.normals_spread_scale_deg > 0,
                    self.normals_spread_scale_deg,
                ),
            },
        )


@dataclass(frozen=True)
class ObjectsConfig:
    """
    How objects (oriented 3D boxes, ``objects.py``) are built from masks, depth and normals.

    :ivar enabled: build objects at all (needs depth, intrinsics and instance classes or
        referring expressions).
    :ivar erode_px: pixels eroded off every mask's border before fitting (for masks that bleed
        onto a surface continuous in depth with the object, which the edge test cannot see);
        the extents are grown back by what this removes. 0 (the default) keeps the border: the
        edge test already rejects the flying pixels and the background a mask bled onto.
    :ivar edge_step: relative depth difference to a 4-neighbour above which the farther pixel
        of the two sits behind a depth discontinuity and is rejected (flying pixels, background;
        an object's own rim, the nearer side, is kept); 0 turns the check off.
    :ivar depth_gate_mads: points further than this many scaled median absolute deviations (and
        than ``edge_step`` of the median) from the object's median depth are rejected (a mask
        that bled onto the background); 0 turns the gate off.
    :ivar min_points: objects with fewer points left are dropped ('too few points').
    :ivar min_fill: objects whose points cover less than this fraction of their mask's pixels
        are dropped ('too sparse'); in [0, 1].
    :ivar extent_percentile: extents span the p-th to (100 - p)-th percentile of the points
        along each axis (robust to stray points); 0 for the full range, at most 10.
    :ivar box_smoothing: weight of a track's previous box (carried by the camera's motion) in
        its new one: centre, centroid, extents and rotation are blended, so a static object's
        box holds still while the generator flickers; in [0, 1), 0 turns it off. A track
        follows a moving object with a lag of ``w / (1 - w)`` frames of its motion.
    :ivar box_gate: a track whose centroid moved further than this fraction of its distance
        from the camera since the previous frame (after the camera's motion) starts afresh
        (a moved object is not dragged); > 0.
    """

    enabled: bool = True
    erode_px: int = 0
    edge_step: float = 0.03
    depth_gate_mads: float = 6.0
    min_points: int = 30
    min_fill: float = 0.2
    extent_percentile: float = 0.5
    box_smoothing: float = 0.5
    box_gate: float = 0.2

    def __post_init__(self) -> None:
        def within(value: float, low: float, high: float) -> bool:
            return math.isfinite(value) and low <= value <= high

        _check(
            'objects',
            {
                'enabled': (isinstance(self.enabled, bool), self.enabled),
                'erode_px': (_count(self.erode_px) and self.erode_px <= 50, self.erode_px),
                'edge_step': (within(self.edge_step, 0.0, 0.99), self.edge_step),
                'depth_gate_mads': (
                    within(self.depth_gate_mads, 0.0, math.inf),
                    self.depth_gate_mads,
                ),
                'min_points': (_count(self.min_points, 1), self.min_points),
                'min_fill': (within(self.min_fill, 0.0, 1.0), self.min_fill),
                'extent_percentile': (
                    within(self.extent_percentile, 0.0, 10.0),
                    self.extent_percentile,
                ),
                'box_smoothing': (
                    within(self.box_smoothing, 0.0, 1.0) and self.box_smoothing < 1.0,
                    self.box_smoothing,
                ),
                'box_gate': (
                    within(self.box_gate, 0.0, math.inf) and self.box_gate > 0,
                    self.box_gate,
                ),
            },
        )


@dataclass(frozen=True)
class PipelineConfig:
    """
    The whole pipeline: tasks, clean-up, uncertainty, smoothing, objects, model size, backend.

    :ivar tasks: what is asked for.
    :ivar cleanup: artefact clean-up.
    :ivar uncertainty: sampling for per-pixel spread.
    :ivar smoothing: temporal smoothing of consecutive frames of each camera (``frame_id``),
        on by default: depth, normals and labels that do not flicker, stable instance ids.
    :ivar objects: 3D boxes of every instance and referring expression (when intrinsics are
        given and depth is asked), for grasp planners.
    :ivar model_height: rows of the image sent to the generator; 0 for the backend's own
        resolution (or the camera's, for backends that take any size).
    :ivar model_width: columns, likewise.
    :ivar cloud: build the organised labelled point cloud when intrinsics are given.
    :ivar backend: the generator backend.
    """

    tasks: TasksConfig = field(default_factory=TasksConfig)
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    objects: ObjectsConfig = field(default_factory=ObjectsConfig)
    model_height: int = 0
    model_width: int = 0
    cloud: bool = True
    backend: BackendConfig = field(default_factory=BackendConfig)

    def __post_init__(self) -> None:
        sizes_given = (self.model_height > 0) == (self.model_width > 0)
        _check(
            'pipeline',
            {
                'model_height': (_count(self.model_height) and sizes_given, self.model_height),
                'model_width': (_count(self.model_width) and sizes_given, self.model_width),
            },
        )
