"""`gcodec train ...`: fit the models gcodec ships. The loops live in gcodec.models."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from .main import cli


@cli.group()
def train() -> None:
    """Train a model (GC image codec, segmentation network)."""


def _command_line() -> str:
    return "gcodec " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@train.command("gc")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of training images.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, log); resumed if it exists.")
@click.option("--labels", default="", type=click.Path(file_okay=False),
              help="Folder of label maps (same stem, .png): trains a semantic (SC) model.")
@click.option("--classes", default=12, show_default=True, help="SC: semantic classes (CamVid 11 + void).")
@click.option("--sem-width", default=8, show_default=True, help="SC: base width of the label-map feature extractor.")
@click.option("--noise", default=0, show_default=True,
              help="SC: channels of synthesis noise the generator gets at synthesized cells (texture, not tiles).")
@click.option("--noise-up/--no-noise-up", default=False, show_default=True,
              help="SC: also add noise after each up-sampling stage at synthesized pixels (texture within a cell).")
@click.option("--width", default=20, show_default=True, help="w: base channel count.")
@click.option("--blocks", default=6, show_default=True, help="Residual blocks in the generator.")
@click.option("--channels", "-C", default=4, show_default=True, help="Latent channels C (rate).")
@click.option("--levels", "-L", default=5, show_default=True, help="Quantization centers L.")
@click.option("--norm", type=click.Choice(["channel", "instance"]), default="channel", show_default=True)
@click.option("--steps", default=100_000, show_default=True, help="Upper bound on steps.")
@click.option("--time-budget", default=0.0, help="Wall-clock seconds for the whole run (0: none).")
@click.option("--crop", default=256, show_default=True)
@click.option("--batch", default=8, show_default=True)
@click.option("--lr", default=2e-4, show_default=True)
@click.option("--warmup-frac", default=0.4, show_default=True, help="Distortion-only share before the GAN starts.")
@click.option("--lr-warmup", default=500, show_default=True,
              help="Steps over which the learning rate ramps up (keeps a continued model from being knocked back).")
@click.option("--mse-weight", default=100.0, show_default=True)
@click.option("--msssim-weight", default=0.0, show_default=True)
@click.option("--gan-weight", default=1.0, show_default=True)
@click.option("--fm-weight", default=1.0, show_default=True)
@click.option("--rate-weight", default=0.0, show_default=True)
@click.option("--synth-distortion", default=1.0, show_default=True,
              help="SC: weight of synthesized pixels' residual in the distortion losses (1: as coded pixels; "
                   "0: left to the GAN).")
@click.option("--diversity-weight", default=0.0, show_default=True,
              help="SC with noise (--noise or --noise-up): weight of the mode-seeking loss that makes synthesized "
                   "texture use the noise.")
@click.option("--texture-weight", default=0.0, show_default=True,
              help="SC: weight of the texture statistics loss on synthesized pixels (band energies and "
                   "autocorrelations at four scales matched, class by class, to the original's).")
@click.option("--map-tolerance", default=0, show_default=True, metavar="PX",
              help="SC: train on label maps simplified as an SC file with --map-tolerance PX codes them.")
@click.option("--disc-base", default=64, show_default=True)
@click.option("--val-count", default=24, show_default=True, help="Images held out of --data for validation.")
@click.option("--val-every", default=120.0, show_default=True, help="Seconds between validations.")
@click.option("--ckpt-every", default=120.0, show_default=True, help="Seconds between checkpoints.")
@click.option("--device", default="auto", show_default=True)
@click.option("--bf16/--no-bf16", default=False, show_default=True, help="bfloat16 autocast.")
@click.option("--threads", default=0, help="CPU threads (0: torch default).")
@click.option("--seed", default=0, show_default=True)
@click.option("--init-from", default="", metavar="MODEL",
              help="Start from a shipped model (name or .safetensors path); its card gives the architecture. "
                   "An SC run (--labels) may start from a GC model (the label-map inputs start at zero weight) "
                   "or add noise to an SC model (--noise: at zero weight; --noise-up: at small scales, 0 at coded cells).")
def train_gc(**kw) -> None:
    """Train a GC model on a folder of images (random crops, flips); with --labels, an SC model."""
    _check_train_options(kw)
    from ..bitstream.errors import InputError
    from ..models.gc import GCConfig
    from ..models.sc import SCConfig
    from ..models.train_gc import train as run
    from ..models.train_gc_config import GCTrainConfig, RunFolderError

    arch = {k: kw.pop(k) for k in ("width", "blocks", "channels", "levels", "norm", "classes", "sem_width", "noise",
                                   "noise_up")}
    if not kw["labels"]:  # the label-map options belong to SC models only
        del arch["classes"], arch["sem_width"], arch["noise"], arch["noise_up"]
    init_state = None
    if kw["init_from"]:
        init_state, arch, kw["init_from"] = _init_weights(kw["init_from"], "sc" if kw["labels"] else "gc", arch)
    else:
        kw["init_from"] = {}
    if kw["diversity_weight"] and not (arch.get("noise") or arch.get("noise_up")):
        raise InputError("--diversity-weight needs a model with noise (--noise or --noise-up)")
    model = SCConfig(**arch) if kw["labels"] else GCConfig(**arch)
    cfg = GCTrainConfig(model=model, command=_command_line(), **kw)
    try:
        path = run(cfg, init_state=init_state)
    except RunFolderError as e:
        raise InputError(str(e)) from None
    click.echo(f"checkpoint: {path}")


def _check_train_options(kw: dict[str, Any]) -> None:
    """InputError for options no run can use, before any image is loaded."""
    from ..bitstream.errors import InputError
    from ..models.gc import MIN_SIDE, STRIDE
    from ..models.msssim_limits import MS_SSIM_MIN_SIDE

    crop = kw["crop"]
    if crop < MIN_SIDE or crop % STRIDE:
        raise InputError(f"--crop must be a multiple of {STRIDE} and at least {MIN_SIDE}, got {crop}")
    if kw["msssim_weight"] > 0 and crop < MS_SSIM_MIN_SIDE:
        raise InputError(f"--msssim-weight needs --crop of at least {MS_SSIM_MIN_SIDE} (MS-SSIM's five scales), "
                         f"got {crop}")
    if not 0 <= kw["synth_distortion"] <= 1:
        raise InputError(f"--synth-distortion must lie in [0, 1], got {kw['synth_distortion']}")
    for name, unset in (("synth_distortion", 1), ("noise", 0), ("noise_up", False), ("diversity_weight", 0),
                        ("texture_weight", 0), ("map_tolerance", 0)):
        if kw[name] != unset and not kw["labels"]:
            raise InputError(f"--{_flag(name)} is for SC models (it needs --labels)")
    for name in ("steps", "batch", "val_count"):
        if kw[name] < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {kw[name]}")
    if kw["map_tolerance"]:
        from ..codec.sc_codec import check_map_tolerance

        check_map_tolerance(kw["map_tolerance"])
    for name in ("noise", "threads", "lr_warmup", "time_budget", "lr", "mse_weight", "msssim_weight", "gan_weight",
                 "fm_weight", "rate_weight", "diversity_weight", "texture_weight"):
        if kw[name] < 0:
            raise InputError(f"--{_flag(name)} must not be negative, got {kw[name]}")


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _init_weights(name: str, kind: str, arch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(model tensors, architecture, lineage for the new card) of the model to start from.

    The architecture comes from the model's card; an option given on the command line
    that contradicts it is an error rather than silently ignored.
    """
    from ..bitstream.errors import InputError
    from ..codec.model_store import load_weights
    from ..codec.registry import resolve_model

    ref = resolve_model(name)
    if ref.kind != kind and not (kind == "sc" and ref.kind == "gc"):
        raise InputError(f"model {ref.name!r} is a {ref.kind or 'unknown'} model; a {kind} run starts from a {kind} "
                         f"model{' or a gc model' if kind == 'sc' else ''}")
    from ..models.sc import RETIRED_KEYS, RETIRED_TENSORS

    card_arch = {k: v for k, v in ref.card.get("config", {}).items() if k not in RETIRED_KEYS}
    # An SC run may add inputs to its source model at zero weight: the label-map inputs to a GC
    # model, noise to an SC model with less of it.
    if ref.kind == "gc" and kind == "sc":
        card_arch.update(classes=arch["classes"], sem_width=arch["sem_width"], noise=arch["noise"],
                         noise_up=arch["noise_up"])
    elif kind == "sc":
        for k in ("noise", "noise_up"):
            if arch[k] > card_arch.get(k, 0):
                card_arch[k] = arch[k]
    widen = kind == "sc" and card_arch != {k: v for k, v in ref.card.get("config", {}).items() if k not in RETIRED_KEYS}
    ctx = click.get_current_context()
    for k, v in arch.items():
        given = ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT
        if given and card_arch.get(k) != v:
            raise InputError(f"--{_flag(k)} {v} contradicts {ref.name}'s architecture ({k}={card_arch.get(k)})")
    state, card = load_weights(ref.path)
    state = {k: v for k, v in state.items() if not k.startswith(("entropy.", RETIRED_TENSORS))}
    if widen:
        from ..models.sc import SCConfig, widen_to_sc

        state = widen_to_sc(state, SCConfig(**card_arch))
    earlier = card.get("training", {})
    lineage = {"weights": str(ref.path), "name": ref.name, "sha256": card.get("sha256"),
               "steps": earlier.get("total_steps", earlier.get("steps")),
               "wall_seconds": earlier.get("total_wall_seconds", earlier.get("wall_seconds")),
               "command": earlier.get("command"), "hardware": earlier.get("hardware"),
               # the earlier model's own source, so a card traces every stage back to scratch
               "init_from": earlier.get("config", {}).get("init_from")}
    return state, card_arch, lineage
