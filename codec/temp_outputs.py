"""Temporary files and folders of outputs in flight, so an interrupted batch leaves none behind.

Writers (`image_io.write_atomic`, `video_io.write_video`) create their temporaries with
`temporary()` and publish them with `publish()`. `abandon()` (the CLI's SIGINT/SIGTERM path)
removes every temporary still registered and makes later `temporary()` / `publish()` calls
raise `Abandoned`, so no worker thread can rename a file into place after it. Registration,
publication and abandonment share one lock: an output is either complete or absent.
"""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

_lock = threading.Lock()
_live: set[str] = set()
_abandoned = False


class Abandoned(BaseException):
    """The batch was interrupted: this output is not to be written (not a GcodecError: nothing to report)."""


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


@contextmanager
def temporary(make: Callable[[], str]) -> Iterator[str]:
    """Run `make()` (it creates a temporary file or folder and returns its path), register it, and
    remove it on the way out unless it was published or the process is abandoning it."""
    with _lock:
        if _abandoned:
            raise Abandoned()
        path = make()
        _live.add(path)
    try:
        yield path
    finally:
        with _lock:
            if path in _live:
                _live.discard(path)
                _remove(path)


def publish(tmp: str, action: Callable[[], None]) -> None:
    """Run `action` (the rename of `tmp` into place) unless the batch has been abandoned."""
    with _lock:
        if _abandoned:
            raise Abandoned()
        action()
        _live.discard(tmp)


def abandon() -> int:
    """Remove every registered temporary and refuse new ones; returns how many were removed."""
    global _abandoned
    with _lock:
        _abandoned = True
        n = len(_live)
        for path in sorted(_live):
            _remove(path)
        _live.clear()
        return n

