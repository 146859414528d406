"""Fixed random weights regenerated bit-exactly from a seed on any machine.

Built from numpy's PCG64 raw 64-bit output (`random_raw`), whose stream numpy keeps
stable across versions (NEP 19 applies its compatibility promise to bit generators,
and SeedSequence's mixing is specified). Only integer operations and IEEE-exact
float ops (int->float conversion, multiplication by a power of two, one multiply by
a float64 constant, one rounding to float32) turn bits into weights, so the result
does not depend on libm, BLAS, framework version, CPU or GPU.
"""

from __future__ import annotations

import math

import numpy as np

GENERATOR_ID = 1  # 1 = PCG64(SeedSequence([seed, layer])) + random_raw; bump on any change
INITS = ("signed", "kaiming_uniform")


def _raw(seed: int, layer: int, n: int) -> np.ndarray:
    gen = np.random.PCG64(np.random.SeedSequence([int(seed), int(layer)]))
    return gen.random_raw(n).astype(np.uint64)


def seeded_weight(seed: int, layer: int, shape: tuple[int, ...], fan_in: int, init: str = "signed") -> np.ndarray:
    """float32 weight of `shape` for layer number `layer`, identical on every machine.

    signed: +-gain/sqrt(fan_in), the sign from each word's top bit (signed-constant init).
    kaiming_uniform: U(-b, b) with b = gain*sqrt(3/fan_in), from each word's top 53 bits.
    gain = sqrt(2) (ReLU/GELU-style); the magnitude is rounded once, to float64 then float32.
    """
    n = int(np.prod(shape))
    raw = _raw(seed, layer, n)
    gain = math.sqrt(2.0)
    if init == "signed":
        scale = np.float64(gain / math.sqrt(fan_in))
        sign = 1.0 - 2.0 * (raw >> np.uint64(63)).astype(np.float64)  # exact +-1
        w = sign * scale
    elif init == "kaiming_uniform":
        bound = np.float64(gain * math.sqrt(3.0 / fan_in))
        u = (raw >> np.uint64(11)).astype(np.float64) * (2.0**-53)  # exact, in [0, 1)
        w = (2.0 * u - 1.0) * bound  # 2u-1 is exact; one rounded multiply
    else:
        raise ValueError(f"unknown init {init!r}; choose from {INITS}")
    return w.astype(np.float32).reshape(shape)
