"""The one exception family gcodec raises for bad input.

Every malformed, truncated, corrupted, foreign or impossible input turns into a
`GcodecError` subclass whose message is a single line a user can act on. The CLI
prints that line and exits non-zero; nothing else is caught there.
"""


class GcodecError(Exception):
    """Base class: a problem with the user's input or options, not a bug."""


class FormatError(GcodecError):
    """A container is malformed: wrong magic, bad lengths, failed checksums."""


class TruncatedError(FormatError):
    """A container ends before the bytes its header promises."""


class UnsupportedError(GcodecError):
    """Valid but unsupported: unknown format version, payload kind or model."""


class InputError(GcodecError):
    """An input file or option is unusable (unreadable image, wrong size, unknown name)."""


class InputWarning(UserWarning):
    """Something about an input a user should know that is not an error (a 16-bit image reduced to
    8 bits); the CLI prints it as one `gcodec: warning:` line."""
