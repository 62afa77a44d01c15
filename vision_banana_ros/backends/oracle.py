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
``oracle``: the scene engine's ground truth, drawn through the encoders as a perfect generator.

The oracle knows a set of rendered scenes. Given an image, it finds the scene it shows (the
camera image, letterboxed as the pipeline does) and renders that scene's exact geometry at the
requested resolution with the letterbox's intrinsics, so its answer is what an ideal generator
would draw at that resolution. Each prompt is parsed (``parse_prompt``) and its ground truth
encoded with the same codecs the decoders invert. Everything the pipeline then loses (padding,
decoding, clean-up, resizing to the camera) is the pipeline's own error budget.

Tests and benchmarks use it; it is not a perception model (it needs the scene).
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses

import numpy as np
import torch
from vision_banana_ros.backends.base import Backend, BackendInputError
from vision_banana_ros.codecs.depth import encode_depth
from vision_banana_ros.codecs.normals import encode_normals
from vision_banana_ros.codecs.segmentation import (
    encode_instances,
    encode_referring,
    encode_semantic,
)
from vision_banana_ros.geometry import CameraIntrinsics
from vision_banana_ros.letterbox import Letterbox
from vision_banana_ros.prompts import parse_prompt, PromptError, TaskSpec
from vision_banana_ros.synth.catalog import CLASS_NAMES
from vision_banana_ros.synth.layout import sample_scene, Scene, SceneMode
from vision_banana_ros.synth.render import RenderSettings
from vision_banana_ros.synth.text import Reference, referring_targets
from vision_banana_ros.synth.textures import texture_bank
from vision_banana_ros.training.frames import namable_objects, render_frames, RenderedFrame

__all__ = ['OracleBackend']

MAX_MEAN_DIFFERENCE = 4.0
"""Largest mean absolute difference (8-bit levels) between an image and the scene it shows."""


class OracleBackend(Backend):
    """
    A perfect generator for scenes it rendered itself.

    Example::

        oracle = OracleBackend.from_seeds([1, 2, 3], width=640, height=480)
        for frame, intrinsics in zip(oracle.frames, oracle.intrinsics):
            result = pipeline.process(CameraFrame(frame.rgb.numpy(), intrinsics))
    """

    name = 'oracle'

    def __init__(
        self,
        scenes: Sequence[Scene],
        settings: RenderSettings | None = None,
        references: int = 4,
    ) -> None:
        """
        Render the scenes' camera images and pick referring expressions for them.

        :param scenes: scenes, any resolutions.
        :param settings: renderer settings (default: the scene engine's).
        :param references: unambiguous referring expressions to prepare per scene.
        """
        if not scenes:
            raise ValueError('the oracle needs at least one scene')
        self.scenes = tuple(scenes)
        self.settings = settings or RenderSettings()
        self._bank = texture_bank()
        self.frames: tuple[RenderedFrame, ...] = tuple(
            frame for scene in self.scenes for frame in self._render([scene])
        )
        self.references: tuple[tuple[Reference, ...], ...] = tuple(
            tuple(
                referring_targets(
                    frame.scene,
                    namable_objects(frame, 16).keys(),
                    np.random.default_rng(frame.scene.seed),
                    references,
                    instances=frame.instances,
                )
            )
            for frame in self.frames
        )
        self._letterboxed_images: dict[tuple[int, tuple[int, int]], torch.Tensor] = {}
        self._truths: dict[tuple[int, tuple[int, int]], RenderedFrame] = {}

    @classmethod
    def from_seeds(
        cls, seeds: Sequence[int], width: int, height: int, mode: SceneMode | None = None
    ) -> OracleBackend:
        """
        Sample and render scenes from seeds.

        :param seeds: scene seeds (see ``synth.splits`` for the ones training never uses).
        :param width: camera image width.
        :param height: camera image height.
        :param mode: 'room', 'tabletop', 'soup' or None to draw one per seed.
        :return: the oracle.
        """
        return cls([sample_scene(s, width, height, mode) for s in seeds])

    @property
    def intrinsics(self) -> tuple[CameraIntrinsics, ...]:
        """Return each scene's camera intrinsics, in scene order."""
        return tuple(scene.camera.intrinsics for scene in self.scenes)

    @property
    def description(self) -> str:
        """Describe it, e.g. 'oracle (ground truth of 3 scenes)'."""
        return f'oracle (ground truth of {len(self.scenes)} scenes)'

    def _render(self, scenes: list[Scene]) -> list[RenderedFrame]:
        return render_frames(scenes, self._bank, self.settings)

    def _generate(
        self, images: torch.Tensor, prompts: list[str], seeds: list[int] | None
    ) -> torch.Tensor:
        size = (int(images.shape[1]), int(images.shape[2]))
        views = [self._view(image, size) for image in images.cpu()]  # one per image
        out = []
        for row, prompt in enumerate(prompts):
            index, truth = views[row if len(views) > 1 else 0]
            out.append(self._draw(prompt, truth, self.references[index]))
        return torch.stack(out)

    def _view(self, image: torch.Tensor, size: tuple[int, int]) -> tuple[int, RenderedFrame]:
        """Find the scene an (h, w, 3) image shows; its ground truth rendered at (h, w)."""
        best, best_difference = -1, float('inf')
        for index in range(len(self.scenes)):
            letterboxed = self._letterboxed(index, size)
            difference = float((letterboxed.float() - image.float()).abs().mean())
            if difference < best_difference:
                best, best_difference = index, difference
        if best_difference > MAX_MEAN_DIFFERENCE:
            raise BackendInputError(
                f'the oracle knows no scene that looks like this image (closest differs by '
                f'{best_difference:.1f} levels on average)'
            )
        return best, self._truth(best, size)

    def _letterbox(self, index: int, size: tuple[int, int]) -> Letterbox:
        camera = self.scenes[index].camera
        return Letterbox.fit((camera.height, camera.width), size)

    def _letterboxed(self, index: int, size: tuple[int, int]) -> torch.Tensor:
        """Scene ``index``'s camera image letterboxed to ``size`` (cached): (h, w, 3) uint8."""
        key = (index, size)
        if key not in self._letterboxed_images:
            box = self._letterbox(index, size)
            self._letterboxed_images[key] = box.to_model(self.frames[index].rgb[None])[0]
        return self._letterboxed_images[key]

    def _truth(self, index: int, size: tuple[int, int]) -> RenderedFrame:
        """Scene ``index`` rendered at ``size`` with the letterbox's intrinsics (cached)."""
        key = (index, size)
        if key not in self._truths:
            scene = self.scenes[index]
            model = self._letterbox(index, size).model_intrinsics(scene.camera.intrinsics)
            camera = dataclasses.replace(
                scene.camera,
                K=model.matrix(dtype=torch.float64).numpy(),
                width=size[1],
                height=size[0],
            )
            self._truths[key] = self._render([dataclasses.replace(scene, camera=camera)])[0]
        return self._truths[key]

    @staticmethod
    def _draw(prompt: str, truth: RenderedFrame, references: Sequence[Reference]) -> torch.Tensor:
        """Encode the ground truth a prompt asks for: (h, w, 3) uint8."""
        try:
            spec = parse_prompt(prompt)
        except PromptError as err:
            raise BackendInputError(
                f'the oracle cannot read the prompt {prompt!r}: {err}'
            ) from err
        drawn = _TRUTH[spec.task](spec, truth, references)
        return drawn if isinstance(drawn, torch.Tensor) else torch.from_numpy(drawn)


def _depth(spec: TaskSpec, truth: RenderedFrame, _: Sequence[Reference]) -> object:
    return encode_depth(truth.depth_m, spec.colormap)


def _normals(_: TaskSpec, truth: RenderedFrame, __: Sequence[Reference]) -> object:
    return encode_normals(truth.normals)


def _semantic(spec: TaskSpec, truth: RenderedFrame, _: Sequence[Reference]) -> object:
    """Classes the prompt names get their prompt ids; everything else is unlabelled."""
    lookup = torch.zeros(len(CLASS_NAMES), dtype=torch.int64)
    for prompt_id, (name, _colour) in enumerate(spec.class_colours, start=1):
        if name in CLASS_NAMES:
            lookup[CLASS_NAMES.index(name)] = prompt_id
    return encode_semantic(lookup[truth.labels], spec.class_colours)


def _instance(spec: TaskSpec, truth: RenderedFrame, _: Sequence[Reference]) -> object:
    """Every object of the class in view, numbered in instance-id order."""
    members = [o.instance_id for o in truth.scene.objects if o.class_name == spec.class_name]
    lookup = torch.zeros(int(truth.instances.max()) + 1, dtype=torch.int64)
    shown = [i for i in members if i < lookup.shape[0]]
    if shown:
        lookup[torch.tensor(shown)] = torch.arange(1, len(shown) + 1)
    return encode_instances(lookup[truth.instances], spec.background)


def _referring(spec: TaskSpec, truth: RenderedFrame, references: Sequence[Reference]) -> object:
    """Draw the object whose prepared expression the prompt quotes; nothing for other text."""
    target = [r.instance_id for r in references if r.expression == spec.expression]
    mask = (
        truth.instances == target[0]
        if target
        else torch.zeros_like(truth.instances, dtype=torch.bool)
    )
    return encode_referring(mask, spec.target, spec.background)


_TRUTH = {
    'depth': _depth,
    'normals': _normals,
    'semantic': _semantic,
    'instance': _instance,
    'referring': _referring,
}
