"""Batch plumbing the coding commands share (encode, decode, segment): output paths checked before
any work, per-file error reporting, a progress bar, and a clean stop on SIGINT / SIGTERM.

The `encode` command itself is in encode_cmd.py; its input kinds in encode_image.py,
encode_labelmap.py and encode_video.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from tqdm import tqdm

from ..bitstream.errors import GcodecError, InputError

SUFFIX = ".gcodec"


def _outputs(inputs: tuple[str, ...], out: str | None, outdir: str | None, suffix: str) -> list[str]:
    """Output path for each input; validated before any work starts."""
    if bool(out) == bool(outdir):
        raise InputError("give exactly one of -o OUT or -d OUTDIR")
    if out:
        if len(inputs) != 1:
            raise InputError("-o takes a single input; use -d OUTDIR for several")
        if out != "-" and not Path(out).resolve().parent.is_dir():
            raise InputError(f"{out}: folder {Path(out).parent} does not exist")
        return [out]
    if "-" in inputs:
        raise InputError("standard input ('-') needs -o")
    if not Path(outdir).is_dir():
        raise InputError(f"output folder {outdir} does not exist")
    names = [Path(outdir) / (Path(i).stem + suffix) for i in inputs]
    if len(set(names)) != len(names):
        raise InputError("several inputs share a file name stem; -d would write them to the same output")
    return [str(n) for n in names]


def _refuse_existing(outputs: list[str], force: bool) -> None:
    for dst in outputs:
        if dst != "-" and Path(dst).exists() and not force:
            raise InputError(f"{dst} exists (use --force to overwrite)")


def _run_all(inputs: tuple[str, ...], outputs: list[str], work: Callable[[str, str], dict[str, Any]],
             jobs: int, as_json: bool) -> None:
    """Process every input; report bad ones and carry on; exit 1 if any failed."""
    if jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {jobs}")
    if jobs > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // jobs))

    def one(pair: tuple[str, str]) -> tuple[str, dict[str, Any] | None, str | None]:
        src, dst = pair
        try:
            return src, work(src, dst), None
        except GcodecError as e:
            return src, None, str(e)

    # one progress bar for a batch, on a terminal only: scripts read --json or a pipe instead
    bar = tqdm(total=len(inputs), unit="file", file=sys.stderr, leave=False,
               disable=len(inputs) < 2 or as_json or not _stderr_is_terminal())

    def say(text: str) -> None:  # a line on stderr, above the bar when there is one
        if bar.disable:
            click.echo(text, err=True)
        else:
            bar.write(text, file=sys.stderr)

    failed = done = 0
    with _stop_on_signals() as stopped:
        pool = ThreadPoolExecutor(max_workers=jobs)  # not `with`: its exit would wait for the workers
        try:
            for src, result, err in pool.map(one, zip(inputs, outputs)):
                done += 1
                bar.update(1)
                if err is not None:
                    failed += 1
                    if as_json:
                        click.echo(json.dumps({"input": src, "error": err}))
                    say(f"gcodec: error: {err if err.startswith(src) else f'{src}: {err}'}")
                else:
                    line = result.pop("_line")  # the human-readable summary; JSON carries the fields instead
                    if as_json:
                        click.echo(json.dumps(result))
                    else:
                        say(line)
            pool.shutdown()
        except _Stopped:
            bar.close()
            _exit_interrupted(stopped[-1], done, len(inputs))
        except BaseException:
            pool.shutdown()
            raise
    bar.close()
    if failed:
        raise SystemExit(1)


class _Stopped(BaseException):
    """SIGINT or SIGTERM arrived while a batch ran (raised in the main thread by the handler)."""


@contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM raise _Stopped in the main thread for the batch's duration (the signal
    number goes in the yielded list); the previous handlers come back afterwards."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def handler(signum: int, frame: Any) -> None:
        got.append(signum)
        raise _Stopped()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _exit_interrupted(signum: int, done: int, total: int) -> None:
    """Remove every temporary output, then end the process at once with 128 + signal number (130
    for SIGINT, 143 for SIGTERM). Worker threads cannot be stopped from outside; ending the process
    stops them, and its ffmpeg children end on their closed pipes. A file a worker renamed into place
    before the signal is complete; no rename happens after it (codec/temp_outputs.py)."""
    from ..codec.temp_outputs import abandon

    abandon()
    name = signal.Signals(signum).name
    click.echo(f"gcodec: interrupted by {name}: {done} of {total} files reported, no partial output left", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _device_option(f: Callable) -> Callable:
    return click.option("--device", default="auto", show_default=True,
                        help="auto (GPU when present), cpu or cuda.")(f)


