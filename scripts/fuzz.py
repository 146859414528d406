"""Long structured fuzzing runs of every gcodec decoder.

    python scripts/fuzz.py --cases 100000 --seed 0 [--kinds gc,sc,labelmap,video,layered]
        [--out fuzz-findings] [--limit 1.0] [--kill 60] [--max-memory-gb 8] [--atheris]

Seeds are one or more small valid files per payload kind, made with tiny random models in a
temporary weights folder (tests/fuzz_seeds.py). Each case mutates a seed (tests/fuzz_mutate.py:
payload bytes with the CRCs recomputed, sections, header fields, whole-file cuts) and decodes it
on the CPU with one thread. A case must end decoded (output of the header's shape) or in a
GcodecError subclass. Anything else is a crash; a case taking more than --limit CPU seconds
(ffmpeg's included) is a hang; both are saved to --out as NAME.gcodec with NAME.txt (seed,
mutation, error). A case still running after --kill seconds is interrupted (SIGALRM) and
counted as a hang; the address space is capped (--max-memory-gb), so a runaway allocation
fails inside its case (MemoryError: a crash) instead of exhausting the machine. Prints cases
per kind with their outcomes (decoded, or GcodecError by class), crashes, hangs, the slowest
case and the peak RSS.

Decoding cost follows the size a header claims (up to 2**28 pixels a frame, 65536 frames), and
a mutant claiming a big output may be valid, so a case claiming more than 2**20 output pixels
runs every check of decoding but not the synthesis (outcome "validated"; tests/fuzz_seeds.py),
and --limit grants 4 extra seconds per 2**28 claimed pixels (a label map at the limit walks them).

--atheris: coverage-guided fuzzing with atheris (pip install atheris; 3.0.0 works on CPython
3.11 here). The seeds are the corpus and the structured mutations are atheris' custom
mutator (falling back to its byte mutator when an input no longer parses), so libFuzzer's
coverage feedback picks which mutants to keep. Runs --cases inputs; libFuzzer's own
-timeout / -rss_limit_mb apply; it writes crash-* files, and keeps its corpus in --out/corpus
(a later run goes on from it); the summary printed is this script's, every 1000 cases and
after the last.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package: seeds and mutations
if TYPE_CHECKING:  # gcodec is imported lazily: --atheris must instrument it first
    from gcodec.codec.api import Codec
    from tests.fuzz_seeds import Seed


class Hang(BaseException):
    """Raised by SIGALRM inside a case that runs past --kill seconds (a BaseException, so the
    oracle's `except Exception` does not file it as a crash)."""


def _alarm(_signum: int, _frame: object) -> None:
    raise Hang("interrupted")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default="gc,sc,labelmap,video,layered")
    ap.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    ap.add_argument("--limit", type=float, default=1.0, help="CPU seconds a case may take (before size allowance)")
    ap.add_argument("--kill", type=float, default=60.0, help="wall seconds after which a case is interrupted")
    ap.add_argument("--max-memory-gb", type=float, default=8.0,
                    help="address-space limit (RLIMIT_AS): a bigger allocation fails in the case, as a crash")
    ap.add_argument("--atheris", action="store_true")
    return ap.parse_args(argv)


KIND_NAMES = {1: "gc", 2: "labelmap", 3: "sc", 4: "video", 5: "layered"}  # payload kind byte -> --kinds name


class Report:
    def __init__(self, out: Path) -> None:
        self.out, self.outcomes = out, Counter()
        self.kinds: dict[str, Counter] = {}  # kind -> outcome counts
        self.crashes, self.hangs = 0, 0
        self.slowest = (0.0, "")
        self.start = time.perf_counter()

    @property
    def n(self) -> int:
        return sum(self.outcomes.values())

    def save(self, tag: str, data: bytes, note: str) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"{tag}.gcodec").write_bytes(data)
        (self.out / f"{tag}.txt").write_text(note)

    def add(self, case: str, kind: str, seed: str, mutation: str, data: bytes, result: str, seconds: float,
            error: BaseException | None, limit: float) -> None:
        from tests.fuzz_seeds import allowed_seconds  # lazily: --atheris instruments gcodec's imports first

        self.kinds.setdefault(kind, Counter())[result] += 1
        self.outcomes[result] += 1
        self.slowest = max(self.slowest, (seconds, f"{case} {mutation}"))
        note = f"case {case}, seed {seed}, mutation {mutation}, {seconds:.3f} CPU s, {result}\n"
        if result == "crash":
            self.crashes += 1
            self.save(f"crash-{case}", data, note + "".join(traceback.format_exception(error)))
        elif result == "hang" or seconds > allowed_seconds(data, limit):
            self.hangs += 1
            self.save(f"hang-{case}", data, note)

    def print(self) -> None:
        from tests.fuzz_seeds import peak_rss_mb

        print(f"{self.n} cases in {time.perf_counter() - self.start:.1f} s")
        for kind, counts in sorted(self.kinds.items()):
            print(f"  {kind}: {sum(counts.values())} cases (" + ", ".join(f"{k} {v}" for k, v in counts.most_common()) + ")")
        print("outcomes: " + ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common()))
        print(f"crashes: {self.crashes}, hangs: {self.hangs}" + (f" (inputs in {self.out}/)" if self.crashes + self.hangs else ""))
        print(f"slowest: {self.slowest[0]:.3f} CPU s ({self.slowest[1]}); peak RSS {peak_rss_mb():.0f} MB")


def setup(kinds: list[str], wdir: Path) -> tuple[list[Seed], list[tuple[str, bytes]], Codec]:
    """Seeds, model ids and a CPU Codec, with GCODEC_WEIGHTS pointing at the tiny models."""
    import torch

    from gcodec.codec.api import Codec
    from tests.fuzz_seeds import make_seeds, model_ids

    torch.set_num_threads(1)
    os.environ["GCODEC_WEIGHTS"] = str(wdir)
    seeds = make_seeds(wdir, kinds)
    return seeds, model_ids(wdir), Codec(device=torch.device("cpu"))


def run_plain(args: argparse.Namespace, kinds: list[str], wdir: Path) -> Report:
    from tests.fuzz_mutate import mutate
    from tests.fuzz_seeds import run_case

    seeds, ids, codec = setup(kinds, wdir)
    by_kind = {k: [s for s in seeds if s.kind == k] for k in kinds}
    report = Report(args.out)
    signal.signal(signal.SIGALRM, _alarm)
    for i in range(args.cases):
        rng = random.Random(f"{args.seed}:{i}")
        seed = rng.choice(by_kind[rng.choice(kinds)])
        mutation, data = mutate(rng, seed.data, ids)
        signal.setitimer(signal.ITIMER_REAL, args.kill)
        try:
            o = run_case(data, codec)
            result, seconds, error = o.result, o.seconds, o.error
        except Hang as e:
            result, seconds, error = "hang", args.kill, e
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        report.add(f"{args.seed}-{i}", seed.kind, seed.name, mutation, data, result, seconds, error, args.limit)
        if (i + 1) % 5000 == 0 and i + 1 < args.cases:
            report.print()
    return report


def run_atheris(args: argparse.Namespace, kinds: list[str], wdir: Path) -> None:
    import atheris

    with atheris.instrument_imports(include=["gcodec"]):
        import gcodec.bitstream.labelmap  # noqa: F401
        import gcodec.codec.api  # noqa: F401
        import gcodec.codec.video_codec  # noqa: F401
    from gcodec.bitstream.container import MAGIC
    from gcodec.bitstream.errors import GcodecError
    from tests.fuzz_mutate import mutate
    from tests.fuzz_seeds import run_case

    seeds, ids, codec = setup(kinds, wdir)
    corpus = args.out / "corpus"  # libFuzzer adds the inputs it keeps: a later run goes on from them
    corpus.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        (corpus / f"{s.name}.gcodec").write_bytes(s.data)
    report = Report(args.out)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.8:
            try:
                return mutate(rng, data, ids, rounds=1)[1][:max_size]
            except GcodecError:
                pass  # not a container any more: let libFuzzer mutate bytes
        return atheris.Mutate(data, max_size)

    def one_input(data: bytes) -> None:
        o = run_case(data, codec)
        kind = KIND_NAMES.get(data[4], "not a container") if len(data) > 4 and data[:3] == MAGIC else "not a container"
        report.add(str(report.n), kind, "corpus", "atheris", data, o.result, o.seconds, o.error, args.limit)
        if report.n % 1000 == 0 or report.n == args.cases:  # libFuzzer exit()s after the last run: no code after Fuzz()
            report.print()
        if o.result == "crash":
            raise o.error

    argv = [sys.argv[0], str(corpus), f"-runs={args.cases}", f"-seed={args.seed + 1}", f"-timeout={int(args.kill)}",
            f"-rss_limit_mb={int(args.max_memory_gb * 1024)}", f"-artifact_prefix={args.out}/"]
    atheris.Setup(argv, one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    limit = int(args.max_memory_gb * 2**30)  # machines are shared: never let one case take them
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    if args.atheris:  # libFuzzer exit()s at the end, so the tiny models live in --out, not a temp folder
        run_atheris(args, kinds, args.out / "weights")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        report = run_plain(args, kinds, Path(tmp) / "weights")
    report.print()
    return 1 if report.crashes or report.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
