"""`gcodec train detail`: fit a detail stage (the `--realism` knob) for a frozen GC or SC model."""

from __future__ import annotations

import click

from .train_cmd import _command_line, train


@train.command("detail")
@click.option("--model", "-m", "base_model", required=True, help="The GC or SC model the stage is for (name or path).")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of training images; for an SC model, a CamVid-layout folder (images/ and labels/).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder (cache of the model's decodes, checkpoints, log); resumed if it exists.")
@click.option("--crop", default=256, show_default=True, help="Side of the cached training crops (multiple of 32, >= 192).")
@click.option("--init-from-layered", default="", metavar="MODEL",
              help="Start from a layered model's generator (e.g. layered; same --width/--blocks): it already draws "
                   "texture on blurred images, so the stage learns in far fewer steps.")
@click.option("--init-from-stage", default="", metavar="STAGE",
              help="Continue from a shipped detail stage of the same shape (e.g. with other loss weights).")
@click.option("--width", default=64, show_default=True, help="Channels of the 1/4-resolution trunk.")
@click.option("--blocks", default=4, show_default=True, help="Residual blocks in the trunk.")
@click.option("--texture-band", default=0.0, show_default=True, metavar="SIGMA",
              help="Confine the texture residual to the finest band: subtract its Gaussian blur of this sigma (0: off).")
@click.option("--batch", default=8, show_default=True)
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--mse-weight", default=100.0, show_default=True)
@click.option("--msssim-weight", default=1.0, show_default=True)
@click.option("--texture-weight", default=2.0, show_default=True,
              help="Weight of the windowed texture statistics loss at R = 1 (scaled by R).")
@click.option("--synth-fidelity", default=1.0, show_default=True,
              help="SC: weight of the fidelity losses on synthesized pixels (0: texture statistics alone there).")
@click.option("--phase-weight", default=0.0, show_default=True,
              help="Weight of the block phase loss on the texture (scaled by R): detail that ignores the 4-px cells.")
@click.option("--steps", default=100_000, show_default=True, help="Upper bound on steps.")
@click.option("--time-budget", default=0.0, help="Wall-clock seconds of training (0: none).")
@click.option("--val-every", default=250, show_default=True, help="Steps between validations.")
@click.option("--threads", default=0, help="CPU threads (0: torch default).")
@click.option("--bf16/--no-bf16", default=False, show_default=True, help="bfloat16 autocast for the networks.")
@click.option("--val-fraction", default=1 / 32, show_default=True, help="Share of images held out (by name hash).")
def train_detail(**kw) -> None:
    """Train (or resume) a GC or SC model's detail stage in a run folder; that model stays frozen."""
    from ..bitstream.errors import InputError
    from ..codec.registry import resolve_model
    from ..codec.stage.training import StageRunOptions, conditioning_size, run_stage
    from ..models.detail import DetailConfig
    from ..models.train_stage import StageTrainConfig

    checks = {"--crop": kw["crop"] >= 192 and kw["crop"] % 32 == 0, "--width": kw["width"] >= 8,
              "--blocks": kw["blocks"] >= 0, "--batch": kw["batch"] >= 1, "--lr": kw["lr"] > 0,
              "--steps": kw["steps"] > 0, "--time-budget": kw["time_budget"] >= 0, "--val-every": kw["val_every"] > 0,
              "--threads": kw["threads"] >= 0, "--val-fraction": 0 < kw["val_fraction"] < 1,
              "--texture-band": 0 <= kw["texture_band"] <= 8}
    checks["--synth-fidelity"] = 0 <= kw["synth_fidelity"] <= 1
    for name in ("mse_weight", "msssim_weight", "texture_weight", "phase_weight"):
        checks["--" + name.replace("_", "-")] = kw[name] >= 0
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise InputError(f"impossible value for {', '.join(bad)} (see gcodec train detail --help)")
    channels, levels = conditioning_size(resolve_model(kw["base_model"]))  # from the card: no model load here
    model = DetailConfig(kw["width"], kw["blocks"], channels, levels,
                         texture_band=kw["texture_band"])
    cfg = StageTrainConfig(model, **{k: kw[k] for k in ("lr", "batch", "mse_weight", "msssim_weight", "texture_weight",
                                                       "bf16", "synth_fidelity", "phase_weight")})
    opts = StageRunOptions(command=_command_line(), **{k: kw[k] for k in (
        "base_model", "data", "out", "steps", "time_budget", "val_every", "threads", "val_fraction", "crop",
        "init_from_layered", "init_from_stage")})
    click.echo(f"checkpoint: {run_stage(cfg, opts)}")
