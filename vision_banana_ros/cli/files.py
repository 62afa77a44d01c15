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
Reading the images and arrays users give the command line, and writing results all-or-nothing.

Every output goes to a temporary file beside its destination and is renamed into place only when
complete, so an interrupted run never leaves a half-written file under a final name.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import os
from pathlib import Path
import tempfile

import cv2
import numpy as np

__all__ = [
    'InputFileError',
    'atomic_path',
    'read_depth_m',
    'read_normals',
    'read_rgb',
    'write_npy',
    'write_png',
]


class InputFileError(ValueError):
    """A file given on the command line is missing, unreadable or of the wrong kind."""


def read_rgb(path: Path) -> np.ndarray:
    """
    Read a colour image file.

    :param path: a PNG or JPEG file (8-bit; grey or alpha images are converted).
    :return: (H, W, 3) uint8 RGB.
    :raises InputFileError: if the file is missing or not a readable 8-bit image.
    """
    image = _imread(path, cv2.IMREAD_COLOR)
    if image.dtype != np.uint8:
        raise InputFileError(f'{path}: expected an 8-bit colour image, got {image.dtype}')
    return np.ascontiguousarray(image[..., ::-1])


def read_depth_m(path: Path, depth_scale: float) -> np.ndarray:
    """
    Read a depth map in metres from a .npy array or a single-channel 16-bit / float image.

    :param path: .npy (float, metres unless depth_scale says otherwise) or PNG/TIFF/EXR.
    :param depth_scale: metres per stored unit (0.001 for millimetre PNGs); 0 stays invalid.
    :return: (H, W) float32 metres, NaN where the file holds 0 or a non-finite value.
    :raises InputFileError: if the file is missing, unreadable, or not one-channel.
    """
    if path.suffix.lower() == '.npy':
        try:
            raw: np.ndarray = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputFileError(f'{path}: not a readable .npy array ({err})') from err
    else:
        raw = _imread(path, cv2.IMREAD_UNCHANGED)
    if raw.ndim != 2:
        raise InputFileError(f'{path}: expected a one-channel (H, W) depth map, got {raw.shape}')
    depth_m = raw.astype(np.float32) * np.float32(depth_scale)
    depth_m[~np.isfinite(depth_m) | (depth_m <= 0)] = np.nan
    return depth_m


def read_normals(path: Path) -> np.ndarray:
    """
    Read unit normals from an (H, W, 3) .npy array in the camera optical frame.

    :param path: the .npy file.
    :return: (H, W, 3) float32.
    :raises InputFileError: if the file is missing, unreadable or not (H, W, 3) floats.
    """
    try:
        normals: np.ndarray = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputFileError(f'{path}: not a readable .npy array ({err})') from err
    if (
        normals.ndim != 3
        or normals.shape[-1] != 3
        or not np.issubdtype(normals.dtype, np.floating)
    ):
        raise InputFileError(
            f'{path}: expected (H, W, 3) float normals, got {normals.dtype} {normals.shape}'
        )
    return normals.astype(np.float32)


@contextlib.contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """
    Yield a temporary path beside destination; rename it into place if the block succeeds.

    :param destination: the final file name; its folder is created if needed.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f'.{destination.stem}.', suffix=destination.suffix, dir=destination.parent
    )
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it owner-only; give it the usual mode
        os.replace(temporary, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def depth_mm_u16(depth_m: np.ndarray) -> np.ndarray:
    """
    Convert depth to the 16-bit millimetre images ROS depth cameras publish (REP 118 raw).

    :param depth_m: (H, W) float metres, NaN invalid.
    :return: (H, W) uint16 millimetres, rounded and clipped to 1..65535; 0 invalid.
    """
    valid = np.isfinite(depth_m) & (depth_m > 0)
    millimetres = np.clip(np.round(np.where(valid, depth_m, 0.0) * 1000.0), 1, 65535)
    return np.where(valid, millimetres, 0).astype(np.uint16)


def write_png(destination: Path, image: np.ndarray) -> None:
    """
    Write an (H, W) grey or (H, W, 3) RGB image, 8 or 16 bit, as PNG, all-or-nothing.

    :param destination: the .png file to write.
    :param image: uint8 or uint16; RGB channel order for colour images.
    """
    pixels = image[..., ::-1] if image.ndim == 3 else image
    with atomic_path(destination) as temporary:
        if not cv2.imwrite(str(temporary), np.ascontiguousarray(pixels)):
            raise OSError(f'could not write {destination}')


def write_npy(destination: Path, array: np.ndarray) -> None:
    """
    Write an array as .npy, all-or-nothing.

    :param destination: the .npy file to write.
    :param array: any numeric array.
    """
    with atomic_path(destination) as temporary:
        np.save(temporary, array, allow_pickle=False)


def _imread(path: Path, flags: int) -> np.ndarray:
    if not path.is_file():
        raise InputFileError(f'{path}: no such file')
    image = cv2.imread(str(path), flags)
    if image is None:
        raise InputFileError(f'{path}: not an image OpenCV can read')
    return image
