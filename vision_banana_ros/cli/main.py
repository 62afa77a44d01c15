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
The ``vision-banana`` application and its subcommands.

Every failure is one line on stderr, ``vision-banana: error: <what>``, and an exit status: 2
for bad input (a usage error, a missing or unreadable file, a bad value: ``ValueError``), 1
when the work itself failed (a backend error, a file that could not be written), 130 after
Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable
import functools
import logging
import sys
from typing import Any, TypeVar

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from vision_banana_ros.backends import BackendError
from vision_banana_ros.cli import bag, bench, codec, demo, evaluate, infer, serve, train

__all__ = ['app', 'main']

F = TypeVar('F', bound=Callable[..., Any])

app = typer.Typer(
    name='vision-banana',
    help='Robot perception from an instruction-tuned image generator (Vision Banana).',
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode='markdown',
)


def one_line_errors(command: F) -> F:
    """
    Report a command's failure as one line on stderr and an exit status, never a traceback.

    :param command: the command function.
    :return: the same command, wrapped (its signature unchanged for typer).
    """

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ValueError, FileNotFoundError) as err:
            _fail(err, 2)
        except (BackendError, OSError) as err:
            _fail(err, 1)

    return wrapped  # type: ignore[return-value]


app.command()(one_line_errors(codec.encode))
app.command()(one_line_errors(codec.decode))
app.command()(one_line_errors(train.train))
app.command()(one_line_errors(demo.demo))
app.command()(one_line_errors(infer.infer))
app.command('eval')(one_line_errors(evaluate.evaluate))
app.command()(one_line_errors(bag.bag))
app.command()(one_line_errors(bench.bench))
app.command()(one_line_errors(serve.serve))


def main() -> None:
    """Run the command line; usage errors, too, are one line and exit status 2."""
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as err:
        typer.echo(err.ctx.get_help() if err.ctx else str(err), err=True)
        sys.exit(2)
    except ClickException as err:
        context = getattr(err, 'ctx', None)  # usage errors know their command
        where = f" (see '{context.command_path} --help')" if context is not None else ''
        typer.echo(f'vision-banana: error: {err.format_message()}{where}', err=True)
        sys.exit(err.exit_code)
    except (ValueError, FileNotFoundError) as err:
        _fail(err, 2)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(err: BaseException, code: int) -> None:
    message = ' '.join(str(err).split()) or type(err).__name__
    typer.echo(f'vision-banana: error: {message}', err=True)
    raise typer.Exit(code)


if __name__ == '__main__':
    main()
