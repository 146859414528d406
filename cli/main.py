"""`gcodec` command line: a click group; each command lives in its own module."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gcodec")
def main() -> None:
    """Learned codec for images and videos at extreme low bitrates."""


def _register() -> None:
    # command modules attach themselves to `main` on import
    from . import train_cmd  # noqa: F401


_register()

if __name__ == "__main__":
    main()
