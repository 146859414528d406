"""`gcodec` command line: a click group; each command lives in its own module.

`main()` is the console entry point: it turns every `GcodecError` (bad input or
options) into one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from ..bitstream.errors import GcodecError, InputWarning


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gcodec")
def cli() -> None:
    """Learned codec for images and videos at extreme low bitrates."""


def _register() -> None:
    # command modules attach themselves to `cli` on import
    from . import (decode_cmd, encode_cmd, eval_cmd, export_cmd, info_cmd, sc_cmd, seg_cmd, train_cmd,  # noqa: F401
                   sample_cmd, train_codegan_cmd, train_detail_cmd, train_layered_cmd, video_cmd)


_register()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
    if issubclass(category, InputWarning):  # ours: one line, no source location
        click.echo(f"gcodec: warning: {message}", err=True)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> None:
    warnings.showwarning = _show_warning
    try:
        cli.main(args=argv, prog_name="gcodec", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("gcodec: aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as e:  # usage errors: click's own one-line message
        e.show()
        sys.exit(e.exit_code)
    except GcodecError as e:
        click.echo(f"gcodec: error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("gcodec: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # a bug, not bad input: still one line unless debugging
        if os.environ.get("GCODEC_DEBUG"):
            raise
        click.echo(f"gcodec: internal error: {e.__class__.__name__}: {e} (set GCODEC_DEBUG=1 for a traceback)", err=True)
        sys.exit(2)
