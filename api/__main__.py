"""`python -m gcodec` runs the command line (same as the `gcodec` script)."""

from .cli.main import main

main()
