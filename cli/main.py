"""`gcodec` command line: a click group; each command lives in its own module."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gcodec")
def main() -> None:
    """Learned codec for images and videos at extreme low bitrates."""
