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
Serving generator backends over HTTP (``vision-banana serve``) and the wire protocol.

``protocol`` holds what the server and the ``remote`` backend share: the JSON bodies, their
limits, the bearer-token check and the HTTP status every malformed request maps to. It has no
web framework in it, so any server (Ray Serve, a stdlib test server) answers the same way.
"""
