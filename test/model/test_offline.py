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
"""Both pretrained encoders load and run with the network blocked: nothing is downloaded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# Run in a fresh interpreter, so nothing imported or cached by other tests can help: sockets
# are blocked before transformers, tokenizers, safetensors or efficientnet are imported.
_SCRIPT = textwrap.dedent(
    """
    import os
    import socket

    def refuse(*args, **kwargs):
        raise OSError('network access attempted: ' + repr(args[:2]))

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    try:
        socket.create_connection(('pypi.org', 443))
    except OSError as err:
        assert 'network access attempted' in str(err)
    else:
        raise AssertionError('the network is not blocked')
    assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['TRANSFORMERS_OFFLINE'] == '1'

    import torch
    from vision_banana_ros.model.encoder import ImageEncoder, TextEncoder

    features = ImageEncoder((128, 160))(torch.rand(1, 3, 128, 160))
    assert [tuple(f.shape[1:]) for f in features][-1] == (320, 4, 5)
    embeddings = TextEncoder()(['Generate a surface normal visualization of this image.'])
    assert embeddings.shape == (1, 384)
    assert torch.isfinite(embeddings).all()
    print('offline ok')
    """
)


def test_pretrained_encoders_load_and_run_with_the_network_blocked() -> None:
    env = {
        **os.environ,
        'HF_HUB_OFFLINE': '1',
        'TRANSFORMERS_OFFLINE': '1',
        'HF_HOME': '/nonexistent/hf-home',  # no cache to fall back on
        'PYTHONWARNINGS': 'error',
        'OMP_NUM_THREADS': '1',
    }
    result = subprocess.run(
        [sys.executable, '-c', _SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'offline ok' in result.stdout
