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

"""``vision-banana bag``: a recorded rosbag2 in; the same bag plus what the node publishes out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from vision_banana_ros.bags import process_bag
from vision_banana_ros.cli import options
from vision_banana_ros.pipeline import Pipeline
from vision_banana_ros.settings import load_settings, Settings

__all__ = ['bag']


def bag(
    source: Annotated[Path, typer.Argument(metavar='IN', help='input rosbag2 folder')],
    destination: Annotated[Path, typer.Argument(metavar='OUT', help='output folder (new)')],
    image_topic: Annotated[
        str,
        typer.Option(
            '--image-topic', metavar='TOPIC', help='sensor_msgs/Image or CompressedImage topic'
        ),
    ],
    camera_info_topic: Annotated[
        str | None,
        typer.Option(
            '--camera-info-topic',
            metavar='TOPIC',
            help='its CameraInfo (default: <image namespace>/camera_info when the bag has it)',
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            '--config', metavar='YAML', help="the node's parameter file (config/perception.yaml)"
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            '--namespace', metavar='NS', help="where outputs go (default: the image's namespace)"
        ),
    ] = None,
    storage: Annotated[
        str, typer.Option('--storage', metavar='FORMAT', help='output storage: mcap or sqlite3')
    ] = 'mcap',
) -> None:
    """
    Run the node's pipeline over a recorded bag and write what the node would publish.

    Reads a rosbag2 (sqlite3 or MCAP, Humble or Jazzy), copies every message, runs the
    pipeline with temporal smoothing over the image topic in recording order, and writes the
    node's outputs (depth/image, normals, semantic, instances, referring masks, points, ...)
    under the image topic's namespace with each input's header, so `ros2 bag play OUT` and RViz
    show them as the live node would.

    Typical use:

        vision-banana bag recording/ processed/ --image-topic /camera/color/image_raw

    Ctrl-C stops after the current image and leaves a complete, playable bag of what was done.
    """
    settings = load_settings(config) if config is not None else Settings()
    with (
        Pipeline(settings.pipeline) as pipeline,
        options.progress(0, 'processing', 'images') as advance,
    ):
        report = process_bag(
            source,
            destination,
            image_topic,
            camera_info_topic,
            settings,
            storage=storage,
            namespace=namespace,
            pipeline=pipeline,
            progress=lambda done, total: advance(total),
        )
    for problem in report.problems:
        typer.echo(f'vision-banana: warning: {problem}', err=True)
    typer.echo(
        f'{destination}: {report.frames} images processed, {report.skipped} skipped, '
        f'{report.copied} input messages copied, {len(report.topics)} output topics'
    )
    for topic, count in sorted(report.topics.items()):
        typer.echo(f'  {topic}: {count}')
    if not report.complete:
        typer.echo('interrupted: the bag holds the images done so far', err=True)
        raise typer.Exit(130)
