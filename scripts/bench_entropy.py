"""Entropy-coder benchmark: coded size vs ideal -log2 p, and symbols per second.

Streams mimic quantized GC latents: C channels x (H/16 x W/16) positions, L levels,
each channel with its own skewed table (a discretised Laplacian around the centre
level with a per-channel scale, so some channels are nearly deterministic). Symbols
are drawn from the integer tables themselves, so ideal_bits is the true target.

Usage: python scripts/bench_entropy.py [--reps 5] [--compare-range]
"""

from __future__ import annotations

import argparse
import time

import constriction
import numpy as np

from gcodec.bitstream.entropy import (
    PRECISION,
    decode_categorical,
    encode_categorical,
    ideal_bits,
    quantize_pmf,
)

# (label, channels, latent height, latent width, levels, Laplacian scale range)
STREAMS = [
    ("768x512 C=8", 8, 32, 48, 5, (0.15, 1.5)),
    ("768x512 C=8 low", 8, 32, 48, 5, (0.1, 0.5)),  # ~0.02 bpp: ~8 kbit per image
    ("768x512 C=16", 16, 32, 48, 5, (0.15, 1.5)),
    ("1920x1080 C=8", 8, 68, 120, 5, (0.15, 1.5)),
    ("2048x2048 C=16", 16, 128, 128, 5, (0.15, 1.5)),
    ("768x512 C=8 L=9", 8, 32, 48, 9, (0.15, 1.5)),
]


def channel_tables(
    rng: np.random.Generator, channels: int, levels: int, scale_range: tuple[float, float]
) -> np.ndarray:
    """Per-channel discretised Laplacians centred on the middle level, log-uniform scales."""
    centre = (levels - 1) / 2
    scales = np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]), channels))
    x = np.arange(levels) - centre
    pmf = np.exp(-np.abs(x)[None, :] / scales[:, None])
    return quantize_pmf(pmf)


def best_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def range_coder_bits(symbols: np.ndarray, tables: np.ndarray, index: np.ndarray) -> tuple[int, float, float]:
    """Size and timings of constriction's range coder on the same input, for comparison.

    Timed like our ANS path: building the per-symbol probability rows is included.
    """
    family = constriction.stream.model.Categorical(perfect=False)
    probs_table = tables / float(1 << PRECISION)
    sym = symbols.astype(np.int32)

    def enc() -> np.ndarray:
        coder = constriction.stream.queue.RangeEncoder()
        coder.encode(sym, family, np.take(probs_table, index, axis=0))
        return coder.get_compressed()

    def dec() -> np.ndarray:
        decoder = constriction.stream.queue.RangeDecoder(words)
        return decoder.decode(family, np.take(probs_table, index, axis=0))

    words = enc()
    assert np.array_equal(dec(), symbols)
    t_enc = best_time(enc, 3)
    t_dec = best_time(dec, 3)
    return 32 * len(words), t_enc, t_dec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-range", action="store_true", help="also time constriction's range coder")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    header = f"{'stream':<18}{'symbols':>9}{'ideal bits':>12}{'coded bits':>12}{'over %':>8}{'enc Msym/s':>12}{'dec Msym/s':>12}"
    if args.compare_range:
        header += f"{'range bits':>12}{'r.enc':>8}{'r.dec':>8}"
    print(header)
    for label, channels, height, width, levels, scale_range in STREAMS:
        tables = channel_tables(rng, channels, levels, scale_range)
        index = np.repeat(np.arange(channels), height * width)  # channel-major latent order
        cdf = np.cumsum(tables, axis=1)
        u = rng.integers(0, 1 << PRECISION, index.size)
        symbols = (u[:, None] >= cdf[index]).sum(axis=1)

        data = encode_categorical(symbols, tables, index)
        assert np.array_equal(decode_categorical(data, tables, index), symbols)
        ideal = ideal_bits(symbols, tables, index)
        coded = 8 * len(data)
        t_enc = best_time(lambda: encode_categorical(symbols, tables, index), args.reps)
        t_dec = best_time(lambda: decode_categorical(data, tables, index), args.reps)
        n = symbols.size
        line = (
            f"{label:<18}{n:>9}{ideal:>12.1f}{coded:>12}{100 * (coded / ideal - 1):>8.3f}"
            f"{n / t_enc / 1e6:>12.2f}{n / t_dec / 1e6:>12.2f}"
        )
        if args.compare_range:
            r_bits, r_enc, r_dec = range_coder_bits(symbols, tables, index)
            line += f"{r_bits:>12}{n / r_enc / 1e6:>8.2f}{n / r_dec / 1e6:>8.2f}"
        print(line)


if __name__ == "__main__":
    main()
