"""What network a video gets: its size from the bpp target, and (for --method auto) the method
that wins at the budget given, by the measured curves of scripts/video_time_table.py."""

from __future__ import annotations

import math

from ..models.nerv import NervConfig, make_config

AUTO = "auto"  # the default method: whichever wins at the budget given (auto_method)
# AUTO picks the supermask when its fit gets at least this many epochs (passes over the clip),
# dense otherwise. At equal wall time a dense fit gets 2.5-4x the supermask's epochs (it has
# 4-5x fewer weights at the same bpp). Supermask minus dense PSNR at 0.1 bpp, one thread,
# against the supermask's epochs (scripts/video_time_table.py, docs/video.md): 60 s: bikes 480x270
# 5 epochs -3.8 dB, bunny 256x144 8 -2.6, carphone 15 -1.3; 240 s (mean of two seeds): bikes 21
# -3.3, bunny 32 +0.24, carphone 67 +1.05. The threshold splits bikes' 21 from bunny's 30 (its
# lower seed) at their geometric mean; between carphone's points the margin crosses zero near
# 34 epochs, between bunny's near 28. An epochs budget uses the same threshold: at equal epochs
# dense gets no more passes than the supermask, so where the supermask wins at equal time it
# wins at equal epochs too (below it, at equal epochs, it may still win: not measured). Other
# rates than 0.1 bpp were not measured at equal time.
AUTO_SUPERMASK_MIN_EPOCHS = 25.0


def auto_method(supermask_epochs: float) -> str:
    """The method that wins, by the measured curves, when a supermask fit gets this many epochs."""
    return "supermask" if supermask_epochs >= AUTO_SUPERMASK_MIN_EPOCHS else "dense"


SPARSE_PRUNE = 0.5  # fraction of weights the sparse baseline removes
# Estimated coded bits per weight, used only to size the network for a bpp target.
# Dense files at 7.5 landed 1-6.5% under target (100-epoch runs on the three videos: 7.1-7.4 bits
# per weight); the sparse baseline's kept weights code less well and land within 2% at 7.5.
EST_BITS = {"dense": 7.2, "sparse": 1.0 + (1 - SPARSE_PRUNE) * 7.5}
# Coded bits per bias, for sizing only: with ~80 bytes of table it predicts the 6-bit bias
# sections of carphone files (100 epochs; supermask at 0.03 and 0.1 bpp, dense at 0.03:
# 5.0-5.2 bits per bias) within 3%.
EST_BIAS_BITS = 5.1
EST_BIAS_TABLE_BYTES = 80
# The supermask's 6-bit trained head: a 10-epoch carphone file at 0.03 bpp stored 378 head
# weights in 350 bytes (6 of them row scales): ~5.1 bits a weight and ~100 bytes of table.
EST_HEAD_BITS = 5.1
EST_HEAD_TABLE_BYTES = 100

def _entropy_bits(probs: list[float]) -> float:
    return -sum(p * math.log2(p) for p in probs if p > 0)


def estimate_bits(cfg: NervConfig, method: str, sparsities: tuple[float, ...], head: str = "trained") -> float:
    """Expected file size in bits for a config: weights + float16 extras + ~80 bytes of headers."""
    n_w, n_b = cfg.n_weights(), cfg.n_biases()
    n_layers = len(cfg.layer_shapes())
    if method == "supermask":
        cuts = (0.0, *sparsities, 1.0)
        per_w = _entropy_bits([cuts[i + 1] - cuts[i] for i in range(len(cuts) - 1)])
        extra = 16 * n_layers * len(sparsities)
        if head == "trained":
            n_head = math.prod(cfg.layer_shapes()[-1][1])
            n_w -= n_head
            extra += n_head * EST_HEAD_BITS + 16 * 3 + 8 * EST_HEAD_TABLE_BYTES - 16 * len(sparsities)
    else:
        per_w = EST_BITS[method]
        extra = 16 * n_b + 8 * 300  # per-row weight scales, weight table
    biases = EST_BIAS_BITS * n_b + 16 * n_layers + 8 * EST_BIAS_TABLE_BYTES  # symbols, scales, table
    return n_w * per_w + extra + biases + 8 * 80


def size_model(frames: int, height: int, width: int, bpp: float, method: str,
               sparsities: tuple[float, ...], head: str = "trained") -> NervConfig:
    """Widest config whose estimated size fits bpp * pixels (the narrowest if none does).

    The channel count moves the size in coarse steps; the MLP's hidden width (up to
    twice its default) then fills what is left, so every method lands near the target.
    """
    budget = bpp * frames * height * width

    def fits(cfg: NervConfig) -> bool:
        return estimate_bits(cfg, method, sparsities, head) <= budget

    best = make_config(frames, height, width, 2)
    for c in range(2, 2049):
        cfg = make_config(frames, height, width, c)
        if not fits(cfg):
            break
        best = cfg
    for hidden in range(best.hidden + 1, 2 * best.hidden + 1):
        cfg = make_config(frames, height, width, best.channels[0], hidden=hidden)
        if not fits(cfg):
            break
        best = cfg
    return best


