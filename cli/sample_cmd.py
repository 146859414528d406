"""`gcodec sample`: images a GC model's generator decodes from codes no photo produced."""

from __future__ import annotations

from pathlib import Path

import click

from ..bitstream.errors import InputError
from .main import cli


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H); InputError otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--size must be WIDTHxHEIGHT, e.g. 256x256, got {text!r}")
    return int(parts[0]), int(parts[1])


@cli.command()
@click.option("--model", "-m", default="gc-c6", show_default=True, help="GC model whose generator decodes the codes.")
@click.option("-n", "count", default=4, show_default=True, help="Number of images.")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False),
              help="Output folder (created): SOURCE_SEED_III.png per image.")
@click.option("--size", default="256x256", show_default=True, help="WIDTHxHEIGHT, each a multiple of 16, >= 32.")
@click.option("--seed", default=0, show_default=True, help="The same seed gives the same images.")
@click.option("--source", default="uniform", show_default=True,
              help="uniform, prior or codegan. uniform: symbols uniform over the L centers. prior: drawn from the model's entropy model, "
                   "exactly (its context model, sampled in decode order; the per-channel marginal tables for a "
                   "model without context tables). codegan: the shipped WGAN-GP trained on the model's codes of "
                   "photos (gcodec train codegan).")
@click.option("--device", default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
def sample(model: str, count: int, outdir: str, size: str, seed: int, source: str, device: str, force: bool) -> None:
    """Decode N sampled codes into images (Agustsson et al.'s sampling of the code space)."""
    from tqdm import tqdm

    from ..codec.device import pick_device
    from ..codec.gc_codec import load_gc
    from ..codec.image_io import png_bytes, write_atomic
    from ..codec.registry import resolve_model
    from ..codec.sampling import SOURCES, check_size, find_codegan, make_sampler, samples

    if source not in SOURCES:
        raise InputError(f"unknown --source {source!r} (choose from {', '.join(SOURCES)})")
    width, height = parse_size(size)
    check_size(width, height)
    if count < 1:
        raise InputError(f"-n must be at least 1, got {count}")
    if seed < 0:
        raise InputError(f"--seed must not be negative, got {seed}")
    ref = resolve_model(model, "gc")
    if source == "codegan":
        find_codegan(ref)  # before loading anything
    paths = [Path(outdir) / f"{source}_{seed}_{i:03d}.png" for i in range(count)]
    for p in paths:
        if p.exists() and not force:
            raise InputError(f"{p} exists (use --force to overwrite)")
    sampler = make_sampler(load_gc(ref, pick_device(device)), source)
    Path(outdir).mkdir(parents=True, exist_ok=True)
    bar = tqdm(samples(sampler, count, width, height, seed), total=count, desc=f"sample {source}", unit="img",
               disable=None)
    for p, image in zip(paths, bar):
        write_atomic(str(p), png_bytes(image), force)
    click.echo(f"wrote {count} {width}x{height} images from {source} codes of {ref.name} to {outdir}")
