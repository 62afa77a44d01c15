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
Exact, invertible maps between perception outputs and the RGB images a generator draws.

- :mod:`.depth`: metric depth <-> the paper's RGB-cube walk (and alternative colormaps).
- :mod:`.normals`: unit normals in the REP 103 optical frame <-> RGB.
- :mod:`.segmentation`: palettes, semantic / instance / referring masks <-> RGB.
"""

from vision_banana_ros.codecs.depth import decode_depth, DecodedDepth, encode_depth
from vision_banana_ros.codecs.errors import CodecError
from vision_banana_ros.codecs.normals import decode_normals, DecodedNormals, encode_normals
from vision_banana_ros.codecs.segmentation import (
    decode_instances,
    decode_referring,
    decode_semantic,
    DecodedInstances,
    DecodedSemantic,
    distinct_palette,
    encode_instances,
    encode_referring,
    encode_semantic,
    parse_colour,
)

__all__ = [
    'CodecError',
    'DecodedDepth',
    'DecodedInstances',
    'DecodedNormals',
    'DecodedSemantic',
    'decode_depth',
    'decode_instances',
    'decode_normals',
    'decode_referring',
    'decode_semantic',
    'distinct_palette',
    'encode_depth',
    'encode_instances',
    'encode_normals',
    'encode_referring',
    'encode_semantic',
    'parse_colour',
]
