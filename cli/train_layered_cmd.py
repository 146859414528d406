"""`gcodec train layered`: fit the layered codec's detail model on cached VVC base decodes."""

from __future__ import annotations

import click

from .train_cmd import _command_line, train


@train.command("layered")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of training images.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder (base-decode cache, checkpoints, log); resumed if it exists.")
@click.option("--crop", default=256, show_default=True, help="Side of the cached training crops (multiple of 32, >= 192).")
@click.option("--width", default=64, show_default=True, help="Channels of the 1/4-resolution trunk.")
@click.option("--blocks", default=4, show_default=True, help="Residual blocks in the trunk.")
@click.option("--channels", "-C", default=4, show_default=True, help="Texture latent channels.")
@click.option("--levels", "-L", default=5, show_default=True, help="Quantization centers.")
@click.option("--batch", default=8, show_default=True)
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--mse-weight", default=100.0, show_default=True)
@click.option("--msssim-weight", default=1.0, show_default=True)
@click.option("--texture-weight", default=0.1, show_default=True,
              help="Weight of the windowed texture statistics loss at R = 1 (scaled by R).")
@click.option("--rate-weight", default=15.0, show_default=True, help="Weight of the latents' bits per pixel.")
@click.option("--steps", default=100_000, show_default=True, help="Upper bound on steps.")
@click.option("--time-budget", default=0.0, help="Wall-clock seconds of training (0: none).")
@click.option("--val-every", default=250, show_default=True, help="Steps between validations.")
@click.option("--threads", default=0, help="CPU threads (0: torch default).")
@click.option("--bf16/--no-bf16", default=False, show_default=True,
              help="bfloat16 autocast for the networks (1.3-1.5x faster on CPUs with AVX-512 BF16).")
@click.option("--val-fraction", default=1 / 32, show_default=True, help="Share of images held out (by name hash).")
@click.option("--cache-workers", default=1, show_default=True, help="Processes coding the base-decode cache.")
def train_layered(data: str, out: str, crop: int, width: int, blocks: int, channels: int, levels: int, batch: int, lr: float,
                  mse_weight: float, msssim_weight: float, texture_weight: float, rate_weight: float, steps: int,
                  time_budget: float, val_every: int, threads: int, bf16: bool, val_fraction: float,
                  cache_workers: int) -> None:
    """Train (or resume) the detail model of the layered codec in a run folder."""
    from ..bitstream.errors import InputError
    from ..codec.layered.training import RunOptions, run
    from ..models.detail import DetailConfig
    from ..models.train_layered import LayeredTrainConfig

    checks = {"--crop": crop >= 192 and crop % 32 == 0, "--width": width >= 8, "--blocks": blocks >= 0,
              "--channels": 1 <= channels <= 15,
              "--levels": 2 <= levels <= 16, "--batch": batch >= 2, "--lr": lr > 0, "--steps": steps > 0,
              "--time-budget": time_budget >= 0, "--val-every": val_every > 0, "--threads": threads >= 0,
              "--cache-workers": cache_workers >= 1, "--val-fraction": 0 < val_fraction < 1, "--mse-weight": mse_weight >= 0,
              "--msssim-weight": msssim_weight >= 0, "--texture-weight": texture_weight >= 0,
              "--rate-weight": rate_weight >= 0}
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise InputError(f"impossible value for {', '.join(bad)} (see gcodec train layered --help)")
    cfg = LayeredTrainConfig(DetailConfig(width, blocks, channels, levels), lr, batch, mse_weight, msssim_weight,
                             texture_weight, rate_weight, bf16=bf16)
    opts = RunOptions(data, out, _command_line(), steps, time_budget, val_every, threads, cache_workers,
                      val_fraction, crop)
    ckpt = run(cfg, opts)
    click.echo(f"checkpoint: {ckpt}")
