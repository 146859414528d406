"""`gcodec export RUN_DIR -o weights/NAME.safetensors`: a training run to shipped weights."""

from __future__ import annotations

from pathlib import Path

import click

from .main import cli


@cli.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Output .safetensors path.")
@click.option("--name", default=None, help="Model name (default: the output file's stem).")
@click.option("--data-note", default="", help="What the training data was, for the model card.")
@click.option("--trained-on", default="", help="Hardware the run used, for the model card.")
@click.option("--default-realism", default=0.0, show_default=True,
              help="Layered and detail-stage runs: the decode-time realism R the card sets as default.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def export(run_dir: str, out: str, name: str | None, data_note: str, trained_on: str, default_realism: float,
           force: bool) -> None:
    """Export a GC/SC/layered/detail-stage/code GAN training run as safetensors weights plus a JSON model card."""
    from ..bitstream.errors import InputError
    from ..codec.export import export_codegan_run, export_run, is_codegan_run
    from ..codec.layered.export import export_layered_run, is_layered_run
    from ..codec.stage.export import export_stage_run, is_stage_run

    if not out.endswith(".safetensors"):
        raise InputError("the output must end in .safetensors")
    if Path(out).exists() and not force:
        raise InputError(f"{out} exists (use --force to overwrite)")
    if not 0 <= default_realism <= 1:
        raise InputError(f"--default-realism must be in [0, 1], got {default_realism}")
    if is_codegan_run(run_dir):
        card = export_codegan_run(run_dir, out, name or Path(out).stem, data_note, trained_on)
    elif is_stage_run(run_dir):
        card = export_stage_run(run_dir, out, name or Path(out).stem, data_note, trained_on, default_realism)
    elif is_layered_run(run_dir):
        card = export_layered_run(run_dir, out, name or Path(out).stem, data_note, trained_on, default_realism)
    else:
        card = export_run(run_dir, out, name or Path(out).stem, data_note, trained_on)
    click.echo(f"wrote {out} ({card['bytes'] / 1e6:.1f} MB, sha256 {card['sha256'][:12]}...)")
