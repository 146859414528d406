"""Structured fuzzing of every payload decoder (issue 21, item 2).

Mutants of small valid files (tests/fuzz_seeds.py, tests/fuzz_mutate.py) must decode to an
output of the header's shape or raise a GcodecError subclass with a one-line message, never
another exception, within a second of CPU time. Long runs: scripts/fuzz.py.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gcodec.bitstream.container import unpack
from gcodec.codec.api import Codec

from .fuzz_mutate import PAYLOAD_MUTATORS, mutate, mutate_payload, raw_file
from .fuzz_seeds import KINDS, Seed, allowed_seconds, make_seeds, model_ids, run_case

# Cases per kind (hypothesis runs ~15% more): ~4,000 in all, ~15 s on one thread; layered cases spawn ffmpeg.
BUDGET = {"gc": 1000, "sc": 1000, "labelmap": 700, "video": 1000, "layered": 400}


@dataclass
class FuzzEnv:
    seeds: list[Seed]
    ids: list[tuple[str, bytes]]
    codec: Codec

    def of_kind(self, kind: str) -> list[Seed]:
        return [s for s in self.seeds if s.kind == kind]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[FuzzEnv]:
    wdir = tmp_path_factory.mktemp("fuzz") / "weights"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GCODEC_WEIGHTS", str(wdir))
        seeds = make_seeds(wdir)
        yield FuzzEnv(seeds, model_ids(wdir), Codec(device=torch.device("cpu")))


def test_seeds_decode(env: FuzzEnv) -> None:
    assert {s.kind for s in env.seeds} == set(KINDS)
    for s in env.seeds:
        o = run_case(s.data, env.codec)
        assert o.result == "decoded", (s.name, o.error)


def test_raw_writer_matches_pack(env: FuzzEnv) -> None:
    """raw_file writes what pack writes, so header mutations change only the field they target."""
    for s in env.seeds:
        c = unpack(s.data)
        assert raw_file(int(c.kind), c.size, c.sections, c.model_id.encode(), c.model_digest) == s.data


def test_payload_mutants_reach_the_payload_decoders(env: FuzzEnv) -> None:
    """Re-packed mutants pass the container's CRC checks: the damage is the payload decoder's to find."""
    rng = random.Random(0)
    names = set()
    for s in env.seeds:
        for _ in range(20):
            name, data = mutate_payload(rng, unpack(s.data))
            unpack(data)
            names.add(name.split("@")[0])
    assert names == set(PAYLOAD_MUTATORS)


@pytest.mark.parametrize("kind", KINDS)
def test_mutants_decode_or_raise_one_line_gcodec_errors(env: FuzzEnv, kind: str) -> None:
    seeds = env.of_kind(kind)

    @settings(max_examples=BUDGET[kind], deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rng=st.randoms(use_true_random=False))
    def check(rng: random.Random) -> None:
        seed = rng.choice(seeds)
        mutation, data = mutate(rng, seed.data, env.ids)
        o = run_case(data, env.codec)
        where = f"{seed.name} {mutation}: {o.result} {o.error!r}"
        assert o.result != "crash", where
        if o.error is not None:
            assert str(o.error) and "\n" not in str(o.error), where
        assert o.seconds < allowed_seconds(data), f"{where} took {o.seconds:.2f} s"

    check()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from Linux's /proc")
def test_labelmap_claiming_the_pixel_limit_fails_without_writing_its_state(env: FuzzEnv, tmp_path: Path) -> None:
    """Regression: the label-map walker wrote (H+1)(W+1) bytes of state three times over before
    reading a symbol: a 90-byte payload claiming 2**28 pixels took 1.2 s and grew the process
    by 768 MB before its first symbol failed. Its buffers are now zeroed pages that only the walk
    and the border marks touch: +261 MB (numpy asks for huge pages, so marking the border
    columns maps the whole state array; the traced-edge array stays untouched)."""
    src = tmp_path / "payload.bin"
    src.write_bytes(unpack(env.of_kind("labelmap")[0].data).sections[0][1])
    # VmHWM: this process's peak RSS (ru_maxrss would carry pytest's own peak over the exec)
    code = ("import re, sys; from gcodec.bitstream.errors import FormatError;"
            "from gcodec.bitstream.labelmap import decode_labelmap;"
            "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]); before = hwm()\n"
            "try: decode_labelmap(open(sys.argv[1], 'rb').read(), 1 << 14, 1 << 14)\n"
            "except FormatError: print((hwm() - before) // 1024)")
    grown_mb = int(subprocess.run([sys.executable, "-c", code, str(src)], check=True, capture_output=True,
                                  text=True).stdout)
    assert grown_mb < 450, grown_mb
