"""`python -m gcodec.cli` runs the command line (same as the `gcodec` script)."""

from .main import main

main()
