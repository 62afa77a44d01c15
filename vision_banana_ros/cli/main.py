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
"""The ``vision-banana`` application: its subcommands; bad input becomes exit status 2."""

from __future__ import annotations

import logging
import sys

import typer
from vision_banana_ros.cli import codec, train

__all__ = ['app', 'main']

app = typer.Typer(
    name='vision-banana',
    help='Robot perception from an instruction-tuned image generator (Vision Banana).',
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(codec.encode)
app.command()(codec.decode)
app.command()(train.train)


def main() -> None:
    """Run the command line; bad input (ValueError, missing file) exits 2 with one clear line."""
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    try:
        app()
    except (ValueError, FileNotFoundError) as err:
        typer.echo(f'vision-banana: error: {err}', err=True)
        sys.exit(2)


if __name__ == '__main__':
    main()
