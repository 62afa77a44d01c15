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
Fitting a camera image into a generator's fixed resolution without stretching it.

A ``Letterbox`` scales the whole camera image by one factor (the image keeps its aspect ratio,
so pixels stay aligned with the camera's intrinsics), centres it, and pads the rest of the
model image by replicating the border. Everything a generator draws is cropped back to the
content window before it is brought to the camera's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from vision_banana_ros.geometry import CameraIntrinsics

__all__ = ['Letterbox']


@dataclass(frozen=True)
class Letterbox:
    """
    Where a camera image of ``camera_size`` lies inside a model image of ``model_size``.

    :ivar camera_size: (H, W) of the camera image in pixels.
    :ivar model_size: (h, w) of the generator's image in pixels.
    :ivar content_size: (ch, cw), the camera image's size inside the model image: the largest
        that fits with one scale for both axes (rounded to whole pixels).
    :ivar top: padding rows above the content.
    :ivar left: padding columns left of the content.
    """

    camera_size: tuple[int, int]
    model_size: tuple[int, int]
    content_size: tuple[int, int]
    top: int
    left: int

    @classmethod
    def fit(cls, camera_size: tuple[int, int], model_size: tuple[int, int]) -> Letterbox:
        """
        Fit a camera image into a model image, centred.

        Example: a 480x640 camera into 128x160 gives a 120x160 content window, 4 rows padded
        above and 4 below.

        :param camera_size: (H, W), both > 0.
        :param model_size: (h, w), both > 0.
        :return: the letterbox.
        :raises ValueError: on a non-positive size.
        """
        (height, width), (model_h, model_w) = camera_size, model_size
        if min(height, width, model_h, model_w) <= 0:
            raise ValueError(
                f'sizes must be positive, got camera {camera_size} model {model_size}'
            )
        scale = min(model_h / height, model_w / width)
        content_h = min(model_h, max(1, round(height * scale)))
        content_w = min(model_w, max(1, round(width * scale)))
        return cls(
            camera_size=(height, width),
            model_size=(model_h, model_w),
            content_size=(content_h, content_w),
            top=(model_h - content_h) // 2,
            left=(model_w - content_w) // 2,
        )

    @property
    def identity(self) -> bool:
        """Tell whether the camera image is the model image (no resize, no padding)."""
        return self.camera_size == self.model_size

    def to_model(self, rgb: torch.Tensor) -> torch.Tensor:
        """
        Scale and pad camera images to the model size.

        :param rgb: (N, H, W, 3) uint8 camera images.
        :return: (N, h, w, 3) uint8 on the same device: antialiased bilinear resize of the whole
            image to ``content_size``, border replicated into the padding.
        """
        if self.identity:
            return rgb
        planar = rgb.permute(0, 3, 1, 2).float()  # (N, 3, H, W)
        if self.content_size != self.camera_size:
            planar = F.interpolate(
                planar,
                size=self.content_size,
                mode='bilinear',
                antialias=True,
                align_corners=False,
            )
        (model_h, model_w), (content_h, content_w) = self.model_size, self.content_size
        bottom, right = model_h - content_h - self.top, model_w - content_w - self.left
        if bottom or right or self.top or self.left:
            planar = F.pad(planar, (self.left, right, self.top, bottom), mode='replicate')
        out = planar.round_().clamp_(0, 255).to(torch.uint8)
        return out.permute(0, 2, 3, 1).contiguous()  # (N, h, w, 3)

    def crop(self, image: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
        """
        Cut the content window out of model-sized images.

        :param image: (..., h, w, C) if ``channels_last`` else (..., h, w).
        :param channels_last: whether the last axis is channels.
        :return: (..., ch, cw[, C]), a view.
        """
        rows_axis = -3 if channels_last else -2
        (content_h, content_w) = self.content_size
        rows = image.narrow(rows_axis, self.top, content_h)
        return rows.narrow(rows_axis + 1, self.left, content_w)

    def content_intrinsics(self, intrinsics: CameraIntrinsics) -> CameraIntrinsics:
        """
        Intrinsics of the content window (the camera image scaled, without the padding).

        :param intrinsics: the camera image's intrinsics (its size must be ``camera_size``).
        :return: intrinsics of the (ch, cw) content window, scaled by the pixel-centre rule.
        :raises ValueError: if the intrinsics are for another image size.
        """
        if (intrinsics.height, intrinsics.width) != self.camera_size:
            raise ValueError(
                f'intrinsics are for {intrinsics.width}x{intrinsics.height}, the camera image is '
                f'{self.camera_size[1]}x{self.camera_size[0]}'
            )
        content_h, content_w = self.content_size
        return intrinsics.scaled_to(content_w, content_h)

    def model_intrinsics(self, intrinsics: CameraIntrinsics) -> CameraIntrinsics:
        """
        Intrinsics of the model image, padding included, from the camera's.

        :param intrinsics: the camera image's intrinsics (its size must be ``camera_size``).
        :return: intrinsics of the (h, w) model image: scaled to the content window by the
            pixel-centre rule, then shifted by the padding.
        :raises ValueError: if the intrinsics are for another image size.
        """
        scaled = self.content_intrinsics(intrinsics)
        return CameraIntrinsics(
            fx=scaled.fx,
            fy=scaled.fy,
            cx=scaled.cx + self.left,
            cy=scaled.cy + self.top,
            width=self.model_size[1],
            height=self.model_size[0],
        )
