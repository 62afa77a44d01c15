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
Readers for the real evaluation frames in ``shared/data``, and one on-disk layout for your own.

Every reader returns ``Frame`` objects in this package's units: ``rgb`` (H, W, 3) uint8,
``depth_m`` float32 z-depth in metres with NaN invalid (REP 118), ``normals`` float32 unit
vectors in the REP 103 optical frame with NaN invalid, ``labels`` uint16 class ids,
``instances`` uint32 instance ids (0 = none). Files are read where they lie; nothing is copied.

**Data root**: the ``root`` argument, else the environment variable ``VISION_BANANA_DATA``, else
``shared/data`` beside the repository checkout (``Path(__file__).resolve().parents[2]``).

**Decisions per folder** (each folder's README is the authority):

- ``nyu_depth_v2_metric3d`` (dataset ``'nyu_depth_v2'``): 16-bit PNG millimetres / 1000, 0 ->
  NaN; the NYU toolbox RGB intrinsics from ``frames.json`` (640x480). No labels or normals.
- ``kitti_depth_metric3d`` (``'kitti'``): 16-bit PNG / 256, 0 -> NaN (sparse LiDAR, ~20 %
  valid). Intrinsics: by default Metric3D's shipped ``cam_in`` (the 2011_09_30 calibration);
  ``intrinsics='2011_09_26'`` gives that day's P_rect_02 (the drive size matches 1242x375),
  ``'none'`` none. The README cannot name the drive: treat either as ~2 % uncertain.
- ``sunrgbd_open3d`` (``'sunrgbd'``): the README's lossless conversion ``SUN_depth_mm.png``
  (millimetres, 0 -> NaN); the raw bit-rotated file is not used. Intrinsics unknown: None (the
  PrimeSense placeholder is not passed off as calibration). Depth beyond ~8 m is unreliable.
- ``arkit_lidar_promptda`` (``'arkit'``): RGB 1920x1440, LiDAR depth 256x192 millimetres / 1000,
  dense. The depth is kept at its **native 256x192**: a ``Frame`` may carry depth smaller than
  its RGB with the same aspect ratio, and ``metrics.harness`` resizes predictions to the depth
  grid (never upsampling the ground truth, which would invent detail). No intrinsics.
- ``diode_normals_gallery`` (``'diode'``): normals decode as ``n = 1 - 2 rgb / 255`` in the
  optical frame, renormalised (exactly ``codecs.normals.decode_normals``, which is reused), and
  (0, 0, 0) -> NaN; the devkit intrinsics (fx != fy). GT noise is a few degrees; no depth.
- ``coco_val2017`` (``'coco'``): ``labels`` = the derived semantic mask (COCO category ids
  1..90), ``ignore_label`` 0 (no annotation, not background); ``instances`` = the derived
  instance mask, ``ignore_instance`` 65535 (crowd); ``instance_labels`` maps each instance to
  its category; ``class_names`` from the JSON categories. Masks are Pillow rasterisations of the
  polygons (about one pixel off pycocotools at boundaries).
- ``ade20k_sceneparsing`` (``'ade20k'``): labels 1..150, ``ignore_label`` 0 ("other");
  ``class_names`` from ``objectInfo150.csv``, first synonym of each ``Name``.

**Layout for your own data** (version 1), read by ``read_layout`` and written by
``convert_to_layout``; files are found by frame name, so ``frames.json`` holds metadata only::

    my_data/
      frames.json
      rgb/<name>.png | .jpg | .jpeg   colour image, 8-bit (read as RGB)
      depth/<name>.npy | .png         .npy: (h, w) float32 metres, NaN invalid;
                                      .png: (h, w) uint16 millimetres, 0 invalid
      normals/<name>.npy              (H, W, 3) float32 unit normals, optical frame, NaN invalid
      labels/<name>.png | .npy        (H, W) uint8 / uint16 class ids
      instances/<name>.png | .npy     (H, W) uint16 PNG or uint32 .npy ids, 0 = none
      masks/<name>.png                (H, W) referring mask, non-zero = inside

Every folder but ``rgb/`` is optional per frame. Depth may be smaller than the RGB with the same
aspect ratio. ``frames.json``::

    {"format": "vision_banana_ros.frames", "version": 1,
     "defaults": {"dataset": "my_robot", "intrinsics": [fx, fy, cx, cy]},
     "frames": [{"name": "0001"}, {"name": "0002", "intrinsics": null}]}

Each frame entry takes ``name`` (required; letters, digits, ``.``, ``_``, ``-``) and optionally
``dataset``, ``intrinsics`` ([fx, fy, cx, cy] in pixels for the RGB image, or null),
``class_names`` ({"id": "name"}), ``ignore_label``, ``ignore_instance``, ``instance_labels``
({"instance id": class id}) and ``referring_text``; ``defaults`` holds any of these for every
frame (an entry's own value wins). Unknown keys are errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
import csv
from dataclasses import dataclass
import json
import logging
import math
import os
from pathlib import Path
import re
import shutil
import tempfile
from typing import Any, get_args, Literal

import cv2
import numpy as np
from vision_banana_ros.codecs.normals import decode_normals
from vision_banana_ros.geometry import CameraIntrinsics

__all__ = [
    'DATA_ENV',
    'KITTI_INTRINSICS',
    'LAYOUT_FORMAT',
    'LAYOUT_VERSION',
    'SHARED_DATASETS',
    'DatasetError',
    'DepthFormat',
    'Frame',
    'FrameFolder',
    'KittiIntrinsics',
    'convert_to_layout',
    'default_data_root',
    'read_ade20k',
    'read_arkit',
    'read_coco',
    'read_diode_normals',
    'read_kitti',
    'read_layout',
    'read_nyu',
    'read_shared',
    'read_sunrgbd',
]

_LOG = logging.getLogger(__name__)

DATA_ENV = 'VISION_BANANA_DATA'
"""Environment variable naming the data root; overrides the default beside the checkout."""

LAYOUT_FORMAT = 'vision_banana_ros.frames'
"""The ``format`` value of a layout's ``frames.json``."""
LAYOUT_VERSION = 1
"""The layout version this module reads and writes."""

KittiIntrinsics = Literal['metric3d', '2011_09_26', 'none']
"""Which intrinsics ``read_kitti`` attaches (see the module docstring's caveat)."""
KITTI_INTRINSICS: dict[str, tuple[float, float, float, float]] = {
    '2011_09_26': (721.5377, 721.5377, 609.5593, 172.854),
}
"""KITTI P_rect_02 (fx, fy, cx, cy) by calibration day, for 1242x375 images."""

DepthFormat = Literal['npy', 'png_mm']
"""How ``convert_to_layout`` writes depth: float32 metres (exact) or uint16 millimetres."""

_RGB_SUFFIXES = ('.png', '.jpg', '.jpeg')
_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]*')
_FRAME_KEYS = (
    'dataset',
    'intrinsics',
    'class_names',
    'ignore_label',
    'ignore_instance',
    'instance_labels',
    'referring_text',
)


class DatasetError(ValueError):
    """A frame, a data file or a layout's ``frames.json`` has the wrong content."""


@dataclass(frozen=True, eq=False)
class Frame:
    """
    One evaluation frame: an RGB image and whatever ground truth is known for it.

    Arrays are numpy (what is read from disk); metrics take them as they are.

    :ivar rgb: (H, W, 3) uint8 RGB.
    :ivar name: identifier, unique within its dataset (a file stem).
    :ivar dataset: short dataset id, e.g. 'nyu_depth_v2'; picks the depth protocol in reports.
    :ivar depth_m: (h, w) float32 z-depth in metres, NaN invalid; (h, w) is (H, W) or a
        rescale of it with the same aspect ratio (ARKit: 192x256 under 1440x1920 RGB).
    :ivar normals: (H, W, 3) float32 unit normals in the optical frame, NaN invalid.
    :ivar labels: (H, W) uint16 semantic class ids.
    :ivar instances: (H, W) uint32 instance ids, 0 = no instance.
    :ivar referring_mask: (H, W) bool mask of the object ``referring_text`` names.
    :ivar referring_text: the referring expression, or None.
    :ivar intrinsics: pinhole intrinsics of the H x W RGB image, or None if unknown.
    :ivar class_names: class id -> name, or None.
    :ivar ignore_label: label value that is not a class (not scored), or None.
    :ivar ignore_instance: instance id of regions to ignore (e.g. crowd), or None.
    :ivar instance_labels: instance id -> class id, or None.
    """

    rgb: np.ndarray
    name: str = ''
    dataset: str = ''
    depth_m: np.ndarray | None = None
    normals: np.ndarray | None = None
    labels: np.ndarray | None = None
    instances: np.ndarray | None = None
    referring_mask: np.ndarray | None = None
    referring_text: str | None = None
    intrinsics: CameraIntrinsics | None = None
    class_names: Mapping[int, str] | None = None
    ignore_label: int | None = None
    ignore_instance: int | None = None
    instance_labels: Mapping[int, int] | None = None

    def __post_init__(self) -> None:
        where = f'frame {self.name!r}'
        height, width = _check_array(self.rgb, f'{where} rgb', np.uint8, None, channels=3)
        size = (height, width)
        if self.depth_m is not None:
            depth_h, depth_w = _check_array(self.depth_m, f'{where} depth_m', np.float32, None)
            if depth_h * width != depth_w * height:
                raise DatasetError(
                    f'{where} depth_m {self.depth_m.shape} must have the aspect ratio of rgb '
                    f'{self.rgb.shape[:2]}'
                )
        if self.normals is not None:
            _check_array(self.normals, f'{where} normals', np.float32, size, channels=3)
        if self.labels is not None:
            _check_array(self.labels, f'{where} labels', np.uint16, size)
        if self.instances is not None:
            _check_array(self.instances, f'{where} instances', np.uint32, size)
        if self.referring_mask is not None:
            _check_array(self.referring_mask, f'{where} referring_mask', np.bool_, size)
        if self.intrinsics is not None:
            if not isinstance(self.intrinsics, CameraIntrinsics):
                raise DatasetError(
                    f'{where} intrinsics must be a CameraIntrinsics, got '
                    f'{type(self.intrinsics).__name__}'
                )
            if (self.intrinsics.height, self.intrinsics.width) != size:
                raise DatasetError(
                    f'{where} intrinsics are for {self.intrinsics.width}x'
                    f'{self.intrinsics.height}, rgb is {width}x{height}'
                )


# ---------------------------------------------------------------------------------------------
# The shared folders


def default_data_root() -> Path:
    """
    Where the shared evaluation data lies unless a reader is told otherwise.

    :return: ``$VISION_BANANA_DATA`` if set, else ``shared/data`` beside the checkout.
    """
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / 'shared' / 'data'


def read_nyu(root: str | os.PathLike[str] | None = None) -> list[Frame]:
    """
    Read the NYU Depth V2 frames (Metric3D demo copies): RGB, metric depth, intrinsics.

    :param root: the data root; None for ``default_data_root()``.
    :return: 3 frames, 640x480, dataset 'nyu_depth_v2'.
    :raises FileNotFoundError: if the folder or a file is missing.
    :raises DatasetError: if a file has the wrong content.
    """
    return _read_metric3d(_folder(root, 'nyu_depth_v2_metric3d'), 'nyu_depth_v2', 'metric3d')


def read_kitti(
    root: str | os.PathLike[str] | None = None, *, intrinsics: str = 'metric3d'
) -> list[Frame]:
    """
    Read the KITTI frames (Metric3D demo copies): RGB and sparse LiDAR depth.

    :param root: the data root; None for ``default_data_root()``.
    :param intrinsics: one of 'metric3d' (shipped, 2011_09_30 calibration), '2011_09_26' or
        'none'; see the module docstring's caveat.
    :return: 2 frames, 1242x375, dataset 'kitti'.
    :raises FileNotFoundError: if the folder or a file is missing.
    :raises DatasetError: on an unknown ``intrinsics`` or a file with the wrong content.
    """
    if intrinsics not in get_args(KittiIntrinsics):
        raise DatasetError(
            f'intrinsics must be one of {get_args(KittiIntrinsics)}, got {intrinsics!r}'
        )
    return _read_metric3d(_folder(root, 'kitti_depth_metric3d'), 'kitti', intrinsics)


def read_sunrgbd(root: str | os.PathLike[str] | None = None) -> list[Frame]:
    """
    Read the SUN RGB-D frame (Open3D test data): RGB and millimetre depth, no intrinsics.

    :param root: the data root; None for ``default_data_root()``.
    :return: 1 frame, 640x480, named 'SUN', dataset 'sunrgbd'.
    :raises FileNotFoundError: if the folder or a file is missing.
    :raises DatasetError: if a file has the wrong content.
    """
    folder = _folder(root, 'sunrgbd_open3d')
    return [
        Frame(
            rgb=_read_rgb(folder / 'SUN_color.jpg'),
            name='SUN',
            dataset='sunrgbd',
            depth_m=_depth_from_u16(_read_u16(folder / 'SUN_depth_mm.png'), 1000.0),
        )
    ]


def read_arkit(root: str | os.PathLike[str] | None = None) -> list[Frame]:
    """
    Read the iPhone ARKit LiDAR frame (PromptDA example): 1920x1440 RGB, 256x192 depth.

    :param root: the data root; None for ``default_data_root()``.
    :return: 1 frame named 'promptda_example', dataset 'arkit', depth at its native 192x256.
    :raises FileNotFoundError: if the folder or a file is missing.
    :raises DatasetError: if a file has the wrong content.
    """
    folder = _folder(root, 'arkit_lidar_promptda')
    return [
        Frame(
            rgb=_read_rgb(folder / 'image.jpg'),
            name='promptda_example',
            dataset='arkit',
            depth_m=_depth_from_u16(_read_u16(folder / 'arkit_depth.png'), 1000.0),
        )
    ]


def read_diode_normals(root: str | os.PathLike[str] | None = None) -> list[Frame]:
    """
    Read the DIODE gallery frame: RGB, ground-truth normals (optical frame) and intrinsics.

    :param root: the data root; None for ``default_data_root()``.
    :return: 1 frame, 1024x768, dataset 'diode', no depth.
    :raises FileNotFoundError: if the folder or a file is missing.
    :raises DatasetError: if a file has the wrong content.
    """
    folder = _folder(root, 'diode_normals_gallery')
    frames = []
    for entry in _json(folder / 'frames.json')['files']:
        encoded = _read_rgb(folder / entry['normals'])
        normals = decode_normals(encoded).normals  # n = 1 - 2 rgb / 255, renormalised
        assert isinstance(normals, np.ndarray)
        normals[(encoded == 0).all(axis=-1)] = np.nan  # (0, 0, 0): no normal
        rgb = _read_rgb(folder / entry['rgb'])
        frames.append(
            Frame(
                rgb=rgb,
                name=entry['id'],
                dataset='diode',
                normals=normals,
                intrinsics=_intrinsics(entry['cam_in'], rgb, folder / 'frames.json'),
            )
        )
    return frames


def read_coco(root: str | os.PathLike[str] | None = None) -> list[Frame]:
    """
    Read the COCO val2017 frames: RGB, semantic and instance masks, category names.

    :param root: the data root; None for ``default_data_root()``.
    :return: 15 frames named by image id, dataset 'coco'.
    :raises FileNotFoundError: if the folder or a file is missing.
    :raises DatasetError: if a file has the wrong content.
    """
    folder = _folder(root, 'coco_val2017')
    annotations = _json(folder / 'instances_val2017_subset.json')
    class_names = {int(c['id']): str(c['name']) for c in annotations['categories']}
    frames = []
    for image in sorted(annotations['images'], key=lambda item: item['file_name']):
        name = Path(image['file_name']).stem
        table = _json(folder / 'masks_instance' / f'{name}.json')
        frames.append(
            Frame(
                rgb=_read_rgb(folder / 'images' / image['file_name']),
                name=name,
                dataset='coco',
                labels=_read_ids(folder / 'masks_semantic' / f'{name}.png', np.uint16),
                instances=_read_ids(folder / 'masks_instance' / f'{name}.png', np.uint32),
                class_names=class_names,
                ignore_label=0,
                ignore_instance=65535,
                instance_labels={int(k): int(v['category_id']) for k, v in table.items()},
            )
        )
    return frames


def read_ade20k(root: str | os.PathLike[str] | None = None) -> list[Frame]:
    """
    Read the ADE20K SceneParsing validation frames: RGB, 150-class labels, class names.

    :param root: the data root; None for ``default_data_root()``.
    :return: 2 frames named 'ADE_val_0000000k', dataset 'ade20k'.
    :raises FileNotFoundError: if the folder or a file is missing.
    :raises DatasetError: if a file has the wrong content.
    """
    folder = _folder(root, 'ade20k_sceneparsing')
    with open(folder / 'objectInfo150.csv', newline='', encoding='utf-8') as table:
        class_names = {int(row['Idx']): row['Name'].split(';')[0] for row in csv.DictReader(table)}
    return [
        Frame(
            rgb=_read_rgb(image),
            name=image.stem,
            dataset='ade20k',
            labels=_read_ids(folder / 'annotations' / f'{image.stem}.png', np.uint16),
            class_names=class_names,
            ignore_label=0,
        )
        for image in sorted((folder / 'images').glob('*.jpg'))
    ]


SHARED_DATASETS: dict[str, Callable[[str | os.PathLike[str] | None], list[Frame]]] = {
    'nyu_depth_v2_metric3d': read_nyu,
    'kitti_depth_metric3d': read_kitti,
    'sunrgbd_open3d': read_sunrgbd,
    'arkit_lidar_promptda': read_arkit,
    'diode_normals_gallery': read_diode_normals,
    'coco_val2017': read_coco,
    'ade20k_sceneparsing': read_ade20k,
}
"""Reader of each shared folder, by folder name."""


def read_shared(folder: str, root: str | os.PathLike[str] | None = None) -> list[Frame]:
    """
    Read one shared folder by name.

    :param folder: a key of ``SHARED_DATASETS``, e.g. 'nyu_depth_v2_metric3d'.
    :param root: the data root; None for ``default_data_root()``.
    :return: its frames.
    :raises DatasetError: on an unknown folder name.
    """
    reader = SHARED_DATASETS.get(folder)
    if reader is None:
        raise DatasetError(f'folder must be one of {tuple(SHARED_DATASETS)}, got {folder!r}')
    return reader(root)


def _folder(root: str | os.PathLike[str] | None, name: str) -> Path:
    base = default_data_root() if root is None else Path(root)
    folder = base / name
    if not folder.is_dir():
        raise FileNotFoundError(
            f'data folder {str(folder)!r} is absent (root from the argument, ${DATA_ENV}, '
            'or shared/data beside the checkout)'
        )
    return folder


def _read_metric3d(folder: Path, dataset: str, intrinsics: str) -> list[Frame]:
    """Read a Metric3D-style folder: frames.json with rgb, depth, depth_scale and cam_in."""
    index = folder / 'frames.json'
    frames = []
    for entry in _json(index)['files']:
        rgb = _read_rgb(folder / entry['rgb'])
        cam_in = KITTI_INTRINSICS.get(intrinsics, entry['cam_in'])
        frames.append(
            Frame(
                rgb=rgb,
                name=Path(entry['rgb']).stem,
                dataset=dataset,
                depth_m=_depth_from_u16(_read_u16(folder / entry['depth']), entry['depth_scale']),
                intrinsics=None if intrinsics == 'none' else _intrinsics(cam_in, rgb, index),
            )
        )
    return frames


# ---------------------------------------------------------------------------------------------
# The layout for users' own data


class FrameFolder:
    """
    A folder in this module's layout; frames are read from disk one at a time on access.

    Example: ``for frame in read_layout('my_data'): ...``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """
        Open a layout folder and check its ``frames.json`` (files are read on access).

        :param path: the folder holding ``frames.json`` and ``rgb/``.
        :raises FileNotFoundError: if there is no ``frames.json``.
        :raises DatasetError: if ``frames.json`` does not follow the layout.
        """
        self.path = Path(path)
        self._entries = _parse_index(self.path / 'frames.json')

    @property
    def names(self) -> tuple[str, ...]:
        """Frame names, in ``frames.json`` order."""
        return tuple(entry['name'] for entry in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> Frame:
        return self._read(self._entries[index])

    def __iter__(self) -> Iterator[Frame]:
        for entry in self._entries:
            yield self._read(entry)

    def _read(self, entry: dict[str, Any]) -> Frame:
        name = entry['name']
        rgb_file = self._file('rgb', name, _RGB_SUFFIXES)
        if rgb_file is None:
            raise FileNotFoundError(
                f'frame {name!r} has no rgb/{name}{{{",".join(_RGB_SUFFIXES)}}} in '
                f'{str(self.path)!r}'
            )
        rgb = _read_rgb(rgb_file)
        depth_file = self._file('depth', name, ('.npy', '.png'))
        depth = None
        if depth_file is not None and depth_file.suffix == '.npy':
            depth = _load_npy(depth_file, np.float32, 2)
        elif depth_file is not None:
            depth = _depth_from_u16(_read_u16(depth_file), 1000.0)
        normals_file = self._file('normals', name, ('.npy',))
        labels_file = self._file('labels', name, ('.png', '.npy'))
        instances_file = self._file('instances', name, ('.png', '.npy'))
        mask_file = self._file('masks', name, ('.png',))
        cam_in = entry.get('intrinsics')
        return Frame(
            rgb=rgb,
            name=name,
            dataset=entry.get('dataset', ''),
            depth_m=depth,
            normals=None if normals_file is None else _load_npy(normals_file, np.float32, 3),
            labels=None if labels_file is None else _read_ids(labels_file, np.uint16),
            instances=None if instances_file is None else _read_ids(instances_file, np.uint32),
            referring_mask=None if mask_file is None else _read_image(mask_file, 2) != 0,
            referring_text=entry.get('referring_text'),
            intrinsics=None
            if cam_in is None
            else _intrinsics(cam_in, rgb, self.path / 'frames.json'),
            class_names=entry.get('class_names'),
            ignore_label=entry.get('ignore_label'),
            ignore_instance=entry.get('ignore_instance'),
            instance_labels=entry.get('instance_labels'),
        )

    def _file(self, kind: str, name: str, suffixes: tuple[str, ...]) -> Path | None:
        """Find ``kind/name.<suffix>``; None if absent, an error if several suffixes exist."""
        found = [self.path / kind / f'{name}{s}' for s in suffixes]
        found = [path for path in found if path.is_file()]
        if len(found) > 1:
            raise DatasetError(
                f'frame {name!r} has several {kind} files, keep one: {[p.name for p in found]}'
            )
        return found[0] if found else None


def read_layout(path: str | os.PathLike[str]) -> FrameFolder:
    """
    Open a folder in this module's layout (see the module docstring).

    :param path: the folder holding ``frames.json``.
    :return: a ``FrameFolder``: ``len``, indexing and iteration read frames lazily.
    :raises FileNotFoundError: if there is no ``frames.json``.
    :raises DatasetError: if ``frames.json`` does not follow the layout.
    """
    return FrameFolder(path)


def convert_to_layout(
    frames: Iterable[Frame],
    out_dir: str | os.PathLike[str],
    *,
    depth_format: str = 'npy',
    overwrite: bool = False,
) -> Path:
    """
    Write frames into this module's layout, all or nothing.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into place
    only when complete; on any error the temporary folder is removed and ``out_dir`` is left
    as it was. RGB is written as PNG (lossless), normals as float32 .npy, labels as 16-bit PNG,
    instances as 16-bit PNG (or uint32 .npy for ids above 65535), referring masks as 0/255 PNG.
    Reading the result back gives the same arrays bit for bit.

    :param frames: the frames; names must be unique and use letters, digits, '.', '_', '-'.
    :param out_dir: the layout folder to create.
    :param depth_format: 'npy' (float32 metres, exact) or 'png_mm' (uint16 millimetres;
        refused unless every valid depth is a whole millimetre that reads back exactly).
    :param overwrite: replace an existing layout folder (one holding ``frames.json``).
    :return: ``out_dir`` as a Path.
    :raises FileExistsError: if ``out_dir`` exists and ``overwrite`` is False, or it exists
        and is not a layout folder.
    :raises DatasetError: on a bad or duplicate name, an unknown ``depth_format``, or depth
        that 'png_mm' cannot hold exactly.
    :raises OSError: if a file cannot be written.
    """
    if depth_format not in get_args(DepthFormat):
        raise DatasetError(
            f'depth_format must be one of {get_args(DepthFormat)}, got {depth_format!r}'
        )
    target = Path(out_dir)
    if target.exists() and not (overwrite and (target / 'frames.json').is_file()):
        reason = 'pass overwrite=True' if not overwrite else 'it is not a layout folder'
        raise FileExistsError(f'out_dir {str(target)!r} exists; {reason}')
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f'.{target.name}.partial-', dir=target.parent))
    try:
        entries: list[dict[str, Any]] = []
        names: set[str] = set()
        for frame in frames:
            if not isinstance(frame, Frame):
                raise DatasetError(f'frames must hold Frame objects, got {type(frame).__name__}')
            entries.append(_write_frame(frame, staging, depth_format, names))
            names.add(frame.name)
        _write_index(staging / 'frames.json', entries)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f'.{target.name}.old-', dir=target.parent))
            target.rename(retired / target.name)
            try:
                staging.rename(target)
            except OSError:
                (retired / target.name).rename(target)  # put the old layout back
                raise
            shutil.rmtree(retired)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _LOG.info('wrote %d frames to %s', len(entries), target)
    return target


def _write_frame(frame: Frame, folder: Path, depth_format: str, taken: set[str]) -> dict[str, Any]:
    """Write one frame's files into ``folder``; return its frames.json entry."""
    name = frame.name
    if not _NAME.fullmatch(name):
        raise DatasetError(
            f'frame name {name!r} must start with a letter or digit and use only letters, '
            "digits, '.', '_' and '-'"
        )
    if name in taken:
        raise DatasetError(f'frame name {name!r} occurs twice; names must be unique')
    _write_png(folder / 'rgb' / f'{name}.png', frame.rgb[..., ::-1])  # OpenCV writes BGR
    if frame.depth_m is not None and depth_format == 'npy':
        _save_npy(folder / 'depth' / f'{name}.npy', frame.depth_m)
    elif frame.depth_m is not None:
        _write_png(folder / 'depth' / f'{name}.png', _depth_to_mm(frame.depth_m, name))
    if frame.normals is not None:
        _save_npy(folder / 'normals' / f'{name}.npy', frame.normals)
    if frame.labels is not None:
        _write_png(folder / 'labels' / f'{name}.png', frame.labels)
    if frame.instances is not None:
        if frame.instances.size and int(frame.instances.max()) > 0xFFFF:
            _save_npy(folder / 'instances' / f'{name}.npy', frame.instances)
        else:
            _write_png(folder / 'instances' / f'{name}.png', frame.instances.astype(np.uint16))
    if frame.referring_mask is not None:
        _write_png(folder / 'masks' / f'{name}.png', frame.referring_mask.astype(np.uint8) * 255)
    intrinsics = frame.intrinsics
    return {
        'name': name,
        'dataset': frame.dataset,
        'intrinsics': None
        if intrinsics is None
        else [intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy],
        'class_names': _string_keys(frame.class_names),
        'ignore_label': frame.ignore_label,
        'ignore_instance': frame.ignore_instance,
        'instance_labels': _string_keys(frame.instance_labels),
        'referring_text': frame.referring_text,
    }


def _write_index(path: Path, entries: list[dict[str, Any]]) -> None:
    """Write frames.json, moving values every frame shares into ``defaults``."""
    defaults = {}
    for key in _FRAME_KEYS:
        values = [entry[key] for entry in entries]
        if values and all(value == values[0] for value in values):
            defaults[key] = values[0]
    frames = [
        {k: v for k, v in entry.items() if k == 'name' or k not in defaults} for entry in entries
    ]
    document = {
        'format': LAYOUT_FORMAT,
        'version': LAYOUT_VERSION,
        'defaults': {k: v for k, v in defaults.items() if v is not None},
        'frames': frames,
    }
    path.write_text(json.dumps(document, indent=1) + '\n', encoding='utf-8')


def _parse_index(path: Path) -> list[dict[str, Any]]:
    """Read and check a layout's frames.json; return one merged entry per frame."""
    document = _json(path)
    if not isinstance(document, dict) or document.get('format') != LAYOUT_FORMAT:
        raise DatasetError(f'{path}: "format" must be {LAYOUT_FORMAT!r}')
    if document.get('version') != LAYOUT_VERSION:
        raise DatasetError(
            f'{path}: "version" must be {LAYOUT_VERSION}, got {document.get("version")!r}'
        )
    unknown = set(document) - {'format', 'version', 'defaults', 'frames'}
    if unknown:
        raise DatasetError(f'{path}: unknown top-level keys {sorted(unknown)}')
    defaults = document.get('defaults', {})
    frames = document.get('frames')
    if not isinstance(defaults, dict) or not isinstance(frames, list):
        raise DatasetError(f'{path}: "defaults" must be an object and "frames" a list')
    entries = []
    for position, raw in enumerate(frames):
        where = f'{path}: frames[{position}]'
        if not isinstance(raw, dict):
            raise DatasetError(f'{where} must be an object, got {raw!r}')
        entry = {**defaults, **raw}
        unknown = set(entry) - {'name', *_FRAME_KEYS}
        if unknown:
            raise DatasetError(f'{where}: unknown keys {sorted(unknown)}')
        name = entry.get('name')
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DatasetError(f'{where}: "name" must be a file-safe string, got {name!r}')
        entries.append(_typed_entry(entry, where))
    names = [entry['name'] for entry in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DatasetError(f'{path}: frame names occur twice: {duplicates}')
    return entries


def _typed_entry(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """Convert the JSON types of one merged frames.json entry to Frame's."""
    typed: dict[str, Any] = {'name': entry['name']}
    try:
        for key in ('dataset', 'referring_text'):
            if entry.get(key) is not None:
                typed[key] = _typed(entry[key], str)
        for key in ('ignore_label', 'ignore_instance'):
            if entry.get(key) is not None:
                typed[key] = _typed(entry[key], int)
        if entry.get('intrinsics') is not None:
            values = entry['intrinsics']
            if not isinstance(values, list) or len(values) != 4:
                raise TypeError(f'intrinsics must be [fx, fy, cx, cy], got {values!r}')
            typed['intrinsics'] = [float(_typed(v, float)) for v in values]
        if entry.get('class_names') is not None:
            typed['class_names'] = {
                int(k): _typed(v, str) for k, v in _typed(entry['class_names'], dict).items()
            }
        if entry.get('instance_labels') is not None:
            typed['instance_labels'] = {
                int(k): _typed(v, int) for k, v in _typed(entry['instance_labels'], dict).items()
            }
    except (TypeError, ValueError) as err:
        raise DatasetError(f'{where}: {err}') from err
    return typed


def _typed(value: Any, kind: type) -> Any:
    """Return ``value`` if it is a ``kind`` (ints count as floats; bools never count)."""
    accepted = (int, float) if kind is float else kind
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise TypeError(f'expected {kind.__name__}, got {value!r}')
    return value


def _string_keys(mapping: Mapping[int, Any] | None) -> dict[str, Any] | None:
    return None if mapping is None else {str(k): v for k, v in sorted(mapping.items())}


def _depth_to_mm(depth_m: np.ndarray, name: str) -> np.ndarray:
    """Depth as uint16 millimetres (0 invalid), refusing any value that would not read back."""
    valid = np.isfinite(depth_m) & (depth_m > 0)
    millimetres = np.round(np.where(valid, depth_m, 0.0).astype(np.float64) * 1000.0)
    mm_u16 = np.clip(millimetres, 0, 0xFFFF).astype(np.uint16)
    with np.errstate(invalid='ignore'):
        exact = (mm_u16 > 0) & (_depth_from_u16(mm_u16, 1000.0) == depth_m)
    bad = int((valid & ~exact).sum())
    if bad:
        raise DatasetError(
            f"frame {name!r}: depth_format='png_mm' holds whole millimetres from 1 to 65535 "
            f"only; {bad} valid pixels are not; use 'npy'"
        )
    return mm_u16


# ---------------------------------------------------------------------------------------------
# Files


def _json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f'{str(path)!r} is missing')
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except json.JSONDecodeError as err:
        raise DatasetError(f'{str(path)!r} is not valid JSON: {err}') from err


def _read_image(path: Path, dims: int) -> np.ndarray:
    """Read a PNG/JPEG unchanged (bit depth and channels as stored), EXIF orientation ignored."""
    if not path.is_file():
        raise FileNotFoundError(f'{str(path)!r} is missing')
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # UNCHANGED never applies EXIF rotation
    if image is None:
        raise DatasetError(f'{str(path)!r} is not an image OpenCV can read')
    if image.ndim != dims:
        raise DatasetError(
            f'{str(path)!r} must have {"one channel" if dims == 2 else "colour channels"}, '
            f'got shape {image.shape}'
        )
    return np.asarray(image)


def _read_rgb(path: Path) -> np.ndarray:
    """Read an 8-bit colour image as (H, W, 3) RGB (alpha dropped)."""
    image = _read_image(path, 3)
    if image.dtype != np.uint8 or image.shape[2] not in (3, 4):
        raise DatasetError(
            f'{str(path)!r} must be 8-bit RGB or RGBA, got {image.dtype} {image.shape}'
        )
    return np.ascontiguousarray(image[..., 2::-1])  # BGR(A) -> RGB


def _read_u16(path: Path) -> np.ndarray:
    image = _read_image(path, 2)
    if image.dtype != np.uint16:
        raise DatasetError(f'{str(path)!r} must be a 16-bit single-channel PNG, got {image.dtype}')
    return image


def _read_ids(path: Path, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """Read a label or instance id map (PNG or .npy, unsigned) as ``dtype``."""
    ids = _load_npy(path, None, 2) if path.suffix == '.npy' else _read_image(path, 2)
    if ids.dtype.kind != 'u' or ids.dtype.itemsize > np.dtype(dtype).itemsize:
        raise DatasetError(
            f'{str(path)!r} must hold unsigned ids that fit {np.dtype(dtype)}, got {ids.dtype}'
        )
    return ids.astype(dtype)


def _load_npy(path: Path, dtype: type[np.generic] | None, dims: int) -> np.ndarray:
    array = np.asarray(np.load(path, allow_pickle=False))
    if array.ndim != dims or (dtype is not None and array.dtype != dtype):
        expected = f'{np.dtype(dtype)} ' if dtype is not None else ''
        raise DatasetError(
            f'{str(path)!r} must be a {dims}-D {expected}array, got {array.dtype} {array.shape}'
        )
    return array


def _depth_from_u16(raw: np.ndarray, scale: float) -> np.ndarray:
    """Scaled integer depth to float32 metres: ``raw / scale``, 0 -> NaN."""
    depth = raw.astype(np.float32) / np.float32(scale)
    depth[raw == 0] = np.nan
    return depth


def _intrinsics(cam_in: Iterable[float], rgb: np.ndarray, source: Path) -> CameraIntrinsics:
    """Build CameraIntrinsics from [fx, fy, cx, cy] for this RGB image."""
    values = [float(v) for v in cam_in]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise DatasetError(f'{str(source)!r}: intrinsics must be 4 finite numbers, got {values}')
    fx, fy, cx, cy = values
    return CameraIntrinsics(fx, fy, cx, cy, width=rgb.shape[1], height=rgb.shape[0])


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image)):
        raise OSError(f'OpenCV could not write {str(path)!r}')


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(exist_ok=True)
    np.save(path, array, allow_pickle=False)


def _check_array(
    value: object,
    name: str,
    dtype: type[np.generic],
    size: tuple[int, int] | None,
    *,
    channels: int | None = None,
) -> tuple[int, int]:
    """Check a Frame array's type, dtype and layout; return its (H, W)."""
    if not isinstance(value, np.ndarray):
        raise DatasetError(f'{name} must be a numpy array, got {type(value).__name__}')
    layout = '(H, W)' if channels is None else f'(H, W, {channels})'
    dims = 2 if channels is None else 3
    if value.dtype != dtype:
        raise DatasetError(f'{name} must be {np.dtype(dtype)}, got {value.dtype}')
    if value.ndim != dims or (channels is not None and value.shape[2] != channels):
        raise DatasetError(f'{name} must be laid out {layout}, got shape {value.shape}')
    if 0 in value.shape:
        raise DatasetError(f'{name} is empty (shape {value.shape})')
    if size is not None and value.shape[:2] != size:
        raise DatasetError(f'{name} must be {size} like rgb, got {value.shape[:2]}')
    return int(value.shape[0]), int(value.shape[1])
