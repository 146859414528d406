"""`gcodec train layered`: fit the layered codec's detail model on cached VVC base decodes."""

from __future__ import annotations

import click

from .train_cmd import _command_line, train


@train.command("layered")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of training images.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder (base-decode cache, checkpoints, log); resumed if it exists.")
@click.option("--crop", default=256, show_default=True, help="Side of the cached training crops (multiple of 32, >= 192).")
@click.option("--init-from", default="", type=click.Path(file_okay=False),
              help="Start from the weights of another run folder's checkpoint (same --width/--blocks/-C/-L).")
@click.option("--texture-only", is_flag=True,
              help="Train only the texture head (with --init-from): files and R = 0 decodes stay the same.")
@click.option("--sharpen", is_flag=True,
              help="Band gains on the fidelity decode and the two-ramp realism knob (models/detail.py).")
@click.option("--gains-only", is_flag=True,
              help="Train only the band gains (with --sharpen and --init-from): files stay the same.")
@click.option("--cache-from", default="", type=click.Path(file_okay=False),
              help="Reuse another run folder's base-decode cache instead of building one.")
@click.option("--width", default=64, show_default=True, help="Channels of the 1/4-resolution trunk.")
@click.option("--blocks", default=4, show_default=True, help="Residual blocks in the trunk.")
@click.option("--channels", "-C", default=4, show_default=True, help="Texture latent channels.")
@click.option("--levels", "-L", default=5, show_default=True, help="Quantization centers.")
@click.option("--texture-band", default=0.0, show_default=True, metavar="SIGMA",
              help="Confine the texture residual to the finest band: subtract its Gaussian blur of this sigma (0: off).")
@click.option("--batch", default=8, show_default=True)
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--mse-weight", default=100.0, show_default=True)
@click.option("--msssim-weight", default=1.0, show_default=True)
@click.option("--texture-weight", default=0.1, show_default=True,
              help="Weight of the windowed texture statistics loss at R = 1 (scaled by R).")
@click.option("--energy-weight", default=0.0, show_default=True,
              help="Weight of R times the squared log ratio of the decode's fine-detail energy to the original's.")
@click.option("--rate-weight", default=15.0, show_default=True, help="Weight of the latents' bits per pixel.")
@click.option("--steps", default=100_000, show_default=True, help="Upper bound on steps.")
@click.option("--time-budget", default=0.0, help="Wall-clock seconds of training (0: none).")
@click.option("--val-every", default=250, show_default=True, help="Steps between validations.")
@click.option("--threads", default=0, help="CPU threads (0: torch default).")
@click.option("--bf16/--no-bf16", default=False, show_default=True,
              help="bfloat16 autocast for the networks (1.3-1.5x faster on CPUs with AVX-512 BF16).")
@click.option("--val-fraction", default=1 / 32, show_default=True, help="Share of images held out (by name hash).")
@click.option("--cache-workers", default=1, show_default=True, help="Processes coding the base-decode cache.")
def train_layered(**kw) -> None:
    """Train (or resume) the detail model of the layered codec in a run folder."""
    from ..bitstream.errors import InputError
    from ..codec.layered.training import RunOptions, run
    from ..models.detail import DetailConfig
    from ..models.train_layered import LayeredTrainConfig

    checks = {"--crop": kw["crop"] >= 192 and kw["crop"] % 32 == 0, "--width": kw["width"] >= 8,
              "--blocks": kw["blocks"] >= 0, "--channels": 1 <= kw["channels"] <= 15, "--levels": 2 <= kw["levels"] <= 16,
              "--batch": kw["batch"] >= 2, "--lr": kw["lr"] > 0, "--steps": kw["steps"] > 0,
              "--time-budget": kw["time_budget"] >= 0, "--val-every": kw["val_every"] > 0,
              "--threads": kw["threads"] >= 0, "--cache-workers": kw["cache_workers"] >= 1,
              "--val-fraction": 0 < kw["val_fraction"] < 1, "--texture-band": 0 <= kw["texture_band"] <= 8}
    for name in ("mse_weight", "msssim_weight", "texture_weight", "rate_weight", "energy_weight"):
        checks["--" + name.replace("_", "-")] = kw[name] >= 0
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise InputError(f"impossible value for {', '.join(bad)} (see gcodec train layered --help)")
    for flag in ("texture_only", "gains_only"):
        if kw[flag] and not kw["init_from"]:
            raise InputError(f"--{flag.replace('_', '-')} needs --init-from RUN (a trained model to keep)")
    if kw["gains_only"] and (kw["texture_only"] or not kw["sharpen"]):
        raise InputError("--gains-only needs --sharpen and excludes --texture-only")
    model = DetailConfig(kw["width"], kw["blocks"], kw["channels"], kw["levels"], texture_band=kw["texture_band"],
                         sharpen=kw["sharpen"])
    cfg = LayeredTrainConfig(model, **{k: kw[k] for k in ("lr", "batch", "mse_weight", "msssim_weight", "texture_weight",
                                                         "rate_weight", "bf16", "texture_only", "gains_only",
                                                         "energy_weight")})
    opts = RunOptions(command=_command_line(), **{k: kw[k] for k in (
        "data", "out", "steps", "time_budget", "val_every", "threads", "cache_workers", "val_fraction", "crop",
        "init_from", "cache_from")})
    click.echo(f"checkpoint: {run(cfg, opts)}")
