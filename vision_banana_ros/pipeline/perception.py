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
``Pipeline``: a camera frame in, prompts to a generator backend, decoded perception out.

For each frame: letterbox the image to the model resolution (scale and pad, never stretch);
send every prompt, times the samples, to the backend as one batch; crop the padding; decode on
the backend's device; clean up at model resolution; resize the decoded quantities (never the
colours) to the camera; smooth them over the camera's recent frames (``smoothing.py``, one
history per ``frame_id``); build the labelled point cloud, from the smoothed arrays, when
intrinsics are given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
import math
import time

import numpy as np
import torch
from vision_banana_ros.backends import Backend, create_backend
from vision_banana_ros.backends.base import Closeable
from vision_banana_ros.codecs.depth import decode_depth
from vision_banana_ros.codecs.normals import decode_normals
from vision_banana_ros.codecs.segmentation import (
    decode_instances,
    decode_semantic,
    distinct_palette,
    parse_colour,
    Rgb,
)
from vision_banana_ros.geometry import organised_cloud
from vision_banana_ros.letterbox import Letterbox
from vision_banana_ros.pipeline.cleanup import clean_labels, median_depth, smooth_normals
from vision_banana_ros.pipeline.config import PipelineConfig, TasksConfig
from vision_banana_ros.pipeline.resample import (
    planar_length,
    resize_depth,
    resize_labels,
    resize_normals,
    resize_scalar,
)
from vision_banana_ros.pipeline.result import (
    CameraFrame,
    GeneratedImage,
    InstanceMask,
    PerceptionResult,
    ReferringMask,
    SemanticLabels,
)
from vision_banana_ros.prompts import build_prompt, PromptError, TaskSpec
from vision_banana_ros.smoothing import check_motion, TemporalSmoother

__all__ = ['Pipeline', 'PipelineError', 'PlannedPrompt', 'plan_prompts']

MIN_FRAME_SIDE = 8
"""Smallest camera image side in pixels the pipeline accepts."""


class PipelineError(ValueError):
    """A camera frame or its intrinsics cannot be processed."""


@dataclass(frozen=True)
class PlannedPrompt:
    """
    One prompt the pipeline sends for every frame.

    :ivar spec: what it asks for.
    :ivar text: the prompt as sent.
    """

    spec: TaskSpec
    text: str


def plan_prompts(tasks: TasksConfig) -> tuple[PlannedPrompt, ...]:
    """
    Write the prompts a task config asks for, in a fixed order.

    Order: depth, normals, semantic, one instance prompt per class, one referring prompt per
    expression.

    :param tasks: the task config.
    :return: the prompts.
    :raises ValueError: if a class name or expression cannot go into a prompt.
    """
    specs: list[TaskSpec] = []
    try:
        if tasks.depth:
            specs.append(TaskSpec('depth', colormap=tasks.depth_colormap))
        if tasks.normals:
            specs.append(TaskSpec('normals'))
        if tasks.semantic_classes:
            specs.append(TaskSpec('semantic', class_colours=_semantic_colours(tasks)))
        background = parse_colour(tasks.instance_background)
        specs += [
            TaskSpec('instance', class_name=name, background=background)
            for name in tasks.instance_classes
        ]
        target, behind = (
            parse_colour(tasks.referring_colour),
            parse_colour(tasks.referring_background),
        )
        specs += [
            TaskSpec('referring', expression=text, target=target, background=behind)
            for text in tasks.referring
        ]
        return tuple(
            PlannedPrompt(spec, build_prompt(spec, tasks.prompt_variant)) for spec in specs
        )
    except PromptError as err:
        raise ValueError(f'tasks: {err}') from err


def _semantic_colours(tasks: TasksConfig) -> tuple[tuple[str, Rgb], ...]:
    if tasks.semantic_colours:
        colours = [parse_colour(c) for c in tasks.semantic_colours]
    else:
        palette = distinct_palette(len(tasks.semantic_classes)).tolist()
        colours = [(int(r), int(g), int(b)) for r, g, b in palette]
    return tuple(zip(tasks.semantic_classes, colours, strict=True))


class Pipeline(Closeable):
    """
    The ROS-free perception engine shared by the node, the command line and the server.

    Example::

        with Pipeline(PipelineConfig(tasks=TasksConfig(semantic_classes=('mug', 'table')))) as p:
            result = p.process(CameraFrame(rgb, intrinsics))
            result.depth_m, result.semantic.labels, result.cloud
    """

    def __init__(self, config: PipelineConfig | None = None, backend: Backend | None = None):
        """
        Plan the prompts and set up the backend.

        :param config: the pipeline config; None for the defaults (depth and normals on the
            embedded VB-Mini).
        :param backend: a backend to use instead of the one ``config.backend`` names.
        :raises ValueError: if the config asks for several samples from a backend that
            ignores seeds, or names classes that cannot go into a prompt.
        :raises BackendError: if the configured backend cannot be set up.
        """
        self.config = config or PipelineConfig()
        self.prompts = plan_prompts(self.config.tasks)
        self.backend = backend or create_backend(self.config.backend)
        samples = self.config.uncertainty.samples
        if samples > 1 and not self.backend.stochastic:
            raise ValueError(
                f'uncertainty.samples={samples} needs a stochastic backend; '
                f'{self.backend.description} ignores seeds'
            )
        self._letterboxes: dict[tuple[int, int], Letterbox] = {}
        self._smoothers: dict[str, TemporalSmoother] = {}
        self._staging: dict[tuple[int, ...], torch.Tensor] = {}  # pinned host buffers (CUDA)

    @property
    def model_size(self) -> tuple[int, int] | None:
        """Return the (h, w) frames are letterboxed to; None: the camera's own size."""
        if self.config.model_height:
            return self.config.model_height, self.config.model_width
        return self.backend.resolution

    def letterbox(self, camera_size: tuple[int, int]) -> Letterbox:
        """
        Return the letterbox used for camera images of one size.

        :param camera_size: (H, W).
        :return: the (cached) letterbox.
        """
        if camera_size not in self._letterboxes:
            model = self.model_size or camera_size
            self._letterboxes[camera_size] = Letterbox.fit(camera_size, model)
        return self._letterboxes[camera_size]

    def process(self, frame: CameraFrame) -> PerceptionResult:
        """
        Run every configured task on one camera frame.

        With ``smoothing.enabled`` the result is smoothed with the earlier frames of the same
        ``frame_id`` (the first frame, and the first after ``reset``, pass through); feed each
        camera's frames in order.

        :param frame: the frame; its intrinsics, if given, must be for its size.
        :return: the decoded perception at the camera's resolution.
        :raises PipelineError: on a malformed frame or motion, or intrinsics for another size.
        :raises BackendError: if the generator fails (unreachable, refused, bad output).
        """
        return self.process_batch([frame])[0]

    def process_batch(self, frames: Sequence[CameraFrame]) -> list[PerceptionResult]:
        """
        Run every configured task on several cameras' frames with one generator call.

        Frames that letterbox to the same model size (all of them, for a backend with a fixed
        resolution) share one ``Backend.generate`` call: every frame's prompts in one batch.

        :param frames: one frame per camera (distinct ``frame_id``s keep distinct histories).
        :return: one result per frame, in order; ``timings_ms['generate']`` is the shared call.
        :raises PipelineError: on a malformed frame, motion or intrinsics (before any work).
        :raises BackendError: if the generator fails.
        """
        for frame in frames:
            _check_frame(frame)
        clock = _Clock(self.backend.device)
        boxes = [self.letterbox(tuple(frame.rgb.shape[:2])) for frame in frames]
        letterboxed = [
            box.to_model(self._to_device(index, frame.rgb))
            for index, (frame, box) in enumerate(zip(frames, boxes, strict=True))
        ]  # (1, h, w, 3) each
        clock.lap('letterbox')
        drawn: dict[int, torch.Tensor] = {}
        for size in dict.fromkeys(box.model_size for box in boxes):
            members = [i for i, box in enumerate(boxes) if box.model_size == size]
            images = [letterboxed[i] for i in members]
            for index, out in zip(members, self._generate(images), strict=True):
                drawn[index] = out
        clock.lap('generate')
        shared = dict(clock.laps)
        return [
            self._finish(frame, box, letterboxed[i], drawn[i], _Clock(self.backend.device, shared))
            for i, (frame, box) in enumerate(zip(frames, boxes, strict=True))
        ]

    def _to_device(self, index: int, rgb: np.ndarray) -> torch.Tensor:
        """
        Put the camera image of batch slot ``index`` on the backend's device: (1, H, W, 3).

        To CUDA it goes through a pinned host buffer kept per slot and size, asynchronously;
        the buffer is rewritten only by a later call, after this one's results were copied back
        (which waits for the device), so a copy in flight is never overwritten.
        """
        device = self.backend.device
        tensor = torch.from_numpy(np.ascontiguousarray(rgb))[None]
        if device.type != 'cuda':
            return tensor.to(device)
        key = (index, *tensor.shape)
        staging = self._staging.get(key)
        if staging is None:
            staging = self._staging[key] = torch.empty_like(tensor).pin_memory()
        staging.copy_(tensor)
        return staging.to(device, non_blocking=True)

    def _generate(self, letterboxed: list[torch.Tensor]) -> list[torch.Tensor]:
        """One backend call for same-sized (1, h, w, 3) images: (P K, h, w, 3) uint8 each."""
        samples = self.config.uncertainty.samples
        texts = [p.text for p in self.prompts for _ in range(samples)]
        seeds = list(range(samples)) * len(self.prompts) if samples > 1 else None
        per_frame, count = len(texts), len(letterboxed)
        if count == 1:
            images = letterboxed[0]  # one image shared by all prompts: encoded once
        else:
            images = torch.cat([image.expand(per_frame, -1, -1, -1) for image in letterboxed])
        drawn = self.backend.generate(
            images, texts * count, None if seeds is None else seeds * count
        )
        return list(drawn.chunk(count))  # (P K, h, w, 3) per frame, in order

    def _finish(
        self,
        frame: CameraFrame,
        box: Letterbox,
        letterboxed: torch.Tensor,
        drawn: torch.Tensor,
        clock: _Clock,
    ) -> PerceptionResult:
        """Decode, clean and smooth at model resolution; resize; build the cloud."""
        height, width = frame.rgb.shape[:2]
        samples = self.config.uncertainty.samples
        content = box.crop(drawn).reshape(len(self.prompts), samples, *box.content_size, 3)
        decoded = _Decoded(self.config)
        for planned, rgb in zip(self.prompts, content, strict=True):
            decoded.add(planned.spec, rgb, clock)  # rgb (K, ch, cw, 3)
        result = decoded.result(frame, box.content_size, self.backend.description)
        if self.config.smoothing.enabled:
            smoother = self._smoothers.get(frame.frame_id)
            if smoother is None:
                smoother = self._smoothers[frame.frame_id] = TemporalSmoother(
                    self.config.smoothing
                )
            # At model resolution (a fraction of the camera's pixels), in place: the decoded
            # arrays are this call's own, and only the smoothed ones leave.
            intrinsics = (
                None if frame.intrinsics is None else box.content_intrinsics(frame.intrinsics)
            )
            image = box.crop(letterboxed[0]).cpu().numpy()  # (ch, cw, 3) uint8
            result = smoother.update(result, intrinsics, frame.motion, rgb=image, in_place=True)
            clock.lap('smooth')
        result = _to_camera(
            result, (height, width), self.config.cleanup.depth_max_step, self.backend.device
        )
        clock.lap('resize')
        cloud = None
        if self.config.cloud and frame.intrinsics is not None and result.depth_m is not None:
            semantic = result.semantic
            cloud = organised_cloud(
                result.depth_m,
                frame.intrinsics,
                rgb=frame.rgb,
                label=None if semantic is None else semantic.labels.astype(np.uint32),
                instance=result.instance_ids,
                normals=result.normals,
                confidence=result.depth_confidence,
            )
            clock.lap('cloud')
        generated = tuple(
            GeneratedImage(p.spec.task, p.text, drawn[i * samples].cpu().numpy())
            for i, p in enumerate(self.prompts)
        )
        return replace(result, cloud=cloud, generated=generated, timings_ms=clock.finish())

    def reset(self) -> None:
        """Forget every camera's history: the next frame of each passes through unsmoothed."""
        self._smoothers.clear()

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()


def _check_frame(frame: object) -> None:
    if not isinstance(frame, CameraFrame):
        raise PipelineError(f'expected a CameraFrame, got {type(frame).__name__}')
    rgb = frame.rgb
    if not isinstance(rgb, np.ndarray):
        raise PipelineError(f'frame.rgb must be a numpy array, got {type(rgb).__name__}')
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise PipelineError(f'frame.rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}')
    if min(rgb.shape[:2]) < MIN_FRAME_SIDE:
        raise PipelineError(
            f'frame.rgb is {rgb.shape[1]}x{rgb.shape[0]}; each side must be >= {MIN_FRAME_SIDE}'
        )
    intrinsics = frame.intrinsics
    if intrinsics is not None and (intrinsics.height, intrinsics.width) != rgb.shape[:2]:
        raise PipelineError(
            f'intrinsics are for {intrinsics.width}x{intrinsics.height}, '
            f'the image is {rgb.shape[1]}x{rgb.shape[0]}'
        )
    try:
        check_motion(frame.motion)
    except ValueError as err:
        raise PipelineError(f'frame.{err}') from err


class _Clock:
    """Per-stage wall time; synchronises CUDA so each stage is charged its own kernels."""

    def __init__(self, device: torch.device, laps: dict[str, float] | None = None) -> None:
        self._sync: Callable[[], None] = (
            torch.cuda.synchronize if device.type == 'cuda' else lambda: None
        )
        self._start = self._last = time.perf_counter()
        self.laps: dict[str, float] = dict(laps or {})
        self._before = sum(self.laps.values())  # time spent on shared stages before this clock

    def lap(self, stage: str) -> None:
        self._sync()
        now = time.perf_counter()
        self.laps[stage] = self.laps.get(stage, 0.0) + (now - self._last) * 1e3
        self._last = now

    def finish(self) -> dict[str, float]:
        self.lap('other')
        self.laps['total'] = self._before + (self._last - self._start) * 1e3
        return self.laps


class _Decoded:
    """Decodes and cleans each prompt's samples at model resolution; collects numpy results."""

    def __init__(self, config: PipelineConfig) -> None:
        self.cleanup = config.cleanup
        self.uncertainty = config.uncertainty
        self.depth_m: np.ndarray | None = None
        self.depth_confidence: np.ndarray | None = None
        self.depth_spread: np.ndarray | None = None
        self.normals: np.ndarray | None = None
        self.normals_confidence: np.ndarray | None = None
        self.normals_spread_deg: np.ndarray | None = None
        self.semantic: SemanticLabels | None = None
        self.instance_ids: np.ndarray | None = None
        self.instances: list[InstanceMask] = []
        self.referring: list[ReferringMask] = []

    def add(self, spec: TaskSpec, rgb: torch.Tensor, clock: _Clock) -> None:
        """Decode one prompt's (K, ch, cw, 3) samples into the results."""
        {
            'depth': self._depth,
            'normals': self._normals,
            'semantic': self._semantic,
            'instance': self._instance,
            'referring': self._referring,
        }[spec.task](spec, rgb, clock)

    def result(self, frame: CameraFrame, size: tuple[int, int], backend: str) -> PerceptionResult:
        """Return what was decoded as a (ch, cw) result for ``frame``."""
        return PerceptionResult(
            stamp_ns=frame.stamp_ns,
            frame_id=frame.frame_id,
            size=size,
            depth_m=self.depth_m,
            depth_confidence=self.depth_confidence,
            depth_spread=self.depth_spread,
            normals=self.normals,
            normals_confidence=self.normals_confidence,
            normals_spread_deg=self.normals_spread_deg,
            semantic=self.semantic,
            instance_ids=self.instance_ids,
            instances=tuple(self.instances),
            referring=tuple(self.referring),
            backend=backend,
        )

    def _depth(self, spec: TaskSpec, rgb: torch.Tensor, clock: _Clock) -> None:
        decoded = decode_depth(rgb, spec.colormap)
        depth, confidence = decoded.depth_m, decoded.confidence  # (K, ch, cw) each
        assert isinstance(depth, torch.Tensor) and isinstance(confidence, torch.Tensor)
        mean = depth.nanmean(0)
        confidence = confidence.mean(0)
        spread = None
        if depth.shape[0] > 1:
            deviation = (depth - mean).square().nanmean(0).sqrt()
            spread = deviation / mean
            scale = self.uncertainty.depth_spread_scale
            confidence = confidence * torch.exp(-0.5 * (torch.nan_to_num(spread) / scale) ** 2)
        clock.lap('decode')
        mean = median_depth(mean, self.cleanup.depth_median_px)
        self.depth_m = _numpy(mean)
        self.depth_confidence = _numpy(confidence)
        self.depth_spread = None if spread is None else _numpy(spread)
        clock.lap('cleanup')

    def _normals(self, spec: TaskSpec, rgb: torch.Tensor, clock: _Clock) -> None:
        decoded = decode_normals(rgb)
        vectors, confidence = decoded.normals, decoded.confidence  # (K, ch, cw, 3), (K, ch, cw)
        assert isinstance(vectors, torch.Tensor) and isinstance(confidence, torch.Tensor)
        planar = vectors.permute(0, 3, 1, 2)  # (K, 3, ch, cw)
        mean = planar.nanmean(0)
        mean = mean / planar_length(mean).clamp_min(1e-6)  # (3, ch, cw)
        confidence = confidence.mean(0)
        spread = None
        if planar.shape[0] > 1:
            cos = (planar * mean).sum(1).clamp(-1.0, 1.0)  # (K, ch, cw)
            spread = torch.rad2deg(torch.arccos(cos)).nanmean(0)
            scale = self.uncertainty.normals_spread_scale_deg
            confidence = confidence * torch.exp(-0.5 * (torch.nan_to_num(spread) / scale) ** 2)
        clock.lap('decode')
        mean = smooth_normals(mean, self.cleanup.normals_smooth_px, self.cleanup.normals_sigma_deg)
        self.normals = _numpy(mean).transpose(1, 2, 0)  # (ch, cw, 3), planar in memory
        self.normals_confidence = _numpy(confidence)
        self.normals_spread_deg = None if spread is None else _numpy(spread)
        clock.lap('cleanup')

    def _vote(
        self, rgb: torch.Tensor, class_colours: tuple[tuple[str, Rgb], ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest-colour labels of K samples, their majority, and confidence x agreement."""
        decoded = decode_semantic(rgb, class_colours, max_distance_rgb=math.inf)
        labels, confidence = decoded.labels, decoded.confidence  # (K, ch, cw) each
        assert isinstance(labels, torch.Tensor) and isinstance(confidence, torch.Tensor)
        votes = labels.long()
        confidence = confidence.mean(0)
        if votes.shape[0] > 1:
            counts = torch.nn.functional.one_hot(votes, len(class_colours) + 1).sum(0)
            best = counts.max(-1)
            votes, confidence = best.indices[None], confidence * best.values / votes.shape[0]
        return votes[0].cpu().numpy(), _numpy(confidence)

    def _semantic(self, spec: TaskSpec, rgb: torch.Tensor, clock: _Clock) -> None:
        labels, confidence = self._vote(rgb, spec.class_colours)
        clock.lap('decode')
        self.semantic = SemanticLabels(
            labels=self._clean(labels).astype(np.uint16),
            class_names=tuple(name for name, _ in spec.class_colours),
            colours=np.array([c for _, c in spec.class_colours], dtype=np.uint8).reshape(-1, 3),
            confidence=confidence,
        )
        clock.lap('cleanup')

    def _referring(self, spec: TaskSpec, rgb: torch.Tensor, clock: _Clock) -> None:
        colours = (('target', spec.target), ('background', spec.background))
        labels, confidence = self._vote(rgb, colours)
        clock.lap('decode')
        mask = self._clean((labels == 1).astype(np.uint8)).astype(bool)
        self.referring.append(
            ReferringMask(
                expression=spec.expression,
                mask=mask,
                area_px=int(mask.sum()),
                confidence=confidence,
            )
        )
        clock.lap('cleanup')

    def _instance(self, spec: TaskSpec, rgb: torch.Tensor, clock: _Clock) -> None:
        decoded = decode_instances(rgb[0], spec.background)  # the first sample
        ids = np.asarray(decoded.instance_ids).astype(np.int64)
        colours = np.asarray(decoded.colours)
        clock.lap('decode')
        ids = self._clean(ids)
        if self.instance_ids is None:
            self.instance_ids = np.zeros(ids.shape, dtype=np.uint16)
        offset = len(self.instances)
        for local in np.unique(ids[ids > 0]):
            mask = (ids == local) & (self.instance_ids == 0)
            if not mask.any():
                continue
            instance_id = offset + 1
            offset += 1
            self.instance_ids[mask] = instance_id
            self.instances.append(
                InstanceMask(
                    class_name=spec.class_name,
                    instance_id=instance_id,
                    mask=mask,
                    area_px=int(mask.sum()),
                    colour=colours[int(local) - 1],
                )
            )
        clock.lap('cleanup')

    def _clean(self, labels: np.ndarray) -> np.ndarray:
        return clean_labels(
            labels, self.cleanup.mask_min_component_px, self.cleanup.mask_max_hole_px
        )


def _to_camera(
    result: PerceptionResult, size: tuple[int, int], max_step: float, device: torch.device
) -> PerceptionResult:
    """
    Resize a model-resolution result's decoded quantities to the camera's (H, W).

    Depth edge-aware (``max_step``), normals likewise, confidences and spreads bilinear, labels
    and masks nearest; each instance's mask is cut anew from the resized ids. The arithmetic
    runs on ``device``.
    """
    if tuple(result.size) == size:
        return result

    def scalar(values: np.ndarray) -> np.ndarray:
        return _numpy(resize_scalar(torch.from_numpy(values).to(device), size))

    def nearest(labels: np.ndarray) -> np.ndarray:
        resized: np.ndarray = resize_labels(torch.from_numpy(labels), size).numpy()
        return resized

    changes: dict[str, object] = {'size': size}
    for name in ('depth_confidence', 'depth_spread', 'normals_confidence', 'normals_spread_deg'):
        values = getattr(result, name)
        changes[name] = None if values is None else scalar(values)
    if result.depth_m is not None:
        depth = torch.from_numpy(result.depth_m).to(device)
        changes['depth_m'] = _numpy(resize_depth(depth, size, max_step))
    if result.normals is not None:
        planar = torch.from_numpy(result.normals).to(device).permute(2, 0, 1)  # (3, ch, cw)
        changes['normals'] = _numpy(resize_normals(planar, size)).transpose(1, 2, 0)
    semantic = result.semantic
    if semantic is not None:
        changes['semantic'] = replace(
            semantic, labels=nearest(semantic.labels), confidence=scalar(semantic.confidence)
        )
    referring = []
    for mask in result.referring:
        inside = nearest(mask.mask)
        referring.append(
            replace(
                mask, mask=inside, area_px=int(inside.sum()), confidence=scalar(mask.confidence)
            )
        )
    changes['referring'] = tuple(referring)
    if result.instance_ids is not None:
        ids = nearest(result.instance_ids)
        changes['instance_ids'] = ids
        masks = [ids == instance.instance_id for instance in result.instances]
        changes['instances'] = tuple(
            replace(instance, mask=mask, area_px=int(mask.sum()))
            for instance, mask in zip(result.instances, masks, strict=True)
            if mask.any()
        )
    return replace(result, **changes)  # type: ignore[arg-type]


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    """Copy a tensor to a CPU float32 numpy array."""
    array: np.ndarray = tensor.detach().float().cpu().numpy()
    return array
