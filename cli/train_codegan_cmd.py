"""`gcodec train codegan`: a WGAN-GP on a GC model's codes of photos (for `gcodec sample --source codegan`)."""

from __future__ import annotations

from pathlib import Path

import click

from .train_cmd import _command_line, train


@train.command("codegan")
@click.option("--model", "-m", default="gc-c6", show_default=True, help="GC model whose codes it learns.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of training photos.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder (code cache, checkpoints, log); resumed if it exists.")
@click.option("--noise", default=32, show_default=True, help="Noise channels per cell of the 1/4-size noise grid.")
@click.option("--width", default=64, show_default=True, help="Base channel count of generator and critic.")
@click.option("--steps", default=20_000, show_default=True, help="Upper bound on generator steps.")
@click.option("--time-budget", default=0.0, help="Wall-clock seconds for the whole run (0: none).")
@click.option("--crop", default=16, show_default=True, help="Side of the training crops, in latent cells (16 px each).")
@click.option("--batch", default=32, show_default=True)
@click.option("--lr", default=1e-4, show_default=True)
@click.option("--critic-steps", default=5, show_default=True, help="Critic updates per generator update.")
@click.option("--gp-weight", default=10.0, show_default=True, help="Weight of the gradient penalty.")
@click.option("--straight-through/--softmax", default=True, show_default=True,
              help="The critic sees generated codes as one-hot argmaxes (straight-through gradients) or as softmaxes.")
@click.option("--max-side", default=512, show_default=True, help="Photos are shrunk to this long side before encoding.")
@click.option("--val-count", default=24, show_default=True, help="Photos held out (by name hash) of the code GAN's data.")
@click.option("--log-every", default=60.0, show_default=True, help="Seconds between log lines.")
@click.option("--ckpt-every", default=120.0, show_default=True, help="Seconds between checkpoints.")
@click.option("--threads", default=0, help="CPU threads (0: torch default).")
@click.option("--seed", default=0, show_default=True)
def train_codegan(**kw) -> None:
    """Train a WGAN-GP on a GC model's quantized codes of a folder of photos (cached once in --out)."""
    import torch

    from ..bitstream.errors import InputError
    from ..codec.gc_codec import load_gc
    from ..codec.model_store import load_card
    from ..codec.registry import resolve_model
    from ..codec.sampling import cache_codes
    from ..models.codegan import NOISE_STRIDE, CodeGANConfig
    from ..models.image_bank import list_images
    from ..models.train_codegan import CODES_FILE, CodeGANTrainConfig, RunFolderError, train as run

    for name in ("steps", "batch", "critic_steps", "noise", "width", "val_count"):
        if kw[name] < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {kw[name]}")
    if kw["crop"] < 2 * NOISE_STRIDE or kw["crop"] % NOISE_STRIDE:  # the critic halves it twice, to >= 2 cells
        raise InputError(f"--crop must be a multiple of {NOISE_STRIDE} cells and at least {2 * NOISE_STRIDE}, "
                         f"got {kw['crop']}")
    if kw["max_side"] < 16 * kw["crop"]:
        raise InputError(f"--max-side must be at least 16 x --crop = {16 * kw['crop']} px, got {kw['max_side']}")
    for name in ("lr", "gp_weight", "time_budget", "threads"):
        if kw[name] < 0:
            raise InputError(f"--{name.replace('_', '-')} must not be negative, got {kw[name]}")
    if kw["threads"]:
        torch.set_num_threads(kw["threads"])
    ref = resolve_model(kw.pop("model"), "gc")
    out = Path(kw["out"])
    out.mkdir(parents=True, exist_ok=True)
    if not (out / CODES_FILE).is_file():  # the codes are computed once per run folder
        try:
            files = list_images(kw["data"])
        except FileNotFoundError as e:
            raise InputError(str(e)) from None
        if len(files) < 2:
            raise InputError(f"{kw['data']} needs at least 2 photos (one is held out), found {len(files)}")
        n_train, n_val = cache_codes(load_gc(ref, torch.device("cpu")), files, out / CODES_FILE, kw["max_side"],
                                     kw["val_count"])
        click.echo(f"cached codes of {n_train} training and {n_val} held-out photos in {out / CODES_FILE}")
    cached_for = load_card(out / CODES_FILE).get("gc_model")
    if cached_for != ref.name:
        raise InputError(f"{out} caches codes of model {cached_for!r}, not {ref.name!r}; use a new run folder")
    model = CodeGANConfig(ref.card["config"]["channels"], ref.card["config"]["levels"], kw.pop("noise"), kw.pop("width"))
    cfg = CodeGANTrainConfig(gc_model={"name": ref.name, "sha256": ref.card.get("sha256")}, model=model,
                             command=_command_line(), **kw)
    try:
        path = run(cfg)
    except RunFolderError as e:
        raise InputError(str(e)) from None
    click.echo(f"checkpoint: {path}")
